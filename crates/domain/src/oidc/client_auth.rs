//! Client authentication at the token, PAR, CIBA, introspection and revocation endpoints:
//! `private_key_jwt` (RFC 7523, with the RFC 8725 rules) and `client_secret_basic`.
use super::clients::{self, Client};
use super::error::{OAuthError, OResult};
use crate::guard::{SingleUseKind, Spent};
use crate::oidc::Oidc;
use iamsmart_crypto::jose::{self, Alg};
use serde::Deserialize;

/// Assertion type of `private_key_jwt`.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What the client presented.
#[derive(Debug, Default, Clone)]
pub struct Presented {
    /// From HTTP Basic: (client id, secret), both form-decoded.
    pub basic: Option<(iamsmart_proto::ids::ClientId, String)>,
    /// `client_id` form parameter.
    pub client_id: Option<iamsmart_proto::ids::ClientId>,
    /// `client_assertion_type`.
    pub assertion_type: Option<String>,
    /// `client_assertion`.
    pub assertion: Option<String>,
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    jti: String,
}

fn refused(m: &str) -> OAuthError {
    OAuthError::invalid_client(m.to_string())
}

/// Authenticate the client; `endpoint` is the URL of the endpoint being called. An assertion's
/// `jti` goes into `spent`, to be recorded with the request's effect: the assertion authorises
/// one effect, and is refused as a replay once that is recorded.
pub async fn authenticate(
    p: &Oidc,
    c: &Presented,
    endpoint: &str,
    spent: &mut Spent,
) -> OResult<Client> {
    let methods = c.basic.is_some() as u8 + c.assertion.is_some() as u8;
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "use one client authentication method",
        ));
    }
    if let Some((id, secret)) = &c.basic {
        if c.client_id.as_ref().is_some_and(|x| x != id) {
            return Err(OAuthError::invalid_request(
                "client_id differs from the authenticated client",
            ));
        }
        let client = clients::get(p, id)
            .await?
            .ok_or_else(|| refused("unknown client or wrong secret"))?;
        let ok = client.meta.token_endpoint_auth_method == "client_secret_basic"
            && client.secret_hash.as_ref().is_some_and(|h| {
                iamsmart_crypto::hash::ct_eq(h, &iamsmart_crypto::hash::sha256(secret.as_bytes()))
            });
        return if ok {
            Ok(client)
        } else {
            Err(refused("unknown client or wrong secret"))
        };
    }
    let Some(assertion) = &c.assertion else {
        return Err(refused(
            "client authentication required (private_key_jwt or client_secret_basic)",
        ));
    };
    if c.assertion_type.as_deref() != Some(JWT_BEARER) {
        return Err(OAuthError::invalid_request(format!(
            "client_assertion_type must be {JWT_BEARER}"
        )));
    }
    if assertion.len() > 8192 {
        return Err(refused("client_assertion too long"));
    }
    // The client is named by the assertion's issuer (and by client_id, if given).
    let unverified: serde_json::Value = assertion
        .split('.')
        .nth(1)
        .and_then(|p| jose::b64_decode("assertion", p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| refused("client_assertion is not a JWT"))?;
    let id = unverified["iss"].as_str().unwrap_or_default().to_string();
    if c.client_id.as_ref().is_some_and(|x| *x != id) {
        return Err(refused("client_id differs from the assertion's issuer"));
    }
    let client = clients::named(p, &id)
        .await?
        .ok_or_else(|| refused("unknown client"))?;
    if client.meta.token_endpoint_auth_method == clients::API_AUTH_METHOD {
        return Err(refused(
            "this client uses the iAM Smart-compatible API (HMAC-signed calls under /api/v1/), not this endpoint",
        ));
    }
    if client.meta.token_endpoint_auth_method != "private_key_jwt" {
        return Err(refused(
            "this client authenticates with client_secret_basic",
        ));
    }
    let allowed = [Alg::ES256, Alg::EdDSA, Alg::RS256];
    let mut keys = clients::signing_keys(p, &client, false).await?;
    let mut checked = jose::verify_compact(assertion, &keys, &allowed);
    if matches!(
        checked,
        Err(iamsmart_crypto::CryptoError::Verify("no matching key"))
    ) && client.meta.jwks_uri.is_some()
    {
        keys = clients::signing_keys(p, &client, true).await?;
        checked = jose::verify_compact(assertion, &keys, &allowed);
    }
    let (_, payload) = checked.map_err(|e| refused(&format!("client_assertion: {e}")))?;
    let claims: AssertionClaims = serde_json::from_slice(&payload)
        .map_err(|_| refused("client_assertion needs iss, sub, aud, exp and jti"))?;
    if claims.iss != client.id || claims.sub != client.id {
        return Err(refused(
            "client_assertion iss and sub must be the client_id",
        ));
    }
    // RFC 9126 section 2: the issuer, the token endpoint or the PAR endpoint identify this
    // server, at every endpoint; the URL of the endpoint called is accepted as well (RFC 7523
    // names the endpoint the assertion is sent to).
    let policy = &p.provider.policy;
    let (issuer, token, par) = (&policy.issuer, policy.url("/token"), policy.url("/par"));
    let aud_ok = |a: &str| a == issuer || a == token || a == par || a == endpoint;
    let aud = match &claims.aud {
        serde_json::Value::String(s) => aud_ok(s),
        serde_json::Value::Array(a) => a.iter().any(|v| v.as_str().is_some_and(aud_ok)),
        _ => false,
    };
    if !aud {
        return Err(refused(
            "client_assertion aud must be the issuer, the token endpoint or the PAR endpoint URL",
        ));
    }
    let now = p.clock.now_ms() / 1000;
    let skew = p.provider.policy.skew_ms / 1000;
    if claims.exp <= now - skew {
        return Err(refused("client_assertion has expired"));
    }
    if claims.exp > now + 3600 + skew {
        return Err(refused("client_assertion lives too long (at most an hour)"));
    }
    if claims.iat.is_some_and(|t| t > now + skew) || claims.nbf.is_some_and(|t| t > now + skew) {
        return Err(refused("client_assertion is not valid yet"));
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(refused("client_assertion needs a jti"));
    }
    let until = (claims.exp + skew) * 1000;
    spent.add(
        SingleUseKind::ClientAssertion,
        format!("assertion:{}", client.id),
        &claims.jti,
        until,
    );
    Ok(client)
}
