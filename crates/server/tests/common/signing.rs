//! Helpers of the signing tests: the CA set up at a server's URL, logins, the app's waiting
//! signing request, openssl.
use super::rp::*;
use super::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

pub fn percent(s: &str) -> String {
    iamsmart_domain::oidc::authorize::urlencode(s)
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(iamsmart_crypto::hash::sha256(b))
}

/// Log in through the browser with the app; returns (subject, access token).
pub async fn login_with(rp: &Rp, home: &Path, extra: &[(&str, &str)]) -> (String, String) {
    let b = browser();
    let (request_uri, verifier, _, _) = rp.par("openid", extra).await;
    let q = login(
        &b,
        home,
        &rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )),
    )
    .await;
    let t: Value = rp.token(&q["code"], &verifier).await.json().await.unwrap();
    let sub = jwt_claims(t["id_token"].as_str().unwrap())["sub"]
        .as_str()
        .unwrap()
        .to_string();
    (sub, t["access_token"].as_str().unwrap().to_string())
}

/// Set up the certificate authority with `iamsmart ca init` at the server's public URL (the
/// certificates name its CRL and OCSP URLs); returns the sealed root key's path.
pub fn ca_init(site: &Site, srv: &Server) -> std::path::PathBuf {
    let pass = site.dir.path().join("root.pass");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    let out = site.dir.path().join("root-ca.key.json");
    let o = site.run(
        &[
            "ca",
            "init",
            "--organization",
            "iAM Smart Test",
            "--root-key-out",
            out.to_str().unwrap(),
            "--root-passphrase-file",
            pass.to_str().unwrap(),
        ],
        &[("IAMSMART_PUBLIC_URL", &srv.base)],
    );
    assert!(
        o.status.success(),
        "ca init: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

pub async fn download(srv: &Server, path: &str) -> Vec<u8> {
    let r = reqwest::get(srv.url(path)).await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.bytes().await.unwrap().to_vec()
}

pub fn write_pem(dir: &Path, name: &str, der: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, iamsmart_crypto::pki::cert::to_pem(der)).unwrap();
    p
}

pub fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl").args(args).output().unwrap()
}

pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The waiting signing request in the app.
pub fn pending_sign(home: &Path) -> Value {
    let pending = ok_json(&app(home, &["pending"]));
    pending
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "sign")
        .unwrap_or_else(|| panic!("no signing request in {pending}"))
        .clone()
}

/// Approve the waiting signing request in the app with its match code (as the resident does).
pub fn approve_waiting_signature(home: &Path, match_code: &str) -> Value {
    let waiting = pending_sign(home);
    assert_eq!(waiting["match_code"], match_code);
    ok_json(&app(
        home,
        &[
            "approve",
            waiting["id"].as_str().unwrap(),
            "--match",
            match_code,
            "--yes",
        ],
    ))
}

/// The service polls its signing request `id` once.
pub async fn poll_signature(rp: &Rp, token: &str, id: &str) -> Value {
    rp.api("GET", &format!("/sign/v1/requests/{id}"), token, None)
        .await
        .json()
        .await
        .unwrap()
}

/// POST an RFC 3161 request over `imprint` and return the reply (DER).
pub async fn tsa_reply(srv: &Server, imprint: [u8; 32], cert_req: bool) -> Vec<u8> {
    let request = iamsmart_crypto::pki::tsp::build_request(&imprint, None, cert_req).unwrap();
    reqwest::Client::new()
        .post(srv.url("/pki/tsa"))
        .header("content-type", "application/timestamp-query")
        .body(request)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// The platform's own verdict on a signature (`POST /sign/v1/verify`), judged at the platform's
/// time (which a test may have moved on).
pub async fn platform_verify(srv: &Server, body: Value) -> Value {
    reqwest::Client::new()
        .post(srv.url("/sign/v1/verify"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
