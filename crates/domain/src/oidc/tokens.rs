//! Grants, authorization codes and tokens.
//!
//! A *grant* is what one authorization gave one client: the resident, the released fields, the
//! assurance (acr, amr, auth_time), the browser session and the DPoP key. Codes and refresh
//! tokens hang off it, and every access token names it (`gid`), so revoking the grant ends them
//! all at once: on code reuse, refresh token reuse, logout, consent revocation, device
//! revocation and account closure. Access tokens are RFC 9068 JWTs; refresh tokens are opaque,
//! single-use and rotated.
use super::claims;
use super::clients::Client;
use super::error::{OAuthError, OResult};
use super::request::Dialect;
use super::Acr;
use crate::env::Env;
use crate::error::DomainError;
use crate::guard::Spent;
use crate::keys::Purpose;
use crate::oidc::Oidc;
use iamsmart_crypto::jose::{self, Alg};
use iamsmart_store::{AnyConnection, Row};
use serde::{Deserialize, Serialize};

/// What a grant holds.
#[derive(Debug, Clone)]
pub struct GrantData {
    /// The client.
    pub client_id: iamsmart_proto::ids::ClientId,
    /// The resident.
    pub resident_id: String,
    /// The device that approved.
    pub device_id: Option<String>,
    /// The browser session (for logout).
    pub sid: Option<String>,
    /// Granted scopes (space-separated).
    pub scope: String,
    /// Fields released.
    pub claims: Vec<String>,
    /// Achieved `acr`.
    pub acr: Acr,
    /// `amr` values.
    pub amr: Vec<String>,
    /// Authentication time (Unix ms).
    pub auth_time: i64,
    /// `nonce` for the ID token.
    pub nonce: Option<String>,
    /// RFC 9396 authorization details.
    pub authorization_details: Option<serde_json::Value>,
}

fn hash(s: &str) -> Vec<u8> {
    iamsmart_crypto::hash::sha256(s.as_bytes()).to_vec()
}

fn dom(e: impl Into<DomainError>) -> OAuthError {
    OAuthError::from(e.into())
}

/// Create a grant inside the caller's transaction; returns its id.
pub async fn create_grant(
    p: &Oidc,
    conn: &mut AnyConnection,
    g: &GrantData,
    now: i64,
) -> Result<String, DomainError> {
    let id = format!("g_{}", iamsmart_crypto::rng::token(p.rng.as_ref(), 16));
    sqlx::query(
        "INSERT INTO grants (id, client_id, resident_id, device_id, sid, scope, claims, acr, amr, auth_time, nonce, authorization_details, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&id)
    .bind(&g.client_id)
    .bind(&g.resident_id)
    .bind(&g.device_id)
    .bind(&g.sid)
    .bind(&g.scope)
    .bind(serde_json::to_string(&g.claims).unwrap_or_else(|_| "[]".into()))
    .bind(g.acr.as_str())
    .bind(serde_json::to_string(&g.amr).unwrap_or_else(|_| "[]".into()))
    .bind(g.auth_time)
    .bind(&g.nonce)
    .bind(g.authorization_details.as_ref().map(|v| v.to_string()))
    .bind(now)
    .bind(now + p.provider.policy.refresh_ttl_ms)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Issue an authorization code for a grant inside the caller's transaction; returns the code.
#[allow(clippy::too_many_arguments)]
pub async fn issue_code(
    p: &Oidc,
    conn: &mut AnyConnection,
    grant_id: &str,
    client_id: &iamsmart_proto::ids::ClientId,
    redirect_uri: &str,
    code_challenge: &str,
    dpop_jkt: Option<&str>,
    now: i64,
) -> Result<String, DomainError> {
    let code = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    sqlx::query(
        "INSERT INTO codes (code_hash, grant_id, client_id, redirect_uri, code_challenge, dpop_jkt, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(hash(&code))
    .bind(grant_id)
    .bind(client_id)
    .bind(redirect_uri)
    .bind(code_challenge)
    .bind(dpop_jkt)
    .bind(now + p.provider.policy.code_ttl_ms.min(60_000))
    .execute(&mut *conn)
    .await?;
    Ok(code)
}

/// A token endpoint answer.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// RFC 9068 JWT.
    pub access_token: String,
    /// `DPoP` or `Bearer`.
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    /// Rotated on every use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// OpenID Connect ID token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Granted scopes.
    pub scope: String,
    /// RFC 9396 authorization details granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<serde_json::Value>,
}

/// A stored grant.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Id.
    pub id: String,
    /// Contents.
    pub data: GrantData,
    /// DPoP key bound at the first token request.
    pub dpop_jkt: Option<String>,
    /// End of the refresh token family.
    pub expires_at: i64,
    /// Revoked at.
    pub revoked_at: Option<i64>,
}

/// Load a grant.
pub async fn grant(p: &Env, id: &str) -> Result<Option<Grant>, DomainError> {
    grant_in(&mut *p.db.reader().acquire().await?, id).await
}

/// A grant's columns, in the order [`grant_from_row`] reads them (`g` is `grants`).
const GRANT_COLUMNS: &str = "g.client_id, g.resident_id, g.device_id, g.sid, g.scope, g.claims, g.acr, g.amr, g.auth_time, g.nonce, g.authorization_details, g.dpop_jkt, g.expires_at, g.revoked_at";

/// Load a grant through `conn` (a caller's transaction).
pub async fn grant_in(conn: &mut AnyConnection, id: &str) -> Result<Option<Grant>, DomainError> {
    let row = sqlx::query(&format!(
        "SELECT {GRANT_COLUMNS} FROM grants g WHERE g.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| grant_from_row(id, &r)).transpose()
}

/// A grant, and whether its resident's account is active, in one read.
async fn grant_and_standing(p: &Env, id: &str) -> Result<Option<(Grant, bool)>, DomainError> {
    let row = sqlx::query(&format!(
        "SELECT {GRANT_COLUMNS}, r.status FROM grants g JOIN residents r ON r.id = g.resident_id WHERE g.id = $1"
    ))
    .bind(id)
    .fetch_optional(p.db.reader())
    .await?;
    let Some(r) = row else { return Ok(None) };
    let status: iamsmart_proto::profile::AccountStatus =
        crate::error::stored(&r.try_get::<String, _>(14)?)?;
    Ok(Some((
        grant_from_row(id, &r)?,
        status == iamsmart_proto::profile::AccountStatus::Active,
    )))
}

fn grant_from_row(id: &str, r: &iamsmart_store::AnyRow) -> Result<Grant, DomainError> {
    let claims: String = r.try_get(5)?;
    let amr: String = r.try_get(7)?;
    let details: Option<String> = r.try_get(10)?;
    Ok(Grant {
        id: id.into(),
        data: GrantData {
            client_id: r.try_get(0)?,
            resident_id: r.try_get(1)?,
            device_id: r.try_get(2)?,
            sid: r.try_get(3)?,
            scope: r.try_get(4)?,
            claims: serde_json::from_str(&claims).unwrap_or_default(),
            acr: crate::error::stored(&r.try_get::<String, _>(6)?)?,
            amr: serde_json::from_str(&amr).unwrap_or_default(),
            auth_time: r.try_get(8)?,
            nonce: r.try_get(9)?,
            authorization_details: details.and_then(|d| serde_json::from_str(&d).ok()),
        },
        dpop_jkt: r.try_get(11)?,
        expires_at: r.try_get(12)?,
        revoked_at: r.try_get(13)?,
    })
}

/// Revoke a grant (and so every token of it).
pub async fn revoke_grant(
    conn: &mut AnyConnection,
    id: &str,
    reason: &str,
    now: i64,
) -> Result<(), DomainError> {
    sqlx::query("UPDATE grants SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Check a PKCE verifier against an S256 challenge.
pub fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    use base64::Engine;
    let shape = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    shape
        && iamsmart_crypto::hash::ct_eq(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(iamsmart_crypto::hash::sha256(verifier.as_bytes()))
                .as_bytes(),
            challenge.as_bytes(),
        )
}

/// DPoP requirements of a client at the token endpoint.
fn check_dpop(client: &Client, bound: Option<&str>, presented: Option<&str>) -> OResult<()> {
    if (client.fapi() || client.meta.dpop_bound_access_tokens) && presented.is_none() {
        return Err(OAuthError::invalid_dpop_proof(
            "this client's tokens are DPoP-bound: send a DPoP proof",
        ));
    }
    if let Some(b) = bound {
        if presented != Some(b) {
            return Err(OAuthError::invalid_dpop_proof(
                "the DPoP key differs from the one this authorization is bound to",
            ));
        }
    }
    Ok(())
}

/// Redeem an authorization code (once). A second use revokes everything issued from it. The
/// request's single-use values (`spent`) are recorded in the same transaction; the tokens are
/// signed after it commits, so the single writer is never held for a signature.
pub async fn redeem_code(
    p: &Oidc,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    dpop_jkt: Option<String>,
    spent: Spent,
) -> OResult<TokenResponse> {
    let redeemed =
        redeem_code_grant(p, client, code, redirect_uri, verifier, dpop_jkt, spent).await?;
    sign_tokens(
        p,
        client,
        &redeemed.grant,
        &redeemed.subject,
        redeemed.grant.dpop_jkt.as_deref(),
        redeemed.refresh_token,
        true,
    )
    .await
}

/// What redeeming a code gave, before any token is signed.
#[derive(Debug)]
pub struct Redeemed {
    /// The grant (bound to the DPoP key of the redemption, if any).
    pub grant: Grant,
    /// The resident's subject for this client.
    pub subject: String,
    /// A new refresh token, for clients with the grant.
    pub refresh_token: Option<String>,
}

/// Redeem an authorization code (once), as [`redeem_code`] does, without signing tokens: for
/// the compatible API, whose answer is not a token response.
pub async fn redeem_code_grant(
    p: &Oidc,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    dpop_jkt: Option<String>,
    spent: Spent,
) -> OResult<Redeemed> {
    let now = p.clock.now_ms();
    let h = hash(code);
    let mut tx = p.db.begin().await.map_err(dom)?;
    spent.record(&mut tx).await.map_err(dom)??;
    let row = sqlx::query(
        "UPDATE codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL RETURNING grant_id, client_id, redirect_uri, code_challenge, dpop_jkt, expires_at",
    )
    .bind(now)
    .bind(&h)
    .fetch_optional(&mut *tx)
    .await
    .map_err(dom)?;
    let Some(row) = row else {
        // Unknown, or used before: then it was stolen or replayed; end what it gave.
        let used: Option<(String, String)> =
            sqlx::query_as("SELECT grant_id, client_id FROM codes WHERE code_hash = $1")
                .bind(&h)
                .fetch_optional(&mut *tx)
                .await
                .map_err(dom)?;
        if let Some((gid, cid)) = used {
            if cid == client.id {
                revoke_grant(&mut tx, &gid, "authorization code reused", now)
                    .await
                    .map_err(dom)?;
                tx.commit().await.map_err(dom)?;
            }
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used; the tokens issued with it are revoked",
            ));
        }
        return Err(OAuthError::invalid_grant("unknown authorization code"));
    };
    let get = |i: usize| -> OResult<String> { row.try_get::<String, _>(i).map_err(dom) };
    let (gid, cid, ruri, challenge) = (get(0)?, get(1)?, get(2)?, get(3)?);
    let bound: Option<String> = row.try_get(4).map_err(dom)?;
    let expires: i64 = row.try_get(5).map_err(dom)?;
    if cid != client.id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if expires <= now {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    // The compatible API's getToken names no redirect URI and uses no PKCE (the service
    // authenticates each call with its HMAC secret); its codes carry no challenge.
    let api = Dialect::of(client) == Dialect::IamsmartApi;
    if redirect_uri.is_some_and(|r| r != ruri) || (redirect_uri.is_none() && !client.fapi() && !api)
    {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    match verifier {
        None if api && challenge.is_empty() => {}
        Some(v) if pkce_ok(v, &challenge) => {}
        Some(_) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ))
        }
        None => {
            return Err(OAuthError::invalid_request(
                "code_verifier is required (PKCE)",
            ))
        }
    }
    check_dpop(client, bound.as_deref(), dpop_jkt.as_deref())?;
    let g = grant_in(&mut tx, &gid)
        .await
        .map_err(dom)?
        .ok_or_else(|| OAuthError::invalid_grant("unknown grant"))?;
    if g.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("this authorization was revoked"));
    }
    sqlx::query("UPDATE grants SET dpop_jkt = $1 WHERE id = $2")
        .bind(&dpop_jkt)
        .bind(&gid)
        .execute(&mut *tx)
        .await
        .map_err(dom)?;
    let refresh = if client.has_grant("refresh_token") {
        Some(
            new_refresh(p, &mut tx, &gid, now, g.expires_at)
                .await
                .map_err(dom)?,
        )
    } else {
        None
    };
    let sub = subject_for(p, client, &g.data.resident_id);
    claims::remember_subject(&mut tx, &client.subject_sector(), &sub, &g.data.resident_id)
        .await
        .map_err(dom)?;
    tx.commit().await.map_err(dom)?;
    let mut grant = g;
    grant.dpop_jkt = dpop_jkt;
    Ok(Redeemed {
        grant,
        subject: sub,
        refresh_token: refresh,
    })
}

/// The subject identifier of a resident for this client.
pub fn subject_for(p: &Oidc, client: &Client, resident_id: &str) -> String {
    claims::subject(p, &client.subject_sector(), resident_id)
}

async fn new_refresh(
    p: &Env,
    conn: &mut AnyConnection,
    gid: &str,
    now: i64,
    family_end: i64,
) -> Result<String, DomainError> {
    let t = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    sqlx::query("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash(&t))
        .bind(gid)
        .bind(now)
        .bind(family_end)
        .execute(&mut *conn)
        .await?;
    Ok(t)
}

/// Sign the access token (and the ID token) of a grant.
pub async fn sign_tokens(
    p: &Oidc,
    client: &Client,
    g: &Grant,
    sub: &str,
    dpop_jkt: Option<&str>,
    refresh_token: Option<String>,
    with_id_token: bool,
) -> OResult<TokenResponse> {
    let pol = &p.provider.policy;
    let now_s = p.clock.now_ms() / 1000;
    let at_exp = now_s + pol.access_token_ttl_ms / 1000;
    let mut at = serde_json::json!({
        "iss": pol.issuer,
        "sub": sub,
        "aud": pol.issuer,
        "client_id": client.id,
        "iat": now_s,
        "exp": at_exp,
        "jti": iamsmart_crypto::rng::token(p.rng.as_ref(), 16),
        "scope": g.data.scope,
        "auth_time": g.data.auth_time / 1000,
        "acr": g.data.acr,
        "gid": g.id,
    });
    if let Some(j) = dpop_jkt {
        at["cnf"] = serde_json::json!({ "jkt": j });
    }
    if let Some(d) = &g.data.authorization_details {
        at["authorization_details"] = d.clone();
    }
    let access_token = p
        .keys
        .sign_jws(
            Purpose::Token,
            Alg::ES256,
            Some("at+jwt"),
            at.to_string().as_bytes(),
        )
        .await
        .map_err(dom)?;
    let id_token = if with_id_token && g.data.scope.split(' ').any(|s| s == "openid") {
        let mut idt = serde_json::json!({
            "iss": pol.issuer,
            "sub": sub,
            "aud": client.id,
            "azp": client.id,
            "iat": now_s,
            "exp": now_s + pol.id_token_ttl_ms / 1000,
            "auth_time": g.data.auth_time / 1000,
            "acr": g.data.acr,
            "amr": g.data.amr,
        });
        if let Some(n) = &g.data.nonce {
            idt["nonce"] = serde_json::Value::String(n.clone());
        }
        if let Some(sid) = &g.data.sid {
            idt["sid"] = serde_json::Value::String(sid.clone());
        }
        Some(
            p.keys
                .sign_jws(
                    Purpose::Token,
                    client.id_token_alg(),
                    Some("JWT"),
                    idt.to_string().as_bytes(),
                )
                .await
                .map_err(dom)?,
        )
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: if dpop_jkt.is_some() { "DPoP" } else { "Bearer" },
        expires_in: at_exp - now_s,
        refresh_token,
        id_token,
        scope: g.data.scope.clone(),
        authorization_details: g.data.authorization_details.clone(),
    })
}

/// Use a refresh token (once): a new access token and a new refresh token. Reusing a rotated
/// refresh token revokes the whole family.
pub async fn refresh(
    p: &Oidc,
    client: &Client,
    token: &str,
    scope: Option<&str>,
    dpop_jkt: Option<String>,
    spent: Spent,
) -> OResult<TokenResponse> {
    let now = p.clock.now_ms();
    let h = hash(token);
    let mut tx = p.db.begin().await.map_err(dom)?;
    spent.record(&mut tx).await.map_err(dom)??;
    let gid: Option<String> = sqlx::query_scalar(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING grant_id",
    )
    .bind(now)
    .bind(&h)
    .fetch_optional(&mut *tx)
    .await
    .map_err(dom)?;
    let Some(gid) = gid else {
        let known: Option<String> = sqlx::query_scalar(
            "SELECT grant_id FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL",
        )
        .bind(&h)
        .fetch_optional(&mut *tx)
        .await
        .map_err(dom)?;
        if let Some(gid) = known {
            let owner = grant_in(&mut tx, &gid).await.map_err(dom)?;
            if owner.is_some_and(|g| g.data.client_id == client.id) {
                revoke_grant(&mut tx, &gid, "refresh token reused", now)
                    .await
                    .map_err(dom)?;
                tx.commit().await.map_err(dom)?;
            }
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; every token of this authorization is revoked",
            ));
        }
        return Err(OAuthError::invalid_grant(
            "unknown or expired refresh token",
        ));
    };
    let g = grant_in(&mut tx, &gid)
        .await
        .map_err(dom)?
        .ok_or_else(|| OAuthError::invalid_grant("unknown grant"))?;
    if g.data.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if g.revoked_at.is_some() || g.expires_at <= now {
        return Err(OAuthError::invalid_grant(
            "this authorization was revoked or has expired",
        ));
    }
    let active = crate::identity::active_level_in(&mut tx, &g.data.resident_id)
        .await
        .map_err(dom)?;
    if active.is_none() {
        return Err(OAuthError::invalid_grant(
            "the resident's account is not active",
        ));
    }
    check_dpop(client, None, dpop_jkt.as_deref())?;
    let mut g2 = g.clone();
    if let Some(s) = scope {
        let wanted: Vec<&str> = s.split(' ').filter(|x| !x.is_empty()).collect();
        let have: Vec<&str> = g.data.scope.split(' ').collect();
        if wanted.iter().any(|w| !have.contains(w)) {
            return Err(OAuthError::invalid_scope(
                "a refresh cannot widen the scope",
            ));
        }
        g2.data.scope = wanted.join(" ");
    }
    let next = new_refresh(p, &mut tx, &gid, now, g.expires_at)
        .await
        .map_err(dom)?;
    tx.commit().await.map_err(dom)?;
    let sub = subject_for(p, client, &g.data.resident_id);
    sign_tokens(p, client, &g2, &sub, dpop_jkt.as_deref(), Some(next), true).await
}

/// Verified access token claims.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessClaims {
    /// Subject.
    pub sub: String,
    /// Client.
    pub client_id: iamsmart_proto::ids::ClientId,
    /// Scopes.
    pub scope: String,
    /// Expiry (Unix s).
    pub exp: i64,
    /// Issued (Unix s).
    pub iat: i64,
    /// Grant id.
    pub gid: String,
    /// `acr`.
    pub acr: String,
    /// Auth time (Unix s).
    pub auth_time: i64,
    /// Confirmation (DPoP).
    #[serde(default)]
    pub cnf: Option<serde_json::Value>,
}

/// The claims of an access token whose signature, type (`at+jwt`) and issuer check out.
pub(crate) async fn access_token_claims(p: &Oidc, token: &str) -> OResult<serde_json::Value> {
    let keys = p.keys.jwks(Purpose::Token).await.map_err(dom)?;
    let (header, payload) =
        jose::verify_compact(token, &keys, &[Alg::ES256, Alg::EdDSA, Alg::RS256])
            .map_err(|_| OAuthError::invalid_token("the access token is not valid"))?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err(OAuthError::invalid_token("not an access token"));
    }
    let v: serde_json::Value = serde_json::from_slice(&payload)
        .map_err(|_| OAuthError::invalid_token("malformed access token"))?;
    if v["iss"] != p.provider.policy.issuer.as_str() {
        return Err(OAuthError::invalid_token(
            "the access token is from another issuer",
        ));
    }
    Ok(v)
}

/// Verify an access token's signature, type, issuer and expiry, and that its grant is live.
pub async fn verify_access_token(p: &Oidc, token: &str) -> OResult<(AccessClaims, Grant)> {
    let v = access_token_claims(p, token).await?;
    if v["token_use"] == "client" {
        return Err(OAuthError::invalid_token(
            "a client token cannot act for a resident",
        ));
    }
    let c: AccessClaims = serde_json::from_value(v)
        .map_err(|_| OAuthError::invalid_token("malformed access token"))?;
    if c.exp <= p.clock.now_ms() / 1000 {
        return Err(OAuthError::invalid_token("the access token has expired"));
    }
    let (g, active) = grant_and_standing(p, &c.gid)
        .await
        .map_err(dom)?
        .ok_or_else(|| OAuthError::invalid_token("unknown grant"))?;
    if g.revoked_at.is_some() {
        return Err(OAuthError::invalid_token("the access token was revoked"));
    }
    if !active {
        return Err(OAuthError::invalid_token(
            "the resident's account is not active",
        ));
    }
    Ok((c, g))
}

/// The claims a token may see: the fields released by the grant, still consented.
pub async fn userinfo(
    p: &Oidc,
    c: &AccessClaims,
    g: &Grant,
) -> OResult<serde_json::Map<String, serde_json::Value>> {
    let r = crate::identity::get(&p.identity, &g.data.resident_id)
        .await
        .map_err(dom)?;
    // What the resident released for this sign-in, remembered for later ones or not; a consent
    // withdrawn since revoked this grant (its tokens no longer get here).
    let mut out = claims::release(&r, &g.data.claims);
    out.insert("sub".into(), serde_json::Value::String(c.sub.clone()));
    Ok(out)
}

/// RFC 7662 introspection for the calling client (other clients' tokens are inactive to it).
pub async fn introspect(p: &Oidc, client: &Client, token: &str) -> serde_json::Value {
    let inactive = serde_json::json!({ "active": false });
    if let Ok((c, g)) = verify_access_token(p, token).await {
        if c.client_id != client.id {
            return inactive;
        }
        let mut v = serde_json::json!({
            "active": true, "token_type": if c.cnf.is_some() { "DPoP" } else { "Bearer" },
            "scope": c.scope, "client_id": c.client_id, "sub": c.sub, "exp": c.exp, "iat": c.iat,
            "iss": p.provider.policy.issuer, "acr": c.acr, "auth_time": c.auth_time,
            "aud": p.provider.policy.issuer,
        });
        if let Some(cnf) = c.cnf {
            v["cnf"] = cnf;
        }
        if let Some(d) = g.data.authorization_details {
            v["authorization_details"] = d;
        }
        return v;
    }
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT grant_id, expires_at FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(hash(token))
    .bind(p.clock.now_ms())
    .fetch_optional(p.db.reader())
    .await
    .ok()
    .flatten();
    if let Some((gid, exp)) = row {
        if let Ok(Some(g)) = grant(p, &gid).await {
            if g.data.client_id == client.id && g.revoked_at.is_none() {
                return serde_json::json!({
                    "active": true, "token_type": "refresh_token", "scope": g.data.scope,
                    "client_id": client.id, "exp": exp / 1000,
                    "sub": subject_for(p, client, &g.data.resident_id),
                });
            }
        }
    }
    inactive
}

/// RFC 7009 revocation: revoking any token of a grant ends the grant. Unknown tokens and other
/// clients' tokens are ignored (the answer is the same).
pub async fn revoke(p: &Oidc, client: &Client, token: &str) -> OResult<()> {
    let now = p.clock.now_ms();
    let gid = match verify_access_token(p, token).await {
        Ok((c, _)) if c.client_id == client.id => Some(c.gid),
        _ => sqlx::query_scalar("SELECT grant_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash(token))
            .fetch_optional(p.db.reader())
            .await
            .map_err(dom)?,
    };
    if let Some(gid) = gid {
        if let Some(g) = grant(p, &gid).await.map_err(dom)? {
            if g.data.client_id == client.id {
                let mut tx = p.db.begin().await.map_err(dom)?;
                revoke_grant(&mut tx, &gid, "revoked by the client", now)
                    .await
                    .map_err(dom)?;
                tx.commit().await.map_err(dom)?;
            }
        }
    }
    Ok(())
}

/// End a resident's browser sessions and grants (all, or those of one device), inside the
/// caller's transaction. Returns the ended sessions' sids, for back-channel logout.
pub async fn revoke_resident(
    conn: &mut AnyConnection,
    resident_id: &str,
    device_id: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<Vec<String>, DomainError> {
    let sids: Vec<String> = match device_id {
        None => sqlx::query_scalar("UPDATE op_sessions SET revoked_at = $1 WHERE resident_id = $2 AND revoked_at IS NULL RETURNING sid")
            .bind(now)
            .bind(resident_id)
            .fetch_all(&mut *conn)
            .await?,
        Some(d) => sqlx::query_scalar("UPDATE op_sessions SET revoked_at = $1 WHERE resident_id = $2 AND device_id = $3 AND revoked_at IS NULL RETURNING sid")
            .bind(now)
            .bind(resident_id)
            .bind(d)
            .fetch_all(&mut *conn)
            .await?,
    };
    match device_id {
        None => sqlx::query("UPDATE grants SET revoked_at = $1, revoked_reason = $2 WHERE resident_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(reason)
            .bind(resident_id)
            .execute(&mut *conn)
            .await?,
        Some(d) => sqlx::query("UPDATE grants SET revoked_at = $1, revoked_reason = $2 WHERE resident_id = $3 AND device_id = $4 AND revoked_at IS NULL")
            .bind(now)
            .bind(reason)
            .bind(resident_id)
            .bind(d)
            .execute(&mut *conn)
            .await?,
    };
    Ok(sids)
}
