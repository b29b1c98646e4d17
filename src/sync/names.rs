//! Whether ELB names exist, answered in bulk for the creates of a scope.
//!
//! Before a create, the engine must know that no ELB holds the name: a foreign ELB is never
//! created over. A per-name DescribeLoadBalancers costs one call per create. Batching
//! names does not help here: DescribeLoadBalancers with several names fails as a whole
//! (`LoadBalancerNotFound`) when one of them does not exist, which is the normal case for
//! a name about to be created. So the creates of a scope share one paginated listing of
//! every ELB (400 a page): a listing that started at most [`MAX_AGE`] ago answers for any
//! name, and a wave of creates costs ⌈ELBs/400⌉ calls every [`MAX_AGE`] whatever its size.
//!
//! A create that failed in a way that may have come after AWS applied it (a timeout, a
//! dropped connection, a 5xx) is remembered: the next check of that name waits for a
//! listing that started after the create was sent, so the create is not simply sent again
//! (the client does not resend it either: `aws::retry::may_resend`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::aws;
use crate::elb::ElbApi;

/// How old a listing may be to answer for a name about to be created. The window in which
/// an ELB created by someone else could go unseen: a create over it then fails
/// (`DuplicateLoadBalancerName`) unless its configuration is identical.
pub const MAX_AGE: Duration = Duration::from_secs(10);

/// One listing: the lower-case names of every ELB of the scope, from when it started.
#[derive(Debug)]
struct Listing {
    started: Instant,
    names: HashSet<String>,
}

/// The name checks of one scope (account and region).
#[derive(Debug, Default)]
pub struct NameCheck {
    /// The last listing. The lock is held while a listing runs, so that the checks that
    /// arrive meanwhile share it instead of starting their own.
    latest: tokio::sync::Mutex<Option<Listing>>,
    /// Names whose create may have been applied, and when that create was sent.
    uncertain: Mutex<HashMap<String, Instant>>,
    /// Listings taken (a figure for tests and benchmarks).
    listings: std::sync::atomic::AtomicU64,
}

impl NameCheck {
    /// Whether an ELB named `name` exists, from a listing that started at most [`MAX_AGE`]
    /// ago, and after any uncertain create of the name; taking one if there is none.
    pub async fn exists(&self, elb: &dyn ElbApi, name: &str) -> Result<bool, aws::Error> {
        let key = name.to_ascii_lowercase();
        let asked = Instant::now();
        let not_before = self.uncertain.lock().unwrap().get(&key).copied();
        let mut latest = self.latest.lock().await;
        let usable = |l: &Listing| asked.saturating_duration_since(l.started) <= MAX_AGE && not_before.is_none_or(|sent| l.started >= sent);
        if !latest.as_ref().is_some_and(usable) {
            let started = Instant::now();
            let all = elb.describe_load_balancers(&[]).await?;
            self.listings.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            *latest = Some(Listing { started, names: all.into_iter().map(|d| d.name.to_ascii_lowercase()).collect() });
        }
        let found = latest.as_ref().is_some_and(|l| l.names.contains(&key));
        drop(latest);
        if not_before.is_some() {
            self.uncertain.lock().unwrap().remove(&key);
        }
        Ok(found)
    }

    /// Records a create of `name`, sent at `sent`, that failed after it may have been
    /// applied.
    pub fn create_uncertain(&self, name: &str, sent: Instant) {
        self.uncertain.lock().unwrap().insert(name.to_ascii_lowercase(), sent);
    }

    /// Records a listing taken elsewhere (an inventory pass), started at `started`, unless
    /// a newer one is kept or one is being taken.
    pub fn saw<'a>(&self, started: Instant, names: impl IntoIterator<Item = &'a str>) {
        let Ok(mut latest) = self.latest.try_lock() else { return };
        if latest.as_ref().is_some_and(|l| l.started >= started) {
            return;
        }
        *latest = Some(Listing { started, names: names.into_iter().map(str::to_ascii_lowercase).collect() });
    }

    /// Listings this check took.
    pub fn listings(&self) -> u64 {
        self.listings.load(std::sync::atomic::Ordering::Relaxed)
    }
}
