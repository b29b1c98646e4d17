//! Client-side token buckets, one pair (describe, mutate) per (credentials, region), shared
//! by every client and caller in the process that uses the same credentials and region.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

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

/// A token bucket. Callers reserve a token immediately (the balance may go negative) and
/// sleep until it is theirs, so waiters are served in arrival order.
#[derive(Debug)]
pub struct TokenBucket {
    config: Bucket,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(config: Bucket) -> Self {
        TokenBucket { config, state: Mutex::new((config.burst as f64, Instant::now())) }
    }

    /// Reserves one token and returns how long the caller must wait before using it.
    pub fn reserve(&self) -> Duration {
        if !self.config.per_second.is_finite() {
            return Duration::ZERO;
        }
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        let refill = now.duration_since(s.1).as_secs_f64() * self.config.per_second;
        s.0 = (s.0 + refill).min(self.config.burst as f64);
        s.1 = now;
        s.0 -= 1.0;
        if s.0 >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.0 / self.config.per_second)
        }
    }

    /// Waits for a token; returns the time waited.
    pub async fn acquire(&self) -> Duration {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
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

    pub async fn acquire(&self, mutating: bool) -> Duration {
        if mutating {
            self.mutate.acquire().await
        } else {
            self.describe.acquire().await
        }
    }
}

type Key = (String, String, String);

/// The process-wide limiter for (credentials identity, region, settings).
pub fn shared(credentials: &str, region: &str, config: RateLimitConfig) -> Arc<RateLimiter> {
    static LIMITERS: OnceLock<Mutex<HashMap<Key, Arc<RateLimiter>>>> = OnceLock::new();
    let key = (credentials.to_string(), region.to_string(), format!("{config:?}"));
    LIMITERS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
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
        let waits: Vec<Duration> = (0..6).map(|_| b.reserve()).collect();
        assert_eq!(&waits[..3], &[Duration::ZERO; 3]);
        assert_eq!(waits[3], Duration::from_millis(500));
        assert_eq!(waits[4], Duration::from_millis(1000));
        assert_eq!(waits[5], Duration::from_millis(1500));
        tokio::time::advance(Duration::from_secs(10)).await;
        // Refilled to the burst, not beyond.
        let waits: Vec<Duration> = (0..4).map(|_| b.reserve()).collect();
        assert_eq!(waits.iter().filter(|w| w.is_zero()).count(), 3);
    }

    #[test]
    fn limiters_are_shared_per_credentials_and_region() {
        let c = RateLimitConfig::default();
        let a = shared("static:AK1", "eu-west-1", c);
        assert!(Arc::ptr_eq(&a, &shared("static:AK1", "eu-west-1", c)));
        assert!(!Arc::ptr_eq(&a, &shared("static:AK1", "us-east-1", c)));
        assert!(!Arc::ptr_eq(&a, &shared("static:AK2", "eu-west-1", c)));
    }
}
