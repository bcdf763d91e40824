//! Latencies, errors, and the CPU time and memory of the processes under test (from /proc).
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Linux reports CPU times in /proc in USER_HZ, 100 per second on every common platform.
const USER_HZ: f64 = 100.0;

/// CPU time (user + system) of a process, in seconds.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// Resident memory of a process, in MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Every process whose command name is `comm` (e.g. the PostgreSQL server's processes).
pub fn pids_named(comm: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim() == comm)
                .unwrap_or(false)
        })
        .collect()
}

/// A watched group of processes: by pid, or every process of a command name.
#[derive(Debug, Clone)]
pub struct Watch {
    pub label: String,
    pub pids: Vec<u32>,
    pub comm: Option<String>,
}

impl Watch {
    /// `LABEL:PID[,PID...]` or `LABEL:comm=NAME`.
    pub fn parse(s: &str) -> Result<Watch, String> {
        let (label, what) = s
            .split_once(':')
            .ok_or("expected LABEL:PID[,PID] or LABEL:comm=NAME")?;
        if let Some(c) = what.strip_prefix("comm=") {
            return Ok(Watch {
                label: label.into(),
                pids: vec![],
                comm: Some(c.into()),
            });
        }
        let pids = what
            .split(',')
            .map(|p| p.parse::<u32>().map_err(|e| format!("{p}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Watch {
            label: label.into(),
            pids,
            comm: None,
        })
    }

    fn pids(&self) -> Vec<u32> {
        match &self.comm {
            Some(c) => pids_named(c),
            None => self.pids.clone(),
        }
    }

    /// CPU seconds per pid now.
    pub fn sample(&self) -> BTreeMap<u32, f64> {
        self.pids()
            .into_iter()
            .filter_map(|p| Some((p, cpu_secs(p)?)))
            .collect()
    }

    /// Total resident memory now, in MiB.
    pub fn rss(&self) -> f64 {
        self.pids().into_iter().filter_map(rss_mib).sum()
    }
}

/// CPU used between two samples (processes that appeared in between count from zero).
pub fn cpu_delta(before: &BTreeMap<u32, f64>, after: &BTreeMap<u32, f64>) -> f64 {
    after
        .iter()
        .map(|(p, a)| a - before.get(p).copied().unwrap_or(0.0))
        .sum()
}

/// Latency percentiles of one step, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dist {
    pub n: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Dist {
    pub fn of(mut us: Vec<u64>) -> Dist {
        us.sort_unstable();
        let n = us.len();
        let q = |f: f64| -> f64 {
            if n == 0 {
                return 0.0;
            }
            #[allow(
                clippy::cast_possible_truncation,
                reason = "a fraction of n, clamped to 1..=n"
            )]
            let i = ((n as f64 * f).ceil() as usize).clamp(1, n) - 1;
            us[i] as f64 / 1000.0
        };
        Dist {
            n,
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p99_ms: q(0.99),
            max_ms: q(1.0),
            mean_ms: if n == 0 {
                0.0
            } else {
                us.iter().sum::<u64>() as f64 / n as f64 / 1000.0
            },
        }
    }
}

/// CPU and memory of a watched group over the measured window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcReport {
    pub label: String,
    pub cpu_secs: f64,
    pub cpu_ms_per_op: f64,
    pub cpu_util: f64,
    pub rss_mib: f64,
}

/// The result of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub label: String,
    pub target: String,
    pub mode: String,
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub window_secs: f64,
    pub ops: usize,
    pub ops_per_sec: f64,
    pub errors: usize,
    pub error_kinds: BTreeMap<String, usize>,
    pub error_samples: BTreeMap<String, String>,
    /// The whole operation (a login, or one token request).
    pub total: Dist,
    /// Each step, in order.
    pub steps: Vec<(String, Dist)>,
    pub procs: Vec<ProcReport>,
    pub loadgen_cpu_util: f64,
    pub load_average: String,
    pub started_unix: i64,
    /// Key store operations per operation, by kind, from the server's `/metrics` over the
    /// measured window (signing modes).
    #[serde(default)]
    pub key_ops_per_op: BTreeMap<String, f64>,
}

impl Report {
    /// A human-readable summary.
    pub fn print(&self) {
        println!(
            "== {} ({} {}, concurrency {}{}): {} ops in {:.1} s = {:.1}/s, {} errors",
            self.label,
            self.target,
            self.mode,
            self.concurrency,
            self.rate
                .map(|r| format!(", offered {r}/s"))
                .unwrap_or_default(),
            self.ops,
            self.window_secs,
            self.ops_per_sec,
            self.errors
        );
        println!(
            "   {:<12} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "step", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        let mut rows = self.steps.clone();
        rows.push(("TOTAL".into(), self.total.clone()));
        for (name, d) in &rows {
            println!(
                "   {:<12} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                name, d.n, d.p50_ms, d.p90_ms, d.p99_ms, d.max_ms
            );
        }
        for p in &self.procs {
            println!(
                "   cpu {:<10} {:.2} s ({:.0}% of a core), {:.3} ms per op; rss {:.1} MiB",
                p.label,
                p.cpu_secs,
                p.cpu_util * 100.0,
                p.cpu_ms_per_op,
                p.rss_mib
            );
        }
        if !self.key_ops_per_op.is_empty() {
            let ops: Vec<String> = self
                .key_ops_per_op
                .iter()
                .map(|(k, v)| format!("{k} {v:.2}"))
                .collect();
            println!("   key store per op (server /metrics): {}", ops.join(", "));
        }
        println!(
            "   load generator {:.0}% of a core; load average at start {}",
            self.loadgen_cpu_util * 100.0,
            self.load_average
        );
        for (k, n) in &self.error_kinds {
            println!(
                "   error {k}: {n} (e.g. {})",
                self.error_samples.get(k).map(String::as_str).unwrap_or("")
            );
        }
    }
}

/// Markdown tables comparing runs (one JSON report per line in `path`).
pub fn table(path: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let reports: Vec<Report> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    println!("| run | mode | conc. | ops/s | p50 ms | p99 ms | errors | server CPU ms/op | server CPU use | DB CPU ms/op | server RSS MiB | load avg (1 min) at start |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &reports {
        let server: Vec<&ProcReport> = r
            .procs
            .iter()
            .filter(|p| p.label.starts_with("server"))
            .collect();
        let db = r.procs.iter().find(|p| p.label == "db");
        let cpu_op: f64 = server.iter().map(|p| p.cpu_ms_per_op).sum();
        let util: f64 = server.iter().map(|p| p.cpu_util).sum();
        let rss: f64 = server.iter().map(|p| p.rss_mib).sum();
        println!(
            "| {} | {}{} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} |",
            r.label,
            r.mode,
            r.rate.map(|x| format!(" @{x}/s")).unwrap_or_default(),
            r.concurrency,
            r.ops_per_sec,
            r.total.p50_ms,
            r.total.p99_ms,
            r.errors,
            if server.is_empty() {
                "-".into()
            } else {
                format!("{cpu_op:.2}")
            },
            if server.is_empty() {
                "-".into()
            } else {
                format!("{:.0}%", util * 100.0)
            },
            db.map(|d| format!("{:.2}", d.cpu_ms_per_op))
                .unwrap_or_else(|| "-".into()),
            if server.is_empty() {
                "-".into()
            } else {
                format!("{rss:.0}")
            },
            r.load_average.split(' ').next().unwrap_or("")
        );
    }
    crate::exchange::added_table(&reports);
    crate::signing::steps_table(&reports);
    println!();
    let names: Vec<String> = reports
        .iter()
        .filter(|r| r.mode == "login")
        .flat_map(|r| r.steps.iter().map(|s| s.0.clone()))
        .fold(Vec::new(), |mut v, s| {
            if !v.contains(&s) {
                v.push(s);
            }
            v
        });
    if names.is_empty() {
        return Ok(());
    }
    print!("| login step, p50 / p99 ms |");
    for r in reports.iter().filter(|r| r.mode == "login") {
        match r.rate {
            Some(x) => print!(" {} @{x}/s |", r.label),
            None => print!(" {} |", r.label),
        }
    }
    println!();
    print!("|---|");
    for _ in reports.iter().filter(|r| r.mode == "login") {
        print!("---:|");
    }
    println!();
    for n in &names {
        print!("| {n} |");
        for r in reports.iter().filter(|r| r.mode == "login") {
            match r.steps.iter().find(|s| &s.0 == n) {
                Some((_, d)) => print!(" {:.2} / {:.2} |", d.p50_ms, d.p99_ms),
                None => print!(" - |"),
            }
        }
        println!();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let d = Dist::of((1..=100).map(|x| x * 1000).collect());
        assert_eq!(
            (d.n, d.p50_ms, d.p99_ms, d.max_ms),
            (100, 50.0, 99.0, 100.0)
        );
        assert_eq!(Dist::of(vec![]).n, 0);
    }

    #[test]
    fn watches_parse() {
        let w = Watch::parse("server:12,13").unwrap();
        assert_eq!(
            (w.label.as_str(), w.pids.as_slice()),
            ("server", &[12, 13][..])
        );
        let w = Watch::parse("db:comm=postgres").unwrap();
        assert_eq!(w.comm.as_deref(), Some("postgres"));
        assert!(Watch::parse("nolabel").is_err());
        assert!(cpu_secs(std::process::id()).is_some());
    }
}
