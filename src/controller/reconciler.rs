//! The one reconcile wrapper of both controllers (LoadBalancer and HealthCheck): a span
//! with the object's kind and key, the reconcile metrics (runs, duration, failures by error
//! label), and the shard check with its fence ([`super::sharding::in_shard`]).

use std::future::Future;

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::{info_span, Instrument};

use super::context::Context;
use super::sharding::in_shard;
use crate::Result;

/// Runs `reconcile` for `obj` (metrics label `resource`) if this process holds its shard,
/// under its fence, inside a span naming it; counts the run, its duration and its failure.
pub async fn run<K, F>(ctx: &Context, resource: &'static str, obj: &K, reconcile: F) -> Result<Action>
where
    K: Resource<DynamicType = ()>,
    F: Future<Output = Result<Action>>,
{
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let span = info_span!("reconcile", kind = %K::kind(&()), object = %format!("{ns}/{name}"));
    let measured = async {
        let _timer = ctx.metrics.reconcile.start(resource);
        let result = reconcile.await;
        if let Err(e) = &result {
            ctx.metrics.reconcile.failure(resource, e.metric_label());
        }
        result
    };
    in_shard(&ctx.config, Some(&ns), &name, measured).instrument(span).await
}
