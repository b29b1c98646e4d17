//! Step 6, cleanup (the finalizer's), under the class's rules (no role or region it does not
//! grant is used): `Delete` (the spec's, else the class's default) removes the ELB this
//! resource owns (already gone is success); `Retain` leaves it, tagged for the orphan report;
//! an ELB tagged adopted is kept unless the spec itself says `Delete`; a foreign ELB is
//! never deleted and never blocks deletion. A deletion that cannot succeed gives up and
//! leaves the ELB rather than hold the finalizer forever.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tracing::{debug, warn};

use super::report::{action_of, error_reason};
use super::validate::Policy;
use crate::aws;
use crate::controller::context::Context;
use crate::controller::groups::groups_named;
use crate::controller::scope::Scope;
use crate::crd::{DeletionPolicy, LoadBalancer};
use crate::sync::execute::{self, Deleted};
use crate::tenancy;
use crate::{Error, Result};

/// How long a deletion keeps retrying AWS errors that may pass (throttling, timeouts, a
/// region that does not answer) before it gives up and leaves the ELB.
const CLEANUP_GIVE_UP: Duration = Duration::from_secs(600);

/// How long ago `lb` was deleted.
fn deleted_for(lb: &LoadBalancer) -> Duration {
    let since = lb.metadata.deletion_timestamp.as_ref().map(|t| k8s_openapi::jiff::Timestamp::now().duration_since(t.0));
    since.and_then(|d| Duration::try_from(d).ok()).unwrap_or_default()
}

/// What the deletion of a LoadBalancer does, decided before any AWS call: by the cleanup
/// and by `elb-operator plan` alike.
#[derive(Debug)]
pub enum Intent {
    /// The class does not (or no longer) grant the role or region: none is used, the ELB is
    /// left in place, and the orphan report lists it.
    LeaveOutOfScope(tenancy::Refusal),
    /// `Retain` (the spec's, else the class's): left in place, tagged for the orphan report;
    /// `why` names whose policy it is.
    Retain { why: String },
    /// `Delete`; `explicit` when the spec itself says so (only then is an adopted ELB deleted).
    Delete { explicit: bool },
}

/// The [`Intent`] of deleting `lb`, under the class's rules.
pub fn intent(lb: &LoadBalancer, ctx: &Context) -> Intent {
    let ns = lb.namespace().unwrap_or_default();
    let classes = ctx.stores.classes();
    let policy = Policy::of(&ctx.config);
    let class = match tenancy::admit_scope(&lb.spec, &ns, &ctx.stores.namespace_labels(&ns), &policy.tenancy(&classes)) {
        Ok(class) => class,
        Err(refusal) => return Intent::LeaveOutOfScope(refusal),
    };
    match lb.spec.deletion_policy.or(class.and_then(|c| c.spec.deletion_policy)).unwrap_or(DeletionPolicy::Delete) {
        DeletionPolicy::Retain => Intent::Retain {
            why: match lb.spec.deletion_policy {
                Some(_) => "deletionPolicy is Retain".to_string(),
                None => format!("LoadBalancerClass {}'s deletionPolicy is Retain", class.map(|c| c.name_any()).unwrap_or_default()),
            },
        },
        DeletionPolicy::Delete => Intent::Delete { explicit: lb.spec.deletion_policy == Some(DeletionPolicy::Delete) },
    }
}

/// Deletion: `Delete` removes the ELB this resource owns (already gone is success);
/// `Retain` leaves it; a foreign ELB is never deleted and never blocks deletion.
pub async fn cleanup(lb: Arc<LoadBalancer>, ctx: &Context) -> Result<Action> {
    let key = ObjectRef::from_obj(&*lb);
    ctx.forget(&key);
    let name = lb.load_balancer_name();
    let scope = Scope::of(&lb, &ctx.config.default_region, &ctx.config.cluster_name);
    let region = scope.region.clone();
    let owner = Policy::of(&ctx.config).owner_of(&lb);
    let explicit_delete = match intent(&lb, ctx) {
        Intent::LeaveOutOfScope(refusal) => {
            let note = format!("{}: load balancer {name} in {region} is left in place", refusal.message);
            ctx.publish(&*lb, EventType::Warning, refusal.reason.as_str(), "Delete", note).await;
            return Ok(Action::await_change());
        }
        Intent::Delete { explicit } => explicit,
        Intent::Retain { why } => {
            let note = format!("{why}: load balancer {name} in {region} is left in place");
            ctx.publish(&*lb, EventType::Normal, "Retained", "Delete", note).await;
            // Marked for the orphan report; best effort, deletion never waits on it.
            let marked = match ctx.aws.for_scope(&scope) {
                Ok(elb) => execute::mark_retained(&*elb, &name, &owner).await,
                Err(e) => Err(e),
            };
            if let Err(e) = marked {
                warn!(elb = %name, error = %e, "could not tag the retained load balancer");
            }
            return Ok(Action::await_change());
        }
    };
    let result = match (ctx.aws.for_scope(&scope), ctx.aws.autoscaling_for_scope(&scope)) {
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
        Err(e) if matches!(e, aws::Error::Fenced { .. }) => return Err(Error::Aws(e)),
        Err(e) => {
            // A deletion that can never succeed (a role that cannot be assumed, a region that
            // does not answer) must not keep the finalizer forever, nor its namespace in
            // Terminating: given up, the ELB is left in place and the orphan report lists it.
            let give_up = match e.kind() {
                aws::ErrorKind::Auth | aws::ErrorKind::Terminal => true,
                _ => deleted_for(&lb) > CLEANUP_GIVE_UP,
            };
            let message = e.public_message();
            if give_up {
                let note = format!("{message}: load balancer {name} in {region} is left in place (the orphan report lists it)");
                ctx.publish(&*lb, EventType::Warning, &error_reason(&e), action_of(&e), note).await;
                return Ok(Action::await_change());
            }
            ctx.publish(&*lb, EventType::Warning, &error_reason(&e), action_of(&e), message).await;
            return Err(Error::Aws(e));
        }
    }
    Ok(Action::await_change())
}
