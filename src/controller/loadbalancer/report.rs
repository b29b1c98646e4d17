//! Step 5, report: the one status writer of a LoadBalancer ([`write_status`]), and beside
//! it what follows a status: the Warning events of conditions that turned False, the
//! readiness gates of the pods it selects, and the Ready tally. The events of sync outcomes
//! (changes applied, a refusal, a conflict, an AWS error) are built here too.

use std::collections::BTreeSet;

use kube::api::Api;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tracing::{debug, warn};

use super::build::SyncInputs;
use super::next_status::{self, Observation};
use super::validate::Refusal;
use crate::aws;
use crate::controller::context::Context;
use crate::controller::gates;
use crate::controller::status::{self, Verdict};
use crate::crd::condition::{READY, SYNCED};
use crate::crd::LoadBalancer;
use crate::sync::ownership::ConflictReason;
use crate::sync::plan::{Action, Change, PlanError};
use crate::{Error, Result};

/// How a status is written, and what a sync did that status keeps even when the sync then
/// failed: whether it adopted the ELB (sticky: an adopted ELB stays adopted), and the groups
/// a failed sync may have attached (its wanted ones: an attach may have been applied and
/// still answered with an error), which must be detached once the spec drops them. With
/// `if_current`, the status is written only over the version of the object it was computed
/// from ([`status::write_over`]), with the events after the write.
#[derive(Debug, Default, Clone, Copy)]
pub struct StatusWrite<'a> {
    pub adopted: bool,
    /// The tag record a sync left ([`crate::sync::execute::Report::managed_tags`]).
    pub managed_tags: Option<&'a BTreeSet<String>>,
    pub maybe_attached: Option<&'a BTreeSet<String>>,
    pub if_current: bool,
}

/// Computes the new status from `observation`, writes it when it changed, warns once for
/// each condition that turned False, and brings the readiness gates and the Ready tally up
/// to date. The only writer of a LoadBalancer's status.
pub async fn write_status(lb: &LoadBalancer, ctx: &Context, observation: Observation<'_>, how: StatusWrite<'_>) -> Result<()> {
    let previous = lb.status.clone().unwrap_or_default();
    let mut next = next_status::next(&previous, lb.metadata.generation, &observation);
    next.adopted |= how.adopted;
    if let Some(keys) = how.managed_tags {
        next.managed_tag_keys = Some(keys.iter().cloned().collect());
    }
    if let Some(groups) = how.maybe_attached {
        next_status::remember_attached(&mut next, groups);
    }
    let api: Api<LoadBalancer> = Api::namespaced(ctx.client.clone(), &lb.namespace().unwrap_or_default());
    if how.if_current
        && crate::controller::sharding::fenced("status", status::write_over(&api, lb, lb.status.as_ref(), &next, true)).await??
    {
        debug!("status written");
    }
    if let Some(c) = next_status::newly_unresolved(&previous, &next) {
        ctx.publish(lb, EventType::Warning, &c.reason, "ResolveBackends", c.message.clone()).await;
    }
    if let Some(c) = next_status::newly_unbalanced(&previous, &next) {
        ctx.publish(lb, EventType::Warning, &c.reason, "CheckZones", c.message.clone()).await;
    }
    if let Some(c) = next_status::newly_unreachable(&previous, &next) {
        ctx.publish(lb, EventType::Warning, &c.reason, "CheckBackends", c.message.clone()).await;
    }
    if !how.if_current && crate::controller::sharding::fenced("status", status::write(&api, lb, lb.status.as_ref(), &next)).await?? {
        debug!("status written");
    }
    ctx.schedule.status_written(&ObjectRef::from_obj(lb), &next);
    gates::update(ctx, lb, Some(&next)).await;
    if let Some(ready) = next.conditions.iter().find(|c| c.type_ == READY) {
        ctx.ready.record(ObjectRef::from_obj(lb), std::iter::once(ready.status.as_str()));
    }
    Ok(())
}

/// Nothing to write: a pod that just appeared may still need its gate.
pub async fn unchanged(lb: &LoadBalancer, ctx: &Context) {
    gates::update(ctx, lb, lb.status.as_ref()).await;
}

/// Reports a refused LoadBalancer (`Synced=False` with the refusal's reason, a Warning
/// event) and returns the error that makes it wait for a change.
pub async fn refused(lb: &LoadBalancer, ctx: &Context, refusal: &Refusal) -> Error {
    let synced = Verdict::new(SYNCED, false, refusal.reason, &refusal.message);
    let observation = Observation::Failed { synced, conflict: None, resolved: None, transient: false };
    if let Err(e) = write_status(lb, ctx, observation, StatusWrite::default()).await {
        return e;
    }
    ctx.publish(lb, EventType::Warning, refusal.reason, "Validate", refusal.message.clone()).await;
    Error::InvalidSpec(refusal.message.clone())
}

/// One Normal event per change a sync applied.
pub async fn applied(lb: &LoadBalancer, ctx: &Context, applied: &[Action]) {
    for action in applied {
        let reason = match action.change() {
            Change::Created => "Created",
            Change::Updated => "Updated",
            Change::Registered => "Registered",
            Change::Deregistered => "Deregistered",
        };
        ctx.publish(lb, EventType::Normal, reason, action.api_action(), action.to_string()).await;
    }
}

/// Reports an ELB with the wanted name that is not this resource's, and returns the error.
pub async fn conflict(lb: &LoadBalancer, ctx: &Context, inputs: &SyncInputs, claimed_by: Option<String>, reason: ConflictReason) -> Error {
    let advice = match reason {
        ConflictReason::NotOwned => {
            "Choose another spec.loadBalancerName, or set spec.adopt: true (through a LoadBalancerClass that allows adoption) \
             to take over a load balancer without ownership tags"
        }
        ConflictReason::ForeignOwner => {
            "It belongs to another cluster or controller and is never adopted: choose another spec.loadBalancerName"
        }
    };
    let message = format!(
        "load balancer {} in {} exists and is not owned by this resource{}; it is left unchanged. {advice}",
        inputs.name,
        inputs.region,
        claimed_by.map(|c| format!(" (its tags name {c})")).unwrap_or_default()
    );
    let synced = Verdict::new(SYNCED, false, reason.as_str(), &message);
    let observation = Observation::Failed { synced, conflict: Some(&message), resolved: Some(&inputs.resolved), transient: false };
    if let Err(e) = write_status(lb, ctx, observation, StatusWrite::default()).await {
        return e;
    }
    ctx.publish(lb, EventType::Warning, reason.as_str(), "Observe", message.clone()).await;
    Error::Conflict(message)
}

/// Reports a desired state the plan cannot reach on the ELB, and returns the error.
pub async fn plan_failed(lb: &LoadBalancer, ctx: &Context, inputs: &SyncInputs, p: PlanError) -> Error {
    let reason = p.reason();
    let synced = Verdict::new(SYNCED, false, reason, p.to_string());
    let observation = Observation::Failed { synced, conflict: None, resolved: Some(&inputs.resolved), transient: false };
    if let Err(e) = write_status(lb, ctx, observation, StatusWrite::default()).await {
        return e;
    }
    ctx.publish(lb, EventType::Warning, reason, "Plan", p.to_string()).await;
    Error::InvalidSpec(p.to_string())
}

/// Reports an AWS error (condition + Warning event naming code and message) and returns it.
/// A write the lease's fence refused is not reported: this process may not lead any more,
/// and status and events are the leader's to write.
pub async fn aws_failed(lb: &LoadBalancer, ctx: &Context, inputs: &SyncInputs, e: aws::Error, how: StatusWrite<'_>) -> Error {
    if matches!(e, aws::Error::Fenced { .. }) {
        debug!(error = %e, "write refused by the lease's fence; not reported");
        return Error::Aws(e);
    }
    let reason = error_reason(&e);
    let message = e.public_message();
    let synced = Verdict::new(SYNCED, false, &reason, &message);
    let transient = matches!(e.kind(), aws::ErrorKind::Throttled | aws::ErrorKind::Retryable);
    let observation = Observation::Failed { synced, conflict: None, resolved: Some(&inputs.resolved), transient };
    if let Err(write) = write_status(lb, ctx, observation, how).await {
        warn!(error = %write, "could not write status");
    }
    ctx.publish(lb, EventType::Warning, &reason, action_of(&e), message).await;
    Error::Aws(e)
}

/// A condition reason from an ELB error: its code, else a name for its kind.
pub fn error_reason(e: &aws::Error) -> String {
    if let aws::Error::AssumeRoleFailed { .. } = e {
        return "AssumeRoleFailed".into();
    }
    let reason: String = match e.code() {
        Some(code) => code.chars().filter(|c| c.is_ascii_alphanumeric()).collect(),
        None => String::new(),
    };
    if !reason.is_empty() {
        return reason;
    }
    match e.kind() {
        aws::ErrorKind::NotFound => "LoadBalancerNotFound",
        aws::ErrorKind::Duplicate => "Duplicate",
        aws::ErrorKind::Throttled => "Throttling",
        aws::ErrorKind::Retryable => "ServiceUnavailable",
        aws::ErrorKind::Auth => "AuthFailure",
        aws::ErrorKind::Terminal => "ELBError",
    }
    .to_string()
}

/// The ELB action an error came from, for the event's `action`.
pub fn action_of(e: &aws::Error) -> &'static str {
    e.action().unwrap_or("ELB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn error_reasons() {
        let api = |code: &str, status| aws::Error::Api {
            action: "CreateLoadBalancer",
            code: code.into(),
            message: "m".into(),
            request_id: None,
            status,
        };
        assert_eq!(error_reason(&api("ValidationError", 400)), "ValidationError");
        assert_eq!(error_reason(&api("Throttling", 400)), "Throttling");
        let timeout = aws::Error::Timeout { action: "DescribeLoadBalancers", timeout: Duration::from_secs(1) };
        assert_eq!(error_reason(&timeout), "ServiceUnavailable");
    }
}
