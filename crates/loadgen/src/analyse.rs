//! Reading a profile: CPU samples grouped by what they are spent on (from `perf report`
//! output), and SQL statements per request (from the server's log with `sqlx=debug`).
use anyhow::Result;
use std::collections::BTreeMap;

/// Categories of code, first match wins (patterns are substrings of the symbol or its
/// object, lower-cased; a pattern starting with `k:` only matches kernel symbols).
const CATEGORIES: &[(&str, &[&str])] = &[
    // Only in listings sorted by dso too (`--sort dso,sym`): the PKCS#11 module and the
    // OpenSSL it signs with.
    (
        "SoftHSM token (libsofthsm2) and its OpenSSL (libcrypto)",
        &["libsofthsm2", "libcrypto.so"],
    ),
    ("QR code and its SVG (login page)", &["qrcode"]),
    (
        "SQLite engine",
        &[
            "sqlite3",
            "pcache1",
            "walchecksum",
            "walindex",
            "btree",
            "vdbe",
            "unixsync",
            "unixwrite",
            "unixread",
            "pager",
        ],
    ),
    (
        "sqlx (Any driver, pools, channels to connection threads)",
        &["sqlx", "flume", "anyrow", "anyarguments", "anyvalue"],
    ),
    (
        "ECDSA P-256, SHA-2, AES-GCM (aws-lc)",
        &[
            "ecp_nistz256",
            "aws_lc",
            "beeu",
            "bn_",
            "sha256",
            "sha512",
            "aes_hw",
            "gcm_",
            "ecdsa",
            "p256",
            "ec_point",
            "hmac",
        ],
    ),
    ("JSON (serde_json)", &["serde"]),
    ("HTML templates (askama)", &["askama"]),
    ("logging (tracing)", &["tracing"]),
    (
        "HTTP (hyper, axum, tower)",
        &["hyper", "axum", "tower", "http::", "httparse"],
    ),
    ("async runtime (tokio)", &["tokio", "futures", "mio::"]),
    (
        "kernel: storage (fsync, ext4, journal, page cache, file locks)",
        &[
            "k:ext4",
            "k:jbd2",
            "k:blk",
            "k:bio_",
            "k:fsync",
            "k:iowrite",
            "k:virtio",
            "k:filemap",
            "k:folio",
            "k:xas_",
            "k:writeback",
            "k:iomap",
            "k:mpage",
            "k:generic_perform_write",
            "k:vfs_write",
            "k:vfs_read",
            "k:fdatasync",
            "k:posix_lock",
            "k:locks_",
            "k:fcntl",
            "k:lruvec",
            "k:pread",
            "k:pwrite",
            "k:dd_",
            "k:dispatch_request",
            "k:brelse",
        ],
    ),
    (
        "kernel: network (TCP over loopback, epoll)",
        &[
            "k:tcp",
            "k:inet",
            "k:sock",
            "k:skb",
            "k:ip_",
            "k:net_",
            "k:dev_queue",
            "k:loopback",
            "k:netif",
            "k:napi",
            "k:copy_to_iter",
            "k:copy_from_iter",
            "k:epoll",
            "k:ep_",
            "k:sendto",
            "k:recv",
        ],
    ),
    (
        "kernel: threads (futex, scheduler, wake-ups, syscall entry)",
        &[
            "k:finish_task_switch",
            "k:_raw_spin_unlock",
            "k:schedule",
            "k:futex",
            "k:try_to_wake",
            "k:enqueue",
            "k:dequeue",
            "k:pick_next",
            "k:update_curr",
            "k:select_task",
            "k:ttwu",
            "k:psi_",
            "k:switch",
            "k:sched",
            "k:irqentry",
            "k:exit_to_user",
            "k:rseq",
            "k:get_user",
            "k:syscall",
            "k:do_syscall",
        ],
    ),
    ("kernel: other", &["k:"]),
    (
        "allocator, copies, drops and clones",
        &[
            "malloc",
            "free",
            "_int_",
            "memmove",
            "memcpy",
            "memset",
            "memcmp",
            "realloc",
            "unlink_chunk",
            "calloc",
            "__rdl_",
            "__rust_alloc",
            "__rust_dealloc",
            "drop_in_place",
            "::clone",
        ],
    ),
    (
        "libc and std (mutexes, formatting, syscall stubs)",
        &[
            "pthread", "libc", "std::", "core::", "alloc::", "syscall", "lll_",
        ],
    ),
    ("the platform's own code", &["iamsmart"]),
];

fn category(line: &str) -> &'static str {
    let kernel = line.contains("[k]");
    let l = line.to_ascii_lowercase();
    for (name, pats) in CATEGORIES {
        for p in *pats {
            let hit = match p.strip_prefix("k:") {
                Some(k) => kernel && l.contains(k),
                None => l.contains(p),
            };
            if hit {
                return name;
            }
        }
    }
    "other"
}

/// Group the lines of `perf report --no-children --sort sym` (`PCT% ... symbol`) by category.
pub fn perf_categories(path: &std::path::Path) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut by: BTreeMap<&str, f64> = BTreeMap::new();
    let mut total = 0.0;
    for line in text.lines() {
        let t = line.trim_start();
        let Some((pct, rest)) = t.split_once('%') else {
            continue;
        };
        let Ok(p) = pct.parse::<f64>() else { continue };
        total += p;
        *by.entry(category(rest)).or_default() += p;
    }
    let mut rows: Vec<_> = by.into_iter().collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("| share of the server's CPU samples | spent on |");
    println!("|---:|---|");
    for (name, p) in rows {
        println!("| {:.1}% | {name} |", 100.0 * p / total.max(1e-9));
    }
    Ok(())
}

/// SQL statements per request, from a log with `sqlx=debug` (JSON lines): statements are
/// attributed to the next access-log line (exact when requests do not overlap: concurrency 1).
pub fn sql_per_request(path: &std::path::Path) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut pending: Vec<String> = Vec::new();
    // path -> (requests, statements by verb)
    let mut by: BTreeMap<String, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["target"] == "sqlx::query" {
            let verb = v["db.statement"]
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .next()
                .unwrap_or("?")
                .to_ascii_uppercase();
            pending.push(verb);
        } else if v["message"] == "request" {
            let p = v["path"].as_str().unwrap_or_default();
            let key = if let Some(rest) = p.strip_prefix("/app/v1/requests/") {
                if rest.ends_with("/decision") {
                    "/app/v1/requests/{id}/decision".to_string()
                } else {
                    "/app/v1/requests/{id}".to_string()
                }
            } else {
                p.to_string()
            };
            let e = by.entry(key).or_default();
            e.0 += 1;
            for verb in pending.drain(..) {
                *e.1.entry(verb).or_default() += 1;
            }
        }
    }
    println!("| request | n | statements per request | of which INSERT / UPDATE / DELETE |");
    println!("|---|---:|---:|---:|");
    for (p, (n, verbs)) in &by {
        let all: usize = verbs.values().sum();
        let writes: usize = ["INSERT", "UPDATE", "DELETE"]
            .iter()
            .map(|v| verbs.get(*v).copied().unwrap_or(0))
            .sum();
        println!(
            "| {p} | {n} | {:.1} | {:.1} |",
            all as f64 / *n as f64,
            writes as f64 / *n as f64
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::category;

    #[test]
    fn symbols_fall_into_their_category() {
        assert_eq!(
            category("  3.10%  libsofthsm2.so  [.] SoftHSM::C_Sign"),
            "SoftHSM token (libsofthsm2) and its OpenSSL (libcrypto)"
        );
        assert_eq!(
            category("  2.00%  libcrypto.so.3  [.] ecp_nistz256_point_double"),
            "SoftHSM token (libsofthsm2) and its OpenSSL (libcrypto)"
        );
        assert_eq!(
            category("  2.00%  iamsmart  [.] aws_lc_0_30_ecp_nistz256_point_double"),
            "ECDSA P-256, SHA-2, AES-GCM (aws-lc)"
        );
        assert_eq!(
            category("  1.00%  libc.so.6  [.] malloc"),
            "allocator, copies, drops and clones"
        );
        assert_eq!(
            category("  1.00%  [k] tcp_sendmsg"),
            "kernel: network (TCP over loopback, epoll)"
        );
    }
}
