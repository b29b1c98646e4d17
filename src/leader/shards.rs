//! Shards: with `--shards N` (N > 1) the LoadBalancers and HealthChecks are split by a stable
//! hash of `namespace/name` into N shards. Shard `i` is held through its own Lease,
//! `<lease-name>-shard-<i>`, by at most one replica at a time, with the same election as the
//! single leader lease ([`super::LeaderElector`]); a replica runs one candidate per shard
//! and may hold several. Each shard has its own write fence: a reconcile runs under its
//! object's shard fence ([`crate::aws::fence::with_fence`]).
//!
//! Who takes a free shard (never a held one: leases are only taken over once expired):
//! - Replicas make themselves known by holding one of N *member* Leases,
//!   `<lease-name>-member-<k>` (same election, at most one each): the live replicas are the
//!   distinct holders of unexpired member leases, plus this one. A crashed replica's member
//!   lease expires like its shards', so it stops counting.
//! - A replica takes shards only once others can count it: its member lease held for a
//!   retry period (every other replica looked at it since). Then, with M live replicas:
//!   its first shard at once; up to ⌊N/M⌋ once the set of live replicas it sees has not
//!   changed for two retry periods; up to ⌈N/M⌉ only after that and a lease duration after
//!   its start (so that replicas starting together first get one share each); never more.
//!   Candidates of one process reserve before they try, so its concurrent candidates
//!   cannot overshoot together.
//! - Its candidates start staggered, in an order rotated by a hash of its identity, so
//!   replicas that start together do not all race for shard 0 (or member slot 0) first.
//!
//! No Lease is taken while a Lease of another shard count is fresh ([`super::exclusion`]).
//!
//! No rebalancing: a replica never gives up a shard it holds while it runs. One that starts
//! when every shard is held gets work when a shard is freed (a replica's SIGTERM releases
//! its leases at once; a crash frees them after the lease duration).

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

/// The Lease of member slot `slot` (see the module doc).
pub fn member_lease_name(base: &str, slot: u32) -> String {
    format!("{base}-member-{slot}")
}

/// What a replica knows when one of its shard candidates could take a free shard.
#[derive(Debug, Clone, Copy)]
pub struct Outlook {
    /// Shards it holds (or is taking).
    pub held: usize,
    /// Live replicas, itself included.
    pub members: usize,
    /// Whether the others can count it: its member lease held for a retry period.
    pub registered: bool,
    /// Whether the set of live replicas has not changed for two retry periods.
    pub stable: bool,
    /// Whether a lease duration passed since its start.
    pub settled: bool,
}

/// Whether a replica may take one more of `count` shards now: pure, see the module doc.
pub fn may_take(count: u32, o: Outlook) -> bool {
    let (count, members) = (count.max(1) as usize, o.members.max(1));
    o.registered && (o.held == 0 || (o.stable && o.held < count / members) || (o.stable && o.settled && o.held < count.div_ceil(members)))
}

/// Whether this process holds a shard, and how many times it gained it: a shard lost and
/// regained between two looks of an observer shows as a new term.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tenure {
    pub held: bool,
    pub term: u64,
}

/// What one candidate stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Shard `i`: its objects are reconciled while held.
    Shard(u32),
    /// Member slot `k`: holding one makes this replica count.
    Member(u32),
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
    exclusion: super::exclusion::Exclusion,
    held: watch::Sender<Vec<Tenure>>,
    state: Mutex<State>,
}

struct State {
    /// Member slots held by this process.
    slots: Vec<bool>,
    /// Per member slot, the holder last seen and until when that record is valid.
    members: Vec<Option<(String, Instant)>>,
    /// Takes under way (shards, slots): reserved before the API call, so that concurrent
    /// candidates do not all take at once.
    taking: (usize, usize),
    /// Since when this process holds a member slot.
    member_since: Option<Instant>,
    /// The live replicas last counted, and since when that set is unchanged.
    live: (Vec<String>, Instant),
}

impl std::fmt::Debug for Shards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shards").field("count", &self.0.count).field("held", &self.held()).finish_non_exhaustive()
    }
}

/// A take under way ([`Shards::reserve`]); released on drop.
pub(super) struct Reservation {
    shards: Shards,
    role: Role,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut st = self.shards.0.state.lock().expect("shards lock");
        match self.role {
            Role::Shard(_) => st.taking.0 -= 1,
            Role::Member(_) => st.taking.1 -= 1,
        }
    }
}

impl Shards {
    /// `count` shards, none held yet, for the candidate `identity`.
    pub fn new(count: u32, identity: &str) -> Shards {
        let count = count.max(1);
        let n = count as usize;
        Shards(Arc::new(Inner {
            count,
            identity: identity.to_string(),
            preferred: (fnv1a(identity.as_bytes()) % u64::from(count)) as u32,
            started: Instant::now(),
            fences: (0..count).map(|_| Fence::default()).collect(),
            exclusion: Default::default(),
            held: watch::channel(vec![Tenure::default(); n]).0,
            state: Mutex::new(State {
                slots: vec![false; n],
                members: vec![None; n],
                taking: (0, 0),
                member_since: None,
                live: (Vec::new(), Instant::now()),
            }),
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
        self.0.held.borrow().get(shard as usize).is_some_and(|t| t.held)
    }

    /// The shards held now.
    pub fn held(&self) -> Vec<u32> {
        self.0.held.borrow().iter().enumerate().filter(|(_, t)| t.held).map(|(i, _)| i as u32).collect()
    }

    /// Follows which shards are held, and their terms (index = shard).
    pub fn subscribe(&self) -> watch::Receiver<Vec<Tenure>> {
        self.0.held.subscribe()
    }

    /// The write fence of `shard` (its elector keeps it).
    pub fn fence(&self, shard: u32) -> Fence {
        self.0.fences[shard as usize % self.0.fences.len()].clone()
    }

    /// What this process's candidates saw of Leases of other shard counts.
    pub(super) fn exclusion(&self) -> super::exclusion::Exclusion {
        self.0.exclusion.clone()
    }

    /// How long the candidate for `role` waits before its first look: shards (and member
    /// slots) in the order rotated by this identity's hash, spread over one retry period.
    pub(super) fn initial_delay(&self, role: Role, retry: Duration) -> Duration {
        match role {
            Role::Shard(i) | Role::Member(i) => retry * ((i + self.0.count - self.0.preferred) % self.0.count) / self.0.count,
        }
    }

    pub(crate) fn set_held(&self, role: Role, held: bool) {
        match role {
            Role::Shard(i) => {
                self.0.held.send_if_modified(|h| match h.get_mut(i as usize) {
                    Some(t) if t.held != held => {
                        t.held = held;
                        t.term += u64::from(held);
                        true
                    }
                    _ => false,
                });
            }
            Role::Member(k) => {
                let mut st = self.0.state.lock().expect("shards lock");
                if let Some(slot) = st.slots.get_mut(k as usize) {
                    *slot = held;
                }
                let any = st.slots.iter().any(|h| *h);
                match (any, st.member_since) {
                    (true, None) => st.member_since = Some(Instant::now()),
                    (false, Some(_)) => st.member_since = None,
                    _ => {}
                }
            }
        }
    }

    /// What the candidate for `role` saw: its holder (if any) and until when it is valid.
    pub(super) fn saw(&self, role: Role, holder: Option<&str>, valid_until: Instant) {
        if let Role::Member(k) = role {
            let now = Instant::now();
            let mut st = self.0.state.lock().expect("shards lock");
            if let Some(slot) = st.members.get_mut(k as usize) {
                *slot = holder.map(|h| (h.to_string(), valid_until));
            }
            let live = self.live(&st, now);
            if live != st.live.0 {
                st.live = (live, now);
            }
        }
    }

    /// The other live replicas: the distinct holders of unexpired member leases.
    fn live(&self, st: &State, now: Instant) -> Vec<String> {
        let mut others: Vec<String> =
            st.members.iter().flatten().filter(|(h, until)| *h != self.0.identity && *until > now).map(|(h, _)| h.clone()).collect();
        others.sort_unstable();
        others.dedup();
        others
    }

    /// Reserves a take for the candidate of `role` if it may take its lease now: a member
    /// slot when this process holds none; a shard per [`may_take`].
    pub(super) fn reserve(&self, role: Role, retry: Duration, lease_duration: Duration) -> Option<Reservation> {
        let now = Instant::now();
        let mut st = self.0.state.lock().expect("shards lock");
        let allowed = match role {
            Role::Member(_) => st.slots.iter().filter(|h| **h).count() + st.taking.1 == 0,
            Role::Shard(_) => {
                let live = self.live(&st, now);
                // A member that expired since the last look changes the set too.
                if live != st.live.0 {
                    st.live = (live.clone(), now);
                }
                let stable = now.duration_since(st.live.1) >= retry * 2;
                let outlook = Outlook {
                    held: self.0.held.borrow().iter().filter(|t| t.held).count() + st.taking.0,
                    members: live.len() + 1,
                    registered: st.member_since.is_some_and(|t| now.duration_since(t) >= retry),
                    stable,
                    settled: now.duration_since(self.0.started) >= lease_duration,
                };
                may_take(self.0.count, outlook)
            }
        };
        if !allowed {
            return None;
        }
        match role {
            Role::Shard(_) => st.taking.0 += 1,
            Role::Member(_) => st.taking.1 += 1,
        }
        Some(Reservation { shards: self.clone(), role })
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
    fn a_replica_takes_one_shard_at_once_its_floor_once_stable_and_its_ceiling_once_settled() {
        let o = |held, members, registered, stable, settled| Outlook { held, members, registered, stable, settled };
        // Three replicas, four shards.
        assert!(!may_take(4, o(0, 3, false, true, true)), "not before the others can count it");
        assert!(may_take(4, o(0, 3, true, false, false)), "its first shard at once");
        assert!(!may_take(4, o(1, 3, true, true, false)), "the floor (1) reached: the second waits for the settle time");
        assert!(may_take(4, o(1, 3, true, true, true)));
        assert!(!may_take(4, o(1, 3, true, false, true)), "not while replicas come and go");
        assert!(!may_take(4, o(2, 3, true, true, true)), "never more than the ceiling");
        // Alone: all four once the view is stable, before the settle time.
        assert!(may_take(4, o(3, 1, true, true, false)));
        assert!(!may_take(4, o(1, 1, true, false, false)), "unstable: only the first");
        assert!(!may_take(4, o(4, 1, true, true, true)));
        // More replicas than shards: one each at most.
        assert!(may_take(2, o(0, 3, true, false, false)) && !may_take(2, o(1, 3, true, true, true)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_replica_registers_first_and_expired_members_stop_counting() {
        let (retry, lease) = (Duration::from_secs(1), Duration::from_secs(6));
        let s = Shards::new(2, "me");
        assert!(s.reserve(Role::Shard(0), retry, lease).is_none(), "no member slot yet: the others cannot count it");
        let member = s.reserve(Role::Member(0), retry, lease).expect("no member slot yet");
        assert!(s.reserve(Role::Member(1), retry, lease).is_none(), "one member slot at a time");
        s.set_held(Role::Member(0), true);
        drop(member);
        assert!(s.reserve(Role::Member(1), retry, lease).is_none(), "one member slot is enough");
        s.saw(Role::Member(0), Some("me"), Instant::now() + lease);
        s.saw(Role::Member(1), Some("other"), Instant::now() + lease);
        assert!(s.reserve(Role::Shard(0), retry, lease).is_none(), "registered only a retry period after taking the slot");
        tokio::time::advance(retry).await;
        let first = s.reserve(Role::Shard(0), retry, lease).expect("the first shard");
        assert!(s.reserve(Role::Shard(1), retry, lease).is_none(), "the take under way counts");
        s.set_held(Role::Shard(0), true);
        drop(first);
        tokio::time::advance(lease).await;
        s.saw(Role::Member(1), Some("other"), Instant::now() + lease);
        assert!(s.reserve(Role::Shard(1), retry, lease).is_none(), "two replicas, two shards: one each while the other lives");
        tokio::time::advance(lease).await;
        assert!(s.reserve(Role::Shard(1), retry, lease).is_none(), "the other one just expired: the set changed");
        tokio::time::advance(retry * 2).await;
        assert!(s.reserve(Role::Shard(1), retry, lease).is_some(), "alone now: its shard is free for me");
        assert_eq!(s.held(), vec![0]);
        s.set_held(Role::Shard(0), false);
        s.set_held(Role::Shard(0), true);
        assert_eq!(s.subscribe().borrow()[0], Tenure { held: true, term: 2 }, "a lost and regained shard: a new term");
    }

    #[test]
    fn candidates_start_staggered_from_the_preferred_shard() {
        let s = Shards::new(4, "some-identity");
        let retry = Duration::from_secs(4);
        let delays: Vec<Duration> = (0..4).map(|i| s.initial_delay(Role::Shard(i), retry)).collect();
        assert_eq!(s.initial_delay(Role::Member(1), retry), delays[1], "member slots in the same order");
        let mut sorted = delays.clone();
        sorted.sort();
        assert_eq!(sorted, (0..4).map(Duration::from_secs).collect::<Vec<_>>(), "{delays:?}");
        assert_eq!(delays[s.0.preferred as usize], Duration::ZERO);
        assert_eq!(member_lease_name("elb-operator", 1), "elb-operator-member-1");
    }
}
