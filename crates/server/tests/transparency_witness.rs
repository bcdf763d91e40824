//! Issue 16, finding 4: witnesses of the transparency log. `iamsmart witness URL` and the
//! resident's app remember the newest signed tree head they saw and check every newer one with a
//! consistency proof; `iamsmart audit verify --witness-state` compares the log with what a witness
//! saw. Entries cut off from the database (with their subtrees, heads and count, which the
//! database alone cannot reveal) raise the alarm everywhere; tree heads must be signed by a
//! pinned log key.
mod common;
use common::rp::*;
use common::signing::text;
use common::*;

/// Cut the log to `m` entries, as someone with write access to the database would.
async fn truncate(site: &Site, m: u64) {
    let db = iamsmart_store::Db::connect(&site.db_url, &Default::default())
        .await
        .unwrap();
    iamsmart_domain::testing::cut_off_audit_log(&db, m).await;
    db.close().await;
}

fn log_thumbprint(site: &Site) -> String {
    let o = site.run(&["keys", "list"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("log"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_log_raises_the_alarm_at_every_witness() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let state = site.dir.path().join("witness.json");
    let state_arg = state.to_str().unwrap();
    let witness = |extra: &[&str]| {
        let mut args = vec!["witness", srv.base.as_str(), "--state", state_arg];
        args.extend_from_slice(extra);
        site.run(&args, &[])
    };

    // First contact pins the log keys; the resident's app witnesses on its own.
    let o = witness(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("first contact: pinned log keys"),
        "{}",
        text(&o)
    );
    ok_json(&app(&home, &["pending"]));
    assert!(home.join("log-witness.json").exists());

    // The log grows; both see a head that extends the one before.
    for _ in 0..3 {
        let o = site.run(&["keys", "rotate", "--purpose", "connector"], &[]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = witness(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("consistency proof checked"),
        "{}",
        text(&o)
    );
    ok_json(&app(&home, &["pending"]));
    let seen: iamsmart_crypto::witness::WitnessState =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let size = seen.newest().unwrap().tree_size;

    // `audit verify` with the witness's state and the pinned log key: clean. A key that is
    // not the log's is refused.
    let pin = log_thumbprint(&site);
    let o = site.run(
        &[
            "audit",
            "verify",
            "--witness-state",
            state_arg,
            "--log-key",
            &pin,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A thumbprint is base64url and may start with `-`: still read as the key's value.
    let other_pin = format!("-{}", "A".repeat(42));
    let o = site.run(&["audit", "verify", "--log-key", &other_pin], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("not one of the pinned log keys"),
        "{}",
        text(&o)
    );
    // A witness that trusts another key raises the alarm at once.
    let stranger = site.dir.path().join("stranger.json");
    let o = site.run(
        &[
            "witness",
            &srv.base,
            "--state",
            stranger.to_str().unwrap(),
            "--log-key",
            &other_pin,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("not signed by a trusted log key"),
        "{}",
        text(&o)
    );

    // Someone with write access to the database cuts the newest entries off. On its own the
    // log still verifies; every witness notices.
    truncate(&site, size - 2).await;
    let o = site.run(&["audit", "verify"], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "the database alone cannot tell: {}",
        text(&o)
    );
    let o = witness(&[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("ALARM") && text(&o).contains("cut off"),
        "{}",
        text(&o)
    );
    let o = site.run(&["audit", "verify", "--witness-state", state_arg], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("Truncated"), "{}", text(&o));
    let o = app(&home, &["pending"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("transparency log"), "{}", text(&o));
}
