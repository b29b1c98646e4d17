//! [`ApiMetrics`]: what every AWS client records about its calls. The call path
//! (`query`) records into it and `crate::telemetry` registers it with the operator's other
//! metrics; it sits here, under both, so the call path needs nothing from above.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The API action, e.g. `CreateLoadBalancer`.
    pub action: String,
    /// `success`, or the error kind label (`throttled`, `retryable`, `not_found`, ...).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub action: String,
}

/// The latency buckets of every duration histogram: 5 ms to about 41 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Metrics of one AWS API client (ELB, EC2): calls by action and outcome (throttles
/// included), latency, and time spent waiting for the client-side rate limiter.
#[derive(Clone)]
pub struct ApiMetrics {
    pub calls: Family<CallLabels, Counter>,
    pub latency: Family<ActionLabels, Histogram, fn() -> Histogram>,
    pub rate_limiter_wait: Histogram,
}

impl ApiMetrics {
    /// The three families, to be registered under `{prefix}_calls`,
    /// `{prefix}_call_duration_seconds` and `{prefix}_rate_limiter_wait_seconds`.
    pub fn register(registry: &mut Registry, prefix: &str, api: &str) -> ApiMetrics {
        let m = ApiMetrics {
            calls: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            rate_limiter_wait: latency_histogram(),
        };
        registry.register(format!("{prefix}_calls"), format!("{api} API calls by action and outcome"), m.calls.clone());
        registry.register(format!("{prefix}_call_duration_seconds"), format!("{api} API call latency"), m.latency.clone());
        registry.register(
            format!("{prefix}_rate_limiter_wait_seconds"),
            format!("Time {api} calls spent waiting for the client-side rate limiter"),
            m.rate_limiter_wait.clone(),
        );
        m
    }

    pub fn observe_call(&self, action: &str, outcome: &str, seconds: f64) {
        self.calls.get_or_create(&CallLabels { action: action.to_string(), outcome: outcome.to_string() }).inc();
        self.latency.get_or_create(&ActionLabels { action: action.to_string() }).observe(seconds);
    }
}
