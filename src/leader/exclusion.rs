//! Never two writers across shard counts. The shard of an object depends on the count, so
//! shard 0 of 2 and shard 2 of 4 cover some of the same objects, and the single leader
//! covers them all: a rolling update that changes `--shards` (2 → 4, or 1 → N) would
//! otherwise let the old and the new replica write the same objects.
//!
//! - Every Lease an elector writes records the shard count of its replica in the label
//!   [`COUNT_LABEL`] (`1` for the single leader's Lease).
//! - Before it takes a Lease (never before a renewal), a candidate lists the Leases of its
//!   namespace. While a single-leader or shard Lease of another count is fresh, it takes
//!   nothing; the replica logs that once per change, and holds no shard.
//! - Fresh: held, and its record (resourceVersion) seen unchanged for less than its
//!   `leaseDurationSeconds` on this process's monotonic clock, as the election measures it.
//!   A record first seen now counts as fresh for its whole duration. A released Lease (no
//!   holder) is free at once, so a SIGTERMed old replica hands over without delay.
//! - A shard Lease without the label was written before the count was recorded: its count
//!   is unknown, and it excludes every count, so the first rollout to this version is safe
//!   too. The single-leader Lease counts as 1 with or without the label.
//!
//! Why a label: the API server keeps labels as written and `kubectl get leases -L
//! elb.operator.dev/shards` shows them; the label stays on a released Lease. Encoding the
//! count in `holderIdentity` would change the holder that `kubectl get leases` and client-go
//! tooling show, and is cleared on release.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use tokio::time::Instant;

/// The label on every election Lease: the shard count of the replica that wrote it.
pub const COUNT_LABEL: &str = "elb.operator.dev/shards";

/// The shard count a Lease records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Count(u32),
    /// A shard Lease without the label, written before the count was recorded.
    Unknown,
}

/// The count that the Lease `name` (with the label value `label`) records, if it is one of
/// the Leases of `base` that grant writes: the single-leader Lease `base` or a shard Lease
/// `base-shard-<i>`. Member Leases grant none and do not count.
pub fn recorded(base: &str, name: &str, label: Option<&str>) -> Option<Recorded> {
    let count = || label.and_then(|l| l.parse::<u32>().ok()).filter(|n| *n > 0);
    if name == base {
        return Some(Recorded::Count(count().unwrap_or(1)));
    }
    let index = name.strip_prefix(base)?.strip_prefix("-shard-")?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(count().map_or(Recorded::Unknown, Recorded::Count))
}

/// What this process saw of the Leases, shared by its candidates. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Exclusion(Arc<Mutex<State>>);

#[derive(Debug, Default)]
struct State {
    /// Per Lease: the record (resourceVersion) last seen and when it was first seen.
    seen: HashMap<String, (String, Instant)>,
    /// The fresh Leases of another count at the last look (name → description), to log
    /// only changes.
    blocking: BTreeMap<String, String>,
}

impl Exclusion {
    /// Whether a candidate of `identity`, among `count` shards (1: the single leader), may
    /// take a Lease of `base` now, given `leases` (the namespace's Leases, just listed).
    /// `default_duration` stands in for a Lease without `leaseDurationSeconds`.
    pub fn clear(&self, base: &str, count: u32, identity: &str, leases: &[Lease], default_duration: Duration) -> bool {
        let now = Instant::now();
        let mut st = self.0.lock().expect("exclusion lock");
        let mut blocking = BTreeMap::new();
        let mut listed = Vec::new();
        for lease in leases {
            let name = lease.metadata.name.clone().unwrap_or_default();
            let label = lease.metadata.labels.as_ref().and_then(|l| l.get(COUNT_LABEL)).map(String::as_str);
            let Some(recorded) = recorded(base, &name, label) else { continue };
            let version = lease.metadata.resource_version.clone().unwrap_or_default();
            let first_seen = match st.seen.get(&name) {
                Some((v, at)) if *v == version => *at,
                _ => {
                    st.seen.insert(name.clone(), (version, now));
                    now
                }
            };
            listed.push(name.clone());
            let spec = lease.spec.clone().unwrap_or_default();
            let Some(holder) = spec.holder_identity.filter(|h| !h.is_empty()) else { continue };
            let duration =
                spec.lease_duration_seconds.filter(|s| *s > 0).map(|s| Duration::from_secs(s as u64)).unwrap_or(default_duration);
            let fresh = now.duration_since(first_seen) < duration;
            if fresh && holder != identity && recorded != Recorded::Count(count) {
                let shards = match recorded {
                    Recorded::Count(n) => n.to_string(),
                    Recorded::Unknown => "unknown".to_string(),
                };
                blocking.insert(name, format!("shards {shards}, held by {holder}"));
            }
        }
        st.seen.retain(|name, _| listed.contains(name));
        let keys = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
        if keys(&blocking) != keys(&st.blocking) {
            if blocking.is_empty() {
                tracing::info!(shards = count, "no Lease of another shard count is fresh any more: taking Leases again");
            } else {
                tracing::warn!(
                    shards = count,
                    leases = ?blocking,
                    "a Lease of another shard count is fresh (a rollout that changes --shards?): taking no Lease until it expires or is released"
                );
            }
        }
        let clear = blocking.is_empty();
        st.blocking = blocking;
        clear
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn lease(name: &str, count: Option<&str>, holder: Option<&str>, version: &str) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(name.into()),
                resource_version: Some(version.into()),
                labels: count.map(|c| [(COUNT_LABEL.to_string(), c.to_string())].into()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec { holder_identity: holder.map(String::from), lease_duration_seconds: Some(6), ..LeaseSpec::default() }),
        }
    }

    #[test]
    fn the_count_is_read_off_the_label_and_the_name() {
        assert_eq!(recorded("op", "op", None), Some(Recorded::Count(1)), "the single leader, before labels");
        assert_eq!(recorded("op", "op", Some("1")), Some(Recorded::Count(1)));
        assert_eq!(recorded("op", "op-shard-3", Some("4")), Some(Recorded::Count(4)));
        assert_eq!(recorded("op", "op-shard-3", None), Some(Recorded::Unknown), "a shard Lease before labels");
        assert_eq!(recorded("op", "op-shard-3", Some("x")), Some(Recorded::Unknown));
        assert_eq!(recorded("op", "op-member-0", Some("4")), None, "member Leases grant no writes");
        assert_eq!(recorded("op", "op-shard-", Some("4")), None);
        assert_eq!(recorded("op", "other", Some("4")), None);
        assert_eq!(recorded("op", "op-shard-1x", Some("4")), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_lease_of_another_count_excludes_until_it_expires_or_is_released() {
        let d = Duration::from_secs(6);
        let x = Exclusion::default();
        let old = |v: &str, holder: Option<&str>| {
            vec![lease("op-shard-0", Some("2"), holder, v), lease("op-member-0", Some("2"), Some("old"), v)]
        };
        assert!(x.clear("op", 4, "new", &[], d), "nothing there");
        assert!(!x.clear("op", 4, "new", &old("1", Some("old")), d), "shard 0 of 2 is fresh");
        assert!(x.clear("op", 2, "new", &old("1", Some("old")), d), "the same count: the shard election decides");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!x.clear("op", 4, "new", &old("2", Some("old")), d), "renewed: fresh again");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!x.clear("op", 4, "new", &old("2", Some("old")), d), "5 s unchanged: still fresh");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(x.clear("op", 4, "new", &old("2", Some("old")), d), "unchanged for its duration: expired");
        assert!(x.clear("op", 4, "new", &old("3", None), d), "released: free at once");
        assert!(x.clear("op", 4, "new", &[lease("op-member-1", Some("2"), Some("old"), "9")], d), "members do not count");
    }

    #[tokio::test(start_paused = true)]
    async fn the_single_leader_and_shards_exclude_each_other_and_unlabelled_shards_exclude_all() {
        let d = Duration::from_secs(6);
        let single = vec![lease("op", None, Some("leader"), "1")];
        assert!(!Exclusion::default().clear("op", 3, "new", &single, d), "1 → 3: the single leader's Lease excludes");
        assert!(Exclusion::default().clear("op", 1, "new", &single, d), "1 → 1: the election decides");
        let sharded = vec![lease("op-shard-1", Some("3"), Some("old"), "1")];
        assert!(!Exclusion::default().clear("op", 1, "new", &sharded, d), "3 → 1: a shard Lease excludes the single leader");
        let legacy = vec![lease("op-shard-0", None, Some("old"), "1")];
        assert!(!Exclusion::default().clear("op", 2, "new", &legacy, d), "unknown count");
        let mine = vec![lease("op-shard-0", Some("2"), Some("me"), "1")];
        assert!(Exclusion::default().clear("op", 4, "me", &mine, d), "this process's own Leases never exclude it");
    }
}
