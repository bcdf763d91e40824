//! Public information without an account (`/public`): warnings in force, the weather now, the
//! local and 9-day forecasts, special traffic news, food alerts and press releases, each with the
//! time of its data and a link to its source. Reads only the stored data (`domain::publicinfo`),
//! never the network: a feed that is down shows its last good data marked "may be out of date",
//! a feed never fetched says "not available right now", and a database failure gives the same
//! page with every feed unavailable rather than an error page.
use super::common::{Lang, Ui, UiView};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use iamsmart_domain::publicinfo::hko::{icon_name, Reading};
use iamsmart_domain::publicinfo::{self, Feed, FeedLang, FeedState, Payload};

pub fn routes() -> Router<AppState> {
    Router::new().route("/public", get(page))
}

/// A forecast's day (`YYYY-MM-DD` in the feed) as Hong Kong writes it: `19 March`, `3月19日`.
fn forecast_day(lang: Lang, date: &str) -> String {
    let mut parts = date.split('-').skip(1).map(str::parse::<i64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(m)), Some(Ok(d))) if (1..=12).contains(&m) && (1..=31).contains(&d) => {
            iamsmart_proto::time::day_month(m, d, lang.locale())
        }
        _ => date.to_string(),
    }
}

/// What every section shows about its data: when, from where, whether it may be out of date.
struct Meta {
    available: bool,
    time: String,
    stale: bool,
    stale_note: String,
    source_name: &'static str,
    source_url: String,
}

struct WarningView {
    title: String,
    issued: String,
}

struct DetailView {
    title: String,
    paragraphs: Vec<String>,
}

struct NowView {
    temperature: String,
    humidity: String,
    uv: String,
    sky: String,
    messages: Vec<String>,
    lightning: String,
}

struct ForecastView {
    period: String,
    description: String,
    outlook: String,
    situation: String,
    tc_info: String,
    fire: String,
}

struct DayView {
    date: String,
    weekday: String,
    sky: String,
    temp: String,
    rh: String,
    weather: String,
    wind: String,
    psr: String,
}

struct NewsView {
    title: String,
    link: String,
    time: String,
    text: String,
}

/// The words of the page.
struct Labels {
    intro: &'static str,
    sample: &'static str,
    as_of: &'static str,
    source: &'static str,
    unavailable: &'static str,
    warnings: &'static str,
    no_warning: &'static str,
    issued: &'static str,
    warning_details: &'static str,
    now: &'static str,
    temperature: &'static str,
    humidity: &'static str,
    uv: &'static str,
    sky: &'static str,
    lightning: &'static str,
    local_forecast: &'static str,
    outlook: &'static str,
    situation: &'static str,
    nine_day: &'static str,
    rh: &'static str,
    wind: &'static str,
    psr: &'static str,
    traffic: &'static str,
    food: &'static str,
    press: &'static str,
    no_news: &'static str,
    colon: &'static str,
}

impl Labels {
    fn new(l: Lang) -> Labels {
        Labels {
            intro: l.t(
                "Weather, warnings, traffic news, food alerts and government press releases, from the departments' open data. No account needed.",
                "天氣、警告、交通消息、食物警報及政府新聞公報，取自各部門的開放數據。毋須登入。",
            ),
            sample: l.t(
                "Sample data: this server has no connection to the departments' feeds, so it shows saved samples of them, not today's information.",
                "樣本資料：此伺服器並無連接各部門的資料來源，以下為已儲存的樣本，並非今天的資料。",
            ),
            as_of: l.t("As of", "資料時間"),
            source: l.t("Source", "來源"),
            unavailable: l.t(
                "Not available right now. Please try again later.",
                "暫時未能提供，請稍後再試。",
            ),
            warnings: l.t("Weather warnings in force", "現正生效的天氣警告"),
            no_warning: l.t("No weather warning is in force.", "現時沒有天氣警告生效。"),
            issued: l.t("issued", "發出時間"),
            warning_details: l.t("What the warnings say", "警告詳情"),
            now: l.t("Weather now", "現時天氣"),
            temperature: l.t("Temperature", "氣溫"),
            humidity: l.t("Relative humidity", "相對濕度"),
            uv: l.t("UV index (past hour)", "紫外線指數（過去一小時）"),
            sky: l.t("Weather", "天氣"),
            lightning: l.t("Lightning in the past hour", "過去一小時有閃電"),
            local_forecast: l.t("Local forecast", "本港天氣預報"),
            outlook: l.t("Outlook", "展望"),
            situation: l.t("General situation", "天氣概況"),
            nine_day: l.t("9-day forecast", "九天天氣預報"),
            rh: l.t("Humidity", "濕度"),
            wind: l.t("Wind", "風"),
            psr: l.t("Chance of significant rain", "顯著降雨概率"),
            traffic: l.t("Special traffic news", "特別交通消息"),
            food: l.t("Food alerts", "食物警報"),
            press: l.t("Government press releases", "政府新聞公報"),
            no_news: l.t("Nothing at the moment.", "暫時沒有消息。"),
            colon: l.t(": ", "："),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/public_info.html")]
struct PublicInfoTemplate {
    ui: UiView,
    title: &'static str,
    t: super::portal::PortalText,
    l: Labels,
    sample: bool,
    warnings_meta: Meta,
    warnings: Vec<WarningView>,
    details: Vec<DetailView>,
    now_meta: Meta,
    now: Option<NowView>,
    forecast_meta: Meta,
    forecast: Option<ForecastView>,
    nine_day_meta: Meta,
    nine_day: Vec<DayView>,
    nine_day_situation: String,
    traffic_meta: Meta,
    traffic: Vec<NewsView>,
    food_meta: Meta,
    food: Vec<NewsView>,
    press_meta: Meta,
    press: Vec<NewsView>,
}

fn source(lang: Lang, feed: Feed) -> (&'static str, &'static str) {
    match feed {
        Feed::Traffic => (
            lang.t("Transport Department", "運輸署"),
            lang.t(
                "https://www.td.gov.hk/en/home/index.html",
                "https://www.td.gov.hk/tc/home/index.html",
            ),
        ),
        Feed::FoodAlerts => (
            lang.t("Centre for Food Safety", "食物安全中心"),
            lang.t(
                "https://www.cfs.gov.hk/english/whatsnew/whatsnew_fa/whatsnew_fa.html",
                "https://www.cfs.gov.hk/tc_chi/whatsnew/whatsnew_fa/whatsnew_fa.html",
            ),
        ),
        Feed::PressReleases => (
            lang.t("Information Services Department", "政府新聞處"),
            lang.t(
                "https://www.info.gov.hk/gia/general/today.htm",
                "https://www.info.gov.hk/gia/general/todayc.htm",
            ),
        ),
        _ => (
            lang.t("Hong Kong Observatory", "香港天文台"),
            lang.t(
                "https://www.hko.gov.hk/en/index.html",
                "https://www.hko.gov.hk/tc/index.html",
            ),
        ),
    }
}

fn meta(lang: Lang, feed: Feed, st: Option<&FeedState>) -> Meta {
    let (source_name, url) = source(lang, feed);
    let source_url = match st.and_then(|s| s.payload.as_ref()) {
        Some(Payload::Rss(r)) if !r.link.is_empty() => r.link.clone(),
        _ => url.to_string(),
    };
    let time = st
        .and_then(FeedState::shown_time)
        .map(|t| super::dealings::when(lang, t))
        .unwrap_or_default();
    let stale = st.is_some_and(|s| s.stale);
    let stale_note = match lang {
        Lang::En => format!("May be out of date (as of {time}). We could not refresh this information; this is the last we received."),
        Lang::ZhHant | Lang::ZhHans => format!("資料可能已過時（截至 {time}）。未能更新資料，以下為最後收到的資料。"),
    };
    Meta {
        available: st.is_some_and(|s| s.payload.is_some()),
        time,
        stale,
        stale_note,
        source_name,
        source_url,
    }
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn sky(lang: Lang, icons: impl Iterator<Item = u32>) -> String {
    icons
        .filter_map(icon_name)
        .map(|(en, zh)| match lang {
            Lang::En => en,
            Lang::ZhHant | Lang::ZhHans => zh,
        })
        .collect::<Vec<_>>()
        .join(lang.t(", ", "、"))
}

fn reading(r: &Option<Reading>, unit: &str) -> String {
    r.as_ref()
        .map(|r| format!("{}{unit}", num(r.value)))
        .unwrap_or_default()
}

fn range(lo: Option<f64>, hi: Option<f64>, unit: &str) -> String {
    match (lo, hi) {
        (Some(a), Some(b)) => format!("{}–{}{unit}", num(a), num(b)),
        (Some(a), None) | (None, Some(a)) => format!("{}{unit}", num(a)),
        _ => String::new(),
    }
}

async fn page(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let ui = Ui::new(&s, &headers, &uri, None, "/public");
    let lang = ui.lang;
    let feed_lang = match lang {
        Lang::En => FeedLang::En,
        Lang::ZhHant | Lang::ZhHans => FeedLang::Tc,
    };
    let states = publicinfo::load(&s.platform, feed_lang)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "public information could not be read");
            Vec::new()
        });
    let get = |f: Feed| states.iter().find(|x| x.feed == f);
    let payload = |f: Feed| get(f).and_then(|x| x.payload.as_ref());

    let warnings = match payload(Feed::Warnings) {
        Some(Payload::Warnings(w)) => w
            .items
            .iter()
            .map(|x| WarningView {
                title: if x.kind.is_empty() {
                    x.name.clone()
                } else {
                    format!("{}{}{}", x.name, lang.t(": ", "："), x.kind)
                },
                issued: x
                    .issued
                    .map(|t| super::dealings::when(lang, t))
                    .unwrap_or_default(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let details = match payload(Feed::WarningDetails) {
        Some(Payload::WarningDetails(d)) => d
            .items
            .iter()
            .map(|x| DetailView {
                title: x.contents.first().cloned().unwrap_or_default(),
                paragraphs: x.contents.iter().skip(1).cloned().collect(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let now = match payload(Feed::Weather) {
        Some(Payload::Weather(w)) => Some(NowView {
            temperature: reading(&w.temperature, " °C"),
            humidity: reading(&w.humidity, "%"),
            uv: w
                .uv_index
                .as_ref()
                .map(|u| {
                    if u.desc.is_empty() {
                        num(u.value)
                    } else {
                        format!(
                            "{}{}{}{}",
                            num(u.value),
                            lang.t(" (", "（"),
                            u.desc,
                            lang.t(")", "）")
                        )
                    }
                })
                .unwrap_or_default(),
            sky: sky(lang, w.icons.iter().copied()),
            messages: w.warning_messages.clone(),
            lightning: w.lightning.join(lang.t(", ", "、")),
        }),
        _ => None,
    };
    let forecast = match payload(Feed::LocalForecast) {
        Some(Payload::LocalForecast(f)) => Some(ForecastView {
            period: f.period.clone(),
            description: f.description.clone(),
            outlook: f.outlook.clone(),
            situation: f.general_situation.clone(),
            tc_info: f.tc_info.clone(),
            fire: f.fire_danger_warning.clone(),
        }),
        _ => None,
    };
    let (nine_day, nine_day_situation) = match payload(Feed::NineDay) {
        Some(Payload::NineDay(n)) => (
            n.days
                .iter()
                .map(|d| DayView {
                    date: forecast_day(lang, &d.date),
                    weekday: d.weekday.clone(),
                    sky: sky(lang, d.icon.into_iter()),
                    temp: range(d.min_c, d.max_c, " °C"),
                    rh: range(d.min_rh, d.max_rh, "%"),
                    weather: d.weather.clone(),
                    wind: d.wind.clone(),
                    psr: d.psr.clone(),
                })
                .collect(),
            n.general_situation.clone(),
        ),
        _ => (Vec::new(), String::new()),
    };
    let traffic = match payload(Feed::Traffic) {
        Some(Payload::Traffic(t)) => t
            .items
            .iter()
            .map(|m| NewsView {
                title: String::new(),
                link: String::new(),
                time: m
                    .time
                    .map(|t| super::dealings::when(lang, t))
                    .unwrap_or_default(),
                text: match lang {
                    Lang::En if !m.text_en.is_empty() => m.text_en.clone(),
                    Lang::ZhHant | Lang::ZhHans if !m.text_tc.is_empty() => m.text_tc.clone(),
                    _ => format!("{}{}", m.text_en, m.text_tc),
                },
            })
            .collect(),
        _ => Vec::new(),
    };
    let rss = |f: Feed, with_summary: bool| match payload(f) {
        Some(Payload::Rss(r)) => r
            .items
            .iter()
            .take(12)
            .map(|i| NewsView {
                title: i.title.clone(),
                link: i.link.clone(),
                time: i
                    .published
                    .map(|t| super::dealings::when(lang, t))
                    .unwrap_or_default(),
                text: if with_summary {
                    i.summary.clone()
                } else {
                    String::new()
                },
            })
            .collect(),
        _ => Vec::new(),
    };
    let t = PublicInfoTemplate {
        ui: ui.view(),
        title: lang.t("Public information", "公共資訊"),
        t: super::portal::portal_text(lang),
        l: Labels::new(lang),
        sample: states.iter().any(|x| x.bundled && x.payload.is_some()),
        warnings_meta: meta(lang, Feed::Warnings, get(Feed::Warnings)),
        warnings,
        details,
        now_meta: meta(lang, Feed::Weather, get(Feed::Weather)),
        now,
        forecast_meta: meta(lang, Feed::LocalForecast, get(Feed::LocalForecast)),
        forecast,
        nine_day_meta: meta(lang, Feed::NineDay, get(Feed::NineDay)),
        nine_day,
        nine_day_situation,
        traffic_meta: meta(lang, Feed::Traffic, get(Feed::Traffic)),
        traffic,
        food_meta: meta(lang, Feed::FoodAlerts, get(Feed::FoodAlerts)),
        food: rss(Feed::FoodAlerts, true),
        press_meta: meta(lang, Feed::PressReleases, get(Feed::PressReleases)),
        press: rss(Feed::PressReleases, false),
    };
    ui.render(StatusCode::OK, &t)
}
