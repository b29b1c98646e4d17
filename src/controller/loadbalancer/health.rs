//! The health writer: writes the instance health a region's observer polled into status,
//! beside the reconcile queue (see [`crate::controller::schedule::Schedule::take_health`]),
//! and for a reconcile whose schedule step is a health result to write.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use tracing::{debug, info_span, warn, Instrument};

use super::build::{build, SyncInputs};
use super::next_status::Observation;
use super::report::{write_status, StatusWrite};
use super::resolve::from_caches;
use super::validate::{validate, Policy};
use crate::controller::context::Context;
use crate::controller::schedule::{jittered, status_print};
use crate::crd::LoadBalancer;
use crate::elb;
use crate::{Error, Result};

/// Writes the health result a poll left for `key`. A result the schedule does not hand
/// over (none left, a stale cache, a sync pending) is the reconcile's.
pub async fn write_health(key: ObjectRef<LoadBalancer>, ctx: Arc<Context>) {
    let Some(lb) = ctx.stores.loadbalancers.get(&key) else { return };
    let span = info_span!("write_health", kind = "LoadBalancer", object = %key);
    let write = async {
        let Some((health, at)) = ctx.schedule.take_health(&key, status_print(lb.status.as_ref())) else {
            return Ok(Action::await_change());
        };
        let inputs = match validate(&lb, from_caches(&lb, &ctx), &Policy::of(&ctx.config)) {
            Ok(validated) => build(validated),
            // A refused spec: the reconcile reports it; the result waits for it.
            Err(_) => {
                ctx.schedule.health_unwritten(&key, health, at);
                return Ok(Action::await_change());
            }
        };
        write_polled(&lb, &ctx, &inputs, health, at).await
    };
    // As a reconcile: only for an object of a shard this replica holds, within its fence.
    match crate::controller::sharding::in_shard(&ctx.config, key.namespace.as_deref(), &key.name, write).instrument(span).await {
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
pub async fn write_polled(
    lb: &LoadBalancer,
    ctx: &Context,
    inputs: &SyncInputs,
    health: Vec<elb::InstanceState>,
    at: Time,
) -> Result<Action> {
    let key = ObjectRef::from_obj(lb);
    let cross_zone = inputs.desired.attributes.cross_zone_load_balancing;
    let polled = Observation::HealthPolled { health: &health, resolved: &inputs.resolved, at: &at, cross_zone };
    match write_status(lb, ctx, polled, StatusWrite { if_current: true, ..StatusWrite::default() }).await {
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
