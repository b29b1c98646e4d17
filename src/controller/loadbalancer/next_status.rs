//! The next status of a LoadBalancer: one pure function, [`next`], from the previous status
//! and what a reconcile observed to the new status, plus the verdicts it is made of. Written
//! by [`super::report`] only.
//!
//! Conditions of a LoadBalancer (all always present):
//! - `Synced` is True when the last reconcile applied the whole spec to the ELB without an
//!   error; False otherwise, with the ELB error code as reason (`ValidationError`,
//!   `Throttling`, ...) or one of `Conflict`, `InvalidSpec`, `HealthCheckNotFound`,
//!   `HealthCheckInvalid`, `NoPlacement`, `SchemeMismatch`, `Paused` ([`super::paused`]).
//! - `Ready` is True when `Synced` is True (so the ELB exists, is ours and matches the spec)
//!   and either at least one registered instance is `InService` (reason `InstancesInService`)
//!   or the spec selects no backends at all (no selector that can match, no instance ids;
//!   reason `NoBackendsSelected`). False reasons: `NotSynced`, `Conflict`, `NoBackends`
//!   (selectors match no instance), `NoInstancesInService`.
//! - `Conflict` is True when an ELB with the wanted name exists without this resource's
//!   ownership tags (reason `NotOwned`), else False (`NoConflict`).
//! - `BackendsResolved` is False when a selected node has no AWS providerID
//!   (`NodeWithoutProviderID`) or a selected pod's node is unknown (`NodeNotFound`).
//! - `BackendsReachable` (present once checked; see [`super::reachable`]) is False
//!   (`PortsClosed`) when some registered instance's security groups admit the ELB on an
//!   instance or health check port; Unknown when the EC2 reads are not allowed
//!   (`EC2NotAllowed`) or failed (`EC2CheckFailed`). Like `ZonesBalanced`, it never changes
//!   `Ready`, and only a check changes it.
//! - `DNSPublished` (present with `spec.dns`; see [`super::dns`]): only the DNS step changes it.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::controller::backends::{Backend, Resolved};
use crate::controller::status::{conditions, truncate, Verdict};
use crate::crd::condition::{Status, BACKENDS_REACHABLE, CONFLICT, DNS_PUBLISHED, READY, SYNCED, ZONES_BALANCED};
use crate::crd::{self, InstanceSource, InstanceStatus, LoadBalancerStatus};
use crate::elb::{HealthState, InstanceState};
use crate::sync::execute::Converged;
use crate::sync::plan;

use super::zones;

/// Condition type reporting nodes whose instance cannot be found.
pub const BACKENDS_RESOLVED: &str = "BackendsResolved";

/// What a reconcile observed, as far as status is concerned.
#[derive(Debug)]
pub enum Observation<'a> {
    /// A full sync converged the ELB (at `at`).
    Synced { converged: &'a Converged, region: &'a str, resolved: &'a Resolved, at: &'a Time, cross_zone: Option<bool> },
    /// A health poll read the instances' health at `at`; nothing else was looked at.
    HealthPolled { health: &'a [InstanceState], resolved: &'a Resolved, at: &'a Time, cross_zone: Option<bool> },
    /// The reconcile stopped: `synced` says why; `conflict` names a foreign ELB;
    /// `resolved` is known when the spec could be dereferenced. A `transient` failure
    /// (throttling, a 5xx, a timeout) says nothing about the ELB serving traffic, so
    /// `Ready` keeps reflecting the last observed instance health.
    Failed { synced: Verdict, conflict: Option<&'a str>, resolved: Option<&'a Resolved>, transient: bool },
    /// A backend reachability check yielded `BackendsReachable`; nothing else was looked at.
    Reachability(&'a Verdict),
    /// The DNSEndpoint of `spec.dns` was written (`DNSPublished`), or removed (`None`).
    Dns(Option<&'a Verdict>),
}

/// The new status from the previous one and an observation. Observed fields a failure says
/// nothing about stay as last seen; conditions keep their transition times while their
/// status does not change, so an unchanged verdict yields an identical status (and no write).
pub fn next(previous: &LoadBalancerStatus, generation: Option<i64>, observation: &Observation) -> LoadBalancerStatus {
    match observation {
        Observation::Synced { converged, region, resolved, at, cross_zone } => {
            let d = &converged.description;
            // Health not read this time: the last observation stands.
            let (health, observed_time) = match &converged.health {
                Some(h) => (h.clone(), Some((*at).clone())),
                None => (recorded_health(previous), previous.instances_observed_time.clone()),
            };
            let health = dedupe(&health);
            let groups = converged.attached_groups();
            let from_groups = group_backends(&converged.groups);
            let (instances, healthy) = instances(&health, &resolved.instances, &from_groups);
            let sorted_set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>();
            let (zones, subnets) = (sorted_set(&d.availability_zones), sorted_set(&d.subnets));
            let balance = zones::balance(&zones, &health, &with_groups(&resolved.instances, &from_groups), *cross_zone);
            let verdicts = [
                ready_verdict(true, false, resolved.selects_anything, &health),
                Verdict::new(SYNCED, true, "Synced", "the load balancer matches the spec"),
                conflict_verdict(None),
                backends_verdict(resolved),
                balance.verdict,
            ];
            LoadBalancerStatus {
                load_balancer_name: Some(d.name.clone()),
                region: Some(region.to_string()),
                dns_name: Some(d.dns_name.clone()).filter(|s| !s.is_empty()),
                // The region's zone when the describe leaves it out (moto does; AWS does not),
                // as for an ELB just created: one value whichever wrote it.
                canonical_hosted_zone_name_id: d
                    .canonical_hosted_zone_name_id
                    .clone()
                    .or_else(|| crate::elb::hosted_zone_id(region).map(str::to_string)),
                availability_zones: zones,
                subnets,
                instances,
                auto_scaling_groups: groups,
                healthy: Some(healthy),
                zones: balance.zones,
                instances_observed_time: observed_time,
                adopted: previous.adopted,
                managed_tag_keys: previous.managed_tag_keys.clone(),
                observed_generation: generation,
                conditions: with_reachability(conditions(&previous.conditions, &verdicts, generation), previous),
            }
        }
        Observation::HealthPolled { health, resolved, at, cross_zone } => {
            let health = dedupe(health);
            // Group membership is read by syncs only: the last one's stands.
            let from_groups = previous
                .instances
                .iter()
                .filter(|i| i.source == Some(InstanceSource::AutoScalingGroup))
                .map(|i| (i.instance_id.clone(), Backend { zone: i.availability_zone.clone(), node: None }))
                .collect();
            let (instances, healthy) = instances(&health, &resolved.instances, &from_groups);
            let ready = ready_verdict(true, false, resolved.selects_anything, &health);
            let balance =
                zones::balance(&previous.availability_zones, &health, &with_groups(&resolved.instances, &from_groups), *cross_zone);
            // Only Ready and ZonesBalanced change; the other conditions keep their place and
            // content.
            LoadBalancerStatus {
                instances,
                healthy: Some(healthy),
                zones: balance.zones,
                instances_observed_time: Some((*at).clone()),
                conditions: replace_conditions(previous, &[ready, balance.verdict], generation),
                ..previous.clone()
            }
        }
        Observation::Reachability(verdict) => {
            LoadBalancerStatus { conditions: replace_conditions(previous, std::slice::from_ref(*verdict), generation), ..previous.clone() }
        }
        Observation::Dns(Some(verdict)) => {
            LoadBalancerStatus { conditions: replace_conditions(previous, std::slice::from_ref(*verdict), generation), ..previous.clone() }
        }
        Observation::Dns(None) => {
            let conditions = previous.conditions.iter().filter(|c| c.type_ != DNS_PUBLISHED).cloned().collect();
            LoadBalancerStatus { conditions, ..previous.clone() }
        }
        Observation::Failed { synced, conflict, resolved, transient } => {
            let last_ready = previous.conditions.iter().find(|c| c.type_ == READY).filter(|_| *transient);
            let ready = match last_ready {
                Some(c) => Verdict::of_condition(READY, c),
                None => ready_verdict(false, conflict.is_some(), false, &[]),
            };
            let mut verdicts = vec![ready, synced.clone(), conflict_verdict(*conflict)];
            if let Some(resolved) = resolved {
                verdicts.push(backends_verdict(resolved));
            } else if let Some(c) = previous.conditions.iter().find(|c| c.type_ == BACKENDS_RESOLVED) {
                verdicts.push(Verdict::of_condition(BACKENDS_RESOLVED, c));
            }
            LoadBalancerStatus {
                observed_generation: generation,
                conditions: with_reachability(conditions(&previous.conditions, &verdicts, generation), previous),
                ..previous.clone()
            }
        }
    }
}

/// The conditions of `previous` with those of `verdicts` replaced in place (a new one is
/// added: Ready first, others last); the rest keep their place and content.
fn replace_conditions(previous: &LoadBalancerStatus, verdicts: &[Verdict], generation: Option<i64>) -> Vec<Condition> {
    let mut conds = previous.conditions.clone();
    for fresh in conditions(&previous.conditions, verdicts, generation) {
        match conds.iter_mut().find(|c| c.type_ == fresh.type_) {
            Some(c) => *c = fresh,
            None if fresh.type_ == READY => conds.insert(0, fresh),
            None => conds.push(fresh),
        }
    }
    conds
}

/// `conds` plus the `BackendsReachable` and `DNSPublished` conditions of `previous`,
/// unchanged: only a check, or the DNS step, changes them.
fn with_reachability(mut conds: Vec<Condition>, previous: &LoadBalancerStatus) -> Vec<Condition> {
    conds.extend(previous.conditions.iter().find(|c| c.type_ == BACKENDS_REACHABLE).cloned());
    conds.extend(previous.conditions.iter().find(|c| c.type_ == DNS_PUBLISHED).cloned());
    conds
}

/// The condition `type_` of `next` when it turned False (or False for another reason)
/// since `previous`: worth one Warning event, not one per sync.
pub fn newly_false<'a>(previous: &LoadBalancerStatus, next: &'a LoadBalancerStatus, type_: &str) -> Option<&'a Condition> {
    let now = next.conditions.iter().find(|c| c.type_ == type_ && is_false(c))?;
    let already = previous.conditions.iter().any(|c| c.type_ == type_ && is_false(c) && c.reason == now.reason);
    (!already).then_some(now)
}

fn is_false(c: &Condition) -> bool {
    Status::of(&c.status) == Status::False
}

/// [`newly_false`] of `ZonesBalanced`.
pub fn newly_unbalanced<'a>(previous: &LoadBalancerStatus, next: &'a LoadBalancerStatus) -> Option<&'a Condition> {
    newly_false(previous, next, ZONES_BALANCED)
}

/// [`newly_false`] of `BackendsReachable`: a `PortsClosed` Warning event once, when the
/// condition turns False.
pub fn newly_unreachable<'a>(previous: &LoadBalancerStatus, next: &'a LoadBalancerStatus) -> Option<&'a Condition> {
    newly_false(previous, next, BACKENDS_REACHABLE)
}

/// Adds `groups` to `status.autoScalingGroups`: a sync that failed may have attached any
/// group it wanted (an attach AWS applied can still be answered with an error), and must
/// not forget it, or a group dropped from the spec before the next successful sync would
/// stay attached. Recording one that was not attached costs one name in the next sync's
/// describe, which then finds it detached, and that sync's status drops it.
pub fn remember_attached(status: &mut LoadBalancerStatus, groups: &BTreeSet<String>) {
    let mut all: BTreeSet<String> = status.auto_scaling_groups.iter().cloned().collect();
    all.extend(groups.iter().cloned());
    status.auto_scaling_groups = all.into_iter().collect();
}

/// The instance health a status recorded.
pub fn recorded_health(status: &LoadBalancerStatus) -> Vec<InstanceState> {
    status
        .instances
        .iter()
        .map(|i| InstanceState {
            instance_id: i.instance_id.clone(),
            state: health_state(&i.state),
            reason_code: i.reason_code.clone(),
            description: i.description.clone(),
        })
        .collect()
}

/// The `BackendsResolved` condition of `next` when it is False and was not already False
/// with the same message in `previous`: worth a Warning event, once.
pub fn newly_unresolved<'a>(previous: &LoadBalancerStatus, next: &'a LoadBalancerStatus) -> Option<&'a Condition> {
    let now = next.conditions.iter().find(|c| c.type_ == BACKENDS_RESOLVED && is_false(c))?;
    let already = previous.conditions.iter().any(|c| c.type_ == BACKENDS_RESOLVED && is_false(c) && c.message == now.message);
    (!already).then_some(now)
}

/// An instance's health as status spells it.
fn instance_state(h: &HealthState) -> crd::InstanceState {
    match h {
        HealthState::InService => crd::InstanceState::InService,
        HealthState::OutOfService => crd::InstanceState::OutOfService,
        HealthState::Unknown => crd::InstanceState::Unknown,
        HealthState::Other(s) => crd::InstanceState::Other(s.clone()),
    }
}

/// An instance's health as status recorded it, in the ELB's terms.
fn health_state(s: &crd::InstanceState) -> HealthState {
    match s {
        crd::InstanceState::InService => HealthState::InService,
        crd::InstanceState::OutOfService => HealthState::OutOfService,
        crd::InstanceState::Unknown => HealthState::Unknown,
        crd::InstanceState::Other(s) => HealthState::Other(s.clone()),
    }
}

/// The instances of the attached groups, with the zones AWS reported for them.
pub fn group_backends(groups: &plan::Groups) -> BTreeMap<String, Backend> {
    plan::group_instances(&BTreeSet::new(), groups)
        .into_iter()
        .map(|id| {
            let zone = groups.values().find_map(|g| g.zones.get(&id)).cloned();
            (id, Backend { zone, node: None })
        })
        .collect()
}

/// The resolved backends, plus the groups' instances they do not name (for zones).
fn with_groups(known: &BTreeMap<String, Backend>, from_groups: &BTreeMap<String, Backend>) -> BTreeMap<String, Backend> {
    let mut all = from_groups.clone();
    all.extend(known.iter().map(|(k, v)| (k.clone(), v.clone())));
    all
}

/// One status entry per instance ELB reports, sorted by id, with zone and node from the
/// resolved backends (else the zone of a group instance) and its source (the resolved
/// backends, else the instances of attached groups `from_groups`); and the
/// `InService/registered` summary.
pub fn instances(
    health: &[InstanceState],
    known: &BTreeMap<String, Backend>,
    from_groups: &BTreeMap<String, Backend>,
) -> (Vec<InstanceStatus>, String) {
    let health = dedupe(health);
    let mut out: Vec<InstanceStatus> = health
        .iter()
        .map(|h| {
            let backend = known.get(&h.instance_id);
            let group = from_groups.get(&h.instance_id);
            InstanceStatus {
                instance_id: h.instance_id.clone(),
                availability_zone: backend.and_then(|b| b.zone.clone()).or_else(|| group.and_then(|g| g.zone.clone())),
                node: backend.and_then(|b| b.node.clone()),
                state: instance_state(&h.state),
                reason_code: h.reason_code.as_deref().filter(|r| !r.is_empty() && *r != "N/A").map(|r| truncate(r, MAX_REASON)),
                description: h.description.as_deref().filter(|d| !d.is_empty() && *d != "N/A").map(|d| truncate(d, MAX_DESCRIPTION)),
                source: match (backend, group) {
                    (Some(_), _) => Some(InstanceSource::Backends),
                    (None, Some(_)) => Some(InstanceSource::AutoScalingGroup),
                    (None, None) => None,
                },
            }
        })
        .collect();
    out.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    let in_service = health.iter().filter(|h| h.state == HealthState::InService).count();
    let summary = format!("{in_service}/{}", out.len());
    out.truncate(MAX_STATUS_INSTANCES);
    (out, summary)
}

/// Instances listed in status at most (the summary still counts them all): a status must
/// stay far below the API server's object size limit, whatever the ELB reports.
pub const MAX_STATUS_INSTANCES: usize = 1000;
const MAX_REASON: usize = 128;
const MAX_DESCRIPTION: usize = 512;

/// One entry per instance id, the first one reported. AWS never repeats an instance, but
/// an odd answer (moto lists an instance twice after a repeated registration) must not
/// reach `status.instances`, a list keyed by instanceId that the API server refuses with
/// duplicates: every later status write would fail.
pub fn dedupe(health: &[InstanceState]) -> Vec<InstanceState> {
    let mut seen = BTreeSet::new();
    health.iter().filter(|h| seen.insert(h.instance_id.as_str())).cloned().collect()
}

/// `Ready` (see the module documentation).
pub fn ready_verdict(synced: bool, conflict: bool, selects_anything: bool, health: &[InstanceState]) -> Verdict {
    let total = health.len();
    let in_service = health.iter().filter(|h| h.state == HealthState::InService).count();
    if conflict {
        return Verdict::new(READY, false, "Conflict", "the load balancer with the wanted name is not owned by this resource");
    }
    if !synced {
        return Verdict::new(READY, false, "NotSynced", "the load balancer does not match the spec yet; see the Synced condition");
    }
    if in_service > 0 {
        return Verdict::new(READY, true, "InstancesInService", format!("{in_service}/{total} instances InService"));
    }
    if total == 0 && !selects_anything {
        return Verdict::new(READY, true, "NoBackendsSelected", "the load balancer exists and the spec selects no backends");
    }
    if total == 0 {
        return Verdict::new(READY, false, "NoBackends", "the backends select no instance");
    }
    Verdict::new(READY, false, "NoInstancesInService", format!("0/{total} instances InService"))
}

/// `BackendsResolved`: nodes whose instance cannot be determined are named, never guessed.
pub fn backends_verdict(resolved: &Resolved) -> Verdict {
    let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
    if !resolved.nodes_without_instance.is_empty() {
        return Verdict::new(
            BACKENDS_RESOLVED,
            false,
            "NodeWithoutProviderID",
            format!(
                "nodes without an AWS providerID (aws:///<zone>/<instance-id>) are not registered: {}",
                list(&resolved.nodes_without_instance)
            ),
        );
    }
    if !resolved.unknown_nodes.is_empty() {
        return Verdict::new(
            BACKENDS_RESOLVED,
            false,
            "NodeNotFound",
            format!("selected pods run on nodes that are not known: {}", list(&resolved.unknown_nodes)),
        );
    }
    if let Some((_, message)) = &resolved.not_allowed {
        return Verdict::new(BACKENDS_RESOLVED, false, crate::tenancy::INSTANCE_NOT_ALLOWED, message.clone());
    }
    Verdict::new(BACKENDS_RESOLVED, true, "Resolved", "every selected backend resolved to an EC2 instance")
}

pub fn conflict_verdict(conflict: Option<&str>) -> Verdict {
    match conflict {
        Some(message) => Verdict::new(CONFLICT, true, "NotOwned", message),
        None => Verdict::new(CONFLICT, false, "NoConflict", "no foreign load balancer uses the wanted name"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elb;

    #[test]
    fn instance_table_and_summary() {
        let h = |id: &str, state: &str, reason: Option<&str>| InstanceState {
            instance_id: id.into(),
            state: state.into(),
            reason_code: reason.map(String::from),
            description: Some("N/A".into()),
        };
        let known = [("i-2".to_string(), Backend { zone: Some("us-east-1b".into()), node: Some("n2".into()) })].into();
        let (list, summary) = instances(
            &[h("i-3", "OutOfService", Some("Instance")), h("i-2", "InService", Some("N/A")), h("i-1", "InService", None)],
            &known,
            &[("i-1".to_string(), Backend { zone: Some("us-east-1c".into()), node: None }), ("i-2".to_string(), Backend::default())].into(),
        );
        assert_eq!(summary, "2/3");
        let sources = list.iter().map(|i| i.source).collect::<Vec<_>>();
        assert_eq!(
            sources,
            [Some(InstanceSource::AutoScalingGroup), Some(InstanceSource::Backends), None],
            "a selected backend is the operator's even when a group has it too"
        );
        assert_eq!(list.iter().map(|i| i.instance_id.as_str()).collect::<Vec<_>>(), ["i-1", "i-2", "i-3"]);
        assert_eq!(list[1].node.as_deref(), Some("n2"));
        assert_eq!(list[1].availability_zone.as_deref(), Some("us-east-1b"));
        assert_eq!(list[1].reason_code, None, "N/A is dropped");
        assert_eq!(list[2].reason_code.as_deref(), Some("Instance"));
        assert_eq!(list[0].availability_zone.as_deref(), Some("us-east-1c"), "a group instance's zone comes from its group");
        assert_eq!(list[1].availability_zone.as_deref(), Some("us-east-1b"), "the node's zone first");
        assert_eq!(instances(&[], &known, &BTreeMap::new()).1, "0/0");
    }

    fn resolved(ids: &[(&str, Option<&str>)]) -> Resolved {
        Resolved::of_instances(ids)
    }

    #[test]
    fn ready_table() {
        let h = |states: &[&str]| -> Vec<InstanceState> {
            states
                .iter()
                .enumerate()
                .map(|(i, s)| InstanceState { instance_id: format!("i-{i}"), state: (*s).into(), reason_code: None, description: None })
                .collect()
        };
        let cases = [
            ("in service", true, false, true, h(&["InService", "OutOfService"]), true, "InstancesInService"),
            ("none in service", true, false, true, h(&["OutOfService"]), false, "NoInstancesInService"),
            ("no backends in spec", true, false, false, h(&[]), true, "NoBackendsSelected"),
            ("selectors match nothing", true, false, true, h(&[]), false, "NoBackends"),
            ("not synced", false, false, true, h(&["InService"]), false, "NotSynced"),
            ("conflict", false, true, true, h(&["InService"]), false, "Conflict"),
        ];
        for (name, synced, conflict, selects, health, want, reason) in cases {
            let v = ready_verdict(synced, conflict, selects, &health);
            assert_eq!((v.status, v.reason.as_str()), (Status::from(want), reason), "case {name}");
        }
        assert_eq!(ready_verdict(true, false, true, &h(&["InService", "OutOfService"])).message, "1/2 instances InService");
    }

    #[test]
    fn backends_verdict_names_nodes() {
        let mut r = resolved(&[]);
        assert_eq!(backends_verdict(&r).status, Status::True);
        r.nodes_without_instance.insert("n3".into());
        let v = backends_verdict(&r);
        assert_eq!(v.status, Status::False);
        assert_eq!(v.reason, "NodeWithoutProviderID");
        assert!(v.message.contains("n3"));
    }

    fn health(states: &[(&str, &str)]) -> Vec<InstanceState> {
        states
            .iter()
            .map(|(id, s)| InstanceState { instance_id: id.to_string(), state: (*s).into(), reason_code: None, description: None })
            .collect()
    }

    fn condition<'a>(status: &'a LoadBalancerStatus, type_: &str) -> &'a Condition {
        status.conditions.iter().find(|c| c.type_ == type_).unwrap_or_else(|| panic!("no {type_} in {:?}", status.conditions))
    }

    #[test]
    fn group_instances_are_marked_and_attached_groups_listed_and_a_poll_keeps_both() {
        use crate::sync::plan::ObservedGroup;
        let r = resolved(&[("i-1", None)]);
        let group = |attached: bool, ids: &[&str]| ObservedGroup {
            attached,
            instances: ids.iter().map(|i| i.to_string()).collect(),
            zones: ids.iter().map(|i| (i.to_string(), "us-east-1a".to_string())).collect(),
        };
        let converged = Converged {
            description: elb::LoadBalancerDescription {
                name: "lb".into(),
                availability_zones: vec!["us-east-1a".into()],
                ..Default::default()
            },
            health: Some(health(&[("i-1", "InService"), ("i-7", "InService"), ("i-9", "OutOfService")])),
            attributes: Default::default(),
            // "old" was just detached: AWS is deregistering i-9.
            groups: [("web".to_string(), group(true, &["i-7"])), ("old".to_string(), group(false, &["i-9"]))].into(),
            provisional: false,
        };
        let at = Time(k8s_openapi::jiff::Timestamp::now());
        let synced = next(
            &LoadBalancerStatus::default(),
            Some(1),
            &Observation::Synced { converged: &converged, region: "us-east-1", resolved: &r, at: &at, cross_zone: None },
        );
        assert_eq!(synced.auto_scaling_groups, ["web"]);
        let sources = |s: &LoadBalancerStatus| s.instances.iter().map(|i| (i.instance_id.clone(), i.source)).collect::<Vec<_>>();
        let expect = vec![
            ("i-1".to_string(), Some(InstanceSource::Backends)),
            ("i-7".to_string(), Some(InstanceSource::AutoScalingGroup)),
            ("i-9".to_string(), None),
        ];
        assert_eq!(sources(&synced), expect);
        assert_eq!(synced.instances[1].availability_zone.as_deref(), Some("us-east-1a"));
        // Zone balance counts the group's instance in its zone (i-1's zone is unknown).
        assert_eq!(synced.zones, [crate::crd::ZoneStatus { name: "us-east-1a".into(), instances: 1, in_service: 1 }]);
        assert_eq!(condition(&synced, ZONES_BALANCED).status, "True");
        let polled = next(
            &synced,
            Some(1),
            &Observation::HealthPolled {
                health: &health(&[("i-1", "InService"), ("i-7", "OutOfService")]),
                resolved: &r,
                at: &at,
                cross_zone: None,
            },
        );
        assert_eq!(sources(&polled), expect[..2].to_vec());
        assert_eq!(
            polled.zones,
            [crate::crd::ZoneStatus { name: "us-east-1a".into(), instances: 1, in_service: 0 }],
            "zones kept by a poll"
        );
        assert_eq!(polled.auto_scaling_groups, ["web"]);
        let failed = next(
            &polled,
            Some(2),
            &Observation::Failed {
                synced: Verdict::new(SYNCED, false, "ValidationError", "m"),
                conflict: None,
                resolved: None,
                transient: false,
            },
        );
        assert_eq!(failed.auto_scaling_groups, ["web"], "a failure forgets no attached group");
        let mut after_attach = failed.clone();
        remember_attached(&mut after_attach, &["api".to_string(), "web".to_string()].into());
        assert_eq!(after_attach.auto_scaling_groups, ["api", "web"], "a group a failed sync may have attached is remembered");
    }

    #[test]
    fn a_sync_then_a_failure_then_a_poll() {
        let r = resolved(&[("i-1", Some("us-east-1a")), ("i-2", None)]);
        let converged = Converged {
            description: elb::LoadBalancerDescription {
                name: "lb".into(),
                dns_name: "lb.example".into(),
                availability_zones: vec!["us-east-1b".into(), "us-east-1a".into()],
                ..Default::default()
            },
            health: Some(health(&[("i-2", "OutOfService"), ("i-1", "InService")])),
            attributes: Default::default(),
            groups: Default::default(),
            provisional: false,
        };
        let at = Time(k8s_openapi::jiff::Timestamp::now());
        let synced = next(
            &LoadBalancerStatus::default(),
            Some(3),
            &Observation::Synced { converged: &converged, region: "us-east-1", resolved: &r, at: &at, cross_zone: None },
        );
        assert_eq!(synced.dns_name.as_deref(), Some("lb.example"));
        assert_eq!(synced.availability_zones, ["us-east-1a", "us-east-1b"]);
        assert_eq!(synced.healthy.as_deref(), Some("1/2"));
        assert_eq!(synced.observed_generation, Some(3));
        assert_eq!(condition(&synced, READY).status, "True");
        assert_eq!(condition(&synced, SYNCED).reason, "Synced");
        assert_eq!(condition(&synced, BACKENDS_RESOLVED).status, "True");
        assert_eq!(
            next(
                &synced,
                Some(3),
                &Observation::Synced { converged: &converged, region: "us-east-1", resolved: &r, at: &at, cross_zone: None }
            ),
            synced,
            "idempotent"
        );

        // A failure keeps what was observed and says why; backends keep their last verdict.
        let failed = next(
            &synced,
            Some(4),
            &Observation::Failed {
                synced: Verdict::new(SYNCED, false, "Throttling", "slow down"),
                conflict: None,
                resolved: None,
                transient: true,
            },
        );
        assert_eq!(failed.dns_name, synced.dns_name);
        assert_eq!(failed.instances, synced.instances);
        assert_eq!((condition(&failed, SYNCED).status.as_str(), condition(&failed, SYNCED).reason.as_str()), ("False", "Throttling"));
        let backends = |s: &LoadBalancerStatus| {
            let c = condition(s, BACKENDS_RESOLVED);
            (c.status.clone(), c.reason.clone(), c.last_transition_time.clone())
        };
        assert_eq!(backends(&failed), backends(&synced));
        assert_eq!(failed.observed_generation, Some(4));
        let ready = |s: &LoadBalancerStatus| {
            let c = condition(s, READY);
            (c.status.clone(), c.reason.clone(), c.message.clone(), c.last_transition_time.clone())
        };
        assert_eq!(ready(&failed), ready(&synced), "a throttle says nothing about traffic");
        let refused = next(
            &synced,
            Some(4),
            &Observation::Failed {
                synced: Verdict::new(SYNCED, false, "ValidationError", "no"),
                conflict: None,
                resolved: None,
                transient: false,
            },
        );
        assert_eq!(condition(&refused, READY).reason, "NotSynced");

        // A poll changes the instance table and Ready only.
        let polled = next(
            &synced,
            Some(3),
            &Observation::HealthPolled {
                health: &health(&[("i-1", "OutOfService"), ("i-2", "OutOfService")]),
                resolved: &r,
                at: &at,
                cross_zone: None,
            },
        );
        assert_eq!(polled.healthy.as_deref(), Some("0/2"));
        assert_eq!(condition(&polled, READY).reason, "NoInstancesInService");
        assert_eq!(condition(&polled, SYNCED), condition(&synced, SYNCED));
        assert_eq!(polled.conditions.len(), synced.conditions.len());
        assert_eq!(polled.instances_observed_time, Some(at.clone()));

        // A sync that did not read health keeps the last observation and its time.
        let unread = Converged { health: None, ..converged.clone() };
        let later = Time(k8s_openapi::jiff::Timestamp::now());
        let kept = next(
            &polled,
            Some(3),
            &Observation::Synced { converged: &unread, region: "us-east-1", resolved: &r, at: &later, cross_zone: None },
        );
        assert_eq!(kept.instances, polled.instances);
        assert_eq!(kept.instances_observed_time, Some(at));
        assert_eq!(condition(&kept, READY).reason, "NoInstancesInService");
    }

    #[test]
    fn duplicates_from_the_elb_never_reach_status() {
        let r = resolved(&[("i-1", None)]);
        let twice = health(&[("i-1", "InService"), ("i-1", "InService"), ("i-2", "OutOfService")]);
        let at = Time(k8s_openapi::jiff::Timestamp::now());
        let s = next(
            &LoadBalancerStatus::default(),
            Some(1),
            &Observation::HealthPolled { health: &twice, resolved: &r, at: &at, cross_zone: None },
        );
        assert_eq!(s.instances.iter().map(|i| i.instance_id.as_str()).collect::<Vec<_>>(), ["i-1", "i-2"]);
        assert_eq!(s.healthy.as_deref(), Some("1/2"));
        let many: Vec<InstanceState> =
            (0..MAX_STATUS_INSTANCES + 5).map(|i| health(&[(&format!("i-{i:05}"), "InService")]).remove(0)).collect();
        let (list, summary) = instances(&many, &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(list.len(), MAX_STATUS_INSTANCES);
        assert_eq!(summary, format!("{0}/{0}", MAX_STATUS_INSTANCES + 5));
    }

    #[test]
    fn reachability_is_written_by_checks_only_and_warns_once_when_ports_close() {
        let r = resolved(&[("i-1", None)]);
        let converged = Converged {
            description: elb::LoadBalancerDescription { name: "lb".into(), ..Default::default() },
            health: Some(health(&[("i-1", "OutOfService")])),
            attributes: Default::default(),
            groups: Default::default(),
            provisional: false,
        };
        let at = Time(k8s_openapi::jiff::Timestamp::now());
        let sync = |prev: &LoadBalancerStatus| {
            next(
                prev,
                Some(1),
                &Observation::Synced { converged: &converged, region: "us-east-1", resolved: &r, at: &at, cross_zone: None },
            )
        };
        let synced = sync(&LoadBalancerStatus::default());
        assert!(synced.conditions.iter().all(|c| c.type_ != BACKENDS_REACHABLE), "not before a check");

        let closed = Verdict::new(BACKENDS_REACHABLE, false, "PortsClosed", "no security group rule admits the load balancer on i-1:80");
        let checked = next(&synced, Some(1), &Observation::Reachability(&closed));
        let c = condition(&checked, BACKENDS_REACHABLE);
        assert_eq!((c.status.as_str(), c.reason.as_str(), c.message.as_str()), ("False", "PortsClosed", closed.message.as_str()));
        assert_eq!(checked.conditions.len(), synced.conditions.len() + 1);
        for type_ in [READY, SYNCED, BACKENDS_RESOLVED, ZONES_BALANCED] {
            assert_eq!(condition(&checked, type_), condition(&synced, type_), "{type_} is not the check's");
        }
        assert_eq!(condition(&checked, READY).status, "False", "closed ports do not make Ready True or False by themselves");
        assert_eq!(newly_unreachable(&synced, &checked).map(|c| c.reason.as_str()), Some("PortsClosed"));

        // Syncs and failures carry it over unchanged; the same verdict again warns no more.
        let resynced = sync(&checked);
        assert_eq!(condition(&resynced, BACKENDS_REACHABLE), condition(&checked, BACKENDS_REACHABLE));
        assert!(newly_unreachable(&checked, &resynced).is_none());
        let failed = next(
            &resynced,
            Some(2),
            &Observation::Failed {
                synced: Verdict::new(SYNCED, false, "Throttling", "x"),
                conflict: None,
                resolved: None,
                transient: true,
            },
        );
        assert_eq!(condition(&failed, BACKENDS_REACHABLE), condition(&checked, BACKENDS_REACHABLE));
        let again = next(&failed, Some(2), &Observation::Reachability(&closed));
        assert!(newly_unreachable(&failed, &again).is_none(), "still closed: no second warning");

        // Open, then closed again: a new warning. Unknown is no warning.
        let open = Verdict::new(BACKENDS_REACHABLE, true, "PortsOpen", "open");
        let opened = next(&again, Some(2), &Observation::Reachability(&open));
        assert_eq!(condition(&opened, BACKENDS_REACHABLE).status, "True");
        assert!(newly_unreachable(&again, &opened).is_none());
        let closed_again = next(&opened, Some(2), &Observation::Reachability(&closed));
        assert!(newly_unreachable(&opened, &closed_again).is_some());
        let unknown = next(&opened, Some(2), &Observation::Reachability(&Verdict::unknown(BACKENDS_REACHABLE, "EC2NotAllowed", "no")));
        assert_eq!(condition(&unknown, BACKENDS_REACHABLE).status, "Unknown");
        assert!(newly_unreachable(&opened, &unknown).is_none());
    }

    #[test]
    fn unresolved_backends_warn_once() {
        let mut r = resolved(&[]);
        r.nodes_without_instance.insert("n1".into());
        let failed = |prev: &LoadBalancerStatus| {
            next(
                prev,
                Some(1),
                &Observation::Failed {
                    synced: Verdict::new(SYNCED, false, "X", "x"),
                    conflict: None,
                    resolved: Some(&r),
                    transient: false,
                },
            )
        };
        let first = failed(&LoadBalancerStatus::default());
        assert!(newly_unresolved(&LoadBalancerStatus::default(), &first).is_some_and(|c| c.message.contains("n1")));
        assert!(newly_unresolved(&first, &failed(&first)).is_none(), "same message: no second warning");
    }
}
