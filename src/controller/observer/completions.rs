//! Completing the ELBs created without a read-back (`Converged::provisional`): one listing
//! of the scope (DescribeLoadBalancers, 400 a page) plus their tags (DescribeTags, 20 a
//! call) serves every ELB created since the last one, where a read-back describe would
//! cost each one call. What the listing saw is handed to each one's next sync, which
//! describes nothing, and writes what AWS derived (the zones of its subnets, its security
//! groups) to status; its reachability check starts then.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;

use crate::aws::{with_class, Class};
use crate::controller::context::Context;
use crate::controller::scope::Scope;
use crate::elb::ElbApi;
use crate::sync::{inventory, names};

/// How long a creation waits before it is completed, and the least time between two
/// completion listings: a wave of creates gathers into few listings. In a region of many
/// ELBs, where a listing takes long, the next waits [`names::AGE_PER_LISTING_TIME`] times
/// what the last took, so that listings take about a tenth of the scope's calls at most.
pub(super) const PACE: Duration = Duration::from_secs(5);
/// An ELB that listings still leave out this long after its creation is resynced the
/// ordinary way (described by name), and no longer waited for.
const GIVE_UP: Duration = Duration::from_secs(60);

/// A completion listing runs, or ran at `last`, taking `took` (milliseconds).
#[derive(Debug)]
pub(super) struct Completions {
    running: Arc<AtomicBool>,
    last: Option<Instant>,
    took: Arc<AtomicU64>,
}

impl Completions {
    pub(super) fn new() -> Self {
        Completions { running: Arc::new(AtomicBool::new(false)), last: None, took: Arc::default() }
    }

    /// Starts a completion listing when ELBs of `scope` wait for one and the last started at
    /// least [`PACE`] ago; as class resync, so that changes go first.
    pub(super) fn dispatch(&mut self, ctx: &Arc<Context>, elb: &Arc<dyn ElbApi>, scope: &Scope) {
        let now = Instant::now();
        let took = Duration::from_millis(self.took.load(Ordering::Relaxed));
        let pace = PACE.max(took * names::AGE_PER_LISTING_TIME);
        if self.running.load(Ordering::Acquire) || self.last.is_some_and(|l| now.duration_since(l) < pace) {
            return;
        }
        let waiting: Vec<_> = ctx.schedule.each(|memos| {
            memos
                .iter()
                .filter(|(k, m)| &m.scope == scope && ctx.holds_key(k))
                .filter_map(|(k, m)| Some((k.clone(), m.provisional?, m.target.as_ref()?.desired.name.clone())))
                .filter(|(_, created, _)| now.duration_since(*created) >= PACE)
                .collect()
        });
        if waiting.is_empty() {
            return;
        }
        self.last = Some(now);
        self.running.store(true, Ordering::Release);
        let (ctx, elb, scope, running, took) = (ctx.clone(), elb.clone(), scope.clone(), self.running.clone(), self.took.clone());
        tokio::spawn(async move {
            let names = waiting.iter().map(|(_, _, name)| name.clone()).collect();
            match with_class(Class::Resync, inventory::take(&*elb, &names, false)).await {
                Ok(snapshot) => {
                    let listed = snapshot.taken.duration_since(snapshot.started);
                    took.store(u64::try_from(listed.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
                    if let Some(check) = ctx.schedule.scopes.names(&scope) {
                        check.saw(snapshot.started, listed, snapshot.iter().map(|s| s.description.name.as_str()));
                    }
                    // One not listed yet (AWS lists a new ELB eventually) waits for the next.
                    for (key, created, name) in waiting {
                        match snapshot.get(&name) {
                            Some(seen) => ctx.schedule.completed(&key, seen.clone()),
                            None if snapshot.started.duration_since(created) > GIVE_UP => ctx.schedule.drifted(&key),
                            None => {}
                        }
                    }
                }
                Err(e) => debug!(error = %e, "completion listing failed; retried at the next pace"),
            }
            running.store(false, Ordering::Release);
        });
    }
}
