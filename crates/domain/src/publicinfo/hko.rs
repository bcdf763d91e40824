//! Hong Kong Observatory open data (`weather.php?dataType=...&lang=en|tc`): current weather
//! (`rhrread`), local forecast (`flw`), 9-day forecast (`fnd`), warnings in force (`warnsum`) and
//! their details (`warningInfo`). One response per language; field names are the same in both.
//!
//! Read through `serde_json::Value` rather than derived structs, because the feeds bend their
//! own shapes: `uvindex` is an object by day and `""` at night, `tcmessage` a string or a list,
//! `ForecastIcon` has a capital F, `warningInfo` is a bare list or `{"details": [...]}`, and
//! `{}` means "no warning". Required parts missing or of the wrong type reject the whole
//! response (the last good data stays); optional parts of the wrong type are left out.
use super::time::{parse_iso, yyyymmdd};
use super::{clip, latest, FeedError, MAX_ITEMS};
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn parse_json(body: &str) -> Result<Value, FeedError> {
    serde_json::from_str(body).map_err(|e| FeedError::Json(e.to_string()))
}

fn shape(msg: &str) -> FeedError {
    FeedError::Shape(msg.into())
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => clip(s),
        _ => String::new(),
    }
}

/// Strings, or one string, non-empty.
fn texts(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => vec![clip(s)],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .take(MAX_ITEMS)
            .map(clip)
            .collect(),
        _ => Vec::new(),
    }
}

fn time_of(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_str).and_then(parse_iso)
}

fn required_time(v: &Value, key: &str) -> Result<i64, FeedError> {
    time_of(v, key).ok_or_else(|| FeedError::Shape(format!("`{key}` is missing or not a time")))
}

/// A number, or a number written as a string.
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// One station's reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// The station.
    pub place: String,
    /// The value (°C, %, or the UV index).
    pub value: f64,
    /// A word for the value (UV: "moderate", "high"...), if the feed gives one.
    #[serde(default)]
    pub desc: String,
}

/// The station shown when there are many: the Observatory's own, else the first.
fn main_station(list: Option<&Value>) -> Option<Reading> {
    let data = list?.get("data")?.as_array()?;
    let readings: Vec<Reading> = data
        .iter()
        .filter_map(|r| {
            Some(Reading {
                place: text(r, "place"),
                value: number(r.get("value"))?,
                desc: text(r, "desc"),
            })
        })
        .collect();
    readings
        .iter()
        .find(|r| r.place == "Hong Kong Observatory" || r.place == "香港天文台")
        .or_else(|| readings.first())
        .cloned()
}

/// The current weather report (`rhrread`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentWeather {
    /// `updateTime`.
    pub time: i64,
    /// Temperature (°C) at the Observatory (or the first station).
    pub temperature: Option<Reading>,
    /// Relative humidity (%).
    pub humidity: Option<Reading>,
    /// UV index of the past hour; none at night (the feed sends `""`).
    pub uv_index: Option<Reading>,
    /// Weather icon codes (see [`icon_name`]).
    pub icons: Vec<u32>,
    /// Messages about warnings in force, in the feed's words.
    pub warning_messages: Vec<String>,
    /// Tropical cyclone messages.
    pub tc_messages: Vec<String>,
    /// Regions where lightning occurred in the past hour.
    pub lightning: Vec<String>,
}

/// Parse a current weather report.
pub fn parse_current(body: &str) -> Result<CurrentWeather, FeedError> {
    let v = parse_json(body)?;
    if !v.is_object() {
        return Err(shape("the current weather report is not a JSON object"));
    }
    let time = required_time(&v, "updateTime")?;
    let temperature = main_station(v.get("temperature"));
    if temperature.is_none() {
        return Err(shape("no temperature reading"));
    }
    // `uvindex` is `{"data": [...], "recordDesc": ...}` by day and `""` at night.
    let uv_index = match v.get("uvindex") {
        Some(u @ Value::Object(_)) => main_station(Some(u)),
        _ => None,
    };
    let icons = v
        .get("icon")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_u64)
                .filter_map(|n| u32::try_from(n).ok())
                .take(4)
                .collect()
        })
        .unwrap_or_default();
    let lightning = v
        .get("lightning")
        .and_then(|l| l.get("data"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|x| {
                    matches!(x.get("occur"), Some(Value::Bool(true)))
                        || x.get("occur").and_then(Value::as_str) == Some("true")
                })
                .map(|x| text(x, "place"))
                .filter(|p| !p.is_empty())
                .take(MAX_ITEMS)
                .collect()
        })
        .unwrap_or_default();
    Ok(CurrentWeather {
        time,
        temperature,
        humidity: main_station(v.get("humidity")),
        uv_index,
        icons,
        warning_messages: texts(v.get("warningMessage")),
        tc_messages: texts(v.get("tcmessage")),
        lightning,
    })
}

/// The local weather forecast (`flw`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalForecast {
    /// `updateTime`.
    pub time: i64,
    /// The general situation.
    pub general_situation: String,
    /// Tropical cyclone information.
    pub tc_info: String,
    /// Fire danger warning.
    pub fire_danger_warning: String,
    /// The period forecast ("Weather forecast for tonight and tomorrow").
    pub period: String,
    /// The forecast.
    pub description: String,
    /// The outlook.
    pub outlook: String,
}

/// Parse a local weather forecast.
pub fn parse_local_forecast(body: &str) -> Result<LocalForecast, FeedError> {
    let v = parse_json(body)?;
    if !v.is_object() {
        return Err(shape("the local forecast is not a JSON object"));
    }
    let f = LocalForecast {
        time: required_time(&v, "updateTime")?,
        general_situation: text(&v, "generalSituation"),
        tc_info: text(&v, "tcInfo"),
        fire_danger_warning: text(&v, "fireDangerWarning"),
        period: text(&v, "forecastPeriod"),
        description: text(&v, "forecastDesc"),
        outlook: text(&v, "outlook"),
    };
    if f.description.is_empty() {
        return Err(shape("`forecastDesc` is missing"));
    }
    Ok(f)
}

/// One day of the 9-day forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayForecast {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The weekday, in the feed's language.
    pub weekday: String,
    /// Wind.
    pub wind: String,
    /// Weather.
    pub weather: String,
    /// Lowest and highest temperature (°C).
    pub min_c: Option<f64>,
    /// Highest temperature (°C).
    pub max_c: Option<f64>,
    /// Lowest relative humidity (%).
    pub min_rh: Option<f64>,
    /// Highest relative humidity (%).
    pub max_rh: Option<f64>,
    /// Weather icon code (the feed's `ForecastIcon`, capital F).
    pub icon: Option<u32>,
    /// Probability of significant rain, in the feed's words ("Low", "中低").
    pub psr: String,
}

/// The 9-day forecast (`fnd`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NineDayForecast {
    /// `updateTime`.
    pub time: i64,
    /// The general situation.
    pub general_situation: String,
    /// The days.
    pub days: Vec<DayForecast>,
}

fn value_of(v: &Value, key: &str) -> Option<f64> {
    number(v.get(key).and_then(|x| x.get("value")))
}

/// Parse a 9-day forecast.
pub fn parse_nine_day(body: &str) -> Result<NineDayForecast, FeedError> {
    let v = parse_json(body)?;
    let list = v
        .get("weatherForecast")
        .and_then(Value::as_array)
        .ok_or_else(|| shape("`weatherForecast` is missing or not a list"))?;
    let days: Vec<DayForecast> = list
        .iter()
        .take(MAX_ITEMS)
        .filter_map(|d| {
            Some(DayForecast {
                date: yyyymmdd(d.get("forecastDate")?.as_str()?)?,
                weekday: text(d, "week"),
                wind: text(d, "forecastWind"),
                weather: text(d, "forecastWeather"),
                min_c: value_of(d, "forecastMintemp"),
                max_c: value_of(d, "forecastMaxtemp"),
                min_rh: value_of(d, "forecastMinrh"),
                max_rh: value_of(d, "forecastMaxrh"),
                // The feed spells it `ForecastIcon`; accept the regular spelling too.
                icon: d
                    .get("ForecastIcon")
                    .or_else(|| d.get("forecastIcon"))
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok()),
                psr: text(d, "PSR"),
            })
        })
        .collect();
    if days.is_empty() {
        return Err(shape("no day in `weatherForecast`"));
    }
    Ok(NineDayForecast {
        time: required_time(&v, "updateTime")?,
        general_situation: text(&v, "generalSituation"),
        days,
    })
}

/// A warning in force (`warnsum`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// The warning statement (`WTS`, `WTCSGNL`, `WRAIN`...).
    pub statement: String,
    /// The signal's code (`TC8SE`, `WRAINR`...).
    pub code: String,
    /// Its name ("Tropical Cyclone Warning Signal").
    pub name: String,
    /// Its type, where there are several ("No. 8 Southeast Gale or Storm Signal").
    pub kind: String,
    /// `ISSUE`, `REISSUE`, `EXTEND`, `UPDATE` (cancelled ones are left out).
    pub action: String,
    /// Issued at.
    pub issued: Option<i64>,
    /// Expires at, if announced.
    pub expires: Option<i64>,
    /// Updated at.
    pub updated: Option<i64>,
}

/// The warnings in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warnings {
    /// The latest update of any warning; none when no warning is in force.
    pub time: Option<i64>,
    /// The warnings, most serious kinds first as the feed orders them.
    pub items: Vec<Warning>,
}

/// Parse the warning summary: an object keyed by warning statement, `{}` when none is in
/// force. Warnings the feed marks `CANCEL` are left out.
pub fn parse_warnings(body: &str) -> Result<Warnings, FeedError> {
    let v = parse_json(body)?;
    let map = v
        .as_object()
        .ok_or_else(|| shape("the warning summary is not a JSON object"))?;
    let mut items = Vec::new();
    for (key, w) in map.iter().take(MAX_ITEMS) {
        if !w.is_object() {
            return Err(shape("a warning is not a JSON object"));
        }
        let w = Warning {
            statement: clip(key),
            code: text(w, "code"),
            name: text(w, "name"),
            kind: text(w, "type"),
            action: text(w, "actionCode"),
            issued: time_of(w, "issueTime"),
            expires: time_of(w, "expireTime"),
            updated: time_of(w, "updateTime"),
        };
        if w.name.is_empty() {
            return Err(shape("a warning has no name"));
        }
        if w.action != "CANCEL" {
            items.push(w);
        }
    }
    Ok(Warnings {
        time: latest(items.iter().map(|w| w.updated.or(w.issued))),
        items,
    })
}

/// The text of one warning (`warningInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarningDetail {
    /// The warning statement (`WTS`, `WTCSGNL`...).
    pub statement: String,
    /// The signal's code, where there are several (`TC8NE`, `WRAINA`).
    pub subtype: String,
    /// The paragraphs.
    pub contents: Vec<String>,
    /// Updated at.
    pub updated: Option<i64>,
}

/// The details of the warnings in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarningDetails {
    /// The latest update.
    pub time: Option<i64>,
    /// The details.
    pub items: Vec<WarningDetail>,
}

/// Parse the warning details: `{"details": [...]}`, a bare list, or `{}` when no warning is
/// in force.
pub fn parse_warning_details(body: &str) -> Result<WarningDetails, FeedError> {
    let v = parse_json(body)?;
    let empty = Vec::new();
    let list = match &v {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("details") {
            Some(Value::Array(a)) => a,
            None if o.is_empty() => &empty,
            _ => return Err(shape("`details` is not a list")),
        },
        _ => return Err(shape("the warning details are not a list or an object")),
    };
    let items: Vec<WarningDetail> = list
        .iter()
        .take(MAX_ITEMS)
        .map(|d| WarningDetail {
            statement: text(d, "warningStatementCode"),
            subtype: text(d, "subtype"),
            contents: texts(d.get("contents")),
            updated: time_of(d, "updateTime"),
        })
        .filter(|d| !d.contents.is_empty())
        .collect();
    if items.is_empty() && !list.is_empty() {
        return Err(shape("no warning detail has any text"));
    }
    Ok(WarningDetails {
        time: latest(items.iter().map(|d| d.updated)),
        items,
    })
}

/// The words for an HKO weather icon code, in English and Traditional Chinese (the icons are
/// pictures on the Observatory's site; the page shows their meaning as text).
pub fn icon_name(code: u32) -> Option<(&'static str, &'static str)> {
    Some(match code {
        50 => ("Sunny", "陽光充沛"),
        51 => ("Sunny periods", "間有陽光"),
        52 => ("Sunny intervals", "短暫陽光"),
        53 => ("Sunny periods with a few showers", "間有陽光，有幾陣驟雨"),
        54 => ("Sunny intervals with showers", "短暫陽光，有驟雨"),
        60 => ("Cloudy", "多雲"),
        61 => ("Overcast", "密雲"),
        62 => ("Light rain", "微雨"),
        63 => ("Rain", "雨"),
        64 => ("Heavy rain", "大雨"),
        65 => ("Thunderstorms", "雷暴"),
        70..=75 => ("Fine", "天色良好"),
        76 => ("Mainly cloudy", "大致多雲"),
        77 => ("Mainly fine", "天色大致良好"),
        80 => ("Windy", "大風"),
        81 => ("Dry", "乾燥"),
        82 => ("Humid", "潮濕"),
        83 => ("Fog", "霧"),
        84 => ("Mist", "薄霧"),
        85 => ("Haze", "煙霞"),
        90 => ("Hot", "熱"),
        91 => ("Warm", "暖"),
        92 => ("Cool", "涼"),
        93 => ("Cold", "冷"),
        _ => return None,
    })
}
