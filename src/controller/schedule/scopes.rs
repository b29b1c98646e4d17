//! The per-scope half of the schedule's runtime: each scope's observer task and the latest
//! inventory it took, which first syncs wait for. A scope that no LoadBalancer maps to any
//! more is retired ([`Scopes::retire`]): its observer ends and its entry goes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::controller::scope::Scope;
use crate::sync::inventory::Snapshot;
use crate::sync::names::NameCheck;

/// One scope's observer and inventory.
struct Observed {
    snapshot: watch::Sender<Option<Arc<Snapshot>>>,
    /// The name checks the scope's creates share.
    names: Arc<NameCheck>,
    observer: Option<JoinHandle<()>>,
}

/// The observer task and latest inventory of every scope, and the signal that wakes the
/// observers.
#[derive(Default)]
pub struct Scopes {
    scopes: Mutex<HashMap<Scope, Observed>>,
    /// Wakes the observers (new object, new transition, a finished poll or check).
    pub wake: Notify,
    refreshes: AtomicU64,
    /// Set to [`Scopes::running`] on every change, once given ([`Scopes::count_into`]).
    gauge: OnceLock<Gauge>,
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

    /// Publishes the inventory an observer took of `scope`; its listing also answers the
    /// name checks of the scope's creates.
    pub fn publish_snapshot(&self, scope: &Scope, snapshot: Snapshot) {
        if let Some(o) = self.scopes.lock().expect("scopes lock").get(scope) {
            o.names.saw(
                snapshot.started,
                snapshot.taken.duration_since(snapshot.started),
                snapshot.iter().map(|s| s.description.name.as_str()),
            );
            o.snapshot.send_replace(Some(Arc::new(snapshot)));
        }
    }

    /// The name checks of `scope`'s creates (`None` before its observer starts).
    pub fn names(&self, scope: &Scope) -> Option<Arc<NameCheck>> {
        self.scopes.lock().expect("scopes lock").get(scope).map(|o| o.names.clone())
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
        if !scopes.contains_key(scope) {
            let (snapshot, _) = watch::channel(None);
            scopes.insert(scope.clone(), Observed { snapshot, names: Arc::default(), observer: None });
            let handle = start();
            scopes.get_mut(scope).expect("inserted").observer = Some(handle);
            self.count(&scopes);
        }
    }

    /// Forgets `scope` (its inventory, and the handle of its observer, which is the caller
    /// and ends) unless `in_use` says a LoadBalancer still maps to it; returns whether it
    /// did. `in_use` runs under the lock that [`Scopes::ensure_observer`] takes: a
    /// LoadBalancer that enters the cache before `in_use` looks keeps the scope, and one
    /// that enters after finds no observer and starts a new one.
    pub fn retire(&self, scope: &Scope, in_use: impl FnOnce() -> bool) -> bool {
        let mut scopes = self.scopes.lock().expect("scopes lock");
        if in_use() {
            return false;
        }
        // Dropping the handle detaches the task: the observer returns by itself.
        let retired = scopes.remove(scope).is_some();
        self.count(&scopes);
        retired
    }

    /// The scopes with an entry: an observer running, or about to start.
    pub fn observed(&self) -> Vec<Scope> {
        self.scopes.lock().expect("scopes lock").keys().cloned().collect()
    }

    /// How many scopes have an observer running (or about to end after being retired).
    pub fn running(&self) -> usize {
        Self::running_in(&self.scopes.lock().expect("scopes lock"))
    }

    fn running_in(scopes: &HashMap<Scope, Observed>) -> usize {
        scopes.values().filter(|o| o.observer.as_ref().is_some_and(|h| !h.is_finished())).count()
    }

    /// Keeps `gauge` (`elb_operator_scopes`) at [`Scopes::running`] from now on; the first
    /// gauge given is kept.
    pub fn count_into(&self, gauge: Gauge) {
        let _ = self.gauge.set(gauge);
        self.count(&self.scopes.lock().expect("scopes lock"));
    }

    fn count(&self, scopes: &HashMap<Scope, Observed>) {
        if let Some(g) = self.gauge.get() {
            g.set(Self::running_in(scopes) as i64);
        }
    }

    /// Stops every observer (leadership lost, shutdown). Their entries stay, so that no
    /// reconcile still running starts them again.
    pub fn stop(&self) {
        if let Ok(mut scopes) = self.scopes.lock() {
            for o in scopes.values_mut() {
                if let Some(h) = o.observer.take() {
                    h.abort();
                }
            }
            self.count(&scopes);
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

    fn forever() -> JoinHandle<()> {
        tokio::spawn(std::future::pending())
    }

    /// A retired scope loses its entry (its inventory is gone) and is no longer counted; one
    /// still in use stays; the next `ensure_observer` starts a new observer.
    #[tokio::test]
    async fn a_scope_is_retired_only_when_unused_and_starts_again_on_demand() {
        let scopes = Scopes::default();
        let gauge = Gauge::default();
        scopes.count_into(gauge.clone());
        let (a, b) = (scope("a"), scope("b"));
        scopes.ensure_observer(&a, forever);
        scopes.ensure_observer(&b, forever);
        scopes.ensure_observer(&a, || unreachable!("runs already"));
        assert_eq!((scopes.running(), gauge.get()), (2, 2));
        scopes.publish_snapshot(&a, Snapshot::from_seen([]));
        assert!(scopes.snapshot(&a, Duration::ZERO).await.is_some());

        assert!(!scopes.retire(&a, || true), "a LoadBalancer still maps to it");
        assert_eq!(scopes.running(), 2);
        assert!(scopes.retire(&a, || false));
        assert_eq!((scopes.running(), gauge.get()), (1, 1));
        assert!(scopes.snapshot(&a, Duration::ZERO).await.is_none(), "its inventory went with it");
        assert!(!scopes.retire(&a, || false), "already retired");

        let mut started = false;
        scopes.ensure_observer(&a, || {
            started = true;
            forever()
        });
        assert!(started, "needed again: a new observer");
        assert_eq!(gauge.get(), 2);
        scopes.stop();
        assert_eq!((scopes.running(), gauge.get()), (0, 0));
    }
}
