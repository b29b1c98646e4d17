//! Pure planning: the desired ELB state and the observed one in, an ordered list of ELB
//! actions out. Nothing here performs I/O; [`super::execute`] applies the
//! actions, one ELB call each.
//!
//! Order of a plan for an existing ELB, and why:
//! 1. tags (ownership first, so an adopted ELB is marked before anything else changes);
//! 2. placement: new zones/subnets before removed ones, so the ELB never has none;
//! 3. security groups;
//! 4. listeners, per port: a changed listener is deleted and re-created on its own port,
//!    the others are left alone; a certificate-only change uses SetLoadBalancerListenerSSLCertificate;
//! 5. policies (stickiness, PROXY protocol): create, attach, then delete unused ones;
//! 6. health check; 7. attributes (only the fields the spec sets);
//! 8. instances: registrations before deregistrations (capacity never dips), in batches;
//!    the instances of Auto Scaling groups are AWS's to register and deregister, never ours;
//! 9. Auto Scaling groups: attach before detach, one AutoScaling call per group.

mod action;
mod attributes;
mod listeners;
mod placement;
mod policies;
mod tags;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

pub use action::{Action, Change};
pub use attributes::plan_attributes;
pub use listeners::plan_listeners;
use listeners::sorted_listeners;
pub use placement::plan_placement;
pub use policies::{plan_policies, ssl_policy_name, Stickiness, POLICY_PREFIX, PROXY_PROTOCOL_POLICY};
pub use tags::{managed_tags, plan_tags};

use crate::elb::{
    CreateLoadBalancerInput, HealthCheck, HealthTarget, Listener, LoadBalancerAttributes, LoadBalancerDescription, Scheme, Tag,
};

/// Instances per RegisterInstancesWithLoadBalancer / DeregisterInstancesFromLoadBalancer call.
pub const INSTANCE_BATCH: usize = 20;

/// Where the ELB is placed. An empty set means "not managed": the planner never empties
/// the placement of an ELB (AWS refuses it), and cannot create an ELB without one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Placement {
    Zones(BTreeSet<String>),
    Subnets(BTreeSet<String>),
}

impl Placement {
    fn is_empty(&self) -> bool {
        match self {
            Placement::Zones(z) => z.is_empty(),
            Placement::Subnets(s) => s.is_empty(),
        }
    }
}

/// The ELB as the spec (plus resolved backends and the referenced health check) wants it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Desired {
    pub name: String,
    /// `None` = AWS default (internet-facing).
    pub scheme: Option<Scheme>,
    /// One per front-end port (the planner keys listeners by port).
    pub listeners: Vec<Listener>,
    pub placement: Placement,
    /// `None`: security groups are not managed (the spec lists none).
    pub security_groups: Option<BTreeSet<String>>,
    /// `None`: the health check is not managed (no healthCheckRef).
    pub health_check: Option<HealthCheck>,
    /// Only the `Some` fields are managed.
    pub attributes: LoadBalancerAttributes,
    /// User tags plus the ownership tags.
    pub tags: BTreeMap<String, String>,
    pub instances: BTreeSet<String>,
    /// Auto Scaling groups attached to the ELB (`spec.backends.autoScalingGroups`).
    pub auto_scaling_groups: BTreeSet<String>,
    /// Cookie stickiness per front-end port.
    pub stickiness: BTreeMap<u16, Stickiness>,
    /// Instance ports that receive the PROXY protocol header.
    pub proxy_protocol_ports: BTreeSet<u16>,
    /// The predefined TLS security policy (`ELBSecurityPolicy-…`) per HTTPS/SSL front-end port.
    pub ssl_policies: BTreeMap<u16, String>,
}

/// The ELB as AWS describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    pub description: LoadBalancerDescription,
    pub tags: BTreeMap<String, String>,
    pub attributes: LoadBalancerAttributes,
    /// The Auto Scaling groups looked at (wanted, or recorded as attached by this resource).
    pub groups: Groups,
}

/// Auto Scaling groups by name, as DescribeAutoScalingGroups reported them; a group that is
/// not in the map does not exist.
pub type Groups = BTreeMap<String, ObservedGroup>;

/// One Auto Scaling group, seen from one ELB.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedGroup {
    /// Whether the group is attached to this ELB.
    pub attached: bool,
    /// The group's instances.
    pub instances: BTreeSet<String>,
    /// Their availability zones, where reported (instance id → zone).
    pub zones: BTreeMap<String, String>,
}

/// The instances AWS registers and deregisters itself: those of the groups attached to the
/// ELB or about to be (once attached, AWS registers them; once detached, it deregisters
/// them). The instance diff leaves them alone.
pub fn group_instances(wanted: &BTreeSet<String>, groups: &Groups) -> BTreeSet<String> {
    groups.iter().filter(|(name, g)| g.attached || wanted.contains(*name)).flat_map(|(_, g)| g.instances.iter().cloned()).collect()
}

impl Observed {
    /// Tags as DescribeTags returns them (a missing value reads as "").
    pub fn tags_from(tags: &[Tag]) -> BTreeMap<String, String> {
        tags.iter().map(|t| (t.key.clone(), t.value.clone().unwrap_or_default())).collect()
    }
}

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The scheme cannot change after creation.
    #[error("the load balancer's scheme is {observed} but the spec asks for {desired}; the scheme cannot change (delete the resource to re-create the load balancer)")]
    SchemeMismatch { observed: Scheme, desired: Scheme },
    /// No zones or subnets to create the ELB in.
    #[error("no availability zones or subnets: set spec.availabilityZones or spec.subnets, or select backends whose nodes have a zone")]
    NoPlacement,
}

impl PlanError {
    /// The `Synced=False` condition and event reason.
    pub fn reason(&self) -> &'static str {
        match self {
            PlanError::SchemeMismatch { .. } => "SchemeMismatch",
            PlanError::NoPlacement => "NoPlacement",
        }
    }
}

/// The actions that turn `observed` (or nothing, when the ELB does not exist) into `desired`.
///
/// `written` is the record of the tag keys the operator wrote from the spec before (see
/// [`plan_tags`]): only those, and its own markers, are ever removed; `None` (the record is
/// lost, or the caller has none) removes no spec key.
pub fn plan(desired: &Desired, observed: Option<&Observed>, written: Option<&BTreeSet<String>>) -> Result<Vec<Action>, PlanError> {
    match observed {
        None => plan_create(desired),
        Some(observed) => plan_update(desired, observed, written),
    }
}

fn plan_create(d: &Desired) -> Result<Vec<Action>, PlanError> {
    if d.placement.is_empty() {
        return Err(PlanError::NoPlacement);
    }
    let (availability_zones, subnets) = match &d.placement {
        Placement::Zones(z) => (z.iter().cloned().collect(), vec![]),
        Placement::Subnets(s) => (vec![], s.iter().cloned().collect()),
    };
    let mut actions = vec![Action::Create(CreateLoadBalancerInput {
        name: d.name.clone(),
        listeners: sorted_listeners(&d.listeners),
        availability_zones,
        subnets,
        security_groups: d.security_groups.iter().flatten().cloned().collect(),
        scheme: d.scheme.clone(),
        tags: d.tags.iter().map(|(k, v)| Tag { key: k.clone(), value: Some(v.clone()) }).collect(),
    })];
    if let Some(hc) = &d.health_check {
        actions.push(Action::ConfigureHealthCheck(hc.clone()));
    }
    actions.extend(plan_policies(d, &LoadBalancerDescription::default(), &BTreeSet::new()));
    if d.attributes != LoadBalancerAttributes::default() {
        actions.push(Action::ModifyAttributes(d.attributes.clone()));
    }
    actions.extend(batches(&d.instances.iter().cloned().collect::<Vec<_>>(), Action::RegisterInstances));
    actions.extend(plan_groups(&d.auto_scaling_groups, &Groups::new()));
    Ok(actions)
}

fn plan_update(d: &Desired, o: &Observed, written: Option<&BTreeSet<String>>) -> Result<Vec<Action>, PlanError> {
    let desc = &o.description;
    if let Some(want) = &d.scheme {
        if *want != desc.scheme {
            return Err(PlanError::SchemeMismatch { observed: desc.scheme.clone(), desired: want.clone() });
        }
    }
    let mut actions = Vec::new();
    actions.extend(plan_tags(&d.tags, &o.tags, written));
    actions.extend(plan_placement(&d.placement, desc));
    if let Some(groups) = &d.security_groups {
        let observed: BTreeSet<String> = desc.security_groups.iter().cloned().collect();
        if !groups.is_empty() && *groups != observed {
            actions.push(Action::ApplySecurityGroups(groups.iter().cloned().collect()));
        }
    }
    let listener_actions = plan_listeners(&d.listeners, &desc.listeners.iter().map(|l| l.listener.clone()).collect::<Vec<_>>());
    // Listeners deleted or created now carry no policy afterwards.
    let fresh_ports: BTreeSet<u16> = listener_actions
        .iter()
        .flat_map(|a| match a {
            Action::DeleteListener(p) => vec![*p],
            Action::CreateListeners(l) => l.iter().map(|l| l.load_balancer_port).collect(),
            _ => vec![],
        })
        .collect();
    actions.extend(listener_actions);
    actions.extend(plan_policies(d, desc, &fresh_ports));
    if let Some(hc) = &d.health_check {
        if desc.health_check.as_ref().is_none_or(|o| !same_health_check(hc, o)) {
            actions.push(Action::ConfigureHealthCheck(hc.clone()));
        }
    }
    if let Some(changes) = plan_attributes(&d.attributes, &o.attributes) {
        actions.push(Action::ModifyAttributes(changes));
    }
    let aws_managed = group_instances(&d.auto_scaling_groups, &o.groups);
    let registered: Vec<String> =
        desc.instances.iter().filter(|i| !aws_managed.contains(*i) || d.instances.contains(*i)).cloned().collect();
    actions.extend(plan_instances(&d.instances, &registered));
    actions.extend(plan_groups(&d.auto_scaling_groups, &o.groups));
    Ok(actions)
}

/// Attaches the wanted groups not attached (a group that does not exist too: the attach
/// reports it), then detaches the observed groups attached but no longer wanted.
pub fn plan_groups(wanted: &BTreeSet<String>, groups: &Groups) -> Vec<Action> {
    let attached = |name: &String| groups.get(name).is_some_and(|g| g.attached);
    let attach = wanted.iter().filter(|g| !attached(g)).cloned().map(Action::AttachGroup);
    let detach = groups.iter().filter(|(name, g)| g.attached && !wanted.contains(*name)).map(|(name, _)| Action::DetachGroup(name.clone()));
    attach.chain(detach).collect()
}

fn same_health_check(a: &HealthCheck, b: &HealthCheck) -> bool {
    // AWS keeps the target as sent but compares the protocol without case: typed targets
    // compare as AWS does; one that does not parse is compared as text.
    let same_target = match (HealthTarget::parse_described(&a.target), HealthTarget::parse_described(&b.target)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.target == b.target,
    };
    same_target
        && a.interval == b.interval
        && a.timeout == b.timeout
        && a.healthy_threshold == b.healthy_threshold
        && a.unhealthy_threshold == b.unhealthy_threshold
}

/// Register the missing instances, then deregister the unwanted ones, [`INSTANCE_BATCH`] per call.
pub fn plan_instances(desired: &BTreeSet<String>, registered: &[String]) -> Vec<Action> {
    let have: BTreeSet<String> = registered.iter().cloned().collect();
    let add: Vec<String> = desired.difference(&have).cloned().collect();
    let remove: Vec<String> = have.difference(desired).cloned().collect();
    let mut actions = batches(&add, Action::RegisterInstances);
    actions.extend(batches(&remove, Action::DeregisterInstances));
    actions
}

fn batches(ids: &[String], make: fn(Vec<String>) -> Action) -> Vec<Action> {
    ids.chunks(INSTANCE_BATCH).map(|c| make(c.to_vec())).collect()
}
