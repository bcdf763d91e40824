//! The HTTP baseline every route gets: request ids, structured access logs, security headers,
//! body limits, time limits, rate limits, metrics, and problem-details bodies for every error.
use crate::error::{ApiError, RequestId};
use crate::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::net::SocketAddr;
use std::time::Instant;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

/// The request id header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Content Security Policy of every response: nothing from elsewhere, no inline scripts, no framing.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; manifest-src 'self'; worker-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

/// Wrap the routes in the baseline layers (outermost last).
pub fn wrap(routes: Router, state: AppState) -> Router {
    let cfg = state.config.clone();
    routes
        .route_layer(from_fn_with_state(state.clone(), record_metrics))
        .layer(from_fn_with_state(state.clone(), durable))
        .layer(from_fn_with_state(state.clone(), rate_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            cfg.request_timeout,
        ))
        // A handler that panics answers 500 with the request's correlation id (added below)
        // instead of dropping the connection; the process goes on.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(from_fn_with_state(state.clone(), security_headers))
        .layer(from_fn(problem_bodies))
        .layer(from_fn(access_log))
        .layer(from_fn_with_state(state, request_id))
}

/// The answer to a request whose handler panicked. The panic's message is not logged: it may
/// quote the input that caused it.
fn panicked(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; answered 500");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Something went wrong on our side",
    )
    .detail("quote the correlation id when you contact support")
    .into_response()
}

fn valid_request_id(v: &str) -> bool {
    (8..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn request_id(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| iamsmart_crypto::rng::token(state.platform.rng.as_ref(), 12));
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    res
}

async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // The path only: query strings may carry codes, tokens or personal data.
    let path = req.uri().path().to_string();
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    // Work done for the request (its SQL statements, on the database's own threads too) is
    // inside this span: `profile-logins` and the statement budget test count it per request.
    // A debug span, so at the default level it costs an atomic load.
    let span = tracing::debug_span!("request", %method, %path);
    let res = next.run(req).instrument(span).await;
    let status = res.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(request_id = %id, %method, %path, status, ms, "request");
    } else {
        tracing::info!(request_id = %id, %method, %path, status, ms, "request");
    }
    res
}

async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if state.config.public_url.starts_with("https://") {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    res
}

/// Who is asking (for rate limits and attempt counters): the peer's address, or, when the peer
/// is one of the trusted proxies, the address the last trusted proxy saw, read from the right of
/// `X-Forwarded-For` (the left of it is whatever the client chose to send).
pub fn client_ip(state: &AppState, req: &Request) -> String {
    let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return "unknown".into();
    };
    forwarded_client(&state.config.trusted_proxies, peer, req.headers()).to_string()
}

/// The client behind `peer` given the `X-Forwarded-For` headers and the trusted proxies.
pub fn forwarded_client(
    trusted: &[ipnet::IpNet],
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A hop a trusted proxy would not have written: stop at the last good one.
            Err(_) => break,
        }
    }
    client
}

/// The key of an address for rate limits: IPv6 clients are grouped by /64 (one network hands
/// out a whole /64, so single addresses would be fresh limits for free).
pub fn limit_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => ip.to_string(),
    }
}

async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if matches!(path, "/healthz" | "/readyz") {
        return next.run(req).await;
    }
    let rate = state.limiter.config();
    let ip = client_ip(&state, &req);
    let mut verdict = state
        .limiter
        .check(&format!("ip:{}", limit_key(&ip)), rate.per_ip_per_minute);
    if verdict.is_ok() {
        if let Some(auth) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let digest = iamsmart_crypto::hash::sha256(auth.as_bytes());
            verdict = state.limiter.check(
                &format!("client:{}", hex::encode(&digest[..12])),
                rate.per_client_per_minute,
            );
        }
    }
    match verdict {
        Ok(()) => next.run(req).await,
        Err(wait) if path.starts_with("/api/v1/") && req.method() == axum::http::Method::POST => {
            let rid = req.extensions().get::<crate::error::RequestId>().cloned();
            crate::routes::osp_api::rate_limited(rid, wait)
        }
        Err(wait) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            )
            .detail(format!("slow down; try again in {wait} s"));
            e.retry_after = Some(wait);
            e.into_response()
        }
    }
}

/// Answer only once what the request committed is on disk (group commit: one flush serves every
/// request waiting at that moment). Routes that never write skip it.
async fn durable(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let skip = matches!(path, "/healthz" | "/readyz" | "/metrics" | "/app/" | "/app/sw.js")
        || path.starts_with("/static/")
        || path.starts_with("/app/static/")
        || path.starts_with("/.well-known/")
        || path.starts_with("/docs/")
        // Certificates, CRLs, OCSP answers and timestamps are made without writing anything.
        || path.starts_with("/pki/");
    let res = next.run(req).await;
    if skip {
        return res;
    }
    match state.platform.db.durable().await {
        Ok(()) => res,
        Err(e) => {
            tracing::error!(error = %e, "flush to disk failed");
            let mut a = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage-unavailable",
                "Storage unavailable",
            )
            .detail("the platform could not confirm that your request was saved; please check and try again");
            a.retry_after = Some(30);
            a.into_response()
        }
    }
}

async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    let m = &state.metrics;
    m.requests
        .get_or_create(&crate::metrics::RequestLabels {
            route: route.clone(),
            method: method.clone(),
            status: res.status().as_u16(),
        })
        .inc();
    m.latency
        .get_or_create(&crate::metrics::RouteLabels { route, method })
        .observe(started.elapsed().as_secs_f64());
    res
}

/// Every error response leaves as problem details with the correlation id: handler errors get
/// the id added, and plain-text errors from the framework (413, 415, 405, 404, JSON rejections)
/// are rewritten.
async fn problem_bodies(req: Request, next: Next) -> Response {
    let id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let ctype = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let is_problem = ctype.starts_with("application/problem+json");
    if !is_problem && (ctype.starts_with("application/json") || ctype.starts_with("text/html")) {
        // OAuth error bodies and pages have their own formats.
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut value: serde_json::Value = if is_problem {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| serde_json::json!({}))
    } else {
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        let (slug, title) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "The request body is too large"),
            StatusCode::NOT_FOUND => ("not-found", "Not found"),
            StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported-media-type", "Send application/json")
            }
            StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "Service temporarily unavailable"),
            s if s.is_server_error() => ("internal", "Something went wrong on our side"),
            _ => ("bad-request", "The request is not valid"),
        };
        let detail = if status.is_server_error() || text.is_empty() {
            None
        } else {
            Some(text)
        };
        serde_json::json!({
            "type": format!("https://iamsmart.example/problems/{slug}"),
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        })
    };
    if let (Some(obj), Some(id)) = (value.as_object_mut(), id) {
        obj.insert("correlation_id".into(), serde_json::Value::String(id));
        obj.retain(|_, v| !v.is_null());
    }
    let body = serde_json::to_vec(&value).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was never read: the connection cannot carry another request.
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod forwarded_tests {
    use super::{forwarded_client, limit_key};
    use axum::http::HeaderMap;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn x_forwarded_for_counts_only_through_trusted_proxies() {
        let proxy: ipnet::IpNet = "10.0.0.0/8".parse().unwrap();
        let peer_proxy = "10.1.2.3".parse().unwrap();
        let stranger = "203.0.113.9".parse().unwrap();
        // No trusted proxy: whatever the header says, the peer is the client.
        assert_eq!(
            forwarded_client(&[], stranger, &headers(&["198.51.100.1"])),
            stranger
        );
        // A stranger is not a proxy even when proxies are trusted.
        assert_eq!(
            forwarded_client(&[proxy], stranger, &headers(&["198.51.100.1"])),
            stranger
        );
        // Behind the proxy: the address it appended, not what the client wrote before it.
        let h = headers(&["1.1.1.1, 198.51.100.7"]);
        assert_eq!(
            forwarded_client(&[proxy], peer_proxy, &h),
            "198.51.100.7".parse::<std::net::IpAddr>().unwrap()
        );
        // Two proxies of ours, the header split over two lines.
        let h = headers(&["6.6.6.6, 198.51.100.8", "10.9.9.9"]);
        assert_eq!(
            forwarded_client(&[proxy], peer_proxy, &h),
            "198.51.100.8".parse::<std::net::IpAddr>().unwrap()
        );
        // Garbage where a proxy of ours would have written an address: the last good hop.
        let h = headers(&["198.51.100.9, not-an-ip"]);
        assert_eq!(forwarded_client(&[proxy], peer_proxy, &h), peer_proxy);
        // No header at all: the proxy itself.
        assert_eq!(
            forwarded_client(&[proxy], peer_proxy, &HeaderMap::new()),
            peer_proxy
        );
    }

    proptest::proptest! {
        /// Whatever a client writes into `X-Forwarded-For` before our proxies add to it, the
        /// address counted is the one the outermost trusted proxy saw; from a peer that is not a
        /// proxy of ours the header counts for nothing.
        #[test]
        fn what_a_client_writes_before_our_proxies_never_counts(
            junk in proptest::collection::vec("[0-9a-f.:, x]{0,24}", 0..4),
            client in proptest::array::uniform4(0u8..),
            proxies in proptest::collection::vec(proptest::array::uniform3(0u8..), 0..3),
            peer in proptest::array::uniform3(0u8..),
            stranger in proptest::array::uniform4(0u8..),
        ) {
            let trusted: ipnet::IpNet = "10.0.0.0/8".parse().unwrap();
            let mut client = std::net::Ipv4Addr::from(client);
            if client.octets()[0] == 10 {
                client = std::net::Ipv4Addr::new(11, 0, 0, 1);
            }
            let ours = |b: [u8; 3]| std::net::Ipv4Addr::new(10, b[0], b[1], b[2]).to_string();
            let mut line: Vec<String> = junk.clone();
            line.push(client.to_string());
            line.extend(proxies.iter().map(|b| ours(*b)));
            let h = headers(&[line.join(", ").as_str()]);
            let peer: std::net::IpAddr = ours(peer).parse().unwrap();
            proptest::prop_assert_eq!(forwarded_client(&[trusted], peer, &h), std::net::IpAddr::V4(client));
            let stranger = std::net::IpAddr::V4(std::net::Ipv4Addr::from(stranger));
            if !trusted.contains(&stranger) {
                proptest::prop_assert_eq!(forwarded_client(&[trusted], stranger, &h), stranger);
            }
        }
    }

    #[test]
    fn ipv6_clients_share_a_limit_per_64() {
        assert_eq!(
            limit_key("2001:db8:1:2:aaaa::1"),
            limit_key("2001:db8:1:2:ffff:1:2:3")
        );
        assert_ne!(limit_key("2001:db8:1:2::1"), limit_key("2001:db8:1:3::1"));
        assert_eq!(limit_key("192.0.2.1"), "192.0.2.1");
        assert_eq!(limit_key("unknown"), "unknown");
    }
}
