//! The `public_info` table: the last good data of each feed in each language and how its
//! fetches went. One query set for SQLite and PostgreSQL.
use super::{Feed, FeedLang, Payload};
use crate::env::Env;
use crate::error::Result;
use sqlx::Row;

/// Where stored data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The feed on the network.
    Live,
    /// The samples compiled into the program (a demo without network).
    Bundled,
}

impl Origin {
    fn key(self) -> &'static str {
        match self {
            Origin::Live => "live",
            Origin::Bundled => "bundled",
        }
    }
}

/// Claim a feed's next round, by the platform's clock: `true` when no round of this feed in
/// this language was started within `interval_ms` (or ever), and then the attempt time is set
/// to now, in the same statement, so that of the processes sharing the database exactly one
/// fetches the feed in each interval, and a restarted process does not fetch again data another
/// fetched a moment ago.
pub async fn claim_round(
    p: &Env,
    feed: Feed,
    lang: FeedLang,
    origin: Origin,
    interval_ms: i64,
    stale_after_ms: i64,
) -> Result<bool> {
    let now = p.clock.now_ms();
    let first = sqlx::query(
        "INSERT INTO public_info (feed, lang, data, data_time, source, fetched_at, stale_after_ms, last_attempt_at, last_error, failures)
         VALUES ($1, $2, NULL, NULL, $3, NULL, $4, $5, NULL, 0)
         ON CONFLICT (feed, lang) DO NOTHING",
    )
    .bind(feed.key())
    .bind(lang.key())
    .bind(origin.key())
    .bind(stale_after_ms)
    .bind(now)
    .execute(p.db.writer())
    .await?;
    if first.rows_affected() == 1 {
        return Ok(true);
    }
    let later = sqlx::query(
        "UPDATE public_info SET last_attempt_at = $3
         WHERE feed = $1 AND lang = $2 AND last_attempt_at <= $4",
    )
    .bind(feed.key())
    .bind(lang.key())
    .bind(now)
    .bind(now.saturating_sub(interval_ms))
    .execute(p.db.writer())
    .await?;
    Ok(later.rows_affected() == 1)
}

/// Store a good response: it replaces the data and clears the failures.
pub async fn record_success(
    p: &Env,
    feed: Feed,
    lang: FeedLang,
    origin: Origin,
    payload: &Payload,
    stale_after_ms: i64,
) -> Result<()> {
    let now = p.clock.now_ms();
    let json = serde_json::to_string(payload)?;
    sqlx::query(
        "INSERT INTO public_info (feed, lang, data, data_time, source, fetched_at, stale_after_ms, last_attempt_at, last_error, failures)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $6, NULL, 0)
         ON CONFLICT (feed, lang) DO UPDATE SET data = excluded.data, data_time = excluded.data_time,
           source = excluded.source, fetched_at = excluded.fetched_at, stale_after_ms = excluded.stale_after_ms,
           last_attempt_at = excluded.last_attempt_at, last_error = NULL, failures = 0",
    )
    .bind(feed.key())
    .bind(lang.key())
    .bind(json)
    .bind(payload.time())
    .bind(origin.key())
    .bind(now)
    .bind(stale_after_ms)
    .execute(p.db.writer())
    .await?;
    Ok(())
}

/// Record a failed attempt: the last good data stays, the failure is counted.
pub async fn record_failure(
    p: &Env,
    feed: Feed,
    lang: FeedLang,
    origin: Origin,
    error: &str,
    stale_after_ms: i64,
) -> Result<()> {
    let error: String = error.chars().take(300).collect();
    sqlx::query(
        "INSERT INTO public_info (feed, lang, data, data_time, source, fetched_at, stale_after_ms, last_attempt_at, last_error, failures)
         VALUES ($1, $2, NULL, NULL, $3, NULL, $4, $5, $6, 1)
         ON CONFLICT (feed, lang) DO UPDATE SET stale_after_ms = excluded.stale_after_ms,
           last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error,
           failures = public_info.failures + 1",
    )
    .bind(feed.key())
    .bind(lang.key())
    .bind(origin.key())
    .bind(stale_after_ms)
    .bind(p.clock.now_ms())
    .bind(error)
    .execute(p.db.writer())
    .await?;
    Ok(())
}

/// What a page knows of one feed in one language.
#[derive(Debug, Clone)]
pub struct FeedState {
    /// The feed.
    pub feed: Feed,
    /// The document's language.
    pub lang: FeedLang,
    /// The last good data, if any.
    pub payload: Option<Payload>,
    /// The time the source gives its data.
    pub data_time: Option<i64>,
    /// When the last good data was fetched.
    pub fetched_at: Option<i64>,
    /// When the last attempt was made.
    pub last_attempt_at: i64,
    /// Why the last attempt failed (for operators; pages do not show it).
    pub last_error: Option<String>,
    /// Consecutive failed attempts.
    pub failures: i64,
    /// The data are the bundled samples, not the live feed.
    pub bundled: bool,
    /// The data may be out of date: the last attempt failed, or they were fetched longer ago than
    /// the feed's staleness limit (its interval times `public_info.stale_after_intervals`).
    pub stale: bool,
}

impl FeedState {
    /// The time to show with the data: the source's, else when it was fetched.
    pub fn shown_time(&self) -> Option<i64> {
        self.data_time.or(self.fetched_at)
    }
}

/// The state of every feed that has been tried, in `lang` (and the feeds that carry both
/// languages), ordered as [`Feed::ALL`]. Feeds never tried are absent.
pub async fn load(p: &Env, lang: FeedLang) -> Result<Vec<FeedState>> {
    let now = p.clock.now_ms();
    let rows = sqlx::query(
        "SELECT feed, lang, data, data_time, source, fetched_at, stale_after_ms, last_attempt_at, last_error, failures
         FROM public_info WHERE lang = $1 OR lang = 'both'",
    )
    .bind(lang.key())
    .fetch_all(p.db.reader())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let (Some(feed), Some(lang)) = (
            Feed::from_key(&r.try_get::<String, _>("feed")?),
            FeedLang::from_key(&r.try_get::<String, _>("lang")?),
        ) else {
            continue;
        };
        let data: Option<String> = r.try_get("data")?;
        let payload = data.and_then(|d| match serde_json::from_str::<Payload>(&d) {
            Ok(x) => Some(x),
            Err(e) => {
                tracing::warn!(feed = feed.key(), error = %e, "stored public information does not read back; ignored");
                None
            }
        });
        let fetched_at: Option<i64> = r.try_get("fetched_at")?;
        let failures: i64 = r.try_get("failures")?;
        let stale_after_ms: i64 = r.try_get("stale_after_ms")?;
        let stale = payload.is_some()
            && (failures > 0 || fetched_at.is_none_or(|f| now.saturating_sub(f) > stale_after_ms));
        out.push(FeedState {
            feed,
            lang,
            payload,
            data_time: r.try_get("data_time")?,
            fetched_at,
            last_attempt_at: r.try_get("last_attempt_at")?,
            last_error: r.try_get("last_error")?,
            failures,
            bundled: r.try_get::<String, _>("source")? == "bundled",
            stale,
        });
    }
    out.sort_by_key(|s| Feed::ALL.iter().position(|f| *f == s.feed));
    Ok(out)
}

/// The short form of the public information, for pages that show it in a corner (the portal's
/// home page): the temperature now and the warnings in force, with their time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Temperature at the Observatory (°C), if known.
    pub temperature_c: Option<f64>,
    /// The first weather icon code (see [`super::hko::icon_name`]).
    pub icon: Option<u32>,
    /// The warnings in force, as "name: type" in the language asked for.
    pub warnings: Vec<String>,
    /// The time of the weather report.
    pub time: Option<i64>,
    /// The weather or the warnings may be out of date.
    pub stale: bool,
    /// They are the bundled samples, not the live feeds.
    pub bundled: bool,
}

/// The temperature now and the warnings in force, in `lang` (`En` or `Tc`), from the stored
/// data: never a network call. `Summary::default()` (all empty) when nothing is known yet.
pub async fn summary(p: &Env, lang: FeedLang) -> Result<Summary> {
    let states = load(p, lang).await?;
    let mut s = Summary::default();
    for st in &states {
        match &st.payload {
            Some(Payload::Weather(w)) => {
                s.temperature_c = w.temperature.as_ref().map(|t| t.value);
                s.icon = w.icons.first().copied();
                s.time = Some(w.time);
            }
            Some(Payload::Warnings(w)) => {
                s.warnings = w
                    .items
                    .iter()
                    .map(|x| {
                        if x.kind.is_empty() {
                            x.name.clone()
                        } else {
                            // A Chinese name takes the full-width colon.
                            let chinese = x
                                .name
                                .chars()
                                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
                            let colon = if chinese { "：" } else { ": " };
                            format!("{}{colon}{}", x.name, x.kind)
                        }
                    })
                    .collect();
            }
            _ => continue,
        }
        s.stale |= st.stale;
        s.bundled |= st.bundled;
    }
    Ok(s)
}
