//! Simplified Chinese, written from the Traditional Chinese (Hong Kong) texts, as GovHK offers
//! it: OpenCC's Hong Kong to Simplified conversion (phrases first, so that a Hong Kong term
//! keeps its meaning and becomes its Simplified spelling, not a mainland word: 通行密匙 stays
//! 通行密匙, 流動應用程式 becomes 流动应用程式). `docs/GLOSSARY.md` lists each term in the three
//! languages; a test holds the converter to its Simplified column.
//!
//! A page in Simplified Chinese is rendered in Traditional Chinese and converted as a whole, so
//! no text can be missed. What must not change (a resident's name as on the identity card, an
//! address the resident typed) is marked with [`verbatim`] and left as it is.
use crate::routes::pages::common::Lang;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use ferrous_opencc::config::BuiltinConfig;
use ferrous_opencc::OpenCC;
use serde_json::Value;
use std::sync::OnceLock;

/// Starts a part of a page left as it is (a private-use character, never in real text).
const VERBATIM_START: char = '\u{E000}';
/// Ends it.
const VERBATIM_END: char = '\u{E001}';

fn converter() -> Option<&'static OpenCC> {
    static CONVERTER: OnceLock<Option<OpenCC>> = OnceLock::new();
    CONVERTER
        .get_or_init(|| match OpenCC::from_config(BuiltinConfig::Hk2s) {
            Ok(c) => Some(c),
            Err(e) => {
                // Built-in dictionaries: cannot fail unless the crate is broken. The pages then
                // stay in Traditional Chinese, which a Simplified reader can still read.
                tracing::error!(error = %e, "the Simplified Chinese converter did not load");
                None
            }
        })
        .as_ref()
}

/// Loads the dictionaries now rather than on the first Simplified page.
pub fn warm_up() {
    let _ = converter();
}

/// `text` (Traditional Chinese, Hong Kong) in Simplified Chinese. Anything else in it (Latin
/// letters, digits, markup) is left as it is.
pub fn to_simplified(text: &str) -> String {
    match converter() {
        Some(c) if text.chars().any(is_han) => c.convert(text),
        _ => text.to_string(),
    }
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3134F}')
}

/// `text` marked to be left as it is when its page is converted to Simplified Chinese.
pub fn verbatim(text: &str) -> String {
    // The markers themselves cannot come from the text.
    let clean: String = text
        .chars()
        .filter(|c| *c != VERBATIM_START && *c != VERBATIM_END)
        .collect();
    format!("{VERBATIM_START}{clean}{VERBATIM_END}")
}

/// A rendered page: converted to Simplified Chinese when `simplified`, except its verbatim
/// parts; the markers removed in every language.
pub fn finish_page(html: String, simplified: bool) -> String {
    if !simplified && !html.contains(VERBATIM_START) {
        return html;
    }
    let mut out = String::with_capacity(html.len() + html.len() / 8);
    let mut rest = html.as_str();
    loop {
        let (convert, after) = match rest.split_once(VERBATIM_START) {
            Some((before, after)) => (before, Some(after)),
            None => (rest, None),
        };
        if simplified {
            out.push_str(&to_simplified(convert));
        } else {
            out.push_str(convert);
        }
        let Some(after) = after else { break };
        let (kept, next) = after.split_once(VERBATIM_END).unwrap_or((after, ""));
        out.push_str(kept);
        rest = next;
    }
    out.retain(|c| c != VERBATIM_END);
    out
}

/// The app API's answers for the web app in Simplified Chinese (its first `Accept-Language`):
/// every Chinese text the platform gives gains its Simplified form beside it, `<field>_zh_hans`
/// beside `<field>_zh`, and `"zh-Hans"` beside `"zh"` or `"zh-Hant"` where a service registered
/// none; nothing is removed or changed, and other callers get the answer untouched.
pub async fn app_answers_in_simplified_chinese(req: Request, next: Next) -> Response {
    let simplified = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|tag| Lang::parse(tag.split(';').next().unwrap_or_default()))
        == Some(Lang::ZhHans);
    let res = next.run(req).await;
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !simplified || !json || !res.status().is_success() {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // Our own handler's answer, already in memory.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "an app answer could not be read back");
            return Response::from_parts(parts, Body::empty());
        }
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    add_simplified(&mut value);
    let Ok(out) = serde_json::to_vec(&value) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

/// Adds the Simplified forms to a JSON answer (see [`app_answers_in_simplified_chinese`]).
fn add_simplified(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(add_simplified),
        Value::Object(map) => {
            map.values_mut().for_each(add_simplified);
            let mut added = Vec::new();
            for (key, v) in map.iter() {
                // A resident's name is given as recorded, never converted.
                if key == "name_zh" {
                    continue;
                }
                if let (Some(base), Value::String(text)) = (key.strip_suffix("_zh"), v) {
                    let k = format!("{base}_zh_hans");
                    if !map.contains_key(&k) {
                        added.push((k, to_simplified(text)));
                    }
                }
            }
            if map.get("zh-Hans").is_none_or(Value::is_null) {
                if let Some(Value::String(text)) = map.get("zh").or_else(|| map.get("zh-Hant")) {
                    added.push(("zh-Hans".to_string(), to_simplified(text)));
                }
            }
            for (k, v) in added {
                map.insert(k, Value::String(v));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hong_kong_terms_become_their_simplified_spelling() {
        assert_eq!(to_simplified("通行密匙"), "通行密匙");
        assert_eq!(to_simplified("流動應用程式"), "流动应用程式");
        assert_eq!(to_simplified("數碼簽署"), "数码签署");
        assert_eq!(to_simplified("填表通"), "填表通");
        assert_eq!(
            to_simplified("是否同意提供以下個人資料？"),
            "是否同意提供以下个人资料？"
        );
        // Latin text and markup pass through.
        assert_eq!(
            to_simplified("<a href=\"/x?lang=zh\">iAM Smart 智方便</a>"),
            "<a href=\"/x?lang=zh\">iAM Smart 智方便</a>"
        );
    }

    #[test]
    fn app_answers_gain_simplified_forms_beside_the_traditional() {
        let mut v = serde_json::json!({
            "items": [{"title_en": "Driving licence", "title_zh": "駕駛執照", "provider_zh": "運輸署"}],
            "title": {"en": "New notice", "zh": "新通知"},
            "service": {"en": "Permit", "zh-Hant": "許可證", "zh-Hans": null},
            "registered": {"zh-Hant": "許可證", "zh-Hans": "许可证（自订）"},
            "verified": {"name_zh": "陳大文"},
        });
        add_simplified(&mut v);
        assert_eq!(v["items"][0]["title_zh_hans"], "驾驶执照");
        assert_eq!(v["items"][0]["provider_zh_hans"], "运输署");
        assert_eq!(v["items"][0]["title_zh"], "駕駛執照");
        assert_eq!(v["title"]["zh-Hans"], "新通知");
        assert_eq!(v["service"]["zh-Hans"], "许可证");
        // What a service registered in Simplified Chinese is its own.
        assert_eq!(v["registered"]["zh-Hans"], "许可证（自订）");
        assert!(v["verified"].get("name_zh_hans").is_none());
    }

    #[tokio::test]
    async fn the_layer_converts_only_for_a_simplified_reader_and_only_json() {
        use axum::routing::get;
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route(
                "/json",
                get(|| async { axum::Json(serde_json::json!({"title_zh": "駕駛執照"})) }),
            )
            .route("/text", get(|| async { "駕駛執照" }))
            .layer(axum::middleware::from_fn(app_answers_in_simplified_chinese));
        let call = |path: &'static str, lang: &'static str| {
            let app = app.clone();
            async move {
                let req = axum::http::Request::get(path)
                    .header(header::ACCEPT_LANGUAGE, lang)
                    .body(Body::empty())
                    .unwrap();
                let res = app.oneshot(req).await.unwrap();
                let body = axum::body::to_bytes(res.into_body(), 1 << 20)
                    .await
                    .unwrap();
                String::from_utf8(body.to_vec()).unwrap()
            }
        };
        let hans = call("/json", "zh-Hans, en;q=0.5").await;
        assert!(hans.contains("\"title_zh_hans\":\"驾驶执照\""), "{hans}");
        assert!(hans.contains("\"title_zh\":\"駕駛執照\""), "{hans}");
        assert!(!call("/json", "zh-HK").await.contains("title_zh_hans"));
        assert!(!call("/json", "en").await.contains("title_zh_hans"));
        assert_eq!(call("/text", "zh-CN").await, "駕駛執照");
    }

    #[test]
    fn verbatim_parts_are_left_as_they_are_and_the_markers_removed() {
        let page = format!("<p>姓名：{}（香港）</p>", verbatim("陳大文"));
        // 陳 would become 陈.
        assert_eq!(
            finish_page(page.clone(), true),
            "<p>姓名：陳大文（香港）</p>"
        );
        assert_eq!(finish_page(page, false), "<p>姓名：陳大文（香港）</p>");
        // A text cannot smuggle markers in; an unclosed part ends the page.
        let sneaky = format!("{}資料", verbatim("\u{E001}陳\u{E000}"));
        assert_eq!(finish_page(sneaky, true), "陳资料");
        assert_eq!(finish_page("資料\u{E000}陳".into(), true), "资料陳");
    }
}
