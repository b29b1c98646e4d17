//! Shards changing hands (`--shards N`): when this replica gains a shard its objects are
//! reconciled (their first syncs wait for a fresh inventory); when it loses one they are
//! forgotten (no more health polls or drift checks here).

use std::sync::Arc;

use futures::channel::mpsc::UnboundedSender;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;
use tracing::info;

use super::context::Context;
use super::sharding::shard_of;
use crate::crd::{HealthCheck, LoadBalancer};
use crate::leader::shards::{Shards, Tenure};

/// Follows the shards held until aborted: triggers every LoadBalancer and HealthCheck of a
/// gained shard, forgets the LoadBalancers of a lost one, and publishes the shards-held
/// gauge.
pub async fn follow(
    shards: Shards,
    ctx: Arc<Context>,
    lbs: Store<LoadBalancer>,
    hcs: Store<HealthCheck>,
    lb_triggers: UnboundedSender<ObjectRef<LoadBalancer>>,
    hc_triggers: UnboundedSender<ObjectRef<HealthCheck>>,
) {
    let mut rx = shards.subscribe();
    let mut before = vec![Tenure::default(); shards.count() as usize];
    // Aborted when the controllers stop; each iteration waits for a change of the held
    // shards, and u32::MAX changes is beyond any process's life.
    for _ in 0..u32::MAX {
        let now = rx.borrow_and_update().clone();
        let held = now.iter().filter(|t| t.held).count();
        ctx.metrics.shards_held.set(held as i64);
        ctx.metrics.leader.set(i64::from(held > 0));
        // A shard lost and regained since the last look is both: forgotten, then triggered.
        let (mut gained, mut lost) = (Vec::new(), Vec::new());
        for (i, (now, before)) in (0u32..).zip(now.iter().zip(&before)) {
            if before.held && (!now.held || now.term != before.term) {
                lost.push(i);
            }
            if now.held && now.term != before.term {
                gained.push(i);
            }
        }
        let shard = |ns: Option<String>, name: String| shard_of(&shards, ns.as_deref(), &name);
        if !lost.is_empty() {
            info!(?lost, held = ?shards.held(), "shards lost; their objects are left to their new holders");
            for lb in lbs.state().iter().filter(|lb| lost.contains(&shard(lb.namespace(), lb.name_any()))) {
                ctx.forget(&ObjectRef::from_obj(&**lb));
            }
        }
        if !gained.is_empty() {
            info!(?gained, held = ?shards.held(), "shards gained; reconciling their objects");
            // Their first syncs must not be served by an inventory taken before the gain.
            ctx.schedule.scopes.refresh_inventories();
            for lb in lbs.state().iter().filter(|lb| gained.contains(&shard(lb.namespace(), lb.name_any()))) {
                let _ = lb_triggers.unbounded_send(ObjectRef::from_obj(&**lb));
            }
            for hc in hcs.state().iter().filter(|hc| gained.contains(&shard(hc.namespace(), hc.name_any()))) {
                let _ = hc_triggers.unbounded_send(ObjectRef::from_obj(&**hc));
            }
        }
        before = now;
        if rx.changed().await.is_err() {
            return;
        }
    }
}
