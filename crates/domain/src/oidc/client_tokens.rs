//! The `client_credentials` grant: access tokens for a service itself (no resident), for the
//! e-ME, gateway, signing and notification APIs. The client authenticates as at every token
//! call (`private_key_jwt` with a one-time assertion, or its secret); FAPI clients must bind the
//! token to a DPoP key, so every API call carries a fresh signed proof and a replayed or stale
//! request is refused.
use super::clients::Client;
use super::error::{OAuthError, OResult};
use super::tokens::TokenResponse;
use crate::guard::Spent;
use crate::keys::Purpose;
use crate::oidc::Oidc;
use iamsmart_crypto::jose::Alg;
use serde::Deserialize;

/// The grant type.
pub const GRANT: &str = "client_credentials";

/// Scopes a service may ask for with this grant.
pub const SCOPES: [&str; 4] = ["eme", "gateway", "sign", "notify"];

/// How long a client token lives (seconds).
const TTL_S: i64 = 300;

fn dom(e: crate::error::DomainError) -> OAuthError {
    OAuthError::from(e)
}

/// Issue a token for the client.
pub async fn issue(
    p: &Oidc,
    client: &Client,
    scope: Option<&str>,
    dpop_jkt: Option<String>,
    spent: Spent,
) -> OResult<TokenResponse> {
    let asked: Vec<&str> = match scope {
        Some(s) => s.split(' ').filter(|x| !x.is_empty()).collect(),
        None => SCOPES.to_vec(),
    };
    if asked.is_empty() {
        return Err(OAuthError::invalid_scope(
            "scope: any of eme, gateway, sign, notify",
        ));
    }
    if let Some(bad) = asked.iter().find(|s| !SCOPES.contains(s)) {
        return Err(OAuthError::invalid_scope(format!(
            "scope {:?} is not available with client_credentials (eme, gateway, sign, notify)",
            bad.chars().take(40).collect::<String>()
        )));
    }
    if let Some(allowed) = &client.meta.scope {
        if let Some(bad) = asked.iter().find(|s| !allowed.split(' ').any(|a| a == **s)) {
            return Err(OAuthError::invalid_scope(format!(
                "this client may not ask for {bad}"
            )));
        }
    }
    // The gateway relays residents' records between organisations: its requesters authenticate
    // with a signed assertion (private_key_jwt) and sign every request (DPoP), so a stolen or
    // replayed request is refused whatever the client's profile.
    if asked.contains(&"gateway") {
        if client.meta.token_endpoint_auth_method != "private_key_jwt" {
            return Err(OAuthError::unauthorized_client(
                "the gateway scope is for clients that authenticate with private_key_jwt",
            ));
        }
        if dpop_jkt.is_none() {
            return Err(OAuthError::invalid_request(
                "the gateway scope needs a DPoP proof: the token is bound to its key",
            ));
        }
    }
    if client.fapi() && dpop_jkt.is_none() {
        return Err(OAuthError::invalid_request(
            "FAPI clients send a DPoP proof: the token is bound to its key",
        ));
    }
    let mut scopes: Vec<&str> = Vec::new();
    for s in asked {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    let scope = scopes.join(" ");
    // Nothing else is written: the request's single-use values are recorded on their own.
    spent.spend(p).await.map_err(dom)??;
    let now_s = p.clock.now_ms() / 1000;
    let mut at = serde_json::json!({
        "iss": p.provider.policy.issuer,
        "sub": client.id,
        "aud": p.provider.policy.issuer,
        "client_id": client.id,
        "iat": now_s,
        "exp": now_s + TTL_S,
        "jti": iamsmart_crypto::rng::token(p.rng.as_ref(), 16),
        "scope": scope,
        "token_use": "client",
    });
    if let Some(j) = &dpop_jkt {
        at["cnf"] = serde_json::json!({ "jkt": j });
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
    Ok(TokenResponse {
        access_token,
        token_type: if dpop_jkt.is_some() { "DPoP" } else { "Bearer" },
        expires_in: TTL_S,
        refresh_token: None,
        id_token: None,
        scope,
        authorization_details: None,
    })
}

/// A verified client token.
#[derive(Debug, Clone, Deserialize)]
pub struct ClientClaims {
    /// The client.
    pub client_id: iamsmart_proto::ids::ClientId,
    /// Granted scopes.
    pub scope: String,
    /// DPoP binding.
    #[serde(default)]
    pub cnf: Option<serde_json::Value>,
    #[serde(default)]
    token_use: String,
    sub: String,
    exp: i64,
}

impl ClientClaims {
    /// The DPoP key thumbprint the token is bound to.
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().and_then(|c| c["jkt"].as_str())
    }
    /// Whether the token carries a scope.
    pub fn has_scope(&self, s: &str) -> bool {
        self.scope.split(' ').any(|x| x == s)
    }
}

/// Verify a client token (signature, type, issuer, expiry; the client still active). Tokens of a
/// resident's grant are refused here, and client tokens are refused where a resident's are needed.
pub async fn verify(p: &Oidc, token: &str) -> OResult<(ClientClaims, Client)> {
    let v = super::tokens::access_token_claims(p, token).await?;
    let c: ClientClaims = serde_json::from_value(v)
        .map_err(|_| OAuthError::invalid_token("malformed access token"))?;
    if c.token_use != "client" || c.sub != c.client_id {
        return Err(OAuthError::invalid_token(
            "this API takes a client token: use the client_credentials grant",
        ));
    }
    if c.exp <= p.clock.now_ms() / 1000 {
        return Err(OAuthError::invalid_token("the access token has expired"));
    }
    let client = super::clients::get(p, &c.client_id)
        .await
        .map_err(dom)?
        .ok_or_else(|| OAuthError::invalid_token("the client is not active"))?;
    Ok((c, client))
}
