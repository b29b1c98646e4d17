//! The operator's day-two controls on the stand-in and moto: the pause annotation.

use std::time::Duration;

use elb_operator::crd::{LoadBalancer, FINALIZER, PAUSED_ANNOTATION};
use elb_operator::elb::Clients;
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
