//! The region observed in bulk: every ELB from paginated DescribeLoadBalancers (up to 400
//! per page, with listeners, zones, subnets, security groups, health check, policies and
//! registered instances), plus the tags of the ELBs of interest in batches of 20. One pass
//! over N owned ELBs costs about ⌈N/400⌉ + ⌈N/20⌉ describes, whatever N is. An ELB deleted
//! between the two reads (its batch's DescribeTags fails as a whole) costs one DescribeTags
//! per name of that batch and is left out of the snapshot.
//!
//! A snapshot answers "what does this ELB look like" for drift checks and for the first
//! pass after a start or a leader change, so that a takeover never makes N full syncs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use tokio::time::Instant;

use super::plan::Observed;
use crate::autoscaling::{AutoScalingApi, AutoScalingGroup};
use crate::aws;
use crate::elb::{self, ElbApi, LoadBalancerAttributes, LoadBalancerDescription};

/// One ELB as a pass saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub description: LoadBalancerDescription,
    /// `None` when the pass did not ask for its tags (not an ELB of interest).
    pub tags: Option<BTreeMap<String, String>>,
}

impl Seen {
    /// What the planner needs, given the attributes (which only a per-name call returns).
    pub fn observed(&self, attributes: LoadBalancerAttributes) -> Option<Observed> {
        Some(Observed { description: self.description.clone(), tags: self.tags.clone()?, attributes, groups: Default::default() })
    }
}

/// Every ELB of a region at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub taken: Instant,
    /// When its listing started: an ELB created before then is in it.
    pub started: Instant,
    /// By lower-case name (ELB names are case-insensitive).
    by_name: HashMap<String, Seen>,
    /// The Auto Scaling groups the region's LoadBalancers name, when the pass read them.
    pub groups: GroupsSeen,
}

/// Auto Scaling groups read in bulk with a pass (DescribeAutoScalingGroups, 50 names a
/// call), so that the first syncs after a start do not read them one LoadBalancer at a
/// time: the names asked, and the groups found (a name asked and not found does not exist).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupsSeen {
    pub asked: BTreeSet<String>,
    pub found: BTreeMap<String, AutoScalingGroup>,
}

impl GroupsSeen {
    /// Reads the groups `names`; no names, no call.
    pub async fn read(autoscaling: &dyn AutoScalingApi, names: BTreeSet<String>) -> Result<GroupsSeen, aws::Error> {
        let found = match names.is_empty() {
            true => Vec::new(),
            false => autoscaling.describe_auto_scaling_groups(&names.iter().cloned().collect::<Vec<_>>()).await?,
        };
        Ok(GroupsSeen { asked: names, found: found.into_iter().map(|g| (g.name.clone(), g)).collect() })
    }

    /// The groups among `names` that exist, when every one of `names` was asked.
    pub fn covering(&self, names: &BTreeSet<String>) -> Option<Vec<AutoScalingGroup>> {
        names.is_subset(&self.asked).then(|| names.iter().filter_map(|n| self.found.get(n).cloned()).collect())
    }
}

impl Snapshot {
    /// A snapshot of these ELBs, taken now (what [`take`] builds; tests build their own).
    pub fn from_seen(seen: impl IntoIterator<Item = Seen>) -> Snapshot {
        let by_name = seen.into_iter().map(|s| (s.description.name.to_ascii_lowercase(), s)).collect();
        let now = Instant::now();
        Snapshot { taken: now, started: now, by_name, groups: GroupsSeen::default() }
    }

    pub fn get(&self, name: &str) -> Option<&Seen> {
        self.by_name.get(&name.to_ascii_lowercase())
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Seen> {
        self.by_name.values()
    }
}

/// Takes a snapshot: all ELBs, and the tags of those named in `interest` (case-insensitive)
/// plus, with `all_tags`, of every ELB (the orphan report needs them).
pub async fn take(elb: &dyn ElbApi, interest: &BTreeSet<String>, all_tags: bool) -> Result<Snapshot, aws::Error> {
    let started = Instant::now();
    let descriptions = elb.describe_load_balancers(&[]).await?;
    let taken = Instant::now();
    let interest: HashSet<String> = interest.iter().map(|n| n.to_ascii_lowercase()).collect();
    let tagged: Vec<String> =
        descriptions.iter().map(|d| d.name.clone()).filter(|n| all_tags || interest.contains(&n.to_ascii_lowercase())).collect();
    let asked: HashSet<String> = tagged.iter().map(|n| n.to_ascii_lowercase()).collect();
    let mut tags: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let mut gone: HashSet<String> = HashSet::new();
    for batch in tagged.chunks(elb::DESCRIBE_TAGS_BATCH) {
        let found = match elb.describe_tags(batch).await {
            Ok(found) => found,
            // An ELB deleted since the describe fails its whole batch: ask for the batch's
            // ELBs one by one and leave out those that are gone, rather than fail the pass.
            Err(e) if e.is_not_found() => {
                let mut found = BTreeMap::new();
                for name in batch {
                    match elb.describe_tags(std::slice::from_ref(name)).await {
                        Ok(one) => found.extend(one),
                        Err(e) if e.is_not_found() => {
                            gone.insert(name.to_ascii_lowercase());
                        }
                        Err(e) => return Err(e),
                    }
                }
                found
            }
            Err(e) => return Err(e),
        };
        for (name, list) in found {
            tags.insert(name.to_ascii_lowercase(), Observed::tags_from(&list));
        }
    }
    let seen = descriptions.into_iter().filter(|d| !gone.contains(&d.name.to_ascii_lowercase())).map(|d| {
        let key = d.name.to_ascii_lowercase();
        // An ELB whose tags were asked for but not returned has none.
        let t = tags.remove(&key).or_else(|| asked.contains(&key).then(BTreeMap::new));
        Seen { description: d, tags: t }
    });
    Ok(Snapshot { taken, started, ..Snapshot::from_seen(seen) })
}
