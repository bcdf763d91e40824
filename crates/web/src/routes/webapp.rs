//! The resident's web app (an installable PWA) under `/app/`: its shell, scripts, styles,
//! icons, manifest and service worker, all compiled into the program. The app speaks the app
//! API (`/app/v1/...`, `routes::app`) as `iamsmart-app` does; nothing here reads the database.
use crate::AppState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use std::sync::OnceLock;

/// Every file of the app: (name under `/app/static/`, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../webapp/app.css"),
    ),
    (
        "main.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/main.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/api.js"),
    ),
    (
        "der.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/der.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/i18n.js"),
    ),
    (
        "store.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/store.js"),
    ),
    (
        "witness.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/witness.js"),
    ),
    (
        "ui.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/ui.js"),
    ),
    (
        "uv.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/uv.js"),
    ),
    (
        "setup.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/setup.js"),
    ),
    (
        "requests.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/requests.js"),
    ),
    (
        "account.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/account.js"),
    ),
    (
        "scan.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/scan.js"),
    ),
    (
        "scan-worker.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/scan-worker.js"),
    ),
    (
        "vendor/jsQR.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../webapp/vendor/jsQR.js"),
    ),
    (
        "vendor/jsQR.LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../webapp/vendor/jsQR.LICENSE"),
    ),
    (
        "icon-192.png",
        "image/png",
        include_bytes!("../webapp/icon-192.png"),
    ),
    (
        "icon-512.png",
        "image/png",
        include_bytes!("../webapp/icon-512.png"),
    ),
    (
        "icon-maskable-512.png",
        "image/png",
        include_bytes!("../webapp/icon-maskable-512.png"),
    ),
];

const INDEX: &str = include_str!("../webapp/index.html");
const SERVICE_WORKER: &str = include_str!("../webapp/sw.js");
const MANIFEST: &str = include_str!("../webapp/manifest.webmanifest");

/// A short hash of every file: the service worker's cache name, so that a new build replaces
/// the cached shell (the worker's bytes change with it, which makes browsers update it).
fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut all = Vec::new();
        for (name, _, bytes) in FILES {
            all.extend_from_slice(name.as_bytes());
            all.extend_from_slice(bytes);
        }
        all.extend_from_slice(INDEX.as_bytes());
        all.extend_from_slice(MANIFEST.as_bytes());
        hex::encode(&iamsmart_crypto::hash::sha256(&all)[..6])
    })
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app", get(|| async { Redirect::permanent("/app/") }))
        .route("/app/", get(index))
        .route("/app/sw.js", get(service_worker))
        .route("/app/manifest.webmanifest", get(manifest))
        .route("/app/static/{*file}", get(file))
}

async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX,
    )
        .into_response()
}

async fn service_worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SERVICE_WORKER.replace("__VERSION__", version()).replace(
            "__SHELL__",
            &serde_json::to_string(&shell_files()).unwrap_or_else(|_| "[]".into()),
        ),
    )
        .into_response()
}

async fn manifest() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/manifest+json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        MANIFEST,
    )
        .into_response()
}

async fn file(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, bytes)) => {
            let mut res = (StatusCode::OK, *bytes).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            // Revalidated at each start; the service worker serves them offline.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            res
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The files the service worker caches (the app shell): never an API answer.
pub fn shell_files() -> Vec<String> {
    let mut v = vec!["/app/".to_string(), "/app/manifest.webmanifest".to_string()];
    v.extend(
        FILES
            .iter()
            .filter(|(n, _, _)| !n.ends_with(".LICENSE"))
            .map(|(n, _, _)| format!("/app/static/{n}")),
    );
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_module_the_app_imports_is_served() {
        // A module imported by another but missing from FILES would fail only in a browser.
        let names: Vec<&str> = super::FILES.iter().map(|(n, _, _)| *n).collect();
        for (name, _, bytes) in super::FILES {
            if !name.ends_with(".js") || name.starts_with("vendor/") {
                continue;
            }
            let text = std::str::from_utf8(bytes).unwrap();
            for line in text.lines() {
                if let Some(rest) = line.trim_start().strip_prefix("import ") {
                    if let Some(start) = rest.find("'./") {
                        let target = &rest[start + 3..];
                        let target = &target[..target.find('\'').unwrap()];
                        assert!(
                            names.contains(&target),
                            "{name} imports {target}, which is not served"
                        );
                    }
                }
            }
        }
    }

    /// The keys of an object literal's `key: '...'` members in `text`.
    fn keys(text: &str) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for (i, _) in text.match_indices(": '") {
            let head = &text[..i];
            if let Some(quoted) = head.strip_suffix('\'') {
                if let Some(open) = quoted.rfind('\'') {
                    out.insert(quoted[open + 1..].to_string());
                }
                continue;
            }
            let start = head
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |j| j + 1);
            if start < i {
                out.insert(head[start..].to_string());
            }
        }
        out
    }

    #[test]
    fn every_text_is_in_both_languages_and_every_text_used_exists() {
        let i18n =
            std::str::from_utf8(super::FILES.iter().find(|f| f.0 == "i18n.js").unwrap().2).unwrap();
        let en_start = i18n.find("  en: {").unwrap();
        let zh_start = i18n.find("  zh: {").unwrap();
        let end = i18n[zh_start..].find("\n  },\n};").unwrap() + zh_start;
        let (en, zh) = (keys(&i18n[en_start..zh_start]), keys(&i18n[zh_start..end]));
        assert_eq!(
            en.difference(&zh).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "English only"
        );
        assert_eq!(
            zh.difference(&en).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "Chinese only"
        );
        for (name, _, bytes) in super::FILES {
            if !name.ends_with(".js") || name.starts_with("vendor/") {
                continue;
            }
            let text = std::str::from_utf8(bytes).unwrap();
            for (i, _) in text.match_indices("t('") {
                let before = text[..i].chars().last();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                let rest = &text[i + 3..];
                let key = &rest[..rest.find('\'').unwrap()];
                assert!(
                    en.contains(key),
                    "{name} uses t('{key}'), which i18n.js does not have"
                );
            }
        }
    }

    #[test]
    fn the_service_worker_caches_only_the_shell() {
        let sw = super::SERVICE_WORKER;
        assert!(sw.contains("__VERSION__"));
        for f in super::shell_files() {
            assert!(!f.contains("/app/v1/"), "{f}");
        }
    }
}
