//! The HTTP face of the platform: routes, middleware, and the one mapping from errors to HTTP.
//!
//! JSON APIs answer errors as RFC 9457 problem details carrying the request's correlation id;
//! OAuth endpoints (added by the OpenID Connect provider) keep their RFC error format.

pub mod error;
pub mod ids;
pub mod limit;
pub mod metrics;
pub mod middleware;
pub mod oauth;
pub mod resource;
pub mod routes;
pub mod simplified;

use axum::Router;
use iamsmart_domain::Platform;
use std::sync::Arc;
use std::time::Duration;

/// HTTP settings the router needs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The public base URL (`https://...` turns on HSTS).
    pub public_url: String,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Largest body of calls that carry images (registration, upgrade, kiosk).
    pub upload_limit: usize,
    /// Time limit for one request.
    pub request_timeout: Duration,
    /// Rate limits.
    pub rate: limit::RateConfig,
    /// The reverse proxies in front of the platform: behind one of these, the client is the last
    /// address that `X-Forwarded-For` names before a trusted proxy (none trusted by default:
    /// the header is then ignored, as anyone can send it).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// SHA-256 of the operator API token, if one is configured.
    pub admin_token_sha256: Option<[u8; 32]>,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The platform (behind one `Arc`: axum clones the state for every handler, and the
    /// platform's services hold copies of one another).
    pub platform: Arc<Platform>,
    /// HTTP settings.
    pub config: Arc<WebConfig>,
    /// Metrics registry and instruments.
    pub metrics: Arc<metrics::HttpMetrics>,
    /// Rate limiter.
    pub limiter: Arc<limit::RateLimiter>,
    /// Live-status streams open in this process.
    pub streams: Arc<limit::StreamCounts>,
}

impl AppState {
    /// State for a platform with the given settings.
    pub fn new(platform: Platform, config: WebConfig) -> Self {
        let limiter = Arc::new(limit::RateLimiter::new(config.rate, platform.clock.clone()));
        Self {
            platform: Arc::new(platform),
            config: Arc::new(config),
            metrics: Arc::new(metrics::HttpMetrics::new()),
            limiter,
            streams: Arc::new(limit::StreamCounts::default()),
        }
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let api = routes::routes(
        state.clone(),
        state.config.body_limit,
        state.config.upload_limit,
    );
    middleware::wrap(api, state)
}
