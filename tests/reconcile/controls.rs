//! The operator's day-two controls on the stand-in and moto: the pause annotation, and
//! `elb-operator plan` against what the controller then does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use elb_operator::crd::{LoadBalancer, FINALIZER, PAUSED_ANNOTATION};
use elb_operator::elb::{Clients, CreateLoadBalancerInput, ElbApi};
use elb_operator::preview::{self, Plan, Report, Selection};
use elb_operator::sync::execute;
use elb_operator::telemetry::Metrics;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use test_support::fault_proxy::is_mutating;

use crate::kube_loop::{condition, create, events, eventually, is_true, kube_client, namespace, Operator};
use crate::{calls, client};

fn load_balancer(name: &str, elb: &str, ports: &[u16]) -> serde_json::Value {
    let listeners: Vec<_> = ports.iter().map(|p| json!({"port": p, "instancePort": 8080, "protocol": "TCP"})).collect();
    json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": name},
           "spec": {"loadBalancerName": elb, "availabilityZones": ["us-east-1a"], "listeners": listeners}})
}

async fn set_paused(lbs: &Api<LoadBalancer>, name: &str, paused: bool) {
    let value = if paused { json!("true") } else { serde_json::Value::Null };
    let patch = json!({"metadata": {"annotations": {PAUSED_ANNOTATION: value}}});
    lbs.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("annotate");
}

async fn ports(elb: &str) -> Vec<u16> {
    let d = execute::describe(&client(), elb).await.unwrap().expect("the ELB exists");
    let mut ports: Vec<u16> = d.listeners.iter().map(|l| l.listener.load_balancer_port).collect();
    ports.sort();
    ports
}

fn mutations(metrics: &Metrics) -> u64 {
    calls(metrics).matching(is_mutating)
}

/// Paused: a spec change is not applied and no AWS write is made, Synced says Paused with
/// one Normal event; a deletion waits with the finalizer and the ELB in place. Resumed:
/// one sync applies the spec; resumed while deleted: the deletion policy (Delete) applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_load_balancer_gets_no_aws_write_until_resumed() {
    let (_standin, kube) = kube_client().await;
    let ns = "loop-paused";
    namespace(&kube, ns).await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    let metrics = Metrics::new();
    let clients = Clients::new(crate::config().with_metrics(metrics.elb.clone()));
    let operator = Operator::start_with(&kube, Operator::config(ns), clients, metrics.clone()).await;
    create(&lbs, load_balancer("web", "loop-paused-web", &[80])).await;
    create(&lbs, load_balancer("gone", "loop-paused-gone", &[80])).await;
    for name in ["web", "gone"] {
        eventually("Synced", || async { lbs.get(name).await.ok().filter(|lb| is_true(lb, "Synced")) }).await;
    }

    // Paused, then changed: nothing reaches AWS.
    set_paused(&lbs, "web", true).await;
    eventually("Synced=False Paused", || async {
        lbs.get("web").await.ok().filter(|lb| condition(lb, "Synced").is_some_and(|c| c.status == "False" && c.reason == "Paused"))
    })
    .await;
    let before = mutations(&metrics);
    let patch = json!({"spec": {"listeners": [{"port": 80, "instancePort": 8080, "protocol": "TCP"}, {"port": 81, "instancePort": 8080, "protocol": "TCP"}]}});
    lbs.patch("web", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let reconciles = operator_reconciles(&metrics);
    eventually("the change reconciled", || async { (operator_reconciles(&metrics) > reconciles).then_some(()) }).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(ports("loop-paused-web").await, vec![80], "a paused LoadBalancer's spec reached AWS");
    assert_eq!(mutations(&metrics), before, "AWS writes while paused: {:?}", calls(&metrics).per_action());
    let web = lbs.get("web").await.unwrap();
    assert_eq!(condition(&web, "Synced").unwrap().reason, "Paused");
    assert!(is_true(&web, "Ready"), "Ready keeps the last observed health: {:?}", web.status);
    let paused_events = events(&kube, ns).await.into_iter().filter(|(t, r, _)| t == "Normal" && r == "Paused").count();
    assert_eq!(paused_events, 1, "one event per pause");

    // Resumed: one sync applies the change.
    set_paused(&lbs, "web", false).await;
    eventually("Synced again", || async { lbs.get("web").await.ok().filter(|lb| is_true(lb, "Synced")) }).await;
    assert_eq!(ports("loop-paused-web").await, vec![80, 81]);

    // Paused and deleted: the finalizer stays and the ELB is untouched.
    set_paused(&lbs, "gone", true).await;
    eventually("gone paused", || async {
        lbs.get("gone").await.ok().filter(|lb| condition(lb, "Synced").is_some_and(|c| c.reason == "Paused"))
    })
    .await;
    let before = mutations(&metrics);
    lbs.delete("gone", &DeleteParams::default()).await.unwrap();
    eventually("the deletion seen as paused", || async {
        lbs.get("gone").await.ok().filter(|lb| condition(lb, "Synced").is_some_and(|c| c.message.contains("deletion waits")))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting = lbs.get("gone").await.expect("a paused LoadBalancer's deletion waits");
    assert!(waiting.metadata.finalizers.iter().flatten().any(|f| f == FINALIZER));
    assert!(execute::describe(&client(), "loop-paused-gone").await.unwrap().is_some(), "the ELB of a paused LoadBalancer was deleted");
    assert_eq!(mutations(&metrics), before, "AWS writes while paused: {:?}", calls(&metrics).per_action());

    // Resumed: the deletion policy (Delete) applies.
    set_paused(&lbs, "gone", false).await;
    eventually("gone", || async { lbs.get_opt("gone").await.unwrap().is_none().then_some(()) }).await;
    assert_eq!(execute::describe(&client(), "loop-paused-gone").await.unwrap(), None);
    lbs.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("web gone", || async { lbs.get_opt("web").await.unwrap().is_none().then_some(()) }).await;
    operator.stop().await;
}

fn operator_reconciles(metrics: &Metrics) -> u64 {
    metrics.reconcile.runs.get_or_create(&elb_operator::telemetry::ResourceLabels { resource: "loadbalancer".into() }).get()
}

/// The plan of `namespace`, made with a client counted in `metrics`.
async fn plan(kube: &kube::Client, ns: &str, metrics: &Metrics) -> Report {
    let clients = Clients::new(crate::config().with_metrics(metrics.elb.clone()));
    let selection = Selection { namespace: Some(ns.into()), name: None };
    preview::plan(kube.clone(), Operator::config(ns), Arc::new(clients), &selection).await.expect("plan")
}

/// The AWS writes per action, planned in `report`.
fn planned(report: &Report) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for call in report.load_balancers.iter().flat_map(|e| e.calls()) {
        *out.entry(call.action.to_string()).or_default() += 1;
    }
    out
}

/// The AWS writes per action counted in `metrics`.
fn made(metrics: &Metrics) -> BTreeMap<String, u64> {
    calls(metrics).per_action().into_iter().filter(|(a, _)| is_mutating(a)).collect()
}

/// `plan` over LoadBalancers to change, create, adopt, delete, a conflict, a refusal and a
/// paused one, made while the operator is stopped: it makes no AWS write, says what each
/// would get, and its calls are, action for action and count for count, the writes the
/// controller then makes. Once the controller is done, a second plan has nothing to change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_lists_the_writes_the_controller_then_makes() {
    let (_standin, kube) = kube_client().await;
    let ns = "loop-plan";
    namespace(&kube, ns).await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    let c = client();

    // Two LoadBalancers synced, then the operator stops.
    let operator = Operator::start(&kube, ns).await;
    create(&lbs, load_balancer("changed", "loop-plan-changed", &[80])).await;
    create(&lbs, load_balancer("deleted", "loop-plan-deleted", &[80])).await;
    for name in ["changed", "deleted"] {
        eventually("Synced", || async { lbs.get(name).await.ok().filter(|lb| is_true(lb, "Synced")) }).await;
    }
    operator.stop().await;

    // Meanwhile: a change, a new one, a deletion, a conflict, an adoption, a refusal, a pause.
    let patch = json!({"spec": {"listeners": [{"port": 80, "instancePort": 8080, "protocol": "TCP"}, {"port": 81, "instancePort": 8080, "protocol": "TCP"}]}});
    lbs.patch("changed", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    create(&lbs, load_balancer("created", "loop-plan-created", &[80, 443])).await;
    lbs.delete("deleted", &DeleteParams::default()).await.unwrap();
    c.create_load_balancer(&CreateLoadBalancerInput::http("loop-plan-foreign", "us-east-1a", 8080)).await.unwrap();
    create(&lbs, load_balancer("conflict", "loop-plan-foreign", &[80])).await;
    c.create_load_balancer(&CreateLoadBalancerInput::http("loop-plan-adoptee", "us-east-1a", 8080)).await.unwrap();
    let classes: Api<elb_operator::crd::LoadBalancerClass> = Api::all(kube.clone());
    create(
        &classes,
        json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancerClass",
                            "metadata": {"name": "plan-adopters"}, "spec": {"adoption": "Allowed"}}),
    )
    .await;
    create(&lbs, json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": "adopted"},
                        "spec": {"className": "plan-adopters", "loadBalancerName": "loop-plan-adoptee", "adopt": true,
                                 "availabilityZones": ["us-east-1a"], "listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]}}))
    .await;
    let mut refused = load_balancer("refused", "loop-plan-refused", &[80]);
    refused["spec"]["healthCheckRef"] = json!({"name": "missing"});
    create(&lbs, refused).await;
    let mut paused = load_balancer("paused", "loop-plan-paused", &[80]);
    paused["metadata"]["annotations"] = json!({PAUSED_ANNOTATION: "true"});
    create(&lbs, paused).await;

    // The plan: reads only.
    let plan_metrics = Metrics::new();
    let report = plan(&kube, ns, &plan_metrics).await;
    assert!(calls(&plan_metrics).total() > 0, "the plan read nothing");
    assert_eq!(mutations(&plan_metrics), 0, "the plan wrote to AWS: {:?}", calls(&plan_metrics).per_action());
    let by_name: BTreeMap<&str, &Plan> = report.load_balancers.iter().map(|e| (e.name.as_str(), &e.plan)).collect();
    assert_eq!(by_name.len(), 7, "{report:#?}");
    assert!(
        matches!(by_name["changed"], Plan::Change { calls } if calls.len() == 1 && calls[0].action == "CreateLoadBalancerListeners"),
        "{report:#?}"
    );
    assert!(matches!(by_name["created"], Plan::Create { calls } if calls[0].action == "CreateLoadBalancer"), "{report:#?}");
    assert!(
        matches!(by_name["deleted"], Plan::Delete { calls, .. } if calls.len() == 1 && calls[0].action == "DeleteLoadBalancer"),
        "{report:#?}"
    );
    assert!(matches!(by_name["conflict"], Plan::Conflict { reason, .. } if reason == "Conflict"), "{report:#?}");
    assert!(matches!(by_name["adopted"], Plan::Adopt { calls } if calls[0].action == "AddTags"), "{report:#?}");
    assert!(matches!(by_name["refused"], Plan::Refused { reason, .. } if reason == "HealthCheckNotFound"), "{report:#?}");
    assert!(
        matches!(by_name["paused"], Plan::Paused { deleting: false, on_resume } if on_resume[0].action == "CreateLoadBalancer"),
        "{report:#?}"
    );
    let created = report.load_balancers.iter().find(|e| e.name == "created").unwrap();
    assert_eq!(created.calls()[0].arguments["Listeners"].as_array().map(Vec::len), Some(2), "{:?}", created.calls()[0]);
    assert!(report.changes() && !report.failed());

    // The controller makes exactly those writes.
    let metrics = Metrics::new();
    let clients = Clients::new(crate::config().with_metrics(metrics.elb.clone()));
    let operator = Operator::start_with(&kube, Operator::config(ns), clients, metrics.clone()).await;
    for name in ["changed", "created", "adopted"] {
        eventually("Synced", || async { lbs.get(name).await.ok().filter(|lb| is_true(lb, "Synced")) }).await;
    }
    eventually("deleted", || async { lbs.get_opt("deleted").await.unwrap().is_none().then_some(()) }).await;
    eventually("the conflict reported", || async { lbs.get("conflict").await.ok().filter(|lb| is_true(lb, "Conflict")) }).await;
    for (name, reason) in [("refused", "HealthCheckNotFound"), ("paused", "Paused")] {
        eventually(reason, || async { lbs.get(name).await.ok().filter(|lb| condition(lb, "Synced").is_some_and(|c| c.reason == reason)) })
            .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(made(&metrics), planned(&report), "planned (right) and made (left) writes differ");
    assert_eq!(ports("loop-plan-changed").await, vec![80, 81]);

    // Nothing left to change.
    let again = plan(&kube, ns, &Metrics::new()).await;
    assert!(!again.changes(), "{again:#?}");
    operator.stop().await;
    for elb in ["loop-plan-changed", "loop-plan-created", "loop-plan-foreign", "loop-plan-adoptee"] {
        c.delete_load_balancer(elb).await.unwrap();
    }
}

/// Installs ExternalDNS's DNSEndpoint CRD (vendored from its repository).
async fn install_dnsendpoint_crd(kube: &kube::Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let path = test_support::repo_root().join("tests/fixtures/dnsendpoints.externaldns.k8s.io.yaml");
    let crd: CustomResourceDefinition = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Api::<CustomResourceDefinition>::all(kube.clone()).create(&Default::default(), &crd).await.expect("install the DNSEndpoint CRD");
}

fn dns_endpoints(kube: &kube::Client, ns: &str) -> Api<kube::api::DynamicObject> {
    Api::namespaced_with(kube.clone(), ns, &elb_operator::controller::loadbalancer::dns::api_resource())
}

fn with_dns(mut lb: serde_json::Value, dns: serde_json::Value) -> serde_json::Value {
    lb["spec"]["dns"] = dns;
    lb
}

fn dns_published(lb: &LoadBalancer) -> Option<(String, String)> {
    condition(lb, "DNSPublished").map(|c| (c.status.clone(), c.reason.clone()))
}

/// With ExternalDNS's CRD: a DNSEndpoint owned by the LoadBalancer with a CNAME per
/// hostname to its DNS name and the TTL; updated with the hostnames; deleted with spec.dns,
/// and the condition with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_dns_keeps_a_dns_endpoint_for_external_dns() {
    let (_standin, kube) = kube_client().await;
    install_dnsendpoint_crd(&kube).await;
    let ns = "loop-dns";
    namespace(&kube, ns).await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    let endpoints = dns_endpoints(&kube, ns);
    let operator = Operator::start(&kube, ns).await;
    let dns = json!({"hostnames": ["www.example.com", "shop.example.com"], "ttl": 60});
    create(&lbs, with_dns(load_balancer("web", "loop-dns-web", &[80]), dns)).await;
    let lb = eventually("DNSPublished", || async {
        lbs.get("web").await.ok().filter(|lb| dns_published(lb) == Some(("True".into(), "Published".into())))
    })
    .await;
    let target = lb.status.as_ref().and_then(|s| s.dns_name.clone()).expect("a DNS name");
    let endpoint = endpoints.get("web").await.expect("the DNSEndpoint");
    let owner = &endpoint.metadata.owner_references.as_ref().expect("owned")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("LoadBalancer", lb.metadata.uid.as_deref().unwrap(), Some(true))
    );
    assert_eq!(
        endpoint.data["spec"]["endpoints"],
        json!([{"dnsName": "www.example.com", "recordType": "CNAME", "targets": [target], "recordTTL": 60},
               {"dnsName": "shop.example.com", "recordType": "CNAME", "targets": [target], "recordTTL": 60}])
    );

    // One hostname less, another TTL: the DNSEndpoint follows.
    let patch = json!({"spec": {"dns": {"hostnames": ["www.example.com"], "ttl": 300}}});
    lbs.patch("web", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually("the DNSEndpoint updated", || async {
        let e = endpoints.get("web").await.ok()?;
        (e.data["spec"]["endpoints"]
            == json!([{"dnsName": "www.example.com", "recordType": "CNAME", "targets": [target], "recordTTL": 300}]))
        .then_some(())
    })
    .await;

    // spec.dns removed: the DNSEndpoint and the condition go.
    lbs.patch("web", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"dns": null}}))).await.unwrap();
    eventually("the DNSEndpoint deleted", || async { endpoints.get_opt("web").await.unwrap().is_none().then_some(()) }).await;
    eventually("the condition removed", || async { lbs.get("web").await.ok().filter(|lb| dns_published(lb).is_none()) }).await;
    lbs.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("web gone", || async { lbs.get_opt("web").await.unwrap().is_none().then_some(()) }).await;
    operator.stop().await;
}

/// Without ExternalDNS's CRD: DNSPublished=False ExternalDNSNotInstalled, the ELB synced all
/// the same; once the CRD is installed, the next resync publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_external_dns_dns_published_says_so_and_rechecks() {
    let (_standin, kube) = kube_client().await;
    let ns = "loop-nodns";
    namespace(&kube, ns).await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    let config = elb_operator::controller::Config { resync_interval: Duration::from_secs(2), ..Operator::config(ns) };
    let operator = Operator::start_with(&kube, config, Clients::new(crate::config()), Metrics::new()).await;
    create(&lbs, with_dns(load_balancer("web", "loop-nodns-web", &[80]), json!({"hostnames": ["www.example.com"]}))).await;
    let lb = eventually("ExternalDNSNotInstalled", || async {
        lbs.get("web").await.ok().filter(|lb| dns_published(lb) == Some(("False".into(), "ExternalDNSNotInstalled".into())))
    })
    .await;
    assert!(is_true(&lb, "Synced"), "{:?}", lb.status);
    install_dnsendpoint_crd(&kube).await;
    eventually("published after the CRD came", || async {
        lbs.get("web").await.ok().filter(|lb| dns_published(lb) == Some(("True".into(), "Published".into())))
    })
    .await;
    let endpoint = dns_endpoints(&kube, ns).get("web").await.expect("the DNSEndpoint");
    assert!(endpoint.data["spec"]["endpoints"][0].get("recordTTL").is_none(), "no TTL asked for: {:?}", endpoint.data);
    lbs.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("web gone", || async { lbs.get_opt("web").await.unwrap().is_none().then_some(()) }).await;
    operator.stop().await;
}
