//! The demo service as a requester of the Consented Data Exchange Gateway: a signed-in applicant
//! can have their driving licence details fetched from the Transport Department's records. The
//! service asks for a one-off consent (client credentials token, `POST /gateway/v1/consents`),
//! the resident approves in the app while this page waits (it refreshes itself, so it works
//! without JavaScript), then the service fetches (`POST /gateway/v1/fetch`) and decrypts the
//! answer with its own key: the platform relays it end to end encrypted and keeps none of it.
use crate::demo_service::{failure, page, text, zh, Demo, Text};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};
use std::sync::Arc;

const PURPOSE_CODE: &str = "idp-application";

#[derive(Template)]
#[template(path = "demo/licence_wait.html")]
struct WaitPage {
    t: Text,
    heading: &'static str,
    message: &'static str,
    check: &'static str,
    back: &'static str,
    open_app: &'static str,
    app_url: String,
}

/// A problem details or OAuth error answer, as one line.
pub(crate) fn why(v: &Value) -> String {
    v["detail"]
        .as_str()
        .or(v["error_description"].as_str())
        .or(v["title"].as_str())
        .unwrap_or("unexpected answer")
        .to_string()
}

pub(crate) async fn call(
    s: &Demo,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let proof = s.dpop(
        method.as_str(),
        &format!("{}{path}", s.cfg.issuer.trim_end_matches('/')),
        Some(token),
    )?;
    let mut r = s
        .http
        .request(method, format!("{}{path}", s.cfg.platform_backchannel))
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.map_err(|e| format!("iAM Smart: {e}"))?;
    let status = r.status().as_u16();
    let v = r.json().await.map_err(|e| format!("iAM Smart: {e}"))?;
    Ok((status, v))
}

/// A token for the gateway: client credentials, authenticated with a signed assertion and bound
/// to the service's key (DPoP), as the gateway requires of every requester.
pub(crate) async fn client_token(s: &Demo, scope: &str) -> Result<String, String> {
    let proof = s.dpop(
        "POST",
        &format!("{}/token", s.cfg.issuer.trim_end_matches('/')),
        None,
    )?;
    let r = s
        .http
        .post(format!("{}/token", s.cfg.platform_backchannel))
        .header("DPoP", proof)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &s.assertion()?),
        ])
        .send()
        .await
        .map_err(|e| format!("iAM Smart: {e}"))?;
    let v: Value = r.json().await.map_err(|e| format!("iAM Smart: {e}"))?;
    v["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| why(&v))
}

/// Ask the resident's consent for their driving licence.
pub(crate) async fn request(State(s): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let z = zh(&headers);
    let Some((id, sess)) = s.session(&headers) else {
        return Redirect::to("/").into_response();
    };
    if s.cfg.enc_key.is_none() {
        return Redirect::to("/form").into_response();
    }
    let asked = async {
        let token = client_token(&s, "gateway").await?;
        let (status, v) = call(
            &s,
            reqwest::Method::POST,
            "/gateway/v1/consents",
            &token,
            Some(json!({
                "login_hint": sess.sub,
                "items": [{ "provider": "td", "item": "driving_licence" }],
                "purpose_code": PURPOSE_CODE,
                "purpose_text": "Application for an International Driving Permit",
                "fetch_type": "once",
                "valid_days": 1,
                "data_life_days": 30,
            })),
        )
        .await?;
        match (status, v["consent_id"].as_str()) {
            (201, Some(c)) => Ok(c.to_string()),
            _ => Err(why(&v)),
        }
    };
    match asked.await {
        Ok(consent) => {
            s.update(&id, |x| {
                x.consent = Some(consent);
                x.note = None;
            });
            Redirect::to("/licence").into_response()
        }
        Err(e) => failure(
            z,
            if z {
                format!("未能向運輸署提出要求：{e}")
            } else {
                format!("The request to the Transport Department could not be made: {e}")
            },
        ),
    }
}

/// What the fetch gave, for the applicant.
enum Got {
    Licence {
        number: String,
        classes: String,
        expiry: String,
    },
    Nothing,
    Failed(String),
}

async fn fetch(s: &Demo, token: &str, consent: &str) -> Got {
    let Some(key) = &s.cfg.enc_key else {
        return Got::Failed("no key".into());
    };
    let (status, v) = match call(
        s,
        reqwest::Method::POST,
        "/gateway/v1/fetch",
        token,
        Some(json!({ "consent_id": consent, "purpose_code": PURPOSE_CODE })),
    )
    .await
    {
        Ok(x) => x,
        Err(e) => return Got::Failed(e),
    };
    if status != 200 {
        return Got::Failed(why(&v));
    }
    let r = &v["results"][0];
    match r["status"].as_str() {
        Some("ok") => {
            // The requester checks the provider's signature and what it relies on (the gateway
            // never sees the data, and could not have made it).
            let keys =
                match crate::providers::provider_keys(&s.http, &s.cfg.platform_backchannel, "td")
                    .await
                {
                    Ok(k) => k,
                    Err(e) => return Got::Failed(format!("the Transport Department's keys: {e}")),
                };
            let expected = crate::providers::ExpectedItem {
                provider: "td",
                client_id: &s.cfg.client_id,
                consent_id: consent,
                item: "driving_licence",
            };
            let doc = r["jwe"]
                .as_str()
                .ok_or_else(|| "no data".to_string())
                .and_then(|j| crate::providers::open_item(key, j, &keys, &expected));
            match doc {
                Ok(data) if data["number"].is_string() => Got::Licence {
                    number: data["number"].as_str().unwrap_or_default().to_string(),
                    classes: data["classes"]
                        .as_array()
                        .map(|c| {
                            c.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default(),
                    expiry: data["expiry"].as_str().unwrap_or_default().to_string(),
                },
                Ok(_) => Got::Failed("the answer is not a driving licence record".into()),
                Err(e) => Got::Failed(e),
            }
        }
        Some("none") => Got::Nothing,
        _ => Got::Failed(
            r["detail"]
                .as_str()
                .unwrap_or("the department did not answer")
                .to_string(),
        ),
    }
}

/// Whether the consent still waits for the resident (for the waiting page's script).
pub(crate) async fn state(State(s): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let pending = match s.session(&headers).and_then(|(_, x)| x.consent) {
        Some(consent) => match client_token(&s, "gateway").await {
            Ok(token) => matches!(
                call(&s, reqwest::Method::GET, &format!("/gateway/v1/consents/{consent}"), &token, None).await,
                Ok((200, v)) if v["status"] == "PENDING"
            ),
            Err(_) => false,
        },
        None => false,
    };
    axum::Json(json!({ "pending": pending })).into_response()
}

/// Wait for the resident's answer, then fetch and fill the form in.
pub(crate) async fn progress(State(s): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let z = zh(&headers);
    let Some((id, sess)) = s.session(&headers) else {
        return Redirect::to("/").into_response();
    };
    let Some(consent) = sess.consent.clone() else {
        return Redirect::to("/form").into_response();
    };
    let token = match client_token(&s, "gateway").await {
        Ok(t) => t,
        Err(e) => return failure(z, e),
    };
    let status = match call(
        &s,
        reqwest::Method::GET,
        &format!("/gateway/v1/consents/{consent}"),
        &token,
        None,
    )
    .await
    {
        Ok((200, v)) => v["status"].as_str().unwrap_or_default().to_string(),
        Ok((_, v)) => return failure(z, why(&v)),
        Err(e) => return failure(z, e),
    };
    let note = match status.as_str() {
        "PENDING" => {
            return page(
                StatusCode::OK,
                &WaitPage {
                    t: text(z),
                    heading: if z {
                        "請在「智方便」回覆"
                    } else {
                        "Answer in iAM Smart"
                    },
                    message: if z {
                        "我們已請你同意由運輸署傳送你的駕駛執照資料。請打開「智方便」查看並回覆；此頁會自動繼續。"
                    } else {
                        "We asked for your consent to receive your driving licence details from the Transport Department. Open iAM Smart to see the request and answer it; this page moves on by itself."
                    },
                    check: if z { "我已回覆" } else { "I have answered" },
                    back: if z {
                        "返回表格，自行填寫"
                    } else {
                        "Back to the form (fill it in yourself)"
                    },
                    open_app: if z {
                        "打開「智方便」"
                    } else {
                        "Open iAM Smart"
                    },
                    app_url: s.app_url(),
                },
            )
        }
        "ACTIVE" => match fetch(&s, &token, &consent).await {
            Got::Licence {
                number,
                classes,
                expiry,
            } => {
                let note = if z {
                    format!("已由運輸署的紀錄填上（車輛類別 {classes}，有效至 {expiry}）。")
                } else {
                    format!("Filled in from the Transport Department's records (classes {classes}, valid until {expiry}).")
                };
                s.update(&id, |x| x.licence = number);
                note
            }
            Got::Nothing => if z {
                "運輸署沒有你的正式駕駛執照紀錄。"
            } else {
                "The Transport Department holds no full driving licence for you."
            }
            .to_string(),
            Got::Failed(e) => {
                if z {
                    format!("未能取得資料（{e}），請自行填寫。")
                } else {
                    format!("The details could not be fetched ({e}); please type them in.")
                }
            }
        },
        _ => if z {
            "你沒有同意（或要求已過期），請自行填寫駕駛執照號碼。"
        } else {
            "You did not agree (or the request expired): please type your licence number in."
        }
        .to_string(),
    };
    s.update(&id, |x| {
        x.consent = None;
        x.note = Some(note);
    });
    Redirect::to("/form").into_response()
}
