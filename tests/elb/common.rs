//! Shared fixtures: one moto server for the binary, and client constructors.

use std::sync::LazyLock;

use elb_operator::aws::{ClientConfig, RateLimitConfig};
use elb_operator::elb::Client;
use elb_operator::telemetry::Metrics;
use test_support::metrics::ElbCalls;
use test_support::moto::Moto;

/// One moto for every test in this binary; tests use unique load balancer names (and
/// regions where they list everything), so they do not interfere.
pub static MOTO: LazyLock<Moto> = LazyLock::new(Moto::start);

/// A client for `region` against the shared moto, without rate limiting.
pub fn client(region: &str) -> Client {
    Client::new(config(region)).expect("client")
}

pub fn config(region: &str) -> ClientConfig {
    ClientConfig::for_endpoint(region, &MOTO.endpoint, "test", "test").with_rate_limit(RateLimitConfig::unlimited())
}

/// A client recording into metrics of its own: tests count its calls from them ([`calls`]),
/// as a dashboard of the operator would.
pub fn counted(config: ClientConfig) -> (Client, Metrics) {
    let metrics = Metrics::new();
    (Client::new(config.with_metrics(metrics.elb.clone())).expect("client"), metrics)
}

/// The ELB calls `metrics` counted so far, one per HTTP attempt.
pub fn calls(metrics: &Metrics) -> ElbCalls {
    ElbCalls::parse(&metrics.encode())
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
