//! Public information without an account: the Hong Kong Observatory's weather, forecasts and
//! warnings, the Transport Department's special traffic news, the Centre for Food Safety's food
//! alerts and the government's press releases.
//!
//! - The parsers (`hko`, `traffic`, `rss`) do no IO: bytes in, normalised bilingual types out,
//!   each with the time its source gives. Bodies over [`MAX_BODY_BYTES`] are refused before
//!   parsing; XML with a DTD is refused (so no entity is ever expanded) and so is XML with more
//!   than [`MAX_XML_NODES`] nodes.
//! - `fetch::refresh` does one round for one feed in one language: fetch (time limit, retries
//!   with exponential back-off and jitter from the platform's `Rng`), parse, store. A failure
//!   keeps the last good data and counts against the feed. The schedule is the server's.
//! - `cache` keeps one row per feed and language in `public_info`; [`load`] reads them for a page
//!   with their staleness, and [`summary`] gives the short form (temperature and warnings) for
//!   other pages.
pub mod bundled;
pub mod cache;
pub mod fetch;
pub mod hko;
pub mod rss;
pub mod time;
pub mod traffic;

#[cfg(test)]
mod tests;

pub use cache::{load, summary, FeedState, Summary};

use serde::{Deserialize, Serialize};

/// Largest body accepted from a feed (the real ones are tens of kilobytes).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Most XML nodes (elements, text, attributes' owners...) accepted in one document.
pub const MAX_XML_NODES: u32 = 200_000;
/// Most items kept of one feed.
pub const MAX_ITEMS: usize = 60;
/// Longest text kept of one field, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Why a feed's response was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// Over [`MAX_BODY_BYTES`].
    #[error("the response is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Not UTF-8.
    #[error("the response is not UTF-8 text")]
    Encoding,
    /// Not JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Not well-formed XML, or XML with a DTD, or too many nodes.
    #[error("invalid XML: {0}")]
    Xml(String),
    /// Well-formed, but not the shape of this feed.
    #[error("unexpected content: {0}")]
    Shape(String),
    /// An HTTP status other than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// No answer in time.
    #[error("no answer within the time limit")]
    Timeout,
    /// Connection or protocol failure.
    #[error("network error: {0}")]
    Network(String),
}

/// A feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feed {
    /// HKO current weather report (`rhrread`).
    Weather,
    /// HKO local weather forecast (`flw`).
    LocalForecast,
    /// HKO 9-day forecast (`fnd`).
    NineDay,
    /// HKO warnings in force (`warnsum`).
    Warnings,
    /// HKO warning details (`warningInfo`).
    WarningDetails,
    /// Transport Department special traffic news (both languages in one document).
    Traffic,
    /// Centre for Food Safety food alerts (RSS).
    FoodAlerts,
    /// Government press releases (RSS).
    PressReleases,
}

impl Feed {
    /// Every feed.
    pub const ALL: [Feed; 8] = [
        Feed::Weather,
        Feed::LocalForecast,
        Feed::NineDay,
        Feed::Warnings,
        Feed::WarningDetails,
        Feed::Traffic,
        Feed::FoodAlerts,
        Feed::PressReleases,
    ];

    /// The name used in the database and the configuration.
    pub fn key(self) -> &'static str {
        match self {
            Feed::Weather => "weather",
            Feed::LocalForecast => "local_forecast",
            Feed::NineDay => "nine_day",
            Feed::Warnings => "warnings",
            Feed::WarningDetails => "warning_details",
            Feed::Traffic => "traffic",
            Feed::FoodAlerts => "food_alerts",
            Feed::PressReleases => "press_releases",
        }
    }

    /// From [`Feed::key`].
    pub fn from_key(s: &str) -> Option<Feed> {
        Feed::ALL.into_iter().find(|f| f.key() == s)
    }

    /// The languages it is fetched in: one document per language, or one with both.
    pub fn langs(self) -> &'static [FeedLang] {
        match self {
            Feed::Traffic => &[FeedLang::Both],
            _ => &[FeedLang::En, FeedLang::Tc],
        }
    }

    /// Parse a response body of this feed.
    pub fn parse(self, body: &[u8]) -> Result<Payload, FeedError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(FeedError::TooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        let text = std::str::from_utf8(body).map_err(|_| FeedError::Encoding)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Ok(match self {
            Feed::Weather => Payload::Weather(hko::parse_current(text)?),
            Feed::LocalForecast => Payload::LocalForecast(hko::parse_local_forecast(text)?),
            Feed::NineDay => Payload::NineDay(hko::parse_nine_day(text)?),
            Feed::Warnings => Payload::Warnings(hko::parse_warnings(text)?),
            Feed::WarningDetails => Payload::WarningDetails(hko::parse_warning_details(text)?),
            Feed::Traffic => Payload::Traffic(traffic::parse(text)?),
            Feed::FoodAlerts | Feed::PressReleases => Payload::Rss(rss::parse(text)?),
        })
    }
}

/// The language of a feed's document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedLang {
    /// English.
    En,
    /// Traditional Chinese.
    Tc,
    /// Both in one document.
    Both,
}

impl FeedLang {
    /// The name used in the database.
    pub fn key(self) -> &'static str {
        match self {
            FeedLang::En => "en",
            FeedLang::Tc => "tc",
            FeedLang::Both => "both",
        }
    }

    /// From [`FeedLang::key`].
    pub fn from_key(s: &str) -> Option<FeedLang> {
        [FeedLang::En, FeedLang::Tc, FeedLang::Both]
            .into_iter()
            .find(|l| l.key() == s)
    }
}

/// The normalised data of one feed in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Payload {
    /// Current weather.
    Weather(hko::CurrentWeather),
    /// Local forecast.
    LocalForecast(hko::LocalForecast),
    /// 9-day forecast.
    NineDay(hko::NineDayForecast),
    /// Warnings in force.
    Warnings(hko::Warnings),
    /// Warning details.
    WarningDetails(hko::WarningDetails),
    /// Special traffic news.
    Traffic(traffic::TrafficNews),
    /// An RSS feed (food alerts, press releases).
    Rss(rss::RssFeed),
}

impl Payload {
    /// The time the source gives its data, if any.
    pub fn time(&self) -> Option<i64> {
        match self {
            Payload::Weather(x) => Some(x.time),
            Payload::LocalForecast(x) => Some(x.time),
            Payload::NineDay(x) => Some(x.time),
            Payload::Warnings(x) => x.time,
            Payload::WarningDetails(x) => x.time,
            Payload::Traffic(x) => x.time,
            Payload::Rss(x) => x.time,
        }
    }
}

/// A string trimmed and cut to [`MAX_TEXT_CHARS`].
pub(crate) fn clip(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > MAX_TEXT_CHARS {
        s.chars().take(MAX_TEXT_CHARS).collect()
    } else {
        s.to_string()
    }
}

/// The latest of some times.
pub(crate) fn latest(times: impl Iterator<Item = Option<i64>>) -> Option<i64> {
    times.flatten().max()
}

/// Parse XML with no DTD (refused, so no entity is declared or expanded) and at most
/// [`MAX_XML_NODES`] nodes.
pub(crate) fn xml_document(text: &str) -> Result<roxmltree::Document<'_>, FeedError> {
    roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: MAX_XML_NODES,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .map_err(|e| FeedError::Xml(e.to_string()))
}
