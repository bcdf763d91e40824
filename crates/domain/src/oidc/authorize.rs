//! The authorization endpoint: request validation (PAR, JAR, PKCE, prompt, max_age, acr),
//! the login transaction shown to the resident with a QR code and a match code, approval in the
//! app, and the redirect back with a code (or an error, always with `iss`).
//!
//! Errors about the client or the redirect URI are shown on an error page and never
//! redirected; every other error goes back to the client's registered redirect URI.
use super::claims;
use super::clients::{self, Client};
use super::error::{OAuthError, OResult};
use super::tokens::{self, GrantData};
use super::{acr_rank, ACRS, ACR_BASIC, ACR_FACE, ACR_PLUS};
use crate::authn::approvals;
use crate::error::DomainError;
use crate::platform::Platform;
use iamsmart_crypto::jose::{self, Alg};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Prefix of PAR request URIs.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// A validated authorization request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthzParams {
    /// Client.
    pub client_id: String,
    /// Exact registered redirect URI.
    pub redirect_uri: String,
    /// Scopes.
    pub scope: String,
    /// Fields the scopes ask for.
    pub fields: Vec<String>,
    /// Client state.
    pub state: Option<String>,
    /// ID token nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// Acceptable `acr` values (known ones, in the client's order).
    pub acr_values: Vec<String>,
    /// Preferred languages.
    pub ui_locales: Option<String>,
    /// DPoP key thumbprint to bind the code to.
    pub dpop_jkt: Option<String>,
    /// RFC 9396 authorization details.
    pub authorization_details: Option<serde_json::Value>,
}

impl AuthzParams {
    /// The weakest acceptable `acr` rank.
    pub fn min_acr_rank(&self) -> usize {
        self.acr_values
            .iter()
            .filter_map(|a| acr_rank(a))
            .min()
            .unwrap_or(0)
    }
}

/// What the endpoint does next.
#[derive(Debug)]
pub enum Outcome {
    /// Show an error page; do not redirect (bad client or redirect URI, or a broken transaction).
    ErrorPage(OAuthError),
    /// Redirect the browser (to the client, with a code or an error).
    Redirect(String),
    /// Show the login page: a QR code for the app, the match code, a continue link.
    Login(LoginPage),
    /// Signed in: set this session cookie, then redirect.
    SignedIn {
        /// The new browser session secret (cookie value).
        session: String,
        /// Where to go.
        redirect: String,
    },
}

/// What the login page shows.
#[derive(Debug, Clone)]
pub struct LoginPage {
    /// Transaction id (continue link).
    pub tx: String,
    /// Cookie value binding the transaction to this browser (set on the first page only).
    pub browser_secret: Option<String>,
    /// The QR payload for the app.
    pub qr: String,
    /// The match code.
    pub match_code: String,
    /// The service's name.
    pub client_name: String,
    /// Its logo.
    pub logo_uri: Option<String>,
    /// What is asked.
    pub fields: Vec<String>,
    /// Unix ms.
    pub expires_at: i64,
    /// `pending`, `scanned`, ...
    pub status: String,
    /// Preferred languages.
    pub ui_locales: Option<String>,
    /// Whether a face match is needed.
    pub face: bool,
}

fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    let mut s = uri.to_string();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        s.push(sep);
        s.push_str(k);
        s.push('=');
        s.push_str(&urlencode(v));
        sep = '&';
    }
    s
}

/// Percent-encode for a query component.
pub fn urlencode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The redirect carrying an error (with `iss`, RFC 9207).
pub fn error_redirect(
    p: &Platform,
    redirect_uri: &str,
    state: Option<&str>,
    e: &OAuthError,
) -> String {
    let mut params = vec![
        ("error", e.error),
        ("error_description", e.description.as_str()),
    ];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", p.oidc.policy.issuer.as_str()));
    with_params(redirect_uri, &params)
}

fn code_redirect(p: &Platform, params: &AuthzParams, code: &str) -> String {
    let mut q = vec![("code", code)];
    if let Some(s) = &params.state {
        q.push(("state", s));
    }
    q.push(("iss", p.oidc.policy.issuer.as_str()));
    with_params(&params.redirect_uri, &q)
}

type Form = BTreeMap<String, Vec<String>>;

fn one<'a>(form: &'a Form, k: &str) -> OResult<Option<&'a str>> {
    match form.get(k).map(Vec::as_slice) {
        None | Some([]) => Ok(None),
        Some([v]) => Ok(Some(v.as_str()).filter(|v| !v.is_empty())),
        Some(_) => Err(OAuthError::invalid_request(format!(
            "parameter {k} is repeated"
        ))),
    }
}

/// Resolve a signed request object (JAR, RFC 9101) into parameters.
async fn request_object(p: &Platform, client: &Client, jwt: &str) -> OResult<Form> {
    if jwt.len() > 32 * 1024 {
        return Err(OAuthError::invalid_request_object(
            "request object too large",
        ));
    }
    let allowed = [Alg::ES256, Alg::EdDSA, Alg::RS256];
    let mut keys = clients::keys(p, client, false)
        .await
        .map_err(|e| OAuthError::invalid_request_object(e.description))?;
    let mut checked = jose::verify_compact(jwt, &keys, &allowed);
    if checked.is_err() && client.meta.jwks_uri.is_some() {
        keys = clients::keys(p, client, true)
            .await
            .map_err(|e| OAuthError::invalid_request_object(e.description))?;
        checked = jose::verify_compact(jwt, &keys, &allowed);
    }
    let (_, payload) =
        checked.map_err(|e| OAuthError::invalid_request_object(format!("request object: {e}")))?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&payload)
        .map_err(|_| {
            OAuthError::invalid_request_object("request object payload is not a JSON object")
        })?;
    if claims.get("iss").and_then(|v| v.as_str()) != Some(client.id.as_str()) {
        return Err(OAuthError::invalid_request_object(
            "request object iss must be the client_id",
        ));
    }
    let aud_ok = match claims.get("aud") {
        Some(serde_json::Value::String(a)) => *a == p.oidc.policy.issuer,
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .any(|x| x.as_str() == Some(p.oidc.policy.issuer.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(OAuthError::invalid_request_object(
            "request object aud must be the issuer",
        ));
    }
    let now = p.clock.now_ms() / 1000;
    let skew = p.oidc.policy.skew_ms / 1000;
    match claims.get("exp").and_then(|v| v.as_i64()) {
        Some(e) if e > now - skew && e <= now + 3600 => {}
        _ => {
            return Err(OAuthError::invalid_request_object(
                "request object needs an exp within the hour",
            ))
        }
    }
    if claims
        .get("nbf")
        .and_then(|v| v.as_i64())
        .is_some_and(|n| n > now + skew)
    {
        return Err(OAuthError::invalid_request_object(
            "request object is not valid yet",
        ));
    }
    let mut form = Form::new();
    for (k, v) in claims {
        if [
            "iss",
            "aud",
            "exp",
            "nbf",
            "iat",
            "jti",
            "request",
            "request_uri",
        ]
        .contains(&k.as_str())
        {
            continue;
        }
        let text = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        form.insert(k, vec![text]);
    }
    Ok(form)
}

/// Validate an authorization request for `client`. The redirect URI is checked first; an error
/// after that can be returned to it.
pub async fn validate(p: &Platform, client: &Client, form: &Form) -> OResult<AuthzParams> {
    let form = match one(form, "request")? {
        Some(jwt) => {
            let inner = request_object(p, client, jwt).await?;
            if one(&inner, "client_id")?.is_some_and(|c| c != client.id) {
                return Err(OAuthError::invalid_request_object("client_id differs"));
            }
            inner
        }
        None => form.clone(),
    };
    let redirect_uri = one(&form, "redirect_uri")?
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
    if !client.meta.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(OAuthError::invalid_redirect_uri(
            "redirect_uri is not registered for this client (exact match)",
        ));
    }
    let e = |m: &str| OAuthError::invalid_request(m.to_string());
    if one(&form, "response_type")? != Some("code") {
        return Err(OAuthError::unsupported_response_type(
            "response_type must be code",
        ));
    }
    if let Some(m) = one(&form, "response_mode")? {
        if m != "query" {
            return Err(e("response_mode must be query"));
        }
    }
    let scope = one(&form, "scope")?.unwrap_or_default();
    let (scopes, fields) = claims::parse_scope(scope).map_err(OAuthError::invalid_scope)?;
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::invalid_scope("scope must include openid"));
    }
    if let Some(allowed) = &client.meta.scope {
        let allowed: Vec<&str> = allowed.split(' ').collect();
        if let Some(s) = scopes.iter().find(|s| !allowed.contains(&s.as_str())) {
            return Err(OAuthError::invalid_scope(format!(
                "scope {s} is not allowed for this client"
            )));
        }
    }
    let challenge =
        one(&form, "code_challenge")?.ok_or_else(|| e("code_challenge is required (PKCE S256)"))?;
    if one(&form, "code_challenge_method")? != Some("S256") {
        return Err(e("code_challenge_method must be S256"));
    }
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(e(
            "code_challenge must be a base64url SHA-256 (43 characters)",
        ));
    }
    let state = one(&form, "state")?;
    if state.is_some_and(|s| s.len() > 1024) {
        return Err(e("state is too long"));
    }
    let nonce = one(&form, "nonce")?;
    if nonce.is_some_and(|s| s.len() > 512) {
        return Err(e("nonce is too long"));
    }
    let prompt: Vec<String> = one(&form, "prompt")?
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if prompt
        .iter()
        .any(|x| !["none", "login", "consent", "select_account"].contains(&x.as_str()))
    {
        return Err(e("prompt: none, login, consent or select_account"));
    }
    if prompt.len() > 1 && prompt.iter().any(|x| x == "none") {
        return Err(e("prompt=none cannot be combined with other values"));
    }
    let max_age = match one(&form, "max_age")? {
        None => None,
        Some(m) => Some(
            m.parse::<i64>()
                .ok()
                .filter(|v| (0..=10 * 365 * 86400).contains(v))
                .ok_or_else(|| e("max_age must be a number of seconds"))?,
        ),
    };
    let requested_acr: Vec<&str> = one(&form, "acr_values")?
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let acr_values: Vec<String> = requested_acr
        .iter()
        .filter(|a| acr_rank(a).is_some())
        .map(|a| a.to_string())
        .collect();
    if !requested_acr.is_empty() && acr_values.is_empty() {
        return Err(OAuthError::unmet_authentication_requirements(format!(
            "none of the requested acr_values is supported ({})",
            ACRS.join(", ")
        )));
    }
    let ui_locales = one(&form, "ui_locales")?.map(|s| s.chars().take(100).collect());
    let dpop_jkt = one(&form, "dpop_jkt")?.map(str::to_string);
    if client.fapi() && dpop_jkt.is_none() && one(&form, "request_uri")?.is_none() {
        // Bound later at the token endpoint; FAPI 2.0 allows either.
    }
    let authorization_details = match one(&form, "authorization_details")? {
        None => None,
        Some(d) => Some(check_details(d)?),
    };
    Ok(AuthzParams {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope: scopes.join(" "),
        fields: fields.iter().map(|f| f.to_string()).collect(),
        state: state.map(str::to_string),
        nonce: nonce.map(str::to_string),
        code_challenge: challenge.to_string(),
        prompt,
        max_age,
        acr_values,
        ui_locales,
        dpop_jkt,
        authorization_details,
    })
}

/// RFC 9396 types this provider understands.
pub const DETAIL_TYPES: [&str; 1] = ["iamsmart_signing"];

fn check_details(d: &str) -> OResult<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(d).map_err(|_| {
        OAuthError::invalid_authorization_details("authorization_details must be a JSON array")
    })?;
    let arr = v
        .as_array()
        .filter(|a| !a.is_empty() && a.len() <= 10)
        .ok_or_else(|| {
            OAuthError::invalid_authorization_details(
                "authorization_details: an array of 1 to 10 objects",
            )
        })?;
    for item in arr {
        let t = item
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or_default();
        if !DETAIL_TYPES.contains(&t) {
            return Err(OAuthError::invalid_authorization_details(format!(
                "authorization_details type {:?} is not supported ({})",
                t.chars().take(40).collect::<String>(),
                DETAIL_TYPES.join(", ")
            )));
        }
    }
    Ok(v)
}

/// Store a pushed authorization request (RFC 9126); returns (request_uri, expires_in).
pub async fn push(p: &Platform, client: &Client, form: &Form) -> OResult<(String, i64)> {
    if one(form, "request_uri")?.is_some() {
        return Err(OAuthError::invalid_request(
            "request_uri is not allowed in a pushed request",
        ));
    }
    let params = validate(p, client, form).await?;
    let id = iamsmart_crypto::rng::token(p.rng.as_ref(), 24);
    let now = p.clock.now_ms();
    let ttl = p.oidc.policy.par_ttl_ms.clamp(5_000, 600_000);
    sqlx::query(
        "INSERT INTO authz_requests (id, kind, client_id, params, created_at, expires_at) VALUES ($1, 'par', $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(&client.id)
    .bind(serde_json::to_string(&params).map_err(|e| OAuthError::server_error(e.to_string()))?)
    .bind(now)
    .bind(now + ttl)
    .execute(p.db.writer())
    .await
    .map_err(|e| OAuthError::from(DomainError::from(e)))?;
    Ok((format!("{REQUEST_URI_PREFIX}{id}"), ttl / 1000))
}

async fn take_par(p: &Platform, client: &Client, request_uri: &str) -> OResult<AuthzParams> {
    let id = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .ok_or_else(|| {
            OAuthError::invalid_request_uri("request_uri was not issued by this server")
        })?;
    let params: Option<String> = sqlx::query_scalar(
        "UPDATE authz_requests SET used_at = $1 WHERE id = $2 AND kind = 'par' AND client_id = $3 AND used_at IS NULL AND expires_at > $1 RETURNING params",
    )
    .bind(p.clock.now_ms())
    .bind(id)
    .bind(&client.id)
    .fetch_optional(p.db.writer())
    .await
    .map_err(|e| OAuthError::from(DomainError::from(e)))?;
    let params = params.ok_or_else(|| {
        OAuthError::invalid_request_uri(
            "request_uri is unknown, expired, used, or for another client",
        )
    })?;
    serde_json::from_str(&params).map_err(|e| OAuthError::server_error(e.to_string()))
}

/// A live browser session at the provider.
#[derive(Debug, Clone)]
pub struct Session {
    /// Public session id.
    pub sid: String,
    /// The resident.
    pub resident_id: String,
    /// The device that approved.
    pub device_id: Option<String>,
    /// Unix ms.
    pub auth_time: i64,
    /// Achieved `acr`.
    pub acr: String,
    /// `amr`.
    pub amr: Vec<String>,
}

/// The session a cookie names, if live.
pub async fn session(p: &Platform, cookie: Option<&str>) -> Result<Option<Session>, DomainError> {
    let Some(c) = cookie.filter(|c| !c.is_empty() && c.len() < 200) else {
        return Ok(None);
    };
    let row: Option<(String, String, Option<String>, i64, String, String)> = sqlx::query_as(
        "SELECT s.sid, s.resident_id, s.device_id, s.auth_time, s.acr, s.amr FROM op_sessions s JOIN residents r ON r.id = s.resident_id
         WHERE s.id_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND r.status = 'active'",
    )
    .bind(iamsmart_crypto::hash::sha256(c.as_bytes()).to_vec())
    .bind(p.clock.now_ms())
    .fetch_optional(p.db.reader())
    .await?;
    Ok(row.map(
        |(sid, resident_id, device_id, auth_time, acr, amr)| Session {
            sid,
            resident_id,
            device_id,
            auth_time,
            acr,
            amr: serde_json::from_str(&amr).unwrap_or_default(),
        },
    ))
}

/// Handle `GET /authorize`.
pub async fn authorize(p: &Platform, form: &Form, session_cookie: Option<&str>) -> Outcome {
    match authorize_inner(p, form, session_cookie).await {
        Ok(o) => o,
        Err(o) => o,
    }
}

async fn authorize_inner(
    p: &Platform,
    form: &Form,
    cookie: Option<&str>,
) -> Result<Outcome, Outcome> {
    let page = |e: OAuthError| Outcome::ErrorPage(e);
    let client_id = one(form, "client_id")
        .map_err(page)?
        .ok_or_else(|| page(OAuthError::invalid_request("client_id is required")))?;
    let client = clients::get(p, client_id)
        .await
        .map_err(|e| page(e.into()))?
        .ok_or_else(|| page(OAuthError::invalid_client("unknown client_id")))?;
    let params = match one(form, "request_uri").map_err(page)? {
        Some(uri) => take_par(p, &client, uri).await.map_err(page)?,
        None => {
            // Only the redirect URI decides whether an error may be redirected.
            let ruri = one(form, "redirect_uri").ok().flatten();
            let redirectable = ruri.filter(|r| client.meta.redirect_uris.iter().any(|x| x == r));
            let state = one(form, "state").ok().flatten();
            let fail = |e: OAuthError| match redirectable {
                Some(r) if e.error != "invalid_redirect_uri" => {
                    Outcome::Redirect(error_redirect(p, r, state, &e))
                }
                _ => Outcome::ErrorPage(e),
            };
            if client.fapi() || client.meta.require_pushed_authorization_requests {
                return Err(fail(OAuthError::invalid_request(
                    "this client must use pushed authorization requests (PAR)",
                )));
            }
            validate(p, &client, form).await.map_err(fail)?
        }
    };
    let back = |e: OAuthError| {
        Outcome::Redirect(error_redirect(
            p,
            &params.redirect_uri,
            params.state.as_deref(),
            &e,
        ))
    };
    let sess = session(p, cookie).await.map_err(|e| back(e.into()))?;
    let now = p.clock.now_ms();
    let fresh_enough = |s: &Session| {
        params.max_age.is_none_or(|m| now - s.auth_time <= m * 1000)
            && acr_rank(&s.acr).unwrap_or(0) >= params.min_acr_rank()
            && !params.prompt.iter().any(|x| x == "login")
    };
    if let Some(s) = sess.as_ref().filter(|s| fresh_enough(s)) {
        let consented = claims::consented(p, &s.resident_id, &client.id)
            .await
            .map_err(|e| back(e.into()))?;
        let all = params.fields.iter().all(|f| consented.contains(f));
        if all
            && !params.prompt.iter().any(|x| x == "consent")
            && params.authorization_details.is_none()
        {
            let redirect = finish(p, &client, &params, s, &params.fields, None)
                .await
                .map_err(back)?;
            return Ok(Outcome::Redirect(redirect));
        }
        if params.prompt.iter().any(|x| x == "none") {
            return Err(back(OAuthError::consent_required(
                "the resident has not consented to every requested item",
            )));
        }
    } else if params.prompt.iter().any(|x| x == "none") {
        return Err(back(OAuthError::login_required(
            "the resident is not signed in (or must sign in again)",
        )));
    }
    start_login(p, &client, &params, sess.map(|s| s.resident_id))
        .await
        .map_err(back)
}

fn approval_details(client: &Client, params: &AuthzParams) -> serde_json::Value {
    serde_json::json!({
        "service": client.meta.client_name,
        "fields": params.fields,
        "acr": params.acr_values,
        "authorization_details": params.authorization_details,
    })
}

async fn start_login(
    p: &Platform,
    client: &Client,
    params: &AuthzParams,
    resident: Option<String>,
) -> OResult<Outcome> {
    let face = params.acr_values.iter().all(|a| a == ACR_FACE) && !params.acr_values.is_empty();
    let created = approvals::create(
        p,
        approvals::NewApproval {
            resident_id: resident.as_deref(),
            kind: if face {
                "step_up"
            } else if params.authorization_details.is_some() {
                "sign"
            } else {
                "login"
            },
            client_id: &client.id,
            client_name: &client.meta.client_name,
            details: approval_details(client, params),
        },
    )
    .await?;
    let tx = iamsmart_crypto::rng::token(p.rng.as_ref(), 16);
    let secret = iamsmart_crypto::rng::token(p.rng.as_ref(), 24);
    let now = p.clock.now_ms();
    sqlx::query(
        "INSERT INTO authz_requests (id, kind, client_id, params, browser_hash, approval_id, created_at, expires_at) VALUES ($1, 'tx', $2, $3, $4, $5, $6, $7)",
    )
    .bind(&tx)
    .bind(&client.id)
    .bind(serde_json::to_string(params).map_err(|e| OAuthError::server_error(e.to_string()))?)
    .bind(iamsmart_crypto::hash::sha256(secret.as_bytes()).to_vec())
    .bind(&created.id)
    .bind(now)
    .bind(created.expires_at.max(now + p.oidc.policy.login_ttl_ms))
    .execute(p.db.writer())
    .await
    .map_err(|e| OAuthError::from(DomainError::from(e)))?;
    Ok(Outcome::Login(LoginPage {
        tx,
        browser_secret: Some(secret),
        qr: format!("iamsmart:approve?id={}", created.id),
        match_code: created.match_code,
        client_name: client.meta.client_name.clone(),
        logo_uri: client.meta.logo_uri.clone(),
        fields: params.fields.clone(),
        expires_at: created.expires_at,
        status: "pending".into(),
        ui_locales: params.ui_locales.clone(),
        face,
    }))
}

/// The `acr` a resident reaches with an approval.
fn achieved_acr(level: &str, face: bool) -> &'static str {
    match (level, face) {
        ("plus", true) => ACR_FACE,
        ("plus", false) => ACR_PLUS,
        _ => ACR_BASIC,
    }
}

/// (client, params, browser hash, approval, expires at, used at)
type TxRow = (
    String,
    String,
    Option<Vec<u8>>,
    Option<String>,
    i64,
    Option<i64>,
);

/// Handle `GET /authorize/continue`: after the app's approval, sign the browser in and return
/// to the client with a code; while waiting, show the login page again.
pub async fn continue_login(p: &Platform, tx: &str, browser_secret: Option<&str>) -> Outcome {
    let now = p.clock.now_ms();
    let row: Option<TxRow> = match sqlx::query_as(
        "SELECT client_id, params, browser_hash, approval_id, expires_at, used_at FROM authz_requests WHERE id = $1 AND kind = 'tx'",
    )
    .bind(tx)
    .fetch_optional(p.db.reader())
    .await
    {
        Ok(r) => r,
        Err(e) => return Outcome::ErrorPage(DomainError::from(e).into()),
    };
    let Some((client_id, params, bhash, approval_id, expires_at, used_at)) = row else {
        return Outcome::ErrorPage(OAuthError::invalid_request(
            "this sign-in is unknown or has ended; start again from the service",
        ));
    };
    let same_browser = match (bhash, browser_secret) {
        (Some(h), Some(s)) => {
            iamsmart_crypto::hash::ct_eq(&h, &iamsmart_crypto::hash::sha256(s.as_bytes()))
        }
        _ => false,
    };
    if !same_browser {
        return Outcome::ErrorPage(OAuthError::access_denied(
            "this sign-in was started in another browser; start again from the service",
        ));
    }
    if used_at.is_some() {
        return Outcome::ErrorPage(OAuthError::invalid_request(
            "this sign-in has already finished; start again from the service",
        ));
    }
    let params: AuthzParams = match serde_json::from_str(&params) {
        Ok(x) => x,
        Err(e) => return Outcome::ErrorPage(OAuthError::server_error(e.to_string())),
    };
    let back = |e: OAuthError| {
        Outcome::Redirect(error_redirect(
            p,
            &params.redirect_uri,
            params.state.as_deref(),
            &e,
        ))
    };
    let client = match clients::get(p, &client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Outcome::ErrorPage(OAuthError::invalid_client(
                "the service is no longer registered",
            ))
        }
        Err(e) => return Outcome::ErrorPage(e.into()),
    };
    let Some(approval_id) = approval_id else {
        return Outcome::ErrorPage(OAuthError::server_error("no approval"));
    };
    let view = match approvals::status(p, &approval_id).await {
        Ok(v) => v,
        Err(e) => return back(e.into()),
    };
    match view.status.as_str() {
        "pending" | "scanned" if expires_at > now => {
            return Outcome::Login(LoginPage {
                tx: tx.to_string(),
                browser_secret: None,
                qr: format!("iamsmart:approve?id={}", view.id),
                match_code: view.match_code,
                client_name: client.meta.client_name.clone(),
                logo_uri: client.meta.logo_uri.clone(),
                fields: params.fields.clone(),
                expires_at: view.expires_at,
                status: view.status,
                ui_locales: params.ui_locales.clone(),
                face: view.kind == "step_up",
            })
        }
        "approved" => {}
        "denied" => {
            return back(OAuthError::access_denied(
                "the resident declined in the app",
            ))
        }
        _ => {
            return back(OAuthError::access_denied(
                "the sign-in request expired; start again",
            ))
        }
    }
    let decided = match approvals::decision(p, &approval_id).await {
        Ok(Some(d)) => d,
        Ok(None) => return back(OAuthError::access_denied("the approval is missing")),
        Err(e) => return back(e.into()),
    };
    // Single use of the transaction.
    match sqlx::query("UPDATE authz_requests SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(tx)
        .execute(p.db.writer())
        .await
    {
        Ok(r) if r.rows_affected() == 1 => {}
        Ok(_) => {
            return Outcome::ErrorPage(OAuthError::invalid_request(
                "this sign-in has already finished",
            ))
        }
        Err(e) => return back(DomainError::from(e).into()),
    }
    let level: String =
        match sqlx::query_scalar("SELECT level FROM residents WHERE id = $1 AND status = 'active'")
            .bind(&decided.resident_id)
            .fetch_optional(p.db.reader())
            .await
        {
            Ok(Some(l)) => l,
            Ok(None) => return back(OAuthError::access_denied("the account is not active")),
            Err(e) => return back(DomainError::from(e).into()),
        };
    let acr = achieved_acr(&level, decided.face_verified);
    if acr_rank(acr).unwrap_or(0) < params.min_acr_rank() {
        return back(OAuthError::unmet_authentication_requirements(format!(
            "the requested assurance ({}) is above what this resident can give now ({acr})",
            params.acr_values.join(" ")
        )));
    }
    let agreed = claims::released_fields(
        &params.fields.iter().map(String::as_str).collect::<Vec<_>>(),
        &decided.agreed_fields,
    );
    let mut amr = vec!["swk".to_string(), "pin".to_string(), "mfa".to_string()];
    if decided.face_verified {
        amr.push("face".into());
    }
    let secret = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    let sess = Session {
        sid: iamsmart_crypto::rng::token(p.rng.as_ref(), 16),
        resident_id: decided.resident_id.clone(),
        device_id: Some(decided.device_id.clone()),
        auth_time: decided.decided_at,
        acr: acr.to_string(),
        amr,
    };
    let mut conn = match p.db.begin().await {
        Ok(c) => c,
        Err(e) => return back(DomainError::from(e).into()),
    };
    let r = sqlx::query(
        "INSERT INTO op_sessions (id_hash, sid, resident_id, device_id, auth_time, acr, amr, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(iamsmart_crypto::hash::sha256(secret.as_bytes()).to_vec())
    .bind(&sess.sid)
    .bind(&sess.resident_id)
    .bind(&sess.device_id)
    .bind(sess.auth_time)
    .bind(&sess.acr)
    .bind(serde_json::to_string(&sess.amr).unwrap_or_default())
    .bind(now)
    .bind(now + p.oidc.policy.session_ttl_ms)
    .execute(&mut *conn)
    .await;
    if let Err(e) = r {
        return back(DomainError::from(e).into());
    }
    if let Err(e) = conn.commit().await {
        return back(DomainError::from(e).into());
    }
    match finish(p, &client, &params, &sess, &agreed, Some(&approval_id)).await {
        Ok(redirect) => Outcome::SignedIn {
            session: secret,
            redirect,
        },
        Err(e) => back(e),
    }
}

/// Record consent, create the grant and its code, and build the redirect with the code.
async fn finish(
    p: &Platform,
    client: &Client,
    params: &AuthzParams,
    s: &Session,
    released: &[String],
    approval: Option<&str>,
) -> OResult<String> {
    let now = p.clock.now_ms();
    let mut tx =
        p.db.begin()
            .await
            .map_err(|e| OAuthError::from(DomainError::from(e)))?;
    if approval.is_some() {
        claims::record_consent(&mut tx, &s.resident_id, &client.id, released, now).await?;
    }
    let grant_id = tokens::create_grant(
        p,
        &mut tx,
        &GrantData {
            client_id: client.id.clone(),
            resident_id: s.resident_id.clone(),
            device_id: s.device_id.clone(),
            sid: Some(s.sid.clone()),
            scope: params.scope.clone(),
            claims: released.to_vec(),
            acr: s.acr.clone(),
            amr: s.amr.clone(),
            auth_time: s.auth_time,
            nonce: params.nonce.clone(),
            authorization_details: params.authorization_details.clone(),
        },
        now,
    )
    .await?;
    let code = tokens::issue_code(
        p,
        &mut tx,
        &grant_id,
        &client.id,
        &params.redirect_uri,
        &params.code_challenge,
        params.dpop_jkt.as_deref(),
        now,
    )
    .await?;
    let subject = format!("resident:{}", s.resident_id);
    crate::audit::append(
        &mut tx,
        now,
        None,
        &crate::audit::Event {
            kind: "login.authorized",
            actor: &subject,
            subject: &subject,
            detail: serde_json::json!({ "client": client.id, "fields": released, "acr": s.acr, "approval": approval }),
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(|e| OAuthError::from(DomainError::from(e)))?;
    Ok(code_redirect(p, params, &code))
}

/// The status of a login for the page that started it (`None` unless `browser_secret` is the
/// one bound to the transaction): `pending`, `scanned`, `approved`, `denied` or `expired`.
pub async fn login_status(
    p: &Platform,
    tx: &str,
    browser_secret: &str,
) -> Result<Option<String>, DomainError> {
    let row: Option<(Option<String>, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT approval_id, browser_hash FROM authz_requests WHERE id = $1 AND kind = 'tx'",
    )
    .bind(tx)
    .fetch_optional(p.db.reader())
    .await?;
    let Some((Some(approval), Some(h))) = row else {
        return Ok(None);
    };
    if !iamsmart_crypto::hash::ct_eq(
        &h,
        &iamsmart_crypto::hash::sha256(browser_secret.as_bytes()),
    ) {
        return Ok(None);
    }
    Ok(Some(approvals::status(p, &approval).await?.status))
}
