//! The plan's vocabulary: one [`Action`] per ELB or AutoScaling call, and how each reads in an event.

use std::fmt;

use crate::elb::{CreateLoadBalancerInput, HealthCheck, Listener, LoadBalancerAttributes, Tag};

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
