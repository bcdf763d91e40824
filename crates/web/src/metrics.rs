//! Prometheus metrics: requests and latency per route, database pools, key operations.
//! The registry belongs to the application state (no global recorder), so several servers in
//! one test process keep their own figures.
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// Labels of a request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route pattern (`/admin/v1/residents/{id}`), never the concrete path.
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// Status code.
    pub status: u16,
}

/// Labels of a latency observation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route pattern.
    pub route: String,
    /// HTTP method.
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The metrics of one server.
pub struct HttpMetrics {
    registry: Mutex<Registry>,
    /// Requests by route, method and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Latency by route and method, in seconds.
    pub latency: HistogramFamily,
    pool: Family<PoolLabels, Gauge>,
    key_ops: Family<OpLabels, Counter>,
}

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpMetrics")
    }
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpMetrics {
    /// A fresh registry with the platform's instruments.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("iamsmart");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let pool = Family::<PoolLabels, Gauge>::default();
        let key_ops = Family::<OpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections by pool and state",
            pool.clone(),
        );
        registry.register(
            "key_operations",
            "Key store operations by kind",
            key_ops.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            latency,
            pool,
            key_ops,
        }
    }

    /// The text exposition, with the database's pool and the key store's figures read now.
    pub fn render(
        &self,
        db: &iamsmart_store::Db,
        keys: &iamsmart_domain::keys::KeyService,
    ) -> String {
        let reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let (ws, wi, rs, ri) = db.pool_stats();
        for (pool, state, v) in [
            ("writer", "open", ws as i64),
            ("writer", "idle", wi as i64),
            ("reader", "open", rs as i64),
            ("reader", "idle", ri as i64),
        ] {
            self.pool
                .get_or_create(&PoolLabels {
                    pool: pool.into(),
                    state: state.into(),
                })
                .set(v);
        }
        let c = &keys.counters;
        for (op, v) in [
            ("sign", &c.sign),
            ("wrap", &c.wrap),
            ("unwrap", &c.unwrap),
            ("error", &c.errors),
        ] {
            let counter = self.key_ops.get_or_create(&OpLabels { op: op.into() });
            let now = v.load(Ordering::Relaxed);
            let seen = counter.get();
            if now > seen {
                counter.inc_by(now - seen);
            }
        }
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        out
    }
}
