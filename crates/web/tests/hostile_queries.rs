//! Every GET route of the platform, in process, with hostile query strings and path segments
//! (bad UTF-8, multi-byte characters where ids are cut, huge and empty values, repeated keys,
//! control characters): nothing answers 500 and nothing panics. A property test over the
//! handlers' input; it once found a byte slice through a character (`/authorize/status`).
use axum::body::Body;
use axum::http::{Request, StatusCode};
use iamsmart_web::{router, AppState, WebConfig};
use proptest::prelude::*;
use std::time::Duration;
use tower::ServiceExt;

const ROUTES: &[&str] = &[
    "/",
    "/.well-known/jwks.json",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/account",
    "/account/callback",
    "/account/consents",
    "/account/dealings",
    "/account/dealings.json",
    "/account/dealings/receipt",
    "/account/notifications",
    "/account/notifications/{}",
    "/account/notifications/settings",
    "/account/passkeys",
    "/account/signatures",
    "/admin/catalogue",
    "/admin/v1/approvals/{}",
    "/admin/v1/catalogue/services",
    "/admin/v1/residents/{}",
    "/app",
    "/app/",
    "/app/manifest.webmanifest",
    "/app/static/{}",
    "/app/sw.js",
    "/app/v1/config",
    "/app/v1/consents",
    "/app/v1/data-consents",
    "/app/v1/data-consents/{}/receipt",
    "/app/v1/dealings",
    "/app/v1/devices",
    "/app/v1/me",
    "/app/v1/me/export",
    "/app/v1/notification-settings",
    "/app/v1/notifications",
    "/app/v1/requests",
    "/app/v1/requests/{}",
    "/authorize",
    "/authorize/continue",
    "/authorize/events",
    "/authorize/status",
    "/connectors/v1/jwks.json",
    "/docs/integration-guide",
    "/eme/v1/requests/{}",
    "/gateway/v1/catalogue",
    "/gateway/v1/consents/{}",
    "/healthz",
    "/logout",
    "/manifest.webmanifest",
    "/pki/crl",
    "/pki/issuing.cer",
    "/pki/ocsp.cer",
    "/pki/ocsp/{}",
    "/pki/root.cer",
    "/pki/root.crl",
    "/pki/tsa.cer",
    "/public",
    "/readyz",
    "/register/{}",
    "/services",
    "/services/{}",
    "/services/{}/go",
    "/sign/v1/requests/{}",
    "/staff/v1/catalogue/services",
    "/staff/v1/me",
    "/staff/v1/staff",
    "/topics/{}/{}",
    "/transparency/v1/consistency",
    "/transparency/v1/entries",
    "/transparency/v1/inclusion",
    "/transparency/v1/keys",
    "/transparency/v1/tree-head",
    "/userinfo",
    "/verify",
];

/// Names handlers read, and some they do not.
const KEYS: &[&str] = &[
    "tx",
    "tx",
    "tx",
    "q",
    "lang",
    "id",
    "page",
    "code",
    "state",
    "client_id",
    "request_uri",
    "redirect_uri",
    "response_type",
    "scope",
    "id_token_hint",
    "post_logout_redirect_uri",
    "first",
    "second",
    "index",
    "size",
    "from",
    "to",
    "hint",
    "text",
    "unread",
    "kind",
    "x",
];

/// Percent-encode every byte (so that any byte sequence, valid UTF-8 or not, reaches the query).
fn enc(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Text with multi-byte characters where ids are cut.
        "[a-zA-Z0-9_-]{0,11}[éあ😀\u{0}\u{7f}]{1,3}[a-z]{0,5}".prop_map(String::into_bytes),
        "[a-z]{10,12}[éあ😀]".prop_map(String::into_bytes),
        // Any bytes, bad UTF-8 included.
        proptest::collection::vec(any::<u8>(), 0..40),
        // Long values.
        (1usize..6).prop_map(|k| vec![b'a'; k * 600]),
        Just(Vec::new()),
    ]
}

fn query() -> impl Strategy<Value = String> {
    proptest::collection::vec((proptest::sample::select(KEYS), value()), 0..5).prop_map(|kv| {
        kv.iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_-]{1,20}".prop_map(|s| s),
        proptest::collection::vec(any::<u8>(), 1..20).prop_map(|b| enc(&b)),
        Just("..".to_string()),
        Just("%2e%2e%2fCargo.toml".to_string()),
    ]
}

#[test]
fn no_get_route_answers_500_or_panics_on_hostile_queries() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, _t) = rt.block_on(async {
        let t = iamsmart_domain::testing::platform().await;
        let state = AppState::new(
            t.p.clone(),
            WebConfig {
                public_url: "http://localhost:8080".into(),
                body_limit: 1024 * 1024,
                upload_limit: 24 * 1024 * 1024,
                request_timeout: Duration::from_secs(20),
                rate: iamsmart_web::limit::RateConfig {
                    per_ip_per_minute: 0,
                    per_client_per_minute: 0,
                    burst: 100,
                },
                trusted_proxies: Vec::new(),
                admin_token_sha256: None,
            },
        );
        (router(state), t)
    });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(
                proptest::sample::select(ROUTES),
                segment(),
                segment(),
                query(),
            ),
            |(route, a, b, q)| {
                let mut path = route.replacen("{}", &a, 1).replacen("{}", &b, 1);
                if !q.is_empty() {
                    path = format!("{path}?{q}");
                }
                let req = Request::get(&path).body(Body::empty()).unwrap();
                let status = rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(30), app.clone().oneshot(req))
                        .await
                        .map(|r| r.map(|r| r.status()))
                });
                let status = status
                    .map_err(|_| TestCaseError::fail(format!("{path}: no answer in 30 s")))?
                    .map_err(|e| TestCaseError::fail(format!("{path}: {e}")))?;
                prop_assert!(
                    status != StatusCode::INTERNAL_SERVER_ERROR,
                    "GET {} answered {}",
                    path,
                    status
                );
                Ok(())
            },
        )
        .unwrap();
}

/// The state of a platform in process, with rate limits off.
fn state(p: &iamsmart_domain::Platform) -> AppState {
    AppState::new(
        p.clone(),
        WebConfig {
            public_url: "http://localhost:8080".into(),
            body_limit: 1024 * 1024,
            upload_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(5),
            rate: iamsmart_web::limit::RateConfig {
                per_ip_per_minute: 0,
                per_client_per_minute: 0,
                burst: 100,
            },
            trusted_proxies: Vec::new(),
            admin_token_sha256: None,
        },
    )
}

/// The case the review found, exactly.
#[test]
fn a_login_status_with_a_character_cut_by_the_cookie_name_is_a_400() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t = iamsmart_domain::testing::platform().await;
        let state = state(&t.p);
        for path in [
            "/authorize/status?tx=aaaaaaaaaaa%C3%A9",
            "/authorize/events?tx=aaaaaaaaaaa%C3%A9",
        ] {
            let res = router(state.clone())
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        }
    });
}

/// Found by the property test above on PostgreSQL, which refuses a NUL character in text: bad
/// input, answered 400 on both engines, never a 500.
#[test]
fn a_nul_character_in_a_parameter_is_a_400() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t = iamsmart_domain::testing::platform().await;
        let state = state(&t.p);
        for path in [
            "/authorize?client_id=%00",
            "/authorize?client_id=a%00b&response_type=code",
        ] {
            let res = router(state.clone())
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert!(res.status().is_client_error(), "{path}: {}", res.status());
        }
    });
}
