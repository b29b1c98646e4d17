//! Shards: with `--shards N` (N > 1) the LoadBalancers and HealthChecks are split by a stable
//! hash of `namespace/name` into N shards. Shard `i` is held through its own Lease,
//! `<lease-name>-shard-<i>`, by at most one replica at a time, with the same election as the
//! single leader lease ([`super::LeaderElector`]); a replica runs one candidate per shard
//! and may hold several. Each shard has its own write fence: a reconcile runs under its
//! object's shard fence ([`crate::aws::fence::with_fence`]).
//!
//! Who takes a free shard (never a held one: leases are only taken over once expired):
//! - at most its fair share, ⌈N / live replicas⌉, where the live replicas are this one and
//!   the distinct holders of unexpired shard leases it has seen. A holder whose lease
//!   expired does not count, so the survivors of a crash may take its shards;
//! - in an order rotated by a hash of its identity: shard `preferred + k` (mod N) not before
//!   `k` retry periods after the start, so replicas that start together begin with
//!   different shards instead of the first one taking them all.
//!
//! No rebalancing: a replica never gives up a shard it holds while it runs. One that starts
//! when every shard is held waits for a shard to be freed (a replica's SIGTERM releases its
//! leases at once; a crash frees them after the lease duration).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::aws::Fence;

/// FNV-1a (64 bit): stable across processes, builds and platforms, unlike std's
/// randomly seeded `DefaultHasher`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The shard of the object `namespace/name` among `count` (cluster-scoped: empty namespace).
pub fn shard_of(namespace: &str, name: &str, count: u32) -> u32 {
    (fnv1a(format!("{namespace}/{name}").as_bytes()) % u64::from(count.max(1))) as u32
}

/// The Lease of shard `shard`.
pub fn lease_name(base: &str, shard: u32) -> String {
    format!("{base}-shard-{shard}")
}

/// Whether a candidate may take the free (or expired) shard `shard` now: pure, see the
/// module doc. `live_others` counts the other replicas holding unexpired shard leases.
pub fn may_take(shard: u32, count: u32, preferred: u32, held: usize, live_others: usize, since_start: Duration, retry: Duration) -> bool {
    let count = count.max(1);
    let fair = (count as usize).div_ceil(live_others + 1);
    let rank = (shard + count - preferred % count) % count;
    held < fair && since_start >= retry * rank
}

/// The shards of this process: which it holds, their fences, and what it saw of the other
/// replicas. Cheap to clone.
#[derive(Clone)]
pub struct Shards(Arc<Inner>);

struct Inner {
    count: u32,
    identity: String,
    preferred: u32,
    started: Instant,
    fences: Vec<Fence>,
    held: watch::Sender<Vec<bool>>,
    /// Per shard, the holder its candidate last saw and until when that record is valid.
    seen: Mutex<Vec<Option<(String, Instant)>>>,
}

impl std::fmt::Debug for Shards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shards").field("count", &self.0.count).field("held", &self.held()).finish_non_exhaustive()
    }
}

impl Shards {
    /// `count` shards, none held yet, for the candidate `identity`.
    pub fn new(count: u32, identity: &str) -> Shards {
        let count = count.max(1);
        Shards(Arc::new(Inner {
            count,
            identity: identity.to_string(),
            preferred: (fnv1a(identity.as_bytes()) % u64::from(count)) as u32,
            started: Instant::now(),
            fences: (0..count).map(|_| Fence::default()).collect(),
            held: watch::channel(vec![false; count as usize]).0,
            seen: Mutex::new(vec![None; count as usize]),
        }))
    }

    pub fn count(&self) -> u32 {
        self.0.count
    }

    /// The shard of `namespace/name`.
    pub fn of(&self, namespace: &str, name: &str) -> u32 {
        shard_of(namespace, name, self.0.count)
    }

    /// Whether this process holds `shard`.
    pub fn holds(&self, shard: u32) -> bool {
        self.0.held.borrow().get(shard as usize).copied().unwrap_or(false)
    }

    /// The shards held now.
    pub fn held(&self) -> Vec<u32> {
        self.0.held.borrow().iter().enumerate().filter(|(_, h)| **h).map(|(i, _)| i as u32).collect()
    }

    /// Follows which shards are held (index = shard).
    pub fn subscribe(&self) -> watch::Receiver<Vec<bool>> {
        self.0.held.subscribe()
    }

    /// The write fence of `shard` (its elector keeps it).
    pub fn fence(&self, shard: u32) -> Fence {
        self.0.fences[shard as usize % self.0.fences.len()].clone()
    }

    pub(super) fn set_held(&self, shard: u32, held: bool) {
        self.0.held.send_if_modified(|h| match h.get_mut(shard as usize) {
            Some(slot) if *slot != held => {
                *slot = held;
                true
            }
            _ => false,
        });
    }

    /// What the candidate of `shard` saw: its holder (if any) and until when it is valid.
    pub(super) fn saw(&self, shard: u32, holder: Option<&str>, valid_until: Instant) {
        if let Some(slot) = self.0.seen.lock().expect("shards lock").get_mut(shard as usize) {
            *slot = holder.map(|h| (h.to_string(), valid_until));
        }
    }

    /// Whether the candidate of `shard` may take it now ([`may_take`]).
    pub(super) fn may_take(&self, shard: u32, retry: Duration) -> bool {
        let now = Instant::now();
        let mut others: Vec<String> = self
            .0
            .seen
            .lock()
            .expect("shards lock")
            .iter()
            .flatten()
            .filter(|(holder, until)| *holder != self.0.identity && *until > now)
            .map(|(holder, _)| holder.clone())
            .collect();
        others.sort();
        others.dedup();
        let held = self.held().len();
        may_take(shard, self.0.count, self.0.preferred, held, others.len(), now.duration_since(self.0.started), retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shard_of_an_object_is_stable_and_spread() {
        // Fixed values: a change of hash would move every object to another shard on upgrade.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(shard_of("default", "web", 1), 0);
        let mut per_shard = [0u32; 4];
        for i in 0..400 {
            per_shard[shard_of("default", &format!("lb-{i}"), 4) as usize] += 1;
        }
        assert!(per_shard.iter().all(|n| (60..=140).contains(n)), "{per_shard:?}");
        assert_eq!(lease_name("elb-operator", 3), "elb-operator-shard-3");
    }

    #[test]
    fn a_candidate_takes_its_fair_share_starting_with_its_preferred_shard() {
        let retry = Duration::from_secs(1);
        let t = Duration::from_secs;
        // Alone at the start: only the preferred shard (2) at once, the next one after a retry.
        assert!(may_take(2, 4, 2, 0, 0, t(0), retry));
        assert!(!may_take(3, 4, 2, 1, 0, t(0), retry));
        assert!(may_take(3, 4, 2, 1, 0, t(1), retry));
        assert!(!may_take(1, 4, 2, 3, 0, t(2), retry), "shard 1 is 3 steps from 2");
        assert!(may_take(1, 4, 2, 3, 0, t(3), retry), "alone: all four");
        // Three replicas, four shards: at most two each.
        assert!(may_take(0, 4, 2, 1, 2, t(60), retry));
        assert!(!may_take(0, 4, 2, 2, 2, t(60), retry));
        // Survivors of a crash (its lease expired, so it is not counted): two each again.
        assert!(may_take(0, 4, 2, 1, 1, t(60), retry));
    }

    #[tokio::test(start_paused = true)]
    async fn expired_holders_do_not_count_as_replicas() {
        let s = Shards::new(2, "me");
        let retry = Duration::from_millis(1);
        tokio::time::advance(Duration::from_secs(1)).await;
        s.set_held(0, true);
        s.saw(0, Some("me"), Instant::now() + Duration::from_secs(10));
        s.saw(1, Some("other"), Instant::now() + Duration::from_secs(10));
        assert!(!s.may_take(1, retry), "two replicas, two shards: one each");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(s.may_take(1, retry), "the other one's lease expired: its shard is free for me");
        assert_eq!(s.held(), vec![0]);
    }
}
