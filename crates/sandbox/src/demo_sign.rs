//! The demo service asks the applicant to sign the application: it makes the application as a
//! PDF, asks iAM Smart for a signature (`POST /sign/v1/requests` with the PDF, client token of
//! scope `sign`), waits while the applicant approves in the app (the page shows the match code
//! and moves on by itself; without JavaScript, a link checks again), and offers the signed PDF
//! (PAdES, with the validation data embedded) for download. Signing needs iAM Smart+; an
//! applicant without it gets the application received unsigned, and is told why.
use crate::demo_licence::{call, client_token, why};
use crate::demo_service::{failure, page, random, text, zh, Demo, Text};
use askama::Template;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Template)]
#[template(path = "demo/signing.html")]
struct SigningPage {
    t: Text,
    heading: &'static str,
    message: String,
    waiting: bool,
    signed: bool,
    match_label: &'static str,
    match_code: String,
    check: &'static str,
    download: &'static str,
    again: &'static str,
    open_app: &'static str,
    app_url: String,
}

/// A signing request in progress, or its result.
#[derive(Clone, Default)]
pub struct Signing {
    reference: String,
    request_id: String,
    match_code: String,
    signed_pdf: Option<Arc<Vec<u8>>>,
    note: Option<String>,
}

/// PDF string literal: printable ASCII only, with `(`, `)` and `\` escaped.
fn pdf_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '(' | ')' | '\\' => format!("\\{c}"),
            ' '..='~' => c.to_string(),
            _ => "?".to_string(),
        })
        .collect()
}

/// The application as a one-page PDF (Helvetica, the applicant's name in English).
pub fn application_pdf(reference: &str, name: &str, licence: &str, date: &str) -> Vec<u8> {
    let lines = [
        (
            18,
            770,
            "Application for International Driving Permit".to_string(),
        ),
        (11, 740, format!("Reference: {reference}")),
        (11, 720, format!("Applicant: {name}")),
        (11, 700, format!("Driving licence number: {licence}")),
        (11, 680, format!("Date: {date}")),
        (
            11,
            640,
            "I declare that the information given in this application is true and complete."
                .to_string(),
        ),
        (
            9,
            80,
            "Transport Department (demonstration). Signed with iAM Smart.".to_string(),
        ),
    ];
    let content: String = lines
        .iter()
        .map(|(size, y, t)| format!("BT /F1 {size} Tf 72 {y} Td ({}) Tj ET\n", pdf_text(t)))
        .collect();
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        format!("<< /Title ({}) /Producer (iamsmart demo service) >>", pdf_text(&format!("Application {reference}"))),
    ];
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[derive(Deserialize)]
pub struct Submitted {
    #[serde(default)]
    licence: String,
}

fn today() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    iamsmart_proto::time::date(ms)
}

/// Submit: make the application PDF and ask the applicant to sign it in iAM Smart.
pub(crate) async fn submit(
    State(s): State<Arc<Demo>>,
    headers: HeaderMap,
    Form(f): Form<Submitted>,
) -> Response {
    let z = zh(&headers);
    let Some((id, sess)) = s.session(&headers) else {
        return Redirect::to("/").into_response();
    };
    let reference = format!("IDP-{}", &random()[..8].to_ascii_uppercase());
    let licence = if f.licence.trim().is_empty() {
        sess.licence.clone()
    } else {
        f.licence.trim().chars().take(40).collect()
    };
    let pdf = application_pdf(&reference, &sess.values[0], &licence, &today());
    let asked = async {
        let token = client_token(&s, "sign").await?;
        call(
            &s,
            reqwest::Method::POST,
            "/sign/v1/requests",
            &token,
            Some(json!({
                "login_hint": sess.sub,
                "document": {
                    "name": format!("Application for International Driving Permit {reference}"),
                    "department": "Transport Department",
                    "service": "International Driving Permit",
                },
                "pdf": base64::engine::general_purpose::STANDARD.encode(&pdf),
                "reason": "Application for International Driving Permit",
                "location": "Hong Kong",
            })),
        )
        .await
    };
    let mut signing = Signing {
        reference: reference.clone(),
        ..Default::default()
    };
    match asked.await {
        Ok((201, v)) => {
            signing.request_id = v["request_id"].as_str().unwrap_or_default().to_string();
            signing.match_code = v["match_code"].as_str().unwrap_or_default().to_string();
        }
        Ok((422, v)) => {
            signing.note = Some(if z {
                format!("申請已收到，但未有數碼簽署：{}", why(&v))
            } else {
                format!(
                    "Your application was received without a digital signature: {}",
                    why(&v)
                )
            });
        }
        Ok((_, v)) => return failure(z, why(&v)),
        Err(e) => return failure(z, e),
    }
    // Tell the applicant through iAM Smart (delivered only if they turned on notifications from
    // this service); the application goes on whatever the answer.
    let _ = crate::demo_notify::application_received(&s, &sess.sub, &reference).await;
    s.update(&id, |x| x.signing = Some(signing));
    Redirect::to("/signing").into_response()
}

fn signing_page(s: &Demo, z: bool, sg: &Signing, status: &str, reason: Option<String>) -> Response {
    let (heading, message, waiting, signed) = match status {
        "pending" | "scanned" => (
            if z {
                "請在「智方便」簽署"
            } else {
                "Sign with iAM Smart"
            },
            if z {
                format!(
                    "申請 {} 已準備好。請在「智方便」核對配對碼，然後簽署；此頁會自動繼續。",
                    sg.reference
                )
            } else {
                format!("Application {} is ready. In iAM Smart, check that the match code is the same, then sign; this page moves on by itself.", sg.reference)
            },
            true,
            false,
        ),
        "signed" => {
            (
                if z {
                    "已收到並簽署申請"
                } else {
                    "Application received and signed"
                },
                if z {
                    format!("申請編號：{}。你的數碼簽署已加入申請文件。這是示範服務，不會處理任何申請。", sg.reference)
                } else {
                    format!("Reference {}. Your digital signature is in the application document. This is a demonstration service: no application is processed.", sg.reference)
                },
                false,
                true,
            )
        }
        _ => (
            if z {
                "申請未有簽署"
            } else {
                "The application was not signed"
            },
            reason.unwrap_or_else(|| {
                if z {
                    "你沒有簽署（或要求已過期）。".into()
                } else {
                    "You did not sign (or the request expired).".into()
                }
            }),
            false,
            false,
        ),
    };
    page(
        StatusCode::OK,
        &SigningPage {
            t: text(z),
            heading,
            message,
            waiting,
            signed,
            match_label: if z { "配對碼" } else { "Match code" },
            match_code: sg.match_code.clone(),
            check: if z { "我已簽署" } else { "I have signed" },
            download: if z {
                "下載已簽署的申請（PDF）"
            } else {
                "Download the signed application (PDF)"
            },
            again: if z { "返回" } else { "Back" },
            open_app: if z {
                "打開「智方便」"
            } else {
                "Open iAM Smart"
            },
            app_url: s.app_url(),
        },
    )
}

/// Wait for the signature, then offer the signed PDF.
pub(crate) async fn progress(State(s): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let z = zh(&headers);
    let Some((id, sess)) = s.session(&headers) else {
        return Redirect::to("/").into_response();
    };
    let Some(sg) = sess.signing else {
        return Redirect::to("/form").into_response();
    };
    if let Some(note) = &sg.note {
        return signing_page(&s, z, &sg, "unsigned", Some(note.clone()));
    }
    if sg.signed_pdf.is_some() {
        return signing_page(&s, z, &sg, "signed", None);
    }
    let answer = async {
        let token = client_token(&s, "sign").await?;
        call(
            &s,
            reqwest::Method::GET,
            &format!("/sign/v1/requests/{}", sg.request_id),
            &token,
            None,
        )
        .await
    };
    let v = match answer.await {
        Ok((200, v)) => v,
        Ok((_, v)) => return failure(z, why(&v)),
        Err(e) => return failure(z, e),
    };
    let status = v["status"].as_str().unwrap_or_default();
    if status == "signed" {
        let pdf = v["signature"]["pdf"]
            .as_str()
            .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok());
        let Some(pdf) = pdf else {
            return failure(z, "iAM Smart answered without the signed PDF".into());
        };
        let mut done = sg.clone();
        done.signed_pdf = Some(Arc::new(pdf));
        s.update(&id, |x| x.signing = Some(done.clone()));
        return signing_page(&s, z, &done, "signed", None);
    }
    signing_page(&s, z, &sg, status, v["reason"].as_str().map(str::to_string))
}

/// The signed application.
pub(crate) async fn download(State(s): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    match s
        .session(&headers)
        .and_then(|(_, x)| x.signing)
        .and_then(|sg| sg.signed_pdf.map(|p| (sg.reference, p)))
    {
        Some((reference, pdf)) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{reference}-signed.pdf\""),
                ),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            pdf.as_ref().clone(),
        )
            .into_response(),
        None => Redirect::to("/").into_response(),
    }
}
