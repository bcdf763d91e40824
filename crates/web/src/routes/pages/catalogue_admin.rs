//! The catalogue's admin pages (`/admin/catalogue`): staff of an editing role sign in with a
//! passkey (or enrol one with the code the operator gave them), then list, filter, edit, add
//! and remove the portal's services. The page is a shell in the reader's language; the data
//! come from the staff API (`/staff/v1/catalogue/services`) with the staff session as a bearer
//! token, which `catalogue_admin.js` keeps in the tab's session storage. Passkeys need
//! JavaScript, so these pages do (the page says so without it).
use super::common::{Lang, Ui, UiView};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use iamsmart_domain::portal::catalogue::{AgeGroup, Cluster, Level, LifeEvent, Theme};

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/catalogue", get(page)).route(
        "/static/catalogue_admin.js",
        get(|| super::asset("text/javascript", include_str!("catalogue_admin.js"))),
    )
}

/// A checkbox or option: its value and its label in the page's language.
struct Choice {
    value: &'static str,
    label: &'static str,
}

fn cluster_choices<T: Copy>(all: &[T], cluster: impl Fn(T) -> Cluster, lang: Lang) -> Vec<Choice> {
    all.iter()
        .map(|&v| {
            let c = cluster(v);
            let info = c.info();
            Choice {
                value: match c {
                    Cluster::Theme(t) => t.slug(),
                    Cluster::LifeEvent(e) => e.slug(),
                    Cluster::AgeGroup(a) => a.slug(),
                },
                label: lang.t(info.title_en, info.title_zh),
            }
        })
        .collect()
}

/// A bilingual field of the form: its JSON name and label.
struct BiField {
    name: &'static str,
    label: &'static str,
    long: bool,
}

/// The page's words. `messages` are the ones the script shows (JSON, read by the script).
struct Text {
    intro: &'static str,
    needs_js: &'static str,
    signin_heading: &'static str,
    signin_button: &'static str,
    first_time: &'static str,
    first_time_help: &'static str,
    staff_id: &'static str,
    enrolment_code: &'static str,
    enrol_button: &'static str,
    signed_in_as: &'static str,
    sign_out: &'static str,
    services_heading: &'static str,
    filter_label: &'static str,
    filter_hint: &'static str,
    add_service: &'static str,
    english: &'static str,
    chinese: &'static str,
    id_label: &'static str,
    id_hint: &'static str,
    requirements: &'static str,
    level: &'static str,
    documents: &'static str,
    add_document: &'static str,
    remove_document: &'static str,
    document: &'static str,
    url: &'static str,
    url_hint: &'static str,
    client_id: &'static str,
    client_id_hint: &'static str,
    features: &'static str,
    one_tap: &'static str,
    form_filling: &'static str,
    signing: &'static str,
    themes: &'static str,
    life_events: &'static str,
    age_groups: &'static str,
    popularity: &'static str,
    popularity_hint: &'static str,
    keywords: &'static str,
    keywords_hint: &'static str,
    save: &'static str,
    cancel: &'static str,
    remove_heading: &'static str,
    remove_confirm: &'static str,
    portal_link: &'static str,
}

fn text(lang: Lang) -> Text {
    let t = |en, zh| lang.t(en, zh);
    Text {
        intro: t(
            "Keep the portal's list of online services: names, descriptions, requirements and topics in both languages. Changes are on the portal, and in its search, as soon as you save.",
            "管理入口網站的網上服務目錄：中英文名稱、簡介、所需條件及主題。儲存後，改動即時在入口網站及其搜尋中生效。",
        ),
        needs_js: t(
            "These pages need JavaScript: signing in with a passkey does.",
            "此頁需要 JavaScript：以通行密匙登入需要它。",
        ),
        signin_heading: t("Sign in", "登入"),
        signin_button: t("Sign in with your passkey", "以通行密匙登入"),
        first_time: t("First time here? Set up your passkey", "首次使用？設定通行密匙"),
        first_time_help: t(
            "Enter the staff id and the one-time enrolment code the platform operator gave you. Your device then makes a passkey for this site.",
            "輸入平台營運者給你的職員編號及一次性登記碼，你的裝置隨即為本網站建立通行密匙。",
        ),
        staff_id: t("Staff id", "職員編號"),
        enrolment_code: t("Enrolment code", "登記碼"),
        enrol_button: t("Set up my passkey", "設定我的通行密匙"),
        signed_in_as: t("Signed in as staff member", "已登入職員"),
        sign_out: t("Sign out", "登出"),
        services_heading: t("Services", "服務"),
        filter_label: t("Filter services", "篩選服務"),
        filter_hint: t(
            "By name, department, id or keyword, in English or Chinese.",
            "按名稱、部門、編號或關鍵字，中英文皆可。",
        ),
        add_service: t("Add a service", "新增服務"),
        english: t("English", "英文"),
        chinese: t("Chinese", "中文"),
        id_label: t("Id", "編號"),
        id_hint: t(
            "Lowercase letters, digits and single hyphens, for example td-driving-licence-renewal. It cannot be changed later.",
            "小楷英文字母、數字及單一連字號，例如 td-driving-licence-renewal。之後不能更改。",
        ),
        requirements: t("What it needs", "所需條件"),
        level: t("iAM Smart level", "「智方便」級別"),
        documents: t("Documents to have at hand", "需準備的文件"),
        add_document: t("Add a document", "新增文件"),
        remove_document: t("Remove this document", "移除此文件"),
        document: t("Document", "文件"),
        url: t("Address (URL)", "網址"),
        url_hint: t(
            "The service's public address, starting with https://",
            "服務的公開網址，以 https:// 開始",
        ),
        client_id: t("Client id on this platform (optional)", "本平台的用戶端編號（選填）"),
        client_id_hint: t(
            "For one-tap entry: the service's OpenID Connect client_id here.",
            "用於一按登入：服務在本平台的 OpenID Connect client_id。",
        ),
        features: t("iAM Smart features", "「智方便」功能"),
        one_tap: t("One-tap login", "一按登入"),
        form_filling: t("Form filling", "填表通"),
        signing: t("Digital signing", "數碼簽署"),
        themes: t("Themes", "主題"),
        life_events: t("Life events", "人生階段"),
        age_groups: t("Age groups", "年齡組別"),
        popularity: t("Popularity", "受歡迎程度"),
        popularity_hint: t(
            "0 to 100: how often residents use it (a mild ranking factor in search).",
            "0 至 100：市民使用的頻密程度（搜尋排序的輕微因素）。",
        ),
        keywords: t("Keywords", "關鍵字"),
        keywords_hint: t(
            "Other words residents use for it, one per line.",
            "市民對此服務的其他叫法，每行一個。",
        ),
        save: t("Save", "儲存"),
        cancel: t("Cancel", "取消"),
        remove_heading: t("Remove this service?", "移除此服務？"),
        remove_confirm: t("Remove", "移除"),
        portal_link: t("The portal", "入口網站"),
    }
}

/// The script's messages in the page's language (read from a JSON data block).
fn messages(lang: Lang) -> String {
    let t = |en, zh| lang.t(en, zh);
    let m = serde_json::json!({
        "lang": match lang { Lang::En => "en", Lang::ZhHant | Lang::ZhHans => "zh" },
        "edit": t("Edit", "編輯"),
        "remove": t("Remove", "移除"),
        "editHeading": t("Edit a service", "編輯服務"),
        "addHeading": t("Add a service", "新增服務"),
        "count": t("{shown} of {total} services", "共 {total} 項服務，顯示 {shown} 項"),
        "saved": t("Saved “{name}”. It is on the portal now.", "已儲存「{name}」，現已在入口網站上。"),
        "added": t("Added “{name}”. It is on the portal now.", "已新增「{name}」，現已在入口網站上。"),
        "removed": t("Removed “{name}” from the portal.", "已從入口網站移除「{name}」。"),
        "see": t("See it on the portal", "在入口網站查看"),
        "removeText": t("“{name}” will no longer be listed or found on the portal.", "「{name}」將不再在入口網站上列出或被搜尋到。"),
        "notSaved": t("Not saved. Please correct this:", "未儲存，請更正："),
        "notRemoved": t("Not removed:", "未能移除："),
        "failed": t("Something went wrong; please try again.", "出現問題，請再試。"),
        "signinFailed": t("Signing in did not work. Try again, or set up your passkey first.", "登入不成功。請再試，或先設定通行密匙。"),
        "enrolFailed": t("Setting up the passkey did not work: check the staff id and the code, which can be used once.", "設定通行密匙不成功：請檢查職員編號及登記碼（只可使用一次）。"),
        "notEditor": t("Your role ({role}) may not edit the catalogue. Sign out, or ask the operator for an editor account.", "你的職位（{role}）不可編輯服務目錄。請登出，或向營運者申請編輯帳戶。"),
        "noPasskeys": t("This browser cannot use passkeys.", "此瀏覽器不支援通行密匙。"),
        "idRule": t("1 to 80 lowercase letters, digits and single hyphens", "1 至 80 個小楷英文字母、數字及單一連字號"),
        "popularityRange": t("a whole number from 0 to 100", "0 至 100 的整數"),
        "sessionEnded": t("Your session has ended; please sign in again.", "你的登入已結束，請重新登入。"),
        "roles": {
            "editor": t("editor", "編輯"),
            "supervisor": t("supervisor", "主管"),
            "officer": t("counter officer", "櫃位職員"),
            "kiosk": t("kiosk", "自助服務機"),
        },
        "fields": {
            "id": t("Id", "編號"),
            "name": t("Name", "名稱"),
            "department": t("Department", "部門"),
            "description": t("Description", "簡介"),
            "audience": t("Who it is for", "適用對象"),
            "fees": t("Fees", "費用"),
            "requirements": t("What it needs", "所需條件"),
            "requirements.documents": t("Documents", "文件"),
            "url": t("Address (URL)", "網址"),
            "client_id": t("Client id", "用戶端編號"),
            "features": t("iAM Smart features", "「智方便」功能"),
            "themes": t("Themes", "主題"),
            "life_events": t("Life events", "人生階段"),
            "age_groups": t("Age groups", "年齡組別"),
            "popularity": t("Popularity", "受歡迎程度"),
            "keywords": t("Keywords", "關鍵字"),
        },
    });
    // A data block inside <script>: never let the text close it.
    m.to_string().replace('<', "\\u003c")
}

#[derive(Template)]
#[template(path = "pages/catalogue_admin.html")]
struct AdminTemplate {
    ui: UiView,
    title: &'static str,
    t: Text,
    bilingual: Vec<BiField>,
    levels: Vec<Choice>,
    themes: Vec<Choice>,
    life_events: Vec<Choice>,
    age_groups: Vec<Choice>,
    messages: String,
}

async fn page(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let ui = Ui::new(&s, &headers, &uri, None, "/admin/catalogue");
    let lang = ui.lang;
    let bi = |name, en, zh, long| BiField {
        name,
        label: lang.t(en, zh),
        long,
    };
    let level = |l: Level, en, zh| Choice {
        value: l.slug(),
        label: lang.t(en, zh),
    };
    let page = AdminTemplate {
        ui: ui.view(),
        title: lang.t("Service catalogue", "服務目錄"),
        t: text(lang),
        bilingual: vec![
            bi("name", "Name", "名稱", false),
            bi("department", "Department", "部門", false),
            bi("description", "Description", "簡介", true),
            bi("audience", "Who it is for", "適用對象", false),
            bi("fees", "Fees", "費用", false),
        ],
        levels: vec![
            level(Level::Basic, "iAM Smart", "「智方便」"),
            level(Level::Plus, "iAM Smart+", "「智方便+」"),
            level(
                Level::None,
                "No iAM Smart account needed",
                "無需「智方便」帳戶",
            ),
        ],
        themes: cluster_choices(Theme::ALL, Cluster::Theme, lang),
        life_events: cluster_choices(LifeEvent::ALL, Cluster::LifeEvent, lang),
        age_groups: cluster_choices(AgeGroup::ALL, Cluster::AgeGroup, lang),
        messages: messages(lang),
    };
    ui.render(StatusCode::OK, &page)
}
