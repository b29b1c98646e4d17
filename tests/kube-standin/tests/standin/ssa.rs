//! Server-side apply of list-map elements against the project's real LoadBalancer CRD
//! (`crds/loadbalancers.elb.operator.dev.yaml`): an element the applying manager stops
//! sending is removed whole (keys included) unless another manager owns part of it, in which
//! case only that manager's fields and the keys stay. This is structured-merge-diff's prune
//! (merge/update.go: `prune`, `addBackOwnedItems`, `addBackDanglingItems`; typed/remove.go):
//! a list-map element's own path is a member of its applier's field set, and removing that
//! path removes the element.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::Client;
use kube_standin::StandIn;
use serde_json::{json, Value};

use crate::common::client;

/// A stand-in with the project's LoadBalancer CRD, and a dynamic API for it.
async fn setup_lb() -> (StandIn, Api<DynamicObject>) {
    let s = StandIn::start().await.expect("start stand-in");
    let c: Client = client(&s).await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crds/loadbalancers.elb.operator.dev.yaml");
    let crd: CustomResourceDefinition = serde_yaml::from_str(&std::fs::read_to_string(path).expect("read CRD")).expect("CRD");
    Api::<CustomResourceDefinition>::all(c.clone()).create(&PostParams::default(), &crd).await.expect("create CRD");
    let gvk = GroupVersionKind::gvk("elb.operator.dev", "v1alpha1", "LoadBalancer");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "loadbalancers");
    (s, Api::namespaced_with(c, "default", &ar))
}

fn lb(spec: Value) -> Value {
    json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer",
           "metadata": {"name": "web"}, "spec": spec})
}

fn lb_status(status: Value) -> Value {
    json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer",
           "metadata": {"name": "web"}, "status": status})
}

fn listener(port: u16, extra: Value) -> Value {
    let mut l = json!({"port": port, "protocol": "TCP", "instancePort": port + 8000});
    if let (Value::Object(m), Value::Object(e)) = (&mut l, extra) {
        m.extend(e);
    }
    l
}

async fn apply(api: &Api<DynamicObject>, manager: &str, body: Value) -> Value {
    let got =
        api.patch("web", &PatchParams::apply(manager), &Patch::Apply(body)).await.unwrap_or_else(|e| panic!("apply by {manager}: {e}"));
    serde_json::to_value(got).unwrap()
}

async fn apply_status(api: &Api<DynamicObject>, manager: &str, body: Value) -> Value {
    let got = api
        .patch_status("web", &PatchParams::apply(manager), &Patch::Apply(body))
        .await
        .unwrap_or_else(|e| panic!("status apply by {manager}: {e}"));
    serde_json::to_value(got).unwrap()
}

async fn stored(api: &Api<DynamicObject>) -> Value {
    serde_json::to_value(api.get("web").await.expect("get")).unwrap()
}

fn instance(id: &str, state: &str) -> Value {
    json!({"instanceId": id, "state": state})
}

#[tokio::test]
async fn status_apply_removes_a_dropped_instance_whole() {
    let (_s, api) = setup_lb().await;
    apply(&api, "user", lb(json!({"listeners": [listener(80, json!({}))]}))).await;
    let ctl = "elb-operator";
    apply_status(
        &api,
        ctl,
        lb_status(json!({"instances": [
            {"instanceId": "i-0aaaaaaaaaaaaaaaa", "state": "InService", "availabilityZone": "us-east-1a"},
            {"instanceId": "i-0bbbbbbbbbbbbbbbb", "state": "OutOfService", "reasonCode": "Instance"}
        ]})),
    )
    .await;
    let got = apply_status(
        &api,
        ctl,
        lb_status(json!({"instances": [
            {"instanceId": "i-0aaaaaaaaaaaaaaaa", "state": "InService", "availabilityZone": "us-east-1a"}
        ]})),
    )
    .await;
    let want = json!([{"instanceId": "i-0aaaaaaaaaaaaaaaa", "state": "InService", "availabilityZone": "us-east-1a"}]);
    assert_eq!(got["status"]["instances"], want, "the answer");
    assert_eq!(stored(&api).await["status"]["instances"], want, "the stored object");

    // Dropping the last entry leaves no instances field at all (nobody owns anything in it).
    let got = apply_status(&api, ctl, lb_status(json!({"loadBalancerName": "web-x"}))).await;
    assert_eq!(got["status"], json!({"loadBalancerName": "web-x"}));
}

#[tokio::test]
async fn apply_removes_a_dropped_listener_whole() {
    let (_s, api) = setup_lb().await;
    let l80 = listener(80, json!({"proxyProtocol": true}));
    let l443 = listener(443, json!({"instanceProtocol": "TCP"}));
    apply(&api, "user", lb(json!({"listeners": [l80.clone(), l443]}))).await;
    let got = apply(&api, "user", lb(json!({"listeners": [l80.clone()]}))).await;
    assert_eq!(got["spec"]["listeners"], json!([l80]));
    assert_eq!(got["metadata"]["generation"], json!(2));

    // A nested object dropped from a kept element goes whole (no empty `stickiness: {}`).
    let http = |extra: Value| {
        let mut l = json!({"port": 8080, "protocol": "HTTP", "instancePort": 80});
        if let (Value::Object(m), Value::Object(e)) = (&mut l, extra) {
            m.extend(e);
        }
        l
    };
    let sticky = http(json!({"stickiness": {"expirationSeconds": 60}}));
    apply(&api, "user", lb(json!({"listeners": [l80.clone(), sticky.clone()]}))).await;
    let got = apply(&api, "user", lb(json!({"listeners": [l80.clone(), http(json!({}))]}))).await;
    assert_eq!(got["spec"]["listeners"], json!([l80, http(json!({}))]));
}

#[tokio::test]
async fn an_element_shared_with_another_manager_keeps_its_keys_and_their_fields() {
    let (_s, api) = setup_lb().await;
    // Spec: "user" owns both listeners; "tuner" also applies port 443 with the same
    // required fields (shared, no conflict) and its own extra field.
    let l80 = listener(80, json!({}));
    apply(&api, "user", lb(json!({"listeners": [l80.clone(), listener(443, json!({"instanceProtocol": "TCP"}))]}))).await;
    apply(&api, "tuner", lb(json!({"listeners": [listener(443, json!({"proxyProtocol": true}))]}))).await;
    let got = apply(&api, "user", lb(json!({"listeners": [l80.clone()]}))).await;
    assert_eq!(
        got["spec"]["listeners"],
        json!([l80, listener(443, json!({"proxyProtocol": true}))]),
        "port 443 keeps its key and the fields tuner owns; instanceProtocol (user's only) goes"
    );
    // When tuner stops applying it too, the element goes.
    let got = apply(&api, "tuner", lb(json!({"adopt": false}))).await;
    assert_eq!(got["spec"]["listeners"], json!([l80]));
    assert_eq!(got["spec"]["adopt"], json!(false));

    // Status: the controller owns two instances; a second manager owns a field of one.
    let ctl = "elb-operator";
    apply_status(
        &api,
        ctl,
        lb_status(json!({"instances": [instance("i-0aaaaaaaaaaaaaaaa", "InService"),
            {"instanceId": "i-0bbbbbbbbbbbbbbbb", "state": "OutOfService", "reasonCode": "Instance"}]})),
    )
    .await;
    apply_status(
        &api,
        "annotator",
        lb_status(json!({"instances": [
            {"instanceId": "i-0bbbbbbbbbbbbbbbb", "state": "OutOfService", "node": "node-b"}]})),
    )
    .await;
    let got = apply_status(&api, ctl, lb_status(json!({"instances": [instance("i-0aaaaaaaaaaaaaaaa", "InService")]}))).await;
    assert_eq!(
        got["status"]["instances"],
        json!([instance("i-0aaaaaaaaaaaaaaaa", "InService"),
               {"instanceId": "i-0bbbbbbbbbbbbbbbb", "state": "OutOfService", "node": "node-b"}]),
        "the annotator's fields and the key stay; reasonCode (the controller's only) goes"
    );
}

#[tokio::test]
async fn set_lists_merge_and_prune_element_by_element() {
    let (_s, api) = setup_lb().await;
    let l80 = listener(80, json!({}));
    let zones = |z: &[&str]| json!({"listeners": [l80.clone()], "availabilityZones": z});
    apply(&api, "user", lb(zones(&["us-east-1a", "us-east-1b"]))).await;
    // Another manager adds a zone: `x-kubernetes-list-type: set` merges, no conflict.
    let got = apply(&api, "ops", lb(json!({"availabilityZones": ["us-east-1c"]}))).await;
    assert_eq!(got["spec"]["availabilityZones"], json!(["us-east-1a", "us-east-1b", "us-east-1c"]));
    let got = apply(&api, "user", lb(zones(&["us-east-1a"]))).await;
    assert_eq!(got["spec"]["availabilityZones"], json!(["us-east-1a", "us-east-1c"]), "user's dropped zone goes, ops's stays");
    let got = apply(&api, "ops", lb(json!({"adopt": true}))).await;
    assert_eq!(got["spec"]["availabilityZones"], json!(["us-east-1a"]));
}

#[tokio::test]
async fn finalizers_are_a_set_across_managers() {
    let (_s, api) = setup_lb().await;
    let l80 = listener(80, json!({}));
    let with_finalizers = |f: &[&str]| {
        json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer",
               "metadata": {"name": "web", "finalizers": f}})
    };
    apply(&api, "user", lb(json!({"listeners": [l80.clone()]}))).await;
    let got = apply(&api, "elb-operator", with_finalizers(&["elb.operator.dev/cleanup"])).await;
    assert_eq!(got["metadata"]["finalizers"], json!(["elb.operator.dev/cleanup"]));
    // The user's own finalizer joins it: no conflict, no replacement.
    let mut mine = lb(json!({"listeners": [l80.clone()]}));
    mine["metadata"]["finalizers"] = json!(["example.com/audit"]);
    let got = apply(&api, "user", mine).await;
    assert_eq!(got["metadata"]["finalizers"], json!(["elb.operator.dev/cleanup", "example.com/audit"]));
    let got = apply(&api, "user", lb(json!({"listeners": [l80.clone()]}))).await;
    assert_eq!(got["metadata"]["finalizers"], json!(["elb.operator.dev/cleanup"]));
    // Deleting waits for the operator's finalizer; dropping it by apply ends the deletion.
    api.delete("web", &Default::default()).await.expect("delete");
    assert!(stored(&api).await["metadata"]["deletionTimestamp"].is_string());
    apply(&api, "elb-operator", with_finalizers(&[])).await;
    let gone = api.get_opt("web").await.expect("get");
    assert!(gone.is_none(), "the object goes with its last finalizer: {gone:?}");
}

#[tokio::test]
async fn a_conflict_inside_an_element_names_it_by_key() {
    let (_s, api) = setup_lb().await;
    apply(&api, "user", lb(json!({"listeners": [listener(80, json!({}))]}))).await;
    let other = lb(json!({"listeners": [listener(80, json!({"instancePort": 9090}))]}));
    match api.patch("web", &PatchParams::apply("other"), &Patch::Apply(other)).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(s.message.contains(".spec.listeners[port=80].instancePort"), "{}", s.message);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}
