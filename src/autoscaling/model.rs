//! Typed answers of the Auto Scaling calls the operator makes, and the [`AutoScalingApi`]
//! trait the sync engine programs against. No wire detail (no `member`, no XML).

use std::collections::BTreeMap;

use crate::aws::Error;

/// An Auto Scaling group as DescribeAutoScalingGroups reports it (the fields the operator
/// reads).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoScalingGroup {
    pub name: String,
    /// The Classic load balancers attached to the group.
    pub load_balancer_names: Vec<String>,
    pub instances: Vec<GroupInstance>,
    /// The group's own tags (`Tags`), which a class's `requiredResourceTags` are checked
    /// against (whether AWS propagates them to instances at launch does not matter here).
    pub tags: BTreeMap<String, String>,
}

/// One instance of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupInstance {
    pub instance_id: String,
    /// `Pending`, `InService`, `Terminating`, … (empty when not reported).
    pub lifecycle_state: String,
    /// Its availability zone, when reported.
    pub availability_zone: Option<String>,
}

impl AutoScalingGroup {
    /// Whether the Classic load balancer `name` is attached (ELB names are case-insensitive).
    pub fn is_attached_to(&self, name: &str) -> bool {
        self.load_balancer_names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// The Auto Scaling calls the operator makes. The real implementation is
/// `autoscaling::Client`; anything else implementing it (a test double) never sees HTTP.
#[async_trait::async_trait]
pub trait AutoScalingApi: Send + Sync {
    /// The region this client talks to.
    fn region(&self) -> &str;

    /// The groups among `names` that exist (an unknown name is left out, not an error), in
    /// batches; no names, no call.
    async fn describe_auto_scaling_groups(&self, names: &[String]) -> Result<Vec<AutoScalingGroup>, Error>;
    /// Attaches the Classic load balancers to the group; AWS then registers the group's
    /// instances with them, and the instances it launches later.
    async fn attach_load_balancers(&self, group: &str, load_balancer_names: &[String]) -> Result<(), Error>;
    /// Detaches them; AWS deregisters the group's instances from them.
    async fn detach_load_balancers(&self, group: &str, load_balancer_names: &[String]) -> Result<(), Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_is_by_case_insensitive_name() {
        let g = AutoScalingGroup { name: "g".into(), load_balancer_names: vec!["Web-LB".into()], ..Default::default() };
        assert!(g.is_attached_to("web-lb") && !g.is_attached_to("web"));
    }
}
