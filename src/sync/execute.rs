//! The ELB side of a reconcile, without Kubernetes: observe the ELB (and the Auto Scaling
//! groups it concerns), check ownership, plan, apply each action as one ELB or AutoScaling
//! call, and read back what status needs. It takes any [`ElbApi`] and
//! [`AutoScalingApi`], so it is tested directly against moto (`tests/reconcile/elb_side.rs`).

use std::collections::{BTreeMap, BTreeSet};

use tracing::{debug, info, warn};

use super::inventory::{GroupsSeen, Seen};
use super::ownership::{self, Admission, ConflictReason, Owner, Ownership};
use super::plan::{self, Action, Desired, Groups, Observed, ObservedGroup, PlanError};
use crate::autoscaling::{AutoScalingApi, AutoScalingGroup};
use crate::elb::{self, ElbApi, InstanceState, LoadBalancerAttributes, LoadBalancerDescription, PolicyAttribute};

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
}

impl Default for Known<'_> {
    fn default() -> Self {
        Known { seen: None, attributes: None, read_health: true, recorded_groups: &[], groups_seen: None, written_tags: None }
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
    Elb(#[from] elb::Error),
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

/// The APIs a convergence calls. Without an AutoScaling client, a desired state that names
/// Auto Scaling groups fails with a configuration error (and makes no call).
#[derive(Clone, Copy)]
pub struct Apis<'a> {
    pub elb: &'a dyn ElbApi,
    pub autoscaling: Option<&'a dyn AutoScalingApi>,
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

async fn converge_into(
    apis: Apis<'_>,
    desired: &Desired,
    owner: &Owner,
    adopt: bool,
    known: Known<'_>,
    applied: &mut Vec<Action>,
    adopted: &mut bool,
) -> Result<Outcome, Failure> {
    let elb = apis.elb;
    let name = desired.name.as_str();
    let seen = match known.seen.and_then(|s| Some((s.description.clone(), s.tags.clone()?))) {
        Some(seen) => Some(seen),
        None => match describe(elb, name).await? {
            None => None,
            Some(description) => Some((description, tags_of(elb, name).await?)),
        },
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
                Admission::Refused { claimed_by, reason } => return Ok(Outcome::Conflict { claimed_by, reason }),
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
    let mut groups = match known.groups_seen.and_then(|s| s.covering(&names)) {
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
    for action in actions {
        apply_to(apis, &groups, name, &action).await?;
        match &action {
            Action::AttachGroup(g) => groups.entry(g.clone()).or_default().attached = true,
            Action::DetachGroup(g) => groups.entry(g.clone()).or_default().attached = false,
            _ => {}
        }
        applied.push(action);
    }
    let unchanged = applied.is_empty();
    let (description, attributes) = match (unchanged, observed) {
        (true, Some(observed)) => (observed.description, observed.attributes),
        // Read back what the changes produced (DNS name, effective zones, ...).
        (_, observed) => {
            let attributes = match applied.iter().rev().find_map(|a| if let Action::ModifyAttributes(a) = a { Some(a) } else { None }) {
                Some(modified) => merge_attributes(observed.map(|o| o.attributes).unwrap_or_default(), modified),
                None => observed.map(|o| o.attributes).unwrap_or_default(),
            };
            (describe(elb, name).await?.ok_or_else(|| not_found(name))?, attributes)
        }
    };
    let health = if description.instances.is_empty() {
        Some(Vec::new())
    } else if unchanged && !known.read_health {
        None
    } else {
        Some(elb.describe_instance_health(name, &[]).await?)
    };
    Ok(Outcome::Converged(Box::new(Converged { description, health, attributes, groups })))
}

/// The groups `names`, as one bulk read (DescribeAutoScalingGroups, 50 names a call)
/// reports them; none, no call.
async fn observe_groups(autoscaling: Option<&dyn AutoScalingApi>, elb_name: &str, names: BTreeSet<String>) -> Result<Groups, elb::Error> {
    if names.is_empty() {
        return Ok(Groups::new());
    }
    let Some(autoscaling) = autoscaling else {
        return Err(elb::Error::Config(format!(
            "load balancer {elb_name} names Auto Scaling groups but no AutoScaling client is configured"
        )));
    };
    let found = autoscaling.describe_auto_scaling_groups(&names.into_iter().collect::<Vec<_>>()).await?;
    Ok(groups_of(elb_name, found))
}

/// The groups as seen from the ELB `elb_name`.
fn groups_of(elb_name: &str, found: Vec<AutoScalingGroup>) -> Groups {
    found
        .into_iter()
        .map(|g| {
            let observed = ObservedGroup {
                attached: g.is_attached_to(elb_name),
                instances: g.instances.iter().map(|i| i.instance_id.clone()).collect(),
                zones: g.instances.iter().filter_map(|i| Some((i.instance_id.clone(), i.availability_zone.clone()?))).collect(),
            };
            (g.name, observed)
        })
        .collect()
}

/// The error AWS gives to AttachLoadBalancers naming a group that does not exist
/// (`ValidationError`), made here from the describe instead of spending a call on it.
fn group_not_found(group: &str) -> elb::Error {
    elb::Error::Api {
        action: "AttachLoadBalancers",
        code: "ValidationError".into(),
        message: format!(
            "AutoScalingGroup name not found - AutoScalingGroup '{group}' not found (DescribeAutoScalingGroups does not list it)"
        ),
        request_id: None,
        status: 400,
    }
}

/// Performs one action: exactly one ELB or AutoScaling call (none for a group `groups`
/// says does not exist: that is reported as AWS would).
async fn apply_to(apis: Apis<'_>, groups: &Groups, name: &str, action: &Action) -> Result<(), elb::Error> {
    let n = [name.to_string()];
    let autoscaling = || apis.autoscaling.ok_or_else(|| elb::Error::Config("no AutoScaling client is configured".into()));
    match action {
        Action::AttachGroup(g) if !groups.contains_key(g) => Err(group_not_found(g)),
        Action::AttachGroup(g) => autoscaling()?.attach_load_balancers(g, &n).await,
        Action::DetachGroup(g) => autoscaling()?.detach_load_balancers(g, &n).await,
        _ => apply(apis.elb, name, action).await,
    }
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

fn not_found(name: &str) -> elb::Error {
    elb::Error::Api {
        action: "DescribeLoadBalancers",
        code: "LoadBalancerNotFound".into(),
        message: format!("load balancer {name} disappeared while being reconciled"),
        request_id: None,
        status: 400,
    }
}

/// The description of one ELB, `None` when it does not exist.
pub async fn describe(elb: &dyn ElbApi, name: &str) -> Result<Option<LoadBalancerDescription>, elb::Error> {
    match elb.describe_load_balancers(&[name.to_string()]).await {
        Ok(found) => Ok(found.into_iter().find(|d| d.name.eq_ignore_ascii_case(name))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

async fn tags_of(elb: &dyn ElbApi, name: &str) -> Result<BTreeMap<String, String>, elb::Error> {
    let all = elb.describe_tags(&[name.to_string()]).await?;
    let tags = all.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, t)| t.as_slice()).unwrap_or(&[]);
    Ok(Observed::tags_from(tags))
}

/// Performs one ELB action: exactly one ELB call. The Auto Scaling actions are
/// [`apply_to`]'s.
pub async fn apply(elb: &dyn ElbApi, name: &str, action: &Action) -> Result<(), elb::Error> {
    let n = [name.to_string()];
    match action {
        Action::Create(input) => elb.create_load_balancer(input).await.map(drop),
        Action::AddTags(tags) => elb.add_tags(&n, tags).await,
        Action::RemoveTags(keys) => elb.remove_tags(&n, keys).await,
        Action::EnableZones(z) => elb.enable_availability_zones(name, z).await.map(drop),
        Action::DisableZones(z) => elb.disable_availability_zones(name, z).await.map(drop),
        Action::AttachSubnets(s) => elb.attach_subnets(name, s).await.map(drop),
        Action::DetachSubnets(s) => elb.detach_subnets(name, s).await.map(drop),
        Action::ApplySecurityGroups(g) => elb.apply_security_groups(name, g).await.map(drop),
        Action::DeleteListener(port) => elb.delete_load_balancer_listeners(name, &[*port]).await,
        Action::CreateListeners(l) => elb.create_load_balancer_listeners(name, l).await,
        Action::SetListenerCertificate { port, certificate_id } => {
            elb.set_load_balancer_listener_ssl_certificate(name, *port, certificate_id).await
        }
        Action::ConfigureHealthCheck(hc) => elb.configure_health_check(name, hc).await.map(drop),
        Action::ModifyAttributes(a) => elb.modify_load_balancer_attributes(name, a).await.map(drop),
        Action::RegisterInstances(ids) => elb.register_instances(name, ids).await.map(drop),
        Action::DeregisterInstances(ids) => elb.deregister_instances(name, ids).await.map(drop),
        Action::CreateLbCookiePolicy { policy_name, expiration_seconds } => {
            elb.create_lb_cookie_stickiness_policy(name, policy_name, *expiration_seconds).await
        }
        Action::CreateAppCookiePolicy { policy_name, cookie_name } => {
            elb.create_app_cookie_stickiness_policy(name, policy_name, cookie_name).await
        }
        Action::CreateProxyProtocolPolicy { policy_name } => {
            let attributes = [PolicyAttribute { name: "ProxyProtocol".into(), value: "true".into() }];
            elb.create_load_balancer_policy(name, policy_name, "ProxyProtocolPolicyType", &attributes).await
        }
        Action::CreateSslNegotiationPolicy { policy_name, reference } => {
            let attributes = [PolicyAttribute { name: "Reference-Security-Policy".into(), value: reference.clone() }];
            elb.create_load_balancer_policy(name, policy_name, "SSLNegotiationPolicyType", &attributes).await
        }
        Action::SetListenerPolicies { port, policy_names } => elb.set_load_balancer_policies_of_listener(name, *port, policy_names).await,
        Action::SetBackendPolicies { instance_port, policy_names } => {
            elb.set_load_balancer_policies_for_backend_server(name, *instance_port, policy_names).await
        }
        Action::DeletePolicy { policy_name } => elb.delete_load_balancer_policy(name, policy_name).await,
        Action::AttachGroup(_) | Action::DetachGroup(_) => {
            Err(elb::Error::Config(format!("{} is an AutoScaling call, not an ELB one", action.api_action())))
        }
    }
}

/// The health of the registered instances, `None` when the ELB does not exist (any more).
pub async fn poll_health(elb: &dyn ElbApi, name: &str) -> Result<Option<Vec<InstanceState>>, elb::Error> {
    match elb.describe_instance_health(name, &[]).await {
        Ok(h) => Ok(Some(h)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// What deleting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// There was nothing to delete.
    AlreadyGone,
    /// The ELB is not this resource's; it was left in place.
    Foreign {
        claimed_by: Option<String>,
    },
    /// The ELB was adopted ([`ownership::ADOPTED_TAG`]) and the resource did not say
    /// `deletionPolicy: Delete` itself: it was left in place, marked retained (best effort).
    KeptAdopted,
}

/// Marks an ELB that this resource owns as retained ([`crate::crd::tags::RETAINED_TAG`]).
/// Returns whether it was marked; a missing or foreign ELB is left alone.
pub async fn mark_retained(elb: &dyn ElbApi, name: &str, owner: &Owner) -> Result<bool, elb::Error> {
    let Some(tags) = owned_tags(elb, name, owner).await? else {
        return Ok(false);
    };
    if tags.get(crate::crd::tags::RETAINED_TAG).is_some_and(|v| v == "true") {
        return Ok(true);
    }
    let tag = elb::Tag { key: crate::crd::tags::RETAINED_TAG.into(), value: Some("true".into()) };
    elb.add_tags(&[name.to_string()], &[tag]).await?;
    Ok(true)
}

/// The tags of the ELB if it exists and this resource owns it, else `None`.
async fn owned_tags(elb: &dyn ElbApi, name: &str, owner: &Owner) -> Result<Option<BTreeMap<String, String>>, elb::Error> {
    let tags = match tags_of(elb, name).await {
        Ok(t) => t,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok((!tags.is_empty() && owner.ownership(&tags) == Ownership::Owned).then_some(tags))
}

/// Before the ELB is deleted: detaches it from the Auto Scaling groups among `groups` that
/// are attached to it (a group would otherwise keep naming a load balancer that is gone),
/// if, and only if, this resource owns it and [`delete`] will delete it (an adopted ELB
/// without `explicit_delete` is kept, with its groups). Returns the groups detached; no
/// groups, no call.
pub async fn detach_groups(
    apis: Apis<'_>,
    name: &str,
    owner: &Owner,
    groups: &[String],
    explicit_delete: bool,
) -> Result<Vec<String>, elb::Error> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    match owned_tags(apis.elb, name, owner).await? {
        Some(tags) if explicit_delete || !ownership::is_adopted(&tags) => {}
        _ => return Ok(Vec::new()),
    }
    let observed = observe_groups(apis.autoscaling, name, groups.iter().cloned().collect()).await?;
    let mut detached = Vec::new();
    for group in observed.iter().filter(|(_, g)| g.attached).map(|(n, _)| n) {
        apply_to(apis, &observed, name, &Action::DetachGroup(group.clone())).await?;
        detached.push(group.clone());
    }
    Ok(detached)
}

/// What [`delete_unless`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome<K> {
    Deleted,
    /// There was nothing to delete.
    AlreadyGone,
    /// The check found a reason, in the tags as they were right before the delete, to keep it.
    Kept(K),
}

/// Deletes the ELB unless `keep` finds a reason in its tags, read right before the delete
/// (a change since the caller last looked is seen). Already gone is success.
pub async fn delete_unless<K>(
    elb: &dyn ElbApi,
    name: &str,
    keep: impl FnOnce(&BTreeMap<String, String>) -> Option<K>,
) -> Result<DeleteOutcome<K>, elb::Error> {
    if describe(elb, name).await?.is_none() {
        return Ok(DeleteOutcome::AlreadyGone);
    }
    if let Some(reason) = keep(&tags_of(elb, name).await?) {
        return Ok(DeleteOutcome::Kept(reason));
    }
    match elb.delete_load_balancer(name).await {
        Ok(()) => Ok(DeleteOutcome::Deleted),
        Err(e) if e.is_not_found() => Ok(DeleteOutcome::AlreadyGone),
        Err(e) => Err(e),
    }
}

/// Why [`delete`] kept an ELB.
enum Keep {
    Foreign(Option<String>),
    Adopted,
}

/// Deletes the ELB if, and only if, this resource owns it, and, when the ELB carries
/// [`ownership::ADOPTED_TAG`], only with `explicit_delete` (the resource itself says
/// `deletionPolicy: Delete`): the tag decides, not a status that may be lost. Already gone
/// is success. An adopted ELB kept is marked retained for the orphan report (best effort).
pub async fn delete(elb: &dyn ElbApi, name: &str, owner: &Owner, explicit_delete: bool) -> Result<Deleted, elb::Error> {
    let keep = |tags: &BTreeMap<String, String>| match owner.ownership(tags) {
        Ownership::Foreign { claimed_by } => Some(Keep::Foreign(claimed_by)),
        Ownership::Owned if ownership::is_adopted(tags) && !explicit_delete => Some(Keep::Adopted),
        Ownership::Owned => None,
    };
    Ok(match delete_unless(elb, name, keep).await? {
        DeleteOutcome::Deleted => Deleted::Deleted,
        DeleteOutcome::AlreadyGone => Deleted::AlreadyGone,
        DeleteOutcome::Kept(Keep::Foreign(claimed_by)) => Deleted::Foreign { claimed_by },
        DeleteOutcome::Kept(Keep::Adopted) => {
            if let Err(e) = mark_retained(elb, name, owner).await {
                warn!(elb = name, error = %e, "could not tag the kept adopted load balancer");
            }
            Deleted::KeptAdopted
        }
    })
}
