//! The health polls of a scope: started when due, most urgent first, while the describe
//! budget has a token that no change or resync waits for. While changes are in progress,
//! stable LoadBalancers' polls wait (until their observation is [`DEFER_UP_TO`] old).

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::debug;

use crate::aws::{with_class, Class};
use crate::controller::context::Context;
use crate::controller::scope::Scope;
use crate::crd::LoadBalancer;
use crate::elb::ElbApi;
use crate::sync::execute;

/// Health polls in flight at once per scope.
pub(super) const IN_FLIGHT: usize = 4;
/// A failed poll is retried after this long.
const RETRY: Duration = Duration::from_secs(10);
/// While changes of the scope are in progress (a wave of creates), the poll of a stable
/// LoadBalancer waits, until its last observation is this old: the calls go to the changes
/// (with the budget lifted, nothing else keeps 10,000 stable polls from taking the API's
/// time from creates), and no observation grows older than this bound.
const DEFER_UP_TO: Duration = Duration::from_secs(600);

/// Starts the health polls that are due, most urgent first, while the budget has spare
/// tokens and fewer than [`IN_FLIGHT`] run.
pub(super) async fn dispatch(ctx: &Arc<Context>, elb: &Arc<dyn ElbApi>, scope: &Scope, polls: &Arc<Semaphore>) {
    let now = Instant::now();
    let interval = ctx.schedule.settings.health_poll_interval;
    let mut due: Vec<(bool, Instant, ObjectRef<LoadBalancer>, String)> = ctx.schedule.each(|memos| {
        let in_scope = || memos.iter().filter(|(k, m)| &m.scope == scope && ctx.holds_key(k));
        let changing = in_scope().any(|(_, m)| matches!(m.pending, Some((Class::Change, _))));
        // `at` is the last observation plus the interval.
        let deferred_until = |at: Instant| (at + DEFER_UP_TO).checked_sub(interval).unwrap_or(at);
        in_scope()
            .filter_map(|(k, m)| {
                let at = m.poll_due(interval)?;
                let name = m.target.as_ref()?.desired.name.clone();
                let defer = changing && !m.transition && deferred_until(at) > now;
                (at <= now && !defer).then(|| (!m.transition, at, k.clone(), name))
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
        ctx.schedule.with(&key, |m| m.poll_backoff_until = Some(now + RETRY));
        let (ctx, elb) = (ctx.clone(), elb.clone());
        tokio::spawn(async move {
            match with_class(Class::Health, execute::poll_health(&*elb, &name)).await {
                Ok(health) => ctx.schedule.polled(&key, health),
                Err(e) => {
                    debug!(elb = %name, error = %e, "health poll failed; retrying within the budget");
                    ctx.schedule.poll_failed(&key, RETRY);
                }
            }
            // The client goes before the slot: a retired observer that has every slot back
            // holds the scope's last clients (`super::run` then evicts them).
            drop(elb);
            // The slot is free: look for the next due poll now, not at the next tick (which
            // capped polls at IN_FLIGHT per TICK, 8/s, whatever the budget).
            drop(permit);
            ctx.schedule.scopes.wake.notify_waiters();
        });
    }
}
