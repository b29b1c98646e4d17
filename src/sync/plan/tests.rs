//! The planner's decisions, table by table.

#![allow(clippy::type_complexity)] // table rows are tuples

use super::*;
use crate::elb::{AccessLog, ConnectionDraining, ListenerDescription};

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
    assert_eq!(plan(&desired(), Some(&converged()), None).unwrap(), vec![]);
}

#[test]
fn create_carries_everything_then_configures_the_rest() {
    let mut d = desired();
    d.attributes.idle_timeout = Some(120);
    d.security_groups = Some(set(&["sg-1"]));
    d.scheme = Some(Scheme::Internal);
    let actions = plan(&d, None, None).unwrap();
    let names: Vec<_> = actions.iter().map(Action::api_action).collect();
    assert_eq!(names, ["CreateLoadBalancer", "ConfigureHealthCheck", "ModifyLoadBalancerAttributes", "RegisterInstancesWithLoadBalancer"]);
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
    let actions = plan(&d, None, None).unwrap();
    assert_eq!(actions.len(), 1);
    assert!(matches!(actions[0], Action::Create(_)));
}

#[test]
fn create_in_subnets() {
    let mut d = desired();
    d.placement = Placement::Subnets(set(&["subnet-1"]));
    let Action::Create(input) = &plan(&d, None, None).unwrap()[0] else { panic!() };
    assert_eq!(input.subnets, strings(&["subnet-1"]));
    assert!(input.availability_zones.is_empty());
}

#[test]
fn create_without_placement_is_refused() {
    let mut d = desired();
    d.placement = Placement::Zones(BTreeSet::new());
    assert_eq!(plan(&d, None, None), Err(PlanError::NoPlacement));
}

#[test]
fn scheme_cannot_change() {
    let mut d = desired();
    d.scheme = Some(Scheme::Internal);
    assert_eq!(
        plan(&d, Some(&converged()), None),
        Err(PlanError::SchemeMismatch { observed: Scheme::InternetFacing, desired: Scheme::Internal })
    );
    d.scheme = Some(Scheme::InternetFacing);
    assert_eq!(plan(&d, Some(&converged()), None).unwrap(), vec![]);
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
        Case { name: "equal", desired: vec![http80.clone(), tcp443.clone()], observed: vec![tcp443.clone(), http80.clone()], want: vec![] },
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
        plan(&d, Some(&o), None).unwrap(),
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
    assert_eq!(plan(&d, Some(&o), None).unwrap(), vec![Action::RegisterInstances(strings(&["i-2"]))], "i-2 is a selected backend");
    o.description.instances = strings(&["i-1", "i-2", "i-7"]);
    assert_eq!(plan(&d, Some(&o), None).unwrap(), vec![]);
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
    let created = plan(&d, None, None).unwrap();
    assert_eq!(created.last(), Some(&Action::AttachGroup("web".into())), "a new ELB gets its groups last: {created:?}");
    assert_eq!(Action::AttachGroup("web".into()).api_action(), "AttachLoadBalancers");
    assert_eq!(Action::DetachGroup("web".into()).to_string(), "detached Auto Scaling group web");
}

#[test]
fn tags_table() {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
    let tag = |k: &str, v: &str| Tag { key: k.into(), value: Some(v.into()) };
    let record = |keys: &[&str]| Some(set(keys));
    let (cluster, resource) = ("elb.operator.dev/cluster", "elb.operator.dev/resource");
    let cases: Vec<(&str, BTreeMap<String, String>, BTreeMap<String, String>, Option<BTreeSet<String>>, Vec<Action>)> = vec![
        ("equal", map(&[("a", "1")]), map(&[("a", "1")]), record(&["a"]), vec![]),
        ("add", map(&[("a", "1"), ("b", "2")]), map(&[("a", "1")]), record(&["a"]), vec![Action::AddTags(vec![tag("b", "2")])]),
        ("change value", map(&[("a", "2")]), map(&[("a", "1")]), record(&["a"]), vec![Action::AddTags(vec![tag("a", "2")])]),
        (
            "a key it wrote and the spec dropped is removed",
            map(&[("a", "1")]),
            map(&[("a", "1"), ("b", "2")]),
            record(&["a", "b"]),
            vec![Action::RemoveTags(strings(&["b"]))],
        ),
        ("a key it never wrote stays", map(&[("a", "1")]), map(&[("a", "1"), ("CostCenter", "42")]), record(&["a"]), vec![]),
        ("record lost: nothing of the spec's is removed", map(&[("a", "1")]), map(&[("a", "1"), ("b", "2")]), None, vec![]),
        (
            "a foreign value under a spec key: the spec wins",
            map(&[("team", "web")]),
            map(&[("team", "someone-else")]),
            None,
            vec![Action::AddTags(vec![tag("team", "web")])],
        ),
        (
            "aws: tags are never removed",
            map(&[("a", "1")]),
            map(&[("a", "1"), ("aws:cloudformation:stack-name", "x")]),
            record(&["aws:cloudformation:stack-name"]),
            vec![],
        ),
        (
            "its own stale markers go, record or not",
            map(&[(cluster, "c"), (resource, "ns/n")]),
            map(&[(cluster, "c"), (resource, "ns/n"), ("elb.operator.dev/retained", "true")]),
            None,
            vec![Action::RemoveTags(strings(&["elb.operator.dev/retained"]))],
        ),
        (
            "the adopted and cluster-uid markers are records, never removed",
            map(&[(cluster, "c"), (resource, "ns/n")]),
            map(&[(cluster, "c"), (resource, "ns/n"), ("elb.operator.dev/adopted", "true"), ("elb.operator.dev/cluster-uid", "u")]),
            record(&[]),
            vec![],
        ),
        (
            "adoption: ownership added, the ELB's own tags kept",
            map(&[(cluster, "c"), (resource, "ns/n")]),
            map(&[("old", "x")]),
            None,
            vec![Action::AddTags(vec![tag(cluster, "c"), tag(resource, "ns/n")])],
        ),
    ];
    for (name, want, have, written, expect) in cases {
        assert_eq!(plan_tags(&want, &have, written.as_ref()), expect, "case {name}");
    }
    // The record after a sync: the spec's keys, not the markers.
    assert_eq!(managed_tags(&map(&[("team", "web"), (cluster, "c"), (resource, "ns/n")])), set(&["team"]));
}

#[test]
fn a_full_plan_removes_only_recorded_tags() {
    let mut o = converged();
    o.tags.insert("CostCenter".into(), "42".into());
    o.tags.insert("env".into(), "old".into());
    let d = desired();
    assert_eq!(plan(&d, Some(&o), None).unwrap(), vec![], "no record: nothing removed");
    assert_eq!(
        plan(&d, Some(&o), Some(&set(&["team", "env"]))).unwrap(),
        vec![Action::RemoveTags(strings(&["env"]))],
        "env was the operator's, CostCenter never was"
    );
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
        assert_eq!(plan(&d, Some(&observed), None).unwrap(), expect, "case {name}");
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
        assert_eq!(plan(&d, Some(&observed), None).unwrap(), expect, "case {name}");
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
    let names: Vec<_> = plan(&d, Some(&converged()), None).unwrap().iter().map(Action::api_action).collect();
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
            want: vec![Action::SetListenerPolicies { port: 80, policy_names: vec![] }, Action::DeletePolicy { policy_name: lb300.clone() }],
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

#[test]
fn the_cluster_uid_tag_is_written_on_create_and_added_to_an_elb_without_it() {
    use crate::sync::ownership::{Owner, CLUSTER_UID_TAG};
    let before = Owner::new("prod", "web", "my-lb");
    let owner = before.clone().with_cluster_uid("uid-1");
    let mut d = desired();
    d.tags.extend(owner.tags());
    let Action::Create(input) = &plan(&d, None, None).unwrap()[0] else { panic!() };
    assert!(input.tags.contains(&Tag { key: CLUSTER_UID_TAG.into(), value: Some("uid-1".into()) }), "{:?}", input.tags);

    // An ELB made before the tag existed: owned, and the tag is added.
    let mut o = converged();
    o.tags = d.tags.clone();
    o.tags.remove(CLUSTER_UID_TAG);
    assert_eq!(before.ownership(&o.tags), owner.ownership(&o.tags));
    assert_eq!(
        plan(&d, Some(&o), None).unwrap(),
        vec![Action::AddTags(vec![Tag { key: CLUSTER_UID_TAG.into(), value: Some("uid-1".into()) }])]
    );
}
