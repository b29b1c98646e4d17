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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::elb::{
    AccessLog, ConnectionDraining, CreateLoadBalancerInput, HealthCheck, Listener, LoadBalancerAttributes, LoadBalancerDescription, Scheme,
    Tag,
};

/// Instances per RegisterInstancesWithLoadBalancer / DeregisterInstancesFromLoadBalancer call.
pub const INSTANCE_BATCH: usize = 20;

/// Tag keys with this prefix belong to AWS and can be neither set nor removed.
const AWS_TAG_PREFIX: &str = "aws:";

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

/// Session stickiness of one listener.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Stickiness {
    /// The ELB's own cookie; `None` = for the browser session.
    LbCookie { expiration_seconds: Option<i64> },
    /// Follow the application's cookie.
    AppCookie { cookie_name: String },
}

/// Prefix of every policy the operator creates; policies without it are left alone.
pub const POLICY_PREFIX: &str = "elb-operator-";
/// The operator's PROXY protocol policy.
pub const PROXY_PROTOCOL_POLICY: &str = "elb-operator-proxy-protocol";

impl Stickiness {
    /// A deterministic policy name that encodes the settings: ELB policies cannot be
    /// modified, so a change of settings is a new policy.
    pub fn policy_name(&self, port: u16) -> String {
        match self {
            Stickiness::LbCookie { expiration_seconds: Some(s) } => format!("{POLICY_PREFIX}lb-cookie-{port}-{s}"),
            Stickiness::LbCookie { expiration_seconds: None } => format!("{POLICY_PREFIX}lb-cookie-{port}-session"),
            Stickiness::AppCookie { cookie_name } => {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(cookie_name.as_bytes());
                format!("{POLICY_PREFIX}app-cookie-{port}-{}", hex::encode(&digest[..4]))
            }
        }
    }
}

/// The operator's SSLNegotiationPolicyType policy for `reference` on `port`: named after
/// both, since a policy cannot be changed, only replaced.
pub fn ssl_policy_name(port: u16, reference: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(reference.as_bytes());
    format!("{POLICY_PREFIX}tls-{port}-{}", hex::encode(&digest[..4]))
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

/// One ELB call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create(CreateLoadBalancerInput),
    AddTags(Vec<Tag>),
    RemoveTags(Vec<String>),
    EnableZones(Vec<String>),
    DisableZones(Vec<String>),
    AttachSubnets(Vec<String>),
    DetachSubnets(Vec<String>),
    ApplySecurityGroups(Vec<String>),
    /// Deletes the listener on this front-end port.
    DeleteListener(u16),
    CreateListeners(Vec<Listener>),
    SetListenerCertificate {
        port: u16,
        certificate_id: String,
    },
    ConfigureHealthCheck(HealthCheck),
    ModifyAttributes(LoadBalancerAttributes),
    RegisterInstances(Vec<String>),
    DeregisterInstances(Vec<String>),
    /// AutoScaling AttachLoadBalancers of this ELB to the group.
    AttachGroup(String),
    /// AutoScaling DetachLoadBalancers of this ELB from the group.
    DetachGroup(String),
    CreateLbCookiePolicy {
        policy_name: String,
        expiration_seconds: Option<i64>,
    },
    CreateAppCookiePolicy {
        policy_name: String,
        cookie_name: String,
    },
    CreateProxyProtocolPolicy {
        policy_name: String,
    },
    /// An SSLNegotiationPolicyType policy referencing a predefined security policy.
    CreateSslNegotiationPolicy {
        policy_name: String,
        reference: String,
    },
    /// Sets the complete policy list of a listener.
    SetListenerPolicies {
        port: u16,
        policy_names: Vec<String>,
    },
    /// Sets the complete policy list of an instance port.
    SetBackendPolicies {
        instance_port: u16,
        policy_names: Vec<String>,
    },
    DeletePolicy {
        policy_name: String,
    },
}

/// What kind of change an action is, for events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Registered,
    Deregistered,
}

impl Action {
    /// The API action this becomes (ELB's, or AutoScaling's for groups).
    pub fn api_action(&self) -> &'static str {
        match self {
            Action::Create(_) => "CreateLoadBalancer",
            Action::AddTags(_) => "AddTags",
            Action::RemoveTags(_) => "RemoveTags",
            Action::EnableZones(_) => "EnableAvailabilityZonesForLoadBalancer",
            Action::DisableZones(_) => "DisableAvailabilityZonesForLoadBalancer",
            Action::AttachSubnets(_) => "AttachLoadBalancerToSubnets",
            Action::DetachSubnets(_) => "DetachLoadBalancerFromSubnets",
            Action::ApplySecurityGroups(_) => "ApplySecurityGroupsToLoadBalancer",
            Action::DeleteListener(_) => "DeleteLoadBalancerListeners",
            Action::CreateListeners(_) => "CreateLoadBalancerListeners",
            Action::SetListenerCertificate { .. } => "SetLoadBalancerListenerSSLCertificate",
            Action::ConfigureHealthCheck(_) => "ConfigureHealthCheck",
            Action::ModifyAttributes(_) => "ModifyLoadBalancerAttributes",
            Action::RegisterInstances(_) => "RegisterInstancesWithLoadBalancer",
            Action::DeregisterInstances(_) => "DeregisterInstancesFromLoadBalancer",
            Action::AttachGroup(_) => "AttachLoadBalancers",
            Action::DetachGroup(_) => "DetachLoadBalancers",
            Action::CreateLbCookiePolicy { .. } => "CreateLBCookieStickinessPolicy",
            Action::CreateAppCookiePolicy { .. } => "CreateAppCookieStickinessPolicy",
            Action::CreateProxyProtocolPolicy { .. } | Action::CreateSslNegotiationPolicy { .. } => "CreateLoadBalancerPolicy",
            Action::SetListenerPolicies { .. } => "SetLoadBalancerPoliciesOfListener",
            Action::SetBackendPolicies { .. } => "SetLoadBalancerPoliciesForBackendServer",
            Action::DeletePolicy { .. } => "DeleteLoadBalancerPolicy",
        }
    }

    pub fn change(&self) -> Change {
        match self {
            Action::Create(_) => Change::Created,
            Action::RegisterInstances(_) => Change::Registered,
            Action::DeregisterInstances(_) => Change::Deregistered,
            _ => Change::Updated,
        }
    }
}

/// A human summary of the action (for events): no secrets, only names, ports and ids.
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create(i) => {
                let placement = if i.subnets.is_empty() {
                    format!("zones {}", i.availability_zones.join(","))
                } else {
                    format!("subnets {}", i.subnets.join(","))
                };
                write!(f, "created load balancer {} in {placement} with listeners {}", i.name, ports(&i.listeners))
            }
            Action::AddTags(t) => {
                write!(f, "set tags {}", t.iter().map(|t| t.key.as_str()).collect::<Vec<_>>().join(","))
            }
            Action::RemoveTags(k) => write!(f, "removed tags {}", k.join(",")),
            Action::EnableZones(z) => write!(f, "enabled zones {}", z.join(",")),
            Action::DisableZones(z) => write!(f, "disabled zones {}", z.join(",")),
            Action::AttachSubnets(s) => write!(f, "attached subnets {}", s.join(",")),
            Action::DetachSubnets(s) => write!(f, "detached subnets {}", s.join(",")),
            Action::ApplySecurityGroups(g) => write!(f, "applied security groups {}", g.join(",")),
            Action::DeleteListener(p) => write!(f, "deleted listener on port {p}"),
            Action::CreateListeners(l) => write!(f, "created listeners on ports {}", ports(l)),
            Action::SetListenerCertificate { port, .. } => write!(f, "replaced the certificate of port {port}"),
            Action::ConfigureHealthCheck(h) => write!(
                f,
                "configured health check {} every {}s (timeout {}s, healthy {}, unhealthy {})",
                h.target, h.interval, h.timeout, h.healthy_threshold, h.unhealthy_threshold
            ),
            Action::ModifyAttributes(_) => write!(f, "modified attributes"),
            Action::RegisterInstances(i) => write!(f, "registered instances {}", i.join(",")),
            Action::DeregisterInstances(i) => write!(f, "deregistered instances {}", i.join(",")),
            Action::AttachGroup(g) => write!(f, "attached Auto Scaling group {g}"),
            Action::DetachGroup(g) => write!(f, "detached Auto Scaling group {g}"),
            Action::CreateLbCookiePolicy { policy_name, .. }
            | Action::CreateAppCookiePolicy { policy_name, .. }
            | Action::CreateProxyProtocolPolicy { policy_name } => write!(f, "created policy {policy_name}"),
            Action::CreateSslNegotiationPolicy { policy_name, reference } => write!(f, "created policy {policy_name} ({reference})"),
            Action::SetListenerPolicies { port, policy_names } => {
                write!(f, "set policies of port {port} to [{}]", policy_names.join(","))
            }
            Action::SetBackendPolicies { instance_port, policy_names } => {
                write!(f, "set policies of instance port {instance_port} to [{}]", policy_names.join(","))
            }
            Action::DeletePolicy { policy_name } => write!(f, "deleted policy {policy_name}"),
        }
    }
}

fn ports(listeners: &[Listener]) -> String {
    listeners.iter().map(|l| l.load_balancer_port.to_string()).collect::<Vec<_>>().join(",")
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

/// The actions that turn `observed` (or nothing, when the ELB does not exist) into `desired`.
pub fn plan(desired: &Desired, observed: Option<&Observed>) -> Result<Vec<Action>, PlanError> {
    match observed {
        None => plan_create(desired),
        Some(observed) => plan_update(desired, observed),
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

fn plan_update(d: &Desired, o: &Observed) -> Result<Vec<Action>, PlanError> {
    let desc = &o.description;
    if let Some(want) = &d.scheme {
        if *want != desc.scheme {
            return Err(PlanError::SchemeMismatch { observed: desc.scheme.clone(), desired: want.clone() });
        }
    }
    let mut actions = Vec::new();
    actions.extend(plan_tags(&d.tags, &o.tags));
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

/// Stickiness and PROXY protocol. Only the operator's own policies (named with
/// [`POLICY_PREFIX`]) are created, attached, detached and deleted; other policies on a
/// listener or instance port (an SSL negotiation policy AWS attached, say) stay attached.
/// Order: create missing policies, set listener and back-end policy lists, then delete the
/// operator's policies nothing uses any more.
pub fn plan_policies(d: &Desired, desc: &LoadBalancerDescription, fresh_ports: &BTreeSet<u16>) -> Vec<Action> {
    let own = |p: &String| p.starts_with(POLICY_PREFIX);
    let existing: BTreeSet<String> = desc
        .policies
        .app_cookie_stickiness
        .iter()
        .map(|p| p.policy_name.clone())
        .chain(desc.policies.lb_cookie_stickiness.iter().map(|p| p.policy_name.clone()))
        .chain(desc.policies.other_policies.iter().cloned())
        .collect();
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    let mut creates = Vec::new();
    let mut sets = Vec::new();

    for (port, sticky) in &d.stickiness {
        let name = sticky.policy_name(*port);
        if !existing.contains(&name) && wanted.insert(name.clone()) {
            creates.push(match sticky {
                Stickiness::LbCookie { expiration_seconds } => {
                    Action::CreateLbCookiePolicy { policy_name: name.clone(), expiration_seconds: *expiration_seconds }
                }
                Stickiness::AppCookie { cookie_name } => {
                    Action::CreateAppCookiePolicy { policy_name: name.clone(), cookie_name: cookie_name.clone() }
                }
            });
        }
        wanted.insert(name);
    }
    for (port, reference) in &d.ssl_policies {
        let name = ssl_policy_name(*port, reference);
        if !existing.contains(&name) && wanted.insert(name.clone()) {
            creates.push(Action::CreateSslNegotiationPolicy { policy_name: name.clone(), reference: reference.clone() });
        }
        wanted.insert(name);
    }
    if !d.proxy_protocol_ports.is_empty() {
        if !existing.contains(PROXY_PROTOCOL_POLICY) {
            creates.push(Action::CreateProxyProtocolPolicy { policy_name: PROXY_PROTOCOL_POLICY.to_string() });
        }
        wanted.insert(PROXY_PROTOCOL_POLICY.to_string());
    }

    // Listeners: the complete list = others' policies + ours.
    let observed_listener: BTreeMap<u16, Vec<String>> =
        desc.listeners.iter().map(|l| (l.listener.load_balancer_port, l.policy_names.clone())).collect();
    for l in &d.listeners {
        let port = l.load_balancer_port;
        let have: Vec<String> =
            if fresh_ports.contains(&port) { vec![] } else { observed_listener.get(&port).cloned().unwrap_or_default() };
        // A listener takes one TLS negotiation policy: ours replaces the predefined one AWS
        // attaches to a new HTTPS/SSL listener. Other policies are kept.
        let ours_for_tls = d.ssl_policies.contains_key(&port);
        let replaced = |p: &String| own(p) || (ours_for_tls && is_predefined_tls_policy(p));
        let mut want: Vec<String> = have.iter().filter(|p| !replaced(p)).cloned().collect();
        want.extend(d.stickiness.get(&port).map(|s| s.policy_name(port)));
        want.extend(d.ssl_policies.get(&port).map(|r| ssl_policy_name(port, r)));
        if sorted_strings(&want) != sorted_strings(&have) {
            sets.push(Action::SetListenerPolicies { port, policy_names: want });
        }
    }

    // Back-end ports: the ones described plus the ones that want PROXY protocol.
    let observed_backend: BTreeMap<u16, Vec<String>> =
        desc.backend_server_descriptions.iter().map(|b| (b.instance_port, b.policy_names.clone())).collect();
    let ports: BTreeSet<u16> = observed_backend.keys().copied().chain(d.proxy_protocol_ports.iter().copied()).collect();
    for instance_port in ports {
        let have = observed_backend.get(&instance_port).cloned().unwrap_or_default();
        let mut want: Vec<String> = have.iter().filter(|p| !own(p)).cloned().collect();
        if d.proxy_protocol_ports.contains(&instance_port) {
            want.push(PROXY_PROTOCOL_POLICY.to_string());
        }
        if sorted_strings(&want) != sorted_strings(&have) {
            sets.push(Action::SetBackendPolicies { instance_port, policy_names: want });
        }
    }

    let deletes = existing.iter().filter(|p| own(p) && !wanted.contains(*p)).map(|p| Action::DeletePolicy { policy_name: p.clone() });
    creates.into_iter().chain(sets).chain(deletes).collect()
}

/// The names AWS gives the predefined TLS negotiation policies it attaches by itself.
fn is_predefined_tls_policy(name: &str) -> bool {
    name.starts_with("ELBSecurityPolicy-") || name.starts_with("ELBSample-")
}

fn sorted_strings(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

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

/// Per port: unchanged listeners are left alone; a listener whose only difference is the
/// certificate gets it replaced; other changes delete that port and re-create it; ports no
/// longer wanted are deleted. All new listeners are created in one call, after the deletions.
pub fn plan_listeners(desired: &[Listener], observed: &[Listener]) -> Vec<Action> {
    let have: BTreeMap<u16, &Listener> = observed.iter().map(|l| (l.load_balancer_port, l)).collect();
    let want: BTreeMap<u16, &Listener> = desired.iter().map(|l| (l.load_balancer_port, l)).collect();
    let mut deletes = Vec::new();
    let mut creates = Vec::new();
    let mut certificates = Vec::new();
    for port in have.keys() {
        if !want.contains_key(port) {
            deletes.push(Action::DeleteListener(*port));
        }
    }
    for (port, new) in &want {
        match have.get(port) {
            None => creates.push((*new).clone()),
            Some(old) if same_listener(new, old) => {}
            Some(old) if same_listener_but_certificate(new, old) => {
                if let Some(cert) = &new.ssl_certificate_id {
                    certificates.push(Action::SetListenerCertificate { port: *port, certificate_id: cert.clone() });
                }
            }
            Some(_) => {
                deletes.push(Action::DeleteListener(*port));
                creates.push((*new).clone());
            }
        }
    }
    let mut actions = deletes;
    if !creates.is_empty() {
        actions.push(Action::CreateListeners(creates));
    }
    actions.extend(certificates);
    actions
}

fn sorted_listeners(listeners: &[Listener]) -> Vec<Listener> {
    let mut l = listeners.to_vec();
    l.sort_by_key(|l| l.load_balancer_port);
    l
}

fn same_listener_but_certificate(a: &Listener, b: &Listener) -> bool {
    a.protocol == b.protocol
        && a.instance_port == b.instance_port
        && a.instance_protocol == b.instance_protocol
        && a.ssl_certificate_id.is_some()
}

fn same_listener(a: &Listener, b: &Listener) -> bool {
    a.load_balancer_port == b.load_balancer_port
        && a.protocol == b.protocol
        && a.instance_port == b.instance_port
        && a.instance_protocol == b.instance_protocol
        && a.ssl_certificate_id.as_deref().unwrap_or("") == b.ssl_certificate_id.as_deref().unwrap_or("")
}

fn same_health_check(a: &HealthCheck, b: &HealthCheck) -> bool {
    // AWS keeps the target as sent but the protocol part is case-insensitive.
    let norm = |t: &str| match t.split_once(':') {
        Some((proto, rest)) => format!("{}:{rest}", proto.to_ascii_uppercase()),
        None => t.to_string(),
    };
    norm(&a.target) == norm(&b.target)
        && a.interval == b.interval
        && a.timeout == b.timeout
        && a.healthy_threshold == b.healthy_threshold
        && a.unhealthy_threshold == b.unhealthy_threshold
}

/// The attribute fields the spec sets that differ from AWS, or `None` when all match.
/// Sub-fields the spec leaves unset (a draining timeout, an access-log prefix) are not compared.
pub fn plan_attributes(desired: &LoadBalancerAttributes, observed: &LoadBalancerAttributes) -> Option<LoadBalancerAttributes> {
    let mut changes = LoadBalancerAttributes::default();
    if let Some(want) = desired.cross_zone_load_balancing {
        if observed.cross_zone_load_balancing != Some(want) {
            changes.cross_zone_load_balancing = Some(want);
        }
    }
    if let Some(want) = &desired.connection_draining {
        let matches = observed.connection_draining.as_ref().is_some_and(|have| draining_matches(want, have));
        if !matches {
            changes.connection_draining = Some(want.clone());
        }
    }
    if let Some(want) = desired.idle_timeout {
        if observed.idle_timeout != Some(want) {
            changes.idle_timeout = Some(want);
        }
    }
    if let Some(want) = &desired.access_log {
        let matches = observed.access_log.as_ref().is_some_and(|have| access_log_matches(want, have));
        if !matches {
            changes.access_log = Some(want.clone());
        }
    }
    (changes != LoadBalancerAttributes::default()).then_some(changes)
}

fn draining_matches(want: &ConnectionDraining, have: &ConnectionDraining) -> bool {
    want.enabled == have.enabled && want.timeout.is_none_or(|t| have.timeout == Some(t))
}

fn access_log_matches(want: &AccessLog, have: &AccessLog) -> bool {
    if want.enabled != have.enabled {
        return false;
    }
    // A disabled access log's other fields do not matter.
    if !want.enabled {
        return true;
    }
    let same = |w: &Option<String>, h: &Option<String>| w.is_none() || w.as_deref() == h.as_deref();
    same(&want.s3_bucket_name, &have.s3_bucket_name)
        && same(&want.s3_bucket_prefix, &have.s3_bucket_prefix)
        && want.emit_interval.is_none_or(|i| have.emit_interval == Some(i))
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

#[cfg(test)]
#[allow(clippy::type_complexity)] // table rows are tuples
mod tests {
    use super::*;
    use crate::elb::ListenerDescription;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }
    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }
    fn listener(port: u16, proto: &str, iport: u16, iproto: &str, cert: Option<&str>) -> Listener {
        Listener {
            load_balancer_port: port,
            protocol: proto.into(),
            instance_port: iport,
            instance_protocol: iproto.into(),
            ssl_certificate_id: cert.map(String::from),
        }
    }
    fn tutorial_listeners() -> Vec<Listener> {
        vec![listener(80, "HTTP", 8080, "HTTP", None), listener(443, "TCP", 8443, "TCP", None)]
    }
    fn health_check() -> HealthCheck {
        HealthCheck { target: "HTTP:8080/health".into(), interval: 20, timeout: 5, healthy_threshold: 3, unhealthy_threshold: 5 }
    }
    fn desired() -> Desired {
        Desired {
            name: "my-lb".into(),
            scheme: None,
            listeners: tutorial_listeners(),
            placement: Placement::Zones(set(&["us-east-1a", "us-east-1b"])),
            security_groups: None,
            health_check: Some(health_check()),
            attributes: LoadBalancerAttributes::default(),
            tags: [("team".to_string(), "web".to_string())].into(),
            instances: set(&["i-1", "i-2"]),
            auto_scaling_groups: BTreeSet::new(),
            stickiness: BTreeMap::new(),
            proxy_protocol_ports: BTreeSet::new(),
            ssl_policies: BTreeMap::new(),
        }
    }
    /// The observed state that exactly matches [`desired`].
    fn converged() -> Observed {
        let d = desired();
        Observed {
            description: LoadBalancerDescription {
                name: d.name.clone(),
                scheme: Scheme::InternetFacing,
                listeners: d.listeners.iter().map(|l| ListenerDescription { listener: l.clone(), policy_names: vec![] }).collect(),
                availability_zones: strings(&["us-east-1a", "us-east-1b"]),
                health_check: d.health_check.clone(),
                instances: strings(&["i-1", "i-2"]),
                ..Default::default()
            },
            tags: d.tags.clone(),
            attributes: LoadBalancerAttributes {
                cross_zone_load_balancing: Some(false),
                connection_draining: Some(ConnectionDraining { enabled: false, timeout: Some(300) }),
                idle_timeout: Some(60),
                access_log: Some(AccessLog { enabled: false, s3_bucket_name: None, s3_bucket_prefix: None, emit_interval: None }),
            },
            groups: Groups::new(),
        }
    }

    #[test]
    fn converged_state_plans_nothing() {
        assert_eq!(plan(&desired(), Some(&converged())).unwrap(), vec![]);
    }

    #[test]
    fn create_carries_everything_then_configures_the_rest() {
        let mut d = desired();
        d.attributes.idle_timeout = Some(120);
        d.security_groups = Some(set(&["sg-1"]));
        d.scheme = Some(Scheme::Internal);
        let actions = plan(&d, None).unwrap();
        let names: Vec<_> = actions.iter().map(Action::api_action).collect();
        assert_eq!(
            names,
            ["CreateLoadBalancer", "ConfigureHealthCheck", "ModifyLoadBalancerAttributes", "RegisterInstancesWithLoadBalancer"]
        );
        let Action::Create(input) = &actions[0] else { panic!() };
        assert_eq!(input.availability_zones, strings(&["us-east-1a", "us-east-1b"]));
        assert!(input.subnets.is_empty());
        assert_eq!(input.listeners, tutorial_listeners());
        assert_eq!(input.security_groups, strings(&["sg-1"]));
        assert_eq!(input.scheme, Some(Scheme::Internal));
        assert_eq!(input.tags, vec![Tag { key: "team".into(), value: Some("web".into()) }]);
        assert_eq!(actions[3], Action::RegisterInstances(strings(&["i-1", "i-2"])));
    }

    #[test]
    fn create_minimal_has_no_follow_ups() {
        let mut d = desired();
        d.health_check = None;
        d.instances.clear();
        let actions = plan(&d, None).unwrap();
        assert_eq!(actions.len(), 1);
        assert!(matches!(actions[0], Action::Create(_)));
    }

    #[test]
    fn create_in_subnets() {
        let mut d = desired();
        d.placement = Placement::Subnets(set(&["subnet-1"]));
        let Action::Create(input) = &plan(&d, None).unwrap()[0] else { panic!() };
        assert_eq!(input.subnets, strings(&["subnet-1"]));
        assert!(input.availability_zones.is_empty());
    }

    #[test]
    fn create_without_placement_is_refused() {
        let mut d = desired();
        d.placement = Placement::Zones(BTreeSet::new());
        assert_eq!(plan(&d, None), Err(PlanError::NoPlacement));
    }

    #[test]
    fn scheme_cannot_change() {
        let mut d = desired();
        d.scheme = Some(Scheme::Internal);
        assert_eq!(
            plan(&d, Some(&converged())),
            Err(PlanError::SchemeMismatch { observed: Scheme::InternetFacing, desired: Scheme::Internal })
        );
        d.scheme = Some(Scheme::InternetFacing);
        assert_eq!(plan(&d, Some(&converged())).unwrap(), vec![]);
    }

    #[test]
    fn listeners_table() {
        let http80 = listener(80, "HTTP", 8080, "HTTP", None);
        let tcp443 = listener(443, "TCP", 8443, "TCP", None);
        let ssl443 = |c: &str| listener(443, "SSL", 8443, "TCP", Some(c));
        struct Case {
            name: &'static str,
            desired: Vec<Listener>,
            observed: Vec<Listener>,
            want: Vec<Action>,
        }
        let cases = vec![
            Case {
                name: "equal",
                desired: vec![http80.clone(), tcp443.clone()],
                observed: vec![tcp443.clone(), http80.clone()],
                want: vec![],
            },
            Case {
                name: "case-insensitive protocols",
                desired: vec![http80.clone()],
                observed: vec![listener(80, "http", 8080, "http", None)],
                want: vec![],
            },
            Case {
                name: "add one port",
                desired: vec![http80.clone(), tcp443.clone()],
                observed: vec![http80.clone()],
                want: vec![Action::CreateListeners(vec![tcp443.clone()])],
            },
            Case {
                name: "remove one port",
                desired: vec![http80.clone()],
                observed: vec![http80.clone(), tcp443.clone()],
                want: vec![Action::DeleteListener(443)],
            },
            Case {
                name: "change instance port: only that port is replaced",
                desired: vec![http80.clone(), listener(443, "TCP", 9443, "TCP", None)],
                observed: vec![http80.clone(), tcp443.clone()],
                want: vec![Action::DeleteListener(443), Action::CreateListeners(vec![listener(443, "TCP", 9443, "TCP", None)])],
            },
            Case {
                name: "change protocol",
                desired: vec![ssl443("arn:c1")],
                observed: vec![tcp443.clone()],
                want: vec![Action::DeleteListener(443), Action::CreateListeners(vec![ssl443("arn:c1")])],
            },
            Case {
                name: "certificate only",
                desired: vec![ssl443("arn:c2")],
                observed: vec![ssl443("arn:c1")],
                want: vec![Action::SetListenerCertificate { port: 443, certificate_id: "arn:c2".into() }],
            },
            Case {
                name: "replace all ports",
                desired: vec![listener(8080, "HTTP", 80, "HTTP", None)],
                observed: vec![http80.clone(), tcp443.clone()],
                want: vec![
                    Action::DeleteListener(80),
                    Action::DeleteListener(443),
                    Action::CreateListeners(vec![listener(8080, "HTTP", 80, "HTTP", None)]),
                ],
            },
        ];
        for c in cases {
            assert_eq!(plan_listeners(&c.desired, &c.observed), c.want, "case {}", c.name);
        }
    }

    #[test]
    fn zones_table() {
        let desc = |zones: &[&str]| LoadBalancerDescription { availability_zones: strings(zones), ..Default::default() };
        let cases: Vec<(&str, Placement, LoadBalancerDescription, Vec<Action>)> = vec![
            ("equal", Placement::Zones(set(&["a", "b"])), desc(&["b", "a"]), vec![]),
            ("enable one", Placement::Zones(set(&["a", "b", "c"])), desc(&["a", "b"]), vec![Action::EnableZones(strings(&["c"]))]),
            ("disable one", Placement::Zones(set(&["a"])), desc(&["a", "b"]), vec![Action::DisableZones(strings(&["b"]))]),
            (
                "swap: enable before disable",
                Placement::Zones(set(&["a", "c"])),
                desc(&["a", "b"]),
                vec![Action::EnableZones(strings(&["c"])), Action::DisableZones(strings(&["b"]))],
            ),
            ("empty desired is unmanaged", Placement::Zones(BTreeSet::new()), desc(&["a"]), vec![]),
        ];
        for (name, want, have, expect) in cases {
            assert_eq!(plan_placement(&want, &have), expect, "case {name}");
        }
    }

    #[test]
    fn subnets_table() {
        let desc = |subnets: &[&str]| LoadBalancerDescription { subnets: strings(subnets), ..Default::default() };
        let cases: Vec<(&str, Placement, LoadBalancerDescription, Vec<Action>)> = vec![
            ("equal", Placement::Subnets(set(&["s1", "s2"])), desc(&["s1", "s2"]), vec![]),
            ("attach", Placement::Subnets(set(&["s1", "s2"])), desc(&["s1"]), vec![Action::AttachSubnets(strings(&["s2"]))]),
            ("detach", Placement::Subnets(set(&["s1"])), desc(&["s1", "s2"]), vec![Action::DetachSubnets(strings(&["s2"]))]),
            (
                "replace one while another stays: detach first",
                Placement::Subnets(set(&["s1", "s3"])),
                desc(&["s1", "s2"]),
                vec![Action::DetachSubnets(strings(&["s2"])), Action::AttachSubnets(strings(&["s3"]))],
            ),
            (
                "replace all: attach first",
                Placement::Subnets(set(&["s3"])),
                desc(&["s1"]),
                vec![Action::AttachSubnets(strings(&["s3"])), Action::DetachSubnets(strings(&["s1"]))],
            ),
            ("empty desired is unmanaged", Placement::Subnets(BTreeSet::new()), desc(&["s1"]), vec![]),
        ];
        for (name, want, have, expect) in cases {
            assert_eq!(plan_placement(&want, &have), expect, "case {name}");
        }
    }

    #[test]
    fn instances_table() {
        let many: Vec<String> = (0..45).map(|i| format!("i-{i:03}")).collect();
        let cases: Vec<(&str, BTreeSet<String>, Vec<String>, Vec<Action>)> = vec![
            ("equal", set(&["i-1", "i-2"]), strings(&["i-2", "i-1"]), vec![]),
            ("register", set(&["i-1", "i-2"]), strings(&["i-1"]), vec![Action::RegisterInstances(strings(&["i-2"]))]),
            ("deregister", set(&["i-1"]), strings(&["i-1", "i-2"]), vec![Action::DeregisterInstances(strings(&["i-2"]))]),
            (
                "register before deregister",
                set(&["i-1", "i-3"]),
                strings(&["i-1", "i-2"]),
                vec![Action::RegisterInstances(strings(&["i-3"])), Action::DeregisterInstances(strings(&["i-2"]))],
            ),
            ("deregister all", BTreeSet::new(), strings(&["i-1"]), vec![Action::DeregisterInstances(strings(&["i-1"]))]),
            (
                "batches",
                many.iter().cloned().collect(),
                vec![],
                vec![
                    Action::RegisterInstances(many[0..20].to_vec()),
                    Action::RegisterInstances(many[20..40].to_vec()),
                    Action::RegisterInstances(many[40..45].to_vec()),
                ],
            ),
        ];
        for (name, want, have, expect) in cases {
            assert_eq!(plan_instances(&want, &have), expect, "case {name}");
        }
    }

    fn group(attached: bool, instances: &[&str]) -> ObservedGroup {
        ObservedGroup { attached, instances: set(instances), zones: BTreeMap::new() }
    }

    #[test]
    fn groups_are_attached_and_detached_and_their_instances_left_to_aws() {
        // i-1, i-2 from the spec; web (i-7, i-8) wanted and attached; old (i-9) attached, no
        // longer wanted; new (i-5) wanted, not attached yet.
        let mut d = desired();
        d.auto_scaling_groups = set(&["web", "new"]);
        let mut o = converged();
        o.groups =
            [("web".into(), group(true, &["i-7", "i-8"])), ("old".into(), group(true, &["i-9"])), ("new".into(), group(false, &["i-5"]))]
                .into();
        o.description.instances = strings(&["i-1", "i-2", "i-7", "i-8", "i-9", "i-6"]);
        assert_eq!(
            plan(&d, Some(&o)).unwrap(),
            vec![Action::DeregisterInstances(strings(&["i-6"])), Action::AttachGroup("new".into()), Action::DetachGroup("old".into()),],
            "only i-6, in no group, is the operator's to deregister; no group instance is registered by it"
        );
        assert_eq!(group_instances(&d.auto_scaling_groups, &o.groups), set(&["i-5", "i-7", "i-8", "i-9"]));
    }

    #[test]
    fn an_instance_both_selected_and_in_a_group_stays_registered_by_the_operator() {
        let mut d = desired();
        d.auto_scaling_groups = set(&["web"]);
        let mut o = converged();
        o.groups = [("web".into(), group(true, &["i-2", "i-7"]))].into();
        o.description.instances = strings(&["i-1", "i-7"]);
        assert_eq!(plan(&d, Some(&o)).unwrap(), vec![Action::RegisterInstances(strings(&["i-2"]))], "i-2 is a selected backend");
        o.description.instances = strings(&["i-1", "i-2", "i-7"]);
        assert_eq!(plan(&d, Some(&o)).unwrap(), vec![]);
    }

    #[test]
    fn groups_table() {
        let cases: Vec<(&str, &[&str], Groups, Vec<Action>)> = vec![
            ("none", &[], Groups::new(), vec![]),
            ("attached", &["a"], [("a".into(), group(true, &[]))].into(), vec![]),
            ("exists, not attached", &["a"], [("a".into(), group(false, &[]))].into(), vec![Action::AttachGroup("a".into())]),
            ("not found: the attach reports it", &["a"], Groups::new(), vec![Action::AttachGroup("a".into())]),
            ("removed from the spec", &[], [("a".into(), group(true, &["i-1"]))].into(), vec![Action::DetachGroup("a".into())]),
            ("recorded, detached already", &[], [("a".into(), group(false, &["i-1"]))].into(), vec![]),
            (
                "attach before detach",
                &["b"],
                [("a".into(), group(true, &[])), ("b".into(), group(false, &[]))].into(),
                vec![Action::AttachGroup("b".into()), Action::DetachGroup("a".into())],
            ),
        ];
        for (name, wanted, groups, expect) in cases {
            assert_eq!(plan_groups(&set(wanted), &groups), expect, "case {name}");
        }
        let mut d = desired();
        d.auto_scaling_groups = set(&["web"]);
        let created = plan(&d, None).unwrap();
        assert_eq!(created.last(), Some(&Action::AttachGroup("web".into())), "a new ELB gets its groups last: {created:?}");
        assert_eq!(Action::AttachGroup("web".into()).api_action(), "AttachLoadBalancers");
        assert_eq!(Action::DetachGroup("web".into()).to_string(), "detached Auto Scaling group web");
    }

    #[test]
    fn tags_table() {
        let map =
            |pairs: &[(&str, &str)]| -> BTreeMap<String, String> { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        let tag = |k: &str, v: &str| Tag { key: k.into(), value: Some(v.into()) };
        let cases: Vec<(&str, BTreeMap<String, String>, BTreeMap<String, String>, Vec<Action>)> = vec![
            ("equal", map(&[("a", "1")]), map(&[("a", "1")]), vec![]),
            ("add", map(&[("a", "1"), ("b", "2")]), map(&[("a", "1")]), vec![Action::AddTags(vec![tag("b", "2")])]),
            ("change value", map(&[("a", "2")]), map(&[("a", "1")]), vec![Action::AddTags(vec![tag("a", "2")])]),
            ("remove", map(&[("a", "1")]), map(&[("a", "1"), ("b", "2")]), vec![Action::RemoveTags(strings(&["b"]))]),
            ("aws: tags are never removed", map(&[("a", "1")]), map(&[("a", "1"), ("aws:cloudformation:stack-name", "x")]), vec![]),
            (
                "adoption: add ownership before removing",
                map(&[("elb.operator.dev/cluster", "c"), ("elb.operator.dev/resource", "ns/n")]),
                map(&[("old", "x")]),
                vec![
                    Action::AddTags(vec![tag("elb.operator.dev/cluster", "c"), tag("elb.operator.dev/resource", "ns/n")]),
                    Action::RemoveTags(strings(&["old"])),
                ],
            ),
        ];
        for (name, want, have, expect) in cases {
            assert_eq!(plan_tags(&want, &have), expect, "case {name}");
        }
    }

    #[test]
    fn attributes_table() {
        let observed = converged().attributes;
        let draining = |enabled, timeout| Some(ConnectionDraining { enabled, timeout });
        let cases: Vec<(&str, LoadBalancerAttributes, Option<LoadBalancerAttributes>)> = vec![
            ("nothing set", LoadBalancerAttributes::default(), None),
            (
                "equal values",
                LoadBalancerAttributes { cross_zone_load_balancing: Some(false), idle_timeout: Some(60), ..Default::default() },
                None,
            ),
            (
                "only the differing field is sent",
                LoadBalancerAttributes { cross_zone_load_balancing: Some(false), idle_timeout: Some(120), ..Default::default() },
                Some(LoadBalancerAttributes { idle_timeout: Some(120), ..Default::default() }),
            ),
            (
                "cross zone",
                LoadBalancerAttributes { cross_zone_load_balancing: Some(true), ..Default::default() },
                Some(LoadBalancerAttributes { cross_zone_load_balancing: Some(true), ..Default::default() }),
            ),
            (
                "draining enabled, timeout unset",
                LoadBalancerAttributes { connection_draining: draining(true, None), ..Default::default() },
                Some(LoadBalancerAttributes { connection_draining: draining(true, None), ..Default::default() }),
            ),
            (
                "draining disabled, any timeout",
                LoadBalancerAttributes { connection_draining: draining(false, None), ..Default::default() },
                None,
            ),
            (
                "draining timeout differs",
                LoadBalancerAttributes { connection_draining: draining(false, Some(30)), ..Default::default() },
                Some(LoadBalancerAttributes { connection_draining: draining(false, Some(30)), ..Default::default() }),
            ),
            (
                "access log enabled",
                LoadBalancerAttributes {
                    access_log: Some(AccessLog {
                        enabled: true,
                        s3_bucket_name: Some("b".into()),
                        s3_bucket_prefix: None,
                        emit_interval: Some(5),
                    }),
                    ..Default::default()
                },
                Some(LoadBalancerAttributes {
                    access_log: Some(AccessLog {
                        enabled: true,
                        s3_bucket_name: Some("b".into()),
                        s3_bucket_prefix: None,
                        emit_interval: Some(5),
                    }),
                    ..Default::default()
                }),
            ),
            (
                "access log disabled matches",
                LoadBalancerAttributes {
                    access_log: Some(AccessLog {
                        enabled: false,
                        s3_bucket_name: Some("b".into()),
                        s3_bucket_prefix: None,
                        emit_interval: None,
                    }),
                    ..Default::default()
                },
                None,
            ),
        ];
        for (name, want, expect) in cases {
            assert_eq!(plan_attributes(&want, &observed), expect, "case {name}");
        }
        // Attributes AWS did not report are set.
        let empty = LoadBalancerAttributes::default();
        let want = LoadBalancerAttributes { idle_timeout: Some(60), ..Default::default() };
        assert_eq!(plan_attributes(&want, &empty), Some(want.clone()));
    }

    #[test]
    fn security_groups_table() {
        let with_groups = |groups: &[&str]| {
            let mut o = converged();
            o.description.security_groups = strings(groups);
            o
        };
        let cases: Vec<(&str, Option<BTreeSet<String>>, Observed, Vec<Action>)> = vec![
            ("unmanaged", None, with_groups(&["sg-default"]), vec![]),
            ("empty is unmanaged", Some(BTreeSet::new()), with_groups(&["sg-default"]), vec![]),
            ("equal as sets", Some(set(&["sg-1", "sg-2"])), with_groups(&["sg-2", "sg-1"]), vec![]),
            ("changed", Some(set(&["sg-1"])), with_groups(&["sg-default"]), vec![Action::ApplySecurityGroups(strings(&["sg-1"]))]),
        ];
        for (name, groups, observed, expect) in cases {
            let mut d = desired();
            d.security_groups = groups;
            assert_eq!(plan(&d, Some(&observed)).unwrap(), expect, "case {name}");
        }
    }

    #[test]
    fn health_check_table() {
        let observed_with = |hc: Option<HealthCheck>| {
            let mut o = converged();
            o.description.health_check = hc;
            o
        };
        let changed = HealthCheck { interval: 30, ..health_check() };
        let cases: Vec<(&str, Option<HealthCheck>, Observed, Vec<Action>)> = vec![
            ("equal", Some(health_check()), observed_with(Some(health_check())), vec![]),
            (
                "protocol case ignored",
                Some(health_check()),
                observed_with(Some(HealthCheck { target: "http:8080/health".into(), ..health_check() })),
                vec![],
            ),
            (
                "path case matters",
                Some(health_check()),
                observed_with(Some(HealthCheck { target: "HTTP:8080/Health".into(), ..health_check() })),
                vec![Action::ConfigureHealthCheck(health_check())],
            ),
            ("interval changed", Some(changed.clone()), observed_with(Some(health_check())), vec![Action::ConfigureHealthCheck(changed)]),
            ("unmanaged", None, observed_with(Some(HealthCheck { target: "TCP:80".into(), ..health_check() })), vec![]),
            ("missing", Some(health_check()), observed_with(None), vec![Action::ConfigureHealthCheck(health_check())]),
        ];
        for (name, hc, observed, expect) in cases {
            let mut d = desired();
            d.health_check = hc;
            assert_eq!(plan(&d, Some(&observed)).unwrap(), expect, "case {name}");
        }
    }

    #[test]
    fn full_update_is_ordered() {
        let mut d = desired();
        d.placement = Placement::Zones(set(&["us-east-1a", "us-east-1c"]));
        d.tags.insert("env".into(), "prod".into());
        d.listeners = vec![listener(80, "HTTP", 8081, "HTTP", None), listener(443, "TCP", 8443, "TCP", None)];
        d.health_check = Some(HealthCheck { interval: 30, ..health_check() });
        d.attributes.idle_timeout = Some(30);
        d.instances = set(&["i-1", "i-3"]);
        let names: Vec<_> = plan(&d, Some(&converged())).unwrap().iter().map(Action::api_action).collect();
        assert_eq!(
            names,
            [
                "AddTags",
                "EnableAvailabilityZonesForLoadBalancer",
                "DisableAvailabilityZonesForLoadBalancer",
                "DeleteLoadBalancerListeners",
                "CreateLoadBalancerListeners",
                "ConfigureHealthCheck",
                "ModifyLoadBalancerAttributes",
                "RegisterInstancesWithLoadBalancer",
                "DeregisterInstancesFromLoadBalancer",
            ]
        );
    }

    #[test]
    fn policies_table() {
        use crate::elb::{BackendServerDescription, LbCookieStickinessPolicy, Policies};
        let lb = |exp: Option<i64>| Stickiness::LbCookie { expiration_seconds: exp };
        let lb300 = lb(Some(300)).policy_name(80);
        let lb600 = lb(Some(600)).policy_name(80);
        assert_eq!(lb300, "elb-operator-lb-cookie-80-300");
        let observed = |listener_policies: &[(u16, &[&str])], backend: &[(u16, &[&str])], defined: &[&str]| {
            let mut desc = converged().description;
            for (port, names) in listener_policies {
                let l = desc.listeners.iter_mut().find(|l| l.listener.load_balancer_port == *port).unwrap();
                l.policy_names = strings(names);
            }
            desc.backend_server_descriptions =
                backend.iter().map(|(p, n)| BackendServerDescription { instance_port: *p, policy_names: strings(n) }).collect();
            desc.policies = Policies {
                lb_cookie_stickiness: defined
                    .iter()
                    .filter(|n| n.contains("lb-cookie"))
                    .map(|n| LbCookieStickinessPolicy { policy_name: n.to_string(), cookie_expiration_period: None })
                    .collect(),
                other_policies: defined.iter().filter(|n| !n.contains("lb-cookie")).map(|n| n.to_string()).collect(),
                ..Default::default()
            };
            desc
        };
        let sticky = |s: Option<Stickiness>| -> BTreeMap<u16, Stickiness> { s.map(|s| (80, s)).into_iter().collect() };
        let proxy_policy = PROXY_PROTOCOL_POLICY.to_string();
        struct Case {
            name: &'static str,
            stickiness: BTreeMap<u16, Stickiness>,
            proxy: BTreeSet<u16>,
            observed: LoadBalancerDescription,
            fresh: BTreeSet<u16>,
            want: Vec<Action>,
        }
        let cases = vec![
            Case {
                name: "nothing",
                stickiness: sticky(None),
                proxy: BTreeSet::new(),
                observed: observed(&[], &[], &[]),
                fresh: BTreeSet::new(),
                want: vec![],
            },
            Case {
                name: "add lb-cookie stickiness",
                stickiness: sticky(Some(lb(Some(300)))),
                proxy: BTreeSet::new(),
                observed: observed(&[], &[], &[]),
                fresh: BTreeSet::new(),
                want: vec![
                    Action::CreateLbCookiePolicy { policy_name: lb300.clone(), expiration_seconds: Some(300) },
                    Action::SetListenerPolicies { port: 80, policy_names: vec![lb300.clone()] },
                ],
            },
            Case {
                name: "converged",
                stickiness: sticky(Some(lb(Some(300)))),
                proxy: BTreeSet::new(),
                observed: observed(&[(80, &[&lb300])], &[], &[&lb300]),
                fresh: BTreeSet::new(),
                want: vec![],
            },
            Case {
                name: "changed settings: new policy, swap, delete the old one",
                stickiness: sticky(Some(lb(Some(600)))),
                proxy: BTreeSet::new(),
                observed: observed(&[(80, &[&lb300])], &[], &[&lb300]),
                fresh: BTreeSet::new(),
                want: vec![
                    Action::CreateLbCookiePolicy { policy_name: lb600.clone(), expiration_seconds: Some(600) },
                    Action::SetListenerPolicies { port: 80, policy_names: vec![lb600.clone()] },
                    Action::DeletePolicy { policy_name: lb300.clone() },
                ],
            },
            Case {
                name: "removed",
                stickiness: sticky(None),
                proxy: BTreeSet::new(),
                observed: observed(&[(80, &[&lb300])], &[], &[&lb300]),
                fresh: BTreeSet::new(),
                want: vec![
                    Action::SetListenerPolicies { port: 80, policy_names: vec![] },
                    Action::DeletePolicy { policy_name: lb300.clone() },
                ],
            },
            Case {
                name: "others' policies stay attached and defined",
                stickiness: sticky(Some(lb(Some(300)))),
                proxy: BTreeSet::new(),
                observed: observed(&[(80, &["ELBSecurityPolicy-2016-08"])], &[], &["ELBSecurityPolicy-2016-08"]),
                fresh: BTreeSet::new(),
                want: vec![
                    Action::CreateLbCookiePolicy { policy_name: lb300.clone(), expiration_seconds: Some(300) },
                    Action::SetListenerPolicies { port: 80, policy_names: strings(&["ELBSecurityPolicy-2016-08", &lb300]) },
                ],
            },
            Case {
                name: "re-created listener gets its policy again",
                stickiness: sticky(Some(lb(Some(300)))),
                proxy: BTreeSet::new(),
                observed: observed(&[(80, &[&lb300])], &[], &[&lb300]),
                fresh: [80].into(),
                want: vec![Action::SetListenerPolicies { port: 80, policy_names: vec![lb300.clone()] }],
            },
            Case {
                name: "proxy protocol on",
                stickiness: sticky(None),
                proxy: [8443].into(),
                observed: observed(&[], &[], &[]),
                fresh: BTreeSet::new(),
                want: vec![
                    Action::CreateProxyProtocolPolicy { policy_name: proxy_policy.clone() },
                    Action::SetBackendPolicies { instance_port: 8443, policy_names: vec![proxy_policy.clone()] },
                ],
            },
            Case {
                name: "proxy protocol off",
                stickiness: sticky(None),
                proxy: BTreeSet::new(),
                observed: observed(&[], &[(8443, &[&proxy_policy])], &[&proxy_policy]),
                fresh: BTreeSet::new(),
                want: vec![
                    Action::SetBackendPolicies { instance_port: 8443, policy_names: vec![] },
                    Action::DeletePolicy { policy_name: proxy_policy.clone() },
                ],
            },
        ];
        for c in cases {
            let mut d = desired();
            d.stickiness = c.stickiness;
            d.proxy_protocol_ports = c.proxy;
            assert_eq!(plan_policies(&d, &c.observed, &c.fresh), c.want, "case {}", c.name);
        }
    }

    #[test]
    fn app_cookie_policy_names_are_stable_and_distinct() {
        let a = Stickiness::AppCookie { cookie_name: "SESSIONID".into() };
        let b = Stickiness::AppCookie { cookie_name: "JSESSIONID".into() };
        assert_eq!(a.policy_name(80), a.policy_name(80));
        assert_ne!(a.policy_name(80), b.policy_name(80));
        assert_ne!(a.policy_name(80), a.policy_name(81));
        assert!(a.policy_name(80).starts_with(POLICY_PREFIX));
    }

    #[test]
    fn create_sets_up_policies() {
        let mut d = desired();
        d.stickiness.insert(80, Stickiness::LbCookie { expiration_seconds: None });
        d.proxy_protocol_ports.insert(8443);
        let names: Vec<_> = plan(&d, None).unwrap().iter().map(Action::api_action).collect();
        assert_eq!(
            names,
            [
                "CreateLoadBalancer",
                "ConfigureHealthCheck",
                "CreateLBCookieStickinessPolicy",
                "CreateLoadBalancerPolicy",
                "SetLoadBalancerPoliciesOfListener",
                "SetLoadBalancerPoliciesForBackendServer",
                "RegisterInstancesWithLoadBalancer",
            ]
        );
    }

    #[test]
    fn display_names_the_change() {
        assert_eq!(Action::DeleteListener(443).to_string(), "deleted listener on port 443");
        assert_eq!(Action::RegisterInstances(strings(&["i-1", "i-2"])).to_string(), "registered instances i-1,i-2");
        assert_eq!(Action::RegisterInstances(vec![]).change(), Change::Registered);
    }

    #[test]
    fn a_tls_policy_replaces_the_predefined_one_and_is_replaced_when_it_changes() {
        let cert = "arn:aws:acm:us-east-1:123456789012:certificate/x";
        let mut d = desired();
        d.listeners = vec![listener(443, "HTTPS", 8080, "HTTP", Some(cert))];
        d.ssl_policies = [(443, "ELBSecurityPolicy-TLS-1-2-2017-01".to_string())].into();
        let mut o = converged();
        o.description.listeners =
            vec![ListenerDescription { listener: d.listeners[0].clone(), policy_names: strings(&["ELBSecurityPolicy-2016-08", "custom"]) }];
        o.description.policies.other_policies = strings(&["ELBSecurityPolicy-2016-08"]);
        let ours = ssl_policy_name(443, "ELBSecurityPolicy-TLS-1-2-2017-01");
        let actions = plan(&d, Some(&o)).unwrap();
        assert_eq!(
            actions,
            [
                Action::CreateSslNegotiationPolicy { policy_name: ours.clone(), reference: "ELBSecurityPolicy-TLS-1-2-2017-01".into() },
                Action::SetListenerPolicies { port: 443, policy_names: strings(&["custom", &ours]) },
            ]
        );

        // Applied: nothing more to do.
        o.description.listeners[0].policy_names = strings(&["custom", &ours]);
        o.description.policies.other_policies.push(ours.clone());
        assert_eq!(plan(&d, Some(&o)).unwrap(), []);

        // Another reference: a new policy, then the old one goes.
        d.ssl_policies = [(443, "ELBSecurityPolicy-TLS13-1-2-2021-06".to_string())].into();
        let newer = ssl_policy_name(443, "ELBSecurityPolicy-TLS13-1-2-2021-06");
        let names: Vec<String> = plan(&d, Some(&o)).unwrap().iter().map(|a| a.to_string()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names[0].contains(&newer) && names[2].contains(&ours) && names[2].starts_with("deleted"), "{names:?}");

        // The field removed: ours is detached and deleted; the others stay.
        d.ssl_policies.clear();
        let actions = plan(&d, Some(&o)).unwrap();
        assert_eq!(actions[0], Action::SetListenerPolicies { port: 443, policy_names: strings(&["custom"]) });
        assert_eq!(actions[1], Action::DeletePolicy { policy_name: ours });
    }
}
