//! The command-line commands' credentials, as the AWS CLI resolves a profile: a role chain
//! through `source_profile` (STS AssumeRole, served by moto) whose root is a
//! `credential_process` (a fake login helper that records each run).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use clap::Parser;
use elb_operator::cli::{Cli, Command};
use elb_operator::elb::{self, ElbApi};

const BIN: &str = env!("CARGO_BIN_EXE_elb-operator");

/// A config file whose profile `admin` assumes a role with the credentials of `ops`, which
/// assumes one with those of `helper`, a credential_process that appends a line to `runs`
/// each time it runs.
fn aws_config(dir: &Path) -> std::path::PathBuf {
    let runs = dir.join("runs");
    let helper = dir.join("login-helper.sh");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\necho run >> '{}'\nprintf '{{\"Version\": 1, \"AccessKeyId\": \"AKIAHELPER\", \"SecretAccessKey\": \"helper-secret\"}}'\n",
            runs.display()
        ),
    )
    .unwrap();
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[profile helper]\ncredential_process = sh '{}'\n\n\
             [profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\nsource_profile = helper\nrole_session_name = ops-session\n\n\
             [profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\nsource_profile = ops\n\n\
             [profile broken]\ncredential_process = sh -c 'exit 7'\n",
            helper.display()
        ),
    )
    .unwrap();
    config
}

fn runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs")).map(|t| t.lines().count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_profile_role_chain_rooted_in_a_credential_process_reaches_elb() {
    let moto = test_support::moto::Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let config = aws_config(dir.path());
    let vars = [
        ("AWS_CONFIG_FILE", config.display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none").display().to_string()),
        ("AWS_PROFILE", "admin".to_string()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("HOME", dir.path().display().to_string()),
    ];
    let env = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let Command::Orphans(args) = Cli::try_parse_from(["elb-operator", "orphans", "--cluster-name", "c"]).unwrap().command else {
        panic!("orphans")
    };
    let config = args.elb.cli_client_config("us-east-1", &env).unwrap();
    assert_eq!(config.credentials.identity(), "assume-role:arn:aws:iam::123456789012:role/admin");
    assert_eq!(runs(dir.path()), 0, "nothing runs before the first call");

    let credentials = config.credentials.get().await.expect("the chain resolves through moto's STS");
    // Temporary keys of the last role, not the helper's long-term ones.
    assert_ne!(credentials.access_key_id, "AKIAHELPER");
    assert!(credentials.session_token.is_some() && credentials.expires.is_some(), "{credentials:?}");
    assert_eq!(runs(dir.path()), 1, "the login helper ran once, for the first role");

    // The credentials sign ELB calls, and the cache serves the next ones.
    let client = elb::Client::new(config).unwrap();
    client.describe_load_balancers(&[]).await.expect("an ELB call with the assumed role's keys");
    client.describe_load_balancers(&[]).await.unwrap();
    assert_eq!(runs(dir.path()), 1, "cached: no second run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_runs_with_a_role_profile_and_reports_a_failing_login_helper() {
    let moto = test_support::moto::Moto::start();
    let (standin, _client) = crate::standin_with_crds().await;
    let dir = tempfile::tempdir().unwrap();
    let config = aws_config(dir.path());
    let orphans = |profile: &str| {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["orphans", "--cluster-name", "cli-creds", "--region", "us-east-1"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KUBECONFIG", standin.kubeconfig_path())
            .env("HOME", dir.path())
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
            .env("AWS_PROFILE", profile)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        async move {
            let out = tokio::time::timeout(Duration::from_secs(60), cmd.output()).await.expect("exits in time").unwrap();
            (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
        }
    };
    let (code, stdout, stderr) = orphans("admin").await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("No orphaned load balancers of cluster cli-creds in us-east-1"), "{stdout}");
    assert_eq!(runs(dir.path()), 1, "the login helper ran");

    let (code, _, stderr) = orphans("broken").await;
    assert_ne!(code, Some(0));
    assert!(stderr.contains("credential_process of profile broken") && stderr.contains("exit status: 7"), "{stderr}");
}
