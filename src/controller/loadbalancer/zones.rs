//! Zone balance: ELB splits traffic equally between its enabled zones (unless cross-zone
//! load balancing is on), so a zone with no InService instance, or far fewer than another,
//! overloads or blackholes part of the traffic; and an instance registered in a zone that is
//! not enabled is marked OutOfService by AWS. Pure; the `ZonesBalanced` condition and
//! `status.zones` come from here. It never changes `Ready`.

use std::collections::{BTreeMap, BTreeSet};

use crate::controller::backends::Backend;
use crate::controller::status::Verdict;
use crate::crd::condition::ZONES_BALANCED;
use crate::crd::ZoneStatus;
use crate::elb::{HealthState, InstanceState};

/// `status.zones` and the `ZonesBalanced` verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub zones: Vec<ZoneStatus>,
    pub verdict: Verdict,
}

/// The balance of the registered instances (`health`) over the `enabled` zones. An
/// instance's zone comes from its node (`backends`); instances of unknown zone are not
/// counted. `cross_zone` unknown counts as off, the API's default for a new ELB.
pub fn balance(enabled: &[String], health: &[InstanceState], backends: &BTreeMap<String, Backend>, cross_zone: Option<bool>) -> Balance {
    let enabled: BTreeSet<&str> = enabled.iter().map(String::as_str).collect();
    let mut counts: BTreeMap<&str, (i32, i32)> = enabled.iter().map(|z| (*z, (0, 0))).collect();
    let mut outside: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for h in health {
        let Some(zone) = backends.get(&h.instance_id).and_then(|b| b.zone.as_deref()) else { continue };
        match counts.get_mut(zone) {
            Some((n, up)) => {
                *n += 1;
                *up += i32::from(h.state == HealthState::InService);
            }
            None => outside.entry(zone).or_default().push(&h.instance_id),
        }
    }
    let zones: Vec<ZoneStatus> =
        counts.iter().map(|(z, (n, up))| ZoneStatus { name: z.to_string(), instances: *n, in_service: *up }).collect();
    let summary = zones.iter().map(|z| format!("{}: {}/{} InService", z.name, z.in_service, z.instances)).collect::<Vec<_>>().join(", ");
    let verdict = |ok: bool, reason: &str, message: String| Verdict::new(ZONES_BALANCED, ok, reason, message);
    let verdict = if health.is_empty() {
        verdict(true, "NoInstances", "no instance is registered".into())
    } else if zones.iter().any(|z| z.in_service == 0) {
        let empties: Vec<&str> = zones.iter().filter(|z| z.in_service == 0).map(|z| z.name.as_str()).collect();
        verdict(false, "ZoneWithoutInstances", format!("enabled zones without an InService instance: {}; {summary}", empties.join(", ")))
    } else if cross_zone != Some(true) && spread(&zones) > 1 {
        verdict(
            false,
            "ZonesUneven",
            format!("InService instances differ by more than one between zones and cross-zone load balancing is off; {summary}"),
        )
    } else if !outside.is_empty() {
        let list = outside.iter().map(|(z, ids)| format!("{} in {z}", ids.join(", "))).collect::<Vec<_>>().join("; ");
        verdict(
            false,
            "InstancesOutsideZones",
            format!("instances registered in zones that are not enabled (AWS marks them OutOfService): {list}"),
        )
    } else {
        verdict(true, "Balanced", summary)
    };
    Balance { zones, verdict }
}

fn spread(zones: &[ZoneStatus]) -> i32 {
    let max = zones.iter().map(|z| z.in_service).max().unwrap_or(0);
    let min = zones.iter().map(|z| z.in_service).min().unwrap_or(0);
    max - min
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::condition::Status;

    fn health(list: &[(&str, &str)]) -> Vec<InstanceState> {
        list.iter()
            .map(|(id, s)| InstanceState { instance_id: id.to_string(), state: (*s).into(), reason_code: None, description: None })
            .collect()
    }

    fn backends(list: &[(&str, &str)]) -> BTreeMap<String, Backend> {
        list.iter().map(|(id, z)| (id.to_string(), Backend { zone: Some(z.to_string()), node: None })).collect()
    }

    fn zones(z: &[&str]) -> Vec<String> {
        z.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_table() {
        let b = backends(&[("i-a1", "a"), ("i-a2", "a"), ("i-a3", "a"), ("i-b1", "b"), ("i-c1", "c")]);
        let cases = [
            ("balanced", zones(&["a", "b"]), health(&[("i-a1", "InService"), ("i-b1", "InService")]), None, true, "Balanced"),
            ("nothing registered", zones(&["a", "b"]), health(&[]), None, true, "NoInstances"),
            (
                "an empty zone",
                zones(&["a", "b"]),
                health(&[("i-a1", "InService"), ("i-b1", "OutOfService")]),
                None,
                false,
                "ZoneWithoutInstances",
            ),
            (
                "uneven",
                zones(&["a", "b"]),
                health(&[("i-a1", "InService"), ("i-a2", "InService"), ("i-a3", "InService"), ("i-b1", "InService")]),
                Some(false),
                false,
                "ZonesUneven",
            ),
            (
                "uneven but cross-zone",
                zones(&["a", "b"]),
                health(&[("i-a1", "InService"), ("i-a2", "InService"), ("i-a3", "InService"), ("i-b1", "InService")]),
                Some(true),
                true,
                "Balanced",
            ),
            (
                "outside the zones",
                zones(&["a", "b"]),
                health(&[("i-a1", "InService"), ("i-b1", "InService"), ("i-c1", "OutOfService")]),
                None,
                false,
                "InstancesOutsideZones",
            ),
        ];
        for (name, enabled, h, cross, ok, reason) in cases {
            let got = balance(&enabled, &h, &b, cross);
            assert_eq!((got.verdict.status, got.verdict.reason.as_str()), (Status::from(ok), reason), "{name}: {}", got.verdict.message);
        }
        let got = balance(&zones(&["a", "b"]), &health(&[("i-a1", "InService"), ("i-b1", "OutOfService")]), &b, None);
        assert_eq!(
            got.zones,
            vec![
                ZoneStatus { name: "a".into(), instances: 1, in_service: 1 },
                ZoneStatus { name: "b".into(), instances: 1, in_service: 0 }
            ]
        );
        assert!(got.verdict.message.contains("b: 0/1 InService"), "{}", got.verdict.message);
    }
}
