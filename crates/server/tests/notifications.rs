//! Notifications end to end, against the real binaries: a service sends with its client token
//! (scope `notify`), the resident opts in on the account pages, reads in the browser and in the
//! app; idempotency, the rate limit, the input rules, the other service's subject, content
//! never stored in clear, and closure erasing everything.
mod common;
use common::rp::*;
use common::*;
use serde_json::{json, Value};

const TITLE: &str = "Your permit is ready for collection";
const BODY: &str = "Bring your HKID card to the counter.\nReference IDP-CANARY-42";

/// Log in to `rp` through a browser with the app; returns (browser with the platform session,
/// subject).
async fn login_browser(rp: &Rp, home: &std::path::Path) -> (reqwest::Client, String) {
    let b = browser();
    let (request_uri, verifier, _, _) = rp.par("openid", &[]).await;
    let q = login(
        &b,
        home,
        &rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            iamsmart_domain::oidc::authorize::urlencode(&request_uri)
        )),
    )
    .await;
    let t: Value = rp.token(&q["code"], &verifier).await.json().await.unwrap();
    let sub = jwt_claims(t["id_token"].as_str().unwrap())["sub"]
        .as_str()
        .unwrap()
        .to_string();
    (b, sub)
}

/// POST /notify/v1/notifications with a client token (DPoP for clients without a secret).
async fn send(rp: &Rp, token: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let url = rp.url("/notify/v1/notifications");
    let mut req = rp.http.post(&url).json(body);
    req = if rp.secret.is_none() {
        req.header("Authorization", format!("DPoP {token}"))
            .header("DPoP", rp.dpop.dpop("POST", &url, Some(token)))
    } else {
        req.bearer_auth(token)
    };
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.unwrap()
}

fn message(sub: &str) -> Value {
    json!({
        "sub": sub,
        "title": { "en": TITLE, "zh": "你的許可證已可領取" },
        "body": { "en": BODY, "zh": "請帶同香港身份證到櫃位領取。" },
        "link": "https://service.example/permits/42",
        "category": "application-status",
    })
}

async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    r.json().await.unwrap()
}

async fn page(b: &reqwest::Client, url: &str) -> String {
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.unwrap()
}

/// Count rows with SQL on the site's database.
async fn count(site: &Site, sql: &str) -> i64 {
    let db = iamsmart_store::Db::connect(&site.db_url, &Default::default())
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar(sql)
        .fetch_one(db.reader())
        .await
        .unwrap();
    db.close().await;
    n
}

#[tokio::test]
async fn services_notify_residents_who_agreed_and_they_read_it_in_the_browser_and_the_app() {
    let site = Site::new().await;
    let srv = site
        .serve(&[("IAMSMART_NOTIFY__MAX_PER_RESIDENT", "4")])
        .await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let svc = Rp::register(&site, &srv, "fapi2", &[]);
    let other = Rp::register(&site, &srv, "basic", &[]);
    let (b, sub) = login_browser(&svc, &home).await;
    let token = svc.client_token("notify").await;

    // Without a token, or with a token of another scope: refused in the RFC 6750 way.
    let r = svc
        .http
        .post(svc.url("/notify/v1/notifications"))
        .json(&message(&sub))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let eme = svc.client_token("eme").await;
    let r = send(&svc, &eme, Some("k0"), &message(&sub)).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));

    // Not agreed yet: not delivered.
    let r = send(&svc, &token, Some("k1"), &message(&sub)).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "not_delivered");
    assert!(v["reason"].as_str().unwrap().contains("has not agreed"));

    // The settings page lists the service, off; a form without the CSRF token changes nothing.
    let html = page(&b, &srv.url("/account/notifications/settings")).await;
    assert!(html.contains("Online Application for International Driving Permit"));
    assert!(html.contains("Notifications off"));
    let csrf = between(&html, "name=\"csrf\" value=\"", "\"")
        .unwrap()
        .to_string();
    let r = b
        .post(srv.url("/account/notifications/settings"))
        .form(&[("client_id", svc.client_id.as_str()), ("choice", "on")])
        .send()
        .await
        .unwrap();
    assert!(!r.status().is_redirection());
    let settings = ok_json(&app(&home, &["notifications", "--json"]));
    assert_eq!(settings["unread"], 0);
    let r = b
        .post(srv.url("/account/notifications/settings"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("client_id", svc.client_id.as_str()),
            ("choice", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(page(&b, &srv.url("/account/notifications/settings"))
        .await
        .contains("Notifications on"));
    // The other service was never used: it is not offered and cannot be turned on.
    let o = app(
        &home,
        &["notification-settings", "--on", other.client_id.as_str()],
    );
    assert!(!o.status.success());

    // Delivered; a repeat gives the same answer and sends nothing; the key with another
    // request is refused.
    let r = send(&svc, &token, Some("k2"), &message(&sub)).await;
    assert_eq!(r.status(), 201);
    let sent: Value = r.json().await.unwrap();
    assert_eq!(sent["status"], "delivered");
    let id = sent["id"].as_str().unwrap().to_string();
    let r = send(&svc, &token, Some("k2"), &message(&sub)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), sent);
    let mut changed = message(&sub);
    changed["title"]["en"] = json!("Something else");
    let p = problem(send(&svc, &token, Some("k2"), &changed).await, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("Idempotency-Key"));

    // The rules on input.
    for (body, field) in [
        (
            {
                let mut m = message(&sub);
                m["title"]["en"] = json!("<b>Hello</b>");
                m
            },
            "title.en",
        ),
        (
            {
                let mut m = message(&sub);
                m["body"]["zh"] = json!("字".repeat(2001));
                m
            },
            "body.zh",
        ),
        (
            {
                let mut m = message(&sub);
                m["link"] = json!("http://service.example/x");
                m
            },
            "link",
        ),
        (
            {
                let mut m = message(&sub);
                m["link"] = json!("https://evil.example/x");
                m
            },
            "link",
        ),
    ] {
        let p = problem(send(&svc, &token, Some("bad"), &body).await, 422).await;
        assert_eq!(p["field"], field, "{p}");
    }
    let p = problem(send(&svc, &token, None, &message(&sub)).await, 422).await;
    assert_eq!(p["field"], "Idempotency-Key");
    let r = send(
        &svc,
        &token,
        Some("k9"),
        &json!({ "sub": sub, "html": "<p>" }),
    )
    .await;
    assert_eq!(r.status(), 400);

    // Another service using this service's subject: the resident never agreed to it, and the
    // answer is the one an unknown subject gets.
    let other_token = other.client_token("notify").await;
    let mut to_other = message(&sub);
    to_other.as_object_mut().unwrap().remove("link");
    let a: Value = send(&other, &other_token, Some("x1"), &to_other)
        .await
        .json()
        .await
        .unwrap();
    to_other["sub"] = json!("no-such-subject");
    let b2: Value = send(&other, &other_token, Some("x2"), &to_other)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["status"], "not_delivered");
    assert_eq!((&a["status"], &a["reason"]), (&b2["status"], &b2["reason"]));

    // The content is sealed: neither title nor body in the database.
    let text = database_text(&site).await;
    assert!(!text.contains("IDP-CANARY-42") && !text.contains("ready for collection"));
    assert_eq!(
        count(
            &site,
            "SELECT COUNT(*) FROM notifications WHERE status = 'delivered' AND content IS NOT NULL"
        )
        .await,
        1
    );

    // The inbox: unread, in the navigation too; opening it marks it read.
    let html = page(&b, &srv.url("/account/notifications")).await;
    assert!(html.contains(TITLE));
    assert!(html.contains("Notifications (1 unread)"));
    assert!(html.contains("class=\"unread-mark\""));
    let html = page(&b, &srv.url(&format!("/account/notifications/{id}"))).await;
    assert!(html.contains("Reference IDP-CANARY-42"));
    assert!(html.contains("href=\"https://service.example/permits/42\""));
    let html = page(&b, &srv.url("/account/notifications?lang=zh-HK")).await;
    assert!(html.contains("你的許可證已可領取"));
    assert!(!html.contains("unread-mark"));
    assert!(!html.contains("mark-all-read"));

    // In the app; and mark all read in the browser.
    let r = send(&svc, &token, Some("k3"), &message(&sub)).await;
    assert_eq!(r.status(), 201);
    let list = ok_json(&app(&home, &["notifications", "--unread", "--json"]));
    assert_eq!(list["unread"], 1);
    assert_eq!(list["notifications"][0]["title"]["en"], TITLE);
    let second = list["notifications"][0]["id"].as_str().unwrap().to_string();
    let o = app(&home, &["notifications"]);
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{shown}");
    assert!(shown.contains("[unread]") && shown.contains(TITLE) && shown.contains("    Bring"));
    let o = app(&home, &["notifications", "--zh"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("你的許可證已可領取"));
    let read = ok_json(&app(
        &home,
        &["notifications", "--mark-read", &second, "--json"],
    ));
    assert!(read["read_at"].is_i64());
    let o = app(&home, &["notifications", "--mark-read", "nt_nobody"]);
    assert!(!o.status.success());
    let html = page(&b, &srv.url("/account/notifications")).await;
    assert!(!html.contains("unread-mark"));
    assert!(ok_json(&app(&home, &["notifications", "--all", "--json"]))["marked_read"].is_i64());

    // The limit per service and resident (4 here: k1, k2, k3 and this one), then 429.
    let r = send(&svc, &token, Some("k4"), &message(&sub)).await;
    assert_eq!(r.status(), 201);
    let r = send(&svc, &token, Some("k5"), &message(&sub)).await;
    assert!(r.headers().contains_key("retry-after"));
    problem(r, 429).await;

    // The dealings say that the service sent notifications, never what.
    let dealings = ok_json(&app(&home, &["dealings"])).to_string();
    assert!(dealings.contains("\"notification\"") && dealings.contains("notifications_on"));
    assert!(!dealings.contains("IDP-CANARY-42"));

    // The resident's own export has them in full, with the choice per service.
    let out = site.dir.path().join("export.json");
    let o = app(&home, &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(doc["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["title"]["en"] == TITLE && n["body"]["en"] == BODY));
    assert!(doc["notification_settings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["client_id"] == svc.client_id.as_str() && s["enabled"] == true));
    assert!(doc["signatures"].as_array().unwrap().is_empty());
    assert!(doc["favourite_services"].as_array().unwrap().is_empty());

    // Closing the account erases them at once (what is left holds no content and no resident:
    // only what the idempotency keys and the rate limit need, for a day).
    ok_json(&app(&home, &["close", "--yes"]));
    assert_eq!(
        count(
            &site,
            "SELECT COUNT(*) FROM notifications WHERE resident_id IS NOT NULL OR content IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(count(&site, "SELECT COUNT(*) FROM notify_prefs").await, 0);
    let r = send(&svc, &token, Some("k6"), &message(&sub)).await;
    assert_eq!(
        r.status(),
        429,
        "still limited: the limit does not reveal the closure"
    );
}

/// The consent page offers notifications, unticked; ticking the box turns them on for that
/// service (and only it), leaving it unticked changes nothing.
#[tokio::test]
async fn ticking_the_box_on_the_consent_page_turns_notifications_on() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let svc = Rp::register(&site, &srv, "fapi2", &[]);
    let quiet = Rp::register(&site, &srv, "fapi2", &[]);
    let token = svc.client_token("notify").await;
    let mut subs = Vec::new();
    for (rp, tick) in [(&svc, true), (&quiet, false)] {
        let b = browser();
        let (request_uri, verifier, _, _) = rp.par("openid profile eme.hkid", &[]).await;
        let page = open_login(
            &b,
            &rp.url(&format!(
                "/authorize?client_id={}&request_uri={}",
                rp.client_id,
                iamsmart_domain::oidc::authorize::urlencode(&request_uri)
            )),
        )
        .await;
        ok_json(&app(
            &home,
            &["approve", &page.qr, "--match", &page.match_code, "--yes"],
        ));
        let r = b.get(srv.url(&page.continue_url)).send().await.unwrap();
        let html = r.text().await.unwrap();
        assert!(
            html.contains("name=\"notify\" value=\"1\" id=\"notify\">"),
            "offered, unticked: {html}"
        );
        let (tx, csrf, fields) = consent_form(&html);
        let mut form: Vec<(&str, &str)> = vec![
            ("tx", &tx),
            ("csrf", &csrf),
            ("remember", "1"),
            ("decision", "allow"),
        ];
        if tick {
            form.push(("notify", "1"));
        }
        for f in &fields {
            form.push(("field", f));
        }
        let r = b
            .post(srv.url("/authorize/consent"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{}", r.status());
        let q = location_params(&r);
        let t: Value = rp.token(&q["code"], &verifier).await.json().await.unwrap();
        subs.push(
            jwt_claims(t["id_token"].as_str().unwrap())["sub"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let r = send(&svc, &token, Some("c1"), &message(&subs[0])).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "delivered", "{v}");
    let quiet_token = quiet.client_token("notify").await;
    let r = send(&quiet, &quiet_token, Some("c2"), &message(&subs[1])).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "not_delivered", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_sends_with_one_idempotency_key_deliver_once() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let svc = Rp::register(&site, &srv, "fapi2", &[]);
    let (_, sub) = login_browser(&svc, &home).await;
    let o = app(
        &home,
        &["notification-settings", "--on", svc.client_id.as_str()],
    );
    assert!(o.status.success(), "{o:?}");
    let token = svc.client_token("notify").await;
    let (svc, token, body) = (
        std::sync::Arc::new(svc),
        std::sync::Arc::new(token),
        std::sync::Arc::new(message(&sub)),
    );
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (svc, token, body) = (svc.clone(), token.clone(), body.clone());
            tokio::spawn(async move {
                let r = send(&svc, &token, Some("one-key"), &body).await;
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let created: Vec<_> = answers.iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    let first = &created[0].1;
    assert_eq!(first["status"], "delivered", "{first}");
    for (status, v) in &answers {
        assert!(*status == 201 || *status == 200, "{status} {v}");
        assert_eq!(v, first, "every repeat gives the first answer");
    }
    assert_eq!(count(&site, "SELECT COUNT(*) FROM notifications").await, 1);
    let inbox = ok_json(&app(&home, &["notifications", "--json"]));
    assert_eq!(inbox["unread"], 1, "{inbox}");
}
