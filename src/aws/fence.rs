//! Write fencing: no mutating AWS call leaves this process after the moment another replica
//! could hold the leader lease.
//!
//! The leader elector moves the fence's deadline forward on each renewal: to the time the
//! renewal was *sent* plus the renew deadline. A standby may take over only a full lease
//! duration after it first saw that renewal, which it cannot see before it was sent; the
//! renew deadline is half a lease duration, so the margin absorbs clock-rate differences
//! and a request in flight. The client checks the fence before every attempt of a
//! mutating call, and cuts the attempt's timeout to what is left.
//!
//! With shards (`--shards N`), each shard has its own lease and so its own fence: a
//! reconcile runs inside [`with_fence`] of its object's shard, and that fence, carried by
//! the task, is the one checked, not the client's. The client's own fence then stays
//! closed, so a write outside any shard's scope is refused (fail closed).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A shared write deadline. Without leader election there is no fence at all.
#[derive(Debug, Clone)]
pub struct Fence(Arc<Mutex<Option<Instant>>>);

impl Default for Fence {
    /// Closed until a first renewal opens it.
    fn default() -> Self {
        Fence(Arc::new(Mutex::new(None)))
    }
}

impl Fence {
    /// Allows writes until `deadline` (never moves the deadline back).
    pub fn extend_to(&self, deadline: Instant) {
        let mut d = self.0.lock().expect("fence lock");
        if d.is_none_or(|old| old < deadline) {
            *d = Some(deadline);
        }
    }

    /// Refuses every write from now on (the lease was lost or released).
    pub fn close(&self) {
        *self.0.lock().expect("fence lock") = None;
    }

    /// How long writes are still allowed; `None` when they are not.
    pub fn remaining(&self) -> Option<Duration> {
        let d = (*self.0.lock().expect("fence lock"))?;
        let left = d.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }
}

tokio::task_local! {
    static SCOPED: Fence;
}

/// Runs `fut` with every write it makes fenced by `fence` (a shard's, or the single
/// leader's lease), instead of the client's fence. Kubernetes writes check it too
/// ([`writes_allowed`]).
pub async fn with_fence<F: Future>(fence: Fence, fut: F) -> F::Output {
    SCOPED.scope(fence, fut).await
}

/// The fence the calling task runs under ([`with_fence`]), if any.
pub fn scoped() -> Option<Fence> {
    SCOPED.try_with(Fence::clone).ok()
}

/// Whether the calling task may write now: always outside [`with_fence`] (without leader
/// election, or work outside a reconcile), else while its fence is open.
pub fn writes_allowed() -> bool {
    scoped().is_none_or(|f| f.remaining().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_scoped_fence_is_the_one_the_task_writes_under() {
        assert!(scoped().is_none() && writes_allowed(), "no scope: nothing to check");
        let open = Fence::default();
        open.extend_to(Instant::now() + Duration::from_secs(5));
        assert!(with_fence(open.clone(), async { writes_allowed() }).await);
        assert!(!with_fence(Fence::default(), async { writes_allowed() }).await, "a closed shard fence refuses");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!with_fence(open, async { writes_allowed() }).await, "past its deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn a_fence_opens_on_renewal_and_closes_at_its_deadline() {
        let f = Fence::default();
        assert_eq!(f.remaining(), None, "closed until the lease is held");
        f.extend_to(Instant::now() + Duration::from_secs(7));
        f.extend_to(Instant::now() + Duration::from_secs(3));
        assert_eq!(f.remaining(), Some(Duration::from_secs(7)), "never moves back");
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(f.remaining(), None, "past the deadline");
        f.extend_to(Instant::now() + Duration::from_secs(7));
        f.close();
        assert_eq!(f.remaining(), None);
    }
}
