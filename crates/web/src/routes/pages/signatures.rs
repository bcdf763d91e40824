//! The resident's signatures: every document signed with iAM Smart+, newest first, with the
//! document's SHA-256 (to match a file against what was signed) and the certificate's status
//! now. A signature made before a revocation or an expiry stays valid; the page says so.
use super::account::{nav, signed_in, Nav};
use super::common::{Ui, UiView};
use super::dealings::when;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use iamsmart_domain::signing::history::{self, CertStatusNow};
use iamsmart_domain::signing::requests::SignKind;

pub fn routes() -> Router<AppState> {
    Router::new().route("/account/signatures", get(list))
}

struct Row {
    document: String,
    department: Option<String>,
    service: String,
    when: String,
    format: &'static str,
    digest: String,
    serial: String,
    status: &'static str,
    status_class: &'static str,
}

#[derive(Template)]
#[template(path = "pages/signatures.html")]
struct SignaturesTemplate<'a> {
    ui: UiView,
    title: &'a str,
    nav: Nav,
    intro: &'a str,
    rows: Vec<Row>,
    empty: &'a str,
    labels: Labels<'a>,
}

struct Labels<'a> {
    service: &'a str,
    signed: &'a str,
    format: &'a str,
    digest: &'a str,
    certificate: &'a str,
    status: &'a str,
    still_valid: &'a str,
    check_link: &'a str,
}

async fn list(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (sess, _) = match signed_in(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ui = Ui::new(&s, &headers, &uri, None, "/account/signatures");
    let lang = ui.lang;
    let signed = match history::for_resident(&s.platform, &sess.resident_id).await {
        Ok(x) => x,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let rows = signed
        .into_iter()
        .map(|d| {
            let (status, status_class) = match d.cert_status {
                CertStatusNow::Revoked => (lang.t("Revoked since", "其後已撤銷"), "status-revoked"),
                CertStatusNow::Expired => (lang.t("Expired since", "其後已過期"), "status-expired"),
                CertStatusNow::Good => (lang.t("Valid", "有效"), "status-active"),
            };
            Row {
                document: d.document.name,
                department: d.document.department,
                service: d.service_names.get(lang.locale()).to_string(),
                when: when(lang, d.signed_at),
                format: match d.kind {
                    SignKind::Pdf => lang.t("PDF (PAdES)", "PDF（PAdES）"),
                    SignKind::Hash => lang.t("Document hash (CMS)", "文件雜湊（CMS）"),
                },
                digest: d.digest_hex,
                serial: d.cert_serial,
                status,
                status_class,
            }
        })
        .collect();
    ui.render(
        StatusCode::OK,
        &SignaturesTemplate {
            ui: ui.view(),
            title: lang.t("Your signatures", "你的簽署紀錄"),
            nav: nav(&s, lang, &sess.resident_id).await,
            intro: lang.t(
                "Every document you signed with iAM Smart+. The documents are not kept here: the SHA-256 lets you check that a file you hold is the one you signed.",
                "你以「智方便+」簽署的所有文件。這裏不保存文件本身：你可憑 SHA-256 核對手上的檔案是否就是你簽署的文件。",
            ),
            rows,
            empty: lang.t("You have not signed any document yet.", "你尚未簽署任何文件。"),
            labels: Labels {
                service: lang.t("Service", "服務"),
                signed: lang.t("Signed", "簽署時間"),
                format: lang.t("Format", "格式"),
                digest: lang.t("Document SHA-256", "文件 SHA-256"),
                certificate: lang.t("Certificate serial", "證書序號"),
                status: lang.t("Certificate now", "證書現況"),
                still_valid: lang.t(
                    "Signatures made before then stay valid: the timestamp proves when you signed.",
                    "在此之前作出的簽署仍然有效：時間戳記證明你簽署的時間。",
                ),
                check_link: lang.t(
                    "Check a signed document",
                    "核實已簽署的文件",
                ),
            },
        },
    )
}
