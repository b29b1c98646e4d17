//! `elb-operator migrate` as a process against the stand-in: what it prints and writes, and
//! its exit codes (0 exact, 3 approximated or not carried, 1 error).

use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_elb-operator");

const EXACT: &str = r#"
apiVersion: elb.operator.dev/v1alpha1
kind: HealthCheck
metadata: {name: web-health, namespace: default}
spec: {target: "HTTP:8080/healthz", intervalSeconds: 10, timeoutSeconds: 4, healthyThreshold: 2, unhealthyThreshold: 3}
---
apiVersion: elb.operator.dev/v1alpha1
kind: LoadBalancer
metadata: {name: exact, namespace: default}
spec:
  subnets: [subnet-0abc1234]
  securityGroups: [sg-0123abcd]
  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]
  healthCheckRef: {name: web-health}
  attributes: {crossZone: true, idleTimeoutSeconds: 60, connectionDraining: {enabled: true, timeoutSeconds: 30}}
"#;

async fn create_all(client: &kube::Client, yaml: &str) {
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let mut obj: DynamicObject = serde::Deserialize::deserialize(doc).unwrap();
        let gvk = GroupVersionKind::try_from(obj.types.as_ref().unwrap()).unwrap();
        let ns = obj.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        obj.metadata.namespace = Some(ns.clone());
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ApiResource::from_gvk(&gvk));
        api.create(&PostParams::default(), &obj).await.expect("create object");
    }
}

/// Runs `elb-operator migrate …` with only the stand-in's kubeconfig: (code, stdout, stderr).
async fn migrate(standin: &kube_standin::StandIn, out: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let kubeconfig = standin.kubeconfig_path();
    let mut cmd = Command::new(BIN);
    cmd.arg("migrate")
        .args(args)
        .arg(format!("--out-dir={}", out.display()))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", kubeconfig.parent().unwrap())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let o = tokio::time::timeout(Duration::from_secs(60), cmd.output()).await.expect("exits in time").unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8(o.stdout).unwrap(), String::from_utf8(o.stderr).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_writes_the_manifests_prints_the_report_and_exits_by_the_worst_verdict() {
    let standin = kube_standin::StandIn::start().await.expect("stand-in starts");
    let client = kube::Client::try_from(kube::Config::new(standin.url().parse().unwrap())).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in elb_operator::crd::crds() {
        crds.create(&PostParams::default(), &crd).await.expect("create CRD");
    }
    let tutorial = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tutorial.yaml")).unwrap();
    create_all(&client, &tutorial).await;
    create_all(&client, EXACT).await;
    let dir = tempfile::tempdir().unwrap();

    // The tutorial: HTTP and TCP listeners, so an ALB and an NLB; pods as targets: exit 3.
    let (code, stdout, stderr) = migrate(&standin, dir.path(), &["my-lb", "-n", "default"]).await;
    assert_eq!(code, 3, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("LoadBalancer default/my-lb (ELB my-lb) -> alb + nlb: mixed listeners"), "{stdout}");
    assert!(stdout.contains("backends.podSelector"), "{stdout}");
    let written = std::fs::read_to_string(dir.path().join("default_my-lb.yaml")).expect("the manifests are written");
    assert!(written.contains("kind: Ingress") && written.contains("name: my-lb-nlb"), "{written}");
    assert_eq!(written.matches("\n---\n").count() + 1, 3, "Service for the ALB, the NLB Service, one Ingress:\n{written}");

    // JSON: the same verdicts, machine-readable.
    let (code, stdout, _) = migrate(&standin, dir.path(), &["-n", "default", "-o", "json"]).await;
    assert_eq!(code, 3, "one of the two is inexact");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = report["loadBalancers"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["exact", "my-lb"]);
    assert!(report["loadBalancers"][0]["fields"].as_array().unwrap().iter().all(|f| f["verdict"] == "exact"), "{stdout}");

    // Everything exact: exit 0.
    let (code, stdout, stderr) = migrate(&standin, dir.path(), &["exact"]).await;
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("0 approximated, 0 not carried"), "{stdout}");

    // The cutover plan, with the real names.
    let (code, stdout, _) = migrate(&standin, dir.path(), &["my-lb", "--cutover-plan"]).await;
    assert_eq!(code, 3);
    assert!(stdout.contains(&format!("kubectl apply -f {}/default_my-lb.yaml", dir.path().display())), "{stdout}");
    assert!(stdout.contains("kubectl get service -n default my-lb-nlb"), "{stdout}");
    assert!(stdout.contains("kubectl delete loadbalancer -n default my-lb"), "{stdout}");

    // Errors: exit 1.
    let (code, _, stderr) = migrate(&standin, dir.path(), &["nonesuch", "-n", "default"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("LoadBalancer default/nonesuch not found"), "{stderr}");
    drop(standin);
}
