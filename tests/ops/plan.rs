//! `elb-operator plan` as a process against the stand-in and moto: exit code 2 and the
//! planned calls while something would change (and no ELB made by it), 0 once the operator
//! has synced, 1 when AWS cannot be read; `-o json` and the one-name selection.

use std::process::Stdio;
use std::time::Duration;

use elb_operator::aws;
use elb_operator::crd::LoadBalancer;
use elb_operator::elb;
use kube::api::{Api, PostParams};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_elb-operator");
const CLUSTER: &str = "plan-test";

fn cli(kubeconfig: &std::path::Path, endpoint: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", kubeconfig.parent().unwrap())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs `elb-operator plan --cluster-name plan-test …`: (exit code, stdout, stderr).
async fn plan(kubeconfig: &std::path::Path, endpoint: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["plan", "--cluster-name", CLUSTER, "--elb-max-attempts", "1"];
    all.extend_from_slice(args);
    let out =
        tokio::time::timeout(Duration::from_secs(60), cli(kubeconfig, endpoint, &all).output()).await.expect("exits in time").unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_exits_2_with_the_calls_then_0_once_synced_and_1_when_aws_fails() {
    let moto = test_support::moto::Moto::start();
    let (standin, client) = crate::standin_with_crds().await;
    let lbs: Api<LoadBalancer> = Api::namespaced(client.clone(), "default");
    let lb: LoadBalancer = serde_json::from_value(serde_json::json!({
        "apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"loadBalancerName": "plan-web", "availabilityZones": ["us-east-1a"],
                 "listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]}}))
    .unwrap();
    lbs.create(&PostParams::default(), &lb).await.unwrap();
    let kubeconfig = standin.kubeconfig_path();
    let elb = elb::Client::new(aws::ClientConfig::for_endpoint("us-east-1", &moto.endpoint, "testing", "testing")).unwrap();

    let (code, table, stderr) = plan(kubeconfig, &moto.endpoint, &[]).await;
    eprintln!("$ elb-operator plan\n{table}");
    assert_eq!(code, 2, "{stderr}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[1].starts_with("default/web") && lines[1].contains("plan-web") && lines[1].ends_with("create (1 call)"), "{table}");
    assert!(lines[2].starts_with("    CreateLoadBalancer ") && lines[2].contains(r#"LoadBalancerName="plan-web""#), "{table}");
    assert_eq!(lines.last(), Some(&"1 of 1 LoadBalancer(s) would change, with 1 AWS call(s)."));
    assert!(elb_operator::sync::execute::describe(&elb, "plan-web").await.unwrap().is_none(), "plan created the ELB");

    let (code, json, _) = plan(kubeconfig, &moto.endpoint, &["-o", "json", "-n", "default", "web"]).await;
    assert_eq!(code, 2);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["loadBalancers"][0]["action"], "create", "{json}");
    assert_eq!(report["loadBalancers"][0]["calls"][0]["action"], "CreateLoadBalancer");
    assert_eq!(report["loadBalancers"][0]["calls"][0]["arguments"]["AvailabilityZones"], serde_json::json!(["us-east-1a"]));

    // The operator syncs it; then nothing is left to do.
    let http = format!("--http-bind=127.0.0.1:{}", test_support::free_port());
    let mut operator = cli(kubeconfig, &moto.endpoint, &["run", "--cluster-name", CLUSTER, "--leader-election=false", &http])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    test_support::poll(Duration::from_secs(60), || async { lbs.get("web").await.ok()?.status?.dns_name })
        .await
        .expect("the operator syncs the LoadBalancer");
    operator.start_kill().unwrap();
    tokio::time::timeout(Duration::from_secs(10), operator.wait()).await.expect("the operator exits").unwrap();
    let (code, table, stderr) = plan(kubeconfig, &moto.endpoint, &[]).await;
    eprintln!("$ elb-operator plan\n{table}");
    assert_eq!(code, 0, "{table}{stderr}");
    assert!(table.lines().nth(1).is_some_and(|l| l.ends_with("in sync")), "{table}");
    assert!(table.ends_with("No changes: 1 LoadBalancer(s) checked.\n"), "{table}");

    // AWS unreachable: the plan of the LoadBalancer fails, and so does the command.
    let closed = format!("http://127.0.0.1:{}", test_support::free_port());
    let (code, table, _) = plan(kubeconfig, &closed, &["--elb-timeout-seconds", "2"]).await;
    assert_eq!(code, 1, "{table}");
    assert!(table.lines().nth(1).is_some_and(|l| l.contains("error: ")), "{table}");
}
