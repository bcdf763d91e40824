//! PDF signing end to end, judged by independent tools: two residents sign the demo service's
//! application one after the other; poppler's `pdfsig` and pyHanko report both signatures
//! valid against the platform's root, and report a changed document; our verifier agrees; bad
//! PDFs are refused with nothing signed. After a revocation, pdfsig and pyHanko (both asking the
//! OCSP responder) say revoked; after expiry pdfsig says expired, while pyHanko, validating at the
//! signature timestamp's time with the PDF's own validation data, and ours judge it signed in
//! time. A B-LTA PDF carries a document timestamp that pyHanko's AdES validation uses and ours
//! checks. The tools come from `scripts/pades-tools` (run by `scripts/test`); without them this
//! test says what is missing and fails.
mod common;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::rp::*;
use common::signing::*;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn pyhanko() -> PathBuf {
    let p = workspace().join("target/pyvenv/bin/pyhanko");
    assert!(
        p.exists(),
        "pyHanko is missing: run scripts/pades-tools (scripts/test does)"
    );
    p
}

/// Ask `sub` to sign `pdf`, approve in the app, and return the signed PDF.
async fn sign_pdf(rp: &Rp, token: &str, home: &Path, sub: &str, pdf: &[u8]) -> Vec<u8> {
    sign_pdf_at(rp, token, home, sub, pdf, None).await
}

/// As [`sign_pdf`], at a PAdES level (`B-LT` when `None`).
async fn sign_pdf_at(
    rp: &Rp,
    token: &str,
    home: &Path,
    sub: &str,
    pdf: &[u8],
    level: Option<&str>,
) -> Vec<u8> {
    let mut body = json!({
        "login_hint": sub,
        "document": { "name": "Application for International Driving Permit" },
        "pdf": STANDARD.encode(pdf),
        "reason": "Application",
        "location": "Hong Kong 香港",
    });
    if let Some(level) = level {
        body["level"] = json!(level);
    }
    let r = rp
        .api("POST", "/sign/v1/requests", token, Some(&body))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let started: Value = r.json().await.unwrap();
    let pending = ok_json(&app(home, &["pending"]));
    let waiting = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "sign")
        .unwrap()
        .clone();
    assert_eq!(waiting["details"]["format"], "pades");
    // What the service writes into the signature is shown before the resident signs.
    assert_eq!(waiting["details"]["reason"], "Application");
    assert_eq!(waiting["details"]["location"], "Hong Kong 香港");
    let done = ok_json(&app(
        home,
        &[
            "approve",
            waiting["id"].as_str().unwrap(),
            "--match",
            started["match_code"].as_str().unwrap(),
            "--yes",
        ],
    ));
    assert_eq!(done["status"], "approved");
    let id = started["request_id"].as_str().unwrap();
    let out: Value = rp
        .api("GET", &format!("/sign/v1/requests/{id}"), token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["status"], "signed", "{out}");
    STANDARD
        .decode(out["signature"]["pdf"].as_str().unwrap())
        .unwrap()
}

/// `program` run with its clock `secs` ahead of the system's (libfaketime; only the wall
/// clock, so that its own timeouts keep real time).
fn ahead(secs: u64, program: impl AsRef<std::ffi::OsStr>) -> Command {
    if secs == 0 {
        return Command::new(program);
    }
    let mut c = Command::new("faketime");
    c.env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .arg("-f")
        .arg(format!("+{secs}"))
        .arg(program);
    c
}

struct Tools {
    dir: PathBuf,
    root: PathBuf,
    nss: String,
}

impl Tools {
    fn new(dir: &Path, root_der: &[u8]) -> Tools {
        let root = dir.join("root.pem");
        std::fs::write(&root, iamsmart_crypto::pki::cert::to_pem(root_der)).unwrap();
        let nss_dir = dir.join("nss");
        std::fs::create_dir_all(&nss_dir).unwrap();
        let nss = format!("sql:{}", nss_dir.display());
        let o = Command::new("certutil")
            .args(["-N", "-d", &nss, "--empty-password"])
            .output()
            .expect("certutil (libnss3-tools): run scripts/pades-tools");
        assert!(o.status.success(), "{}", text(&o));
        let o = Command::new("certutil")
            .args([
                "-A",
                "-d",
                &nss,
                "-n",
                "iamsmart-root",
                "-t",
                "CT,C,C",
                "-i",
            ])
            .arg(&root)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        Tools {
            dir: dir.to_path_buf(),
            root,
            nss,
        }
    }

    fn write(&self, name: &str, pdf: &[u8]) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, pdf).unwrap();
        p
    }

    /// pdfsig's report, one block per signature.
    fn pdfsig(&self, pdf: &[u8]) -> Vec<String> {
        self.pdfsig_at(pdf, 0)
    }

    /// pdfsig's report with its clock `ahead_secs` ahead of the system's (libfaketime), as the
    /// platform's clock is when a test moved it on.
    fn pdfsig_at(&self, pdf: &[u8], ahead_secs: u64) -> Vec<String> {
        let f = self.write("pdfsig.pdf", pdf);
        let o = ahead(ahead_secs, "pdfsig")
            .args(["-nssdir", &self.nss])
            .arg(&f)
            .output()
            .expect(
                "pdfsig (poppler-utils), and faketime for a later time: run scripts/pades-tools",
            );
        text(&o)
            .split("Signature #")
            .skip(1)
            .map(str::to_string)
            .collect()
    }

    /// pyHanko's validation: (exit success, output).
    fn pyhanko(&self, pdf: &[u8], extra: &[&str]) -> (bool, String) {
        self.pyhanko_run("validate", pdf, extra, 0)
    }

    /// pyHanko's validation with its clock `ahead_secs` ahead of the system's.
    fn pyhanko_at(&self, pdf: &[u8], ahead_secs: u64) -> (bool, String) {
        self.pyhanko_run("validate", pdf, &[], ahead_secs)
    }

    /// pyHanko's AdES validation (ETSI EN 319 102-1, with the long-term archival process for
    /// document timestamps): (exit success, output).
    fn pyhanko_ades(&self, pdf: &[u8]) -> (bool, String) {
        self.pyhanko_run("adesverify", pdf, &[], 0)
    }

    fn pyhanko_run(
        &self,
        command: &str,
        pdf: &[u8],
        extra: &[&str],
        ahead_secs: u64,
    ) -> (bool, String) {
        let f = self.write("pyhanko.pdf", pdf);
        let o = ahead(ahead_secs, pyhanko())
            .args([
                "sign",
                command,
                "--pretty-print",
                "--trust-replace",
                "--trust",
            ])
            .arg(&self.root)
            .args(extra)
            .arg(&f)
            .output()
            .unwrap();
        (o.status.success(), text(&o))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_residents_sign_a_pdf_and_pdfsig_and_pyhanko_judge_both_valid() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let pass = site.dir.path().join("root.pass");
    std::fs::write(&pass, "correct horse battery staple").unwrap();
    let o = site.run(
        &[
            "ca",
            "init",
            "--root-key-out",
            site.dir.path().join("root.json").to_str().unwrap(),
            "--root-passphrase-file",
            pass.to_str().unwrap(),
        ],
        // The certificates name the CRL and OCSP URLs: the CA is set up at the public URL.
        &[("IAMSMART_PUBLIC_URL", &srv.base)],
    );
    assert!(o.status.success(), "{}", text(&o));
    let root_der = reqwest::get(srv.url("/pki/root.cer"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let tools = Tools::new(site.dir.path(), &root_der);

    let (_, home1) = resident_with_app(&site, "plus").await;
    let (_, home2) = resident_with_app(&site, "plus").await;
    for h in [&home1, &home2] {
        point_app(h, &srv.base);
        ok_json(&app(h, &["signing-cert"]));
    }
    let svc = Rp::register(&site, &srv, "fapi2", &[]);
    let (sub1, _) = login_with(&svc, &home1, &[]).await;
    let (sub2, _) = login_with(&svc, &home2, &[]).await;
    let token = svc.client_token("sign").await;

    // Bad PDFs: a clear error, nothing started.
    let application = iamsmart_sandbox::demo_sign::application_pdf(
        "IDP-TEST0001",
        "CHAN, Tai Man",
        "DL1234567",
        "2026-11-23",
    );
    for (bad, why) in [
        (b"hello, not a PDF".to_vec(), "not a PDF"),
        (application[..application.len() / 2].to_vec(), "truncated"),
    ] {
        let r = svc
            .api(
                "POST",
                "/sign/v1/requests",
                &token,
                Some(&json!({ "login_hint": sub1, "document": { "name": "x" }, "pdf": STANDARD.encode(&bad) })),
            )
            .await;
        assert_eq!(r.status(), 422, "{why}");
        assert!(
            r.text().await.unwrap().contains("nothing was signed"),
            "{why}"
        );
    }
    assert!(ok_json(&app(&home1, &["pending"]))
        .as_array()
        .unwrap()
        .is_empty());

    // The first signature: PAdES B-LT, valid in pdfsig and pyHanko.
    let once = sign_pdf(&svc, &token, &home1, &sub1, &application).await;
    assert!(
        once.starts_with(&application),
        "an incremental update: the original bytes stay"
    );
    let blocks = tools.pdfsig(&once);
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert!(blocks[0].contains("Signature is Valid"), "{}", blocks[0]);
    assert!(
        blocks[0].contains("Certificate is Trusted"),
        "{}",
        blocks[0]
    );
    assert!(blocks[0].contains("ETSI.CAdES.detached"), "{}", blocks[0]);
    let (ok, out) = tools.pyhanko(&once, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("The signature is judged VALID"), "{out}");
    assert!(
        out.contains("The signer's certificate is trusted."),
        "{out}"
    );
    assert!(!out.contains("INVALID"), "{out}");

    // The second signature on the same PDF: both stay valid.
    let twice = sign_pdf(&svc, &token, &home2, &sub2, &once).await;
    assert!(twice.starts_with(&once));
    let blocks = tools.pdfsig(&twice);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    for b in &blocks {
        assert!(b.contains("Signature is Valid"), "{b}");
        assert!(b.contains("Certificate is Trusted"), "{b}");
    }
    let (ok, out) = tools.pyhanko(&twice, &[]);
    assert!(ok, "{out}");
    assert_eq!(
        out.matches("The signature is judged VALID").count(),
        2,
        "{out}"
    );
    let report = ok_json(&site.run(
        &["verify", tools.write("twice.pdf", &twice).to_str().unwrap()],
        &[],
    ));
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["signatures"].as_array().unwrap().len(), 2);
    assert_eq!(report["signatures"][0]["covers_whole_document"], false);

    // A changed document: every tool says so.
    let mut changed = twice.clone();
    let at = application
        .windows(7)
        .position(|w| w == b"CHAN, T")
        .unwrap();
    changed[at] = b'K';
    let blocks = tools.pdfsig(&changed);
    assert!(
        blocks.iter().all(|b| !b.contains("Signature is Valid")),
        "{blocks:?}"
    );
    let (ok, out) = tools.pyhanko(&changed, &[]);
    assert!(!ok || out.contains("INVALID"), "{out}");
    let o = site.run(
        &[
            "verify",
            tools.write("changed.pdf", &changed).to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["signatures"][0]["integrity"], false, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdfsig_and_pyhanko_report_a_revoked_and_an_expired_certificate() {
    const VALIDITY_SECS: u64 = 20;
    let site = Site::new().await;
    let srv = site
        .serve(&[(
            "IAMSMART_SIGNING__CERTIFICATE_VALIDITY_SECS",
            &VALIDITY_SECS.to_string(),
        )])
        .await;
    ca_init(&site, &srv);
    let root_der = download(&srv, "/pki/root.cer").await;
    let tools = Tools::new(site.dir.path(), &root_der);
    let (revoked_r, revoked_home) = resident_with_app(&site, "plus").await;
    let (_, expiring_home) = resident_with_app(&site, "plus").await;
    for h in [&revoked_home, &expiring_home] {
        point_app(h, &srv.base);
        ok_json(&app(h, &["signing-cert"]));
    }
    let svc = Rp::register(&site, &srv, "fapi2", &[]);
    let (sub1, _) = login_with(&svc, &revoked_home, &[]).await;
    let (sub2, _) = login_with(&svc, &expiring_home, &[]).await;
    let token = svc.client_token("sign").await;
    let application = iamsmart_sandbox::demo_sign::application_pdf(
        "IDP-TEST0002",
        "CHAN, Tai Man",
        "DL1234567",
        "2026-11-24",
    );
    let to_revoke = sign_pdf(&svc, &token, &revoked_home, &sub1, &application).await;
    let to_expire = sign_pdf(&svc, &token, &expiring_home, &sub2, &application).await;
    for pdf in [&to_revoke, &to_expire] {
        let blocks = tools.pdfsig(pdf);
        assert!(
            blocks[0].contains("Certificate is Trusted"),
            "{}",
            blocks[0]
        );
        let (ok, out) = tools.pyhanko(pdf, &[]);
        assert!(ok && out.contains("The signature is judged VALID"), "{out}");
    }

    // The first resident revokes the phone (a second later: timestamps count whole seconds).
    // In real time, as pdfsig and pyHanko read the revocation's time against the system's clock.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let device = revoked_r["device_id"].as_str().unwrap().to_string();
    let o = app(&revoked_home, &["revoke", &device]);
    assert!(o.status.success(), "{}", text(&o));
    // pdfsig asks the OCSP responder named in the certificate and says revoked.
    let blocks = tools.pdfsig(&to_revoke);
    assert!(blocks[0].contains("Signature is Valid"), "{}", blocks[0]);
    assert!(
        blocks[0].contains("Certificate has been Revoked"),
        "{}",
        blocks[0]
    );
    // pyHanko checks revocation online too, and no longer judges the signature valid.
    let (ok, out) = tools.pyhanko(&to_revoke, &[]);
    assert!(!ok, "{out}");
    assert!(out.to_lowercase().contains("revoked"), "{out}");
    // Ours: the signature was made before the revocation (the timestamp proves when).
    let report = ok_json(&site.run(
        &[
            "verify",
            tools.write("revoked.pdf", &to_revoke).to_str().unwrap(),
        ],
        &[],
    ));
    assert_eq!(report["valid"], true, "{report}");
    assert!(
        report["signatures"][0]["revoked_at"].as_u64().is_some(),
        "{report}"
    );

    // The second resident's certificate expires: the platform's clock moves on, and the
    // checkers are run at that time.
    let later = VALIDITY_SECS + 2;
    srv.advance(std::time::Duration::from_secs(later));
    let blocks = tools.pdfsig_at(&to_expire, later);
    assert!(blocks[0].contains("Signature is Valid"), "{}", blocks[0]);
    assert!(
        blocks[0].contains("Certificate has Expired"),
        "{}",
        blocks[0]
    );
    // pyHanko validates the certificate at the time the signature timestamp proves, with the
    // validation data in the PDF (PAdES B-LT): signed in time, still valid. So does ours.
    let (ok, out) = tools.pyhanko_at(&to_expire, later);
    assert!(ok && out.contains("The signature is judged VALID"), "{out}");
    assert!(out.contains("Signature timestamp token"), "{out}");
    let report = platform_verify(&srv, json!({ "pdf": STANDARD.encode(&to_expire) })).await;
    assert_eq!(report["valid"], true, "signed in time: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_b_lta_pdf_carries_a_document_timestamp_that_the_tools_and_ours_accept() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    ca_init(&site, &srv);
    let root_der = download(&srv, "/pki/root.cer").await;
    let tools = Tools::new(site.dir.path(), &root_der);
    let (_, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    ok_json(&app(&home, &["signing-cert"]));
    let svc = Rp::register(&site, &srv, "fapi2", &[]);
    let (sub, _) = login_with(&svc, &home, &[]).await;
    let token = svc.client_token("sign").await;
    let application = iamsmart_sandbox::demo_sign::application_pdf(
        "IDP-TEST0003",
        "CHAN, Tai Man",
        "DL1234567",
        "2026-11-24",
    );

    // A level that does not exist, or one on a hash request: refused, nothing started.
    for (body, why) in [
        (
            json!({ "login_hint": sub, "document": { "name": "x" }, "pdf": STANDARD.encode(&application), "level": "B-B" }),
            "unknown level",
        ),
        (
            json!({ "login_hint": sub, "document": { "name": "x" }, "digest": "ab".repeat(32), "level": "B-LTA" }),
            "level on a hash",
        ),
    ] {
        let r = svc
            .api("POST", "/sign/v1/requests", &token, Some(&body))
            .await;
        assert_eq!(r.status(), 422, "{why}");
        assert!(r.text().await.unwrap().contains("level"), "{why}");
    }

    let lta = sign_pdf_at(&svc, &token, &home, &sub, &application, Some("B-LTA")).await;
    assert!(lta.starts_with(&application));
    let sigs = iamsmart_pades::signatures(&lta).unwrap();
    assert_eq!(
        sigs.iter()
            .map(|s| s.sub_filter.as_str())
            .collect::<Vec<_>>(),
        ["ETSI.CAdES.detached", "ETSI.RFC3161"]
    );

    // pyHanko: the signature is valid; its AdES validation (ETSI EN 319 102-1) finds the
    // document timestamp and validates in the past from it, which a B-LT document lacks.
    let (ok, out) = tools.pyhanko(&lta, &[]);
    assert!(ok && out.contains("The signature is judged VALID"), "{out}");
    const NO_ARCHIVE: &str = "No document timestamps after signature";
    let (ok, out) = tools.pyhanko_ades(&lta);
    assert!(ok && out.contains("The signature is judged VALID"), "{out}");
    assert!(!out.contains(NO_ARCHIVE), "{out}");
    assert!(out.contains("AdES time slide"), "{out}");
    let lt = sign_pdf(&svc, &token, &home, &sub, &application).await;
    let (ok, out) = tools.pyhanko_ades(&lt);
    assert!(ok && out.contains(NO_ARCHIVE), "{out}");
    // pdfsig: the signature is valid and trusted; poppler (22.12) lists the document timestamp,
    // signed by the timestamp authority over the whole file, but cannot validate that kind.
    let blocks = tools.pdfsig(&lta);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert!(blocks[0].contains("Signature is Valid"), "{}", blocks[0]);
    assert!(
        blocks[0].contains("Certificate is Trusted"),
        "{}",
        blocks[0]
    );
    assert!(blocks[1].contains("Timestamp Authority"), "{}", blocks[1]);
    assert!(blocks[1].contains("Total document signed"), "{}", blocks[1]);

    // Ours: two entries, the second the document timestamp, both valid.
    let report = ok_json(&site.run(
        &["verify", tools.write("lta.pdf", &lta).to_str().unwrap()],
        &[],
    ));
    assert_eq!(report["valid"], true, "{report}");
    let entries = report["signatures"].as_array().unwrap();
    assert_eq!(entries[0]["kind"], "signature");
    assert_eq!(entries[0]["covers_whole_document"], false);
    assert_eq!(entries[1]["kind"], "document_timestamp", "{report}");
    assert_eq!(entries[1]["covers_whole_document"], true);
    assert!(entries[1]["timestamp"].as_u64().is_some(), "{report}");

    // A damaged document timestamp is reported, and the whole document with it.
    let mut damaged = lta.clone();
    let token_at = sigs[1].byte_range[1] + 1 + 2 * (sigs[1].cms_der.len() - 40);
    damaged[token_at] = if damaged[token_at] == b'0' {
        b'1'
    } else {
        b'0'
    };
    let o = site.run(
        &[
            "verify",
            tools.write("damaged.pdf", &damaged).to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["signatures"][0]["valid"], true, "{report}");
    assert_eq!(report["signatures"][1]["valid"], false, "{report}");

    // The public page (/verify, no account, no JavaScript) says the same in either language.
    let signer = entries[0]["signer"].as_str().unwrap().to_string();
    let (status, html) = verify_page(&srv, "lta.pdf", &lta, "en").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Valid: every signature checks out"), "{html}");
    assert!(html.contains(&format!("Signature 1: {signer}")), "{html}");
    assert!(html.contains("Document timestamp: "), "{html}");
    assert!(!html.contains("✗"), "{html}");
    let (status, html) = verify_page(&srv, "damaged.pdf", &damaged, "zh").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("無效：最少一個簽署未能通過核實"), "{html}");
    assert!(html.contains("文件時間戳記未能通過核實"), "{html}");
    let (status, html) = verify_page(&srv, "note.pdf", b"hello, not a PDF", "en").await;
    assert_eq!(status, 422);
    assert!(html.contains("This file is not a PDF"), "{html}");
    let (status, html) = verify_page(&srv, "cut.pdf", &lta[..lta.len() / 3], "en").await;
    assert_eq!(status, 422);
    assert!(html.contains("could not be read"), "{html}");
    // Bodies past axum's own 2 MB default reach the checks (the configured limits apply): a
    // 3 MB file that is not a readable PDF is refused as such, not as too large.
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(3 * 1024 * 1024, b' ');
    let (status, html) = verify_page(&srv, "big.pdf", &big, "en").await;
    assert_eq!(status, 422);
    assert!(html.contains("This PDF could not be read"), "{html}");
    let r = reqwest::Client::new()
        .post(srv.url("/sign/v1/verify"))
        .json(&json!({ "pdf": STANDARD.encode(&big) }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "{}", r.text().await.unwrap());
    let r = svc
        .api(
            "POST",
            "/sign/v1/requests",
            &token,
            Some(&json!({ "login_hint": sub, "document": { "name": "x" }, "pdf": STANDARD.encode(&big) })),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("nothing was signed"));
    let mut huge = b"%PDF-1.7\n".to_vec();
    huge.resize(10 * 1024 * 1024 + 1, b' ');
    let (status, html) = verify_page(&srv, "huge.pdf", &huge, "en").await;
    assert_eq!(status, 422);
    assert!(html.contains("larger than 10 MB"), "{html}");
    let (status, html) = verify_page(&srv, "", b"", "zh").await;
    assert_eq!(status, 422);
    assert!(html.contains("請選擇一個 PDF 檔案"), "{html}");
}

/// POST a file to the public verification page as a browser's form does (multipart/form-data);
/// returns the status and the page.
async fn verify_page(srv: &Server, name: &str, file: &[u8], lang: &str) -> (u16, String) {
    const BOUNDARY: &str = "----iamsmart-test-7d1f";
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let r = reqwest::Client::new()
        .post(srv.url(&format!("/verify?lang={lang}")))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// An incremental update that gives object `n` a new body (a classic cross-reference section,
/// as an attacker appends it after a signature).
fn redefine(pdf: &[u8], n: u32, body: &str) -> Vec<u8> {
    let doc = lopdf::Document::load_mem(pdf).unwrap();
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    let size = doc.trailer.get(b"Size").unwrap().as_i64().unwrap();
    let at = pdf.windows(9).rposition(|w| w == b"startxref").unwrap() + 9;
    let prev: usize = std::str::from_utf8(&pdf[at..])
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut out = pdf.to_vec();
    let obj = out.len();
    out.extend_from_slice(format!("{n} 0 obj\n{body}\nendobj\n").as_bytes());
    let xref = out.len();
    out.extend_from_slice(
        format!(
            "xref\n{n} 1\n{obj:010} 00000 n\r\ntrailer\n<< /Size {size} /Root {} 0 R /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n",
            root.0
        )
        .as_bytes(),
    );
    out
}

/// A platform with its CA, an iAM Smart+ resident, and an application form (numbered `number`)
/// the resident signed for a service: (site, server, the form, the signed PDF).
async fn one_signed_application(number: &str) -> (Site, Server, Vec<u8>, Vec<u8>) {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    ca_init(&site, &srv);
    let (_, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    ok_json(&app(&home, &["signing-cert"]));
    let svc = Rp::register(&site, &srv, "fapi2", &[]);
    let (sub, _) = login_with(&svc, &home, &[]).await;
    let token = svc.client_token("sign").await;
    let application = iamsmart_sandbox::demo_sign::application_pdf(
        number,
        "CHAN, Tai Man",
        "DL1234567",
        "2026-11-24",
    );
    let signed = sign_pdf(&svc, &token, &home, &sub, &application).await;
    (site, srv, application, signed)
}

/// Issue 16, findings 1 and 3c: a signed PDF whose page is redefined after signing is reported
/// modified (the signature's own bytes still verify), by `iamsmart verify`, the API and the
/// page, in both languages; a PDF that only carries a timestamp from the public timestamp
/// authority is "no signature; timestamped only", never valid.
#[tokio::test]
async fn a_pdf_changed_after_signing_or_only_timestamped_is_not_valid() {
    let (site, srv, application, signed) = one_signed_application("IDP-TEST0004").await;
    let doc = lopdf::Document::load_mem(&signed).unwrap();
    let page = *doc.get_pages().get(&1).unwrap();
    let content = doc.get_page_contents(page)[0].0;
    let evil = "BT /F1 24 Tf 72 720 Td (Pay HK$1,000,000 to Mallory) Tj ET";
    let attacked = redefine(
        &signed,
        content,
        &format!("<< /Length {} >>\nstream\n{evil}\nendstream", evil.len()),
    );
    let dir = site.dir.path();
    std::fs::write(dir.join("attacked.pdf"), &attacked).unwrap();
    let o = site.run(&["verify", dir.join("attacked.pdf").to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["valid"], false, "{report}");
    let s = &report["signatures"][0];
    assert_eq!(
        s["integrity"], true,
        "the signed bytes are intact: {report}"
    );
    assert_eq!(s["valid"], false, "{report}");
    assert!(s["modified_after_signing"].as_str().is_some(), "{report}");
    let (status, html) = verify_page(&srv, "attacked.pdf", &attacked, "en").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Not valid"), "{html}");
    assert!(
        html.contains("the document was changed after this signature"),
        "{html}"
    );
    assert!(!html.contains("has not changed since"), "{html}");
    let (_, html) = verify_page(&srv, "attacked.pdf", &attacked, "zh").await;
    assert!(html.contains("文件在這個簽署之後曾被更改"), "{html}");

    // Timestamped only: the public timestamp authority stamps any hash for anyone.
    let prepared = iamsmart_pades::prepare(
        &application,
        &iamsmart_pades::SignOptions {
            sub_filter: iamsmart_pades::SubFilter::EtsiRfc3161,
            ..Default::default()
        },
    )
    .unwrap();
    let reply = tsa_reply(&srv, prepared.digest(), true).await;
    let stamp = iamsmart_crypto::pki::tsp::token_from_response(&reply).unwrap();
    let stamped = prepared.finish(&stamp).unwrap();
    std::fs::write(dir.join("stamped.pdf"), &stamped).unwrap();
    let o = site.run(&["verify", dir.join("stamped.pdf").to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(report["timestamped_only"], true, "{report}");
    assert_eq!(
        report["signatures"][0]["valid"], true,
        "the timestamp itself is good"
    );
    for (lang, want) in [
        ("en", "No signature: this PDF is only timestamped"),
        ("zh", "沒有簽署：這個 PDF 只有時間戳記"),
    ] {
        let (status, html) = verify_page(&srv, "stamped.pdf", &stamped, lang).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(want), "{html}");
        assert!(!html.contains("Valid: every signature"), "{html}");
    }
}

/// Issue 16, finding 3b: a PDF built to exhaust the checker (five thousand signature fields
/// pointing at one signature with a large /Contents) is refused at once, on the page and by
/// the API, with an answer that says why; nothing is read for each field.
#[tokio::test]
async fn a_pdf_built_to_exhaust_the_checker_is_refused_with_a_clear_answer() {
    use lopdf::{dictionary, Object};
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    ca_init(&site, &srv);
    let mut doc = lopdf::Document::load_mem(&iamsmart_sandbox::demo_sign::application_pdf(
        "IDP-TEST0005",
        "CHAN, Tai Man",
        "DL1234567",
        "2026-11-24",
    ))
    .unwrap();
    let sig = doc.add_object(dictionary! {
        "Type" => "Sig", "ByteRange" => vec![0.into(), 10.into(), 20.into(), 10.into()],
        "Contents" => Object::String(vec![0x30; 512 * 1024], lopdf::StringFormat::Hexadecimal),
    });
    let fields: Vec<Object> = (0..5_000)
        .map(|i| {
            doc.add_object(dictionary! {
                "FT" => "Sig", "T" => Object::string_literal(format!("S{i}")), "V" => sig,
            })
            .into()
        })
        .collect();
    let form = doc.add_object(dictionary! { "Fields" => fields });
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    doc.get_object_mut(root)
        .unwrap()
        .as_dict_mut()
        .unwrap()
        .set("AcroForm", form);
    let mut hostile = Vec::new();
    doc.save_to(&mut hostile).unwrap();
    for lang in ["en", "zh"] {
        let (status, html) = verify_page(&srv, "hostile.pdf", &hostile, lang).await;
        assert_eq!(status, 422, "{html}");
        let want = if lang == "en" {
            "too complex to check"
        } else {
            "過於複雜"
        };
        assert!(html.contains(want), "{html}");
    }
    let r = reqwest::Client::new()
        .post(srv.url("/sign/v1/verify"))
        .json(&json!({ "pdf": STANDARD.encode(&hostile) }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body.contains("more than 100 signatures"), "{body}");
    // The server still answers.
    let r = reqwest::get(srv.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Issue 16, finding 7: after `ca renew tsa --compromised` the old timestamp authority's
/// certificate is revoked for key compromise at once, and a signature it timestamped no longer
/// counts as proved in time: `iamsmart verify` says why.
#[tokio::test]
async fn a_signature_timestamped_by_a_compromised_authority_is_not_valid() {
    let (site, _srv, _, signed) = one_signed_application("IDP-TEST0005").await;
    let file = site.dir.path().join("signed.pdf");
    std::fs::write(&file, &signed).unwrap();
    let verify = || {
        let o = site.run(&["verify", file.to_str().unwrap()], &[]);
        (
            o.status.code(),
            serde_json::from_slice::<Value>(&o.stdout).unwrap(),
        )
    };
    let (code, report) = verify();
    assert_eq!(
        (code, &report["valid"]),
        (Some(0), &json!(true)),
        "{report}"
    );

    // The authority that stamped it is found compromised and renewed.
    let o = site.run(
        &["ca", "renew", "tsa", "--years", "2", "--compromised"],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("key compromise"), "{}", text(&o));
    let (code, report) = verify();
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["valid"], false, "{report}");
    let problems = report["signatures"][0]["problems"].to_string();
    assert!(problems.contains("compromised"), "{report}");
}
