//! Signing through the compatible API: `account/signing/initiateRequest` (a hash) and
//! `account/pdfsigning/initiateRequest` (the digest of a PDF's signed byte range, which the
//! service prepared) for a signed-in resident, the result sent to the service's callback;
//! `anonymous/signing|pdfsigning/initiateRequest` with a QR code any iAM Smart+ resident scans,
//! and `getResult`; `ackResult` when the service has used the signature. All of it is
//! `signing::requests` (hash signing, `HKICHash` checked against the signer): the same approval
//! in the app, CAdES-B-T signature with the platform's timestamp, single collection.
//!
//! What differs from the real platform, each said in the guide: the residents' signing keys are
//! ECDSA P-256, so `sigAlgo` is `SHA256withECDSA` (`SHA256withRSA` answers `D10014`, never a
//! silent change); and `signature` is the detached CMS SignedData (CAdES-B-T) over the digest,
//! which holds the raw signature with its signed attributes and timestamp: a service embeds it
//! as it is in a PDF's `/Contents`, or verifies it with any CMS library.
use super::account;
use super::callbacks::{self, TicketKind};
use super::{ApiCode, ApiError, ApiResult};
use crate::error::DomainError;
use crate::oidc::clients::Client;
use crate::signing::requests::{self, Document, OutcomeStatus, SignRequest, Signature};
use crate::Platform;
use iamsmart_proto::ids::SignRequestId;
use serde::Deserialize;
use serde_json::{json, Value};

/// The one signature algorithm of the residents' signing keys.
pub const SIG_ALGO: &str = "SHA256withECDSA";

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::new(ApiCode::InvalidRequest, m)
}

/// Who the request is for: the signed-in resident, or whoever scans the QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `account/...`: the resident of an access token; the result goes to the callback.
    Account,
    /// `anonymous/...`: a QR code; the result through `getResult`.
    Anonymous,
}

/// Which field carries the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// `signing`: `hashCode`.
    Hash,
    /// `pdfsigning`: `docDigest`.
    Pdf,
}

impl Digest {
    fn field(self) -> &'static str {
        match self {
            Digest::Hash => "hashCode",
            Digest::Pdf => "docDigest",
        }
    }
}

/// The body of the four `initiateRequest` calls (inside `content`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StartRequest {
    #[serde(rename = "businessID")]
    business_id: Option<String>,
    access_token: Option<String>,
    #[serde(rename = "openID")]
    open_id: Option<String>,
    source: String,
    #[serde(rename = "redirectURI")]
    redirect_uri: Option<String>,
    state: Option<String>,
    lang: Option<String>,
    hash_code: Option<String>,
    doc_digest: Option<String>,
    sig_algo: String,
    #[serde(rename = "HKICHash")]
    hkic_hash: Option<String>,
    department: Option<String>,
    service_name: Option<String>,
    document_name: String,
}

/// A refusal of the signing module in the API's terms.
fn refusal(e: DomainError) -> ApiError {
    match e {
        DomainError::Refused { message, .. } => ApiError::new(ApiCode::SigningRefused, message),
        DomainError::FeatureUnavailable(m) => ApiError::new(ApiCode::ServerError, m),
        DomainError::Invalid { field, message } => bad(format!("{field}: {message}")),
        DomainError::NotFound => ApiError::new(
            ApiCode::InvalidAccessToken,
            "openID names no resident of this client",
        ),
        other => other.into(),
    }
}

/// `POST /api/v1/{account|anonymous}/{signing|pdfsigning}/initiateRequest`.
pub async fn initiate(
    p: &Platform,
    client: &Client,
    flow: Flow,
    digest: Digest,
    body: &[u8],
) -> ApiResult<Value> {
    let req: StartRequest = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "the request's content is not the expected JSON: {e}"
        ))
    })?;
    let (business_id, state) = account::common_fields(
        &req.business_id,
        &req.state,
        &req.source,
        req.lang.as_deref(),
    )?;
    if req.sig_algo != SIG_ALGO {
        return Err(ApiError::new(
            ApiCode::SigAlgoNotSupported,
            format!(
                "sigAlgo {:?} cannot be honoured: the residents' signing keys are ECDSA P-256, so sigAlgo must be {SIG_ALGO}",
                req.sig_algo.chars().take(40).collect::<String>()
            ),
        ));
    }
    let (given, other) = match digest {
        Digest::Hash => (&req.hash_code, &req.doc_digest),
        Digest::Pdf => (&req.doc_digest, &req.hash_code),
    };
    if other.is_some() {
        return Err(bad(format!(
            "this endpoint takes {}, not the other digest field",
            digest.field()
        )));
    }
    let value = given
        .clone()
        .ok_or_else(|| bad(format!("{} is required", digest.field())))?;
    let (callback_uri, open_id) = match flow {
        Flow::Account => {
            let redirect = req
                .redirect_uri
                .as_deref()
                .ok_or_else(|| bad("redirectURI is required"))?;
            let token = req
                .access_token
                .as_deref()
                .ok_or_else(|| bad("accessToken is required"))?;
            let open_id = req
                .open_id
                .clone()
                .ok_or_else(|| bad("openID is required"))?;
            let callback = account::redirect_and_callback(&p.oidc, client, redirect).await?;
            account::signed_in(&p.oidc, client, token, &open_id, "eidapi_sign").await?;
            (Some(callback), Some(open_id))
        }
        Flow::Anonymous => {
            if req.access_token.is_some() || req.open_id.is_some() {
                return Err(bad(
                    "a request without a login names no resident: use account/... with accessToken and openID",
                ));
            }
            (None, None)
        }
    };
    let started = requests::start(
        &p.signing,
        client,
        SignRequest {
            login_hint: open_id.clone(),
            document: Document {
                name: req.document_name.clone(),
                department: req.department.clone(),
                service: req.service_name.clone(),
            },
            digest: Some(value.clone()),
            pdf: None,
            face: false,
            hkid_hash: req.hkic_hash.clone(),
            reason: None,
            location: None,
            level: None,
        },
        None,
    )
    .await
    .map_err(refusal)?;
    let mut answer = json!({
        "ticketID": started.request_id,
        "matchCode": started.match_code,
        "expiresAt": started.expires_at,
    });
    match (callback_uri, open_id) {
        (Some(callback_uri), Some(open_id)) => {
            callbacks::open_ticket(
                p,
                client,
                callbacks::NewTicket {
                    id: started.request_id.as_str(),
                    approval_id: started.approval_id.as_str(),
                    kind: TicketKind::Sign,
                    business_id,
                    state,
                    echo: Some(json!({ digest.field(): value, "openID": open_id })),
                    callback_uri: &callback_uri,
                    expires_at: started.expires_at,
                },
            )
            .await?;
            answer["authByQR"] = Value::Bool(false);
        }
        _ => {
            answer["authByQR"] = Value::Bool(true);
            answer["qrCode"] = Value::String(started.qr);
        }
    }
    if let Some(b) = business_id {
        answer["businessID"] = Value::String(b.to_string());
    }
    Ok(answer)
}

/// A signature as the API gives it: `signature` the detached CMS (CAdES-B-T), `cert` the
/// signer's certificate, `certChain` its CA's, `timestamp` when the timestamp authority saw it
/// (milliseconds), `sigAlgo`.
pub fn signature_content(sig: &Signature) -> Value {
    json!({
        "signature": sig.cms,
        "cert": sig.certificate,
        "certChain": sig.chain,
        "timestamp": i64::try_from(sig.timestamp).unwrap_or(i64::MAX).saturating_mul(1000),
        "sigAlgo": SIG_ALGO,
    })
}

/// The body of `getResult` and `ackResult`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TicketRequest {
    #[serde(rename = "ticketID")]
    ticket_id: String,
    #[serde(rename = "businessID")]
    business_id: Option<String>,
}

fn ticket_request(body: &[u8]) -> ApiResult<(SignRequestId, Value)> {
    let req: TicketRequest = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "the request's content is not the expected JSON: {e}"
        ))
    })?;
    let id = SignRequestId::parse(&req.ticket_id).map_err(|_| bad("ticketID is unknown"))?;
    let mut answer = json!({ "ticketID": id });
    if let Some(b) = super::eme::text(&req.business_id, "businessID", 64)? {
        answer["businessID"] = Value::String(b.to_string());
    }
    Ok((id, answer))
}

/// The signing request's outcome (`D10000` for a ticket that is not this client's).
async fn outcome_of(
    p: &Platform,
    client: &Client,
    id: &SignRequestId,
) -> ApiResult<requests::Outcome> {
    requests::outcome(&p.signing, client, id)
        .await
        .map_err(|e| match e {
            DomainError::NotFound => bad("ticketID is unknown"),
            other => other.into(),
        })
}

/// `POST /api/v1/anonymous/{signing|pdfsigning}/getResult`: `PENDING` or `SCANNED` while the
/// resident has not answered; `SIGNED` with the signature once; `D40001` declined, `D40003`
/// nobody answered, `D10013` the signature was refused (the `HKICHash` is not the signer's).
pub async fn result(p: &Platform, client: &Client, body: &[u8]) -> ApiResult<Value> {
    let (id, mut answer) = ticket_request(body)?;
    let out = outcome_of(p, client, &id).await?;
    let reason = |default: &str| out.reason.clone().unwrap_or_else(|| default.to_string());
    match out.status {
        OutcomeStatus::Pending | OutcomeStatus::Scanned => {
            answer["status"] = Value::String(out.status.as_str().to_ascii_uppercase());
            Ok(answer)
        }
        OutcomeStatus::Denied => Err(ApiError::new(
            ApiCode::UserRejected,
            reason("the resident declined"),
        )),
        OutcomeStatus::Expired => Err(ApiError::new(
            ApiCode::Timeout,
            reason("the resident did not answer in time"),
        )),
        OutcomeStatus::Failed => Err(ApiError::new(
            ApiCode::SigningRefused,
            reason("the app's answer could not be made into a signature"),
        )),
        OutcomeStatus::Collected => Err(bad(
            "the signature was handed out before: each signature is given once",
        )),
        OutcomeStatus::Signed => {
            let sig = out
                .signature
                .ok_or_else(|| ApiError::from(ApiCode::ServerError))?;
            answer["status"] = Value::String("SIGNED".into());
            if let (Value::Object(a), Value::Object(s)) = (&mut answer, signature_content(&sig)) {
                a.extend(s);
            }
            Ok(answer)
        }
    }
}

/// `POST /api/v1/account/signing/ackResult` (and the `pdfsigning` and `anonymous` ones): the
/// service has the signature and used it. Recorded in the audit log; a signature not yet
/// handed out cannot be acknowledged.
pub async fn ack(p: &Platform, client: &Client, body: &[u8]) -> ApiResult<Value> {
    let (id, mut answer) = ticket_request(body)?;
    let out = outcome_of(p, client, &id).await?;
    if out.status != OutcomeStatus::Collected {
        return Err(bad(format!(
            "only a signature handed out can be acknowledged; this one is {}",
            out.status.as_str()
        )));
    }
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await.map_err(DomainError::from)?;
    crate::audit::append(
        &mut tx,
        now,
        None,
        &crate::audit::Event {
            kind: "signing.acknowledged",
            actor: &format!("client:{}", client.id),
            subject: &format!("sign_request:{id}"),
            detail: json!({}),
        },
    )
    .await?;
    tx.commit().await.map_err(DomainError::from)?;
    answer["acknowledged"] = Value::Bool(true);
    Ok(answer)
}
