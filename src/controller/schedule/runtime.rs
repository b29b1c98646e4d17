//! The schedule's runtime: the [`Index`] behind a lock, the two queues its decisions route
//! objects to (the reconcile queue and the health writer's), the observers and inventories
//! of the scopes ([`Scopes`]), and the resync slots.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::index::{status_print, Index, Memo, Route, Step, Synced};
use super::scopes::Scopes;
use crate::controller::loadbalancer::reachable::{CheckInputs, CheckOutcome};
use crate::controller::scope::Scope;
use crate::controller::status::Verdict;
use crate::crd::{LoadBalancer, LoadBalancerStatus};
use crate::elb::InstanceState;
use crate::sync::inventory::{Seen, Snapshot};

/// The settings of the schedule.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A stable, all-InService LoadBalancer is polled at most this often.
    pub health_poll_interval: Duration,
    /// An inventory pass (drift check) runs this often per scope.
    pub resync_interval: Duration,
    /// Attributes (one call per ELB that manages them) are re-read every this many passes.
    pub attributes_every: u32,
    /// Resync syncs running at once, so that they never hold every reconcile slot.
    pub resync_slots: usize,
    /// An unchanged health result is written at most this often; zero: never.
    pub status_refresh: Duration,
}

/// The schedule of every LoadBalancer.
pub struct Schedule {
    pub settings: Settings,
    index: Mutex<Index>,
    /// The observer and inventory of each scope.
    pub scopes: Scopes,
    triggers: mpsc::UnboundedSender<ObjectRef<LoadBalancer>>,
    /// Poll results to write, for the health writer: kept out of the reconcile queue, where
    /// a spec change of an object already queued for its health would wait behind it.
    health_tx: mpsc::UnboundedSender<ObjectRef<LoadBalancer>>,
    health_rx: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<LoadBalancer>>>>,
    resync_slots: Arc<Semaphore>,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schedule").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Schedule {
    /// A schedule whose triggers (resyncs, health writes) go to `triggers`.
    pub fn new(settings: Settings, triggers: mpsc::UnboundedSender<ObjectRef<LoadBalancer>>) -> Self {
        let resync_slots = Arc::new(Semaphore::new(settings.resync_slots.max(1)));
        let (health_tx, health_rx) = mpsc::unbounded();
        Schedule {
            settings,
            index: Mutex::default(),
            scopes: Scopes::default(),
            triggers,
            health_tx,
            health_rx: Mutex::new(Some(health_rx)),
            resync_slots,
        }
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().expect("schedule lock")
    }

    /// Sends `key` where a decision routed it.
    fn route(&self, key: &ObjectRef<LoadBalancer>, route: Route) {
        let queue = match route {
            Route::Stay => return,
            Route::Reconcile => &self.triggers,
            Route::HealthWriter => &self.health_tx,
        };
        let _ = queue.unbounded_send(key.clone());
    }

    /// The queue of poll results to write (see [`Schedule::take_health`]); taken once, by the
    /// health writer.
    pub fn health_writes(&self) -> Option<mpsc::UnboundedReceiver<ObjectRef<LoadBalancer>>> {
        self.health_rx.lock().expect("schedule lock").take()
    }

    /// Hands the health writer the poll result to write for `key` ([`Index::take_health`]);
    /// an object it may not write is triggered for the reconcile.
    pub fn take_health(&self, key: &ObjectRef<LoadBalancer>, cached: u64) -> Option<(Vec<InstanceState>, Time)> {
        let (health, route) = self.index().take_health(key, cached, Instant::now());
        self.route(key, route);
        health
    }

    /// See [`Index::health_unwritten`].
    pub fn health_unwritten(&self, key: &ObjectRef<LoadBalancer>, health: Vec<InstanceState>, at: Time) {
        self.index().health_unwritten(key, health, at);
    }

    /// Triggers a reconcile of `key`.
    pub fn trigger(&self, key: &ObjectRef<LoadBalancer>) {
        self.route(key, Route::Reconcile);
    }

    /// Records the status this process wrote for `key` (or found already current).
    pub fn status_written(&self, key: &ObjectRef<LoadBalancer>, status: &LoadBalancerStatus) {
        let print = status_print(Some(status));
        self.index().status_written(key, print);
    }

    /// Runs `f` over the memory of `key`, if it was seen.
    pub fn with<T>(&self, key: &ObjectRef<LoadBalancer>, f: impl FnOnce(&mut Memo) -> T) -> Option<T> {
        self.index().get_mut(key).map(f)
    }

    /// Runs `f` over every memo (the observer's view).
    pub fn each<T>(&self, f: impl FnOnce(&mut HashMap<ObjectRef<LoadBalancer>, Memo>) -> T) -> T {
        f(self.index().memos_mut())
    }

    /// The step of `key` now ([`Index::step`]).
    pub fn step(&self, key: &ObjectRef<LoadBalancer>, scope: &Scope, inputs: u64, status: Option<&LoadBalancerStatus>) -> Step {
        self.index().step(key, scope, inputs, status, Instant::now())
    }

    /// Records the reachability inputs a converged sync saw (call it before [`synced`],
    /// which wakes the observer). A check result that waits to be written triggers the
    /// object again.
    ///
    /// [`synced`]: Self::synced
    pub fn reach_observed(&self, key: &ObjectRef<LoadBalancer>, inputs: CheckInputs) {
        let route = self.index().reach_observed(key, inputs);
        self.route(key, route);
    }

    /// Records a reachability check and triggers the object to write its verdict.
    pub fn reach_checked(&self, key: &ObjectRef<LoadBalancer>, print: u64, outcome: CheckOutcome, verdict: Verdict) {
        let route = self.index().reach_checked(key, print, outcome, verdict, Instant::now());
        self.route(key, route);
    }

    /// See [`Index::reach_unwritten`].
    pub fn reach_unwritten(&self, key: &ObjectRef<LoadBalancer>, verdict: Verdict) {
        self.index().reach_unwritten(key, verdict);
    }

    /// Records a successful sync ([`Index::synced`]) and wakes the observers.
    #[allow(clippy::too_many_arguments)]
    pub fn synced(&self, key: &ObjectRef<LoadBalancer>, sync: Synced) {
        self.index().synced(key, sync, Instant::now());
        self.scopes.wake.notify_waiters();
    }

    /// Records a health poll ([`Index::polled`]) and queues the object where it goes.
    pub fn polled(&self, key: &ObjectRef<LoadBalancer>, health: Option<Vec<InstanceState>>) {
        let at = Time(k8s_openapi::jiff::Timestamp::now());
        let route = self.index().polled(key, health, self.settings.status_refresh, Instant::now(), at);
        self.route(key, route);
    }

    /// A poll failed: retried within the budget after `retry_in`, never turned into a full
    /// sync.
    pub fn poll_failed(&self, key: &ObjectRef<LoadBalancer>, retry_in: Duration) {
        self.index().poll_failed(key, Instant::now() + retry_in);
    }

    /// Hands what a completion listing saw of an ELB created without a read-back to its
    /// next sync, and triggers the object.
    pub fn completed(&self, key: &ObjectRef<LoadBalancer>, seen: Seen) {
        let route = self.index().completed(key, seen, Instant::now());
        self.route(key, route);
    }

    /// Marks drift found by the inventory and triggers the object.
    pub fn drifted(&self, key: &ObjectRef<LoadBalancer>) {
        let route = self.index().drifted(key, Instant::now());
        self.route(key, route);
    }

    /// Forgets a deleted LoadBalancer.
    pub fn forget(&self, key: &ObjectRef<LoadBalancer>) {
        self.index().forget(key);
    }

    /// A resync slot, if one is free: resyncs never take every reconcile slot, so a change
    /// always finds one.
    pub fn resync_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.resync_slots.clone().try_acquire_owned().ok()
    }

    /// The latest inventory of `scope` ([`Scopes::snapshot`]).
    pub async fn snapshot(&self, scope: &Scope, limit: Duration) -> Option<Arc<Snapshot>> {
        self.scopes.snapshot(scope, limit).await
    }

    /// Starts the observer of `scope` unless it runs already ([`Scopes::ensure_observer`]).
    pub fn ensure_observer(&self, scope: &Scope, start: impl FnOnce() -> JoinHandle<()>) {
        self.scopes.ensure_observer(scope, start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::schedule::index::tests::{scope, state, synced};
    use futures::StreamExt;

    fn settings() -> Settings {
        Settings {
            health_poll_interval: Duration::from_secs(30),
            resync_interval: Duration::from_secs(600),
            attributes_every: 6,
            resync_slots: 2,
            status_refresh: Duration::from_secs(60),
        }
    }

    /// Each decision's route reaches its queue: drift and a result over a stale cache the
    /// reconcile queue, a poll result the health writer's (and not the reconcile's).
    #[tokio::test(start_paused = true)]
    async fn decisions_reach_their_queues() {
        let (tx, mut reconciles) = mpsc::unbounded();
        let s = Schedule::new(settings(), tx);
        let mut writes = s.health_writes().expect("the health queue");
        assert!(s.health_writes().is_none(), "taken once, by the health writer");
        let key = ObjectRef::new("lb").within("ns");
        assert_eq!(s.step(&key, &scope(), 1, None), Step::Sync { class: crate::aws::Class::Change, first: true, seen: None });
        s.synced(&key, synced(1, Some(&[state("i-1", "InService")]), true));

        s.drifted(&key);
        assert_eq!(reconciles.next().await, Some(key.clone()), "drift triggers the object");
        s.synced(&key, synced(1, None, false));

        s.polled(&key, Some(vec![state("i-1", "OutOfService")]));
        assert_eq!(writes.try_recv().ok(), Some(key.clone()), "a poll result goes to the health writer");
        assert!(reconciles.try_recv().is_err(), "not to the reconcile queue");
        assert_eq!(s.take_health(&key, status_print(None)), None, "no status written yet: the cache is not this process's");
        assert_eq!(reconciles.try_recv().ok(), Some(key.clone()), "handed to the reconcile");

        s.status_written(&key, &LoadBalancerStatus::default());
        s.polled(&key, Some(vec![state("i-1", "Unknown")]));
        assert_eq!(writes.try_recv().ok(), Some(key.clone()));
        assert!(s.take_health(&key, status_print(Some(&LoadBalancerStatus::default()))).is_some(), "over its own last write");
        assert!(reconciles.try_recv().is_err());
        s.trigger(&key);
        assert_eq!(reconciles.try_recv().ok(), Some(key.clone()));
    }

    #[tokio::test(start_paused = true)]
    async fn resyncs_never_take_more_than_their_slots() {
        let (tx, _) = mpsc::unbounded();
        let s = Schedule::new(settings(), tx);
        let (a, b) = (s.resync_slot(), s.resync_slot());
        assert!(a.is_some() && b.is_some());
        assert!(s.resync_slot().is_none(), "both taken");
        drop(a);
        assert!(s.resync_slot().is_some(), "one freed");
    }
}
