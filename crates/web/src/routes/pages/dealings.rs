//! The resident's personal dealings: every login, data release, e-ME form and exchange, per
//! service, with the gateway consents behind them; pause, resume and revoke a consent, download
//! its receipt, and download everything as JSON.
use super::account::{day, form_action, nav, signed_in, Nav};
use super::common::{Lang, Ui, UiView};
use super::login::field_label;
use crate::error::RequestId;
use crate::oauth::{one, parse_form};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use iamsmart_domain::exchange::consents::ConsentStatus;
use iamsmart_domain::exchange::dealings::{self, Dealing, ServiceDealings};
use iamsmart_domain::exchange::{consents, providers};
use iamsmart_domain::oidc::session;
use iamsmart_proto::ids::DataConsentId;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/dealings", get(page))
        .route("/account/dealings.json", get(download))
        .route("/account/dealings/receipt", get(receipt))
        .route("/account/dealings/consent", post(consent_action))
}

struct Row {
    when: String,
    what: String,
    items: String,
    outcome: String,
    refused: bool,
}

struct ConsentRow {
    id: String,
    status: String,
    status_label: &'static str,
    items: String,
    purpose: String,
    until: String,
    keep: String,
    can_pause: bool,
    can_resume: bool,
    can_revoke: bool,
    has_receipt: bool,
}

struct Service {
    name: String,
    consents: Vec<ConsentRow>,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "pages/dealings.html")]
struct DealingsTemplate<'a> {
    ui: UiView,
    title: &'a str,
    nav: Nav,
    csrf: String,
    intro: &'a str,
    download_label: &'a str,
    empty: &'a str,
    services: Vec<Service>,
    consents_heading: &'a str,
    history_heading: &'a str,
    when_label: &'a str,
    what_label: &'a str,
    items_label: &'a str,
    outcome_label: &'a str,
    purpose_label: &'a str,
    until_label: &'a str,
    keep_label: &'a str,
    pause_label: &'a str,
    resume_label: &'a str,
    revoke_label: &'a str,
    receipt_label: &'a str,
}

/// Date and time in Hong Kong (UTC+8).
/// A date and time in Hong Kong, as people there write them in the reader's language.
pub(super) fn when(lang: Lang, ms: i64) -> String {
    iamsmart_proto::time::hk_when(ms, lang.locale())
}

fn kind_label(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "login" => lang.t("Signed in", "登入"),
        "eme" => lang.t("Form filled in with e-ME", "以「填表通」填寫表格"),
        "exchange" => lang.t(
            "A department gave this service your records",
            "部門向此服務提供你的資料",
        ),
        "consent" => lang.t("Consent given", "給予同意"),
        "consent_change" => lang.t("Consent changed", "同意已更改"),
        "signature" => lang.t("Document signed", "簽署文件"),
        "notification" => lang.t("Sent you a notification", "向你發出通知"),
        "notifications_on" => lang.t("You turned notifications on", "你開啟了通知"),
        "notifications_off" => lang.t("You turned notifications off", "你關閉了通知"),
        _ => lang.t("Other", "其他"),
    }
}

fn status_label(lang: Lang, status: ConsentStatus) -> &'static str {
    match status {
        ConsentStatus::Active => lang.t("Active", "有效"),
        ConsentStatus::Paused => lang.t("Paused", "已暫停"),
        ConsentStatus::Revoked => lang.t("Revoked", "已撤回"),
        ConsentStatus::Expired => lang.t("Expired", "已屆滿"),
        ConsentStatus::Pending => lang.t("Waiting for you", "等待你回覆"),
        ConsentStatus::Denied => lang.t("Declined", "已拒絕"),
    }
}

fn outcome_label(lang: Lang, d: &Dealing) -> String {
    let base = match d.outcome.as_deref() {
        None => return String::new(),
        Some("ok") => lang.t("Done", "完成"),
        Some("none") => lang.t(
            "The department holds no record of you",
            "該部門沒有你的紀錄",
        ),
        Some("refused") => lang.t("Refused", "已拒絕"),
        Some("provider_error") => lang.t("The department did not answer", "部門未能回應"),
        Some(s) => {
            ConsentStatus::parse(s).map_or(lang.t("Unknown", "不明"), |s| status_label(lang, s))
        }
    };
    match (&d.detail, d.kind.as_str()) {
        (Some(detail), "exchange") if d.outcome.as_deref() != Some("ok") => {
            format!("{base} ({detail})")
        }
        _ => base.to_string(),
    }
}

fn item_names(lang: Lang, catalogue: &[providers::Published], items: &[String]) -> String {
    items
        .iter()
        .map(|i| match i.split_once('/') {
            Some((p, it)) => catalogue
                .iter()
                .find(|c| c.provider == p && c.def.item == it)
                .map(|c| match lang {
                    Lang::ZhHant | Lang::ZhHans => {
                        format!("{}（{}）", c.def.title_zh, c.provider_zh)
                    }
                    Lang::En => format!("{} ({})", c.def.title_en, c.provider_en),
                })
                .unwrap_or_else(|| i.clone()),
            None => field_label(lang, i).to_string(),
        })
        .collect::<Vec<_>>()
        .join(lang.t(", ", "、"))
}

fn service_view(lang: Lang, catalogue: &[providers::Published], s: &ServiceDealings) -> Service {
    let consents = s
        .consents
        .iter()
        .map(|c| {
            let names: Vec<String> = c
                .items
                .iter()
                .map(|i| format!("{}/{}", i.provider, i.item))
                .collect();
            ConsentRow {
                id: c.consent_id.to_string(),
                status: c.status.as_str().to_lowercase(),
                status_label: status_label(lang, c.status),
                items: item_names(lang, catalogue, &names),
                purpose: c.purpose_text.clone(),
                until: c.expires_at.map(day).unwrap_or_default(),
                keep: match lang {
                    Lang::ZhHant | Lang::ZhHans => format!("{} 日", c.data_life_days),
                    Lang::En => format!("{} days", c.data_life_days),
                },
                can_pause: c.status.can_pause(),
                can_resume: c.status.can_resume(),
                can_revoke: c.status.can_revoke(),
                has_receipt: c.artefact.is_some(),
            }
        })
        .collect();
    let rows = s
        .dealings
        .iter()
        .map(|d| {
            let mut items = d.items.clone();
            if d.kind == "exchange" {
                if let Some(p) = &d.provider {
                    items = items.iter().map(|i| format!("{p}/{i}")).collect();
                }
            }
            let mut names = item_names(lang, catalogue, &items);
            if d.kind == "eme" {
                if let Some(form) = &d.detail {
                    names = format!("{form}: {names}");
                }
            }
            // Who did what: the department that gave the records is named.
            let provider = d.provider.as_deref().and_then(|p| {
                catalogue
                    .iter()
                    .find(|c| c.provider == p)
                    .map(|c| match lang {
                        Lang::ZhHant | Lang::ZhHans => c.provider_zh.clone(),
                        Lang::En => c.provider_en.clone(),
                    })
            });
            let what = match (d.kind.as_str(), &provider, d.outcome.as_deref()) {
                ("exchange", Some(p), Some("none")) => match lang {
                    Lang::En => format!("{p} was asked for your records"),
                    Lang::ZhHant | Lang::ZhHans => format!("此服務向{p}索取你的資料"),
                },
                ("exchange", Some(p), Some("ok")) => match lang {
                    Lang::En => format!("{p} gave this service your records"),
                    Lang::ZhHant | Lang::ZhHans => format!("{p}向此服務提供你的資料"),
                },
                ("exchange", Some(p), _) => match lang {
                    Lang::En => format!("This service asked {p} for your records"),
                    Lang::ZhHant | Lang::ZhHans => format!("此服務向{p}索取你的資料"),
                },
                _ => kind_label(lang, &d.kind).to_string(),
            };
            let outcome = match (d.kind.as_str(), &provider, d.outcome.as_deref()) {
                ("exchange", Some(p), Some("none")) => match lang {
                    Lang::En => format!("{p} holds no record of you"),
                    Lang::ZhHant | Lang::ZhHans => format!("{p}沒有你的紀錄"),
                },
                _ => String::new(),
            };
            Row {
                when: when(lang, d.at),
                what,
                items: names,
                outcome: if d.kind == "eme" && d.outcome.as_deref() == Some("ok") {
                    lang.t("Done", "完成").into()
                } else if !outcome.is_empty() {
                    outcome
                } else {
                    outcome_label(lang, d)
                },
                refused: matches!(d.outcome.as_deref(), Some("refused" | "provider_error")),
            }
        })
        .collect();
    Service {
        // The platform's own account pages are named in the reader's language.
        name: if s.client_id == iamsmart_domain::oidc::clients::PORTAL {
            lang.t("Your iAM Smart account", "你的「智方便」帳戶")
                .to_string()
        } else {
            s.service_names.get(lang.locale()).to_string()
        },
        consents,
        rows,
    }
}

async fn page(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (sess, cookie) = match signed_in(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ui = Ui::new(&s, &headers, &uri, None, "/account/dealings");
    let lang = ui.lang;
    let (list, catalogue) = match tokio::try_join!(
        dealings::for_resident(&s.platform.exchange, &sess.resident_id),
        providers::catalogue(&s.platform)
    ) {
        Ok(x) => x,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    ui.render(
        StatusCode::OK,
        &DealingsTemplate {
            ui: ui.view(),
            title: lang.t(
                "What services did with your account",
                "各項服務與你帳戶的往來紀錄",
            ),
            nav: nav(&s, lang, &sess.resident_id).await,
            csrf: session::csrf_token(&s.platform.oidc, &cookie),
            intro: lang.t(
                "Everything you did with each service through iAM Smart, newest first, with the consents behind it. Pausing or revoking a consent stops the service's next request at once.",
                "你透過「智方便」與各服務的所有往來，最新的在前，並列出相關的同意。暫停或撤回同意後，服務的下一個要求會即時被拒絕。",
            ),
            download_label: lang.t("Download all (JSON)", "下載全部紀錄（JSON）"),
            empty: lang.t("Nothing yet.", "暫時沒有紀錄。"),
            services: list.iter().map(|x| service_view(lang, &catalogue, x)).collect(),
            consents_heading: lang.t("Data consents", "資料同意"),
            history_heading: lang.t("History", "紀錄"),
            when_label: lang.t("When (Hong Kong time)", "時間（香港時間）"),
            what_label: lang.t("What", "事項"),
            items_label: lang.t("Information", "資料"),
            outcome_label: lang.t("Outcome", "結果"),
            purpose_label: lang.t("Purpose", "目的"),
            until_label: lang.t("Valid until", "有效至"),
            keep_label: lang.t("The service may keep the data for", "服務可保留資料"),
            pause_label: lang.t("Pause", "暫停"),
            resume_label: lang.t("Resume", "恢復"),
            revoke_label: lang.t("Revoke", "撤回"),
            receipt_label: lang.t("Download receipt", "下載收據"),
        },
    )
}

fn json_download(name: &str, body: &serde_json::Value) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        serde_json::to_string_pretty(body).unwrap_or_default(),
    )
        .into_response()
}

/// Everything, as JSON.
async fn download(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (sess, _) = match signed_in(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match dealings::for_resident(&s.platform.exchange, &sess.resident_id).await {
        Ok(list) => json_download(
            "iamsmart-dealings.json",
            &serde_json::json!({ "format": "iamsmart-dealings/1", "exported_at": s.platform.clock.now_ms(), "services": list }),
        ),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
struct ReceiptQuery {
    id: String,
}

async fn receipt(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReceiptQuery>,
) -> Response {
    let (sess, _) = match signed_in(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let found = match crate::ids::named::<DataConsentId>(&q.id) {
        Ok(id) => dealings::receipt(&s.platform.exchange, &sess.resident_id, &id).await,
        Err(e) => Err(e),
    };
    match found {
        Ok(r) => json_download(
            &format!(
                "consent-receipt-{}.json",
                q.id.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            ),
            &r,
        ),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

async fn consent_action(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Response {
    let p = s.platform.clone();
    let form = parse_form(&body);
    let id = crate::ids::named::<DataConsentId>(
        one(&form, "consent_id").ok().flatten().unwrap_or_default(),
    );
    let action = one(&form, "action")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_string();
    form_action(
        &s,
        &headers,
        &uri,
        rid.0,
        &body,
        "/account/dealings",
        async move |sess, _| {
            consents::resident_action(&p.exchange, &sess.resident_id, &id?, &action)
                .await
                .map(|_| ())
        },
    )
    .await
}
