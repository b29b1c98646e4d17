//! The backend reachability checks of a scope ([`reachable`]): started when due, a few at a
//! time, on the EC2 client's own budget; the verdict goes to the reconcile to write.

use std::sync::Arc;

use kube::runtime::reflector::ObjectRef;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{debug, info_span, Instrument};

use crate::aws::{with_class, Class};
use crate::controller::context::Context;
use crate::controller::loadbalancer::reachable::{self, Denied};
use crate::controller::scope::Scope;
use crate::crd::LoadBalancer;
use crate::ec2::Ec2Api;

/// Starts the backend reachability checks that are due, while fewer than
/// [`reachable::CHECKS_IN_FLIGHT`] run.
pub(super) fn dispatch(ctx: &Arc<Context>, ec2: &Arc<dyn Ec2Api>, scope: &Scope, checks: &Arc<Semaphore>, denied: &Arc<Denied>) {
    let now = Instant::now();
    let resync = ctx.schedule.settings.resync_interval;
    let due: Vec<(ObjectRef<LoadBalancer>, Arc<reachable::CheckInputs>, u64)> = ctx.schedule.each(|memos| {
        memos
            .iter()
            .filter(|(_, m)| &m.scope == scope && reachable::due(&m.reach, m.transition, now, resync))
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
                // The client before the slot, as for polls.
                drop(ec2);
                drop(permit);
                ctx.schedule.scopes.wake.notify_waiters();
            }
            .instrument(span),
        );
    }
}
