//! The class's required resource tags: every instance, Auto Scaling group, security group
//! and subnet a LoadBalancer names or resolves must carry them. A named resource without
//! them refuses the LoadBalancer (`ResourceNotAllowed`); an instance found through pods or
//! nodes is left out instead (`InstanceNotAllowed` on `BackendsResolved`).

use std::collections::BTreeMap;

use super::refusal::{who, Refusal, RefusalReason};
use super::Grant;

/// The `BackendsResolved=False` reason naming the instances from pods or nodes that lack the
/// class's required tags and are therefore not registered.
pub const INSTANCE_NOT_ALLOWED: &str = "InstanceNotAllowed";

/// The kinds of AWS resources a LoadBalancer names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Instance,
    AutoScalingGroup,
    SecurityGroup,
    Subnet,
}

impl ResourceKind {
    /// How messages name the kind, with the spec field that names it.
    pub fn noun(self) -> &'static str {
        match self {
            ResourceKind::Instance => "instance",
            ResourceKind::AutoScalingGroup => "Auto Scaling group",
            ResourceKind::SecurityGroup => "security group",
            ResourceKind::Subnet => "subnet",
        }
    }
}

/// The required tags `resource_tags` lacks (absent, or with another value), as `key=value`,
/// in key order.
pub fn missing_required_tags(required: &BTreeMap<String, String>, resource_tags: &BTreeMap<String, String>) -> Vec<String> {
    required.iter().filter(|(k, v)| resource_tags.get(*k) != Some(*v)).map(|(k, v)| format!("{k}={v}")).collect()
}

/// The refusal of a LoadBalancer whose spec names `id` (of `kind`), which lacks the tags
/// `missing` that `class` requires (`missing` empty: the resource was not found, so its tags
/// could not be checked).
pub fn resource_refusal(class: Option<&str>, kind: ResourceKind, id: &str, missing: &[String]) -> Refusal {
    let by = who(class);
    let message = if missing.is_empty() {
        format!("{} {id} was not found, so the tags that {by} requires could not be checked", kind.noun())
    } else {
        format!("{} {id} lacks the tags that {by} requires: {}", kind.noun(), missing.join(", "))
    };
    Refusal::new(RefusalReason::ResourceNotAllowed, message)
}

impl Grant {
    /// Whether the spec may name `id` (of `kind`), whose tags are `tags` (`None`: not
    /// found). Always when the class requires no tags.
    pub fn check_resource(&self, kind: ResourceKind, id: &str, tags: Option<&BTreeMap<String, String>>) -> Result<(), Refusal> {
        if self.required_resource_tags.is_empty() {
            return Ok(());
        }
        let missing = match tags {
            Some(tags) => missing_required_tags(&self.required_resource_tags, tags),
            None => Vec::new(),
        };
        if tags.is_some() && missing.is_empty() {
            return Ok(());
        }
        Err(resource_refusal(self.class_name.as_deref(), kind, id, &missing))
    }

    /// Of the instances found through pods and nodes (id and tags, `None`: not found), those
    /// to leave out because they lack the required tags, in the order given.
    pub fn instances_not_allowed<'a, I>(&self, instances: I) -> Vec<String>
    where
        I: IntoIterator<Item = (&'a str, Option<&'a BTreeMap<String, String>>)>,
    {
        if self.required_resource_tags.is_empty() {
            return Vec::new();
        }
        instances
            .into_iter()
            .filter(|(_, tags)| tags.is_none_or(|t| !missing_required_tags(&self.required_resource_tags, t).is_empty()))
            .map(|(id, _)| id.to_string())
            .collect()
    }

    /// The `BackendsResolved` message for [`Self::instances_not_allowed`]'s result.
    pub fn instances_not_allowed_message(&self, ids: &[String]) -> String {
        let required: Vec<String> = self.required_resource_tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "instances not registered: {} lack the tags that {} requires ({})",
            ids.join(", "),
            who(self.class_name.as_deref()),
            required.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn grant(required: &[(&str, &str)]) -> Grant {
        Grant { class_name: Some("payments".into()), required_resource_tags: tags(required), ..Grant::default() }
    }

    #[test]
    fn missing_tags_are_absent_or_different() {
        let required = tags(&[("env", "prod"), ("team", "payments")]);
        assert_eq!(missing_required_tags(&required, &tags(&[("team", "payments"), ("env", "prod"), ("x", "y")])), Vec::<String>::new());
        assert_eq!(missing_required_tags(&required, &tags(&[("team", "payments")])), ["env=prod"]);
        assert_eq!(missing_required_tags(&required, &tags(&[("team", "search"), ("env", "prod")])), ["team=payments"]);
        assert_eq!(missing_required_tags(&required, &tags(&[])), ["env=prod", "team=payments"]);
        assert_eq!(missing_required_tags(&tags(&[]), &tags(&[])), Vec::<String>::new());
    }

    #[test]
    fn a_named_resource_without_the_tags_refuses_the_load_balancer() {
        let g = grant(&[("team", "payments")]);
        let ok = tags(&[("team", "payments")]);
        assert_eq!(g.check_resource(ResourceKind::SecurityGroup, "sg-0abc1234", Some(&ok)), Ok(()));
        let r = g.check_resource(ResourceKind::Subnet, "subnet-0abc1234", Some(&tags(&[("team", "search")]))).unwrap_err();
        assert_eq!(r.reason, RefusalReason::ResourceNotAllowed);
        assert_eq!(r.message, "subnet subnet-0abc1234 lacks the tags that LoadBalancerClass payments requires: team=payments");
        let r = g.check_resource(ResourceKind::AutoScalingGroup, "web", None).unwrap_err();
        assert_eq!(r.reason, RefusalReason::ResourceNotAllowed);
        assert!(r.message.starts_with("Auto Scaling group web was not found"), "{}", r.message);
        // No required tags: anything goes, found or not.
        assert_eq!(grant(&[]).check_resource(ResourceKind::Instance, "i-0abc1234", None), Ok(()));
    }

    #[test]
    fn instances_from_pods_without_the_tags_are_left_out() {
        let g = grant(&[("team", "payments")]);
        let (mine, theirs) = (tags(&[("team", "payments")]), tags(&[("team", "search")]));
        let found = [("i-1", Some(&mine)), ("i-2", Some(&theirs)), ("i-3", None), ("i-4", Some(&mine))];
        let out = g.instances_not_allowed(found);
        assert_eq!(out, ["i-2", "i-3"]);
        assert_eq!(
            g.instances_not_allowed_message(&out),
            "instances not registered: i-2, i-3 lack the tags that LoadBalancerClass payments requires (team=payments)"
        );
        assert_eq!(grant(&[]).instances_not_allowed(found), Vec::<String>::new());
        assert_eq!(INSTANCE_NOT_ALLOWED, "InstanceNotAllowed");
    }
}
