//! Answering a request in the app, rule by rule: only the resident's own device, signing this
//! request's challenge and match code with its own key, before the request expires, and once,
//! however many answers arrive at the same time.
use super::*;
use crate::guard::Spent;
use crate::identity::test_phone::Phone;
use crate::testing::{platform, TestPlatform};
use iamsmart_crypto::device::DeviceKey;
use iamsmart_proto::app::Decision;

async fn phone(t: &TestPlatform, n: u32) -> Phone {
    Phone::enrolled(
        &t.p.identity,
        DeviceKey::generate().unwrap(),
        n,
        iamsmart_proto::profile::Level::Basic,
        None,
    )
    .await
}

/// A login request of `client_id` waiting for the resident.
async fn ask(t: &TestPlatform, resident_id: &str, client_id: &str) -> ApprovalView {
    let created = create(
        &t.p.approvals,
        super::tests::asking(Some(resident_id), client_id),
    )
    .await
    .unwrap();
    status(&t.p, &created.id).await.unwrap()
}

/// The decision `key` signs over these claims, as the app sends it.
fn decision(key: &DeviceKey, kid: &str, claims: &ApprovalClaims) -> Decision {
    Decision {
        signed: key
            .sign_jws(APPROVAL_TYP, kid, &serde_json::to_vec(claims).unwrap())
            .unwrap(),
        selfie: None,
        user_verification: None,
    }
}

fn claims(t: &TestPlatform, view: &ApprovalView, answer: &str) -> ApprovalClaims {
    ApprovalClaims {
        rid: view.id.clone(),
        challenge: view.challenge.clone(),
        match_code: view.match_code.clone(),
        decision: answer.into(),
        agreed: serde_json::json!({}),
        iat: t.p.clock.now_ms() / 1000,
    }
}

async fn answer(
    t: &TestPlatform,
    phone: &Phone,
    id: &ApprovalId,
    d: &Decision,
) -> Result<ApprovalView> {
    decide(
        &t.p.approvals,
        &t.p.identity,
        &phone.caller(),
        id,
        d,
        "127.0.0.1",
        None,
        Spent::new(),
    )
    .await
}

fn code(e: &DomainError) -> String {
    match e {
        DomainError::Refused { code, .. } => (*code).to_string(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn only_the_residents_device_answering_this_request_with_its_own_key_counts() {
    let t = platform().await;
    let mine = phone(&t, 1).await;
    let theirs = phone(&t, 2).await;
    let view = ask(&t, &mine.resident_id, "c_service").await;
    let good = claims(&t, &view, "approve");
    // Another resident's phone cannot see or answer it.
    let e = answer(
        &t,
        &theirs,
        &view.id,
        &decision(&theirs.key, &theirs.device_id, &good),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, DomainError::NotFound), "{e}");
    // Signed by a key that is not the device's.
    let stranger = DeviceKey::generate().unwrap();
    let e = answer(
        &t,
        &mine,
        &view.id,
        &decision(&stranger, &mine.device_id, &good),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("not signed by this device"), "{e}");
    // Signed by the device, but over another request's challenge, code or id.
    let other = ask(&t, &mine.resident_id, "c_other").await;
    for wrong in [
        ApprovalClaims {
            challenge: other.challenge.clone(),
            ..good.clone()
        },
        ApprovalClaims {
            match_code: other.match_code.clone(),
            ..good.clone()
        },
        ApprovalClaims {
            rid: other.id.clone(),
            ..good.clone()
        },
    ] {
        let e = answer(
            &t,
            &mine,
            &view.id,
            &decision(&mine.key, &mine.device_id, &wrong),
        )
        .await
        .unwrap_err();
        assert_eq!(code(&e), "decision-mismatch");
    }
    let e = answer(
        &t,
        &mine,
        &view.id,
        &decision(&mine.key, &mine.device_id, &claims(&t, &view, "maybe")),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("approve or deny"), "{e}");
    assert_eq!(
        status(&t.p, &view.id).await.unwrap().status,
        ApprovalStatus::Pending
    );
    // The right answer counts, once.
    let done = answer(
        &t,
        &mine,
        &view.id,
        &decision(&mine.key, &mine.device_id, &good),
    )
    .await
    .unwrap();
    assert_eq!(done.status, ApprovalStatus::Approved);
    let e = answer(
        &t,
        &mine,
        &view.id,
        &decision(&mine.key, &mine.device_id, &claims(&t, &view, "deny")),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "request-closed");
    assert_eq!(
        status(&t.p, &view.id).await.unwrap().status,
        ApprovalStatus::Approved
    );
}

#[tokio::test]
async fn an_answer_after_the_request_expired_changes_nothing() {
    let t = platform().await;
    let mine = phone(&t, 3).await;
    let view = ask(&t, &mine.resident_id, "c_service").await;
    let d = decision(&mine.key, &mine.device_id, &claims(&t, &view, "approve"));
    t.clock.advance(t.p.identity.policy.approval_ttl_ms);
    let e = answer(&t, &mine, &view.id, &d).await.unwrap_err();
    assert_eq!(code(&e), "request-closed");
    assert_ne!(
        status(&t.p, &view.id).await.unwrap().status,
        ApprovalStatus::Approved
    );
}

#[tokio::test]
async fn fifty_answers_at_once_are_recorded_once() {
    let t = platform().await;
    let mine = phone(&t, 4).await;
    let view = ask(&t, &mine.resident_id, "c_service").await;
    let mut callers = tokio::task::JoinSet::new();
    for n in 0..50 {
        let answer = if n % 2 == 0 { "approve" } else { "deny" };
        let d = decision(&mine.key, &mine.device_id, &claims(&t, &view, answer));
        let (approvals, identity, caller, id) = (
            t.p.approvals.clone(),
            t.p.identity.clone(),
            mine.caller(),
            view.id.clone(),
        );
        callers.spawn(async move {
            decide(
                &approvals,
                &identity,
                &caller,
                &id,
                &d,
                "127.0.0.1",
                None,
                Spent::new(),
            )
            .await
            .map(|v| v.status)
        });
    }
    let mut recorded = Vec::new();
    while let Some(r) = callers.join_next().await {
        if let Ok(s) = r.unwrap() {
            recorded.push(s);
        }
    }
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(status(&t.p, &view.id).await.unwrap().status, recorded[0]);
}

/// The device request's single-use value, as `devices::authenticate_deferred` leaves it.
fn device_jti(t: &TestPlatform, phone: &Phone, jti: &str) -> Spent {
    let mut spent = Spent::new();
    spent.add(
        crate::guard::SingleUseKind::DeviceRequest,
        format!("device:{}", phone.device_id),
        jti,
        t.p.clock.now_ms() + 60_000,
    );
    spent
}

#[tokio::test]
async fn fifty_reads_with_one_signed_request_are_served_once() {
    let t = platform().await;
    let mine = phone(&t, 5).await;
    let view = ask(&t, &mine.resident_id, "c_service").await;
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (p, caller, id, spent) = (
            t.p.clone(),
            mine.caller(),
            view.id.clone(),
            device_jti(&t, &mine, "one-signed-request"),
        );
        callers.spawn(async move { open(&p, &caller, &id, spent).await.is_ok() });
    }
    let mut served = 0;
    while let Some(ok) = callers.join_next().await {
        served += usize::from(ok.unwrap());
    }
    assert_eq!(served, 1);
    // A refused replay changed nothing; another request is served.
    let again = open(
        &t.p,
        &mine.caller(),
        &view.id,
        device_jti(&t, &mine, "next"),
    )
    .await
    .unwrap();
    assert_eq!(again.id, view.id);
}

#[tokio::test]
async fn a_decision_for_a_request_nobody_opened_claims_it_and_a_replay_changes_nothing() {
    let t = platform().await;
    let mine = phone(&t, 6).await;
    // A login request names nobody until a phone reads or answers it.
    let created = create(&t.p.approvals, super::tests::asking(None, "c_service"))
        .await
        .unwrap();
    let view = status(&t.p, &created.id).await.unwrap();
    let d = decision(&mine.key, &mine.device_id, &claims(&t, &view, "approve"));
    let run = |spent: Spent| {
        let (approvals, identity, caller, id, d) = (
            t.p.approvals.clone(),
            t.p.identity.clone(),
            mine.caller(),
            view.id.clone(),
            d.clone(),
        );
        async move {
            decide(
                &approvals,
                &identity,
                &caller,
                &id,
                &d,
                "127.0.0.1",
                None,
                spent,
            )
            .await
        }
    };
    run(device_jti(&t, &mine, "used")).await.unwrap();
    assert_eq!(
        status(&t.p, &view.id).await.unwrap().status,
        ApprovalStatus::Approved
    );
    let decided = decision_of(&t, &view.id).await;
    assert_eq!(decided, mine.resident_id);
    // The same signed request again: refused as a replay.
    let e = run(device_jti(&t, &mine, "used")).await.unwrap_err();
    assert!(
        matches!(e, DomainError::Unauthenticated(m) if m.contains("already used")),
        "{e}"
    );
}

async fn decision_of(t: &TestPlatform, id: &ApprovalId) -> String {
    super::decision(&t.p, id)
        .await
        .unwrap()
        .unwrap()
        .resident_id
}
