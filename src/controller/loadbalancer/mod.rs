//! The LoadBalancer controller, as a pipeline of steps, each in its own file:
//!
//! 1. [`resolve`]: read the objects the spec refers to (its HealthCheck; the pods and nodes
//!    its backends select; the classes and the namespace's labels), from the caches, and
//!    the AWS resource tags its class requires;
//! 2. [`validate`]: judge them and the spec against the rules and the operator's policy,
//!    into a [`validate::ValidatedSpec`], or a refusal (reported, no AWS write);
//! 3. [`build`]: the desired ELB state (pure);
//! 4. [`apply`]: what the schedule decides (a sync of some class, a result to write, or
//!    nothing), and the sync engine;
//! 5. [`report`]: the one status writer, with the events and the readiness gates;
//! 6. [`cleanup`]: on deletion, the ELB this resource owns is deleted (the finalizer).
//!
//! After apply, [`dns`] keeps the ExternalDNS DNSEndpoint of `spec.dns` (Kubernetes writes
//! only). Before any step, [`paused`]: a LoadBalancer annotated `elb.operator.dev/paused:
//! "true"` gets none of them, only its status.
//!
//! The finalizer is added by [`apply`] just before the sync engine runs, the first step that
//! may write to AWS: a LoadBalancer that was refused, or never got that far, has none and
//! is deleted at once.
//!
//! Beside them: the health writer ([`health`]), which writes what the region's observer
//! polled; the pure status computation ([`next_status`]) and its parts ([`zones`],
//! [`reachable`]). Health polls and drift checks are the region observer's
//! ([`crate::controller::observer`]); it triggers the reconcile when there is something to
//! write or to resync.

pub mod apply;
pub mod build;
pub mod cleanup;
pub mod dns;
pub mod health;
pub mod next_status;
pub mod paused;
pub mod reachable;
pub mod report;
pub mod resolve;
pub mod resource_tags;
pub mod validate;
pub mod zones;

pub use health::write_health;

use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{finalizer, Error as FinalizerError, Event as FinalizerEvent};
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tracing::warn;

use self::apply::{RETRY, TERMINAL_RETRY};
use self::validate::Policy;
use super::context::Context;
use super::schedule::jittered;
use crate::aws;
use crate::aws::{with_class, Class};
use crate::crd::{self, LoadBalancer};
use crate::{Error, Result};

/// The metrics label of this controller.
pub const RESOURCE: &str = "loadbalancer";

/// Reconciles one LoadBalancer (entry point of the controller).
pub async fn reconcile(lb: Arc<LoadBalancer>, ctx: Arc<Context>) -> Result<Action> {
    let api: Api<LoadBalancer> = Api::namespaced(ctx.client.clone(), &lb.namespace().unwrap_or_default());
    let reconcile = async {
        // Break glass: no AWS write and no finalizer action while paused. Deleted without the
        // finalizer, it never reached AWS and is forgotten below as any other.
        if lb.paused() && (has_finalizer(&lb) || lb.metadata.deletion_timestamp.is_none()) {
            return paused::hold(&lb, &ctx).await;
        }
        paused::resume(&lb, &ctx);
        match (has_finalizer(&lb), lb.metadata.deletion_timestamp.is_some()) {
            // Nothing written to AWS yet: no finalizer until the first write (see apply).
            (false, false) => steps(&lb, &ctx).await,
            // Deleted before it reached AWS: nothing to clean up.
            (false, true) => {
                ctx.forget(&ObjectRef::from_obj(&*lb));
                Ok(Action::await_change())
            }
            (true, _) => with_finalizer(&api, lb.clone(), &ctx).await,
        }
    };
    super::reconciler::run(&ctx, RESOURCE, &*lb, reconcile).await
}

/// Whether `lb` carries the operator's finalizer (it reached AWS).
pub fn has_finalizer(lb: &LoadBalancer) -> bool {
    lb.finalizers().iter().any(|f| f == crd::FINALIZER)
}

/// Forgets a LoadBalancer deleted without the operator's finalizer when its deletion is
/// seen: no cleanup runs for it, which would otherwise forget it.
pub fn forget_if_deleted(ctx: &Context, lb: &LoadBalancer) {
    if lb.metadata.deletion_timestamp.is_some() && !has_finalizer(lb) {
        ctx.forget(&ObjectRef::from_obj(lb));
    }
}

/// A LoadBalancer with the finalizer: its steps, or on deletion its cleanup, after which
/// kube's finalizer helper removes the finalizer.
async fn with_finalizer(api: &Api<LoadBalancer>, lb: Arc<LoadBalancer>, ctx: &Arc<Context>) -> Result<Action> {
    finalizer(api, crd::FINALIZER, lb, |event| async {
        match event {
            FinalizerEvent::Apply(lb) => steps(&lb, ctx).await,
            // Deletion is a change: it is spent from the budget first.
            FinalizerEvent::Cleanup(lb) => with_class(Class::Change, cleanup::cleanup(lb, ctx)).await,
        }
    })
    .await
    .map_err(|e| match e {
        FinalizerError::ApplyFailed(e) | FinalizerError::CleanupFailed(e) => e,
        FinalizerError::AddFinalizer(e) | FinalizerError::RemoveFinalizer(e) => Error::Kube(e),
        other => Error::Finalizer(other.to_string()),
    })
}

/// The steps of a LoadBalancer that is not being deleted: resolve → validate → build →
/// apply (→ report). A refusal is reported and waits for a change.
async fn steps(lb: &LoadBalancer, ctx: &Arc<Context>) -> Result<Action> {
    // A reconcile that read a half-filled pod cache would deregister instances.
    if !ctx.stores.wait_ready(Duration::from_secs(30)).await {
        return Ok(Action::requeue(RETRY));
    }
    let referenced = match resolve::resolve(lb, ctx).await {
        Ok(referenced) => referenced,
        Err(e) => return Err(Error::Aws(e)),
    };
    let validated = match validate::validate(lb, referenced, &Policy::of(&ctx.config)) {
        Ok(validated) => validated,
        Err(refusal) => return Err(report::refused(lb, ctx, &refusal).await),
    };
    let inputs = build::build(validated);
    let action = apply::apply(lb, ctx, &inputs).await?;
    // spec.dns: Kubernetes writes only, once the ELB is synced (its DNS name known).
    match dns::publish(lb, ctx).await? {
        Some(dns) if action == Action::await_change() => Ok(dns),
        _ => Ok(action),
    }
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
        Error::Aws(aws::Error::Fenced { .. }) => jittered(RETRY),
        Error::Aws(e) if e.kind() == aws::ErrorKind::Terminal => jittered(TERMINAL_RETRY.min(resync_interval)),
        _ => jittered(RETRY),
    }
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
            classes: reflector::store().0,
            namespaces: reflector::store().0,
            synced: vec![],
            indexes: Default::default(),
        };
        let recorder = Recorder::new(client.clone(), Reporter { controller: "test".into(), instance: None });
        let elb: Arc<dyn crate::elb::ElbApi> =
            Arc::new(crate::elb::Client::new(aws::ClientConfig::for_endpoint("us-east-1", "http://127.0.0.1:9", "a", "b")).unwrap());
        let (triggers, _) = futures::channel::mpsc::unbounded();
        Arc::new(Context::new(client, Config::default(), Arc::new(elb), crate::telemetry::Metrics::new(), recorder, stores, triggers))
    }

    /// A storm of throttles must not push an object's next try minutes away: pacing is the
    /// shared budget's job, so once the API recovers every object is retried within seconds.
    #[tokio::test]
    async fn retries_do_not_back_off_per_object() {
        let ctx = context();
        let lb = Arc::new(LoadBalancer::new("lb", serde_json::from_value(serde_json::json!({"listeners": []})).unwrap()));
        let throttled = Error::Aws(aws::Error::Api {
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
        let fenced = Error::Aws(aws::Error::Fenced { action: "RegisterInstancesWithLoadBalancer" });
        assert!(retry_delay(&fenced, resync) <= RETRY.mul_f64(1.2), "{:?}", retry_delay(&fenced, resync));
        let validation = Error::Aws(aws::Error::Api {
            action: "CreateLoadBalancer",
            code: "ValidationError".into(),
            message: "m".into(),
            request_id: None,
            status: 400,
        });
        assert!(retry_delay(&validation, resync) >= TERMINAL_RETRY.mul_f64(0.8));
        let throttled = Error::Aws(aws::Error::Api {
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
