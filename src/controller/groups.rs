//! The Auto Scaling groups of a LoadBalancer: those its spec names and those its status
//! recorded as attached. Cleanup detaches them; the observer reads them in bulk for the
//! first syncs after a start.

use std::collections::BTreeSet;

use crate::crd::LoadBalancer;

/// The Auto Scaling groups a LoadBalancer names or recorded as attached, sorted, once each.
pub fn groups_named(lb: &LoadBalancer) -> Vec<String> {
    let named = lb.spec.backends.iter().flat_map(|b| b.auto_scaling_groups.iter());
    let recorded = lb.status.iter().flat_map(|s| s.auto_scaling_groups.iter());
    named.chain(recorded).cloned().collect::<BTreeSet<_>>().into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_recorded_groups_once_each_in_order() {
        let mut lb = LoadBalancer::new(
            "lb",
            serde_json::from_value(serde_json::json!({"listeners": [], "backends": {"autoScalingGroups": ["b", "a"]}})).unwrap(),
        );
        assert_eq!(groups_named(&lb), ["a", "b"]);
        lb.status = Some(crate::crd::LoadBalancerStatus { auto_scaling_groups: vec!["c".into(), "a".into()], ..Default::default() });
        assert_eq!(groups_named(&lb), ["a", "b", "c"], "a recorded group is detached once the spec drops it");
    }
}
