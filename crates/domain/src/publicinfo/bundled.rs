//! The samples compiled into the program, for a demo without network (`public_info.source =
//! "bundled"`): real responses of each feed, and where a language was missing, files we built
//! from real content (see `testdata/README.md`). Pages say "sample data" when they show these.
use super::{Feed, FeedLang};

/// The sample of a feed in a language.
pub fn sample(feed: Feed, lang: FeedLang) -> Option<&'static [u8]> {
    use Feed::*;
    use FeedLang::*;
    let s: &'static str = match (feed, lang) {
        (Weather, En) => include_str!("testdata/hko-rhrread-en-2025-06-07-night.json"),
        (Weather, Tc) => include_str!("testdata/hko-rhrread-tc-2023-08-01.json"),
        (LocalForecast, En) => include_str!("testdata/hko-flw-en-2024-03-18-built.json"),
        (LocalForecast, Tc) => include_str!("testdata/hko-flw-tc-2024-03-18.json"),
        (NineDay, En) => include_str!("testdata/hko-fnd-en-2024-03-18-built.json"),
        (NineDay, Tc) => include_str!("testdata/hko-fnd-tc-2024-03-18.json"),
        (Warnings, En) => include_str!("testdata/hko-warnsum-en-2025-09-07-tc8.json"),
        (Warnings, Tc) => include_str!("testdata/hko-warnsum-tc-2025-09-07-tc8-built.json"),
        (WarningDetails, En) => include_str!("testdata/hko-warningInfo-en-2021-10-13-tc8.json"),
        (WarningDetails, Tc) => include_str!("testdata/hko-warningInfo-tc-2020-09-24.json"),
        (Traffic, Both) => include_str!("testdata/td-specialtrafficnews-2017-09-16.xml"),
        (FoodAlerts, En) => include_str!("testdata/cfs-foodalert-en-2026-06-built.rss.xml"),
        (FoodAlerts, Tc) => include_str!("testdata/cfs-foodalert-tc-2026-06-built.rss.xml"),
        (PressReleases, En) => include_str!("testdata/govhk-press-en-2022-04-14-built.rss.xml"),
        (PressReleases, Tc) => include_str!("testdata/govhk-press-tc-2022-04-14-built.rss.xml"),
        _ => return None,
    };
    Some(s.as_bytes())
}
