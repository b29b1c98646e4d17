//! Ownership of an ELB, and the one rule that decides whether the operator may touch it
//! ([`Ownership::admits`], used by the sync and by the observer's drift check).
//!
//! Every ELB the operator creates carries the ownership tags: the cluster name, the
//! `namespace/name` of the LoadBalancer and, when known, the cluster's UID (the UID of its
//! `kube-system` namespace, which tells apart two clusters given the same name). An ELB with
//! the wanted name but without this resource's tags is foreign: reported as a conflict and
//! never modified or deleted, unless the resource asks to adopt it and no one else claims
//! it. An adopted ELB is marked [`ADOPTED_TAG`], so that it is kept when its LoadBalancer is
//! deleted even if the status that recorded the adoption is lost.

use std::collections::BTreeMap;

pub use crate::crd::tags::{CLUSTER_TAG, RESOURCE_TAG};

/// Ownership tag: the UID of the `kube-system` namespace of the cluster that owns the ELB.
pub const CLUSTER_UID_TAG: &str = "elb.operator.dev/cluster-uid";

/// Written with the ownership tags when the operator adopts an ELB it did not create. An
/// ELB with it is kept when its LoadBalancer is deleted, unless that LoadBalancer says
/// `deletionPolicy: Delete` itself.
pub const ADOPTED_TAG: &str = "elb.operator.dev/adopted";

/// The tag key prefix by which cloud-provider-aws marks the ELBs of a cluster's Services
/// (`kubernetes.io/cluster/<name>`).
pub const KUBERNETES_CLUSTER_TAG_PREFIX: &str = "kubernetes.io/cluster/";

/// The tag by which the AWS Load Balancer Controller marks its load balancers.
pub const LOAD_BALANCER_CONTROLLER_TAG: &str = "elbv2.k8s.aws/cluster";

/// The resource an ELB should belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub cluster: String,
    /// `namespace/name`.
    pub resource: String,
    /// The UID of the cluster's `kube-system` namespace, when known.
    pub cluster_uid: Option<String>,
}

/// Whose an existing ELB is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// The ownership tags name this resource (and no other cluster UID).
    Owned,
    /// Not this resource's; `claimed_by` names the owner its tags claim, if any.
    Foreign { claimed_by: Option<String> },
}

/// Whether a resource asks to adopt a foreign ELB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    Forbidden,
    Allowed,
}

impl From<bool> for Adoption {
    /// `spec.adopt`.
    fn from(adopt: bool) -> Self {
        if adopt {
            Adoption::Allowed
        } else {
            Adoption::Forbidden
        }
    }
}

/// Why an ELB is not this resource's to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictReason {
    /// Not owned by this resource: untagged (and adoption not asked for), or claimed by
    /// another resource of this cluster.
    NotOwned,
    /// Another owner's tags are on it: another cluster's ownership tags, a
    /// `kubernetes.io/cluster/*` key (cloud-provider-aws) or `elbv2.k8s.aws/cluster` (AWS Load
    /// Balancer Controller). Never adopted.
    ForeignOwner,
}

impl ConflictReason {
    /// The condition and event reason.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictReason::NotOwned => "Conflict",
            ConflictReason::ForeignOwner => "ForeignOwner",
        }
    }
}

/// What the operator may do with an existing ELB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// It is this resource's: converge it.
    Owned,
    /// No one claims it and the resource asks to adopt it: write the ownership tags (and
    /// [`ADOPTED_TAG`]), then converge it.
    Adopt,
    /// Leave it unchanged.
    Refused { claimed_by: Option<String>, reason: ConflictReason },
}

impl Owner {
    pub fn new(cluster: &str, namespace: &str, name: &str) -> Self {
        Owner { cluster: cluster.to_string(), resource: format!("{namespace}/{name}"), cluster_uid: None }
    }

    /// The same owner, in the cluster whose `kube-system` namespace has this UID.
    pub fn with_cluster_uid(self, uid: impl Into<String>) -> Self {
        Owner { cluster_uid: Some(uid.into()), ..self }
    }

    /// The ownership tags: cluster and resource, and the cluster UID when known.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut tags: BTreeMap<String, String> =
            [(CLUSTER_TAG.to_string(), self.cluster.clone()), (RESOURCE_TAG.to_string(), self.resource.clone())].into();
        if let Some(uid) = &self.cluster_uid {
            tags.insert(CLUSTER_UID_TAG.to_string(), uid.clone());
        }
        tags
    }

    /// Classifies an ELB by its tags. An ELB without the UID tag (made before it existed)
    /// is owned when the other two match; one with another UID is another cluster's.
    pub fn ownership(&self, tags: &BTreeMap<String, String>) -> Ownership {
        let cluster = tags.get(CLUSTER_TAG);
        let resource = tags.get(RESOURCE_TAG);
        let uid_differs = matches!((tags.get(CLUSTER_UID_TAG), &self.cluster_uid), (Some(have), Some(want)) if have != want);
        if cluster == Some(&self.cluster) && resource == Some(&self.resource) && !uid_differs {
            return Ownership::Owned;
        }
        let uid = match tags.get(CLUSTER_UID_TAG) {
            Some(u) if uid_differs => format!(" (uid {u})"),
            _ => String::new(),
        };
        let claimed_by = match (cluster, resource) {
            (Some(c), Some(r)) => Some(format!("{r} in cluster {c}{uid}")),
            (None, Some(r)) => Some(r.clone()),
            (Some(c), None) => Some(format!("cluster {c}{uid}")),
            (None, None) => None,
        };
        Ownership::Foreign { claimed_by }
    }

    /// The owner outside this cluster that the tags name: another cluster of this operator
    /// (another name, or the same name with another UID), cloud-provider-aws, or the AWS
    /// Load Balancer Controller.
    fn other_owner(&self, tags: &BTreeMap<String, String>) -> Option<String> {
        if let Some(c) = tags.get(CLUSTER_TAG).filter(|c| **c != self.cluster) {
            return Some(format!("cluster {c}"));
        }
        if let (Some(have), Some(want)) = (tags.get(CLUSTER_UID_TAG), &self.cluster_uid) {
            if have != want {
                return Some(format!("cluster {} with uid {have}", self.cluster));
            }
        }
        if let Some(cluster) = tags.keys().find_map(|k| k.strip_prefix(KUBERNETES_CLUSTER_TAG_PREFIX)) {
            return Some(format!("Kubernetes cluster {cluster} (cloud-provider-aws, {KUBERNETES_CLUSTER_TAG_PREFIX}{cluster})"));
        }
        tags.get(LOAD_BALANCER_CONTROLLER_TAG)
            .map(|c| format!("the AWS Load Balancer Controller of cluster {c} ({LOAD_BALANCER_CONTROLLER_TAG})"))
    }
}

impl Ownership {
    /// The one ownership rule: whether `owner` may converge the ELB with these tags, adopt
    /// it, or must leave it alone.
    ///
    /// - Its ownership tags name `owner`: [`Admission::Owned`].
    /// - Another owner's tags are on it (see [`ConflictReason::ForeignOwner`]): refused,
    ///   adoption or not.
    /// - Another resource of this cluster claims it: refused (two resources would fight).
    /// - No one claims it: adopted when `adoption` allows, else refused.
    pub fn admits(tags: &BTreeMap<String, String>, owner: &Owner, adoption: Adoption) -> Admission {
        let claimed_by = match owner.ownership(tags) {
            Ownership::Owned => return Admission::Owned,
            Ownership::Foreign { claimed_by } => claimed_by,
        };
        if let Some(other) = owner.other_owner(tags) {
            return Admission::Refused { claimed_by: claimed_by.or(Some(other)), reason: ConflictReason::ForeignOwner };
        }
        match (claimed_by, adoption) {
            (None, Adoption::Allowed) => Admission::Adopt,
            (claimed_by, _) => Admission::Refused { claimed_by, reason: ConflictReason::NotOwned },
        }
    }
}

/// Whether the operator adopted the ELB with these tags (rather than created it).
pub fn is_adopted(tags: &BTreeMap<String, String>) -> bool {
    tags.get(ADOPTED_TAG).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn two_tags_without_the_cluster_uid() {
        let o = Owner::new("prod", "web", "my-lb");
        assert_eq!(o.tags(), tags(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/my-lb")]));
    }

    #[test]
    fn the_cluster_uid_is_a_third_tag_when_known() {
        let o = Owner::new("prod", "web", "my-lb").with_cluster_uid("uid-1");
        assert_eq!(o.tags(), tags(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/my-lb"), (CLUSTER_UID_TAG, "uid-1")]));
        // The CRD caps user tags on this count.
        assert_eq!(o.tags().len(), crate::crd::tags::OWNERSHIP_TAG_COUNT);
    }

    #[test]
    fn classification_table() {
        let o = Owner::new("prod", "web", "my-lb");
        let cases = [
            ("both match", tags(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/my-lb"), ("team", "x")]), Ownership::Owned),
            ("untagged", tags(&[("team", "x")]), Ownership::Foreign { claimed_by: None }),
            (
                "other resource",
                tags(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/other")]),
                Ownership::Foreign { claimed_by: Some("web/other in cluster prod".into()) },
            ),
            (
                "other cluster",
                tags(&[(CLUSTER_TAG, "staging"), (RESOURCE_TAG, "web/my-lb")]),
                Ownership::Foreign { claimed_by: Some("web/my-lb in cluster staging".into()) },
            ),
            ("cluster tag only", tags(&[(CLUSTER_TAG, "prod")]), Ownership::Foreign { claimed_by: Some("cluster prod".into()) }),
        ];
        for (name, t, want) in cases {
            assert_eq!(o.ownership(&t), want, "case {name}");
        }
    }

    #[test]
    fn the_cluster_uid_tells_apart_two_clusters_of_one_name() {
        let o = Owner::new("prod", "web", "my-lb").with_cluster_uid("uid-1");
        let ours = [(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/my-lb")];
        assert_eq!(o.ownership(&tags(&ours)), Ownership::Owned, "made before the uid tag: still ours (the tag is added)");
        assert_eq!(o.ownership(&tags(&[ours[0], ours[1], (CLUSTER_UID_TAG, "uid-1")])), Ownership::Owned);
        let twin = tags(&[ours[0], ours[1], (CLUSTER_UID_TAG, "uid-2")]);
        assert_eq!(o.ownership(&twin), Ownership::Foreign { claimed_by: Some("web/my-lb in cluster prod (uid uid-2)".into()) });
        assert_eq!(
            Ownership::admits(&twin, &o, Adoption::Allowed),
            Admission::Refused { claimed_by: Some("web/my-lb in cluster prod (uid uid-2)".into()), reason: ConflictReason::ForeignOwner }
        );
        // An owner that does not know its uid cannot tell: the names decide.
        assert_eq!(Owner::new("prod", "web", "my-lb").ownership(&twin), Ownership::Owned);
    }

    #[test]
    fn admission_table() {
        use Adoption::{Allowed, Forbidden};
        use ConflictReason::{ForeignOwner, NotOwned};
        let o = Owner::new("prod", "web", "my-lb");
        let refused = |claimed_by: Option<&str>, reason| Admission::Refused { claimed_by: claimed_by.map(String::from), reason };
        let cases = [
            ("owned", tags(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/my-lb")]), Forbidden, Admission::Owned),
            (
                "owned and adopted earlier",
                tags(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/my-lb"), (ADOPTED_TAG, "true")]),
                Allowed,
                Admission::Owned,
            ),
            ("untagged, no adoption", tags(&[("team", "x")]), Forbidden, refused(None, NotOwned)),
            ("untagged, adoption", tags(&[("team", "x")]), Allowed, Admission::Adopt),
            (
                "sibling resource",
                tags(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/other")]),
                Allowed,
                refused(Some("web/other in cluster prod"), NotOwned),
            ),
            (
                "another cluster",
                tags(&[(CLUSTER_TAG, "staging"), (RESOURCE_TAG, "web/my-lb")]),
                Allowed,
                refused(Some("web/my-lb in cluster staging"), ForeignOwner),
            ),
            ("another cluster's tag only", tags(&[(CLUSTER_TAG, "staging")]), Forbidden, refused(Some("cluster staging"), ForeignOwner)),
            (
                "cloud-provider-aws",
                tags(&[("kubernetes.io/cluster/east", "owned"), ("kubernetes.io/service-name", "default/web")]),
                Allowed,
                refused(Some("Kubernetes cluster east (cloud-provider-aws, kubernetes.io/cluster/east)"), ForeignOwner),
            ),
            (
                "cloud-provider-aws, without adoption",
                tags(&[("kubernetes.io/cluster/east", "shared")]),
                Forbidden,
                refused(Some("Kubernetes cluster east (cloud-provider-aws, kubernetes.io/cluster/east)"), ForeignOwner),
            ),
            (
                "AWS Load Balancer Controller",
                tags(&[(LOAD_BALANCER_CONTROLLER_TAG, "east")]),
                Allowed,
                refused(Some("the AWS Load Balancer Controller of cluster east (elbv2.k8s.aws/cluster)"), ForeignOwner),
            ),
        ];
        for (name, t, adoption, want) in cases {
            assert_eq!(Ownership::admits(&t, &o, adoption), want, "case {name}");
        }
        assert_eq!(ConflictReason::NotOwned.as_str(), "Conflict", "today's reason is kept");
        assert_eq!(ConflictReason::ForeignOwner.as_str(), "ForeignOwner");
    }

    #[test]
    fn the_adopted_marker() {
        assert!(is_adopted(&tags(&[(ADOPTED_TAG, "true")])));
        assert!(!is_adopted(&tags(&[(ADOPTED_TAG, "false")])));
        assert!(!is_adopted(&tags(&[])));
    }
}
