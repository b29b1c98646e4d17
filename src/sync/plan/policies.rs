//! Listener and back-end policies: stickiness, PROXY protocol and TLS negotiation.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Desired};
use crate::elb::LoadBalancerDescription;

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

pub(super) fn sorted_strings(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}
