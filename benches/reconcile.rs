//! Benchmarks (they print figures; nothing here passes or fails on speed):
//! - the pure planner on a large load balancer (plans per second);
//! - converging N load balancers against moto: the first pass (creation) and the second,
//!   steady-state pass, with ELB calls per pass and time per load balancer.
//!
//! `cargo bench --bench reconcile` (needs `scripts/setup.sh` for moto). `BENCH_LBS` sets N.

use std::time::Instant;

use elb_operator::aws;
use elb_operator::aws::{ClientConfig, RateLimitConfig};
use elb_operator::controller::backends;
use elb_operator::controller::loadbalancer::build::desired_state;
use elb_operator::crd::LoadBalancerSpec;
use elb_operator::elb::Client;
use elb_operator::sync::execute::{self, Outcome};
use elb_operator::sync::ownership::Owner;
use elb_operator::sync::plan::{self, Desired};
use elb_operator::telemetry::Metrics;
use test_support::metrics::ElbCalls;
use test_support::moto::Moto;

fn spec(instances: &[String]) -> LoadBalancerSpec {
    serde_yaml::from_str(&format!(
        "availabilityZones: [us-east-1a, us-east-1b]\n\
         listeners:\n- {{port: 80, instancePort: 8080, protocol: HTTP}}\n- {{port: 443, instancePort: 8443, protocol: TCP}}\n\
         backends:\n  instanceIds: {instances:?}\n\
         attributes: {{crossZone: true, idleTimeoutSeconds: 60}}\ntags: {{team: web}}\n"
    ))
    .expect("bench spec")
}

fn desired(name: &str, spec: &LoadBalancerSpec) -> Desired {
    let owner = Owner::new("bench", "default", name);
    let resolved = backends::resolve(spec.backends.as_ref(), "default", &[], &[]).expect("backends");
    desired_state(spec, name, None, &resolved, &owner).expect("desired state")
}

fn bench_planner() {
    // 500 instances wanted, none registered: the planner's worst case for instance diffs.
    let ids: Vec<String> = (0..500).map(|i| format!("i-{i:017x}")).collect();
    let d = desired("bench-planner", &spec(&ids));
    let iterations = 2_000;
    let start = Instant::now();
    let mut actions = 0;
    for _ in 0..iterations {
        actions = plan::plan(&d, None, None).expect("plan").len();
    }
    let per = start.elapsed() / iterations;
    println!("planner: create plan for 500 instances: {actions} actions, {per:?} per plan");
}

async fn bench_converge(n: usize) {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let instances = moto.run_instances(4, "us-east-1a");
    let metrics = Metrics::new();
    let client = Client::new(
        ClientConfig::for_endpoint("us-east-1", &moto.endpoint, "bench", "bench")
            .with_rate_limit(RateLimitConfig::unlimited())
            .with_metrics(metrics.elb.clone()),
    )
    .expect("client");
    let desired: Vec<Desired> = (0..n).map(|i| desired(&format!("bench-{i}"), &spec(&instances))).collect();
    for pass in ["first (create)", "second (steady state)"] {
        let before = ElbCalls::parse(&metrics.encode());
        let start = Instant::now();
        for d in &desired {
            let owner = Owner::new("bench", "default", &d.name);
            let report = execute::converge(&client, d, &owner, false).await;
            assert!(matches!(report.result, Ok(Outcome::Converged(_))), "{}: {:?}", d.name, report.result);
        }
        let elapsed = start.elapsed();
        let calls = ElbCalls::parse(&metrics.encode()).since(&before);
        println!(
            "converge, {pass} pass over {n} load balancers: {elapsed:?} total, {:?} per load balancer, {} ELB calls ({} mutating)",
            elapsed / n as u32,
            calls.total(),
            calls.matching(aws::is_mutating)
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo test --benches` lists targets; there is nothing to list here.
        return;
    }
    elb_operator::aws::install_crypto_provider();
    bench_planner();
    let n = std::env::var("BENCH_LBS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    tokio::runtime::Runtime::new().unwrap().block_on(bench_converge(n));
}
