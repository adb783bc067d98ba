//! Prometheus metrics.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Method.
    pub method: String,
    /// Route as registered (not the raw path, to bound cardinality).
    pub route: String,
    /// Status code.
    pub status: u16,
}

/// Labels of a route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route as registered.
    pub route: String,
}

/// Labels of a rate-limit policy.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    /// Policy name.
    pub policy: String,
}

/// Labels of a trust-list refusal.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TrustRefusalLabels {
    /// `expired`, `rollback`, `invalid` or `unreachable`.
    pub reason: String,
}

/// Labels of a passwordless-login event.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    /// The audit event name (`AUTH_INITIATE`, `AUTH_APPROVE`, …).
    pub event: String,
}

/// Labels of a push delivery.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PushLabels {
    /// `fcm` or `channel`.
    pub transport: String,
    /// `sent`, `token_dead`, `failed`.
    pub outcome: String,
}

/// All metrics of one server.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Requests by method, route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by route.
    pub latency: Family<RouteLabels, Histogram>,
    /// Refusals by rate-limit policy.
    pub rate_limited: Family<PolicyLabels, Counter>,
    /// Keys currently published in the JWKS.
    pub published_keys: Gauge,
    /// Trust lists the cache refused to use, by reason (a list past NextUpdate is `expired`).
    pub trust_refused: Family<TrustRefusalLabels, Counter>,
    /// Passwordless-login events.
    pub logins: Family<LoginLabels, Counter>,
    /// Push deliveries by transport and outcome.
    pub pushes: Family<PushLabels, Counter>,
    /// Open WebSockets (browser and device).
    pub sockets: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("idseal");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let rate_limited = Family::<PolicyLabels, Counter>::default();
        let published_keys = Gauge::default();
        let trust_refused = Family::<TrustRefusalLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency", latency.clone());
        registry.register("rate_limited", "Requests refused by a rate-limit policy", rate_limited.clone());
        registry.register("published_keys", "Signing keys published in the JWKS", published_keys.clone());
        registry.register("trust_list_refused", "Trust lists refused by the cache, by reason", trust_refused.clone());
        let logins = Family::<LoginLabels, Counter>::default();
        let pushes = Family::<PushLabels, Counter>::default();
        let sockets = Gauge::default();
        registry.register("passwordless_events", "Passwordless-login events", logins.clone());
        registry.register("push_deliveries", "Push deliveries by transport and outcome", pushes.clone());
        registry.register("open_websockets", "Open browser and device WebSockets", sockets.clone());
        Self {
            registry: Arc::new(registry),
            requests,
            latency,
            rate_limited,
            published_keys,
            trust_refused,
            logins,
            pushes,
            sockets,
        }
    }
}

impl Metrics {
    /// Counts a passwordless-login event.
    pub fn x1280(&self, event: &str) {
        self.logins.get_or_create(&LoginLabels { event: event.to_owned() }).inc();
    }

    /// Counts a push delivery.
    pub fn push(&self, transport: &str, outcome: &str) {
        self.pushes.get_or_create(&PushLabels { transport: transport.to_owned(), outcome: outcome.to_owned() }).inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl crate::trust_cache::CacheObserver for Metrics {
    fn refused(&self, reason: &'static str) {
        self.trust_refused.get_or_create(&TrustRefusalLabels { reason: reason.to_owned() }).inc();
    }
}
