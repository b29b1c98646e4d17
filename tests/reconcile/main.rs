//! The LoadBalancer and HealthCheck reconcile loops.
//! - [`elb_side`]: convergence of the ELB from the desired state, against moto (no Kubernetes).
//! - [`kube_loop`]: `controller::run` against the in-memory API stand-in and moto: resources
//!   in, ELB state, status, events and finalizers out.
//! - [`reachability`]: the backend reachability check against moto's ELB and EC2.
//! - [`fleet`]: the schedule at fleet scale: calls counted after a restart, in steady state
//!   against the budget, and a malformed object next to good ones.
//!
//! One moto serves the binary; tests use distinct load balancer names (and, for the loop,
//! distinct namespaces), so they run in parallel without interfering.

mod controls;
mod elb_side;
mod fleet;
mod kube_loop;
mod reachability;
mod tenancy;

use std::sync::LazyLock;

use elb_operator::aws::{ClientConfig, RateLimitConfig};
use elb_operator::elb::Client;
use elb_operator::telemetry::Metrics;
use test_support::metrics::ElbCalls;
use test_support::moto::Moto;

pub static MOTO: LazyLock<Moto> = LazyLock::new(Moto::start);

pub const REGION: &str = "us-east-1";

/// A client of its own against the shared moto.
pub fn client() -> Client {
    Client::new(config()).expect("client")
}

/// A client recording into metrics of its own: tests count its calls from them ([`calls`]),
/// as a dashboard of the operator would.
pub fn counted() -> (Client, Metrics) {
    let metrics = Metrics::new();
    (Client::new(config().with_metrics(metrics.elb.clone())).expect("client"), metrics)
}

/// The ELB calls `metrics` counted so far, one per HTTP attempt.
pub fn calls(metrics: &Metrics) -> ElbCalls {
    ElbCalls::parse(&metrics.encode())
}

pub fn config() -> ClientConfig {
    ClientConfig::for_endpoint(REGION, &MOTO.endpoint, "test", "test").with_rate_limit(RateLimitConfig::unlimited())
}
