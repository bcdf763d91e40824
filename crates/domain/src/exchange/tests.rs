//! Consent lifetimes with a fake clock: expiry stops fetches, retention is enforced by the purge.
use super::consents::ConsentStatus;
use super::{consents, fetch};
use crate::error::DomainError;
use crate::oidc::clients;
use crate::testing::{platform, TestPlatform};
use iamsmart_proto::ids::DataConsentId;

const DAY: i64 = 86_400_000;

async fn requester(t: &TestPlatform) -> clients::Client {
    t.service("Sample Bank", "bank.example").await
}

// The consents below belong to a resident the test registers (`me`); `r_other` is nobody's id.

/// A consent id for a test, readable: `dc_` and `name` padded to the form the platform mints.
fn dc(name: &str) -> DataConsentId {
    DataConsentId::parse(&format!("dc_{name:0<22}")).unwrap()
}

async fn active_consent(
    t: &TestPlatform,
    resident: &str,
    client: &str,
    id: &DataConsentId,
    valid_days: i64,
    data_life_days: i64,
) {
    let now = t.p.clock.now_ms();
    sqlx::query(
        "INSERT INTO data_consents (id, resident_id, client_id, approval_id, items, purpose_code, purpose_text, fetch_type, valid_days, data_life_days, status, starts_at, expires_at, artefact, fetches, created_at, updated_at, purge_at)
         VALUES ($1, $8, $2, 'ar_0000000000000000000000', '[{\"provider\":\"ird\",\"item\":\"salaries_tax\"}]', 'credit-assessment', 'Mortgage application', 'once', $3, $4, 'ACTIVE', $5, $6, 'artefact', 0, $5, $5, $7)",
    )
    .bind(id)
    .bind(client)
    .bind(valid_days)
    .bind(data_life_days)
    .bind(now)
    .bind(now + valid_days * DAY)
    .bind(now + (valid_days + data_life_days) * DAY)
    .bind(resident)
    .execute(t.p.db.writer())
    .await
    .unwrap();
}

async fn exists(t: &TestPlatform, id: &DataConsentId) -> bool {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM data_consents WHERE id = $1")
        .bind(id)
        .fetch_one(t.p.db.reader())
        .await
        .unwrap();
    n == 1
}

#[tokio::test]
async fn expired_consents_stop_working_and_are_erased_after_their_retention() {
    let t = platform().await;
    let bank = requester(&t).await;
    let me = t.resident("A123456(3)").await;
    active_consent(&t, &me, &bank.id, &dc("expiring"), 2, 7).await;
    assert_eq!(
        consents::get(&t.p.exchange, &dc("expiring"))
            .await
            .unwrap()
            .status,
        ConsentStatus::Active
    );

    t.clock.advance(2 * DAY + 1);
    let v = consents::get(&t.p.exchange, &dc("expiring")).await.unwrap();
    assert_eq!(
        v.status,
        ConsentStatus::Expired,
        "past its end, a consent expires"
    );
    let e = fetch::fetch(
        &t.p.exchange,
        &bank,
        &dc("expiring"),
        "credit-assessment",
        &[],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::Refused {
                code: "consent-not-active",
                ..
            }
        ),
        "{e:?}"
    );
    // The refusal is in the message log (metadata only).
    let (outcome, detail): (String, Option<String>) = sqlx::query_as(
        "SELECT outcome, detail FROM exchange_log WHERE consent_id = 'dc_expiring00000000000000'",
    )
    .fetch_one(t.p.db.reader())
    .await
    .unwrap();
    assert_eq!(outcome, "refused");
    assert_eq!(detail.as_deref(), Some("consent not active"));

    // The record stays while the requester may keep data fetched under it ...
    t.clock.advance(7 * DAY - 1000);
    assert_eq!(consents::purge(&t.p.exchange).await.unwrap(), 0);
    assert!(exists(&t, &dc("expiring")).await);
    // ... and is erased, with its message log, once that has passed.
    t.clock.advance(2000);
    assert_eq!(consents::purge(&t.p.exchange).await.unwrap(), 1);
    assert!(!exists(&t, &dc("expiring")).await);
    let logs: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM exchange_log WHERE consent_id = 'dc_expiring00000000000000'",
    )
    .fetch_one(t.p.db.reader())
    .await
    .unwrap();
    assert_eq!(logs, 0);
    // The audit trail of the consent's life stays.
    let audited = crate::testing::audit_count(&t.p.db, "data_consent.status", None).await;
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn paused_consents_are_kept_revoked_ones_follow_their_retention() {
    let t = platform().await;
    let bank = requester(&t).await;
    let me = t.resident("A123456(3)").await;
    active_consent(&t, &me, &bank.id, &dc("paused"), 365, 0).await;
    active_consent(&t, &me, &bank.id, &dc("revoked"), 365, 3).await;
    consents::resident_action(&t.p.exchange, &me, &dc("paused"), "pause")
        .await
        .unwrap();
    let e = consents::resident_action(&t.p.exchange, "r_other", &dc("revoked"), "revoke")
        .await
        .unwrap_err();
    assert!(
        matches!(e, DomainError::NotFound),
        "another resident's consent is not found"
    );
    assert_eq!(
        consents::resident_action(&t.p.exchange, &me, &dc("revoked"), "revoke")
            .await
            .unwrap()
            .status,
        ConsentStatus::Revoked
    );
    // A paused consent refuses fetches, and is not purged while it can be resumed.
    let e = fetch::fetch(
        &t.p.exchange,
        &bank,
        &dc("paused"),
        "credit-assessment",
        &[],
    )
    .await
    .unwrap_err();
    assert!(matches!(
        e,
        DomainError::Refused {
            code: "consent-not-active",
            ..
        }
    ));
    // Revoked cannot be resumed.
    assert!(
        consents::resident_action(&t.p.exchange, &me, &dc("revoked"), "resume")
            .await
            .is_err()
    );
    t.clock.advance(3 * DAY + 1);
    assert_eq!(consents::purge(&t.p.exchange).await.unwrap(), 1);
    assert!(exists(&t, &dc("paused")).await);
    assert!(!exists(&t, &dc("revoked")).await);
    assert_eq!(
        consents::resident_action(&t.p.exchange, &me, &dc("paused"), "resume")
            .await
            .unwrap()
            .status,
        ConsentStatus::Active
    );
}

#[tokio::test]
async fn a_purpose_that_does_not_match_is_refused() {
    let t = platform().await;
    let bank = requester(&t).await;
    let me = t.resident("A123456(3)").await;
    active_consent(&t, &me, &bank.id, &dc("purpose"), 30, 30).await;
    let e = fetch::fetch(&t.p.exchange, &bank, &dc("purpose"), "marketing", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::Refused {
                code: "purpose-mismatch",
                ..
            }
        ),
        "{e:?}"
    );
    let item = consents::ItemRef {
        provider: "hd".into(),
        item: "public_rental_tenancy".into(),
    };
    let e = fetch::fetch(
        &t.p.exchange,
        &bank,
        &dc("purpose"),
        "credit-assessment",
        &[item],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::Refused {
                code: "item-not-consented",
                ..
            }
        ),
        "{e:?}"
    );
    // Another requester does not see the consent at all.
    let other = requester(&t).await;
    let e = fetch::fetch(
        &t.p.exchange,
        &other,
        &dc("purpose"),
        "credit-assessment",
        &[],
    )
    .await
    .unwrap_err();
    assert!(matches!(e, DomainError::NotFound));
}

#[tokio::test]
async fn a_recurring_consent_allows_its_fetches_per_day_then_says_when_to_come_back() {
    let t = platform().await;
    let bank = requester(&t).await;
    let me = t.resident("A123456(3)").await;
    active_consent(&t, &me, &bank.id, &dc("daily"), 30, 30).await;
    sqlx::query("UPDATE data_consents SET fetch_type = 'recurring', frequency_per_day = 1 WHERE id = 'dc_daily00000000000000000'")
        .execute(t.p.db.writer())
        .await
        .unwrap();
    // One fetch two hours after the consent started uses up its first day.
    t.clock.advance(2 * 3_600_000);
    sqlx::query(
        "INSERT INTO consent_fetch_slots (consent_id, slot, claimed_at) VALUES ('dc_daily00000000000000000', 0, $1)",
    )
    .bind(t.p.clock.now_ms())
    .execute(t.p.db.writer())
    .await
    .unwrap();
    let e = fetch::fetch(&t.p.exchange, &bank, &dc("daily"), "credit-assessment", &[])
        .await
        .unwrap_err();
    match e {
        DomainError::LimitReached {
            retry_after_secs, ..
        } => assert_eq!(retry_after_secs, 22 * 3600),
        other => panic!("{other:?}"),
    }
    // The refusal is in the resident's record.
    let refused: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM exchange_log WHERE consent_id = 'dc_daily00000000000000000' AND outcome = 'refused'",
    )
    .fetch_one(t.p.db.reader())
    .await
    .unwrap();
    assert_eq!(refused, 1);
}

#[tokio::test]
async fn consents_nobody_reads_still_expire_and_are_erased() {
    let t = platform().await;
    let bank = requester(&t).await;
    let me = t.resident("A123456(3)").await;
    active_consent(&t, &me, &bank.id, &dc("unread"), 2, 1).await;
    t.clock.advance(2 * DAY + 1);
    // The purge settles it (EXPIRED, kept for its data life from the end of the consent) ...
    assert_eq!(consents::purge(&t.p.exchange).await.unwrap(), 0);
    assert_eq!(
        consents::get(&t.p.exchange, &dc("unread"))
            .await
            .unwrap()
            .status,
        ConsentStatus::Expired
    );
    // ... and erases it when that has passed.
    t.clock.advance(DAY);
    assert_eq!(consents::purge(&t.p.exchange).await.unwrap(), 1);
    assert!(!exists(&t, &dc("unread")).await);
}

#[tokio::test]
async fn a_resident_changes_only_their_own_consents_and_only_in_known_ways() {
    let t = platform().await;
    let bank = requester(&t).await;
    let me = t.resident("A123456(3)").await;
    active_consent(&t, &me, &bank.id, &dc("mine"), 30, 30).await;
    // Someone else's id: as if it did not exist, and nothing about it changes.
    let e = consents::resident_action(&t.p.exchange, "r_other", &dc("mine"), "revoke")
        .await
        .unwrap_err();
    assert!(matches!(e, DomainError::NotFound), "{e:?}");
    let e = consents::resident_action(&t.p.exchange, &me, &dc("mine"), "explode")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::Invalid {
                field: "action",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        consents::get(&t.p.exchange, &dc("mine"))
            .await
            .unwrap()
            .status,
        ConsentStatus::Active
    );
    let v = consents::resident_action(&t.p.exchange, &me, &dc("mine"), "pause")
        .await
        .unwrap();
    assert_eq!(v.status, ConsentStatus::Paused);
    // Pausing twice is refused with a reason, not ignored.
    let e = consents::resident_action(&t.p.exchange, &me, &dc("mine"), "pause")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::Refused {
                code: "consent-state",
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn fifty_fetches_at_once_get_exactly_the_consents_allowance() {
    let t = platform().await;
    let bank = requester(&t).await;
    let me = t.resident("A123456(3)").await;
    active_consent(&t, &me, &bank.id, &dc("once"), 30, 30).await;
    active_consent(&t, &me, &bank.id, &dc("thrice"), 30, 30).await;
    sqlx::query("UPDATE data_consents SET fetch_type = 'recurring', frequency_per_day = 3 WHERE id = 'dc_thrice0000000000000000'")
        .execute(t.p.db.writer())
        .await
        .unwrap();
    let claims = |id: DataConsentId| {
        let p = t.p.clone();
        let bank = bank.clone();
        async move {
            let v = consents::for_client(&p.exchange, &bank, &id).await.unwrap();
            let mut tasks = Vec::new();
            for _ in 0..50 {
                let (p, v) = (p.clone(), v.clone());
                tasks.push(tokio::spawn(async move {
                    let now = p.clock.now_ms();
                    fetch::claim_slot(&p, &v, now).await.unwrap().is_ok()
                }));
            }
            let mut won = 0;
            for task in tasks {
                won += usize::from(task.await.unwrap());
            }
            won
        }
    };
    assert_eq!(claims(dc("once")).await, 1, "once: one fetch");
    assert_eq!(claims(dc("thrice")).await, 3, "three a day");
    assert_eq!(claims(dc("once")).await, 0, "once stays once");
    t.clock.advance(DAY);
    assert_eq!(claims(dc("thrice")).await, 3, "three more the next day");
    assert_eq!(
        claims(dc("once")).await,
        0,
        "once stays once the next day too"
    );
}

#[test]
fn consent_states_have_one_name_each_and_only_live_ones_change() {
    for s in ConsentStatus::ALL {
        assert_eq!(ConsentStatus::parse(s.as_str()), Some(s));
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::Value::String(s.as_str().into())
        );
    }
    assert_eq!(ConsentStatus::parse("active"), None);
    let can = |f: fn(ConsentStatus) -> bool| -> Vec<ConsentStatus> {
        ConsentStatus::ALL.into_iter().filter(|s| f(*s)).collect()
    };
    assert_eq!(can(ConsentStatus::can_pause), [ConsentStatus::Active]);
    assert_eq!(can(ConsentStatus::can_resume), [ConsentStatus::Paused]);
    assert_eq!(
        can(ConsentStatus::can_revoke),
        [
            ConsentStatus::Pending,
            ConsentStatus::Active,
            ConsentStatus::Paused
        ]
    );
}

#[tokio::test]
async fn the_database_stores_only_the_consent_states_the_program_knows() {
    let t = platform().await;
    let bank = requester(&t).await;
    let me = t.resident("A123456(3)").await;
    active_consent(&t, &me, &bank.id, &dc("states"), 2, 7).await;
    for s in ConsentStatus::ALL {
        sqlx::query("UPDATE data_consents SET status = $1 WHERE id = 'dc_states0000000000000000'")
            .bind(s.as_str())
            .execute(t.p.db.writer())
            .await
            .unwrap_or_else(|e| panic!("{s} refused: {e}"));
    }
    for bad in ["active", "GONE", ""] {
        let r = sqlx::query(
            "UPDATE data_consents SET status = $1 WHERE id = 'dc_states0000000000000000'",
        )
        .bind(bad)
        .execute(t.p.db.writer())
        .await;
        assert!(r.is_err(), "{bad:?} was stored");
    }
}
