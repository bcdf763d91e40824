//! Issue 16, finding 3, on the platform's side: fifty evaluations of a device's blinded PIN at
//! once get no more than the five tries the limit allows, and the device is locked; someone
//! without the app home (its unseal token) can spend none; the evaluation is the OPRF of the
//! device's own key. On SQLite and PostgreSQL.
use super::registration::sandbox_enrol;
use super::test_phone::{identity, new_device};
use super::unseal;
use crate::error::DomainError;
use crate::testing::platform;
use iamsmart_crypto::device::DeviceKey;
use iamsmart_crypto::oprf;
use iamsmart_crypto::rng::SystemRng;
use iamsmart_proto::ids::DeviceId;

#[tokio::test]
async fn fifty_tries_at_once_get_five_evaluations_and_lock_the_device() {
    let t = platform().await;
    let key = DeviceKey::generate().unwrap();
    let e = sandbox_enrol(
        &t.p.identity,
        &identity(60),
        iamsmart_proto::profile::Level::Basic,
        &new_device(&key, None),
    )
    .await
    .unwrap();
    // The app protects its home: a random token, its hash kept by the platform.
    let token = [7u8; 32];
    let token_hash = iamsmart_crypto::hash::sha256(&token);
    let b = oprf::blind(b"246813", &SystemRng).unwrap();
    let ev = unseal::setup(&t.p.identity, &e.device_id, &token_hash, &b.message)
        .await
        .unwrap();
    let first = oprf::finalize(&b, b"246813", &ev).unwrap();
    // One evaluation, unblinded: the same PIN gives the same output, another PIN another.
    let run = |pin: &'static [u8]| {
        let p = t.p.clone();
        let id = e.device_id.clone();
        async move {
            let b = oprf::blind(pin, &SystemRng).unwrap();
            let ev = unseal::evaluate(
                &p.identity,
                &DeviceId::parse(&id).unwrap(),
                &token,
                &b.message,
                None,
            )
            .await
            .unwrap();
            oprf::finalize(&b, pin, &ev).unwrap()
        }
    };
    assert_eq!(first, run(b"246813").await);
    assert_ne!(first, run(b"135792").await);
    assert!(matches!(
        unseal::evaluate(
            &t.p.identity,
            &DeviceId::parse(&e.device_id).unwrap(),
            &token,
            b"not a point",
            None
        )
        .await,
        Err(DomainError::Invalid { .. })
    ));
    assert_eq!(
        unseal::tries_left(&t.p.identity, &e.device_id)
            .await
            .unwrap(),
        2
    );
    // Without the home's token, tries cannot be spent: the device cannot be locked remotely.
    for _ in 0..10 {
        assert!(matches!(
            unseal::evaluate(
                &t.p.identity,
                &DeviceId::parse(&e.device_id).unwrap(),
                &[8u8; 32],
                &b.message,
                None
            )
            .await,
            Err(DomainError::Refused {
                code: "unseal-token",
                ..
            })
        ));
    }
    assert_eq!(
        unseal::tries_left(&t.p.identity, &e.device_id)
            .await
            .unwrap(),
        2
    );
    unseal::setup(&t.p.identity, &e.device_id, &token_hash, &b.message)
        .await
        .unwrap();
    assert_eq!(
        unseal::tries_left(&t.p.identity, &e.device_id)
            .await
            .unwrap(),
        5
    );

    let blinded = oprf::blind(b"000000", &SystemRng).unwrap().message;
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (p, id, b) = (t.p.clone(), e.device_id.clone(), blinded.clone());
            tokio::spawn(async move {
                unseal::evaluate(
                    &p.identity,
                    &DeviceId::parse(&id).unwrap(),
                    &token,
                    &b,
                    None,
                )
                .await
            })
        })
        .collect();
    let mut evaluated = 0;
    for c in calls {
        match c.await.unwrap() {
            Ok(_) => evaluated += 1,
            Err(DomainError::DeviceRevoked) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(evaluated, 5);
    let status: String = sqlx::query_scalar("SELECT status FROM devices WHERE id = $1")
        .bind(&e.device_id)
        .fetch_one(t.p.db.reader())
        .await
        .unwrap();
    assert_eq!(status, "revoked", "locked");
    assert!(matches!(
        unseal::evaluate(
            &t.p.identity,
            &DeviceId::parse("d_unknown000000000").unwrap(),
            &token,
            &blinded,
            None
        )
        .await,
        Err(DomainError::Refused { .. })
    ));
}
