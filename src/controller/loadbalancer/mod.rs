//! The LoadBalancer controller, as named steps:
//! dereference + build ([`desired`]) → schedule ([`crate::controller::schedule`]: full sync,
//! health poll, or nothing yet) → sync ([`crate::sync`]) → status ([`status::next`]) →
//! write. Cleanup (the finalizer) deletes the ELB this resource owns.
//!
//! - A **full sync** describes the ELB, plans, applies, and reads back.
//! - A **health poll** is one DescribeInstanceHealth; if the ELB is gone or its registered
//!   instances differ from the wanted ones, a full sync follows at once.

pub mod desired;
pub mod status;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{finalizer, Error as FinalizerError, Event as FinalizerEvent};
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tracing::{debug, info, info_span, warn, Instrument};

use self::desired::Inputs;
use self::status::{error_reason, Observation};
use super::context::Context;
use super::schedule::{backoff, fingerprint, Step};
use super::status::Verdict;
use crate::crd::condition::SYNCED;
use crate::crd::{self, DeletionPolicy, LoadBalancer};
use crate::elb;
use crate::sync::execute::{self, Deleted, Failure, Outcome};
use crate::sync::ownership::Owner;
use crate::sync::plan::{Change, PlanError};
use crate::{Error, Result};

/// The metrics label of this controller.
pub const RESOURCE: &str = "loadbalancer";

/// Reconciles one LoadBalancer (entry point of the controller).
pub async fn reconcile(lb: Arc<LoadBalancer>, ctx: Arc<Context>) -> Result<Action> {
    let ns = lb.namespace().unwrap_or_default();
    let span = info_span!("reconcile", kind = "LoadBalancer", object = %format!("{ns}/{}", lb.name_any()));
    async move {
        let _timer = ctx.metrics.reconcile.start(RESOURCE);
        let api: Api<LoadBalancer> = Api::namespaced(ctx.client.clone(), &ns);
        let result = finalizer(&api, crd::FINALIZER, lb, |event| async {
            match event {
                FinalizerEvent::Apply(lb) => apply(lb, &ctx).await,
                FinalizerEvent::Cleanup(lb) => cleanup(lb, &ctx).await,
            }
        })
        .await
        .map_err(|e| match e {
            FinalizerError::ApplyFailed(e) | FinalizerError::CleanupFailed(e) => e,
            FinalizerError::AddFinalizer(e) | FinalizerError::RemoveFinalizer(e) => Error::Kube(e),
            other => Error::Finalizer(other.to_string()),
        });
        if let Err(e) = &result {
            ctx.metrics.reconcile.failure(RESOURCE, e.metric_label());
        }
        result
    }
    .instrument(span)
    .await
}

/// Requeue policy: an invalid spec or a conflict waits for a change (or the resync);
/// throttling backs off from 30 s; anything else from 5 s; both doubling per consecutive
/// failure of this object, capped, with jitter.
pub fn error_policy(lb: Arc<LoadBalancer>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = ObjectRef::from_obj(&*lb);
    let failures = ctx.schedule.failed(&key);
    warn!(object = %key, %error, failures, "LoadBalancer reconcile failed");
    match error {
        Error::InvalidSpec(_) | Error::Conflict(_) => Action::requeue(ctx.config.resync_interval),
        Error::Elb(e) if e.kind() == elb::ErrorKind::Throttled => {
            Action::requeue(backoff(failures, Duration::from_secs(30), Duration::from_secs(600)))
        }
        _ => Action::requeue(backoff(failures, Duration::from_secs(5), Duration::from_secs(300))),
    }
}

async fn apply(lb: Arc<LoadBalancer>, ctx: &Context) -> Result<Action> {
    // A reconcile that read a half-filled pod cache would deregister instances.
    if !ctx.stores.wait_ready(Duration::from_secs(30)).await {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    let key = ObjectRef::from_obj(&*lb);
    let inputs = match desired::resolve(&lb, ctx) {
        Ok(i) => i,
        Err(problem) => {
            let reason = problem.reason;
            ctx.schedule.invalidate(&key);
            report(&lb, ctx, Observation::Failed { synced: Verdict::new(SYNCED, false, reason, &problem.message), conflict: None, resolved: None })
                .await?;
            ctx.publish(&*lb, EventType::Warning, reason, "Validate", problem.message.clone()).await;
            return Err(Error::InvalidSpec(problem.message));
        }
    };
    let elb = match ctx.elb.for_region(&inputs.region) {
        Ok(c) => c,
        Err(e) => return Err(elb_failure(&lb, ctx, &inputs, e).await),
    };
    let print = fingerprint(&format!("{:?}", (lb.metadata.generation, lb.spec.adopt, &inputs.region, &inputs.desired, &inputs.resolved)));
    let now = Instant::now();
    match ctx.schedule.step(&key, print, now) {
        Step::Wait(d) => return Ok(Action::requeue(d)),
        Step::FullSync => {}
        Step::PollHealth => match execute::poll_health(&*elb, &inputs.name).await {
            Ok(Some(health)) => {
                let registered: BTreeSet<String> = health.iter().map(|h| h.instance_id.clone()).collect();
                if registered == inputs.desired.instances {
                    report(&lb, ctx, Observation::HealthPolled { health: &health, resolved: &inputs.resolved }).await?;
                    ctx.instances.record(key.clone(), health.iter().map(|h| h.state.as_str()));
                    return Ok(Action::requeue(ctx.schedule.polled(&key, now)));
                }
                info!(elb = %inputs.name, "registered instances drifted; full sync");
            }
            Ok(None) => info!(elb = %inputs.name, "load balancer is gone; full sync"),
            Err(e) => debug!(elb = %inputs.name, error = %e, "health poll failed; full sync"),
        },
    }
    full_sync(&lb, ctx, &inputs, &*elb, print).await
}

async fn full_sync(lb: &LoadBalancer, ctx: &Context, inputs: &Inputs, elb: &dyn elb::ElbApi, print: u64) -> Result<Action> {
    let key = ObjectRef::from_obj(lb);
    let sync_report = execute::converge(elb, &inputs.desired, &inputs.owner, lb.spec.adopt).await;
    for action in &sync_report.applied {
        let reason = match action.change() {
            Change::Created => "Created",
            Change::Updated => "Updated",
            Change::Registered => "Registered",
            Change::Deregistered => "Deregistered",
        };
        ctx.publish(lb, EventType::Normal, reason, action.api_action(), action.to_string()).await;
    }
    match sync_report.result {
        Ok(Outcome::Converged(converged)) => {
            let observation = Observation::Synced { converged: &converged, region: &inputs.region, resolved: &inputs.resolved };
            report(lb, ctx, observation).await?;
            ctx.instances.record(key.clone(), converged.health.iter().map(|h| h.state.as_str()));
            Ok(Action::requeue(ctx.schedule.synced(&key, print, Instant::now())))
        }
        Ok(Outcome::Conflict { claimed_by }) => {
            let message = format!(
                "load balancer {} in {} exists and is not owned by this resource{}; it is left unchanged. \
                 Choose another spec.loadBalancerName, or set spec.adopt: true to take over a load balancer without ownership tags",
                inputs.name,
                inputs.region,
                claimed_by.map(|c| format!(" (its tags name {c})")).unwrap_or_default()
            );
            ctx.schedule.invalidate(&key);
            let synced = Verdict::new(SYNCED, false, "Conflict", &message);
            report(lb, ctx, Observation::Failed { synced, conflict: Some(&message), resolved: Some(&inputs.resolved) }).await?;
            ctx.publish(lb, EventType::Warning, "Conflict", "Observe", message.clone()).await;
            Err(Error::Conflict(message))
        }
        Err(Failure::Elb(e)) => Err(elb_failure(lb, ctx, inputs, e).await),
        Err(Failure::Plan(p)) => {
            let reason = match p {
                PlanError::SchemeMismatch { .. } => "SchemeMismatch",
                PlanError::NoPlacement => "NoPlacement",
            };
            ctx.schedule.invalidate(&key);
            let synced = Verdict::new(SYNCED, false, reason, p.to_string());
            report(lb, ctx, Observation::Failed { synced, conflict: None, resolved: Some(&inputs.resolved) }).await?;
            ctx.publish(lb, EventType::Warning, reason, "Plan", p.to_string()).await;
            Err(Error::InvalidSpec(p.to_string()))
        }
    }
}

/// Reports an ELB error (condition + Warning event naming code and message) and returns it.
async fn elb_failure(lb: &LoadBalancer, ctx: &Context, inputs: &Inputs, e: elb::Error) -> Error {
    let reason = error_reason(&e);
    let message = e.to_string();
    ctx.schedule.invalidate(&ObjectRef::from_obj(lb));
    let synced = Verdict::new(SYNCED, false, &reason, &message);
    if let Err(write) = report(lb, ctx, Observation::Failed { synced, conflict: None, resolved: Some(&inputs.resolved) }).await {
        warn!(error = %write, "could not write status");
    }
    ctx.publish(lb, EventType::Warning, &reason, action_of(&e), message).await;
    Error::Elb(e)
}

/// Computes the new status from `observation`, warns once when backends stop resolving,
/// and writes the status when it changed.
async fn report(lb: &LoadBalancer, ctx: &Context, observation: Observation<'_>) -> Result<()> {
    let previous = lb.status.clone().unwrap_or_default();
    let next = status::next(&previous, lb.metadata.generation, &observation);
    if let Some(c) = status::newly_unresolved(&previous, &next) {
        ctx.publish(lb, EventType::Warning, &c.reason, "ResolveBackends", c.message.clone()).await;
    }
    let api: Api<LoadBalancer> = Api::namespaced(ctx.client.clone(), &lb.namespace().unwrap_or_default());
    if super::status::write(&api, lb, lb.status.as_ref(), &next).await? {
        debug!("status written");
    }
    Ok(())
}

/// Deletion: `Delete` removes the ELB this resource owns (already gone is success);
/// `Retain` leaves it; a foreign ELB is never deleted and never blocks deletion.
async fn cleanup(lb: Arc<LoadBalancer>, ctx: &Context) -> Result<Action> {
    let key = ObjectRef::from_obj(&*lb);
    ctx.forget(&key);
    let name = desired::elb_name(&lb);
    let region = lb.spec.region.clone().unwrap_or_else(|| ctx.config.default_region.clone());
    if lb.spec.deletion_policy == DeletionPolicy::Retain {
        let note = format!("deletionPolicy is Retain: load balancer {name} in {region} is left in place");
        ctx.publish(&*lb, EventType::Normal, "Retained", "Delete", note).await;
        return Ok(Action::await_change());
    }
    let owner = Owner::new(&ctx.config.cluster_name, &lb.namespace().unwrap_or_default(), &lb.name_any());
    let result = match ctx.elb.for_region(&region) {
        Ok(elb) => execute::delete(&*elb, &name, &owner).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(Deleted::Deleted) => {
            ctx.publish(&*lb, EventType::Normal, "Deleted", "DeleteLoadBalancer", format!("deleted load balancer {name} in {region}")).await;
        }
        Ok(Deleted::AlreadyGone) => debug!(elb = %name, "load balancer already gone"),
        Ok(Deleted::Foreign { .. }) => {
            let note = format!("load balancer {name} in {region} is not owned by this resource; it is left in place");
            ctx.publish(&*lb, EventType::Warning, "Conflict", "Delete", note).await;
        }
        Err(e) => {
            ctx.publish(&*lb, EventType::Warning, &error_reason(&e), action_of(&e), e.to_string()).await;
            return Err(Error::Elb(e));
        }
    }
    Ok(Action::await_change())
}

/// The ELB action an error came from, for the event's `action`.
fn action_of(e: &elb::Error) -> &'static str {
    match e {
        elb::Error::Api { action, .. }
        | elb::Error::UnexpectedResponse { action, .. }
        | elb::Error::Timeout { action, .. }
        | elb::Error::Transport { action, .. } => action,
        _ => "ELB",
    }
}
