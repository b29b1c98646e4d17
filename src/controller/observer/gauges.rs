//! The fleet gauges an observer publishes every tick: pending work by class, the oldest
//! pending change and health observation, and the budget the adaptive limiter allows.

use std::time::Duration;

use tokio::time::Instant;

use crate::aws::Class;
use crate::controller::context::Context;
use crate::controller::scope::Scope;
use crate::elb::ElbApi;

/// Removes the budget gauges of `scope`'s labels.
pub(super) fn forget(fleet: &crate::telemetry::FleetMetrics, scope: &Scope) {
    for kind in ["describe", "mutate"] {
        let labels = crate::telemetry::BudgetLabels::of(&scope.region, scope.role.as_deref(), kind);
        fleet.budget_rate.remove(&labels);
        fleet.budget_configured_rate.remove(&labels);
    }
}

/// Publishes the fleet gauges, and the budget gauges of `scope`.
pub(super) fn publish(ctx: &Context, elb: &dyn ElbApi, scope: &Scope) {
    let now = Instant::now();
    let interval = ctx.schedule.settings.health_poll_interval;
    let (changes, resyncs, polls, oldest_change, oldest_health) = ctx.schedule.each(|memos| {
        let mut out = (0i64, 0i64, 0i64, Duration::ZERO, Duration::ZERO);
        for m in memos.values() {
            match m.pending {
                Some((Class::Change, since)) => {
                    out.0 += 1;
                    out.3 = out.3.max(now - since);
                }
                Some((_, _)) => out.1 += 1,
                None => {}
            }
            if m.poll_due(interval).is_some_and(|t| t <= now) {
                out.2 += 1;
            }
            if m.registered > 0 {
                if let Some(t) = m.health_observed {
                    out.4 = out.4.max(now - t);
                }
            }
        }
        out
    });
    let fleet = &ctx.metrics.fleet;
    for (class, n) in [(Class::Change, changes), (Class::Resync, resyncs), (Class::Health, polls)] {
        fleet.queued.get_or_create(&crate::telemetry::ClassLabels { class: class.as_str().into() }).set(n);
    }
    fleet.oldest_pending_change_seconds.set(oldest_change.as_secs_f64());
    fleet.oldest_health_observation_seconds.set(oldest_health.as_secs_f64());
    if let Some(b) = elb.budget() {
        for (kind, bucket) in [("describe", &b.describe), ("mutate", &b.mutate)] {
            let labels = crate::telemetry::BudgetLabels::of(&scope.region, scope.role.as_deref(), kind);
            fleet.budget_rate.get_or_create(&labels).set(bucket.current_rate());
            fleet.budget_configured_rate.get_or_create(&labels).set(bucket.configured_rate());
        }
    }
}
