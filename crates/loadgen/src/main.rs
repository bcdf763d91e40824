//! `iamsmart-loadgen`: whole logins as an online service and the resident's app perform them,
//! against iamsmart or the peer provider in `bench/peer`, for a bounded time.
//!
//! A login: PAR with private_key_jwt, the authorization URL in a fresh browser (cookie jar),
//! the QR payload and match code read from the page, the app's approval (open the request,
//! sign the decision with the device key), the continue link back to the service with a code,
//! the token request (private_key_jwt and a DPoP proof), userinfo with DPoP.
//!
//! `--mode exchange` and `--mode provider` drive the data exchange gateway and the sandbox data
//! provider alone (see `exchange.rs`); `--mode sign`, `ocsp`, `tsa` and `issue` digital signing
//! (see `signing.rs`); `--mode portal` the portal's search page (see `portal.rs`).
mod analyse;
mod drive;
mod exchange;
mod floor;
mod portal;
mod rp;
mod signing;
mod stats;
mod target;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand, ValueEnum};
use rp::{StepError, Tokens};
use stats::{Dist, ProcReport, Report, Watch};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use target::{Phone, SetupArgs, Target};

/// The longest a run may last (warm-up plus measurement).
pub(crate) const MAX_RUN_SECS: u64 = 3600;

#[derive(Parser)]
#[command(
    name = "iamsmart-loadgen",
    about = "Load generator: logins, data exchange, digital signing (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum TargetKind {
    Iamsmart,
    Peer,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
pub(crate) enum Mode {
    /// Whole logins.
    Login,
    /// Only the token endpoint: refresh_token grants with private_key_jwt and DPoP (neither
    /// provider is given a client_credentials grant here).
    Token,
    /// Data exchanges through the gateway: `POST /gateway/v1/fetch` under consents the residents
    /// approved in the app (iamsmart only).
    Exchange,
    /// The sandbox data provider alone, called as the gateway calls it (a signed request); `--url`
    /// is the providers' root, started to trust the keys the load generator serves at
    /// `--jwks-listen`.
    Provider,
    /// Whole signatures (iamsmart only): the service asks (`POST /sign/v1/requests`), the app
    /// opens the request and signs it, the service collects the timestamped CMS.
    Sign,
    /// OCSP requests (`POST /pki/ocsp`, nonce-free) for residents' certificates.
    Ocsp,
    /// Timestamp requests (`POST /pki/tsa`) over random imprints.
    Tsa,
    /// Signing certificates issued through the app API (`POST /app/v1/signing/certificate`).
    Issue,
    /// The portal's search page (`GET /services?q=...`) over the 30 everyday questions.
    Portal,
}

#[derive(Subcommand)]
enum Command {
    /// Set a target up, warm up, measure for a bounded time, print (and append) a report.
    Run(Box<RunArgs>),
    /// Print Markdown tables from the JSON reports appended by `run --json`.
    Table {
        /// The file of reports.
        file: PathBuf,
    },
    /// Group a `perf report --no-children --sort sym` listing by what the time is spent on.
    PerfCategories {
        /// The listing.
        file: PathBuf,
    },
    /// SQL statements per request, from a server log written with `IAMSMART_LOG__LEVEL=sqlx=debug,info`.
    SqlPerRequest {
        /// The log.
        file: PathBuf,
    },
    /// The crypto floor on this CPU: one ES256 signature and verification, and what a login's
    /// and a token request's alone allow per core.
    CryptoFloor {
        /// Seconds per operation measured.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
    },
    /// Print a free TCP port on 127.0.0.1.
    FreePort,
    /// Wait until GET URL answers 2xx (at most --timeout seconds); exit non-zero otherwise.
    Wait {
        /// The URL (127.0.0.1 only).
        url: String,
        /// Seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// A bearer token to send.
        #[arg(long)]
        bearer: Option<String>,
        /// Print the answer.
        #[arg(long)]
        print: bool,
    },
}

async fn wait(url: &str, timeout: u64, bearer: Option<&str>, print: bool) -> Result<()> {
    rp::check_loopback(url)?;
    let http = rp::http_client(1)?;
    let end = Instant::now() + Duration::from_secs(timeout.min(600));
    loop {
        let mut req = http.get(url).timeout(Duration::from_secs(5));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        if let Ok(r) = req.send().await {
            if r.status().is_success() {
                if print {
                    println!("{}", r.text().await.unwrap_or_default());
                }
                return Ok(());
            }
        }
        if Instant::now() >= end {
            bail!("{url} did not answer within {timeout} s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Parser)]
pub(crate) struct RunArgs {
    /// Another process of the same provider (same public URL) to spread the load over.
    #[arg(long)]
    pub(crate) also_url: Vec<String>,
    /// Which provider.
    #[arg(long, value_enum, default_value = "iamsmart")]
    pub(crate) target: TargetKind,
    /// The provider's base URL (127.0.0.1 only).
    #[arg(long)]
    pub(crate) url: String,
    /// What to measure.
    #[arg(long, value_enum, default_value = "login")]
    pub(crate) mode: Mode,
    /// Operations in flight at once.
    #[arg(long, default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// Seconds of warm-up (not measured).
    #[arg(long, default_value_t = 5)]
    pub(crate) warmup: u64,
    /// Seconds measured.
    #[arg(long, default_value_t = 20)]
    pub(crate) duration: u64,
    /// Offer this many operations per second (open loop, latency counted from the scheduled
    /// start); default: as fast as the provider answers (closed loop).
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// Stop after this many operations (e.g. to fill the server with live sessions).
    #[arg(long)]
    pub(crate) max_ops: Option<usize>,
    /// Test residents (iamsmart's sandbox registry holds 24).
    #[arg(long, default_value_t = 8)]
    pub(crate) residents: usize,
    /// Scopes asked for.
    #[arg(long, default_value = "openid profile")]
    pub(crate) scope: String,
    /// The `iamsmart` binary (iamsmart target: registers the client, creates the residents).
    #[arg(long)]
    pub(crate) iamsmart_bin: Option<PathBuf>,
    /// The peer's setup token (registration and device enrolment).
    #[arg(long, env = "PEER_SETUP_TOKEN")]
    pub(crate) setup_token: Option<String>,
    /// Where app homes and the client's JWKS go.
    #[arg(long, default_value = "loadgen-work")]
    pub(crate) work_dir: PathBuf,
    /// Processes to measure: `LABEL:PID[,PID]` or `LABEL:comm=NAME` (labels starting with
    /// `server` are the server; `db` the database).
    #[arg(long)]
    pub(crate) watch: Vec<String>,
    /// A name for this run in the report.
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// Append the report as one JSON line to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Tokio worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// Exchange and provider modes: the items fetched, `provider/item`, comma-separated.
    #[arg(long, default_value = "ird/salaries_tax")]
    pub(crate) items: String,
    /// Exchange mode: the requester type of the client (`clients create --requester-type`).
    #[arg(long, default_value = "bank")]
    pub(crate) requester_type: String,
    /// Exchange mode: the most fetches to prepare consents for (each recurring consent allows
    /// 24 a day); default: the offered rate, or 1,000/s closed loop, over warm-up and duration.
    #[arg(long)]
    pub(crate) fetch_budget: Option<usize>,
    /// Provider mode: serve the load generator's connector key here (`/connectors/v1/jwks.json`;
    /// start the providers with `--platform-url http://THIS`).
    #[arg(long)]
    pub(crate) jwks_listen: Option<String>,
}

/// One finished operation.
struct Record {
    sched: Option<Instant>,
    start: Instant,
    end: Instant,
    steps: Vec<u64>,
    error: Option<(String, StepError)>,
}

const LOGIN_STEPS: [&str; 7] = [
    "par",
    "authorize",
    "app_open",
    "app_approve",
    "continue",
    "token",
    "userinfo",
];

pub(crate) fn us(t: Instant) -> u64 {
    micros(t.elapsed())
}

/// A duration in whole microseconds (a run is far shorter than u64 microseconds).
pub(crate) fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// One whole login; the time of each step, and the tokens.
pub(crate) async fn login(
    t: &Target,
    worker: usize,
    phone: &Phone,
    times: &mut Vec<u64>,
) -> Result<Tokens, (String, StepError)> {
    let at = |i: usize| LOGIN_STEPS[i].to_string();
    let rp = &t.rps[worker % t.rps.len()];
    let mut s = Instant::now();
    let pending = rp.par().await.map_err(|e| (at(0), e))?;
    times.push(us(s));
    s = Instant::now();
    let mut browser = rp::Browser::default();
    let page = browser
        .open_login(&rp.http, &rp.authorize_url(&pending))
        .await
        .map_err(|e| (at(1), e))?;
    times.push(us(s));
    s = Instant::now();
    let opened = phone
        .open(&t.device_http, &page)
        .await
        .map_err(|e| (at(2), e))?;
    times.push(us(s));
    s = Instant::now();
    phone
        .approve(&t.device_http, opened)
        .await
        .map_err(|e| (at(3), e))?;
    times.push(us(s));
    s = Instant::now();
    let code = browser
        .finish(
            &rp.http,
            &page.continue_url,
            &rp.redirect_uri,
            &pending.state,
        )
        .await
        .map_err(|e| (at(4), e))?;
    times.push(us(s));
    s = Instant::now();
    let tokens = rp.redeem(&code, &pending).await.map_err(|e| (at(5), e))?;
    times.push(us(s));
    s = Instant::now();
    rp.userinfo(&tokens.access_token)
        .await
        .map_err(|e| (at(6), e))?;
    times.push(us(s));
    Ok(tokens)
}

struct Plan {
    mode: Mode,
    concurrency: usize,
    rate: Option<f64>,
    max_ops: Option<usize>,
    t0: Instant,
    end: Instant,
    hard_end: Instant,
}

async fn worker(
    t: Arc<Target>,
    plan: Arc<Plan>,
    started: Arc<AtomicUsize>,
    i: usize,
) -> Vec<Record> {
    let mut out = Vec::new();
    let mut refresh: Option<String> = None;
    for k in 0usize.. {
        let phone = &t.phones[(i + k) % t.phones.len()];
        // Token mode needs a refresh token first (a login, not measured).
        if plan.mode == Mode::Token && refresh.is_none() {
            let mut ignored = Vec::new();
            let got =
                tokio::time::timeout_at(plan.hard_end.into(), login(&t, i, phone, &mut ignored))
                    .await;
            match got {
                Ok(Ok(tok)) => refresh = tok.refresh_token,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
            if refresh.is_none() {
                if Instant::now() >= plan.end {
                    break;
                }
                continue;
            }
        }
        let sched = plan
            .rate
            .map(|r| plan.t0 + Duration::from_secs_f64((k * plan.concurrency + i) as f64 / r));
        if let Some(s) = sched {
            if s >= plan.end {
                break;
            }
            tokio::time::sleep_until(s.into()).await;
        }
        if Instant::now() >= plan.end {
            break;
        }
        if let Some(max) = plan.max_ops {
            if started.fetch_add(1, Ordering::Relaxed) >= max {
                break;
            }
        }
        let start = Instant::now();
        let mut steps = Vec::with_capacity(LOGIN_STEPS.len());
        let result = match plan.mode {
            Mode::Login
            | Mode::Exchange
            | Mode::Provider
            | Mode::Sign
            | Mode::Ocsp
            | Mode::Tsa
            | Mode::Issue
            | Mode::Portal => {
                tokio::time::timeout_at(plan.hard_end.into(), login(&t, i, phone, &mut steps))
                    .await
                    .map(|r| r.map(|_| ()))
            }
            Mode::Token => {
                let rt = refresh.take().unwrap_or_default();
                tokio::time::timeout_at(plan.hard_end.into(), t.rps[i % t.rps.len()].refresh(&rt))
                    .await
                    .map(|r| {
                        r.map(|tok| {
                            steps.push(us(start));
                            refresh = tok.refresh_token;
                        })
                        .map_err(|e| ("token".to_string(), e))
                    })
            }
        };
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some((
                "any".to_string(),
                StepError::new("run ended", "still waiting at the hard deadline"),
            )),
        };
        let failed = error.is_some();
        out.push(Record {
            sched,
            start,
            end: Instant::now(),
            steps,
            error,
        });
        if failed && plan.rate.is_none() {
            // Do not spin on a refusing server.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    out
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn run(a: RunArgs) -> Result<Report> {
    rp::check_loopback(&a.url)?;
    if matches!(a.mode, Mode::Exchange | Mode::Provider) {
        return exchange::run(a).await;
    }
    if matches!(a.mode, Mode::Sign | Mode::Ocsp | Mode::Tsa | Mode::Issue) {
        return signing::run(a).await;
    }
    if a.mode == Mode::Portal {
        return portal::run(a).await;
    }
    for u in &a.also_url {
        rp::check_loopback(u)?;
    }
    if a.warmup + a.duration > MAX_RUN_SECS {
        bail!("warm-up plus duration must be at most {MAX_RUN_SECS} s");
    }
    if a.concurrency == 0 || a.residents == 0 {
        bail!("concurrency and residents must be at least 1");
    }
    let watches: Vec<Watch> = a
        .watch
        .iter()
        .map(|w| Watch::parse(w).map_err(anyhow::Error::msg))
        .collect::<Result<_>>()?;
    let setup = SetupArgs {
        base: a.url.trim_end_matches('/').to_string(),
        also: a
            .also_url
            .iter()
            .map(|u| u.trim_end_matches('/').to_string())
            .collect(),
        residents: a.residents,
        work_dir: a.work_dir.clone(),
        iamsmart_bin: a.iamsmart_bin.clone(),
        setup_token: a.setup_token.clone(),
        scope: a.scope.clone(),
        pool: a.concurrency * 2,
        client_args: vec![],
        extra_jwks: vec![],
    };
    let t = Arc::new(match a.target {
        TargetKind::Iamsmart => target::setup_iamsmart(&setup).await?,
        TargetKind::Peer => target::setup_peer(&setup).await?,
    });
    for rp in &t.rps {
        for url in [&rp.ep.par, &rp.ep.token, &rp.ep.userinfo] {
            rp::check_loopback(&rp.send(url))?;
        }
    }
    let load = load_average();
    let started_unix = rp::now_s();
    let t0 = Instant::now();
    let window_start = t0 + Duration::from_secs(a.warmup);
    let end = window_start + Duration::from_secs(a.duration);
    let plan = Arc::new(Plan {
        mode: a.mode,
        concurrency: a.concurrency,
        rate: a.rate,
        max_ops: a.max_ops,
        t0,
        end,
        hard_end: end + Duration::from_secs(30),
    });
    let started = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..a.concurrency {
        handles.push(tokio::spawn(worker(
            t.clone(),
            plan.clone(),
            started.clone(),
            i,
        )));
    }
    let me = std::process::id();
    tokio::time::sleep_until(window_start.into()).await;
    let before: Vec<_> = watches.iter().map(Watch::sample).collect();
    let me_before = stats::cpu_secs(me).unwrap_or(0.0);
    let all_done = futures_join(handles);
    tokio::pin!(all_done);
    let mut records: Option<Vec<Record>> = None;
    tokio::select! {
        r = &mut all_done => records = Some(r),
        _ = tokio::time::sleep_until(end.into()) => {}
    }
    let measured_end = Instant::now().min(end);
    let after: Vec<_> = watches.iter().map(Watch::sample).collect();
    let me_after = stats::cpu_secs(me).unwrap_or(0.0);
    let rss: Vec<f64> = watches.iter().map(Watch::rss).collect();
    let records = match records {
        Some(r) => r,
        None => all_done.await,
    };
    let window = measured_end
        .saturating_duration_since(window_start)
        .as_secs_f64()
        .max(0.001);
    let in_window = |r: &Record| r.end >= window_start && r.end <= measured_end;
    let ok_in_window = records
        .iter()
        .filter(|r| r.error.is_none() && in_window(r))
        .count();
    let measured: Vec<&Record> = records
        .iter()
        .filter(|r| r.start >= window_start || r.sched.is_some_and(|s| s >= window_start))
        .collect();
    let step_names: Vec<&str> = match a.mode {
        Mode::Token => vec!["token"],
        _ => LOGIN_STEPS.to_vec(),
    };
    let mut steps = Vec::new();
    for (i, name) in step_names.iter().enumerate() {
        let v: Vec<u64> = measured
            .iter()
            .filter(|r| r.error.is_none())
            .filter_map(|r| r.steps.get(i).copied())
            .collect();
        steps.push((name.to_string(), Dist::of(v)));
    }
    let total = Dist::of(
        measured
            .iter()
            .filter(|r| r.error.is_none())
            .map(|r| micros(r.end - r.sched.unwrap_or(r.start)))
            .collect(),
    );
    let mut error_kinds = BTreeMap::new();
    let mut error_samples = BTreeMap::new();
    for r in &measured {
        if let Some((step, e)) = &r.error {
            let k = format!("{step}: {}", e.kind);
            *error_kinds.entry(k.clone()).or_insert(0) += 1;
            error_samples
                .entry(k)
                .or_insert_with(|| e.detail.chars().take(200).collect());
        }
    }
    let ops = ok_in_window;
    let procs = watches
        .iter()
        .zip(before.iter().zip(after.iter()))
        .zip(rss)
        .map(|((w, (b, af)), rss)| {
            let cpu = stats::cpu_delta(b, af);
            ProcReport {
                label: w.label.clone(),
                cpu_secs: cpu,
                cpu_ms_per_op: if ops > 0 {
                    cpu * 1000.0 / ops as f64
                } else {
                    0.0
                },
                cpu_util: cpu / window,
                rss_mib: rss,
            }
        })
        .collect();
    Ok(Report {
        label: a.label.clone().unwrap_or_else(|| format!("{:?}", a.target)),
        target: format!("{:?}", a.target).to_lowercase(),
        mode: format!("{:?}", a.mode).to_lowercase(),
        concurrency: a.concurrency,
        rate: a.rate,
        window_secs: window,
        ops,
        ops_per_sec: ops as f64 / window,
        errors: error_kinds.values().sum(),
        error_kinds,
        error_samples,
        total,
        steps,
        procs,
        loadgen_cpu_util: (me_after - me_before) / window,
        load_average: load,
        started_unix,
        key_ops_per_op: BTreeMap::new(),
    })
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<Vec<Record>>>) -> Vec<Record> {
    let mut all = Vec::new();
    for h in handles {
        if let Ok(v) = h.await {
            all.extend(v);
        }
    }
    all
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Table { file } => stats::table(&file),
        Command::PerfCategories { file } => analyse::perf_categories(&file),
        Command::SqlPerRequest { file } => analyse::sql_per_request(&file),
        Command::CryptoFloor { seconds } => floor::run(seconds),
        Command::FreePort => {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", l.local_addr()?.port());
            Ok(())
        }
        Command::Wait {
            url,
            timeout,
            bearer,
            print,
        } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(wait(&url, timeout, bearer.as_deref(), print)),
        Command::Run(a) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(a.threads.max(1))
                .enable_all()
                .build()?;
            let json = a.json.clone();
            let report = rt.block_on(run(*a))?;
            report.print();
            if let Some(path) = json {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                writeln!(f, "{}", serde_json::to_string(&report)?)?;
            }
            Ok(())
        }
    }
}
