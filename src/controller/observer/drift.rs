//! An inventory pass over a scope: one snapshot of its ELBs, and the drift check of each
//! LoadBalancer synced before against it.

use kube::runtime::reflector::ObjectRef;
use tracing::{debug, info};

use super::{cached_in, groups, orphans};
use crate::aws;
use crate::controller::context::Context;
use crate::controller::schedule::Memo;
use crate::controller::scope::Scope;
use crate::crd::LoadBalancer;
use crate::elb::{self, ElbApi};
use crate::sync::{inventory, plan};

/// One inventory pass over `scope`: snapshot, then drift checks. With `first_syncs`, it
/// also reads the Auto Scaling groups the first syncs look at, in bulk.
pub(super) async fn inventory_pass(
    ctx: &Context,
    elb: &dyn ElbApi,
    scope: &Scope,
    with_attributes: bool,
    all_tags: bool,
    first_syncs: bool,
    orphans_seen: &mut std::collections::BTreeSet<String>,
) -> Result<(), aws::Error> {
    // With shards: only the objects of the shards held here.
    let members: Vec<(ObjectRef<LoadBalancer>, Memo)> = ctx
        .schedule
        .each(|memos| memos.iter().filter(|(k, m)| &m.scope == scope && ctx.holds_key(k)).map(|(k, m)| (k.clone(), m.clone())).collect());
    // Every LoadBalancer of the scope in the cache, not only those synced since the start:
    // the first pass after a start serves their first syncs.
    let interest = cached_in(ctx, scope).iter().map(|lb| lb.load_balancer_name()).collect();
    let mut snapshot = inventory::take(elb, &interest, all_tags).await?;
    if first_syncs {
        snapshot.groups = groups::first_groups(ctx, scope).await;
    }
    if all_tags {
        orphans::report(ctx, scope, &snapshot, orphans_seen);
    }
    debug!(load_balancers = snapshot.len(), "inventory");
    let mut drifted = 0;
    for (key, memo) in &members {
        let Some(target) = &memo.target else { continue };
        let manages_attributes = target.desired.attributes != elb::LoadBalancerAttributes::default();
        let attributes = match (manages_attributes, with_attributes, &memo.attributes) {
            (false, _, _) => elb::LoadBalancerAttributes::default(),
            (true, false, Some(a)) => a.clone(),
            (true, _, _) => match elb.describe_load_balancer_attributes(&target.desired.name).await {
                Ok(a) => {
                    ctx.schedule.with(key, |m| m.attributes = Some(a.clone()));
                    a
                }
                Err(e) if e.is_not_found() => Default::default(),
                Err(e) => return Err(e),
            },
        };
        let drift = match snapshot.get(&target.desired.name).and_then(|seen| seen.observed(attributes)) {
            None => true,
            Some(mut observed) => {
                observed.groups = target.groups.clone();
                use crate::sync::ownership::{Admission, Ownership};
                let owned = Ownership::admits(&observed.tags, &target.owner, target.adopt.into()) == Admission::Owned;
                !owned || !plan::plan(&target.desired, Some(&observed), None).map(|a| a.is_empty()).unwrap_or(false)
            }
        };
        if drift {
            drifted += 1;
            ctx.schedule.drifted(key);
        }
    }
    if drifted > 0 {
        info!(drifted, "inventory found drift; resyncing");
    }
    ctx.schedule.scopes.publish_snapshot(scope, snapshot);
    Ok(())
}
