//! Authorization requests: validation (PKCE, redirect URI, scopes, prompt, max_age, acr,
//! claims, purpose, RAR), signed request objects (JAR, RFC 9101) and pushed authorization
//! requests (PAR, RFC 9126).
use super::claims;
use super::clients::{self, Client};
use super::error::{OAuthError, OResult};
use super::{Acr, ACR_BASIC, ACR_FACE, ACR_PLUS};
use crate::env::Env;
use crate::error::DomainError;
use crate::guard::Spent;
use crate::oidc::Oidc;
use iamsmart_crypto::jose::{self, Alg};
use iamsmart_store::AnyConnection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Prefix of PAR request URIs.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

iamsmart_proto::text_enum! {
    /// A `prompt` value (OpenID Connect Core 3.1.2.1).
    pub enum Prompt {
        /// Show nothing: answer at once with what an existing session and consent allow.
        None = "none",
        /// Sign the resident in again, even with a live session.
        Login = "login",
        /// Ask for consent again, even if it was remembered.
        Consent = "consent",
        /// Let the resident choose the account (there is one per browser: treated as login).
        SelectAccount = "select_account",
    }
}

/// Which protocol an authorization request came in by, and so how its answer goes back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// OpenID Connect: `error` and `error_description` (RFC 6749 4.1.2.1), `iss` (RFC 9207).
    #[default]
    OpenidConnect,
    /// The iAM Smart-compatible API (`getQR`): `error_code` with a `D` code.
    IamsmartApi,
}

impl Dialect {
    /// The dialect of a client's requests.
    pub fn of(client: &super::clients::Client) -> Dialect {
        if client.meta.iamsmart_profile == super::clients::ClientProfile::IamsmartApi {
            Dialect::IamsmartApi
        } else {
            Dialect::OpenidConnect
        }
    }
}

/// A validated authorization request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthzParams {
    /// Client.
    pub client_id: iamsmart_proto::ids::ClientId,
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
    pub prompt: Vec<Prompt>,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// Acceptable `acr` values (known ones, in the client's order).
    pub acr_values: Vec<Acr>,
    /// Preferred languages.
    pub ui_locales: Option<String>,
    /// DPoP key thumbprint to bind the code to.
    pub dpop_jkt: Option<String>,
    /// RFC 9396 authorization details.
    pub authorization_details: Option<serde_json::Value>,
    /// Fields the service marked optional (`claims` parameter, `essential: false`).
    #[serde(default)]
    pub optional: Vec<String>,
    /// The purpose the service states (3 to 300 characters).
    #[serde(default)]
    pub purpose: Option<String>,
    /// How the answer goes back to the service.
    #[serde(default)]
    pub dialect: Dialect,
}

impl AuthzParams {
    /// The weakest acceptable `acr`.
    pub fn min_acr(&self) -> Acr {
        Acr::weakest_of(&self.acr_values)
    }

    /// Whether the client asked for `prompt`.
    pub fn prompts(&self, prompt: Prompt) -> bool {
        self.prompt.contains(&prompt)
    }
}

pub(crate) fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
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
    /// Everything but RFC 3986's unreserved characters.
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(v, RESERVED).to_string()
}

/// The redirect carrying an error: with `iss` (RFC 9207) in OpenID Connect, as `error_code`
/// in the compatible API.
pub fn error_redirect(
    p: &Oidc,
    dialect: Dialect,
    redirect_uri: &str,
    state: Option<&str>,
    e: &OAuthError,
) -> String {
    if dialect == Dialect::IamsmartApi {
        let code = crate::osp_api::ApiCode::from_oauth(e);
        return api_error_redirect(redirect_uri, state, code);
    }
    let mut params = vec![
        ("error", e.error),
        ("error_description", e.description.as_str()),
    ];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", p.provider.policy.issuer.as_str()));
    with_params(redirect_uri, &params)
}

/// The compatible API's redirect carrying an error: `error_code` and `state`.
pub fn api_error_redirect(
    redirect_uri: &str,
    state: Option<&str>,
    code: crate::osp_api::ApiCode,
) -> String {
    let mut params = vec![("error_code", code.as_str())];
    if let Some(s) = state {
        params.push(("state", s));
    }
    with_params(redirect_uri, &params)
}

pub(crate) fn code_redirect(p: &Oidc, params: &AuthzParams, code: &str) -> String {
    let mut q = vec![("code", code)];
    if let Some(s) = &params.state {
        q.push(("state", s));
    }
    q.push(("iss", p.provider.policy.issuer.as_str()));
    with_params(&params.redirect_uri, &q)
}

/// Parameters with every value given.
pub type Form = BTreeMap<String, Vec<String>>;

/// The single value of a parameter (an empty one counts as absent); a repeated parameter is
/// an error (RFC 6749 section 3.1).
pub fn one<'a>(form: &'a Form, k: &str) -> OResult<Option<&'a str>> {
    match form.get(k).map(Vec::as_slice) {
        None | Some([]) => Ok(None),
        Some([v]) => Ok(Some(v.as_str()).filter(|v| !v.is_empty())),
        Some(_) => Err(OAuthError::invalid_request(format!(
            "parameter {k} is repeated"
        ))),
    }
}

/// Resolve a signed request object (JAR, RFC 9101) into parameters.
async fn request_object(p: &Oidc, client: &Client, jwt: &str) -> OResult<Form> {
    if jwt.len() > 32 * 1024 {
        return Err(OAuthError::invalid_request_object(
            "request object too large",
        ));
    }
    let allowed = [Alg::ES256, Alg::EdDSA, Alg::RS256];
    let mut keys = clients::signing_keys(p, client, false)
        .await
        .map_err(|e| OAuthError::invalid_request_object(e.description))?;
    let mut checked = jose::verify_compact(jwt, &keys, &allowed);
    if checked.is_err() && client.meta.jwks_uri.is_some() {
        keys = clients::signing_keys(p, client, true)
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
        Some(serde_json::Value::String(a)) => *a == p.provider.policy.issuer,
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .any(|x| x.as_str() == Some(p.provider.policy.issuer.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(OAuthError::invalid_request_object(
            "request object aud must be the issuer",
        ));
    }
    let now = p.clock.now_ms() / 1000;
    let skew = p.provider.policy.skew_ms / 1000;
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
pub async fn validate(p: &Oidc, client: &Client, form: &Form) -> OResult<AuthzParams> {
    if Dialect::of(client) == Dialect::IamsmartApi {
        return Err(OAuthError::unauthorized_client(
            "this client uses the iAM Smart-compatible API: start its sign-ins at /api/v1/auth/getQR",
        ));
    }
    let form = match one(form, "request")? {
        Some(jwt) => {
            let mut inner = request_object(p, client, jwt).await?;
            if one(&inner, "client_id")?.is_some_and(|c| c != client.id) {
                return Err(OAuthError::invalid_request_object("client_id differs"));
            }
            // The key of a DPoP proof sent with the request (PAR puts it in `dpop_jkt`) binds
            // the code whatever the request object says; a request object naming another key
            // is refused, never preferred.
            if let Some(outer) = one(form, "dpop_jkt")? {
                if one(&inner, "dpop_jkt")?.is_some_and(|i| i != outer) {
                    return Err(OAuthError::invalid_request(
                        "the request object's dpop_jkt differs from the DPoP key of the request",
                    ));
                }
                inner.insert("dpop_jkt".into(), vec![outer.to_string()]);
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
    let prompt: Vec<Prompt> = one(&form, "prompt")?
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(Prompt::parse)
        .collect::<Option<_>>()
        .ok_or_else(|| e("prompt: none, login, consent or select_account"))?;
    if prompt.len() > 1 && prompt.contains(&Prompt::None) {
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
    let acr_values: Vec<Acr> = requested_acr.iter().filter_map(|a| Acr::parse(a)).collect();
    if !requested_acr.is_empty() && acr_values.is_empty() {
        return Err(OAuthError::unmet_authentication_requirements(format!(
            "none of the requested acr_values is supported ({ACR_BASIC}, {ACR_PLUS}, {ACR_FACE})"
        )));
    }
    let ui_locales = one(&form, "ui_locales")?.map(|s| s.chars().take(100).collect());
    let dpop_jkt = one(&form, "dpop_jkt")?.map(str::to_string);
    if client.fapi() && dpop_jkt.is_none() && one(&form, "request_uri")?.is_none() {
        // Bound later at the token endpoint; FAPI 2.0 allows either.
    }
    let optional = match one(&form, "claims")? {
        None => vec![],
        Some(c) => optional_fields(c, &fields)?,
    };
    let purpose = one(&form, "purpose")?;
    if purpose
        .is_some_and(|p| !(3..=300).contains(&p.chars().count()) || p.chars().any(char::is_control))
    {
        return Err(e("purpose must be 3 to 300 printable characters"));
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
        optional,
        purpose: purpose.map(str::to_string),
        dialect: Dialect::OpenidConnect,
    })
}

/// Fields the `claims` parameter marks optional: userinfo members with `"essential": false`
/// (only fields the scopes ask for; other members are ignored).
pub fn optional_fields(claims_param: &str, fields: &[&'static str]) -> OResult<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(claims_param)
        .map_err(|_| OAuthError::invalid_request("claims must be a JSON object"))?;
    let Some(userinfo) = v.get("userinfo").and_then(|u| u.as_object()) else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    for f in fields {
        let optional = claims::claim_names(f).iter().any(|n| {
            userinfo
                .get(*n)
                .and_then(|m| m.get("essential"))
                .and_then(|e| e.as_bool())
                == Some(false)
        });
        if optional {
            out.push(f.to_string());
        }
    }
    Ok(out)
}

/// RFC 9396 types this provider understands.
pub const DETAIL_TYPES: [&str; 1] = ["iamsmart_signing"];

pub fn check_details(d: &str) -> OResult<serde_json::Value> {
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
        if t == crate::signing::requests::DETAIL_TYPE {
            crate::signing::requests::from_detail(item)?;
        }
    }
    Ok(v)
}

/// Store a pushed authorization request (RFC 9126); returns (request_uri, expires_in). The
/// request's single-use values (`spent`) are recorded in the same transaction as the request.
pub async fn push(p: &Oidc, client: &Client, form: &Form, spent: Spent) -> OResult<(String, i64)> {
    if one(form, "request_uri")?.is_some() {
        return Err(OAuthError::invalid_request(
            "request_uri is not allowed in a pushed request",
        ));
    }
    // RFC 9126 answers with RFC 6749's codes: a redirect URI that is not registered is an
    // `invalid_request` here (`invalid_redirect_uri` belongs to client registration).
    let params = validate(p, client, form).await.map_err(|e| {
        if e.error == "invalid_redirect_uri" {
            OAuthError::invalid_request(e.description)
        } else {
            e
        }
    })?;
    let params =
        serde_json::to_string(&params).map_err(|e| OAuthError::server_error(e.to_string()))?;
    let id = iamsmart_crypto::rng::token(p.rng.as_ref(), 24);
    let now = p.clock.now_ms();
    let ttl = p.provider.policy.par_ttl_ms.clamp(5_000, 600_000);
    let dom = |e: DomainError| OAuthError::from(e);
    let mut tx = p.db.begin().await.map_err(|e| dom(e.into()))?;
    spent.record(&mut tx).await.map_err(dom)??;
    sqlx::query(
        "INSERT INTO authz_requests (id, kind, client_id, params, created_at, expires_at) VALUES ($1, 'par', $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(&client.id)
    .bind(params)
    .bind(now)
    .bind(now + ttl)
    .execute(&mut *tx)
    .await
    .map_err(|e| dom(e.into()))?;
    tx.commit().await.map_err(|e| dom(e.into()))?;
    Ok((format!("{REQUEST_URI_PREFIX}{id}"), ttl / 1000))
}

/// A pushed request read at `/authorize`: marked used ([`ParUse::record`]) in the transaction
/// of what it starts, so that a request the platform refused is not used up, and one request
/// starts one login however many browsers race with it.
#[derive(Debug)]
pub(crate) struct ParUse {
    id: String,
    client_id: clients::ClientId,
}

impl ParUse {
    /// Mark the request used through `conn`; refused if another use got there first.
    pub(crate) async fn record(self, conn: &mut AnyConnection, now: i64) -> OResult<()> {
        let r = sqlx::query(
            "UPDATE authz_requests SET used_at = $1 WHERE id = $2 AND kind = 'par' AND client_id = $3 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(&self.id)
        .bind(&self.client_id)
        .execute(&mut *conn)
        .await
        .map_err(|e| OAuthError::from(DomainError::from(e)))?;
        if r.rows_affected() != 1 {
            return Err(par_gone());
        }
        Ok(())
    }
}

fn par_gone() -> OAuthError {
    OAuthError::invalid_request_uri("request_uri is unknown, expired, used, or for another client")
}

/// Read a pushed request for `client` (not used yet: see [`ParUse`]).
pub(crate) async fn read_par(
    p: &Env,
    client: &Client,
    request_uri: &str,
) -> OResult<(AuthzParams, ParUse)> {
    let id = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .ok_or_else(|| {
            OAuthError::invalid_request_uri("request_uri was not issued by this server")
        })?;
    let params: Option<String> = sqlx::query_scalar(
        "SELECT params FROM authz_requests WHERE id = $1 AND kind = 'par' AND client_id = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(id)
    .bind(&client.id)
    .bind(p.clock.now_ms())
    .fetch_optional(p.db.reader())
    .await
    .map_err(|e| OAuthError::from(DomainError::from(e)))?;
    let params = params.ok_or_else(par_gone)?;
    let params =
        serde_json::from_str(&params).map_err(|e| OAuthError::server_error(e.to_string()))?;
    Ok((
        params,
        ParUse {
            id: id.to_string(),
            client_id: client.id.clone(),
        },
    ))
}
