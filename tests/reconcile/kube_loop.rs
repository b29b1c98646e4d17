//! `controller::run` against the API stand-in (the same calls a real API server answers) and
//! moto. Each test runs its own stand-in and controllers; load balancer and node names are
//! unique per test because moto is shared.

use std::future::Future;
use std::time::Duration;

use elb_operator::aws;
use elb_operator::controller::{self, AwsClients, ClientsByScope, Config, Scope};
use elb_operator::crd::{HealthCheck, LoadBalancer};
use elb_operator::elb::{Clients, CreateLoadBalancerInput, ElbApi, Listener, Tag};
use elb_operator::sync::{execute, ownership::Owner};
use elb_operator::telemetry::Metrics;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_standin::StandIn;
use serde_json::json;

use crate::{client, MOTO};

/// A stand-in of the test's own (stopped on drop) with the CRDs installed, and a client.
pub(crate) async fn kube_client() -> (StandIn, kube::Client) {
    let standin = StandIn::start().await.expect("stand-in");
    let client = connect(&standin).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in ["healthchecks.elb.operator.dev.yaml", "loadbalancers.elb.operator.dev.yaml", "loadbalancerclasses.elb.operator.dev.yaml"] {
        let path = test_support::repo_root().join("crds").join(file);
        let crd: CustomResourceDefinition = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        crds.create(&PostParams::default(), &crd).await.expect("install CRD");
    }
    (standin, client)
}

async fn connect(standin: &StandIn) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(standin.kubeconfig_path()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("config");
    kube::Client::try_from(config).expect("client")
}

/// The controllers of one test, stopped (gracefully) on [`Operator::stop`].
pub(crate) struct Operator {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), elb_operator::Error>>,
    readiness: elb_operator::http::Readiness,
    metrics: Metrics,
}

impl Operator {
    /// The controllers of `namespace` with ELB clients only (no reachability check).
    pub(crate) async fn start(client: &kube::Client, namespace: &str) -> Operator {
        Self::start_with(client, Self::config(namespace), Clients::new(crate::config()), Metrics::new()).await
    }

    pub(crate) fn config(namespace: &str) -> Config {
        Config {
            cluster_name: "loop-test".into(),
            namespace: Some(namespace.into()),
            default_region: crate::REGION.into(),
            health_poll_interval: Duration::from_millis(500),
            ..Config::default()
        }
    }

    /// The controllers with `config` and `clients`, recording into `metrics`.
    pub(crate) async fn start_with(client: &kube::Client, config: Config, clients: impl ClientsByScope, metrics: Metrics) -> Operator {
        aws::install_crypto_provider();
        let readiness = config.readiness.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(controller::run(config, client.clone(), clients, metrics.clone(), async {
            let _ = stopped.await;
        }));
        tokio::time::timeout(Duration::from_secs(30), readiness.wait()).await.expect("controllers ready");
        Operator { stop, task, readiness, metrics }
    }

    /// How many reconciles of `resource` (`loadbalancer`, `healthcheck`) ran so far.
    fn reconciles(&self, resource: &str) -> u64 {
        self.metrics.reconcile.runs.get_or_create(&elb_operator::telemetry::ResourceLabels { resource: resource.into() }).get()
    }

    pub(crate) async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.task).await.expect("graceful shutdown").unwrap().unwrap();
        assert!(!self.readiness.is_ready());
    }
}

/// Polls `check` until it returns `Some` (at most 30 s).
pub(crate) async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match test_support::poll(Duration::from_secs(30), check).await {
        Some(v) => v,
        None => panic!("timed out waiting for {what}"),
    }
}

pub(crate) async fn namespace(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &ns).await.expect("namespace");
}

pub(crate) async fn create<K>(api: &Api<K>, value: serde_json::Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(value).expect("object");
    api.create(&PostParams::default(), &obj).await.expect("create")
}

/// A Ready node backed by `instance` (or without providerID when `None`).
pub(crate) async fn node(client: &kube::Client, name: &str, instance: Option<(&str, &str)>) {
    let api: Api<Node> = Api::all(client.clone());
    let provider = instance.map(|(zone, id)| format!("aws:///{zone}/{id}"));
    create(&api, json!({"metadata": {"name": name}, "spec": {"providerID": provider}})).await;
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.expect("node status");
}

/// A pod labelled `app=web` on `node`, ready or not (the kubelet's part, through /status).
async fn pod(client: &kube::Client, ns: &str, name: &str, node: &str, ready: bool) {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    create(
        &api,
        json!({"metadata": {"name": name, "labels": {"app": "web"}},
               "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]}}),
    )
    .await;
    set_pod_ready(client, ns, name, ready).await;
}

async fn set_pod_ready(client: &kube::Client, ns: &str, name: &str, ready: bool) {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let flag = if ready { "True" } else { "False" };
    let status = json!({"status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": flag}],
        "containerStatuses": [{"name": "c", "ready": ready, "restartCount": 0, "image": "nginx", "imageID": "", "started": true}],
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.expect("pod status");
}

fn health_check(name: &str, interval: i32) -> serde_json::Value {
    json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "HealthCheck", "metadata": {"name": name},
           "spec": {"target": "HTTP:8080/health", "intervalSeconds": interval, "timeoutSeconds": 5,
                    "healthyThreshold": 3, "unhealthyThreshold": 5}})
}

pub(crate) fn condition<'a>(lb: &'a LoadBalancer, type_: &str) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    lb.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)
}

pub(crate) fn is_true(lb: &LoadBalancer, type_: &str) -> bool {
    condition(lb, type_).is_some_and(|c| c.status == "True")
}

pub(crate) async fn events(client: &kube::Client, ns: &str) -> Vec<(String, String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    api.list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .map(|e| (e.type_.unwrap_or_default(), e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}

pub(crate) async fn registered(elb_name: &str) -> Vec<String> {
    let mut ids = execute::describe(&client(), elb_name).await.unwrap().map(|d| d.instances).unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_behind_a_load_balancer_from_apply_to_delete() {
    let (_standin, kube) = kube_client().await;
    let ns = "loop-pods";
    namespace(&kube, ns).await;
    let ids = MOTO.run_instances(2, "us-east-1a");
    let lone = MOTO.run_instances(1, "us-east-1b");
    node(&kube, "loop-pods-n1", Some(("us-east-1a", &ids[0]))).await;
    node(&kube, "loop-pods-n2", Some(("us-east-1a", &ids[1]))).await;
    node(&kube, "loop-pods-n3", Some(("us-east-1b", &lone[0]))).await;
    node(&kube, "loop-pods-bare", None).await;
    pod(&kube, ns, "web-1", "loop-pods-n1", true).await;
    pod(&kube, ns, "web-2", "loop-pods-n2", true).await;

    let hcs: Api<HealthCheck> = Api::namespaced(kube.clone(), ns);
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    create(&hcs, health_check("instance-health", 20)).await;
    // No zones in the spec: they follow the backends.
    create(
        &lbs,
        json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": "my-lb"},
               "spec": {"listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"},
                                      {"port": 443, "instancePort": 8443, "protocol": "TCP"}],
                        "healthCheckRef": {"name": "instance-health"},
                        "backends": {"podSelector": {"matchLabels": {"app": "web"}}},
                        "tags": {"team": "web"}}}),
    )
    .await;
    let operator = Operator::start(&kube, ns).await;

    let lb = eventually("Ready", || async { lbs.get("my-lb").await.ok().filter(|lb| is_true(lb, "Ready")) }).await;
    let status = lb.status.clone().unwrap();
    let elb_name = status.load_balancer_name.clone().expect("ELB name in status");
    assert!(status.dns_name.as_deref().is_some_and(|d| d.starts_with(&elb_name)), "{status:?}");
    assert_eq!(status.healthy.as_deref(), Some("2/2"));
    assert_eq!(status.availability_zones, ["us-east-1a"]);
    assert_eq!(status.observed_generation, lb.metadata.generation);
    let mut nodes: Vec<_> = status.instances.iter().map(|i| (i.instance_id.clone(), i.node.clone().unwrap_or_default())).collect();
    nodes.sort();
    let mut want = vec![(ids[0].clone(), "loop-pods-n1".to_string()), (ids[1].clone(), "loop-pods-n2".to_string())];
    want.sort();
    assert_eq!(nodes, want);
    assert!(is_true(&lb, "Synced") && !is_true(&lb, "Conflict") && is_true(&lb, "BackendsResolved"), "{status:?}");
    assert!(lb.metadata.finalizers.iter().flatten().any(|f| f == elb_operator::crd::FINALIZER));
    let mut want_ids = ids.clone();
    want_ids.sort();
    assert_eq!(registered(&elb_name).await, want_ids);
    let tags = client_tags(&elb_name).await;
    assert_eq!(tags.get("elb.operator.dev/resource").map(String::as_str), Some("loop-pods/my-lb"));
    assert_eq!(tags.get("elb.operator.dev/cluster").map(String::as_str), Some("loop-test"));

    let hc = eventually("usedBy", || async {
        hcs.get("instance-health").await.ok().filter(|hc| hc.status.as_ref().is_some_and(|s| s.used_by == ["my-lb"]))
    })
    .await;
    assert!(hc.status.unwrap().conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"));

    // A LoadBalancer's status writes (each health result makes one) reconcile no
    // HealthCheck: only a change of reference does.
    let before = operator.reconciles("healthcheck");
    for n in 0..5 {
        let status = json!({"status": {"healthy": format!("{n}/9")}});
        lbs.patch_status("my-lb", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(operator.reconciles("healthcheck"), before, "status writes of a LoadBalancer reconciled its HealthCheck");
    let seen = events(&kube, ns).await;
    for reason in ["Created", "Registered"] {
        assert!(seen.iter().any(|(t, r, _)| t == "Normal" && r == reason), "no {reason} event in {seen:?}");
    }

    // A pod turns unready: its instance is deregistered.
    set_pod_ready(&kube, ns, "web-2", false).await;
    eventually("deregistration", || async { (registered(&elb_name).await == [ids[0].clone()]).then_some(()) }).await;
    eventually("status with one instance", || async {
        lbs.get("my-lb").await.ok().filter(|lb| lb.status.as_ref().is_some_and(|s| s.instances.len() == 1))
    })
    .await;

    // A pod on a node in another zone: the zone is enabled. A pod on a node without an AWS
    // providerID: reported, nothing guessed.
    pod(&kube, ns, "web-3", "loop-pods-n3", true).await;
    pod(&kube, ns, "web-4", "loop-pods-bare", true).await;
    let lb = eventually("zone b and the unresolved node", || async {
        lbs.get("my-lb").await.ok().filter(|lb| {
            let s = lb.status.as_ref().unwrap();
            s.availability_zones == ["us-east-1a", "us-east-1b"]
                && condition(lb, "BackendsResolved").is_some_and(|c| c.reason == "NodeWithoutProviderID")
        })
    })
    .await;
    assert!(condition(&lb, "BackendsResolved").unwrap().message.contains("loop-pods-bare"));
    let mut want_ids = vec![ids[0].clone(), lone[0].clone()];
    want_ids.sort();
    assert_eq!(registered(&elb_name).await, want_ids);
    let seen = events(&kube, ns).await;
    assert!(seen.iter().any(|(t, r, _)| t == "Warning" && r == "NodeWithoutProviderID"), "{seen:?}");

    // A pod relabelled out of the selector goes (the backend index moves it with the watch
    // event); relabelled back, it returns.
    let pods: Api<Pod> = Api::namespaced(kube.clone(), ns);
    let relabel = |app: &'static str| {
        let pods = pods.clone();
        async move {
            let labels = json!({"metadata": {"labels": {"app": app}}});
            pods.patch("web-3", &PatchParams::default(), &Patch::Merge(&labels)).await.expect("relabel");
        }
    };
    relabel("other").await;
    eventually("relabelled pod deregistered", || async { (registered(&elb_name).await == [ids[0].clone()]).then_some(()) }).await;
    relabel("web").await;
    eventually("relabelled pod registered again", || async { (registered(&elb_name).await == want_ids).then_some(()) }).await;

    // The HealthCheck changes: the ELB follows.
    hcs.patch("instance-health", &PatchParams::default(), &Patch::Merge(json!({"spec": {"intervalSeconds": 30}}))).await.unwrap();
    eventually("health check interval 30", || async {
        let d = execute::describe(&client(), &elb_name).await.unwrap()?;
        (d.health_check?.interval == 30).then_some(())
    })
    .await;

    // Delete: the finalizer deletes the ELB, then the resource goes.
    lbs.delete("my-lb", &DeleteParams::default()).await.unwrap();
    eventually("resource gone", || async { lbs.get_opt("my-lb").await.unwrap().is_none().then_some(()) }).await;
    assert_eq!(execute::describe(&client(), &elb_name).await.unwrap(), None);
    // The HealthCheck no longer lists it.
    eventually("usedBy empty", || async {
        hcs.get("instance-health").await.ok().filter(|hc| hc.status.as_ref().is_some_and(|s| s.used_by.is_empty()))
    })
    .await;
    let seen = events(&kube, ns).await;
    assert!(seen.iter().any(|(t, r, _)| t == "Normal" && r == "Deleted"), "{seen:?}");
    operator.stop().await;
}

pub(crate) async fn client_tags(name: &str) -> std::collections::BTreeMap<String, String> {
    let tags = client().describe_tags(&[name.to_string()]).await.unwrap().remove(name).unwrap_or_default();
    tags.into_iter().map(|t| (t.key, t.value.unwrap_or_default())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflict_missing_health_check_and_retain() {
    let (_standin, kube) = kube_client().await;
    let ns = "loop-conflict";
    namespace(&kube, ns).await;
    let c = client();
    // A foreign ELB under the name the first resource asks for.
    c.create_load_balancer(&CreateLoadBalancerInput {
        name: "loop-foreign".into(),
        listeners: vec![Listener {
            load_balancer_port: 8000,
            protocol: "TCP".into(),
            instance_port: 8000,
            instance_protocol: "TCP".into(),
            ssl_certificate_id: None,
        }],
        availability_zones: vec!["us-east-1c".into()],
        tags: vec![Tag { key: "owner".into(), value: Some("someone-else".into()) }],
        ..Default::default()
    })
    .await
    .unwrap();
    let before = execute::describe(&c, "loop-foreign").await.unwrap();

    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    let lb = |name: &str, spec: serde_json::Value| json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": name}, "spec": spec});
    let listeners = json!([{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]);
    create(&lbs, lb("taken", json!({"loadBalancerName": "loop-foreign", "availabilityZones": ["us-east-1a"], "listeners": listeners})))
        .await;
    create(&lbs, lb("no-hc", json!({"availabilityZones": ["us-east-1a"], "listeners": listeners, "healthCheckRef": {"name": "later"}})))
        .await;
    create(&lbs, lb("kept", json!({"availabilityZones": ["us-east-1a"], "listeners": listeners, "deletionPolicy": "Retain"}))).await;
    let operator = Operator::start(&kube, ns).await;

    // Conflict: reported, and the foreign ELB is untouched.
    let taken = eventually("Conflict", || async { lbs.get("taken").await.ok().filter(|lb| is_true(lb, "Conflict")) }).await;
    assert_eq!(condition(&taken, "Synced").unwrap().reason, "Conflict");
    assert_eq!(condition(&taken, "Ready").unwrap().status, "False");
    // The event follows the status write: wait for it rather than race it.
    eventually("the Conflict Warning", || async {
        events(&kube, ns).await.into_iter().find(|(t, r, n)| t == "Warning" && r == "Conflict" && n.contains("loop-foreign"))
    })
    .await;

    // A missing HealthCheck: reported; creating it lets the resource converge.
    let no_hc = eventually("HealthCheckNotFound", || async {
        lbs.get("no-hc").await.ok().filter(|lb| condition(lb, "Synced").is_some_and(|c| c.reason == "HealthCheckNotFound"))
    })
    .await;
    assert!(!is_true(&no_hc, "Ready"));
    let hcs: Api<HealthCheck> = Api::namespaced(kube.clone(), ns);
    create(&hcs, health_check("later", 15)).await;
    // No backends selected: Ready once synced.
    let no_hc = eventually("no-hc Ready", || async { lbs.get("no-hc").await.ok().filter(|lb| is_true(lb, "Ready")) }).await;
    assert_eq!(condition(&no_hc, "Ready").unwrap().reason, "NoBackendsSelected");
    let kept = eventually("kept Ready", || async { lbs.get("kept").await.ok().filter(|lb| is_true(lb, "Ready")) }).await;
    let kept_elb = kept.status.unwrap().load_balancer_name.unwrap();

    // Deletion: the foreign ELB stays and does not block; Retain leaves the ELB.
    for name in ["taken", "kept", "no-hc"] {
        lbs.delete(name, &DeleteParams::default()).await.unwrap();
        eventually("resource gone", || async { lbs.get_opt(name).await.unwrap().is_none().then_some(()) }).await;
    }
    assert_eq!(execute::describe(&c, "loop-foreign").await.unwrap(), before, "the foreign ELB changed");
    assert!(execute::describe(&c, &kept_elb).await.unwrap().is_some(), "Retain deleted the ELB");
    assert_eq!(
        client_tags(&kept_elb).await.get("elb.operator.dev/retained").map(String::as_str),
        Some("true"),
        "marked for the orphan report"
    );
    assert_eq!(client_tags("loop-foreign").await.get("elb.operator.dev/retained"), None, "a foreign ELB is never marked");
    operator.stop().await;

    // Clean up what the test left in moto on purpose.
    for (name, cluster, resource) in [(kept_elb.as_str(), "loop-test", "loop-conflict/kept")] {
        let owner = Owner { cluster: cluster.into(), resource: resource.into(), cluster_uid: None };
        assert_eq!(execute::delete(&c, name, &owner, false).await.unwrap(), execute::Deleted::Deleted);
    }
    c.delete_load_balancer("loop-foreign").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_selected_directly_follow_labels_and_deletion() {
    let (_standin, kube) = kube_client().await;
    let ns = "loop-nodes";
    namespace(&kube, ns).await;
    let ids = MOTO.run_instances(2, "us-east-1c");
    for (name, id) in [("loop-nodes-a", &ids[0]), ("loop-nodes-b", &ids[1])] {
        node(&kube, name, Some(("us-east-1c", id))).await;
    }
    let nodes: Api<Node> = Api::all(kube.clone());
    let label = |role: &str| json!({"metadata": {"labels": {"role": role}}});
    nodes.patch("loop-nodes-a", &PatchParams::default(), &Patch::Merge(label("edge"))).await.unwrap();

    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    create(
        &lbs,
        json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": "edge"},
               "spec": {"listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}],
                        "backends": {"nodeSelector": {"matchLabels": {"role": "edge"}}}}}),
    )
    .await;
    let operator = Operator::start(&kube, ns).await;
    let lb = eventually("Ready", || async { lbs.get("edge").await.ok().filter(|lb| is_true(lb, "Ready")) }).await;
    let elb_name = lb.status.unwrap().load_balancer_name.unwrap();
    assert_eq!(registered(&elb_name).await, [ids[0].clone()]);

    // A node gains the label: registered.
    nodes.patch("loop-nodes-b", &PatchParams::default(), &Patch::Merge(label("edge"))).await.unwrap();
    let mut both = ids.clone();
    both.sort();
    eventually("second node registered", || async { (registered(&elb_name).await == both).then_some(()) }).await;

    // A node is deleted: deregistered.
    nodes.delete("loop-nodes-a", &DeleteParams::default()).await.unwrap();
    eventually("deleted node deregistered", || async { (registered(&elb_name).await == [ids[1].clone()]).then_some(()) }).await;

    lbs.delete("edge", &DeleteParams::default()).await.unwrap();
    eventually("resource gone", || async { lbs.get_opt("edge").await.unwrap().is_none().then_some(()) }).await;
    operator.stop().await;
}

/// An adopted ELB existed before its resource: deleting the resource leaves it in AWS
/// unless `deletionPolicy: Delete` was written explicitly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_elb_is_deleted_only_when_delete_is_written() {
    let (_standin, kube) = kube_client().await;
    let ns = "loop-adopt";
    namespace(&kube, ns).await;
    let c = client();
    for name in ["loop-adopt-kept", "loop-adopt-deleted"] {
        c.create_load_balancer(&CreateLoadBalancerInput::http(name, "us-east-1a", 8080)).await.unwrap();
    }
    // Adoption goes through a class that allows it.
    let classes: Api<elb_operator::crd::LoadBalancerClass> = Api::all(kube.clone());
    create(
        &classes,
        json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancerClass",
                            "metadata": {"name": "adopters"}, "spec": {"adoption": "Allowed"}}),
    )
    .await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    let lb = |name: &str, elb: &str, policy: Option<&str>| {
        let mut spec = json!({"className": "adopters", "loadBalancerName": elb, "adopt": true, "availabilityZones": ["us-east-1a"],
                              "listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]});
        if let Some(p) = policy {
            spec["deletionPolicy"] = json!(p);
        }
        json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": name}, "spec": spec})
    };
    create(&lbs, lb("kept", "loop-adopt-kept", None)).await;
    create(&lbs, lb("deleted", "loop-adopt-deleted", Some("Delete"))).await;
    let operator = Operator::start(&kube, ns).await;
    for name in ["kept", "deleted"] {
        let adopted = eventually("adopted and Ready", || async {
            lbs.get(name).await.ok().filter(|lb| is_true(lb, "Ready") && lb.status.as_ref().is_some_and(|s| s.adopted))
        })
        .await;
        assert_eq!(adopted.deletion_policy() == elb_operator::crd::DeletionPolicy::Retain, name == "kept");
        lbs.delete(name, &DeleteParams::default()).await.unwrap();
        eventually("resource gone", || async { lbs.get_opt(name).await.unwrap().is_none().then_some(()) }).await;
    }
    assert!(execute::describe(&c, "loop-adopt-kept").await.unwrap().is_some(), "an adopted ELB without deletionPolicy: Delete is retained");
    assert!(execute::describe(&c, "loop-adopt-deleted").await.unwrap().is_none(), "deletionPolicy: Delete written: deleted");
    let seen = events(&kube, ns).await;
    assert!(seen.iter().any(|(_, r, n)| r == "Retained" && n.contains("adopted")), "{seen:?}");
    operator.stop().await;
    c.delete_load_balancer("loop-adopt-kept").await.unwrap();
}

/// The gate condition of a pod, as (status, reason).
async fn gate_of(kube: &kube::Client, ns: &str, name: &str) -> Option<(String, String)> {
    let pod = Api::<Pod>::namespaced(kube.clone(), ns).get(name).await.ok()?;
    let c = pod.status?.conditions?.into_iter().find(|c| c.type_ == elb_operator::controller::backends::IN_SERVICE)?;
    Some((c.status, c.reason.unwrap_or_default()))
}

/// Pods that opt into the readiness gate get `elb.operator.dev/in-service` True once their
/// instance is InService, False with the ELB's state when it stops; a pod without the gate
/// is never patched. The zones' balance follows the same health.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_gates_and_zone_balance_follow_instance_health() {
    let (_standin, kube) = kube_client().await;
    let ns = "loop-gates";
    namespace(&kube, ns).await;
    let a = MOTO.run_instances(1, "us-east-1a");
    let b = MOTO.run_instances(1, "us-east-1b");
    node(&kube, "loop-gates-a", Some(("us-east-1a", &a[0]))).await;
    node(&kube, "loop-gates-b", Some(("us-east-1b", &b[0]))).await;
    let pods: Api<Pod> = Api::namespaced(kube.clone(), ns);
    for (name, node_name, gated) in [("gated-a", "loop-gates-a", true), ("gated-b", "loop-gates-b", true), ("plain", "loop-gates-a", false)]
    {
        let gates = if gated { json!([{"conditionType": "elb.operator.dev/in-service"}]) } else { json!([]) };
        create(
            &pods,
            json!({"metadata": {"name": name, "labels": {"app": "web"}},
                   "spec": {"nodeName": node_name, "readinessGates": gates, "containers": [{"name": "c", "image": "nginx"}]}}),
        )
        .await;
        // As the kubelet reports a gated pod: containers ready, Ready False until the gate is True.
        let ready = if gated { "False" } else { "True" };
        let status = json!({"status": {
            "phase": "Running",
            "conditions": [{"type": "ContainersReady", "status": "True"}, {"type": "Ready", "status": ready}],
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "image": "nginx", "imageID": "", "started": true}],
        }});
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    }
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    create(
        &lbs,
        json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": "gated"},
               "spec": {"availabilityZones": ["us-east-1a", "us-east-1b"],
                        "listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}],
                        "backends": {"podSelector": {"matchLabels": {"app": "web"}}}}}),
    )
    .await;
    let operator = Operator::start(&kube, ns).await;

    // Gated pods count as backends (their gate is the one thing missing) and turn True.
    for pod in ["gated-a", "gated-b"] {
        let got = eventually("the gate True", || async { gate_of(&kube, ns, pod).await.filter(|(s, _)| s == "True") }).await;
        assert_eq!(got.1, "InService");
    }
    let lb = eventually("zones balanced", || async { lbs.get("gated").await.ok().filter(|lb| is_true(lb, "ZonesBalanced")) }).await;
    let zones = lb.status.unwrap().zones;
    assert_eq!(zones.iter().map(|z| (z.name.as_str(), z.in_service)).collect::<Vec<_>>(), [("us-east-1a", 1), ("us-east-1b", 1)]);

    // Stopping b's instance: its pod's gate turns False with the ELB's state, and zone b
    // has no InService instance left (a Warning, once).
    MOTO.stop_instances(&b);
    let got = eventually("the gate False", || async { gate_of(&kube, ns, "gated-b").await.filter(|(s, _)| s == "False") }).await;
    assert_eq!(got.1, "OutOfService");
    let lb = eventually("zone b empty", || async {
        lbs.get("gated").await.ok().filter(|lb| condition(lb, "ZonesBalanced").is_some_and(|c| c.reason == "ZoneWithoutInstances"))
    })
    .await;
    assert!(condition(&lb, "ZonesBalanced").unwrap().message.contains("us-east-1b"));
    assert!(is_true(&lb, "Ready"), "zone balance does not change Ready");
    let warnings = events(&kube, ns).await.into_iter().filter(|(t, r, _)| t == "Warning" && r == "ZoneWithoutInstances").count();
    assert_eq!(warnings, 1, "one Warning when the condition turns False");
    assert_eq!(gate_of(&kube, ns, "gated-a").await.map(|g| g.0).as_deref(), Some("True"));
    assert_eq!(gate_of(&kube, ns, "plain").await, None, "a pod without the gate is never patched");
    operator.stop().await;
    MOTO.start_instances(&b);
}

/// The EC2 calls `metrics` counted, by action.
fn ec2_calls(metrics: &Metrics) -> test_support::metrics::ElbCalls {
    test_support::metrics::ElbCalls::parse_family(&metrics.encode(), test_support::metrics::EC2_CALLS)
}

/// A LoadBalancer on port 80 → 8080 with the ELB security group `sg`, a health check on
/// 8080, and the nodes labelled `role=<role>` as backends.
fn reach_lb(name: &str, sg: &str, role: &str) -> serde_json::Value {
    json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": name},
           "spec": {"listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}],
                    "availabilityZones": ["us-east-1a"],
                    "securityGroups": [sg],
                    "healthCheckRef": {"name": "reach-health"},
                    "backends": {"nodeSelector": {"matchLabels": {"role": role}}}}})
}

/// A Ready node labelled `role=<role>`, backed by a new moto instance in `group`.
async fn node_in_group(kube: &kube::Client, name: &str, role: &str, group: &str) -> String {
    let instance = MOTO.run_instances_in_groups(1, "us-east-1a", &[group.to_string()]).remove(0);
    node(kube, name, Some(("us-east-1a", &instance))).await;
    let nodes: Api<Node> = Api::all(kube.clone());
    nodes.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"role": role}}}))).await.unwrap();
    instance
}

/// The `BackendsReachable` condition as (status, reason, message).
fn reachable(lb: &LoadBalancer) -> Option<(String, String, String)> {
    condition(lb, "BackendsReachable").map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// The check end to end: a backend whose security group has no rule for the ELB is named
/// (`BackendsReachable=False PortsClosed`, one Warning event), the rule added in EC2 turns it
/// True at the next check, and a sync that changes none of the check's inputs makes no EC2
/// call. No security group is ever modified by the operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_reachable_follows_the_security_group_rules() {
    let (_standin, kube) = kube_client().await;
    let ns = "loop-reach";
    namespace(&kube, ns).await;
    let elb_sg = MOTO.create_security_group(crate::REGION, "loop-reach-elb");
    let backend_sg = MOTO.create_security_group(crate::REGION, "loop-reach-backend");
    MOTO.authorize_ingress(crate::REGION, &backend_sg, "tcp", 22, 22, "0.0.0.0/0");
    let instance = node_in_group(&kube, "loop-reach-node", "reach", &backend_sg).await;
    let hcs: Api<HealthCheck> = Api::namespaced(kube.clone(), ns);
    create(&hcs, health_check("reach-health", 10)).await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    create(&lbs, reach_lb("reach", &elb_sg, "reach")).await;

    let metrics = Metrics::new();
    let elb = Clients::new(crate::config());
    let ec2 = elb.beside(crate::config().with_metrics(metrics.ec2.clone()));
    // A short resync interval: a False result is checked again after it.
    let config = Config { resync_interval: Duration::from_secs(2), ..Operator::config(ns) };
    let autoscaling = elb.beside(elb_operator::autoscaling::client_config(&crate::config(), Some(&MOTO.endpoint), &|_| None).unwrap());
    let operator = Operator::start_with(&kube, config, AwsClients { elb, ec2: Some(ec2), autoscaling }, metrics.clone()).await;

    let closed = eventually("BackendsReachable=False", || async {
        lbs.get("reach").await.ok().filter(|lb| reachable(lb).is_some_and(|(s, _, _)| s == "False"))
    })
    .await;
    println!("{:#?}", closed.status.as_ref().unwrap().conditions);
    assert_eq!(
        reachable(&closed).unwrap(),
        ("False".into(), "PortsClosed".into(), format!("no security group rule admits the load balancer on {instance}:8080"))
    );
    assert!(is_true(&closed, "Ready") && is_true(&closed, "Synced"), "the check never changes Ready or Synced");
    // The test's two groups as moto describes them.
    let ours = || MOTO.security_groups_document(crate::REGION, &[&elb_sg, &backend_sg]);
    let groups_before = ours();
    assert_eq!(groups_before.matches("<groupId>").count(), 2, "both groups: {groups_before}");

    // Let the False result be checked again (every 2 s): still one event.
    let rechecked = ec2_calls(&metrics).attempts("DescribeInstances");
    eventually("a second check", || async { (ec2_calls(&metrics).attempts("DescribeInstances") > rechecked).then_some(()) }).await;
    let warnings = |events: Vec<(String, String, String)>| events.into_iter().filter(|e| e.1 == "PortsClosed").collect::<Vec<_>>();
    let closed_events = warnings(events(&kube, ns).await);
    assert_eq!(closed_events.len(), 1, "{closed_events:?}");
    assert_eq!(closed_events[0].0, "Warning");
    assert!(closed_events[0].2.contains(&format!("{instance}:8080")), "{closed_events:?}");
    assert_eq!(ours(), groups_before, "the check modifies no security group");

    // The rule the message asks for, added in EC2: True at the next check.
    MOTO.authorize_ingress(crate::REGION, &backend_sg, "tcp", 8080, 8080, &elb_sg);
    let open = eventually("BackendsReachable=True", || async {
        lbs.get("reach").await.ok().filter(|lb| reachable(lb).is_some_and(|(s, _, _)| s == "True"))
    })
    .await;
    assert_eq!(
        reachable(&open).unwrap(),
        ("True".into(), "PortsOpen".into(), "the security groups of 1 instance admit the load balancer on port 8080".into())
    );

    // A change that is none of the check's inputs: the ELB is synced (its tag appears), and
    // no EC2 call follows, however many resync intervals pass.
    let before = ec2_calls(&metrics);
    lbs.patch("reach", &PatchParams::default(), &Patch::Merge(json!({"spec": {"tags": {"team": "web"}}}))).await.unwrap();
    let elb_name = open.status.as_ref().unwrap().load_balancer_name.clone().unwrap();
    eventually("the tag synced", || async { (client_tags(&elb_name).await.get("team").map(String::as_str) == Some("web")).then_some(()) })
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(ec2_calls(&metrics).since(&before).total(), 0, "{:?}", ec2_calls(&metrics).since(&before));
    assert_eq!(warnings(events(&kube, ns).await).len(), 1, "no new warning");

    lbs.delete("reach", &DeleteParams::default()).await.unwrap();
    eventually("resource gone", || async { lbs.get_opt("reach").await.unwrap().is_none().then_some(()) }).await;
    operator.stop().await;
}

/// EC2 reads that always answer `UnauthorizedOperation`, counted.
#[derive(Default)]
struct RefusingEc2(std::sync::atomic::AtomicUsize);

impl RefusingEc2 {
    fn refuse<T>(&self, action: &'static str) -> Result<T, aws::Error> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(aws::Error::Api {
            action,
            code: "UnauthorizedOperation".into(),
            message: "You are not authorized to perform this operation.".into(),
            request_id: None,
            status: 403,
        })
    }
}

#[async_trait::async_trait]
impl elb_operator::ec2::Ec2Api for RefusingEc2 {
    fn region(&self) -> &str {
        crate::REGION
    }
    async fn describe_instances(&self, _: &[String]) -> Result<Vec<elb_operator::ec2::InstanceNetwork>, aws::Error> {
        self.refuse("DescribeInstances")
    }
    async fn describe_security_groups(&self, _: &[String]) -> Result<Vec<elb_operator::ec2::SecurityGroup>, aws::Error> {
        self.refuse("DescribeSecurityGroups")
    }
    async fn describe_security_groups_by_name(
        &self,
        _: &[String],
        _: Option<&str>,
    ) -> Result<Vec<elb_operator::ec2::SecurityGroup>, aws::Error> {
        self.refuse("DescribeSecurityGroups")
    }
    async fn describe_subnets(&self, _: &[String]) -> Result<Vec<elb_operator::ec2::Subnet>, aws::Error> {
        self.refuse("DescribeSubnets")
    }
}

/// ELB clients against moto, and an EC2 that refuses every read.
struct RefusedEc2 {
    elb: Clients,
    ec2: std::sync::Arc<RefusingEc2>,
}

impl ClientsByScope for RefusedEc2 {
    fn for_scope(&self, scope: &Scope) -> Result<std::sync::Arc<dyn ElbApi>, aws::Error> {
        self.elb.for_scope(scope)
    }
    fn ec2_for_scope(&self, _: &Scope) -> Option<Result<std::sync::Arc<dyn elb_operator::ec2::Ec2Api>, aws::Error>> {
        Some(Ok(self.ec2.clone()))
    }
}

/// Without the EC2 read permissions the check is Unknown (`EC2NotAllowed`, naming the
/// action and that the check is optional), Ready and Synced do not care, and the refusal is
/// learnt once per scope: one call for two LoadBalancers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ec2_permissions_backends_reachable_is_unknown() {
    let (_standin, kube) = kube_client().await;
    let ns = "loop-reach-denied";
    namespace(&kube, ns).await;
    let group = MOTO.create_security_group(crate::REGION, "loop-reach-denied");
    node_in_group(&kube, "loop-reach-denied-node", "denied", &group).await;
    let hcs: Api<HealthCheck> = Api::namespaced(kube.clone(), ns);
    create(&hcs, health_check("reach-health", 10)).await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    for name in ["denied-a", "denied-b"] {
        create(&lbs, reach_lb(name, &group, "denied")).await;
    }
    let ec2 = std::sync::Arc::new(RefusingEc2::default());
    let operator = Operator::start_with(
        &kube,
        Operator::config(ns),
        RefusedEc2 { elb: Clients::new(crate::config()), ec2: ec2.clone() },
        Metrics::new(),
    )
    .await;
    for name in ["denied-a", "denied-b"] {
        let lb = eventually("BackendsReachable=Unknown", || async {
            lbs.get(name).await.ok().filter(|lb| reachable(lb).is_some_and(|(s, _, _)| s == "Unknown"))
        })
        .await;
        let (_, reason, message) = reachable(&lb).unwrap();
        assert_eq!(reason, "EC2NotAllowed");
        assert!(message.contains("ec2:DescribeInstances") && message.contains("optional"), "{message}");
        assert!(is_true(&lb, "Ready") && is_true(&lb, "Synced"), "{:?}", lb.status);
    }
    assert_eq!(ec2.0.load(std::sync::atomic::Ordering::SeqCst), 1, "the refusal is learnt once for the scope");
    assert!(events(&kube, ns).await.iter().all(|e| e.1 != "PortsClosed"));
    for name in ["denied-a", "denied-b"] {
        lbs.delete(name, &DeleteParams::default()).await.unwrap();
    }
    eventually("resources gone", || async { lbs.list(&ListParams::default()).await.unwrap().items.is_empty().then_some(()) }).await;
    operator.stop().await;
}

/// `spec.backends.autoScalingGroups` end to end: a group that does not exist is reported
/// with AWS's code; a group of 2 instances is attached, AWS (moto) registers its instances,
/// status lists them InService with `source: AutoScalingGroup`; removed from the spec, the
/// group is detached. The operator never registers or deregisters a group instance itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_scaling_groups_are_attached_reported_and_detached() {
    use elb_operator::autoscaling;
    use elb_operator::crd::InstanceSource;
    use test_support::metrics::{ElbCalls, AUTOSCALING_CALLS};

    let (_standin, kube) = kube_client().await;
    let ns = "loop-asg";
    namespace(&kube, ns).await;
    let ids = MOTO.create_auto_scaling_group("loop-asg-web", "us-east-1a", 2);
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    create(
        &lbs,
        json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": "web"},
               "spec": {"availabilityZones": ["us-east-1a"],
                        "listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}],
                        "backends": {"autoScalingGroups": ["loop-asg-missing"]}}}),
    )
    .await;
    let metrics = Metrics::new();
    let elb_clients = Clients::new(crate::config().with_metrics(metrics.elb.clone()));
    let asg_config = autoscaling::client_config(&crate::config(), Some(&MOTO.endpoint), &|_| None).unwrap();
    let clients =
        AwsClients { autoscaling: elb_clients.beside(asg_config.with_metrics(metrics.autoscaling.clone())), elb: elb_clients, ec2: None };
    let operator = Operator::start_with(&kube, Operator::config(ns), clients, metrics.clone()).await;

    // A group that does not exist: Synced False with AWS's code for it, and a Warning event.
    let lb = eventually("Synced False", || async {
        lbs.get("web").await.ok().filter(|lb| condition(lb, "Synced").is_some_and(|c| c.status == "False"))
    })
    .await;
    let synced = condition(&lb, "Synced").unwrap();
    assert_eq!(synced.reason, "ValidationError", "{synced:?}");
    assert!(synced.message.contains("loop-asg-missing"), "{synced:?}");
    // The event follows the status write.
    eventually("the Warning event", || async {
        let seen = events(&kube, ns).await;
        seen.iter().any(|(t, r, n)| t == "Warning" && r == "ValidationError" && n.contains("loop-asg-missing")).then_some(())
    })
    .await;

    // The group that exists: attached, its instances InService in status, marked as the group's.
    lbs.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"backends": {"autoScalingGroups": ["loop-asg-web"]}}})))
        .await
        .unwrap();
    let lb = eventually("Ready with the group's instances", || async {
        lbs.get("web")
            .await
            .ok()
            .filter(|lb| is_true(lb, "Ready") && lb.status.as_ref().is_some_and(|s| s.healthy.as_deref() == Some("2/2")))
    })
    .await;
    let status = lb.status.clone().unwrap();
    let elb_name = status.load_balancer_name.clone().unwrap();
    assert_eq!(status.auto_scaling_groups, ["loop-asg-web"]);
    let listed: Vec<_> = status.instances.iter().map(|i| (i.instance_id.clone(), i.state.clone(), i.source)).collect();
    let want: Vec<_> =
        ids.iter().map(|id| (id.clone(), elb_operator::crd::InstanceState::InService, Some(InstanceSource::AutoScalingGroup))).collect();
    assert_eq!(listed, want);
    assert_eq!(registered(&elb_name).await, ids);
    assert!(status.instances.iter().all(|i| i.availability_zone.as_deref() == Some("us-east-1a")), "zones from the group: {status:?}");
    assert!(is_true(&lb, "ZonesBalanced"), "{:?}", status.zones);
    assert_eq!(MOTO.group_load_balancers(crate::REGION, "loop-asg-web"), std::slice::from_ref(&elb_name));
    assert!(is_true(&lb, "Synced"));

    // Removed from the spec: detached, and AWS deregisters the instances.
    lbs.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"backends": {"autoScalingGroups": null}}}))).await.unwrap();
    eventually("detached", || async { MOTO.group_load_balancers(crate::REGION, "loop-asg-web").is_empty().then_some(()) }).await;
    let lb = eventually("status without the group", || async {
        lbs.get("web").await.ok().filter(|lb| {
            lb.status.as_ref().is_some_and(|s| s.auto_scaling_groups.is_empty() && s.instances.is_empty()) && is_true(lb, "Synced")
        })
    })
    .await;
    assert_eq!(condition(&lb, "Ready").map(|c| c.reason.as_str()), Some("NoBackendsSelected"));
    assert!(registered(&elb_name).await.is_empty());
    let seen = events(&kube, ns).await;
    for note in ["attached Auto Scaling group loop-asg-web", "detached Auto Scaling group loop-asg-web"] {
        assert!(seen.iter().any(|(t, _, n)| t == "Normal" && n == note), "no event {note:?} in {seen:?}");
    }

    // Counted from the operator's own metrics: the group's instances were never the
    // operator's to register or deregister; one attach, one detach, no call for the missing group.
    let elb_calls = ElbCalls::parse(&metrics.encode());
    assert_eq!(elb_calls.attempts("RegisterInstancesWithLoadBalancer"), 0, "{elb_calls:?}");
    assert_eq!(elb_calls.attempts("DeregisterInstancesFromLoadBalancer"), 0, "{elb_calls:?}");
    let asg_calls = ElbCalls::parse_family(&metrics.encode(), AUTOSCALING_CALLS);
    assert_eq!((asg_calls.attempts("AttachLoadBalancers"), asg_calls.attempts("DetachLoadBalancers")), (1, 1), "{asg_calls:?}");
    assert!(asg_calls.attempts("DescribeAutoScalingGroups") >= 3, "{asg_calls:?}");

    // Attached again, then the resource deleted: the group is detached before the ELB goes,
    // so that it does not keep naming a deleted load balancer.
    lbs.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"backends": {"autoScalingGroups": ["loop-asg-web"]}}})))
        .await
        .unwrap();
    eventually("attached again", || async {
        (MOTO.group_load_balancers(crate::REGION, "loop-asg-web") == std::slice::from_ref(&elb_name)).then_some(())
    })
    .await;
    lbs.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("resource gone", || async { lbs.get_opt("web").await.unwrap().is_none().then_some(()) }).await;
    assert!(MOTO.group_load_balancers(crate::REGION, "loop-asg-web").is_empty(), "detached before the delete");
    assert_eq!(execute::describe(&client(), &elb_name).await.unwrap(), None);
    let asg_calls = ElbCalls::parse_family(&metrics.encode(), AUTOSCALING_CALLS);
    assert_eq!((asg_calls.attempts("AttachLoadBalancers"), asg_calls.attempts("DetachLoadBalancers")), (2, 2), "{asg_calls:?}");
    operator.stop().await;
}

/// The finalizer comes with the first AWS write: a refused LoadBalancer never gets it and
/// is deleted at once (and leaves the Ready gauge); a valid one gets it before its ELB
/// exists: while the finalizer cannot be added, no ELB is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_finalizer_comes_with_the_first_aws_write() {
    use kube_standin::faults::Fault;
    let (standin, kube) = kube_client().await;
    let ns = "loop-finalizer";
    namespace(&kube, ns).await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    let has_finalizer = |lb: &LoadBalancer| lb.metadata.finalizers.iter().flatten().any(|f| f == elb_operator::crd::FINALIZER);
    let listeners = json!([{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]);
    let lb = |name: &str, spec: serde_json::Value| json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": name}, "spec": spec});
    // Every write to the valid object (the finalizer's patch among them) fails for now.
    let valid_path = format!("/apis/elb.operator.dev/v1alpha1/namespaces/{ns}/loadbalancers/valid");
    let refuse = standin.faults().inject(Fault::on(valid_path).method("PATCH").fail(500));
    create(
        &lbs,
        lb("refused", json!({"loadBalancerName": "loop-fin-refused", "availabilityZones": ["us-east-1a"], "listeners": listeners, "healthCheckRef": {"name": "missing"}})),
    )
    .await;
    create(&lbs, lb("valid", json!({"loadBalancerName": "loop-fin-valid", "availabilityZones": ["us-east-1a"], "listeners": listeners})))
        .await;
    let operator = Operator::start(&kube, ns).await;
    let ready_false =
        || operator.metrics.load_balancers_ready.get_or_create(&elb_operator::telemetry::StateLabels { state: "False".into() }).get();

    // Refused: reported, no finalizer, no ELB; deleted at once, and forgotten.
    let refused = eventually("HealthCheckNotFound", || async {
        lbs.get("refused").await.ok().filter(|lb| condition(lb, "Synced").is_some_and(|c| c.reason == "HealthCheckNotFound"))
    })
    .await;
    assert!(!has_finalizer(&refused), "{:?}", refused.metadata.finalizers);
    assert_eq!(execute::describe(&client(), "loop-fin-refused").await.unwrap(), None);
    eventually("the refused one counted not Ready", || async { (ready_false() == 1).then_some(()) }).await;
    lbs.delete("refused", &DeleteParams::default()).await.unwrap();
    assert!(lbs.get_opt("refused").await.unwrap().is_none(), "deleted at once, without waiting for the operator");
    eventually("the deleted one no longer counted", || async { (ready_false() == 0).then_some(()) }).await;

    // Valid, but the finalizer cannot be added yet: its sync does not start.
    eventually("a try to add the finalizer", || async { (standin.faults().hits(refuse) > 0).then_some(()) }).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(execute::describe(&client(), "loop-fin-valid").await.unwrap(), None, "an ELB created before the finalizer");
    assert!(!has_finalizer(&lbs.get("valid").await.unwrap()));

    // Once it can: the finalizer, then the ELB.
    standin.faults().remove(refuse);
    let valid = eventually("valid Ready", || async { lbs.get("valid").await.ok().filter(|lb| is_true(lb, "Ready")) }).await;
    assert!(has_finalizer(&valid), "{:?}", valid.metadata.finalizers);
    assert!(execute::describe(&client(), "loop-fin-valid").await.unwrap().is_some());

    // And with it, deletion waits for the cleanup: the ELB goes first.
    lbs.delete("valid", &DeleteParams::default()).await.unwrap();
    eventually("valid gone", || async { lbs.get_opt("valid").await.unwrap().is_none().then_some(()) }).await;
    assert_eq!(execute::describe(&client(), "loop-fin-valid").await.unwrap(), None);
    operator.stop().await;
}

/// [`AwsClients`] shared with the test, which reads what they cache.
struct SharedClients(std::sync::Arc<AwsClients>);

impl ClientsByScope for SharedClients {
    fn for_scope(&self, scope: &Scope) -> Result<std::sync::Arc<dyn ElbApi>, aws::Error> {
        self.0.for_scope(scope)
    }
    fn ec2_for_scope(&self, scope: &Scope) -> Option<Result<std::sync::Arc<dyn elb_operator::ec2::Ec2Api>, aws::Error>> {
        self.0.ec2_for_scope(scope)
    }
    fn autoscaling_for_scope(
        &self,
        scope: &Scope,
    ) -> Result<Option<std::sync::Arc<dyn elb_operator::autoscaling::AutoScalingApi>>, aws::Error> {
        self.0.autoscaling_for_scope(scope)
    }
    fn evict(&self, scope: &Scope) {
        self.0.evict(scope)
    }
}

/// A scope with no LoadBalancer left is stopped and evicted within one resync interval.
/// Two namespaces' LoadBalancers managed as one role (a scope, and a session, per
/// namespace) and one with the operator's credentials (the region's scope); once namespace
/// a's is deleted, its observer ends and its clients and session are dropped, while the
/// others go on; then the others too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_without_load_balancers_is_stopped_and_evicted() {
    let (_standin, kube) = kube_client().await;
    let (ns, ns_b) = ("loop-evict", "loop-evict-b");
    namespace(&kube, ns).await;
    namespace(&kube, ns_b).await;
    let role = "arn:aws:iam::123456789012:role/loop-evict";
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    let lbs_b: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns_b);
    let listeners = json!([{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]);
    let lb = |name: &str, spec: serde_json::Value| json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": name}, "spec": spec});
    create(
        &lbs,
        lb(
            "as-role",
            json!({"loadBalancerName": "loop-evict-role", "availabilityZones": ["us-east-1a"], "listeners": listeners, "roleArn": role}),
        ),
    )
    .await;
    create(
        &lbs_b,
        lb(
            "as-role",
            json!({"loadBalancerName": "loop-evict-role-b", "availabilityZones": ["us-east-1a"], "listeners": listeners, "roleArn": role}),
        ),
    )
    .await;
    create(&lbs, lb("plain", json!({"loadBalancerName": "loop-evict-plain", "availabilityZones": ["us-east-1a"], "listeners": listeners})))
        .await;

    let elb = Clients::new(crate::config());
    let autoscaling = elb.beside(elb_operator::autoscaling::client_config(&crate::config(), Some(&MOTO.endpoint), &|_| None).unwrap());
    let clients = std::sync::Arc::new(AwsClients { elb, autoscaling, ec2: None });
    let resync = Duration::from_secs(1);
    let config = Config { resync_interval: resync, allowed_role_arns: vec![role.into()], namespace: None, ..Operator::config(ns) };
    let operator = Operator::start_with(&kube, config, SharedClients(clients.clone()), Metrics::new()).await;
    let scopes = || operator.metrics.fleet.scopes.get();

    for (api, name) in [(&lbs, "as-role"), (&lbs, "plain"), (&lbs_b, "as-role")] {
        eventually("Ready", || async { api.get(name).await.ok().filter(|lb| is_true(lb, "Ready")) }).await;
    }
    assert_eq!(scopes(), 3, "the region's scope and the role's for each namespace");
    assert_eq!(clients.elb.cached(), (3, 2), "an ELB client per scope; the role assumed once per namespace");
    assert_eq!(clients.autoscaling.cached(), (3, 2), "and an Auto Scaling client, with the same credentials");

    // The role's scope goes within a resync interval of its last LoadBalancer (a margin for
    // the cleanup and the pass under way).
    lbs.delete("as-role", &DeleteParams::default()).await.unwrap();
    eventually("as-role gone", || async { lbs.get_opt("as-role").await.unwrap().is_none().then_some(()) }).await;
    let gone = tokio::time::Instant::now();
    let evicted = test_support::poll(resync * 5, || async { (scopes() == 2 && clients.elb.cached() == (2, 1)).then_some(()) }).await;
    assert!(
        evicted.is_some(),
        "scopes {} and cached {:?} {:?} after the role's last LoadBalancer left",
        scopes(),
        clients.elb.cached(),
        gone.elapsed()
    );
    assert_eq!(clients.autoscaling.cached(), (2, 1), "namespace a's Auto Scaling client went with its scope; b's session stays");
    assert!(execute::describe(&client(), "loop-evict-plain").await.unwrap().is_some());

    // A new LoadBalancer of the role starts its scope again.
    create(
        &lbs,
        lb(
            "again",
            json!({"loadBalancerName": "loop-evict-again", "availabilityZones": ["us-east-1a"], "listeners": listeners, "roleArn": role}),
        ),
    )
    .await;
    eventually("again Ready", || async { lbs.get("again").await.ok().filter(|lb| is_true(lb, "Ready")) }).await;
    assert_eq!((scopes(), clients.elb.cached()), (3, (3, 2)));

    for (api, name) in [(&lbs, "again"), (&lbs, "plain"), (&lbs_b, "as-role")] {
        api.delete(name, &DeleteParams::default()).await.unwrap();
    }
    for api in [&lbs, &lbs_b] {
        eventually("resources gone", || async { api.list(&ListParams::default()).await.unwrap().items.is_empty().then_some(()) }).await;
    }
    let evicted = test_support::poll(resync * 5, || async { (scopes() == 0 && clients.elb.cached() == (0, 0)).then_some(()) }).await;
    assert!(evicted.is_some(), "scopes {} and cached {:?} with no LoadBalancer left", scopes(), clients.elb.cached());
    assert_eq!(clients.autoscaling.cached(), (0, 0));
    operator.stop().await;
}

/// The tenancy inputs trigger the LoadBalancers they concern: a LoadBalancerClass that
/// could be its default (it names no class) and a label change of its namespace each run its
/// reconcile again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classes_and_namespace_labels_trigger_their_load_balancers() {
    let (_standin, kube) = kube_client().await;
    let ns = "loop-tenancy";
    namespace(&kube, ns).await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    create(
        &lbs,
        json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": "tenant"},
               "spec": {"loadBalancerName": "loop-tenancy", "availabilityZones": ["us-east-1a"],
                        "listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]}}),
    )
    .await;
    let operator = Operator::start(&kube, ns).await;
    eventually("Ready", || async { lbs.get("tenant").await.ok().filter(|lb| is_true(lb, "Ready")) }).await;
    // Settled: no reconcile for a second.
    let mut settled = operator.reconciles("loadbalancer");
    let mut quiet = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = operator.reconciles("loadbalancer");
        if std::mem::replace(&mut settled, now) == now {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "the LoadBalancer never stopped reconciling");

    let classes: Api<elb_operator::crd::LoadBalancerClass> = Api::all(kube.clone());
    create(
        &classes,
        json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancerClass", "metadata": {"name": "gold"}, "spec": {}}),
    )
    .await;
    eventually("a reconcile after the class", || async { (operator.reconciles("loadbalancer") > settled).then_some(()) }).await;

    let settled = operator.reconciles("loadbalancer");
    let namespaces: Api<Namespace> = Api::all(kube.clone());
    namespaces.patch(ns, &PatchParams::default(), &Patch::Merge(&json!({"metadata": {"labels": {"tenant": "a"}}}))).await.unwrap();
    eventually("a reconcile after the label", || async { (operator.reconciles("loadbalancer") > settled).then_some(()) }).await;

    lbs.delete("tenant", &DeleteParams::default()).await.unwrap();
    eventually("resource gone", || async { lbs.get_opt("tenant").await.unwrap().is_none().then_some(()) }).await;
    operator.stop().await;
}
