//! Step 4, apply: what the schedule says this reconcile does (a sync of some class, a
//! health or reachability result to write, or nothing), and the sync itself: the sync
//! engine ([`crate::sync::execute`]) describes the ELB (or takes it from the region's
//! inventory on the first pass after a start), plans, applies and reads back, spending
//! from the budget in its class. Its outcome goes to [`super::report`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tracing::debug;

use super::build::SyncInputs;
use super::health::write_polled;
use super::next_status::Observation;
use super::reachable;
use super::report::{self, write_status, StatusWrite};
use crate::aws::{with_class, Class};
use crate::controller::context::Context;
use crate::controller::fingerprint::fingerprint;
use crate::controller::observer;
use crate::controller::schedule::{jittered, Step, Synced, Target};
use crate::crd::condition::{Status, SYNCED};
use crate::crd::{self, LoadBalancer};
use crate::elb;
use crate::sync::execute::{self, Failure, Known, Outcome};
use crate::{Error, Result};

/// Retry delay after a transient failure.
pub const RETRY: Duration = Duration::from_secs(5);
/// Retry delay after an ELB error that retrying cannot fix.
pub const TERMINAL_RETRY: Duration = Duration::from_secs(60);
/// How long the first sync after a start waits for the region's first inventory.
const FIRST_INVENTORY_WAIT: Duration = Duration::from_secs(30);

/// Does what the schedule decides for `lb`, whose validated and built state is `inputs`.
pub async fn apply(lb: &LoadBalancer, ctx: &Arc<Context>, inputs: &SyncInputs) -> Result<Action> {
    let key = ObjectRef::from_obj(lb);
    let elb = match ctx.aws.for_scope(&inputs.scope) {
        Ok(c) => c,
        Err(e) => return Err(report::aws_failed(lb, ctx, inputs, e, StatusWrite::default()).await),
    };
    ctx.schedule.ensure_observer(&inputs.scope, || tokio::spawn(observer::run(ctx.clone(), inputs.scope.clone())));
    let print = fingerprint(&(lb.metadata.generation, lb.spec.adopt, &inputs.scope, &inputs.desired, &inputs.resolved));
    match ctx.schedule.step(&key, &inputs.scope, print, lb.status.as_ref()) {
        Step::Idle => {
            report::unchanged(lb, ctx).await;
            Ok(Action::await_change())
        }
        Step::WriteHealth { health, at } => write_polled(lb, ctx, inputs, health, at).await,
        Step::WriteReachability(verdict) => {
            // Right after a sync, the cache may not hold the status that sync wrote yet:
            // written only over the status it was computed from, else again in a moment.
            let how = StatusWrite { if_current: true, ..StatusWrite::default() };
            match write_status(lb, ctx, Observation::Reachability(&verdict), how).await {
                Ok(()) => Ok(Action::await_change()),
                Err(Error::Kube(kube::Error::Api(e))) if e.code == 409 => {
                    debug!("status changed since the cache saw it; the reachability result is written later");
                    ctx.schedule.reach_unwritten(&key, verdict);
                    Ok(Action::requeue(jittered(Duration::from_secs(1))))
                }
                Err(e) => {
                    ctx.schedule.reach_unwritten(&key, verdict);
                    Err(e)
                }
            }
        }
        Step::Sync { class, first, seen } => {
            // Resyncs never hold every reconcile slot: a change always finds one.
            let _slot = match class {
                Class::Change => None,
                _ => match ctx.schedule.resync_slot() {
                    Some(slot) => Some(slot),
                    None => {
                        // What a completion listing saw stays for the sync that gets a slot.
                        if seen.is_some() {
                            ctx.schedule.with(&key, |m| m.completion = m.completion.take().or(seen));
                        }
                        return Ok(Action::requeue(jittered(Duration::from_secs(1))));
                    }
                },
            };
            // The first sync after a start of an object whose status says it converged
            // for this generation is checked against the region's inventory: a takeover
            // costs a few bulk describes, not several per object.
            let snapshot = match first && synced_for_generation(lb) {
                true => ctx.schedule.snapshot(&inputs.scope, FIRST_INVENTORY_WAIT).await,
                false => None,
            };
            // An ELB never seen created: whether its name is taken comes from the listing
            // the scope's creates share.
            let never_created = lb.status.as_ref().and_then(|s| s.load_balancer_name.as_ref()).is_none();
            let names = never_created.then(|| ctx.schedule.scopes.names(&inputs.scope)).flatten();
            // Attributes are not in the inventory: the status vouches for them until the
            // observer's slower attribute pass checks them (after a creation listing: the
            // create just set them).
            let known = match (&snapshot, &seen) {
                (Some(s), _) => Known {
                    seen: s.get(&inputs.name),
                    attributes: Some(&inputs.desired.attributes),
                    read_health: false,
                    // The groups the region's LoadBalancers name, read in bulk with the pass.
                    groups_seen: Some(&s.groups),
                    ..Known::default()
                },
                (None, Some(seen)) => {
                    Known { seen: Some(seen), attributes: Some(&inputs.desired.attributes), read_health: false, ..Known::default() }
                }
                (None, None) => Known { names: names.as_deref(), ..Known::default() },
            };
            with_class(class, full_sync(lb, ctx, inputs, &*elb, print, known)).await
        }
    }
}

/// Whether the status says the ELB matched the spec of the current generation.
fn synced_for_generation(lb: &LoadBalancer) -> bool {
    lb.status.as_ref().is_some_and(|s| {
        s.observed_generation == lb.metadata.generation
            && s.conditions.iter().any(|c| c.type_ == SYNCED && Status::of(&c.status) == Status::True)
    })
}

/// Adds the operator's finalizer to `lb` when it has none, before the sync engine may write
/// to AWS: from then on, deleting `lb` waits for its cleanup. The patch only applies over
/// the finalizers it was computed from (a JSON patch `test`), so that a finalizer another
/// writer added meanwhile is neither lost nor doubled; a refused patch is retried.
async fn add_finalizer(lb: &LoadBalancer, ctx: &Context) -> Result<()> {
    let finalizers = lb.finalizers();
    if finalizers.iter().any(|f| f == crd::FINALIZER) {
        return Ok(());
    }
    let ops = match finalizers.is_empty() {
        true => serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [crd::FINALIZER]},
        ]),
        false => serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
            {"op": "add", "path": "/metadata/finalizers/-", "value": crd::FINALIZER},
        ]),
    };
    // The JSON patch type is kube's own (its json-patch version), inferred from `Patch::Json`.
    let patch = Patch::Json::<()>(serde_json::from_value(ops).map_err(|e| Error::Finalizer(e.to_string()))?);
    let api: Api<LoadBalancer> = Api::namespaced(ctx.client.clone(), &lb.namespace().unwrap_or_default());
    crate::controller::sharding::fenced("finalizer", api.patch(&lb.name_any(), &PatchParams::default(), &patch)).await??;
    debug!("finalizer added");
    Ok(())
}

/// Converges the ELB and reports the outcome.
async fn full_sync(
    lb: &LoadBalancer,
    ctx: &Context,
    inputs: &SyncInputs,
    elb: &dyn elb::ElbApi,
    print: u64,
    known: Known<'_>,
) -> Result<Action> {
    let key = ObjectRef::from_obj(lb);
    let autoscaling = match ctx.aws.autoscaling_for_scope(&inputs.scope) {
        Ok(c) => c,
        Err(e) => return Err(report::aws_failed(lb, ctx, inputs, e, StatusWrite::default()).await),
    };
    let apis = execute::Apis { elb, autoscaling: autoscaling.as_deref() };
    add_finalizer(lb, ctx).await?;
    let recorded_groups = lb.status.as_ref().map(|s| s.auto_scaling_groups.as_slice()).unwrap_or_default();
    // The tag keys this operator wrote: only those are removed when they leave the spec.
    let written: Option<BTreeSet<String>> =
        lb.status.as_ref().and_then(|s| s.managed_tag_keys.as_ref()).map(|k| k.iter().cloned().collect());
    let known = Known { recorded_groups, written_tags: written.as_ref(), ..known };
    let sync_report = execute::converge_from(apis, &inputs.desired, &inputs.owner, lb.spec.adopt, known).await;
    report::applied(lb, ctx, &sync_report.applied).await;
    match sync_report.result {
        Ok(Outcome::Converged(converged)) => {
            let at = Time(k8s_openapi::jiff::Timestamp::now());
            let cross_zone = converged.attributes.cross_zone_load_balancing;
            let observation =
                Observation::Synced { converged: &converged, region: &inputs.region, resolved: &inputs.resolved, at: &at, cross_zone };
            let how = StatusWrite { adopted: sync_report.adopted, managed_tags: Some(&sync_report.managed_tags), ..StatusWrite::default() };
            write_status(lb, ctx, observation, how).await?;
            if let Some(health) = &converged.health {
                ctx.instances.record(key.clone(), health.iter().map(|h| h.state.as_str()));
            }
            let groups = converged.groups.clone();
            let target = Target { desired: inputs.desired.clone(), owner: inputs.owner.clone(), adopt: lb.spec.adopt, groups };
            // A description made without a read-back lacks what reachability looks at (the
            // security groups AWS chose): checked once a listing completes it.
            if !converged.provisional {
                ctx.schedule.reach_observed(&key, reachable::CheckInputs::of(&converged.description));
            }
            let synced = Synced {
                inputs: print,
                target,
                attributes: converged.attributes.clone(),
                registered: converged.description.instances.len(),
                health: converged.health.clone(),
                changed: !sync_report.applied.is_empty(),
                provisional: converged.provisional,
            };
            ctx.schedule.synced(&key, synced);
            Ok(Action::await_change())
        }
        Ok(Outcome::Conflict { claimed_by, reason }) => Err(report::conflict(lb, ctx, inputs, claimed_by, reason).await),
        Err(Failure::Elb(e)) => {
            let how = StatusWrite {
                adopted: sync_report.adopted,
                managed_tags: Some(&sync_report.managed_tags),
                maybe_attached: Some(&inputs.desired.auto_scaling_groups),
                if_current: false,
            };
            Err(report::aws_failed(lb, ctx, inputs, e, how).await)
        }
        Err(Failure::Plan(p)) => Err(report::plan_failed(lb, ctx, inputs, p).await),
    }
}
