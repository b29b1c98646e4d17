//! The `elb-operator` binary: `crdgen`, `rbac-requirements`, the `run` flags, and `run`
//! refusing to start against an API without the CRDs (the Kubernetes API stand-in). Two
//! `run` processes electing a leader are in `standin.rs`.

use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

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
fn crdgen_prints_every_crd() {
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
    assert_eq!(names, ["healthchecks.elb.operator.dev", "loadbalancerclasses.elb.operator.dev", "loadbalancers.elb.operator.dev"]);
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
    let standin = kube_standin::StandIn::start().await.expect("stand-in starts");
    let client = kube::Client::try_from(kube::Config::new(standin.url().parse().unwrap())).unwrap();
    // Every write bumps the one resourceVersion a list reports.
    let namespaces: Api<Namespace> = Api::all(client);
    let version = || async { namespaces.list(&ListParams::default()).await.expect("list").metadata.resource_version };
    let before = version().await;
    let port = test_support::free_port().to_string();
    let mut child =
        operator(standin.kubeconfig_path(), &["run", "--log-format=json", "--http-bind", &format!("127.0.0.1:{port}")]).spawn().unwrap();
    let (status, stderr) = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert!(!status.success());
    let last: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap_or_default()).expect("the error is logged as JSON");
    assert_eq!(last["level"], "ERROR", "{last}");
    assert!(stderr.contains("kubectl apply -f crds/"), "install hint in: {stderr}");
    assert!(stderr.contains("loadbalancers") && stderr.contains("healthchecks"), "{stderr}");
    assert_eq!(version().await, before, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_rejects_an_invalid_log_filter() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = operator(&dir.path().join("missing"), &["run", "--log-level", "info,=[bad"]).spawn().unwrap();
    let (status, stderr) = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert!(!status.success());
    assert!(stderr.contains("invalid log level"), "{stderr}");
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

/// The flags of one command line's action: what to do now, not how the operator is
/// configured, so they have no environment variable (an `--yes` in the environment would
/// confirm every deletion). `migrate`'s choices (which target, where the manifests go, the
/// cutover steps instead of the report) are of one translation, like `--output`.
const ACTION_FLAGS: &[&str] =
    &["--help", "--version", "--namespace", "--output", "--delete", "--yes", "--target", "--out-dir", "--cutover-plan"];

/// `(flag, its [env: ...] variable)` of every option in a `--help` text.
fn flags_and_variables(help: &str) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        // Option lines are indented by 2 (`-n, --namespace`) or 6 (`--region`); descriptions by 10.
        if indent <= 6 && (trimmed.starts_with("--") || (trimmed.starts_with('-') && trimmed.get(2..4) == Some(", "))) {
            let flag = trimmed.split([' ', ',', '=']).find(|w| w.starts_with("--")).unwrap_or(trimmed).to_string();
            out.push((flag, None));
        } else if let (Some(last), Some(at)) = (out.last_mut(), trimmed.find("[env: ")) {
            let var = &trimmed[at + 6..];
            last.1 = Some(var[..var.find(['=', ']']).unwrap_or(var.len())].to_string());
        }
    }
    out
}

/// Every flag of every command that configures the operator has an `ELB_OPERATOR_*`
/// variable, and `--help` names it (docs/configuration.md promises it).
#[test]
fn every_configuring_flag_of_every_command_has_an_elb_operator_variable() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(BIN).args(args).env_clear().output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let top = help(&["--help"]);
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .filter(|c| c != "help")
        .collect();
    assert!(commands.iter().any(|c| c == "run") && commands.iter().any(|c| c == "orphans"), "{commands:?}");
    let (mut checked, mut missing) = (0, Vec::new());
    for command in &commands {
        for (flag, var) in flags_and_variables(&help(&[command, "--help"])) {
            if ACTION_FLAGS.contains(&flag.as_str()) {
                continue;
            }
            checked += 1;
            if !var.as_deref().is_some_and(|v| v.starts_with("ELB_OPERATOR_")) {
                missing.push(format!("{command} {flag}: {var:?}"));
            }
        }
    }
    assert!(checked >= 30, "only {checked} flags found: is the --help parsing broken?");
    assert!(missing.is_empty(), "flags without an ELB_OPERATOR_* variable:\n{}", missing.join("\n"));
    // The parser sees a flag without a variable.
    let parsed =
        flags_and_variables("Options:\n      --a <A>\n          x\n\n          [env: ELB_OPERATOR_A=]\n  -b, --bee\n          y\n");
    assert_eq!(parsed, [("--a".to_string(), Some("ELB_OPERATOR_A".to_string())), ("--bee".to_string(), None)]);
}

#[test]
fn run_help_lists_the_elb_client_flags_and_their_variables() {
    let out = std::process::Command::new(BIN).args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (flag, env) in [
        ("--elb-endpoint", "ELB_OPERATOR_ELB_ENDPOINT"),
        ("--elb-timeout-seconds", "ELB_OPERATOR_ELB_TIMEOUT_SECONDS"),
        ("--elb-max-attempts", "ELB_OPERATOR_ELB_MAX_ATTEMPTS"),
        ("--elb-describe-rate", "ELB_OPERATOR_ELB_DESCRIBE_RATE"),
        ("--elb-describe-burst", "ELB_OPERATOR_ELB_DESCRIBE_BURST"),
        ("--elb-mutate-rate", "ELB_OPERATOR_ELB_MUTATE_RATE"),
        ("--elb-mutate-burst", "ELB_OPERATOR_ELB_MUTATE_BURST"),
        ("--ec2-endpoint", "ELB_OPERATOR_EC2_ENDPOINT"),
        ("--region", "ELB_OPERATOR_REGION"),
    ] {
        assert!(help.contains(flag) && help.contains(&format!("env: {env}")), "{flag} / {env} missing from:\n{help}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_an_old_variable_name_and_names_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = operator(&dir.path().join("missing"), &["run"]).env("ELB_MUTATE_RATE", "2").spawn().unwrap();
    let (status, stderr) = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert!(!status.success());
    assert!(stderr.contains("ELB_MUTATE_RATE is now ELB_OPERATOR_ELB_MUTATE_RATE"), "{stderr}");
}

/// `run --region` defaults to AWS_REGION, then AWS_DEFAULT_REGION (as the AWS CLI reads
/// them), then us-east-1; `--help` prints the default it resolved from the environment.
#[test]
fn run_takes_its_default_region_from_aws_region_then_aws_default_region() {
    let default_region = |vars: &[(&str, &str)]| {
        let out = std::process::Command::new(BIN).args(["run", "--help"]).env_clear().envs(vars.iter().copied()).output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        let region = help.split("--region <REGION>").nth(1).expect("--region in the help");
        let default = region.split("[default: ").nth(1).expect("a default");
        default[..default.find(']').unwrap()].to_string()
    };
    assert_eq!(default_region(&[]), "us-east-1");
    assert_eq!(default_region(&[("AWS_DEFAULT_REGION", "eu-west-1")]), "eu-west-1");
    assert_eq!(default_region(&[("AWS_DEFAULT_REGION", "eu-west-1"), ("AWS_REGION", "ap-south-1")]), "ap-south-1");
    assert_eq!(default_region(&[("AWS_DEFAULT_REGION", "eu-west-1"), ("AWS_REGION", "")]), "eu-west-1", "empty counts as unset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_rejects_an_invalid_elb_flag_from_the_environment_before_contacting_kubernetes() {
    let dir = tempfile::tempdir().unwrap();
    // No kubeconfig: the process must stop on the ELB setting before it needs one.
    let mut child = operator(&dir.path().join("missing"), &["run"]).env("ELB_OPERATOR_ELB_MUTATE_RATE", "0").spawn().unwrap();
    let (status, stderr) = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert!(!status.success());
    assert!(stderr.contains("--elb-mutate-rate must be positive"), "{stderr}");
    assert!(!stderr.contains("kubeconfig"), "stopped before the Kubernetes client: {stderr}");
}

/// A reader that stops early (`elb-operator crdgen | head`) does not make a command panic:
/// its output goes to a closed pipe, and it exits 0.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let mut child = std::process::Command::new(BIN)
        .arg("crdgen")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the command writes (it is still starting).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
