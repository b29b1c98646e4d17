//! The break-glass switch: a LoadBalancer annotated `elb.operator.dev/paused: "true"`
//! ([`crate::crd::PAUSED_ANNOTATION`]) gets no AWS write and no finalizer action. Its status
//! says so (`Synced=False`, reason `Paused`) and keeps being observed: the region's observer
//! still polls its instances' health, which the health writer writes. A deletion waits with
//! the finalizer in place until the annotation is removed; then the deletion policy applies.
//! Removing the annotation resumes with one full sync ([`resume`]).

use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;

use super::next_status::Observation;
use super::report::{write_status, StatusWrite};
use crate::controller::context::Context;
use crate::controller::status::Verdict;
use crate::crd::condition::{Status, CONFLICT, REASON_PAUSED, SYNCED};
use crate::crd::{LoadBalancer, PAUSED_ANNOTATION};
use crate::Result;

/// Reports a paused `lb` and waits for a change (the annotation's removal is one: the
/// LoadBalancer watch's fingerprint covers annotations).
pub async fn hold(lb: &LoadBalancer, ctx: &Context) -> Result<Action> {
    let deleting = lb.metadata.deletion_timestamp.is_some();
    let message = match deleting {
        true => format!(
            "{PAUSED_ANNOTATION} is \"true\": the deletion waits, the load balancer is left untouched until the annotation is removed"
        ),
        false => format!("{PAUSED_ANNOTATION} is \"true\": nothing is written to AWS until the annotation is removed"),
    };
    let previous = lb.status.clone().unwrap_or_default();
    let was_paused = is_paused_status(lb);
    // A conflict seen before the pause still stands: pausing does not clear it.
    let conflict = previous.conditions.iter().find(|c| c.type_ == CONFLICT && Status::of(&c.status) == Status::True);
    let synced = Verdict::new(SYNCED, false, REASON_PAUSED, &message);
    // `transient`: Ready keeps reflecting the last observed health.
    let observation = Observation::Failed { synced, conflict: conflict.map(|c| c.message.as_str()), resolved: None, transient: true };
    write_status(lb, ctx, observation, StatusWrite::default()).await?;
    if !was_paused || deleting {
        // Once per pause, and once when a deletion starts waiting on it.
        let seen_deleting = was_paused && previous.conditions.iter().any(|c| c.type_ == SYNCED && c.message == message);
        if !seen_deleting {
            ctx.publish(lb, EventType::Normal, REASON_PAUSED, "Pause", message).await;
        }
    }
    Ok(Action::await_change())
}

/// Called for a LoadBalancer that is not paused: when its status still says it was, the
/// schedule forgets what it knew, so the next step is a full first sync (describe, plan,
/// apply) rather than trusting a record taken before the pause, when anything may have been
/// changed by hand.
pub fn resume(lb: &LoadBalancer, ctx: &Context) {
    if is_paused_status(lb) {
        tracing::info!("pause annotation removed: resuming with a full sync");
        ctx.forget(&ObjectRef::from_obj(lb));
    }
}

/// Whether `lb`'s status says it is paused (`Synced=False`, reason `Paused`).
pub fn is_paused_status(lb: &LoadBalancer) -> bool {
    lb.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == SYNCED && c.reason == REASON_PAUSED))
}
