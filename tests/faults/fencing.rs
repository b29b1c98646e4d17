//! Fencing, proven with two real processes: the old leader is frozen (SIGSTOP) while one
//! of its mutating ELB calls is in flight, the standby takes the lease over, and the old
//! leader is thawed with writes still queued in its reconciles. The fault proxy records
//! every ELB call with its arrival time and the access key that signed it (each process
//! has its own), so the test reads off its log that no mutating call of the old leader
//! reached the proxy after the new leader's `acquireTime`, and off the old leader's log
//! that its fence refused at least one write after the thaw (so the test could fail).
//!
//! A freeze is the hard case for a lease: GC pauses, a descheduled VM or a stopped
//! container look the same. The process cannot notice that it lost the lease before its
//! next look at the API; only a check of its own monotonic deadline before each write
//! keeps it from writing after the takeover.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::Api;
use kube_standin::faults::Fault;
use serde_json::json;
use test_support::fault_proxy::{Hold, ProxyConfig};

use crate::harness::{Operator, Services, REGION};

const NS: &str = "fence";
const KEY_A: &str = "AKIDPROCESSA";
const KEY_B: &str = "AKIDPROCESSB";
const LOAD_BALANCERS: usize = 6;

/// Each process's bearer token (the stand-in accepts any; a fault can match it).
fn token(label: &str) -> String {
    format!("token-of-{label}")
}

/// A kubeconfig for `label`: the stand-in's, with a bearer token of its own.
fn kubeconfig(s: &Services, label: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(s.standin.kubeconfig_path()).expect("the stand-in's kubeconfig");
    let text = text.replace("  user: {}", &format!("  user:\n    token: {}", token(label)));
    assert!(text.contains("token:"), "kubeconfig shape changed:\n{text}");
    let path = s.dir.path().join(format!("kubeconfig-{label}"));
    std::fs::write(&path, text).unwrap();
    path
}

fn operator(s: &Services, label: &str, key: &str) -> Operator {
    let args = [
        "--region",
        REGION,
        "--cluster-name",
        "fence-test",
        "--watch-namespace",
        NS,
        "--elb-endpoint",
        &s.proxy.url(),
        // The reachability check's reads go straight to moto: the fence is about ELB writes.
        "--ec2-endpoint",
        &s.moto.endpoint,
        "--lease-namespace",
        NS,
        "--lease-duration",
        "3s",
        "--health-poll-interval",
        "5s",
        "--concurrency",
        "2",
        "--log-format",
        "text",
        "--log-level",
        "info,elb_operator=debug",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let env = [
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", "fence-secret"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("POD_NAME", label),
        ("KUBECONFIG", &kubeconfig(s, label).display().to_string()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Operator::new(label, s.dir.path(), args, env)
}

fn system_time(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime) -> SystemTime {
    let ts = t.0;
    SystemTime::UNIX_EPOCH + Duration::new(ts.as_second() as u64, ts.subsec_nanosecond() as u32)
}

async fn lease(leases: &Api<Lease>) -> Option<k8s_openapi::api::coordination::v1::LeaseSpec> {
    leases.get_opt("elb-operator").await.ok()??.spec
}

/// The old leader and the standby with the work ahead of them, and what is needed to
/// judge the outcome.
struct Pair {
    s: Services,
    a: Operator,
    b: Operator,
    leases: Api<Lease>,
}

impl Pair {
    /// Starts both processes (`a` leads, `b` is a standby), slows `a`'s writes at the
    /// proxy and gives them work; returns once one of `a`'s writes is held in flight.
    async fn start_with_a_write_in_flight() -> Pair {
        let s = Services::start(ProxyConfig::default()).await;
        s.namespace(NS).await;
        let leases: Api<Lease> = Api::namespaced(s.kube.clone(), NS);
        let instances = tokio::task::block_in_place(|| s.moto.run_instances(2, "us-east-1a"));
        let hc = json!({"target": "TCP:8080", "intervalSeconds": 30, "timeoutSeconds": 5, "healthyThreshold": 3, "unhealthyThreshold": 5});
        s.create_custom(NS, "HealthCheck", json!({"metadata": {"name": "hc"}, "spec": hc})).await.unwrap();

        let mut a = operator(&s, "proc-a", KEY_A);
        let mut b = operator(&s, "proc-b", KEY_B);
        a.start();
        let pair_leases = leases.clone();
        test_support::poll(Duration::from_secs(30), || holder(&pair_leases, "proc-a_"))
            .await
            .unwrap_or_else(|| panic!("proc-a leads\n{}", a.log_tail(40)));
        b.start();

        // The leader's writes after each create are slow (held before they reach moto, well
        // within its attempt timeout); then work arrives. Not the creates: a create that
        // times out is not sent again (it may have been applied), so a frozen create would
        // leave the old leader no write for its fence to refuse.
        let held = Hold {
            action: Some("ConfigureHealthCheck".into()),
            access_key: Some(KEY_A.into()),
            delay: Duration::from_millis(700),
            ..Hold::default()
        };
        s.proxy.hold(held);
        for i in 0..LOAD_BALANCERS {
            let spec = json!({
                "availabilityZones": ["us-east-1a"],
                "listeners": [{"port": 80, "protocol": "HTTP", "instancePort": 8080}, {"port": 443, "protocol": "TCP", "instancePort": 8443}],
                "healthCheckRef": {"name": "hc"},
                "backends": {"instanceIds": instances},
            });
            s.create_custom(NS, "LoadBalancer", json!({"metadata": {"name": format!("fenced-{i}")}, "spec": spec})).await.unwrap();
        }
        let in_flight = test_support::poll(Duration::from_secs(30), || async {
            s.proxy.records().into_iter().find(|r| r.access_key == KEY_A && r.is_mutating() && !r.held.is_zero() && !r.forwarded)
        })
        .await
        .unwrap_or_else(|| panic!("the leader starts writing\n{}", a.log_tail(40)));
        println!("proc-a has {in_flight}");
        Pair { s, a, b, leases }
    }

    /// Waits for the standby to take over; returns the new leader's `acquireTime`.
    async fn takeover(&self) -> SystemTime {
        test_support::poll(Duration::from_secs(30), || holder(&self.leases, "proc-b_"))
            .await
            .unwrap_or_else(|| panic!("proc-b takes over\n{}", self.b.log_tail(40)));
        let spec = lease(&self.leases).await.expect("the lease");
        system_time(spec.acquire_time.as_ref().expect("acquireTime"))
    }

    /// The old leader's writes that reached the proxy at or after `acquired` must be none;
    /// its fence must have refused a write (else the scenario proved nothing); the new
    /// leader must converge everything, writing only after it took over.
    async fn judge(&mut self, acquired: SystemTime, scenario: &str) {
        let fenced = test_support::poll(Duration::from_secs(20), || async {
            let logs = self.a.logs().into_iter().map(|(_, t)| t).collect::<String>();
            logs.contains("not sent: the leader lease may be held by another replica now").then_some(())
        })
        .await;
        // Leave the old leader time for whatever it would still do (stepping down, grace).
        tokio::time::sleep(Duration::from_secs(5)).await;

        let records = self.s.proxy.records();
        let of_a: Vec<String> = records.iter().filter(|r| r.access_key == KEY_A && r.is_mutating()).map(|r| r.to_string()).collect();
        let late: Vec<String> =
            records.iter().filter(|r| r.access_key == KEY_A && r.is_mutating() && r.at >= acquired).map(|r| r.to_string()).collect();
        let acq = acquired.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        println!(
            "{scenario}: the old leader's writes; the new leader acquired the lease at t={}.{:06}:\n  {}",
            acq.as_secs(),
            acq.subsec_micros(),
            of_a.join("\n  ")
        );
        assert!(
            late.is_empty(),
            "{scenario}: the old leader sent writes after the new leader acquired the lease at t={}.{:06}:\n  {}\n{}",
            acq.as_secs(),
            acq.subsec_micros(),
            late.join("\n  "),
            self.a.log_tail(60)
        );
        assert!(!of_a.is_empty(), "{scenario}: the old leader wrote before the takeover");
        // Nor did its LoadBalancer status writes reach the API server after the takeover:
        // they are fenced by the same lease (the stand-in's request log, by user agent).
        let since = std::time::Instant::now() - SystemTime::now().duration_since(acquired).unwrap_or_default();
        let late_status: Vec<String> = self
            .s
            .standin
            .requests()
            .entries()
            .into_iter()
            .filter(|r| r.is_write() && r.user_agent.contains("(proc-a_") && r.received >= since)
            .filter(|r| r.path().contains("/loadbalancers/") && r.path().ends_with("/status"))
            .map(|r| format!("{} {} ({})", r.method, r.path(), r.status))
            .collect();
        assert!(
            late_status.is_empty(),
            "{scenario}: the old leader wrote status after the takeover:\n  {}\n{}",
            late_status.join("\n  "),
            self.a.log_tail(60)
        );
        assert!(
            fenced.is_some(),
            "{scenario}: the old leader tried a write after its deadline and its fence refused it (else this proves nothing):\n{}",
            self.a.log_tail(60)
        );
        assert!(self.a.running(), "{scenario}: the old leader lives on as a standby");

        // A refused write is not news for the cluster: the old leader reports it neither as
        // a condition nor as a Warning event (the new leader owns status and events now).
        const REFUSED: &str = "not sent: the leader lease";
        let events = Api::<Event>::namespaced(self.s.kube.clone(), NS).list(&Default::default()).await.unwrap().items;
        let refusal_events: Vec<String> = events
            .iter()
            .filter(|e| e.note.as_deref().unwrap_or_default().contains(REFUSED))
            .map(|e| format!("{:?} {:?} {:?}", e.reporting_instance, e.reason, e.note))
            .collect();
        assert!(refusal_events.is_empty(), "{scenario}: events about refused writes:\n  {}", refusal_events.join("\n  "));
        let statuses = self.s.custom(NS, "LoadBalancer").list(&Default::default()).await.unwrap().items;
        let refusal_status: Vec<String> = statuses
            .iter()
            .filter(|o| o.data["status"].to_string().contains(REFUSED))
            .map(|o| format!("{}: {}", o.metadata.name.clone().unwrap_or_default(), o.data["status"]["conditions"]))
            .collect();
        assert!(refusal_status.is_empty(), "{scenario}: status written about refused writes:\n  {}", refusal_status.join("\n  "));

        let lbs = self.s.custom(NS, "LoadBalancer");
        let ready = test_support::poll(Duration::from_secs(90), || async {
            let list = lbs.list(&Default::default()).await.ok()?;
            let all = list.items.iter().all(|o| {
                o.data["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
            });
            (list.items.len() == LOAD_BALANCERS && all).then_some(())
        })
        .await;
        assert!(ready.is_some(), "{scenario}: the new leader converges every LoadBalancer\n{}", self.b.log_tail(60));
        let records = self.s.proxy.records();
        let of_b: Vec<_> = records.iter().filter(|r| r.access_key == KEY_B && r.is_mutating()).collect();
        assert!(!of_b.is_empty(), "{scenario}: the new leader wrote");
        assert!(of_b.iter().all(|r| r.at >= acquired), "{scenario}: the standby wrote nothing before it held the lease");
        println!(
            "{scenario}: {} writes of the old leader, all before the takeover; {} of the new leader, all after",
            of_a.len(),
            of_b.len()
        );
    }
}

async fn holder(leases: &Api<Lease>, prefix: &str) -> Option<String> {
    lease(leases).await?.holder_identity.filter(|h| h.starts_with(prefix))
}

/// The leader is frozen (SIGSTOP) with a write in flight and thawed after the takeover:
/// its reconciles resume with writes queued, before it can look at the lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_leader_sends_no_write_after_the_standby_took_over() {
    let mut p = Pair::start_with_a_write_in_flight().await;
    p.a.signal("STOP");
    let frozen_at = SystemTime::now();
    let acquired = p.takeover().await;
    assert!(acquired > frozen_at, "taken over after the freeze");
    p.a.signal("CONT");
    p.judge(acquired, "frozen leader").await;
}

/// The leader keeps running, but the API refuses its lease renewals (and only its: each
/// process has a bearer token of its own in its kubeconfig, and the stand-in's fault
/// matches it), so it loses the lease while its writes are in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_renew_sends_no_write_after_the_standby_took_over() {
    let mut p = Pair::start_with_a_write_in_flight().await;
    let leases = format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases");
    let refused = p.s.standin.faults().inject(Fault::on(&leases).header("authorization", &format!("Bearer {}", token("proc-a"))).fail(503));
    let acquired = p.takeover().await;
    assert!(p.s.standin.faults().hits(refused) > 0, "the old leader's renewals were refused");
    p.judge(acquired, "leader without renewals").await;
    let log = p.a.logs().into_iter().map(|(_, t)| t).collect::<String>();
    assert!(log.contains("stepping down"), "the old leader stepped down on its own:\n{}", p.a.log_tail(40));
}
