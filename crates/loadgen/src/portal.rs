//! The portal's search page under load: `GET /services?q=...` over the 30 everyday questions of
//! the catalogue's test table (half in Chinese), each answer checked to list the expected
//! service in its top 3, as a resident's browser would ask (no account). Measures the whole
//! HTTP round trip: routing, the search, rendering the page.
use crate::drive::{self, Shape, Window};
use crate::rp::{self, StepError, StepResult};
use crate::stats::Report;
use crate::RunArgs;
use anyhow::{anyhow, Result};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// (question, the id of the service that answers it).
fn questions() -> Vec<(String, String)> {
    include_str!("../../catalogue/tests/questions.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("question\t"))
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?.to_string(), f.nth(1)?.to_string()))
        })
        .collect()
}

struct Bench {
    http: reqwest::Client,
    base: String,
    questions: Vec<(String, String)>,
}

impl Bench {
    async fn search(&self, n: u64) -> StepResult<Vec<u64>> {
        let (q, expected) =
            &self.questions[usize::try_from(n % self.questions.len() as u64).unwrap_or(0)];
        let url = format!(
            "{}/services?q={}",
            self.base,
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let r = self.http.get(url).send().await.map_err(StepError::net)?;
        if !r.status().is_success() {
            return Err(rp::refused(r).await);
        }
        let html = r.text().await.map_err(StepError::net)?;
        let top: Vec<&str> = html
            .split("<h3><a href=\"/services/")
            .skip(1)
            .take(3)
            .filter_map(|s| s.split('"').next())
            .collect();
        if !top.contains(&expected.as_str()) {
            return Err(StepError::new("wrong answer", format!("{q}: {top:?}")));
        }
        Ok(vec![])
    }
}

/// Check one search, warm up, measure, report.
pub async fn run(a: RunArgs) -> Result<Report> {
    let started = drive::start(&a)?;
    let bench = Arc::new(Bench {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(a.concurrency)
            .build()?,
        base: a.url.trim_end_matches('/').to_string(),
        questions: questions(),
    });
    if bench.questions.len() < 30 {
        return Err(anyhow!(
            "the question table has {} rows",
            bench.questions.len()
        ));
    }
    let op = Arc::new(move |_worker: usize, n: u64| {
        let b = bench.clone();
        async move { b.search(n).await }
    });
    // Every question once before the clock starts: a wrong answer fails here.
    for n in 0..30 {
        op(0, n)
            .await
            .map_err(|e| anyhow!("search {n}: {} {}", e.kind, e.detail))?;
    }
    let w = Window::starting_now(a.warmup, a.duration);
    let shape = Shape {
        target: "iamsmart",
        steps: &[],
        service_step: Some("search"),
        metrics_url: None,
    };
    let exhausted = Arc::new(AtomicBool::new(false));
    drive::measure(&a, started, w, shape, |w| {
        drive::drive(a.concurrency, a.rate, w, u64::MAX, exhausted, op)
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_question_table_has_thirty_rows_half_in_chinese() {
        let q = super::questions();
        assert_eq!(q.len(), 30);
        let zh = q
            .iter()
            .filter(|(q, _)| q.chars().any(|c| c > '\u{2e80}'))
            .count();
        assert!(zh >= 15, "{zh}");
    }
}
