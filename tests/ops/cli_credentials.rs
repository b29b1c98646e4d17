//! The command-line commands' credentials, as the AWS CLI resolves a profile: a role chain
//! through `source_profile` (STS AssumeRole, served by moto) whose root is a
//! `credential_process` (a fake login helper that records each run), and an IAM Identity
//! Center profile whose cached token a loopback stand-in of the SSO portal accepts.

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

/// A stand-in for the IAM Identity Center portal on loopback: `GetRoleCredentials` answers
/// role credentials for the bearer token `good-token` and account/role 123456789012/Admin, and
/// 403 otherwise. Returns its URL and the number of requests it served.
async fn fake_sso_portal() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request).to_lowercase();
            let good = request.starts_with("get /federation/credentials?account_id=123456789012&role_name=admin ")
                && request.contains("\r\nx-amz-sso_bearer_token: good-token\r\n");
            let (status, body) = if good {
                (
                    "200 OK",
                    r#"{"roleCredentials":{"accessKeyId":"ASIASSOPORTAL","secretAccessKey":"sso-secret","sessionToken":"sso-token","expiration":4102444800000}}"#,
                )
            } else {
                ("403 Forbidden", r#"{"message":"Session token not found or invalid"}"#)
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    (url, served)
}

/// What `aws sso login` leaves in `~/.aws/sso/cache` for the session `corp`.
fn cache_token(home: &Path, token: &str, expires_at: &str) {
    let file = elb_operator::aws::credentials::sso::cache_file(home, "corp");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let cached = serde_json::json!({"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1", "accessToken": token, "expiresAt": expires_at});
    std::fs::write(file, cached.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sso_profile_uses_the_cached_token_and_a_role_can_chain_from_it() {
    use std::sync::atomic::Ordering;
    let moto = test_support::moto::Moto::start();
    let (portal, served) = fake_sso_portal().await;
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config");
    std::fs::write(
        &config,
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n\n\
         [sso-session corp]\nsso_region = eu-west-1\nsso_start_url = https://corp.awsapps.com/start\n\n\
         [profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\nsource_profile = dev\n",
    )
    .unwrap();
    let Command::Orphans(args) = Cli::try_parse_from(["elb-operator", "orphans", "--cluster-name", "c"]).unwrap().command else {
        panic!("orphans")
    };
    let credentials_of = |profile: &str| {
        let vars = [
            ("AWS_CONFIG_FILE", config.display().to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none").display().to_string()),
            ("AWS_PROFILE", profile.to_string()),
            ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
            ("AWS_ENDPOINT_URL_SSO", portal.clone()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("HOME", home.path().display().to_string()),
        ];
        let env = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        args.elb.cli_client_config("us-east-1", &env).unwrap()
    };

    // No `aws sso login` yet: nothing cached, the portal is not asked.
    let err = credentials_of("dev").credentials.get().await.unwrap_err().to_string();
    assert!(err.contains("run `aws sso login --profile dev`"), "{err}");
    // Logged in: the cached token buys the role's credentials, which sign ELB calls.
    cache_token(home.path(), "good-token", "2099-01-01T00:00:00Z");
    let config_dev = credentials_of("dev");
    assert_eq!(config_dev.credentials.get().await.unwrap().access_key_id, "ASIASSOPORTAL");
    assert_eq!(served.load(Ordering::SeqCst), 1);
    elb::Client::new(config_dev).unwrap().describe_load_balancers(&[]).await.expect("an ELB call with the SSO role's keys");
    // A role whose source is the SSO profile: assumed through moto's STS with those keys.
    let assumed = credentials_of("ops").credentials.get().await.unwrap();
    assert_ne!(assumed.access_key_id, "ASIASSOPORTAL");
    assert_eq!(served.load(Ordering::SeqCst), 2, "the SSO profile's keys signed the AssumeRole");
    // An expired session is not sent; a token the portal refuses says to log in again.
    cache_token(home.path(), "good-token", "2020-01-01T00:00:00Z");
    let err = credentials_of("dev").credentials.get().await.unwrap_err().to_string();
    assert!(err.contains("expired") && err.contains("aws sso login --profile dev"), "{err}");
    assert_eq!(served.load(Ordering::SeqCst), 2);
    cache_token(home.path(), "stale-token", "2099-01-01T00:00:00Z");
    let err = credentials_of("dev").credentials.get().await.unwrap_err().to_string();
    assert!(err.contains("refused the token (HTTP 403)"), "{err}");
}
