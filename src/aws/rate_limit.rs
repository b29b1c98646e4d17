//! The API budget of one (service, credentials, region): two token buckets (describe,
//! mutate), shared by every client and caller in the process that uses the same service,
//! credentials and region (AWS throttles each service separately: EC2 calls never spend the
//! ELB budget), that
//! - serve waiters by **class** ([`Class`]): a token goes to the most urgent class waiting,
//!   so health polls and resyncs never delay a spec change, however many of them queue;
//! - **adapt** to throttling (AIMD): each throttled answer halves the bucket's rate (down to
//!   a floor), each success gives back a twentieth of the configured rate, so the whole
//!   account-region slows down together and recovers promptly once AWS stops throttling.
//!
//! The class of a call is carried by the task that makes it ([`with_class`]), so the
//! clients' signatures stay the same for every caller.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// One bucket's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Sustained calls per second.
    pub per_second: f64,
    /// Calls allowed at once after idling.
    pub burst: u32,
}

/// Separate budgets for read-only (`Describe*`) and mutating calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitConfig {
    pub describe: Bucket,
    pub mutate: Bucket,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        // Below the account-wide Classic ELB API limits, leaving room for other tools.
        RateLimitConfig { describe: Bucket { per_second: 10.0, burst: 20 }, mutate: Bucket { per_second: 4.0, burst: 8 } }
    }
}

impl RateLimitConfig {
    /// No limiting (tests that count calls without pacing).
    pub fn unlimited() -> Self {
        let b = Bucket { per_second: f64::INFINITY, burst: u32::MAX };
        RateLimitConfig { describe: b, mutate: b }
    }
}

/// Why an AWS call is made, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// A change: spec or generation, resolved backends, the referenced HealthCheck,
    /// deletion. Also any call made outside a scheduled context (CLI, tests).
    Change = 0,
    /// A drift resync or an inventory pass.
    Resync = 1,
    /// A health poll.
    Health = 2,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Change, Class::Resync, Class::Health];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Change => "change",
            Class::Resync => "resync",
            Class::Health => "health",
        }
    }
}

tokio::task_local! {
    static CLASS: Class;
}

/// Runs `fut` with every AWS call it makes spent from its budget as `class`.
pub async fn with_class<F: Future>(class: Class, fut: F) -> F::Output {
    CLASS.scope(class, fut).await
}

/// The class of the calling task ([`Class::Change`] outside [`with_class`]).
pub fn current_class() -> Class {
    CLASS.try_with(|c| *c).unwrap_or(Class::Change)
}

/// The longest a call waits for a token before it goes ahead anyway: a bound on every
/// wait, far beyond what a sane configuration produces.
const MAX_WAIT: Duration = Duration::from_secs(900);
/// The rate never drops below this share of the configured one.
const FLOOR: f64 = 0.05;
/// Each success gives back this share of the configured rate.
const RECOVERY_STEP: f64 = 0.05;

#[derive(Debug)]
struct State {
    tokens: f64,
    refilled: Instant,
    /// The rate allowed now (AIMD), at most the configured one.
    rate: f64,
    /// Waiters per class.
    waiting: [usize; 3],
}

/// A token bucket that serves waiters by class and adapts its rate to throttling.
#[derive(Debug)]
pub struct TokenBucket {
    config: Bucket,
    state: Mutex<State>,
    /// Woken when a token is taken or the rate changes, so that waiters re-check who is
    /// first.
    changed: Notify,
}

impl TokenBucket {
    pub fn new(config: Bucket) -> Self {
        let state = State { tokens: config.burst as f64, refilled: Instant::now(), rate: config.per_second, waiting: [0; 3] };
        TokenBucket { config, state: Mutex::new(state), changed: Notify::new() }
    }

    fn unlimited(&self) -> bool {
        !self.config.per_second.is_finite()
    }

    fn refill(&self, s: &mut State, now: Instant) {
        let earned = now.duration_since(s.refilled).as_secs_f64() * s.rate;
        s.tokens = (s.tokens + earned).min(self.config.burst as f64);
        s.refilled = now;
    }

    /// Takes a token now if one is free and no more urgent class waits; never waits.
    pub fn try_acquire(&self, class: Class) -> bool {
        if self.unlimited() {
            return true;
        }
        let mut s = self.state.lock().expect("bucket lock");
        self.refill(&mut s, Instant::now());
        let more_urgent_waiting = s.waiting[..=class as usize].iter().any(|n| *n > 0);
        if s.tokens >= 1.0 && !more_urgent_waiting {
            s.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether a call of `class` would get a token now: one is free and no call of the same
    /// or a more urgent class waits. The observer asks before it spends on health polls.
    pub fn has_spare(&self, class: Class) -> bool {
        if self.unlimited() {
            return true;
        }
        let mut s = self.state.lock().expect("bucket lock");
        self.refill(&mut s, Instant::now());
        s.tokens >= 1.0 && s.waiting[..=class as usize].iter().all(|n| *n == 0)
    }

    /// Waits for a token as `class`; returns the time waited. A token goes to the most
    /// urgent class waiting; within a class, to whoever checks first.
    pub async fn acquire(&self, class: Class) -> Duration {
        if self.unlimited() {
            return Duration::ZERO;
        }
        let start = Instant::now();
        let deadline = start + MAX_WAIT;
        let mut registration: Option<Registration> = None;
        loop {
            // Subscribe before checking, so a change between the check and the sleep wakes us.
            let notified = self.changed.notified();
            let wait = {
                let mut s = self.state.lock().expect("bucket lock");
                let now = Instant::now();
                self.refill(&mut s, now);
                let more_urgent_waiting = s.waiting[..class as usize].iter().any(|n| *n > 0);
                if (s.tokens >= 1.0 && !more_urgent_waiting) || now >= deadline {
                    s.tokens -= 1.0;
                    if let Some(mut r) = registration.take() {
                        s.waiting[class as usize] -= 1;
                        r.armed = false;
                    }
                    drop(s);
                    self.changed.notify_waiters();
                    return now - start;
                }
                if registration.is_none() {
                    s.waiting[class as usize] += 1;
                    registration = Some(Registration { bucket: self, class, armed: true });
                }
                let missing = (1.0 - s.tokens).max(0.0);
                Duration::from_secs_f64(missing / s.rate).max(Duration::from_millis(1))
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.min(deadline - Instant::now())) => {}
                _ = notified => {}
            }
        }
    }

    /// AIMD feedback from one answer: a throttle halves the rate; a success adds back a step.
    pub fn feedback(&self, throttled: bool) {
        if self.unlimited() {
            return;
        }
        let mut s = self.state.lock().expect("bucket lock");
        self.refill(&mut s, Instant::now());
        let configured = self.config.per_second;
        let rate = if throttled { (s.rate * 0.5).max(configured * FLOOR) } else { (s.rate + configured * RECOVERY_STEP).min(configured) };
        if rate != s.rate {
            s.rate = rate;
            if throttled {
                // Spend the burst too: the account is over its limit now.
                s.tokens = s.tokens.min(0.0);
            }
            drop(s);
            self.changed.notify_waiters();
        }
    }

    /// The rate allowed now (calls per second).
    pub fn current_rate(&self) -> f64 {
        self.state.lock().expect("bucket lock").rate
    }

    /// The configured rate (calls per second).
    pub fn configured_rate(&self) -> f64 {
        self.config.per_second
    }

    /// Waiters per class right now.
    pub fn waiting(&self) -> [usize; 3] {
        self.state.lock().expect("bucket lock").waiting
    }
}

/// A waiter's place in its class count, given back if the waiting call is dropped.
struct Registration<'a> {
    bucket: &'a TokenBucket,
    class: Class,
    armed: bool,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.bucket.state.lock().expect("bucket lock").waiting[self.class as usize] -= 1;
        }
    }
}

/// The describe and mutate buckets of one (credentials, region).
#[derive(Debug)]
pub struct RateLimiter {
    pub describe: TokenBucket,
    pub mutate: TokenBucket,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        RateLimiter { describe: TokenBucket::new(config.describe), mutate: TokenBucket::new(config.mutate) }
    }

    pub fn bucket(&self, mutating: bool) -> &TokenBucket {
        if mutating {
            &self.mutate
        } else {
            &self.describe
        }
    }

    /// Waits for a token in the calling task's class ([`current_class`]).
    pub async fn acquire(&self, mutating: bool) -> Duration {
        self.bucket(mutating).acquire(current_class()).await
    }
}

type Key = (&'static str, String, String, String);

/// The process-wide limiter for (service, credentials identity, region, settings).
pub fn shared(service: &'static str, credentials: &str, region: &str, config: RateLimitConfig) -> Arc<RateLimiter> {
    static LIMITERS: OnceLock<Mutex<HashMap<Key, Arc<RateLimiter>>>> = OnceLock::new();
    let key = (service, credentials.to_string(), region.to_string(), format!("{config:?}"));
    LIMITERS
        .get_or_init(Default::default)
        .lock()
        .expect("limiters lock")
        .entry(key)
        .or_insert_with(|| Arc::new(RateLimiter::new(config)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_burst_then_paces() {
        let b = TokenBucket::new(Bucket { per_second: 2.0, burst: 3 });
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(b.acquire(Class::Change).await, Duration::ZERO);
        }
        b.acquire(Class::Change).await;
        assert_eq!(Instant::now() - start, Duration::from_millis(500));
        b.acquire(Class::Change).await;
        assert_eq!(Instant::now() - start, Duration::from_millis(1000));
        tokio::time::advance(Duration::from_secs(10)).await;
        // Refilled to the burst, not beyond.
        let free = (0..4).filter(|_| b.try_acquire(Class::Change)).count();
        assert_eq!(free, 3);
    }

    /// With hundreds of health polls queued on a saturated bucket, a change takes the next
    /// token, then resyncs, and only then the polls.
    #[tokio::test(start_paused = true)]
    async fn the_most_urgent_class_gets_the_next_token() {
        let b = Arc::new(TokenBucket::new(Bucket { per_second: 10.0, burst: 1 }));
        assert!(b.try_acquire(Class::Health), "the burst");
        let order = Arc::new(Mutex::new(Vec::new()));
        let spawn = |class: Class, i: usize| {
            let (b, order) = (b.clone(), order.clone());
            tokio::spawn(async move {
                b.acquire(class).await;
                order.lock().unwrap().push((class, i));
            })
        };
        let mut tasks: Vec<_> = (0..300).map(|i| spawn(Class::Health, i)).collect();
        for _ in 0..1000 {
            if b.waiting()[Class::Health as usize] == 300 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(b.waiting()[Class::Health as usize], 300, "the polls queue");
        tasks.push(spawn(Class::Resync, 0));
        tasks.push(spawn(Class::Change, 0));
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(order[0], (Class::Change, 0), "{:?}", &order[..3]);
        assert_eq!(order[1], (Class::Resync, 0));
        assert!(order[2..].iter().all(|(c, _)| *c == Class::Health));
        assert_eq!(order.len(), 302);
    }

    #[tokio::test(start_paused = true)]
    async fn try_acquire_leaves_tokens_to_waiting_urgent_classes() {
        let b = Arc::new(TokenBucket::new(Bucket { per_second: 1.0, burst: 1 }));
        assert!(b.try_acquire(Class::Health));
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.acquire(Class::Change).await })
        };
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!b.try_acquire(Class::Health), "a change waits: polls get nothing");
        waiter.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_and_successes_restore_it() {
        let b = TokenBucket::new(Bucket { per_second: 10.0, burst: 10 });
        b.feedback(true);
        assert_eq!(b.current_rate(), 5.0);
        for _ in 0..10 {
            b.feedback(true);
        }
        assert_eq!(b.current_rate(), 0.5, "never below the floor");
        for _ in 0..100 {
            b.feedback(false);
        }
        assert_eq!(b.current_rate(), 10.0, "recovered, never above the configured rate");
        assert_eq!(b.configured_rate(), 10.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_waiter_gives_its_place_back() {
        let b = Arc::new(TokenBucket::new(Bucket { per_second: 1.0, burst: 1 }));
        assert!(b.try_acquire(Class::Change));
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.acquire(Class::Change).await })
        };
        tokio::task::yield_now().await;
        assert_eq!(b.waiting()[0], 1);
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(b.waiting()[0], 0);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(b.try_acquire(Class::Health), "nobody waits any more");
    }

    #[tokio::test]
    async fn the_class_follows_the_task() {
        assert_eq!(current_class(), Class::Change);
        assert_eq!(with_class(Class::Health, async { current_class() }).await, Class::Health);
    }

    #[test]
    fn limiters_are_shared_per_service_credentials_and_region() {
        let c = RateLimitConfig::default();
        let a = shared("elasticloadbalancing", "static:AK1", "eu-west-1", c);
        assert!(Arc::ptr_eq(&a, &shared("elasticloadbalancing", "static:AK1", "eu-west-1", c)));
        assert!(!Arc::ptr_eq(&a, &shared("elasticloadbalancing", "static:AK1", "us-east-1", c)));
        assert!(!Arc::ptr_eq(&a, &shared("elasticloadbalancing", "static:AK2", "eu-west-1", c)));
        assert!(!Arc::ptr_eq(&a, &shared("ec2", "static:AK1", "eu-west-1", c)), "EC2 has a budget of its own");
    }
}
