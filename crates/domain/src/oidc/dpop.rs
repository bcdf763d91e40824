//! DPoP proofs (RFC 9449): the client proves possession of a key per request; tokens are bound
//! to the key's thumbprint (`cnf.jkt`).
use super::error::{OAuthError, OResult};
use crate::guard::{self, SingleUseKind, Spent};
use crate::oidc::Oidc;
use iamsmart_crypto::jose::{self, Alg, PublicJwk};

/// Members of a private or symmetric key, refused in a proof's `jwk`.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

fn bad(m: &str) -> OAuthError {
    OAuthError::invalid_dpop_proof(m.to_string())
}

/// A URL without query and fragment, for `htu` comparison.
fn base_url(u: &str) -> &str {
    u.split(['?', '#']).next().unwrap_or(u)
}

/// base64url SHA-256 of an access token (`ath`).
pub fn ath(token: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(iamsmart_crypto::hash::sha256(token.as_bytes()))
}

/// A DPoP proof taken apart and its signature checked against its own key (no time, URL or
/// replay checks yet): the part of the verification that needs no database. Fuzzed.
#[derive(Debug, Clone)]
pub struct Proof {
    /// The proof's public key.
    pub jwk: PublicJwk,
    /// Its claims.
    pub claims: serde_json::Value,
}

/// Parse a DPoP proof and check its signature with the key in its header.
pub fn parse(proof: &str) -> OResult<Proof> {
    if proof.len() > 4096 {
        return Err(bad("DPoP proof too long"));
    }
    let parts: Vec<&str> = proof.split('.').collect();
    let [h, payload_b64, s] = parts.as_slice() else {
        return Err(bad("DPoP proof is not a compact JWS"));
    };
    let header: serde_json::Value = jose::b64_decode("DPoP header", h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("DPoP header is not JSON"))?;
    if header["typ"] != "dpop+jwt" {
        return Err(bad("DPoP proof typ must be dpop+jwt"));
    }
    let alg: Alg = header["alg"]
        .as_str()
        .unwrap_or("none")
        .parse()
        .map_err(|_| bad("DPoP alg must be ES256, EdDSA or RS256"))?;
    let jwk_v = header
        .get("jwk")
        .filter(|j| j.is_object())
        .ok_or_else(|| bad("DPoP proof needs a jwk header"))?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk_v.get(*m).is_some()) {
        return Err(bad("DPoP jwk must be a public key"));
    }
    if header.get("jku").is_some()
        || header.get("x5u").is_some()
        || header.get("x5c").is_some()
        || header.get("crit").is_some()
    {
        return Err(bad(
            "DPoP header members jku, x5u, x5c and crit are not accepted",
        ));
    }
    let mut jwk: PublicJwk =
        serde_json::from_value(jwk_v.clone()).map_err(|_| bad("DPoP jwk is not a key"))?;
    jwk.kid = None;
    let sig = jose::b64_decode("DPoP signature", s).map_err(|_| bad("DPoP signature encoding"))?;
    let input = &proof.as_bytes()[..h.len() + 1 + payload_b64.len()];
    jose::verify_signature(&jwk, alg, input, &sig)
        .map_err(|_| bad("DPoP signature does not verify"))?;
    let claims: serde_json::Value = jose::b64_decode("DPoP payload", payload_b64)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(serde_json::Value::is_object)
        .ok_or_else(|| bad("DPoP payload is not a JSON object"))?;
    Ok(Proof { jwk, claims })
}

/// Verify a DPoP proof for `method` and `url`; with `access_token`, also its `ath`. Returns the
/// RFC 7638 thumbprint of the proof's key. Its `jti` goes into `spent`: each proof is accepted
/// once, when the request's effect is recorded with it.
pub fn verify(
    p: &Oidc,
    proof: &str,
    method: &str,
    url: &str,
    access_token: Option<&str>,
    spent: &mut Spent,
) -> OResult<String> {
    let Proof { jwk, claims } = parse(proof)?;
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| bad("DPoP proof needs a jti"))?;
    if claims["htm"].as_str() != Some(method) {
        return Err(bad("DPoP htm does not match the request method"));
    }
    let htu = claims["htu"]
        .as_str()
        .ok_or_else(|| bad("DPoP proof needs htu"))?;
    if base_url(htu) != base_url(url) {
        return Err(bad("DPoP htu does not match the request URL"));
    }
    let iat = claims["iat"]
        .as_i64()
        .ok_or_else(|| bad("DPoP proof needs iat"))?;
    let now = p.clock.now_ms();
    let skew = p.provider.policy.skew_ms;
    if !guard::within(iat.saturating_mul(1000), now, skew) {
        return Err(bad("DPoP proof is too old or from the future"));
    }
    match (access_token, claims["ath"].as_str()) {
        (Some(t), Some(a)) if a == ath(t) => {}
        (Some(_), None) => {
            return Err(bad(
                "DPoP proof needs ath (base64url SHA-256 of the access token) at a resource",
            ))
        }
        (Some(_), Some(_)) => return Err(bad("DPoP ath does not match the access token")),
        (None, _) => {}
    }
    let jkt = jwk.thumbprint();
    spent.add(
        SingleUseKind::DpopProof,
        format!("dpop:{jkt}"),
        jti,
        now + 2 * skew,
    );
    Ok(jkt)
}
