//! The settings of the controllers ([`super::run`]).

use std::time::Duration;

use crate::http::Readiness;

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
    /// `--require-class`: refuse LoadBalancers that no LoadBalancerClass applies to.
    pub require_class: bool,
    /// The UID of the `kube-system` Namespace, written into the `elb.operator.dev/cluster-uid`
    /// ownership tag so that `orphans --delete` can tell this cluster's ELBs from those of a
    /// cluster with the same `--cluster-name`. Read by [`super::run`] when `None`.
    pub cluster_uid: Option<String>,
    /// How often the health of a stable LoadBalancer is polled at most (DescribeInstanceHealth).
    pub health_poll_interval: Duration,
    /// How often an unchanged health observation is written to status; zero: never.
    pub status_refresh: Duration,
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
            require_class: false,
            cluster_uid: None,
            health_poll_interval: Duration::from_secs(30),
            status_refresh: crate::controller::schedule::STATUS_REFRESH,
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
