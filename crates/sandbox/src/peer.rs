//! How a sandbox service authenticates the platform's signed requests and signs its answers
//! (the other side of the platform's `connector` module).
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use iamsmart_crypto::device::DeviceKey;
use iamsmart_crypto::jose::{self, Alg, PublicJwk};
use iamsmart_proto::app::RequestClaims;
use iamsmart_proto::registry::{ResponseClaims, REQUEST_TYP, RESPONSE_TYP, SIGNATURE_HEADER};
use std::collections::HashMap;
use std::sync::Mutex;

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn body_hash(body: &[u8]) -> String {
    let d = iamsmart_crypto::hash::sha256(body);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d)
}

/// How long the platform's connector keys are kept (its JWKS says `max-age=60`).
const PLATFORM_KEYS_MAX_AGE_S: i64 = 60;

/// A service's identity towards the platform: its signing key, the audience name it answers
/// to, and where the platform's connector keys are published.
pub struct Peer {
    key: DeviceKey,
    kid: String,
    /// The name this service expects in `aud` and signs as `iss`.
    pub name: String,
    platform_jwks_url: String,
    http: reqwest::Client,
    platform_keys: Mutex<(Vec<PublicJwk>, i64)>,
    seen: Mutex<HashMap<String, i64>>,
}

/// Why a request was refused.
#[derive(Debug)]
pub struct Refused(pub &'static str);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({ "error": "unauthenticated", "detail": self.0 })),
        )
            .into_response()
    }
}

impl Peer {
    /// A service named `name`, trusting the platform keys published at `platform_jwks_url`.
    pub fn new(name: &str, platform_jwks_url: &str) -> anyhow::Result<Self> {
        let key = DeviceKey::generate()?;
        let kid = format!("{name}-{}", &key.public_jwk().kid.unwrap_or_default()[..12]);
        Ok(Self {
            key,
            kid,
            name: name.to_string(),
            platform_jwks_url: platform_jwks_url.to_string(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()?,
            platform_keys: Mutex::new((Vec::new(), 0)),
            seen: Mutex::new(HashMap::new()),
        })
    }

    /// This service's public keys.
    pub fn jwks(&self) -> serde_json::Value {
        let mut jwk = self.key.public_jwk();
        jwk.kid = Some(self.kid.clone());
        jwk.alg = Some("ES256".into());
        jwk.use_ = Some("sig".into());
        serde_json::json!({ "keys": [jwk] })
    }

    async fn platform_keys(&self, refresh: bool) -> Vec<PublicJwk> {
        let now = now_s();
        if let Ok(c) = self.platform_keys.lock() {
            // Kept as long as the platform's Cache-Control allows, so that a key it retires
            // is refused here within a minute; an unknown key is looked up at most every 10 s.
            let age = now - c.1;
            if !c.0.is_empty() && age < PLATFORM_KEYS_MAX_AGE_S && (!refresh || age < 10) {
                return c.0.clone();
            }
        }
        #[derive(serde::Deserialize)]
        struct Jwks {
            keys: Vec<PublicJwk>,
        }
        let fetched = async {
            self.http
                .get(&self.platform_jwks_url)
                .send()
                .await?
                .error_for_status()?
                .json::<Jwks>()
                .await
        }
        .await;
        match fetched {
            Ok(j) => {
                if let Ok(mut c) = self.platform_keys.lock() {
                    *c = (j.keys.clone(), now);
                }
                j.keys
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch the platform's connector keys");
                self.platform_keys
                    .lock()
                    .map(|c| c.0.clone())
                    .unwrap_or_default()
            }
        }
    }

    /// Authenticate a request: signed by the platform's connector key, for this service, this
    /// method, path and body, within a minute, never seen before. Returns the request's `jti`.
    pub async fn verify(
        &self,
        headers: &HeaderMap,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<String, Refused> {
        let sig = headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refused("unsigned request"))?;
        let mut keys = self.platform_keys(false).await;
        let mut checked = jose::verify_compact(sig, &keys, &[Alg::ES256, Alg::EdDSA]);
        if checked.is_err() {
            keys = self.platform_keys(true).await;
            checked = jose::verify_compact(sig, &keys, &[Alg::ES256, Alg::EdDSA]);
        }
        let (header, payload) = checked.map_err(|_| Refused("bad signature"))?;
        if header.typ.as_deref() != Some(REQUEST_TYP) {
            return Err(Refused("wrong signature type"));
        }
        let c: RequestClaims =
            serde_json::from_slice(&payload).map_err(|_| Refused("malformed claims"))?;
        if c.aud.as_deref() != Some(self.name.as_str()) {
            return Err(Refused("request is for another service"));
        }
        if c.htm != method || c.htp != path || c.bh != body_hash(body) {
            return Err(Refused("signature is for another request"));
        }
        let now = now_s();
        if c.iat
            .checked_sub(now)
            .and_then(i64::checked_abs)
            .is_none_or(|d| d > 60)
        {
            return Err(Refused("stale request"));
        }
        let mut seen = self.seen.lock().map_err(|_| Refused("busy"))?;
        seen.retain(|_, exp| *exp > now);
        if seen.len() > 100_000 {
            return Err(Refused("busy"));
        }
        if seen.insert(c.jti.clone(), now + 180).is_some() {
            return Err(Refused("replayed request"));
        }
        Ok(c.jti)
    }

    /// A compact JWS of `payload` with this service's key (for what it signs end to end, such
    /// as a provider's items).
    pub fn sign(&self, typ: &str, payload: &[u8]) -> Result<String, iamsmart_crypto::CryptoError> {
        self.key.sign_jws(typ, &self.kid, payload)
    }

    /// A JSON response signed for the request `jti`.
    pub fn answer(&self, jti: &str, status: StatusCode, body: &serde_json::Value) -> Response {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let claims = ResponseClaims {
            iss: self.name.clone(),
            iat: now_s(),
            bh: body_hash(&bytes),
            req: jti.to_string(),
            status: status.as_u16(),
        };
        let sig = serde_json::to_vec(&claims)
            .ok()
            .and_then(|p| self.key.sign_jws(RESPONSE_TYP, &self.kid, &p).ok())
            .unwrap_or_default();
        let mut res = (status, bytes).into_response();
        res.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(&sig) {
            res.headers_mut().insert(SIGNATURE_HEADER, v);
        }
        res
    }
}
