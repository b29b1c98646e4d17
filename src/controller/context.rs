//! What every reconcile shares: configuration, clients, caches, metrics, the event recorder,
//! and per-object memory (last full sync, failures) that decides between a full sync, a
//! health poll, or nothing.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Resource;
use tokio::sync::watch;
use tracing::warn;

use crate::crd::{HealthCheck, LoadBalancer};
use crate::elb::{self, ElbApi};
use crate::telemetry::{Metrics, StateLabels};

/// Settings of [`super::run`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Written into the `elb.operator.dev/cluster` ownership tag of every ELB.
    pub cluster_name: String,
    /// Watch one namespace, or all (`None`).
    pub namespace: Option<String>,
    /// Region of LoadBalancers without `spec.region`.
    pub default_region: String,
    /// How often the health of registered instances is polled (DescribeInstanceHealth).
    pub health_poll_interval: Duration,
    /// How often a full sync re-reads the whole ELB and corrects drift.
    pub resync_interval: Duration,
    /// LoadBalancers reconciled at the same time (0 = unbounded).
    pub concurrency: u16,
    /// `reportingController` of events.
    pub reporter: String,
    /// `reportingInstance` of events (e.g. the pod name); `None` = the hostname.
    pub instance: Option<String>,
    /// Flips to ready when the caches are synced; back when shutting down.
    pub readiness: Readiness,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cluster_name: "kubernetes".into(),
            namespace: None,
            default_region: "us-east-1".into(),
            health_poll_interval: Duration::from_secs(30),
            resync_interval: Duration::from_secs(600),
            concurrency: 4,
            reporter: "elb-operator".into(),
            instance: None,
            readiness: Readiness::default(),
        }
    }
}

/// Whether the controllers' caches (LoadBalancers, HealthChecks, Pods, Nodes) are synced
/// and reconciling. Clone it before passing [`Config`] to [`super::run`] and ask
/// [`Readiness::is_ready`] from `/readyz`.
#[derive(Clone, Debug)]
pub struct Readiness(Arc<watch::Sender<bool>>);

impl Default for Readiness {
    fn default() -> Self {
        Readiness(Arc::new(watch::channel(false).0))
    }
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once ready.
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    pub(crate) fn set(&self, ready: bool) {
        self.0.send_replace(ready);
    }
}

/// ELB clients by region. Implemented by `elb::Clients`; a single client serves its own
/// region only.
pub trait ElbClients: Send + Sync + 'static {
    fn for_region(&self, region: &str) -> Result<Arc<dyn ElbApi>, elb::Error>;
}

impl ElbClients for elb::Clients {
    fn for_region(&self, region: &str) -> Result<Arc<dyn ElbApi>, elb::Error> {
        Ok(self.get(region)?)
    }
}

impl ElbClients for Arc<dyn ElbApi> {
    fn for_region(&self, region: &str) -> Result<Arc<dyn ElbApi>, elb::Error> {
        if self.region() == region {
            Ok(self.clone())
        } else {
            Err(elb::Error::Config(format!("no ELB client for region {region} (only {})", self.region())))
        }
    }
}

/// The reflector caches the reconcilers read from.
#[derive(Clone)]
pub struct Stores {
    pub loadbalancers: Store<LoadBalancer>,
    pub healthchecks: Store<HealthCheck>,
    pub pods: Store<Pod>,
    pub nodes: Store<Node>,
    /// One flag per cache, set when its first full list is in.
    pub synced: Vec<watch::Receiver<bool>>,
}

impl Stores {
    /// Waits (bounded) until every cache holds a full list: a reconcile that read an empty
    /// pod cache would deregister every instance.
    ///
    /// Uses the operator's own flags rather than `Store::wait_until_ready`: that future keeps
    /// only the waker of its last poller, so a second waiter could starve kube's Controller,
    /// which waits on it for its main store.
    pub async fn wait_ready(&self, limit: Duration) -> bool {
        let all = async {
            for flag in &self.synced {
                if flag.clone().wait_for(|synced| *synced).await.is_err() {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(limit, all).await.unwrap_or(false)
    }
}

/// Per-LoadBalancer memory between reconciles.
#[derive(Debug, Clone, Default)]
pub struct Memo {
    /// Hash of the inputs (spec, generation, resolved backends, health check) of the last
    /// successful full sync.
    pub inputs: Option<u64>,
    pub last_full_sync: Option<Instant>,
    pub last_health_poll: Option<Instant>,
    /// Consecutive failed reconciles, for backoff.
    pub failures: u32,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: kube::Client,
    pub config: Config,
    pub elb: Arc<dyn ElbClients>,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub stores: Stores,
    memos: Mutex<HashMap<ObjectRef<LoadBalancer>, Memo>>,
    /// Registered instances by state, per LoadBalancer (summed into `metrics.instances`).
    instance_states: Mutex<HashMap<ObjectRef<LoadBalancer>, BTreeMap<String, i64>>>,
}

/// Every health state the gauge reports, so that a state dropping to zero is shown as 0.
const STATES: [&str; 3] = ["InService", "OutOfService", "Unknown"];

impl Context {
    pub fn new(
        client: kube::Client,
        config: Config,
        elb: Arc<dyn ElbClients>,
        metrics: Metrics,
        recorder: Recorder,
        stores: Stores,
    ) -> Self {
        Context {
            client,
            config,
            elb,
            metrics,
            recorder,
            stores,
            memos: Mutex::default(),
            instance_states: Mutex::default(),
        }
    }

    pub fn memo(&self, key: &ObjectRef<LoadBalancer>) -> Memo {
        self.memos.lock().expect("memo lock").get(key).cloned().unwrap_or_default()
    }

    pub fn update_memo(&self, key: &ObjectRef<LoadBalancer>, f: impl FnOnce(&mut Memo)) {
        f(self.memos.lock().expect("memo lock").entry(key.clone()).or_default());
    }

    /// Forgets a deleted LoadBalancer.
    pub fn forget(&self, key: &ObjectRef<LoadBalancer>) {
        self.memos.lock().expect("memo lock").remove(key);
        self.instance_states.lock().expect("states lock").remove(key);
        self.publish_instance_gauge();
    }

    /// Records the instance states of one LoadBalancer and refreshes the gauge.
    pub fn record_instance_states<'a>(&self, key: &ObjectRef<LoadBalancer>, states: impl Iterator<Item = &'a str>) {
        let mut counts = BTreeMap::new();
        for s in states {
            *counts.entry(s.to_string()).or_insert(0) += 1;
        }
        self.instance_states.lock().expect("states lock").insert(key.clone(), counts);
        self.publish_instance_gauge();
    }

    fn publish_instance_gauge(&self) {
        let all = self.instance_states.lock().expect("states lock");
        let mut totals: BTreeMap<String, i64> = STATES.iter().map(|s| (s.to_string(), 0)).collect();
        for counts in all.values() {
            for (state, n) in counts {
                *totals.entry(state.clone()).or_insert(0) += n;
            }
        }
        for (state, n) in totals {
            self.metrics.instances.get_or_create(&StateLabels { state }).set(n);
        }
    }

    /// Publishes an event about `obj`; a failure is logged, never fatal.
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, type_: EventType, reason: &str, action: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(super::status::truncate(&note, 1000)),
            action: action.to_string(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            warn!(error = %e, reason, "could not publish event");
        }
    }
}

/// A stable hash of anything hashable (the inputs of a sync).
pub fn fingerprint<T: Hash>(value: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// Exponential backoff with ±20% jitter: `base * 2^(failures-1)`, at most `max`.
pub fn backoff(failures: u32, base: Duration, max: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let d = base.saturating_mul(1u32 << exp).min(max);
    let jitter = rand::random_range(0.8..1.2);
    d.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        let base = Duration::from_secs(5);
        let max = Duration::from_secs(300);
        for (failures, nominal) in [(1, 5), (2, 10), (3, 20), (7, 300), (40, 300)] {
            let d = backoff(failures, base, max).as_secs_f64();
            let n = nominal as f64;
            assert!(d >= n * 0.8 - 1e-9 && d <= n * 1.2 + 1e-9, "failures {failures}: {d}s not within 20% of {n}s");
        }
    }

    #[test]
    fn readiness_flips() {
        let r = Readiness::default();
        let seen_by_ops = r.clone();
        assert!(!seen_by_ops.is_ready());
        r.set(true);
        assert!(seen_by_ops.is_ready());
    }
}
