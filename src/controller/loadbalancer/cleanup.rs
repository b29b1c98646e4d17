//! Step 6, cleanup (the finalizer's): `Delete` removes the ELB this resource owns (already
//! gone is success); `Retain` leaves it, tagged for the orphan report; a foreign ELB is
//! never deleted and never blocks deletion.

use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tracing::{debug, warn};

use super::report::{action_of, error_reason};
use crate::aws;
use crate::controller::context::{Context, Scope};
use crate::controller::groups::groups_named;
use crate::crd::{DeletionPolicy, LoadBalancer};
use crate::sync::execute::{self, Deleted};
use crate::sync::ownership::Owner;
use crate::{Error, Result};

/// Deletion: `Delete` removes the ELB this resource owns (already gone is success);
/// `Retain` leaves it; a foreign ELB is never deleted and never blocks deletion.
pub async fn cleanup(lb: Arc<LoadBalancer>, ctx: &Context) -> Result<Action> {
    let key = ObjectRef::from_obj(&*lb);
    ctx.forget(&key);
    let name = lb.load_balancer_name();
    let scope = Scope::of(&lb, &ctx.config.default_region, &ctx.config.cluster_name);
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
            if !matches!(e, aws::Error::Fenced { .. }) {
                ctx.publish(&*lb, EventType::Warning, &error_reason(&e), action_of(&e), e.public_message()).await;
            }
            return Err(Error::Aws(e));
        }
    }
    Ok(Action::await_change())
}
