//! The per-scope half of the schedule's runtime: each scope's observer task and the latest
//! inventory it took, which first syncs wait for.

use std::collections::HashMap;
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
        if !scopes.contains_key(scope) {
            let (snapshot, _) = watch::channel(None);
            scopes.insert(scope.clone(), Observed { snapshot, observer: None });
            let handle = start();
            scopes.get_mut(scope).expect("inserted").observer = Some(handle);
        }
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
