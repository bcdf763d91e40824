//! Crash safety and data protection, through the real binary.
mod common;
use common::*;
use iamsmart_store::sqlx;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const UNLIMITED: &[(&str, &str)] = &[
    ("IAMSMART_HTTP__RATE_LIMIT_PER_IP_PER_MINUTE", "0"),
    ("IAMSMART_HTTP__RATE_LIMIT_PER_CLIENT_PER_MINUTE", "0"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let rounds: u32 = std::env::var("IAMSMART_TEST_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let site = Site::new().await;
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    for round in 0..rounds {
        let mut srv = site.serve_process(UNLIMITED).await;
        let mut tasks = Vec::new();
        for w in 0..4u32 {
            let base = srv.base.clone();
            let acked = acked.clone();
            tasks.push(tokio::spawn(async move {
                let c = reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                for i in 0..10_000u32 {
                    let n = round * 40_000 + w * 10_000 + i;
                    let name = format!("RESIDENT {n}");
                    let r = c
                        .post(format!("{base}/admin/v1/residents"))
                        .bearer_auth(ADMIN_TOKEN)
                        .json(&resident(&hkid(n), &name))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 201 => {
                            let v: serde_json::Value = match r.json().await {
                                Ok(v) => v,
                                Err(_) => return,
                            };
                            acked
                                .lock()
                                .unwrap()
                                .push((v["id"].as_str().unwrap().to_string(), name));
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => return, // the server died mid-request: not acknowledged
                    }
                }
            }));
        }
        // Kill at a different moment each round.
        tokio::time::sleep(Duration::from_millis(40 + u64::from(round * 37 % 300))).await;
        srv.kill9();
        for t in tasks {
            t.await.unwrap();
        }
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > rounds as usize,
        "too few writes to mean anything: {}",
        acked.len()
    );
    let srv = site.serve_process(UNLIMITED).await;
    let c = reqwest::Client::new();
    for (id, name) in &acked {
        let r = c
            .get(srv.url(&format!("/admin/v1/residents/{id}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged resident {id} lost");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["verified"]["name_en"], name.as_str());
    }
    // No half-written record: every resident has its audit entry and vice versa.
    let db = iamsmart_store::Db::connect(&site.db_url, &Default::default())
        .await
        .unwrap();
    let residents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM residents")
        .fetch_one(db.reader())
        .await
        .unwrap();
    let events: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'resident.registered'")
            .fetch_one(db.reader())
            .await
            .unwrap();
    assert_eq!(residents, events);
    assert!(usize::try_from(residents).unwrap() >= acked.len());
    db.close().await;
    drop(srv);
    let o = site.run(&["audit", "verify"], &[]);
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[tokio::test]
async fn canary_personal_data_never_appears_in_clear() {
    let site = Site::new().await;
    let srv = site.serve_process(&[]).await;
    let c = reqwest::Client::new();
    let hk = hkid(4_242_424);
    let canary_name = "ZEBEDIAH CANARYBIRD";
    let canary_address = "Canarywharf Mansion";
    let mut body = resident(&hk, canary_name);
    body["profile"]["residential_address"]["building"] = serde_json::json!(canary_address);
    body["name_zh"] = serde_json::json!("金絲雀");
    let r = post_resident(&c, &srv, &body).await;
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Reading it back works (so the data is there, just not in clear).
    let got: serde_json::Value = get_resident(&c, &srv, &id).await;
    assert_eq!(got["verified"]["name_en"], canary_name);

    let canonical: String = hk.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let needles: Vec<Vec<u8>> = vec![
        canary_name.as_bytes().to_vec(),
        canary_address.as_bytes().to_vec(),
        "金絲雀".as_bytes().to_vec(),
        hk.as_bytes().to_vec(),
        canonical.as_bytes().to_vec(),
        b"1980-02-29".to_vec(),
    ];
    if site.db_url.starts_with("sqlite://") {
        let path = std::path::PathBuf::from(site.db_url.trim_start_matches("sqlite://"));
        let mut files = vec![path.clone()];
        for suffix in ["-wal", "-shm", "-journal"] {
            let p = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if p.exists() {
                files.push(p);
            }
        }
        assert!(
            files.len() >= 2,
            "expected the WAL beside the database: {files:?}"
        );
        for f in &files {
            for n in &needles {
                assert!(
                    !file_contains(f, n),
                    "{} found in {}",
                    String::from_utf8_lossy(n),
                    f.display()
                );
            }
        }
    } else {
        let db = iamsmart_store::Db::connect(&site.db_url, &Default::default())
            .await
            .unwrap();
        let dump: Vec<String> = sqlx::query_scalar(
            "SELECT t::text FROM residents t UNION ALL SELECT a::text FROM audit_log a UNION ALL SELECT s::text FROM settings s",
        )
        .fetch_all(db.reader())
        .await
        .unwrap();
        let dump = dump.join("\n");
        assert!(dump.contains(&id), "the dump should contain the row");
        for n in &needles {
            let n = String::from_utf8_lossy(n);
            assert!(!dump.contains(n.as_ref()), "{n} found in PostgreSQL");
            // bytea text form is hex: check that too.
            let hexed: String = n.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
            assert!(
                !dump.contains(&hexed),
                "{n} found hex-encoded in PostgreSQL"
            );
        }
        db.close().await;
    }
    drop(srv);
    let log = site.log_path();
    for n in &needles {
        assert!(
            !file_contains(&log, n),
            "{} found in the log",
            String::from_utf8_lossy(n)
        );
    }
}
