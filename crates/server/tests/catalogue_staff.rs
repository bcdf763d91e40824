//! Staff who keep the portal's catalogue, over HTTP: editors and supervisors
//! edit with their passkey sessions, counter officers and kiosks are refused, a refused edit
//! names its field, an accepted one is searchable at once, and the audit log names the staff
//! member who made it; the admin pages are served in both languages under the strict CSP.
mod common;
use common::*;
use iamsmart_crypto::webauthn::soft::SoftPasskey;
use serde_json::{json, Value};

/// A staff member created by the operator, with a passkey enrolled: (id, session token).
async fn staff_member(
    c: &reqwest::Client,
    srv: &Server,
    name: &str,
    role: &str,
) -> (String, String) {
    let r = c
        .post(srv.url("/admin/v1/staff"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "display_name": name, "role": role }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{role}");
    let created: Value = r.json().await.unwrap();
    let opts: Value = c
        .post(srv.url("/staff/v1/enrolment/options"))
        .json(&json!({ "staff_id": created["id"], "enrolment_code": created["enrolment_code"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = SoftPasskey::new(&srv.base);
    let cred = key.register(&opts["publicKey"]);
    let r = c
        .post(srv.url("/staff/v1/enrolment/finish"))
        .json(&json!({ "ceremony": opts["ceremony"], "credential": cred }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let session: Value = r.json().await.unwrap();
    assert_eq!(session["staff"]["role"], role);
    (
        created["id"].as_str().unwrap().to_string(),
        session["token"].as_str().unwrap().to_string(),
    )
}

/// The service ids of a portal search, in order.
async fn search(c: &reqwest::Client, srv: &Server, q: &str) -> Vec<String> {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let html = c
        .get(srv.url(&format!("/services?q={q}")))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    html.split("<h3><a href=\"/services/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

const PATH: &str = "/staff/v1/catalogue/services";

#[tokio::test]
async fn editors_and_supervisors_edit_the_catalogue_others_are_refused() {
    let site = Site::new().await;
    let srv = site
        .serve(&[("IAMSMART_HTTP__RATE_LIMIT_PER_IP_PER_MINUTE", "0")])
        .await;
    let c = reqwest::Client::new();
    let (editor_id, editor) = staff_member(&c, &srv, "Editor Chan", "editor").await;
    let (supervisor_id, supervisor) = staff_member(&c, &srv, "Supervisor Ho", "supervisor").await;
    let (_, officer) = staff_member(&c, &srv, "Officer Lee", "officer").await;
    let (_, kiosk) = staff_member(&c, &srv, "Kiosk 7", "kiosk").await;
    let one = format!("{PATH}/immd-id-card-replacement");

    // No session, a made-up session, the operator's token: not a staff session.
    let r = c.get(srv.url(PATH)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    for token in ["made-up", ADMIN_TOKEN] {
        let r = c
            .get(srv.url(PATH))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{token}");
    }
    // Counter officers and kiosks may neither read nor change the catalogue here.
    let svc: Value = c
        .get(srv.url(&one))
        .bearer_auth(&editor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(svc["id"], "immd-id-card-replacement");
    for token in [&officer, &kiosk] {
        assert_eq!(
            c.get(srv.url(PATH))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status(),
            403
        );
        assert_eq!(
            c.get(srv.url(&one))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status(),
            403
        );
        let r = c
            .put(srv.url(&one))
            .bearer_auth(token)
            .json(&svc)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = c
            .delete(srv.url(&one))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    // Editors are not counter staff either.
    let r = c
        .post(srv.url("/counter/v1/upgrades"))
        .bearer_auth(&editor)
        .json(&json!({ "hkid": "A1234563" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Editors and supervisors list the whole catalogue.
    for token in [&editor, &supervisor] {
        let listed: Value = c
            .get(srv.url(PATH))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(listed["services"].as_array().unwrap().len() >= 100);
    }

    // A refused edit names the field and changes nothing.
    for (field, value) in [
        ("url", json!("javascript:alert(1)")),
        ("name", json!({ "en": "Wombat licence", "zh": "" })),
        ("popularity", json!(1000)),
        ("age_groups", json!([])),
    ] {
        let mut bad = svc.clone();
        bad[field] = value;
        let r = c
            .put(srv.url(&one))
            .bearer_auth(&editor)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{field}");
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["field"], field, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().starts_with(field),
            "{problem}"
        );
    }
    let mut wrong_id = svc.clone();
    wrong_id["id"] = "another-service".into();
    let r = c
        .put(srv.url(&one))
        .bearer_auth(&editor)
        .json(&wrong_id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "id");
    assert!(search(&c, &srv, "wombat").await.is_empty());

    // The editor renames the service: searchable at once under its new name.
    let mut renamed = svc.clone();
    renamed["name"]["en"] = "Wombat identity card renewal".into();
    let r = c
        .put(srv.url(&one))
        .bearer_auth(&editor)
        .json(&renamed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        search(&c, &srv, "wombat").await.first().map(String::as_str),
        Some("immd-id-card-replacement")
    );

    // The supervisor adds a service and the editor removes it.
    let mut added = svc.clone();
    added["id"] = "zz-numbat-permit".into();
    added["name"] = json!({ "en": "Numbat walking permit", "zh": "袋食蟻獸散步許可證" });
    added["client_id"] = Value::Null;
    let r = c
        .put(srv.url(&format!("{PATH}/zz-numbat-permit")))
        .bearer_auth(&supervisor)
        .json(&added)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(
        search(&c, &srv, "numbat").await.first().map(String::as_str),
        Some("zz-numbat-permit")
    );
    let r = c
        .delete(srv.url(&format!("{PATH}/zz-numbat-permit")))
        .bearer_auth(&editor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(search(&c, &srv, "numbat").await.is_empty());
    let r = c
        .get(srv.url(&format!("{PATH}/zz-numbat-permit")))
        .bearer_auth(&editor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The audit log names who did what.
    let entries: Value = audit_entries(&srv, 0, 1000).await;
    let made = |kind: &str, actor: &str, subject: &str| {
        entries.as_array().unwrap().iter().any(|e| {
            e["kind"] == kind && e["actor"] == actor && e["subject"] == format!("service:{subject}")
        })
    };
    let by_editor = format!("staff:{editor_id}");
    let by_supervisor = format!("staff:{supervisor_id}");
    assert!(made(
        "catalogue.service_updated",
        &by_editor,
        "immd-id-card-replacement"
    ));
    assert!(made(
        "catalogue.service_added",
        &by_supervisor,
        "zz-numbat-permit"
    ));
    assert!(made(
        "catalogue.service_removed",
        &by_editor,
        "zz-numbat-permit"
    ));
    let o = site.run(&["audit", "verify"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The admin pages: a shell in the reader's language, its script from this origin only.
    for (lang, title) in [("en", "Service catalogue"), ("zh-HK", "服務目錄")] {
        let r = c
            .get(srv.url("/admin/catalogue"))
            .header("accept-language", lang)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!("<html lang=\"{lang}\"")) && html.contains(title));
        assert!(html.contains("<script src=\"/static/catalogue_admin.js\""));
        assert_eq!(html.matches("<script>").count(), 0, "no inline script");
    }
    let r = c
        .get(srv.url("/static/catalogue_admin.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
}
