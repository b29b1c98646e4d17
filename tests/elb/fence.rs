//! Write fencing: a mutating call is never sent once the fence (the leader lease's renew
//! deadline) has passed, not even as a retry; reads go on.

use std::time::Duration;

use elb_operator::aws::*;
use elb_operator::elb::*;
use tokio::time::Instant;

use crate::fault_server::{FaultServer, Reply};

fn client(server: &FaultServer, fence: &Fence) -> Client {
    let retry = RetryConfig { initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(5), ..Default::default() };
    Client::new(
        ClientConfig::for_endpoint("us-east-1", &server.url, "AKIDFENCE", "fence-secret")
            .with_retry(retry)
            .with_rate_limit(RateLimitConfig::unlimited())
            .with_fence(fence.clone()),
    )
    .unwrap()
}

#[tokio::test]
async fn a_closed_fence_stops_writes_before_they_are_sent_and_lets_reads_through() {
    let server = FaultServer::start(vec![Reply::describe_ok()]).await;
    let fence = Fence::default();
    let c = client(&server, &fence);
    let err = c.register_instances("lb", &["i-1".to_string()]).await.unwrap_err();
    assert!(matches!(err, Error::Fenced { action: "RegisterInstancesWithLoadBalancer" }), "{err}");
    assert_eq!(server.count(), 0, "nothing was sent");
    c.describe_load_balancers(&[]).await.expect("reads are not fenced");
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_write_in_flight_when_the_fence_passes_is_not_retried() {
    // The first attempt hangs past the fence; its retry must not go out.
    let server = FaultServer::start(vec![Reply::empty_ok("RegisterInstancesWithLoadBalancer").delayed(Duration::from_secs(3))]).await;
    let fence = Fence::default();
    fence.extend_to(Instant::now() + Duration::from_millis(400));
    let c = client(&server, &fence);
    let started = Instant::now();
    let err = c.register_instances("lb", &["i-1".to_string()]).await.unwrap_err();
    assert!(matches!(err, Error::Fenced { .. }), "the retry is fenced: {err}");
    assert_eq!(server.count(), 1, "one attempt sent, while the fence allowed it");
    assert!(started.elapsed() < Duration::from_secs(3), "the attempt did not outlive the fence");
}

/// With shards, the task carries its object's shard fence, and that one decides: the
/// client's own (closed) fence does not refuse a write of a held shard, and a lost shard's
/// write is refused before it is sent.
#[tokio::test]
async fn a_shard_fence_carried_by_the_task_decides_instead_of_the_clients() {
    let server = FaultServer::start(vec![Reply::empty_ok("RegisterInstancesWithLoadBalancer")]).await;
    let c = client(&server, &Fence::default());
    let held = Fence::default();
    held.extend_to(Instant::now() + Duration::from_secs(30));
    with_fence(held, c.register_instances("lb", &["i-1".to_string()])).await.expect("the shard is held");
    assert_eq!(server.count(), 1);
    let lost = Fence::default();
    let err = with_fence(lost, c.register_instances("lb", &["i-1".to_string()])).await.unwrap_err();
    assert!(matches!(err, Error::Fenced { .. }), "{err}");
    let err = c.register_instances("lb", &["i-1".to_string()]).await.unwrap_err();
    assert!(matches!(err, Error::Fenced { .. }), "outside any shard: the client's fence, closed: {err}");
    assert_eq!(server.count(), 1, "nothing more was sent");
}

/// Fetching credentials can take seconds (a slow STS AssumeRole): a fence that passes
/// meanwhile stops the write, although it was open when the attempt began.
#[tokio::test]
async fn a_fence_that_passes_while_credentials_are_fetched_stops_the_write() {
    let assumed = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIASLOW</AccessKeyId><SecretAccessKey>slow-secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata></AssumeRoleResponse>"#;
    let sts = FaultServer::start(vec![Reply::xml(200, assumed).delayed(Duration::from_millis(1500))]).await;
    let elb = FaultServer::start(vec![Reply::empty_ok("RegisterInstancesWithLoadBalancer")]).await;
    let fence = Fence::default();
    fence.extend_to(Instant::now() + Duration::from_millis(500));
    let mut base = ClientConfig::for_endpoint("us-east-1", &elb.url, "AKIDFENCE", "fence-secret")
        .with_rate_limit(RateLimitConfig::unlimited())
        .with_fence(fence.clone());
    base.sts_endpoint = Some(sts.url.clone());
    let clients = Clients::new(base);
    let role = Role { arn: "arn:aws:iam::111111111111:role/slow".into(), external_id: None };
    let c = clients.get_as("us-east-1", Some(&role)).unwrap();
    let err = c.register_instances("lb", &["i-1".to_string()]).await.unwrap_err();
    assert!(matches!(err, Error::Fenced { action: "RegisterInstancesWithLoadBalancer" }), "{err}");
    assert_eq!(sts.count(), 1, "the fence was open when the attempt began: credentials were fetched");
    assert_eq!(elb.count(), 0, "the write was not sent after the fence passed");

    // With the fence open again, the same client (its credentials cached) writes.
    fence.extend_to(Instant::now() + Duration::from_secs(30));
    c.register_instances("lb", &["i-1".to_string()]).await.expect("the fence is open");
    assert_eq!((sts.count(), elb.count()), (1, 1));
}
