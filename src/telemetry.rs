//! Logs and metrics. All metric families are defined here, in one registry, so `/metrics`
//! shows everything the operator measures and names stay consistent. [`init_tracing`] sets
//! up the log output (JSON or text, with an EnvFilter-style level).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use crate::aws::metrics::{latency_histogram, ActionLabels, ApiMetrics, CallLabels};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabels {
    /// `loadbalancer` or `healthcheck`.
    pub resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub resource: String,
    /// `Error::metric_label()`.
    pub error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// `InService`, `OutOfService` or `Unknown`.
    pub state: String,
}

/// Reconcile metrics: runs, failures by error label, duration, per resource kind.
#[derive(Clone)]
pub struct ReconcileMetrics {
    pub runs: Family<ResourceLabels, Counter>,
    pub failures: Family<FailureLabels, Counter>,
    pub duration: Family<ResourceLabels, Histogram, fn() -> Histogram>,
}

impl ReconcileMetrics {
    /// Counts a run and returns a timer that records its duration when dropped.
    pub fn start(&self, resource: &str) -> ReconcileTimer {
        let labels = ResourceLabels { resource: resource.to_string() };
        self.runs.get_or_create(&labels).inc();
        ReconcileTimer { start: Instant::now(), labels, duration: self.duration.clone() }
    }

    pub fn failure(&self, resource: &str, error_label: &str) {
        self.failures.get_or_create(&FailureLabels { resource: resource.to_string(), error: error_label.to_string() }).inc();
    }
}

/// Records a reconcile's duration on drop.
pub struct ReconcileTimer {
    start: Instant,
    labels: ResourceLabels,
    duration: Family<ResourceLabels, Histogram, fn() -> Histogram>,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.duration.get_or_create(&self.labels).observe(self.start.elapsed().as_secs_f64());
    }
}

/// Where calls go: the region and the account (`crate::aws::account_label`: the role's
/// account id, `default` for the operator's own credentials). Never a role name or ARN:
/// tenants choose those, and they would drive the number of series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegionLabels {
    pub region: String,
    pub account: String,
}

impl RegionLabels {
    /// The labels of calls to `region` made as `role` (`None`: the operator's own).
    pub fn of(region: &str, role: Option<&crate::aws::Role>) -> RegionLabels {
        RegionLabels { region: region.to_string(), account: crate::aws::account_label(role) }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BudgetLabels {
    pub region: String,
    /// As in [`RegionLabels`].
    pub account: String,
    /// `describe` or `mutate`.
    pub kind: String,
}

impl BudgetLabels {
    /// The labels of the `kind` bucket of the budget of `region` as `role`.
    pub fn of(region: &str, role: Option<&crate::aws::Role>, kind: &str) -> BudgetLabels {
        let RegionLabels { region, account } = RegionLabels::of(region, role);
        BudgetLabels { region, account, kind: kind.to_string() }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabels {
    /// Scheduler work class: `change`, `resync` or `health`.
    pub class: String,
}

/// Fleet-scale metrics: what the scheduler has queued, how stale the oldest observation
/// is, and how much of the ELB budget the (credentials, region) limiter currently allows.
#[derive(Clone, Default)]
pub struct FleetMetrics {
    /// Work items waiting for the ELB budget, by class.
    pub queued: Family<ClassLabels, Gauge>,
    /// Age of the oldest change (spec, backends, health check, deletion) not yet acted on.
    pub oldest_pending_change_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Age of the oldest instance-health observation among managed LoadBalancers.
    pub oldest_health_observation_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// The rate (calls per second) the adaptive limiter allows now, by region and kind.
    pub budget_rate: Family<BudgetLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// The configured rate (calls per second), by region and kind.
    pub budget_configured_rate: Family<BudgetLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// ELBs tagged for this cluster that no LoadBalancer resource claims, after each inventory.
    pub orphaned_load_balancers: Family<RegionLabels, Gauge>,
    /// Scopes (region, or role and namespace) with an observer running; a scope no
    /// LoadBalancer maps to any more is evicted within one resync interval.
    pub scopes: Gauge,
}

/// Every metric the operator exports, and the registry that encodes them.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Arc<Mutex<Registry>>,
    pub reconcile: ReconcileMetrics,
    pub elb: ApiMetrics,
    /// The EC2 client's calls (the optional backend reachability check).
    pub ec2: ApiMetrics,
    /// The Auto Scaling client's calls (`spec.backends.autoScalingGroups`).
    pub autoscaling: ApiMetrics,
    /// Registered instances by ELB health state, over all managed load balancers.
    pub instances: Family<StateLabels, Gauge>,
    /// Managed LoadBalancers by their `Ready` condition (`True`, `False`).
    pub load_balancers_ready: Family<StateLabels, Gauge>,
    pub fleet: FleetMetrics,
    /// 1 while this process leads (or runs without leader election), else 0. With shards:
    /// 1 while it holds at least one.
    pub leader: Gauge,
    /// Shards this process holds (with `--shards N`; 0 otherwise).
    pub shards_held: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("elb_operator");
        let reconcile = ReconcileMetrics {
            runs: Family::default(),
            failures: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
        };
        registry.register("reconcile_runs", "Reconcile runs", reconcile.runs.clone());
        registry.register("reconcile_failures", "Failed reconciles by error", reconcile.failures.clone());
        registry.register("reconcile_duration_seconds", "Reconcile duration", reconcile.duration.clone());
        let elb = ApiMetrics::register(&mut registry, "elb", "ELB");
        let ec2 = ApiMetrics::register(&mut registry, "ec2", "EC2");
        let autoscaling = ApiMetrics::register(&mut registry, "autoscaling", "Auto Scaling");
        let instances = Family::<StateLabels, Gauge>::default();
        registry.register("instances", "Registered instances by ELB health state", instances.clone());
        let load_balancers_ready = Family::<StateLabels, Gauge>::default();
        registry.register(
            "load_balancers_ready",
            "Managed LoadBalancers by the status of their Ready condition",
            load_balancers_ready.clone(),
        );
        let fleet = FleetMetrics::default();
        registry.register("scheduler_queued", "Work items waiting for the ELB budget, by class", fleet.queued.clone());
        registry.register(
            "oldest_pending_change_seconds",
            "Age of the oldest change not yet applied to its ELB",
            fleet.oldest_pending_change_seconds.clone(),
        );
        registry.register(
            "oldest_health_observation_seconds",
            "Age of the oldest instance-health observation",
            fleet.oldest_health_observation_seconds.clone(),
        );
        registry.register("elb_budget_rate", "ELB calls per second the adaptive limiter allows now", fleet.budget_rate.clone());
        registry.register(
            "elb_budget_configured_rate",
            "ELB calls per second configured by the --elb-*-rate flags",
            fleet.budget_configured_rate.clone(),
        );
        registry.register(
            "orphaned_load_balancers",
            "ELBs tagged for this cluster that no LoadBalancer resource claims",
            fleet.orphaned_load_balancers.clone(),
        );
        registry.register("scopes", "Scopes (region, or role and namespace) with an observer running", fleet.scopes.clone());
        let leader = Gauge::default();
        registry.register("leader", "1 while this process leads (or runs without leader election)", leader.clone());
        let shards_held = Gauge::default();
        registry.register("shards_held", "Shards this replica holds (--shards)", shards_held.clone());
        Metrics {
            registry: Arc::new(Mutex::new(registry)),
            reconcile,
            elb,
            ec2,
            autoscaling,
            instances,
            load_balancers_ready,
            fleet,
            leader,
            shards_held,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().expect("metrics registry poisoned");
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("encoding metrics to a String");
        out
    }
}

/// Every health state the instance gauge reports, so that a state dropping to zero shows 0.
pub const INSTANCE_STATES: &[&str] = &["InService", "OutOfService", "Unknown"];
/// The states of the `load_balancers_ready` gauge.
pub const READY_STATES: &[&str] = &["True", "False"];

/// Things by state (instances by health, LoadBalancers by Ready), kept per owner (a
/// LoadBalancer) and summed into a gauge, so that a forgotten owner leaves the totals.
pub struct StateTally<K> {
    gauge: Family<StateLabels, Gauge>,
    /// Reported even at zero.
    states: &'static [&'static str],
    by_owner: Mutex<std::collections::HashMap<K, std::collections::BTreeMap<String, i64>>>,
}

impl<K: std::hash::Hash + Eq> StateTally<K> {
    pub fn new(gauge: Family<StateLabels, Gauge>, states: &'static [&'static str]) -> Self {
        StateTally { gauge, states, by_owner: Mutex::default() }
    }

    /// Records the instance states of one owner and refreshes the gauge.
    pub fn record<'a>(&self, owner: K, states: impl Iterator<Item = &'a str>) {
        let mut counts = std::collections::BTreeMap::new();
        for s in states {
            *counts.entry(s.to_string()).or_insert(0) += 1;
        }
        let mut all = self.by_owner.lock().expect("instance states lock");
        all.insert(owner, counts);
        self.publish(&all);
    }

    /// Drops an owner from the totals.
    pub fn forget(&self, owner: &K) {
        let mut all = self.by_owner.lock().expect("instance states lock");
        all.remove(owner);
        self.publish(&all);
    }

    fn publish(&self, all: &std::collections::HashMap<K, std::collections::BTreeMap<String, i64>>) {
        let mut totals: std::collections::BTreeMap<String, i64> = self.states.iter().map(|s| (s.to_string(), 0)).collect();
        for counts in all.values() {
            for (state, n) in counts {
                *totals.entry(state.clone()).or_insert(0) += n;
            }
        }
        for (state, n) in totals {
            self.gauge.get_or_create(&StateLabels { state }).set(n);
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Human-readable lines.
    Text,
}

/// The log filter given on the command line is not a valid `EnvFilter` directive.
#[derive(Debug, thiserror::Error)]
#[error("invalid log level/filter {filter:?}: {source}")]
pub struct LogFilterError {
    filter: String,
    #[source]
    source: tracing_subscriber::filter::ParseError,
}

/// Installs the global tracing subscriber: `format` JSON (one object per line, with the
/// current span's fields such as the object key) or text, filtered by `filter` in
/// `EnvFilter` syntax (`info`, `warn,elb_operator=debug`). Logs go to stderr. Installing
/// twice (as tests may) keeps the first subscriber.
pub fn init_tracing(format: LogFormat, filter: &str) -> Result<(), LogFilterError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter, Registry};

    let env_filter = EnvFilter::try_new(filter).map_err(|source| LogFilterError { filter: filter.to_string(), source })?;
    let registry = Registry::default().with(env_filter);
    let _already_set = match format {
        LogFormat::Json => {
            registry.with(fmt::layer().json().with_current_span(true).with_span_list(false).with_writer(std::io::stderr)).try_init()
        }
        LogFormat::Text => registry.with(fmt::layer().with_writer(std::io::stderr)).try_init(),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_labels_carry_the_account_never_the_role() {
        let metrics = Metrics::new();
        let role = crate::aws::Role { arn: "arn:aws:iam::123456789012:role/team-a-secret-name".into(), external_id: Some("x".into()) };
        metrics.fleet.orphaned_load_balancers.get_or_create(&RegionLabels::of("eu-west-1", Some(&role))).set(2);
        metrics.fleet.orphaned_load_balancers.get_or_create(&RegionLabels::of("eu-west-1", None)).set(1);
        metrics.fleet.budget_rate.get_or_create(&BudgetLabels::of("eu-west-1", Some(&role), "mutate")).set(3.0);
        let text = metrics.encode();
        assert!(text.contains(r#"elb_operator_orphaned_load_balancers{region="eu-west-1",account="123456789012"} 2"#), "{text}");
        assert!(text.contains(r#"elb_operator_orphaned_load_balancers{region="eu-west-1",account="default"} 1"#), "{text}");
        assert!(text.contains(r#"{region="eu-west-1",account="123456789012",kind="mutate"} 3"#), "{text}");
        assert!(!text.contains("team-a-secret-name") && !text.contains("arn:"), "{text}");
    }
}
