//! The whole server with its keys in a PKCS#11 token (SoftHSM2): token signing keys, the log key
//! and the key-encryption key all live in the token; rotation and re-wrap work end to end.
mod common;
use common::rp::point_app;
use common::*;
use std::process::Command;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

#[tokio::test]
async fn the_server_runs_on_an_hsm() {
    if !std::path::Path::new(MODULE).exists() {
        assert!(
            std::env::var("IAMSMART_SKIP_HSM_TESTS").is_ok(),
            "install softhsm2 (scripts/test does)"
        );
        return;
    }
    let site = Site::new().await;
    let tokens = site.dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = site.dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let init = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args([
            "--init-token",
            "--free",
            "--label",
            "iamsmart",
            "--pin",
            "4321",
            "--so-pin",
            "8765",
        ])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let pin_file = site.dir.path().join("pin");
    std::fs::write(&pin_file, "4321\n").unwrap();
    let conf_s = conf.display().to_string();
    let pin_s = pin_file.display().to_string();
    let hsm_env: Vec<(&str, &str)> = vec![
        ("SOFTHSM2_CONF", &conf_s),
        ("IAMSMART_KEYS__BACKEND", "pkcs11"),
        ("IAMSMART_KEYS__PKCS11__MODULE", MODULE),
        ("IAMSMART_KEYS__PKCS11__TOKEN_LABEL", "iamsmart"),
        ("IAMSMART_KEYS__PKCS11__PIN_FILE", &pin_s),
    ];

    // A wrong PIN: one line, non-zero, names the cause.
    let bad_pin = site.dir.path().join("badpin");
    std::fs::write(&bad_pin, "0000").unwrap();
    let mut bad_env = hsm_env.clone();
    bad_env.retain(|(k, _)| *k != "IAMSMART_KEYS__PKCS11__PIN_FILE");
    bad_env.push(("IAMSMART_KEYS__PKCS11__PIN_FILE", bad_pin.to_str().unwrap()));
    let o = site.run(&["migrate"], &bad_env);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("PIN incorrect"), "{e}");
    assert!(!e.contains("0000"));

    let srv = site.serve_process(&hsm_env).await;
    let c = reqwest::Client::new();
    let r = c
        .post(srv.url("/admin/v1/residents"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&resident(&hkid(5), "HSM Resident"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let jwks: serde_json::Value = get_json(&c, &srv, "/.well-known/jwks.json").await;
    let keys: Vec<iamsmart_crypto::jose::PublicJwk> =
        serde_json::from_value(jwks["keys"].clone()).unwrap();
    assert_eq!(keys.len(), 1);
    // The tree head is signed in the token and verifies with the published log key.
    let head: serde_json::Value = get_json(&c, &srv, "/transparency/v1/tree-head").await;
    let log_keys: serde_json::Value = get_json(&c, &srv, "/transparency/v1/keys").await;
    let log_keys: Vec<iamsmart_crypto::jose::PublicJwk> =
        serde_json::from_value(log_keys["keys"].clone()).unwrap();
    let (_, payload) = iamsmart_crypto::jose::verify_compact(
        head["signature"].as_str().unwrap(),
        &log_keys,
        &[iamsmart_crypto::jose::Alg::ES256],
    )
    .unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(payload["tree_size"], head["tree_size"]);
    drop(srv);

    // Rotate the signing key and the KEK in the token; data stays readable; the log verifies.
    assert!(site.run(&["keys", "rotate"], &hsm_env).status.success());
    let o = site.run(&["keys", "rotate", "--kek"], &hsm_env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("re-wrapped"));
    let list = String::from_utf8_lossy(&site.run(&["keys", "list"], &hsm_env).stdout).to_string();
    assert!(
        list.contains("pkcs11") && !list.contains(" file "),
        "{list}"
    );
    let srv = site.serve_process(&hsm_env).await;
    let got: serde_json::Value = get_resident(&c, &srv, &id).await;
    assert_eq!(got["verified"]["name_en"], "HSM Resident");
    let jwks: serde_json::Value = get_json(&c, &srv, "/.well-known/jwks.json").await;
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "old and new keys published"
    );
    drop(srv);
    let o = site.run(&["audit", "verify"], &hsm_env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));

    // The certificate authority in the token: its keys are made there, and certificates, CRLs
    // and timestamps are signed there; openssl checks them against the root.
    let pass = site.dir.path().join("root.pass");
    std::fs::write(&pass, "hsm root passphrase").unwrap();
    let srv = site.serve_process(&hsm_env).await;
    let mut ca_env = hsm_env.clone();
    ca_env.push(("IAMSMART_PUBLIC_URL", &srv.base));
    let o = site.run(
        &[
            "ca",
            "init",
            "--root-key-out",
            site.dir.path().join("root.json").to_str().unwrap(),
            "--root-passphrase-file",
            pass.to_str().unwrap(),
        ],
        &ca_env,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let list = String::from_utf8_lossy(&site.run(&["keys", "list"], &hsm_env).stdout).to_string();
    assert_eq!(
        list.lines()
            .filter(|l| l.contains(" pki ") && l.contains("pkcs11"))
            .count(),
        3,
        "issuing CA, OCSP responder and TSA keys in the token: {list}"
    );
    let home = site.dir.path().join("app-hsm");
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
            "--kdf-memory-mib",
            TEST_KDF_MEMORY_MIB,
        ],
        &hsm_env,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    point_app(&home, &srv.base);
    let cert = ok_json(&app(&home, &["signing-cert"]));
    let dir = site.dir.path();
    let der = |path: &str| {
        let c = c.clone();
        let url = srv.url(path);
        async move {
            c.get(url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec()
        }
    };
    let pem = |name: &str, der: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, iamsmart_crypto::pki::cert::to_pem(der)).unwrap();
        p
    };
    let root = pem("root.pem", &der("/pki/root.cer").await);
    let issuing = pem("issuing.pem", &der("/pki/issuing.cer").await);
    let user = pem(
        "user.pem",
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            cert["certificate"].as_str().unwrap(),
        )
        .unwrap(),
    );
    let openssl = |args: &[&str]| {
        let o = Command::new("openssl").args(args).output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let out = openssl(&[
        "verify",
        "-CAfile",
        root.to_str().unwrap(),
        "-untrusted",
        issuing.to_str().unwrap(),
        user.to_str().unwrap(),
    ]);
    assert!(out.contains(": OK"), "{out}");
    let crl = dir.join("crl.der");
    std::fs::write(&crl, der("/pki/crl").await).unwrap();
    let out = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        crl.to_str().unwrap(),
        "-CAfile",
        issuing.to_str().unwrap(),
        "-noout",
    ]);
    assert!(out.contains("verify OK"), "{out}");
    let data = dir.join("data.txt");
    std::fs::write(&data, "timestamped in the HSM").unwrap();
    let tsq = dir.join("req.tsq");
    openssl(&[
        "ts",
        "-query",
        "-data",
        data.to_str().unwrap(),
        "-sha256",
        "-cert",
        "-out",
        tsq.to_str().unwrap(),
    ]);
    let tsr = c
        .post(srv.url("/pki/tsa"))
        .body(std::fs::read(&tsq).unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let tsr_path = dir.join("resp.tsr");
    std::fs::write(&tsr_path, &tsr).unwrap();
    let out = openssl(&[
        "ts",
        "-verify",
        "-in",
        tsr_path.to_str().unwrap(),
        "-data",
        data.to_str().unwrap(),
        "-CAfile",
        root.to_str().unwrap(),
        "-untrusted",
        issuing.to_str().unwrap(),
    ]);
    assert!(out.contains("Verification: OK"), "{out}");
    // Without certReq the token carries no certificates (RFC 3161).
    openssl(&[
        "ts",
        "-query",
        "-data",
        data.to_str().unwrap(),
        "-sha256",
        "-out",
        tsq.to_str().unwrap(),
    ]);
    let bare = c
        .post(srv.url("/pki/tsa"))
        .body(std::fs::read(&tsq).unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(&tsr_path, &bare).unwrap();
    let out = openssl(&[
        "ts",
        "-reply",
        "-in",
        tsr_path.to_str().unwrap(),
        "-token_out",
        "-out",
        dir.join("t.der").to_str().unwrap(),
    ]);
    let printed = openssl(&[
        "pkcs7",
        "-inform",
        "DER",
        "-in",
        dir.join("t.der").to_str().unwrap(),
        "-print_certs",
    ]);
    assert!(!printed.contains("BEGIN CERTIFICATE"), "{out}{printed}");
    assert!(
        tsr.len() > bare.len(),
        "the token with certificates is the longer one"
    );
}
