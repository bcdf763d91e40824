//! The rules of requests waiting for approval, on the test engine with a fake clock.
use super::*;
use crate::testing::platform;

/// A login request of `client_id`, for `resident_id` or any resident who scans it.
pub(super) fn asking<'a>(resident_id: Option<&'a str>, client_id: &'a str) -> NewApproval<'a> {
    NewApproval {
        resident_id,
        kind: "login",
        client_id,
        client_name: "Test Service",
        details: serde_json::json!({ "fields": ["name"] }),
        client_vetted: true,
        service: None,
    }
}

#[tokio::test]
async fn a_request_waits_then_expires_and_the_database_refuses_a_status_the_program_does_not_know()
{
    let t = platform().await;
    let p = &t.p;
    let created = create(&p.approvals, asking(None, "svc-a")).await.unwrap();
    assert_eq!(created.match_code.len(), 4);
    assert_eq!(
        status(p, &created.id).await.unwrap().status,
        ApprovalStatus::Pending
    );
    t.clock.advance(p.identity.policy.approval_ttl_ms);
    assert_eq!(
        status(p, &created.id).await.unwrap().status,
        ApprovalStatus::Expired
    );

    // Every status the program knows can be stored; anything else is refused by the
    // database itself (CHECK on PostgreSQL, a trigger on SQLite).
    for s in ApprovalStatus::ALL {
        sqlx::query("UPDATE approvals SET status = $1 WHERE id = $2")
            .bind(s.as_str())
            .bind(&created.id)
            .execute(p.db.writer())
            .await
            .unwrap_or_else(|e| panic!("{s} refused: {e}"));
    }
    for bad in ["APPROVED", "done", ""] {
        let r = sqlx::query("UPDATE approvals SET status = $1 WHERE id = $2")
            .bind(bad)
            .bind(&created.id)
            .execute(p.db.writer())
            .await;
        assert!(r.is_err(), "{bad:?} was stored");
    }
    let r = sqlx::query(
        "INSERT INTO approvals (id, kind, client_id, client_name, details, challenge, match_code, status, created_at, expires_at)
         VALUES ('ar_x', 'login', 'c', 'n', '{}', 'ch', '0000', 'maybe', 0, 1)",
    )
    .execute(p.db.writer())
    .await;
    assert!(r.is_err(), "an insert with an unknown status was stored");
}

#[tokio::test]
async fn one_service_holds_one_place_and_a_resident_at_most_the_limit() {
    let t = platform().await;
    let p = &t.p;
    let rid = "res_1";
    create(&p.approvals, asking(Some(rid), "svc-a"))
        .await
        .unwrap();
    assert!(matches!(
        create(&p.approvals, asking(Some(rid), "svc-a")).await,
        Err(DomainError::LimitReached { .. })
    ));
    for n in 1..p.identity.policy.max_pending_approvals {
        create(&p.approvals, asking(Some(rid), &format!("svc-{n}")))
            .await
            .unwrap();
    }
    assert!(matches!(
        create(&p.approvals, asking(Some(rid), "svc-late")).await,
        Err(DomainError::TooManyAttempts { .. })
    ));
    assert_eq!(
        pending(p, rid).await.unwrap().len() as i64,
        p.identity.policy.max_pending_approvals
    );
    // Another resident is not affected; once the requests expire, places are free again.
    create(&p.approvals, asking(Some("res_2"), "svc-a"))
        .await
        .unwrap();
    t.clock.advance(p.identity.policy.approval_ttl_ms);
    assert!(pending(p, rid).await.unwrap().is_empty());
    create(&p.approvals, asking(Some(rid), "svc-a"))
        .await
        .unwrap();
}

#[tokio::test]
async fn closing_the_account_withdraws_what_waits_and_only_that() {
    let t = platform().await;
    let p = &t.p;
    let waiting = create(&p.approvals, asking(Some("res_1"), "svc-a"))
        .await
        .unwrap();
    let other = create(&p.approvals, asking(Some("res_2"), "svc-a"))
        .await
        .unwrap();
    let mut conn = p.db.writer().acquire().await.unwrap();
    cancel_all(&mut conn, "res_1", p.clock.now_ms())
        .await
        .unwrap();
    drop(conn);
    assert_eq!(
        status(p, &waiting.id).await.unwrap().status,
        ApprovalStatus::Cancelled
    );
    assert_eq!(
        status(p, &other.id).await.unwrap().status,
        ApprovalStatus::Pending
    );
    assert!(pending(p, "res_1").await.unwrap().is_empty());
    // A place is free again at once.
    create(&p.approvals, asking(Some("res_1"), "svc-a"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_expired_request_is_renewed_once_with_a_new_code_and_a_waiting_one_is_not() {
    let t = platform().await;
    let p = &t.p;
    let old = create(&p.approvals, asking(Some("res_1"), "svc-a"))
        .await
        .unwrap();
    let mut conn = p.db.writer().acquire().await.unwrap();
    assert!(renew_expired_in(&mut conn, &p.approvals, &old.id)
        .await
        .unwrap()
        .is_none());
    t.clock.advance(p.identity.policy.approval_ttl_ms);
    let new = renew_expired_in(&mut conn, &p.approvals, &old.id)
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    assert_ne!(new.id, old.id);
    assert!(new.expires_at > old.expires_at);
    let view = status(p, &new.id).await.unwrap();
    assert_eq!(view.status, ApprovalStatus::Pending);
    assert_eq!(view.kind, "login");
    assert_eq!(view.client_name, "Test Service");
}

#[test]
fn every_status_has_one_name_and_only_pending_and_scanned_wait() {
    for s in ApprovalStatus::ALL {
        assert_eq!(ApprovalStatus::parse(s.as_str()), Some(s));
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::Value::String(s.as_str().into())
        );
    }
    assert_eq!(ApprovalStatus::parse("Pending"), None);
    let waiting: Vec<_> = ApprovalStatus::ALL
        .into_iter()
        .filter(|s| s.is_waiting())
        .collect();
    assert_eq!(waiting, [ApprovalStatus::Pending, ApprovalStatus::Scanned]);
}
