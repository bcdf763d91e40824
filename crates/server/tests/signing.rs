//! Digital signing end to end: the operator sets up the certificate authority, an iAM Smart+
//! resident's app gets a signing certificate, a service asks for a signature over a document's
//! hash, the resident approves in the app, the service collects a timestamped CMS signature
//! that `openssl cms` verifies against the root; OCSP and the CRL show the certificate's
//! revocation when the device is revoked; `iamsmart verify` and `POST /sign/v1/verify` report
//! signer, time, integrity and status at signing time. With the bad inputs around it.
//! (`signing_oidc.rs`: signatures asked for with an authorization, and the step-up challenge.)
mod common;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::rp::*;
use common::signing::*;
use common::*;
use serde_json::{json, Value};
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_signs_a_documents_hash_and_independent_tools_accept_it() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let (plus, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    let (_, basic_home) = resident_with_app(&site, "basic").await;
    point_app(&basic_home, &srv.base);
    let tmp = site.dir.path();

    // Before the operator sets up the CA, signing says what is missing.
    let o = app(&home, &["signing-cert"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("ca init"), "{}", text(&o));

    let root_key = ca_init(&site, &srv);
    let sealed: Value = serde_json::from_slice(&std::fs::read(&root_key).unwrap()).unwrap();
    assert_eq!(sealed["kdf"], "argon2id", "the root key is sealed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&root_key).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the sealed root key is private to its owner"
        );
    }
    let again = site.run(
        &[
            "ca",
            "init",
            "--root-key-out",
            tmp.join("other.json").to_str().unwrap(),
            "--root-passphrase-file",
            tmp.join("root.pass").to_str().unwrap(),
        ],
        &[],
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("already set up"));

    let root = write_pem(tmp, "root.pem", &download(&srv, "/pki/root.cer").await);
    let issuing = write_pem(
        tmp,
        "issuing.pem",
        &download(&srv, "/pki/issuing.cer").await,
    );
    let ocsp_cert = write_pem(tmp, "ocsp.pem", &download(&srv, "/pki/ocsp.cer").await);
    let o = openssl(&[
        "verify",
        "-CAfile",
        root.to_str().unwrap(),
        issuing.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    // The app gets a signing certificate (iAM Smart+ only).
    let o = app(&basic_home, &["signing-cert"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("iAM Smart+"), "{}", text(&o));
    let cert = ok_json(&app(&home, &["signing-cert"]));
    let serial = cert["serial"].as_str().unwrap().to_string();
    let user_der = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cert["certificate"].as_str().unwrap())
        .unwrap();
    let user_pem = write_pem(tmp, "user.pem", &user_der);
    let o = openssl(&["x509", "-in", user_pem.to_str().unwrap(), "-noout", "-text"]);
    let shown = text(&o);
    assert!(shown.contains("Non Repudiation"), "{shown}");
    assert!(shown.contains("serialNumber = PNOHK-"), "{shown}");
    assert!(
        !shown.contains(plus["hkid"].as_str().unwrap()),
        "the HKID is not in the certificate"
    );

    // A FAPI service that knows the resident from a login, with a client token for signing.
    let svc = Rp::register(&site, &srv, "fapi2", &[]);
    let (sub, _) = login_with(&svc, &home, &[]).await;
    let token = svc.client_token("sign").await;
    let document = "Tenancy agreement, Flat A, 12/F, 1 Harbour Road. 租約。".as_bytes();
    let digest = sha256_hex(document);
    let ask = |extra: Value| {
        let mut v = json!({
            "login_hint": sub,
            "document": { "name": "Tenancy agreement 租約", "department": "Rating and Valuation Department", "service": "e-Stamping" },
            "digest": digest,
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };

    // Bad requests: nothing is started.
    let r = svc
        .api(
            "POST",
            "/sign/v1/requests",
            &token,
            Some(&ask(json!({ "digest": "ab".repeat(31) }))),
        )
        .await;
    assert_eq!(r.status(), 422);
    let t = r.text().await.unwrap();
    assert!(t.contains("32 bytes"), "{t}");
    let r = svc
        .api(
            "POST",
            "/sign/v1/requests",
            &token,
            Some(&ask(json!({ "pdf": "JVBERi0=" }))),
        )
        .await;
    assert_eq!(r.status(), 422);
    let wrong_hkid = STANDARD.encode(iamsmart_crypto::hash::sha256(b"Z1234567"));
    let r = svc
        .api(
            "POST",
            "/sign/v1/requests",
            &token,
            Some(&ask(json!({ "hkid_hash": wrong_hkid }))),
        )
        .await;
    assert_eq!(r.status(), 422, "a mismatched HKID hash is refused");
    assert!(r.text().await.unwrap().contains("hkid-mismatch"));
    let eme_only = svc.client_token("eme").await;
    let r = svc
        .api(
            "POST",
            "/sign/v1/requests",
            &eme_only,
            Some(&ask(json!({}))),
        )
        .await;
    assert_eq!(r.status(), 403, "the sign scope is needed");

    // The request, with the right HKID hash.
    let hkid: String = plus["hkid"]
        .as_str()
        .unwrap()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let right_hkid = STANDARD.encode(iamsmart_crypto::hash::sha256(
        &hkid.as_bytes()[..hkid.len() - 1],
    ));
    let r = svc
        .api(
            "POST",
            "/sign/v1/requests",
            &token,
            Some(&ask(json!({ "hkid_hash": right_hkid }))),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let started: Value = r.json().await.unwrap();
    assert_eq!(started["digest"], digest);
    let id = started["request_id"].as_str().unwrap();
    let poll = |path: String| {
        let (svc, token) = (&svc, &token);
        async move {
            svc.api("GET", &path, token, None)
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        poll(format!("/sign/v1/requests/{id}")).await["status"],
        "pending"
    );

    // The app shows what is signed, with the match code.
    let waiting = pending_sign(&home);
    assert_eq!(waiting["match_code"], started["match_code"]);
    assert_eq!(
        waiting["details"]["document"]["name"],
        "Tenancy agreement 租約"
    );
    assert_eq!(waiting["details"]["digest"], digest);
    let wrong_match = app(
        &home,
        &[
            "approve",
            waiting["id"].as_str().unwrap(),
            "--match",
            "0000",
            "--yes",
        ],
    );
    assert!(!wrong_match.status.success());
    let done = ok_json(&app(
        &home,
        &[
            "approve",
            waiting["id"].as_str().unwrap(),
            "--match",
            started["match_code"].as_str().unwrap(),
            "--yes",
        ],
    ));
    assert_eq!(done["status"], "approved");

    let out = poll(format!("/sign/v1/requests/{id}")).await;
    assert_eq!(out["status"], "signed", "{out}");
    let sig = &out["signature"];
    assert_eq!(sig["certificate_serial"], serial.as_str());
    let again = poll(format!("/sign/v1/requests/{id}")).await;
    assert_eq!(again["status"], "collected");
    assert!(again.get("signature").is_none(), "given out once");
    // The service's HKID hash was checked, and is kept nowhere (an unkeyed hash of an HKID is
    // reversed by trying every HKID): issue 16, finding 8.
    // Once answered, the request keeps not even the platform's keyed check of it; the signing
    // certificate, which names the resident, is sealed at rest.
    let stored = database_text(&site).await;
    assert!(
        !stored.contains(&right_hkid),
        "the HKID's hash is not stored"
    );
    let db = iamsmart_store::Db::connect(&site.db_url, &Default::default())
        .await
        .unwrap();
    let details: String = sqlx::query_scalar("SELECT details FROM sign_requests WHERE id = $1")
        .bind(id)
        .fetch_one(db.reader())
        .await
        .unwrap();
    db.close().await;
    assert!(
        !details.contains("hkid"),
        "the HKID check is dropped once answered: {details}"
    );
    let name_en = plus["name_en"].as_str().unwrap();
    assert!(
        !stored.contains(name_en),
        "the resident's name ({name_en}) is nowhere in clear"
    );

    // openssl verifies the CMS against the root, and notices a changed document.
    let cms = STANDARD.decode(sig["cms"].as_str().unwrap()).unwrap();
    let cms_path = tmp.join("sig.der");
    std::fs::write(&cms_path, &cms).unwrap();
    let doc_path = tmp.join("tenancy.txt");
    std::fs::write(&doc_path, document).unwrap();
    let verify_cms = |content: &Path| {
        openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            cms_path.to_str().unwrap(),
            "-content",
            content.to_str().unwrap(),
            "-CAfile",
            root.to_str().unwrap(),
            "-certfile",
            issuing.to_str().unwrap(),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ])
    };
    let o = verify_cms(&doc_path);
    assert!(o.status.success(), "{}", text(&o));
    let tampered = tmp.join("tampered.txt");
    std::fs::write(&tampered, "Tenancy agreement, Flat B").unwrap();
    assert!(!verify_cms(&tampered).status.success());
    let o = openssl(&[
        "cms",
        "-cmsout",
        "-print",
        "-inform",
        "DER",
        "-in",
        cms_path.to_str().unwrap(),
    ]);
    let printed = text(&o);
    assert!(
        printed.contains("id-smime-aa-timeStampToken"),
        "a signature timestamp: {printed}"
    );
    assert!(
        printed.contains("id-smime-aa-signingCertificateV2"),
        "{printed}"
    );

    // Our verifier, on the command line and over HTTP.
    let o = site.run(
        &[
            "verify",
            cms_path.to_str().unwrap(),
            "--content",
            doc_path.to_str().unwrap(),
        ],
        &[],
    );
    let report = ok_json(&o);
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["signatures"][0]["status_at_signing"], "good");
    assert_eq!(report["signatures"][0]["signer"], plus["name_en"]);
    assert!(report["signatures"][0]["timestamp"].as_u64().is_some());
    let o = site.run(
        &[
            "verify",
            cms_path.to_str().unwrap(),
            "--content",
            tampered.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["signatures"][0]["integrity"], false);
    let r = reqwest::Client::new()
        .post(srv.url("/sign/v1/verify"))
        .json(&json!({ "cms": sig["cms"], "document": STANDARD.encode(document) }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["valid"], true);

    // OCSP says good; the transparency log has the signature (the hash, never the document).
    let ocsp = |what: &str| {
        let o = openssl(&[
            "ocsp",
            "-issuer",
            issuing.to_str().unwrap(),
            "-cert",
            user_pem.to_str().unwrap(),
            "-url",
            &srv.url("/pki/ocsp"),
            "-CAfile",
            root.to_str().unwrap(),
            "-VAfile",
            ocsp_cert.to_str().unwrap(),
        ]);
        let t = text(&o);
        assert!(t.contains("Response verify OK"), "{what}: {t}");
        t
    };
    assert!(ocsp("before").contains(": good"));
    let db = database_text(&site).await;
    assert!(
        db.contains(&digest),
        "the transparency log records the document's hash"
    );
    assert!(
        !db.contains("Harbour Road"),
        "the document itself is never sent or kept"
    );

    // The resident revokes the phone: the certificate is revoked at once. (Timestamps count whole
    // seconds, and a revocation in the same second as a signature counts as before it: wait. In
    // real time, as openssl reads the CRL's times from the system's clock.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let device = plus["device_id"].as_str().unwrap().to_string();
    let crl_before = download(&srv, "/pki/crl").await;
    let o = app(&home, &["revoke", &device]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(ocsp("after").contains(": revoked"));
    let crl = download(&srv, "/pki/crl").await;
    assert_ne!(crl, crl_before);
    let crl_path = tmp.join("crl.der");
    std::fs::write(&crl_path, &crl).unwrap();
    let o = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        crl_path.to_str().unwrap(),
        "-CAfile",
        issuing.to_str().unwrap(),
        "-noout",
        "-text",
    ]);
    let t = text(&o);
    assert!(t.contains("verify OK"), "{t}");
    assert!(t.to_lowercase().contains(&serial.to_lowercase()), "{t}");
    let crl_pem = tmp.join("crl.pem");
    let o = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        crl_path.to_str().unwrap(),
        "-out",
        crl_pem.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let o = openssl(&[
        "verify",
        "-crl_check",
        "-CRLfile",
        crl_pem.to_str().unwrap(),
        "-CAfile",
        root.to_str().unwrap(),
        "-untrusted",
        issuing.to_str().unwrap(),
        user_pem.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("revoked"), "{}", text(&o));

    // A signature made before the revocation stays valid; the report says when it was revoked.
    let report = ok_json(&site.run(
        &["verify", cms_path.to_str().unwrap(), "--digest", &digest],
        &[],
    ));
    assert_eq!(report["valid"], true, "{report}");
    assert!(
        report["signatures"][0]["revoked_at"].as_u64().is_some(),
        "{report}"
    );
    // And nothing more can be signed for this resident.
    let r = svc
        .api("POST", "/sign/v1/requests", &token, Some(&ask(json!({}))))
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("no-certificate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_without_login_by_qr_code_and_the_requests_that_sign_nothing() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    ca_init(&site, &srv);
    let (plus, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    let serial = ok_json(&app(&home, &["signing-cert"]))["serial"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, basic_home) = resident_with_app(&site, "basic").await;
    point_app(&basic_home, &srv.base);
    let svc = Rp::register(&site, &srv, "basic", &[]);
    let token = svc.client_token("sign").await;
    let digest = sha256_hex(b"tender documents");
    let start = |face: bool| {
        let (svc, token, digest) = (&svc, &token, &digest);
        async move {
            let r = svc
                .api(
                    "POST",
                    "/sign/v1/requests",
                    token,
                    Some(&json!({ "document": { "name": "Tender 2026/117" }, "digest": digest, "face": face })),
                )
                .await;
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()
        }
    };

    // A QR code any iAM Smart+ resident may scan; an iAM Smart (basic) app cannot sign it.
    let started = start(false).await;
    let qr = started["qr"].as_str().unwrap();
    let code = started["match_code"].as_str().unwrap();
    let o = app(&basic_home, &["approve", qr, "--match", code, "--yes"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("signing certificate"), "{}", text(&o));
    let started = start(false).await;
    let (qr, code) = (
        started["qr"].as_str().unwrap(),
        started["match_code"].as_str().unwrap(),
    );
    let done = ok_json(&app(&home, &["approve", qr, "--match", code, "--yes"]));
    assert_eq!(done["status"], "approved");
    // The same request cannot be answered twice.
    let again = app(&home, &["approve", qr, "--match", code, "--yes"]);
    assert!(!again.status.success());
    let id = started["request_id"].as_str().unwrap();
    let out: Value = svc
        .api("GET", &format!("/sign/v1/requests/{id}"), &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["status"], "signed", "{out}");
    let cms = STANDARD
        .decode(out["signature"]["cms"].as_str().unwrap())
        .unwrap();
    let report = ok_json(&site.run(
        &[
            "verify",
            &{
                let p = site.dir.path().join("qr.der");
                std::fs::write(&p, &cms).unwrap();
                p.display().to_string()
            },
            "--digest",
            &digest,
        ],
        &[],
    ));
    assert_eq!(report["signatures"][0]["signer"], plus["name_en"]);

    // A request that needs a face match is not signed without one.
    let started = start(true).await;
    let o = app(
        &home,
        &[
            "approve",
            started["qr"].as_str().unwrap(),
            "--match",
            started["match_code"].as_str().unwrap(),
            "--yes",
        ],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("face match"), "{}", text(&o));

    // Other services cannot read a request; unknown ids are not found.
    let other = Rp::register(&site, &srv, "basic", &[]);
    let other_token = other.client_token("sign").await;
    let r = other
        .api(
            "GET",
            &format!("/sign/v1/requests/{id}"),
            &other_token,
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    // Verification of garbage is a clear error, never a crash.
    let r = reqwest::Client::new()
        .post(srv.url("/sign/v1/verify"))
        .json(&json!({ "cms": STANDARD.encode(b"not a signature"), "digest": digest }))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_client_error() || r.status() == 200,
        "{}",
        r.status()
    );
    let r = reqwest::Client::new()
        .post(srv.url("/sign/v1/verify"))
        .json(&json!({ "pdf": STANDARD.encode(b"%PDF-1.7 garbage") }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    // The OCSP and timestamp endpoints answer garbage in their protocols' own terms.
    let r = reqwest::Client::new()
        .post(srv.url("/pki/ocsp"))
        .body(b"garbage".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        [0x30, 0x03, 0x0a, 0x01, 0x01],
        "malformedRequest"
    );
    let r = reqwest::Client::new()
        .post(srv.url("/pki/tsa"))
        .body(b"garbage".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let tsr = site.dir.path().join("bad.tsr");
    std::fs::write(&tsr, r.bytes().await.unwrap()).unwrap();
    let o = openssl(&["ts", "-reply", "-in", tsr.to_str().unwrap(), "-text"]);
    assert!(text(&o).contains("Status: Rejected"), "{}", text(&o));

    // Closing the account revokes its certificate at once.
    let crl_path = site.dir.path().join("crl.der");
    let listed = |crl: &[u8]| {
        std::fs::write(&crl_path, crl).unwrap();
        let o = openssl(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            crl_path.to_str().unwrap(),
            "-noout",
            "-text",
        ]);
        text(&o).to_lowercase().contains(&serial.to_lowercase())
    };
    assert!(!listed(&download(&srv, "/pki/crl").await));
    ok_json(&app(&home, &["close", "--yes"]));
    assert!(
        listed(&download(&srv, "/pki/crl").await),
        "the closed account's certificate is on the CRL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_signs_nothing_and_openssl_says_it_has_expired() {
    let site = Site::new().await;
    let srv = site
        .serve(&[("IAMSMART_SIGNING__CERTIFICATE_VALIDITY_SECS", "15")])
        .await;
    ca_init(&site, &srv);
    let tmp = site.dir.path();
    let (_, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    let cert = ok_json(&app(&home, &["signing-cert"]));
    let user_pem = write_pem(
        tmp,
        "user.pem",
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cert["certificate"].as_str().unwrap())
            .unwrap(),
    );
    let root = write_pem(tmp, "root.pem", &download(&srv, "/pki/root.cer").await);
    let issuing = write_pem(
        tmp,
        "issuing.pem",
        &download(&srv, "/pki/issuing.cer").await,
    );
    let svc = Rp::register(&site, &srv, "basic", &[]);
    let token = svc.client_token("sign").await;
    let digest = sha256_hex(b"signed in time");
    let sign = || {
        let (svc, token, home, digest) = (&svc, &token, &home, &digest);
        async move {
            let r = svc
                .api(
                    "POST",
                    "/sign/v1/requests",
                    token,
                    Some(&json!({ "document": { "name": "Declaration" }, "digest": digest })),
                )
                .await;
            let started: Value = r.json().await.unwrap();
            let o = app(
                home,
                &[
                    "approve",
                    started["qr"].as_str().unwrap(),
                    "--match",
                    started["match_code"].as_str().unwrap(),
                    "--yes",
                ],
            );
            (started, o)
        }
    };
    let (started, o) = sign().await;
    assert!(o.status.success(), "{}", text(&o));
    let out: Value = svc
        .api(
            "GET",
            &format!(
                "/sign/v1/requests/{}",
                started["request_id"].as_str().unwrap()
            ),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["status"], "signed", "{out}");
    let cms_path = tmp.join("in-time.der");
    std::fs::write(
        &cms_path,
        STANDARD
            .decode(out["signature"]["cms"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();

    // Once the certificate has expired (the platform's clock moved on; openssl told the time) ...
    srv.advance(std::time::Duration::from_secs(17));
    let at = srv.now_secs().to_string();
    let o = openssl(&[
        "verify",
        "-attime",
        &at,
        "-CAfile",
        root.to_str().unwrap(),
        "-untrusted",
        issuing.to_str().unwrap(),
        user_pem.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("certificate has expired"), "{}", text(&o));
    // ... nothing more is signed with it ...
    let (_, o) = sign().await;
    assert!(!o.status.success());
    assert!(text(&o).contains("certificate"), "{}", text(&o));
    // ... and what was signed in time stays valid: the timestamp proves when.
    let report = platform_verify(
        &srv,
        json!({ "cms": STANDARD.encode(std::fs::read(&cms_path).unwrap()), "digest": digest }),
    )
    .await;
    assert_eq!(report["valid"], true, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_collections_hand_a_signature_out_once() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    ca_init(&site, &srv);
    let (_, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    ok_json(&app(&home, &["signing-cert"]));
    let svc = Rp::register(&site, &srv, "fapi2", &[]);
    let (sub, _) = login_with(&svc, &home, &[]).await;
    let token = svc.client_token("sign").await;
    let r = svc
        .api(
            "POST",
            "/sign/v1/requests",
            &token,
            Some(&json!({
                "login_hint": sub,
                "document": { "name": "Lease 租約" },
                "digest": sha256_hex("Lease".as_bytes()),
            })),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let started: Value = r.json().await.unwrap();
    let waiting = pending_sign(&home);
    let done = ok_json(&app(
        &home,
        &[
            "approve",
            waiting["id"].as_str().unwrap(),
            "--match",
            started["match_code"].as_str().unwrap(),
            "--yes",
        ],
    ));
    assert_eq!(done["status"], "approved");

    let path = format!(
        "/sign/v1/requests/{}",
        started["request_id"].as_str().unwrap()
    );
    let (svc, token) = (std::sync::Arc::new(svc), std::sync::Arc::new(token));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (svc, token, path) = (svc.clone(), token.clone(), path.clone());
            tokio::spawn(async move {
                let r = svc.api("GET", &path, &token, None).await;
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let (mut signed, mut collected) = (0, 0);
    for t in tasks {
        let (status, v) = t.await.unwrap();
        assert_eq!(status, 200, "{v}");
        match v["status"].as_str().unwrap() {
            "signed" => {
                assert!(v["signature"]["cms"].is_string(), "{v}");
                signed += 1;
            }
            "collected" => {
                assert!(v.get("signature").is_none(), "{v}");
                collected += 1;
            }
            other => panic!("{other}: {v}"),
        }
    }
    assert_eq!((signed, collected), (1, 49), "handed out exactly once");
}
