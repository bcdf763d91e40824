//! The public information feeds: their configuration (`[public_info]`) and their fetchers, one
//! task per feed and language, each on its own schedule. A round is
//! `iamsmart_domain::publicinfo::fetch::refresh` (time limit, retries with back-off, parse, store).
use iamsmart_domain::publicinfo::fetch::{self, FetchPolicy, Job, Source};
use iamsmart_domain::publicinfo::{Feed, FeedLang};
use iamsmart_domain::Platform;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A feed's documents: the language of each and its URL.
type Urls<'a> = Vec<(FeedLang, &'a str)>;

/// A feed published once per language.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BilingualFeed {
    /// The English document.
    pub url_en: String,
    /// The Traditional Chinese document.
    pub url_tc: String,
    /// Seconds between rounds.
    pub interval_secs: u64,
}

/// A feed whose one document carries both languages (the Transport Department's).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SingleFeed {
    /// The document.
    pub url: String,
    /// Seconds between rounds.
    pub interval_secs: u64,
}

fn hko(data_type: &str, interval_secs: u64) -> BilingualFeed {
    let base = "https://data.weather.gov.hk/weatherAPI/opendata/weather.php";
    BilingualFeed {
        url_en: format!("{base}?dataType={data_type}&lang=en"),
        url_tc: format!("{base}?dataType={data_type}&lang=tc"),
        interval_secs,
    }
}

impl Default for BilingualFeed {
    fn default() -> Self {
        hko("rhrread", 600)
    }
}

impl Default for SingleFeed {
    fn default() -> Self {
        Self {
            url: "https://resource.data.one.gov.hk/td/en/specialtrafficnews.xml".into(),
            interval_secs: 300,
        }
    }
}

/// Public information (weather, warnings, traffic, food alerts, press releases).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicInfoConfig {
    /// Run the fetchers (the page shows "not available" for feeds never fetched).
    pub enabled: bool,
    /// `live` (the feeds' URLs) or `bundled` (the samples compiled into the program, for a demo
    /// without network; the page says "sample data"). Unset: `live` for `serve`, `bundled` for
    /// `demo`.
    pub source: Option<String>,
    /// Milliseconds one attempt may take (connect, answer, body).
    pub timeout_ms: u64,
    /// Attempts per round (server errors and time-outs are retried).
    pub attempts: u32,
    /// Back-off before the second attempt, in milliseconds; doubled for each one after, with
    /// jitter.
    pub backoff_base_ms: u64,
    /// Longest back-off, in milliseconds.
    pub backoff_max_ms: u64,
    /// Data not refreshed for this many of their feed's intervals are shown as possibly out of
    /// date (so is data whose last fetch failed).
    pub stale_after_intervals: u32,
    /// HKO current weather report.
    pub weather: BilingualFeed,
    /// HKO local weather forecast.
    pub local_forecast: BilingualFeed,
    /// HKO 9-day forecast.
    pub nine_day: BilingualFeed,
    /// HKO warnings in force.
    pub warnings: BilingualFeed,
    /// HKO warning details.
    pub warning_details: BilingualFeed,
    /// Transport Department special traffic news (both languages in one document).
    pub traffic: SingleFeed,
    /// Centre for Food Safety food alerts (RSS).
    pub food_alerts: BilingualFeed,
    /// Government press releases (RSS).
    pub press_releases: BilingualFeed,
}

impl Default for PublicInfoConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            source: None,
            timeout_ms: 10_000,
            attempts: 3,
            backoff_base_ms: 2_000,
            backoff_max_ms: 60_000,
            stale_after_intervals: 3,
            weather: hko("rhrread", 600),
            local_forecast: hko("flw", 1800),
            nine_day: hko("fnd", 3600),
            warnings: hko("warnsum", 300),
            warning_details: hko("warningInfo", 300),
            traffic: SingleFeed::default(),
            food_alerts: BilingualFeed {
                url_en:
                    "https://www.cfs.gov.hk/filemanager/foodalert/english/foodalert_datagovhk.xml"
                        .into(),
                url_tc:
                    "https://www.cfs.gov.hk/filemanager/foodalert/tc_chi/foodalert_datagovhk.xml"
                        .into(),
                interval_secs: 3600,
            },
            press_releases: BilingualFeed {
                url_en: "https://www.info.gov.hk/gia/rss/general_en.xml".into(),
                url_tc: "https://www.info.gov.hk/gia/rss/general_zh.xml".into(),
                interval_secs: 900,
            },
        }
    }
}

impl PublicInfoConfig {
    /// The source in force for `serve` (`demo` sets `bundled` when unset).
    pub fn bundled(&self) -> bool {
        self.source.as_deref() == Some("bundled")
    }

    /// Each feed with its URLs (per language) and interval.
    fn feeds(&self) -> Vec<(Feed, Urls<'_>, u64)> {
        fn two(f: &BilingualFeed) -> Vec<(FeedLang, &str)> {
            vec![
                (FeedLang::En, f.url_en.as_str()),
                (FeedLang::Tc, f.url_tc.as_str()),
            ]
        }
        vec![
            (
                Feed::Weather,
                two(&self.weather),
                self.weather.interval_secs,
            ),
            (
                Feed::LocalForecast,
                two(&self.local_forecast),
                self.local_forecast.interval_secs,
            ),
            (
                Feed::NineDay,
                two(&self.nine_day),
                self.nine_day.interval_secs,
            ),
            (
                Feed::Warnings,
                two(&self.warnings),
                self.warnings.interval_secs,
            ),
            (
                Feed::WarningDetails,
                two(&self.warning_details),
                self.warning_details.interval_secs,
            ),
            (
                Feed::Traffic,
                vec![(FeedLang::Both, self.traffic.url.as_str())],
                self.traffic.interval_secs,
            ),
            (
                Feed::FoodAlerts,
                two(&self.food_alerts),
                self.food_alerts.interval_secs,
            ),
            (
                Feed::PressReleases,
                two(&self.press_releases),
                self.press_releases.interval_secs,
            ),
        ]
    }

    /// Check what types cannot: the source, URLs, non-zero intervals and limits. Returns the
    /// offending key and what to do.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Some(s) = &self.source {
            if s != "live" && s != "bundled" {
                return Err((
                    "public_info.source".into(),
                    format!("{s:?} is not a source; use \"live\" or \"bundled\""),
                ));
            }
        }
        for (key, v) in [
            ("public_info.timeout_ms", self.timeout_ms),
            ("public_info.attempts", u64::from(self.attempts)),
            ("public_info.backoff_base_ms", self.backoff_base_ms),
            ("public_info.backoff_max_ms", self.backoff_max_ms),
            (
                "public_info.stale_after_intervals",
                u64::from(self.stale_after_intervals),
            ),
        ] {
            if v == 0 {
                return Err((key.into(), "must be at least 1".into()));
            }
        }
        if self.attempts > 10 {
            return Err(("public_info.attempts".into(), "must be at most 10".into()));
        }
        for (feed, urls, interval) in self.feeds() {
            let name = feed.key();
            if interval == 0 {
                return Err((
                    format!("public_info.{name}.interval_secs"),
                    "must be at least 1".into(),
                ));
            }
            for (lang, url) in urls {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    let key = match lang {
                        FeedLang::Both => "url".to_string(),
                        l => format!("url_{}", l.key()),
                    };
                    return Err((
                        format!("public_info.{name}.{key}"),
                        format!("{url:?} must be an http(s) URL"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn policy(&self) -> FetchPolicy {
        FetchPolicy {
            timeout: Duration::from_millis(self.timeout_ms),
            attempts: self.attempts,
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms),
        }
    }
}

/// Start one fetcher per feed and language (none when `public_info.enabled` is false). Each
/// wakes a few times per interval and runs a round when one is due by the platform's clock: at
/// once when the feed was never fetched, else an interval after the last round any process
/// sharing the database started. Dropping the set stops them.
pub fn spawn(cfg: &PublicInfoConfig, platform: Platform) -> tokio::task::JoinSet<()> {
    let mut set = tokio::task::JoinSet::new();
    if !cfg.enabled {
        tracing::info!("public information feeds are off (public_info.enabled = false)");
        return set;
    }
    let client = match fetch::http_client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for the public information feeds");
            return set;
        }
    };
    let bundled = cfg.bundled();
    let policy = cfg.policy();
    for (feed, urls, interval_secs) in cfg.feeds() {
        let interval = Duration::from_secs(interval_secs);
        let stale_after_ms = interval_secs as i64 * 1000 * i64::from(cfg.stale_after_intervals);
        for (lang, url) in urls {
            let job = Job {
                feed,
                lang,
                source: if bundled {
                    Source::Bundled
                } else {
                    Source::Live(url.to_string())
                },
                stale_after_ms,
            };
            let (p, client, policy) = (platform.clone(), client.clone(), policy.clone());
            set.spawn(async move {
                let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
                let mut tick = tokio::time::interval(fetch::wake_every(interval));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Err(e) =
                        fetch::refresh_if_due(&p, &client, &job, interval_ms, &policy).await
                    {
                        tracing::warn!(feed = job.feed.key(), error = %e, "could not store public information");
                    }
                }
            });
        }
    }
    tracing::info!(
        source = if bundled { "bundled" } else { "live" },
        "public information feeds started"
    );
    set
}
