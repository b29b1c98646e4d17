//! The schedule, measured by counting ELB calls (never by timing): a restart over converged
//! ELBs reads the region in bulk, a stable fleet stays within its describe budget, a
//! malformed object does not stop the others; roles and the orphan gauge per scope.

use std::time::Duration;

use elb_operator::autoscaling;
use elb_operator::aws::{is_mutating, Bucket, RateLimitConfig};
use elb_operator::controller::{self, Config};
use elb_operator::crd::LoadBalancer;
use elb_operator::elb::{Clients, ElbApi};
use elb_operator::telemetry::Metrics;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use test_support::metrics::{ElbCalls, AUTOSCALING_CALLS};

use crate::kube_loop::{condition, create, events, eventually, kube_client, namespace};
use crate::MOTO;

/// The controllers of one test, with their own metrics; stopped on drop of the sender.
struct Run {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), elb_operator::Error>>,
    metrics: Metrics,
}

async fn start(client: &kube::Client, ns: &str, poll: Duration, budget: RateLimitConfig) -> Run {
    start_with(client, ns, poll, budget, |_| {}).await
}

async fn start_with(client: &kube::Client, ns: &str, poll: Duration, budget: RateLimitConfig, tweak: impl FnOnce(&mut Config)) -> Run {
    elb_operator::aws::install_crypto_provider();
    let metrics = Metrics::new();
    let mut config = Config {
        cluster_name: "fleet-test".into(),
        namespace: Some(ns.into()),
        default_region: crate::REGION.into(),
        health_poll_interval: poll,
        concurrency: 8,
        ..Config::default()
    };
    tweak(&mut config);
    let readiness = config.readiness.clone();
    let elb = Clients::new(crate::config().with_rate_limit(budget).with_metrics(metrics.elb.clone()));
    let asg =
        autoscaling::client_config(&crate::config(), Some(&MOTO.endpoint), &|_| None).unwrap().with_metrics(metrics.autoscaling.clone());
    let clients = controller::AwsClients { autoscaling: elb.beside(asg), elb, ec2: None };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(controller::run(config, client.clone(), clients, metrics.clone(), async {
        let _ = stopped.await;
    }));
    tokio::time::timeout(Duration::from_secs(30), readiness.wait()).await.expect("controllers ready");
    Run { stop, task, metrics }
}

impl Run {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task).await.expect("graceful shutdown").unwrap().unwrap();
    }

    /// ELB calls so far, every outcome.
    fn calls(&self) -> ElbCalls {
        crate::calls(&self.metrics)
    }

    fn reconciles(&self) -> u64 {
        let text = self.metrics.encode();
        text.lines()
            .filter(|l| l.starts_with("elb_operator_reconcile_runs_total{") && l.contains("loadbalancer"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

fn describes(calls: &ElbCalls) -> u64 {
    calls.matching(|a| !is_mutating(a))
}

fn mutations(calls: &ElbCalls) -> u64 {
    calls.matching(is_mutating)
}

fn load_balancer(name: &str, instances: &[String]) -> serde_json::Value {
    json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": name},
           "spec": {"availabilityZones": ["us-east-1a"],
                    "listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}],
                    "backends": {"instanceIds": instances}}})
}

async fn all_synced(api: &Api<LoadBalancer>, n: usize) {
    eventually(&format!("{n} LoadBalancers synced"), || async {
        let list = api.list(&Default::default()).await.ok()?;
        let synced = list.items.iter().filter(|lb| condition(lb, "Synced").is_some_and(|c| c.status == "True")).count();
        (synced == n).then_some(())
    })
    .await;
}

/// A restart (or a leader change) over N converged ELBs describes the region in bulk:
/// about ⌈N/400⌉ + ⌈N/20⌉ describes and not one mutation, instead of several describes per
/// LoadBalancer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_over_converged_elbs_reads_the_region_in_bulk() {
    const N: usize = 45;
    let (_standin, client) = kube_client().await;
    namespace(&client, "fleet-restart").await;
    let api: Api<LoadBalancer> = Api::namespaced(client.clone(), "fleet-restart");
    let first = start(&client, "fleet-restart", Duration::from_secs(300), RateLimitConfig::unlimited()).await;
    for i in 0..N {
        let mut lb = load_balancer(&format!("restart-{i}"), &[]);
        if i % 2 == 0 {
            lb["spec"]["attributes"] = json!({"idleTimeoutSeconds": 120});
        }
        create(&api, lb).await;
    }
    all_synced(&api, N).await;
    first.stop().await;

    let second = start(&client, "fleet-restart", Duration::from_secs(300), RateLimitConfig::unlimited()).await;
    eventually("every LoadBalancer reconciled after the restart", || async { (second.reconciles() >= N as u64).then_some(()) }).await;
    // The reconciles above ran; give stragglers (triggers) a moment, counted, not timed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = second.calls();
    second.stop().await;
    let bulk = N.div_ceil(400) + N.div_ceil(20);
    assert_eq!(mutations(&calls), 0, "a restart changes nothing: {calls:?}");
    assert!(describes(&calls) <= bulk as u64, "at most {bulk} describes for {N} ELBs, got {calls:?}");
    assert_eq!(calls.attempts("DescribeLoadBalancerAttributes"), 0, "no attributes managed, none read: {calls:?}");
}

/// A wave of new LoadBalancers costs the minimal sequence per ELB: CreateLoadBalancer
/// once, RegisterInstances, one DescribeInstanceHealth (no health check configured here); their names are checked by listings the wave shares, not one
/// describe each, and no ELB is read back after its create. A listing later completes
/// what AWS derived (here the subnets), without a describe by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_of_creates_costs_the_minimal_sequence() {
    const N: usize = 30;
    let instances = MOTO.run_instances(1, "us-east-1a");
    let (_standin, client) = kube_client().await;
    namespace(&client, "fleet-wave").await;
    let api: Api<LoadBalancer> = Api::namespaced(client.clone(), "fleet-wave");
    let run = start(&client, "fleet-wave", Duration::from_secs(300), RateLimitConfig::unlimited()).await;
    for i in 0..N {
        create(&api, load_balancer(&format!("wave-{i}"), &instances)).await;
    }
    all_synced(&api, N).await;
    // Created in zones: the subnets are AWS's to choose (the default VPC's).
    eventually("the subnets AWS chose, in status", || async {
        let list = api.list(&Default::default()).await.ok()?;
        list.items.iter().all(|lb| lb.status.as_ref().is_some_and(|s| !s.subnets.is_empty())).then_some(())
    })
    .await;
    let calls = run.calls();
    run.stop().await;
    let n = N as u64;
    assert_eq!(calls.attempts("CreateLoadBalancer"), n, "one create per ELB: {calls:?}");
    assert_eq!(calls.attempts("RegisterInstancesWithLoadBalancer"), n, "{calls:?}");
    assert_eq!(calls.attempts("DescribeInstanceHealth"), n, "health read once, after registration: {calls:?}");
    // The name checks and the completions share listings (one page here): a few for the
    // wave, where a describe per name and a read-back would be 2 per ELB.
    let listings = calls.attempts("DescribeLoadBalancers");
    assert!(listings <= 12, "{listings} DescribeLoadBalancers for {N} creates: {calls:?}");
    // Completion reads the new ELBs' tags 20 at a time.
    assert!(calls.attempts("DescribeTags") <= n.div_ceil(20) * 3, "{calls:?}");
    assert!(calls.total() as f64 / N as f64 <= 4.3, "{} calls per new ELB: {calls:?}", calls.total() as f64 / N as f64);
}

/// A restart over converged ELBs attached to Auto Scaling groups reads the groups in bulk
/// with the first inventory: one DescribeAutoScalingGroups for the groups every
/// LoadBalancer names (up to 50), not one per LoadBalancer; nothing attached or detached
/// again, no instance registered or deregistered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reads_the_auto_scaling_groups_in_bulk() {
    const N: usize = 12;
    let groups: Vec<String> = (0..3).map(|g| format!("fleet-asg-{g}")).collect();
    for g in &groups {
        MOTO.create_auto_scaling_group(g, "us-east-1a", 1);
    }
    let (_standin, client) = kube_client().await;
    namespace(&client, "fleet-asg").await;
    let api: Api<LoadBalancer> = Api::namespaced(client.clone(), "fleet-asg");
    let first = start(&client, "fleet-asg", Duration::from_secs(300), RateLimitConfig::unlimited()).await;
    for i in 0..N {
        let mut lb = load_balancer(&format!("asg-restart-{i}"), &[]);
        lb["spec"]["backends"] = json!({"autoScalingGroups": [groups[i % groups.len()]]});
        create(&api, lb).await;
    }
    all_synced(&api, N).await;
    let asg_calls = |run: &Run| ElbCalls::parse_family(&run.metrics.encode(), AUTOSCALING_CALLS);
    assert_eq!(asg_calls(&first).attempts("AttachLoadBalancers"), N as u64);
    first.stop().await;

    let second = start(&client, "fleet-asg", Duration::from_secs(300), RateLimitConfig::unlimited()).await;
    eventually("every LoadBalancer reconciled after the restart", || async { (second.reconciles() >= N as u64).then_some(()) }).await;
    // The reconciles above ran; give stragglers (triggers) a moment, counted, not timed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (calls, asg) = (second.calls(), asg_calls(&second));
    second.stop().await;
    assert_eq!(asg.attempts("DescribeAutoScalingGroups"), 1, "one bulk read for {N} LoadBalancers: {asg:?}");
    assert_eq!(asg.matching(is_mutating), 0, "nothing attached or detached again: {asg:?}");
    assert_eq!(mutations(&calls), 0, "no instance registered or deregistered: {calls:?}");
}

/// With health polls wanting far more than the describe budget, a stable fleet's describes
/// stay within the budget, and a spec change still reaches its ELB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stable_fleet_stays_within_its_describe_budget() {
    const N: usize = 12;
    const RATE: f64 = 4.0;
    const BURST: u32 = 4;
    let instances = MOTO.run_instances(2, "us-east-1a");
    let (_standin, client) = kube_client().await;
    namespace(&client, "fleet-budget").await;
    let api: Api<LoadBalancer> = Api::namespaced(client.clone(), "fleet-budget");
    // Its own bucket (the limiter is shared per credentials, region and settings).
    let budget = RateLimitConfig { describe: Bucket { per_second: RATE, burst: BURST }, mutate: Bucket { per_second: 50.0, burst: 50 } };
    // Polls every 200 ms for 12 LoadBalancers would be 60 describes a second.
    let run = start(&client, "fleet-budget", Duration::from_millis(200), budget).await;
    for i in 0..N {
        create(&api, load_balancer(&format!("budget-{i}"), &instances)).await;
    }
    all_synced(&api, N).await;
    let ready = format!("elb_operator_load_balancers_ready{{state=\"True\"}} {N}");
    eventually("the Ready gauge", || async { run.metrics.encode().lines().any(|l| l == ready).then_some(()) }).await;

    let before = describes(&run.calls());
    let window = Duration::from_secs(4);
    let started = std::time::Instant::now();
    tokio::time::sleep(window).await;
    let spent = describes(&run.calls()) - before;
    let allowed = (RATE * started.elapsed().as_secs_f64()).ceil() as u64 + u64::from(BURST);
    assert!(spent > 0, "health polls use the spare budget");
    assert!(spent <= allowed, "{spent} describes in {:?}; the budget allows {allowed}", started.elapsed());

    // A change while polls saturate the budget still goes through.
    let patch = json!({"spec": {"listeners": [{"port": 81, "instancePort": 8080, "protocol": "HTTP"}]}});
    api.patch("budget-3", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let elb_name =
        eventually("the changed LoadBalancer's name", || async { api.get("budget-3").await.ok()?.status?.load_balancer_name }).await;
    eventually("the listener change on the ELB", || async {
        let d = elb_operator::sync::execute::describe(&crate::client(), &elb_name).await.ok()??;
        d.listeners.iter().any(|l| l.listener.load_balancer_port == 81).then_some(())
    })
    .await;
    run.stop().await;
}

/// A LoadBalancer that does not decode (here: a CRD loosened so that the API accepts what
/// the operator's types refuse) gets a Warning event and does not stop the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_object_does_not_stop_the_others() {
    let (_standin, client) = kube_client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut crd = crds.get("loadbalancers.elb.operator.dev").await.unwrap();
    let schema = crd.spec.versions[0].schema.as_mut().unwrap().open_api_v3_schema.as_mut().unwrap();
    let props = schema.properties.as_mut().unwrap();
    props.insert("spec".into(), serde_json::from_value(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})).unwrap());
    schema.x_kubernetes_validations = None;
    crds.replace("loadbalancers.elb.operator.dev", &Default::default(), &crd).await.unwrap();
    namespace(&client, "fleet-malformed").await;
    let api: Api<LoadBalancer> = Api::namespaced(client.clone(), "fleet-malformed");
    let raw: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), "fleet-malformed", &kube::api::ApiResource::erase::<LoadBalancer>(&()));
    let bad: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": "bad"},
        "spec": {"listeners": "not a list"}}))
    .unwrap();
    raw.create(&Default::default(), &bad).await.unwrap();

    let run = start(&client, "fleet-malformed", Duration::from_secs(300), RateLimitConfig::unlimited()).await;
    create(&api, load_balancer("good", &[])).await;
    eventually("the good LoadBalancer synced", || async {
        let lb = api.get("good").await.ok()?;
        condition(&lb, "Synced").is_some_and(|c| c.status == "True").then_some(())
    })
    .await;
    eventually("a Warning event about the malformed object", || async {
        events(&client, "fleet-malformed").await.into_iter().find(|(_, reason, _)| reason == "InvalidObject")
    })
    .await;
    run.stop().await;
}

/// `spec.roleArn`: the ELB lands in the role's account (moto keeps accounts apart by access
/// key, and AssumeRole hands out keys of the role's account); a role the allow-list does not
/// name is refused with a clear condition and no AWS call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_puts_the_elb_in_its_own_account() {
    const AWAY: &str = "arn:aws:iam::111111111111:role/elb-fleet-test";
    let (_standin, client) = kube_client().await;
    namespace(&client, "fleet-roles").await;
    let api: Api<LoadBalancer> = Api::namespaced(client.clone(), "fleet-roles");
    let lb = |name: &str, role: Option<&str>| {
        let mut v = load_balancer(name, &[]);
        if let Some(r) = role {
            v["spec"]["roleArn"] = json!(r);
            v["spec"]["loadBalancerName"] = json!(name);
        }
        v
    };
    create(&api, lb("fleet-home", None)).await;
    create(&api, lb("fleet-away", Some(AWAY))).await;
    create(&api, lb("fleet-refused", Some("arn:aws:iam::222222222222:role/not-allowed"))).await;
    let run = start_with(&client, "fleet-roles", Duration::from_secs(300), RateLimitConfig::unlimited(), |c| {
        c.allowed_role_arns = vec!["arn:aws:iam::111111111111:role/elb-*".into()];
    })
    .await;
    for name in ["fleet-home", "fleet-away"] {
        eventually("synced", || async {
            let lb = api.get(name).await.ok()?;
            condition(&lb, "Synced").is_some_and(|c| c.status == "True").then_some(())
        })
        .await;
    }
    let refused = eventually("RoleNotAllowed", || async {
        let lb = api.get("fleet-refused").await.ok()?;
        condition(&lb, "Synced").filter(|c| c.reason == "RoleNotAllowed").cloned()
    })
    .await;
    assert!(refused.message.contains("--allowed-role-arns"), "{}", refused.message);

    let clients = Clients::new(crate::config());
    let home = clients.get(crate::REGION).unwrap();
    let away = clients.get_as(crate::REGION, Some(&elb_operator::aws::Role { arn: AWAY.into(), external_id: None })).unwrap();
    let seen = |c: std::sync::Arc<elb_operator::elb::Client>, name: &'static str| async move {
        elb_operator::sync::execute::describe(&*c, name).await.unwrap().is_some()
    };
    assert!(seen(away.clone(), "fleet-away").await, "the role's account holds its ELB");
    assert!(!seen(home.clone(), "fleet-away").await, "the operator's own account does not");
    assert!(!seen(away.clone(), "fleet-refused").await && !seen(home.clone(), "fleet-refused").await, "a refused role creates nothing");
    let away_name = api.get("fleet-away").await.unwrap().status.unwrap().load_balancer_name.unwrap();
    assert_eq!(away_name, "fleet-away");
    run.stop().await;
}

/// After the first inventory pass, every pass reads all tags and exports the ELBs tagged for
/// this cluster that no LoadBalancer claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_exports_orphaned_elbs() {
    let (_standin, client) = kube_client().await;
    namespace(&client, "fleet-orphans").await;
    let c = crate::client();
    let tags = [("elb.operator.dev/cluster", "fleet-test"), ("elb.operator.dev/resource", "fleet-orphans/gone")];
    c.create_load_balancer(&elb_operator::elb::CreateLoadBalancerInput {
        tags: tags.iter().map(|(k, v)| elb_operator::elb::Tag { key: k.to_string(), value: Some(v.to_string()) }).collect(),
        ..elb_operator::elb::CreateLoadBalancerInput::http("fleet-orphan", "us-east-1a", 80)
    })
    .await
    .unwrap();
    let api: Api<LoadBalancer> = Api::namespaced(client.clone(), "fleet-orphans");
    create(&api, load_balancer("fleet-live", &[])).await;
    let run = start_with(&client, "fleet-orphans", Duration::from_secs(300), RateLimitConfig::unlimited(), |c| {
        c.resync_interval = Duration::from_secs(1);
    })
    .await;
    let want = "elb_operator_orphaned_load_balancers{region=\"us-east-1\",account=\"default\"} 1";
    eventually("the orphan gauge", || async { run.metrics.encode().lines().any(|l| l == want).then_some(()) }).await;
    run.stop().await;
    c.delete_load_balancer("fleet-orphan").await.unwrap();
}

/// Everything `controller::run` spawns (watches, the region observers) ends when its future
/// is dropped, as when the grace period after a lost lease runs out: no ELB call follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_controllers_stops_every_task_they_spawned() {
    let instances = MOTO.run_instances(1, "us-east-1a");
    let (_standin, client) = kube_client().await;
    namespace(&client, "fleet-drop").await;
    let api: Api<LoadBalancer> = Api::namespaced(client.clone(), "fleet-drop");
    create(&api, load_balancer("fleet-drop", &instances)).await;
    // Its own bucket; polls every 200 ms keep the observer busy.
    let budget = RateLimitConfig { describe: Bucket { per_second: 50.0, burst: 7 }, mutate: Bucket { per_second: 50.0, burst: 7 } };
    let run = start(&client, "fleet-drop", Duration::from_millis(200), budget).await;
    all_synced(&api, 1).await;
    let polling = describes(&run.calls());
    eventually("health polls", || async { (describes(&run.calls()) > polling + 2).then_some(()) }).await;
    let Run { task, metrics, stop: _stop } = run;
    task.abort();
    let _ = task.await;
    let before = describes(&crate::calls(&metrics));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(describes(&crate::calls(&metrics)), before, "a task of the dropped controllers kept calling ELB");
}
