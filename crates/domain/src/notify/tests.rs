//! Notifications with a fake clock: rules on the request, delivery only with consent, no leak
//! between services, idempotency, the rate limit, the inbox, sealing, expiry and closure.
use super::inbox::{self, Notification};
use super::send::{send, Sent};
use super::*;
use crate::oidc::clients::Client;
use crate::testing::{platform, TestPlatform};

const DAY: i64 = 86_400_000;

fn req(sub: &str, en: &str) -> SendRequest {
    SendRequest {
        sub: sub.into(),
        title: Bilingual {
            en: Some(en.into()),
            zh: Some("已收到你的申請".into()),
        },
        body: Bilingual {
            en: Some("We will write again when it is decided.\nReference IDP-1".into()),
            zh: Some("批核後我們會再通知你。".into()),
        },
        link: Some("https://service.example/applications/1".into()),
        category: Some("application-status".into()),
    }
}

/// The resident signs in to the service: a grant, and the pairwise subject remembered.
async fn signed_in(t: &TestPlatform, client: &Client, resident: &str) -> String {
    let sub = crate::oidc::tokens::subject_for(&t.p.oidc, client, resident);
    let mut conn = t.p.db.writer().acquire().await.unwrap();
    crate::oidc::claims::remember_subject(&mut conn, &client.sector(), &sub, resident)
        .await
        .unwrap();
    let grant = crate::oidc::tokens::GrantData {
        client_id: client.id.clone(),
        resident_id: resident.to_string(),
        device_id: None,
        sid: None,
        scope: "openid".into(),
        claims: vec![],
        acr: crate::oidc::Acr::Basic,
        amr: vec![],
        auth_time: 0,
        nonce: None,
        authorization_details: None,
    };
    crate::oidc::tokens::create_grant(&t.p.oidc, &mut conn, &grant, 0)
        .await
        .unwrap();
    sub
}

async fn sent(t: &TestPlatform, c: &Client, key: &str, r: &SendRequest) -> Sent {
    send(&t.p.notify, c, key, r, None).await.unwrap().0
}

#[test]
fn requests_are_checked() {
    let ok = req("sub-1", "Application received");
    assert!(check(&ok).is_ok());
    let bad = |f: &dyn Fn(&mut SendRequest)| {
        let mut r = ok.clone();
        f(&mut r);
        check(&r).unwrap_err().to_string()
    };
    assert!(bad(&|r| r.title = Bilingual::default()).starts_with("title"));
    assert!(bad(&|r| r.body.zh = None).starts_with("body"));
    assert!(bad(&|r| r.title.en = Some("x".repeat(MAX_TITLE + 1))).contains("at most 120"));
    assert!(bad(&|r| r.body.en = Some("界".repeat(MAX_BODY + 1))).contains("at most 2000"));
    assert!(bad(&|r| r.title.en = Some("Hi <b>there</b>".into())).contains("plain text"));
    assert!(bad(&|r| r.body.zh = Some("<script>alert(1)</script>".into())).contains("plain text"));
    assert!(bad(&|r| r.body.en = Some("a &amp; b".into())).contains("plain text"));
    assert!(bad(&|r| r.body.en = Some("<!-- x -->".into())).contains("plain text"));
    assert!(bad(&|r| r.title.en = Some("two\nlines".into())).contains("line breaks"));
    assert!(bad(&|r| r.title.en = Some("   ".into())).contains("empty"));
    assert!(bad(&|r| r.category = Some("Not Valid".into())).starts_with("category"));
    assert!(bad(&|r| r.sub = String::new()).starts_with("sub"));
    // Plain comparisons and ampersands are text.
    let mut r = ok.clone();
    r.body.en = Some("Fees < HK$100 & no tax; 1 > 0".into());
    assert!(check(&r).is_ok());
    assert!(check_key("").is_err());
    assert!(check_key("has space").is_err());
    assert!(check_key(&"k".repeat(MAX_KEY + 1)).is_err());
    assert!(check_key("order-42/1").is_ok());
}

#[test]
fn links_go_to_the_services_own_site() {
    let uris = vec![
        "https://service.example/cb".to_string(),
        "http://127.0.0.1:8090/callback".to_string(),
    ];
    assert!(check_link("https://service.example/a?b=1#c", &uris).is_ok());
    assert!(check_link("https://SERVICE.example", &uris).is_ok());
    assert!(check_link("http://127.0.0.1:8090/form", &uris).is_ok());
    for bad in [
        "http://service.example/a",
        "https://evil.example/",
        "https://service.example.evil.example/",
        "https://service.example@evil.example/",
        "https://service.example:444/",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "//service.example/a",
        "https://service.example/a b",
        "data:text/html,hi",
        "http://127.0.0.1:9999/",
    ] {
        assert!(check_link(bad, &uris).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn delivered_only_with_consent_sealed_and_in_the_inbox() {
    let t = platform().await;
    let svc = t.service("Driving Permit", "service.example").await;
    let r = t.resident("A123456(3)").await;
    let sub = signed_in(&t, &svc, &r).await;
    // Not agreed yet: not delivered, nothing kept but the key.
    let first = sent(&t, &svc, "k1", &req(&sub, "Application received")).await;
    assert_eq!(first.status, "not_delivered");
    assert_eq!(first.reason.as_deref(), Some(NOT_DELIVERED));
    assert!(inbox::list(&t.p.notify, &r, false, 50)
        .await
        .unwrap()
        .is_empty());
    // The service is among those the resident uses; they agree.
    let prefs = inbox::preferences(&t.p.notify, &r).await.unwrap();
    assert_eq!(prefs.len(), 1);
    assert!(!prefs[0].enabled);
    inbox::set_preference(&t.p.notify, &r, &svc.id, true, None)
        .await
        .unwrap();
    let d = sent(&t, &svc, "k2", &req(&sub, "Application received")).await;
    assert_eq!(d.status, "delivered");
    assert_eq!(d.reason, None);
    // Sealed: the stored row holds no text.
    let (content,): (Vec<u8>,) = sqlx::query_as("SELECT content FROM notifications WHERE id = $1")
        .bind(&d.id)
        .fetch_one(t.p.db.reader())
        .await
        .unwrap();
    let raw = String::from_utf8_lossy(&content);
    assert!(!raw.contains("Application received") && !raw.contains("IDP-1"));
    assert!(!content
        .windows("申請".len())
        .any(|w| w == "申請".as_bytes()));
    // In the inbox, unread, then read.
    let list: Vec<Notification> = inbox::list(&t.p.notify, &r, false, 50).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title.pick(false), "Application received");
    assert_eq!(list[0].title.pick(true), "已收到你的申請");
    assert_eq!(list[0].service, "Driving Permit");
    assert_eq!(inbox::unread_count(&t.p.notify, &r).await.unwrap(), 1);
    inbox::mark_read(&t.p.notify, &r, &d.id).await.unwrap();
    inbox::mark_read(&t.p.notify, &r, &d.id).await.unwrap();
    assert_eq!(inbox::unread_count(&t.p.notify, &r).await.unwrap(), 0);
    assert!(inbox::list(&t.p.notify, &r, true, 50)
        .await
        .unwrap()
        .is_empty());
    // Someone else's notification is not found.
    let other = t.resident("B123456(6)").await;
    assert!(matches!(
        inbox::get(&t.p.notify, &other, &d.id).await,
        Err(DomainError::NotFound)
    ));
    assert!(matches!(
        inbox::mark_read(&t.p.notify, &other, &d.id).await,
        Err(DomainError::NotFound)
    ));
    // The dealings show that it was sent, without its content.
    let dealings = crate::exchange::dealings::for_resident(&t.p.exchange, &r)
        .await
        .unwrap();
    let kinds: Vec<&str> = dealings[0]
        .dealings
        .iter()
        .map(|d| d.kind.as_str())
        .collect();
    assert!(kinds.contains(&"notification") && kinds.contains(&"notifications_on"));
    let text = serde_json::to_string(&dealings).unwrap();
    assert!(!text.contains("Application received"));
    // Turned off: not delivered again.
    inbox::set_preference(&t.p.notify, &r, &svc.id, false, None)
        .await
        .unwrap();
    let off = sent(&t, &svc, "k3", &req(&sub, "Second")).await;
    assert_eq!(off.status, "not_delivered");
    // Mark all read.
    inbox::set_preference(&t.p.notify, &r, &svc.id, true, None)
        .await
        .unwrap();
    sent(&t, &svc, "k4", &req(&sub, "Third")).await;
    sent(&t, &svc, "k5", &req(&sub, "Fourth")).await;
    assert_eq!(inbox::unread_count(&t.p.notify, &r).await.unwrap(), 2);
    assert_eq!(inbox::mark_all_read(&t.p.notify, &r).await.unwrap(), 2);
    assert_eq!(inbox::unread_count(&t.p.notify, &r).await.unwrap(), 0);
}

#[tokio::test]
async fn another_services_subject_or_an_unknown_one_reveals_nothing() {
    let t = platform().await;
    let a = t.service("Service A", "a.example").await;
    let b = t.service("Service B", "b.example").await;
    let r = t.resident("A123456(3)").await;
    let sub_a = signed_in(&t, &a, &r).await;
    inbox::set_preference(&t.p.notify, &r, &a.id, true, None)
        .await
        .unwrap();
    // B never dealt with the resident: it cannot opt them in, and A's subject means nothing to B.
    assert!(matches!(
        inbox::set_preference(&t.p.notify, &r, &b.id, true, None).await,
        Err(DomainError::NotFound)
    ));
    let mut r_b = req(&sub_a, "From B");
    r_b.link = Some("https://b.example/x".into());
    let via_b = sent(&t, &b, "k", &r_b).await;
    let mut r_unknown = r_b.clone();
    r_unknown.sub = "no-such-subject".into();
    let unknown = sent(&t, &b, "k2", &r_unknown).await;
    assert_eq!(via_b.status, "not_delivered");
    assert_eq!(
        (via_b.status, via_b.reason),
        (unknown.status, unknown.reason)
    );
    assert!(inbox::list(&t.p.notify, &r, false, 50)
        .await
        .unwrap()
        .is_empty());
    // A link to another service's site is refused.
    let mut wrong_link = req(&sub_a, "x");
    wrong_link.link = Some("https://b.example/".into());
    let e = send(&t.p.notify, &a, "k3", &wrong_link, None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, DomainError::Invalid { field: "link", .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn idempotency_and_the_rate_limit() {
    let t = platform().await;
    let svc = t.service("Driving Permit", "service.example").await;
    let r = t.resident("A123456(3)").await;
    let sub = signed_in(&t, &svc, &r).await;
    inbox::set_preference(&t.p.notify, &r, &svc.id, true, None)
        .await
        .unwrap();
    let one = req(&sub, "Once");
    let (a, new_a) = send(&t.p.notify, &svc, "same", &one, None).await.unwrap();
    let (b, new_b) = send(&t.p.notify, &svc, "same", &one, None).await.unwrap();
    assert!(new_a && !new_b);
    assert_eq!(a, b);
    assert_eq!(
        inbox::list(&t.p.notify, &r, false, 50).await.unwrap().len(),
        1
    );
    let e = send(&t.p.notify, &svc, "same", &req(&sub, "Other"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, DomainError::Conflict(_)), "{e:?}");
    // Ten per day per resident (the first counts); the repeat did not.
    for i in 1..10 {
        sent(&t, &svc, &format!("n{i}"), &req(&sub, "More")).await;
    }
    let e = send(&t.p.notify, &svc, "n10", &req(&sub, "Too many"), None)
        .await
        .unwrap_err();
    let DomainError::LimitReached {
        retry_after_secs, ..
    } = e
    else {
        panic!("{e:?}")
    };
    assert!(retry_after_secs > 0 && retry_after_secs <= 86_400);
    // The same limit for a subject that means nothing: it does not tell them apart.
    for i in 0..10 {
        sent(&t, &svc, &format!("u{i}"), &req("unknown", "x")).await;
    }
    assert!(send(&t.p.notify, &svc, "u10", &req("unknown", "x"), None)
        .await
        .is_err());
    // A day later the window has moved on.
    t.clock.advance(DAY + 1000);
    assert_eq!(
        sent(&t, &svc, "n11", &req(&sub, "Next day")).await.status,
        "delivered"
    );
}

#[tokio::test]
async fn expired_notifications_are_purged_and_closure_erases_them() {
    let t = platform().await;
    let svc = t.service("Driving Permit", "service.example").await;
    let r = t.resident("A123456(3)").await;
    let sub = signed_in(&t, &svc, &r).await;
    inbox::set_preference(&t.p.notify, &r, &svc.id, true, None)
        .await
        .unwrap();
    sent(&t, &svc, "old", &req(&sub, "Old")).await;
    t.clock.advance(100 * DAY);
    sent(&t, &svc, "new", &req(&sub, "New")).await;
    t.clock.advance(81 * DAY);
    // The old one is past 180 days: hidden at once, erased by the purge.
    let list = inbox::list(&t.p.notify, &r, false, 50).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title.pick(false), "New");
    assert!(inbox::purge(&t.p).await.unwrap() >= 1);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications")
        .fetch_one(t.p.db.reader())
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Closing the account erases the rest and the choices; the ledger of keys stays (without
    // content or resident) for the rate limit, then goes.
    let mut tx = t.p.db.begin().await.unwrap();
    inbox::erase_resident(&mut tx, &r, t.p.clock.now_ms() + DAY)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM notifications WHERE resident_id IS NOT NULL OR content IS NOT NULL) + (SELECT COUNT(*) FROM notify_prefs)",
    )
    .fetch_one(t.p.db.reader())
    .await
    .unwrap();
    assert_eq!(n, 0);
    assert!(inbox::list(&t.p.notify, &r, false, 50)
        .await
        .unwrap()
        .is_empty());
    let (again, new) = send(&t.p.notify, &svc, "new", &req(&sub, "New"), None)
        .await
        .unwrap();
    assert!(!new);
    assert_eq!(again.status, "delivered");
    t.clock.advance(DAY);
    assert_eq!(inbox::purge(&t.p).await.unwrap(), 1);
}
