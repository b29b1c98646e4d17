//! `elb-operator orphans` against the Kubernetes API stand-in and moto: the ELB a resource
//! leaves behind when its finalizer is stripped is reported and, with `--delete --yes`,
//! deleted; a live resource's ELB, a foreign ELB, another cluster's and a retained one are
//! never listed for deletion.

use std::process::Stdio;
use std::time::Duration;

use elb_operator::aws;
use elb_operator::crd::tags::{CLUSTER_TAG, RESOURCE_TAG, RETAINED_TAG};
use elb_operator::crd::LoadBalancer;
use elb_operator::elb::{self, CreateLoadBalancerInput, ElbApi, Tag};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_elb-operator");
const CLUSTER: &str = "orphan-test";

fn manifests(instance: &str) -> String {
    format!(
        r#"
apiVersion: elb.operator.dev/v1alpha1
kind: HealthCheck
metadata: {{name: instance-health, namespace: default}}
spec: {{target: "HTTP:8080/health"}}
---
apiVersion: elb.operator.dev/v1alpha1
kind: LoadBalancer
metadata: {{name: gone-lb, namespace: default}}
spec:
  availabilityZones: [us-east-1a]
  listeners: [{{port: 80, instancePort: 8080, protocol: HTTP}}]
  healthCheckRef: {{name: instance-health}}
  backends: {{instanceIds: [{instance}]}}
---
apiVersion: elb.operator.dev/v1alpha1
kind: LoadBalancer
metadata: {{name: kept-lb, namespace: default}}
spec:
  availabilityZones: [us-east-1a]
  listeners: [{{port: 80, instancePort: 8080, protocol: HTTP}}]
  deletionPolicy: Retain
---
apiVersion: elb.operator.dev/v1alpha1
kind: LoadBalancer
metadata: {{name: live-lb, namespace: default}}
spec:
  availabilityZones: [us-east-1a]
  listeners: [{{port: 80, instancePort: 8080, protocol: HTTP}}]
"#
    )
}

/// The binary with only the environment a user's shell would give it.
fn cli(kubeconfig: &std::path::Path, moto: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", kubeconfig.parent().unwrap())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", moto)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs `elb-operator orphans …`: (exit code, stdout, stderr).
async fn orphans(kubeconfig: &std::path::Path, moto: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["orphans", "--cluster-name", CLUSTER, "--region", "us-east-1"];
    all.extend_from_slice(args);
    let out = tokio::time::timeout(Duration::from_secs(60), cli(kubeconfig, moto, &all).output()).await.expect("exits in time").unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

async fn exists(elb: &elb::Client, name: &str) -> bool {
    elb_operator::sync::execute::describe(elb, name).await.unwrap().is_some()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag { key: key.into(), value: Some(value.into()) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_finds_what_a_stripped_finalizer_left_and_deletes_only_that() {
    let moto = test_support::moto::Moto::start();
    let (standin, client) = crate::standin_with_crds().await;
    let instance = moto.run_instances(1, "us-east-1a").remove(0);
    for doc in serde_yaml::Deserializer::from_str(&manifests(&instance)) {
        let obj: kube::api::DynamicObject = serde::Deserialize::deserialize(doc).unwrap();
        let gvk = kube::api::GroupVersionKind::try_from(obj.types.as_ref().unwrap()).unwrap();
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client.clone(), "default", &kube::api::ApiResource::from_gvk(&gvk));
        api.create(&PostParams::default(), &obj).await.expect("create object");
    }
    let lbs: Api<LoadBalancer> = Api::namespaced(client.clone(), "default");

    // The operator creates the three ELBs, then stops, as an operator that is down would.
    let port = test_support::free_port().to_string();
    let http = format!("--http-bind=127.0.0.1:{port}");
    let mut operator =
        cli(standin.kubeconfig_path(), &moto.endpoint, &["run", "--cluster-name", CLUSTER, "--leader-election=false", &http])
            .env("AWS_REGION", "us-east-1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    let mut names = Vec::new();
    for lb in ["gone-lb", "kept-lb", "live-lb"] {
        let elb_name = test_support::poll(Duration::from_secs(60), || async {
            let lb = lbs.get(lb).await.ok()?;
            lb.status.as_ref()?.dns_name.as_ref()?;
            lb.status?.load_balancer_name
        })
        .await
        .unwrap_or_else(|| panic!("the operator creates the ELB of {lb}"));
        names.push(elb_name);
    }
    operator.start_kill().unwrap();
    tokio::time::timeout(Duration::from_secs(10), operator.wait()).await.expect("the operator exits").unwrap();
    let (gone, kept, live) = (names[0].clone(), names[1].clone(), names[2].clone());

    let elb = elb::Client::new(aws::ClientConfig::for_endpoint("us-east-1", &moto.endpoint, "testing", "testing")).unwrap();
    // A foreign ELB (no tags) and another cluster's ELB claiming the same resource.
    let input = |name: &str, tags: Vec<Tag>| CreateLoadBalancerInput { tags, ..CreateLoadBalancerInput::http(name, "us-east-1a", 80) };
    elb.create_load_balancer(&input("foreign-lb", vec![])).await.unwrap();
    elb.create_load_balancer(&input("elsewhere-lb", vec![tag(CLUSTER_TAG, "elsewhere"), tag(RESOURCE_TAG, "default/gone-lb")]))
        .await
        .unwrap();
    // What the operator does when a Retain resource is deleted (the controller's side is
    // tested with it); here the resource goes the way an accident would.
    elb.add_tags(std::slice::from_ref(&kept), &[tag(RETAINED_TAG, "true")]).await.unwrap();

    // The finalizers stripped by hand, then the resources deleted: nothing deletes the ELBs.
    for lb in ["gone-lb", "kept-lb"] {
        let strip = serde_json::json!({"metadata": {"finalizers": null}});
        lbs.patch(lb, &PatchParams::default(), &Patch::Merge(&strip)).await.unwrap();
        lbs.delete(lb, &DeleteParams::default()).await.unwrap();
    }
    test_support::poll(Duration::from_secs(10), || async { lbs.get_opt("gone-lb").await.unwrap().is_none().then_some(()) })
        .await
        .expect("the resource is gone");

    let kubeconfig = standin.kubeconfig_path();
    let (code, table, stderr) = orphans(kubeconfig, &moto.endpoint, &[]).await;
    eprintln!("$ elb-operator orphans\n{table}");
    assert_eq!(code, 0, "{stderr}");
    let (orphaned, retained) = table.split_once("Retained load balancers").expect("a retained section");
    assert!(orphaned.starts_with("Orphaned load balancers (no LoadBalancer resource claims them):\nNAME"), "{table}");
    let row = orphaned.lines().find(|l| l.starts_with(&gone)).unwrap_or_else(|| panic!("{gone} listed: {table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1..3], ["us-east-1", "default/gone-lb"], "{row}");
    assert_eq!(cells[4], "1", "one registered instance: {row}");
    assert!(retained.contains(&kept) && retained.contains("default/kept-lb"), "{table}");
    for never in [&live, "foreign-lb", "elsewhere-lb"] {
        assert!(!table.contains(never), "{never} listed:\n{table}");
    }

    let (code, json, _) = orphans(kubeconfig, &moto.endpoint, &["-o", "json"]).await;
    eprintln!("$ elb-operator orphans -o json\n{json}");
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let names_in = |key: &str| report[key].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(names_in("orphaned"), std::slice::from_ref(&gone));
    assert_eq!(names_in("retained"), std::slice::from_ref(&kept));
    assert_eq!(report["orphaned"][0]["instances"], serde_json::json!([instance]));
    assert_eq!(report["cluster"], CLUSTER);

    let (code, _, stderr) = orphans(kubeconfig, &moto.endpoint, &["--delete"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--delete deletes load balancers: add --yes to confirm"), "{stderr}");
    assert!(exists(&elb, &gone).await, "nothing was deleted without --yes");

    let (code, out, stderr) = orphans(kubeconfig, &moto.endpoint, &["--delete", "--yes"]).await;
    eprintln!("$ elb-operator orphans --delete --yes\n{out}");
    assert_eq!(code, 0, "{stderr}");
    assert!(out.ends_with(&format!("Deletions:\n{gone} (us-east-1): deleted\n")), "{out}");
    assert!(!exists(&elb, &gone).await, "the orphan is deleted");
    for kept_elb in [&kept, &live, "foreign-lb", "elsewhere-lb"] {
        assert!(exists(&elb, kept_elb).await, "{kept_elb} must not be deleted");
    }

    let (code, out, _) = orphans(kubeconfig, &moto.endpoint, &[]).await;
    assert_eq!(code, 0);
    assert!(out.starts_with(&format!("No orphaned load balancers of cluster {CLUSTER} in us-east-1.\n")), "{out}");
    assert!(out.contains(&kept), "the retained ELB is still listed: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_crds_the_report_refuses_rather_than_call_everything_orphaned() {
    let standin = kube_standin::StandIn::start().await.expect("stand-in starts");
    // No AWS call is needed to refuse: the endpoint is a closed port.
    let closed = format!("http://127.0.0.1:{}", test_support::free_port());
    let (code, out, stderr) = orphans(standin.kubeconfig_path(), &closed, &[]).await;
    assert_eq!(code, 1, "{out}{stderr}");
    assert!(out.is_empty(), "no report: {out}");
    assert!(stderr.starts_with("elb-operator orphans: listing the LoadBalancer resources:"), "{stderr}");
}

/// `orphans --delete` run against the wrong kube context: a candidate whose cluster-uid tag
/// names another cluster than the context's (the UID of its kube-system namespace) makes
/// the command refuse, name the mismatch and delete nothing; with the right context, the
/// same run deletes the candidates of this cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_refuses_when_a_candidate_belongs_to_another_cluster_uid() {
    use elb_operator::sync::ownership::CLUSTER_UID_TAG;
    use k8s_openapi::api::core::v1::Namespace;

    let moto = test_support::moto::Moto::start();
    let (standin, client) = crate::standin_with_crds().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let uid = namespaces.get("kube-system").await.unwrap().metadata.uid.expect("kube-system has a uid");

    let elb = elb::Client::new(aws::ClientConfig::for_endpoint("us-east-1", &moto.endpoint, "testing", "testing")).unwrap();
    let input = |name: &str, tags: Vec<Tag>| CreateLoadBalancerInput { tags, ..CreateLoadBalancerInput::http(name, "us-east-1a", 80) };
    // No LoadBalancer claims either: both are candidates under this --cluster-name.
    let ours = [tag(CLUSTER_TAG, CLUSTER), tag(RESOURCE_TAG, "default/ours"), tag(CLUSTER_UID_TAG, &uid)];
    elb.create_load_balancer(&input("uid-ours-lb", ours.to_vec())).await.unwrap();
    let theirs = [tag(CLUSTER_TAG, CLUSTER), tag(RESOURCE_TAG, "default/theirs"), tag(CLUSTER_UID_TAG, "another-cluster-uid")];
    elb.create_load_balancer(&input("uid-theirs-lb", theirs.to_vec())).await.unwrap();

    let kubeconfig = standin.kubeconfig_path();
    let (code, out, stderr) = orphans(kubeconfig, &moto.endpoint, &["--delete", "--yes"]).await;
    eprintln!("$ elb-operator orphans --delete --yes\n{out}{stderr}");
    assert_eq!(code, 1, "refused: {out}{stderr}");
    assert!(stderr.contains("refusing to delete"), "{stderr}");
    assert!(stderr.contains(&format!("{CLUSTER_UID_TAG} {uid}")), "names the context's uid: {stderr}");
    assert!(stderr.contains(&format!("uid-theirs-lb (us-east-1) is tagged {CLUSTER_UID_TAG}=another-cluster-uid")), "{stderr}");
    assert!(!stderr.contains("uid-ours-lb"), "only the mismatch is named: {stderr}");
    for name in ["uid-ours-lb", "uid-theirs-lb"] {
        assert!(exists(&elb, name).await, "{name}: nothing is deleted when the run refuses");
    }

    // The listing alone is not refused: it deletes nothing.
    let (code, table, stderr) = orphans(kubeconfig, &moto.endpoint, &[]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(table.contains("uid-ours-lb") && table.contains("uid-theirs-lb"), "{table}");

    // The other cluster's ELB gone (its own cluster's business): the run goes ahead.
    elb.delete_load_balancer("uid-theirs-lb").await.unwrap();
    let (code, out, stderr) = orphans(kubeconfig, &moto.endpoint, &["--delete", "--yes"]).await;
    assert_eq!(code, 0, "{out}{stderr}");
    assert!(out.ends_with("Deletions:\nuid-ours-lb (us-east-1): deleted\n"), "{out}");
    assert!(!exists(&elb, "uid-ours-lb").await);
}
