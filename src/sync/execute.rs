//! The ELB side of a reconcile, without Kubernetes: observe the ELB (and the Auto Scaling
//! groups it concerns), check ownership, plan, apply each action as one ELB or AutoScaling
//! call, and read back what status needs. It takes any [`ElbApi`] and
//! [`crate::autoscaling::AutoScalingApi`], so it is tested directly against moto (`tests/reconcile/elb_side.rs`).

use std::collections::BTreeSet;

use tracing::{debug, info};

pub use super::calls::{apply, describe, poll_health, Apis};
use super::calls::{apply_to, groups_of, observe_groups, tags_of};
use super::inventory::{GroupsSeen, Seen};
use super::names::{Found, NameCheck};
use super::ownership::{self, Admission, ConflictReason, Owner, Ownership};
use super::plan::{self, Action, Desired, Groups, Observed, PlanError};
pub use super::removal::{delete, delete_unless, detach_groups, mark_retained, DeleteOutcome, Deleted};
use crate::aws;
use crate::elb::{self, ElbApi, InstanceState, ListenerDescription, LoadBalancerAttributes, LoadBalancerDescription};

/// The ELB after a successful convergence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converged {
    pub description: LoadBalancerDescription,
    /// Health of every registered instance (DescribeInstanceHealth); `None` when nothing
    /// changed and the caller did not ask for it ([`Known::read_health`]).
    pub health: Option<Vec<InstanceState>>,
    /// The attributes observed (managed fields only; default when none is managed).
    pub attributes: LoadBalancerAttributes,
    /// The Auto Scaling groups looked at, as the applied attaches and detaches left them.
    pub groups: Groups,
    /// The ELB was created by this convergence, and `description` made from the desired
    /// state and CreateLoadBalancer's answer instead of read back ([`Known::names`]): what
    /// AWS derives (the VPC, a default security group, the zones of subnets, the source
    /// security group) is missing until a describe completes it.
    pub provisional: bool,
}

impl Converged {
    /// The names of the groups attached to the ELB, sorted.
    pub fn attached_groups(&self) -> Vec<String> {
        self.groups.iter().filter(|(_, g)| g.attached).map(|(n, _)| n.clone()).collect()
    }
}

/// What the caller already knows about the ELB, to spare describes.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    /// The ELB as an inventory saw it (with its tags), or `None` to describe it by name.
    pub seen: Option<&'a Seen>,
    /// Its attributes when last read; `None` to read them if the desired state manages any.
    pub attributes: Option<&'a LoadBalancerAttributes>,
    /// Read instance health even when nothing changed.
    pub read_health: bool,
    /// Groups this resource recorded as attached (`status.autoScalingGroups`): looked at
    /// with the wanted ones, so that a group removed from the spec is detached.
    pub recorded_groups: &'a [String],
    /// The groups an inventory pass read; used instead of a describe when it asked for
    /// every group this sync looks at.
    pub groups_seen: Option<&'a GroupsSeen>,
    /// The record of the spec tag keys the operator wrote (kept in status from the last
    /// [`Report::managed_tags`]): only those are removed when they leave the spec. `None`
    /// when there is no record (lost, or never kept): no spec tag is removed then, so a tag
    /// the operator never wrote is never stripped.
    pub written_tags: Option<&'a BTreeSet<String>>,
    /// The scope's name checks, for an ELB the caller never saw created: whether it exists
    /// comes from the listing the scope's creates share instead of a describe by name, and
    /// after a create the DNS name comes from its answer instead of a read-back describe.
    pub names: Option<&'a NameCheck>,
}

impl Default for Known<'_> {
    fn default() -> Self {
        Known { seen: None, attributes: None, read_health: true, recorded_groups: &[], groups_seen: None, written_tags: None, names: None }
    }
}

/// How a convergence ended, when no call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The ELB matches the desired state.
    Converged(Box<Converged>),
    /// An ELB with the wanted name is not ours; nothing was changed. `reason` is the
    /// condition reason ([`ConflictReason::as_str`]).
    Conflict { claimed_by: Option<String>, reason: ConflictReason },
}

/// Why a convergence stopped.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// An ELB call failed; its message names the action, code and AWS message.
    #[error(transparent)]
    Elb(#[from] aws::Error),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// What a convergence did: the actions that succeeded (in order), whether it adopted a
/// foreign ELB (decided before any call, so known even when a later call failed), how it
/// ended, and the tag record to keep.
#[derive(Debug)]
pub struct Report {
    pub applied: Vec<Action>,
    pub adopted: bool,
    pub result: Result<Outcome, Failure>,
    /// The spec tag keys the operator manages after this convergence: the record to keep
    /// (in status) and pass back as [`Known::written_tags`] next time. After a failure it
    /// also holds the keys of the record given, whose removal may not have happened.
    pub managed_tags: BTreeSet<String>,
}

/// Brings the ELB `desired.name` to `desired`. Whether an existing ELB may be changed is
/// [`Ownership::admits`]: a foreign ELB is never changed; with `adopt`, an ELB that no one
/// claims is taken over (it gets the ownership tags and [`ownership::ADOPTED_TAG`]). An ELB
/// claimed by another resource, cluster or controller is never adopted.
pub async fn converge(elb: &dyn ElbApi, desired: &Desired, owner: &Owner, adopt: bool) -> Report {
    converge_from(Apis { elb, autoscaling: None }, desired, owner, adopt, Known::default()).await
}

/// [`converge`], starting from what the caller already knows. An ELB the inventory did not
/// see is still described by name first: a foreign ELB may have taken the name since, and
/// only a fresh describe keeps the operator from creating over it.
pub async fn converge_from(apis: Apis<'_>, desired: &Desired, owner: &Owner, adopt: bool, known: Known<'_>) -> Report {
    let mut applied = Vec::new();
    let mut adopted = false;
    let result = converge_into(apis, desired, owner, adopt, known, &mut applied, &mut adopted).await;
    let mut managed_tags = plan::managed_tags(&desired.tags);
    if result.is_err() {
        managed_tags.extend(known.written_tags.into_iter().flatten().cloned());
    }
    Report { applied, adopted, result, managed_tags }
}

/// What a sync would do, observed and planned but not applied ([`preview`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preview {
    /// The calls a sync would make, in order; `exists` tells whether the ELB exists, and
    /// `adopt` whether the sync would adopt it.
    Planned { actions: Vec<Action>, exists: bool, adopt: bool },
    /// An ELB with the wanted name is not ours: a sync would change nothing.
    Conflict { claimed_by: Option<String>, reason: ConflictReason },
}

/// What [`converge_from`] would do with the same arguments, with read calls only: the same
/// observation, ownership check and plan, without applying any action. `elb-operator plan`
/// prints it.
pub async fn preview(apis: Apis<'_>, desired: &Desired, owner: &Owner, adopt: bool, known: Known<'_>) -> Result<Preview, Failure> {
    let mut adopted = false;
    Ok(match observe_and_plan(apis, desired, owner, adopt, known, &mut adopted).await? {
        Err((claimed_by, reason)) => Preview::Conflict { claimed_by, reason },
        Ok(planned) => Preview::Planned { actions: planned.actions, exists: planned.observed.is_some(), adopt: adopted },
    })
}

/// The ELB observed and the plan from it: what a convergence applies.
struct Planned {
    observed: Option<Observed>,
    groups: Groups,
    actions: Vec<Action>,
}

async fn converge_into(
    apis: Apis<'_>,
    desired: &Desired,
    owner: &Owner,
    adopt: bool,
    known: Known<'_>,
    applied: &mut Vec<Action>,
    adopted: &mut bool,
) -> Result<Outcome, Failure> {
    let Planned { observed, mut groups, actions } = match observe_and_plan(apis, desired, owner, adopt, known, adopted).await? {
        Ok(planned) => planned,
        Err((claimed_by, reason)) => return Ok(Outcome::Conflict { claimed_by, reason }),
    };
    let elb = apis.elb;
    let name = desired.name.as_str();
    let mut created = None;
    for action in actions {
        match &action {
            Action::Create(input) => {
                let sent = tokio::time::Instant::now();
                match elb.create_load_balancer(input).await {
                    Ok(dns_name) => {
                        if let Some(names) = known.names {
                            names.created(name, sent);
                        }
                        created = Some(dns_name)
                    }
                    Err(e) => {
                        // Applied or not: the next sync finds out from a listing taken
                        // after this create, rather than sending it again.
                        if let (true, Some(names)) = (e.maybe_applied(), known.names) {
                            names.create_uncertain(name, sent);
                        }
                        return Err(e.into());
                    }
                }
            }
            _ => apply_to(apis, &groups, name, &action).await?,
        }
        match &action {
            Action::AttachGroup(g) => groups.entry(g.clone()).or_default().attached = true,
            Action::DetachGroup(g) => groups.entry(g.clone()).or_default().attached = false,
            _ => {}
        }
        applied.push(action);
    }
    let unchanged = applied.is_empty();
    // A new ELB's read-back is spared where its answer and the hosted-zone table tell what
    // status needs; a region missing from the table is described.
    let zone = elb::hosted_zone_id(elb.region());
    let provisional = known.names.is_some() && created.is_some() && zone.is_some();
    let (description, attributes) = match (unchanged, observed) {
        (true, Some(observed)) => (observed.description, observed.attributes),
        (_, observed) => {
            let attributes = match applied.iter().rev().find_map(|a| if let Action::ModifyAttributes(a) = a { Some(a) } else { None }) {
                Some(modified) => merge_attributes(observed.map(|o| o.attributes).unwrap_or_default(), modified),
                None => observed.map(|o| o.attributes).unwrap_or_default(),
            };
            let description = match created {
                Some(dns_name) if provisional => made(desired, applied, &groups, dns_name, zone),
                // Read back what the changes produced (DNS name, effective zones, ...).
                _ => describe(elb, name).await?.ok_or_else(|| not_found(name))?,
            };
            (description, attributes)
        }
    };
    let health = if description.instances.is_empty() {
        Some(Vec::new())
    } else if unchanged && !known.read_health {
        None
    } else {
        Some(elb.describe_instance_health(name, &[]).await?)
    };
    Ok(Outcome::Converged(Box::new(Converged { description, health, attributes, groups, provisional })))
}

/// The description of an ELB just created by `applied` (CreateLoadBalancer first), from the
/// desired state, the DNS name CreateLoadBalancer answered and the region's hosted zone. Its
/// instances are those registered, and those of the groups attached (AWS registers them).
fn made(desired: &Desired, applied: &[Action], groups: &Groups, dns_name: String, zone: Option<&str>) -> LoadBalancerDescription {
    let (availability_zones, subnets) = match &desired.placement {
        plan::Placement::Zones(z) => (z.iter().cloned().collect(), Vec::new()),
        plan::Placement::Subnets(s) => (Vec::new(), s.iter().cloned().collect()),
    };
    let mut instances: BTreeSet<String> =
        applied.iter().filter_map(|a| if let Action::RegisterInstances(ids) = a { Some(ids) } else { None }).flatten().cloned().collect();
    instances.extend(plan::group_instances(&desired.auto_scaling_groups, groups));
    LoadBalancerDescription {
        name: desired.name.clone(),
        dns_name,
        canonical_hosted_zone_name_id: zone.map(str::to_string),
        scheme: desired.scheme.clone().unwrap_or_default(),
        listeners: desired.listeners.iter().map(|l| ListenerDescription { listener: l.clone(), policy_names: Vec::new() }).collect(),
        availability_zones,
        subnets,
        security_groups: desired.security_groups.iter().flatten().cloned().collect(),
        health_check: desired.health_check.clone(),
        instances: instances.into_iter().collect(),
        ..LoadBalancerDescription::default()
    }
}

/// Observes the ELB (unless `known` has it), checks ownership (a conflict is the `Err`:
/// who claims the ELB, and why) and plans. `adopted` is set as soon as adoption is decided, so that a later
/// failure still reports it.
async fn observe_and_plan(
    apis: Apis<'_>,
    desired: &Desired,
    owner: &Owner,
    adopt: bool,
    known: Known<'_>,
    adopted: &mut bool,
) -> Result<Result<Planned, (Option<String>, ConflictReason)>, Failure> {
    let elb = apis.elb;
    let name = desired.name.as_str();
    let found = match (known.seen, known.names) {
        (None, Some(names)) => names.find(elb, name).await?,
        _ => Found::Listed,
    };
    let seen = match known.seen.and_then(|s| Some((s.description.clone(), s.tags.clone()?))) {
        Some(seen) => Some(seen),
        None => {
            let description = match found {
                Found::Absent => None,
                Found::Described(d) => Some(*d),
                Found::Listed => describe(elb, name).await?,
            };
            match description {
                None => None,
                Some(description) => Some((description, tags_of(elb, name).await?)),
            }
        }
    };
    let observed = match seen {
        None => None,
        Some((description, tags)) => {
            match Ownership::admits(&tags, owner, adopt.into()) {
                Admission::Owned => {}
                Admission::Adopt => {
                    info!(elb = name, "adopting load balancer");
                    *adopted = true;
                }
                Admission::Refused { claimed_by, reason } => return Ok(Err((claimed_by, reason))),
            }
            // Only managed attributes are compared: none managed, nothing to read.
            let attributes = match known.attributes {
                _ if desired.attributes == LoadBalancerAttributes::default() => LoadBalancerAttributes::default(),
                Some(a) => a.clone(),
                None => elb.describe_load_balancer_attributes(name).await?,
            };
            Some(Observed { description, tags, attributes, groups: Groups::new() })
        }
    };
    // Only after the ownership check: a foreign ELB's groups are not looked at.
    let names: BTreeSet<String> = desired.auto_scaling_groups.iter().chain(known.recorded_groups).cloned().collect();
    let groups = match known.groups_seen.and_then(|s| s.covering(&names)) {
        Some(found) => groups_of(name, found),
        None => observe_groups(apis.autoscaling, name, names).await?,
    };
    let observed = observed.map(|o| Observed { groups: groups.clone(), ..o });
    // The AddTags that writes the ownership tags on an adopted ELB also marks it adopted.
    let adopting;
    let desired = if *adopted {
        let mut d = desired.clone();
        d.tags.insert(ownership::ADOPTED_TAG.to_string(), "true".to_string());
        adopting = d;
        &adopting
    } else {
        desired
    };
    let actions = plan::plan(desired, observed.as_ref(), known.written_tags)?;
    debug!(elb = name, actions = actions.len(), "planned");
    Ok(Ok(Planned { observed, groups, actions }))
}

/// The attributes after a ModifyLoadBalancerAttributes of `modified` over `observed`.
fn merge_attributes(observed: LoadBalancerAttributes, modified: &LoadBalancerAttributes) -> LoadBalancerAttributes {
    LoadBalancerAttributes {
        cross_zone_load_balancing: modified.cross_zone_load_balancing.or(observed.cross_zone_load_balancing),
        connection_draining: modified.connection_draining.clone().or(observed.connection_draining),
        idle_timeout: modified.idle_timeout.or(observed.idle_timeout),
        access_log: modified.access_log.clone().or(observed.access_log),
    }
}

fn not_found(name: &str) -> aws::Error {
    aws::Error::Api {
        action: "DescribeLoadBalancers",
        code: "LoadBalancerNotFound".into(),
        message: format!("load balancer {name} disappeared while being reconciled"),
        request_id: None,
        status: 400,
    }
}
