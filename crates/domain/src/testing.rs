//! Helpers for this crate's tests and for other crates' tests: a platform on a fresh test
//! database with a file key store, a fake clock and a seeded random source.
use crate::clock::FakeClock;
use crate::keys::KeyPolicy;
use crate::Platform;
use iamsmart_crypto::keystore::file::FileKeyStore;
use iamsmart_crypto::keystore::KeyStore;
use iamsmart_crypto::rng::SeededRng;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A platform for tests, with handles on its clock and database.
pub struct TestPlatform {
    /// The platform.
    pub p: Platform,
    /// Its clock.
    pub clock: Arc<FakeClock>,
    /// Its key store.
    pub store: Arc<dyn KeyStore>,
    /// The database (kept alive for the test).
    pub tdb: iamsmart_testkit::TestDb,
}

/// Start time of test clocks: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;

/// A fresh platform on the test engine.
pub async fn platform() -> TestPlatform {
    platform_with(Arc::new(FileKeyStore::from_master_key(Zeroizing::new(
        [7u8; 32],
    ))))
    .await
}

/// A fresh platform on the test engine with the given key store.
pub async fn platform_with(store: Arc<dyn KeyStore>) -> TestPlatform {
    let tdb = iamsmart_testkit::TestDb::new()
        .await
        .expect("test database");
    let clock = Arc::new(FakeClock::at(T0));
    let p = Platform::start(
        tdb.db.clone(),
        store.clone(),
        clock.clone(),
        Arc::new(SeededRng::new(42)),
        KeyPolicy {
            publish_lead_ms: 60_000,
            token_max_lifetime_ms: 3_600_000,
        },
    )
    .await
    .expect("platform start");
    TestPlatform {
        p,
        clock,
        store,
        tdb,
    }
}

impl TestPlatform {
    /// A resident the operator created with this HKID (born 1980-02-29, iAM Smart); their id.
    pub async fn resident(&self, hkid: &str) -> String {
        crate::identity::create(
            &self.p.identity,
            crate::identity::NewResident {
                hkid: hkid.into(),
                name_en: "CHAN, Tai Man".into(),
                name_zh: None,
                date_of_birth: "1980-02-29".into(),
                gender: None,
                profile: None,
                level: None,
            },
            "operator:test",
            None,
        )
        .await
        .expect("a test resident")
        .id
    }

    /// A service the operator registered: basic profile, a secret, one redirect URI at `host`.
    pub async fn service(&self, name: &str, host: &str) -> crate::oidc::clients::Client {
        let reg = crate::oidc::clients::register(
            &self.p.oidc,
            crate::oidc::clients::ClientMetadata::for_profile(
                name,
                vec![format!("https://{host}/cb")],
                crate::oidc::clients::ClientProfile::Basic,
            ),
            "operator:test",
            true,
        )
        .await
        .expect("a test service");
        crate::oidc::clients::get(&self.p.oidc, &reg.client_id)
            .await
            .expect("the service's registration")
            .expect("the service just registered")
    }
}

/// The kinds of the audit log's entries that start with `prefix`, in the log's order (`%` and
/// `_` are not special).
pub async fn audit_kinds(db: &iamsmart_store::Db, prefix: &str) -> Vec<String> {
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM audit_log ORDER BY seq")
        .fetch_all(db.reader())
        .await
        .expect("audit kinds");
    kinds
        .into_iter()
        .filter(|k| k.starts_with(prefix))
        .collect()
}

/// How many audit entries of `kind` there are (about `subject` only, if given).
pub async fn audit_count(db: &iamsmart_store::Db, kind: &str, subject: Option<&str>) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE kind = $1 AND ($2 IS NULL OR subject = $2)",
    )
    .bind(kind)
    .bind(subject)
    .fetch_one(db.reader())
    .await
    .expect("audit count")
}

/// Cut the audit log to its first `m` entries as someone with write access to the database
/// would (entries, the stored subtrees over them, the heads over them and the count): what
/// witnesses must notice (issue 16, finding 4).
pub async fn cut_off_audit_log(db: &iamsmart_store::Db, m: u64) {
    let w = db.writer();
    sqlx::query("DELETE FROM audit_log WHERE seq >= $1")
        .bind(m as i64)
        .execute(w)
        .await
        .expect("delete entries");
    for level in 0..40u32 {
        sqlx::query("DELETE FROM merkle_nodes WHERE level = $1 AND idx >= $2")
            .bind(i64::from(level))
            .bind((m >> level) as i64)
            .execute(w)
            .await
            .expect("delete subtrees");
    }
    sqlx::query("DELETE FROM tree_heads WHERE tree_size > $1")
        .bind(m as i64)
        .execute(w)
        .await
        .expect("delete heads");
    sqlx::query("UPDATE audit_head SET size = $1 WHERE id = 1")
        .bind(m as i64)
        .execute(w)
        .await
        .expect("set the count");
}

/// A resident's phone in tests: the device key and who it signs for.
pub struct TestPhone {
    /// The device key.
    pub key: iamsmart_crypto::device::DeviceKey,
    /// The device and its resident.
    pub caller: crate::identity::devices::DeviceCaller,
}

impl TestPlatform {
    /// A resident enrolled through the sandbox with this identity and level, and their phone.
    pub async fn enrolled_phone(
        &self,
        who: &iamsmart_proto::profile::VerifiedIdentity,
        level: iamsmart_proto::profile::Level,
    ) -> TestPhone {
        let key = iamsmart_crypto::device::DeviceKey::generate().expect("a device key");
        let e = crate::identity::registration::sandbox_enrol(
            &self.p.identity,
            who,
            level,
            &iamsmart_proto::app::NewDevice {
                public_jwk: serde_json::to_value(key.public_jwk()).expect("a JWK"),
                name: "Test phone".into(),
                user_verification: None,
            },
        )
        .await
        .expect("a sandbox enrolment");
        TestPhone {
            key,
            caller: crate::identity::devices::DeviceCaller {
                device_id: e.device_id,
                resident_id: e.resident_id,
            },
        }
    }

    /// The phone answers a request (`approve` or `deny`, agreeing to `agreed`), signed as the
    /// app signs, without a selfie; the platform's answer.
    pub async fn answer_in_app(
        &self,
        phone: &TestPhone,
        id: &iamsmart_proto::ids::ApprovalId,
        decision: &str,
        agreed: serde_json::Value,
    ) -> crate::error::Result<()> {
        use crate::authn::approvals;
        use crate::guard::Spent;
        let view = approvals::open(&self.p, &phone.caller, id, Spent::new())
            .await
            .expect("the request opens");
        let claims = iamsmart_proto::app::ApprovalClaims {
            rid: view.id.clone(),
            challenge: view.challenge.clone(),
            match_code: view.match_code.clone(),
            decision: decision.into(),
            agreed,
            iat: self.p.clock.now_ms() / 1000,
        };
        let signed = phone
            .key
            .sign_jws(
                iamsmart_proto::app::APPROVAL_TYP,
                &phone.caller.device_id,
                &serde_json::to_vec(&claims).expect("claims"),
            )
            .expect("a signature");
        approvals::decide(
            &self.p.approvals,
            &self.p.identity,
            &phone.caller,
            id,
            &iamsmart_proto::app::Decision {
                signed,
                selfie: None,
                user_verification: None,
            },
            "127.0.0.1",
            None,
            Spent::new(),
        )
        .await
        .map(|_| ())
    }
}
