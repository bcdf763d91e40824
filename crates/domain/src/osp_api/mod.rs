//! The iAM Smart-compatible API (`/api/v1/`): the interface of the real platform, so that an
//! online service built for it moves over with only its base URL changed. It is a dialect of
//! the OpenID provider, not a second one: `getQR` starts the same sign-in (login page, QR code,
//! match code, the app's approval, consent), and `getToken` redeems the same authorization code.
//!
//! Each call is signed with HMAC-SHA256 under the client's secret (which the platform must hold
//! to check it, so it is sealed at rest like personal data); `getKey` issues a content key
//! wrapped to the service's encipherment certificate, under which answers (and later request
//! bodies) travel as `content`. A call's `nonce` is recorded before anything else happens, so a
//! nonce is refused the second time whatever became of the first call; its `timestamp` must be
//! within `oidc.api_timestamp_window_secs` of the platform's clock, and a nonce is remembered as
//! long, so that a replay is always caught one way or the other.
pub mod account;
#[cfg(test)]
mod callback_tests;
pub mod callbacks;
mod codes;
pub mod eme;
mod login;
pub mod signing;
pub mod stepup;
#[cfg(test)]
mod tests;

pub use codes::{ApiCode, ApiError};
pub use login::{get_qr, get_token, TokenAnswer, SCOPES};

use crate::audit::{self, Event};
use crate::error::DomainError;
use crate::guard::{SingleUseKind, Spent};
use crate::oidc::clients::{self, Client, ClientMetadata, ClientProfile, Registered};
use crate::oidc::Oidc;
use iamsmart_crypto::envelope::FieldContext;
use iamsmart_crypto::osp_api as wire;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// What a call of the API answers with, or why it was refused.
pub type ApiResult<T> = Result<T, ApiError>;

/// Content keys tried on a request body, newest first (a service may still be using the one
/// before its latest `getKey`).
const KEYS_TRIED: i64 = 3;
/// Longest accepted `nonce`.
const MAX_NONCE_CHARS: usize = 128;

/// The signature headers of a call as received, before any check.
#[derive(Debug, Default, Clone, Copy)]
pub struct SignatureHeaders<'a> {
    /// `clientID`.
    pub client_id: Option<&'a str>,
    /// `signatureMethod`.
    pub signature_method: Option<&'a str>,
    /// `timestamp` (milliseconds since the epoch).
    pub timestamp: Option<&'a str>,
    /// `nonce`.
    pub nonce: Option<&'a str>,
    /// `signature`.
    pub signature: Option<&'a str>,
}

fn required<'a>(v: Option<&'a str>, name: &str) -> ApiResult<&'a str> {
    v.map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| {
        ApiError::new(
            ApiCode::MissingHeader,
            format!("the {name} header is required"),
        )
    })
}

/// Authenticate a call: its headers, its signature over `body`, its timestamp, then its nonce
/// (recorded at once: a nonce is good for one call, whatever became of it). Answers the client.
pub async fn authenticate(p: &Oidc, h: &SignatureHeaders<'_>, body: &[u8]) -> ApiResult<Client> {
    let client_id = required(h.client_id, "clientID")?;
    let method = required(h.signature_method, "signatureMethod")?;
    let timestamp = required(h.timestamp, "timestamp")?;
    let nonce = required(h.nonce, "nonce")?;
    let signature = required(h.signature, "signature")?;
    if method != wire::SIGNATURE_METHOD {
        return Err(ApiCode::UnsupportedSignatureMethod.into());
    }
    let window = p.provider.policy.api_timestamp_window_ms;
    let now = p.clock.now_ms();
    let ts: i64 = timestamp
        .parse()
        .ok()
        .filter(|_| timestamp.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            ApiError::new(
                ApiCode::StaleTimestamp,
                "timestamp must be milliseconds since the epoch, in digits",
            )
        })?;
    if !crate::guard::within(ts, now, window) {
        return Err(ApiError::new(
            ApiCode::StaleTimestamp,
            format!(
                "timestamp is {} s from the platform's clock; at most {} s is accepted",
                (ts.saturating_sub(now) / 1000),
                window / 1000
            ),
        ));
    }
    if nonce.chars().count() > MAX_NONCE_CHARS || !nonce.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::new(
            ApiCode::InvalidRequest,
            format!("nonce must be 1 to {MAX_NONCE_CHARS} printable ASCII characters"),
        ));
    }
    let client = api_client(p, client_id).await?;
    let secret = secret_of(p, &client).await?;
    let message = wire::signed_message(client_id, method, timestamp, nonce, body);
    if !wire::verify(secret.as_bytes(), &message, signature) {
        return Err(ApiError::new(
            ApiCode::BadSignature,
            "the signature does not match: Base64 of HMAC-SHA256 under the client secret over clientID + signatureMethod + timestamp + nonce + body, URL-encoded",
        ));
    }
    let mut spent = Spent::new();
    spent.add(
        SingleUseKind::ApiNonce,
        format!("api:{}", client.id),
        nonce,
        ts.saturating_add(window).max(now + window),
    );
    match spent.spend(p).await? {
        Ok(()) => Ok(client),
        Err(_) => Err(ApiCode::NonceReused.into()),
    }
}

/// An active client of the compatible API, by its `clientID`.
async fn api_client(p: &Oidc, client_id: &str) -> ApiResult<Client> {
    clients::named(p, client_id)
        .await?
        .filter(|c| c.meta.iamsmart_profile == ClientProfile::IamsmartApi)
        .ok_or_else(|| ApiCode::UnknownClient.into())
}

async fn secret_of(p: &Oidc, client: &Client) -> ApiResult<Zeroizing<String>> {
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT secret FROM osp_api_clients WHERE client_id = $1")
            .bind(&client.id)
            .fetch_optional(p.db.reader())
            .await
            .map_err(DomainError::from)?
            .ok_or(ApiCode::UnknownClient)?;
    let opened = p
        .vault
        .open_field(&secret_context(&client.id), &sealed)
        .await?;
    String::from_utf8(opened.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| DomainError::Integrity("a client secret is not text".into()).into())
}

fn secret_context(client_id: &str) -> FieldContext<'_> {
    FieldContext {
        table: "osp_api_clients",
        column: "secret",
        row: client_id,
    }
}

fn content_key_context(id: &str) -> FieldContext<'_> {
    FieldContext {
        table: "osp_api_content_keys",
        column: "content_key",
        row: id,
    }
}

/// A client of the compatible API, registered: its id and its secret (shown once).
#[derive(Debug, Serialize)]
pub struct ApiClient {
    /// The client as registered.
    #[serde(flatten)]
    pub registered: Registered,
    /// The HMAC secret; the platform keeps it sealed and never shows it again.
    pub client_secret: String,
    /// SHA-256 (Base64) of the encipherment certificate (`pubKey` in `getKey` answers).
    pub kek_cert_sha256: String,
    /// Where results that come later (profile, e-ME after a sign-in) are POSTed.
    pub callback_uri: Option<String>,
}

/// Read an encipherment certificate (PEM or DER) and check it can be used now.
pub fn encipherment_cert(p: &Oidc, cert: &[u8]) -> ApiResult<(Vec<u8>, wire::EnciphermentKey)> {
    let der = match std::str::from_utf8(cert) {
        Ok(text) if text.contains("-----BEGIN") => iamsmart_crypto::pki::cert::from_pem(text)
            .map_err(|e| ApiError::new(ApiCode::InvalidRequest, e.to_string()))?,
        _ => cert.to_vec(),
    };
    let key = wire::EnciphermentKey::from_cert(&der)
        .map_err(|e| ApiError::new(ApiCode::InvalidRequest, e.to_string()))?;
    check_validity(p, &key)?;
    Ok((der, key))
}

fn check_validity(p: &Oidc, key: &wire::EnciphermentKey) -> ApiResult<()> {
    let now_s = u64::try_from(p.clock.now_ms() / 1000).unwrap_or(0);
    if now_s < key.not_before || now_s >= key.not_after {
        return Err(ApiError::new(
            ApiCode::CertificateNotValid,
            "the encipherment certificate is expired or not valid yet: register a current one",
        ));
    }
    Ok(())
}

/// Register a client of the compatible API (by the operator, or a developer through the
/// portal): its metadata, a fresh secret, and the service's encipherment certificate.
pub async fn register(
    p: &Oidc,
    mut meta: ClientMetadata,
    kek_cert: &[u8],
    callback_uri: Option<&str>,
    actor: &str,
) -> ApiResult<ApiClient> {
    let (der, key) = encipherment_cert(p, kek_cert)?;
    if let Some(uri) = callback_uri {
        callbacks::check_callback_uri(p, uri)?;
    }
    meta.iamsmart_profile = ClientProfile::IamsmartApi;
    let registered = clients::register(p, meta, actor, true).await?;
    let secret = Zeroizing::new(iamsmart_crypto::rng::token(p.rng.as_ref(), 32));
    let now = p.clock.now_ms();
    let stored = async {
        let sealed = p
            .vault
            .seal(&secret_context(&registered.client_id), secret.as_bytes())
            .await?;
        let mut tx = p.db.begin().await?;
        sqlx::query(
            "INSERT INTO osp_api_clients (client_id, secret, kek_cert, callback_uri, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&registered.client_id)
        .bind(&sealed)
        .bind(&der)
        .bind(callback_uri)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            now,
            None,
            &Event {
                kind: "client.api_credentials",
                actor,
                subject: &format!("client:{}", registered.client_id),
                detail: serde_json::json!({
                    "kek_cert_sha256": hex::encode(key.cert_sha256),
                    "callback_uri": callback_uri,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok::<_, DomainError>(())
    }
    .await;
    if let Err(e) = stored {
        // A client without credentials answers nothing; take it away again.
        let _ = clients::disable(p, &registered.client_id, actor).await;
        return Err(e.into());
    }
    Ok(ApiClient {
        registered,
        client_secret: secret.to_string(),
        kek_cert_sha256: b64(&key.cert_sha256),
        callback_uri: callback_uri.map(str::to_string),
    })
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The answer of `getKey`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContentKeyAnswer {
    /// The content key, RSA-OAEP (SHA-256) encrypted to the encipherment certificate, Base64.
    pub secret_key: String,
    /// SHA-256 (Base64) of the certificate it was wrapped to.
    pub pub_key: String,
    /// Issued at (milliseconds since the epoch).
    pub issue_at: i64,
    /// Valid for (milliseconds).
    pub expires_in: i64,
}

/// The client's encipherment key, from its registered certificate, if valid now.
async fn encipherment_key_of(p: &Oidc, client: &Client) -> ApiResult<wire::EnciphermentKey> {
    let cert: Vec<u8> =
        sqlx::query_scalar("SELECT kek_cert FROM osp_api_clients WHERE client_id = $1")
            .bind(&client.id)
            .fetch_optional(p.db.reader())
            .await
            .map_err(DomainError::from)?
            .ok_or(ApiCode::UnknownClient)?;
    let key = wire::EnciphermentKey::from_cert(&cert)
        .map_err(|e| DomainError::Integrity(format!("a stored certificate: {e}")))?;
    check_validity(p, &key)?;
    Ok(key)
}

/// `getKey`: a fresh content key for the client, wrapped to its encipherment certificate.
pub async fn issue_content_key(p: &Oidc, client: &Client) -> ApiResult<ContentKeyAnswer> {
    let key = encipherment_key_of(p, client).await?;
    let content_key = wire::new_content_key(p.rng.as_ref());
    let wrapped = key
        .wrap(content_key.as_ref())
        .map_err(|e| DomainError::Integrity(e.to_string()))?;
    let id = iamsmart_crypto::rng::token(p.rng.as_ref(), 16);
    let sealed = p
        .vault
        .seal(&content_key_context(&id), content_key.as_ref())
        .await?;
    let now = p.clock.now_ms();
    let ttl = p.provider.policy.api_content_key_ttl_ms;
    sqlx::query(
        "INSERT INTO osp_api_content_keys (id, client_id, content_key, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(&client.id)
    .bind(&sealed)
    .bind(now)
    .bind(now + ttl)
    .execute(p.db.writer())
    .await
    .map_err(DomainError::from)?;
    Ok(ContentKeyAnswer {
        secret_key: b64(&wrapped),
        pub_key: b64(&key.cert_sha256),
        issue_at: now,
        expires_in: ttl,
    })
}

/// A client's valid content keys, newest first.
pub struct ContentKeys(Vec<Zeroizing<Vec<u8>>>);

impl std::fmt::Debug for ContentKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContentKeys({} keys)", self.0.len())
    }
}

impl ContentKeys {
    /// The client's valid content keys (refused when there is none: call `getKey`).
    pub async fn of(p: &Oidc, client: &Client) -> ApiResult<ContentKeys> {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT id, content_key FROM osp_api_content_keys WHERE client_id = $1 AND expires_at > $2 ORDER BY issued_at DESC, id LIMIT $3",
        )
        .bind(&client.id)
        .bind(p.clock.now_ms())
        .bind(KEYS_TRIED)
        .fetch_all(p.db.reader())
        .await
        .map_err(DomainError::from)?;
        if rows.is_empty() {
            return Err(ApiCode::NoContentKey.into());
        }
        let mut keys = Vec::with_capacity(rows.len());
        for (id, sealed) in rows {
            keys.push(
                p.vault
                    .open_field(&content_key_context(&id), &sealed)
                    .await?,
            );
        }
        Ok(ContentKeys(keys))
    }

    /// Decrypt a request's `content` under any of the keys.
    pub fn open(&self, content: &str) -> ApiResult<Zeroizing<Vec<u8>>> {
        self.0
            .iter()
            .find_map(|k| wire::open_content(k, content).ok())
            .ok_or_else(|| ApiCode::BadContent.into())
    }

    /// A request body `{"content": ...}`, decrypted.
    pub fn open_body(&self, body: &[u8]) -> ApiResult<Zeroizing<Vec<u8>>> {
        let envelope: EncryptedBody = serde_json::from_slice(body).map_err(|_| {
            ApiError::new(
                ApiCode::InvalidRequest,
                "the body must be {\"content\": ...}, encrypted under your content key",
            )
        })?;
        self.open(&envelope.content)
    }

    /// Encrypt an answer's `content` under the newest key.
    pub fn seal(&self, p: &Oidc, plaintext: &[u8]) -> ApiResult<String> {
        let key = self.0.first().ok_or(ApiCode::NoContentKey)?;
        wire::seal_content(key, plaintext, p.rng.as_ref())
            .map_err(|e| DomainError::Integrity(e.to_string()).into())
    }
}

/// How long the calls of a client are kept for its developers.
pub const CALL_LOG_MS: i64 = 7 * 86_400_000;

/// Delete expired content keys and calls older than [`CALL_LOG_MS`] (a worker calls this).
pub async fn purge_expired(p: &crate::env::Env) -> crate::error::Result<u64> {
    let now = p.clock.now_ms();
    // Finished tickets a day after they ended (their bodies went when they ended).
    let tickets = sqlx::query(
        "DELETE FROM osp_api_tickets WHERE status IN ('delivered', 'failed') AND finished_at < $1",
    )
    .bind(now - 86_400_000)
    .execute(p.db.writer())
    .await?
    .rows_affected();
    let keys = sqlx::query("DELETE FROM osp_api_content_keys WHERE expires_at < $1")
        .bind(now)
        .execute(p.db.writer())
        .await?
        .rows_affected();
    let calls = sqlx::query("DELETE FROM osp_api_calls WHERE at < $1")
        .bind(now - CALL_LOG_MS)
        .execute(p.db.writer())
        .await?
        .rows_affected();
    Ok(tickets + keys + calls)
}

/// A call of the compatible API, as its client's developers see it afterwards.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CallRecord {
    /// When (milliseconds since the epoch).
    pub at: i64,
    /// The path called, under `/api/v1/`.
    pub endpoint: String,
    /// The answer's code.
    pub code: String,
    /// The answer's `txID` (the correlation id of the platform's logs).
    #[serde(rename = "txID")]
    pub tx_id: String,
}

/// Record a call of a client of this API (its endpoint, code and txID, nothing else). A call
/// whose `clientID` names no client of this API is recorded nowhere.
pub async fn record_call(
    p: &Oidc,
    client_id: &str,
    endpoint: &str,
    code: ApiCode,
    tx_id: &str,
) -> crate::error::Result<()> {
    let Ok(Some(client)) = clients::named(p, client_id).await else {
        return Ok(());
    };
    if client.meta.iamsmart_profile != ClientProfile::IamsmartApi {
        return Ok(());
    }
    record(p, &client.id, endpoint, code.as_str(), tx_id).await
}

/// Record an entry of a client's log (a call, or a callback's attempt).
async fn record(
    p: &Oidc,
    client_id: &clients::ClientId,
    endpoint: &str,
    code: &str,
    tx_id: &str,
) -> crate::error::Result<()> {
    sqlx::query(
        "INSERT INTO osp_api_calls (id, client_id, at, endpoint, code, tx_id) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(iamsmart_crypto::rng::token(p.rng.as_ref(), 12))
    .bind(client_id)
    .bind(p.clock.now_ms())
    .bind(endpoint.chars().take(200).collect::<String>())
    .bind(code)
    .bind(tx_id.chars().take(64).collect::<String>())
    .execute(p.db.writer())
    .await?;
    Ok(())
}

/// A client's most recent calls, newest first (at most `limit`, and 7 days back).
pub async fn recent_calls(
    p: &Oidc,
    client_id: &str,
    limit: i64,
) -> crate::error::Result<Vec<CallRecord>> {
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT at, endpoint, code, tx_id FROM osp_api_calls WHERE client_id = $1 ORDER BY at DESC, id LIMIT $2",
    )
    .bind(client_id)
    .bind(limit.clamp(1, 1000))
    .fetch_all(p.db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, endpoint, code, tx_id)| CallRecord {
            at,
            endpoint,
            code,
            tx_id,
        })
        .collect())
}

/// A request body of the API: `{"content": ...}`.
#[derive(Debug, Deserialize)]
struct EncryptedBody {
    content: String,
}
