//! Check a signed document (`/verify`), for anyone, without an account: upload a PDF and read,
//! in English or Chinese, who signed it, when (the timestamp's time), whether it changed since,
//! and the certificate's status at the time of signing. The same checks as
//! `POST /sign/v1/verify` and `iamsmart verify`. The file is read in memory and dropped with the
//! answer: nothing is stored or logged. Works without JavaScript. There is no CSRF token: the
//! form changes nothing and belongs to no session.
use super::common::{Lang, Ui, UiView};
use super::portal::{portal_text, PortalText};
use crate::AppState;
use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use iamsmart_domain::signing::verify::{self, Report, SignatureReport, StatusAtSigning};

/// The page (a small body: it only shows the form).
pub fn routes() -> Router<AppState> {
    Router::new().route("/verify", get(form))
}

/// The upload (up to the upload limit; the PDF itself up to the signing API's limit).
pub fn upload_routes() -> Router<AppState> {
    Router::new().route("/verify", axum::routing::post(check))
}

/// Largest PDF accepted, as for signing.
const MAX_PDF_BYTES: usize = iamsmart_domain::signing::requests::MAX_PDF_BYTES;

struct Row {
    label: &'static str,
    value: String,
    good: Option<bool>,
}

struct EntryView {
    heading: String,
    valid: bool,
    verdict: &'static str,
    rows: Vec<Row>,
    problems: Vec<String>,
}

struct Outcome {
    valid: bool,
    headline: &'static str,
    entries: Vec<EntryView>,
}

#[derive(Template)]
#[template(path = "pages/verify.html")]
struct VerifyTemplate {
    ui: UiView,
    t: PortalText,
    title: &'static str,
    intro: &'static str,
    file_label: &'static str,
    file_hint: &'static str,
    /// The file picker's button and what it says before a file is chosen, in the page's
    /// language (the browser's own picker speaks the browser's).
    choose_label: &'static str,
    none_chosen: &'static str,
    /// Shown while the document is checked.
    checking: &'static str,
    button: &'static str,
    private_note: &'static str,
    independent: &'static str,
    root_link: &'static str,
    error: Option<String>,
    file_name: String,
    outcome: Option<Outcome>,
    problems_label: &'static str,
}

fn page(lang: Lang, ui: UiView) -> VerifyTemplate {
    VerifyTemplate {
        ui,
        t: portal_text(lang),
        title: lang.t("Check a signed document", "核實已簽署的文件"),
        intro: lang.t(
            "Choose a PDF signed with iAM Smart+ to see who signed it, when, and whether it has changed since.",
            "選擇以「智方便+」簽署的 PDF，查看簽署人、簽署時間，以及文件在簽署後有否被更改。",
        ),
        file_label: lang.t("Signed PDF", "已簽署的 PDF"),
        file_hint: lang.t("Up to 10 MB.", "上限 10 MB。"),
        choose_label: lang.t("Choose a PDF file", "選擇 PDF 檔案"),
        none_chosen: lang.t("No file chosen", "未選擇檔案"),
        checking: lang.t(
            "Checking the document… This can take a few seconds.",
            "正在核實文件⋯⋯需時數秒。",
        ),
        button: lang.t("Check the document", "核實文件"),
        private_note: lang.t(
            "The file is checked and then forgotten: it is not kept or shared.",
            "檔案只用作核實，完成後即被刪除，不會保存或分享。",
        ),
        independent: lang.t(
            "You do not need this page: any PDF reader that checks signatures (Adobe Acrobat Reader, pyHanko, pdfsig) can do the same with the platform's root certificate.",
            "你也可以不用本頁：任何能核實簽署的 PDF 閱讀器（如 Adobe Acrobat Reader、pyHanko、pdfsig）配合本平台的根證書，都能作同樣核實。",
        ),
        root_link: lang.t("Download the root certificate", "下載根證書"),
        error: None,
        file_name: String::new(),
        outcome: None,
        problems_label: lang.t("What is wrong", "問題"),
    }
}

async fn form(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let ui = Ui::new(&s, &headers, &uri, None, "/verify");
    ui.render(StatusCode::OK, &page(ui.lang, ui.view()))
}

/// The uploaded file: (name, bytes), or a message for the person.
async fn read_upload(mut form: Multipart, lang: Lang) -> Result<(String, Vec<u8>), String> {
    let unreadable = || {
        lang.t(
            "The upload could not be read; please choose the file again.",
            "無法讀取上載的檔案，請重新選擇檔案。",
        )
        .to_string()
    };
    while let Some(field) = form.next_field().await.map_err(|_| unreadable())? {
        if field.name() != Some("document") {
            continue;
        }
        let name: String = field
            .file_name()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        // Read in chunks and stop at the limit: a larger file is never held whole (the request
        // limit of uploads is larger than this page's).
        let mut field = field;
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
            if bytes.len() + chunk.len() > MAX_PDF_BYTES {
                return Err(lang
                    .t(
                        "The file is larger than 10 MB. Nothing was checked.",
                        "檔案大於 10 MB，未有核實。",
                    )
                    .to_string());
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.is_empty() {
            break;
        }
        return Ok((name, bytes));
    }
    Err(lang
        .t("Please choose a PDF file.", "請選擇一個 PDF 檔案。")
        .to_string())
}

async fn check(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    form: Multipart,
) -> Response {
    let ui = Ui::new(&s, &headers, &uri, None, "/verify");
    let lang = ui.lang;
    let mut t = page(lang, ui.view());
    let (name, pdf) = match read_upload(form, lang).await {
        Ok(x) => x,
        Err(message) => {
            t.error = Some(message);
            return ui.render(StatusCode::UNPROCESSABLE_ENTITY, &t);
        }
    };
    t.file_name = name;
    if !pdf.starts_with(b"%PDF-") {
        t.error = Some(
            lang.t(
                "This file is not a PDF. Only signed PDF documents can be checked here.",
                "這個檔案不是 PDF。本頁只可核實已簽署的 PDF 文件。",
            )
            .to_string(),
        );
        return ui.render(StatusCode::UNPROCESSABLE_ENTITY, &t);
    }
    match verify::verify_pdf(&s.platform.signing, &pdf).await {
        Ok(report) => {
            t.outcome = Some(outcome(lang, &report));
            ui.render(StatusCode::OK, &t)
        }
        Err(iamsmart_domain::DomainError::Invalid { field, .. })
            if field == iamsmart_domain::signing::verify::PDF_LIMITS =>
        {
            t.error = Some(
                lang.t(
                    "This PDF is too complex to check here: it has more signatures, revisions or data than any real signed document. Nothing was checked.",
                    "這個 PDF 過於複雜，無法在此核實：其簽署、版本或資料數量遠超一般已簽署文件。文件未經核實。",
                )
                .to_string(),
            );
            ui.render(StatusCode::UNPROCESSABLE_ENTITY, &t)
        }
        Err(iamsmart_domain::DomainError::Invalid { .. }) => {
            t.error = Some(
                lang.t(
                    "This PDF could not be read: it may be damaged or incomplete.",
                    "無法讀取這個 PDF：檔案可能已損壞或不完整。",
                )
                .to_string(),
            );
            ui.render(StatusCode::UNPROCESSABLE_ENTITY, &t)
        }
        Err(e) => {
            tracing::warn!(error = %e, "the verify page could not check a document");
            t.error = Some(
                lang.t(
                    "The document could not be checked right now. Please try again in a few minutes.",
                    "暫時未能核實文件，請數分鐘後再試。",
                )
                .to_string(),
            );
            ui.render(StatusCode::SERVICE_UNAVAILABLE, &t)
        }
    }
}

fn outcome(lang: Lang, report: &Report) -> Outcome {
    let headline = if report.signatures.is_empty() {
        lang.t("This PDF has no signature.", "這個 PDF 沒有任何簽署。")
    } else if report.timestamped_only {
        lang.t(
            "No signature: this PDF is only timestamped. A timestamp shows when the document existed, not that anyone signed or approved it.",
            "沒有簽署：這個 PDF 只有時間戳記。時間戳記只證明文件在當時已經存在，並不代表有人簽署或核准。",
        )
    } else if report.valid {
        lang.t(
            "Valid: every signature checks out and the document has not changed since.",
            "有效：所有簽署均通過核實，文件在簽署後沒有被更改。",
        )
    } else {
        lang.t(
            "Not valid: at least one signature does not check out. See below.",
            "無效：最少一個簽署未能通過核實，詳見下文。",
        )
    };
    let mut n = 0;
    let entries = report
        .signatures
        .iter()
        .map(|r| {
            let timestamp = r.kind == "document_timestamp";
            if !timestamp {
                n += 1;
            }
            entry(lang, r, n, timestamp)
        })
        .collect();
    Outcome {
        valid: report.valid,
        headline,
        entries,
    }
}

fn yes_no(lang: Lang, v: bool) -> String {
    lang.t(if v { "Yes" } else { "No" }, if v { "是" } else { "否" })
        .to_string()
}

fn entry(lang: Lang, r: &SignatureReport, n: usize, timestamp: bool) -> EntryView {
    let unchanged = r.integrity && r.modified_after_signing.is_none();
    let heading = if timestamp {
        format!(
            "{}{}{}",
            lang.t("Document timestamp", "文件時間戳記"),
            lang.t(": ", "："),
            r.signer
        )
    } else {
        format!(
            "{} {n}{}{}",
            lang.t("Signature", "簽署"),
            lang.t(": ", "："),
            r.signer
        )
    };
    let when = r
        .timestamp
        .map(|ts| super::dealings::when(lang, ts as i64 * 1000))
        .unwrap_or_else(|| lang.t("not proved", "無法證明").to_string());
    let mut rows = vec![
        Row {
            label: if timestamp {
                lang.t("Time", "時間")
            } else {
                lang.t("Signed", "簽署時間")
            },
            value: when,
            good: None,
        },
        Row {
            label: lang.t("Unchanged since", "其後沒有更改"),
            value: yes_no(lang, unchanged),
            good: Some(unchanged),
        },
        Row {
            label: lang.t("Certified by this platform", "由本平台核證"),
            value: yes_no(lang, r.chain_trusted),
            good: Some(r.chain_trusted),
        },
    ];
    if !timestamp {
        let status = match r.status_at_signing {
            StatusAtSigning::Good => lang.t("valid", "有效"),
            StatusAtSigning::Revoked => lang.t("revoked", "已撤銷"),
            StatusAtSigning::Unknown => lang.t("unknown", "不明"),
        };
        rows.push(Row {
            label: lang.t("Certificate when signing", "簽署時的證書狀況"),
            value: status.to_string(),
            good: Some(r.status_at_signing == StatusAtSigning::Good),
        });
        if let (Some(at), StatusAtSigning::Good) = (r.revoked_at, r.status_at_signing) {
            rows.push(Row {
                label: lang.t("Revoked later", "其後撤銷"),
                value: format!(
                    "{}{}",
                    super::dealings::when(lang, at as i64 * 1000),
                    lang.t(
                        " (after the signature, which stays valid)",
                        "（在簽署之後，簽署仍然有效）"
                    )
                ),
                good: None,
            });
        }
        if !r.certificate_serial.is_empty() {
            rows.push(Row {
                label: lang.t("Certificate serial", "證書序號"),
                value: r.certificate_serial.clone(),
                good: None,
            });
        }
    }
    if r.modified_after_signing.is_some() {
        rows.push(Row {
            label: lang.t("Changed after it", "其後更改"),
            value: lang
                .t(
                    "the document was changed after this signature: what you see is not what was signed",
                    "文件在這個簽署之後曾被更改：你現在看到的內容並非簽署時的內容",
                )
                .to_string(),
            good: Some(false),
        });
    } else if r.covers_whole_document == Some(false) {
        rows.push(Row {
            label: lang.t("Added after it", "其後加入"),
            value: lang
                .t(
                    "more signatures or validation data (allowed; checked separately)",
                    "其他簽署或核實資料（容許；另行核實）",
                )
                .to_string(),
            good: None,
        });
    }
    EntryView {
        heading,
        valid: r.valid,
        verdict: if r.valid {
            lang.t("Valid", "有效")
        } else {
            lang.t("Not valid", "無效")
        },
        rows,
        problems: r.problems.iter().map(|p| problem(lang, p)).collect(),
    }
}

/// The verifier's findings in the reader's language (the Chinese of those it knows; the
/// English text otherwise).
fn problem(lang: Lang, p: &str) -> String {
    if lang == Lang::En {
        return p.to_string();
    }
    const KNOWN: [(&str, &str); 14] = [
        (
            "the document was modified after this signature",
            "文件在這個簽署之後曾被更改（並非只加入簽署或核實資料）",
        ),
        (
            "the document or the signature was changed",
            "文件或簽署在簽署後曾被更改",
        ),
        (
            "the timestamp is not from the platform's timestamp authority",
            "時間戳記並非由本平台的時間戳記機構發出",
        ),
        ("no signer certificate", "找不到簽署人的證書"),
        (
            "the certificate was not issued by the platform's CA",
            "證書並非由本平台的核證機關簽發",
        ),
        (
            "no trusted timestamp",
            "沒有可信的時間戳記，無法證明簽署時間",
        ),
        (
            "the certificate was not valid at the time of signing",
            "簽署時證書並不有效",
        ),
        (
            "the certificate was revoked before the signature was made",
            "證書在簽署前已被撤銷",
        ),
        (
            "the platform has no record of this certificate",
            "本平台沒有這張證書的紀錄",
        ),
        (
            "the signature's byte range does not cover its revision",
            "簽署範圍沒有涵蓋其所屬的文件版本",
        ),
        (
            "the document timestamp is not from the platform's timestamp authority",
            "文件時間戳記並非由本平台的時間戳記機構發出",
        ),
        (
            "the timestamp authority's certificate was not valid at that time",
            "時間戳記機構的證書當時並不有效",
        ),
        (
            "the document was changed after its document timestamp",
            "文件在加上文件時間戳記後曾被更改",
        ),
        (
            "the document timestamp does not verify",
            "文件時間戳記未能通過核實",
        ),
    ];
    KNOWN
        .iter()
        .find(|(en, _)| p.starts_with(en))
        .map(|(_, zh)| (*zh).to_string())
        .unwrap_or_else(|| p.to_string())
}
