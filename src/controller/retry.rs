//! Jitter for retry delays (the delays themselves are `loadbalancer::error_policy`'s and
//! `loadbalancer::apply`'s).

use std::time::Duration;

/// `d` give or take 20%, so that retries of many objects spread out.
pub fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::random_range(0.8..1.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_fifth() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(10));
            assert!(d >= Duration::from_secs(8) && d < Duration::from_secs(12), "{d:?}");
        }
    }
}
