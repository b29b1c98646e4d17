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
//! - **Gauges** of the pending work and the budget, every tick (`gauges.rs`).

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
use tracing::{info_span, warn, Instrument};

use super::context::Context;
use super::loadbalancer::reachable::{self, Denied};
use super::scope::Scope;
use crate::aws::{with_class, Class};
use crate::crd::LoadBalancer;

/// The longest the observer sleeps between looks at the budget and the schedule.
const TICK: Duration = Duration::from_millis(500);
/// A failed inventory pass is retried after this long.
const INVENTORY_RETRY: Duration = Duration::from_secs(30);

/// Runs the observer of `scope` until aborted.
pub async fn run(ctx: Arc<Context>, scope: Scope) {
    let span = info_span!("observer", scope = %scope);
    observe(ctx, scope).instrument(span).await
}

/// Removes the gauges of an evicted `scope` (its budget, its orphan count), so that a
/// scope no longer observed exports nothing stale; unless a `running` scope shares its
/// labels (region and account: the roles of one account share them).
pub fn forget(ctx: &Context, scope: &Scope, running: &[Scope]) {
    let labels = |s: &Scope| crate::telemetry::RegionLabels::of(&s.region, s.role.as_ref());
    if running.iter().any(|s| labels(s) == labels(scope)) {
        return;
    }
    gauges::forget(ctx, scope);
    orphans::forget(ctx, scope);
}

/// The LoadBalancers of `scope` in the cache whose shards this process holds, synced since
/// the start or not.
fn cached_in(ctx: &Context, scope: &Scope) -> Vec<Arc<LoadBalancer>> {
    let default_region = &ctx.config.default_region;
    ctx.stores
        .loadbalancers
        .state()
        .into_iter()
        .filter(|lb| &Scope::of(lb, default_region) == scope && ctx.holds(lb.namespace().as_deref(), &lb.name_any()))
        .collect()
}

async fn observe(ctx: Arc<Context>, scope: Scope) {
    // Registered before it was started: counted here, and by the sweep that evicts it.
    ctx.metrics.fleet.scopes.set(ctx.schedule.scopes.len() as i64);
    let elb = match ctx.elb.for_scope(&scope) {
        Ok(elb) => elb,
        Err(e) => {
            warn!(error = %e, "no ELB client for the scope; no inventory or health polls");
            return;
        }
    };
    let ec2 = match ctx.elb.ec2_for_scope(&scope) {
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
    // Bounded: one iteration per tick at least, for as long as the controllers run (the
    // task is aborted when they stop); u32::MAX ticks is decades.
    for _ in 0..u32::MAX {
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
