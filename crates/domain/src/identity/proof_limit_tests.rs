//! Failed proofs are counted per HKID and source (issue 16, finding 9): someone who knows a
//! resident's HKID and fails face checks with it locks out their own device and address, not
//! the resident; the HKID as a whole takes four times as many failures from all sources
//! together; the resident is told once per window. On SQLite and PostgreSQL.
use super::*;
use crate::testing::platform;
use iamsmart_crypto::device::DeviceKey;
use iamsmart_proto::app::NewDevice;

#[tokio::test]
async fn someone_elses_failed_face_checks_do_not_lock_the_resident_out_and_the_resident_is_told() {
    let t = platform().await;
    let p = &t.p;
    let who = VerifiedIdentity {
        hkid: Hkid::with_check_digit("C", "400001").unwrap().display(),
        name_en: "HO, Ka Yan".into(),
        name_zh: None,
        date_of_birth: "1980-02-02".into(),
        gender: Some("F".into()),
    };
    let key = DeviceKey::generate().unwrap();
    let enrolled = sandbox_enrol(
        &p.identity,
        &who,
        iamsmart_proto::profile::Level::Basic,
        &NewDevice {
            public_jwk: serde_json::to_value(key.public_jwk()).unwrap(),
            name: "Ho's phone".into(),
            user_verification: None,
        },
    )
    .await
    .unwrap();
    let notices = || async {
        crate::notify::inbox::unread_count(p, &enrolled.resident_id)
            .await
            .unwrap()
    };
    let before = notices().await;
    let hkid = Hkid::parse(&who.hkid).unwrap();
    let max = p.identity.policy.failures.max_failures;
    let attacker = attempt_keys(&p.identity, &hkid, "attacker-device", "203.0.113.9");
    let resident = attempt_keys(&p.identity, &hkid, "resident-device", "198.51.100.7");
    for _ in 0..max {
        record_proof_failure(&p.identity, &attacker).await.unwrap();
    }
    assert!(matches!(
        guard::check_attempts(p, &attacker.all()).await,
        Err(DomainError::TooManyAttempts { .. })
    ));
    guard::check_attempts(p, &resident.all())
        .await
        .expect("the resident's own phone is not locked out");
    assert_eq!(notices().await, before + 1, "the resident is told, once");

    // From many devices and addresses together, the HKID is bounded all the same.
    for i in 0..max * (HKID_WIDE_FACTOR - 1) {
        let k = attempt_keys(
            &p.identity,
            &hkid,
            &format!("device-{i}"),
            &format!("192.0.2.{i}"),
        );
        guard::check_attempts(p, &k.all()).await.unwrap();
        record_proof_failure(&p.identity, &k).await.unwrap();
    }
    assert!(matches!(
        guard::check_attempts(p, &resident.all()).await,
        Err(DomainError::TooManyAttempts { .. })
    ));
    assert_eq!(notices().await, before + 1, "told once per window");

    // Another HKID is not touched.
    let other = Hkid::with_check_digit("C", "400002").unwrap();
    guard::check_attempts(
        p,
        &attempt_keys(&p.identity, &other, "device-0", "192.0.2.0").all(),
    )
    .await
    .expect("only that HKID");
}
