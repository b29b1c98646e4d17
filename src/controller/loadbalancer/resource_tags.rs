//! The AWS side of a class's `requiredResourceTags`: the tags of the instances, Auto Scaling
//! groups, security groups and subnets a LoadBalancer names or resolves, read in bulk. The
//! judgement is [`crate::tenancy`]'s (`Grant::check_resource`, `Grant::instances_not_allowed`);
//! this step only reads, and only when the class requires tags (the caller decides).
//!
//! Every call is a describe spent from the clients' own budgets, batched by the clients (100
//! ids a DescribeInstances, DescribeSecurityGroups or DescribeSubnets; 50 names a
//! DescribeAutoScalingGroups): 300 instances cost 3 DescribeInstances, not 300. Nothing is
//! written, so a LoadBalancer refused on what is read here has had no AWS write.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::autoscaling::AutoScalingApi;
use crate::aws;
use crate::crd::LoadBalancer;
use crate::ec2::Ec2Api;
use crate::tenancy::{Grant, Refusal, ResourceKind};

/// The resources whose tags a LoadBalancer's class checks: those the spec names, and the
/// instances found through pods and nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Wanted {
    pub instances: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub security_groups: BTreeSet<String>,
    pub subnets: BTreeSet<String>,
}

impl Wanted {
    /// The AWS resources `lb`'s spec names itself (not those its selectors resolve).
    pub fn named_by(lb: &LoadBalancer) -> Wanted {
        let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
        let backends = lb.spec.backends.as_ref();
        Wanted {
            instances: backends.map(|b| set(&b.instance_ids)).unwrap_or_default(),
            groups: backends.map(|b| set(&b.auto_scaling_groups)).unwrap_or_default(),
            security_groups: set(&lb.spec.security_groups),
            subnets: lb.spec.subnets.as_deref().map(set).unwrap_or_default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.groups.is_empty() && self.security_groups.is_empty() && self.subnets.is_empty()
    }

    /// The ids of one kind.
    pub fn of(&self, kind: ResourceKind) -> &BTreeSet<String> {
        match kind {
            ResourceKind::Instance => &self.instances,
            ResourceKind::AutoScalingGroup => &self.groups,
            ResourceKind::SecurityGroup => &self.security_groups,
            ResourceKind::Subnet => &self.subnets,
        }
    }

    /// Every (kind, id), in the order a refusal names the first offender: instances, groups,
    /// security groups, subnets, each by id.
    pub fn iter(&self) -> impl Iterator<Item = (ResourceKind, &str)> {
        KINDS.into_iter().flat_map(move |k| self.of(k).iter().map(move |id| (k, id.as_str())))
    }
}

const KINDS: [ResourceKind; 4] =
    [ResourceKind::Instance, ResourceKind::AutoScalingGroup, ResourceKind::SecurityGroup, ResourceKind::Subnet];

/// Why the tags could not be read. Either way the resources' tags are unknown, so nothing of
/// the LoadBalancer may be admitted on them.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Instances, security groups or subnets are to be checked and the operator has no EC2
    /// client (`--reachability-check=false`). The caller
    /// refuses the LoadBalancer with this message (`ResourceNotAllowed`) rather than admit
    /// resources it cannot check.
    #[error("the class requires resource tags and the operator has no EC2 client for this region")]
    NoEc2Client,
    /// Auto Scaling groups are to be checked and the operator has no Auto Scaling client.
    #[error("the class requires resource tags and the operator has no Auto Scaling client for this region")]
    NoAutoScalingClient,
    /// A describe failed (throttled, not allowed by IAM, a timeout…): retry as any read.
    #[error(transparent)]
    Aws(#[from] aws::Error),
}

impl ReadError {
    /// The refusal a missing client makes (`None` for an AWS error, which is retried).
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            ReadError::NoEc2Client | ReadError::NoAutoScalingClient => {
                Some(Refusal::new(crate::tenancy::RefusalReason::ResourceNotAllowed, self.to_string()))
            }
            ReadError::Aws(_) => None,
        }
    }
}

/// The tags read for each (kind, id) asked: `None` when AWS does not know the resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceTags {
    read: HashMap<(ResourceKind, String), Option<BTreeMap<String, String>>>,
}

impl ResourceTags {
    /// Tags as a test or a cache knows them.
    pub fn from_known(known: impl IntoIterator<Item = (ResourceKind, String, Option<BTreeMap<String, String>>)>) -> ResourceTags {
        ResourceTags { read: known.into_iter().map(|(k, id, tags)| ((k, id), tags)).collect() }
    }

    /// The tags of `id`, as `Grant::check_resource` takes them: `None` when the resource was
    /// not found, or not asked (either way its tags are unknown and the check fails).
    pub fn tags(&self, kind: ResourceKind, id: &str) -> Option<&BTreeMap<String, String>> {
        self.read.get(&(kind, id.to_string())).and_then(Option::as_ref)
    }

    /// Whether `id` was asked (found or not).
    pub fn asked(&self, kind: ResourceKind, id: &str) -> bool {
        self.read.contains_key(&(kind, id.to_string()))
    }

    /// The first resource of `named` (the ids the spec names) that `grant` does not admit,
    /// as its refusal (`ResourceNotAllowed`), in [`Wanted::iter`]'s order.
    pub fn check_named(&self, grant: &Grant, named: &Wanted) -> Result<(), Refusal> {
        named.iter().try_for_each(|(kind, id)| grant.check_resource(kind, id, self.tags(kind, id)))
    }

    /// Of `instances` (found through pods and nodes), those `grant` leaves out, in order.
    pub fn instances_not_allowed<'a>(&self, grant: &Grant, instances: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        grant.instances_not_allowed(instances.into_iter().map(|id| (id, self.tags(ResourceKind::Instance, id))))
    }

    fn put(&mut self, kind: ResourceKind, asked: &BTreeSet<String>, found: impl IntoIterator<Item = (String, BTreeMap<String, String>)>) {
        let mut found: HashMap<String, BTreeMap<String, String>> = found.into_iter().collect();
        for id in asked {
            self.read.insert((kind, id.clone()), found.remove(id));
        }
    }
}

/// Reads the tags of every resource of `wanted`: DescribeInstances, DescribeSecurityGroups
/// and DescribeSubnets on `ec2`, DescribeAutoScalingGroups on `autoscaling`, each batched by
/// its client; a kind with nothing wanted costs no call, and needs no client. A missing
/// client for a kind that is wanted is an error ([`ReadError::NoEc2Client`]), never an
/// admission.
pub async fn read(ec2: Option<&dyn Ec2Api>, autoscaling: Option<&dyn AutoScalingApi>, wanted: &Wanted) -> Result<ResourceTags, ReadError> {
    let mut out = ResourceTags::default();
    let needs_ec2 = !(wanted.instances.is_empty() && wanted.security_groups.is_empty() && wanted.subnets.is_empty());
    if needs_ec2 {
        let ec2 = ec2.ok_or(ReadError::NoEc2Client)?;
        let ids = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>();
        if !wanted.instances.is_empty() {
            let found = ec2.describe_instances(&ids(&wanted.instances)).await?;
            out.put(ResourceKind::Instance, &wanted.instances, found.into_iter().map(|i| (i.instance_id, i.tags)));
        }
        if !wanted.security_groups.is_empty() {
            let found = ec2.describe_security_groups(&ids(&wanted.security_groups)).await?;
            out.put(ResourceKind::SecurityGroup, &wanted.security_groups, found.into_iter().map(|g| (g.group_id, g.tags)));
        }
        if !wanted.subnets.is_empty() {
            let found = ec2.describe_subnets(&ids(&wanted.subnets)).await?;
            out.put(ResourceKind::Subnet, &wanted.subnets, found.into_iter().map(|s| (s.subnet_id, s.tags)));
        }
    }
    if !wanted.groups.is_empty() {
        let autoscaling = autoscaling.ok_or(ReadError::NoAutoScalingClient)?;
        let found = autoscaling.describe_auto_scaling_groups(&wanted.groups.iter().cloned().collect::<Vec<_>>()).await?;
        out.put(ResourceKind::AutoScalingGroup, &wanted.groups, found.into_iter().map(|g| (g.name, g.tags)));
    }
    Ok(out)
}

/// Tag reads of the last `ttl`, by (scope, wanted set): a burst of reconciles of one
/// LoadBalancer (pod churn, node events) reads AWS once per `ttl`, not once per reconcile,
/// while a tag added or removed in AWS still counts within `ttl`. Bounded: at most
/// [`RECENT_READS_MAX`] entries; expired ones are dropped when a new one comes.
#[derive(Debug)]
pub struct RecentReads {
    ttl: Duration,
    entries: Mutex<HashMap<u64, (Instant, ResourceTags)>>,
}

/// The most tag reads [`RecentReads`] keeps.
pub const RECENT_READS_MAX: usize = 10_000;

impl RecentReads {
    pub fn new(ttl: Duration) -> Self {
        RecentReads { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// The tags read for `key` less than `ttl` before `now`.
    pub fn get(&self, key: u64, now: Instant) -> Option<ResourceTags> {
        let entries = self.entries.lock().expect("recent reads lock");
        entries.get(&key).filter(|(at, _)| now.duration_since(*at) < self.ttl).map(|(_, tags)| tags.clone())
    }

    /// Keeps `tags`, read for `key` at `now`.
    pub fn put(&self, key: u64, tags: ResourceTags, now: Instant) {
        let mut entries = self.entries.lock().expect("recent reads lock");
        if entries.len() >= RECENT_READS_MAX {
            entries.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
            if entries.len() >= RECENT_READS_MAX {
                entries.clear();
            }
        }
        entries.insert(key, (now, tags));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscaling::AutoScalingGroup;
    use crate::aws::Error;
    use crate::ec2::{InstanceNetwork, SecurityGroup, Subnet, FILTER_BATCH};
    use crate::tenancy::RefusalReason;

    type Tags = BTreeMap<String, String>;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    /// An EC2 and Auto Scaling double over fixed tags per id, counting the calls AWS would
    /// get: one per batch of the real clients' size (100 ids, 50 names).
    #[derive(Default)]
    struct Fake {
        tags: HashMap<String, BTreeMap<String, String>>,
        calls: Mutex<Vec<(&'static str, usize)>>,
        fail: bool,
    }

    impl Fake {
        fn with(pairs: impl IntoIterator<Item = (String, BTreeMap<String, String>)>) -> Fake {
            Fake { tags: pairs.into_iter().collect(), ..Fake::default() }
        }

        fn lookup(&self, action: &'static str, ids: &[String], batch: usize) -> Result<Vec<(String, Tags)>, Error> {
            let mut calls = self.calls.lock().unwrap();
            for chunk in ids.chunks(batch) {
                calls.push((action, chunk.len()));
            }
            if self.fail {
                return Err(Error::Api { action, code: "Throttling".into(), message: "slow down".into(), request_id: None, status: 400 });
            }
            Ok(ids.iter().filter_map(|id| self.tags.get(id).map(|t| (id.clone(), t.clone()))).collect())
        }

        fn calls(&self, action: &str) -> usize {
            self.calls.lock().unwrap().iter().filter(|(a, _)| *a == action).count()
        }
    }

    #[async_trait::async_trait]
    impl Ec2Api for Fake {
        fn region(&self) -> &str {
            "eu-west-1"
        }
        async fn describe_instances(&self, ids: &[String]) -> Result<Vec<InstanceNetwork>, Error> {
            let found = self.lookup("DescribeInstances", ids, FILTER_BATCH)?;
            Ok(found.into_iter().map(|(instance_id, tags)| InstanceNetwork { instance_id, tags, ..Default::default() }).collect())
        }
        async fn describe_security_groups(&self, ids: &[String]) -> Result<Vec<SecurityGroup>, Error> {
            let found = self.lookup("DescribeSecurityGroups", ids, FILTER_BATCH)?;
            Ok(found.into_iter().map(|(group_id, tags)| SecurityGroup { group_id, tags, ..Default::default() }).collect())
        }
        async fn describe_security_groups_by_name(&self, _: &[String], _: Option<&str>) -> Result<Vec<SecurityGroup>, Error> {
            unreachable!("tags are read by id")
        }
        async fn describe_subnets(&self, ids: &[String]) -> Result<Vec<Subnet>, Error> {
            let found = self.lookup("DescribeSubnets", ids, FILTER_BATCH)?;
            Ok(found.into_iter().map(|(subnet_id, tags)| Subnet { subnet_id, tags, ..Default::default() }).collect())
        }
    }

    #[async_trait::async_trait]
    impl AutoScalingApi for Fake {
        fn region(&self) -> &str {
            "eu-west-1"
        }
        async fn describe_auto_scaling_groups(&self, names: &[String]) -> Result<Vec<AutoScalingGroup>, Error> {
            let found = self.lookup("DescribeAutoScalingGroups", names, crate::autoscaling::NAMES_BATCH)?;
            Ok(found.into_iter().map(|(name, tags)| AutoScalingGroup { name, tags, ..Default::default() }).collect())
        }
        async fn attach_load_balancers(&self, _: &str, _: &[String]) -> Result<(), Error> {
            unreachable!("reading tags writes nothing")
        }
        async fn detach_load_balancers(&self, _: &str, _: &[String]) -> Result<(), Error> {
            unreachable!("reading tags writes nothing")
        }
    }

    fn grant(required: &[(&str, &str)]) -> Grant {
        Grant { class_name: Some("payments".into()), required_resource_tags: tags(required), ..Grant::default() }
    }

    #[tokio::test]
    async fn instances_are_read_in_batches_of_a_hundred() {
        let mine = tags(&[("team", "payments")]);
        let ids: Vec<String> = (0..250).map(|i| format!("i-{i:04}")).collect();
        // Every instance but the last exists; every third belongs to another team.
        let fake = Fake::with(
            ids[..249].iter().enumerate().map(|(n, id)| (id.clone(), if n % 3 == 0 { tags(&[("team", "search")]) } else { mine.clone() })),
        );
        let wanted = Wanted { instances: ids.iter().cloned().collect(), ..Wanted::default() };
        let read = read(Some(&fake), Some(&fake), &wanted).await.unwrap();
        assert_eq!(fake.calls("DescribeInstances"), 3, "250 instances: 100 + 100 + 50");
        assert_eq!(fake.calls.lock().unwrap().len(), 3, "no other kind wanted, no other call");
        assert_eq!(read.tags(ResourceKind::Instance, "i-0001"), Some(&mine));
        assert_eq!(read.tags(ResourceKind::Instance, "i-0249"), None, "not found");
        assert!(read.asked(ResourceKind::Instance, "i-0249") && !read.asked(ResourceKind::Instance, "i-9999"));
        assert_eq!(read.tags(ResourceKind::Subnet, "i-0001"), None, "tags are per kind");

        let out = read.instances_not_allowed(&grant(&[("team", "payments")]), ids.iter().map(String::as_str));
        assert_eq!(out.len(), 84, "83 of another team, and the one not found");
        assert_eq!((out[0].as_str(), out[1].as_str(), out.last().map(String::as_str)), ("i-0000", "i-0003", Some("i-0249")));
    }

    #[tokio::test]
    async fn every_kind_is_read_once_and_a_named_resource_without_the_tags_refuses() {
        let ok = tags(&[("team", "payments"), ("env", "prod")]);
        let fake = Fake::with([
            ("i-1".to_string(), ok.clone()),
            ("web".to_string(), ok.clone()),
            ("sg-1".to_string(), ok.clone()),
            ("sg-2".to_string(), tags(&[("team", "search")])),
            ("subnet-1".to_string(), ok.clone()),
        ]);
        let wanted = Wanted {
            instances: set(&["i-1"]),
            groups: set(&["web", "gone"]),
            security_groups: set(&["sg-1", "sg-2"]),
            subnets: set(&["subnet-1"]),
        };
        let read = read(Some(&fake), Some(&fake), &wanted).await.unwrap();
        for action in ["DescribeInstances", "DescribeSecurityGroups", "DescribeSubnets", "DescribeAutoScalingGroups"] {
            assert_eq!(fake.calls(action), 1, "{action}");
        }
        assert_eq!(read.tags(ResourceKind::AutoScalingGroup, "web"), Some(&ok));
        assert_eq!(read.tags(ResourceKind::AutoScalingGroup, "gone"), None);

        let g = grant(&[("team", "payments")]);
        // The group that does not exist comes first (groups before security groups).
        let r = read.check_named(&g, &wanted).unwrap_err();
        assert_eq!(r.reason, RefusalReason::ResourceNotAllowed);
        assert!(r.message.starts_with("Auto Scaling group gone was not found"), "{}", r.message);
        let without_gone = Wanted { groups: set(&["web"]), ..wanted.clone() };
        let r = read.check_named(&g, &without_gone).unwrap_err();
        assert_eq!(r.message, "security group sg-2 lacks the tags that LoadBalancerClass payments requires: team=payments");
        let fine = Wanted { security_groups: set(&["sg-1"]), ..without_gone };
        assert_eq!(read.check_named(&g, &fine), Ok(()));
        assert_eq!(read.check_named(&grant(&[("env", "dev")]), &fine).unwrap_err().reason, RefusalReason::ResourceNotAllowed);
    }

    #[tokio::test]
    async fn nothing_wanted_costs_no_call_and_needs_no_client() {
        let read = read(None, None, &Wanted::default()).await.unwrap();
        assert_eq!(read, ResourceTags::default());
        // Groups only: no EC2 client needed.
        let fake = Fake::with([("web".to_string(), tags(&[]))]);
        let groups = Wanted { groups: set(&["web"]), ..Wanted::default() };
        let read = super::read(None, Some(&fake), &groups).await.unwrap();
        assert_eq!(read.tags(ResourceKind::AutoScalingGroup, "web"), Some(&tags(&[])));
        assert_eq!(fake.calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_missing_client_is_a_refusal_not_an_admission() {
        let fake = Fake::default();
        let subnets = Wanted { subnets: set(&["subnet-1"]), ..Wanted::default() };
        let err = read(None, Some(&fake), &subnets).await.unwrap_err();
        assert!(matches!(err, ReadError::NoEc2Client), "{err:?}");
        let refusal = err.refusal().expect("a refusal");
        assert_eq!(refusal.reason, RefusalReason::ResourceNotAllowed);
        assert_eq!(refusal.message, "the class requires resource tags and the operator has no EC2 client for this region");
        let groups = Wanted { groups: set(&["web"]), ..Wanted::default() };
        let err = read(Some(&fake), None, &groups).await.unwrap_err();
        assert!(matches!(err, ReadError::NoAutoScalingClient) && err.refusal().is_some(), "{err:?}");
        assert!(fake.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_aws_error_is_returned_to_retry_not_a_refusal() {
        let fake = Fake { fail: true, ..Fake::default() };
        let err = read(Some(&fake), Some(&fake), &Wanted { instances: set(&["i-1"]), ..Wanted::default() }).await.unwrap_err();
        assert!(matches!(&err, ReadError::Aws(Error::Api { code, .. }) if code == "Throttling"), "{err:?}");
        assert_eq!(err.refusal(), None);
    }

    /// A read serves the same (scope, wanted) key for `ttl`, then is read again; the map
    /// stays bounded.
    #[test]
    fn recent_reads_serve_for_their_ttl_and_stay_bounded() {
        let recent = RecentReads::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let read = ResourceTags::from_known([(ResourceKind::Instance, "i-1".to_string(), Some(tags(&[("team", "a")])))]);
        assert_eq!(recent.get(7, t0), None);
        recent.put(7, read.clone(), t0);
        assert_eq!(recent.get(7, t0 + Duration::from_secs(59)), Some(read.clone()));
        assert_eq!(recent.get(8, t0), None, "another key");
        assert_eq!(recent.get(7, t0 + Duration::from_secs(60)), None, "expired");
        for key in 0..(RECENT_READS_MAX as u64 + 5) {
            recent.put(key, read.clone(), t0);
        }
        assert!(recent.entries.lock().unwrap().len() <= RECENT_READS_MAX);
    }
}
