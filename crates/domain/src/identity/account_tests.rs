//! What outlives a phone and an account (issue 15, finding 2): adding a passkey needs the
//! phone's fresh approval, once; a new phone ends passkeys, browser sessions and grants and tells
//! the resident; closure removes passkeys; every table holding a `resident_id` is erased at purge
//! or kept for a named reason. On a fake clock, on SQLite and PostgreSQL.
use super::devices::{self, DeviceCaller, SignedRequest};
use super::{activation, rights};
use crate::authn::approvals;
use crate::oidc::passkeys::{self, AddStep};
use crate::testing::{platform, TestPhone as Phone, TestPlatform};
use iamsmart_crypto::device::DeviceKey;
use iamsmart_crypto::webauthn::soft::SoftPasskey;
use iamsmart_proto::app::{NewDevice, RequestClaims, DEVICE_REQUEST_TYP};
use iamsmart_proto::ids::ApprovalId;
use iamsmart_proto::profile::VerifiedIdentity;
use std::collections::BTreeSet;

const ORIGIN: &str = "http://localhost:8080";

fn identity(n: u32) -> VerifiedIdentity {
    VerifiedIdentity {
        hkid: super::hkid::Hkid::with_check_digit("B", &format!("{:06}", 300_000 + n))
            .unwrap()
            .display(),
        name_en: "LEE, Siu Ming".into(),
        name_zh: None,
        date_of_birth: "1975-06-01".into(),
        gender: Some("F".into()),
    }
}

fn new_device(key: &DeviceKey) -> NewDevice {
    NewDevice {
        public_jwk: serde_json::to_value(key.public_jwk()).unwrap(),
        name: "Test phone".into(),
        user_verification: None,
    }
}

async fn phone(t: &TestPlatform, n: u32) -> Phone {
    t.enrolled_phone(&identity(n), iamsmart_proto::profile::Level::Basic)
        .await
}

/// The phone answers a request (approve or deny), signed as the app signs.
async fn answer(t: &TestPlatform, phone: &Phone, id: &ApprovalId, decision: &str) {
    t.answer_in_app(phone, id, decision, serde_json::json!({}))
        .await
        .unwrap();
}

/// The one waiting passkey request on the phone.
async fn asked(t: &TestPlatform, phone: &Phone) -> iamsmart_proto::app::ApprovalView {
    let mut waiting = approvals::pending(&t.p, &phone.caller.resident_id)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let view = waiting.remove(0);
    assert_eq!(view.kind, "passkey_add");
    view
}

fn pending_of(step: &AddStep) -> (String, String) {
    match step {
        AddStep::Waiting {
            pending,
            match_code,
            ..
        } => (pending.clone(), match_code.clone()),
        other => panic!("expected to wait for the phone: {other:?}"),
    }
}

/// Add a passkey the whole way: the phone approves, the browser creates it.
async fn add_passkey(t: &TestPlatform, phone: &Phone, pk: &SoftPasskey) -> String {
    let rid = &phone.caller.resident_id;
    let (pending, _) = pending_of(&passkeys::request_add(&t.p.oidc, rid).await.unwrap());
    let view = asked(t, phone).await;
    answer(t, phone, &view.id, "approve").await;
    let AddStep::Ready { ceremony, options } =
        passkeys::add_options(&t.p.oidc, rid, &pending, "LEE")
            .await
            .unwrap()
    else {
        panic!("approved: the options come");
    };
    let response = pk.register(&options);
    passkeys::register(&t.p.oidc, rid, &ceremony, &response, "Laptop")
        .await
        .unwrap()
        .id
}

async fn count(t: &TestPlatform, sql: &str, resident: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(resident)
        .fetch_one(t.p.db.reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn adding_a_passkey_needs_the_phone_to_approve_it_now_and_the_approval_works_once() {
    let t = platform().await;
    let phone = phone(&t, 1).await;
    let other = self::phone(&t, 2).await;
    let rid = &phone.caller.resident_id;
    let step = passkeys::request_add(&t.p.oidc, rid).await.unwrap();
    let (pending, code) = pending_of(&step);
    // The phone sees a passkey request with the page's code; until it answers, no options.
    let view = asked(&t, &phone).await;
    assert_eq!(view.match_code, code);
    assert_eq!(view.client_name, "iAM Smart");
    let again = passkeys::add_options(&t.p.oidc, rid, &pending, "LEE")
        .await
        .unwrap();
    assert_eq!(pending_of(&again).0, pending);
    // Another resident's browser cannot use this request.
    assert!(
        passkeys::add_options(&t.p.oidc, &other.caller.resident_id, &pending, "X")
            .await
            .is_err()
    );
    answer(&t, &phone, &view.id, "approve").await;
    // Fifty tabs ask at once: one gets the options.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let p = t.p.clone();
        let rid = rid.clone();
        let pending = pending.clone();
        tasks.push(tokio::spawn(async move {
            passkeys::add_options(&p.oidc, &rid, &pending, "LEE").await
        }));
    }
    let mut ready = Vec::new();
    for task in tasks {
        if let Ok(AddStep::Ready { ceremony, options }) = task.await.unwrap() {
            ready.push((ceremony, options));
        }
    }
    assert_eq!(ready.len(), 1, "one approval, one passkey ceremony");
    let (ceremony, options) = ready.remove(0);
    let pk = SoftPasskey::new(ORIGIN);
    passkeys::register(&t.p.oidc, rid, &ceremony, &pk.register(&options), "Laptop")
        .await
        .unwrap();
    assert_eq!(passkeys::list(&t.p, rid).await.unwrap().len(), 1);

    // Declined on the phone: refused, nothing added.
    let (pending, _) = pending_of(&passkeys::request_add(&t.p.oidc, rid).await.unwrap());
    let view = asked(&t, &phone).await;
    answer(&t, &phone, &view.id, "deny").await;
    let e = passkeys::add_options(&t.p.oidc, rid, &pending, "LEE")
        .await
        .unwrap_err();
    assert!(e.description.contains("declined"), "{e:?}");

    // Approved, but the browser comes back too late: refused.
    let (pending, _) = pending_of(&passkeys::request_add(&t.p.oidc, rid).await.unwrap());
    let view = asked(&t, &phone).await;
    answer(&t, &phone, &view.id, "approve").await;
    t.clock.advance(6 * 60_000);
    assert!(passkeys::add_options(&t.p.oidc, rid, &pending, "LEE")
        .await
        .is_err());

    // Never answered: still waiting, then expired.
    let (pending, _) = pending_of(&passkeys::request_add(&t.p.oidc, rid).await.unwrap());
    t.clock.advance(t.p.identity.policy.approval_ttl_ms + 1);
    assert!(passkeys::add_options(&t.p.oidc, rid, &pending, "LEE")
        .await
        .is_err());
    assert_eq!(passkeys::list(&t.p, rid).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_webauthn_ceremony_answered_after_five_minutes_is_refused() {
    let t = platform().await;
    let phone = phone(&t, 1).await;
    let rid = &phone.caller.resident_id;
    let pk = SoftPasskey::new(ORIGIN);
    // Registration: the phone approved, the browser's passkey answers a minute too late.
    let (pending, _) = pending_of(&passkeys::request_add(&t.p.oidc, rid).await.unwrap());
    let view = asked(&t, &phone).await;
    answer(&t, &phone, &view.id, "approve").await;
    let AddStep::Ready { ceremony, options } =
        passkeys::add_options(&t.p.oidc, rid, &pending, "LEE")
            .await
            .unwrap()
    else {
        panic!("approved: the options come");
    };
    t.clock.advance(5 * 60_000 + 1);
    assert!(
        passkeys::register(&t.p.oidc, rid, &ceremony, &pk.register(&options), "Laptop")
            .await
            .is_err()
    );
    assert!(passkeys::list(&t.p, rid).await.unwrap().is_empty());
    // Sign-in: a passkey that exists answers a challenge past its five minutes.
    let pk = SoftPasskey::new(ORIGIN);
    add_passkey(&t, &phone, &pk).await;
    let (ceremony, options) = passkeys::login_options(&t.p.oidc).await.unwrap();
    let late = pk.authenticate(&options).expect("the passkey answers");
    t.clock.advance(5 * 60_000 + 1);
    assert!(passkeys::authenticate(&t.p.oidc, &ceremony, &late)
        .await
        .is_err());
    // In time, the same passkey signs in.
    let (ceremony, options) = passkeys::login_options(&t.p.oidc).await.unwrap();
    let answer = pk.authenticate(&options).expect("the passkey answers");
    assert_eq!(
        &passkeys::authenticate(&t.p.oidc, &ceremony, &answer)
            .await
            .unwrap(),
        rid
    );
}

/// Activate a new phone with a counter's code (the resident lost the old one).
async fn activate_with_counter_code(t: &TestPlatform, resident_id: &str) -> Phone {
    let mut tx = t.p.db.begin().await.unwrap();
    let (code, _) = activation::issue_activation_code(
        &t.p.identity,
        &mut tx,
        resident_id,
        "staff:counter",
        t.p.clock.now_ms(),
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let key = DeviceKey::generate().unwrap();
    let device = new_device(&key);
    let body = serde_json::to_vec(&iamsmart_proto::app::Activation {
        code,
        device: device.clone(),
    })
    .unwrap();
    let jwk = devices::check_new_device(&device).unwrap();
    let claims = RequestClaims {
        htm: "POST".into(),
        htp: "/app/v1/activations".into(),
        iat: t.p.clock.now_ms() / 1000,
        jti: "activation-jti-move".into(),
        bh: crate::connector::body_hash(&body),
        aud: None,
        iss: None,
    };
    let sig = key
        .sign_jws(
            DEVICE_REQUEST_TYP,
            jwk.kid.as_deref().unwrap(),
            &serde_json::to_vec(&claims).unwrap(),
        )
        .unwrap();
    let e = activation::activate(
        &t.p.identity,
        serde_json::from_slice(&body).unwrap(),
        &SignedRequest {
            signature: Some(&sig),
            method: "POST",
            path: "/app/v1/activations",
            body: &body,
            session: None,
        },
        "127.0.0.1",
        None,
    )
    .await
    .unwrap();
    assert!(e.rebound);
    Phone {
        key,
        caller: DeviceCaller {
            device_id: e.device_id,
            resident_id: e.resident_id,
        },
    }
}

#[tokio::test]
async fn a_new_phone_ends_passkeys_browser_sessions_and_grants_and_the_resident_is_told() {
    let t = platform().await;
    let old = phone(&t, 3).await;
    let rid = old.caller.resident_id.clone();
    let pk = SoftPasskey::new(ORIGIN);
    add_passkey(&t, &old, &pk).await;
    // A browser signed in with the passkey (no device), and a service's grant from it.
    let service = t.service("Some Service", "service.example").await;
    let (cookie, sess) = crate::oidc::session::create(
        &t.p.oidc,
        &rid,
        None,
        t.p.clock.now_ms(),
        crate::oidc::Acr::Basic,
        vec!["hwk".into()],
    )
    .await
    .unwrap();
    let mut tx = t.p.db.begin().await.unwrap();
    let grant = crate::oidc::tokens::create_grant(
        &t.p.oidc,
        &mut tx,
        &crate::oidc::tokens::GrantData {
            client_id: service.id.clone(),
            resident_id: rid.clone(),
            device_id: None,
            sid: Some(sess.sid.clone()),
            scope: "openid".into(),
            claims: vec![],
            acr: crate::oidc::Acr::Basic,
            amr: vec!["hwk".into()],
            auth_time: t.p.clock.now_ms(),
            nonce: None,
            authorization_details: None,
        },
        t.p.clock.now_ms(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(crate::oidc::session::session(&t.p.oidc, Some(&cookie))
        .await
        .unwrap()
        .is_some());

    let new = activate_with_counter_code(&t, &rid).await;
    assert_eq!(new.caller.resident_id, rid);
    assert!(passkeys::list(&t.p, &rid).await.unwrap().is_empty());
    assert!(crate::oidc::session::session(&t.p.oidc, Some(&cookie))
        .await
        .unwrap()
        .is_none());
    let g = crate::oidc::tokens::grant(&t.p, &grant)
        .await
        .unwrap()
        .unwrap();
    assert!(g.revoked_at.is_some(), "the passkey session's grant ends");
    // The resident finds a notice in both languages, and the log says what ended.
    let inbox = crate::notify::inbox::list(&t.p.notify, &rid, false, 10)
        .await
        .unwrap();
    let notice = inbox
        .iter()
        .find(|n| n.category.as_deref() == Some("security"))
        .expect("a notice");
    assert!(
        notice.body.pick(false).contains("1 passkey(s)"),
        "{notice:?}"
    );
    assert!(notice.title.zh.is_some());
    let moved =
        crate::testing::audit_count(&t.p.db, "account.moved", Some(&format!("resident:{rid}")))
            .await;
    assert_eq!(moved, 1);
    // The passkey no longer signs in.
    let (id, opts) = passkeys::login_options(&t.p.oidc).await.unwrap();
    let assertion = pk.authenticate(&opts).unwrap();
    assert!(passkeys::authenticate(&t.p.oidc, &id, &assertion)
        .await
        .is_err());
}

#[tokio::test]
async fn every_table_holding_a_resident_is_erased_at_purge_or_kept_for_a_named_reason() {
    let t = platform().await;
    // From the live schema: a new table with a resident_id fails here until it is listed.
    let with_resident: BTreeSet<String> = iamsmart_store::schema::columns(&t.p.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.name == "resident_id")
        .map(|c| c.table)
        .collect();
    let erased: BTreeSet<String> = rights::erased_at_purge()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let kept: BTreeSet<String> = rights::KEPT_AFTER_PURGE
        .iter()
        .map(|(table, why)| {
            assert!(why.len() > 40, "say why {table} is kept");
            table.to_string()
        })
        .collect();
    assert!(erased.is_disjoint(&kept));
    let listed: BTreeSet<String> = erased.union(&kept).cloned().collect();
    assert_eq!(
        with_resident, listed,
        "tables with a resident_id must be erased by their owner at purge (rights::erased_at_purge) or in KEPT_AFTER_PURGE"
    );

    // A resident with a passkey closes the account: the passkey goes at once, everything
    // listed goes at purge.
    let phone = phone(&t, 4).await;
    let rid = phone.caller.resident_id.clone();
    let pk = SoftPasskey::new(ORIGIN);
    add_passkey(&t, &phone, &pk).await;
    rights::close(&t.p.identity, &phone.caller, None)
        .await
        .unwrap();
    assert!(passkeys::list(&t.p, &rid).await.unwrap().is_empty());
    t.clock.advance(t.p.identity.policy.closed_retention_ms + 1);
    assert_eq!(rights::purge_closed(&t.p).await.unwrap(), 1);
    for table in &erased {
        let left = count(
            &t,
            &format!("SELECT COUNT(*) FROM {table} WHERE resident_id = $1"),
            &rid,
        )
        .await;
        assert_eq!(left, 0, "{table} keeps rows of a purged resident");
    }
    let residents = count(&t, "SELECT COUNT(*) FROM residents WHERE id = $1", &rid).await;
    assert_eq!(residents, 0);
}
