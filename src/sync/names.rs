//! Whether ELB names exist, answered in bulk for the creates of a scope.
//!
//! Before a create, the engine must know that no ELB holds the name: a foreign ELB is never
//! created over. A per-name DescribeLoadBalancers costs one call per create. Batching
//! names does not help here: DescribeLoadBalancers with several names fails as a whole
//! (`LoadBalancerNotFound`) when one of them does not exist, which is the normal case for
//! a name about to be created. So the creates of a scope share one paginated listing of
//! every ELB (400 a page): a listing that started at most [`MAX_AGE`] ago answers for any
//! name, and a wave of creates costs ⌈ELBs/400⌉ calls every [`MAX_AGE`] whatever its size.
//! In a region of many ELBs a listing takes long (25 pages at 10,000, seconds on a busy
//! API): a listing stays usable for [`AGE_PER_LISTING_TIME`] times what it took, so that
//! listings never take more than about a tenth of the scope's calls.
//!
//! A create that failed in a way that may have come after AWS applied it (a timeout, a
//! dropped connection, a 5xx) is remembered: the next check of that name needs a listing
//! that started after the create was sent, or else describes that one name (one call,
//! where a new listing of a big region is many pages: at 10,000 ELBs, moto's 500s made
//! each such check wait for 25 pages). So the create is not simply sent again (the client
//! does not resend it either: `aws::retry::may_resend`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::calls::describe;
use crate::aws;
use crate::elb::{ElbApi, LoadBalancerDescription};

/// How old a listing may be to answer for a name about to be created. The window in which
/// an ELB created by someone else could go unseen: a create over it then fails
/// (`DuplicateLoadBalancerName`) unless its configuration is identical.
pub const MAX_AGE: Duration = Duration::from_secs(10);

/// A listing that took `t` is usable for up to this many times `t`, when that is longer
/// than [`MAX_AGE`].
pub const AGE_PER_LISTING_TIME: u32 = 10;

/// One listing: the lower-case names of every ELB of the scope, from when it started.
#[derive(Debug)]
struct Listing {
    started: Instant,
    /// How long it took.
    took: Duration,
    names: HashSet<String>,
}

impl Listing {
    /// How long it answers for.
    fn usable_for(&self) -> Duration {
        MAX_AGE.max(self.took * AGE_PER_LISTING_TIME)
    }
}

/// The name checks of one scope (account and region).
#[derive(Debug, Default)]
pub struct NameCheck {
    /// The last listing.
    latest: Mutex<Option<Arc<Listing>>>,
    /// Held while a listing runs, so that the checks that need a new one share it instead
    /// of starting their own.
    refreshing: tokio::sync::Mutex<()>,
    /// Names whose create may have been applied, and when that create was sent.
    uncertain: Mutex<HashMap<String, Instant>>,
    /// Names this process created, and when: a listing that started before then does not
    /// show them (a sync that failed after its create checks again, and must find it).
    created: Mutex<HashMap<String, Instant>>,
    /// Listings taken (a figure for tests and benchmarks).
    listings: std::sync::atomic::AtomicU64,
}

/// What a name check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No ELB holds the name.
    Absent,
    /// A listing (or this process's own create) shows the name taken.
    Listed,
    /// A describe of the name (after an uncertain create) found the ELB: its description,
    /// so that the caller does not describe it again.
    Described(Box<LoadBalancerDescription>),
}

impl NameCheck {
    /// Whether an ELB named `name` exists ([`NameCheck::find`], without the description).
    pub async fn exists(&self, elb: &dyn ElbApi, name: &str) -> Result<bool, aws::Error> {
        Ok(self.find(elb, name).await? != Found::Absent)
    }

    /// Whether an ELB named `name` exists, from a listing that started at most [`MAX_AGE`]
    /// ago, and after any uncertain create of the name; taking one if there is none.
    ///
    /// A wave of creates does not stall on the listings it needs: once the last listing is
    /// half its usable age, the first check to see it takes the next one while the others
    /// still answer from the last.
    pub async fn find(&self, elb: &dyn ElbApi, name: &str) -> Result<Found, aws::Error> {
        let key = name.to_ascii_lowercase();
        if self.created.lock().unwrap().contains_key(&key) {
            return Ok(Found::Listed);
        }
        let asked = Instant::now();
        let not_before = self.uncertain.lock().unwrap().get(&key).copied();
        let age = |l: &Listing| asked.saturating_duration_since(l.started);
        let usable = |l: &Listing| age(l) <= l.usable_for() && not_before.is_none_or(|sent| l.started >= sent);
        let last = self.latest.lock().unwrap().clone();
        if not_before.is_some() && !last.as_ref().is_some_and(|l| usable(l)) {
            let found = describe(elb, name).await?;
            self.uncertain.lock().unwrap().remove(&key);
            return Ok(found.map_or(Found::Absent, |d| Found::Described(Box::new(d))));
        }
        let listing = match last {
            Some(l) if usable(&l) && age(&l) <= l.usable_for() / 2 => l,
            Some(l) if usable(&l) => match self.refreshing.try_lock() {
                Ok(_refreshing) => self.list(elb).await?,
                // Another check is taking the next one.
                Err(_) => l,
            },
            _ => {
                let _refreshing = self.refreshing.lock().await;
                // Taken while this check waited?
                let taken = self.latest.lock().unwrap().clone().filter(|l| usable(l));
                match taken {
                    Some(l) => l,
                    None => self.list(elb).await?,
                }
            }
        };
        if not_before.is_some() {
            self.uncertain.lock().unwrap().remove(&key);
        }
        Ok(if listing.names.contains(&key) { Found::Listed } else { Found::Absent })
    }

    /// Takes a listing (the caller holds `refreshing`) and keeps it.
    async fn list(&self, elb: &dyn ElbApi) -> Result<Arc<Listing>, aws::Error> {
        let started = Instant::now();
        let all = elb.describe_load_balancers(&[]).await?;
        self.listings.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let names = all.into_iter().map(|d| d.name.to_ascii_lowercase()).collect();
        let listing = Arc::new(Listing { started, took: started.elapsed(), names });
        self.keep(listing.clone());
        Ok(listing)
    }

    /// Keeps `listing` unless a newer one is kept; creates before it are in it (or were
    /// deleted since).
    fn keep(&self, listing: Arc<Listing>) {
        let started = listing.started;
        let mut latest = self.latest.lock().unwrap();
        if latest.as_ref().is_none_or(|l| l.started < started) {
            *latest = Some(listing);
        }
        drop(latest);
        self.created.lock().unwrap().retain(|_, at| *at >= started);
    }

    /// Records a create of `name`, sent at `sent`, that failed after it may have been
    /// applied.
    pub fn create_uncertain(&self, name: &str, sent: Instant) {
        self.uncertain.lock().unwrap().insert(name.to_ascii_lowercase(), sent);
    }

    /// Records a create of `name` that succeeded, sent at `sent`.
    pub fn created(&self, name: &str, sent: Instant) {
        let key = name.to_ascii_lowercase();
        self.uncertain.lock().unwrap().remove(&key);
        self.created.lock().unwrap().insert(key, sent);
    }

    /// Records a listing taken elsewhere (an inventory pass), started at `started` and
    /// taking `took`, unless a newer one is kept.
    pub fn saw<'a>(&self, started: Instant, took: Duration, names: impl IntoIterator<Item = &'a str>) {
        self.keep(Arc::new(Listing { started, took, names: names.into_iter().map(str::to_ascii_lowercase).collect() }));
    }

    /// Listings this check took.
    pub fn listings(&self) -> u64 {
        self.listings.load(std::sync::atomic::Ordering::Relaxed)
    }
}
