//! Tags: what the operator may add, change and remove.

use std::collections::BTreeMap;

use super::Action;
use crate::elb::Tag;

/// Tag keys with this prefix belong to AWS and can be neither set nor removed.
const AWS_TAG_PREFIX: &str = "aws:";

/// AddTags for missing or different values, RemoveTags for keys not wanted (AWS's own
/// `aws:` tags excepted). Tags are declarative on an owned ELB: a tag added out of band is
/// removed at the next full sync.
pub fn plan_tags(desired: &BTreeMap<String, String>, observed: &BTreeMap<String, String>) -> Vec<Action> {
    let mut actions = Vec::new();
    let add: Vec<Tag> =
        desired.iter().filter(|(k, v)| observed.get(*k) != Some(*v)).map(|(k, v)| Tag { key: k.clone(), value: Some(v.clone()) }).collect();
    if !add.is_empty() {
        actions.push(Action::AddTags(add));
    }
    let remove: Vec<String> = observed.keys().filter(|k| !desired.contains_key(*k) && !k.starts_with(AWS_TAG_PREFIX)).cloned().collect();
    if !remove.is_empty() {
        actions.push(Action::RemoveTags(remove));
    }
    actions
}
