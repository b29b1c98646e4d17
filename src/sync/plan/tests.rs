//! The planner's decisions, table by table.

#![allow(clippy::type_complexity)] // table rows are tuples

use super::*;
use crate::elb::{AccessLog, ConnectionDraining, ListenerDescription};

pub(super) fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}
pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}
pub(super) fn listener(port: u16, proto: &str, iport: u16, iproto: &str, cert: Option<&str>) -> Listener {
    Listener {
        load_balancer_port: port,
        protocol: proto.into(),
        instance_port: iport,
        instance_protocol: iproto.into(),
        ssl_certificate_id: cert.map(String::from),
    }
}
pub(super) fn tutorial_listeners() -> Vec<Listener> {
    vec![listener(80, "HTTP", 8080, "HTTP", None), listener(443, "TCP", 8443, "TCP", None)]
}
pub(super) fn health_check() -> HealthCheck {
    HealthCheck { target: "HTTP:8080/health".into(), interval: 20, timeout: 5, healthy_threshold: 3, unhealthy_threshold: 5 }
}
pub(super) fn desired() -> Desired {
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
pub(super) fn converged() -> Observed {
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

pub(super) fn group(attached: bool, instances: &[&str]) -> ObservedGroup {
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
