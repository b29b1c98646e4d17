//! Credential sources end to end: signature checking in moto with an IAM user's keys,
//! IRSA through moto's STS, IMDSv2 through moto's metadata endpoints, container
//! credentials and token-file re-reading against the scripted server, and secrets kept
//! out of logs, errors and Debug output.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use elb_operator::aws::*;
use elb_operator::elb::*;
use test_support::ec2::xml_values;
use test_support::moto::Moto;

use crate::common::{calls, counted, MOTO};
use crate::fault_server::{FaultServer, Reply};

fn vars(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
    let mut m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    // Keep the developer's ~/.aws out of the chain.
    m.entry("HOME".into()).or_insert_with(|| "/nonexistent-home".into());
    move |k| m.get(k).cloned()
}

fn unlimited(c: ClientConfig) -> ClientConfig {
    let retry = RetryConfig { initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(5), ..Default::default() };
    c.with_rate_limit(RateLimitConfig::unlimited()).with_retry(retry)
}

/// A file removed when the returned path is dropped.
fn temp_file(contents: &str) -> tempfile::TempPath {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f.into_temp_path()
}

/// A moto that checks signatures after the first three actions, which create an IAM user,
/// its access key and a policy allowing everything.
pub(crate) static AUTH_MOTO: LazyLock<(Moto, String, String)> = LazyLock::new(|| {
    // moto's first IAM request initialises its IAM backend; on a loaded CI machine that
    // has been seen to answer an HTML 500. The free actions are counted per server, so a
    // failed start is retried with a fresh server (bounded), never by resending.
    let mut last = String::new();
    for _ in 0..3 {
        let moto = Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
        let iam = |params: &[(&str, &str)]| {
            let mut all = params.to_vec();
            all.push(("Version", "2010-05-08"));
            let (status, body) = moto.signed_query("iam", "us-east-1", &all, "test", "test");
            (status == 200).then_some(body.clone()).ok_or(format!("IAM {params:?}: HTTP {status}: {body}"))
        };
        let setup = || -> Result<(String, String), String> {
            iam(&[("Action", "CreateUser"), ("UserName", "operator")])?;
            let key = iam(&[("Action", "CreateAccessKey"), ("UserName", "operator")])?;
            let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
            iam(&[("Action", "PutUserPolicy"), ("UserName", "operator"), ("PolicyName", "all"), ("PolicyDocument", policy)])?;
            Ok((xml_values(&key, "AccessKeyId").remove(0), xml_values(&key, "SecretAccessKey").remove(0)))
        };
        match setup() {
            Ok((ak, sk)) => return (moto, ak, sk),
            Err(e) => last = e,
        }
    }
    panic!("could not set up the IAM user in moto: {last}");
});

#[tokio::test]
async fn moto_checks_signatures_correct_passes_wrong_secret_is_auth() {
    let (moto, ak, sk) = &*AUTH_MOTO;
    let good = Client::new(unlimited(ClientConfig::for_endpoint("us-east-1", &moto.endpoint, ak, sk))).unwrap();
    let input = CreateLoadBalancerInput::http("signed", "us-east-1a", 80);
    good.create_load_balancer(&input).await.expect("correctly signed call passes");
    assert_eq!(good.describe_load_balancers(&["signed".into()]).await.unwrap().len(), 1);

    let (wrong, metrics) = counted(unlimited(ClientConfig::for_endpoint("us-east-1", &moto.endpoint, ak, "not-the-secret")));
    let err = wrong.describe_load_balancers(&["signed".into()]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
    assert_eq!(calls(&metrics).attempts("DescribeLoadBalancers"), 1, "auth errors are not retried");

    let unknown = Client::new(unlimited(ClientConfig::for_endpoint("us-east-1", &moto.endpoint, "AKIAUNKNOWN0000000", sk))).unwrap();
    let err = unknown.describe_load_balancers(&[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    good.delete_load_balancer("signed").await.unwrap();
}

#[tokio::test]
async fn irsa_through_moto_sts() {
    let token_file = temp_file("eyJhbGciOiJSUzI1NiJ9.irsa-test-token.sig");
    let env = vars(&[
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/elb-operator".into()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.display().to_string()),
        ("AWS_ROLE_SESSION_NAME", "irsa-test".into()),
        ("AWS_ENDPOINT_URL_STS", MOTO.endpoint.clone()),
        ("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING", MOTO.endpoint.clone()),
    ]);
    let config = unlimited(ClientConfig::from_vars(&SERVICE, "", &env).unwrap());
    assert_eq!(config.credentials.identity(), "web-identity:arn:aws:iam::123456789012:role/elb-operator");
    let creds = config.credentials.get().await.expect("STS answers");
    // moto's STS hands out temporary keys with a session token and an expiry.
    assert!(creds.access_key_id.starts_with("ASIA"), "{creds:?}");
    assert!(creds.session_token.is_some());
    assert!(creds.expires.is_some());
    let c = Client::new(config).unwrap();
    c.describe_load_balancers(&[]).await.expect("ELB call with the assumed role's keys");
}

#[tokio::test]
async fn imdsv2_through_moto_metadata_endpoints() {
    let env = vars(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", MOTO.endpoint.clone()), ("AWS_ENDPOINT_URL", MOTO.endpoint.clone())]);
    let config = unlimited(ClientConfig::from_vars(&SERVICE, "us-east-1", &env).unwrap());
    assert_eq!(config.credentials.identity(), format!("imds:{}", MOTO.endpoint));
    let creds = config.credentials.get().await.expect("IMDS answers");
    // moto's instance metadata serves fixed test credentials for role `default-role`.
    assert_eq!(creds.access_key_id, "test-key");
    assert_eq!(creds.session_token.as_ref().map(|t| t.expose()), Some("test-session-token"));
    assert!(creds.expires.is_some());
    Client::new(config).unwrap().describe_load_balancers(&[]).await.expect("ELB call with instance credentials");
}

#[tokio::test]
async fn imdsv2_sends_the_session_token() {
    let creds = r#"{"Code":"Success","AccessKeyId":"AKIMDS","SecretAccessKey":"s","Token":"t","Expiration":"2099-01-01T00:00:00Z"}"#;
    let server = FaultServer::start(vec![Reply::json(200, "imds-token-1"), Reply::json(200, "my-role\n"), Reply::json(200, creds)]).await;
    let env = vars(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url.clone())]);
    let config = ClientConfig::from_vars(&SERVICE, "us-east-1", &env).unwrap();
    assert_eq!(config.credentials.get().await.unwrap().access_key_id, "AKIMDS");
    let r = server.received();
    assert_eq!(r[0].method, "PUT");
    assert_eq!(r[0].path, "/latest/api/token");
    assert_eq!(r[0].header("x-aws-ec2-metadata-token-ttl-seconds").as_deref(), Some("21600"));
    assert_eq!(r[1].path, "/latest/meta-data/iam/security-credentials/");
    assert_eq!(r[2].path, "/latest/meta-data/iam/security-credentials/my-role");
    assert_eq!(r[2].header("x-aws-ec2-metadata-token").as_deref(), Some("imds-token-1"));
    // Cached: no second fetch while far from expiry.
    config.credentials.get().await.unwrap();
    assert_eq!(server.count(), 3);
}

fn creds_json(ak: &str, expires_in: chrono::Duration) -> String {
    let exp = (chrono::Utc::now() + expires_in).format("%Y-%m-%dT%H:%M:%SZ");
    format!(r#"{{"AccessKeyId":"{ak}","SecretAccessKey":"secret-{ak}","Token":"token-{ak}","Expiration":"{exp}"}}"#)
}

#[tokio::test]
async fn container_credentials_with_token_file_refresh_before_expiry() {
    // Credentials expiring within the refresh window are fetched again on the next call.
    let soon = chrono::Duration::seconds(120);
    let server = FaultServer::start(vec![
        Reply::json(200, creds_json("AKCONT1", soon)),
        Reply::describe_ok(),
        Reply::json(200, creds_json("AKCONT2", soon)),
        Reply::describe_ok(),
    ])
    .await;
    let token_file = temp_file("token-one\n");
    let env = vars(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", format!("{}/v1/credentials", server.url)),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file.display().to_string()),
        ("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING", server.url.clone()),
    ]);
    let c = Client::new(unlimited(ClientConfig::from_vars(&SERVICE, "us-east-1", &env).unwrap())).unwrap();
    c.describe_load_balancers(&[]).await.unwrap();
    std::fs::write(&token_file, "token-two").unwrap();
    c.describe_load_balancers(&[]).await.unwrap();

    let r = server.received();
    assert_eq!(r.len(), 4);
    assert_eq!((r[0].method.as_str(), r[0].path.as_str()), ("GET", "/v1/credentials"));
    assert_eq!(r[0].header("authorization").as_deref(), Some("token-one"));
    assert!(r[1].header("authorization").unwrap().contains("Credential=AKCONT1/"));
    assert_eq!(r[1].header("x-amz-security-token").as_deref(), Some("token-AKCONT1"));
    // The token file is read again for the refresh.
    assert_eq!(r[2].header("authorization").as_deref(), Some("token-two"));
    assert!(r[3].header("authorization").unwrap().contains("Credential=AKCONT2/"));
}

#[tokio::test]
async fn container_credentials_are_cached_until_near_expiry() {
    let server = FaultServer::start(vec![Reply::json(200, creds_json("AKLONG", chrono::Duration::hours(6))), Reply::describe_ok()]).await;
    let env = vars(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", format!("{}/creds", server.url)),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "static-auth".into()),
        ("AWS_ENDPOINT_URL", server.url.clone()),
    ]);
    let c = Client::new(unlimited(ClientConfig::from_vars(&SERVICE, "us-east-1", &env).unwrap())).unwrap();
    for _ in 0..3 {
        c.describe_load_balancers(&[]).await.unwrap();
    }
    let r = server.received();
    assert_eq!(r.iter().filter(|x| x.method == "GET").count(), 1, "fetched once");
    assert_eq!(r[0].header("authorization").as_deref(), Some("static-auth"));
    assert_eq!(r.len(), 4);
}

#[tokio::test]
async fn an_expired_token_error_drops_the_cached_credentials() {
    let long = chrono::Duration::hours(6);
    let server = FaultServer::start(vec![
        Reply::json(200, creds_json("AKOLD", long)),
        Reply::elb_error(403, "ExpiredToken"),
        Reply::json(200, creds_json("AKNEW", long)),
        Reply::describe_ok(),
    ])
    .await;
    let env = vars(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", format!("{}/creds", server.url)), ("AWS_ENDPOINT_URL", server.url.clone())]);
    let c = Client::new(unlimited(ClientConfig::from_vars(&SERVICE, "us-east-1", &env).unwrap())).unwrap();
    let err = c.describe_load_balancers(&[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    // Credentials that still looked valid for hours are fetched again.
    c.describe_load_balancers(&[]).await.unwrap();
    let r = server.received();
    assert_eq!(r.len(), 4);
    assert_eq!(r[2].method, "GET");
    assert!(r[3].header("authorization").unwrap().contains("Credential=AKNEW/"));
}

#[tokio::test]
async fn container_credentials_failure_is_an_auth_error() {
    let server = FaultServer::start(vec![Reply::json(403, r#"{"Code":"AccessDenied","Message":"bad token"}"#)]).await;
    let env = vars(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", format!("{}/creds", server.url)), ("AWS_ENDPOINT_URL", server.url.clone())]);
    let c = Client::new(unlimited(ClientConfig::from_vars(&SERVICE, "us-east-1", &env).unwrap())).unwrap();
    let err = c.describe_load_balancers(&[]).await.unwrap_err();
    assert!(matches!(err, Error::Credentials(_)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.to_string().contains("HTTP 403"), "{err}");
}

fn sts_xml(ak: &str, secret: &str, token: &str, expires_in: chrono::Duration) -> Reply {
    let exp = (chrono::Utc::now() + expires_in).format("%Y-%m-%dT%H:%M:%SZ");
    Reply::xml(
        200,
        format!(
            "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>{ak}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken><Expiration>{exp}</Expiration></Credentials></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>"
        ),
    )
}

#[tokio::test]
async fn web_identity_rereads_the_token_file_on_refresh() {
    let soon = chrono::Duration::seconds(60);
    let server = FaultServer::start(vec![
        sts_xml("ASIAONE", "s1", "t1", soon),
        Reply::describe_ok(),
        sts_xml("ASIATWO", "s2", "t2", soon),
        Reply::describe_ok(),
    ])
    .await;
    let token_file = temp_file("jwt-one");
    let env = vars(&[
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r".into()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.display().to_string()),
        ("AWS_ENDPOINT_URL", server.url.clone()),
    ]);
    let c = Client::new(unlimited(ClientConfig::from_vars(&SERVICE, "eu-west-1", &env).unwrap())).unwrap();
    c.describe_load_balancers(&[]).await.unwrap();
    std::fs::write(&token_file, "jwt-two").unwrap();
    c.describe_load_balancers(&[]).await.unwrap();
    let r = server.received();
    assert_eq!(r[0].param("Action").as_deref(), Some("AssumeRoleWithWebIdentity"));
    assert_eq!(r[0].param("RoleArn").as_deref(), Some("arn:aws:iam::123456789012:role/r"));
    assert_eq!(r[0].param("WebIdentityToken").as_deref(), Some("jwt-one"));
    assert!(r[0].header("authorization").is_none(), "AssumeRoleWithWebIdentity is unsigned");
    assert!(r[1].header("authorization").unwrap().contains("Credential=ASIAONE/"));
    assert!(r[1].header("authorization").unwrap().contains("/eu-west-1/elasticloadbalancing/"));
    assert_eq!(r[2].param("WebIdentityToken").as_deref(), Some("jwt-two"));
    assert_eq!(r[3].header("x-amz-security-token").as_deref(), Some("t2"));
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_reach_logs_errors_or_debug_output() {
    const SECRET: &str = "SECRET-ACCESS-KEY-d41d8cd98f";
    const SESSION: &str = "SESSION-TOKEN-8f00b204e98";
    const WEB_TOKEN: &str = "WEB-IDENTITY-JWT-e9800998ecf";
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Tests on other threads may have registered the client's span callsite while no
    // subscriber wanted it; re-evaluate so this thread's subscriber sees `elb_call`.
    tracing::callsite::rebuild_interest_cache();

    let server = FaultServer::start(vec![
        sts_xml("ASIASECRETTEST", SECRET, SESSION, chrono::Duration::hours(1)),
        Reply::elb_error(500, "InternalFailure"),
        Reply::elb_error(403, "SignatureDoesNotMatch"),
        Reply::elb_error(400, "ValidationError"),
    ])
    .await;
    let token_file = temp_file(WEB_TOKEN);
    let env = vars(&[
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r".into()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.display().to_string()),
        ("AWS_ENDPOINT_URL", server.url.clone()),
    ]);
    let config = unlimited(ClientConfig::from_vars(&SERVICE, "us-east-1", &env).unwrap());
    let c = Client::new(config.clone()).unwrap();
    let auth_err = c.describe_load_balancers(&[]).await.unwrap_err();
    let terminal = c.delete_load_balancer("x").await.unwrap_err();
    let creds = config.credentials.get().await.unwrap();
    // The secrets really were in play.
    assert_eq!(creds.secret_access_key.expose(), SECRET);
    assert!(server.received()[1].header("x-amz-security-token").as_deref() == Some(SESSION));

    // A failing STS call (error body and all) must not leak the web identity token either.
    let sts_fail = FaultServer::start(vec![Reply::xml(400, "<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>Couldn't retrieve verification key</Message></Error></ErrorResponse>")]).await;
    let env2 = vars(&[
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r".into()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.display().to_string()),
        ("AWS_ENDPOINT_URL", sts_fail.url.clone()),
    ]);
    let c2 = Client::new(unlimited(ClientConfig::from_vars(&SERVICE, "us-east-1", &env2).unwrap())).unwrap();
    let sts_err = c2.describe_load_balancers(&[]).await.unwrap_err();
    assert_eq!(sts_err.kind(), ErrorKind::Auth);
    assert!(sts_err.to_string().contains("InvalidIdentityToken"), "{sts_err}");

    let texts = [
        String::from_utf8(capture.0.lock().unwrap().clone()).unwrap(),
        format!("{c:?}"),
        format!("{c2:?}"),
        format!("{config:?}"),
        format!("{:?}", config.credentials),
        format!("{creds:?}"),
        format!("{auth_err} {auth_err:?}"),
        format!("{terminal} {terminal:?}"),
        format!("{sts_err} {sts_err:?}"),
        format!("{:?}", Clients::new(config.clone())),
    ];
    let all = texts.join("\n");
    assert!(all.contains("ASIASECRETTEST"), "the access key id is not secret and helps debugging");
    assert!(all.contains("aws_call"), "the log captured the call spans: {all}");
    for secret in [SECRET, SESSION, WEB_TOKEN] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
}
