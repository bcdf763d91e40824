//! Residents' identity end to end through HTTP: staff with passkeys, counter registration
//! against the sandbox registry, the app activated with a code, approvals, devices, re-binding,
//! data export and account closure.
mod common;
use common::*;
use iamsmart_crypto::webauthn::soft::SoftPasskey;
use serde_json::{json, Value};

/// A platform with a sandbox registry; returns (site, server).
pub async fn platform_with_registry(extra: &[(&str, &str)], delay_ms: u64) -> (Site, Server) {
    let site = Site::new().await;
    let port = iamsmart_testkit::free_port();
    let immd = start_immd(port, delay_ms).await;
    let mut env: Vec<(&str, &str)> = vec![("IAMSMART_REGISTRY__URL", &immd)];
    env.extend_from_slice(extra);
    let srv = site.serve_on(port, &env).await;
    (site, srv)
}

async fn post(
    c: &reqwest::Client,
    srv: &Server,
    path: &str,
    token: &str,
    body: Value,
) -> reqwest::Response {
    c.post(srv.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Enrol a staff member's passkey with their enrolment code; returns the session token.
async fn enrol(c: &reqwest::Client, srv: &Server, pk: &SoftPasskey, created: &Value) -> String {
    let opts: Value = c
        .post(srv.url("/staff/v1/enrolment/options"))
        .json(&json!({ "staff_id": created["id"], "enrolment_code": created["enrolment_code"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cred = pk.register(&opts["publicKey"]);
    let r = c
        .post(srv.url("/staff/v1/enrolment/finish"))
        .json(&json!({ "ceremony": opts["ceremony"], "credential": cred }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Log in with a passkey; returns the response.
async fn login(c: &reqwest::Client, srv: &Server, pk: &SoftPasskey) -> reqwest::Response {
    let opts: Value = c
        .post(srv.url("/staff/v1/login/options"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cred = pk.authenticate(&opts["publicKey"]).unwrap();
    c.post(srv.url("/staff/v1/login/finish"))
        .json(&json!({ "ceremony": opts["ceremony"], "credential": cred }))
        .send()
        .await
        .unwrap()
}

/// A supervisor and an officer, both logged in with passkeys: (supervisor token, officer token,
/// officer id).
async fn staff(c: &reqwest::Client, srv: &Server) -> (String, String, String) {
    let sup: Value = post(
        c,
        srv,
        "/admin/v1/staff",
        ADMIN_TOKEN,
        json!({ "display_name": "Supervisor Wong", "role": "supervisor" }),
    )
    .await
    .json()
    .await
    .unwrap();
    let sup_key = SoftPasskey::new(&srv.base);
    enrol(c, srv, &sup_key, &sup).await;
    let r = login(c, srv, &sup_key).await;
    assert_eq!(r.status(), 200);
    let sup_token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let off: Value = post(
        c,
        srv,
        "/staff/v1/staff",
        &sup_token,
        json!({ "display_name": "Officer Lee", "role": "officer" }),
    )
    .await
    .json()
    .await
    .unwrap();
    let off_key = SoftPasskey::new(&srv.base);
    let off_token = enrol(c, srv, &off_key, &off).await;
    (
        sup_token,
        off_token,
        off["id"].as_str().unwrap().to_string(),
    )
}

fn card(r: &iamsmart_sandbox::immd::SeedResident) -> Value {
    json!({ "card": {
        "hkid": r.hkid, "name_en": r.name_en, "name_zh": r.name_zh, "date_of_birth": r.date_of_birth
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_registration_activation_approvals_devices_and_rights() {
    let (site, srv) = platform_with_registry(
        &[
            ("IAMSMART_IDENTITY__CLOSED_RETENTION_DAYS", "0"),
            ("IAMSMART_AUDIT__TREE_HEAD_INTERVAL_SECS", "1"),
        ],
        0,
    )
    .await;
    let c = reqwest::Client::new();
    let (sup_token, off_token, officer) = staff(&c, &srv).await;

    // Roles: an officer cannot create staff.
    let r = post(
        &c,
        &srv,
        "/staff/v1/staff",
        &off_token,
        json!({ "display_name": "X", "role": "officer" }),
    )
    .await;
    assert_eq!(r.status(), 403);

    // Counter registration: the registry must confirm the card data.
    let seed = seed();
    let chan = &seed[3];
    let mut wrong = card(chan);
    wrong["card"]["date_of_birth"] = json!("1999-01-01");
    let r = post(&c, &srv, "/counter/v1/registrations", &off_token, wrong).await;
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        p["type"],
        "https://iamsmart.example/problems/details-mismatch"
    );
    let mut unknown = card(chan);
    unknown["card"]["hkid"] = json!(hkid(424_242));
    let r2: Value = post(&c, &srv, "/counter/v1/registrations", &off_token, unknown)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        r2["detail"], p["detail"],
        "no enumeration: unknown and mismatched read the same"
    );

    let r = post(
        &c,
        &srv,
        "/counter/v1/registrations",
        &off_token,
        card(chan),
    )
    .await;
    assert_eq!(r.status(), 201);
    let issued: Value = r.json().await.unwrap();
    let code = issued["activation_code"].as_str().unwrap().to_string();
    let rid = issued["resident_id"].as_str().unwrap().to_string();
    assert_eq!(issued["existing"], false);

    // The app binds with the code (as a QR payload); the code works once.
    let home = site.dir.path().join("phone1");
    let qr = format!("iamsmart:activate?code={}", code.replace('-', ""));
    let e = ok_json(&app(&home, &["activate", "--platform", &srv.base, &qr]));
    assert_eq!(e["resident_id"], rid.as_str());
    assert_eq!(e["rebound"], false);
    let d1 = e["device_id"].as_str().unwrap().to_string();
    let o = app(
        &site.dir.path().join("phone-x"),
        &["activate", "--platform", &srv.base, &code],
    );
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not valid or has expired"));

    // The record: registry fields verified; the profile editable.
    let me = ok_json(&app(&home, &["me"]));
    assert_eq!(me["verified"]["name_en"], chan.name_en.as_str());
    assert_eq!(me["verified"]["gender"], chan.gender.as_str());
    assert_eq!(me["channel"], "counter");
    let profile = site.dir.path().join("profile.json");
    std::fs::write(&profile, r#"{"email":"canary.person@example.hk","mobile":{"country_code":"852","subscriber_number":"91234567"}}"#).unwrap();
    let me = ok_json(&app(&home, &["set-profile", profile.to_str().unwrap()]));
    assert_eq!(me["profile"]["email"], "canary.person@example.hk");
    std::fs::write(&profile, r#"{"email":"nope"}"#).unwrap();
    let o = app(&home, &["set-profile", profile.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("email"),
        "field named"
    );

    // An approval with its match code: a wrong code is refused by the app, the right one approves.
    let req: Value = post(&c, &srv, "/admin/v1/approvals", ADMIN_TOKEN, json!({
        "resident_id": rid, "kind": "login", "client_name": "Online Application for International Driving Permit"
    })).await.json().await.unwrap();
    let pending = ok_json(&app(&home, &["pending"]));
    assert_eq!(pending[0]["id"], req["id"]);
    let wrong_code = if req["match_code"] == "0000" {
        "0001"
    } else {
        "0000"
    };
    let o = app(
        &home,
        &[
            "approve",
            req["id"].as_str().unwrap(),
            "--match",
            wrong_code,
            "--yes",
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("phishing"));
    let done = ok_json(&app(
        &home,
        &[
            "approve",
            req["id"].as_str().unwrap(),
            "--match",
            req["match_code"].as_str().unwrap(),
            "--yes",
        ],
    ));
    assert_eq!(done["status"], "approved");
    let st: Value = c
        .get(srv.url(&format!(
            "/admin/v1/approvals/{}",
            req["id"].as_str().unwrap()
        )))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["status"], "approved");
    // Answered once only.
    let o = app(&home, &["deny", req["id"].as_str().unwrap()]);
    assert!(!o.status.success());
    // A QR request with no resident is claimed by the scanning app, then denied.
    let qr_req: Value = post(
        &c,
        &srv,
        "/admin/v1/approvals",
        ADMIN_TOKEN,
        json!({
            "kind": "login", "client_name": "Sandbox Service"
        }),
    )
    .await
    .json()
    .await
    .unwrap();
    let denied = ok_json(&app(&home, &["deny", qr_req["qr"].as_str().unwrap()]));
    assert_eq!(denied["status"], "denied");
    // Push bombing: one request waiting per service, three per resident.
    for (i, (service, expected)) in [
        ("Bomber", 201),
        ("Bomber", 429),
        ("Second service", 201),
        ("Third service", 201),
        ("Fourth service", 429),
    ]
    .into_iter()
    .enumerate()
    {
        let r = post(
            &c,
            &srv,
            "/admin/v1/approvals",
            ADMIN_TOKEN,
            json!({
                "resident_id": rid, "kind": "login", "client_name": service
            }),
        )
        .await;
        assert_eq!(r.status(), expected, "request {i} ({service})");
    }

    // A signed request cannot be replayed or moved to another path.
    let unlocked = iamsmart_app::App::unlock(&home, APP_PIN).await.unwrap();
    let sig = unlocked.sign_request("GET", "/app/v1/me", b"").unwrap();
    let get = |path: &str, sig: &str| {
        c.get(srv.url(path))
            .header("iamsmart-device-signature", sig.to_string())
            .send()
    };
    assert_eq!(get("/app/v1/me", &sig).await.unwrap().status(), 200);
    assert_eq!(
        get("/app/v1/me", &sig).await.unwrap().status(),
        401,
        "replay"
    );
    let sig = unlocked.sign_request("GET", "/app/v1/me", b"").unwrap();
    assert_eq!(
        get("/app/v1/devices", &sig).await.unwrap().status(),
        401,
        "other path"
    );
    assert_eq!(
        c.get(srv.url("/app/v1/me")).send().await.unwrap().status(),
        401,
        "unsigned"
    );

    // Lost phone: the counter re-registers the same HKID; the new phone re-binds; the old
    // device is refused at once.
    let r = post(
        &c,
        &srv,
        "/counter/v1/registrations",
        &off_token,
        card(chan),
    )
    .await;
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["existing"], true);
    assert_eq!(again["resident_id"], rid.as_str());
    let home2 = site.dir.path().join("phone2");
    let e2 = ok_json(&app(
        &home2,
        &[
            "activate",
            "--platform",
            &srv.base,
            again["activation_code"].as_str().unwrap(),
        ],
    ));
    assert_eq!(e2["rebound"], true);
    let o = app(&home, &["me"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&o.stderr).contains("revoked"));
    let devices = ok_json(&app(&home2, &["devices"]));
    assert_eq!(devices.as_array().unwrap().len(), 2);
    assert!(devices
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == d1.as_str() && d["status"] == "revoked"));

    // Upgrade at the counter.
    let r = post(
        &c,
        &srv,
        "/counter/v1/upgrades",
        &off_token,
        json!({ "hkid": chan.hkid }),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(ok_json(&app(&home2, &["me"]))["level"], "plus");

    // Export: everything held, including the staff actions on the record.
    let out = site.dir.path().join("export.json");
    let o = app(&home2, &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success());
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["resident"]["verified"]["hkid"], chan.hkid.as_str());
    let events: Vec<&str> = doc["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect();
    for e in [
        "resident.registered",
        "activation_code.issued",
        "device.bound",
        "device.revoked",
        "resident.upgraded",
        "approval.approved",
        "resident.profile_updated",
    ] {
        assert!(events.contains(&e), "{e} missing from {events:?}");
    }
    let by_officer = doc["activity"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["by"] == format!("staff:{officer}"));
    assert!(by_officer, "staff actions carry the officer's id");

    // Revoking the current device from the app ends it at once.
    let d2 = e2["device_id"].as_str().unwrap();
    // Close the account: devices end at once; data erased after the retention period (0 days
    // here); audit entries stay.
    let closed = ok_json(&app(&home2, &["close", "--yes"]));
    assert_eq!(closed["status"], "closed");
    assert_eq!(app(&home2, &["me"]).status.code(), Some(4));
    let mut purged = false;
    for _ in 0..100 {
        let r = c
            .get(srv.url(&format!("/admin/v1/residents/{rid}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        if r.status() == 404 {
            purged = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(purged, "closed account not erased");
    let entries: Value = audit_entries(&srv, 0, 1000).await;
    let text = entries.to_string();
    assert!(text.contains("resident.purged") && text.contains(d2));
    assert!(
        !text.contains(&chan.name_en) && !text.contains(&chan.hkid[..7]),
        "no personal data in the log"
    );
    let _ = sup_token;

    // The whole log still verifies.
    let o = site.run(&["audit", "verify"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_passkeys_roles_and_limits() {
    let (_site, srv) = platform_with_registry(&[], 0).await;
    let c = reqwest::Client::new();
    let (sup_token, off_token, officer) = staff(&c, &srv).await;

    // A passkey from another origin, or an answer to a used ceremony, is refused.
    let phish = SoftPasskey::new("http://127.0.0.1.evil.example");
    let k: Value = post(
        &c,
        &srv,
        "/staff/v1/staff",
        &sup_token,
        json!({ "display_name": "Kiosk 7", "role": "kiosk" }),
    )
    .await
    .json()
    .await
    .unwrap();
    let opts: Value = c
        .post(srv.url("/staff/v1/enrolment/options"))
        .json(&json!({ "staff_id": k["id"], "enrolment_code": k["enrolment_code"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cred = phish.register(&opts["publicKey"]);
    let r = c
        .post(srv.url("/staff/v1/enrolment/finish"))
        .json(&json!({ "ceremony": opts["ceremony"], "credential": cred }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(srv.url("/staff/v1/enrolment/finish"))
        .json(&json!({ "ceremony": opts["ceremony"], "credential": cred }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "ceremony single use");
    // A wrong enrolment code.
    let r = c
        .post(srv.url("/staff/v1/enrolment/options"))
        .json(&json!({ "staff_id": k["id"], "enrolment_code": "guess" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A kiosk may not register at the counter.
    let kiosk_key = SoftPasskey::new(&srv.base);
    let kiosk_token = enrol(&c, &srv, &kiosk_key, &k).await;
    let r = post(
        &c,
        &srv,
        "/counter/v1/registrations",
        &kiosk_token,
        card(&seed()[4]),
    )
    .await;
    assert_eq!(r.status(), 403);

    // Disabling an officer ends their session at once.
    assert_eq!(
        c.get(srv.url("/staff/v1/me"))
            .bearer_auth(&off_token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = post(
        &c,
        &srv,
        &format!("/staff/v1/staff/{officer}/disable"),
        &sup_token,
        json!({}),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        c.get(srv.url("/staff/v1/me"))
            .bearer_auth(&off_token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Wrong activation codes are limited per address: the sixth try waits.
    let home = _site.dir.path().join("guesser");
    let mut last = None;
    for i in 0..6 {
        let o = app(
            &home,
            &[
                "activate",
                "--platform",
                &srv.base,
                &format!("AAAA-BBBB-CCC{i}"),
            ],
        );
        last = Some(o);
    }
    let o = last.unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Too many failed attempts"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_is_down_or_slow_gives_a_clear_try_again_and_registers_nobody() {
    // Slow: answers after 3 s, the platform waits 1 s.
    let (_site, srv) =
        platform_with_registry(&[("IAMSMART_REGISTRY__TIMEOUT_MS", "1000")], 3000).await;
    let c = reqwest::Client::new();
    let (_, off_token, _) = staff(&c, &srv).await;
    let r = post(
        &c,
        &srv,
        "/counter/v1/registrations",
        &off_token,
        card(&seed()[5]),
    )
    .await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let p: Value = r.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("try again"), "{p}");
    let entries = audit_entries(&srv, 0, 1000).await.to_string();
    assert!(!entries.contains("resident.registered"));

    // Down: nothing listens.
    let site = Site::new().await;
    let dead = format!("http://127.0.0.1:{}/immd", iamsmart_testkit::free_port());
    let srv = site.serve(&[("IAMSMART_REGISTRY__URL", &dead)]).await;
    let (_, off_token, _) = staff(&c, &srv).await;
    let r = post(
        &c,
        &srv,
        "/counter/v1/registrations",
        &off_token,
        card(&seed()[5]),
    )
    .await;
    assert_eq!(r.status(), 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_create_resident_gives_a_working_app_home() {
    let site = Site::new().await;
    let home = site.dir.path().join("sandbox-app");
    let o = site.run(
        &[
            "sandbox",
            "create-resident",
            "--app-home",
            home.to_str().unwrap(),
            "--level",
            "plus",
            "--pin",
            APP_PIN,
        ],
        &[],
    );
    let created = ok_json(&o);
    assert_eq!(created["level"], "plus");
    let srv = site.serve(&[]).await;
    // The app home names the platform URL given at creation; point it at this server.
    let file = home.join("device.json");
    let mut dev: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    // Without --kdf-memory-mib the key is sealed with the default cost (the other tests use less).
    assert_eq!(
        (&dev["key"]["m"], &dev["key"]["t"]),
        (&json!(64 * 1024), &json!(3))
    );
    dev["platform_url"] = json!(srv.base);
    std::fs::write(&file, serde_json::to_vec(&dev).unwrap()).unwrap();
    let me = ok_json(&app(&home, &["me"]));
    assert_eq!(me["id"], created["resident_id"]);
    assert_eq!(me["level"], "plus");
    assert_eq!(me["channel"], "sandbox");
    // A wrong PIN does not open the key.
    let o = std::process::Command::new(app_bin())
        .env("IAMSMART_APP_PIN", "135792")
        .args(["--home", home.to_str().unwrap(), "me"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_registration_without_a_face_model_says_so_and_offers_the_counter() {
    if cfg!(feature = "face") {
        eprintln!("built with the face model: see tests/face.rs");
        return;
    }
    let (site, srv) = platform_with_registry(&[], 0).await;
    let r = &seed()[0];
    let img = site.dir.path().join("x.jpg");
    std::fs::write(&img, b"\xff\xd8\xff not really a jpeg").unwrap();
    let o = app(
        &site.dir.path().join("self"),
        &[
            "register",
            "--platform",
            &srv.base,
            "--hkid",
            &r.hkid,
            "--name-en",
            &r.name_en,
            "--dob",
            &r.date_of_birth,
            "--card",
            img.to_str().unwrap(),
            "--selfie",
            img.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("counter"), "{err}");
    let entries = audit_entries(&srv, 0, 1000).await.to_string();
    assert!(
        !entries.contains("resident.registered"),
        "never passes a check it did not perform"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_need_a_fresh_challenge_and_proof_of_the_device_key() {
    let (site, srv) = platform_with_registry(&[], 0).await;
    let c = reqwest::Client::new();
    let phone = iamsmart_app::App::create(
        &site.dir.path().join("raw"),
        &srv.base,
        "raw phone",
        APP_PIN,
        iamsmart_crypto::device::KdfParams {
            m_kib: 8192,
            t: 1,
            p: 1,
        },
    )
    .unwrap();
    let r = &seed()[0];
    let body = |challenge: &str| {
        serde_json::to_vec(&json!({
            "challenge": challenge,
            "card": { "hkid": r.hkid, "name_en": r.name_en, "date_of_birth": r.date_of_birth },
            "card_image": "AAAA", "selfie": "AAAA",
            "device": phone.new_device(),
        }))
        .unwrap()
    };
    let send = |bytes: Vec<u8>, sig: Option<String>| {
        let mut req = c
            .post(srv.url("/app/v1/registrations"))
            .header("content-type", "application/json")
            .body(bytes);
        if let Some(s) = sig {
            req = req.header("iamsmart-device-signature", s);
        }
        req.send()
    };
    // Unsigned: no proof that the caller holds the key it presents.
    assert_eq!(send(body("x"), None).await.unwrap().status(), 401);
    // A challenge the platform never issued (or one already used or expired).
    let b = body("never-issued");
    let sig = phone
        .sign_request("POST", "/app/v1/registrations", &b)
        .unwrap();
    let res = send(b, Some(sig)).await.unwrap();
    assert_eq!(res.status(), 422);
    let p: Value = res.json().await.unwrap();
    assert_eq!(
        p["type"],
        "https://iamsmart.example/problems/registration-expired"
    );
    // A signature over another body does not carry over.
    let issued: Value = c
        .post(srv.url("/app/v1/registrations/challenge"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b = body(issued["challenge"].as_str().unwrap());
    let sig = phone
        .sign_request("POST", "/app/v1/registrations", b"{}")
        .unwrap();
    assert_eq!(send(b, Some(sig)).await.unwrap().status(), 401);
}
