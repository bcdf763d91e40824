//! What every page shares: the language (English, Traditional or Simplified Chinese: a `lang` choice
//! remembered in a cookie, then `ui_locales`, then the browser's languages), the large-text
//! option, cookies, and rendering.
use crate::AppState;
use askama::Template;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

/// The reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Traditional Chinese (Hong Kong).
    ZhHant,
    /// Simplified Chinese, as GovHK offers it: the Traditional Chinese text converted
    /// ([`crate::simplified`]) when the page is rendered.
    ZhHans,
}

impl Lang {
    /// Every language, in the order the language links show them.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::ZhHant, Lang::ZhHans];

    /// From a language tag (BCP 47, any case): Simplified for `zh-Hans`, `zh-CN`, `zh-SG` and
    /// `zh-Hans-*`, Traditional for any other Chinese.
    pub fn parse(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase().replace('_', "-");
        let mut parts = t.split('-');
        match parts.next()? {
            "en" => Some(Lang::En),
            "zh" => match parts.next() {
                Some("hans" | "cn" | "sg" | "my") => Some(Lang::ZhHans),
                _ => Some(Lang::ZhHant),
            },
            _ => None,
        }
    }
    /// The HTML `lang` code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhHant => "zh-HK",
            Lang::ZhHans => "zh-Hans",
        }
    }
    /// Whether the language is Chinese (either script).
    pub fn is_chinese(self) -> bool {
        self != Lang::En
    }
    /// The shared language type (for texts a service registered in several languages).
    pub fn locale(self) -> iamsmart_proto::i18n::Locale {
        match self {
            Lang::En => iamsmart_proto::i18n::Locale::En,
            Lang::ZhHant => iamsmart_proto::i18n::Locale::ZhHant,
            Lang::ZhHans => iamsmart_proto::i18n::Locale::ZhHans,
        }
    }
    /// The text in this language. Simplified Chinese pages are written in Traditional Chinese
    /// and converted as a whole when rendered ([`Ui::render`]).
    pub fn t(self, en: &'static str, zh: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::ZhHant | Lang::ZhHans => zh,
        }
    }
    /// The language's own name, as its link shows it.
    fn own_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::ZhHant => "繁體中文",
            // Each name is shown as written, on pages in every language (a verbatim part of a
            // Simplified page: 繁體中文 stays as it is).
            Lang::ZhHans => "简体中文",
        }
    }
}

/// A link to the page in another language.
#[derive(Debug, Clone)]
pub struct LangLink {
    /// The page in that language.
    pub url: String,
    /// The language's own name.
    pub label: String,
    /// Its `lang` code.
    pub code: &'static str,
}

/// The page's presentation: language and text size, with the links that switch them.
#[derive(Debug, Clone)]
pub struct Ui {
    /// Language.
    pub lang: Lang,
    /// Large text.
    pub large: bool,
    /// Set these cookies (a choice just made).
    pub remember: Vec<HeaderValue>,
    path: String,
}

/// What templates read of [`Ui`].
#[derive(Debug, Clone)]
pub struct UiView {
    /// `en`, `zh-HK` or `zh-Hans`.
    pub lang: &'static str,
    /// The `lang` code of Chinese text on this page (`zh-Hans` on a Simplified page, else
    /// `zh-HK`), for the brand name and other Chinese shown on every page.
    pub zh_code: &'static str,
    /// Body class.
    pub body_class: &'static str,
    /// Links to the other languages.
    pub other_langs: Vec<LangLink>,
    /// Link that toggles large text.
    pub text_url: String,
    /// Its label.
    pub text_label: &'static str,
    /// "Skip to content".
    pub skip_label: &'static str,
    /// The name of the language and text size links.
    pub prefs_label: &'static str,
    /// The colon after a label: `: `, or the full-width `：` in Chinese.
    pub colon: &'static str,
    /// The separator of a list in running text: `; `, or `；` in Chinese.
    pub semicolon: &'static str,
    /// The separator of the items of a short list: `, `, or the enumeration comma `、`.
    pub list_sep: &'static str,
    /// Brackets around an aside: ` (` and `)`, or the full-width `（` and `）`.
    pub paren_open: &'static str,
    /// See `paren_open`.
    pub paren_close: &'static str,
}

fn with_query(path: &str, kv: &str) -> String {
    format!("{path}{}{kv}", if path.contains('?') { '&' } else { '?' })
}

impl Ui {
    /// From the request: `lang` / `text` query choices (remembered), cookies, `ui_locales`, the
    /// browser's languages. `base` is the URL the switch links go to (a page that can be shown
    /// again without side effects).
    pub fn new(
        s: &AppState,
        headers: &HeaderMap,
        uri: &Uri,
        ui_locales: Option<&str>,
        base: &str,
    ) -> Ui {
        let q = crate::oauth::parse_form(uri.query().unwrap_or_default().as_bytes());
        let chosen = q
            .get("lang")
            .and_then(|v| v.first())
            .and_then(|v| Lang::parse(v));
        let text = q.get("text").and_then(|v| v.first()).map(String::as_str);
        let mut remember = Vec::new();
        if let Some(l) = chosen {
            remember.push(cookie(
                s,
                "iamsmart-lang",
                l.code(),
                "/",
                365 * 86400,
                false,
            ));
        }
        if let Some(t) = text.filter(|t| ["large", "normal"].contains(t)) {
            remember.push(cookie(s, "iamsmart-text", t, "/", 365 * 86400, false));
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let lang = chosen
            .or_else(|| read_cookie(headers, "iamsmart-lang").and_then(Lang::parse))
            .or_else(|| {
                ui_locales
                    .unwrap_or_default()
                    .split(' ')
                    .find_map(Lang::parse)
            })
            .or_else(|| {
                accept
                    .split(',')
                    .find_map(|t| Lang::parse(t.split(';').next().unwrap_or_default()))
            })
            .unwrap_or(Lang::En);
        let large = match text {
            Some("large") => true,
            Some("normal") => false,
            _ => read_cookie(headers, "iamsmart-text") == Some("large"),
        };
        Ui {
            lang,
            large,
            remember,
            path: base.to_string(),
        }
    }

    /// The template view.
    pub fn view(&self) -> UiView {
        UiView {
            lang: self.lang.code(),
            zh_code: if self.lang == Lang::ZhHans {
                Lang::ZhHans.code()
            } else {
                Lang::ZhHant.code()
            },
            body_class: if self.large { "large" } else { "" },
            other_langs: Lang::ALL
                .into_iter()
                .filter(|l| *l != self.lang)
                .map(|l| LangLink {
                    url: with_query(&self.path, &format!("lang={}", l.code())),
                    label: crate::simplified::verbatim(l.own_name()),
                    code: l.code(),
                })
                .collect(),
            text_url: with_query(
                &self.path,
                if self.large {
                    "text=normal"
                } else {
                    "text=large"
                },
            ),
            text_label: match (self.lang, self.large) {
                (Lang::En, false) => "Larger text",
                (Lang::En, true) => "Normal text",
                (_, false) => "放大字體",
                (_, true) => "正常字體",
            },
            skip_label: self.lang.t("Skip to content", "跳至內容"),
            prefs_label: self.lang.t("Language and text size", "語言及字體大小"),
            colon: self.lang.t(": ", "："),
            semicolon: self.lang.t("; ", "；"),
            list_sep: self.lang.t(", ", "、"),
            paren_open: self.lang.t(" (", "（"),
            paren_close: self.lang.t(")", "）"),
        }
    }

    /// Render a page with this presentation's cookies, in Simplified Chinese where that is the
    /// language.
    pub fn render<T: Template>(&self, status: StatusCode, t: &T) -> Response {
        let mut res = render_in(status, t, self.lang == Lang::ZhHans);
        for c in &self.remember {
            res.headers_mut().append(header::SET_COOKIE, c.clone());
        }
        res
    }
}

/// A cookie name, with the `__Host-` prefix when served over TLS.
pub fn cookie_name(s: &AppState, base: &str) -> String {
    if s.config.public_url.starts_with("https://") {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// A `Set-Cookie` value: `SameSite=Lax`, `Secure` over TLS, `HttpOnly` unless `script`.
pub fn cookie(
    s: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    http_only: bool,
) -> HeaderValue {
    set_cookie(
        s.config.public_url.starts_with("https://"),
        name,
        value,
        path,
        max_age,
        http_only,
    )
}

/// [`cookie`] for a site served over TLS (`tls`) or not: a `__Host-` name always gets `Path=/`.
fn set_cookie(
    tls: bool,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    http_only: bool,
) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let path = if name.starts_with("__Host-") {
        "/"
    } else {
        path
    };
    let ho = if http_only { "; HttpOnly" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}{ho}; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// A cookie's value from the request.
pub fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The name of the browser session cookie.
pub fn session_cookie(s: &AppState) -> String {
    cookie_name(s, "iamsmart-session")
}

/// The session cookie of the request, if any.
pub fn session_of<'a>(s: &AppState, headers: &'a HeaderMap) -> Option<&'a str> {
    read_cookie(headers, &session_cookie(s))
}

/// Set the browser session cookie.
pub fn set_session(s: &AppState, res: &mut Response, secret: &str) {
    let ttl = s.platform.oidc.provider.policy.session_ttl_ms / 1000;
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie(s, &session_cookie(s), secret, "/", ttl, true),
    );
}

/// Render a template as a no-store HTML page, converted to Simplified Chinese when
/// `simplified`. Pages are rendered through [`Ui::render`], which knows the language.
fn render_in<T: Template>(status: StatusCode, t: &T, simplified: bool) -> Response {
    match t.render() {
        Ok(html) => (
            status,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            ],
            Html(crate::simplified::finish_page(html, simplified)),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "page error").into_response()
        }
    }
}

#[cfg(test)]
mod cookie_tests {
    use super::set_cookie;

    #[test]
    fn cookies_over_tls_are_host_only_secure_http_only_and_same_site() {
        let c = set_cookie(
            true,
            "__Host-iamsmart-session",
            "v",
            "/account",
            28_800,
            true,
        );
        let c = c.to_str().unwrap();
        assert_eq!(
            c,
            "__Host-iamsmart-session=v; Path=/; Max-Age=28800; HttpOnly; SameSite=Lax; Secure"
        );
        // Without TLS (the sandbox on 127.0.0.1) there is no Secure, and so no __Host- name.
        let c = set_cookie(false, "iamsmart-session", "v", "/", 60, true);
        assert_eq!(
            c.to_str().unwrap(),
            "iamsmart-session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        // A value that would break the header never becomes one.
        assert_eq!(
            set_cookie(true, "a", "x\r\nSet-Cookie: b=1", "/", 1, true),
            "invalid=1"
        );
    }
}
