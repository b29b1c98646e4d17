//! Scale-out with shards, with three real processes (`elb-operator run --shards 4`): every
//! LoadBalancer is reconciled, by one replica at a time; the shards of a SIGKILLed replica
//! move to the survivors, whose LoadBalancers keep converging; a SIGTERMed replica hands its
//! shards over at once.
//!
//! Who wrote what is read off two logs: the stand-in's request log (each replica's
//! Kubernetes client names its identity in its user agent, as a real API server's audit
//! log would show) and the fault proxy's (each replica signs its ELB calls with an access
//! key of its own). For each object, the windows in which two replicas wrote it (first
//! write sent to last write answered) must not overlap: no replica regains a shard it lost
//! here (there is no rebalancing, and only a kill moves shards), so that is the "no object
//! written by two replicas in overlapping lease terms" of the issue, checked without
//! reading the terms.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use test_support::fault_proxy::ProxyConfig;

use crate::harness::{Operator, Services, REGION};
use elb_operator::elb::ElbApi;
use elb_operator::leader::shards::{lease_name, shard_of};

const NS: &str = "shards";
const SHARDS: u32 = 4;
const REPLICAS: usize = 3;
const FIRST: usize = 8;
const LEASE: &str = "elb-operator";

fn key(replica: usize) -> String {
    format!("AKIDSHARD{replica}")
}

fn label(replica: usize) -> String {
    format!("replica-{replica}")
}

fn operator(s: &Services, replica: usize) -> Operator {
    let args = [
        "--region",
        REGION,
        "--cluster-name",
        "shards-test",
        "--watch-namespace",
        NS,
        "--elb-endpoint",
        &s.proxy.url(),
        "--lease-namespace",
        NS,
        "--lease-duration",
        "3s",
        "--shards",
        &SHARDS.to_string(),
        "--health-poll-interval",
        "5s",
        "--log-level",
        "info,elb_operator=debug",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let env = [
        ("AWS_ACCESS_KEY_ID", key(replica)),
        ("AWS_SECRET_ACCESS_KEY", "shard-secret".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("POD_NAME", label(replica)),
        ("KUBECONFIG", s.standin.kubeconfig_path().display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Operator::new(&label(replica), s.dir.path(), args, env)
}

fn spec(instances: &[String], ports: &[u16]) -> serde_json::Value {
    let listeners: Vec<_> = ports.iter().map(|p| json!({"port": p, "protocol": "TCP", "instancePort": 8080})).collect();
    json!({
        "availabilityZones": ["us-east-1a"],
        "listeners": listeners,
        "healthCheckRef": {"name": "hc"},
        "backends": {"instanceIds": instances},
    })
}

/// The replica (index) holding each shard, from the Leases (`None`: free or unknown holder).
async fn holders(leases: &Api<Lease>) -> Vec<Option<usize>> {
    let mut out = Vec::new();
    for i in 0..SHARDS {
        let holder = leases.get_opt(&lease_name(LEASE, i)).await.ok().flatten().and_then(|l| l.spec?.holder_identity);
        out.push(holder.and_then(|h| (0..REPLICAS).find(|r| h.starts_with(&format!("{}_", label(*r))))));
    }
    out
}

/// Whether every named LoadBalancer reports Ready and Synced for its current generation.
async fn converged(s: &Services, names: &BTreeSet<String>) -> Option<()> {
    let list = s.custom(NS, "LoadBalancer").list(&Default::default()).await.ok()?;
    let done = list.items.iter().filter(|o| names.contains(o.metadata.name.as_deref().unwrap_or_default())).filter(|o| {
        let st = &o.data["status"];
        let cond = |t: &str| st["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"));
        st["observedGeneration"].as_i64() == o.metadata.generation && cond("Ready") && cond("Synced")
    });
    (done.count() == names.len()).then_some(())
}

/// One write: who, and from when it was sent to when it was answered.
#[derive(Debug, Clone)]
struct Write {
    replica: usize,
    from: Instant,
    to: Instant,
    what: String,
}

/// Per object, the windows of each replica that wrote it must not overlap.
fn overlaps(writes: &BTreeMap<String, Vec<Write>>) -> Vec<String> {
    let mut bad = Vec::new();
    for (object, ws) in writes {
        let mut windows: BTreeMap<usize, (Instant, Instant)> = BTreeMap::new();
        for w in ws {
            let e = windows.entry(w.replica).or_insert((w.from, w.to));
            e.0 = e.0.min(w.from);
            e.1 = e.1.max(w.to);
        }
        let windows: Vec<_> = windows.into_iter().collect();
        for (i, (ra, a)) in windows.iter().enumerate() {
            for (rb, b) in &windows[i + 1..] {
                if a.0 < b.1 && b.0 < a.1 {
                    bad.push(format!("{object}: replica {ra} wrote {:?}..{:?}, replica {rb} wrote {:?}..{:?}; {ws:?}", a.0, a.1, b.0, b.1));
                }
            }
        }
    }
    bad
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_split_the_shards_write_each_object_one_at_a_time_and_survive_a_kill() {
    let test_start = Instant::now();
    let s = Services::start(ProxyConfig::default()).await;
    // The proxy stamps calls with the wall clock; this pair maps them onto Instants.
    let (t0, w0) = (Instant::now(), SystemTime::now());
    s.namespace(NS).await;
    let leases: Api<Lease> = Api::namespaced(s.kube.clone(), NS);
    let instances = tokio::task::block_in_place(|| s.moto.run_instances(2, "us-east-1a"));
    let hc = json!({"target": "TCP:8080", "intervalSeconds": 30, "timeoutSeconds": 5, "healthyThreshold": 3, "unhealthyThreshold": 5});
    s.create_custom(NS, "HealthCheck", json!({"metadata": {"name": "hc"}, "spec": hc})).await.unwrap();

    let mut ops: Vec<Operator> = (0..REPLICAS).map(|r| operator(&s, r)).collect();
    for op in &mut ops {
        op.start();
    }
    let tails = |ops: &[Operator]| ops.iter().map(|o| o.log_tail(30)).collect::<Vec<_>>().join("\n");

    let mut names: BTreeSet<String> = (0..FIRST).map(|i| format!("lb-{i}")).collect();
    for name in &names {
        s.create_custom(NS, "LoadBalancer", json!({"metadata": {"name": name}, "spec": spec(&instances, &[80])})).await.unwrap();
    }
    test_support::poll(Duration::from_secs(60), || converged(&s, &names))
        .await
        .unwrap_or_else(|| panic!("every LoadBalancer converges\n{}", tails(&ops)));
    let before =
        test_support::poll(Duration::from_secs(15), || async { Some(holders(&leases).await).filter(|h| h.iter().all(Option::is_some)) })
            .await
            .unwrap_or_else(|| panic!("every shard is held\n{}", tails(&ops)));
    let per_replica = |h: &[Option<usize>], r: usize| h.iter().filter(|x| **x == Some(r)).count();
    println!("shard holders after {:?}: {before:?}", test_start.elapsed());
    for r in 0..REPLICAS {
        assert!((1..=2).contains(&per_replica(&before, r)), "each replica holds its share (1 or 2 of 4): {before:?}");
    }

    // SIGKILL a replica holding shards; create LoadBalancers in its shards and change one of
    // its existing ones: its shards move to the survivors, which converge them.
    let victim = (0..REPLICAS).max_by_key(|r| per_replica(&before, *r)).unwrap();
    let lost: BTreeSet<u32> = (0..SHARDS).filter(|i| before[*i as usize] == Some(victim)).collect();
    ops[victim].kill();
    let killed = Instant::now();
    let in_lost = |name: &str| lost.contains(&shard_of(NS, name, SHARDS));
    let changed = names.iter().find(|n| in_lost(n)).cloned();
    let new: Vec<String> = (FIRST..FIRST + 200).map(|i| format!("lb-{i}")).filter(|n| in_lost(n)).take(3).collect();
    assert_eq!(new.len(), 3, "names in the lost shards");
    for name in &new {
        s.create_custom(NS, "LoadBalancer", json!({"metadata": {"name": name}, "spec": spec(&instances, &[80])})).await.unwrap();
        names.insert(name.clone());
    }
    if let Some(name) = &changed {
        let patch = json!({"spec": {"listeners": [{"port": 80, "protocol": "TCP", "instancePort": 8080}, {"port": 81, "protocol": "TCP", "instancePort": 8080}]}});
        s.custom(NS, "LoadBalancer").patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    }
    test_support::poll(Duration::from_secs(45), || converged(&s, &names))
        .await
        .unwrap_or_else(|| panic!("the lost shards' LoadBalancers converge on the survivors\n{}", tails(&ops)));
    println!("after the kill of replica {victim} (shards {lost:?}), converged in {:?}", killed.elapsed());
    let after = holders(&leases).await;
    assert!(after.iter().all(|h| h.is_some_and(|r| r != victim)), "the survivors hold every shard: {after:?}");
    if let Some(name) = &changed {
        let elb = elb_operator::naming::elb_name(NS, name);
        let listeners = s.elb().describe_load_balancers(std::slice::from_ref(&elb)).await.unwrap()[0].listeners.len();
        assert_eq!(listeners, 2, "the change to {name} reached its ELB");
    }

    // SIGTERM one survivor: it stops its controllers, then releases its shards, and the last
    // replica takes them over at once (without waiting for the leases to expire) and
    // converges a LoadBalancer created in one of them.
    let leaving = (0..REPLICAS).find(|r| *r != victim).unwrap();
    let last = (0..REPLICAS).find(|r| *r != victim && *r != leaving).unwrap();
    let handed: BTreeSet<u32> = (0..SHARDS).filter(|i| after[*i as usize] == Some(leaving)).collect();
    let late = (FIRST + 200..FIRST + 400).map(|i| format!("lb-{i}")).find(|n| handed.contains(&shard_of(NS, n, SHARDS))).unwrap();
    ops[leaving].signal("TERM");
    let termed = Instant::now();
    let exited = test_support::poll(Duration::from_secs(20), || {
        let running = ops[leaving].running();
        async move { (!running).then_some(()) }
    })
    .await;
    assert!(exited.is_some(), "replica {leaving} exits on SIGTERM\n{}", ops[leaving].log_tail(30));
    ops[leaving].kill(); // reaps it: nothing left to signal on drop
    let log = ops[leaving].logs().into_iter().map(|(_, t)| t).collect::<String>();
    let released = |i: &u32| log.lines().any(|l| l.contains("released the lease") && l.contains(&lease_name(LEASE, *i)));
    assert!(!handed.is_empty() && handed.iter().all(released), "replica {leaving} released {handed:?}:\n{log}");
    s.create_custom(NS, "LoadBalancer", json!({"metadata": {"name": late}, "spec": spec(&instances, &[80])})).await.unwrap();
    names.insert(late.clone());
    let all = test_support::poll(Duration::from_secs(20), || async {
        Some(holders(&leases).await).filter(|h| h.iter().all(|r| *r == Some(last)))
    })
    .await;
    assert!(all.is_some(), "replica {last} takes every shard\n{}", tails(&ops));
    println!(
        "replica {leaving} (shards {handed:?}) released its shards; replica {last} holds all four {:?} after SIGTERM",
        termed.elapsed()
    );
    test_support::poll(Duration::from_secs(30), || converged(&s, &names))
        .await
        .unwrap_or_else(|| panic!("the last replica converges everything\n{}", tails(&ops)));

    // Kubernetes writes of each LoadBalancer (finalizer, status), by replica.
    let replica_of = |agent: &str| (0..REPLICAS).find(|r| agent.contains(&format!("({}_", label(*r))));
    let prefix = format!("/apis/elb.operator.dev/v1alpha1/namespaces/{NS}/loadbalancers/");
    let mut kube_writes: BTreeMap<String, Vec<Write>> = BTreeMap::new();
    let mut unattributed = Vec::new();
    for r in s.standin.requests().entries().into_iter().filter(|r| r.is_write() && r.status < 300) {
        let Some(rest) = r.path().strip_prefix(&prefix) else { continue };
        let object = rest.split('/').next().unwrap_or_default().to_string();
        match replica_of(&r.user_agent) {
            Some(replica) => kube_writes.entry(object).or_default().push(Write {
                replica,
                from: r.received,
                to: r.answered,
                what: format!("{} {}", r.method, r.path()),
            }),
            // The test's own client (creates, the patch above) has no such user agent.
            None if r.user_agent.starts_with("elb-operator") => unattributed.push(r.user_agent.clone()),
            None => {}
        }
    }
    assert!(unattributed.is_empty(), "operator writes with an unknown identity: {unattributed:?}");
    for name in &names {
        assert!(kube_writes.get(name).is_some_and(|w| w.iter().any(|w| w.what.ends_with("/status"))), "{name}: status written");
    }
    let bad = overlaps(&kube_writes);
    assert!(bad.is_empty(), "two replicas wrote the same object at the same time:\n{}", bad.join("\n"));
    for name in &new {
        assert!(kube_writes[name].iter().all(|w| w.replica != victim), "{name}: only the survivors wrote it");
    }
    if let Some(name) = &changed {
        let late: Vec<_> = kube_writes[name].iter().filter(|w| w.from > killed).collect();
        assert!(!late.is_empty() && late.iter().all(|w| w.replica != victim), "{name}: rewritten by a survivor: {late:?}");
    }

    // ELB writes, by access key: one replica at a time per ELB too, and each ELB created
    // exactly once (moto received one CreateLoadBalancer per name).
    let records = s.proxy.records();
    let to_instant = |t: SystemTime| t0 + t.duration_since(w0).unwrap_or_default();
    let mut elb_writes: BTreeMap<String, Vec<Write>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.is_mutating() && r.forwarded) {
        let Some(replica) = (0..REPLICAS).find(|i| r.access_key == key(*i)) else { continue };
        let at = to_instant(r.at);
        elb_writes.entry(r.load_balancer.clone().unwrap_or_default()).or_default().push(Write {
            replica,
            from: at,
            to: at,
            what: r.action.clone(),
        });
    }
    let bad = overlaps(&elb_writes);
    assert!(bad.is_empty(), "two replicas wrote the same ELB at the same time:\n{}", bad.join("\n"));
    for name in &names {
        let elb = elb_operator::naming::elb_name(NS, name);
        let creates =
            records.iter().filter(|r| r.action == "CreateLoadBalancer" && r.forwarded && r.load_balancer.as_deref() == Some(&elb)).count();
        assert_eq!(creates, 1, "{name} ({elb}): CreateLoadBalancer calls that reached moto");
    }
    let by_replica: BTreeMap<usize, usize> = elb_writes.values().flatten().fold(BTreeMap::new(), |mut m, w| {
        *m.entry(w.replica).or_default() += 1;
        m
    });
    println!(
        "{} LoadBalancers; ELB writes by replica {by_replica:?}; {} Kubernetes writes of LoadBalancers; total {:?}",
        names.len(),
        kube_writes.values().map(Vec::len).sum::<usize>(),
        test_start.elapsed()
    );
}
