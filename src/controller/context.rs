//! What every reconcile shares: settings, ELB clients by region, caches, metrics, the event
//! recorder and the schedule.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::ObjectRef;
use kube::Resource;
use tracing::warn;

use super::cache::Stores;
use super::schedule::{Schedule, Settings};
use crate::autoscaling::{self, AutoScalingApi};
use crate::crd::LoadBalancer;
use crate::ec2::{self, Ec2Api};
use crate::elb::{self, ElbApi};
use crate::http::Readiness;
use crate::telemetry::{Metrics, StateTally, INSTANCE_STATES, READY_STATES};

/// Inventory passes between two reads of the attributes of the ELBs that manage them.
const ATTRIBUTES_EVERY: u32 = 6;

/// Settings of [`super::run`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Written into the `elb.operator.dev/cluster` ownership tag of every ELB.
    pub cluster_name: String,
    /// Watch one namespace, or all (`None`).
    pub namespace: Option<String>,
    /// Region of LoadBalancers without `spec.region`.
    pub default_region: String,
    /// Patterns (`*` matches any run of characters) of the roles a LoadBalancer may name in
    /// `spec.roleArn`; empty: none. Otherwise anyone who may create a LoadBalancer could act
    /// as any role the operator can assume.
    pub allowed_role_arns: Vec<String>,
    /// How often the health of a stable LoadBalancer is polled at most (DescribeInstanceHealth).
    pub health_poll_interval: Duration,
    /// How often an inventory pass re-reads the region's ELBs and corrects drift.
    pub resync_interval: Duration,
    /// LoadBalancers reconciled at the same time (0 = unbounded).
    pub concurrency: u16,
    /// `reportingController` of events.
    pub reporter: String,
    /// `reportingInstance` of events (e.g. the pod name); `None` = the hostname.
    pub instance: Option<String>,
    /// Flips to ready when the caches are synced; back when shutting down.
    pub readiness: Readiness,
    /// With `--shards N` (N > 1): the shards this process holds; only their objects are
    /// reconciled, each under its shard's fence ([`super::sharding`]).
    pub shards: Option<crate::leader::Shards>,
    /// With one leader (no shards) and leader election: the lease's fence. Each reconcile
    /// runs under it, so that its Kubernetes writes stop with its ELB writes when the lease
    /// may have passed to another process ([`super::sharding::in_shard`]).
    pub lease_fence: Option<crate::aws::Fence>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cluster_name: "kubernetes".into(),
            namespace: None,
            default_region: "us-east-1".into(),
            allowed_role_arns: Vec::new(),
            health_poll_interval: Duration::from_secs(30),
            resync_interval: Duration::from_secs(600),
            concurrency: 16,
            reporter: "elb-operator".into(),
            instance: None,
            readiness: Readiness::default(),
            shards: None,
            lease_fence: None,
        }
    }
}

/// Where a LoadBalancer's ELB lives: a region, reached with the operator's own credentials
/// or as a role (`spec.roleArn`). Each scope has its own API budget, inventory and observer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub region: String,
    pub role: Option<elb::Role>,
}

impl Scope {
    pub fn of(lb: &LoadBalancer, default_region: &str) -> Scope {
        Scope {
            region: lb.spec.region.clone().unwrap_or_else(|| default_region.to_string()),
            role: lb.spec.role_arn.clone().map(|arn| elb::Role { arn, external_id: lb.spec.external_id.clone() }),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.role {
            None => f.write_str(&self.region),
            Some(r) => write!(f, "{} as {}", self.region, r.arn),
        }
    }
}

/// ELB clients by scope. Implemented by `elb::Clients`; a single client serves its own
/// region with its own credentials only. [`AwsClients`] adds the EC2 clients of the backend
/// reachability check.
pub trait ElbClients: Send + Sync + 'static {
    fn for_scope(&self, scope: &Scope) -> Result<Arc<dyn ElbApi>, elb::Error>;

    /// The EC2 client of `scope` for the backend reachability check; `None`: no check (the
    /// `BackendsReachable` condition is not written).
    fn ec2_for_scope(&self, _scope: &Scope) -> Option<Result<Arc<dyn Ec2Api>, elb::Error>> {
        None
    }

    /// The AutoScaling client of the scope; `None` when there is none (a LoadBalancer that
    /// names Auto Scaling groups then fails its sync with a configuration error).
    fn autoscaling_for_scope(&self, _scope: &Scope) -> Result<Option<Arc<dyn AutoScalingApi>>, elb::Error> {
        Ok(None)
    }
}

impl ElbClients for elb::Clients {
    fn for_scope(&self, scope: &Scope) -> Result<Arc<dyn ElbApi>, elb::Error> {
        Ok(self.get_as(&scope.region, scope.role.as_ref())?)
    }
}

/// The ELB clients and, beside them (`Regional::beside`: a role is assumed once for all),
/// the AutoScaling clients that `spec.backends.autoScalingGroups` needs and, when the
/// reachability check is on, the EC2 clients of that check.
pub struct AwsClients {
    pub elb: elb::Clients,
    pub autoscaling: autoscaling::Clients,
    pub ec2: Option<ec2::Clients>,
}

impl ElbClients for AwsClients {
    fn for_scope(&self, scope: &Scope) -> Result<Arc<dyn ElbApi>, elb::Error> {
        self.elb.for_scope(scope)
    }

    fn ec2_for_scope(&self, scope: &Scope) -> Option<Result<Arc<dyn Ec2Api>, elb::Error>> {
        let ec2 = self.ec2.as_ref()?;
        Some(ec2.get_as(&scope.region, scope.role.as_ref()).map(|c| c as Arc<dyn Ec2Api>))
    }

    fn autoscaling_for_scope(&self, scope: &Scope) -> Result<Option<Arc<dyn AutoScalingApi>>, elb::Error> {
        Ok(Some(self.autoscaling.get_as(&scope.region, scope.role.as_ref())?))
    }
}

impl ElbClients for Arc<dyn ElbApi> {
    fn for_scope(&self, scope: &Scope) -> Result<Arc<dyn ElbApi>, elb::Error> {
        if self.region() == scope.region && scope.role.is_none() {
            Ok(self.clone())
        } else {
            Err(elb::Error::Config(format!("no ELB client for {scope} (only {})", self.region())))
        }
    }
}

/// Shared by every reconcile: settings, clients, caches, metrics, the event recorder and
/// the schedule.
pub struct Context {
    pub client: kube::Client,
    pub config: Config,
    pub elb: Arc<dyn ElbClients>,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub stores: Stores,
    pub schedule: Schedule,
    /// Registered instances by health state, per LoadBalancer.
    pub instances: StateTally<ObjectRef<LoadBalancer>>,
    /// The Ready status of each LoadBalancer.
    pub ready: StateTally<ObjectRef<LoadBalancer>>,
}

impl Context {
    pub fn new(
        client: kube::Client,
        config: Config,
        elb: Arc<dyn ElbClients>,
        metrics: Metrics,
        recorder: Recorder,
        stores: Stores,
        triggers: futures::channel::mpsc::UnboundedSender<ObjectRef<LoadBalancer>>,
    ) -> Self {
        let settings = Settings {
            health_poll_interval: config.health_poll_interval,
            resync_interval: config.resync_interval,
            attributes_every: ATTRIBUTES_EVERY,
            resync_slots: usize::from(config.concurrency / 2).max(1),
        };
        let schedule = Schedule::new(settings, triggers);
        let instances = StateTally::new(metrics.instances.clone(), INSTANCE_STATES);
        let ready = StateTally::new(metrics.load_balancers_ready.clone(), READY_STATES);
        Context { client, config, elb, metrics, recorder, stores, schedule, instances, ready }
    }

    /// Forgets a deleted LoadBalancer.
    pub fn forget(&self, key: &ObjectRef<LoadBalancer>) {
        self.schedule.forget(key);
        self.instances.forget(key);
        self.ready.forget(key);
    }

    /// Whether this process reconciles the object `namespace/name`: always without shards,
    /// else when it holds the object's shard.
    pub fn holds(&self, namespace: Option<&str>, name: &str) -> bool {
        self.config.shards.as_ref().is_none_or(|s| s.holds(s.of(namespace.unwrap_or_default(), name)))
    }

    /// [`Context::holds`] for a LoadBalancer's key.
    pub fn holds_key(&self, key: &ObjectRef<LoadBalancer>) -> bool {
        self.holds(key.namespace.as_deref(), &key.name)
    }

    /// Whether this process does the region-wide work that is not split by object (the
    /// orphan report's tags of every ELB): without shards, or as the holder of shard 0.
    pub fn region_wide(&self) -> bool {
        self.config.shards.as_ref().is_none_or(|s| s.holds(0))
    }

    /// Publishes an event about `obj`; a failure is logged, never fatal. Not sent once the
    /// object's shard is lost ([`crate::aws::fence::writes_allowed`]).
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, type_: EventType, reason: &str, action: &str, note: String) {
        if !crate::aws::fence::writes_allowed() {
            tracing::debug!(reason, "shard lost: event not published");
            return;
        }
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
