//! What every reconcile shares: settings, the AWS clients by scope, the caches, metrics, the
//! event recorder, the schedule and the state tallies.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::events::Recorder;
use kube::runtime::reflector::ObjectRef;

use super::cache::Stores;
use super::clients::ClientsByScope;
use super::config::Config;
use super::loadbalancer::resource_tags::RecentReads;
use super::schedule::{Schedule, Settings};
use super::sharding::holds_object;
use crate::crd::LoadBalancer;
use crate::telemetry::{Metrics, StateTally, INSTANCE_STATES, READY_STATES};

// The LoadBalancer steps name the scope through the context.
pub use super::scope::Scope;

/// Inventory passes between two reads of the attributes of the ELBs that manage them.
const ATTRIBUTES_EVERY: u32 = 6;

/// Shared by every reconcile: settings, clients, caches, metrics, the event recorder and
/// the schedule.
pub struct Context {
    pub client: kube::Client,
    pub config: Config,
    /// The ELB, EC2 and Auto Scaling clients of each scope.
    pub aws: Arc<dyn ClientsByScope>,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub stores: Stores,
    pub schedule: Schedule,
    /// Registered instances by health state, per LoadBalancer.
    pub instances: StateTally<ObjectRef<LoadBalancer>>,
    /// The Ready status of each LoadBalancer.
    pub ready: StateTally<ObjectRef<LoadBalancer>>,
    /// AWS resource tags read lately for the classes' `requiredResourceTags`.
    pub recent_tags: RecentReads,
}

impl Context {
    pub fn new(
        client: kube::Client,
        config: Config,
        aws: Arc<dyn ClientsByScope>,
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
            status_refresh: config.status_refresh,
        };
        let schedule = Schedule::new(settings, triggers);
        let instances = StateTally::new(metrics.instances.clone(), INSTANCE_STATES);
        let ready = StateTally::new(metrics.load_balancers_ready.clone(), READY_STATES);
        // A minute: a storm of reconciles reads once, and a tag changed in AWS counts soon.
        let recent_tags = RecentReads::new(Duration::from_secs(60));
        Context { client, config, aws, metrics, recorder, stores, schedule, instances, ready, recent_tags }
    }

    /// Forgets a deleted LoadBalancer.
    pub fn forget(&self, key: &ObjectRef<LoadBalancer>) {
        self.schedule.forget(key);
        self.instances.forget(key);
        self.ready.forget(key);
    }

    /// Whether this process reconciles the object `namespace/name` ([`holds_object`]).
    pub fn holds(&self, namespace: Option<&str>, name: &str) -> bool {
        holds_object(self.config.shards.as_ref(), namespace, name)
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
}
