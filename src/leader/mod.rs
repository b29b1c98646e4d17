//! Leader election on a coordination.k8s.io/v1 Lease, so that only one replica reconciles
//! and writes.
//!
//! The algorithm is client-go's:
//! - A candidate reads the Lease. If it is missing, the candidate creates it (a 409 means
//!   another candidate won the race).
//! - If another identity holds it, the candidate waits until it has seen the same record
//!   unchanged for the record's `leaseDurationSeconds` — measured on its own monotonic clock
//!   from when it first saw that record, so clock skew between nodes does not matter — and
//!   then takes it over with a replace carrying the read resourceVersion (a 409 means
//!   someone else was faster).
//! - The holder renews every `retry_period`. If it cannot renew for `renew_deadline`
//!   (half the lease duration), it steps down on its own, well before any other candidate
//!   may take over.
//! - A lease with no holder (released) is free at once. On graceful shutdown the holder
//!   releases it by clearing `holderIdentity`.
//!
//! - Every Lease records the shard count of its writer; a candidate takes no Lease while one
//!   of another count is fresh ([`exclusion`]), so a rollout that changes `--shards` never
//!   has two writers.
//!
//! [`supervise`] runs the controllers while this process leads; with shards ([`shards`]),
//! [`supervise_shards`] runs them all along and one candidate per shard.

pub mod exclusion;
pub mod shards;
mod supervise;

pub use shards::{Role, Shards};
pub use supervise::{supervise, supervise_shards, Report, SuperviseError};

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, ListParams, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::aws::Fence;

/// This process's part in leader election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Election {
    /// Leader election is off: this process always runs the controllers.
    Disabled,
    /// No lease check has completed yet.
    Starting,
    /// This process holds the lease.
    Leader,
    /// Another process holds the lease (or this one just lost it); `api_reachable` tells
    /// whether the last check reached the API server.
    Standby { api_reachable: bool },
}

/// Where the Lease lives, who this candidate is, and the timings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    /// Written into `holderIdentity`; unique per process.
    pub identity: String,
    /// How long a lease stays valid without renewal.
    pub lease_duration: Duration,
    /// The holder steps down when it could not renew for this long.
    pub renew_deadline: Duration,
    /// Time between two lease checks (renewals when leading); also the bound on one check.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// Timings derived from the lease duration: renew deadline = 1/2 of it, retry period =
    /// 1/6 of it. A leader that cannot renew thus stops at the latest after
    /// `renew_deadline + 2 * retry_period` (5/6 of the lease duration), before any standby
    /// may take over.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>, identity: impl Into<String>, lease_duration: Duration) -> Self {
        LeaseConfig {
            name: name.into(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration,
            renew_deadline: lease_duration / 2,
            retry_period: lease_duration / 6,
        }
    }

    fn lease_duration_seconds(&self) -> i32 {
        // Whole seconds, rounded up, at least 1: the field's unit.
        self.lease_duration.as_secs_f64().ceil().max(1.0).min(i32::MAX as f64) as i32
    }
}

/// A unique identity for this process: `base` (the pod name or host name) plus a random
/// suffix, so a restarted process never mistakes its predecessor's lease for its own.
pub fn default_identity(base: Option<String>) -> String {
    let base = base
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "elb-operator".to_string());
    format!("{base}_{:08x}", rand::random::<u32>())
}

/// The record last read from the Lease and when (on this process's monotonic clock) it was
/// first seen.
#[derive(Debug, Clone)]
struct Observed {
    spec: LeaseSpec,
    at: Instant,
}

/// One candidate for the lease.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<Observed>,
    fence: Fence,
    /// What this candidate stands for, when sharded.
    shard: Option<(Shards, Role)>,
    /// The lease name of the single leader, which the shard and member names extend.
    base: String,
    /// The shard count this candidate's Leases record (1: the single leader).
    count: u32,
    exclusion: exclusion::Exclusion,
}

impl LeaderElector {
    pub fn new(client: kube::Client, config: LeaseConfig) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            base: config.name.clone(),
            config,
            observed: None,
            fence: Fence::default(),
            shard: None,
            count: 1,
            exclusion: exclusion::Exclusion::default(),
        }
    }

    /// The candidate for `role` among `shards`: for shard `i`, the lease
    /// `<config.name>-shard-<i>` and the shard's fence; for member slot `k`, the lease
    /// `<config.name>-member-<k>`. It takes its lease only when [`Shards`] allows.
    pub fn for_role(client: kube::Client, mut config: LeaseConfig, shards: &Shards, role: Role) -> Self {
        let base = config.name.clone();
        config.name = match role {
            Role::Shard(i) => shards::lease_name(&config.name, i),
            Role::Member(k) => shards::member_lease_name(&config.name, k),
        };
        let mut elector = LeaderElector::new(client, config);
        if let Role::Shard(i) = role {
            elector.fence = shards.fence(i);
        }
        elector.shard = Some((shards.clone(), role));
        elector.base = base;
        elector.count = shards.count();
        elector.exclusion = shards.exclusion();
        elector
    }

    /// The write fence this elector keeps: open until `renew_deadline` after the last
    /// renewal was sent, closed when the lease is lost or released.
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// The holder the last check saw, if any.
    pub fn observed_holder(&self) -> Option<&str> {
        self.observed.as_ref().and_then(|o| o.spec.holder_identity.as_deref()).filter(|h| !h.is_empty())
    }

    fn observe(&mut self, spec: &LeaseSpec) {
        let changed = self.observed.as_ref().map(|o| &o.spec != spec).unwrap_or(true);
        if changed {
            self.observed = Some(Observed { spec: spec.clone(), at: Instant::now() });
        }
        if let (Some((shards, role)), Some(o)) = (&self.shard, &self.observed) {
            shards.saw(*role, self.observed_holder(), o.at + self.record_duration(&o.spec));
        }
    }

    /// How long a lease record stays valid without renewal.
    fn record_duration(&self, spec: &LeaseSpec) -> Duration {
        spec.lease_duration_seconds.filter(|s| *s > 0).map(|s| Duration::from_secs(s as u64)).unwrap_or(self.config.lease_duration)
    }

    /// Whether this candidate may take its lease now: always, unless it stands for a shard
    /// or member slot and [`Shards::reserve`] says no. `Ok(None)`: no reservation needed.
    fn reserve(&self) -> Result<Option<shards::Reservation>, ()> {
        match &self.shard {
            None => Ok(None),
            Some((shards, role)) => shards.reserve(*role, self.config.retry_period, self.config.lease_duration).map(Some).ok_or(()),
        }
    }

    /// Whether no Lease of another shard count is fresh (see [`exclusion`]): one list of the
    /// namespace's Leases, made only before a take.
    async fn clear_of_other_counts(&self) -> Result<bool, kube::Error> {
        let leases = self.api.list(&ListParams::default()).await?.items;
        Ok(self.exclusion.clear(&self.base, self.count, &self.config.identity, &leases, self.config.lease_duration))
    }

    /// Labels a Lease about to be written with this candidate's shard count.
    fn label(&self, meta: &mut ObjectMeta) {
        meta.labels.get_or_insert_with(Default::default).insert(exclusion::COUNT_LABEL.to_string(), self.count.to_string());
    }

    /// Records a take at once, before its reservation ends (so that the next candidate of
    /// this process counts it), with the fence opened first as [`LeaderElector::run`]
    /// would (from `sent`, when this check began): the controllers start on the shard as
    /// soon as it shows as held.
    fn took(&self, sent: Instant) {
        if let Some((shards, role)) = &self.shard {
            self.fence.extend_to(sent + self.config.renew_deadline);
            shards.set_held(*role, true);
        }
    }

    /// One election step: acquires, renews or takes over the lease when this candidate may.
    /// `Ok(true)` means this candidate holds the lease now; `Ok(false)` means another one
    /// does (or won a race). Errors are API failures; the caller decides how long they can
    /// be tolerated.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let sent = Instant::now();
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let Some(current) = self.api.get_opt(&self.config.name).await? else {
            let Ok(_reservation) = self.reserve() else { return Ok(false) };
            if !self.clear_of_other_counts().await? {
                return Ok(false);
            }
            let spec = LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                lease_duration_seconds: Some(self.config.lease_duration_seconds()),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            };
            let mut lease =
                Lease { metadata: ObjectMeta { name: Some(self.config.name.clone()), ..ObjectMeta::default() }, spec: Some(spec.clone()) };
            self.label(&mut lease.metadata);
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    self.observe(&spec);
                    self.took(sent);
                    Ok(true)
                }
                Err(kube::Error::Api(s)) if s.is_already_exists() || s.is_conflict() => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = current.spec.clone().unwrap_or_default();
        self.observe(&spec);
        let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
        let mine = holder == Some(self.config.identity.as_str());
        if let (Some(_), false) = (holder, mine) {
            let duration = self.record_duration(&spec);
            let seen_at = self.observed.as_ref().map(|o| o.at).unwrap_or_else(Instant::now);
            if seen_at.elapsed() < duration {
                return Ok(false);
            }
        }
        let reservation = if mine { Ok(None) } else { self.reserve() };
        let Ok(_reservation) = reservation else { return Ok(false) };
        if !mine && !self.clear_of_other_counts().await? {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0);
        let new_spec = LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.config.lease_duration_seconds()),
            acquire_time: if mine { spec.acquire_time.clone() } else { Some(now.clone()) },
            renew_time: Some(now),
            lease_transitions: Some(if mine { transitions } else { transitions + 1 }),
            ..spec
        };
        let mut lease = current;
        lease.spec = Some(new_spec.clone());
        self.label(&mut lease.metadata);
        // `lease.metadata.resourceVersion` is the one just read: a concurrent writer makes
        // this replace fail with 409 instead of both believing they lead.
        match self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => {
                self.observe(&new_spec);
                self.took(sent);
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Releases the lease if this candidate holds it: clears `holderIdentity` so a standby
    /// can take over at once instead of waiting for the lease to expire.
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else { return Ok(()) };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let released = LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..spec
        };
        lease.spec = Some(released.clone());
        match self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => {
                self.observe(&released);
                Ok(())
            }
            // Someone else wrote in between: then it is not ours to release any more.
            Err(kube::Error::Api(s)) if s.is_conflict() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Runs the election until `stop` completes, publishing this process's state on
    /// `state`; then releases the lease if held (bounded by the retry period).
    pub async fn run(mut self, state: watch::Sender<Election>, stop: impl Future<Output = ()>) {
        let cfg = self.config.clone();
        let mut last_renewal: Option<Instant> = None;
        tokio::pin!(stop);
        if let Some((shards, role)) = &self.shard {
            tokio::select! {
                _ = &mut stop => {}
                _ = tokio::time::sleep(shards.initial_delay(*role, cfg.retry_period)) => {}
            }
        }
        loop {
            let sent = Instant::now();
            let attempt = tokio::time::timeout(cfg.retry_period, self.try_acquire_or_renew()).await;
            let now = Instant::now();
            let next = match attempt {
                Ok(Ok(true)) => {
                    self.fence.extend_to(sent + cfg.renew_deadline);
                    if last_renewal.is_none() {
                        tracing::info!(lease = %cfg.name, namespace = %cfg.namespace, identity = %cfg.identity, "acquired the lease; leading");
                    }
                    last_renewal = Some(now);
                    Election::Leader
                }
                Ok(Ok(false)) => {
                    if last_renewal.take().is_some() {
                        tracing::warn!(lease = %cfg.name, holder = ?self.observed_holder(), "lost the lease; stepping down");
                    }
                    Election::Standby { api_reachable: true }
                }
                Ok(Err(_)) | Err(_) => {
                    match &attempt {
                        Ok(Err(e)) => tracing::warn!(lease = %cfg.name, error = %e, "lease check failed"),
                        _ => tracing::warn!(lease = %cfg.name, timeout = ?cfg.retry_period, "lease check timed out"),
                    }
                    match last_renewal {
                        Some(t) if now.duration_since(t) < cfg.renew_deadline => Election::Leader,
                        Some(_) => {
                            last_renewal = None;
                            tracing::error!(lease = %cfg.name, deadline = ?cfg.renew_deadline, "could not renew the lease in time; stepping down");
                            Election::Standby { api_reachable: false }
                        }
                        None => Election::Standby { api_reachable: false },
                    }
                }
            };
            if next != Election::Leader {
                self.fence.close();
            }
            if let Some((shards, role)) = &self.shard {
                shards.set_held(*role, next == Election::Leader);
            }
            state.send_if_modified(|s| {
                let changed = *s != next;
                *s = next;
                changed
            });
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(cfg.retry_period) => {}
            }
        }
        self.fence.close();
        if let Some((shards, role)) = &self.shard {
            shards.set_held(*role, false);
        }
        if last_renewal.is_some() {
            match tokio::time::timeout(cfg.retry_period.max(Duration::from_secs(1)), self.release()).await {
                Ok(Ok(())) => tracing::info!(lease = %cfg.name, "released the lease"),
                Ok(Err(e)) => tracing::warn!(lease = %cfg.name, error = %e, "could not release the lease; it expires on its own"),
                Err(_) => tracing::warn!(lease = %cfg.name, "releasing the lease timed out; it expires on its own"),
            }
        }
        state.send_replace(Election::Standby { api_reachable: true });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_timings_step_down_before_takeover() {
        let c = LeaseConfig::new("l", "ns", "me", Duration::from_secs(15));
        assert!(c.renew_deadline + 2 * c.retry_period < c.lease_duration);
        assert_eq!(c.lease_duration_seconds(), 15);
        assert_eq!(LeaseConfig::new("l", "ns", "me", Duration::from_millis(1500)).lease_duration_seconds(), 2);
    }

    #[test]
    fn identities_are_unique_per_process_start() {
        let a = default_identity(Some("pod-1".into()));
        let b = default_identity(Some("pod-1".into()));
        assert!(a.starts_with("pod-1_"));
        assert_ne!(a, b);
    }
}
