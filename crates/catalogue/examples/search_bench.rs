//! Search latency over the bundled catalogue: the 30 everyday questions and hostile queries,
//! many rounds, one thread. Reports p50/p90/p99/max per kind of query and queries per second.
//!
//! ```text
//! cargo build --release -p iamsmart-catalogue --example search_bench
//! taskset -c 1 target/release/examples/search_bench [rounds]
//! ```

use std::time::{Duration, Instant};

use iamsmart_catalogue::{Catalogue, Index, Lang};

const QUESTIONS: &str = include_str!("../tests/questions.tsv");

fn questions() -> Vec<(String, Option<Lang>)> {
    QUESTIONS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .filter_map(|line| {
            let mut cells = line.split('\t');
            let question = cells.next()?;
            let lang = match cells.next()? {
                "zh" => Lang::Zh,
                _ => Lang::En,
            };
            Some((question.to_string(), Some(lang)))
        })
        .collect()
}

fn hostile() -> Vec<(String, Option<Lang>)> {
    let mut queries = vec![
        String::new(),
        "+ - && || ! ( ) { } [ ] ^ \" ~ * ? : \\ /".to_string(),
        "name:公屋 AND -tax~2 (public housing)^5".to_string(),
        "public housing ".repeat(700),
        "公屋身份證強積金".repeat(1_300),
        "apply 公屋 please 😀🏠 \u{0}\u{202e}ＩＤ card".to_string(),
        "pasport libary hosiptal goverment licnece aplication".to_string(),
        "xyzzy qwertyuiop asdfghjkl zxcvbnm".to_string(),
    ];
    // 200 characters of varied Chinese: the most concepts a query can have.
    let mixed: String = "申請續領身份證護照公屋居屋強積金稅務駕駛執照考試醫療紀錄學生資助幼稚園"
        .chars()
        .cycle()
        .take(200)
        .collect();
    queries.push(mixed);
    queries.push(
        (0..10_000u32)
            .filter_map(|i| char::from_u32(0x4e00 + (i * 7919) % 0x5000))
            .collect(),
    );
    queries.into_iter().map(|q| (q, None)).collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "an index within the slice for p in 0..=1, clamped below"
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(kind: &str, mut times: Vec<Duration>) {
    times.sort();
    let total: Duration = times.iter().sum();
    println!(
        "| {kind} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} |",
        times.len(),
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.90).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        times.len() as f64 / total.as_secs_f64(),
    );
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);

    let started = Instant::now();
    let catalogue = Catalogue::bundled().expect("bundled catalogue");
    let loaded = started.elapsed();
    let started = Instant::now();
    let index = Index::build(&catalogue).expect("index");
    let first_build = started.elapsed();
    let started = Instant::now();
    let _again = Index::build(&catalogue).expect("index");
    let rebuild = started.elapsed();
    println!(
        "catalogue: {} services; load {:.1} ms; first index build {:.1} ms (includes loading jieba's dictionary); rebuild {:.1} ms",
        catalogue.len(),
        loaded.as_secs_f64() * 1e3,
        first_build.as_secs_f64() * 1e3,
        rebuild.as_secs_f64() * 1e3,
    );

    let kinds = [
        ("30 everyday questions", questions()),
        ("hostile and typo queries", hostile()),
    ];
    for (_, queries) in &kinds {
        for (q, lang) in queries {
            index.search(q, *lang, 10).expect("search");
        }
    }
    let mut all = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    println!("\n| queries | searches | p50 ms | p90 ms | p99 ms | max ms | queries/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (kind, queries) in &kinds {
        let mut times = Vec::with_capacity(rounds * queries.len());
        for _ in 0..rounds {
            for (q, lang) in queries {
                let t = Instant::now();
                let results = index.search(q, *lang, 10).expect("search");
                let elapsed = t.elapsed();
                std::hint::black_box(results);
                if elapsed > slowest.0 {
                    slowest = (elapsed, q.chars().take(40).collect());
                }
                times.push(elapsed);
            }
        }
        all.extend_from_slice(&times);
        report(kind, times);
    }
    report("all", all);

    // Each hostile query alone, to see which kind of input costs most.
    println!("\n| hostile query (first 30 characters) | chars | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|");
    for (q, lang) in &kinds[1].1 {
        let mut times: Vec<Duration> = (0..rounds)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(index.search(q, *lang, 10).expect("search"));
                t.elapsed()
            })
            .collect();
        times.sort();
        let shown: String = q
            .chars()
            .take(30)
            .map(|c| if c.is_control() || c == '|' { ' ' } else { c })
            .collect();
        println!(
            "| `{}` | {} | {:.3} | {:.3} |",
            shown.trim(),
            q.chars().count(),
            percentile(&times, 0.50).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
        );
    }
    println!(
        "\nslowest single search: {:.3} ms ({:?}...)",
        slowest.0.as_secs_f64() * 1e3,
        slowest.1
    );
}
