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

#[cfg(test)]
#[allow(clippy::type_complexity)] // table rows are tuples
mod tests {
    use super::super::tests::*;
    use super::super::*;
    use crate::elb::ListenerDescription;

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
        let names: Vec<_> = plan(&d, None, None).unwrap().iter().map(Action::api_action).collect();
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
        let actions = plan(&d, Some(&o), None).unwrap();
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
        assert_eq!(plan(&d, Some(&o), None).unwrap(), []);

        // Another reference: a new policy, then the old one goes.
        d.ssl_policies = [(443, "ELBSecurityPolicy-TLS13-1-2-2021-06".to_string())].into();
        let newer = ssl_policy_name(443, "ELBSecurityPolicy-TLS13-1-2-2021-06");
        let names: Vec<String> = plan(&d, Some(&o), None).unwrap().iter().map(|a| a.to_string()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names[0].contains(&newer) && names[2].contains(&ours) && names[2].starts_with("deleted"), "{names:?}");

        // The field removed: ours is detached and deleted; the others stay.
        d.ssl_policies.clear();
        let actions = plan(&d, Some(&o), None).unwrap();
        assert_eq!(actions[0], Action::SetListenerPolicies { port: 443, policy_names: strings(&["custom"]) });
        assert_eq!(actions[1], Action::DeletePolicy { policy_name: ours });
    }
}
