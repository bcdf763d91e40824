//! Issue 16, finding 6: a phone that self-registered with an HKID whose account is on another
//! phone waits for the cool-off; the current phone is told and can refuse; after the cool-off
//! the new phone's first call moves the account (once, however many calls arrive at once) and
//! the account is iAM Smart (basic) again. On a fake clock, on SQLite and PostgreSQL.
use super::devices;
use super::registration::sandbox_enrol;
use super::test_phone::{identity, new_device, Phone};
use super::user_verification::SessionRule;
use crate::audit;
use crate::error::DomainError;
use crate::testing::{platform, TestPlatform};
use iamsmart_crypto::device::DeviceKey;
use iamsmart_proto::ids::DeviceId;

/// A phone bound to the resident as self-registration binds it when another phone holds the
/// account (the face check and the registry are `tests/face.rs`'s): bound, then held.
async fn waiting_phone(t: &TestPlatform, resident_id: &str, name: &str) -> Phone {
    let key = DeviceKey::generate().unwrap();
    let jwk = devices::check_new_device(&new_device(&key, None)).unwrap();
    let now = t.p.clock.now_ms();
    let subject = format!("resident:{resident_id}");
    let stamp = audit::Stamp {
        at: now,
        actor: &subject,
        request_id: None,
    };
    let mut tx = t.p.db.begin().await.unwrap();
    let device_id = devices::bind(&t.p, &mut tx, resident_id, &jwk, name, None, &stamp)
        .await
        .unwrap();
    let until = super::takeover::hold(
        &t.p.identity,
        &mut tx,
        resident_id,
        &device_id,
        name,
        &stamp,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(until, now + t.p.identity.policy.takeover_cool_off_ms);
    Phone {
        key,
        device_id,
        resident_id: resident_id.into(),
        session: None,
    }
}

async fn level(t: &TestPlatform, resident_id: &str) -> String {
    sqlx::query_scalar("SELECT level FROM residents WHERE id = $1")
        .bind(resident_id)
        .fetch_one(t.p.db.reader())
        .await
        .unwrap()
}

async fn notices(t: &TestPlatform, resident_id: &str) -> i64 {
    crate::notify::inbox::unread_count(&t.p, resident_id)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_phone_waits_the_old_one_can_refuse_and_the_move_happens_once() {
    let t = platform().await;
    let key = DeviceKey::generate().unwrap();
    let e = sandbox_enrol(
        &t.p.identity,
        &identity(40),
        iamsmart_proto::profile::Level::Plus,
        &new_device(&key, None),
    )
    .await
    .unwrap();
    let old = Phone {
        key,
        device_id: e.device_id,
        resident_id: e.resident_id.clone(),
        session: None,
    };
    let before = notices(&t, &e.resident_id).await;

    // The new phone waits; the old one works and is told.
    let intruder = waiting_phone(&t, &e.resident_id, "Unknown phone").await;
    assert!(matches!(
        intruder.call(&t.p.identity, SessionRule::None).await,
        Err(DomainError::Refused {
            code: "takeover-pending",
            ..
        })
    ));
    old.call(&t.p.identity, SessionRule::None).await.unwrap();
    assert_eq!(notices(&t, &e.resident_id).await, before + 1);
    let list = devices::list(&t.p, &e.resident_id, Some(&old.device_id))
        .await
        .unwrap();
    let waiting = list.iter().find(|d| d.id == intruder.device_id).unwrap();
    assert_eq!(waiting.status, iamsmart_proto::app::DeviceStatus::Pending);
    assert_eq!(
        waiting.activates_at,
        Some(t.p.clock.now_ms() + t.p.identity.policy.takeover_cool_off_ms)
    );

    // The resident refuses from the old phone: the new one never gets in, even after the wait.
    devices::revoke(
        &t.p,
        &old.caller(),
        &DeviceId::parse(&intruder.device_id).unwrap(),
        None,
    )
    .await
    .unwrap();
    t.clock
        .advance(t.p.identity.policy.takeover_cool_off_ms + 1);
    assert!(matches!(
        intruder.call(&t.p.identity, SessionRule::None).await,
        Err(DomainError::DeviceRevoked)
    ));
    old.call(&t.p.identity, SessionRule::None).await.unwrap();
    assert_eq!(level(&t, &e.resident_id).await, "plus");

    // A phone the resident does not refuse takes over when the wait ends: fifty calls at once,
    // one move; the old phone stops, the account is basic until a new face check.
    let new = std::sync::Arc::new(waiting_phone(&t, &e.resident_id, "New phone").await);
    t.clock
        .advance(t.p.identity.policy.takeover_cool_off_ms - 1);
    assert!(
        new.call(&t.p.identity, SessionRule::None).await.is_err(),
        "not yet"
    );
    t.clock.advance(1);
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (p, new) = (t.p.clone(), new.clone());
            tokio::spawn(async move { new.call(&p.identity, SessionRule::None).await })
        })
        .collect();
    for c in calls {
        c.await.unwrap().expect("the new phone gets in");
    }
    let moves = crate::testing::audit_count(&t.p.db, "device.takeover_completed", None).await;
    assert_eq!(moves, 1);
    assert!(matches!(
        old.call(&t.p.identity, SessionRule::None).await,
        Err(DomainError::DeviceRevoked)
    ));
    assert_eq!(level(&t, &e.resident_id).await, "basic");
}
