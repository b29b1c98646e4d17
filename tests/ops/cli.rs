//! The `elb-operator` binary: `crdgen`, `rbac-requirements`, and `run` against the fake API
//! (CRD check, two processes electing a leader, SIGKILL and SIGTERM).

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::fake_kube::FakeKube;
use crate::{http_get, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_elb-operator");

fn operator(kubeconfig: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", kubeconfig.parent().unwrap())
        .env("ELB_OPERATOR_CLUSTER_NAME", "test-cluster")
        .env("AWS_REGION", "us-east-1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn wait_exit(child: &mut Child, limit: Duration) -> (std::process::ExitStatus, String) {
    let status = tokio::time::timeout(limit, child.wait()).await.expect("operator exits in time").unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).await.unwrap();
    (status, stderr)
}

#[test]
fn crdgen_prints_both_crds() {
    let out = std::process::Command::new(BIN).arg("crdgen").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut names: Vec<String> = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            let v = serde_yaml::Value::deserialize(doc).unwrap();
            assert_eq!(v["kind"].as_str(), Some("CustomResourceDefinition"));
            v["metadata"]["name"].as_str().unwrap().to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["healthchecks.elb.operator.dev", "loadbalancers.elb.operator.dev"]);
}

#[test]
fn rbac_requirements_prints_the_api_calls_as_json() {
    let out = std::process::Command::new(BIN).arg("rbac-requirements").output().unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, serde_json::to_value(elb_operator::rbac::kube_api_calls()).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_to_start_without_the_crds_and_says_how_to_install_them() {
    let fake = FakeKube::new(false);
    let ep = fake.endpoint().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = ep.write_kubeconfig(dir.path());
    let port = test_support::free_port().to_string();
    let mut child =
        operator(&kubeconfig, &["run", "--log-format=json", "--http-bind", &format!("127.0.0.1:{port}")]).spawn().unwrap();
    let (status, stderr) = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert!(!status.success());
    let last: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap_or_default()).expect("the error is logged as JSON");
    assert_eq!(last["level"], "ERROR", "{last}");
    assert!(stderr.contains("kubectl apply -f crds/"), "install hint in: {stderr}");
    assert!(stderr.contains("loadbalancers") && stderr.contains("healthchecks"), "{stderr}");
    assert!(fake.writes().is_empty(), "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_rejects_an_invalid_log_filter() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = operator(&dir.path().join("missing"), &["run", "--log-level", "info,=[bad"]).spawn().unwrap();
    let (status, stderr) = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert!(!status.success());
    assert!(stderr.contains("invalid log level"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_elect_one_leader_a_killed_leader_is_replaced_and_sigterm_releases_the_lease() {
    let fake = FakeKube::new(true);
    let ep = fake.endpoint().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = ep.write_kubeconfig(dir.path());
    let lease = Duration::from_secs(2);
    let start = |pod: &str, port: u16| {
        operator(
            &kubeconfig,
            &[
                "run",
                "--log-format=json",
                "--lease-duration=2s",
                "--shutdown-timeout=5s",
                &format!("--http-bind=127.0.0.1:{port}"),
            ],
        )
        .env("POD_NAME", pod)
        .spawn()
        .unwrap()
    };
    let holder = || fake.holder("default", "elb-operator");

    let (port_a, port_b) = (test_support::free_port(), test_support::free_port());
    let mut a = start("proc-a", port_a);
    wait_for(Duration::from_secs(30), || holder().filter(|h| h.starts_with("proc-a_")))
        .await
        .expect("the first process takes the lease");
    let mut b = start("proc-b", port_b);
    let addr_b = format!("127.0.0.1:{port_b}").parse().unwrap();
    let mut standby_ready = false;
    for _ in 0..300 {
        if let Ok((200, body)) = http_get(addr_b, "/readyz").await {
            assert!(body.contains("standby"), "{body}");
            standby_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(standby_ready, "the second process becomes a ready standby");
    let addr_a = format!("127.0.0.1:{port_a}").parse().unwrap();
    let (code, metrics) = http_get(addr_a, "/metrics").await.unwrap();
    assert_eq!(code, 200);
    assert!(metrics.contains("elb_operator_elb_rate_limiter_wait_seconds_count 0"), "{metrics}");
    assert!(holder().unwrap().starts_with("proc-a_"));
    assert!(
        fake.writes().iter().all(|w| w.holder.as_deref().is_some_and(|h| h.starts_with("proc-a_"))),
        "only the leader wrote while both ran"
    );

    // SIGKILL: no release; the standby takes over once the lease expires.
    a.start_kill().unwrap();
    let killed = Instant::now();
    let (_, stderr_a) = wait_exit(&mut a, Duration::from_secs(10)).await;
    for line in stderr_a.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("--log-format=json line {line:?}: {e}"));
    }
    wait_for(lease * 3 + Duration::from_secs(5), || holder().filter(|h| h.starts_with("proc-b_")))
        .await
        .expect("the standby takes over after the killed leader's lease expired");
    println!("takeover {:?} after SIGKILL (lease duration {lease:?})", killed.elapsed());

    // SIGTERM: graceful shutdown releases the lease.
    let pid = b.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let (status, stderr_b) = wait_exit(&mut b, Duration::from_secs(20)).await;
    assert!(status.success(), "graceful exit: {stderr_b}");
    assert_eq!(holder(), None, "the lease was released");
    assert!(stderr_b.contains("released the lease"), "{stderr_b}");
}

#[test]
fn the_elb_endpoint_flag_and_region_reach_the_elb_client() {
    use clap::Parser;
    let cli = elb_operator::cli::Cli::try_parse_from([
        "elb-operator",
        "run",
        "--cluster-name=c",
        "--region=eu-west-1",
        "--elb-endpoint=http://127.0.0.1:4566/",
    ])
    .unwrap();
    let elb_operator::cli::Command::Run(args) = cli.command else { panic!("run") };
    let config = elb_operator::operator::elb_client_config(&args, &elb_operator::telemetry::Metrics::new()).unwrap();
    assert_eq!(config.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
    assert_eq!(config.region, "eu-west-1");
    assert!(config.metrics.is_some(), "ELB calls are counted in the operator's metrics");
}

#[test]
fn the_elb_client_flags_reach_the_elb_client() {
    use clap::Parser;
    let cli = elb_operator::cli::Cli::try_parse_from([
        "elb-operator",
        "run",
        "--cluster-name=c",
        "--elb-timeout-seconds=4",
        "--elb-max-attempts=2",
        "--elb-describe-rate=1.5",
        "--elb-describe-burst=6",
        "--elb-mutate-rate=0.5",
        "--elb-mutate-burst=3",
    ])
    .unwrap();
    let elb_operator::cli::Command::Run(args) = cli.command else { panic!("run") };
    let config = elb_operator::operator::elb_client_config(&args, &elb_operator::telemetry::Metrics::new()).unwrap();
    assert_eq!(config.timeout, Duration::from_secs(4));
    assert_eq!(config.retry.max_attempts, 2);
    assert_eq!((config.rate_limit.describe.per_second, config.rate_limit.describe.burst), (1.5, 6));
    assert_eq!((config.rate_limit.mutate.per_second, config.rate_limit.mutate.burst), (0.5, 3));
}

#[test]
fn run_help_lists_the_elb_client_flags_and_their_variables() {
    let out = std::process::Command::new(BIN).args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (flag, env) in [
        ("--elb-timeout-seconds", "ELB_TIMEOUT_SECONDS"),
        ("--elb-max-attempts", "ELB_MAX_ATTEMPTS"),
        ("--elb-describe-rate", "ELB_DESCRIBE_RATE"),
        ("--elb-describe-burst", "ELB_DESCRIBE_BURST"),
        ("--elb-mutate-rate", "ELB_MUTATE_RATE"),
        ("--elb-mutate-burst", "ELB_MUTATE_BURST"),
    ] {
        assert!(help.contains(flag) && help.contains(&format!("env: {env}")), "{flag} / {env} missing from:\n{help}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_rejects_an_invalid_elb_flag_from_the_environment_before_contacting_kubernetes() {
    let dir = tempfile::tempdir().unwrap();
    // No kubeconfig: the process must stop on the ELB setting before it needs one.
    let mut child = operator(&dir.path().join("missing"), &["run"]).env("ELB_MUTATE_RATE", "0").spawn().unwrap();
    let (status, stderr) = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert!(!status.success());
    assert!(stderr.contains("--elb-mutate-rate must be positive"), "{stderr}");
    assert!(!stderr.contains("kubeconfig"), "stopped before the Kubernetes client: {stderr}");
}
