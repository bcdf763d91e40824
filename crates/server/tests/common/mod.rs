//! Runs the platform against a test database: in this process on a clock the test can move
//! on (`Site::serve`), or as the real `iamsmart` binary where a test needs a process to kill,
//! signal or read the log of (`Site::serve_process`).
#![allow(dead_code)]
pub mod rp;
pub mod signing;
use iamsmart_domain::clock::{AdvancingClock, Clock};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "test-operator-token-0123456789abcdef";

/// A data directory, a database and an admin token shared by the servers of one test.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub db_url: String,
}

impl Site {
    pub async fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let db_url = iamsmart_testkit::create_database(dir.path()).await.unwrap();
        std::fs::write(dir.path().join("admin.token"), ADMIN_TOKEN).unwrap();
        Site { dir, db_url }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The environment a server of this site runs with.
    pub fn env(&self, port: u16) -> Vec<(String, String)> {
        vec![
            ("IAMSMART_LISTEN".into(), format!("127.0.0.1:{port}")),
            (
                "IAMSMART_PUBLIC_URL".into(),
                format!("http://127.0.0.1:{port}"),
            ),
            (
                "IAMSMART_DATA_DIR".into(),
                self.data_dir().display().to_string(),
            ),
            ("IAMSMART_DATABASE_URL".into(), self.db_url.clone()),
            (
                "IAMSMART_ADMIN_TOKEN_FILE".into(),
                self.dir.path().join("admin.token").display().to_string(),
            ),
            ("IAMSMART_HTTP__SHUTDOWN_GRACE_SECS".into(), "5".into()),
            // No test reaches the internet: the public information fetchers are off unless a
            // test turns them on with its own local feeds (tests/public_info.rs).
            ("IAMSMART_PUBLIC_INFO__ENABLED".into(), "false".into()),
            // The tests' own services (the sandbox registry and providers, relying parties'
            // key sets and endpoints) are on this host; the outbound guard allows loopback only
            // where a test says so (tests/outbound.rs runs without it).
            ("IAMSMART_OUTBOUND__ALLOW".into(), "127.0.0.0/8,::1".into()),
        ]
    }

    /// Run `iamsmart <args>` to completion with this site's environment plus `extra`.
    pub fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = command(&self.env(1));
        cmd.args(args);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Start the platform in this process, on a clock the test can move on
    /// ([`Server::advance`]), and wait until it is ready. It stops when the `Server` is dropped.
    pub async fn serve(&self, extra: &[(&str, &str)]) -> Server {
        self.serve_in_process_on(iamsmart_testkit::free_port(), extra)
            .await
    }

    /// [`Site::serve`] on `port`.
    pub async fn serve_in_process_on(&self, port: u16, extra: &[(&str, &str)]) -> Server {
        let mut env: std::collections::BTreeMap<String, String> =
            self.env(port).into_iter().collect();
        for (k, v) in extra {
            // Anything else is the environment of a process (a library's settings, TMPDIR),
            // which a server in this process cannot be given.
            assert!(
                k.starts_with("IAMSMART_"),
                "{k} is not configuration: run this test's server as a process (serve_process)"
            );
            env.insert((*k).into(), (*v).into());
        }
        let cfg = iamsmart_server::config::Config::load(None, &env)
            .unwrap_or_else(|e| panic!("configuration: {e}"));
        let clock = Arc::new(AdvancingClock::new());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let platform_clock: Arc<dyn Clock> = clock.clone();
        // Its own runtime on its own thread: the test may block (running the app's command
        // line against it) without stopping the server.
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let started = async {
                    let platform = iamsmart_server::start_platform_with(
                        &cfg,
                        platform_clock,
                        Arc::new(iamsmart_crypto::rng::SystemRng),
                    )
                    .await?;
                    let listener = tokio::net::TcpListener::bind(&cfg.listen).await?;
                    anyhow::Ok((platform, listener))
                };
                match started.await {
                    Ok((platform, listener)) => {
                        let _ = ready_tx.send(Ok(()));
                        let stop = async move {
                            let _ = stop_rx.await;
                        };
                        if let Err(e) =
                            iamsmart_server::serve_until(&cfg, platform, listener, stop).await
                        {
                            eprintln!("in-process server: {e:#}");
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("{e:#}")));
                    }
                }
            });
        });
        let started = tokio::task::spawn_blocking(move || ready_rx.recv())
            .await
            .unwrap();
        match started {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the platform did not start: {e}"),
            Err(_) => panic!("the platform's thread ended before it started"),
        }
        let server = Server {
            child: None,
            in_process: Some(InProcess {
                stop: Some(stop_tx),
                thread: Some(thread),
                clock,
            }),
            base: format!("http://127.0.0.1:{port}"),
            port,
        };
        server.wait_ready(self.log_path()).await;
        server
    }

    /// Start the real `iamsmart serve` and wait until it is ready.
    pub async fn serve_process(&self, extra: &[(&str, &str)]) -> Server {
        self.serve_on(iamsmart_testkit::free_port(), extra).await
    }

    /// Start the real `iamsmart serve` on `port` and wait until it is ready.
    pub async fn serve_on(&self, port: u16, extra: &[(&str, &str)]) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut cmd = command(&self.env(port));
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let server = Server {
            child: Some(child),
            in_process: None,
            base: format!("http://127.0.0.1:{port}"),
            port,
        };
        server.wait_ready(self.log_path()).await;
        server
    }
}

pub fn command(env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iamsmart"));
    cmd.env_clear();
    if let Ok(p) = std::env::var("PATH") {
        cmd.env("PATH", p);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A running platform: a process, or a server in this process on its own thread.
pub struct Server {
    child: Option<Child>,
    in_process: Option<InProcess>,
    pub base: String,
    pub port: u16,
}

struct InProcess {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    clock: Arc<AdvancingClock>,
}

impl Server {
    async fn wait_ready(&self, log: PathBuf) {
        let client = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!(
                    "server did not become ready; log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Move the platform's clock on (an in-process server only): what would expire in that
    /// time has expired, without the test waiting for it.
    pub fn advance(&self, by: Duration) {
        let p = self
            .in_process
            .as_ref()
            .expect("only an in-process server's clock can be moved on");
        p.clock.advance(i64::try_from(by.as_millis()).unwrap());
    }

    /// The platform's time, in Unix seconds (for a checker that must be told it).
    pub fn now_secs(&self) -> i64 {
        let p = self
            .in_process
            .as_ref()
            .expect("only an in-process server's clock can be read");
        p.clock.now_ms() / 1000
    }

    fn child(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .expect("only a server process can be killed or signalled: use Site::serve_process")
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        let child = self.child();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM and wait for a graceful exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let child = self.child();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        child.wait().unwrap()
    }

    /// The process id of a server process.
    pub fn pid(&mut self) -> u32 {
        self.child().id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(p) = &mut self.in_process {
            if let Some(stop) = p.stop.take() {
                let _ = stop.send(());
            }
            if let Some(t) = p.thread.take() {
                let _ = t.join();
            }
        }
    }
}

pub fn resident(hkid: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        "hkid": hkid,
        "name_en": name,
        "name_zh": "陳大文",
        "date_of_birth": "1980-02-29",
        "gender": "M",
        "profile": { "residential_address": {
            "flat": "12A", "building": "Canary Court", "street": "Canary Road",
            "district": "Sha Tin", "region": "NT"
        }},
    })
}

/// A valid HKID for a number (sandbox-style data).
pub fn hkid(n: u32) -> String {
    let digits = format!("{:06}", n % 1_000_000);
    let prefix = ["A", "B", "C", "D", "E", "K", "XA"][(n / 1_000_000) as usize % 7];
    let mut vals: Vec<u32> = if prefix.len() == 1 { vec![36] } else { vec![] };
    for c in prefix.chars().chain(digits.chars()) {
        vals.push(c.to_digit(36).unwrap());
    }
    let sum: u32 = vals.iter().zip((2..=9).rev()).map(|(v, w)| v * w).sum();
    let check = match (11 - sum % 11) % 11 {
        10 => 'A',
        d => char::from_digit(d, 10).unwrap(),
    };
    format!("{prefix}{digits}({check})")
}

pub fn file_contains(path: &Path, needle: &[u8]) -> bool {
    read_apart(path)
        .map(|b| b.windows(needle.len()).any(|w| w == needle))
        .unwrap_or(false)
}

/// A file's bytes, read by another process. A database file must never be opened and closed
/// by this process while a server runs in it: POSIX locks belong to the process, and closing
/// any descriptor of the file drops every lock SQLite holds on it, after which other processes
/// (the CLI) no longer see the server's commits.
pub fn read_apart(path: &Path) -> Option<Vec<u8>> {
    let o = Command::new("cat")
        .arg(path)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    o.status.success().then_some(o.stdout)
}

/// POST a resident through the operator API.
pub async fn post_resident(
    c: &reqwest::Client,
    srv: &Server,
    body: &serde_json::Value,
) -> reqwest::Response {
    c.post(srv.url("/admin/v1/residents"))
        .bearer_auth(ADMIN_TOKEN)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// GET a resident through the operator API, as JSON.
pub async fn get_resident(c: &reqwest::Client, srv: &Server, id: &str) -> serde_json::Value {
    let r = c
        .get(srv.url(&format!("/admin/v1/residents/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "resident {id}");
    r.json().await.unwrap()
}

/// GET any JSON document.
pub async fn get_json(c: &reqwest::Client, srv: &Server, path: &str) -> serde_json::Value {
    c.get(srv.url(path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The audit log's entries `[start, end)` as an operator reads them (the public log shows only
/// their salted commitments).
pub async fn audit_entries(srv: &Server, start: u64, end: u64) -> serde_json::Value {
    let v: serde_json::Value = reqwest::Client::new()
        .get(srv.url(&format!("/admin/v1/audit/entries?start={start}&end={end}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array()
        .expect("entries")
        .iter()
        .map(|e| e["entry"].clone())
        .collect()
}

/// A sandbox immigration registry in this process, trusting the platform on `platform_port`.
/// Returns its base URL (`http://127.0.0.1:N/immd`).
pub async fn start_immd(platform_port: u16, delay_ms: u64) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/immd", listener.local_addr().unwrap());
    let cfg = iamsmart_server::sandbox::immd_config(
        &format!("http://127.0.0.1:{platform_port}"),
        None,
        face_data().map(|d| d.join("images")),
        Duration::from_millis(delay_ms),
    )
    .unwrap();
    tokio::spawn(iamsmart_sandbox::immd::serve(listener, cfg));
    url
}

/// The face data fetched by scripts/fetch-face-data, if present.
pub fn face_data() -> Option<PathBuf> {
    let dir = std::env::var_os("IAMSMART_FACE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/face-data"));
    dir.is_dir().then_some(dir)
}

/// The synthetic residents of the sandbox registry.
pub fn seed() -> Vec<iamsmart_sandbox::immd::SeedResident> {
    iamsmart_sandbox::immd::parse_seed(iamsmart_sandbox::immd::DEFAULT_SEED).unwrap()
}

/// The `iamsmart-app` binary (built beside `iamsmart` by `cargo build --workspace --bins`).
pub fn app_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_iamsmart")).with_file_name("iamsmart-app");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        p.display()
    );
    p
}

pub const APP_PIN: &str = "480317";

/// Run `iamsmart-app --home HOME ARGS` with the test PIN.
pub fn app(home: &Path, args: &[&str]) -> std::process::Output {
    app_with_pin(home, APP_PIN, args)
}

/// The Argon2id memory (MiB) of the keys the tests' apps create.
pub const TEST_KDF_MEMORY_MIB: &str = "8";

/// Run `iamsmart-app --home HOME ARGS` with `pin`.
pub fn app_with_pin(home: &Path, pin: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(app_bin());
    cmd.env_clear();
    if let Ok(p) = std::env::var("PATH") {
        cmd.env("PATH", p);
    }
    // Keys sealed with 8 MiB, not the default 64, because the suite creates hundreds; one test
    // (identity.rs) keeps the default.
    cmd.env("IAMSMART_APP_PIN", pin)
        .env("IAMSMART_APP_KDF_MEMORY_MIB", TEST_KDF_MEMORY_MIB)
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .unwrap()
}

/// JSON printed by a successful command (panics with its stderr otherwise).
pub fn ok_json(o: &std::process::Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "command failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

/// The sandbox data providers in this process, trusting the platform at `platform_base`;
/// returns their root URL (`http://127.0.0.1:N`).
pub async fn start_providers(platform_base: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(iamsmart_sandbox::providers::serve(
        listener,
        format!("{platform_base}/connectors/v1/jwks.json"),
    ));
    url
}

/// Register a data provider through the operator API.
pub async fn register_provider(srv: &Server, def: &serde_json::Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(srv.url("/admin/v1/data-providers"))
        .bearer_auth(ADMIN_TOKEN)
        .json(def)
        .send()
        .await
        .unwrap()
}

/// Everything the site's database holds, as text (SQLite: the files' bytes; PostgreSQL: every
/// row of every table), to search for data that must never be stored.
pub async fn database_text(site: &Site) -> String {
    if site.db_url.starts_with("sqlite://") {
        let path = PathBuf::from(site.db_url.trim_start_matches("sqlite://"));
        let mut out = String::new();
        for suffix in ["", "-wal", "-shm", "-journal"] {
            if let Some(b) = read_apart(Path::new(&format!("{}{suffix}", path.display()))) {
                out.push_str(&String::from_utf8_lossy(&b));
            }
        }
        return out;
    }
    let db = iamsmart_store::Db::connect(&site.db_url, &Default::default())
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(db.reader())
    .await
    .unwrap();
    let mut out = String::new();
    for t in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT x::text FROM \"{t}\" x"))
            .fetch_all(db.reader())
            .await
            .unwrap();
        out.push_str(&rows.join("\n"));
    }
    db.close().await;
    out
}

/// Sends only the head of a POST to `path` that declares a body of
/// `declared_length` bytes and returns the server's answer (head and body as
/// far as they came) as text. For checks that the server refuses a body from
/// its declared length without reading it: a client that pushes the whole body
/// can meet the closed socket (broken pipe) before it reads the answer.
pub async fn answer_to_declared_body(
    srv: &Server,
    path: &str,
    headers: &[(&str, &str)],
    declared_length: usize,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", srv.port))
        .await
        .unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", srv.port);
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {declared_length}\r\n\r\n"));
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(read) = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf)).await
        else {
            panic!(
                "no whole answer without the body; so far: {}",
                String::from_utf8_lossy(&answer)
            );
        };
        let read = read.unwrap();
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..read]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}
