//! Logout (issue 15, finding 6): an ID token alone ends nobody's sign-in; a request that does not
//! name this browser's session is confirmed by the resident; a service's logout ends its own
//! grants, and others' only when the resident chooses "sign out of every service".
mod common;
use common::rp::*;
use common::signing::percent;
use common::*;

const AFTER: &str = "https://service.example/bye";

fn service(site: &Site, srv: &Server, bcl: &str) -> Rp {
    Rp::register(
        site,
        srv,
        "fapi2",
        &[
            "--backchannel-logout-uri",
            bcl,
            "--post-logout-redirect-uri",
            AFTER,
        ],
    )
}

/// The confirmation page's CSRF token (and that it is the confirmation page).
async fn confirmation(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"logout-form\""), "{html}");
    between(&html, "name=\"csrf\" value=\"", "\"")
        .expect("csrf")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_alone_ends_no_sign_in_and_a_service_signs_out_only_itself() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let (base, seen) = receiver().await;
    let a = service(&site, &srv, &format!("{base}/a"));
    let c = service(&site, &srv, &format!("{base}/c"));
    let b = browser();
    let (id_a, at_a) = sign_in(&b, &a, &home, false).await;
    let (_, at_c) = sign_in(&b, &c, &home, true).await;

    // Another site sends the resident's browser to /logout, with no hint: a page asks, and
    // nothing ends until the resident answers.
    confirmation(b.get(srv.url("/logout")).send().await.unwrap()).await;
    assert!(signed_in(&b, &a).await, "a cross-site GET ends nothing");
    // A forged answer (no or wrong CSRF token) ends nothing either.
    let r = b
        .post(srv.url("/logout"))
        .form(&[("confirm", "everywhere"), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
    assert!(signed_in(&b, &a).await);

    // Service A (or whoever holds its ID token) sends it from another browser: the session
    // lives on; only A's own grants end, and only A is told.
    let other = browser();
    let r = other
        .get(srv.url(&format!(
            "/logout?id_token_hint={id_a}&post_logout_redirect_uri={}&state=s1",
            percent(AFTER)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("{AFTER}?state=s1").as_str()
    );
    assert!(
        signed_in(&b, &c).await,
        "the resident's sign-in is untouched"
    );
    assert!(!live(&a, &at_a).await, "A's grant from that session ended");
    assert!(live(&c, &at_c).await, "C's did not");
    wait_for(&seen, 1).await;
    assert_eq!(seen.lock().unwrap()[0].0, "/a");

    // Tokens of other kinds are not ID tokens: an access token, or A's logout token.
    let logout_token = percent_decode(
        seen.lock().unwrap()[0]
            .2
            .strip_prefix("logout_token=")
            .unwrap(),
    );
    for t in [at_c.as_str(), logout_token.as_str()] {
        let r = other
            .get(srv.url(&format!("/logout?id_token_hint={t}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{}", r.text().await.unwrap());
    }

    // A's ID token of this very session, from this browser: the session ends at once, with
    // A's grants; C keeps its tokens and hears nothing.
    let (id_a, at_a) = sign_in(&b, &a, &home, true).await;
    let r = b
        .get(srv.url(&format!(
            "/logout?id_token_hint={id_a}&post_logout_redirect_uri={}",
            percent(AFTER)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(!signed_in(&b, &a).await, "the session ended");
    assert!(!live(&a, &at_a).await);
    assert!(live(&c, &at_c).await, "another service stays signed in");
    wait_for(&seen, 2).await;
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(seen.lock().unwrap()[1].0, "/a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resident_can_choose_to_sign_out_of_every_service() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let (base, seen) = receiver().await;
    let a = service(&site, &srv, &format!("{base}/a"));
    let c = service(&site, &srv, &format!("{base}/c"));
    let b = browser();
    let (_, at_a) = sign_in(&b, &a, &home, false).await;
    let (_, at_c) = sign_in(&b, &c, &home, true).await;

    // "Sign out" from the account pages: just iAM Smart; the services keep their sign-ins.
    let csrf = confirmation(b.get(srv.url("/logout")).send().await.unwrap()).await;
    let r = b
        .post(srv.url("/logout"))
        .form(&[("confirm", "this"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!signed_in(&b, &a).await);
    assert!(live(&a, &at_a).await && live(&c, &at_c).await);

    // Signed in again; a service's request with another session's hint is confirmed, and
    // "every service" ends both grants and tells both services.
    let (id_old, _) = sign_in(&b, &a, &home, false).await;
    let (_, at_a) = sign_in(&b, &a, &home, true).await;
    let (_, at_c) = sign_in(&b, &c, &home, true).await;
    let fresh = browser();
    let (id_elsewhere, _) = sign_in(&fresh, &a, &home, false).await;
    let r = b
        .get(srv.url(&format!(
            "/logout?id_token_hint={id_elsewhere}&post_logout_redirect_uri={}&state=s2",
            percent(AFTER)
        )))
        .send()
        .await
        .unwrap();
    let csrf = confirmation(r).await;
    assert!(signed_in(&b, &a).await, "asked, not ended");
    assert!(
        signed_in(&fresh, &a).await,
        "the other browser is untouched"
    );
    let r = b
        .post(srv.url("/logout"))
        .form(&[
            ("confirm", "everywhere"),
            ("csrf", &csrf),
            ("client_id", &a.client_id),
            ("post_logout_redirect_uri", AFTER),
            ("state", "s2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("{AFTER}?state=s2").as_str()
    );
    assert!(!signed_in(&b, &a).await);
    assert!(!live(&a, &at_a).await && !live(&c, &at_c).await);
    assert!(
        signed_in(&fresh, &a).await,
        "the other browser is still untouched"
    );
    wait_for(&seen, 2).await;
    let mut told: Vec<String> = seen.lock().unwrap().iter().map(|s| s.0.clone()).collect();
    told.sort();
    assert_eq!(told, ["/a", "/c"]);
    drop(id_old);
}
