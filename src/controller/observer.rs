//! One region's observer: the inventory passes (drift checks in bulk) and the health polls,
//! both spending only what the budget leaves after changes.
//!
//! - **Inventory** every `resync_interval` (the first at once, so that the first syncs after
//!   a start or a leader change are checked against it rather than described one by one):
//!   paginated DescribeLoadBalancers plus batched DescribeTags (the first pass also reads
//!   the Auto Scaling groups the LoadBalancers name, 50 a call), as class resync. Each
//!   LoadBalancer synced before is planned against what the pass saw; a non-empty plan is
//!   drift, and the object is triggered for a resync. Attributes are re-read only for the
//!   resources that manage them, every `attributes_every` passes.
//! - With shards (`--shards`), each replica observes only the LoadBalancers of the shards it
//!   holds: the drift checks, the tags it reads and the health polls are split across the
//!   replicas; DescribeLoadBalancers pages (400 ELBs each) are read by every replica that
//!   holds a shard, and the tags of every ELB (the orphan gauge) only by shard 0's holder.
//! - **Health polls** when due (see [`Memo::poll_due`]), most urgent first (in transition,
//!   then the oldest observation), and only while the describe budget has a spare token
//!   that no change or resync waits for. A failed poll is retried later within the budget;
//!   it never starts a full sync.
//! - **Backend reachability checks** when due ([`reachable::due`]), a few at a time, as
//!   class resync on the EC2 client's own budget; the result is handed to the reconcile to
//!   write, like a poll's.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tokio::time::Instant;
use tracing::{debug, info, info_span, warn, Instrument};

use super::context::{Context, Scope};
use super::loadbalancer::desired::elb_name;
use super::loadbalancer::reachable::{self, Denied};
use super::schedule::Memo;
use crate::crd::LoadBalancer;
use crate::ec2::Ec2Api;
use crate::elb::{self, with_class, Class, ElbApi};
use crate::sync::{execute, inventory, plan};

/// Health polls in flight at once per region.
const POLLS_IN_FLIGHT: usize = 4;
/// The longest the observer sleeps between looks at the budget and the schedule.
const TICK: Duration = Duration::from_millis(500);
/// A failed poll is retried after this long.
const POLL_RETRY: Duration = Duration::from_secs(10);
/// A failed inventory pass is retried after this long.
const INVENTORY_RETRY: Duration = Duration::from_secs(30);

/// Runs the observer of `region` until aborted.
pub async fn run(ctx: Arc<Context>, scope: Scope) {
    let span = info_span!("observer", scope = %scope);
    observe(ctx, scope).instrument(span).await
}

async fn observe(ctx: Arc<Context>, region: Scope) {
    let elb = match ctx.elb.for_scope(&region) {
        Ok(elb) => elb,
        Err(e) => {
            warn!(error = %e, "no ELB client for the region; no inventory or health polls");
            return;
        }
    };
    let ec2 = match ctx.elb.ec2_for_scope(&region) {
        Some(Ok(ec2)) => Some(ec2),
        Some(Err(e)) => {
            warn!(error = %e, "no EC2 client for the region; no backend reachability checks");
            None
        }
        None => None,
    };
    let settings = ctx.schedule.settings.clone();
    let polls = Arc::new(tokio::sync::Semaphore::new(POLLS_IN_FLIGHT));
    let checks = Arc::new(tokio::sync::Semaphore::new(reachable::CHECKS_IN_FLIGHT));
    let denied = Arc::new(Denied::default());
    let mut next_inventory = Instant::now();
    let mut passes: u32 = 0;
    let mut orphans_seen = std::collections::BTreeSet::new();
    let mut refreshes = ctx.schedule.refreshes();
    // The next pass serves first syncs (after the start, or a gained shard).
    let mut first_syncs = true;
    // Bounded: one iteration per tick at least, for as long as the controllers run (the
    // task is aborted when they stop); u32::MAX ticks is decades.
    for _ in 0..u32::MAX {
        // A shard was gained: its objects' first syncs wait for a fresh pass.
        if ctx.schedule.refreshes() != refreshes {
            refreshes = ctx.schedule.refreshes();
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
            let pass = inventory_pass(&ctx, &*elb, &region, with_attributes, all_tags, first_syncs, &mut orphans_seen);
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
        dispatch_polls(&ctx, &elb, &region, &polls).await;
        if let Some(ec2) = &ec2 {
            dispatch_checks(&ctx, ec2, &region, &checks, &denied);
        }
        publish_gauges(&ctx, &*elb, &region);
        let wake = ctx.schedule.wake.notified();
        let until = next_inventory.min(Instant::now() + TICK);
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = wake => {}
        }
    }
}

/// One inventory pass over the region: snapshot, then drift checks. With `first_syncs`,
/// it also reads the Auto Scaling groups the first syncs look at, in bulk.
async fn inventory_pass(
    ctx: &Context,
    elb: &dyn ElbApi,
    region: &Scope,
    with_attributes: bool,
    all_tags: bool,
    first_syncs: bool,
    orphans_seen: &mut std::collections::BTreeSet<String>,
) -> Result<(), elb::Error> {
    // With shards: only the objects of the shards held here.
    let members: Vec<(ObjectRef<LoadBalancer>, Memo)> = ctx
        .schedule
        .each(|memos| memos.iter().filter(|(k, m)| &m.scope == region && ctx.holds_key(k)).map(|(k, m)| (k.clone(), m.clone())).collect());
    // Every LoadBalancer of the region in the cache, not only those synced since the start:
    // the first pass after a start serves their first syncs.
    let default_region = &ctx.config.default_region;
    let interest = ctx
        .stores
        .loadbalancers
        .state()
        .iter()
        .filter(|lb| &Scope::of(lb, default_region) == region && ctx.holds(lb.namespace().as_deref(), &lb.name_any()))
        .map(|lb| elb_name(lb))
        .collect();
    let mut snapshot = inventory::take(elb, &interest, all_tags).await?;
    if first_syncs {
        snapshot.groups = first_groups(ctx, region).await;
    }
    if all_tags {
        report_orphans(ctx, region, &snapshot, orphans_seen);
    }
    debug!(load_balancers = snapshot.len(), "inventory");
    let mut drifted = 0;
    for (key, memo) in &members {
        let Some(target) = &memo.target else { continue };
        let manages_attributes = target.desired.attributes != elb::LoadBalancerAttributes::default();
        let attributes = match (manages_attributes, with_attributes, &memo.attributes) {
            (false, _, _) => elb::LoadBalancerAttributes::default(),
            (true, false, Some(a)) => a.clone(),
            (true, _, _) => match elb.describe_load_balancer_attributes(&target.desired.name).await {
                Ok(a) => {
                    ctx.schedule.with(key, |m| m.attributes = Some(a.clone()));
                    a
                }
                Err(e) if e.is_not_found() => Default::default(),
                Err(e) => return Err(e),
            },
        };
        let drift = match snapshot.get(&target.desired.name).and_then(|seen| seen.observed(attributes)) {
            None => true,
            Some(mut observed) => {
                observed.groups = target.groups.clone();
                let foreign = !matches!(target.owner.ownership(&observed.tags), crate::sync::ownership::Ownership::Owned);
                (foreign && !target.adopt) || !plan::plan(&target.desired, Some(&observed)).map(|a| a.is_empty()).unwrap_or(false)
            }
        };
        if drift {
            drifted += 1;
            ctx.schedule.drifted(key);
        }
    }
    if drifted > 0 {
        info!(drifted, "inventory found drift; resyncing");
    }
    ctx.schedule.publish_snapshot(region, snapshot);
    Ok(())
}

/// The Auto Scaling groups the region's LoadBalancers name or recorded as attached, read
/// in bulk; nothing when none names any. A failed read is logged and leaves it to each
/// first sync to read its own.
async fn first_groups(ctx: &Context, region: &Scope) -> inventory::GroupsSeen {
    let default_region = &ctx.config.default_region;
    let names: std::collections::BTreeSet<String> = ctx
        .stores
        .loadbalancers
        .state()
        .iter()
        .filter(|lb| &Scope::of(lb, default_region) == region && ctx.holds(lb.namespace().as_deref(), &lb.name_any()))
        .flat_map(|lb| super::loadbalancer::groups_named(lb))
        .collect();
    if names.is_empty() {
        return Default::default();
    }
    let read = match ctx.elb.autoscaling_for_scope(region) {
        Ok(Some(autoscaling)) => inventory::GroupsSeen::read(&*autoscaling, names).await,
        Ok(None) => return Default::default(),
        Err(e) => Err(e),
    };
    read.unwrap_or_else(|e| {
        warn!(error = %e, "could not read the Auto Scaling groups in bulk; the first syncs read their own");
        Default::default()
    })
}

/// The orphan gauge of `region` and a log line for each new orphan: ELBs tagged for this
/// cluster that no LoadBalancer in the cache claims (`elb-operator orphans` lists them).
fn report_orphans(ctx: &Context, region: &Scope, snapshot: &inventory::Snapshot, seen: &mut std::collections::BTreeSet<String>) {
    let live =
        ctx.stores.loadbalancers.state().iter().map(|lb| format!("{}/{}", lb.namespace().unwrap_or_default(), lb.name_any())).collect();
    let found = crate::orphans::classify(snapshot, &region.region, &ctx.config.cluster_name, &live, ctx.config.namespace.as_deref());
    let labels = crate::telemetry::RegionLabels::of(&region.region, region.role.as_ref());
    ctx.metrics.fleet.orphaned_load_balancers.get_or_create(&labels).set(found.orphaned.len() as i64);
    for o in &found.orphaned {
        if seen.insert(o.name.clone()) {
            warn!(elb = %o.name, resource = %o.resource, "orphaned load balancer: tagged for this cluster, claimed by no LoadBalancer (see `elb-operator orphans`)");
        }
    }
}

/// Starts the health polls that are due, most urgent first, while the budget has spare
/// tokens.
async fn dispatch_polls(ctx: &Arc<Context>, elb: &Arc<dyn ElbApi>, region: &Scope, polls: &Arc<tokio::sync::Semaphore>) {
    let now = Instant::now();
    let interval = ctx.schedule.settings.health_poll_interval;
    let mut due: Vec<(bool, Instant, ObjectRef<LoadBalancer>, String)> = ctx.schedule.each(|memos| {
        memos
            .iter()
            .filter(|(k, m)| &m.scope == region && ctx.holds_key(k))
            .filter_map(|(k, m)| {
                let at = m.poll_due(interval)?;
                let name = m.target.as_ref()?.desired.name.clone();
                (at <= now).then(|| (!m.transition, at, k.clone(), name))
            })
            .collect()
    });
    // In transition first, then the oldest observation.
    due.sort_by_key(|d| (d.0, d.1));
    let budget = elb.budget();
    for (_, _, key, name) in due {
        let Ok(permit) = polls.clone().try_acquire_owned() else { return };
        if let Some(b) = &budget {
            if !b.describe.has_spare(Class::Health) {
                return;
            }
        }
        // Not due again while this poll runs.
        ctx.schedule.with(&key, |m| m.poll_backoff_until = Some(now + POLL_RETRY));
        let (ctx, elb) = (ctx.clone(), elb.clone());
        tokio::spawn(async move {
            match with_class(Class::Health, execute::poll_health(&*elb, &name)).await {
                Ok(health) => ctx.schedule.polled(&key, health),
                Err(e) => {
                    debug!(elb = %name, error = %e, "health poll failed; retrying within the budget");
                    ctx.schedule.poll_failed(&key, POLL_RETRY);
                }
            }
            // The slot is free: look for the next due poll now, not at the next tick (which
            // capped polls at POLLS_IN_FLIGHT per TICK, 8/s, whatever the budget).
            drop(permit);
            ctx.schedule.wake.notify_waiters();
        });
    }
}

/// Starts the backend reachability checks that are due, while fewer than
/// [`reachable::CHECKS_IN_FLIGHT`] run.
fn dispatch_checks(ctx: &Arc<Context>, ec2: &Arc<dyn Ec2Api>, region: &Scope, checks: &Arc<tokio::sync::Semaphore>, denied: &Arc<Denied>) {
    let now = Instant::now();
    let resync = ctx.schedule.settings.resync_interval;
    let due: Vec<(ObjectRef<LoadBalancer>, Arc<reachable::Inputs>, u64)> = ctx.schedule.each(|memos| {
        memos
            .iter()
            .filter(|(_, m)| &m.scope == region && reachable::due(&m.reach, m.transition, now, resync))
            .filter_map(|(k, m)| m.reach.inputs.clone().map(|(inputs, print)| (k.clone(), inputs, print)))
            .collect()
    });
    for (key, inputs, print) in due {
        let Ok(permit) = checks.clone().try_acquire_owned() else { return };
        ctx.schedule.with(&key, |m| m.reach.in_flight = true);
        let (ctx, ec2, denied) = (ctx.clone(), ec2.clone(), denied.clone());
        let span = info_span!("reachability", object = %key);
        tokio::spawn(
            async move {
                let (outcome, verdict) = with_class(Class::Resync, denied.check(&*ec2, &inputs, Instant::now(), resync)).await;
                debug!(reason = %verdict.reason, "backend reachability checked");
                ctx.schedule.reach_checked(&key, print, outcome, verdict);
                drop(permit);
                ctx.schedule.wake.notify_waiters();
            }
            .instrument(span),
        );
    }
}

/// The fleet gauges: pending work by class, the oldest pending change and health
/// observation, and the budget the adaptive limiter allows.
fn publish_gauges(ctx: &Context, elb: &dyn ElbApi, region: &Scope) {
    let now = Instant::now();
    let interval = ctx.schedule.settings.health_poll_interval;
    let (changes, resyncs, polls, oldest_change, oldest_health) = ctx.schedule.each(|memos| {
        let mut out = (0i64, 0i64, 0i64, Duration::ZERO, Duration::ZERO);
        for m in memos.values() {
            match m.pending {
                Some((Class::Change, since)) => {
                    out.0 += 1;
                    out.3 = out.3.max(now - since);
                }
                Some((_, _)) => out.1 += 1,
                None => {}
            }
            if m.poll_due(interval).is_some_and(|t| t <= now) {
                out.2 += 1;
            }
            if m.registered > 0 {
                if let Some(t) = m.health_observed {
                    out.4 = out.4.max(now - t);
                }
            }
        }
        out
    });
    let fleet = &ctx.metrics.fleet;
    for (class, n) in [(Class::Change, changes), (Class::Resync, resyncs), (Class::Health, polls)] {
        fleet.queued.get_or_create(&crate::telemetry::ClassLabels { class: class.as_str().into() }).set(n);
    }
    fleet.oldest_pending_change_seconds.set(oldest_change.as_secs_f64());
    fleet.oldest_health_observation_seconds.set(oldest_health.as_secs_f64());
    if let Some(b) = elb.budget() {
        for (kind, bucket) in [("describe", &b.describe), ("mutate", &b.mutate)] {
            let labels = crate::telemetry::BudgetLabels::of(&region.region, region.role.as_ref(), kind);
            fleet.budget_rate.get_or_create(&labels).set(bucket.current_rate());
            fleet.budget_configured_rate.get_or_create(&labels).set(bucket.configured_rate());
        }
    }
}
