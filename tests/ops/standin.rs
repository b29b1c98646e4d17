//! Two operator processes against the Kubernetes API stand-in and moto: only the lease
//! holder reconciles and writes (to ELB and to Kubernetes) while the other is a ready
//! standby; when the leader is killed the other takes over; SIGTERM releases the lease.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use tokio::process::{Child, Command};

use crate::http_get;

const BIN: &str = env!("CARGO_BIN_EXE_elb-operator");

const MANIFESTS: &str = r#"
apiVersion: elb.operator.dev/v1alpha1
kind: HealthCheck
metadata: {name: instance-health, namespace: default}
spec: {target: "HTTP:8080/health", intervalSeconds: 20, timeoutSeconds: 5, healthyThreshold: 3, unhealthyThreshold: 5}
---
apiVersion: elb.operator.dev/v1alpha1
kind: LoadBalancer
metadata: {name: ha-lb, namespace: default}
spec:
  availabilityZones: [us-east-1a]
  listeners:
  - {port: 80, instancePort: 8080, protocol: HTTP}
  healthCheckRef: {name: instance-health}
  backends:
    instanceIds: []
"#;

/// The operators' logs (one file per process); printed when the test fails.
struct LogsOnFailure(tempfile::TempDir);

impl LogsOnFailure {
    fn of(&self, pod: &str) -> String {
        std::fs::read_to_string(self.0.path().join(format!("{pod}.log"))).unwrap_or_default()
    }
}

impl Drop for LogsOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for entry in std::fs::read_dir(self.0.path()).into_iter().flatten().flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                eprintln!("==== {} ====\n{text}", entry.path().display());
            }
        }
    }
}

fn start(kubeconfig: &std::path::Path, moto: &str, pod: &str, port: u16, logs: &LogsOnFailure) -> Child {
    Command::new(BIN)
        .args([
            "run",
            "--cluster-name=ha-test",
            "--region=us-east-1",
            "--lease-duration=2s",
            "--shutdown-timeout=5s",
            "--health-poll-interval=1s",
            "--log-format=json",
            &format!("--elb-endpoint={moto}"),
            &format!("--ec2-endpoint={moto}"),
            &format!("--http-bind=127.0.0.1:{port}"),
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", kubeconfig.parent().unwrap())
        .env("POD_NAME", pod)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(logs.0.path().join(format!("{pod}.log"))).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("start the operator")
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases.get_opt("elb-operator").await.ok().flatten()?.spec?.holder_identity.filter(|h| !h.is_empty())
}

async fn metrics(port: u16) -> String {
    http_get(format!("127.0.0.1:{port}").parse().unwrap(), "/metrics").await.map(|r| r.1).unwrap_or_default()
}

/// The `/readyz` body when the process is ready.
async fn ready(port: u16) -> Option<String> {
    match http_get(format!("127.0.0.1:{port}").parse().unwrap(), "/readyz").await {
        Ok((200, body)) => Some(body),
        _ => None,
    }
}

/// `reportingInstance`s of the events about `ha-lb`.
async fn event_writers(events: &Api<Event>) -> Vec<String> {
    let list = events.list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default();
    let mut w: Vec<String> = list
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("ha-lb"))
        .filter_map(|e| e.reporting_instance)
        .collect();
    w.sort();
    w.dedup();
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_only_the_leader_writes_a_killed_leader_is_replaced_and_sigterm_releases_the_lease() {
    let moto = test_support::moto::Moto::start();
    let (standin, client) = crate::standin_with_crds().await;
    for doc in serde_yaml::Deserializer::from_str(MANIFESTS) {
        let obj: kube::api::DynamicObject = serde::Deserialize::deserialize(doc).unwrap();
        let gvk = kube::api::GroupVersionKind::try_from(obj.types.as_ref().unwrap()).unwrap();
        let resource = kube::api::ApiResource::from_gvk(&gvk);
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
        api.create(&PostParams::default(), &obj).await.expect("create object");
    }
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let lbs: Api<elb_operator::crd::LoadBalancer> = Api::namespaced(client.clone(), "default");

    let logs = LogsOnFailure(tempfile::tempdir().unwrap());
    let (port_a, port_b) = (test_support::free_port(), test_support::free_port());
    let mut a = start(standin.kubeconfig_path(), &moto.endpoint, "proc-a", port_a, &logs);
    test_support::poll(Duration::from_secs(30), || async { holder(&leases).await.filter(|h| h.starts_with("proc-a_")) })
        .await
        .expect("the first process takes the lease");
    let mut b = start(standin.kubeconfig_path(), &moto.endpoint, "proc-b", port_b, &logs);

    // The leader creates the ELB and writes status; both processes are ready (b as standby).
    let dns =
        test_support::poll(Duration::from_secs(60), || async { lbs.get("ha-lb").await.ok()?.status?.dns_name.filter(|d| !d.is_empty()) })
            .await
            .expect("the leader reconciles the LoadBalancer");
    println!("ha-lb: {dns}");
    let standby = test_support::poll(Duration::from_secs(30), || async { ready(port_a).await.and(ready(port_b).await) })
        .await
        .expect("the leader and the standby are ready");
    assert!(standby.contains("standby"), "{standby}");
    let lease = leases.get("elb-operator").await.unwrap().spec.unwrap();
    assert!(lease.holder_identity.unwrap().starts_with("proc-a_"));
    assert_eq!(lease.lease_transitions, Some(0), "the standby never took the lease");
    let metrics_a = metrics(port_a).await;
    let metrics_b = metrics(port_b).await;
    assert!(metrics_a.contains(r#"elb_operator_elb_calls_total{action="CreateLoadBalancer",outcome="success"} 1"#), "{metrics_a}");
    assert!(metrics_a.contains("elb_operator_elb_rate_limiter_wait_seconds_count"), "{metrics_a}");
    assert!(!metrics_b.contains("elb_operator_elb_calls_total"), "the standby made ELB calls:\n{metrics_b}");
    assert!(!metrics_b.contains("elb_operator_reconcile_runs_total"), "the standby reconciled:\n{metrics_b}");
    assert!(metrics_a.lines().any(|l| l == "elb_operator_leader 1"), "the leader says so:\n{metrics_a}");
    assert!(metrics_b.lines().any(|l| l == "elb_operator_leader 0"), "the standby says so:\n{metrics_b}");
    let writers = test_support::poll(Duration::from_secs(20), || async { Some(event_writers(&events).await).filter(|w| !w.is_empty()) })
        .await
        .expect("the leader records events");
    assert_eq!(writers, vec!["proc-a".to_string()], "only the leader writes events");

    // SIGKILL the leader: b takes over once the lease expires and reconciles the same ELB
    // without creating another one.
    a.start_kill().unwrap();
    tokio::time::timeout(Duration::from_secs(10), a.wait()).await.expect("the killed process exits").unwrap();
    let killed = Instant::now();
    for line in logs.of("proc-a").lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("--log-format=json line {line:?}: {e}"));
    }
    test_support::poll(Duration::from_secs(15), || async { holder(&leases).await.filter(|h| h.starts_with("proc-b_")) })
        .await
        .expect("the standby takes over");
    println!("takeover {:?} after SIGKILL (lease duration 2s)", killed.elapsed());
    let runs = test_support::poll(Duration::from_secs(30), || async {
        let m = metrics(port_b).await;
        m.contains(r#"elb_operator_reconcile_runs_total{resource="loadbalancer"}"#).then_some(m)
    })
    .await
    .expect("the new leader reconciles");
    assert!(!runs.contains(r#"action="CreateLoadBalancer""#), "the new leader adopted nothing new:\n{runs}");
    assert!(test_support::poll(Duration::from_secs(30), || ready(port_b)).await.is_some(), "the new leader is ready");

    // SIGTERM: graceful shutdown releases the lease.
    let pid = b.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(Duration::from_secs(20), b.wait()).await.expect("exits in time").unwrap();
    assert!(status.success(), "graceful exit:\n{}", logs.of("proc-b"));
    assert_eq!(holder(&leases).await, None, "the lease was released");
    assert!(logs.of("proc-b").contains("released the lease"), "{}", logs.of("proc-b"));
}
