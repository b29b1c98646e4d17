//! When a LoadBalancer's next ELB work happens: a full sync, a health poll, or nothing yet.
//!
//! Per-object memory (the inputs of the last successful full sync, when it and the last
//! health poll happened, consecutive failures) decides it:
//! - **full sync** when the inputs changed (spec, generation, resolved backends, the
//!   referenced health check) or `resync_interval` elapsed;
//! - **health poll** when `health_poll_interval` elapsed;
//! - **wait** otherwise (for example on the watch event of the operator's own status write).
//!
//! This is the one place that decides who gets ELB calls next; the reconcile steps only ask.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::runtime::reflector::ObjectRef;

use crate::crd::LoadBalancer;

/// A stable hash of anything hashable (the inputs of a sync, the relevant parts of a node).
pub fn fingerprint<T: Hash>(value: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// Exponential backoff with ±20% jitter: `base * 2^(failures-1)`, at most `max`.
pub fn backoff(failures: u32, base: Duration, max: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let d = base.saturating_mul(1u32 << exp).min(max);
    let jitter = rand::random_range(0.8..1.2);
    d.mul_f64(jitter)
}

/// The next ELB work for one LoadBalancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Describe the ELB, plan, apply, read back.
    FullSync,
    /// One DescribeInstanceHealth.
    PollHealth,
    /// Nothing is due before this much time.
    Wait(Duration),
}

/// Per-LoadBalancer memory between reconciles.
#[derive(Debug, Clone, Default)]
struct Memo {
    /// Fingerprint of the inputs of the last successful full sync.
    inputs: Option<u64>,
    last_full_sync: Option<Instant>,
    last_health_poll: Option<Instant>,
    /// Consecutive failed reconciles, for backoff.
    failures: u32,
}

/// The per-object schedule of every LoadBalancer.
#[derive(Debug)]
pub struct Schedule {
    health_poll_interval: Duration,
    resync_interval: Duration,
    memos: Mutex<HashMap<ObjectRef<LoadBalancer>, Memo>>,
}

impl Schedule {
    pub fn new(health_poll_interval: Duration, resync_interval: Duration) -> Self {
        Schedule { health_poll_interval, resync_interval, memos: Mutex::default() }
    }

    fn with<T>(&self, key: &ObjectRef<LoadBalancer>, f: impl FnOnce(&mut Memo) -> T) -> T {
        f(self.memos.lock().expect("schedule lock").entry(key.clone()).or_default())
    }

    /// What to do now for an object whose current inputs have fingerprint `inputs`.
    pub fn step(&self, key: &ObjectRef<LoadBalancer>, inputs: u64, now: Instant) -> Step {
        self.with(key, |m| {
            let Some(resync_due) = m.last_full_sync.map(|t| t + self.resync_interval) else {
                return Step::FullSync;
            };
            if m.inputs != Some(inputs) || now >= resync_due {
                return Step::FullSync;
            }
            let next_poll = m.last_health_poll.map(|t| t + self.health_poll_interval).unwrap_or(now);
            if now < next_poll {
                Step::Wait(next_poll.min(resync_due) - now)
            } else {
                Step::PollHealth
            }
        })
    }

    /// Records a successful full sync; returns when to come back.
    pub fn synced(&self, key: &ObjectRef<LoadBalancer>, inputs: u64, now: Instant) -> Duration {
        self.with(key, |m| {
            *m = Memo { inputs: Some(inputs), last_full_sync: Some(now), last_health_poll: Some(now), failures: 0 };
        });
        self.health_poll_interval.min(self.resync_interval)
    }

    /// Records a successful health poll; returns when to come back.
    pub fn polled(&self, key: &ObjectRef<LoadBalancer>, now: Instant) -> Duration {
        self.with(key, |m| {
            m.last_health_poll = Some(now);
            let resync_due = m.last_full_sync.map(|t| t + self.resync_interval).unwrap_or(now);
            self.health_poll_interval.min(resync_due.saturating_duration_since(now))
        })
    }

    /// Forces a full sync next time (the last one failed or its result is unknown).
    pub fn invalidate(&self, key: &ObjectRef<LoadBalancer>) {
        self.with(key, |m| m.inputs = None);
    }

    /// Counts a failed reconcile; returns the consecutive failures so far.
    pub fn failed(&self, key: &ObjectRef<LoadBalancer>) -> u32 {
        self.with(key, |m| {
            m.failures += 1;
            m.failures
        })
    }

    /// Forgets a deleted LoadBalancer.
    pub fn forget(&self, key: &ObjectRef<LoadBalancer>) {
        self.memos.lock().expect("schedule lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        let base = Duration::from_secs(5);
        let max = Duration::from_secs(300);
        for (failures, nominal) in [(1, 5), (2, 10), (3, 20), (7, 300), (40, 300)] {
            let d = backoff(failures, base, max).as_secs_f64();
            let n = nominal as f64;
            assert!(d >= n * 0.8 - 1e-9 && d <= n * 1.2 + 1e-9, "failures {failures}: {d}s not within 20% of {n}s");
        }
    }

    #[test]
    fn steps_follow_inputs_and_intervals() {
        let s = Schedule::new(Duration::from_secs(30), Duration::from_secs(600));
        let key = ObjectRef::new("lb").within("ns");
        let t0 = Instant::now();
        assert_eq!(s.step(&key, 1, t0), Step::FullSync, "never synced");
        assert_eq!(s.synced(&key, 1, t0), Duration::from_secs(30));
        assert_eq!(s.step(&key, 1, t0 + Duration::from_secs(10)), Step::Wait(Duration::from_secs(20)));
        assert_eq!(s.step(&key, 2, t0 + Duration::from_secs(10)), Step::FullSync, "inputs changed");
        assert_eq!(s.step(&key, 1, t0 + Duration::from_secs(30)), Step::PollHealth);
        assert_eq!(s.polled(&key, t0 + Duration::from_secs(590)), Duration::from_secs(10), "the resync comes first");
        assert_eq!(s.step(&key, 1, t0 + Duration::from_secs(600)), Step::FullSync, "resync due");
        s.invalidate(&key);
        assert_eq!(s.step(&key, 1, t0 + Duration::from_secs(31)), Step::FullSync, "invalidated");
        assert_eq!((s.failed(&key), s.failed(&key)), (1, 2));
        s.forget(&key);
        assert_eq!(s.failed(&key), 1, "forgotten");
    }
}
