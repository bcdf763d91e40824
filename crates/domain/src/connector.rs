//! Signed HTTP calls to other organisations' systems (the immigration registry, data providers).
//!
//! Each request carries a JWS (`iamsmart-signature` header, `typ` `iamsmart-request+jwt`) signed
//! with the platform's connector key over the method, path, body hash, audience, time and a
//! unique id; the peer verifies it against the platform's connector JWKS and refuses replays and
//! stale requests. Each response carries the peer's JWS over the response body hash, its status
//! and the request's id, verified here against the peer's JWKS (fetched from `jwks_url`, cached,
//! refreshed when an unknown key appears). An unsigned, mis-signed, stale or unrelated response is
//! treated as the peer being unavailable.
use crate::error::{DomainError, Result};
use crate::keys::{KeyService, Purpose};
use iamsmart_crypto::jose::{self, Alg, PublicJwk};
use iamsmart_proto::app::RequestClaims;
use iamsmart_proto::registry::{ResponseClaims, REQUEST_TYP, RESPONSE_TYP, SIGNATURE_HEADER};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The issuer name the platform signs connector requests with.
pub const PLATFORM_ISSUER: &str = "iamsmart";

/// Largest response body accepted from a peer.
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// base64url SHA-256 of `body`.
pub fn body_hash(body: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(iamsmart_crypto::hash::sha256(body))
}

/// A client for one peer.
#[derive(Clone)]
pub struct SignedClient {
    http: reqwest::Client,
    policy: crate::outbound::OutboundPolicy,
    keys: KeyService,
    /// The peer's name, for messages (`the immigration registry`).
    pub service: &'static str,
    /// The `aud` the peer expects.
    pub audience: String,
    jwks_url: String,
    peer_keys: Arc<Mutex<(Vec<PublicJwk>, i64)>>,
}

impl std::fmt::Debug for SignedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignedClient({})", self.service)
    }
}

impl SignedClient {
    /// A client for a peer whose responses verify against `jwks_url`.
    pub fn new(
        keys: KeyService,
        service: &'static str,
        audience: &str,
        jwks_url: &str,
        timeout: Duration,
        outbound: &crate::outbound::OutboundPolicy,
    ) -> Result<Self> {
        let http = crate::outbound::Outbound::builder(outbound)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| DomainError::Upstream {
                service,
                cause: e.to_string(),
            })?;
        Ok(Self {
            http,
            policy: outbound.clone(),
            keys,
            service,
            audience: audience.to_string(),
            jwks_url: jwks_url.to_string(),
            peer_keys: Arc::new(Mutex::new((Vec::new(), 0))),
        })
    }

    fn upstream(&self, cause: impl Into<String>) -> DomainError {
        DomainError::Upstream {
            service: self.service,
            cause: cause.into(),
        }
    }

    async fn peer_jwks(&self, refresh: bool) -> Result<Vec<PublicJwk>> {
        let now = self.keys.now_ms();
        {
            let cached = self.peer_keys.lock().map_err(|_| self.upstream("lock"))?;
            // Refresh at most every 30 s, so a flood of bad signatures cannot flood the peer.
            if !cached.0.is_empty() && (!refresh || now - cached.1 < 30_000) {
                return Ok(cached.0.clone());
            }
        }
        #[derive(serde::Deserialize)]
        struct Jwks {
            keys: Vec<PublicJwk>,
        }
        let jwks_url = crate::outbound::check_url(&self.policy, &self.jwks_url)
            .map_err(|e| self.upstream(format!("JWKS: {e}")))?;
        let jwks: Jwks = self
            .http
            .get(jwks_url)
            .send()
            .await
            .map_err(|e| self.upstream(format!("JWKS: {e}")))?
            .error_for_status()
            .map_err(|e| self.upstream(format!("JWKS: {e}")))?
            .json()
            .await
            .map_err(|e| self.upstream(format!("JWKS: {e}")))?;
        let mut cached = self.peer_keys.lock().map_err(|_| self.upstream("lock"))?;
        *cached = (jwks.keys.clone(), now);
        Ok(jwks.keys)
    }

    /// POST `body` (JSON) to `url`, signed; returns the verified status and body.
    pub async fn post_json<T: serde::Serialize>(
        &self,
        url: &str,
        body: &T,
    ) -> Result<(u16, Vec<u8>)> {
        let bytes = serde_json::to_vec(body).map_err(|e| self.upstream(e.to_string()))?;
        let parsed = crate::outbound::check_url(&self.policy, url)
            .map_err(|e| self.upstream(e.to_string()))?;
        let htp = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_string(),
        };
        let jti = iamsmart_crypto::rng::token(&iamsmart_crypto::rng::SystemRng, 18);
        let claims = RequestClaims {
            htm: "POST".into(),
            htp,
            iat: self.keys.now_ms() / 1000,
            jti: jti.clone(),
            bh: body_hash(&bytes),
            aud: Some(self.audience.clone()),
            iss: Some(PLATFORM_ISSUER.into()),
        };
        let payload = serde_json::to_vec(&claims).map_err(|e| self.upstream(e.to_string()))?;
        let sig = self
            .keys
            .sign_jws(Purpose::Connector, Alg::ES256, Some(REQUEST_TYP), &payload)
            .await?;
        let res = self
            .http
            .post(parsed)
            .header(SIGNATURE_HEADER, sig)
            .header("content-type", "application/json")
            .body(bytes)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    self.upstream("timed out")
                } else {
                    self.upstream(e.to_string())
                }
            })?;
        let status = res.status().as_u16();
        let signature = res
            .headers()
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let too_large = |n: u64| usize::try_from(n).map_or(true, |n| n > MAX_RESPONSE);
        if res.content_length().is_some_and(too_large) {
            return Err(self.upstream("response too large"));
        }
        let body = res
            .bytes()
            .await
            .map_err(|e| self.upstream(format!("reading the response: {e}")))?;
        if body.len() > MAX_RESPONSE {
            return Err(self.upstream("response too large"));
        }
        let signature =
            signature.ok_or_else(|| self.upstream(format!("unsigned response ({status})")))?;
        self.verify_response(&signature, &body, status, &jti)
            .await?;
        Ok((status, body.to_vec()))
    }

    async fn verify_response(&self, jws: &str, body: &[u8], status: u16, jti: &str) -> Result<()> {
        let mut keys = self.peer_jwks(false).await?;
        let mut checked = jose::verify_compact(jws, &keys, &[Alg::ES256, Alg::EdDSA]);
        if matches!(
            checked,
            Err(iamsmart_crypto::CryptoError::Verify("no matching key"))
        ) {
            keys = self.peer_jwks(true).await?;
            checked = jose::verify_compact(jws, &keys, &[Alg::ES256, Alg::EdDSA]);
        }
        let (header, payload) =
            checked.map_err(|e| self.upstream(format!("response signature: {e}")))?;
        if header.typ.as_deref() != Some(RESPONSE_TYP) {
            return Err(self.upstream("response signature of the wrong type"));
        }
        let c: ResponseClaims = serde_json::from_slice(&payload)
            .map_err(|e| self.upstream(format!("response claims: {e}")))?;
        let now = self.keys.now_ms() / 1000;
        if c.req != jti
            || c.status != status
            || c.bh != body_hash(body)
            || !crate::guard::within(c.iat, now, 60)
        {
            return Err(self.upstream("response signature does not match this response"));
        }
        Ok(())
    }
}
