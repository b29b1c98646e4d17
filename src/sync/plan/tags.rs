//! Tags: what the operator may add, change and remove.
//!
//! The operator changes only tags that are its own: the ownership markers (keys under
//! `elb.operator.dev/`, which the CRD refuses in `spec.tags`) and the keys it wrote from a
//! spec, as recorded by the caller. A tag it never wrote (a cost-allocation tag, one from a
//! Tag Policy or another tool, one that was on an adopted ELB) is never removed or changed.
//!
//! A key in the spec is the operator's from then on: the spec's value wins over a value
//! someone else set, since the user asked for that key by name. The record then holds the
//! key ([`managed_tags`]), so that it is removed once it leaves the spec.

use std::collections::{BTreeMap, BTreeSet};

use super::Action;
use crate::crd::tags::RESERVED_TAG_PREFIX;
use crate::elb::Tag;
use crate::sync::ownership::{ADOPTED_TAG, CLUSTER_UID_TAG};

/// Tag keys with this prefix belong to AWS and can be neither set nor removed.
const AWS_TAG_PREFIX: &str = "aws:";

/// Operator markers that are records, kept even when the desired state does not carry them:
/// that an ELB was adopted (it decides its deletion), and the cluster UID (an operator that
/// does not know the UID must not erase it).
const KEPT_MARKERS: [&str; 2] = [ADOPTED_TAG, CLUSTER_UID_TAG];

/// AddTags for desired tags missing or with another value; RemoveTags for keys not wanted
/// that are the operator's: its markers (but the adopted and cluster-uid records) and the keys of `written`,
/// the record of the spec keys it wrote before. `None` means the record is lost: then no
/// spec key is removed, since a foreign tag cannot be told from a former spec tag. AWS's
/// own `aws:` tags are never touched.
pub fn plan_tags(
    desired: &BTreeMap<String, String>,
    observed: &BTreeMap<String, String>,
    written: Option<&BTreeSet<String>>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let add: Vec<Tag> =
        desired.iter().filter(|(k, v)| observed.get(*k) != Some(*v)).map(|(k, v)| Tag { key: k.clone(), value: Some(v.clone()) }).collect();
    if !add.is_empty() {
        actions.push(Action::AddTags(add));
    }
    let ours = |k: &str| {
        let marker = k.starts_with(RESERVED_TAG_PREFIX) && !KEPT_MARKERS.contains(&k);
        marker || written.is_some_and(|w| w.contains(k))
    };
    let remove: Vec<String> =
        observed.keys().filter(|k| !desired.contains_key(*k) && !k.starts_with(AWS_TAG_PREFIX) && ours(k)).cloned().collect();
    if !remove.is_empty() {
        actions.push(Action::RemoveTags(remove));
    }
    actions
}

/// The record to keep after a sync toward `desired`: the spec keys the operator now
/// manages (the markers are always its own and are not recorded).
pub fn managed_tags(desired: &BTreeMap<String, String>) -> BTreeSet<String> {
    desired.keys().filter(|k| !k.starts_with(RESERVED_TAG_PREFIX)).cloned().collect()
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table rows are tuples
mod tests {
    use super::super::tests::*;
    use super::super::*;

    #[test]
    fn tags_table() {
        let map =
            |pairs: &[(&str, &str)]| -> BTreeMap<String, String> { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        let tag = |k: &str, v: &str| Tag { key: k.into(), value: Some(v.into()) };
        let record = |keys: &[&str]| Some(set(keys));
        let (cluster, resource) = ("elb.operator.dev/cluster", "elb.operator.dev/resource");
        let cases: Vec<(&str, BTreeMap<String, String>, BTreeMap<String, String>, Option<BTreeSet<String>>, Vec<Action>)> = vec![
            ("equal", map(&[("a", "1")]), map(&[("a", "1")]), record(&["a"]), vec![]),
            ("add", map(&[("a", "1"), ("b", "2")]), map(&[("a", "1")]), record(&["a"]), vec![Action::AddTags(vec![tag("b", "2")])]),
            ("change value", map(&[("a", "2")]), map(&[("a", "1")]), record(&["a"]), vec![Action::AddTags(vec![tag("a", "2")])]),
            (
                "a key it wrote and the spec dropped is removed",
                map(&[("a", "1")]),
                map(&[("a", "1"), ("b", "2")]),
                record(&["a", "b"]),
                vec![Action::RemoveTags(strings(&["b"]))],
            ),
            ("a key it never wrote stays", map(&[("a", "1")]), map(&[("a", "1"), ("CostCenter", "42")]), record(&["a"]), vec![]),
            ("record lost: nothing of the spec's is removed", map(&[("a", "1")]), map(&[("a", "1"), ("b", "2")]), None, vec![]),
            (
                "a foreign value under a spec key: the spec wins",
                map(&[("team", "web")]),
                map(&[("team", "someone-else")]),
                None,
                vec![Action::AddTags(vec![tag("team", "web")])],
            ),
            (
                "aws: tags are never removed",
                map(&[("a", "1")]),
                map(&[("a", "1"), ("aws:cloudformation:stack-name", "x")]),
                record(&["aws:cloudformation:stack-name"]),
                vec![],
            ),
            (
                "its own stale markers go, record or not",
                map(&[(cluster, "c"), (resource, "ns/n")]),
                map(&[(cluster, "c"), (resource, "ns/n"), ("elb.operator.dev/retained", "true")]),
                None,
                vec![Action::RemoveTags(strings(&["elb.operator.dev/retained"]))],
            ),
            (
                "the adopted and cluster-uid markers are records, never removed",
                map(&[(cluster, "c"), (resource, "ns/n")]),
                map(&[(cluster, "c"), (resource, "ns/n"), ("elb.operator.dev/adopted", "true"), ("elb.operator.dev/cluster-uid", "u")]),
                record(&[]),
                vec![],
            ),
            (
                "adoption: ownership added, the ELB's own tags kept",
                map(&[(cluster, "c"), (resource, "ns/n")]),
                map(&[("old", "x")]),
                None,
                vec![Action::AddTags(vec![tag(cluster, "c"), tag(resource, "ns/n")])],
            ),
        ];
        for (name, want, have, written, expect) in cases {
            assert_eq!(plan_tags(&want, &have, written.as_ref()), expect, "case {name}");
        }
        // The record after a sync: the spec's keys, not the markers.
        assert_eq!(managed_tags(&map(&[("team", "web"), (cluster, "c"), (resource, "ns/n")])), set(&["team"]));
    }

    #[test]
    fn a_full_plan_removes_only_recorded_tags() {
        let mut o = converged();
        o.tags.insert("CostCenter".into(), "42".into());
        o.tags.insert("env".into(), "old".into());
        let d = desired();
        assert_eq!(plan(&d, Some(&o), None).unwrap(), vec![], "no record: nothing removed");
        assert_eq!(
            plan(&d, Some(&o), Some(&set(&["team", "env"]))).unwrap(),
            vec![Action::RemoveTags(strings(&["env"]))],
            "env was the operator's, CostCenter never was"
        );
    }
}
