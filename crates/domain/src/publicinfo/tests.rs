//! The parsers over every sample in `testdata/` (real ones and ones built from real content),
//! their quirks, hostile inputs, and the cache and fetch rounds on the test database with a
//! local HTTP server on 127.0.0.1.
use super::fetch::{self, FetchPolicy, Job, Source};
use super::time::parse_iso;
use super::*;
use crate::testing::platform;
use iamsmart_proto::time::hk_date_time;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

macro_rules! data {
    ($f:literal) => {
        include_str!(concat!("testdata/", $f))
    };
}

fn at(s: &str) -> i64 {
    parse_iso(s).unwrap()
}

// ---- HKO ----

#[test]
fn current_weather_in_english_with_uv_by_day() {
    let w = hko::parse_current(data!("hko-rhrread-en-2019-12-11.json")).unwrap();
    assert_eq!(w.time, at("2019-12-11T11:02:00+08:00"));
    let t = w.temperature.unwrap();
    assert_eq!(t.place, "Hong Kong Observatory");
    assert!(w.uv_index.is_some(), "UV is an object by day");
    assert_eq!(w.icons, vec![50]);
    assert_eq!(
        w.warning_messages,
        vec!["The Fire Danger Warning is Red and the fire risk is extreme.".to_string()]
    );
}

#[test]
fn current_weather_at_night_has_uvindex_as_an_empty_string() {
    let body = data!("hko-rhrread-en-2025-06-07-night.json");
    assert!(
        body.contains("\"uvindex\": \"\""),
        "the quirk is in the sample"
    );
    let w = hko::parse_current(body).unwrap();
    assert_eq!(w.uv_index, None);
    assert_eq!(w.time, at("2025-06-07T22:02:00+08:00"));
    assert_eq!(w.temperature.unwrap().value, 29.0);
    assert_eq!(w.humidity.unwrap().value, 79.0);
    assert_eq!(w.icons, vec![72]);
    assert!(w.warning_messages[0].starts_with("The Very Hot weather Warning"));
}

#[test]
fn current_weather_in_chinese_with_lightning() {
    let w = hko::parse_current(data!("hko-rhrread-tc-2023-08-01.json")).unwrap();
    assert_eq!(w.time, at("2023-08-01T12:02:00+08:00"));
    let t = w.temperature.unwrap();
    assert_eq!((t.place.as_str(), t.value), ("香港天文台", 30.0));
    let uv = w.uv_index.unwrap();
    assert_eq!((uv.value, uv.desc.as_str()), (7.0, "高"));
    assert_eq!(w.lightning, vec!["大嶼山", "新界西", "港島及九龍"]);
    assert_eq!(w.humidity.unwrap().value, 78.0);
}

#[test]
fn local_forecasts() {
    let f = hko::parse_local_forecast(data!("hko-flw-tc-2021-09-14.json")).unwrap();
    assert_eq!(f.time, at("2021-09-14T12:45:00+08:00"));
    assert!(f.tc_info.contains("燦都"));
    assert!(f.description.starts_with("大致多雲"));
    let f = hko::parse_local_forecast(data!("hko-flw-tc-2024-03-18.json")).unwrap();
    assert_eq!(f.tc_info, "");
    assert_eq!(f.period, "本港地區今晚及明日天氣預測");
    let e = hko::parse_local_forecast(data!("hko-flw-en-2024-03-18-built.json")).unwrap();
    assert_eq!(e.time, f.time);
}

#[test]
fn nine_day_forecasts_read_forecast_icon_with_a_capital_f() {
    for (body, first, icon) in [
        (data!("hko-fnd-tc-2021-09-14.json"), "2021-09-15", 54),
        (data!("hko-fnd-tc-2024-03-18.json"), "2024-03-19", 92),
        (data!("hko-fnd-en-2024-03-18-built.json"), "2024-03-19", 92),
    ] {
        assert!(body.contains("\"ForecastIcon\""));
        let n = hko::parse_nine_day(body).unwrap();
        assert_eq!(n.days.len(), 9);
        assert_eq!(n.days[0].date, first);
        assert_eq!(n.days[0].icon, Some(icon));
        assert!(n.days.iter().all(|d| d.icon.is_some() && d.max_c.is_some()));
    }
    let n = hko::parse_nine_day(data!("hko-fnd-tc-2024-03-18.json")).unwrap();
    assert_eq!(n.time, at("2024-03-18T16:30:00+08:00"));
    let d = &n.days[0];
    assert_eq!(
        (d.min_c, d.max_c, d.min_rh, d.max_rh),
        (Some(17.0), Some(20.0), Some(65.0), Some(95.0))
    );
    assert_eq!((d.weekday.as_str(), d.psr.as_str()), ("星期二", "低"));
    // The regular spelling is read too.
    let lower = data!("hko-fnd-tc-2024-03-18.json").replace("ForecastIcon", "forecastIcon");
    assert_eq!(hko::parse_nine_day(&lower).unwrap().days[0].icon, Some(92));
}

#[test]
fn warning_summaries() {
    let w = hko::parse_warnings(data!("hko-warnsum-en-2025-09-07-tc8.json")).unwrap();
    assert_eq!(w.items.len(), 2);
    let tc = w.items.iter().find(|x| x.statement == "WTCSGNL").unwrap();
    assert_eq!(tc.code, "TC8SE");
    assert_eq!(tc.kind, "No. 8 Southeast Gale or Storm Signal");
    assert_eq!(w.time, Some(at("2025-09-07T22:30:00+08:00")));
    let w = hko::parse_warnings(data!("hko-warnsum-tc-2020-09-24.json")).unwrap();
    assert_eq!(w.items.len(), 4);
    assert!(w
        .items
        .iter()
        .any(|x| x.name == "暴雨警告信號" && x.kind == "紅色"));
    let w = hko::parse_warnings(data!("hko-warnsum-tc-2025-09-07-tc8-built.json")).unwrap();
    assert_eq!(w.items.len(), 2);
    // `{}`: no warning in force.
    let none = hko::parse_warnings("{}").unwrap();
    assert!(none.items.is_empty() && none.time.is_none());
    // Cancelled warnings are not in force.
    let cancelled = r#"{"WHOT":{"name":"Very Hot Weather Warning","code":"WHOT","actionCode":"CANCEL","issueTime":"2025-06-07T06:45:00+08:00","updateTime":"2025-06-07T18:45:00+08:00"}}"#;
    assert!(hko::parse_warnings(cancelled).unwrap().items.is_empty());
}

#[test]
fn warning_details_wrapped_bare_or_empty() {
    let d = hko::parse_warning_details(data!("hko-warningInfo-en-2021-10-13-tc8.json")).unwrap();
    assert_eq!(d.items.len(), 3);
    let tc = d.items.iter().find(|x| x.statement == "WTCSGNL").unwrap();
    assert_eq!(tc.subtype, "TC8NE");
    assert!(tc
        .contents
        .iter()
        .any(|c| c.contains("No. 8 Northeast Gale")));
    let d = hko::parse_warning_details(data!("hko-warningInfo-tc-2020-09-24.json")).unwrap();
    assert_eq!(d.items.len(), 4);
    assert_eq!(d.time, Some(at("2020-09-24T11:15:00+08:00")));
    // The source of the 2021 sample kept only the array.
    let v: serde_json::Value =
        serde_json::from_str(data!("hko-warningInfo-en-2021-10-13-tc8.json")).unwrap();
    let bare = serde_json::to_string(&v["details"]).unwrap();
    assert_eq!(hko::parse_warning_details(&bare).unwrap().items.len(), 3);
    assert!(hko::parse_warning_details("{}").unwrap().items.is_empty());
}

#[test]
fn icons_have_words_in_both_languages() {
    assert_eq!(hko::icon_name(50), Some(("Sunny", "陽光充沛")));
    assert_eq!(hko::icon_name(72).map(|x| x.0), Some("Fine"));
    assert_eq!(hko::icon_name(92).map(|x| x.1), Some("涼"));
    assert_eq!(hko::icon_name(999), None);
}

// ---- Transport Department ----

#[test]
fn traffic_news_in_both_languages_with_the_chinese_am_pm_marker() {
    let body = data!("td-specialtrafficnews-2017-09-16.xml");
    assert!(body.contains("<ReferenceDate> 2017/9/16 上午 07:20:43</ReferenceDate>"));
    let n = traffic::parse(body).unwrap();
    assert_eq!(n.items.len(), 4);
    let want = at("2017-09-16T07:20:43+08:00");
    assert_eq!(n.time, Some(want));
    assert_eq!(hk_date_time(want), "2017-09-16 07:20");
    let m = n.items.iter().find(|m| m.id == "36841").unwrap();
    assert_eq!(m.status, "2");
    assert_eq!(m.time, Some(want));
    assert!(m
        .text_en
        .starts_with("To facilitate road improvement works near West Kowloon Station"));
    assert!(m
        .text_tc
        .starts_with("為配合高鐵香港段西九龍站的道路改善工程"));
    assert!(n
        .items
        .iter()
        .all(|m| !m.text_en.is_empty() && !m.text_tc.is_empty()));
    // No message: no news, not an error.
    let empty =
        traffic::parse("<?xml version='1.0'?><body xmlns='http://data.one.gov.hk/td'></body>")
            .unwrap();
    assert!(empty.items.is_empty());
}

// ---- RSS ----

#[test]
fn food_alerts_built_from_the_real_items_match_the_excerpt() {
    let feed = rss::parse(data!("cfs-foodalert-en-2026-06-built.rss.xml")).unwrap();
    // The excerpt's wrapper holds the real RSS items: the parsed feed must say the same.
    let v: serde_json::Value =
        serde_json::from_str(data!("cfs-foodalert-en-2026-06-excerpt.json")).unwrap();
    let records = v["records"].as_array().unwrap();
    assert_eq!(feed.items.len(), records.len());
    for (item, r) in feed.items.iter().zip(records) {
        let x = &r["xmlItem"];
        assert_eq!(item.title, x["title"].as_str().unwrap());
        assert_eq!(item.link, x["link"].as_str().unwrap());
        assert_eq!(item.summary, x["description"].as_str().unwrap());
        assert_eq!(
            item.published,
            time::parse_rfc2822(x["pubDate"].as_str().unwrap())
        );
    }
    assert_eq!(
        hk_date_time(feed.items[0].published.unwrap()),
        "2026-06-26 00:00"
    );
    let tc = rss::parse(data!("cfs-foodalert-tc-2026-06-built.rss.xml")).unwrap();
    assert_eq!(tc.items.len(), 2);
    assert!(tc.items[0].title.contains("沙甸魚"));
}

#[test]
fn press_releases_built_from_the_real_headlines() {
    let feed = rss::parse(data!("govhk-press-en-2022-04-14-built.rss.xml")).unwrap();
    let headlines: Vec<&str> = data!("govhk-gia-daily-index-2022-04-14-excerpt.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, headlines);
    assert_eq!(feed.time, Some(at("2022-04-14T23:50:00+08:00")));
    assert!(feed
        .items
        .iter()
        .all(|i| i.link.starts_with("https://www.info.gov.hk/")));
    let tc = rss::parse(data!("govhk-press-tc-2022-04-14-built.rss.xml")).unwrap();
    assert_eq!(tc.items.len(), 8);
    assert_eq!(tc.items[1].title, "政府適度放寬社交距離措施");
}

/// Remove tags (not CDATA markers) and `&amp;`, as the source of the ticker excerpt did.
fn strip_tags(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with("<![CDATA[") {
            out.push_str("<![CDATA[");
            rest = &rest["<![CDATA[".len()..];
        } else {
            rest = &rest[rest.find('>').map_or(rest.len(), |j| j + 1)..];
        }
    }
    out.push_str(rest);
    out.replace("&amp;", "&")
}

#[test]
fn the_news_ticker_with_its_tags_put_back_parses_to_the_stored_text() {
    let rebuilt = data!("newsgovhk-ticker-rss-2025-11-04-rebuilt.xml");
    let stored: String = data!("newsgovhk-ticker-rss-2025-11-04-excerpt.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let body = rebuilt.split_once("-->").unwrap().1;
    assert_eq!(strip_tags(body).trim(), stored.trim());
    let feed = rss::parse(rebuilt).unwrap();
    assert_eq!(feed.title, "news.gov.hk - News Ticker");
    assert_eq!(feed.link, "", "a relative channel link is dropped");
    assert_eq!(feed.items.len(), 1);
    let i = &feed.items[0];
    assert_eq!(i.title, "HOUSING · I&T Summit opens");
    assert!(i
        .summary
        .starts_with("The HOUSING · I&T Summit opened today"));
    assert_eq!(feed.time, Some(at("2025-11-04T17:33:44+08:00")));
}

#[test]
fn rss_links_other_than_http_are_dropped_and_html_is_flattened() {
    let body = r#"<rss version="2.0"><channel><title>t</title><link>javascript:alert(1)</link>
        <item><title>a &lt;b&gt;bold&lt;/b&gt; title</title><link>javascript:alert(1)</link>
        <description>&lt;p&gt;Hello &amp;amp; &lt;a href="x"&gt;world&lt;/a&gt;&lt;/p&gt;</description></item>
        <item><title>ok</title><link> https://example.gov.hk/a </link></item></channel></rss>"#;
    let f = rss::parse(body).unwrap();
    assert_eq!(f.link, "");
    assert_eq!(f.items[0].title, "a bold title");
    assert_eq!(f.items[0].link, "");
    assert_eq!(f.items[0].summary, "Hello & world");
    assert_eq!(f.items[1].link, "https://example.gov.hk/a");
}

// ---- hostile and malformed input ----

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>"#;

const EXTERNAL_ENTITY: &str = r#"<?xml version="1.0"?>
<!DOCTYPE body [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<body><message><msgID>1</msgID><EngText>&xxe;</EngText></message></body>"#;

const SMALL_ENTITY: &str = r#"<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "expanded">]>
<rss version="2.0"><channel><title>t</title><item><title>&a;</title></item></channel></rss>"#;

/// Hostile or malformed bodies, each for a feed, and the error kind expected.
fn hostile() -> Vec<(Feed, Vec<u8>, &'static str)> {
    let huge_json = format!(
        "{{\"updateTime\":\"2025-06-07T22:02:00+08:00\",\"pad\":\"{}\"}}",
        "x".repeat(MAX_BODY_BYTES)
    );
    let many_nodes = format!(
        "<rss version=\"2.0\"><channel>{}</channel></rss>",
        "<item/>".repeat(MAX_XML_NODES as usize + 10)
    );
    let deep_json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    vec![
        (Feed::FoodAlerts, BILLION_LAUGHS.into(), "xml"),
        (Feed::Traffic, EXTERNAL_ENTITY.into(), "xml"),
        // Any DTD is refused, even one whose only entity is harmless: nothing is ever expanded.
        (Feed::PressReleases, SMALL_ENTITY.into(), "xml"),
        (Feed::PressReleases, huge_json.clone().into_bytes(), "large"),
        (Feed::Weather, huge_json.into_bytes(), "large"),
        (Feed::PressReleases, many_nodes.into_bytes(), "xml"),
        (Feed::Traffic, b"<body><message><msgID>1</msgID></body>".to_vec(), "xml"),
        (Feed::FoodAlerts, b"not xml at all".to_vec(), "xml"),
        (Feed::FoodAlerts, b"<html><body>Service Unavailable</body></html>".to_vec(), "shape"),
        (Feed::Traffic, b"<rss version=\"2.0\"><channel/></rss>".to_vec(), "shape"),
        (Feed::PressReleases, vec![0xff, 0xfe, b'<', 0, b'r'], "encoding"),
        (Feed::Weather, b"<html>502 Bad Gateway</html>".to_vec(), "json"),
        (Feed::Weather, deep_json.into_bytes(), "json"),
        (Feed::Weather, b"[]".to_vec(), "shape"),
        (Feed::Weather, b"{\"updateTime\":\"2025-06-07T22:02:00+08:00\"}".to_vec(), "shape"),
        (Feed::Weather, b"{\"updateTime\":\"soon\",\"temperature\":{\"data\":[{\"place\":\"x\",\"value\":1}]}}".to_vec(), "shape"),
        (Feed::Weather, b"{\"updateTime\":\"2025-06-07T22:02:00+08:00\",\"temperature\":\"hot\"}".to_vec(), "shape"),
        (Feed::LocalForecast, b"{\"updateTime\":\"2025-06-07T22:02:00+08:00\"}".to_vec(), "shape"),
        (Feed::NineDay, b"{\"weatherForecast\":{}}".to_vec(), "shape"),
        (Feed::NineDay, b"{\"updateTime\":\"2025-06-07T22:02:00+08:00\",\"weatherForecast\":[{\"forecastDate\":\"2025-06-08\"}]}".to_vec(), "shape"),
        (Feed::Warnings, b"[\"WTS\"]".to_vec(), "shape"),
        (Feed::Warnings, b"{\"WTS\":\"on\"}".to_vec(), "shape"),
        (Feed::WarningDetails, b"{\"details\":\"none\"}".to_vec(), "shape"),
        (Feed::WarningDetails, b"42".to_vec(), "shape"),
    ]
}

#[test]
fn hostile_and_malformed_bodies_are_rejected() {
    for (feed, body, kind) in hostile() {
        let started = std::time::Instant::now();
        let e = feed.parse(&body).unwrap_err();
        let got = match e {
            FeedError::Xml(_) => "xml",
            FeedError::Json(_) => "json",
            FeedError::Shape(_) => "shape",
            FeedError::TooLarge { .. } => "large",
            FeedError::Encoding => "encoding",
            _ => "other",
        };
        assert_eq!(got, kind, "{feed:?}: {e}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{feed:?} took too long"
        );
    }
}

#[test]
fn every_bundled_sample_parses() {
    for feed in Feed::ALL {
        for lang in feed.langs() {
            let body = bundled::sample(feed, *lang).expect("a sample for every feed and language");
            let p = feed
                .parse(body)
                .unwrap_or_else(|e| panic!("{feed:?} {lang:?}: {e}"));
            assert!(p.time().is_some(), "{feed:?} {lang:?} has a time");
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Payload>(&json).unwrap(), p);
        }
    }
}

// ---- cache and fetch rounds ----

/// A tiny HTTP/1.1 server on 127.0.0.1 that answers every request with the next planned
/// response (the last one repeats), counting requests.
struct Planned {
    url: String,
    hits: Arc<AtomicUsize>,
}

#[derive(Clone)]
enum Reply {
    Ok(Vec<u8>),
    Status(u16),
    Hang,
}

async fn serve(plan: Vec<Reply>) -> Planned {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/feed", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let plan = Arc::new(Mutex::new(plan));
    let h = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let n = h.fetch_add(1, Ordering::SeqCst);
            let reply = {
                let p = plan.lock().unwrap();
                p[n.min(p.len() - 1)].clone()
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let (status, body) = match reply {
                    Reply::Ok(b) => (200, b),
                    Reply::Status(s) => (s, b"error".to_vec()),
                    Reply::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            });
        }
    });
    Planned { url, hits }
}

fn quick() -> FetchPolicy {
    FetchPolicy {
        timeout: Duration::from_millis(500),
        attempts: 3,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
    }
}

fn job(feed: Feed, lang: FeedLang, url: &str) -> Job {
    Job {
        feed,
        lang,
        source: Source::Live(url.into()),
        stale_after_ms: 30 * 60_000,
    }
}

#[test]
fn backoff_grows_exponentially_with_jitter_and_a_cap() {
    let rng = iamsmart_crypto::rng::SeededRng::new(1);
    let p = FetchPolicy {
        timeout: Duration::from_secs(1),
        attempts: 5,
        backoff_base: Duration::from_millis(1000),
        backoff_max: Duration::from_millis(5000),
    };
    for attempt in 1..=6u32 {
        let full = (1000u64 << (attempt - 1)).min(5000);
        let seen: Vec<u64> = (0..50)
            .map(|_| u64::try_from(fetch::backoff(&rng, &p, attempt).as_millis()).unwrap())
            .collect();
        assert!(
            seen.iter().all(|d| *d >= full / 2 && *d <= full),
            "{attempt}: {seen:?}"
        );
        assert!(seen.iter().any(|d| *d != seen[0]), "jitter varies");
    }
}

#[tokio::test]
async fn a_round_stores_data_then_failures_keep_it_and_mark_it_stale() {
    let t = platform().await;
    let client = fetch::http_client().unwrap();
    let body = data!("hko-rhrread-en-2025-06-07-night.json")
        .as_bytes()
        .to_vec();
    // 503 then good: retried within the round.
    let srv = serve(vec![Reply::Status(503), Reply::Ok(body)]).await;
    let j = job(Feed::Weather, FeedLang::En, &srv.url);
    let r = fetch::refresh(&t.p, &client, &j, &quick()).await.unwrap();
    assert_eq!((r.attempts, r.error), (2, None));
    let st = &load(&t.p, FeedLang::En).await.unwrap()[0];
    assert_eq!(st.feed, Feed::Weather);
    assert!(!st.stale && !st.bundled && st.failures == 0);
    assert_eq!(st.data_time, Some(at("2025-06-07T22:02:00+08:00")));
    assert_eq!(st.fetched_at, Some(t.p.clock.now_ms()));
    let s = summary(&t.p, FeedLang::En).await.unwrap();
    assert_eq!(s.temperature_c, Some(29.0));
    assert!(!s.stale);
    // Nothing for the other language yet.
    assert!(load(&t.p, FeedLang::Tc).await.unwrap().is_empty());

    // Every hostile body in turn: rejected, not retried, the old data stay, marked stale.
    for (n, (_, bad, _)) in hostile().into_iter().enumerate() {
        let srv = serve(vec![Reply::Ok(bad)]).await;
        let r = fetch::refresh(
            &t.p,
            &client,
            &job(Feed::Weather, FeedLang::En, &srv.url),
            &quick(),
        )
        .await
        .unwrap();
        assert!(r.error.is_some());
        assert_eq!(r.attempts, 1, "content errors are not retried");
        let st = &load(&t.p, FeedLang::En).await.unwrap()[0];
        assert!(st.stale);
        assert_eq!(st.failures, n as i64 + 1);
        assert!(
            matches!(&st.payload, Some(Payload::Weather(w)) if w.temperature.as_ref().unwrap().value == 29.0)
        );
    }

    // A server that keeps failing: every attempt is made, then the failure is recorded.
    let srv = serve(vec![Reply::Status(500)]).await;
    let r = fetch::refresh(
        &t.p,
        &client,
        &job(Feed::Weather, FeedLang::En, &srv.url),
        &quick(),
    )
    .await
    .unwrap();
    assert_eq!((r.attempts, r.error), (3, Some(FeedError::Status(500))));
    assert_eq!(srv.hits.load(Ordering::SeqCst), 3);
    let st = &load(&t.p, FeedLang::En).await.unwrap()[0];
    assert_eq!(st.last_error.as_deref(), Some("HTTP status 500"));

    // A server that never answers: the time limit ends each attempt.
    let srv = serve(vec![Reply::Hang]).await;
    let started = std::time::Instant::now();
    let r = fetch::refresh(
        &t.p,
        &client,
        &job(Feed::Weather, FeedLang::En, &srv.url),
        &quick(),
    )
    .await
    .unwrap();
    assert_eq!(r.error, Some(FeedError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(summary(&t.p, FeedLang::En).await.unwrap().stale);

    // A good answer again clears the failures.
    let srv = serve(vec![Reply::Ok(
        data!("hko-rhrread-en-2019-12-11.json").as_bytes().to_vec(),
    )])
    .await;
    fetch::refresh(
        &t.p,
        &client,
        &job(Feed::Weather, FeedLang::En, &srv.url),
        &quick(),
    )
    .await
    .unwrap();
    let st = &load(&t.p, FeedLang::En).await.unwrap()[0];
    assert!(!st.stale && st.failures == 0 && st.last_error.is_none());
    assert_eq!(st.data_time, Some(at("2019-12-11T11:02:00+08:00")));
}

#[tokio::test]
async fn old_data_become_stale_and_a_failure_before_any_data_shows_nothing() {
    let t = platform().await;
    let client = fetch::http_client().unwrap();
    let srv = serve(vec![Reply::Ok(
        data!("td-specialtrafficnews-2017-09-16.xml")
            .as_bytes()
            .to_vec(),
    )])
    .await;
    fetch::refresh(
        &t.p,
        &client,
        &job(Feed::Traffic, FeedLang::Both, &srv.url),
        &quick(),
    )
    .await
    .unwrap();
    // Traffic news carries both languages: it is there for both pages.
    for lang in [FeedLang::En, FeedLang::Tc] {
        let st = load(&t.p, lang).await.unwrap();
        assert_eq!(st.len(), 1);
        assert!(!st[0].stale);
    }
    t.clock.advance(30 * 60_000 + 1);
    assert!(
        load(&t.p, FeedLang::En).await.unwrap()[0].stale,
        "fetched too long ago"
    );

    let srv = serve(vec![Reply::Status(404)]).await;
    let r = fetch::refresh(
        &t.p,
        &client,
        &job(Feed::FoodAlerts, FeedLang::En, &srv.url),
        &quick(),
    )
    .await
    .unwrap();
    assert_eq!((r.attempts, r.error), (1, Some(FeedError::Status(404))));
    let st = load(&t.p, FeedLang::En).await.unwrap();
    let food = st.iter().find(|s| s.feed == Feed::FoodAlerts).unwrap();
    assert!(food.payload.is_none() && !food.stale && food.failures == 1);
}

#[tokio::test]
async fn bundled_rounds_store_every_sample_marked_as_such() {
    let t = platform().await;
    let client = fetch::http_client().unwrap();
    for feed in Feed::ALL {
        for lang in feed.langs() {
            let j = Job {
                feed,
                lang: *lang,
                source: Source::Bundled,
                stale_after_ms: 60_000,
            };
            let r = fetch::refresh(&t.p, &client, &j, &quick()).await.unwrap();
            assert_eq!(r.error, None, "{feed:?}");
        }
    }
    for lang in [FeedLang::En, FeedLang::Tc] {
        let st = load(&t.p, lang).await.unwrap();
        assert_eq!(st.len(), Feed::ALL.len());
        assert!(st
            .iter()
            .all(|s| s.bundled && !s.stale && s.payload.is_some()));
    }
    let s = summary(&t.p, FeedLang::Tc).await.unwrap();
    assert!(s.bundled);
    assert_eq!(s.temperature_c, Some(30.0));
    assert_eq!(s.warnings.len(), 2);
    assert!(s
        .warnings
        .iter()
        .any(|w| w == "熱帶氣旋警告信號：八號東南烈風或暴風信號"));
}

#[tokio::test]
async fn oversized_bodies_are_refused_while_reading() {
    let srv = serve(vec![Reply::Ok(vec![b' '; 3000])]).await;
    let client = fetch::http_client().unwrap();
    let e = fetch::fetch_body(&client, &srv.url, Duration::from_secs(2), 1000)
        .await
        .unwrap_err();
    assert_eq!(e, FeedError::TooLarge { limit: 1000 });
    let ok = fetch::fetch_body(&client, &srv.url, Duration::from_secs(2), 3000)
        .await
        .unwrap();
    assert_eq!(ok.len(), 3000);
}

#[tokio::test]
async fn a_round_is_due_once_per_interval_by_the_platform_clock_whoever_asks() {
    let t = platform().await;
    let client = fetch::http_client().unwrap();
    let j = Job {
        feed: Feed::Weather,
        lang: FeedLang::En,
        source: Source::Bundled,
        stale_after_ms: 900_000,
    };
    let interval = 300_000;
    // Never fetched: the first caller runs a round, a second (another process) does not.
    let first = fetch::refresh_if_due(&t.p, &client, &j, interval, &quick())
        .await
        .unwrap();
    assert_eq!(first.map(|r| r.error), Some(None));
    assert!(fetch::refresh_if_due(&t.p, &client, &j, interval, &quick())
        .await
        .unwrap()
        .is_none());
    let fetched = load(&t.p, FeedLang::En).await.unwrap()[0].fetched_at;
    // Not due until the interval has passed on the platform's clock, then due for one caller
    // of fifty asking at once.
    t.clock.advance(interval - 1_000);
    assert!(
        !cache::claim_round(&t.p, j.feed, j.lang, cache::Origin::Bundled, interval, 1)
            .await
            .unwrap()
    );
    t.clock.advance(1_000);
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let env = t.p.env.clone();
        callers.spawn(async move {
            cache::claim_round(
                &env,
                Feed::Weather,
                FeedLang::En,
                cache::Origin::Bundled,
                interval,
                900_000,
            )
            .await
            .unwrap()
        });
    }
    let mut won = 0;
    while let Some(claimed) = callers.join_next().await {
        won += usize::from(claimed.unwrap());
    }
    assert_eq!(won, 1);
    // The claim is the round's start; the data stay until the round stores new ones.
    let st = &load(&t.p, FeedLang::En).await.unwrap()[0];
    assert_eq!(st.fetched_at, fetched);
    assert!(st.payload.is_some() && !st.stale);
    t.clock.advance(interval);
    let again = fetch::refresh_if_due(&t.p, &client, &j, interval, &quick())
        .await
        .unwrap();
    assert_eq!(again.map(|r| r.attempts), Some(1));
    assert!(load(&t.p, FeedLang::En).await.unwrap()[0].fetched_at > fetched);
}

#[test]
fn feeds_wake_a_few_times_per_interval() {
    assert_eq!(
        fetch::wake_every(Duration::from_secs(300)),
        Duration::from_secs(60)
    );
    assert_eq!(
        fetch::wake_every(Duration::from_secs(120)),
        Duration::from_secs(30)
    );
    assert_eq!(
        fetch::wake_every(Duration::from_secs(2)),
        Duration::from_secs(1)
    );
}
