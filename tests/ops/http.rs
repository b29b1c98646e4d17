//! The HTTP endpoints, scraped over loopback.

use std::time::Duration;

use elb_operator::http::{serve, Health};
use elb_operator::leader::Election;
use elb_operator::telemetry::{Metrics, StateLabels};
use tokio_util::sync::CancellationToken;

use crate::http_get;

async fn start(
    metrics: Metrics,
    health: Health,
) -> (std::net::SocketAddr, CancellationToken, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(serve(listener, metrics, health, stop.clone().cancelled_owned()));
    (addr, stop, task)
}

/// The value of the sample whose line starts with `series` (name and labels exactly).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[tokio::test]
async fn metrics_expose_reconciles_elb_calls_throttles_limiter_waits_and_instance_health() {
    let metrics = Metrics::new();
    {
        let _timer = metrics.reconcile.start("loadbalancer");
        metrics.reconcile.failure("loadbalancer", "throttled");
    }
    drop(metrics.reconcile.start("healthcheck"));
    metrics.elb.observe_call("CreateLoadBalancer", "success", 0.2);
    metrics.elb.observe_call("RegisterInstancesWithLoadBalancer", "throttled", 0.05);
    metrics.elb.observe_call("RegisterInstancesWithLoadBalancer", "success", 0.07);
    metrics.elb.rate_limiter_wait.observe(0.3);
    metrics.instances.get_or_create(&StateLabels { state: "InService".into() }).set(2);
    metrics.instances.get_or_create(&StateLabels { state: "OutOfService".into() }).set(1);

    let (addr, stop, task) = start(metrics.clone(), Health::new(Election::Disabled)).await;
    let (code, body) = http_get(addr, "/metrics").await.unwrap();
    assert_eq!(code, 200);
    let expect = [
        (r#"elb_operator_reconcile_runs_total{resource="loadbalancer"}"#, 1.0),
        (r#"elb_operator_reconcile_runs_total{resource="healthcheck"}"#, 1.0),
        (r#"elb_operator_reconcile_failures_total{resource="loadbalancer",error="throttled"}"#, 1.0),
        (r#"elb_operator_reconcile_duration_seconds_count{resource="loadbalancer"}"#, 1.0),
        (r#"elb_operator_elb_calls_total{action="CreateLoadBalancer",outcome="success"}"#, 1.0),
        (r#"elb_operator_elb_calls_total{action="RegisterInstancesWithLoadBalancer",outcome="throttled"}"#, 1.0),
        (r#"elb_operator_elb_calls_total{action="RegisterInstancesWithLoadBalancer",outcome="success"}"#, 1.0),
        (r#"elb_operator_elb_call_duration_seconds_count{action="RegisterInstancesWithLoadBalancer"}"#, 2.0),
        ("elb_operator_elb_rate_limiter_wait_seconds_count", 1.0),
        ("elb_operator_elb_rate_limiter_wait_seconds_sum", 0.3),
        (r#"elb_operator_instances{state="InService"}"#, 2.0),
        (r#"elb_operator_instances{state="OutOfService"}"#, 1.0),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&body, series), Some(value), "{series} in\n{body}");
    }
    assert!(body.trim_end().ends_with("# EOF"), "OpenMetrics text ends with # EOF");

    // A later scrape sees later increments.
    metrics.elb.observe_call("CreateLoadBalancer", "success", 0.1);
    let (_, body) = http_get(addr, "/metrics").await.unwrap();
    assert_eq!(sample(&body, r#"elb_operator_elb_calls_total{action="CreateLoadBalancer",outcome="success"}"#), Some(2.0));

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("server stops").unwrap().unwrap();
    assert!(http_get(addr, "/healthz").await.is_err(), "nothing listens after shutdown");
}

#[tokio::test]
async fn healthz_is_always_ok_and_readyz_follows_sync_and_election() {
    let health = Health::new(Election::Starting);
    let (addr, stop, _task) = start(Metrics::new(), health.clone()).await;
    let ready = || async { http_get(addr, "/readyz").await.unwrap() };

    assert_eq!(http_get(addr, "/healthz").await.unwrap(), (200, "ok".to_string()));
    let (code, body) = ready().await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("lease"), "{body}");

    health.set_election(Election::Leader);
    assert_eq!(ready().await.0, 503, "a leader is not ready before its caches sync");
    health.set_caches_synced(true);
    assert_eq!(ready().await.0, 200);

    health.set_caches_synced(false);
    health.set_election(Election::Standby { api_reachable: true });
    assert_eq!(ready().await.0, 200, "a healthy standby is ready");
    health.set_election(Election::Standby { api_reachable: false });
    assert_eq!(ready().await.0, 503, "a standby cut off from the API is not ready");

    health.set_election(Election::Disabled);
    assert_eq!(ready().await.0, 503);
    health.set_caches_synced(true);
    assert_eq!(ready().await.0, 200);

    assert_eq!(http_get(addr, "/healthz").await.unwrap().0, 200);
    assert_eq!(http_get(addr, "/nope").await.unwrap().0, 404);
    stop.cancel();
}
