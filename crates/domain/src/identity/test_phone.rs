//! A phone in domain tests: its key, ids and session, and the signed calls it makes.
use super::devices::{self, DeviceCaller, SignedRequest};
use super::user_verification::SessionRule;
use super::Identity;
use crate::env::Env;
use crate::error::DomainError;
use iamsmart_crypto::device::DeviceKey;
use iamsmart_proto::app::{NewDevice, RequestClaims, UserVerificationSetup, DEVICE_REQUEST_TYP};
use iamsmart_proto::profile::VerifiedIdentity;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) fn identity(n: u32) -> VerifiedIdentity {
    VerifiedIdentity {
        hkid: crate::identity::hkid::Hkid::with_check_digit("A", &format!("{:06}", 700_000 + n))
            .unwrap()
            .display(),
        name_en: "CHAN, Tai Man".into(),
        name_zh: None,
        date_of_birth: "1980-02-29".into(),
        gender: Some("M".into()),
    }
}

/// A phone of the test: its key, ids and session.
pub(crate) struct Phone {
    pub key: DeviceKey,
    pub device_id: String,
    pub resident_id: String,
    pub session: Option<String>,
}

static JTI: AtomicU64 = AtomicU64::new(1);

impl Phone {
    /// `key` bound as the first phone of a new resident, `identity(n)` at `level`, proving the
    /// resident's presence with `setup` (none: the device key alone).
    pub async fn enrolled(
        p: &Identity,
        key: DeviceKey,
        n: u32,
        level: iamsmart_proto::profile::Level,
        setup: Option<UserVerificationSetup>,
    ) -> Phone {
        let e =
            super::registration::sandbox_enrol(p, &identity(n), level, &new_device(&key, setup))
                .await
                .unwrap();
        Phone {
            key,
            device_id: e.device_id,
            resident_id: e.resident_id,
            session: None,
        }
    }

    pub fn sign(&self, p: &Env, method: &str, path: &str, body: &[u8]) -> String {
        let claims = RequestClaims {
            htm: method.into(),
            htp: path.into(),
            iat: p.clock.now_ms() / 1000,
            jti: format!("jti-{:016}", JTI.fetch_add(1, Ordering::Relaxed)),
            bh: crate::connector::body_hash(body),
            aud: None,
            iss: None,
        };
        self.key
            .sign_jws(
                DEVICE_REQUEST_TYP,
                &self.device_id,
                &serde_json::to_vec(&claims).unwrap(),
            )
            .unwrap()
    }

    /// Authenticate a call as the platform does for the app API.
    pub async fn call(&self, p: &Identity, rule: SessionRule) -> Result<DeviceCaller, DomainError> {
        let sig = self.sign(p, "GET", "/app/v1/me", b"");
        devices::authenticate_with(
            p,
            &SignedRequest {
                signature: Some(&sig),
                method: "GET",
                path: "/app/v1/me",
                body: b"",
                session: self.session.as_deref(),
            },
            rule,
        )
        .await
    }

    pub fn caller(&self) -> DeviceCaller {
        DeviceCaller {
            device_id: self.device_id.clone(),
            resident_id: self.resident_id.clone(),
        }
    }
}

pub(crate) fn new_device(key: &DeviceKey, setup: Option<UserVerificationSetup>) -> NewDevice {
    NewDevice {
        public_jwk: serde_json::to_value(key.public_jwk()).unwrap(),
        name: "Test phone".into(),
        user_verification: setup,
    }
}
