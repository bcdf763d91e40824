//! The public information page over HTTP: its fetchers read feeds from a local
//! HTTP server on 127.0.0.1 (serving the real samples), the page shows the data with their time;
//! when the feeds fail (500, time-out, garbage, entity expansion) the page keeps the last good
//! data, marked as possibly out of date, and never becomes an error page.
mod common;
use common::*;
use iamsmart_domain::publicinfo::{bundled, Feed, FeedLang};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const OK: u8 = 0;
const FAIL_500: u8 = 1;
const HANG: u8 = 2;
const GARBAGE: u8 = 3;
const ENTITIES: u8 = 4;

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]><body><message><EngText>&g;&g;&g;</EngText></message></body>"#;

/// Feeds on 127.0.0.1: `/{feed}/{lang}` answers the bundled sample, or fails as `mode` says.
async fn feeds(mode: Arc<AtomicU8>) -> String {
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    async fn feed(
        State(mode): State<Arc<AtomicU8>>,
        Path((feed, lang)): Path<(String, String)>,
    ) -> axum::response::Response {
        let (Some(f), Some(l)) = (Feed::from_key(&feed), FeedLang::from_key(&lang)) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        match mode.load(Ordering::SeqCst) {
            FAIL_500 => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            HANG => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                StatusCode::OK.into_response()
            }
            GARBAGE => "<html><body>Oops {\"temperature\": ".into_response(),
            ENTITIES => BILLION_LAUGHS.into_response(),
            _ => match bundled::sample(f, l) {
                Some(b) => b.to_vec().into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            },
        }
    }
    let app = axum::Router::new()
        .route("/{feed}/{lang}", axum::routing::get(feed))
        .with_state(mode);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn feed_env(base: &str) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "IAMSMART_PUBLIC_INFO__ENABLED".to_string(),
            "true".to_string(),
        ),
        ("IAMSMART_PUBLIC_INFO__SOURCE".into(), "live".into()),
        ("IAMSMART_PUBLIC_INFO__TIMEOUT_MS".into(), "400".into()),
        ("IAMSMART_PUBLIC_INFO__ATTEMPTS".into(), "2".into()),
        ("IAMSMART_PUBLIC_INFO__BACKOFF_BASE_MS".into(), "50".into()),
        ("IAMSMART_PUBLIC_INFO__BACKOFF_MAX_MS".into(), "100".into()),
        (
            "IAMSMART_PUBLIC_INFO__TRAFFIC__URL".into(),
            format!("{base}/traffic/both"),
        ),
        (
            "IAMSMART_PUBLIC_INFO__TRAFFIC__INTERVAL_SECS".into(),
            "1".into(),
        ),
    ];
    for f in Feed::ALL.into_iter().filter(|f| *f != Feed::Traffic) {
        let k = f.key().to_ascii_uppercase();
        // Food alerts are never available: their URL answers 404.
        let path = |lang: &str| {
            if f == Feed::FoodAlerts {
                format!("{base}/none/{lang}")
            } else {
                format!("{base}/{}/{lang}", f.key())
            }
        };
        env.push((format!("IAMSMART_PUBLIC_INFO__{k}__URL_EN"), path("en")));
        env.push((format!("IAMSMART_PUBLIC_INFO__{k}__URL_TC"), path("tc")));
        env.push((
            format!("IAMSMART_PUBLIC_INFO__{k}__INTERVAL_SECS"),
            "1".into(),
        ));
    }
    env
}

async fn page(c: &reqwest::Client, srv: &Server, lang: &str) -> String {
    let r = c
        .get(srv.url(&format!("/public?lang={lang}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the page never becomes an error page");
    r.text().await.unwrap()
}

/// Wait until the page (in `lang`) satisfies `ok`; panic with the page otherwise.
async fn until(
    c: &reqwest::Client,
    srv: &Server,
    lang: &str,
    what: &str,
    ok: impl Fn(&str) -> bool,
) -> String {
    let start = Instant::now();
    loop {
        let html = page(c, srv, lang).await;
        if ok(&html) {
            return html;
        }
        if start.elapsed() > Duration::from_secs(30) {
            panic!("{what}: not seen within 30 s; page:\n{html}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn stale(html: &str) -> bool {
    html.contains("data-stale=\"true\"")
}

#[tokio::test]
async fn the_page_shows_live_data_with_its_time_and_the_last_good_data_when_feeds_fail() {
    let mode = Arc::new(AtomicU8::new(OK));
    let base = feeds(mode.clone()).await;
    let site = Site::new().await;
    let env = feed_env(&base);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let srv = site.serve_process(&env).await;
    let c = reqwest::Client::new();

    // English: the samples' data with their own times.
    let html = until(&c, &srv, "en", "every English feed", |h| {
        h.contains("29 °C")
            && h.contains("No. 8 Southeast Gale or Storm Signal")
            && h.contains("West Kowloon Station")
            && h.contains("SFH calls on private healthcare sector")
            && h.contains("Mainly cloudy with mist")
    })
    .await;
    assert!(
        html.contains("7 June 2025, 10:02 pm"),
        "the weather report's time"
    );
    assert!(
        html.contains("16 September 2017, 7:20 am"),
        "traffic news time from 上午 07:20:43"
    );
    assert!(
        html.contains("19 March") && !html.contains("03/19"),
        "the 9-day forecast's days as Hong Kong writes them"
    );
    assert!(!html.contains("UV index"), "no UV at night (uvindex \"\")");
    assert!(!stale(&html));
    assert!(
        !html.contains("Sample data"),
        "live data are not called samples"
    );
    // Food alerts never answered: not available, no stale marker, no error.
    assert!(html.contains("Not available right now"));

    // Chinese: the Chinese documents, and traffic news in Chinese from the same document.
    let zh = until(&c, &srv, "zh-HK", "Chinese data", |h| {
        h.contains("香港天文台")
            && h.contains("八號東南烈風或暴風信號")
            && h.contains("為配合高鐵香港段西九龍站")
    })
    .await;
    assert!(zh.contains("30 °C") && zh.contains("2023年8月1日 下午12時02分"));
    assert!(zh.contains("3月19日"), "the 9-day forecast in Chinese");
    assert!(zh.contains("lang=\"zh-HK\""));
    assert!(zh.contains("紫外線指數"), "UV by day");

    // Each kind of failure: the old data stay, with the stale marker; a good answer clears it.
    for (m, what) in [
        (FAIL_500, "HTTP 500"),
        (HANG, "time-out"),
        (GARBAGE, "garbage"),
        (ENTITIES, "entity expansion"),
    ] {
        mode.store(m, Ordering::SeqCst);
        // Each section turns stale on its own schedule: wait for the weather's and the traffic's.
        let html = until(&c, &srv, "en", what, |h| {
            h.contains("May be out of date (as of 7 June 2025, 10:02 pm)")
                && h.contains("May be out of date (as of 16 September 2017, 7:20 am)")
        })
        .await;
        assert!(
            html.contains("29 °C") && html.contains("West Kowloon Station"),
            "{what}: the last good data stay"
        );
        mode.store(OK, Ordering::SeqCst);
        until(&c, &srv, "en", "recovery", |h| {
            !stale(h) && h.contains("29 °C")
        })
        .await;
    }
    let log = std::fs::read_to_string(site.log_path()).unwrap_or_default();
    assert!(log.contains("public information feed failed"));
}

#[tokio::test]
async fn bundled_samples_are_shown_as_sample_data() {
    let site = Site::new().await;
    let srv = site
        .serve(&[
            ("IAMSMART_PUBLIC_INFO__ENABLED", "true"),
            ("IAMSMART_PUBLIC_INFO__SOURCE", "bundled"),
        ])
        .await;
    let c = reqwest::Client::new();
    let html = until(&c, &srv, "en", "bundled data", |h| {
        h.contains("Sample data") && h.contains("frozen sardines") && h.contains("29 °C")
    })
    .await;
    assert!(!stale(&html));
    let zh = page(&c, &srv, "zh-HK").await;
    assert!(zh.contains("樣本資料") && zh.contains("沙甸魚"));
}

#[tokio::test]
async fn with_the_feeds_off_every_section_says_it_is_not_available() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let c = reqwest::Client::new();
    let html = page(&c, &srv, "en").await;
    assert_eq!(html.matches("Not available right now").count(), 7);
    assert!(html.contains("<h1>Public information</h1>"));
    let zh = page(&c, &srv, "zh-HK").await;
    assert!(zh.contains("<h1>公共資訊</h1>") && zh.contains("暫時未能提供"));
}
