//! Running the certificate authority: renewing the root CRL with the offline root key
//! (`iamsmart ca root-crl`, `ca show`'s warning), and OCSP answers reused per RFC 5019 (HTTP
//! caching headers on GET, a revocation shown at once all the same, nonces always fresh).
mod common;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::rp::*;
use common::signing::*;
use common::*;
use iamsmart_crypto::pki::{crl, ocsp};
use std::path::Path;

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn root_crl_cmd(site: &Site, key: &Path, pass: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "ca",
        "root-crl",
        "--root-key",
        key.to_str().unwrap(),
        "--root-passphrase-file",
        pass.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    site.run(&args, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_crl_is_renewed_with_the_offline_root_key_only() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let root_key = ca_init(&site, &srv);
    let tmp = site.dir.path();
    let pass = tmp.join("root.pass");
    let root_der = download(&srv, "/pki/root.cer").await;
    let root_pem = write_pem(tmp, "root.pem", &root_der);
    let first = download(&srv, "/pki/root.crl").await;
    let first_info = crl::parse_crl(&first, &root_der).unwrap();
    assert_eq!(first_info.number, 1);

    // `ca show` says when the root CRL must be renewed; a year ahead, no warning.
    let o = site.run(&["ca", "show"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(shown.contains("# root CRL: number 1,"), "{shown}");
    assert!(shown.contains("next update"), "{shown}");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("warning"),
        "{}",
        text(&o)
    );

    // A wrong passphrase: a clear error, nothing changed.
    let wrong = tmp.join("wrong.pass");
    std::fs::write(&wrong, "not the passphrase at all\n").unwrap();
    let o = root_crl_cmd(&site, &root_key, &wrong, &[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("wrong passphrase"), "{}", text(&o));
    assert_eq!(download(&srv, "/pki/root.crl").await, first);

    // A sealed key that is not this platform's root: refused, nothing changed.
    let other = iamsmart_crypto::device::DeviceKey::generate().unwrap();
    let sealed = other
        .seal(
            "correct horse battery staple",
            iamsmart_crypto::device::KdfParams {
                m_kib: 8 * 1024,
                t: 1,
                p: 1,
            },
            &iamsmart_crypto::rng::SystemRng,
        )
        .unwrap();
    let other_path = tmp.join("other-root.json");
    std::fs::write(&other_path, serde_json::to_vec(&sealed).unwrap()).unwrap();
    let o = root_crl_cmd(&site, &other_path, &pass, &[]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("not the root key of this platform"),
        "{}",
        text(&o)
    );
    assert_eq!(download(&srv, "/pki/root.crl").await, first);
    // Nor a file that is not a sealed key at all, nor an out-of-range validity.
    let o = root_crl_cmd(&site, &root_pem, &pass, &[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("not a sealed root key"), "{}", text(&o));
    let o = root_crl_cmd(&site, &root_key, &pass, &["--next-update-days", "0"]);
    assert!(!o.status.success());
    assert_eq!(download(&srv, "/pki/root.crl").await, first);

    // With the root key and its passphrase: a new CRL, served at once.
    let o = root_crl_cmd(&site, &root_key, &pass, &["--next-update-days", "10"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("number 2"),
        "{}",
        text(&o)
    );
    let renewed = download(&srv, "/pki/root.crl").await;
    assert_ne!(renewed, first);
    let path = tmp.join("root.crl");
    std::fs::write(&path, &renewed).unwrap();
    let o = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        path.to_str().unwrap(),
        "-CAfile",
        root_pem.to_str().unwrap(),
        "-noout",
        "-crlnumber",
    ]);
    let t = text(&o);
    assert!(o.status.success() && t.contains("verify OK"), "{t}");
    assert!(t.contains("crlNumber=0x02"), "{t}");
    let info = crl::parse_crl(&renewed, &root_der).unwrap();
    assert!(info.number > first_info.number);
    let now = now_s();
    assert!(info.this_update.abs_diff(now) < 120, "{info:?}");
    assert!(
        info.next_update.abs_diff(now + 10 * 86_400) < 120,
        "nextUpdate ten days ahead: {info:?}"
    );
    assert!(info.revoked.is_empty());

    // Ten days is within the 30 days of notice: `ca show` warns.
    let o = site.run(&["ca", "show"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("# root CRL: number 2,"),
        "{}",
        text(&o)
    );
    let warned = String::from_utf8_lossy(&o.stderr);
    assert!(warned.contains("due for renewal"), "{warned}");
    assert!(warned.contains("iamsmart ca root-crl"), "{warned}");

    // The next renewal counts on; the audit log records each.
    let o = root_crl_cmd(&site, &root_key, &pass, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let third = crl::parse_crl(&download(&srv, "/pki/root.crl").await, &root_der).unwrap();
    assert_eq!(third.number, 3);
    assert!(database_text(&site).await.contains("pki.root_crl_renewed"));
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_answers_are_reused_but_a_revocation_shows_at_once() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    ca_init(&site, &srv);
    let (plus, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    let cert = ok_json(&app(&home, &["signing-cert"]));
    let user = URL_SAFE_NO_PAD
        .decode(cert["certificate"].as_str().unwrap())
        .unwrap();
    let issuing = download(&srv, "/pki/issuing.cer").await;
    let id = ocsp::CertId::for_cert(&user, &issuing).unwrap();
    let request = ocsp::build_request(std::slice::from_ref(&id), None).unwrap();
    let get_url = srv.url(&format!(
        "/pki/ocsp/{}",
        percent(&STANDARD.encode(&request))
    ));
    let http = reqwest::Client::new();
    let status_of = |der: &[u8]| ocsp::parse_response(der, &issuing).unwrap().statuses[0].status;

    // GET: the RFC 5019 caching headers, an answer that stays current for most of an hour.
    let r = http.get(&get_url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/ocsp-response");
    let cc = header(&r, "cache-control").to_string();
    let max_age: u64 = cc
        .split(',')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .unwrap_or_else(|| panic!("{cc}"))
        .parse()
        .unwrap();
    assert!((3_000..=3_300).contains(&max_age), "{cc}");
    assert!(cc.contains("public"), "{cc}");
    let etag = header(&r, "etag").to_string();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    assert!(header(&r, "last-modified").ends_with(" GMT"));
    assert!(header(&r, "expires").ends_with(" GMT"));
    let first = r.bytes().await.unwrap().to_vec();
    assert_eq!(status_of(&first), ocsp::CertStatus::Good);
    let info = ocsp::parse_response(&first, &issuing).unwrap();
    assert_eq!(
        info.statuses[0].next_update,
        Some(info.statuses[0].this_update + 3_600)
    );

    // Asked again (GET or POST, nonce-free): the same signed answer, from the cache.
    let r = http.get(&get_url).send().await.unwrap();
    assert_eq!(header(&r, "etag"), etag);
    assert_eq!(r.bytes().await.unwrap().to_vec(), first);
    let r = http
        .post(srv.url("/pki/ocsp"))
        .header("content-type", "application/ocsp-request")
        .body(request.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), first);
    // A revalidation with the ETag: 304, no body.
    let r = http
        .get(&get_url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // With a nonce: signed for the request, the nonce echoed, never cached.
    let ask_with_nonce = |nonce: &'static [u8]| {
        let (http, srv, id) = (&http, &srv, &id);
        async move {
            let req = ocsp::build_request(std::slice::from_ref(id), Some(nonce)).unwrap();
            let r = http
                .post(srv.url("/pki/ocsp"))
                .body(req)
                .send()
                .await
                .unwrap();
            assert_eq!(header(&r, "cache-control"), "no-store");
            r.bytes().await.unwrap().to_vec()
        }
    };
    let n1 = ask_with_nonce(b"nonce-one-0123456789").await;
    let n2 = ask_with_nonce(b"nonce-two-0123456789").await;
    assert_ne!(n1, first);
    assert_ne!(n1, n2);
    assert_eq!(
        ocsp::parse_response(&n1, &issuing)
            .unwrap()
            .nonce
            .as_deref(),
        Some(&b"nonce-one-0123456789"[..])
    );
    let r = http
        .get(srv.url(&format!(
            "/pki/ocsp/{}",
            percent(&STANDARD.encode(
                ocsp::build_request(std::slice::from_ref(&id), Some(b"nonce-get")).unwrap()
            ))
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "cache-control"), "no-store");
    assert!(r.headers().get("etag").is_none());

    // The resident revokes the phone: the very next answer says revoked, although a good one
    // is cached, over GET and over POST, and through openssl.
    let device = plus["device_id"].as_str().unwrap().to_string();
    let o = app(&home, &["revoke", &device]);
    assert!(o.status.success(), "{}", text(&o));
    let r = http.get(&get_url).send().await.unwrap();
    assert_ne!(header(&r, "etag"), etag);
    let after = r.bytes().await.unwrap().to_vec();
    assert!(
        matches!(status_of(&after), ocsp::CertStatus::Revoked { .. }),
        "{:?}",
        status_of(&after)
    );
    let r = http
        .post(srv.url("/pki/ocsp"))
        .body(request.clone())
        .send()
        .await
        .unwrap();
    let posted = r.bytes().await.unwrap().to_vec();
    assert!(matches!(
        status_of(&posted),
        ocsp::CertStatus::Revoked { .. }
    ));
    let tmp = site.dir.path();
    let issuing_pem = write_pem(tmp, "issuing.pem", &issuing);
    let user_pem = write_pem(tmp, "user.pem", &user);
    let root_pem = write_pem(tmp, "root.pem", &download(&srv, "/pki/root.cer").await);
    let ocsp_pem = write_pem(tmp, "ocsp.pem", &download(&srv, "/pki/ocsp.cer").await);
    let o = openssl(&[
        "ocsp",
        "-issuer",
        issuing_pem.to_str().unwrap(),
        "-cert",
        user_pem.to_str().unwrap(),
        "-url",
        &srv.url("/pki/ocsp"),
        "-no_nonce",
        "-CAfile",
        root_pem.to_str().unwrap(),
        "-VAfile",
        ocsp_pem.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(t.contains("Response verify OK"), "{t}");
    assert!(t.contains(": revoked"), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_own_oid_arc_names_the_certificate_and_timestamp_policies() {
    const ARC: &str = "1.3.6.1.4.1.64000.7";
    let site = Site::new().await;
    let srv = site.serve(&[("IAMSMART_SIGNING__OID_ARC", ARC)]).await;
    ca_init(&site, &srv);
    let (_, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    let cert = ok_json(&app(&home, &["signing-cert"]));
    let user = URL_SAFE_NO_PAD
        .decode(cert["certificate"].as_str().unwrap())
        .unwrap();
    let dir = site.dir.path();
    std::fs::write(dir.join("user.der"), &user).unwrap();
    let o = std::process::Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(dir.join("user.der"))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(shown.contains(&format!("Policy: {ARC}.1.1")), "{shown}");

    let reply = tsa_reply(&srv, [9u8; 32], false).await;
    std::fs::write(dir.join("reply.tsr"), &reply).unwrap();
    let o = std::process::Command::new("openssl")
        .args(["ts", "-reply", "-text", "-in"])
        .arg(dir.join("reply.tsr"))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(shown.contains(&format!("Policy OID: {ARC}.1.2")), "{shown}");
}

/// A token (with the TSA's certificate) over `imprint`.
async fn timestamp(srv: &Server, imprint: [u8; 32]) -> Vec<u8> {
    iamsmart_crypto::pki::tsp::token_from_response(&tsa_reply(srv, imprint, true).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tsa_and_ocsp_certificates_are_renewed_without_the_root_key_and_old_tokens_still_verify(
) {
    use iamsmart_crypto::pki::{cert, tsp};
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    ca_init(&site, &srv);
    let issuing = download(&srv, "/pki/issuing.cer").await;
    let old_tsa = download(&srv, "/pki/tsa.cer").await;
    let old_ocsp = download(&srv, "/pki/ocsp.cer").await;
    let old_token = timestamp(&srv, [1u8; 32]).await;

    // Bad arguments are refused by the command line, nothing changed.
    for bad in [
        &["ca", "renew", "root"][..],
        &["ca", "renew", "tsa", "--years", "0"],
    ] {
        let o = site.run(bad, &[]);
        assert!(!o.status.success(), "{bad:?}");
    }
    for role in ["tsa", "ocsp"] {
        let o = site.run(&["ca", "renew", role, "--years", "2"], &[]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("renewed"), "{}", text(&o));
    }

    // A server started now (the running one picks it up within a minute) uses the new ones.
    let fresh = site.serve(&[]).await;
    let new_tsa = download(&fresh, "/pki/tsa.cer").await;
    let new_ocsp = download(&fresh, "/pki/ocsp.cer").await;
    assert_ne!(new_tsa, old_tsa);
    assert_ne!(new_ocsp, old_ocsp);
    for der in [&new_tsa, &new_ocsp] {
        cert::verify_issued_by(der, &issuing).unwrap();
        let info = cert::parse(der).unwrap();
        let years = (info.not_after - now_s()) as f64 / (365.0 * 86_400.0);
        assert!((1.99..=2.01).contains(&years), "{years}");
    }
    let old_info = cert::parse(&old_tsa).unwrap();
    let new_info = cert::parse(&new_tsa).unwrap();
    assert_eq!(new_info.subject, old_info.subject, "the same name");
    assert_ne!(new_info.spki_der, old_info.spki_der, "a new key");

    // New tokens come from the new certificate; the old token still verifies with its own.
    let token = timestamp(&fresh, [2u8; 32]).await;
    let t = tsp::verify_token(&token, None).unwrap();
    assert_eq!(t.tsa_cert_der.as_deref(), Some(new_tsa.as_slice()));
    assert_eq!(t.imprint_sha256, [2u8; 32]);
    let t = tsp::verify_token(&old_token, None).unwrap();
    assert_eq!(t.tsa_cert_der.as_deref(), Some(old_tsa.as_slice()));

    // OCSP, answered by the new responder, says both TSA certificates are good: the old one is
    // revoked (superseded) only once running servers have moved on (`responder_revocation_tests`).
    for tsa in [&old_tsa, &new_tsa] {
        let id = ocsp::CertId::for_cert(tsa, &issuing).unwrap();
        let request = ocsp::build_request(std::slice::from_ref(&id), None).unwrap();
        let der = reqwest::Client::new()
            .post(fresh.url("/pki/ocsp"))
            .header("content-type", "application/ocsp-request")
            .body(request)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let answer = ocsp::parse_response(&der, &issuing).unwrap();
        assert_eq!(answer.statuses[0].status, ocsp::CertStatus::Good);
        assert_eq!(
            answer.responder_cert_der.as_deref(),
            Some(new_ocsp.as_slice())
        );
    }

    // `ca show` lists the new ones with their expiry, without a warning.
    let o = site.run(&["ca", "show"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let shown = String::from_utf8_lossy(&o.stdout);
    let serial = iamsmart_domain::signing::ca::serial_hex(&new_info.serial);
    assert!(
        shown.contains(&format!("timestamp authority: serial {serial}")),
        "{shown}"
    );
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("warning"),
        "{}",
        text(&o)
    );
}
