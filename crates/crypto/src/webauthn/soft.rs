//! A software passkey for tests: a P-256 WebAuthn authenticator that answers creation and
//! request options as a browser would, with knobs to produce the wrong things on purpose.
//! Never used by the platform itself (feature `soft-authenticator`, for tests).
use super::{AssertionPart, AttestationPart, AuthenticationResponse, RegistrationResponse};
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ciborium::Value as Cbor;
use std::sync::Mutex;

struct Credential {
    id: Vec<u8>,
    pkcs8: Vec<u8>,
    user_handle: Vec<u8>,
    rp_id: String,
    counter: u32,
}

/// A software authenticator holding any number of discoverable P-256 credentials.
pub struct SoftPasskey {
    creds: Mutex<Vec<Credential>>,
    /// The origin the "browser" reports.
    pub origin: String,
    /// Report user verification (the UV flag).
    pub user_verified: bool,
    /// Added to the counter at each use (0 models synced passkeys that keep the counter at 0).
    pub counter_step: u32,
    /// Report the credential as backup eligible and backed up (the BE and BS flags): a passkey
    /// that syncs to a cloud account.
    pub synced: bool,
}

impl std::fmt::Debug for SoftPasskey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SoftPasskey { .. }")
    }
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn text(v: &serde_json::Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_default().to_string()
}

impl SoftPasskey {
    /// An authenticator used from pages of `origin`.
    pub fn new(origin: &str) -> Self {
        Self {
            creds: Mutex::new(Vec::new()),
            origin: origin.to_string(),
            user_verified: true,
            counter_step: 1,
            synced: false,
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false
        }))
        .unwrap_or_default()
    }

    fn auth_data(&self, rp_id: &str, counter: u32, attested: Option<(&[u8], &[u8])>) -> Vec<u8> {
        let mut ad = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        let mut flags = 0x01;
        if self.user_verified {
            flags |= 0x04;
        }
        if self.synced {
            flags |= 0x08 | 0x10;
        }
        if attested.is_some() {
            flags |= 0x40;
        }
        ad.push(flags);
        ad.extend_from_slice(&counter.to_be_bytes());
        if let Some((id, cose)) = attested {
            ad.extend_from_slice(&[0u8; 16]);
            let len = u16::try_from(id.len()).expect("credential ids are at most 1023 bytes");
            ad.extend_from_slice(&len.to_be_bytes());
            ad.extend_from_slice(id);
            ad.extend_from_slice(cose);
        }
        ad
    }

    /// Answer `navigator.credentials.create({publicKey: options})`.
    pub fn register(&self, options: &serde_json::Value) -> RegistrationResponse {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("key generation");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref())
            .expect("fresh key");
        let point = pair.public_key().as_ref().to_vec();
        let cose = Cbor::Map(vec![
            (Cbor::Integer(1.into()), Cbor::Integer(2.into())),
            (Cbor::Integer(3.into()), Cbor::Integer((-7).into())),
            (Cbor::Integer((-1).into()), Cbor::Integer(1.into())),
            (
                Cbor::Integer((-2).into()),
                Cbor::Bytes(point[1..33].to_vec()),
            ),
            (
                Cbor::Integer((-3).into()),
                Cbor::Bytes(point[33..].to_vec()),
            ),
        ]);
        let mut cose_bytes = Vec::new();
        ciborium::ser::into_writer(&cose, &mut cose_bytes).expect("cbor");
        let mut id = vec![0u8; 16];
        aws_lc_rs::rand::fill(&mut id).expect("rng");
        let rp_id = text(options, &["rp", "id"]);
        let user = URL_SAFE_NO_PAD
            .decode(text(options, &["user", "id"]))
            .unwrap_or_default();
        let counter = self.counter_step;
        let ad = self.auth_data(&rp_id, counter, Some((&id, &cose_bytes)));
        let att = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(ad)),
        ]);
        let mut att_bytes = Vec::new();
        ciborium::ser::into_writer(&att, &mut att_bytes).expect("cbor");
        let cdj = self.client_data("webauthn.create", &text(options, &["challenge"]));
        self.creds.lock().expect("lock").push(Credential {
            id: id.clone(),
            pkcs8: doc.as_ref().to_vec(),
            user_handle: user,
            rp_id,
            counter,
        });
        RegistrationResponse {
            id: b64(&id),
            kind: "public-key".into(),
            response: AttestationPart {
                client_data_json: b64(&cdj),
                attestation_object: b64(&att_bytes),
            },
        }
    }

    /// Answer `navigator.credentials.get({publicKey: options})` with the first credential for
    /// the RP that the options allow (any, when the list is empty).
    pub fn authenticate(&self, options: &serde_json::Value) -> Option<AuthenticationResponse> {
        let rp_id = text(options, &["rpId"]);
        let allow: Vec<String> = options["allowCredentials"]
            .as_array()
            .map(|a| a.iter().map(|c| text(c, &["id"])).collect())
            .unwrap_or_default();
        let mut creds = self.creds.lock().expect("lock");
        let cred = creds
            .iter_mut()
            .find(|c| c.rp_id == rp_id && (allow.is_empty() || allow.contains(&b64(&c.id))))?;
        cred.counter += self.counter_step;
        let ad = self.auth_data(&rp_id, cred.counter, None);
        let cdj = self.client_data("webauthn.get", &text(options, &["challenge"]));
        let mut signed = ad.clone();
        signed.extend_from_slice(digest(&SHA256, &cdj).as_ref());
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &cred.pkcs8)
            .expect("stored key");
        let sig = pair.sign(&SystemRandom::new(), &signed).expect("sign");
        Some(AuthenticationResponse {
            id: b64(&cred.id),
            kind: "public-key".into(),
            response: AssertionPart {
                client_data_json: b64(&cdj),
                authenticator_data: b64(&ad),
                signature: b64(sig.as_ref()),
                user_handle: Some(b64(&cred.user_handle)),
            },
        })
    }

    /// Set every credential's counter (to model a cloned authenticator replaying an old state).
    pub fn set_counter(&self, value: u32) {
        for c in self.creds.lock().expect("lock").iter_mut() {
            c.counter = value;
        }
    }
}
