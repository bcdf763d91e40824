//! Issue 16, finding 2: the public transparency log is not an activity tracker. After a resident
//! signs in to two services (one with pairwise, one with public subjects) and signs a document,
//! nothing any public endpoint answers contains the resident's id, a device or client id, the
//! certificate serial or the document's hash; public subjects are not the internal id; the
//! resident's export and an operator see the entries, with the salts that check them against the
//! public commitments.
mod common;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::rp::*;
use common::signing::*;
use common::*;
use serde_json::{json, Value};

async fn public_text(srv: &Server, paths: &[String]) -> String {
    let http = reqwest::Client::new();
    let mut out = String::new();
    for p in paths {
        let r = http.get(srv.url(p)).send().await.unwrap();
        assert!(r.status().is_success(), "{p}: {}", r.status());
        out.push_str(&r.text().await.unwrap());
        out.push('\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_answers_join_to_no_resident_client_or_certificate() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    ca_init(&site, &srv);
    let (person, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    let cert = ok_json(&app(&home, &["signing-cert"]));
    let pairwise = Rp::register(&site, &srv, "fapi2", &[]);
    let public = Rp::register(&site, &srv, "fapi2", &["--public-subject"]);
    let (sub, _) = login_with(&pairwise, &home, &[]).await;
    let (public_sub, _) = login_with(&public, &home, &[]).await;
    let resident_id = person["resident_id"].as_str().unwrap().to_string();
    assert_ne!(
        public_sub, resident_id,
        "public subjects are not the internal id"
    );
    assert_ne!(public_sub, sub);

    // A signature: certificate serial and document hash go into the log.
    let token = pairwise.client_token("sign").await;
    let digest = sha256_hex(b"Tenancy agreement, Flat B, 3/F.");
    let r = pairwise
        .api(
            "POST",
            "/sign/v1/requests",
            &token,
            Some(&json!({ "login_hint": sub, "digest": digest,
                          "document": { "name": "Tenancy agreement" } })),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let started: Value = r.json().await.unwrap();
    approve_waiting_signature(&home, started["match_code"].as_str().unwrap());
    let id = started["request_id"].as_str().unwrap();
    let out = poll_signature(&pairwise, &token, id).await;
    assert_eq!(out["status"], "signed", "{out}");
    let serial = cert["serial"].as_str().unwrap().to_string();
    let devices = ok_json(&app(&home, &["devices"]));
    let device_id = devices[0]["id"].as_str().unwrap().to_string();

    // Every public answer of the transparency log and the metadata, scanned.
    let head: Value =
        serde_json::from_str(&public_text(&srv, &["/transparency/v1/tree-head".to_string()]).await)
            .unwrap();
    let size = head["tree_size"].as_u64().unwrap();
    let mut paths = vec![
        format!("/transparency/v1/entries?start=0&end={size}"),
        "/transparency/v1/tree-head".into(),
        "/transparency/v1/keys".into(),
        format!("/transparency/v1/consistency?first=1&second={size}"),
        "/.well-known/openid-configuration".into(),
        "/.well-known/jwks.json".into(),
        "/connectors/v1/jwks.json".into(),
        "/gateway/v1/catalogue".into(),
    ];
    for i in 0..size {
        paths.push(format!(
            "/transparency/v1/inclusion?index={i}&tree_size={size}"
        ));
    }
    let seen = public_text(&srv, &paths).await;
    let digest_b64 = URL_SAFE_NO_PAD.encode(hex::decode(&digest).unwrap());
    for (what, needle) in [
        ("the resident's id", resident_id.as_str()),
        ("the device id", device_id.as_str()),
        ("a client id", pairwise.client_id.as_str()),
        ("a client id", public.client_id.as_str()),
        ("the public subject", public_sub.as_str()),
        ("the pairwise subject", sub.as_str()),
        ("the certificate serial", serial.as_str()),
        ("the document hash", digest.as_str()),
        ("the document hash", digest_b64.as_str()),
        ("an event kind", "resident."),
        ("an event kind", "signature."),
    ] {
        assert!(
            !seen.contains(needle),
            "{what} ({needle}) is in a public answer"
        );
    }

    // The resident's export holds their entries with the salts that open the commitments, and
    // proofs that they are in the signed log.
    let export = ok_json(&app(&home, &["export"]));
    let log = &export["transparency_log"];
    let signed_head = &log["tree_head"];
    let entries = log["entries"].as_array().unwrap();
    assert!(!entries.is_empty(), "{log}");
    let public_leaves: Value = serde_json::from_str(
        &public_text(
            &srv,
            &[format!(
                "/transparency/v1/entries?start=0&end={}",
                signed_head["tree_size"]
            )],
        )
        .await,
    )
    .unwrap();
    for e in entries {
        let entry = &e["entry"];
        assert_eq!(entry["subject"], format!("resident:{resident_id}"));
        let salt = URL_SAFE_NO_PAD.decode(e["salt"].as_str().unwrap()).unwrap();
        let mut input = b"iamsmart-audit-entry/2\0".to_vec();
        input.extend_from_slice(&salt);
        input.extend_from_slice(
            &serde_json::to_vec(&(
                &entry["seq"],
                &entry["at"],
                &entry["kind"],
                &entry["actor"],
                &entry["subject"],
                &entry["detail"],
                &entry["request_id"],
            ))
            .unwrap(),
        );
        let leaf = iamsmart_crypto::merkle::leaf_hash(&input);
        assert_eq!(
            URL_SAFE_NO_PAD.encode(leaf),
            e["leaf_hash"].as_str().unwrap()
        );
        let seq = entry["seq"].as_u64().unwrap();
        assert_eq!(
            public_leaves[usize::try_from(seq).unwrap()]["leaf_hash"],
            e["leaf_hash"]
        );
        let path: Vec<[u8; 32]> = e["audit_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                URL_SAFE_NO_PAD
                    .decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect();
        let root: [u8; 32] = URL_SAFE_NO_PAD
            .decode(signed_head["root_hash"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        assert!(iamsmart_crypto::merkle::verify_inclusion(
            seq,
            signed_head["tree_size"].as_u64().unwrap(),
            &leaf,
            &path,
            &root
        ));
    }

    // An operator sees the entries; the public does not.
    let r = reqwest::Client::new()
        .get(srv.url(&format!("/admin/v1/audit/entries?start=0&end={size}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new()
        .get(srv.url(&format!("/admin/v1/audit/entries?start=0&end={size}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains(&resident_id));
}
