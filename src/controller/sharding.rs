//! The controllers' side of shards (`--shards N`, see [`crate::leader::shards`]): which
//! objects this replica reconciles ([`holds_object`], the one answer), and the fences its
//! reconciles and Kubernetes writes run under. A reconcile of an object whose shard this
//! process does not hold does nothing, and one of a held shard runs under that shard's
//! fence, which its ELB writes and its Kubernetes writes (status, events, pod conditions)
//! check. What happens when a shard is gained or lost is [`super::handover`]'s.

use std::future::Future;

use kube::runtime::controller::Action;
use tracing::debug;

use super::config::Config;
use crate::leader::shards::Shards;
use crate::{Error, Result};

/// The shard of the object `namespace/name`.
pub fn shard_of(shards: &Shards, namespace: Option<&str>, name: &str) -> u32 {
    shards.of(namespace.unwrap_or_default(), name)
}

/// Whether this process reconciles the object `namespace/name`: always without shards, else
/// when it holds the object's shard.
pub fn holds_object(shards: Option<&Shards>, namespace: Option<&str>, name: &str) -> bool {
    shards.is_none_or(|s| s.holds(shard_of(s, namespace, name)))
}

/// Runs `reconcile` for the object `namespace/name` if this process holds its shard, under
/// the shard's fence; else does nothing and waits for a change (a gained shard triggers its
/// objects, [`super::handover::follow`]). Without shards, under the single leader's lease
/// fence, if any.
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
    let shard = shard_of(shards, namespace, name);
    if !holds_object(Some(shards), namespace, name) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leader::Role;
    use std::time::Duration;
    use tokio::time::Instant;

    #[test]
    fn a_replica_holds_the_objects_of_its_shards_and_every_object_without_shards() {
        let shards = Shards::new(4, "me");
        assert!(holds_object(None, Some("ns"), "lb"), "without shards: every object");
        assert!(!holds_object(Some(&shards), Some("ns"), "lb"), "no shard held yet");
        shards.set_held(Role::Shard(shard_of(&shards, Some("ns"), "lb")), true);
        assert!(holds_object(Some(&shards), Some("ns"), "lb"));
        assert_eq!(shard_of(&shards, None, "node"), shards.of("", "node"), "a cluster-scoped object: the empty namespace");
    }

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
