//! One fetch-parse-store round of one feed in one language, and whether one is due: a round is
//! due when none was started within the feed's interval by the platform's clock, claimed in the
//! database ([`cache::claim_round`]) so that processes sharing it take turns. The server wakes
//! each feed's task a few times per interval and runs [`refresh_if_due`].
use super::cache::{self, Origin};
use super::{bundled, Feed, FeedError, FeedLang, Payload, MAX_BODY_BYTES};
use crate::env::Env;
use crate::error::Result;
use iamsmart_crypto::rng::Rng;
use std::time::Duration;

/// Time limits and retries of one round.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Time limit of one attempt (connect, answer and body).
    pub timeout: Duration,
    /// Attempts per round (at least 1).
    pub attempts: u32,
    /// Back-off before the second attempt; doubled for each one after, with jitter.
    pub backoff_base: Duration,
    /// Longest back-off.
    pub backoff_max: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            attempts: 3,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// Where a feed's data come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// This URL.
    Live(String),
    /// The samples compiled into the program.
    Bundled,
}

/// One feed in one language, and where to get it.
#[derive(Debug, Clone)]
pub struct Job {
    /// The feed.
    pub feed: Feed,
    /// The document's language.
    pub lang: FeedLang,
    /// Where from.
    pub source: Source,
    /// Data fetched longer ago than this are shown as possibly out of date.
    pub stale_after_ms: i64,
}

/// How a round went.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundResult {
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed; `None`: new data were stored.
    pub error: Option<FeedError>,
}

/// The HTTP client for the feeds: no cookies, few redirects, a recognisable user agent.
pub fn http_client() -> std::result::Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(concat!("iamsmart-public-info/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
}

/// The back-off before attempt `attempt + 1` (`attempt` >= 1): `base * 2^(attempt-1)`, at most
/// `max`, then a random point in its upper half (jitter, so that processes that failed together
/// do not retry together).
pub fn backoff(rng: &dyn Rng, policy: &FetchPolicy, attempt: u32) -> Duration {
    let exp = policy
        .backoff_base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let full = u64::try_from(exp.min(policy.backoff_max).as_millis()).unwrap_or(u64::MAX);
    let mut b = [0u8; 8];
    rng.fill(&mut b);
    let half = full / 2;
    let jitter = if half == 0 {
        0
    } else {
        u64::from_le_bytes(b) % (half + 1)
    };
    Duration::from_millis(full - half + jitter)
}

/// GET `url` within `timeout`, refusing bodies over `max` bytes (before and while reading).
pub async fn fetch_body(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    max: usize,
) -> std::result::Result<Vec<u8>, FeedError> {
    let work = async {
        let mut res = client
            .get(url)
            .send()
            .await
            .map_err(|e| FeedError::Network(without_url(&e)))?;
        if res.status() != reqwest::StatusCode::OK {
            return Err(FeedError::Status(res.status().as_u16()));
        }
        if res.content_length().is_some_and(|n| n > max as u64) {
            return Err(FeedError::TooLarge { limit: max });
        }
        let mut body = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| FeedError::Network(without_url(&e)))?
        {
            if body.len() + chunk.len() > max {
                return Err(FeedError::TooLarge { limit: max });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| FeedError::Timeout)?
}

fn without_url(e: &reqwest::Error) -> String {
    let e = e.to_string();
    e.chars().take(200).collect()
}

/// Worth another attempt in the same round: the network, a time-out, a server error, 429.
fn transient(e: &FeedError) -> bool {
    match e {
        FeedError::Network(_) | FeedError::Timeout => true,
        FeedError::Status(s) => *s >= 500 || *s == 429,
        _ => false,
    }
}

async fn attempt(
    client: &reqwest::Client,
    job: &Job,
    policy: &FetchPolicy,
) -> std::result::Result<Payload, FeedError> {
    match &job.source {
        Source::Bundled => match bundled::sample(job.feed, job.lang) {
            Some(b) => job.feed.parse(b),
            None => Err(FeedError::Shape("no bundled sample".into())),
        },
        Source::Live(url) => {
            let body = fetch_body(client, url, policy.timeout, MAX_BODY_BYTES).await?;
            job.feed.parse(&body)
        }
    }
}

/// A round of `job` if one is due (none started within `interval_ms` by the platform's clock, by
/// any process sharing the database); `None` when it is not.
pub async fn refresh_if_due(
    p: &Env,
    client: &reqwest::Client,
    job: &Job,
    interval_ms: i64,
    policy: &FetchPolicy,
) -> Result<Option<RoundResult>> {
    let origin = match job.source {
        Source::Live(_) => Origin::Live,
        Source::Bundled => Origin::Bundled,
    };
    if !cache::claim_round(
        p,
        job.feed,
        job.lang,
        origin,
        interval_ms,
        job.stale_after_ms,
    )
    .await?
    {
        return Ok(None);
    }
    refresh(p, client, job, policy).await.map(Some)
}

/// How often a feed's task wakes to see whether a round is due: four times per interval, at
/// least every second and at most every minute (so a round starts at most a minute late).
pub fn wake_every(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// One round: fetch (retrying transient failures with back-off), parse, store. A failure keeps
/// the last good data and is recorded against the feed. `Err` only when the database fails.
pub async fn refresh(
    p: &Env,
    client: &reqwest::Client,
    job: &Job,
    policy: &FetchPolicy,
) -> Result<RoundResult> {
    let origin = match job.source {
        Source::Live(_) => Origin::Live,
        Source::Bundled => Origin::Bundled,
    };
    let attempts = policy.attempts.max(1);
    let mut n = 0;
    loop {
        n += 1;
        match attempt(client, job, policy).await {
            Ok(payload) => {
                cache::record_success(p, job.feed, job.lang, origin, &payload, job.stale_after_ms)
                    .await?;
                return Ok(RoundResult {
                    attempts: n,
                    error: None,
                });
            }
            Err(e) if n < attempts && transient(&e) => {
                tokio::time::sleep(backoff(p.rng.as_ref(), policy, n)).await;
            }
            Err(e) => {
                tracing::warn!(feed = job.feed.key(), lang = job.lang.key(), attempts = n, error = %e, "public information feed failed; keeping the last good data");
                cache::record_failure(
                    p,
                    job.feed,
                    job.lang,
                    origin,
                    &e.to_string(),
                    job.stale_after_ms,
                )
                .await?;
                return Ok(RoundResult {
                    attempts: n,
                    error: Some(e),
                });
            }
        }
    }
}
