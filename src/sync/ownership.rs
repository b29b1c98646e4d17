//! Ownership of an ELB: the two tags every ELB the operator creates carries. An ELB with the
//! wanted name but without this resource's tags is foreign: reported as a conflict and never
//! modified or deleted, unless the resource asks to adopt it (`spec.adopt: true`).

use std::collections::BTreeMap;

pub use crate::crd::tags::{CLUSTER_TAG, RESOURCE_TAG};

/// The resource an ELB should belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub cluster: String,
    /// `namespace/name`.
    pub resource: String,
}

/// Whose an existing ELB is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Both ownership tags name this resource.
    Owned,
    /// Not this resource's; `claimed_by` names the owner its tags claim, if any.
    Foreign { claimed_by: Option<String> },
}

impl Owner {
    pub fn new(cluster: &str, namespace: &str, name: &str) -> Self {
        Owner { cluster: cluster.to_string(), resource: format!("{namespace}/{name}") }
    }

    /// The exactly two ownership tags.
    pub fn tags(&self) -> BTreeMap<String, String> {
        [(CLUSTER_TAG.to_string(), self.cluster.clone()), (RESOURCE_TAG.to_string(), self.resource.clone())].into()
    }

    /// Classifies an ELB by its tags.
    pub fn ownership(&self, tags: &BTreeMap<String, String>) -> Ownership {
        let cluster = tags.get(CLUSTER_TAG);
        let resource = tags.get(RESOURCE_TAG);
        if cluster == Some(&self.cluster) && resource == Some(&self.resource) {
            return Ownership::Owned;
        }
        let claimed_by = match (cluster, resource) {
            (Some(c), Some(r)) => Some(format!("{r} in cluster {c}")),
            (None, Some(r)) => Some(r.clone()),
            (Some(c), None) => Some(format!("cluster {c}")),
            (None, None) => None,
        };
        Ownership::Foreign { claimed_by }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn exactly_two_tags() {
        let o = Owner::new("prod", "web", "my-lb");
        assert_eq!(o.tags(), tags(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/my-lb")]));
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
}
