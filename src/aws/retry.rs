//! AWS "standard" retry mode: a few attempts, full-jitter capped exponential backoff, and
//! a retry quota shared by a client so that an outage does not multiply the load.

use std::sync::Mutex;
use std::time::Duration;

use super::{Error, ErrorKind};

/// Retry settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Attempts per call, the first included (AWS standard mode: 3).
    pub max_attempts: u32,
    /// Backoff before retry `i` (1-based) is uniform in `[0, min(initial_backoff * 2^(i-1), max_backoff)]`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Initial size of the retry quota (standard mode: 500 tokens; a retry costs 5, a
    /// retry after a timeout 10, and a success after retries gives its cost back).
    pub quota: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig { max_attempts: 3, initial_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(20), quota: 500 }
    }
}

pub const RETRY_COST: u32 = 5;
pub const TIMEOUT_RETRY_COST: u32 = 10;

/// Full-jitter backoff before retry number `retry` (1 for the first retry).
pub fn backoff(config: &RetryConfig, retry: u32, jitter: f64) -> Duration {
    let exp = config.initial_backoff.saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
    exp.min(config.max_backoff).mul_f64(jitter.clamp(0.0, 1.0))
}

/// The retry token bucket.
#[derive(Debug)]
pub struct RetryQuota {
    max: u32,
    tokens: Mutex<u32>,
}

impl RetryQuota {
    pub fn new(max: u32) -> Self {
        RetryQuota { max, tokens: Mutex::new(max) }
    }

    /// Takes the cost of retrying after `error`; `None` when the quota is exhausted.
    pub fn acquire(&self, error: &Error) -> Option<u32> {
        let cost = if matches!(error, Error::Timeout { .. }) { TIMEOUT_RETRY_COST } else { RETRY_COST };
        let mut t = self.tokens.lock().unwrap();
        if *t < cost {
            return None;
        }
        *t -= cost;
        Some(cost)
    }

    /// Gives back the cost of the retries of a call that succeeded in the end.
    pub fn release(&self, cost: u32) {
        let mut t = self.tokens.lock().unwrap();
        *t = (*t + cost).min(self.max);
    }

    pub fn available(&self) -> u32 {
        *self.tokens.lock().unwrap()
    }
}

/// Whether an error may be retried: throttles, 5xx, timeouts and connection errors. The
/// one retry classification of the client; everything else fails at once.
pub fn is_retryable(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::Throttled | ErrorKind::Retryable)
}

/// Actions not sent again after a failure that may have come after AWS applied them
/// ([`Error::maybe_applied`]). CreateLoadBalancer is idempotent, but a resent create is a
/// second mutation the budget pays for (at 10,000 load balancers under a slow API, 525
/// creates were sent twice): the sync that follows a failed create first checks, in bulk,
/// whether the ELB exists (`sync::names`).
const NOT_RESENT: &[&str] = &["CreateLoadBalancer"];

/// Whether `action` may be sent again after `error`: a retryable error, and not one after
/// which an action of [`NOT_RESENT`] may have been applied.
pub fn may_resend(action: &str, error: &Error) -> bool {
    is_retryable(error) && !(NOT_RESENT.contains(&action) && error.maybe_applied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let c = RetryConfig { initial_backoff: Duration::from_millis(100), max_backoff: Duration::from_millis(300), ..Default::default() };
        assert_eq!(backoff(&c, 1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(&c, 2, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(&c, 3, 1.0), Duration::from_millis(300));
        assert_eq!(backoff(&c, 30, 1.0), Duration::from_millis(300));
        assert_eq!(backoff(&c, 2, 0.5), Duration::from_millis(100));
        assert_eq!(backoff(&c, 2, 0.0), Duration::ZERO);
    }

    #[test]
    fn quota_runs_out_and_refills_on_success() {
        let q = RetryQuota::new(12);
        let e = Error::Transport { action: "X", message: "reset".into() };
        let t = Error::Timeout { action: "X", timeout: Duration::from_secs(1) };
        assert_eq!(q.acquire(&e), Some(5));
        assert_eq!(q.acquire(&e), Some(5));
        assert_eq!(q.acquire(&e), None);
        q.release(5);
        assert_eq!(q.acquire(&t), None);
        q.release(100);
        assert_eq!(q.available(), 12);
        assert_eq!(q.acquire(&t), Some(10));
    }

    #[test]
    fn a_create_is_resent_only_after_a_throttle() {
        let timeout = Error::Timeout { action: "CreateLoadBalancer", timeout: Duration::from_secs(1) };
        let reset = Error::Transport { action: "CreateLoadBalancer", message: "reset".into() };
        let busy = Error::UnexpectedResponse { action: "CreateLoadBalancer", status: 503, snippet: String::new() };
        let throttle =
            Error::Api { action: "CreateLoadBalancer", code: "Throttling".into(), message: String::new(), request_id: None, status: 400 };
        for e in [&timeout, &reset, &busy] {
            assert!(!may_resend("CreateLoadBalancer", e), "{e}");
            assert!(may_resend("ConfigureHealthCheck", e), "other actions are resent: {e}");
        }
        assert!(may_resend("CreateLoadBalancer", &throttle), "a throttled create was not applied");
    }

    #[test]
    fn only_throttles_and_transient_errors_are_retryable() {
        let api = |code: &str, status| Error::Api { action: "X", code: code.into(), message: String::new(), request_id: None, status };
        assert!(is_retryable(&api("Throttling", 400)));
        assert!(is_retryable(&api("RequestLimitExceeded", 503)));
        assert!(is_retryable(&api("InternalFailure", 500)));
        assert!(!is_retryable(&api("ValidationError", 400)));
        assert!(!is_retryable(&api("LoadBalancerNotFound", 400)));
        assert!(!is_retryable(&api("SignatureDoesNotMatch", 403)));
        assert!(is_retryable(&Error::UnexpectedResponse { action: "X", status: 502, snippet: String::new() }));
        assert!(!is_retryable(&Error::UnexpectedResponse { action: "X", status: 404, snippet: String::new() }));
    }
}
