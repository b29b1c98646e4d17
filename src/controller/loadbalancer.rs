//! The LoadBalancer controller: observe (caches + ELB describes) → plan → apply → status.
//!
//! Each reconcile decides, from what changed since the last successful full sync, between
//! - a **full sync** (inputs changed — spec, generation, resolved backends, the referenced
//!   health check — or `resync_interval` elapsed): describe the ELB, plan, apply, read back;
//! - a **health poll** (`health_poll_interval` elapsed): one DescribeInstanceHealth; if the ELB
//!   is gone or its registered instances differ from the wanted ones, a full sync follows;
//! - **nothing** (e.g. the watch event of our own status write): requeue for the next poll.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{finalizer, Error as FinalizerError, Event as FinalizerEvent};
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tracing::{debug, info, info_span, warn, Instrument};

use super::backends::{self, Resolved};
use super::context::{backoff, fingerprint, Context};
use super::converge::{self, Converged, Deleted, Failure, Outcome};
use super::healthcheck;
use super::ownership::Owner;
use super::status::{self, Verdict, BACKENDS_RESOLVED};
use crate::crd::condition::{CONFLICT, READY, SYNCED};
use crate::crd::{self, DeletionPolicy, LoadBalancer, LoadBalancerSpec, LoadBalancerStatus, Protocol};
use crate::elb::{self, AccessLog, ConnectionDraining, InstanceState, Listener, LoadBalancerAttributes};
use crate::plan::{Change, Desired, PlanError, Placement, Stickiness};
use crate::{naming, Error, Result};

/// The metrics label of this controller.
pub const RESOURCE: &str = "loadbalancer";

/// The ELB name of a LoadBalancer: `spec.loadBalancerName`, else derived from namespace/name.
pub fn elb_name(lb: &LoadBalancer) -> String {
    lb.spec
        .load_balancer_name
        .clone()
        .unwrap_or_else(|| naming::elb_name(&lb.namespace().unwrap_or_default(), &lb.name_any()))
}

/// A reason the spec cannot be turned into a desired state (for conditions and events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    pub reason: &'static str,
    pub message: String,
}

impl SpecProblem {
    fn invalid(message: impl Into<String>) -> Self {
        SpecProblem { reason: "InvalidSpec", message: message.into() }
    }
}

/// The desired ELB state from the spec, the validated health check, and resolved backends.
/// Pure; every check the CRD schema also makes is repeated here so that a bad object that
/// reached the API anyway is reported rather than sent to AWS.
pub fn desired_state(
    spec: &LoadBalancerSpec,
    name: &str,
    health_check: Option<elb::HealthCheck>,
    resolved: &Resolved,
    owner: &Owner,
) -> Result<Desired, SpecProblem> {
    if spec.listeners.is_empty() {
        return Err(SpecProblem::invalid("spec.listeners must name at least one listener"));
    }
    let mut listeners = Vec::new();
    let mut ports = BTreeSet::new();
    let mut stickiness = BTreeMap::new();
    let mut proxy_protocol_ports = BTreeSet::new();
    for (i, l) in spec.listeners.iter().enumerate() {
        let port = |v: i32, field: &str| {
            u16::try_from(v)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| SpecProblem::invalid(format!("spec.listeners[{i}].{field} must be 1-65535, got {v}")))
        };
        let load_balancer_port = port(l.port, "port")?;
        if !ports.insert(load_balancer_port) {
            return Err(SpecProblem::invalid(format!("spec.listeners: port {load_balancer_port} is listed twice")));
        }
        let instance_protocol = l.instance_protocol.unwrap_or(if l.protocol.is_http_family() { Protocol::HTTP } else { Protocol::TCP });
        if instance_protocol.is_http_family() != l.protocol.is_http_family() {
            return Err(SpecProblem::invalid(format!(
                "spec.listeners[{i}]: {} cannot forward to {} (HTTP/HTTPS pair with HTTP/HTTPS, TCP/SSL with TCP/SSL)",
                l.protocol.as_str(),
                instance_protocol.as_str()
            )));
        }
        if matches!(l.protocol, Protocol::HTTPS | Protocol::SSL) && l.ssl_certificate_id.is_none() {
            return Err(SpecProblem::invalid(format!("spec.listeners[{i}]: {} needs sslCertificateId", l.protocol.as_str())));
        }
        let instance_port = port(l.instance_port, "instancePort")?;
        if let Some(s) = &l.stickiness {
            if !l.protocol.is_http_family() {
                return Err(SpecProblem::invalid(format!("spec.listeners[{i}]: stickiness needs an HTTP or HTTPS listener")));
            }
            stickiness.insert(
                load_balancer_port,
                match &s.cookie_name {
                    Some(cookie_name) => Stickiness::AppCookie { cookie_name: cookie_name.clone() },
                    None => Stickiness::LbCookie { expiration_seconds: s.expiration_seconds },
                },
            );
        }
        if l.proxy_protocol {
            proxy_protocol_ports.insert(instance_port);
        }
        listeners.push(Listener {
            load_balancer_port,
            protocol: l.protocol.as_str().to_string(),
            instance_port,
            instance_protocol: instance_protocol.as_str().to_string(),
            ssl_certificate_id: l.ssl_certificate_id.clone(),
        });
    }
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    let placement = match (&spec.availability_zones, &spec.subnets) {
        (Some(z), Some(s)) if !z.is_empty() && !s.is_empty() => {
            return Err(SpecProblem::invalid("spec.availabilityZones and spec.subnets are exclusive"));
        }
        (_, Some(s)) if !s.is_empty() => Placement::Subnets(set(s)),
        (Some(z), _) if !z.is_empty() => Placement::Zones(set(z)),
        // Neither: follow the zones of the current backends.
        _ => Placement::Zones(resolved.zones()),
    };
    let attributes = spec.attributes.as_ref().map(convert_attributes).unwrap_or_default();
    let mut tags: BTreeMap<String, String> = spec.tags.clone();
    tags.extend(owner.tags());
    Ok(Desired {
        name: name.to_string(),
        scheme: spec.scheme.map(|s| s.as_str().to_string()),
        listeners,
        placement,
        security_groups: (!spec.security_groups.is_empty()).then(|| set(&spec.security_groups)),
        health_check,
        attributes,
        tags,
        instances: resolved.instance_ids(),
        stickiness,
        proxy_protocol_ports,
    })
}

fn convert_attributes(a: &crd::Attributes) -> LoadBalancerAttributes {
    LoadBalancerAttributes {
        cross_zone_load_balancing: a.cross_zone,
        connection_draining: a
            .connection_draining
            .as_ref()
            .map(|d| ConnectionDraining { enabled: d.enabled, timeout: d.timeout_seconds }),
        idle_timeout: a.idle_timeout_seconds,
        access_log: a.access_log.as_ref().map(|l| AccessLog {
            enabled: l.enabled,
            s3_bucket_name: l.s3_bucket_name.clone(),
            s3_bucket_prefix: l.s3_bucket_prefix.clone(),
            emit_interval: l.emit_interval_minutes,
        }),
    }
}

/// `Ready` (see [`super::status`] for the definition).
pub fn ready_verdict(synced: bool, conflict: bool, selects_anything: bool, health: &[InstanceState]) -> Verdict {
    let total = health.len();
    let in_service = health.iter().filter(|h| h.state == "InService").count();
    if conflict {
        return Verdict::new(READY, false, "Conflict", "the load balancer with the wanted name is not owned by this resource");
    }
    if !synced {
        return Verdict::new(READY, false, "NotSynced", "the load balancer does not match the spec yet; see the Synced condition");
    }
    if in_service > 0 {
        return Verdict::new(READY, true, "InstancesInService", format!("{in_service}/{total} instances InService"));
    }
    if total == 0 && !selects_anything {
        return Verdict::new(READY, true, "NoBackendsSelected", "the load balancer exists and the spec selects no backends");
    }
    if total == 0 {
        return Verdict::new(READY, false, "NoBackends", "the backends select no instance");
    }
    Verdict::new(READY, false, "NoInstancesInService", format!("0/{total} instances InService"))
}

/// `BackendsResolved`: nodes whose instance cannot be determined are named, never guessed.
pub fn backends_verdict(resolved: &Resolved) -> Verdict {
    let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
    if !resolved.nodes_without_instance.is_empty() {
        return Verdict::new(
            BACKENDS_RESOLVED,
            false,
            "NodeWithoutProviderID",
            format!(
                "nodes without an AWS providerID (aws:///<zone>/<instance-id>) are not registered: {}",
                list(&resolved.nodes_without_instance)
            ),
        );
    }
    if !resolved.unknown_nodes.is_empty() {
        return Verdict::new(
            BACKENDS_RESOLVED,
            false,
            "NodeNotFound",
            format!("selected pods run on nodes that are not known: {}", list(&resolved.unknown_nodes)),
        );
    }
    Verdict::new(BACKENDS_RESOLVED, true, "Resolved", "every selected backend resolved to an EC2 instance")
}

fn conflict_verdict(conflict: Option<&str>) -> Verdict {
    match conflict {
        Some(message) => Verdict::new(CONFLICT, true, "NotOwned", message),
        None => Verdict::new(CONFLICT, false, "NoConflict", "no foreign load balancer uses the wanted name"),
    }
}

/// A condition reason from an ELB error: its code, else a name for its kind.
pub fn error_reason(e: &elb::Error) -> String {
    let reason: String = match e.code() {
        Some(code) => code.chars().filter(|c| c.is_ascii_alphanumeric()).collect(),
        None => String::new(),
    };
    if !reason.is_empty() {
        return reason;
    }
    match e.kind() {
        elb::ErrorKind::NotFound => "LoadBalancerNotFound",
        elb::ErrorKind::Duplicate => "Duplicate",
        elb::ErrorKind::Throttled => "Throttling",
        elb::ErrorKind::Retryable => "ServiceUnavailable",
        elb::ErrorKind::Auth => "AuthFailure",
        elb::ErrorKind::Terminal => "ELBError",
    }
    .to_string()
}

/// Everything a sync needs, resolved from the caches.
struct Inputs {
    region: String,
    name: String,
    owner: Owner,
    resolved: Resolved,
    desired: Desired,
}

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
    let mut failures = 0;
    ctx.update_memo(&key, |m| {
        m.failures += 1;
        failures = m.failures;
    });
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
    let inputs = match inputs(&lb, ctx) {
        Ok(i) => i,
        Err(problem) => {
            let reason = problem.reason;
            fail(&lb, ctx, Verdict::new(SYNCED, false, reason, &problem.message), None, None).await?;
            ctx.publish(&*lb, EventType::Warning, reason, "Validate", problem.message.clone()).await;
            ctx.update_memo(&key, |m| m.inputs = None);
            return Err(Error::InvalidSpec(problem.message));
        }
    };
    let elb = match ctx.elb.for_region(&inputs.region) {
        Ok(c) => c,
        Err(e) => return Err(elb_failure(&lb, ctx, &inputs, e).await),
    };
    let print = fingerprint(&format!("{:?}", (lb.metadata.generation, lb.spec.adopt, &inputs.region, &inputs.desired, &inputs.resolved)));
    let memo = ctx.memo(&key);
    let now = Instant::now();
    let resync_due = memo.last_full_sync.map(|t| t + ctx.config.resync_interval);
    if memo.inputs == Some(print) && resync_due.is_some_and(|due| now < due) {
        let resync_due = resync_due.expect("checked");
        let next_poll = memo.last_health_poll.map(|t| t + ctx.config.health_poll_interval).unwrap_or(now);
        if now < next_poll {
            return Ok(Action::requeue(next_poll.min(resync_due) - now));
        }
        match converge::poll_health(&*elb, &inputs.name).await {
            Ok(Some(health)) => {
                let registered: BTreeSet<String> = health.iter().map(|h| h.instance_id.clone()).collect();
                if registered == inputs.desired.instances {
                    health_status(&lb, ctx, &inputs, &health).await?;
                    ctx.update_memo(&key, |m| m.last_health_poll = Some(now));
                    return Ok(Action::requeue(ctx.config.health_poll_interval.min(resync_due - now)));
                }
                info!(elb = %inputs.name, "registered instances drifted; full sync");
            }
            Ok(None) => info!(elb = %inputs.name, "load balancer is gone; full sync"),
            Err(e) => debug!(elb = %inputs.name, error = %e, "health poll failed; full sync"),
        }
    }
    full_sync(&lb, ctx, &inputs, &*elb, print).await
}

fn inputs(lb: &LoadBalancer, ctx: &Context) -> Result<Inputs, SpecProblem> {
    let ns = lb.namespace().unwrap_or_default();
    let owner = Owner::new(&ctx.config.cluster_name, &ns, &lb.name_any());
    let health_check = match &lb.spec.health_check_ref {
        None => None,
        Some(r) => {
            let hc = ctx.stores.healthchecks.get(&ObjectRef::new(&r.name).within(&ns)).ok_or_else(|| SpecProblem {
                reason: "HealthCheckNotFound",
                message: format!("HealthCheck {ns}/{} does not exist", r.name),
            })?;
            Some(healthcheck::validate(&hc.spec).map_err(|m| SpecProblem {
                reason: "HealthCheckInvalid",
                message: format!("HealthCheck {ns}/{}: {m}", r.name),
            })?)
        }
    };
    let resolved = backends::resolve(lb.spec.backends.as_ref(), &ns, &ctx.stores.pods.state(), &ctx.stores.nodes.state())
        .map_err(|e| SpecProblem::invalid(e.to_string()))?;
    let name = elb_name(lb);
    let desired = desired_state(&lb.spec, &name, health_check, &resolved, &owner)?;
    Ok(Inputs {
        region: lb.spec.region.clone().unwrap_or_else(|| ctx.config.default_region.clone()),
        name,
        owner,
        resolved,
        desired,
    })
}

async fn full_sync(lb: &LoadBalancer, ctx: &Context, inputs: &Inputs, elb: &dyn elb::ElbApi, print: u64) -> Result<Action> {
    let key = ObjectRef::from_obj(lb);
    let report = converge::converge(elb, &inputs.desired, &inputs.owner, lb.spec.adopt).await;
    for action in &report.applied {
        let reason = match action.change() {
            Change::Created => "Created",
            Change::Updated => "Updated",
            Change::Registered => "Registered",
            Change::Deregistered => "Deregistered",
        };
        ctx.publish(lb, EventType::Normal, reason, action.api_action(), action.to_string()).await;
    }
    match report.result {
        Ok(Outcome::Converged(converged)) => {
            converged_status(lb, ctx, inputs, &converged).await?;
            let now = Instant::now();
            ctx.update_memo(&key, |m| {
                m.inputs = Some(print);
                m.last_full_sync = Some(now);
                m.last_health_poll = Some(now);
                m.failures = 0;
            });
            Ok(Action::requeue(ctx.config.health_poll_interval.min(ctx.config.resync_interval)))
        }
        Ok(Outcome::Conflict { claimed_by }) => {
            let message = format!(
                "load balancer {} in {} exists and is not owned by this resource{}; it is left unchanged. \
                 Choose another spec.loadBalancerName, or set spec.adopt: true to take over a load balancer without ownership tags",
                inputs.name,
                inputs.region,
                claimed_by.map(|c| format!(" (its tags name {c})")).unwrap_or_default()
            );
            ctx.update_memo(&key, |m| m.inputs = None);
            fail(lb, ctx, Verdict::new(SYNCED, false, "Conflict", &message), Some(&message), Some(inputs)).await?;
            ctx.publish(lb, EventType::Warning, "Conflict", "Observe", message.clone()).await;
            Err(Error::Conflict(message))
        }
        Err(Failure::Elb(e)) => Err(elb_failure(lb, ctx, inputs, e).await),
        Err(Failure::Plan(p)) => {
            let reason = match p {
                PlanError::SchemeMismatch { .. } => "SchemeMismatch",
                PlanError::NoPlacement => "NoPlacement",
            };
            ctx.update_memo(&key, |m| m.inputs = None);
            fail(lb, ctx, Verdict::new(SYNCED, false, reason, p.to_string()), None, Some(inputs)).await?;
            ctx.publish(lb, EventType::Warning, reason, "Plan", p.to_string()).await;
            Err(Error::InvalidSpec(p.to_string()))
        }
    }
}

/// Reports an ELB error (condition + Warning event naming code and message) and returns it.
async fn elb_failure(lb: &LoadBalancer, ctx: &Context, inputs: &Inputs, e: elb::Error) -> Error {
    let reason = error_reason(&e);
    let message = e.to_string();
    ctx.update_memo(&ObjectRef::from_obj(lb), |m| m.inputs = None);
    if let Err(write) = fail(lb, ctx, Verdict::new(SYNCED, false, &reason, &message), None, Some(inputs)).await {
        warn!(error = %write, "could not write status");
    }
    ctx.publish(lb, EventType::Warning, &reason, action_of(&e), message).await;
    Error::Elb(e)
}

/// Status after a successful full sync.
async fn converged_status(lb: &LoadBalancer, ctx: &Context, inputs: &Inputs, c: &Converged) -> Result<()> {
    let previous = lb.status.clone().unwrap_or_default();
    let d = &c.description;
    let (instances, healthy) = status::instances(&c.health, &inputs.resolved.instances);
    let mut zones = d.availability_zones.clone();
    zones.sort();
    let mut subnets = d.subnets.clone();
    subnets.sort();
    let backends = backends_verdict(&inputs.resolved);
    let status = LoadBalancerStatus {
        load_balancer_name: Some(d.name.clone()),
        region: Some(inputs.region.clone()),
        dns_name: Some(d.dns_name.clone()).filter(|s| !s.is_empty()),
        canonical_hosted_zone_name_id: d.canonical_hosted_zone_name_id.clone(),
        availability_zones: zones,
        subnets,
        instances,
        healthy: Some(healthy),
        observed_generation: lb.metadata.generation,
        conditions: status::conditions(
            &previous.conditions,
            &[
                ready_verdict(true, false, inputs.resolved.selects_anything, &c.health),
                Verdict::new(SYNCED, true, "Synced", "the load balancer matches the spec"),
                conflict_verdict(None),
                backends.clone(),
            ],
            lb.metadata.generation,
        ),
    };
    warn_unresolved(lb, ctx, &previous, &backends).await;
    ctx.record_instance_states(&ObjectRef::from_obj(lb), c.health.iter().map(|h| h.state.as_str()));
    write(lb, ctx, &status).await
}

/// Status after a health poll: only the instance table, the summary and Ready change.
async fn health_status(lb: &LoadBalancer, ctx: &Context, inputs: &Inputs, health: &[InstanceState]) -> Result<()> {
    let previous = lb.status.clone().unwrap_or_default();
    let (instances, healthy) = status::instances(health, &inputs.resolved.instances);
    let ready = ready_verdict(true, false, inputs.resolved.selects_anything, health);
    // Only Ready changes; the other conditions keep their place and content.
    let fresh = status::conditions(&previous.conditions, &[ready], lb.metadata.generation);
    let mut conditions: Vec<_> =
        previous.conditions.iter().map(|c| if c.type_ == READY { fresh[0].clone() } else { c.clone() }).collect();
    if !conditions.iter().any(|c| c.type_ == READY) {
        conditions.insert(0, fresh[0].clone());
    }
    let status = LoadBalancerStatus { instances, healthy: Some(healthy), conditions, ..previous };
    ctx.record_instance_states(&ObjectRef::from_obj(lb), health.iter().map(|h| h.state.as_str()));
    write(lb, ctx, &status).await
}

/// Status after a failure: the observed fields stay as last seen; conditions say why.
async fn fail(lb: &LoadBalancer, ctx: &Context, synced: Verdict, conflict: Option<&str>, inputs: Option<&Inputs>) -> Result<()> {
    let previous = lb.status.clone().unwrap_or_default();
    let mut verdicts = vec![ready_verdict(false, conflict.is_some(), false, &[]), synced, conflict_verdict(conflict)];
    if let Some(inputs) = inputs {
        let backends = backends_verdict(&inputs.resolved);
        warn_unresolved(lb, ctx, &previous, &backends).await;
        verdicts.push(backends);
    } else if let Some(c) = previous.conditions.iter().find(|c| c.type_ == BACKENDS_RESOLVED) {
        verdicts.push(Verdict::new(BACKENDS_RESOLVED, c.status == "True", c.reason.clone(), c.message.clone()));
    }
    let status = LoadBalancerStatus {
        observed_generation: lb.metadata.generation,
        conditions: status::conditions(&previous.conditions, &verdicts, lb.metadata.generation),
        ..previous
    };
    write(lb, ctx, &status).await
}

/// A Warning event when backends newly fail to resolve (not on every sync).
async fn warn_unresolved(lb: &LoadBalancer, ctx: &Context, previous: &LoadBalancerStatus, verdict: &Verdict) {
    if verdict.status {
        return;
    }
    let unchanged = previous
        .conditions
        .iter()
        .any(|c| c.type_ == BACKENDS_RESOLVED && c.status == "False" && c.message == verdict.message);
    if !unchanged {
        ctx.publish(lb, EventType::Warning, &verdict.reason, "ResolveBackends", verdict.message.clone()).await;
    }
}

async fn write(lb: &LoadBalancer, ctx: &Context, status: &LoadBalancerStatus) -> Result<()> {
    let api: Api<LoadBalancer> = Api::namespaced(ctx.client.clone(), &lb.namespace().unwrap_or_default());
    if status::write(&api, lb, lb.status.as_ref(), status).await? {
        debug!("status written");
    }
    Ok(())
}

/// Deletion: `Delete` removes the ELB this resource owns (already gone is success);
/// `Retain` leaves it; a foreign ELB is never deleted and never blocks deletion.
async fn cleanup(lb: Arc<LoadBalancer>, ctx: &Context) -> Result<Action> {
    let key = ObjectRef::from_obj(&*lb);
    ctx.forget(&key);
    let name = elb_name(&lb);
    let region = lb.spec.region.clone().unwrap_or_else(|| ctx.config.default_region.clone());
    if lb.spec.deletion_policy == DeletionPolicy::Retain {
        let note = format!("deletionPolicy is Retain: load balancer {name} in {region} is left in place");
        ctx.publish(&*lb, EventType::Normal, "Retained", "Delete", note).await;
        return Ok(Action::await_change());
    }
    let owner = Owner::new(&ctx.config.cluster_name, &lb.namespace().unwrap_or_default(), &lb.name_any());
    let result = match ctx.elb.for_region(&region) {
        Ok(elb) => converge::delete(&*elb, &name, &owner).await,
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

/// The LoadBalancers a HealthCheck change reaches.
pub fn referencing(lbs: &[Arc<LoadBalancer>], hc_namespace: Option<&str>, hc_name: &str) -> Vec<ObjectRef<LoadBalancer>> {
    lbs.iter()
        .filter(|lb| lb.namespace().as_deref() == hc_namespace)
        .filter(|lb| lb.spec.health_check_ref.as_ref().is_some_and(|r| r.name == hc_name))
        .map(|lb| ObjectRef::from_obj(&**lb))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::backends::Backend;

    fn spec(yaml: &str) -> LoadBalancerSpec {
        serde_yaml::from_str(yaml).expect("spec yaml")
    }

    const TUTORIAL: &str = r#"
availabilityZones: [us-east-1a, us-east-1b]
listeners:
- {port: 80, instancePort: 8080, protocol: HTTP}
- {port: 443, instancePort: 8443, protocol: TCP}
healthCheckRef: {name: instance-health}
backends:
  instanceIds: [i-1, i-2]
attributes: {crossZone: false, connectionDraining: {enabled: true, timeoutSeconds: 300}, idleTimeoutSeconds: 60}
tags: {team: web}
"#;

    fn owner() -> Owner {
        Owner::new("prod", "default", "my-lb")
    }

    fn resolved(ids: &[(&str, Option<&str>)]) -> Resolved {
        Resolved {
            instances: ids.iter().map(|(id, zone)| (id.to_string(), Backend { zone: zone.map(String::from), node: None })).collect(),
            selects_anything: !ids.is_empty(),
            ..Default::default()
        }
    }

    #[test]
    fn tutorial_spec_to_desired() {
        let r = resolved(&[("i-1", None), ("i-2", None)]);
        let d = desired_state(&spec(TUTORIAL), "my-lb", None, &r, &owner()).unwrap();
        assert_eq!(d.listeners.len(), 2);
        assert_eq!(d.listeners[0].instance_protocol, "HTTP");
        assert_eq!(d.listeners[1].instance_protocol, "TCP");
        assert_eq!(d.placement, Placement::Zones(["us-east-1a".to_string(), "us-east-1b".to_string()].into()));
        assert_eq!(d.instances, ["i-1".to_string(), "i-2".to_string()].into());
        assert_eq!(d.security_groups, None);
        assert_eq!(d.attributes.connection_draining, Some(ConnectionDraining { enabled: true, timeout: Some(300) }));
        assert_eq!(d.attributes.access_log, None);
        assert_eq!(d.tags.len(), 3, "team + exactly two ownership tags: {:?}", d.tags);
        assert_eq!(d.tags["elb.operator.dev/resource"], "default/my-lb");
    }

    #[test]
    fn ownership_tags_win_over_user_tags() {
        let mut s = spec(TUTORIAL);
        s.tags.insert("elb.operator.dev/cluster".into(), "spoofed".into());
        let d = desired_state(&s, "my-lb", None, &resolved(&[]), &owner()).unwrap();
        assert_eq!(d.tags["elb.operator.dev/cluster"], "prod");
    }

    #[test]
    fn zones_follow_backends_when_unset() {
        let s = spec("listeners: [{port: 80, instancePort: 80, protocol: TCP}]");
        let r = resolved(&[("i-1", Some("us-east-1c")), ("i-2", Some("us-east-1a")), ("i-3", None)]);
        let d = desired_state(&s, "x", None, &r, &owner()).unwrap();
        assert_eq!(d.placement, Placement::Zones(["us-east-1a".to_string(), "us-east-1c".to_string()].into()));
        let s = spec("{listeners: [{port: 80, instancePort: 80, protocol: TCP}], subnets: [subnet-1]}");
        assert_eq!(desired_state(&s, "x", None, &r, &owner()).unwrap().placement, Placement::Subnets(["subnet-1".to_string()].into()));
    }

    #[test]
    fn invalid_specs_are_reported() {
        let cases = [
            "listeners: []",
            "listeners: [{port: 0, instancePort: 80, protocol: TCP}]",
            "listeners: [{port: 80, instancePort: 70000, protocol: TCP}]",
            "listeners: [{port: 80, instancePort: 80, protocol: TCP}, {port: 80, instancePort: 81, protocol: TCP}]",
            "listeners: [{port: 443, instancePort: 80, protocol: HTTPS}]",
            "listeners: [{port: 80, instancePort: 80, protocol: HTTP, instanceProtocol: TCP}]",
            "{listeners: [{port: 80, instancePort: 80, protocol: TCP}], availabilityZones: [a], subnets: [s]}",
        ];
        for c in cases {
            let err = desired_state(&spec(c), "x", None, &resolved(&[]), &owner()).unwrap_err();
            assert_eq!(err.reason, "InvalidSpec", "{c}");
        }
        let ok = "listeners: [{port: 443, instancePort: 80, protocol: HTTPS, sslCertificateId: arn:aws:acm:x}]";
        assert!(desired_state(&spec(ok), "x", None, &resolved(&[]), &owner()).is_ok());
    }

    #[test]
    fn ready_table() {
        let h = |states: &[&str]| -> Vec<InstanceState> {
            states
                .iter()
                .enumerate()
                .map(|(i, s)| InstanceState { instance_id: format!("i-{i}"), state: s.to_string(), reason_code: None, description: None })
                .collect()
        };
        let cases = [
            ("in service", true, false, true, h(&["InService", "OutOfService"]), true, "InstancesInService"),
            ("none in service", true, false, true, h(&["OutOfService"]), false, "NoInstancesInService"),
            ("no backends in spec", true, false, false, h(&[]), true, "NoBackendsSelected"),
            ("selectors match nothing", true, false, true, h(&[]), false, "NoBackends"),
            ("not synced", false, false, true, h(&["InService"]), false, "NotSynced"),
            ("conflict", false, true, true, h(&["InService"]), false, "Conflict"),
        ];
        for (name, synced, conflict, selects, health, want, reason) in cases {
            let v = ready_verdict(synced, conflict, selects, &health);
            assert_eq!((v.status, v.reason.as_str()), (want, reason), "case {name}");
        }
        assert_eq!(ready_verdict(true, false, true, &h(&["InService", "OutOfService"])).message, "1/2 instances InService");
    }

    #[test]
    fn backends_verdict_names_nodes() {
        let mut r = resolved(&[]);
        assert!(backends_verdict(&r).status);
        r.nodes_without_instance.insert("n3".into());
        let v = backends_verdict(&r);
        assert!(!v.status);
        assert_eq!(v.reason, "NodeWithoutProviderID");
        assert!(v.message.contains("n3"));
    }

    #[test]
    fn error_reasons() {
        let api = |code: &str, status| elb::Error::Api {
            action: "CreateLoadBalancer",
            code: code.into(),
            message: "m".into(),
            request_id: None,
            status,
        };
        assert_eq!(error_reason(&api("ValidationError", 400)), "ValidationError");
        assert_eq!(error_reason(&api("Throttling", 400)), "Throttling");
        let timeout = elb::Error::Timeout { action: "DescribeLoadBalancers", timeout: Duration::from_secs(1) };
        assert_eq!(error_reason(&timeout), "ServiceUnavailable");
    }

    #[test]
    fn healthcheck_changes_reach_referencing_loadbalancers() {
        let lb = |ns: &str, name: &str, hc: &str| {
            let mut lb = LoadBalancer::new(name, spec(&format!("{{listeners: [], healthCheckRef: {{name: {hc}}}}}")));
            lb.metadata.namespace = Some(ns.into());
            Arc::new(lb)
        };
        let lbs = vec![lb("a", "x", "hc"), lb("a", "y", "other"), lb("b", "z", "hc")];
        let refs = referencing(&lbs, Some("a"), "hc");
        assert_eq!(refs, vec![ObjectRef::new("x").within("a")]);
    }
}
