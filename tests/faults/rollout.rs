//! Rollouts that change the shard count, with real processes: an old replica runs with one
//! count (1: the single leader, without `--shards`), a new one starts with another, as a
//! rolling update that changes `--shards` would do. The new replica takes no Lease (and so
//! writes nothing) while the old one's Leases are fresh, says so in its log once, exports
//! `elb_operator_leader 0` and `elb_operator_shards_held 0`, and takes every Lease of its
//! count once the old one stopped (SIGTERM releases them at once).
//!
//! Who wrote which Lease is read off the stand-in's request log: each replica's Kubernetes
//! client names its identity in its user agent.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use test_support::fault_proxy::ProxyConfig;

use crate::harness::{Operator, Services, REGION};
use elb_operator::leader::exclusion::COUNT_LABEL;
use elb_operator::leader::shards::lease_name;

const NS: &str = "rollout";
const LEASE: &str = "elb-operator";
const BLOCKED: &str = "a Lease of another shard count is fresh";
const CLEARED: &str = "no Lease of another shard count is fresh any more";

/// A replica named `label` with `shards` shards (1: the single leader, no `--shards`).
fn operator(s: &Services, label: &str, shards: u32) -> Operator {
    let mut args: Vec<String> = [
        "--region",
        REGION,
        "--cluster-name",
        "rollout-test",
        "--watch-namespace",
        NS,
        "--elb-endpoint",
        &s.proxy.url(),
        "--lease-namespace",
        NS,
        "--lease-name",
        LEASE,
        // Longer than the other fault tests' 3 s: on a loaded machine the old replica must not
        // miss renewals for a whole duration, or the new one could take over legitimately.
        "--lease-duration",
        "5s",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    if shards > 1 {
        args.extend(["--shards".to_string(), shards.to_string()]);
    }
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIDROLLOUT".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "rollout-secret".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("POD_NAME", label.to_string()),
        ("KUBECONFIG", s.standin.kubeconfig_path().display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Operator::new(label, s.dir.path(), args, env)
}

/// The Leases that let a replica of `shards` write: the single leader's, or one per shard.
fn writer_leases(shards: u32) -> Vec<String> {
    match shards {
        1 => vec![LEASE.to_string()],
        n => (0..n).map(|i| lease_name(LEASE, i)).collect(),
    }
}

/// Whether `label`'s replica holds every writer Lease of `shards`, each labelled with it.
async fn holds_all(leases: &Api<Lease>, label: &str, shards: u32) -> Option<()> {
    for name in writer_leases(shards) {
        let lease = leases.get_opt(&name).await.ok()??;
        let holder = lease.spec.and_then(|s| s.holder_identity).unwrap_or_default();
        let count = lease.metadata.labels.unwrap_or_default().get(COUNT_LABEL).cloned();
        if !holder.starts_with(&format!("{label}_")) || count != Some(shards.to_string()) {
            return None;
        }
    }
    Some(())
}

/// Lease writes (create, update) of `label`'s replica that the stand-in accepted: their paths.
fn lease_writes(s: &Services, label: &str) -> Vec<String> {
    let agent = format!("({label}_");
    s.standin
        .requests()
        .entries()
        .into_iter()
        .filter(|r| r.is_write() && r.status < 300 && r.user_agent.contains(&agent))
        .filter(|r| r.path().starts_with(&format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases")))
        .map(|r| r.path().to_string())
        .collect()
}

fn log(op: &Operator) -> String {
    op.logs().into_iter().map(|(_, t)| t).collect()
}

/// The value of the gauge `name` on the replica's `/metrics` (its address read off its log).
async fn gauge(op: &Operator, name: &str) -> Option<i64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let text = log(op);
    let line = text.lines().find(|l| l.contains("serving /metrics"))?;
    let addr = line.split("127.0.0.1:").nth(1)?;
    let addr = format!("127.0.0.1:{}", addr.chars().take_while(char::is_ascii_digit).collect::<String>());
    let get = async {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.ok()?;
        stream.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.ok()?;
        Some(String::from_utf8_lossy(&raw).to_string())
    };
    let body = tokio::time::timeout(Duration::from_secs(10), get).await.ok()??;
    body.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn rollout(old_shards: u32, new_shards: u32) {
    let s = Services::start(ProxyConfig::default()).await;
    s.namespace(NS).await;
    let leases: Api<Lease> = Api::namespaced(s.kube.clone(), NS);
    let mut old = operator(&s, "old", old_shards);
    old.start();
    test_support::poll(Duration::from_secs(60), || holds_all(&leases, "old", old_shards))
        .await
        .unwrap_or_else(|| panic!("the old replica holds its Leases, labelled {old_shards}\n{}", old.log_tail(30)));

    // The new replica starts beside it, as in a rolling update: it sees the old Leases and
    // says so once (bounded: it starts, registers and looks within a few retry periods).
    let mut new = operator(&s, "new", new_shards);
    new.start();
    let tails = |ops: [&Operator; 2]| ops.iter().map(|o| o.log_tail(30)).collect::<Vec<_>>().join("\n");
    test_support::poll(Duration::from_secs(60), || {
        let blocked = log(&new).contains(BLOCKED);
        async move { blocked.then_some(()) }
    })
    .await
    .unwrap_or_else(|| panic!("the new replica logs that a Lease of another count is fresh\n{}", tails([&old, &new])));
    // For two lease durations (checked before the SIGTERM below: after it, the old replica
    // releases its Leases and the new one may take them) (the old replica renews all along), the new one still takes
    // nothing, and logs it only once however often it looks.
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let theirs = holds_all(&leases, "old", old_shards).await;
        assert!(theirs.is_some(), "the old replica keeps its Leases\n{}", tails([&old, &new]));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // What it exports: neither leading nor holding a shard.
    assert_eq!(gauge(&new, "elb_operator_leader").await, Some(0), "the new replica does not lead\n{}", log(&new));
    assert_eq!(gauge(&new, "elb_operator_shards_held").await, Some(0), "the new replica holds no shard\n{}", log(&new));
    let writes = lease_writes(&s, "new");
    assert!(writes.is_empty(), "the new replica ({new_shards}) wrote Leases while the old one's ({old_shards}) were fresh: {writes:?}");
    assert_eq!(log(&new).matches(BLOCKED).count(), 1, "logged once, not every look\n{}", log(&new));

    // The old replica stops (SIGTERM releases its Leases): the new one takes every Lease of
    // its count, at once rather than after the lease duration.
    old.signal("TERM");
    let exited = test_support::poll(Duration::from_secs(30), || {
        let running = old.running();
        async move { (!running).then_some(()) }
    })
    .await;
    assert!(exited.is_some(), "the old replica exits on SIGTERM\n{}", old.log_tail(30));
    let stopped = Instant::now();
    old.kill(); // reaps it
    test_support::poll(Duration::from_secs(45), || holds_all(&leases, "new", new_shards))
        .await
        .unwrap_or_else(|| panic!("the new replica takes every Lease of its count, labelled {new_shards}\n{}", tails([&old, &new])));
    println!("{old_shards} → {new_shards}: the new replica held everything {:?} after the old one exited", stopped.elapsed());
    assert!(log(&new).contains(CLEARED), "the new replica logs that it takes Leases again\n{}", log(&new));
    let held = if new_shards > 1 { i64::from(new_shards) } else { 0 };
    let exported = test_support::poll(Duration::from_secs(20), || async {
        let (leader, shards) = (gauge(&new, "elb_operator_leader").await, gauge(&new, "elb_operator_shards_held").await);
        (leader == Some(1) && shards == Some(held)).then_some(())
    })
    .await;
    assert!(exported.is_some(), "the new replica exports leader 1 and shards_held {held}\n{}", log(&new));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_to_four_the_new_replica_waits_for_the_old_leases() {
    rollout(2, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_leader_to_two_shards_the_new_replica_waits_for_the_leader_lease() {
    rollout(1, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_to_single_leader_the_new_leader_waits_for_the_shard_leases() {
    rollout(2, 1).await;
}
