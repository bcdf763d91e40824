//! Drive numbered operations for a bounded time (open loop at a rate, or closed loop), sample
//! the watched processes over the measured window, and make the report. Shared by the modes
//! that need no browser: data exchange, provider, and the signing modes.
use crate::rp::{StepError, StepResult};
use crate::stats::{Dist, ProcReport, Report, Watch};
use crate::RunArgs;
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When the n-th operation of an open-loop run is due: `n / rate` seconds after `t0`. Workers
/// take the next number when free, so a slow answer delays no other slot; latency is counted
/// from this time, so time spent waiting for a free worker counts too.
pub fn due(t0: Instant, n: u64, rate: f64) -> Instant {
    t0 + Duration::from_secs_f64(n as f64 / rate)
}

/// One finished operation: its times and, when it has steps, the time of each (µs).
pub struct Op {
    pub sched: Option<Instant>,
    pub start: Instant,
    pub end: Instant,
    pub steps: Vec<u64>,
    pub error: Option<StepError>,
}

/// When a run starts, starts measuring, stops, and gives up on answers still awaited.
#[derive(Clone, Copy)]
pub struct Window {
    pub t0: Instant,
    pub measure_from: Instant,
    pub end: Instant,
    pub hard_end: Instant,
}

impl Window {
    /// A window starting now: `warmup` seconds, then `duration` measured, answers awaited 30 s
    /// more.
    pub fn starting_now(warmup: u64, duration: u64) -> Window {
        let t0 = Instant::now();
        Window {
            t0,
            measure_from: t0 + Duration::from_secs(warmup),
            end: t0 + Duration::from_secs(warmup + duration),
            hard_end: t0 + Duration::from_secs(warmup + duration + 30),
        }
    }
}

/// Drive `op(worker, n)` with `concurrency` workers until `w.end`: open loop at `rate`
/// (operation n due at [`due`]) or closed loop. `op` returns the time of each of its steps (or
/// none). `limit`: numbers from it on are not run (budget used up, noted in `exhausted`).
pub async fn drive<F, Fut>(
    concurrency: usize,
    rate: Option<f64>,
    w: Window,
    limit: u64,
    exhausted: Arc<AtomicBool>,
    op: Arc<F>,
) -> Vec<Op>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = StepResult<Vec<u64>>> + Send + 'static,
{
    let next = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for worker in 0..concurrency {
        let (next, op, exhausted) = (next.clone(), op.clone(), exhausted.clone());
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let sched = rate.map(|r| due(w.t0, n, r));
                if let Some(s) = sched {
                    if s >= w.end {
                        break;
                    }
                    tokio::time::sleep_until(s.into()).await;
                }
                if Instant::now() >= w.end {
                    break;
                }
                if n >= limit {
                    exhausted.store(true, Ordering::Relaxed);
                    break;
                }
                let start = Instant::now();
                let (steps, error) =
                    match tokio::time::timeout_at(w.hard_end.into(), op(worker, n)).await {
                        Ok(Ok(steps)) => (steps, None),
                        Ok(Err(e)) => (vec![], Some(e)),
                        Err(_) => (
                            vec![],
                            Some(StepError::new(
                                "run ended",
                                "still waiting at the hard deadline",
                            )),
                        ),
                    };
                let failed = error.is_some();
                out.push(Op {
                    sched,
                    start,
                    end: Instant::now(),
                    steps,
                    error,
                });
                if failed && rate.is_none() {
                    // Do not spin on a refusing server.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            out
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        if let Ok(v) = h.await {
            all.extend(v);
        }
    }
    all
}

/// How a mode's report is labelled and which step times it shows.
pub struct Shape<'a> {
    /// The report's `target`.
    pub target: &'a str,
    /// The names of the steps each operation times, in order.
    pub steps: &'a [&'a str],
    /// Add the service time (from the operation's start, not its scheduled time) as a step of
    /// this name.
    pub service_step: Option<&'a str>,
    /// The server's `/metrics`: key store operations per operation are read from it.
    pub metrics_url: Option<String>,
}

/// The key store operation counters (`iamsmart_key_operations_total{op="..."}`) in a
/// `/metrics` exposition.
pub fn key_op_counters(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("iamsmart_key_operations_total{op=\"")?;
            let (op, value) = rest.split_once("\"}")?;
            Some((op.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

async fn read_key_ops(http: &reqwest::Client, url: Option<&str>) -> Option<BTreeMap<String, f64>> {
    // `/metrics` needs the operator's token (the benchmark scripts set one for their sites).
    let mut req = http.get(url?);
    if let Ok(token) = std::env::var("LOADGEN_METRICS_TOKEN") {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    Some(key_op_counters(&r.text().await.ok()?))
}

/// What a run was started with, before its set-up.
pub struct Started {
    pub watches: Vec<Watch>,
    pub load: String,
    pub started_unix: i64,
}

/// Check a run's settings and note what it starts with (before its set-up).
pub fn start(a: &RunArgs) -> Result<Started> {
    if a.warmup + a.duration > crate::MAX_RUN_SECS {
        bail!(
            "warm-up plus duration must be at most {} s",
            crate::MAX_RUN_SECS
        );
    }
    if a.concurrency == 0 || a.residents == 0 || a.rate.is_some_and(|r| r <= 0.0) {
        bail!("concurrency and residents must be at least 1, a rate above 0");
    }
    let watches = a
        .watch
        .iter()
        .map(|w| Watch::parse(w).map_err(anyhow::Error::msg))
        .collect::<Result<_>>()?;
    Ok(Started {
        watches,
        load: crate::load_average(),
        started_unix: crate::rp::now_s(),
    })
}

/// Start the load, sample the watched processes over the measured window, and make the report.
pub async fn measure<D, Fut>(
    a: &RunArgs,
    s: Started,
    w: Window,
    shape: Shape<'_>,
    drive: D,
) -> Result<Report>
where
    D: FnOnce(Window) -> Fut,
    Fut: Future<Output = Vec<Op>> + Send + 'static,
{
    let me = std::process::id();
    let window_start = w.measure_from;
    let http = crate::rp::http_client(1)?;
    let metrics = shape.metrics_url.as_deref();
    if let Some(u) = metrics {
        crate::rp::check_loopback(u)?;
    }
    let all = tokio::spawn(drive(w));
    tokio::time::sleep_until(window_start.into()).await;
    let before: Vec<_> = s.watches.iter().map(Watch::sample).collect();
    let me_before = crate::stats::cpu_secs(me).unwrap_or(0.0);
    let keys_before = read_key_ops(&http, metrics).await;
    tokio::pin!(all);
    let mut ops: Option<Vec<Op>> = None;
    tokio::select! {
        r = &mut all => ops = Some(r?),
        _ = tokio::time::sleep_until(w.end.into()) => {}
    }
    let measured_end = Instant::now().min(w.end);
    let after: Vec<_> = s.watches.iter().map(Watch::sample).collect();
    let me_after = crate::stats::cpu_secs(me).unwrap_or(0.0);
    let keys_after = read_key_ops(&http, metrics).await;
    let rss: Vec<f64> = s.watches.iter().map(Watch::rss).collect();
    let ops = match ops {
        Some(o) => o,
        None => all.await?,
    };
    let window = measured_end
        .saturating_duration_since(window_start)
        .as_secs_f64()
        .max(0.001);
    let ok = ops
        .iter()
        .filter(|o| o.error.is_none() && o.end >= window_start && o.end <= measured_end)
        .count();
    let measured: Vec<&Op> = ops
        .iter()
        .filter(|o| o.sched.unwrap_or(o.start) >= window_start)
        .collect();
    let good = || measured.iter().filter(|o| o.error.is_none());
    let total = Dist::of(
        good()
            .map(|o| crate::micros(o.end - o.sched.unwrap_or(o.start)))
            .collect(),
    );
    let mut steps: Vec<(String, Dist)> = shape
        .steps
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let v = good().filter_map(|o| o.steps.get(i).copied()).collect();
            (name.to_string(), Dist::of(v))
        })
        .collect();
    if let Some(name) = shape.service_step {
        let service = good().map(|o| crate::micros(o.end - o.start)).collect();
        steps.push((name.to_string(), Dist::of(service)));
    }
    let mut error_kinds = BTreeMap::new();
    let mut error_samples = BTreeMap::new();
    for o in &measured {
        if let Some(e) = &o.error {
            *error_kinds.entry(e.kind.clone()).or_insert(0) += 1;
            error_samples
                .entry(e.kind.clone())
                .or_insert_with(|| e.detail.chars().take(200).collect());
        }
    }
    let procs = s
        .watches
        .iter()
        .zip(before.iter().zip(after.iter()))
        .zip(rss)
        .map(|((wt, (b, af)), rss)| {
            let cpu = crate::stats::cpu_delta(b, af);
            ProcReport {
                label: wt.label.clone(),
                cpu_secs: cpu,
                cpu_ms_per_op: if ok > 0 {
                    cpu * 1000.0 / ok as f64
                } else {
                    0.0
                },
                cpu_util: cpu / window,
                rss_mib: rss,
            }
        })
        .collect();
    let key_ops_per_op = match (keys_before, keys_after) {
        (Some(b), Some(af)) if ok > 0 => af
            .iter()
            .map(|(k, v)| (k.clone(), (v - b.get(k).unwrap_or(&0.0)) / ok as f64))
            .collect(),
        _ => BTreeMap::new(),
    };
    Ok(Report {
        label: a.label.clone().unwrap_or_else(|| format!("{:?}", a.mode)),
        target: shape.target.to_string(),
        mode: format!("{:?}", a.mode).to_lowercase(),
        concurrency: a.concurrency,
        rate: a.rate,
        window_secs: window,
        ops: ok,
        ops_per_sec: ok as f64 / window,
        errors: error_kinds.values().sum(),
        error_kinds,
        error_samples,
        total,
        steps,
        procs,
        loadgen_cpu_util: (me_after - me_before) / window,
        load_average: s.load,
        started_unix: s.started_unix,
        key_ops_per_op,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_slots_are_evenly_spaced() {
        let t0 = Instant::now();
        assert_eq!(due(t0, 0, 500.0), t0);
        assert_eq!(due(t0, 1, 500.0) - t0, Duration::from_millis(2));
        assert_eq!(due(t0, 500, 500.0) - t0, Duration::from_secs(1));
        assert_eq!(due(t0, 1500, 500.0) - t0, Duration::from_secs(3));
        // Evenly spaced: no burst at any point of the schedule.
        let gaps: Vec<Duration> = (1..1000)
            .map(|n| due(t0, n, 250.0) - due(t0, n - 1, 250.0))
            .collect();
        assert!(gaps
            .iter()
            .all(|g| g.abs_diff(Duration::from_millis(4)) < Duration::from_micros(1)));
    }

    #[test]
    fn key_store_counters_are_read_from_the_exposition() {
        let text = "# HELP iamsmart_key_operations Key store operations by kind.\n\
# TYPE iamsmart_key_operations counter\n\
iamsmart_key_operations_total{op=\"sign\"} 12\n\
iamsmart_key_operations_total{op=\"unwrap\"} 3400\n\
iamsmart_http_requests_total{route=\"/x\"} 5\n";
        let c = key_op_counters(text);
        assert_eq!(c.len(), 2);
        assert_eq!(c["sign"], 12.0);
        assert_eq!(c["unwrap"], 3400.0);
    }

    #[test]
    fn a_window_measures_after_its_warm_up() {
        let w = Window::starting_now(5, 15);
        assert_eq!(w.measure_from - w.t0, Duration::from_secs(5));
        assert_eq!(w.end - w.t0, Duration::from_secs(20));
        assert_eq!(w.hard_end - w.end, Duration::from_secs(30));
    }
}
