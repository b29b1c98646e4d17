//! Faults from a scripted local server: throttling, 5xx, timeouts, malformed bodies,
//! exact attempt counts, terminal errors, the retry quota and rate-limiter pacing.

use std::time::Duration;

use elb_operator::aws::*;
use elb_operator::elb::*;
use elb_operator::telemetry::Metrics;

use crate::common::{calls, counted};
use crate::fault_server::{FaultServer, Reply};

/// A configuration for the fault server: tiny backoff so retries are quick, no rate limiting.
fn config(server: &FaultServer) -> ClientConfig {
    let retry = RetryConfig { initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(5), ..Default::default() };
    ClientConfig::for_endpoint("us-east-1", &server.url, "AKIDFAULT", "fault-secret")
        .with_retry(retry)
        .with_rate_limit(RateLimitConfig::unlimited())
}

/// A client for the fault server, and the metrics that count its calls.
fn client(server: &FaultServer) -> (Client, Metrics) {
    counted(config(server))
}

#[tokio::test]
async fn throttled_twice_then_success_takes_three_attempts() {
    let server =
        FaultServer::start(vec![Reply::elb_error(400, "Throttling"), Reply::elb_error(400, "Throttling"), Reply::describe_ok()]).await;
    let (c, metrics) = client(&server);
    let lbs = c.describe_load_balancers(&[]).await.expect("third attempt succeeds");
    assert!(lbs.is_empty());
    assert_eq!(server.count(), 3);
    // One logical call of three attempts, each counted by outcome, throttles included.
    let calls = calls(&metrics);
    assert_eq!(calls.attempts("DescribeLoadBalancers"), 3);
    assert_eq!(calls.outcome("DescribeLoadBalancers", "throttled"), 2);
    assert_eq!(calls.outcome("DescribeLoadBalancers", "success"), 1);
    // A success after retries gives the quota back.
    assert_eq!(c.retry_quota_available(), 500);
}

#[tokio::test]
async fn throttling_that_persists_fails_after_three_attempts() {
    let server = FaultServer::start(vec![Reply::elb_error(400, "RequestLimitExceeded")]).await;
    let (c, metrics) = client(&server);
    let err = c.describe_load_balancers(&[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled, "{err}");
    assert_eq!(err.code(), Some("RequestLimitExceeded"));
    assert_eq!(server.count(), 3);
    assert_eq!(calls(&metrics).outcome("DescribeLoadBalancers", "throttled"), 3);
}

#[tokio::test]
async fn html_500s_are_retried_and_reported_with_a_snippet() {
    let server = FaultServer::start(vec![Reply::html(
        500,
        "<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>",
    )])
    .await;
    let (c, metrics) = client(&server);
    let err = c.delete_load_balancer("lb").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable);
    match &err {
        Error::UnexpectedResponse { status, snippet, .. } => {
            assert_eq!(*status, 500);
            assert!(snippet.contains("Internal Server Error"), "{snippet}");
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("HTTP 500") && text.contains("DeleteLoadBalancer"), "{text}");
    assert_eq!(calls(&metrics).attempts("DeleteLoadBalancer"), 3);
}

#[tokio::test]
async fn service_unavailable_then_success() {
    let server = FaultServer::start(vec![Reply::elb_error(503, "ServiceUnavailable"), Reply::empty_ok("DeleteLoadBalancer")]).await;
    let (c, metrics) = client(&server);
    c.delete_load_balancer("lb").await.expect("second attempt succeeds");
    assert_eq!(calls(&metrics).attempts("DeleteLoadBalancer"), 2);
    let sent = server.received();
    assert_eq!(sent[0].body, sent[1].body, "a retry sends the same request");
    assert_eq!(sent[0].param("LoadBalancerName").as_deref(), Some("lb"));
}

#[tokio::test]
async fn slow_responses_hit_the_timeout_and_are_retried() {
    let server = FaultServer::start(vec![Reply::describe_ok().delayed(Duration::from_secs(30))]).await;
    let (c, metrics) = counted(config(&server).with_timeout(Duration::from_millis(200)).with_max_attempts(2));
    let err = c.describe_load_balancers(&[]).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { timeout, .. } if timeout == Duration::from_millis(200)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert_eq!(calls(&metrics).outcome("DescribeLoadBalancers", "retryable"), 2);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn malformed_xml_and_html_bodies_are_clear_errors_not_panics() {
    let server = FaultServer::start(vec![
        Reply::xml(200, "<DescribeLoadBalancersResponse><DescribeLoadBalancersResult><LoadBalancerDescriptions><member>"),
        Reply::html(200, "<!DOCTYPE html><html><body>Sign in to continue</body></html>"),
        Reply::xml(400, "<ErrorResponse><Error><Code>"),
        Reply::html(403, "<html><body>Forbidden by proxy</body></html>"),
    ])
    .await;
    let (c, metrics) = client(&server);
    let truncated = c.describe_load_balancers(&[]).await.unwrap_err();
    assert!(
        matches!(&truncated, Error::UnexpectedResponse { status: 200, snippet, .. } if snippet.contains("<LoadBalancerDescriptions>")),
        "{truncated:?}"
    );
    assert_eq!(truncated.kind(), ErrorKind::Terminal);
    let html = c.describe_load_balancers(&[]).await.unwrap_err();
    assert!(matches!(&html, Error::UnexpectedResponse { status: 200, snippet, .. } if snippet.contains("Sign in")), "{html:?}");
    let bad_error = c.describe_load_balancers(&[]).await.unwrap_err();
    assert!(matches!(&bad_error, Error::UnexpectedResponse { status: 400, .. }), "{bad_error:?}");
    let forbidden = c.describe_load_balancers(&[]).await.unwrap_err();
    assert_eq!(forbidden.kind(), ErrorKind::Auth);
    assert!(forbidden.to_string().contains("HTTP 403"), "{forbidden}");
    // None of these is retried.
    assert_eq!(calls(&metrics).attempts("DescribeLoadBalancers"), 4);
}

#[tokio::test]
async fn a_malformed_number_is_a_terminal_error_not_a_zero() {
    let lb = "<member><LoadBalancerName>lb</LoadBalancerName><ListenerDescriptions><member><Listener>\
              <Protocol>HTTP</Protocol><LoadBalancerPort>eighty</LoadBalancerPort><InstanceProtocol>HTTP</InstanceProtocol>\
              <InstancePort>8080</InstancePort></Listener></member></ListenerDescriptions></member>";
    let server = FaultServer::start(vec![Reply::xml(
        200,
        format!(
            "<DescribeLoadBalancersResponse><DescribeLoadBalancersResult><LoadBalancerDescriptions>{lb}</LoadBalancerDescriptions>\
                 </DescribeLoadBalancersResult></DescribeLoadBalancersResponse>"
        ),
    )])
    .await;
    let (c, metrics) = client(&server);
    let err = c.describe_load_balancers(&[]).await.unwrap_err();
    match &err {
        Error::MalformedResponse { action: "DescribeLoadBalancers", problem: DecodeError::Malformed { element, text, .. } } => {
            assert_eq!((element.as_str(), text.as_str()), ("LoadBalancerPort", "eighty"));
        }
        other => panic!("expected a malformed response, got {other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(err.to_string().contains("<LoadBalancerPort> is \"eighty\""), "{err}");
    assert_eq!(calls(&metrics).outcome("DescribeLoadBalancers", "terminal"), 1, "not retried");
}

#[tokio::test]
async fn terminal_and_auth_errors_are_not_retried() {
    for (status, code, kind) in [
        (400, "ValidationError", ErrorKind::Terminal),
        (400, "InvalidConfigurationRequest", ErrorKind::Terminal),
        (403, "SignatureDoesNotMatch", ErrorKind::Auth),
        (403, "ExpiredToken", ErrorKind::Auth),
        (400, "LoadBalancerNotFound", ErrorKind::NotFound),
        (400, "DuplicateLoadBalancerName", ErrorKind::Duplicate),
    ] {
        let server = FaultServer::start(vec![Reply::elb_error(status, code)]).await;
        let (c, _) = client(&server);
        let err = c.delete_load_balancer("lb").await.unwrap_err();
        assert_eq!(err.kind(), kind, "{code}");
        assert_eq!(err.code(), Some(code));
        assert!(
            matches!(&err, Error::Api { request_id: Some(r), status: s, .. } if *r == format!("req-{code}") && *s == status),
            "{err:?}"
        );
        assert_eq!(server.count(), 1, "{code} must not be retried");
    }
}

#[tokio::test]
async fn connection_errors_are_retried() {
    // A port that was free a moment ago: nothing listens there.
    let port = test_support::free_port();
    let retry = RetryConfig { initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(5), ..Default::default() };
    let (c, metrics) = counted(
        ClientConfig::for_endpoint("us-east-1", &format!("http://127.0.0.1:{port}"), "AK", "SK")
            .with_retry(retry)
            .with_rate_limit(RateLimitConfig::unlimited()),
    );
    let err = c.describe_load_balancers(&[]).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert_eq!(calls(&metrics).outcome("DescribeLoadBalancers", "retryable"), 3);
}

#[tokio::test]
async fn the_retry_quota_stops_retries_when_spent() {
    let server = FaultServer::start(vec![Reply::elb_error(500, "InternalFailure")]).await;
    let retry =
        RetryConfig { quota: 5, initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(1), ..Default::default() };
    let c = Client::new(config(&server).with_retry(retry)).unwrap();
    // The quota pays for one retry (cost 5)...
    assert!(c.describe_load_balancers(&[]).await.is_err());
    assert_eq!(server.count(), 2);
    assert_eq!(c.retry_quota_available(), 0);
    // ...and then none.
    assert!(c.describe_load_balancers(&[]).await.is_err());
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn requests_are_signed_form_posts() {
    let server = FaultServer::start(vec![Reply::empty_ok("DeleteLoadBalancerListeners")]).await;
    let (c, _) = client(&server);
    c.delete_load_balancer_listeners("lb", &[80, 443]).await.unwrap();
    let sent = server.received();
    // One port per call, as AWS recommends for partial-failure clarity.
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].param("LoadBalancerPorts.member.1").as_deref(), Some("80"));
    assert_eq!(sent[1].param("LoadBalancerPorts.member.1").as_deref(), Some("443"));
    assert_eq!(sent[0].param("LoadBalancerPorts.member.2"), None);
    let r = &sent[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.param("Action").as_deref(), Some("DeleteLoadBalancerListeners"));
    assert_eq!(r.param("Version").as_deref(), Some("2012-06-01"));
    assert!(r.header("content-type").unwrap().starts_with("application/x-www-form-urlencoded"));
    let auth = r.header("authorization").unwrap();
    assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDFAULT/"), "{auth}");
    assert!(auth.contains("/us-east-1/elasticloadbalancing/aws4_request"), "{auth}");
    assert!(r.header("x-amz-date").is_some());
    assert!(r.header("x-amz-security-token").is_none());
}

#[tokio::test(start_paused = true)]
async fn rate_limiter_paces_describes_and_keeps_mutations_separate() {
    let mut script = vec![Reply::describe_ok(); 6];
    script.push(Reply::empty_ok("DeleteLoadBalancer"));
    let server = FaultServer::start(script).await;
    let limits = RateLimitConfig { describe: Bucket { per_second: 10.0, burst: 2 }, mutate: Bucket { per_second: 1.0, burst: 1 } };
    // Unique credentials: limiters are shared per (credentials, region) in the process.
    let c = Client::new(
        ClientConfig::for_endpoint("us-east-1", &server.url, "AKIDPACING", "s")
            .with_rate_limit(limits)
            .with_timeout(Duration::from_secs(86_400)),
    )
    .unwrap();
    // A second client with the same credentials and region shares the buckets.
    let c2 = Client::new(c.config().clone()).unwrap();
    let start = tokio::time::Instant::now();
    let calls = (0..6).map(|i| {
        let c = if i % 2 == 0 { c.clone() } else { c2.clone() };
        async move { c.describe_load_balancers(&[]).await.map(|_| ()) }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.is_ok()));
    let offsets: Vec<Duration> = server.received().iter().map(|r| r.at - start).collect();
    assert_eq!(offsets.len(), 6);
    // Burst of 2, then one every 100ms (virtual time).
    let ms: Vec<u128> = offsets.iter().map(|d| d.as_millis()).collect();
    assert_eq!(&ms[..2], &[0, 0], "{ms:?}");
    for (i, m) in ms.iter().enumerate().skip(2) {
        assert!(*m >= (i as u128 - 1) * 100, "request {i} at {m}ms: {ms:?}");
    }
    assert!(ms.windows(2).all(|w| w[0] <= w[1]), "{ms:?}");

    // The describe bucket is now empty, but mutations have their own budget.
    let before = tokio::time::Instant::now();
    let n = server.count();
    c.delete_load_balancer("lb").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.received()[n].at - before, Duration::ZERO);
}
