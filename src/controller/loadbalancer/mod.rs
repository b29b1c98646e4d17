//! The LoadBalancer controller, as named steps:
//! dereference + build ([`desired`]) → schedule ([`crate::controller::schedule`]: a sync of
//! some class, a health result to write, or nothing) → sync ([`crate::sync`], spent from
//! the budget in its class) → status ([`status::next`]) → write. Cleanup (the finalizer)
//! deletes the ELB this resource owns.
//!
//! A sync describes the ELB (or takes it from the region's inventory on the first pass
//! after a start), plans, applies, and reads back. Health polls and drift checks are the
//! region observer's ([`crate::controller::observer`]); it triggers the reconcile when
//! there is something to write or to resync.

pub mod desired;
pub mod reachable;
pub mod status;
pub mod zones;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{finalizer, Error as FinalizerError, Event as FinalizerEvent};
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tracing::{debug, info_span, warn, Instrument};

use self::desired::Inputs;
use self::status::{error_reason, Observation};
use super::context::{Context, Scope};
use super::gates;
use super::groups::groups_named;
use super::observer;
use super::schedule::{fingerprint, jittered, status_print, Step, Target};
use super::status::Verdict;
use crate::crd::condition::SYNCED;
use crate::crd::{self, DeletionPolicy, LoadBalancer};
use crate::elb::{self, with_class, Class};
use crate::sync::execute::{self, Deleted, Failure, Known, Outcome};
use crate::sync::ownership::Owner;
use crate::sync::plan::{Change, PlanError};
use crate::{Error, Result};

/// The metrics label of this controller.
pub const RESOURCE: &str = "loadbalancer";

/// Reconciles one LoadBalancer (entry point of the controller).
pub async fn reconcile(lb: Arc<LoadBalancer>, ctx: Arc<Context>) -> Result<Action> {
    let api: Api<LoadBalancer> = Api::namespaced(ctx.client.clone(), &lb.namespace().unwrap_or_default());
    let reconcile = async {
        finalizer(&api, crd::FINALIZER, lb.clone(), |event| async {
            match event {
                FinalizerEvent::Apply(lb) => apply(lb, &ctx).await,
                // Deletion is a change: it is spent from the budget first.
                FinalizerEvent::Cleanup(lb) => with_class(Class::Change, cleanup(lb, &ctx)).await,
            }
        })
        .await
        .map_err(|e| match e {
            FinalizerError::ApplyFailed(e) | FinalizerError::CleanupFailed(e) => e,
            FinalizerError::AddFinalizer(e) | FinalizerError::RemoveFinalizer(e) => Error::Kube(e),
            other => Error::Finalizer(other.to_string()),
        })
    };
    super::reconciler::run(&ctx, RESOURCE, &*lb, reconcile).await
}

/// Requeue policy. Pacing under throttling is the budget's job (shared per credentials and
/// region, adaptive), so no object backs off on its own and every object is retried
/// promptly once the API recovers:
/// - an invalid spec or a conflict waits for a change (or the resync interval);
/// - an ELB error that retrying cannot fix (a validation error, a missing certificate)
///   waits a minute, or the change that fixes it;
/// - anything else (throttling, 5xx, timeouts, the Kubernetes API, a write the lease's
///   fence refused) is retried in about 5 s.
pub fn error_policy(lb: Arc<LoadBalancer>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = ObjectRef::from_obj(&*lb);
    warn!(object = %key, %error, "LoadBalancer reconcile failed");
    Action::requeue(retry_delay(error, ctx.config.resync_interval))
}

/// The requeue delay of [`error_policy`].
fn retry_delay(error: &Error, resync_interval: Duration) -> Duration {
    match error {
        Error::InvalidSpec(_) | Error::Conflict(_) => resync_interval,
        // Not the spec's fault: the lease's renew deadline passed. Either the process lost
        // the lease (its controllers stop anyway) or a renewal was late and it leads on.
        Error::Elb(elb::Error::Fenced { .. }) => jittered(RETRY),
        Error::Elb(e) if e.kind() == elb::ErrorKind::Terminal => jittered(TERMINAL_RETRY.min(resync_interval)),
        _ => jittered(RETRY),
    }
}

/// Retry delay after a transient failure.
const RETRY: Duration = Duration::from_secs(5);
/// Retry delay after an ELB error that retrying cannot fix.
const TERMINAL_RETRY: Duration = Duration::from_secs(60);
/// How long the first sync after a start waits for the region's first inventory.
const FIRST_INVENTORY_WAIT: Duration = Duration::from_secs(30);

async fn apply(lb: Arc<LoadBalancer>, ctx: &Arc<Context>) -> Result<Action> {
    // A reconcile that read a half-filled pod cache would deregister instances.
    if !ctx.stores.wait_ready(Duration::from_secs(30)).await {
        return Ok(Action::requeue(RETRY));
    }
    let key = ObjectRef::from_obj(&*lb);
    let inputs = match desired::resolve(&lb, ctx) {
        Ok(i) => i,
        Err(problem) => {
            let reason = problem.reason;
            report(
                &lb,
                ctx,
                Observation::Failed {
                    synced: Verdict::new(SYNCED, false, reason, &problem.message),
                    conflict: None,
                    resolved: None,
                    transient: false,
                },
            )
            .await?;
            ctx.publish(&*lb, EventType::Warning, reason, "Validate", problem.message.clone()).await;
            return Err(Error::InvalidSpec(problem.message));
        }
    };
    let elb = match ctx.elb.for_scope(&inputs.scope) {
        Ok(c) => c,
        Err(e) => return Err(elb_failure(&lb, ctx, &inputs, e, Done::default()).await),
    };
    ctx.schedule.ensure_observer(&inputs.scope, || tokio::spawn(observer::run(ctx.clone(), inputs.scope.clone())));
    let print = fingerprint(&format!("{:?}", (lb.metadata.generation, lb.spec.adopt, &inputs.scope, &inputs.desired, &inputs.resolved)));
    match ctx.schedule.step(&key, &inputs.scope, print, lb.status.as_ref()) {
        Step::Idle => {
            // Nothing for the ELB; a pod that just appeared may still need its gate.
            gates::update(ctx, &lb, lb.status.as_ref()).await;
            Ok(Action::await_change())
        }
        Step::WriteHealth { health, at } => write_polled(&lb, ctx, &inputs, health, at).await,
        Step::WriteReachability(verdict) => {
            // Right after a sync, the cache may not hold the status that sync wrote yet:
            // written only over the status it was computed from, else again in a moment.
            match report_adopting(&lb, ctx, Observation::Reachability(&verdict), Done { if_current: true, ..Done::default() }).await {
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
        Step::Sync { class, first } => {
            // Resyncs never hold every reconcile slot: a change always finds one.
            let _slot = match class {
                Class::Change => None,
                _ => match ctx.schedule.resync_slot() {
                    Some(slot) => Some(slot),
                    None => return Ok(Action::requeue(jittered(Duration::from_secs(1)))),
                },
            };
            // The first sync after a start of an object whose status says it converged
            // for this generation is checked against the region's inventory: a takeover
            // costs a few bulk describes, not several per object.
            let snapshot = match first && synced_for_generation(&lb) {
                true => ctx.schedule.snapshot(&inputs.scope, FIRST_INVENTORY_WAIT).await,
                false => None,
            };
            // Attributes are not in the inventory: the status vouches for them until the
            // observer's slower attribute pass checks them.
            let known = match &snapshot {
                Some(s) => Known {
                    seen: s.get(&inputs.name),
                    attributes: Some(&inputs.desired.attributes),
                    read_health: false,
                    recorded_groups: &[],
                    // The groups the region's LoadBalancers name, read in bulk with the pass.
                    groups_seen: Some(&s.groups),
                    written_tags: None,
                },
                None => Known::default(),
            };
            with_class(class, full_sync(&lb, ctx, &inputs, &*elb, print, known)).await
        }
    }
}

/// Writes the health result a poll left for `key`: the health writer's work, beside the
/// reconcile queue (see [`crate::controller::schedule::Schedule::take_health`]). A result
/// the schedule does not hand over (none left, a stale cache, a sync pending) is the
/// reconcile's.
pub async fn write_health(key: ObjectRef<LoadBalancer>, ctx: Arc<Context>) {
    let Some(lb) = ctx.stores.loadbalancers.get(&key) else { return };
    let span = info_span!("write_health", kind = "LoadBalancer", object = %key);
    let write = async {
        let Some((health, at)) = ctx.schedule.take_health(&key, status_print(lb.status.as_ref())) else {
            return Ok(Action::await_change());
        };
        let inputs = match desired::resolve(&lb, &ctx) {
            Ok(inputs) => inputs,
            // An invalid spec: the reconcile reports it; the result waits for it.
            Err(_) => {
                ctx.schedule.health_unwritten(&key, health, at);
                return Ok(Action::await_change());
            }
        };
        write_polled(&lb, &ctx, &inputs, health, at).await
    };
    // As a reconcile: only for an object of a shard this replica holds, within its fence.
    match super::sharding::in_shard(&ctx.config, key.namespace.as_deref(), &key.name, write).instrument(span).await {
        Ok(action) if action == Action::await_change() => {}
        // Not written (the cache lagged): the reconcile writes it in a moment.
        Ok(_) => ctx.schedule.trigger(&key),
        Err(e) => warn!(object = %key, error = %e, "could not write the health status; the next reconcile or poll writes it"),
    }
}

/// Writes a poll result into status, only over the version of the object it was computed
/// from (a `resourceVersion` precondition): over a cache that has not seen the last sync's
/// or check's write yet, a whole-status write would undo it. A result not written is kept
/// for the next try (unless a newer one came), and a conflict is retried in about a second,
/// once the cache caught up.
async fn write_polled(lb: &LoadBalancer, ctx: &Context, inputs: &Inputs, health: Vec<elb::InstanceState>, at: Time) -> Result<Action> {
    let key = ObjectRef::from_obj(lb);
    let cross_zone = inputs.desired.attributes.cross_zone_load_balancing;
    let polled = Observation::HealthPolled { health: &health, resolved: &inputs.resolved, at: &at, cross_zone };
    match report_adopting(lb, ctx, polled, Done { if_current: true, ..Done::default() }).await {
        Ok(()) => {
            ctx.instances.record(key, health.iter().map(|h| h.state.as_str()));
            Ok(Action::await_change())
        }
        Err(e) => {
            ctx.schedule.health_unwritten(&key, health, at);
            match e {
                Error::Kube(kube::Error::Api(e)) if e.code == 409 => {
                    debug!("status changed since the cache saw it; the health result is written later");
                    Ok(Action::requeue(jittered(Duration::from_secs(1))))
                }
                e => Err(e),
            }
        }
    }
}

/// Whether the status says the ELB matched the spec of the current generation.
fn synced_for_generation(lb: &LoadBalancer) -> bool {
    lb.status.as_ref().is_some_and(|s| {
        s.observed_generation == lb.metadata.generation && s.conditions.iter().any(|c| c.type_ == SYNCED && c.status == "True")
    })
}

async fn full_sync(
    lb: &LoadBalancer,
    ctx: &Context,
    inputs: &Inputs,
    elb: &dyn elb::ElbApi,
    print: u64,
    known: Known<'_>,
) -> Result<Action> {
    let key = ObjectRef::from_obj(lb);
    let autoscaling = match ctx.elb.autoscaling_for_scope(&inputs.scope) {
        Ok(c) => c,
        Err(e) => return Err(elb_failure(lb, ctx, inputs, e, Done::default()).await),
    };
    let apis = execute::Apis { elb, autoscaling: autoscaling.as_deref() };
    let recorded_groups = lb.status.as_ref().map(|s| s.auto_scaling_groups.as_slice()).unwrap_or_default();
    let known = Known { recorded_groups, ..known };
    let sync_report = execute::converge_from(apis, &inputs.desired, &inputs.owner, lb.spec.adopt, known).await;
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
            let at = Time(k8s_openapi::jiff::Timestamp::now());
            let cross_zone = converged.attributes.cross_zone_load_balancing;
            let observation =
                Observation::Synced { converged: &converged, region: &inputs.region, resolved: &inputs.resolved, at: &at, cross_zone };
            report_adopting(lb, ctx, observation, Done { adopted: sync_report.adopted, ..Done::default() }).await?;
            if let Some(health) = &converged.health {
                ctx.instances.record(key.clone(), health.iter().map(|h| h.state.as_str()));
            }
            let groups = converged.groups.clone();
            let target = Target { desired: inputs.desired.clone(), owner: inputs.owner.clone(), adopt: lb.spec.adopt, groups };
            let registered = converged.description.instances.len();
            let changed = !sync_report.applied.is_empty();
            ctx.schedule.reach_observed(&key, reachable::Inputs::of(&converged.description));
            ctx.schedule.synced(&key, print, target, converged.attributes.clone(), registered, converged.health.as_deref(), changed);
            Ok(Action::await_change())
        }
        Ok(Outcome::Conflict { claimed_by, reason }) => {
            let message = format!(
                "load balancer {} in {} exists and is not owned by this resource{}; it is left unchanged. \
                 Choose another spec.loadBalancerName, or set spec.adopt: true to take over a load balancer without ownership tags",
                inputs.name,
                inputs.region,
                claimed_by.map(|c| format!(" (its tags name {c})")).unwrap_or_default()
            );
            let synced = Verdict::new(SYNCED, false, reason.as_str(), &message);
            report(lb, ctx, Observation::Failed { synced, conflict: Some(&message), resolved: Some(&inputs.resolved), transient: false })
                .await?;
            ctx.publish(lb, EventType::Warning, reason.as_str(), "Observe", message.clone()).await;
            Err(Error::Conflict(message))
        }
        Err(Failure::Elb(e)) => {
            let done = Done { adopted: sync_report.adopted, maybe_attached: Some(&inputs.desired.auto_scaling_groups), if_current: false };
            Err(elb_failure(lb, ctx, inputs, e, done).await)
        }
        Err(Failure::Plan(p)) => {
            let reason = match p {
                PlanError::SchemeMismatch { .. } => "SchemeMismatch",
                PlanError::NoPlacement => "NoPlacement",
            };
            let synced = Verdict::new(SYNCED, false, reason, p.to_string());
            report(lb, ctx, Observation::Failed { synced, conflict: None, resolved: Some(&inputs.resolved), transient: false }).await?;
            ctx.publish(lb, EventType::Warning, reason, "Plan", p.to_string()).await;
            Err(Error::InvalidSpec(p.to_string()))
        }
    }
}

/// What a sync did that status keeps even when the sync then failed: whether it adopted the
/// ELB, and the groups a failed sync may have attached (its wanted ones: an attach may have
/// been applied and still answered with an error), which must be detached once the spec
/// drops them. And how to write: `if_current`, only over the version of the object the
/// status was computed from ([`super::status::write_over`]), with the events after the write.
#[derive(Debug, Default, Clone, Copy)]
struct Done<'a> {
    adopted: bool,
    maybe_attached: Option<&'a std::collections::BTreeSet<String>>,
    if_current: bool,
}

/// Reports an ELB error (condition + Warning event naming code and message) and returns it.
/// A write the lease's fence refused is not reported: this process may not lead any more,
/// and status and events are the leader's to write.
async fn elb_failure(lb: &LoadBalancer, ctx: &Context, inputs: &Inputs, e: elb::Error, done: Done<'_>) -> Error {
    if matches!(e, elb::Error::Fenced { .. }) {
        debug!(error = %e, "write refused by the lease's fence; not reported");
        return Error::Elb(e);
    }
    let reason = error_reason(&e);
    let message = e.to_string();
    let synced = Verdict::new(SYNCED, false, &reason, &message);
    let transient = matches!(e.kind(), elb::ErrorKind::Throttled | elb::ErrorKind::Retryable);
    let observation = Observation::Failed { synced, conflict: None, resolved: Some(&inputs.resolved), transient };
    if let Err(write) = report_adopting(lb, ctx, observation, done).await {
        warn!(error = %write, "could not write status");
    }
    ctx.publish(lb, EventType::Warning, &reason, action_of(&e), message).await;
    Error::Elb(e)
}

/// Computes the new status from `observation`, warns once when backends stop resolving,
/// and writes the status when it changed.
async fn report(lb: &LoadBalancer, ctx: &Context, observation: Observation<'_>) -> Result<()> {
    report_adopting(lb, ctx, observation, Done::default()).await
}

/// [`report`], recording in status that the sync adopted the ELB (sticky: an adopted ELB
/// stays adopted, whatever happens to the sync).
async fn report_adopting(lb: &LoadBalancer, ctx: &Context, observation: Observation<'_>, done: Done<'_>) -> Result<()> {
    let previous = lb.status.clone().unwrap_or_default();
    let mut next = status::next(&previous, lb.metadata.generation, &observation);
    next.adopted |= done.adopted;
    if let Some(groups) = done.maybe_attached {
        status::remember_attached(&mut next, groups);
    }
    let api: Api<LoadBalancer> = Api::namespaced(ctx.client.clone(), &lb.namespace().unwrap_or_default());
    if done.if_current && super::sharding::fenced("status", super::status::write_over(&api, lb, lb.status.as_ref(), &next, true)).await?? {
        debug!("status written");
    }
    if let Some(c) = status::newly_unresolved(&previous, &next) {
        ctx.publish(lb, EventType::Warning, &c.reason, "ResolveBackends", c.message.clone()).await;
    }
    if let Some(c) = status::newly_unbalanced(&previous, &next) {
        ctx.publish(lb, EventType::Warning, &c.reason, "CheckZones", c.message.clone()).await;
    }
    if let Some(c) = status::newly_unreachable(&previous, &next) {
        ctx.publish(lb, EventType::Warning, &c.reason, "CheckBackends", c.message.clone()).await;
    }
    if !done.if_current && super::sharding::fenced("status", super::status::write(&api, lb, lb.status.as_ref(), &next)).await?? {
        debug!("status written");
    }
    ctx.schedule.status_written(&ObjectRef::from_obj(lb), &next);
    gates::update(ctx, lb, Some(&next)).await;
    if let Some(ready) = next.conditions.iter().find(|c| c.type_ == crate::crd::condition::READY) {
        ctx.ready.record(ObjectRef::from_obj(lb), std::iter::once(ready.status.as_str()));
    }
    Ok(())
}

/// Deletion: `Delete` removes the ELB this resource owns (already gone is success);
/// `Retain` leaves it; a foreign ELB is never deleted and never blocks deletion.
async fn cleanup(lb: Arc<LoadBalancer>, ctx: &Context) -> Result<Action> {
    let key = ObjectRef::from_obj(&*lb);
    ctx.forget(&key);
    let name = desired::elb_name(&lb);
    let scope = Scope::of(&lb, &ctx.config.default_region);
    let region = scope.region.clone();
    if lb.deletion_policy() == DeletionPolicy::Retain {
        let why = match lb.spec.deletion_policy {
            Some(_) => "deletionPolicy is Retain",
            None => "the load balancer was adopted and deletionPolicy: Delete is not set",
        };
        let note = format!("{why}: load balancer {name} in {region} is left in place");
        ctx.publish(&*lb, EventType::Normal, "Retained", "Delete", note).await;
        // Marked for the orphan report; best effort, deletion never waits on it.
        let owner = Owner::new(&ctx.config.cluster_name, &lb.namespace().unwrap_or_default(), &lb.name_any());
        let marked = match ctx.elb.for_scope(&scope) {
            Ok(elb) => execute::mark_retained(&*elb, &name, &owner).await,
            Err(e) => Err(e),
        };
        if let Err(e) = marked {
            warn!(elb = %name, error = %e, "could not tag the retained load balancer");
        }
        return Ok(Action::await_change());
    }
    let owner = Owner::new(&ctx.config.cluster_name, &lb.namespace().unwrap_or_default(), &lb.name_any());
    let explicit_delete = lb.spec.deletion_policy == Some(DeletionPolicy::Delete);
    let result = match (ctx.elb.for_scope(&scope), ctx.elb.autoscaling_for_scope(&scope)) {
        (Ok(elb), Ok(autoscaling)) => {
            let apis = execute::Apis { elb: &*elb, autoscaling: autoscaling.as_deref() };
            match execute::detach_groups(apis, &name, &owner, &groups_named(&lb), explicit_delete).await {
                Ok(detached) => {
                    for g in detached {
                        ctx.publish(&*lb, EventType::Normal, "Updated", "DetachLoadBalancers", format!("detached Auto Scaling group {g}"))
                            .await;
                    }
                    execute::delete(&*elb, &name, &owner, explicit_delete).await
                }
                Err(e) => Err(e),
            }
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match result {
        Ok(Deleted::Deleted) => {
            ctx.publish(&*lb, EventType::Normal, "Deleted", "DeleteLoadBalancer", format!("deleted load balancer {name} in {region}"))
                .await;
        }
        Ok(Deleted::AlreadyGone) => debug!(elb = %name, "load balancer already gone"),
        Ok(Deleted::KeptAdopted) => {
            let note = format!("load balancer {name} in {region} was adopted and deletionPolicy: Delete is not set: it is left in place");
            ctx.publish(&*lb, EventType::Normal, "Retained", "Delete", note).await;
        }
        Ok(Deleted::Foreign { .. }) => {
            let note = format!("load balancer {name} in {region} is not owned by this resource; it is left in place");
            ctx.publish(&*lb, EventType::Warning, "Conflict", "Delete", note).await;
        }
        Err(e) => {
            if !matches!(e, elb::Error::Fenced { .. }) {
                ctx.publish(&*lb, EventType::Warning, &error_reason(&e), action_of(&e), e.to_string()).await;
            }
            return Err(Error::Elb(e));
        }
    }
    Ok(Action::await_change())
}

/// The ELB action an error came from, for the event's `action`.
fn action_of(e: &elb::Error) -> &'static str {
    e.action().unwrap_or("ELB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::cache::Stores;
    use crate::controller::Config;
    use kube::runtime::events::{Recorder, Reporter};
    use kube::runtime::reflector;

    /// A context whose clients are never called (error_policy is pure in effect).
    fn context() -> Arc<Context> {
        let client = kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap())).unwrap();
        let stores = Stores {
            loadbalancers: reflector::store().0,
            healthchecks: reflector::store().0,
            pods: reflector::store().0,
            nodes: reflector::store().0,
            synced: vec![],
        };
        let recorder = Recorder::new(client.clone(), Reporter { controller: "test".into(), instance: None });
        let elb: Arc<dyn elb::ElbApi> =
            Arc::new(elb::Client::new(elb::ClientConfig::for_endpoint("us-east-1", "http://127.0.0.1:9", "a", "b")).unwrap());
        let (triggers, _) = futures::channel::mpsc::unbounded();
        Arc::new(Context::new(client, Config::default(), Arc::new(elb), crate::telemetry::Metrics::new(), recorder, stores, triggers))
    }

    /// A storm of throttles must not push an object's next try minutes away: pacing is the
    /// shared budget's job, so once the API recovers every object is retried within seconds.
    #[tokio::test]
    async fn retries_do_not_back_off_per_object() {
        let ctx = context();
        let lb = Arc::new(LoadBalancer::new("lb", serde_json::from_value(serde_json::json!({"listeners": []})).unwrap()));
        let throttled = Error::Elb(elb::Error::Api {
            action: "DescribeLoadBalancers",
            code: "Throttling".into(),
            message: "slow down".into(),
            request_id: None,
            status: 400,
        });
        for attempt in 0..30 {
            let action = error_policy(lb.clone(), &throttled, ctx.clone());
            let after = requeue_after(&action);
            assert!(after <= RETRY.mul_f64(1.2), "attempt {attempt}: requeued after {after:?}");
        }
    }

    /// The requeue delay of an action (kube's `Action` shows it only through `Debug`).
    fn requeue_after(action: &Action) -> Duration {
        let text = format!("{action:?}");
        let secs = text.split("Some(").nth(1).and_then(|r| r.split("s)").next()).and_then(|v| v.parse::<f64>().ok());
        Duration::from_secs_f64(secs.unwrap_or_else(|| panic!("no requeue in {text}")))
    }

    #[test]
    fn a_fenced_write_is_retried_soon_not_after_a_minute() {
        let resync = Duration::from_secs(600);
        let fenced = Error::Elb(elb::Error::Fenced { action: "RegisterInstancesWithLoadBalancer" });
        assert!(retry_delay(&fenced, resync) <= RETRY.mul_f64(1.2), "{:?}", retry_delay(&fenced, resync));
        let validation = Error::Elb(elb::Error::Api {
            action: "CreateLoadBalancer",
            code: "ValidationError".into(),
            message: "m".into(),
            request_id: None,
            status: 400,
        });
        assert!(retry_delay(&validation, resync) >= TERMINAL_RETRY.mul_f64(0.8));
        let throttled = Error::Elb(elb::Error::Api {
            action: "CreateLoadBalancer",
            code: "Throttling".into(),
            message: "m".into(),
            request_id: None,
            status: 400,
        });
        assert!(retry_delay(&throttled, resync) <= RETRY.mul_f64(1.2));
        assert_eq!(retry_delay(&Error::InvalidSpec("x".into()), resync), resync);
    }
}
