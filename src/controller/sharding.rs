//! The controllers' side of shards (`--shards N`, see [`crate::leader::shards`]): a reconcile
//! of an object whose shard this process does not hold does nothing, and one of a held
//! shard runs under that shard's fence, which its ELB writes and its Kubernetes writes
//! (status, events, pod conditions) check. When a shard is gained its objects are
//! reconciled; when it is lost they are forgotten (no more health polls or drift checks
//! here).

use std::future::Future;
use std::sync::Arc;

use futures::channel::mpsc::UnboundedSender;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;
use tracing::{debug, info};

use super::context::{Config, Context};
use crate::crd::{HealthCheck, LoadBalancer};
use crate::leader::shards::{Shards, Tenure};
use crate::{Error, Result};

/// Runs `reconcile` for the object `namespace/name` if this process holds its shard, under
/// the shard's fence; else does nothing and waits for a change (a gained shard triggers its
/// objects, [`follow`]). Without shards, under the single leader's lease fence, if any.
pub async fn in_shard<F>(config: &Config, namespace: Option<&str>, name: &str, reconcile: F) -> Result<Action>
where
    F: Future<Output = Result<Action>>,
{
    let Some(shards) = config.shards.as_ref() else {
        return match &config.lease_fence {
            Some(fence) => crate::aws::with_fence(fence.clone(), reconcile).await,
            None => reconcile.await,
        };
    };
    let shard = shards.of(namespace.unwrap_or_default(), name);
    if !shards.holds(shard) {
        debug!(shard, "shard not held here; skipped");
        return Ok(Action::await_change());
    }
    crate::aws::with_fence(shards.fence(shard), reconcile).await
}

/// Runs the Kubernetes write `fut` (`write` names it in the error) unless the object's shard
/// was lost, and not past its fence: like an ELB write, the request may not outlive the
/// moment another replica could hold the shard.
pub async fn fenced<F: Future>(write: &'static str, fut: F) -> Result<F::Output> {
    let Some(fence) = crate::aws::fence::scoped() else { return Ok(fut.await) };
    let left = fence.remaining().ok_or(Error::Fenced { write })?;
    tokio::time::timeout(left, fut).await.map_err(|_| Error::Fenced { write })
}

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
        let shard_of = |ns: Option<String>, name: String| shards.of(&ns.unwrap_or_default(), &name);
        if !lost.is_empty() {
            info!(?lost, held = ?shards.held(), "shards lost; their objects are left to their new holders");
            for lb in lbs.state().iter().filter(|lb| lost.contains(&shard_of(lb.namespace(), lb.name_any()))) {
                ctx.forget(&ObjectRef::from_obj(&**lb));
            }
        }
        if !gained.is_empty() {
            info!(?gained, held = ?shards.held(), "shards gained; reconciling their objects");
            // Their first syncs must not be served by an inventory taken before the gain.
            ctx.schedule.refresh_inventories();
            for lb in lbs.state().iter().filter(|lb| gained.contains(&shard_of(lb.namespace(), lb.name_any()))) {
                let _ = lb_triggers.unbounded_send(ObjectRef::from_obj(&**lb));
            }
            for hc in hcs.state().iter().filter(|hc| gained.contains(&shard_of(hc.namespace(), hc.name_any()))) {
                let _ = hc_triggers.unbounded_send(ObjectRef::from_obj(&**hc));
            }
        }
        before = now;
        if rx.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leader::Role;
    use std::time::Duration;
    use tokio::time::Instant;

    #[tokio::test]
    async fn only_a_held_shard_reconciles_and_only_while_its_fence_is_open() {
        let shards = Shards::new(2, "me");
        let shard = shards.of("ns", "lb");
        let sharded = Config { shards: Some(shards.clone()), ..Config::default() };
        let ran = std::sync::atomic::AtomicU32::new(0);
        let reconcile = || async {
            ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            fenced("status", async { Action::await_change() }).await
        };
        assert!(in_shard(&sharded, Some("ns"), "lb", reconcile()).await.is_ok());
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 0, "not held: not run");

        shards.fence(shard).extend_to(Instant::now() + Duration::from_secs(30));
        shards.set_held(Role::Shard(shard), true);
        assert!(in_shard(&sharded, Some("ns"), "lb", reconcile()).await.is_ok(), "held, fence open: writes");
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);

        // Lost while the reconcile runs: the fence closes first, so its writes are refused.
        shards.fence(shard).close();
        let err = in_shard(&sharded, Some("ns"), "lb", reconcile()).await.unwrap_err();
        assert!(matches!(err, Error::Fenced { write: "status" }), "{err}");
        assert!(in_shard(&Config::default(), Some("ns"), "lb", reconcile()).await.is_ok(), "without shards or lease: no fence to check");
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    /// One leader: a reconcile runs under the lease's fence, so its Kubernetes writes stop
    /// once the lease may have passed to another process, as its ELB writes do.
    #[tokio::test]
    async fn with_one_leader_kubernetes_writes_stop_at_the_lease_fence() {
        let fence = crate::aws::Fence::default();
        let leader = Config { lease_fence: Some(fence.clone()), ..Config::default() };
        let reconcile = || async { fenced("status", async { Action::await_change() }).await };
        fence.extend_to(Instant::now() + Duration::from_secs(30));
        assert!(in_shard(&leader, Some("ns"), "lb", reconcile()).await.is_ok(), "leading: writes");
        fence.close();
        let err = in_shard(&leader, Some("ns"), "lb", reconcile()).await.unwrap_err();
        assert!(matches!(err, Error::Fenced { write: "status" }), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_kubernetes_write_does_not_outlive_its_fence() {
        let fence = crate::aws::Fence::default();
        fence.extend_to(Instant::now() + Duration::from_secs(2));
        let slow = fenced("status", tokio::time::sleep(Duration::from_secs(10)));
        let err = crate::aws::with_fence(fence, slow).await.unwrap_err();
        assert!(matches!(err, Error::Fenced { .. }), "{err}");
    }
}
