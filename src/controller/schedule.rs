//! Who gets ELB calls next. One schedule serves every LoadBalancer; each region gets an
//! observer task ([`super::observer`]) that spends what the budget leaves over.
//!
//! Work comes in three classes ([`Class`]), and the ELB budget serves them in this order:
//! - **change**: the inputs of a LoadBalancer changed (spec, generation, resolved backends,
//!   the referenced HealthCheck) or it is being deleted. Its reconcile syncs at once.
//! - **resync**: an inventory pass found drift (or a poll found the ELB gone, or its
//!   instances not the wanted ones). The observer marks the object and triggers it.
//! - **health**: instance-health polls, issued by the observer only when the budget has a
//!   spare token: promptly while a LoadBalancer is in transition, otherwise oldest first
//!   and never more often than `--health-poll-interval`.
//!
//! Requeue timers decide nothing: a reconcile with nothing pending does nothing and waits
//! for a watch event or a trigger from the observer.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::context::Scope;
use super::loadbalancer::reachable::{self, CheckInputs, CheckOutcome};
use super::status::Verdict;
use crate::crd::{LoadBalancer, LoadBalancerStatus};
use crate::elb::{Class, HealthState, InstanceState, LoadBalancerAttributes};
use crate::sync::inventory::Snapshot;
use crate::sync::ownership::Owner;
use crate::sync::plan::{group_instances, Desired, Groups};

/// A stable hash of anything hashable (the inputs of a sync, the relevant parts of a node).
pub fn fingerprint<T: Hash>(value: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// `d` give or take 20%, so that retries of many objects spread out.
pub fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::random_range(0.8..1.2))
}

/// An unchanged health observation is written to status (`instancesObservedTime`) at most
/// this often; a change is written at once.
pub const STATUS_REFRESH: Duration = Duration::from_secs(60);

/// Whether two health reports say the same, whatever their order.
fn same_health(a: &[InstanceState], b: &[InstanceState]) -> bool {
    let key = |v: &[InstanceState]| {
        let mut k: Vec<(String, String, Option<String>, Option<String>)> =
            v.iter().map(|i| (i.instance_id.clone(), i.state.to_string(), i.reason_code.clone(), i.description.clone())).collect();
        k.sort();
        k.dedup();
        k
    };
    key(a) == key(b)
}

/// A fingerprint of a status as the API server stores it (its JSON: timestamps in whole
/// seconds), so that what this process wrote and what its cache holds compare equal.
pub fn status_print(status: Option<&LoadBalancerStatus>) -> u64 {
    fingerprint(&serde_json::to_string(&status).unwrap_or_default())
}

/// How often a LoadBalancer in transition is polled at most: ELB itself checks instances
/// every 5 s at the fastest, so polling faster shows nothing new.
pub const TRANSITION_POLL: Duration = Duration::from_secs(5);

/// The settings of the schedule.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A stable, all-InService LoadBalancer is polled at most this often.
    pub health_poll_interval: Duration,
    /// An inventory pass (drift check) runs this often per region.
    pub resync_interval: Duration,
    /// Attributes (one call per ELB that manages them) are re-read every this many passes.
    pub attributes_every: u32,
    /// Resync syncs running at once, so that they never hold every reconcile slot.
    pub resync_slots: usize,
}

/// What a LoadBalancer's reconcile should do now.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Sync the ELB, spending from the budget as `class`. `first` is the first sync since
    /// this process started: the region's inventory may stand in for per-name describes.
    Sync { class: Class, first: bool },
    /// Write the instance health a poll read at `at`.
    WriteHealth { health: Vec<InstanceState>, at: Time },
    /// Write the `BackendsReachable` condition a check yielded.
    WriteReachability(Verdict),
    /// Nothing is pending.
    Idle,
}

/// What the observer needs to check one LoadBalancer for drift.
#[derive(Debug, Clone)]
pub struct Target {
    pub desired: Desired,
    pub owner: Owner,
    pub adopt: bool,
    /// The Auto Scaling groups as the sync left them: the observer does not read them, and
    /// their instances are AWS's to register.
    pub groups: Groups,
}

impl Target {
    /// The instances that should be registered: the desired ones and those of the groups.
    pub fn registered(&self) -> BTreeSet<String> {
        let mut all = self.desired.instances.clone();
        all.extend(group_instances(&self.desired.auto_scaling_groups, &self.groups));
        all
    }
}

/// Per-LoadBalancer memory.
#[derive(Debug, Clone)]
pub(super) struct Memo {
    pub scope: Scope,
    /// Fingerprint of the inputs of the last successful sync.
    pub inputs: Option<u64>,
    /// The desired state of the last successful sync (drift checks).
    pub target: Option<Arc<Target>>,
    /// The attributes last read (only when the spec manages any).
    pub attributes: Option<LoadBalancerAttributes>,
    /// A sync is wanted, of this class, since then.
    pub pending: Option<(Class, Instant)>,
    /// When health was last read (from the last status after a start).
    pub health_observed: Option<Instant>,
    /// Poll promptly: just created, instances (de)registered, spec just changed, or some
    /// instance not InService.
    pub transition: bool,
    /// Registered instances, as last seen: no instance, no poll.
    pub registered: usize,
    /// A poll result the reconcile has not written yet.
    pub health: Option<(Vec<InstanceState>, Time)>,
    /// The health last handed to status, and when: an unchanged poll result is written only
    /// when that is older than [`STATUS_REFRESH`], so that a stable fleet's polls do not
    /// fill the reconcile slots that changes need.
    pub written: Option<(Vec<InstanceState>, Instant)>,
    /// A poll failed: not again before this.
    pub poll_backoff_until: Option<Instant>,
    /// `health` is queued for the health writer (at most once).
    pub health_queued: bool,
    /// [`status_print`] of the status this process last wrote (or found current): the
    /// health writer writes only over a cached status that is that one, never over a stale
    /// cache that would undo a sync's write.
    pub status_print: Option<u64>,
    /// The backend reachability check.
    pub reach: reachable::Memory,
}

impl Memo {
    fn new(scope: &Scope, status: Option<&LoadBalancerStatus>, now: Instant) -> Self {
        let status = status.cloned().unwrap_or_default();
        // The last observation survives a restart in status: a takeover does not re-poll
        // a stable fleet at once.
        let health_observed = status.instances_observed_time.as_ref().map(|t| {
            let age = k8s_openapi::jiff::Timestamp::now().duration_since(t.0);
            let age = Duration::try_from(age).unwrap_or(Duration::ZERO);
            now.checked_sub(age).unwrap_or(now)
        });
        let in_service = |i: &crate::crd::InstanceStatus| HealthState::from(i.state.as_str()) == HealthState::InService;
        let transition = health_observed.is_none() || !status.instances.iter().all(in_service);
        Memo {
            scope: scope.clone(),
            inputs: None,
            target: None,
            attributes: None,
            pending: None,
            health_observed,
            transition,
            registered: status.instances.len(),
            health: None,
            written: None,
            poll_backoff_until: None,
            health_queued: false,
            status_print: None,
            reach: reachable::Memory::from_status(&status, now),
        }
    }

    /// When this LoadBalancer's next health poll is due, if it has instances to poll.
    pub fn poll_due(&self, health_poll_interval: Duration) -> Option<Instant> {
        if self.registered == 0 || self.target.is_none() || self.health.is_some() {
            return None;
        }
        let spacing = if self.transition { TRANSITION_POLL.min(health_poll_interval) } else { health_poll_interval };
        let due = self.health_observed.map(|t| t + spacing).unwrap_or_else(Instant::now);
        Some(self.poll_backoff_until.map_or(due, |b| due.max(b)))
    }
}

/// One scope's observer and inventory.
struct Region {
    snapshot: watch::Sender<Option<Arc<Snapshot>>>,
    observer: Option<JoinHandle<()>>,
}

/// The schedule of every LoadBalancer.
pub struct Schedule {
    pub settings: Settings,
    memos: Mutex<HashMap<ObjectRef<LoadBalancer>, Memo>>,
    regions: Mutex<HashMap<Scope, Region>>,
    triggers: mpsc::UnboundedSender<ObjectRef<LoadBalancer>>,
    /// Poll results to write, for the health writer: kept out of the reconcile queue, where
    /// a spec change of an object already queued for its health would wait behind it.
    health_tx: mpsc::UnboundedSender<ObjectRef<LoadBalancer>>,
    health_rx: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<LoadBalancer>>>>,
    /// Wakes the observers (new object, new transition).
    pub(super) wake: Notify,
    resync_slots: Arc<Semaphore>,
    refreshes: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schedule").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Drop for Schedule {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Schedule {
    /// A schedule whose triggers (resyncs, health writes) go to `triggers`.
    pub fn new(settings: Settings, triggers: mpsc::UnboundedSender<ObjectRef<LoadBalancer>>) -> Self {
        let resync_slots = Arc::new(Semaphore::new(settings.resync_slots.max(1)));
        let (health_tx, health_rx) = mpsc::unbounded();
        Schedule {
            settings,
            memos: Mutex::default(),
            regions: Mutex::default(),
            triggers,
            health_tx,
            health_rx: Mutex::new(Some(health_rx)),
            wake: Notify::new(),
            resync_slots,
            refreshes: Default::default(),
        }
    }

    /// The queue of poll results to write (see [`Schedule::take_health`]); taken once, by the
    /// health writer.
    pub fn health_writes(&self) -> Option<mpsc::UnboundedReceiver<ObjectRef<LoadBalancer>>> {
        self.health_rx.lock().expect("schedule lock").take()
    }

    /// Hands the health writer the poll result to write for `key`, when there is one and
    /// the cached status (fingerprint `cached`, see [`status_print`]) is the one this process
    /// last wrote. A stale cache, or a sync pending (which reads health itself), hands the
    /// object to the reconcile instead.
    pub fn take_health(&self, key: &ObjectRef<LoadBalancer>, cached: u64) -> Option<(Vec<InstanceState>, Time)> {
        let now = Instant::now();
        let taken = self.with(key, |m| {
            m.health_queued = false;
            if m.health.is_none() {
                return Ok(None);
            }
            if m.pending.is_some() || m.status_print != Some(cached) {
                return Err(());
            }
            let (health, at) = m.health.take().expect("checked");
            m.written = Some((health.clone(), now));
            Ok(Some((health, at)))
        });
        match taken {
            Some(Ok(health)) => health,
            Some(Err(())) => {
                let _ = self.triggers.unbounded_send(key.clone());
                None
            }
            None => None,
        }
    }

    /// A poll result whose write failed: kept for the next try unless a newer one came, and
    /// no longer counted as written (so an identical next result is written, not held back
    /// as fresh).
    pub fn health_unwritten(&self, key: &ObjectRef<LoadBalancer>, health: Vec<InstanceState>, at: Time) {
        self.with(key, |m| {
            m.health.get_or_insert((health, at));
            m.written = None;
        });
    }

    /// Triggers a reconcile of `key`.
    pub fn trigger(&self, key: &ObjectRef<LoadBalancer>) {
        let _ = self.triggers.unbounded_send(key.clone());
    }

    /// Records the status this process wrote for `key` (or found already current).
    pub fn status_written(&self, key: &ObjectRef<LoadBalancer>, status: &LoadBalancerStatus) {
        let print = status_print(Some(status));
        self.with(key, |m| m.status_print = Some(print));
    }

    pub(super) fn with<T>(&self, key: &ObjectRef<LoadBalancer>, f: impl FnOnce(&mut Memo) -> T) -> Option<T> {
        self.memos.lock().expect("schedule lock").get_mut(key).map(f)
    }

    /// Runs `f` over every memo (the observer's view).
    pub(super) fn each<T>(&self, f: impl FnOnce(&mut HashMap<ObjectRef<LoadBalancer>, Memo>) -> T) -> T {
        f(&mut self.memos.lock().expect("schedule lock"))
    }

    /// Decides the step for an object whose current inputs have fingerprint `inputs`.
    /// `status` seeds the memory of an object seen for the first time. Returns what the
    /// reconcile does: a sync of some class, a health or reachability result to write, or
    /// nothing.
    pub fn step(&self, key: &ObjectRef<LoadBalancer>, scope: &Scope, inputs: u64, status: Option<&LoadBalancerStatus>) -> Step {
        let now = Instant::now();
        let mut memos = self.memos.lock().expect("schedule lock");
        let memo = memos.entry(key.clone()).or_insert_with(|| Memo::new(scope, status, now));
        if &memo.scope != scope {
            *memo = Memo::new(scope, status, now);
        }
        if memo.inputs.is_none() && memo.target.is_none() {
            memo.pending.get_or_insert((Class::Change, now));
            return Step::Sync { class: Class::Change, first: true };
        }
        if memo.inputs != Some(inputs) {
            // Keep the first time it was seen: the age of a pending change is what counts.
            match memo.pending {
                Some((Class::Change, _)) => {}
                _ => memo.pending = Some((Class::Change, now)),
            }
            return Step::Sync { class: Class::Change, first: false };
        }
        if let Some((class, _)) = memo.pending {
            return Step::Sync { class, first: false };
        }
        match memo.health.take() {
            Some((health, at)) => {
                // The next result is queued for the writer again (a queued key it finds
                // nothing for is a no-op).
                memo.health_queued = false;
                memo.written = Some((health.clone(), now));
                Step::WriteHealth { health, at }
            }
            None => match memo.reach.unwritten.take() {
                Some(verdict) => Step::WriteReachability(verdict),
                None => Step::Idle,
            },
        }
    }

    /// Records the reachability inputs a converged sync saw (call it before [`synced`],
    /// which wakes the observer). A check result that waits to be written triggers the
    /// object again.
    ///
    /// [`synced`]: Self::synced
    pub fn reach_observed(&self, key: &ObjectRef<LoadBalancer>, inputs: CheckInputs) {
        if self.with(key, |m| m.reach.observed(inputs)) == Some(true) {
            let _ = self.triggers.unbounded_send(key.clone());
        }
    }

    /// Records a reachability check of the inputs with fingerprint `print` and triggers the
    /// object to write its verdict.
    pub(super) fn reach_checked(&self, key: &ObjectRef<LoadBalancer>, print: u64, outcome: CheckOutcome, verdict: Verdict) {
        if self.with(key, |m| m.reach.checked(print, outcome, verdict, Instant::now())).is_some() {
            let _ = self.triggers.unbounded_send(key.clone());
        }
    }

    /// A verdict whose status write failed: written by a later reconcile, unless a newer
    /// check replaced it.
    pub(super) fn reach_unwritten(&self, key: &ObjectRef<LoadBalancer>, verdict: Verdict) {
        self.with(key, |m| {
            m.reach.unwritten.get_or_insert(verdict);
        });
    }

    /// Records a successful sync (of any class). `health` is set when it read instance
    /// health.
    #[allow(clippy::too_many_arguments)]
    pub fn synced(
        &self,
        key: &ObjectRef<LoadBalancer>,
        inputs: u64,
        target: Target,
        attributes: LoadBalancerAttributes,
        registered: usize,
        health: Option<&[InstanceState]>,
        changed: bool,
    ) {
        let now = Instant::now();
        let manages_attributes = target.desired.attributes != LoadBalancerAttributes::default();
        self.with(key, |m| {
            m.inputs = Some(inputs);
            m.target = Some(Arc::new(target));
            m.attributes = manages_attributes.then_some(attributes);
            m.pending = None;
            m.registered = registered;
            m.poll_backoff_until = None;
            match health {
                // The read at the end of the sync is the observation of what it changed.
                Some(h) => {
                    m.health_observed = Some(now);
                    m.health = None;
                    m.written = Some((h.to_vec(), now));
                    m.transition = h.iter().any(|i| i.state != HealthState::InService);
                }
                // Changed without reading health: watch it closely. A sync that changed
                // nothing and read no health (the first after a start, served from the
                // inventory) keeps what the last status said: a restart does not poll every
                // stable LoadBalancer at once.
                None if changed => m.transition = true,
                None => {}
            }
        });
        self.wake.notify_waiters();
    }

    /// Records a health poll: the reconcile writes it; drift or a vanished ELB asks for a
    /// resync.
    pub(super) fn polled(&self, key: &ObjectRef<LoadBalancer>, health: Option<Vec<InstanceState>>) {
        let now = Instant::now();
        let send = self.with(key, |m| {
            m.poll_backoff_until = None;
            m.health_observed = Some(now);
            match health {
                Some(h) => {
                    let registered: BTreeSet<&str> = h.iter().map(|i| i.instance_id.as_str()).collect();
                    let wanted = m.target.as_ref().map(|t| t.registered());
                    if wanted.is_some_and(|w| w.iter().map(String::as_str).collect::<BTreeSet<_>>() != registered) {
                        m.pending.get_or_insert((Class::Resync, now));
                    }
                    m.transition = h.iter().any(|i| i.state != HealthState::InService);
                    m.registered = registered.len();
                    let fresh = m.written.as_ref().is_some_and(|(w, at)| same_health(w, &h) && now.duration_since(*at) < STATUS_REFRESH);
                    if fresh && m.pending.is_none() {
                        return None;
                    }
                    m.health = Some((h, Time(k8s_openapi::jiff::Timestamp::now())));
                }
                None => {
                    m.pending.get_or_insert((Class::Resync, now));
                }
            }
            match m.pending {
                Some(_) => Some(&self.triggers),
                // Only a result to write: the health writer's, queued once.
                None if !std::mem::replace(&mut m.health_queued, true) => Some(&self.health_tx),
                None => None,
            }
        });
        if let Some(queue) = send.flatten() {
            let _ = queue.unbounded_send(key.clone());
        }
    }

    /// A poll failed: retried within the budget later, never turned into a full sync.
    pub(super) fn poll_failed(&self, key: &ObjectRef<LoadBalancer>, retry_in: Duration) {
        self.with(key, |m| m.poll_backoff_until = Some(Instant::now() + retry_in));
    }

    /// Marks drift found by the inventory and triggers the object.
    pub(super) fn drifted(&self, key: &ObjectRef<LoadBalancer>) {
        let now = Instant::now();
        if self
            .with(key, |m| {
                m.pending.get_or_insert((Class::Resync, now));
            })
            .is_some()
        {
            let _ = self.triggers.unbounded_send(key.clone());
        }
    }

    /// Forgets a deleted LoadBalancer.
    pub fn forget(&self, key: &ObjectRef<LoadBalancer>) {
        self.memos.lock().expect("schedule lock").remove(key);
    }

    /// A resync slot, if one is free: resyncs never take every reconcile slot, so a change
    /// always finds one.
    pub fn resync_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.resync_slots.clone().try_acquire_owned().ok()
    }

    /// The latest inventory of `scope`, waiting up to `limit` for the first one.
    pub async fn snapshot(&self, scope: &Scope, limit: Duration) -> Option<Arc<Snapshot>> {
        let mut rx = {
            let regions = self.regions.lock().expect("regions lock");
            regions.get(scope)?.snapshot.subscribe()
        };
        let got = tokio::time::timeout(limit, rx.wait_for(|s| s.is_some())).await.ok()?.ok()?.clone();
        got
    }

    pub(super) fn publish_snapshot(&self, scope: &Scope, snapshot: Snapshot) {
        if let Some(r) = self.regions.lock().expect("regions lock").get(scope) {
            r.snapshot.send_replace(Some(Arc::new(snapshot)));
        }
    }

    /// Drops every region's inventory and asks each observer for a new pass at once (a shard
    /// was gained: the first syncs of its objects wait for an inventory taken after that).
    pub fn refresh_inventories(&self) {
        for r in self.regions.lock().expect("regions lock").values() {
            r.snapshot.send_replace(None);
        }
        self.refreshes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.wake.notify_waiters();
    }

    /// Counts [`Schedule::refresh_inventories`]: an observer that sees it move takes a pass.
    pub(super) fn refreshes(&self) -> u64 {
        self.refreshes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Starts the observer of `scope` with `start` unless it runs already.
    pub fn ensure_observer(&self, scope: &Scope, start: impl FnOnce() -> JoinHandle<()>) {
        let mut regions = self.regions.lock().expect("regions lock");
        if !regions.contains_key(scope) {
            let (snapshot, _) = watch::channel(None);
            regions.insert(scope.clone(), Region { snapshot, observer: None });
            let handle = start();
            regions.get_mut(scope).expect("inserted").observer = Some(handle);
        }
    }

    /// Stops every observer (leadership lost, shutdown).
    pub fn stop(&self) {
        if let Ok(mut regions) = self.regions.lock() {
            for r in regions.values_mut() {
                if let Some(h) = r.observer.take() {
                    h.abort();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn scope() -> Scope {
        Scope { region: "r".into(), role: None }
    }

    fn settings() -> Settings {
        Settings {
            health_poll_interval: Duration::from_secs(30),
            resync_interval: Duration::from_secs(600),
            attributes_every: 6,
            resync_slots: 2,
        }
    }

    fn target() -> Target {
        Target {
            desired: Desired {
                name: "lb".into(),
                scheme: None,
                listeners: vec![],
                placement: crate::sync::plan::Placement::Zones(Default::default()),
                security_groups: None,
                health_check: None,
                attributes: Default::default(),
                tags: Default::default(),
                instances: ["i-1".to_string()].into(),
                auto_scaling_groups: Default::default(),
                stickiness: Default::default(),
                proxy_protocol_ports: Default::default(),
                ssl_policies: Default::default(),
            },
            owner: Owner::new("c", "ns", "lb"),
            adopt: false,
            groups: Default::default(),
        }
    }

    fn state(id: &str, s: &str) -> InstanceState {
        InstanceState { instance_id: id.into(), state: s.into(), reason_code: None, description: None }
    }

    #[tokio::test(start_paused = true)]
    async fn steps_follow_changes_drift_and_polls() {
        let (tx, mut rx) = mpsc::unbounded();
        let s = Schedule::new(settings(), tx);
        let key = ObjectRef::new("lb").within("ns");
        assert_eq!(s.step(&key, &scope(), 1, None), Step::Sync { class: Class::Change, first: true });
        s.synced(&key, 1, target(), Default::default(), 1, Some(&[state("i-1", "InService")]), true);
        assert_eq!(s.step(&key, &scope(), 1, None), Step::Idle, "nothing pending: no timer decides anything");
        assert_eq!(s.step(&key, &scope(), 2, None), Step::Sync { class: Class::Change, first: false }, "inputs changed");
        s.synced(&key, 2, target(), Default::default(), 1, Some(&[state("i-1", "InService")]), false);

        s.drifted(&key);
        assert_eq!(rx.next().await, Some(key.clone()), "drift triggers the object");
        assert_eq!(s.step(&key, &scope(), 2, None), Step::Sync { class: Class::Resync, first: false });
        s.synced(&key, 2, target(), Default::default(), 1, None, false);

        s.polled(&key, Some(vec![state("i-1", "OutOfService")]));
        let mut writes = s.health_writes().expect("the health queue");
        assert_eq!(writes.try_recv().ok(), Some(key.clone()), "a poll result goes to the health writer");
        assert!(rx.try_recv().is_err(), "not to the reconcile queue");
        let Step::WriteHealth { health, .. } = s.step(&key, &scope(), 2, None) else { panic!("a poll result to write") };
        assert_eq!(health[0].state, HealthState::OutOfService);
        assert!(s.with(&key, |m| m.transition).unwrap(), "an instance out of service: poll promptly");

        s.polled(&key, Some(vec![state("i-2", "InService")]));
        assert_eq!(s.step(&key, &scope(), 2, None), Step::Sync { class: Class::Resync, first: false }, "registered instances drifted");
        s.synced(&key, 2, target(), Default::default(), 1, None, false);
        s.polled(&key, None);
        assert_eq!(s.step(&key, &scope(), 2, None), Step::Sync { class: Class::Resync, first: false }, "the ELB is gone");
    }

    /// A check result is written by the next reconcile (after a pending sync, which hands it
    /// back for the write), once.
    #[tokio::test(start_paused = true)]
    async fn reachability_results_are_written_once_after_pending_syncs() {
        use crate::crd::condition::BACKENDS_REACHABLE;
        let (tx, mut rx) = mpsc::unbounded();
        let s = Schedule::new(settings(), tx);
        let key = ObjectRef::new("lb").within("ns");
        let inputs = CheckInputs { instances: vec!["i-1".into()], source: Default::default(), ports: [80].into() };
        s.step(&key, &scope(), 1, None);
        s.reach_observed(&key, inputs.clone());
        s.synced(&key, 1, target(), Default::default(), 1, Some(&[state("i-1", "InService")]), true);
        assert!(rx.try_recv().is_err(), "nothing to write yet");
        assert!(s.with(&key, |m| reachable::due(&m.reach, false, Instant::now(), Duration::from_secs(600))).unwrap(), "never checked");

        let closed = Verdict::new(BACKENDS_REACHABLE, false, "PortsClosed", "i-1:80");
        s.reach_checked(&key, inputs.print(), CheckOutcome::PortsClosed, closed.clone());
        assert_eq!(rx.next().await, Some(key.clone()), "the result triggers its write");
        assert!(!s.with(&key, |m| reachable::due(&m.reach, false, Instant::now(), Duration::from_secs(600))).unwrap());
        assert_eq!(s.step(&key, &scope(), 2, None), Step::Sync { class: Class::Change, first: false }, "a change goes first");
        s.reach_observed(&key, inputs.clone());
        assert_eq!(rx.next().await, Some(key.clone()), "the sync hands the unwritten result back");
        s.synced(&key, 2, target(), Default::default(), 1, None, false);
        assert_eq!(s.step(&key, &scope(), 2, None), Step::WriteReachability(closed.clone()));
        assert_eq!(s.step(&key, &scope(), 2, None), Step::Idle, "written once");
        s.reach_unwritten(&key, closed.clone());
        assert_eq!(s.step(&key, &scope(), 2, None), Step::WriteReachability(closed), "a failed write is tried again");
    }

    #[tokio::test(start_paused = true)]
    async fn polls_are_spaced_by_state() {
        let (tx, _rx) = mpsc::unbounded();
        let s = Schedule::new(settings(), tx);
        let key = ObjectRef::new("lb").within("ns");
        s.step(&key, &scope(), 1, None);
        s.synced(&key, 1, target(), Default::default(), 1, Some(&[state("i-1", "OutOfService")]), true);
        let t0 = Instant::now();
        // An instance not InService puts it in transition: polled every 5 s.
        assert_eq!(s.with(&key, |m| m.poll_due(Duration::from_secs(30))).unwrap(), Some(t0 + TRANSITION_POLL));
        s.polled(&key, Some(vec![state("i-1", "InService")]));
        s.step(&key, &scope(), 1, None); // writes the result
        assert_eq!(s.with(&key, |m| m.poll_due(Duration::from_secs(30))).unwrap(), Some(t0 + Duration::from_secs(30)), "stable");
        s.poll_failed(&key, Duration::from_secs(60));
        assert_eq!(s.with(&key, |m| m.poll_due(Duration::from_secs(30))).unwrap(), Some(t0 + Duration::from_secs(60)), "backs off");
    }

    #[test]
    fn memory_after_a_start_comes_from_status() {
        let now = Instant::now();
        let status = LoadBalancerStatus {
            instances: vec![crate::crd::InstanceStatus { instance_id: "i-1".into(), state: "InService".into(), ..Default::default() }],
            instances_observed_time: Some(Time(k8s_openapi::jiff::Timestamp::now())),
            ..Default::default()
        };
        let m = Memo::new(&scope(), Some(&status), now);
        assert!(!m.transition, "stable before the restart: no prompt poll");
        assert_eq!(m.registered, 1);
        assert!(Memo::new(&scope(), None, now).transition, "never observed: poll promptly");
    }

    /// A stable fleet's polls do not each take a reconcile slot: an unchanged result is
    /// written at most every STATUS_REFRESH, a changed one at once.
    #[tokio::test(start_paused = true)]
    async fn unchanged_poll_results_are_written_at_most_every_refresh() {
        let (tx, _) = mpsc::unbounded();
        let s = Schedule::new(settings(), tx);
        let mut rx = s.health_writes().unwrap();
        let key = ObjectRef::new("lb").within("ns");
        s.step(&key, &scope(), 1, None);
        s.synced(&key, 1, target(), Default::default(), 1, Some(&[state("i-1", "InService")]), true);
        s.polled(&key, Some(vec![state("i-1", "InService")]));
        assert!(rx.try_recv().is_err(), "same health, just written: no trigger");
        assert_eq!(s.step(&key, &scope(), 1, None), Step::Idle);
        tokio::time::advance(STATUS_REFRESH).await;
        s.polled(&key, Some(vec![state("i-1", "InService")]));
        assert_eq!(rx.try_recv().ok(), Some(key.clone()), "refreshed once a minute");
        assert!(matches!(s.step(&key, &scope(), 1, None), Step::WriteHealth { .. }));
        s.polled(&key, Some(vec![state("i-1", "OutOfService")]));
        assert_eq!(rx.try_recv().ok(), Some(key.clone()), "a change is written at once");
    }

    /// The health writer gets a result only over the status this process last wrote; over a
    /// stale cache, or with a sync pending, the object goes to the reconcile queue instead.
    /// A result is queued for the writer once, however many polls come before it runs.
    #[tokio::test(start_paused = true)]
    async fn the_health_writer_writes_only_over_its_own_last_status() {
        let (tx, mut reconciles) = mpsc::unbounded();
        let s = Schedule::new(settings(), tx);
        let mut writes = s.health_writes().unwrap();
        let key = ObjectRef::new("lb").within("ns");
        s.step(&key, &scope(), 1, None);
        s.synced(&key, 1, target(), Default::default(), 1, Some(&[state("i-1", "InService")]), true);
        let written = LoadBalancerStatus { healthy: Some("1/1".into()), ..Default::default() };
        s.status_written(&key, &written);

        s.polled(&key, Some(vec![state("i-1", "OutOfService")]));
        s.polled(&key, Some(vec![state("i-1", "Unknown")]));
        assert_eq!(writes.try_recv().ok(), Some(key.clone()));
        assert!(writes.try_recv().is_err(), "queued once");
        // The cache still holds an older status: the reconcile writes it.
        assert_eq!(s.take_health(&key, status_print(None)), None);
        assert_eq!(reconciles.try_recv().ok(), Some(key.clone()), "handed to the reconcile");
        // Over its own last write: the latest result.
        s.polled(&key, Some(vec![state("i-1", "OutOfService")]));
        assert_eq!(writes.try_recv().ok(), Some(key.clone()), "queued again once taken");
        let (health, _) = s.take_health(&key, status_print(Some(&written))).expect("a result to write");
        assert_eq!(health[0].state, HealthState::OutOfService);
        assert_eq!(s.take_health(&key, status_print(Some(&written))), None, "written once");
        assert!(reconciles.try_recv().is_err());
    }

    /// A result whose write failed is written by the next try, and an identical next poll
    /// is not held back as already written.
    #[tokio::test(start_paused = true)]
    async fn a_health_result_not_written_is_kept_for_the_next_try() {
        let (tx, _reconciles) = mpsc::unbounded();
        let s = Schedule::new(settings(), tx);
        let mut writes = s.health_writes().unwrap();
        let key = ObjectRef::new("lb").within("ns");
        s.step(&key, &scope(), 1, None);
        s.synced(&key, 1, target(), Default::default(), 1, Some(&[state("i-1", "InService")]), true);
        s.polled(&key, Some(vec![state("i-1", "OutOfService")]));
        let Step::WriteHealth { health, at } = s.step(&key, &scope(), 1, None) else { panic!("a result to write") };
        s.health_unwritten(&key, health, at);
        assert!(matches!(s.step(&key, &scope(), 1, None), Step::WriteHealth { .. }), "the next reconcile writes it");
        s.health_unwritten(&key, vec![state("i-1", "OutOfService")], Time(k8s_openapi::jiff::Timestamp::now()));
        s.polled(&key, Some(vec![state("i-1", "OutOfService")]));
        assert!(writes.try_recv().is_ok(), "the same result again is queued: the last one was not written");
    }
}
