//! The orphan gauge of a scope: ELBs tagged for this cluster that no LoadBalancer in the
//! cache claims (`elb-operator orphans` lists them).

use kube::ResourceExt;
use tracing::warn;

use crate::controller::context::Context;
use crate::controller::scope::Scope;
use crate::sync::inventory;

/// Removes the orphan gauge of `scope`'s labels.
pub(super) fn forget(fleet: &crate::telemetry::FleetMetrics, scope: &Scope) {
    fleet.orphaned_load_balancers.remove(&crate::telemetry::RegionLabels::of(&scope.region, scope.role.as_deref()));
}

/// Sets the orphan gauge of `scope` from `snapshot`, and logs each orphan not `seen` before.
pub(super) fn report(ctx: &Context, scope: &Scope, snapshot: &inventory::Snapshot, seen: &mut std::collections::BTreeSet<String>) {
    let live =
        ctx.stores.loadbalancers.state().iter().map(|lb| format!("{}/{}", lb.namespace().unwrap_or_default(), lb.name_any())).collect();
    let found = crate::orphans::classify(snapshot, &scope.region, &ctx.config.cluster_name, &live, ctx.config.namespace.as_deref());
    let labels = crate::telemetry::RegionLabels::of(&scope.region, scope.role.as_deref());
    ctx.metrics.fleet.orphaned_load_balancers.get_or_create(&labels).set(found.orphaned.len() as i64);
    for o in &found.orphaned {
        if seen.insert(o.name.clone()) {
            warn!(elb = %o.name, resource = %o.resource, "orphaned load balancer: tagged for this cluster, claimed by no LoadBalancer (see `elb-operator orphans`)");
        }
    }
}
