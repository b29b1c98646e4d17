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
