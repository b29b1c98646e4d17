//! The bulk read of a scope's Auto Scaling groups, for the first syncs after a start or a
//! gained shard.

use tracing::warn;

use super::cached_in;
use crate::controller::context::Context;
use crate::controller::groups::groups_named;
use crate::controller::scope::Scope;
use crate::sync::inventory;

/// The Auto Scaling groups the scope's LoadBalancers name or recorded as attached, read in
/// bulk; nothing when none names any. A failed read is logged and leaves it to each first
/// sync to read its own.
pub(super) async fn first_groups(ctx: &Context, scope: &Scope) -> inventory::GroupsSeen {
    let names: std::collections::BTreeSet<String> = cached_in(ctx, scope).iter().flat_map(|lb| groups_named(lb)).collect();
    if names.is_empty() {
        return Default::default();
    }
    let read = match ctx.aws.autoscaling_for_scope(scope) {
        Ok(Some(autoscaling)) => inventory::GroupsSeen::read(&*autoscaling, names).await,
        Ok(None) => return Default::default(),
        Err(e) => Err(e),
    };
    read.unwrap_or_else(|e| {
        warn!(error = %e, "could not read the Auto Scaling groups in bulk; the first syncs read their own");
        Default::default()
    })
}
