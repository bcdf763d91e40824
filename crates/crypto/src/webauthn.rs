//! WebAuthn (Level 3) relying-party checks for passkeys: creation and request options, and the
//! verification of registration and authentication responses.
//!
//! Policy: discoverable credentials with user verification required; attestation `none` is
//! requested and only `none` or `packed` self-attestation is accepted (the platform does not rely
//! on authenticator make and model); ES256, EdDSA and RS256 credential keys. Challenges are made
//! and remembered by the caller (single use, short-lived); this module checks that the response
//! answers the expected one, for the expected origin and RP ID.
use crate::jose::{b64_decode, PublicJwk};
use crate::CryptoError;
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ciborium::Value as Cbor;
use serde::{Deserialize, Serialize};

/// COSE algorithm identifiers we accept.
const COSE_ES256: i64 = -7;
const COSE_EDDSA: i64 = -8;
const COSE_RS256: i64 = -257;

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
/// Backup eligible (WebAuthn Level 3): the credential may sync to other devices.
const FLAG_BE: u8 = 0x08;
const FLAG_AT: u8 = 0x40;

/// The relying party: its ID (a registrable domain, e.g. `localhost` or `iamsmart.gov.hk`) and
/// the exact origin pages are served from.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    /// RP ID.
    pub id: String,
    /// Origin, e.g. `https://iamsmart.gov.hk`.
    pub origin: String,
    /// Name shown by the authenticator.
    pub name: String,
}

/// A registration response as `PublicKeyCredential.toJSON()` gives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationResponse {
    /// Credential id (base64url).
    pub id: String,
    /// Must be `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The authenticator's response.
    pub response: AttestationPart,
}

/// The attestation part of a registration response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationPart {
    /// base64url client data JSON (`clientDataJSON`, as browsers name it).
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// base64url CBOR attestation object.
    pub attestation_object: String,
}

/// An authentication response as `PublicKeyCredential.toJSON()` gives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationResponse {
    /// Credential id (base64url).
    pub id: String,
    /// Must be `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The authenticator's response.
    pub response: AssertionPart,
}

/// The assertion part of an authentication response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssertionPart {
    /// base64url client data JSON (`clientDataJSON`, as browsers name it).
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// base64url authenticator data.
    pub authenticator_data: String,
    /// base64url signature.
    pub signature: String,
    /// base64url user handle (discoverable credentials).
    #[serde(default)]
    pub user_handle: Option<String>,
}

/// A verified new credential, to store.
#[derive(Debug, Clone)]
pub struct NewCredential {
    /// Credential id (base64url).
    pub id: String,
    /// The credential's public key.
    pub public_key: PublicJwk,
    /// Signature counter at registration.
    pub sign_count: u32,
    /// The authenticator says the credential may be backed up (BE flag): a passkey that syncs
    /// to a cloud account, outside the holder's organisation.
    pub backup_eligible: bool,
}

/// A stored credential, for verifying an assertion.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    /// Credential id (base64url).
    pub id: String,
    /// Its public key.
    pub public_key: PublicJwk,
    /// The last counter seen.
    pub sign_count: u32,
}

/// The outcome of a verified assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asserted {
    /// The authenticator's new counter.
    pub sign_count: u32,
}

fn bad(why: impl Into<String>) -> CryptoError {
    CryptoError::Malformed {
        what: "WebAuthn response",
        why: why.into(),
    }
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

impl RelyingParty {
    /// Options for `navigator.credentials.create()` (the `publicKey` member).
    pub fn creation_options(
        &self,
        challenge: &str,
        user_handle: &[u8],
        user_name: &str,
        display_name: &str,
        exclude: &[String],
    ) -> serde_json::Value {
        serde_json::json!({
            "rp": { "id": self.id, "name": self.name },
            "user": { "id": b64(user_handle), "name": user_name, "displayName": display_name },
            "challenge": challenge,
            "pubKeyCredParams": [
                { "type": "public-key", "alg": COSE_ES256 },
                { "type": "public-key", "alg": COSE_EDDSA },
                { "type": "public-key", "alg": COSE_RS256 },
            ],
            "timeout": 120000,
            "excludeCredentials": exclude.iter().map(|id| serde_json::json!({"type": "public-key", "id": id})).collect::<Vec<_>>(),
            "authenticatorSelection": { "residentKey": "required", "requireResidentKey": true, "userVerification": "required" },
            "attestation": "none",
        })
    }

    /// Options for `navigator.credentials.get()` (the `publicKey` member). An empty `allow`
    /// asks for a discoverable credential.
    pub fn request_options(&self, challenge: &str, allow: &[String]) -> serde_json::Value {
        serde_json::json!({
            "rpId": self.id,
            "challenge": challenge,
            "timeout": 120000,
            "userVerification": "required",
            "allowCredentials": allow.iter().map(|id| serde_json::json!({"type": "public-key", "id": id})).collect::<Vec<_>>(),
        })
    }

    fn check_client_data(
        &self,
        raw: &[u8],
        kind: &str,
        challenge: &str,
    ) -> Result<(), CryptoError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct ClientData {
            #[serde(rename = "type")]
            kind: String,
            challenge: String,
            origin: String,
            #[serde(default)]
            cross_origin: Option<bool>,
        }
        let cd: ClientData =
            serde_json::from_slice(raw).map_err(|_| bad("client data is not the expected JSON"))?;
        if cd.kind != kind {
            return Err(bad(format!("client data type must be {kind}")));
        }
        if !crate::hash::ct_eq(cd.challenge.as_bytes(), challenge.as_bytes()) {
            return Err(CryptoError::Verify(
                "the response answers another challenge",
            ));
        }
        if cd.origin != self.origin {
            return Err(CryptoError::Verify(
                "the response comes from another origin",
            ));
        }
        if cd.cross_origin == Some(true) {
            return Err(CryptoError::Verify("cross-origin use is not allowed"));
        }
        Ok(())
    }

    fn check_auth_data<'a>(&self, ad: &'a [u8]) -> Result<(u8, u32, &'a [u8]), CryptoError> {
        if ad.len() < 37 {
            return Err(bad("authenticator data too short"));
        }
        let rp_hash = digest(&SHA256, self.id.as_bytes());
        if !crate::hash::ct_eq(&ad[..32], rp_hash.as_ref()) {
            return Err(CryptoError::Verify("the credential is for another RP ID"));
        }
        let flags = ad[32];
        if flags & FLAG_UP == 0 {
            return Err(CryptoError::Verify("user presence missing"));
        }
        if flags & FLAG_UV == 0 {
            return Err(CryptoError::Verify("user verification missing"));
        }
        let count = u32::from_be_bytes([ad[33], ad[34], ad[35], ad[36]]);
        Ok((flags, count, &ad[37..]))
    }

    /// Verify a registration response against the challenge issued for it.
    pub fn verify_registration(
        &self,
        challenge: &str,
        r: &RegistrationResponse,
    ) -> Result<NewCredential, CryptoError> {
        if r.kind != "public-key" {
            return Err(bad("type must be public-key"));
        }
        let cdj = b64_decode("clientDataJSON", &r.response.client_data_json)?;
        self.check_client_data(&cdj, "webauthn.create", challenge)?;
        let att = b64_decode("attestationObject", &r.response.attestation_object)?;
        let att: Cbor = ciborium::de::from_reader_with_recursion_limit(att.as_slice(), 16)
            .map_err(|_| bad("attestation object is not CBOR"))?;
        let map = att
            .as_map()
            .ok_or_else(|| bad("attestation object is not a map"))?;
        let get = |k: &str| {
            map.iter()
                .find(|(key, _)| key.as_text() == Some(k))
                .map(|(_, v)| v)
        };
        let fmt = get("fmt").and_then(Cbor::as_text).unwrap_or("");
        let auth_data = get("authData")
            .and_then(Cbor::as_bytes)
            .ok_or_else(|| bad("authData missing"))?;
        let att_stmt = get("attStmt")
            .and_then(Cbor::as_map)
            .ok_or_else(|| bad("attStmt missing"))?;
        let (flags, sign_count, rest) = self.check_auth_data(auth_data)?;
        if flags & FLAG_AT == 0 || rest.len() < 18 {
            return Err(bad("no attested credential data"));
        }
        let id_len = u16::from_be_bytes([rest[16], rest[17]]) as usize;
        if id_len == 0 || id_len > 1023 || rest.len() < 18 + id_len {
            return Err(bad("bad credential id length"));
        }
        let cred_id = &rest[18..18 + id_len];
        if b64(cred_id) != r.id {
            return Err(bad("credential id differs from the response id"));
        }
        let mut key_bytes = &rest[18 + id_len..];
        let cose: Cbor = ciborium::de::from_reader_with_recursion_limit(&mut key_bytes, 8)
            .map_err(|_| bad("credential public key is not CBOR"))?;
        let (public_key, cose_alg) = cose_to_jwk(&cose, &b64(cred_id))?;
        match fmt {
            "none" if att_stmt.is_empty() => {}
            "none" => return Err(bad("attestation none must have an empty statement")),
            "packed" => {
                // Self attestation only: the credential key signs authData || hash(clientData).
                let alg = att_stmt
                    .iter()
                    .find(|(k, _)| k.as_text() == Some("alg"))
                    .and_then(|(_, v)| v.as_integer())
                    .and_then(|i| i64::try_from(i).ok())
                    .ok_or_else(|| bad("packed attestation without alg"))?;
                if att_stmt.iter().any(|(k, _)| k.as_text() == Some("x5c")) {
                    return Err(bad(
                        "attestation certificates are not requested; use attestation none",
                    ));
                }
                let sig = att_stmt
                    .iter()
                    .find(|(k, _)| k.as_text() == Some("sig"))
                    .and_then(|(_, v)| v.as_bytes())
                    .ok_or_else(|| bad("packed attestation without sig"))?;
                if alg != cose_alg {
                    return Err(bad("attestation alg differs from the key's"));
                }
                let mut signed = auth_data.clone();
                signed.extend_from_slice(digest(&SHA256, &cdj).as_ref());
                verify_webauthn_sig(&public_key, &signed, sig)?;
            }
            other => {
                return Err(bad(format!(
                    "attestation format {:?} is not accepted; use attestation none",
                    other.chars().take(20).collect::<String>()
                )))
            }
        }
        Ok(NewCredential {
            id: r.id.clone(),
            public_key,
            sign_count,
            backup_eligible: flags & FLAG_BE != 0,
        })
    }

    /// Verify an authentication response for `stored` against the challenge issued for it.
    /// A counter that does not increase (when either side is non-zero) is refused as a sign of
    /// a cloned authenticator.
    pub fn verify_authentication(
        &self,
        challenge: &str,
        stored: &StoredCredential,
        r: &AuthenticationResponse,
    ) -> Result<Asserted, CryptoError> {
        if r.kind != "public-key" {
            return Err(bad("type must be public-key"));
        }
        if r.id != stored.id {
            return Err(CryptoError::Verify("another credential"));
        }
        let cdj = b64_decode("clientDataJSON", &r.response.client_data_json)?;
        self.check_client_data(&cdj, "webauthn.get", challenge)?;
        let ad = b64_decode("authenticatorData", &r.response.authenticator_data)?;
        let (_, count, _) = self.check_auth_data(&ad)?;
        let sig = b64_decode("signature", &r.response.signature)?;
        let mut signed = ad.clone();
        signed.extend_from_slice(digest(&SHA256, &cdj).as_ref());
        verify_webauthn_sig(&stored.public_key, &signed, &sig)?;
        if (count != 0 || stored.sign_count != 0) && count <= stored.sign_count {
            return Err(CryptoError::Verify(
                "signature counter did not increase: possible cloned authenticator",
            ));
        }
        Ok(Asserted { sign_count: count })
    }
}

fn cose_int(map: &[(Cbor, Cbor)], label: i64) -> Option<&Cbor> {
    map.iter()
        .find(|(k, _)| k.as_integer().and_then(|i| i64::try_from(i).ok()) == Some(label))
        .map(|(_, v)| v)
}

/// Convert a COSE_Key to a JWK; returns the key and its COSE algorithm.
fn cose_to_jwk(cose: &Cbor, kid: &str) -> Result<(PublicJwk, i64), CryptoError> {
    let map = cose.as_map().ok_or_else(|| bad("COSE key is not a map"))?;
    let int = |l| {
        cose_int(map, l)
            .and_then(Cbor::as_integer)
            .and_then(|i| i64::try_from(i).ok())
    };
    let bytes = |l| cose_int(map, l).and_then(Cbor::as_bytes);
    let kty = int(1).ok_or_else(|| bad("COSE key without kty"))?;
    let alg = int(3).ok_or_else(|| bad("COSE key without alg"))?;
    match (kty, alg) {
        (2, COSE_ES256) => {
            let (x, y) = (bytes(-2), bytes(-3));
            match (int(-1), x, y) {
                (Some(1), Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                    let mut point = vec![4u8];
                    point.extend_from_slice(x);
                    point.extend_from_slice(y);
                    Ok((PublicJwk::from_p256_point(kid, &point)?, alg))
                }
                _ => Err(bad("ES256 key must be a P-256 point")),
            }
        }
        (1, COSE_EDDSA) => match (int(-1), bytes(-2)) {
            (Some(6), Some(x)) if x.len() == 32 => Ok((PublicJwk::from_ed25519(kid, x)?, alg)),
            _ => Err(bad("EdDSA key must be Ed25519")),
        },
        (3, COSE_RS256) => match (bytes(-1), bytes(-2)) {
            (Some(n), Some(e)) if n.len() >= 256 => Ok((PublicJwk::from_rsa(kid, n, e), alg)),
            _ => Err(bad("RS256 key must have a modulus of at least 2048 bits")),
        },
        _ => Err(bad(
            "credential algorithm not accepted (ES256, EdDSA, RS256)",
        )),
    }
}

/// Verify a WebAuthn signature (ECDSA signatures are DER-encoded, unlike JWS).
fn verify_webauthn_sig(key: &PublicJwk, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    let get = |v: &Option<String>| -> Result<Vec<u8>, CryptoError> {
        b64_decode("credential key", v.as_deref().unwrap_or(""))
    };
    let ok = match key.kty.as_str() {
        "EC" => {
            let mut point = vec![4u8];
            point.extend_from_slice(&get(&key.x)?);
            point.extend_from_slice(&get(&key.y)?);
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, point).verify(msg, sig)
        }
        "OKP" => UnparsedPublicKey::new(&signature::ED25519, get(&key.x)?).verify(msg, sig),
        "RSA" => {
            let (n, e) = (get(&key.n)?, get(&key.e)?);
            signature::RsaPublicKeyComponents { n: &n, e: &e }.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                msg,
                sig,
            )
        }
        _ => return Err(bad("unknown key type")),
    };
    ok.map_err(|_| CryptoError::Verify("passkey signature"))
}

#[cfg(any(test, feature = "soft-authenticator"))]
pub mod soft;
#[cfg(test)]
mod tests;
