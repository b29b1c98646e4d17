//! The schedule's index: what is remembered of each LoadBalancer ([`Memo`]) and the
//! decisions made from it: which [`Step`] its reconcile takes, when its next health poll is
//! due, whether a poll result is worth a status write, and which queue the object goes to
//! next ([`Route`]). No I/O and no tasks: the monotonic time of a decision is passed in
//! (save [`Memo::poll_due`]'s never-observed case), so that its tests drive it without a
//! runtime.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::reflector::ObjectRef;
use tokio::time::Instant;

use crate::aws::Class;
use crate::controller::fingerprint::fingerprint;
use crate::controller::loadbalancer::reachable::{self, CheckInputs, CheckOutcome};
use crate::controller::scope::Scope;
use crate::controller::status::Verdict;
use crate::crd::{LoadBalancer, LoadBalancerStatus};
use crate::elb::{HealthState, InstanceState, LoadBalancerAttributes};
use crate::sync::inventory::Seen;
use crate::sync::ownership::Owner;
use crate::sync::plan::{group_instances, Desired, Groups};

/// An unchanged health observation is written to status (`instancesObservedTime`) at most
/// this often by default (`--status-refresh`); a change is written at once. A write that
/// carries no news costs the API server a write and every watcher an event: at 10,000
/// LoadBalancers, once a minute was 10,000 writes a minute.
pub const STATUS_REFRESH: Duration = Duration::from_secs(600);

/// How often a LoadBalancer in transition is polled at most: ELB itself checks instances
/// every 5 s at the fastest, so polling faster shows nothing new.
pub const TRANSITION_POLL: Duration = Duration::from_secs(5);

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

/// What a LoadBalancer's reconcile should do now.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Sync the ELB, spending from the budget as `class`. `first` is the first sync since
    /// this process started: the scope's inventory may stand in for per-name describes.
    /// `seen` is the ELB as a completion listing saw it ([`Index::completed`]): it stands in
    /// for the describe.
    Sync { class: Class, first: bool, seen: Option<Box<Seen>> },
    /// Write the instance health a poll read at `at`.
    WriteHealth { health: Vec<InstanceState>, at: Time },
    /// Write the `BackendsReachable` condition a check yielded.
    WriteReachability(Verdict),
    /// Nothing is pending.
    Idle,
}

/// Where a decision sends the object next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Nowhere: nothing to do, or it is queued already.
    Stay,
    /// The reconcile queue: a sync is pending, or a result must be written by the reconcile.
    Reconcile,
    /// The health writer: only a poll result to write.
    HealthWriter,
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

/// What a successful sync tells the schedule.
#[derive(Debug, Clone)]
pub struct Synced {
    /// Fingerprint of its inputs.
    pub inputs: u64,
    pub target: Target,
    pub attributes: LoadBalancerAttributes,
    /// Instances registered after it.
    pub registered: usize,
    /// The instance health it read, if it read any.
    pub health: Option<Vec<InstanceState>>,
    /// It changed the ELB.
    pub changed: bool,
    /// It created the ELB without reading it back.
    pub provisional: bool,
}

/// Per-LoadBalancer memory.
#[derive(Debug, Clone)]
pub struct Memo {
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
    /// The last sync created the ELB and did not read it back (`Converged::provisional`):
    /// since then, its description waits for a completion listing.
    pub provisional: Option<Instant>,
    /// The ELB as a completion listing saw it, for the next sync.
    pub completion: Option<Box<Seen>>,
}

impl Memo {
    pub fn new(scope: &Scope, status: Option<&LoadBalancerStatus>, now: Instant) -> Self {
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
            provisional: None,
            completion: None,
        }
    }

    /// When this LoadBalancer's next health poll is due, if it has instances to poll.
    ///
    /// One never observed is due at the moment of the call (`Instant::now()`, the one clock
    /// read of the index): kept as it was, although a caller comparing it with an earlier
    /// `now` finds it not yet due.
    pub fn poll_due(&self, health_poll_interval: Duration) -> Option<Instant> {
        if self.registered == 0 || self.target.is_none() || self.health.is_some() {
            return None;
        }
        let spacing = if self.transition { TRANSITION_POLL.min(health_poll_interval) } else { health_poll_interval };
        let due = self.health_observed.map(|t| t + spacing).unwrap_or_else(Instant::now);
        Some(self.poll_backoff_until.map_or(due, |b| due.max(b)))
    }
}

/// The memory of every LoadBalancer, and the decisions over it.
#[derive(Debug, Default)]
pub struct Index {
    memos: HashMap<ObjectRef<LoadBalancer>, Memo>,
}

impl Index {
    /// The memory of `key`, if it was seen.
    pub fn get_mut(&mut self, key: &ObjectRef<LoadBalancer>) -> Option<&mut Memo> {
        self.memos.get_mut(key)
    }

    /// Every memory (the observer's view).
    pub fn memos_mut(&mut self) -> &mut HashMap<ObjectRef<LoadBalancer>, Memo> {
        &mut self.memos
    }

    /// Forgets a deleted LoadBalancer.
    pub fn forget(&mut self, key: &ObjectRef<LoadBalancer>) {
        self.memos.remove(key);
    }

    /// Decides the step for an object whose current inputs have fingerprint `inputs`.
    /// `status` seeds the memory of an object seen for the first time (or in a new scope).
    pub fn step(
        &mut self,
        key: &ObjectRef<LoadBalancer>,
        scope: &Scope,
        inputs: u64,
        status: Option<&LoadBalancerStatus>,
        now: Instant,
    ) -> Step {
        let memo = self.memos.entry(key.clone()).or_insert_with(|| Memo::new(scope, status, now));
        if &memo.scope != scope {
            *memo = Memo::new(scope, status, now);
        }
        if memo.inputs.is_none() && memo.target.is_none() {
            memo.pending.get_or_insert((Class::Change, now));
            return Step::Sync { class: Class::Change, first: true, seen: None };
        }
        if memo.inputs != Some(inputs) {
            // Keep the first time it was seen: the age of a pending change is what counts.
            match memo.pending {
                Some((Class::Change, _)) => {}
                _ => memo.pending = Some((Class::Change, now)),
            }
            return Step::Sync { class: Class::Change, first: false, seen: memo.completion.take() };
        }
        if let Some((class, _)) = memo.pending {
            return Step::Sync { class, first: false, seen: memo.completion.take() };
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

    /// The poll result the health writer may write for `key`: there is one, and the cached
    /// status (fingerprint `cached`, see [`status_print`]) is the one this process last
    /// wrote. A stale cache, or a sync pending (which reads health itself), routes the object
    /// to the reconcile instead.
    pub fn take_health(&mut self, key: &ObjectRef<LoadBalancer>, cached: u64, now: Instant) -> (Option<(Vec<InstanceState>, Time)>, Route) {
        let Some(m) = self.memos.get_mut(key) else { return (None, Route::Stay) };
        m.health_queued = false;
        if m.health.is_none() {
            return (None, Route::Stay);
        }
        if m.pending.is_some() || m.status_print != Some(cached) {
            return (None, Route::Reconcile);
        }
        let (health, at) = m.health.take().expect("checked");
        m.written = Some((health.clone(), now));
        (Some((health, at)), Route::Stay)
    }

    /// A poll result whose write failed: kept for the next try unless a newer one came, and
    /// no longer counted as written (so an identical next result is written, not held back
    /// as fresh).
    pub fn health_unwritten(&mut self, key: &ObjectRef<LoadBalancer>, health: Vec<InstanceState>, at: Time) {
        if let Some(m) = self.memos.get_mut(key) {
            m.health.get_or_insert((health, at));
            m.written = None;
        }
    }

    /// Records the status (fingerprint `print`) this process wrote for `key`, or found
    /// already current.
    pub fn status_written(&mut self, key: &ObjectRef<LoadBalancer>, print: u64) {
        if let Some(m) = self.memos.get_mut(key) {
            m.status_print = Some(print);
        }
    }

    /// Records the reachability inputs a converged sync saw. A check result that waits to be
    /// written goes back to the reconcile.
    pub fn reach_observed(&mut self, key: &ObjectRef<LoadBalancer>, inputs: CheckInputs) -> Route {
        match self.memos.get_mut(key).map(|m| m.reach.observed(inputs)) {
            Some(true) => Route::Reconcile,
            _ => Route::Stay,
        }
    }

    /// Records a reachability check of the inputs with fingerprint `print`; its verdict is
    /// the reconcile's to write.
    pub fn reach_checked(
        &mut self,
        key: &ObjectRef<LoadBalancer>,
        print: u64,
        outcome: CheckOutcome,
        verdict: Verdict,
        now: Instant,
    ) -> Route {
        match self.memos.get_mut(key) {
            Some(m) => {
                m.reach.checked(print, outcome, verdict, now);
                Route::Reconcile
            }
            None => Route::Stay,
        }
    }

    /// A verdict whose status write failed: written by a later reconcile, unless a newer
    /// check replaced it.
    pub fn reach_unwritten(&mut self, key: &ObjectRef<LoadBalancer>, verdict: Verdict) {
        if let Some(m) = self.memos.get_mut(key) {
            m.reach.unwritten.get_or_insert(verdict);
        }
    }

    /// Records a successful sync (of any class). `health` is set when it read instance
    /// health.
    pub fn synced(&mut self, key: &ObjectRef<LoadBalancer>, sync: Synced, now: Instant) {
        let Synced { inputs, target, attributes, registered, health, changed, provisional } = sync;
        let health = health.as_deref();
        let manages_attributes = target.desired.attributes != LoadBalancerAttributes::default();
        let Some(m) = self.memos.get_mut(key) else { return };
        m.provisional = provisional.then_some(now);
        m.completion = None;
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
    }

    /// Records what a completion listing saw of an ELB created without a read-back: the
    /// next sync is served from it (no describe), and writes what AWS derived.
    pub fn completed(&mut self, key: &ObjectRef<LoadBalancer>, seen: Seen, now: Instant) -> Route {
        match self.memos.get_mut(key) {
            Some(m) if m.provisional.is_some() => {
                m.provisional = None;
                m.completion = Some(Box::new(seen));
                m.pending.get_or_insert((Class::Resync, now));
                Route::Reconcile
            }
            _ => Route::Stay,
        }
    }

    /// Records a health poll read at `at`: a result worth writing goes to the health
    /// writer (once); drift of the registered instances or a vanished ELB (`None`) asks for
    /// a resync. An unchanged result is worth writing only when the last write is older
    /// than `refresh` (never with a zero `refresh`).
    pub fn polled(
        &mut self,
        key: &ObjectRef<LoadBalancer>,
        health: Option<Vec<InstanceState>>,
        refresh: Duration,
        now: Instant,
        at: Time,
    ) -> Route {
        let Some(m) = self.memos.get_mut(key) else { return Route::Stay };
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
                let fresh = m
                    .written
                    .as_ref()
                    .is_some_and(|(w, at)| same_health(w, &h) && (refresh.is_zero() || now.duration_since(*at) < refresh));
                if fresh && m.pending.is_none() {
                    return Route::Stay;
                }
                m.health = Some((h, at));
            }
            None => {
                m.pending.get_or_insert((Class::Resync, now));
            }
        }
        match m.pending {
            Some(_) => Route::Reconcile,
            // Only a result to write: the health writer's, queued once.
            None if !std::mem::replace(&mut m.health_queued, true) => Route::HealthWriter,
            None => Route::Stay,
        }
    }

    /// A poll failed: retried within the budget from `until`, never turned into a full sync.
    pub fn poll_failed(&mut self, key: &ObjectRef<LoadBalancer>, until: Instant) {
        if let Some(m) = self.memos.get_mut(key) {
            m.poll_backoff_until = Some(until);
        }
    }

    /// Marks drift found by the inventory: a resync is pending.
    pub fn drifted(&mut self, key: &ObjectRef<LoadBalancer>, now: Instant) -> Route {
        match self.memos.get_mut(key) {
            Some(m) => {
                m.pending.get_or_insert((Class::Resync, now));
                Route::Reconcile
            }
            None => Route::Stay,
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::controller::schedule) fn scope() -> Scope {
        Scope { region: "r".into(), role: None }
    }

    pub(in crate::controller::schedule) fn target() -> Target {
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

    /// The refresh of unchanged health the tests decide with.
    pub(in crate::controller::schedule) const REFRESH: Duration = Duration::from_secs(60);

    /// A sync of inputs `inputs` that registered one instance.
    pub(in crate::controller::schedule) fn synced(inputs: u64, health: Option<&[InstanceState]>, changed: bool) -> Synced {
        Synced {
            inputs,
            target: target(),
            attributes: Default::default(),
            registered: 1,
            health: health.map(<[_]>::to_vec),
            changed,
            provisional: false,
        }
    }

    pub(in crate::controller::schedule) fn state(id: &str, s: &str) -> InstanceState {
        InstanceState { instance_id: id.into(), state: s.into(), reason_code: None, description: None }
    }

    fn at() -> Time {
        Time(k8s_openapi::jiff::Timestamp::now())
    }

    fn key() -> ObjectRef<LoadBalancer> {
        ObjectRef::new("lb").within("ns")
    }

    /// An index with `key()` synced once at `now` with one instance in `health`.
    fn synced_once(now: Instant, health: &str) -> Index {
        let mut ix = Index::default();
        ix.step(&key(), &scope(), 1, None, now);
        ix.synced(&key(), synced(1, Some(&[state("i-1", health)]), true), now);
        ix
    }

    #[test]
    fn steps_follow_changes_drift_and_polls() {
        let (mut ix, key, now) = (Index::default(), key(), Instant::now());
        assert_eq!(ix.step(&key, &scope(), 1, None, now), Step::Sync { class: Class::Change, first: true, seen: None });
        ix.synced(&key, synced(1, Some(&[state("i-1", "InService")]), true), now);
        assert_eq!(ix.step(&key, &scope(), 1, None, now), Step::Idle, "nothing pending: no timer decides anything");
        assert_eq!(ix.step(&key, &scope(), 2, None, now), Step::Sync { class: Class::Change, first: false, seen: None }, "inputs changed");
        ix.synced(&key, synced(2, Some(&[state("i-1", "InService")]), false), now);

        assert_eq!(ix.drifted(&key, now), Route::Reconcile, "drift triggers the object");
        assert_eq!(ix.step(&key, &scope(), 2, None, now), Step::Sync { class: Class::Resync, first: false, seen: None });
        ix.synced(&key, synced(2, None, false), now);

        let route = ix.polled(&key, Some(vec![state("i-1", "OutOfService")]), REFRESH, now, at());
        assert_eq!(route, Route::HealthWriter, "a poll result goes to the health writer, not to the reconcile queue");
        let Step::WriteHealth { health, .. } = ix.step(&key, &scope(), 2, None, now) else { panic!("a poll result to write") };
        assert_eq!(health[0].state, HealthState::OutOfService);
        assert!(ix.get_mut(&key).unwrap().transition, "an instance out of service: poll promptly");

        assert_eq!(ix.polled(&key, Some(vec![state("i-2", "InService")]), REFRESH, now, at()), Route::Reconcile);
        assert_eq!(
            ix.step(&key, &scope(), 2, None, now),
            Step::Sync { class: Class::Resync, first: false, seen: None },
            "registered instances drifted"
        );
        ix.synced(&key, synced(2, None, false), now);
        assert_eq!(ix.polled(&key, None, REFRESH, now, at()), Route::Reconcile);
        assert_eq!(ix.step(&key, &scope(), 2, None, now), Step::Sync { class: Class::Resync, first: false, seen: None }, "the ELB is gone");
        assert_eq!(ix.drifted(&ObjectRef::new("other").within("ns"), now), Route::Stay, "an object never seen is not triggered");
    }

    /// A check result is written by the next reconcile (after a pending sync, which hands it
    /// back for the write), once.
    #[test]
    fn reachability_results_are_written_once_after_pending_syncs() {
        use crate::crd::condition::BACKENDS_REACHABLE;
        let (mut ix, key, now) = (Index::default(), key(), Instant::now());
        let inputs = CheckInputs { instances: vec!["i-1".into()], source: Default::default(), ports: [80].into() };
        let resync = Duration::from_secs(600);
        ix.step(&key, &scope(), 1, None, now);
        assert_eq!(ix.reach_observed(&key, inputs.clone()), Route::Stay, "nothing to write yet");
        ix.synced(&key, synced(1, Some(&[state("i-1", "InService")]), true), now);
        assert!(reachable::due(&ix.get_mut(&key).unwrap().reach, false, now, resync), "never checked");

        let closed = Verdict::new(BACKENDS_REACHABLE, false, "PortsClosed", "i-1:80");
        assert_eq!(
            ix.reach_checked(&key, inputs.print(), CheckOutcome::PortsClosed, closed.clone(), now),
            Route::Reconcile,
            "the result triggers its write"
        );
        assert!(!reachable::due(&ix.get_mut(&key).unwrap().reach, false, now, resync));
        assert_eq!(
            ix.step(&key, &scope(), 2, None, now),
            Step::Sync { class: Class::Change, first: false, seen: None },
            "a change goes first"
        );
        assert_eq!(ix.reach_observed(&key, inputs.clone()), Route::Reconcile, "the sync hands the unwritten result back");
        ix.synced(&key, synced(2, None, false), now);
        assert_eq!(ix.step(&key, &scope(), 2, None, now), Step::WriteReachability(closed.clone()));
        assert_eq!(ix.step(&key, &scope(), 2, None, now), Step::Idle, "written once");
        ix.reach_unwritten(&key, closed.clone());
        assert_eq!(ix.step(&key, &scope(), 2, None, now), Step::WriteReachability(closed), "a failed write is tried again");
    }

    #[test]
    fn polls_are_spaced_by_state() {
        let t0 = Instant::now();
        let mut ix = synced_once(t0, "OutOfService");
        let interval = Duration::from_secs(30);
        // An instance not InService puts it in transition: polled every 5 s.
        assert_eq!(ix.get_mut(&key()).unwrap().poll_due(interval), Some(t0 + TRANSITION_POLL));
        ix.polled(&key(), Some(vec![state("i-1", "InService")]), REFRESH, t0, at());
        assert_eq!(ix.get_mut(&key()).unwrap().poll_due(interval), None, "a result to write first");
        ix.step(&key(), &scope(), 1, None, t0); // writes the result
        assert_eq!(ix.get_mut(&key()).unwrap().poll_due(interval), Some(t0 + interval), "stable");
        ix.poll_failed(&key(), t0 + Duration::from_secs(60));
        assert_eq!(ix.get_mut(&key()).unwrap().poll_due(interval), Some(t0 + Duration::from_secs(60)), "backs off");
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
    #[test]
    fn unchanged_poll_results_are_written_at_most_every_refresh() {
        let t0 = Instant::now();
        let mut ix = synced_once(t0, "InService");
        assert_eq!(
            ix.polled(&key(), Some(vec![state("i-1", "InService")]), REFRESH, t0, at()),
            Route::Stay,
            "same health, just written: no trigger"
        );
        assert_eq!(ix.step(&key(), &scope(), 1, None, t0), Step::Idle);
        let t1 = t0 + REFRESH;
        assert_eq!(
            ix.polled(&key(), Some(vec![state("i-1", "InService")]), REFRESH, t1 - Duration::from_secs(1), at()),
            Route::Stay,
            "not before the refresh"
        );
        assert_eq!(
            ix.polled(&key(), Some(vec![state("i-1", "InService")]), REFRESH, t1, at()),
            Route::HealthWriter,
            "refreshed once the refresh has passed"
        );
        assert!(matches!(ix.step(&key(), &scope(), 1, None, t1), Step::WriteHealth { .. }));
        assert_eq!(
            ix.polled(&key(), Some(vec![state("i-1", "OutOfService")]), REFRESH, t1, at()),
            Route::HealthWriter,
            "a change is written at once"
        );
    }

    /// With `--status-refresh 0`, an unchanged result is never written, however old the
    /// last write; a change still is.
    #[test]
    fn a_zero_refresh_writes_only_changes() {
        let t0 = Instant::now();
        let mut ix = synced_once(t0, "InService");
        let later = t0 + Duration::from_secs(86_400);
        assert_eq!(ix.polled(&key(), Some(vec![state("i-1", "InService")]), Duration::ZERO, later, at()), Route::Stay);
        assert_eq!(
            ix.polled(&key(), Some(vec![state("i-1", "OutOfService")]), Duration::ZERO, later, at()),
            Route::HealthWriter,
            "news is written"
        );
    }

    /// The health writer gets a result only over the status this process last wrote; over a
    /// stale cache, or with a sync pending, the object goes to the reconcile queue instead.
    /// A result is queued for the writer once, however many polls come before it runs.
    #[test]
    fn the_health_writer_writes_only_over_its_own_last_status() {
        let now = Instant::now();
        let mut ix = synced_once(now, "InService");
        let written = LoadBalancerStatus { healthy: Some("1/1".into()), ..Default::default() };
        ix.status_written(&key(), status_print(Some(&written)));

        assert_eq!(ix.polled(&key(), Some(vec![state("i-1", "OutOfService")]), REFRESH, now, at()), Route::HealthWriter);
        assert_eq!(ix.polled(&key(), Some(vec![state("i-1", "Unknown")]), REFRESH, now, at()), Route::Stay, "queued once");
        // The cache still holds an older status: the reconcile writes it.
        assert_eq!(ix.take_health(&key(), status_print(None), now), (None, Route::Reconcile), "handed to the reconcile");
        // Over its own last write: the latest result.
        assert_eq!(
            ix.polled(&key(), Some(vec![state("i-1", "OutOfService")]), REFRESH, now, at()),
            Route::HealthWriter,
            "queued again once taken"
        );
        let (Some((health, _)), Route::Stay) = ix.take_health(&key(), status_print(Some(&written)), now) else {
            panic!("a result to write")
        };
        assert_eq!(health[0].state, HealthState::OutOfService);
        assert_eq!(ix.take_health(&key(), status_print(Some(&written)), now), (None, Route::Stay), "written once");
        // A sync pending reads health itself: the reconcile's.
        ix.polled(&key(), Some(vec![state("i-1", "Unknown")]), REFRESH, now, at());
        ix.drifted(&key(), now);
        assert_eq!(ix.take_health(&key(), status_print(Some(&written)), now), (None, Route::Reconcile), "a sync pending");
    }

    /// A result whose write failed is written by the next try, and an identical next poll
    /// is not held back as already written.
    #[test]
    fn a_health_result_not_written_is_kept_for_the_next_try() {
        let now = Instant::now();
        let mut ix = synced_once(now, "InService");
        ix.polled(&key(), Some(vec![state("i-1", "OutOfService")]), REFRESH, now, at());
        let Step::WriteHealth { health, at: when } = ix.step(&key(), &scope(), 1, None, now) else { panic!("a result to write") };
        ix.health_unwritten(&key(), health, when);
        assert!(matches!(ix.step(&key(), &scope(), 1, None, now), Step::WriteHealth { .. }), "the next reconcile writes it");
        ix.health_unwritten(&key(), vec![state("i-1", "OutOfService")], at());
        let route = ix.polled(&key(), Some(vec![state("i-1", "OutOfService")]), REFRESH, now, at());
        assert_eq!(route, Route::HealthWriter, "the same result again is queued: the last one was not written");
    }
}
