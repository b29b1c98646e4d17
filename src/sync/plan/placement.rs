//! Placement: availability zones or subnets.

use std::collections::BTreeSet;

use super::{Action, Placement};
use crate::elb::LoadBalancerDescription;

/// Zones: enable the new ones, then disable the removed ones. Subnets: detach first when
/// some attached subnet stays (so that a subnet replacing another in the same zone can be
/// attached: AWS allows one subnet per zone), else attach first (so the ELB always has one).
/// A placement of the other kind than the ELB's (zones for a VPC ELB) is left to AWS to refuse.
pub fn plan_placement(desired: &Placement, desc: &LoadBalancerDescription) -> Vec<Action> {
    let mut actions = Vec::new();
    match desired {
        Placement::Zones(want) if !want.is_empty() => {
            let have: BTreeSet<String> = desc.availability_zones.iter().cloned().collect();
            let add: Vec<String> = want.difference(&have).cloned().collect();
            let remove: Vec<String> = have.difference(want).cloned().collect();
            if !add.is_empty() {
                actions.push(Action::EnableZones(add));
            }
            if !remove.is_empty() {
                actions.push(Action::DisableZones(remove));
            }
        }
        Placement::Subnets(want) if !want.is_empty() => {
            let have: BTreeSet<String> = desc.subnets.iter().cloned().collect();
            let add: Vec<String> = want.difference(&have).cloned().collect();
            let remove: Vec<String> = have.difference(want).cloned().collect();
            let attach = (!add.is_empty()).then_some(Action::AttachSubnets(add));
            let detach = (!remove.is_empty()).then_some(Action::DetachSubnets(remove));
            if want.intersection(&have).next().is_some() {
                actions.extend(detach);
                actions.extend(attach);
            } else {
                actions.extend(attach);
                actions.extend(detach);
            }
        }
        _ => {}
    }
    actions
}
