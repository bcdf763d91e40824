//! The single portal, readable without an account: the home page (search, themes, life events,
//! age groups, popular services; a signed-in resident's favourites first), search results,
//! cluster pages, one page per service, favourites and one-tap entry, and the web app
//! manifest. Every page works without JavaScript.
use super::common::{session_of, Lang, Ui, UiView};
use crate::error::RequestId;
use crate::oauth::{one, parse_form};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use iamsmart_domain::oidc::authorize::Session;
use iamsmart_domain::oidc::session;
use iamsmart_domain::portal::catalogue::{self as cat, Cluster, Index, Level, Service};
use iamsmart_domain::portal::{favourites, one_tap_url};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/services", get(search))
        .route("/services/{id}", get(service_page))
        .route("/services/{id}/go", get(go))
        .route("/services/{id}/favourite", post(favourite))
        .route("/topics/{kind}/{slug}", get(cluster_page))
        .route("/manifest.webmanifest", get(manifest))
        .route(
            "/static/icon.svg",
            get(|| super::asset("image/svg+xml", include_str!("icon.svg"))),
        )
}

fn cat_lang(lang: Lang) -> cat::Lang {
    match lang {
        Lang::En => cat::Lang::En,
        Lang::ZhHant | Lang::ZhHans => cat::Lang::Zh,
    }
}

/// The labels every portal page shares.
pub(super) struct PortalText {
    pub(super) home: &'static str,
    pub(super) services: &'static str,
    pub(super) public_info: &'static str,
    pub(super) account: &'static str,
    pub(super) search_label: &'static str,
    pub(super) search_button: &'static str,
    pub(super) search_hint: &'static str,
    pub(super) one_tap: &'static str,
    pub(super) form_filling: &'static str,
    pub(super) signing: &'static str,
    pub(super) features_label: &'static str,
}

pub(super) fn portal_text(lang: Lang) -> PortalText {
    PortalText {
        home: lang.t("Home", "主頁"),
        services: lang.t("All services", "所有服務"),
        public_info: lang.t("Weather and news", "天氣及資訊"),
        account: lang.t("My account", "我的帳戶"),
        search_label: lang.t("Search government services", "搜尋政府服務"),
        search_button: lang.t("Search", "搜尋"),
        search_hint: lang.t(
            "In your own words, in English or Chinese: for example “renew ID card” or “交稅”.",
            "用你自己的字眼，中文或英文都可以：例如「補領身份證」或「pay tax」。",
        ),
        one_tap: lang.t("One-tap login", "一按登入"),
        form_filling: lang.t("Form filling", "填表通"),
        signing: lang.t("Digital signing", "數碼簽署"),
        features_label: lang.t("iAM Smart features", "「智方便」功能"),
    }
}

/// A service as a card in a list.
pub(super) struct Card {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) department: String,
    pub(super) description: String,
    pub(super) one_tap: bool,
    pub(super) form_filling: bool,
    pub(super) signing: bool,
}

pub(super) fn card(lang: Lang, s: &Service) -> Card {
    let l = cat_lang(lang);
    Card {
        id: s.id.clone(),
        name: s.name.get(l).to_string(),
        department: s.department.get(l).to_string(),
        description: s.description.get(l).to_string(),
        one_tap: s.features.one_tap_login,
        form_filling: s.features.form_filling,
        signing: s.features.signing,
    }
}

/// A link to a cluster page.
pub(super) struct ClusterLink {
    pub(super) href: String,
    pub(super) title: &'static str,
    pub(super) intro: &'static str,
}

fn cluster_link(lang: Lang, c: Cluster) -> ClusterLink {
    let info = c.info();
    ClusterLink {
        href: format!("/topics/{}", c.path()),
        title: lang.t(info.title_en, info.title_zh),
        intro: lang.t(info.intro_en, info.intro_zh),
    }
}

async fn signed_in_session(s: &AppState, headers: &HeaderMap) -> Option<(Session, String)> {
    let cookie = session_of(s, headers)?.to_string();
    match session::session(&s.platform.oidc, Some(&cookie)).await {
        Ok(Some(sess)) => Some((sess, cookie)),
        _ => None,
    }
}

fn message(ui: &Ui, status: StatusCode, title: &str, text: &str) -> Response {
    ui.render(
        status,
        &super::login::MessageTemplate {
            ui: ui.view(),
            title,
            message: text.to_string(),
            detail: None,
            reference: None,
            reference_label: "",
        },
    )
}

fn unavailable(ui: &Ui, e: iamsmart_domain::DomainError) -> Response {
    tracing::error!(error = %e, "portal catalogue unavailable");
    let lang = ui.lang;
    message(
        ui,
        StatusCode::SERVICE_UNAVAILABLE,
        lang.t("Please try again shortly", "請稍後再試"),
        lang.t(
            "The list of services cannot be shown right now. Nothing you did was lost.",
            "暫時未能顯示服務列表。你的資料沒有遺失。",
        ),
    )
}

#[derive(Template)]
#[template(path = "pages/portal_home.html")]
struct HomeTemplate<'a> {
    ui: UiView,
    title: &'a str,
    t: PortalText,
    query: String,
    intro: &'a str,
    signed_in: bool,
    sign_in_label: &'a str,
    sign_in_intro: &'a str,
    favourites_title: &'a str,
    favourites: Vec<Card>,
    no_favourites: &'a str,
    themes_title: &'a str,
    themes: Vec<ClusterLink>,
    events_title: &'a str,
    events: Vec<ClusterLink>,
    ages_title: &'a str,
    ages: Vec<ClusterLink>,
    popular_title: &'a str,
    popular: Vec<Card>,
    recent_title: &'a str,
    recent: Vec<RecentUse>,
    all_dealings: &'a str,
    notes_title: String,
    notes: Vec<NoteLink>,
    all_notes: &'a str,
    weather: Option<Weather>,
}

/// The weather box: temperature, sky, warnings in force, the data's time.
struct Weather {
    label: &'static str,
    line: String,
    warnings: Vec<String>,
    warnings_label: &'static str,
    as_of: String,
    note: Option<&'static str>,
    more: &'static str,
}

async fn weather(s: &AppState, lang: Lang) -> Option<Weather> {
    use iamsmart_domain::publicinfo::{hko::icon_name, summary, FeedLang};
    let feed_lang = match lang {
        Lang::En => FeedLang::En,
        Lang::ZhHant | Lang::ZhHans => FeedLang::Tc,
    };
    let w = summary(&s.platform, feed_lang).await.ok()?;
    let time = w.time?;
    let sky = w.icon.and_then(icon_name).map(|(en, zh)| lang.t(en, zh));
    let line = match (w.temperature_c, sky) {
        (Some(t), Some(sky)) => format!("{t:.0}°C · {sky}"),
        (Some(t), None) => format!("{t:.0}°C"),
        (None, Some(sky)) => sky.to_string(),
        (None, None) => return None,
    };
    Some(Weather {
        label: lang.t("Weather now", "現時天氣"),
        line,
        warnings: w.warnings,
        warnings_label: lang.t("Warnings in force", "現正生效的警告"),
        as_of: match lang {
            Lang::En => format!(
                "Hong Kong Observatory, {}",
                super::dealings::when(lang, time)
            ),
            Lang::ZhHant | Lang::ZhHans => {
                format!("香港天文台，{}", super::dealings::when(lang, time))
            }
        },
        note: if w.bundled {
            Some(lang.t("Sample data (no network)", "樣本資料（沒有網絡）"))
        } else if w.stale {
            Some(lang.t("May be out of date", "可能不是最新資料"))
        } else {
            None
        },
        more: lang.t("Forecast, traffic and news", "天氣預報、交通及新聞"),
    })
}

/// One of the resident's latest notifications.
struct NoteLink {
    id: iamsmart_proto::ids::NotificationId,
    title: String,
    service: String,
    unread: bool,
    when: String,
}

/// A service the resident used lately.
struct RecentUse {
    service: String,
    when: String,
}

async fn home(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let ui = Ui::new(&s, &headers, &uri, None, "/");
    let lang = ui.lang;
    let index = match s.platform.portal.index().await {
        Ok(i) => i,
        Err(e) => return unavailable(&ui, e),
    };
    let catalogue = index.catalogue();
    let session = signed_in_session(&s, &headers).await;
    let mut favourites = Vec::new();
    let mut recent = Vec::new();
    let mut notes = Vec::new();
    let mut unread = 0;
    if let Some((sess, _)) = &session {
        use iamsmart_domain::notify::inbox;
        unread = inbox::unread_count(&s.platform, &sess.resident_id)
            .await
            .unwrap_or(0);
        if let Ok(latest) = inbox::list(&s.platform.notify, &sess.resident_id, false, 3).await {
            notes = latest
                .into_iter()
                .map(|n| NoteLink {
                    title: n.title.pick(lang.is_chinese()).to_string(),
                    service: n.service_names.get(lang.locale()).to_string(),
                    unread: n.read_at.is_none(),
                    when: super::dealings::when(lang, n.created_at),
                    id: n.id,
                })
                .collect();
        }
        if let Ok(ids) = favourites::list(&s.platform, &sess.resident_id).await {
            favourites = ids
                .iter()
                .filter_map(|id| catalogue.get(id))
                .map(|svc| card(lang, svc))
                .collect();
        }
        if let Ok(mut used) = iamsmart_domain::exchange::dealings::for_resident(
            &s.platform.exchange,
            &sess.resident_id,
        )
        .await
        {
            used.sort_by_key(|d| std::cmp::Reverse(d.last_at));
            recent = used
                .iter()
                .filter(|d| d.client_id != iamsmart_domain::oidc::clients::PORTAL)
                .take(3)
                .map(|d| RecentUse {
                    service: d.service_names.get(lang.locale()).to_string(),
                    when: super::dealings::when(lang, d.last_at),
                })
                .collect();
        }
    }
    let mut popular: Vec<&Service> = catalogue.services().iter().collect();
    popular.sort_by(|a, b| {
        b.popularity
            .cmp(&a.popularity)
            .then_with(|| a.name.en.cmp(&b.name.en))
    });
    let clusters = cat::clusters();
    let links = |pick: fn(&Cluster) -> bool| {
        clusters
            .iter()
            .filter(|c| pick(&c.cluster))
            .map(|c| cluster_link(lang, c.cluster))
            .collect::<Vec<_>>()
    };
    ui.render(
        StatusCode::OK,
        &HomeTemplate {
            ui: ui.view(),
            title: lang.t("Government services in one place", "政府網上服務 一站通"),
            t: portal_text(lang),
            query: String::new(),
            intro: lang.t(
                "Find the service you need, see what it takes, and sign in with one tap.",
                "找到你需要的服務，了解所需資料，一按即可登入。",
            ),
            signed_in: session.is_some(),
            sign_in_label: lang.t("Sign in with iAM Smart", "以「智方便」登入"),
            sign_in_intro: lang.t(
                "Sign in to keep favourite services, read your notifications and enter services with one tap.",
                "登入後可收藏常用服務、閱讀通知，並一按進入服務。",
            ),
            favourites_title: lang.t("Your favourite services", "你的常用服務"),
            favourites,
            no_favourites: lang.t(
                "No favourites yet: open a service and choose “Add to favourites”.",
                "尚未收藏服務：打開服務頁面，選擇「加入常用服務」。",
            ),
            themes_title: lang.t("Browse by theme", "按主題瀏覽"),
            themes: links(|c| matches!(c, Cluster::Theme(_))),
            events_title: lang.t("Life events", "人生大事"),
            events: links(|c| matches!(c, Cluster::LifeEvent(_))),
            ages_title: lang.t("For young and older people", "青年及長者"),
            ages: links(|c| matches!(c, Cluster::AgeGroup(_))),
            popular_title: lang.t("Popular services", "熱門服務"),
            popular: popular.into_iter().take(8).map(|s| card(lang, s)).collect(),
            recent_title: lang.t("Services you used lately", "最近使用的服務"),
            recent,
            all_dealings: lang.t("All your dealings", "所有往來紀錄"),
            notes_title: super::account::notifications_label(lang, unread),
            notes,
            all_notes: lang.t("All notifications and settings", "所有通知及設定"),
            weather: weather(&s, lang).await,
        },
    )
}

#[derive(Template)]
#[template(path = "pages/portal_search.html")]
struct SearchTemplate<'a> {
    ui: UiView,
    title: &'a str,
    t: PortalText,
    query: String,
    summary: String,
    notes: Vec<String>,
    results: Vec<Card>,
    empty_intro: &'a str,
    show_themes: bool,
    themes: Vec<ClusterLink>,
}

/// How many results a search shows.
const SHOWN: usize = 20;

async fn search(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let form = parse_form(uri.query().unwrap_or_default().as_bytes());
    // Repeated or odd parameters are not an error here: take the first text.
    let query: String = form
        .get("q")
        .and_then(|v| v.first())
        .map(|q| q.chars().take(cat::MAX_QUERY_CHARS + 1).collect())
        .unwrap_or_default();
    let back = format!(
        "/services?q={}",
        iamsmart_domain::oidc::authorize::urlencode(&query)
    );
    let ui = Ui::new(&s, &headers, &uri, None, &back);
    let lang = ui.lang;
    let (index, results) = match s
        .platform
        .portal
        .search(&query, Some(cat_lang(lang)), SHOWN)
        .await
    {
        Ok(x) => x,
        Err(e) => return unavailable(&ui, e),
    };
    let catalogue = index.catalogue();
    let cards: Vec<Card> = results
        .hits
        .iter()
        .filter_map(|h| catalogue.get(&h.id))
        .map(|svc| card(lang, svc))
        .collect();
    let mut notes = Vec::new();
    if results.truncated {
        notes.push(
            lang.t(
                "Your search was very long, so only its beginning was used.",
                "搜尋字眼太長，只使用了開首部分。",
            )
            .to_string(),
        );
    }
    for c in &results.corrections {
        notes.push(match lang {
            Lang::En => format!(
                "Also searched for “{}” instead of “{}”.",
                c.searched, c.typed
            ),
            Lang::ZhHant | Lang::ZhHans => format!(
                "已同時搜尋「{}」（你輸入的是「{}」）。",
                c.searched, c.typed
            ),
        });
    }
    let blank = query.trim().is_empty()
        || (results.empty_query && !query.chars().any(char::is_alphanumeric));
    let summary = if blank {
        lang.t(
            "Type what you are looking for, or browse the themes below.",
            "請輸入你想找的服務，或瀏覽以下主題。",
        )
        .to_string()
    } else if cards.is_empty() {
        match lang {
            Lang::En => {
                "No service matches that. Try other words, or browse the themes below.".to_string()
            }
            Lang::ZhHant | Lang::ZhHans => {
                "找不到相關服務。請試用其他字眼，或瀏覽以下主題。".to_string()
            }
        }
    } else {
        match lang {
            Lang::En => format!(
                "{} service{} found.",
                cards.len(),
                if cards.len() == 1 { "" } else { "s" }
            ),
            Lang::ZhHant | Lang::ZhHans => format!("找到 {} 項服務。", cards.len()),
        }
    };
    let show_themes = cards.is_empty();
    ui.render(
        StatusCode::OK,
        &SearchTemplate {
            ui: ui.view(),
            title: lang.t("Search services", "搜尋服務"),
            t: portal_text(lang),
            // What the resident typed, as typed.
            query: crate::simplified::verbatim(&query),
            summary,
            notes,
            results: cards,
            empty_intro: lang.t("Browse by theme", "按主題瀏覽"),
            show_themes,
            themes: cat::clusters()
                .iter()
                .filter(|c| matches!(c.cluster, Cluster::Theme(_)))
                .map(|c| cluster_link(lang, c.cluster))
                .collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "pages/portal_cluster.html")]
struct ClusterTemplate<'a> {
    ui: UiView,
    title: &'a str,
    t: PortalText,
    intro: &'a str,
    count: String,
    results: Vec<Card>,
    others_title: &'a str,
    others: Vec<ClusterLink>,
}

async fn cluster_page(
    State(s): State<AppState>,
    Path((kind, slug)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let path = format!("{kind}/{slug}");
    let ui = Ui::new(&s, &headers, &uri, None, &format!("/topics/{path}"));
    let lang = ui.lang;
    let Some(cluster) = Cluster::from_path(&path) else {
        return not_found(&ui);
    };
    let index = match s.platform.portal.index().await {
        Ok(i) => i,
        Err(e) => return unavailable(&ui, e),
    };
    let services: Vec<Card> = index
        .catalogue()
        .services_in(cluster)
        .into_iter()
        .map(|svc| card(lang, svc))
        .collect();
    let info = cluster.info();
    let same_kind = |c: &Cluster| std::mem::discriminant(c) == std::mem::discriminant(&cluster);
    ui.render(
        StatusCode::OK,
        &ClusterTemplate {
            ui: ui.view(),
            title: lang.t(info.title_en, info.title_zh),
            t: portal_text(lang),
            intro: lang.t(info.intro_en, info.intro_zh),
            count: match lang {
                Lang::En => format!("{} services from different departments.", services.len()),
                Lang::ZhHant | Lang::ZhHans => {
                    format!("來自不同部門的 {} 項服務。", services.len())
                }
            },
            results: services,
            others_title: lang.t("Related topics", "其他主題"),
            others: cat::clusters()
                .iter()
                .filter(|c| same_kind(&c.cluster) && c.cluster != cluster)
                .map(|c| cluster_link(lang, c.cluster))
                .collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "pages/portal_service.html")]
struct ServiceTemplate<'a> {
    ui: UiView,
    title: String,
    t: PortalText,
    department: String,
    description: String,
    facts: Vec<(&'a str, String)>,
    documents_label: &'a str,
    documents: Vec<String>,
    features: Vec<&'a str>,
    go_label: &'a str,
    go_note: &'a str,
    id: String,
    signed_in: bool,
    csrf: String,
    favourite: bool,
    favourite_label: &'a str,
    topics_label: &'a str,
    topics: Vec<ClusterLink>,
}

fn not_found(ui: &Ui) -> Response {
    let lang = ui.lang;
    message(
        ui,
        StatusCode::NOT_FOUND,
        lang.t("Not found", "找不到"),
        lang.t(
            "There is no such page. Search for the service from the home page.",
            "沒有這個頁面。請在主頁搜尋服務。",
        ),
    )
}

fn level_text(lang: Lang, level: Level) -> &'static str {
    match level {
        Level::None => lang.t("No iAM Smart account needed", "無需「智方便」帳戶"),
        Level::Basic => lang.t("iAM Smart", "「智方便」"),
        Level::Plus => lang.t("iAM Smart+", "「智方便+」"),
    }
}

async fn service_page(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let ui = Ui::new(&s, &headers, &uri, None, &format!("/services/{id}"));
    let lang = ui.lang;
    let index: std::sync::Arc<Index> = match s.platform.portal.index().await {
        Ok(i) => i,
        Err(e) => return unavailable(&ui, e),
    };
    let Some(svc) = index.catalogue().get(&id) else {
        return not_found(&ui);
    };
    let l = cat_lang(lang);
    let session = signed_in_session(&s, &headers).await;
    let (favourite, csrf) = match &session {
        Some((sess, cookie)) => (
            favourites::list(&s.platform, &sess.resident_id)
                .await
                .map(|f| f.contains(&id))
                .unwrap_or(false),
            session::csrf_token(&s.platform.oidc, cookie),
        ),
        None => (false, String::new()),
    };
    // The label says what "go" will do: the same decision.
    let one_tap = matches!(one_tap_url(&s.platform.oidc, svc).await, Ok(Some(_)));
    let t = portal_text(lang);
    let mut features = Vec::new();
    if svc.features.one_tap_login {
        features.push(t.one_tap);
    }
    if svc.features.form_filling {
        features.push(t.form_filling);
    }
    if svc.features.signing {
        features.push(t.signing);
    }
    let topics = cat::clusters()
        .iter()
        .filter(|c| c.cluster.contains(svc))
        .map(|c| cluster_link(lang, c.cluster))
        .collect();
    ui.render(
        StatusCode::OK,
        &ServiceTemplate {
            ui: ui.view(),
            title: svc.name.get(l).to_string(),
            t,
            department: svc.department.get(l).to_string(),
            description: svc.description.get(l).to_string(),
            facts: vec![
                (lang.t("Who it is for", "適用對象"), svc.audience.get(l).to_string()),
                (
                    lang.t("Account needed", "所需帳戶"),
                    level_text(lang, svc.requirements.level).to_string(),
                ),
                (lang.t("Fees", "費用"), svc.fees.get(l).to_string()),
            ],
            documents_label: lang.t("Have these ready", "請準備"),
            documents: svc
                .requirements
                .documents
                .iter()
                .map(|d| d.get(l).to_string())
                .collect(),
            features,
            go_label: if one_tap {
                lang.t("Sign in to this service with one tap", "一按登入此服務")
            } else {
                lang.t("Go to the service", "前往服務")
            },
            go_note: if one_tap {
                lang.t(
                    "You stay signed in with iAM Smart: the service opens without asking you to sign in again (it may ask for your consent first).",
                    "你已以「智方便」登入：服務會直接打開，無需再次登入（服務或會先請你同意提供資料）。",
                )
            } else {
                lang.t(
                    "Opens the department's own website.",
                    "會打開部門的網站。",
                )
            },
            id: svc.id.clone(),
            signed_in: session.is_some(),
            csrf,
            favourite,
            favourite_label: if favourite {
                lang.t("Remove from favourites", "從常用服務移除")
            } else {
                lang.t("Add to favourites", "加入常用服務")
            },
            topics_label: lang.t("Part of these topics", "所屬主題"),
            topics,
        },
    )
}

/// One-tap entry: to the service's own login start (third-party-initiated login) when it is a
/// client of this platform, else to its website.
async fn go(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let index = match s.platform.portal.index().await {
        Ok(i) => i,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let Some(svc) = index.catalogue().get(&id) else {
        let ui = Ui::new(&s, &headers, &uri, None, "/");
        return not_found(&ui);
    };
    let target = match one_tap_url(&s.platform.oidc, svc).await {
        Ok(Some(url)) => url,
        Ok(None) => svc.url.clone(),
        Err(e) => {
            tracing::warn!(service = %id, error = %e, "one-tap entry unavailable; linking to the website");
            svc.url.clone()
        }
    };
    Redirect::to(&target).into_response()
}

async fn favourite(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Response {
    let p = s.platform.clone();
    let back = format!("/services/{id}");
    super::account::form_action(
        &s,
        &headers,
        &uri,
        rid.0,
        &body,
        &back,
        async |sess, form| {
            if one(form, "action").ok().flatten() == Some("remove") {
                favourites::remove(&p, &sess.resident_id, &id).await
            } else {
                favourites::add(&p.portal, &sess.resident_id, &id).await
            }
        },
    )
    .await
}

async fn manifest() -> Response {
    let body = serde_json::json!({
        "name": "iAM Smart 智方便",
        "short_name": "iAM Smart",
        "description": "Hong Kong government services in one place · 政府網上服務一站通",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b6e4f",
        "lang": "en",
        "icons": [
            { "src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any" },
            { "src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "maskable" }
        ]
    });
    (
        [
            (header::CONTENT_TYPE, "application/manifest+json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body.to_string(),
    )
        .into_response()
}
