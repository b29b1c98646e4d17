//! One scope's observer: the inventory passes (drift checks in bulk) and the health polls,
//! both spending only what the budget leaves after changes.
//!
//! - **Inventory** every `resync_interval` (the first at once, so that the first syncs after
//!   a start or a leader change are checked against it rather than described one by one):
//!   paginated DescribeLoadBalancers plus batched DescribeTags (the first pass also reads
//!   the Auto Scaling groups the LoadBalancers name, 50 a call: `groups.rs`), as class
//!   resync. Each LoadBalancer synced before is planned against what the pass saw; a
//!   non-empty plan is drift, and the object is triggered for a resync (`drift.rs`).
//!   Attributes are re-read only for the resources that manage them, every
//!   `attributes_every` passes. Later passes also count the orphans (`orphans.rs`).
//! - With shards (`--shards`), each replica observes only the LoadBalancers of the shards it
//!   holds: the drift checks, the tags it reads and the health polls are split across the
//!   replicas; DescribeLoadBalancers pages (400 ELBs each) are read by every replica that
//!   holds a shard, and the tags of every ELB (the orphan gauge) only by shard 0's holder.
//! - **Health polls** when due (`polls.rs`), most urgent first (in transition, then the
//!   oldest observation), and only while the describe budget has a spare token that no
//!   change or resync waits for. A failed poll is retried later within the budget; it never
//!   starts a full sync.
//! - **Backend reachability checks** when due (`reachability.rs`), a few at a time, as class
//!   resync on the EC2 client's own budget; the result is handed to the reconcile to write,
//!   like a poll's.
//! - **Completions** of the ELBs created without a read-back: one listing for the creates
//!   of the last few seconds (`completions.rs`).
//! - **Gauges** of the pending work and the budget, every tick (`gauges.rs`).
//! - **Eviction**: when an inventory pass is due and no LoadBalancer in the cache maps to
//!   the scope any more (one being deleted still does: its cleanup needs the scope), the
//!   observer retires the scope and ends, and its clients and assumed credentials are
//!   dropped (`ClientsByScope::evict`): within one resync interval of the last LoadBalancer
//!   leaving. A LoadBalancer that maps to it later starts it again.

mod completions;
mod drift;
mod gauges;
mod groups;
mod orphans;
mod polls;
mod reachability;

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use tokio::time::Instant;
use tracing::{info, info_span, warn, Instrument};

use super::context::Context;
use super::loadbalancer::reachable::{self, Denied};
use super::scope::Scope;
use crate::aws::{with_class, Class};
use crate::crd::LoadBalancer;

/// The longest the observer sleeps between looks at the budget and the schedule.
const TICK: Duration = Duration::from_millis(500);
/// How long a retired observer waits for its polls and checks in flight.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(30);
/// A failed inventory pass is retried after this long.
const INVENTORY_RETRY: Duration = Duration::from_secs(30);

/// Runs the observer of `scope` until aborted, or until no LoadBalancer maps to the scope.
pub async fn run(ctx: Arc<Context>, scope: Scope) {
    ctx.schedule.scopes.count_into(ctx.metrics.fleet.scopes.clone());
    let span = info_span!("observer", scope = %scope);
    observe(ctx.clone(), scope.clone()).instrument(span).await;
    // The observer's clients are dropped: the scope's clients, and the credentials only they
    // held, can go (a health poll still in flight keeps them until the next eviction).
    ctx.aws.evict(&scope);
    // Its gauges would otherwise keep their last values (an orphan count, a budget) for as
    // long as the process runs; unless another observed scope publishes the same series.
    if !shares_labels(&scope, &ctx.schedule.scopes.observed()) {
        gauges::forget(&ctx.metrics.fleet, &scope);
        orphans::forget(&ctx.metrics.fleet, &scope);
    }
}

/// Whether one of `others` publishes its gauges under the labels of `scope` (region and
/// account: the roles of one account, and the namespaces of one role, share them). Pure.
fn shares_labels(scope: &Scope, others: &[Scope]) -> bool {
    let labels = |s: &Scope| crate::telemetry::RegionLabels::of(&s.region, s.role.as_deref());
    others.iter().any(|o| labels(o) == labels(scope))
}

/// The LoadBalancers of `scope` in the cache whose shards this process holds, synced since
/// the start or not.
fn cached_in(ctx: &Context, scope: &Scope) -> Vec<Arc<LoadBalancer>> {
    let (default_region, cluster) = (&ctx.config.default_region, &ctx.config.cluster_name);
    ctx.stores
        .loadbalancers
        .state()
        .into_iter()
        .filter(|lb| &Scope::of(lb, default_region, cluster) == scope && ctx.holds(lb.namespace().as_deref(), &lb.name_any()))
        .collect()
}

/// Whether any of `lbs` maps to `scope`: whatever its shard, and also while it is being
/// deleted (its cleanup calls AWS in the scope). Pure.
fn in_use<'a>(scope: &Scope, lbs: impl IntoIterator<Item = &'a LoadBalancer>, default_region: &str, cluster: &str) -> bool {
    lbs.into_iter().any(|lb| &Scope::of(lb, default_region, cluster) == scope)
}

/// Retires `scope` ([`Scopes::retire`](super::schedule::scopes::Scopes::retire)) if no
/// LoadBalancer in the cache maps to it; returns whether it did.
fn retire_if_unused(ctx: &Context, scope: &Scope) -> bool {
    ctx.schedule.scopes.retire(scope, || {
        let lbs = ctx.stores.loadbalancers.state();
        in_use(scope, lbs.iter().map(|lb| &**lb), &ctx.config.default_region, &ctx.config.cluster_name)
    })
}

async fn observe(ctx: Arc<Context>, scope: Scope) {
    let elb = match ctx.aws.for_scope(&scope) {
        Ok(elb) => elb,
        Err(e) => {
            warn!(error = %e, "no ELB client for the scope; no inventory or health polls");
            // Its next sync starts the observer again.
            ctx.schedule.scopes.retire(&scope, || false);
            return;
        }
    };
    let ec2 = match ctx.aws.ec2_for_scope(&scope) {
        Some(Ok(ec2)) => Some(ec2),
        Some(Err(e)) => {
            warn!(error = %e, "no EC2 client for the scope; no backend reachability checks");
            None
        }
        None => None,
    };
    let settings = ctx.schedule.settings.clone();
    let polls = Arc::new(tokio::sync::Semaphore::new(polls::IN_FLIGHT));
    let checks = Arc::new(tokio::sync::Semaphore::new(reachable::CHECKS_IN_FLIGHT));
    let denied = Arc::new(Denied::default());
    let mut next_inventory = Instant::now();
    let mut passes: u32 = 0;
    let mut orphans_seen = std::collections::BTreeSet::new();
    let scopes = &ctx.schedule.scopes;
    let mut refreshes = scopes.refreshes();
    // The next pass serves first syncs (after the start, or a gained shard).
    let mut first_syncs = true;
    let mut completions = completions::Completions::new();
    // Bounded: one iteration per tick at least, for as long as the controllers run (the
    // task is aborted when they stop); u32::MAX ticks is decades.
    for _ in 0..u32::MAX {
        // Checked at the inventory's pace: within one resync interval of the last
        // LoadBalancer leaving the cache.
        if Instant::now() >= next_inventory && retire_if_unused(&ctx, &scope) {
            info!("no LoadBalancer maps to the scope any more; its observer ends and its clients are dropped");
            // The polls and checks in flight hold the scope's clients: with every slot back,
            // none does (bounded by the clients' timeouts).
            let slots = async {
                let _ = polls.acquire_many(polls::IN_FLIGHT as u32).await;
                let _ = checks.acquire_many(reachable::CHECKS_IN_FLIGHT as u32).await;
            };
            let _ = tokio::time::timeout(IN_FLIGHT_WAIT, slots).await;
            return;
        }
        // A shard was gained: its objects' first syncs wait for a fresh pass.
        if scopes.refreshes() != refreshes {
            refreshes = scopes.refreshes();
            next_inventory = Instant::now();
            first_syncs = true;
        }
        // With shards, a replica that holds none has nothing to observe (its next shard
        // refreshes the inventory anyway).
        if Instant::now() >= next_inventory && ctx.config.shards.as_ref().is_some_and(|s| s.held().is_empty()) {
            next_inventory = Instant::now() + settings.resync_interval;
        }
        if Instant::now() >= next_inventory {
            let with_attributes = passes % settings.attributes_every.max(1) == 0 && passes > 0;
            // The first pass after a start reads only the tags the first syncs need; later
            // passes read every ELB's tags, for the orphan gauge (with shards: only the
            // holder of shard 0 does, the others read their own shards' tags).
            let all_tags = passes > 0 && ctx.region_wide();
            let pass = drift::inventory_pass(&ctx, &*elb, &scope, with_attributes, all_tags, first_syncs, &mut orphans_seen);
            match with_class(Class::Resync, pass).await {
                Ok(()) => {
                    passes += 1;
                    first_syncs = false;
                    next_inventory = Instant::now() + settings.resync_interval;
                }
                Err(e) => {
                    warn!(error = %e, "inventory pass failed; retrying");
                    next_inventory = Instant::now() + INVENTORY_RETRY.min(settings.resync_interval);
                }
            }
        }
        polls::dispatch(&ctx, &elb, &scope, &polls).await;
        completions.dispatch(&ctx, &elb, &scope);
        if let Some(ec2) = &ec2 {
            reachability::dispatch(&ctx, ec2, &scope, &checks, &denied);
        }
        gauges::publish(&ctx, &*elb, &scope);
        let wake = scopes.wake.notified();
        let until = next_inventory.min(Instant::now() + TICK);
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = wake => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(ns: &str, region: Option<&str>, role: Option<&str>, deleting: bool) -> LoadBalancer {
        let mut lb: LoadBalancer = serde_json::from_value(serde_json::json!({
            "apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}], "region": region, "roleArn": role},
        }))
        .expect("a LoadBalancer");
        if deleting {
            lb.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
        }
        lb
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/lb";

    /// A scope is in use while any LoadBalancer maps to it, also one being deleted; a role
    /// scope only by LoadBalancers of its own namespace.
    #[test]
    fn a_scope_is_unused_once_no_load_balancer_maps_to_it() {
        let used = |scope: &Scope, lbs: &[LoadBalancer]| in_use(scope, lbs, "us-east-1", "prod");
        let region = Scope::of(&lb("a", None, None, false), "us-east-1", "prod");
        let team_a = Scope::of(&lb("a", None, Some(ROLE), false), "us-east-1", "prod");
        assert!(used(&region, &[lb("b", Some("us-east-1"), None, false)]), "any namespace's, in the default region");
        assert!(!used(&region, &[lb("b", Some("eu-west-1"), None, false)]), "another region");
        assert!(!used(&region, &[lb("a", None, Some(ROLE), false)]), "the region as a role is another scope");
        assert!(!used(&region, &[]));
        assert!(used(&team_a, &[lb("b", None, None, false), lb("a", None, Some(ROLE), true)]), "deleting: its cleanup needs it");
        assert!(!used(&team_a, &[lb("b", None, Some(ROLE), false)]), "another namespace's session");
        assert!(!used(&team_a, &[lb("a", None, Some("arn:aws:iam::123456789012:role/other"), false)]));
    }

    /// An ended scope's gauges go unless another observed scope publishes the same series:
    /// another namespace of its role, or another role of its account, in its region.
    #[test]
    fn an_ended_scopes_gauges_go_unless_another_scope_shares_their_labels() {
        let scope = |ns: &str, region: Option<&str>, role: Option<&str>| Scope::of(&lb(ns, region, role, false), "us-east-1", "prod");
        let team_a = scope("a", None, Some(ROLE));
        assert!(shares_labels(&team_a, &[scope("b", None, Some(ROLE))]), "the role's session of another namespace");
        assert!(shares_labels(&team_a, &[scope("a", None, Some("arn:aws:iam::123456789012:role/other"))]), "same account");
        assert!(!shares_labels(&team_a, &[scope("a", Some("eu-west-1"), Some(ROLE)), scope("a", None, None)]));
        assert!(!shares_labels(&team_a, &[]));

        let fleet = crate::telemetry::FleetMetrics::default();
        let (west, east) = (scope("a", Some("eu-west-1"), None), scope("a", None, None));
        for s in [&west, &east] {
            fleet.orphaned_load_balancers.get_or_create(&crate::telemetry::RegionLabels::of(&s.region, None)).set(3);
            fleet.budget_rate.get_or_create(&crate::telemetry::BudgetLabels::of(&s.region, None, "describe")).set(1.0);
        }
        gauges::forget(&fleet, &west);
        orphans::forget(&fleet, &west);
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("orphaned", "", fleet.orphaned_load_balancers.clone());
        registry.register("budget", "", fleet.budget_rate.clone());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(!text.contains("eu-west-1"), "{text}");
        assert_eq!(text.matches("us-east-1").count(), 2, "{text}");
    }
}
