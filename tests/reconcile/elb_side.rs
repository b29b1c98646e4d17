//! The ELB side of the LoadBalancer reconcile, against moto: the desired state the controller
//! computes from a LoadBalancer spec (`desired_state`) is converged with `converge`, and the
//! result is read back from moto. Kubernetes is not involved here.
//!
//! Every test uses its own load balancer names and its own client (so call counts, read from
//! the client's metrics, are per test).

use std::collections::{BTreeMap, BTreeSet};

use elb_operator::aws::{is_mutating, Error};
use elb_operator::controller::backends;
use elb_operator::controller::healthcheck;
use elb_operator::controller::loadbalancer::build::desired_state;
use elb_operator::controller::loadbalancer::next_status;
use elb_operator::crd::{HealthCheckSpec, LoadBalancerSpec};
use elb_operator::elb::*;
use elb_operator::sync::execute::{self, Converged, Deleted, Outcome, Report};
use elb_operator::sync::ownership::{ConflictReason, Owner, ADOPTED_TAG, CLUSTER_TAG, RESOURCE_TAG};
use elb_operator::sync::plan::{Action, Desired};

use crate::{calls, client, counted, MOTO, REGION};

fn owner(name: &str) -> Owner {
    Owner::new("test-cluster", "default", name)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The tutorial's HealthCheck resource, validated as the controller does.
fn tutorial_health_check(interval: i32) -> HealthCheck {
    healthcheck::validate(&HealthCheckSpec {
        target: "HTTP:8080/health".into(),
        interval_seconds: interval,
        timeout_seconds: 5,
        healthy_threshold: 3,
        unhealthy_threshold: 5,
    })
    .expect("valid health check")
}

/// The tutorial's LoadBalancer spec with the given zones and static instance ids.
fn tutorial_spec(zones: &[&str], instances: &[String]) -> LoadBalancerSpec {
    serde_yaml::from_str(&format!(
        r#"
availabilityZones: {zones:?}
listeners:
- {{port: 80, instancePort: 8080, protocol: HTTP}}
- {{port: 443, instancePort: 8443, protocol: TCP}}
healthCheckRef: {{name: instance-health}}
backends:
  instanceIds: {instances:?}
attributes: {{crossZone: false, connectionDraining: {{enabled: true, timeoutSeconds: 300}}, idleTimeoutSeconds: 60}}
tags: {{team: web}}
"#
    ))
    .expect("tutorial spec")
}

/// What the controller computes from a spec (backends resolved without any pod or node).
fn desired(name: &str, spec: &LoadBalancerSpec, hc: Option<HealthCheck>) -> Desired {
    let resolved = backends::resolve(spec.backends.as_ref(), "default", &[], &[]).expect("backends");
    desired_state(spec, name, hc, &resolved, &owner(name)).expect("desired state")
}

fn converged(report: Report) -> (Vec<Action>, Converged) {
    match report.result {
        Ok(Outcome::Converged(c)) => (report.applied, *c),
        other => panic!("expected convergence, got {other:?} after {:?}", report.applied),
    }
}

fn api_actions(actions: &[Action]) -> Vec<&'static str> {
    actions.iter().map(Action::api_action).collect()
}

/// Everything moto reports about one ELB.
#[derive(Debug, PartialEq)]
struct Snapshot {
    description: LoadBalancerDescription,
    tags: Vec<Tag>,
    attributes: LoadBalancerAttributes,
    health: Vec<InstanceState>,
}

async fn snapshot(c: &Client, name: &str) -> Snapshot {
    let description = execute::describe(c, name).await.expect("describe").expect("exists");
    let mut tags = c.describe_tags(&[name.to_string()]).await.expect("tags").remove(name).unwrap_or_default();
    tags.sort();
    let attributes = c.describe_load_balancer_attributes(name).await.expect("attributes");
    let mut health = c.describe_instance_health(name, &[]).await.expect("health");
    health.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    Snapshot { description, tags, attributes, health }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn listeners_of(d: &LoadBalancerDescription) -> Vec<Listener> {
    let mut l: Vec<Listener> = d.listeners.iter().map(|l| l.listener.clone()).collect();
    l.sort();
    l
}

/// Asserts that moto's ELB is what `want` describes.
async fn assert_matches(c: &Client, want: &Desired) {
    let s = snapshot(c, &want.name).await;
    let mut listeners = want.listeners.clone();
    listeners.sort();
    assert_eq!(listeners_of(&s.description), listeners, "listeners");
    match &want.placement {
        elb_operator::sync::plan::Placement::Zones(z) => {
            assert_eq!(sorted(&s.description.availability_zones), z.iter().cloned().collect::<Vec<_>>(), "zones")
        }
        elb_operator::sync::plan::Placement::Subnets(sn) => {
            assert_eq!(sorted(&s.description.subnets), sn.iter().cloned().collect::<Vec<_>>(), "subnets")
        }
    }
    assert_eq!(s.description.health_check, want.health_check, "health check");
    assert_eq!(s.description.instances.iter().cloned().collect::<BTreeSet<_>>(), want.instances, "registered instances");
    let tags: BTreeMap<String, String> = s.tags.iter().map(|t| (t.key.clone(), t.value.clone().unwrap_or_default())).collect();
    assert_eq!(tags, want.tags, "tags");
    if let Some(v) = want.attributes.cross_zone_load_balancing {
        assert_eq!(s.attributes.cross_zone_load_balancing, Some(v), "cross zone");
    }
    if let Some(v) = &want.attributes.connection_draining {
        let got = s.attributes.connection_draining.clone().expect("draining reported");
        assert_eq!(got.enabled, v.enabled, "draining");
        if let Some(t) = v.timeout {
            assert_eq!(got.timeout, Some(t), "draining timeout");
        }
    }
    if let Some(v) = want.attributes.idle_timeout {
        assert_eq!(s.attributes.idle_timeout, Some(v), "idle timeout");
    }
}

#[tokio::test]
async fn tutorial_scenario_converges_and_follows_changes() {
    let c = client();
    let name = "rc-tutorial";
    let ids = MOTO.run_instances(2, "us-east-1a");

    // Create: two zones, 80->8080 HTTP and 443->8443 TCP, the health check, two instances.
    let want = desired(name, &tutorial_spec(&["us-east-1a", "us-east-1b"], &ids), Some(tutorial_health_check(20)));
    let (applied, state) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert_eq!(
        api_actions(&applied),
        ["CreateLoadBalancer", "ConfigureHealthCheck", "ModifyLoadBalancerAttributes", "RegisterInstancesWithLoadBalancer"]
    );
    assert!(state.description.dns_name.starts_with(name), "DNS name: {}", state.description.dns_name);
    assert_eq!(state.health.as_ref().map(Vec::len), Some(2));
    assert_matches(&c, &want).await;
    let tags = snapshot(&c, name).await.tags;
    assert_eq!(tags.iter().filter(|t| t.key == CLUSTER_TAG || t.key == RESOURCE_TAG).count(), 2, "exactly two ownership tags: {tags:?}");

    // Health is reported per instance; a stopped instance goes OutOfService.
    MOTO.stop_instances(&ids[1..2]);
    let (applied, state) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert!(applied.is_empty(), "{applied:?}");
    let (table, summary) = next_status::instances(state.health.as_deref().expect("health read"), &BTreeMap::new(), &Default::default());
    assert_eq!(summary, "1/2");
    assert_eq!(table.iter().find(|i| i.instance_id == ids[1]).map(|i| i.state.as_str()), Some("OutOfService"));

    // Disable a zone, enable another, deregister an instance, change the health check.
    let want = desired(name, &tutorial_spec(&["us-east-1a", "us-east-1c"], &ids[..1]), Some(tutorial_health_check(30)));
    let (applied, _) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert_eq!(
        applied,
        vec![
            Action::EnableZones(strings(&["us-east-1c"])),
            Action::DisableZones(strings(&["us-east-1b"])),
            Action::ConfigureHealthCheck(tutorial_health_check(30)),
            Action::DeregisterInstances(ids[1..2].to_vec()),
        ]
    );
    assert_matches(&c, &want).await;

    // Delete: gone, and deleting again is success.
    assert_eq!(execute::delete(&c, name, &owner(name), false).await.unwrap(), Deleted::Deleted);
    assert_eq!(execute::describe(&c, name).await.unwrap(), None);
    assert_eq!(execute::delete(&c, name, &owner(name), false).await.unwrap(), Deleted::AlreadyGone);
}

#[tokio::test]
async fn converged_state_makes_no_mutating_call() {
    let (c, metrics) = counted();
    let name = "rc-idempotent";
    let ids = MOTO.run_instances(2, "us-east-1b");
    let want = desired(name, &tutorial_spec(&["us-east-1a", "us-east-1b"], &ids), Some(tutorial_health_check(20)));
    converged(execute::converge(&c, &want, &owner(name), false).await);
    let first = calls(&metrics);
    assert_eq!(first.attempts("CreateLoadBalancer"), 1, "{first:?}");

    let (applied, _) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert!(applied.is_empty(), "{applied:?}");
    let second = calls(&metrics).since(&first);
    for action in ACTIONS.iter().filter(|a| is_mutating(a)) {
        assert_eq!(second.attempts(action), 0, "{action} called on converged state: {second:?}");
    }
    assert_eq!(second.matching(is_mutating), 0);
    // The observation itself: one describe of each kind, and nothing else.
    for read in ["DescribeLoadBalancers", "DescribeTags", "DescribeLoadBalancerAttributes", "DescribeInstanceHealth"] {
        assert_eq!(second.attempts(read), 1, "{read}: {second:?}");
    }
    assert_eq!(second.total(), 4, "{second:?}");
    execute::delete(&c, name, &owner(name), false).await.unwrap();
}

/// A pre-existing ELB under the wanted name, with its own config and tags.
async fn create_foreign(c: &Client, name: &str, tags: &[(&str, &str)], instance: &str) {
    c.create_load_balancer(&CreateLoadBalancerInput {
        name: name.into(),
        listeners: vec![Listener {
            load_balancer_port: 8000,
            protocol: "TCP".into(),
            instance_port: 8000,
            instance_protocol: "TCP".into(),
            ssl_certificate_id: None,
        }],
        availability_zones: strings(&["us-east-1c"]),
        tags: tags.iter().map(|(k, v)| Tag { key: k.to_string(), value: Some(v.to_string()) }).collect(),
        ..Default::default()
    })
    .await
    .expect("create foreign");
    c.configure_health_check(
        name,
        &HealthCheck { target: "TCP:8000".into(), interval: 10, timeout: 3, healthy_threshold: 2, unhealthy_threshold: 2 },
    )
    .await
    .expect("foreign health check");
    c.modify_load_balancer_attributes(name, &LoadBalancerAttributes { idle_timeout: Some(120), ..Default::default() })
        .await
        .expect("foreign attributes");
    c.register_instances(name, &[instance.to_string()]).await.expect("foreign instance");
}

#[tokio::test]
#[allow(clippy::type_complexity)] // table rows are tuples
async fn foreign_load_balancer_is_never_changed() {
    let (c, metrics) = counted();
    let ids = MOTO.run_instances(2, "us-east-1c");
    let cases: [(&str, Vec<(&str, &str)>, bool, ConflictReason); 6] = [
        ("rc-foreign-untagged", vec![("owner", "someone-else")], false, ConflictReason::NotOwned),
        // adopt never takes an ELB that another resource, cluster or controller claims.
        (
            "rc-foreign-claimed",
            vec![(CLUSTER_TAG, "other-cluster"), (RESOURCE_TAG, "default/rc-foreign-claimed")],
            true,
            ConflictReason::ForeignOwner,
        ),
        ("rc-foreign-sibling", vec![(CLUSTER_TAG, "test-cluster"), (RESOURCE_TAG, "other-ns/x")], true, ConflictReason::NotOwned),
        // A Service's ELB made by cloud-provider-aws, and one of the AWS Load Balancer Controller.
        (
            "rc-foreign-k8s",
            vec![("kubernetes.io/cluster/x", "owned"), ("kubernetes.io/service-name", "default/web")],
            true,
            ConflictReason::ForeignOwner,
        ),
        ("rc-foreign-k8s-noadopt", vec![("kubernetes.io/cluster/x", "shared")], false, ConflictReason::ForeignOwner),
        ("rc-foreign-lbc", vec![("elbv2.k8s.aws/cluster", "x")], true, ConflictReason::ForeignOwner),
    ];
    for (name, tags, adopt, want_reason) in cases {
        create_foreign(&c, name, &tags, &ids[0]).await;
        let before = snapshot(&c, name).await;
        let calls_before = calls(&metrics);

        let want = desired(name, &tutorial_spec(&["us-east-1a"], &ids[1..]), Some(tutorial_health_check(20)));
        let report = execute::converge(&c, &want, &owner(name), adopt).await;
        assert!(report.applied.is_empty(), "{name}: {:?}", report.applied);
        match report.result {
            Ok(Outcome::Conflict { claimed_by, reason }) => {
                assert_eq!(reason, want_reason, "{name}: {claimed_by:?}");
                assert_eq!(claimed_by.is_some(), name != "rc-foreign-untagged", "{name}: {claimed_by:?}");
            }
            other => panic!("{name}: expected a conflict, got {other:?}"),
        }
        // Deletion leaves it in place too.
        assert!(matches!(execute::delete(&c, name, &owner(name), false).await.unwrap(), Deleted::Foreign { .. }));
        let made = calls(&metrics).since(&calls_before);
        assert_eq!(made.matching(is_mutating), 0, "{name}: {made:?}");
        assert_eq!(snapshot(&c, name).await, before, "{name} changed");
        c.delete_load_balancer(name).await.unwrap();
    }
}

#[tokio::test]
async fn adopt_takes_over_an_untagged_load_balancer() {
    let c = client();
    let name = "rc-adopt";
    let ids = MOTO.run_instances(2, "us-east-1a");
    create_foreign(&c, name, &[("legacy", "yes")], &ids[0]).await;
    let want = desired(name, &tutorial_spec(&["us-east-1a"], &ids[1..]), Some(tutorial_health_check(20)));
    let report = execute::converge(&c, &want, &owner(name), true).await;
    assert!(report.adopted);
    let (applied, _) = converged(report);
    // Ownership tags go on first, with the adopted marker, in one call; then the spec
    // replaces the rest, but the ELB's own tags.
    let Action::AddTags(added) = &applied[0] else { panic!("{applied:?}") };
    assert!(added.iter().any(|t| t.key == ADOPTED_TAG && t.value.as_deref() == Some("true")), "{added:?}");
    assert!(added.iter().any(|t| t.key == CLUSTER_TAG) && added.iter().any(|t| t.key == RESOURCE_TAG), "{added:?}");
    assert!(!api_actions(&applied).contains(&"RemoveTags"), "{applied:?}");
    let mut with_own_tags = want.clone();
    with_own_tags.tags.extend([("legacy".to_string(), "yes".to_string()), (ADOPTED_TAG.to_string(), "true".to_string())]);
    assert_matches(&c, &with_own_tags).await;
    // Converged: the marker and the ELB's own tag are not drift.
    let (applied, _) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert_eq!(applied, [], "owned now: no adopt needed, nothing to change");

    // Deleting its resource keeps it (the tag decides; no status is involved), and marks it
    // retained; only an explicit deletionPolicy: Delete deletes it.
    assert_eq!(execute::delete(&c, name, &owner(name), false).await.unwrap(), Deleted::KeptAdopted);
    assert!(execute::describe(&c, name).await.unwrap().is_some(), "kept");
    let tags = snapshot(&c, name).await.tags;
    assert!(tags.iter().any(|t| t.key == "elb.operator.dev/retained" && t.value.as_deref() == Some("true")), "{tags:?}");
    assert_eq!(execute::delete(&c, name, &owner(name), true).await.unwrap(), Deleted::Deleted);
}

#[tokio::test]
async fn a_tag_the_operator_never_wrote_survives_a_full_sync() {
    let c = client();
    let name = "rc-foreign-tag";
    let ids = MOTO.run_instances(1, "us-east-1a");
    let mut spec = tutorial_spec(&["us-east-1a"], &ids);
    spec.tags.insert("env".into(), "prod".into());
    let want = desired(name, &spec, None);
    let report = execute::converge(&c, &want, &owner(name), false).await;
    let record = report.managed_tags.clone();
    assert_eq!(record, ["env".to_string(), "team".to_string()].into(), "the spec's keys, not the markers");
    converged(report);

    // Out of band: a cost-allocation tag; then `env` leaves the spec.
    c.add_tags(&[name.to_string()], &[Tag { key: "CostCenter".into(), value: Some("42".into()) }]).await.unwrap();
    spec.tags.remove("env");
    let want = desired(name, &spec, None);
    let known = execute::Known { written_tags: Some(&record), ..execute::Known::default() };
    let report = execute::converge_from(execute::Apis { elb: &c, autoscaling: None }, &want, &owner(name), false, known).await;
    assert_eq!(report.managed_tags, ["team".to_string()].into());
    let (applied, _) = converged(report);
    assert_eq!(applied, [Action::RemoveTags(strings(&["env"]))], "only the key the operator wrote");
    let tags = snapshot(&c, name).await.tags;
    assert!(tags.contains(&Tag { key: "CostCenter".into(), value: Some("42".into()) }), "{tags:?}");
    assert!(!tags.iter().any(|t| t.key == "env"), "{tags:?}");

    // Without a record (lost), nothing but the markers is ever removed.
    let (applied, _) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert_eq!(applied, []);
    execute::delete(&c, name, &owner(name), false).await.unwrap();
}

#[tokio::test]
async fn drift_is_corrected() {
    let c = client();
    let name = "rc-drift";
    let ids = MOTO.run_instances(2, "us-east-1b");
    let want = desired(name, &tutorial_spec(&["us-east-1a", "us-east-1b"], &ids), Some(tutorial_health_check(20)));
    converged(execute::converge(&c, &want, &owner(name), false).await);

    // Out of band: a listener removed, an instance deregistered, a tag added, an attribute
    // changed. The tag is not the operator's: it stays.
    c.delete_load_balancer_listeners(name, &[443]).await.unwrap();
    c.deregister_instances(name, &ids[1..]).await.unwrap();
    c.add_tags(&[name.to_string()], &[Tag { key: "rogue".into(), value: Some("x".into()) }]).await.unwrap();
    c.modify_load_balancer_attributes(name, &LoadBalancerAttributes { idle_timeout: Some(300), ..Default::default() }).await.unwrap();
    let (applied, _) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert_eq!(api_actions(&applied), ["CreateLoadBalancerListeners", "ModifyLoadBalancerAttributes", "RegisterInstancesWithLoadBalancer"]);
    let mut with_rogue = want.clone();
    with_rogue.tags.insert("rogue".into(), "x".into());
    assert_matches(&c, &with_rogue).await;

    // Out of band: the ELB deleted. It is created again, complete.
    c.delete_load_balancer(name).await.unwrap();
    let (applied, state) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert_eq!(applied[0].api_action(), "CreateLoadBalancer");
    assert_eq!(state.health.as_ref().map(Vec::len), Some(2));
    assert_matches(&c, &want).await;
    execute::delete(&c, name, &owner(name), false).await.unwrap();
}

#[tokio::test]
async fn vpc_placement_and_security_groups() {
    let c = client();
    let name = "rc-vpc";
    let subnets = MOTO.default_subnets(REGION);
    assert!(subnets.len() >= 2, "{subnets:?}");
    let sg = MOTO.create_security_group(REGION, "rc-vpc-sg");
    let spec = |subnets: &[String]| -> LoadBalancerSpec {
        serde_yaml::from_str(&format!(
            "{{listeners: [{{port: 80, instancePort: 8080, protocol: HTTP}}], subnets: {subnets:?}, securityGroups: [{sg}]}}"
        ))
        .unwrap()
    };
    let want = desired(name, &spec(&subnets[..1]), None);
    converged(execute::converge(&c, &want, &owner(name), false).await);
    assert_matches(&c, &want).await;
    assert_eq!(snapshot(&c, name).await.description.security_groups, vec![sg.clone()]);

    let want = desired(name, &spec(&subnets[..2]), None);
    let (applied, _) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert_eq!(applied, vec![Action::AttachSubnets(vec![subnets[1].clone()])]);
    assert_matches(&c, &want).await;

    let want = desired(name, &spec(&subnets[1..2]), None);
    let (applied, _) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert_eq!(applied, vec![Action::DetachSubnets(vec![subnets[0].clone()])]);
    assert_matches(&c, &want).await;
    execute::delete(&c, name, &owner(name), false).await.unwrap();
}

#[tokio::test]
async fn an_error_stops_the_sync_and_names_its_action() {
    let c = client();
    let name = "rc-error";
    let port80 = "{port: 80, instancePort: 8080, protocol: HTTP}";
    let spec = |listeners: &str, extra: &str| -> LoadBalancerSpec {
        serde_yaml::from_str(&format!("{{listeners: [{listeners}], availabilityZones: [us-east-1a]{extra}}}")).unwrap()
    };
    converged(execute::converge(&c, &desired(name, &spec(port80, ""), None), &owner(name), false).await);

    // A new tag (applied first), a security group that does not exist (refused), and a new
    // listener (planned after the security groups, so never sent).
    let bad = spec(
        &format!("{port80}, {{port: 81, instancePort: 8081, protocol: HTTP}}"),
        ", tags: {team: web}, securityGroups: [sg-does-not-exist]",
    );
    let report = execute::converge(&c, &desired(name, &bad, None), &owner(name), false).await;
    assert_eq!(api_actions(&report.applied), ["AddTags"]);
    match &report.result {
        Err(execute::Failure::Elb(e)) => {
            assert_eq!(e.code(), Some("ValidationError"), "{e:?}");
            let text = e.to_string();
            assert!(text.starts_with("ApplySecurityGroupsToLoadBalancer: ValidationError: "), "{text}");
            assert_eq!(elb_operator::controller::loadbalancer::report::error_reason(e), "ValidationError");
        }
        other => panic!("expected an ELB error, got {other:?}"),
    }
    let ports: Vec<u16> = listeners_of(&snapshot(&c, name).await.description).iter().map(|l| l.load_balancer_port).collect();
    assert_eq!(ports, [80], "nothing after the failed call ran");
    execute::delete(&c, name, &owner(name), false).await.unwrap();
}

#[tokio::test]
async fn stickiness_and_proxy_protocol_policies() {
    let (c, metrics) = counted();
    let name = "rc-policies";
    let spec = |sticky: &str, proxy: bool| -> LoadBalancerSpec {
        serde_yaml::from_str(&format!(
            "{{availabilityZones: [us-east-1a], listeners: [\
             {{port: 80, instancePort: 8080, protocol: HTTP{sticky}}}, \
             {{port: 443, instancePort: 8443, protocol: TCP, proxyProtocol: {proxy}}}]}}"
        ))
        .unwrap()
    };
    let want = desired(name, &spec(", stickiness: {expirationSeconds: 300}", true), None);
    converged(execute::converge(&c, &want, &owner(name), false).await);
    let d = snapshot(&c, name).await.description;
    let port80 = d.listeners.iter().find(|l| l.listener.load_balancer_port == 80).unwrap();
    assert_eq!(port80.policy_names, strings(&["elb-operator-lb-cookie-80-300"]));
    assert_eq!(
        d.backend_server_descriptions,
        vec![BackendServerDescription { instance_port: 8443, policy_names: strings(&["elb-operator-proxy-protocol"]) }]
    );

    let before = calls(&metrics);
    let (applied, _) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert!(applied.is_empty(), "{applied:?}");
    let made = calls(&metrics).since(&before);
    assert_eq!(made.matching(is_mutating), 0, "{made:?}");

    // Switch to the application's cookie and drop PROXY protocol.
    let want = desired(name, &spec(", stickiness: {cookieName: SESSIONID}", false), None);
    let (applied, _) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert_eq!(
        api_actions(&applied),
        [
            "CreateAppCookieStickinessPolicy",
            "SetLoadBalancerPoliciesOfListener",
            "SetLoadBalancerPoliciesForBackendServer",
            "DeleteLoadBalancerPolicy",
            "DeleteLoadBalancerPolicy",
        ]
    );
    let d = snapshot(&c, name).await.description;
    assert_eq!(d.policies.app_cookie_stickiness.len(), 1);
    assert_eq!(d.policies.app_cookie_stickiness[0].cookie_name, "SESSIONID");
    assert!(d.policies.lb_cookie_stickiness.is_empty(), "{:?}", d.policies);
    assert!(!d.policies.other_policies.iter().any(|p| p.starts_with("elb-operator-")), "{:?}", d.policies);
    execute::delete(&c, name, &owner(name), false).await.unwrap();
}

/// A TLS negotiation policy on an HTTPS listener, against moto: created, set on the
/// listener, converged without further calls, and removed when the field goes away.
/// (HTTPS to the instances: moto reports the front-end protocol as the instance protocol.)
#[tokio::test]
async fn tls_negotiation_policy_follows_the_spec() {
    let (c, metrics) = counted();
    let name = "rc-tls-policy";
    let spec = |policy: &str| -> LoadBalancerSpec {
        serde_yaml::from_str(&format!(
            "{{availabilityZones: [us-east-1a], listeners: [\
             {{port: 443, instancePort: 8080, protocol: HTTPS, instanceProtocol: HTTPS, \
               sslCertificateId: 'arn:aws:iam::123456789012:server-certificate/test-cert'{policy}}}]}}"
        ))
        .unwrap()
    };
    let want = desired(name, &spec(", sslPolicy: ELBSecurityPolicy-TLS-1-2-2017-01"), None);
    converged(execute::converge(&c, &want, &owner(name), false).await);
    let ours = elb_operator::sync::plan::ssl_policy_name(443, "ELBSecurityPolicy-TLS-1-2-2017-01");
    let d = snapshot(&c, name).await.description;
    let port443 = d.listeners.iter().find(|l| l.listener.load_balancer_port == 443).unwrap();
    assert!(port443.policy_names.contains(&ours), "{:?}", port443.policy_names);
    let described = c.describe_load_balancer_policies(name, std::slice::from_ref(&ours)).await.unwrap();
    assert_eq!(described[0].policy_type_name, "SSLNegotiationPolicyType");
    assert!(described[0]
        .attributes
        .iter()
        .any(|a| a.name == "Reference-Security-Policy" && a.value == "ELBSecurityPolicy-TLS-1-2-2017-01"));

    let before = calls(&metrics);
    let (applied, _) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert!(applied.is_empty(), "{applied:?}");
    assert_eq!(calls(&metrics).since(&before).matching(is_mutating), 0);

    let want = desired(name, &spec(""), None);
    let (applied, _) = converged(execute::converge(&c, &want, &owner(name), false).await);
    assert_eq!(api_actions(&applied), ["SetLoadBalancerPoliciesOfListener", "DeleteLoadBalancerPolicy"]);
    let d = snapshot(&c, name).await.description;
    assert!(!d.policies.other_policies.contains(&ours), "{:?}", d.policies);
    execute::delete(&c, name, &owner(name), false).await.unwrap();
}

/// Auto Scaling groups through the sync engine: attached beside instances the spec names,
/// their instances never registered or deregistered by the operator, a recorded group
/// detached once the spec drops it, and a foreign ELB's groups not even read.
#[tokio::test]
async fn groups_are_attached_beside_the_spec_instances_and_detached_when_dropped() {
    use elb_operator::autoscaling::{self, AutoScalingApi};
    use elb_operator::sync::execute::{Apis, Known};
    use test_support::metrics::{ElbCalls, AUTOSCALING_CALLS};

    let group = MOTO.create_auto_scaling_group("side-asg", "us-east-1a", 2);
    let own = MOTO.run_instances(1, "us-east-1a");
    let (c, metrics) = counted();
    let config = autoscaling::client_config(&crate::config(), Some(&MOTO.endpoint), &|_| None).unwrap();
    let asg = autoscaling::Client::new(config.with_metrics(metrics.autoscaling.clone())).unwrap();
    let apis = Apis { elb: &c, autoscaling: Some(&asg as &dyn AutoScalingApi) };
    let asg_calls = || ElbCalls::parse_family(&metrics.encode(), AUTOSCALING_CALLS);
    let name = "side-asg-lb";
    let mut spec = tutorial_spec(&["us-east-1a"], &own);
    spec.backends.as_mut().unwrap().auto_scaling_groups = vec!["side-asg".into()];
    let want = desired(name, &spec, None);
    let mut all = [group.clone(), own.clone()].concat();
    all.sort();

    let (applied, _) = converged(execute::converge_from(apis, &want, &owner(name), false, Known::default()).await);
    assert_eq!(applied.first().map(Action::api_action), Some("CreateLoadBalancer"));
    assert_eq!(applied.last(), Some(&Action::AttachGroup("side-asg".into())));
    assert_eq!(api_actions(&applied).iter().filter(|a| a.starts_with("Register")).count(), 1, "the spec's instance: {applied:?}");
    let (applied, state) = converged(execute::converge_from(apis, &want, &owner(name), false, Known::default()).await);
    assert_eq!(applied, [], "converged: the group's instances are AWS's, not drift");
    let mut registered = state.description.instances.clone();
    registered.sort();
    assert_eq!(registered, all);
    assert_eq!(state.attached_groups(), ["side-asg"]);
    assert!(state.health.as_ref().is_some_and(|h| h.len() == 3), "{:?}", state.health);
    let counted = calls(&metrics);
    assert_eq!(counted.attempts("RegisterInstancesWithLoadBalancer"), 1, "only the spec's own instance: {counted:?}");
    assert_eq!(counted.attempts("DeregisterInstancesFromLoadBalancer"), 0, "{counted:?}");
    assert_eq!(asg_calls().attempts("DescribeAutoScalingGroups"), 2, "one bulk read per sync");

    // Dropped from the spec, recorded in status: detached, the spec's instance kept.
    let dropped = desired(name, &tutorial_spec(&["us-east-1a"], &own), None);
    let recorded = ["side-asg".to_string()];
    let known = Known { recorded_groups: &recorded, ..Known::default() };
    let (applied, state) = converged(execute::converge_from(apis, &dropped, &owner(name), false, known).await);
    assert_eq!(applied, [Action::DetachGroup("side-asg".into())]);
    assert_eq!(state.description.instances, own);
    assert!(state.attached_groups().is_empty());
    assert!(MOTO.group_load_balancers(REGION, "side-asg").is_empty());
    let (applied, _) = converged(execute::converge_from(apis, &dropped, &owner(name), false, known).await);
    assert_eq!(applied, [], "a recorded group found detached needs nothing");
    let (attaches, detaches) = (asg_calls().attempts("AttachLoadBalancers"), asg_calls().attempts("DetachLoadBalancers"));
    assert_eq!((attaches, detaches), (1, 1));

    // A foreign ELB: nothing changed, its groups not read.
    create_foreign(&c, "side-asg-foreign", &[], &own[0]).await;
    let before = asg_calls();
    let report = execute::converge_from(apis, &desired("side-asg-foreign", &spec, None), &owner("side-asg-foreign"), false, known).await;
    assert!(matches!(report.result, Ok(Outcome::Conflict { .. })), "{:?}", report.result);
    let detached = execute::detach_groups(apis, "side-asg-foreign", &owner("side-asg-foreign"), &recorded, true).await.unwrap();
    assert!(detached.is_empty(), "a foreign ELB's groups are not the deletion's to detach");
    assert_eq!(asg_calls().since(&before).total(), 0);

    // Groups without an AutoScaling client: a configuration error before any call.
    let before = calls(&metrics);
    let report = execute::converge(&c, &desired("side-asg-none", &spec, None), &owner("side-asg-none"), false).await;
    assert!(matches!(&report.result, Err(execute::Failure::Elb(Error::Config(m))) if m.contains("AutoScaling")), "{:?}", report.result);
    assert_eq!(calls(&metrics).since(&before).matching(is_mutating), 0);
}

/// The cluster-uid ownership tag: written on create by an owner that knows its cluster's
/// UID, and added to an ELB made before the tag existed at its next sync.
#[tokio::test]
async fn the_cluster_uid_tag_is_written_on_create_and_added_on_the_next_sync() {
    use elb_operator::sync::ownership::CLUSTER_UID_TAG;
    let c = client();
    let ids = MOTO.run_instances(1, "us-east-1a");
    let spec = tutorial_spec(&["us-east-1a"], &ids);
    let resolved = backends::resolve(spec.backends.as_ref(), "default", &[], &[]).expect("backends");
    let uid_tag = Tag { key: CLUSTER_UID_TAG.into(), value: Some("uid-1".into()) };

    let name = "rc-uid-new";
    let owner_uid = owner(name).with_cluster_uid("uid-1");
    let want = desired_state(&spec, name, None, &resolved, &owner_uid).expect("desired state");
    converged(execute::converge(&c, &want, &owner_uid, false).await);
    assert!(snapshot(&c, name).await.tags.contains(&uid_tag), "written on create");
    execute::delete(&c, name, &owner_uid, false).await.unwrap();

    let name = "rc-uid-old";
    converged(execute::converge(&c, &desired(name, &spec, None), &owner(name), false).await);
    assert!(!snapshot(&c, name).await.tags.iter().any(|t| t.key == CLUSTER_UID_TAG));
    let owner_uid = owner(name).with_cluster_uid("uid-1");
    let want = desired_state(&spec, name, None, &resolved, &owner_uid).expect("desired state");
    let (applied, _) = converged(execute::converge(&c, &want, &owner_uid, false).await);
    assert_eq!(applied, [Action::AddTags(vec![uid_tag.clone()])]);
    assert!(snapshot(&c, name).await.tags.contains(&uid_tag));
    // Another cluster of the same name (another uid) finds it foreign now.
    let twin = owner(name).with_cluster_uid("uid-2");
    let report = execute::converge(&c, &want, &twin, true).await;
    assert!(matches!(report.result, Ok(Outcome::Conflict { reason: ConflictReason::ForeignOwner, .. })), "{:?}", report.result);
    assert!(matches!(execute::delete(&c, name, &twin, true).await.unwrap(), Deleted::Foreign { .. }));
    execute::delete(&c, name, &owner_uid, false).await.unwrap();
}

/// The name checks of a scope's creates share one listing; a name this process created
/// after that listing counts as taken (a sync that failed after its create must not create
/// it again); a create that may have been applied is looked for by name.
#[tokio::test]
async fn name_checks_share_one_listing() {
    use elb_operator::sync::names::NameCheck;
    use tokio::time::Instant;

    let (c, metrics) = counted();
    let names = NameCheck::default();
    c.create_load_balancer(&CreateLoadBalancerInput::http("nc-existing", "us-east-1a", 8080)).await.unwrap();
    assert!(names.exists(&c, "nc-existing").await.unwrap());
    assert!(!names.exists(&c, "nc-absent-1").await.unwrap());
    assert!(names.exists(&c, "NC-EXISTING").await.unwrap(), "ELB names are case-insensitive");
    assert_eq!(names.listings(), 1, "one listing answers every name");

    let sent = Instant::now();
    c.create_load_balancer(&CreateLoadBalancerInput::http("nc-new", "us-east-1a", 8080)).await.unwrap();
    names.created("nc-new", sent);
    assert!(names.exists(&c, "nc-new").await.unwrap(), "created after the listing, and known");
    assert_eq!(names.listings(), 1);

    // A create that may have been applied is looked for by name: the listing predates it.
    names.create_uncertain("nc-maybe", Instant::now());
    let before = calls(&metrics).attempts("DescribeLoadBalancers");
    assert!(!names.exists(&c, "nc-maybe").await.unwrap(), "not applied after all");
    assert_eq!(calls(&metrics).attempts("DescribeLoadBalancers"), before + 1, "one describe by name");
    assert_eq!(names.listings(), 1, "and no new listing");
}
