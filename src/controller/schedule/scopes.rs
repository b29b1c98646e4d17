//! The per-scope half of the schedule's runtime: each scope's observer task and the latest
//! inventory it took, which first syncs wait for; and the eviction of the scopes no
//! LoadBalancer uses any more ([`Scopes::sweep`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::controller::scope::Scope;
use crate::sync::inventory::Snapshot;

/// One scope's observer and inventory.
struct Observed {
    snapshot: watch::Sender<Option<Arc<Snapshot>>>,
    observer: Option<JoinHandle<()>>,
    /// No LoadBalancer mapped to the scope at the last sweep.
    idle: bool,
}

/// What a sweep does with a running scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// A LoadBalancer maps to it.
    Keep,
    /// None does, for the first sweep in a row: it is evicted at the next sweep unless a
    /// LoadBalancer maps to it by then, or a reconcile asks for its observer.
    MarkIdle,
    /// None did at the last sweep either.
    Evict,
}

impl Sweep {
    /// The decision for a scope that was `idle` at the last sweep and is `live` now. Two
    /// sweeps in a row, so that a LoadBalancer that arrives between the read of the cache
    /// and the sweep does not lose the observer its reconcile just started.
    pub fn of(idle: bool, live: bool) -> Sweep {
        match (live, idle) {
            (true, _) => Sweep::Keep,
            (false, false) => Sweep::MarkIdle,
            (false, true) => Sweep::Evict,
        }
    }
}

/// The observer task and latest inventory of every scope, and the signal that wakes the
/// observers.
#[derive(Default)]
pub struct Scopes {
    scopes: Mutex<HashMap<Scope, Observed>>,
    /// Wakes the observers (new object, new transition, a finished poll or check).
    pub wake: Notify,
    refreshes: AtomicU64,
}

impl Scopes {
    /// The latest inventory of `scope`, waiting up to `limit` for the first one.
    pub async fn snapshot(&self, scope: &Scope, limit: Duration) -> Option<Arc<Snapshot>> {
        let mut rx = {
            let scopes = self.scopes.lock().expect("scopes lock");
            scopes.get(scope)?.snapshot.subscribe()
        };
        let got = tokio::time::timeout(limit, rx.wait_for(|s| s.is_some())).await.ok()?.ok()?.clone();
        got
    }

    /// Publishes the inventory an observer took of `scope`.
    pub fn publish_snapshot(&self, scope: &Scope, snapshot: Snapshot) {
        if let Some(o) = self.scopes.lock().expect("scopes lock").get(scope) {
            o.snapshot.send_replace(Some(Arc::new(snapshot)));
        }
    }

    /// Drops every scope's inventory and asks each observer for a new pass at once (a shard
    /// was gained: the first syncs of its objects wait for an inventory taken after that).
    pub fn refresh_inventories(&self) {
        for o in self.scopes.lock().expect("scopes lock").values() {
            o.snapshot.send_replace(None);
        }
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        self.wake.notify_waiters();
    }

    /// Counts [`Scopes::refresh_inventories`]: an observer that sees it move takes a pass.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// Starts the observer of `scope` with `start` unless it runs already.
    pub fn ensure_observer(&self, scope: &Scope, start: impl FnOnce() -> JoinHandle<()>) {
        let mut scopes = self.scopes.lock().expect("scopes lock");
        if let Some(o) = scopes.get_mut(scope) {
            o.idle = false;
        } else {
            let (snapshot, _) = watch::channel(None);
            scopes.insert(scope.clone(), Observed { snapshot, observer: None, idle: false });
            let handle = start();
            scopes.get_mut(scope).expect("inserted").observer = Some(handle);
        }
    }

    /// How many scopes have an observer.
    pub fn len(&self) -> usize {
        self.scopes.lock().expect("scopes lock").len()
    }

    /// Whether no scope has an observer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The scopes whose observer runs.
    pub fn running(&self) -> Vec<Scope> {
        self.scopes.lock().expect("scopes lock").keys().cloned().collect()
    }

    /// One sweep over the running scopes, given the `live` ones (those a cached
    /// LoadBalancer maps to): each is kept, marked idle or evicted ([`Sweep::of`]). An
    /// evicted scope's observer is stopped and its inventory dropped; the evicted scopes
    /// are returned, for the caller to drop their clients.
    pub fn sweep(&self, live: &HashSet<Scope>) -> Vec<Scope> {
        let mut scopes = self.scopes.lock().expect("scopes lock");
        let mut evicted = Vec::new();
        for (scope, o) in scopes.iter_mut() {
            match Sweep::of(o.idle, live.contains(scope)) {
                Sweep::Keep => o.idle = false,
                Sweep::MarkIdle => o.idle = true,
                Sweep::Evict => evicted.push(scope.clone()),
            }
        }
        for scope in &evicted {
            if let Some(h) = scopes.remove(scope).and_then(|o| o.observer) {
                h.abort();
            }
        }
        evicted
    }

    /// Stops every observer (leadership lost, shutdown).
    pub fn stop(&self) {
        if let Ok(mut scopes) = self.scopes.lock() {
            for o in scopes.values_mut() {
                if let Some(h) = o.observer.take() {
                    h.abort();
                }
            }
        }
    }
}

impl Drop for Scopes {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(region: &str) -> Scope {
        Scope { region: region.into(), role: None }
    }

    #[test]
    fn a_scope_is_evicted_at_the_second_sweep_in_a_row_without_a_load_balancer() {
        assert_eq!(Sweep::of(false, true), Sweep::Keep);
        assert_eq!(Sweep::of(true, true), Sweep::Keep, "a LoadBalancer came back");
        assert_eq!(Sweep::of(false, false), Sweep::MarkIdle);
        assert_eq!(Sweep::of(true, false), Sweep::Evict);
    }

    /// The sweep stops the observers of the scopes without a LoadBalancer, at the second
    /// sweep, and keeps the others; a reconcile asking for an observer in between keeps it.
    #[tokio::test]
    async fn sweeps_stop_and_drop_the_observers_of_unused_scopes() {
        let scopes = Scopes::default();
        let (used, unused, revived) = (scope("used"), scope("unused"), scope("revived"));
        let mut stopped = HashMap::new();
        for s in [&used, &unused, &revived] {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            stopped.insert(s.clone(), rx);
            // The observer holds `tx` until it is aborted, which drops it.
            scopes.ensure_observer(s, || {
                tokio::spawn(async move {
                    let _tx = tx;
                    std::future::pending::<()>().await
                })
            });
        }
        let live = HashSet::from([used.clone()]);
        assert!(scopes.sweep(&live).is_empty(), "first sweep: only marked");
        scopes.ensure_observer(&revived, || unreachable!("runs already"));
        assert_eq!(scopes.sweep(&live), std::slice::from_ref(&unused));
        let mut running = scopes.running();
        running.sort();
        assert_eq!(running, [revived.clone(), used.clone()]);
        let rx = stopped.remove(&unused).unwrap();
        assert!(tokio::time::timeout(Duration::from_secs(5), rx).await.expect("stopped").is_err(), "aborted, not finished");
        assert!(scopes.snapshot(&unused, Duration::ZERO).await.is_none(), "its inventory is dropped");
        assert_eq!(scopes.sweep(&live), std::slice::from_ref(&revived), "idle for two sweeps after the reconcile");
        assert_eq!(scopes.running(), [used]);
        // A scope started again after its eviction gets a new observer.
        let restarted = std::sync::atomic::AtomicBool::new(false);
        scopes.ensure_observer(&unused, || {
            restarted.store(true, Ordering::Relaxed);
            tokio::spawn(async {})
        });
        assert!(restarted.load(Ordering::Relaxed));
    }
}
