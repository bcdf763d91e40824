//! PostgreSQL stopped and started under load: requests fail with 503 and a clear message while
//! it is down, and the server recovers by itself. Uses a private PostgreSQL cluster of its own.
mod common;
use common::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    dirs.into_iter()
        .rev()
        .map(|d| d.join("bin"))
        .find(|b| b.join("initdb").exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// Run a PostgreSQL tool as the `postgres` user when we are root (it refuses to run as root).
fn pg(bin: &std::path::Path, tool: &str, args: &[&str]) -> std::process::Output {
    let exe = bin.join(tool);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args(args).output().unwrap()
}

struct Cluster {
    bin: PathBuf,
    data: String,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start(&self) {
        let opts = format!(
            "-p {} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        let log = format!("{}/../pg.log", self.data);
        let o = pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data, "-o", &opts, "-l", &log, "-w", "start"],
        );
        assert!(
            o.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    fn stop(&self) {
        let o = pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data, "-m", "immediate", "-w", "stop"],
        );
        assert!(
            o.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data, "-m", "immediate", "stop"],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load_gives_503_then_recovers() {
    if !iamsmart_testkit::is_postgres() {
        eprintln!("runs in the PostgreSQL pass of scripts/test");
        return;
    }
    let bin = pg_bin().expect("PostgreSQL server binaries (Debian package postgresql) are needed");
    let dir = tempfile::tempdir().unwrap();
    if is_root() {
        assert!(Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .status()
            .unwrap()
            .success());
    }
    let data = dir.path().join("data").display().to_string();
    let o = pg(
        &bin,
        "initdb",
        &["-D", &data, "-U", "postgres", "--auth=trust", "-N"],
    );
    assert!(
        o.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let cluster = Cluster {
        bin,
        data,
        port: iamsmart_testkit::free_port(),
        _dir: dir,
    };
    cluster.start();

    let mut site = Site::new().await;
    site.db_url = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let srv = site
        .serve(&[
            ("IAMSMART_DATABASE__ACQUIRE_TIMEOUT_SECS", "1"),
            ("IAMSMART_HTTP__RATE_LIMIT_PER_IP_PER_MINUTE", "0"),
            ("IAMSMART_HTTP__RATE_LIMIT_PER_CLIENT_PER_MINUTE", "0"),
        ])
        .await;
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut n = 0u32;
    let mut post = || {
        n += 1;
        c.post(srv.url("/admin/v1/residents"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&resident(&hkid(n), "LOAD TEST"))
            .send()
    };
    for _ in 0..20 {
        assert_eq!(post().await.unwrap().status(), 201);
    }

    cluster.stop();
    let mut saw_503 = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let r = post().await.unwrap();
        if r.status() == 503 {
            assert!(r.headers().contains_key("retry-after"));
            let p: serde_json::Value = r.json().await.unwrap();
            assert!(p["detail"].as_str().unwrap().contains("try again"), "{p}");
            assert!(p["correlation_id"].is_string());
            saw_503 = true;
            break;
        }
    }
    assert!(saw_503, "no 503 while the database was down");
    let r = c.get(srv.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503, "not ready while the database is down");

    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut recovered = false;
    while Instant::now() < deadline {
        if post().await.map(|r| r.status() == 201).unwrap_or(false) {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        recovered,
        "the server did not recover after the database came back"
    );
    assert_eq!(
        c.get(srv.url("/readyz")).send().await.unwrap().status(),
        200
    );
}
