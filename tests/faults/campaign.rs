//! The fault campaign: the operator binary against the API stand-in and moto, through the
//! fault proxy, SIGKILLed and restarted at random moments while a seeded driver edits
//! listeners, zones, attributes and health checks, moves pods between nodes, relabels
//! nodes, deletes and re-creates LoadBalancers and deletes `Retain` ones, next to a
//! foreign ELB that has the name one LoadBalancer wants. Then the faults stop and, within
//! 60 s, every invariant of [`crate::check`] must hold; after that, converged state must
//! stay quiet (no mutating call for a while).
//!
//! The CI run (`cargo test --test faults`) is small; `scripts/fault-campaign.sh` runs the
//! large one through the `FAULT_CAMPAIGN_*` variables.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, Instant};

use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{json, Value};
use test_support::fault_proxy::{is_mutating, ProxyConfig, Rng};

use crate::check::{self, Expect};
use crate::harness::{Operator, Services, REGION};

/// The size and shape of a campaign.
#[derive(Debug, Clone)]
pub struct Settings {
    pub seed: u64,
    /// LoadBalancers at the start (the conflicting one included).
    pub resources: usize,
    pub rounds: usize,
    /// Fraction of ELB calls that get a fault while the campaign runs.
    pub rate: f64,
    /// Chance that a round ends with a SIGKILL and a restart.
    pub kill_chance: f64,
    /// Longest wait inside a round (the kill lands somewhere in it).
    pub round_max: Duration,
    /// The bound on convergence after the faults stop.
    pub converge_limit: Duration,
    /// How long converged state is watched for mutating calls afterwards.
    pub quiet_period: Duration,
    /// Where to copy the operator logs (kept for a look after the run), if anywhere.
    pub log_dir: Option<std::path::PathBuf>,
}

impl Settings {
    /// The CI campaign, overridden by `FAULT_CAMPAIGN_SEED`, `_RESOURCES`, `_ROUNDS`,
    /// `_RATE`, `_KILL_CHANCE`, `_ROUND_MAX_MS`, `_LOG_DIR`.
    pub fn from_env() -> Settings {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> T {
            match std::env::var(name) {
                Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v:?} does not parse")),
                Err(_) => default,
            }
        }
        Settings {
            seed: var("FAULT_CAMPAIGN_SEED", 10),
            resources: var("FAULT_CAMPAIGN_RESOURCES", 10),
            rounds: var("FAULT_CAMPAIGN_ROUNDS", 15),
            rate: var("FAULT_CAMPAIGN_RATE", 0.3),
            kill_chance: var("FAULT_CAMPAIGN_KILL_CHANCE", 1.0),
            round_max: Duration::from_millis(var("FAULT_CAMPAIGN_ROUND_MAX_MS", 3000)),
            converge_limit: Duration::from_secs(60),
            quiet_period: Duration::from_secs(5),
            log_dir: std::env::var_os("FAULT_CAMPAIGN_LOG_DIR").map(Into::into),
        }
    }
}

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];
const APPS: usize = 4;
const NODES_PER_ZONE: usize = 2;
const HEALTH_CHECKS: usize = 3;
/// (port, protocol, instance port): ports ELB accepts.
const LISTENERS: [(u16, &str, u16); 6] =
    [(80, "HTTP", 8080), (443, "TCP", 8443), (8080, "HTTP", 8080), (1025, "TCP", 1025), (25, "TCP", 2525), (8443, "TCP", 443)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Pods(usize),
    Pool(&'static str),
    Static,
}

#[derive(Debug, Clone)]
struct Shape {
    backend: Backend,
    retain: bool,
    explicit_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    EditListeners,
    EditZones,
    EditAttributes,
    EditHealthCheck,
    MovePod,
    RelabelNode,
    DeleteLb,
    RecreateLb,
    DeleteRetain,
}

const OPS: [Op; 9] = [
    Op::EditListeners,
    Op::EditZones,
    Op::EditHealthCheck,
    Op::MovePod,
    Op::DeleteLb,
    Op::EditAttributes,
    Op::RecreateLb,
    Op::DeleteRetain,
    Op::RelabelNode,
];

struct NodeInfo {
    name: String,
    pool: &'static str,
}

struct Driver<'a> {
    s: &'a Services,
    rng: Rng,
    ns: String,
    nodes: Vec<NodeInfo>,
    pods: Vec<Vec<(String, usize)>>,
    static_instances: Vec<(String, &'static str)>,
    shapes: BTreeMap<String, Shape>,
    live: BTreeSet<String>,
    expect: Expect,
    ops: BTreeMap<Op, u64>,
    pod_counter: u64,
}

impl Driver<'_> {
    fn lb_name(i: usize) -> String {
        format!("lb-{i:02}")
    }

    fn listeners(&mut self) -> Value {
        let n = 1 + self.rng.below(3) as usize;
        let mut picked = BTreeSet::new();
        while picked.len() < n {
            picked.insert(self.rng.below(LISTENERS.len() as u64) as usize);
        }
        Value::Array(
            picked
                .into_iter()
                .map(|i| json!({"port": LISTENERS[i].0, "protocol": LISTENERS[i].1, "instancePort": LISTENERS[i].2}))
                .collect(),
        )
    }

    fn zones(&mut self) -> Value {
        let mut z: Vec<&str> = ZONES.iter().copied().filter(|_| self.rng.chance(0.5)).collect();
        if z.is_empty() {
            z.push(*self.rng.pick(&ZONES));
        }
        json!(z)
    }

    fn attributes(&mut self) -> Value {
        if self.rng.chance(0.3) {
            return Value::Null;
        }
        json!({
            "crossZone": self.rng.chance(0.5),
            "idleTimeoutSeconds": 30 + 10 * self.rng.below(10),
            "connectionDraining": {"enabled": self.rng.chance(0.5), "timeoutSeconds": 30 + 30 * self.rng.below(4)},
        })
    }

    fn spec(&mut self, name: &str) -> Value {
        let shape = self.shapes[name].clone();
        let hc = format!("hc-{}", self.rng.below(HEALTH_CHECKS as u64));
        let mut spec = json!({
            "listeners": self.listeners(),
            "healthCheckRef": {"name": hc},
            "deletionPolicy": if shape.retain { "Retain" } else { "Delete" },
        });
        if let Some(n) = &shape.explicit_name {
            spec["loadBalancerName"] = json!(n);
        }
        match shape.backend {
            Backend::Pods(app) => {
                spec["backends"] = json!({"podSelector": {"matchLabels": {"app": format!("app-{app}")}}});
                // Half of them follow the backends' zones.
                if self.rng.chance(0.5) {
                    spec["availabilityZones"] = self.zones();
                }
            }
            Backend::Pool(pool) => {
                spec["backends"] = json!({"nodeSelector": {"matchLabels": {"pool": pool}}});
                spec["availabilityZones"] = self.zones();
            }
            Backend::Static => {
                let k = 1 + self.rng.below(self.static_instances.len() as u64) as usize;
                let ids: Vec<String> = self.static_instances[..k].iter().map(|(i, _)| i.clone()).collect();
                spec["backends"] = json!({"instanceIds": ids});
                spec["availabilityZones"] = self.zones();
            }
        }
        let attrs = self.attributes();
        if !attrs.is_null() {
            spec["attributes"] = attrs;
        }
        if self.rng.chance(0.3) {
            spec["tags"] = json!({"team": format!("t{}", self.rng.below(5))});
        }
        spec
    }

    async fn create_lb(&mut self, name: &str) {
        let spec = self.spec(name);
        self.s
            .create_custom(&self.ns, "LoadBalancer", json!({"metadata": {"name": name}, "spec": spec}))
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        self.live.insert(name.to_string());
        self.expect.deleted.remove(name);
    }

    async fn patch_lb(&self, name: &str, spec: Value) {
        let api = self.s.custom(&self.ns, "LoadBalancer");
        api.patch(name, &PatchParams::default(), &Patch::Merge(&json!({"spec": spec})))
            .await
            .unwrap_or_else(|e| panic!("patch {name}: {e}"));
    }

    async fn elb_exists(&self, name: &str) -> bool {
        use elb_operator::elb::ElbApi;
        match self.s.elb().describe_load_balancers(&[name.to_string()]).await {
            Ok(v) => !v.is_empty(),
            Err(e) if e.is_not_found() => false,
            Err(e) => panic!("describe {name} at moto: {e}"),
        }
    }

    fn pick_live(&mut self, filter: impl Fn(&str, &Shape) -> bool) -> Option<String> {
        let names: Vec<String> = self.live.iter().filter(|n| filter(n, &self.shapes[n.as_str()])).cloned().collect();
        (!names.is_empty()).then(|| self.rng.pick(&names).clone())
    }

    /// Applies one operation; false when nothing fit (the caller tries another).
    async fn op(&mut self, op: Op) -> bool {
        let conflicting = self.expect.conflicting.clone();
        match op {
            Op::EditListeners => {
                let Some(name) = self.pick_live(|_, _| true) else { return false };
                let l = self.listeners();
                self.patch_lb(&name, json!({"listeners": l})).await;
            }
            Op::EditZones => {
                let Some(name) = self.pick_live(|_, _| true) else { return false };
                let pods = matches!(self.shapes[&name].backend, Backend::Pods(_));
                // Pod-backed ones may also go back to following their backends.
                let z = if pods && self.rng.chance(0.3) { Value::Null } else { self.zones() };
                self.patch_lb(&name, json!({"availabilityZones": z})).await;
            }
            Op::EditAttributes => {
                let Some(name) = self.pick_live(|_, _| true) else { return false };
                let mut a = self.attributes();
                if a.is_null() {
                    a = json!({"idleTimeoutSeconds": 45});
                }
                self.patch_lb(&name, json!({"attributes": a})).await;
            }
            Op::EditHealthCheck => {
                let hc = format!("hc-{}", self.rng.below(HEALTH_CHECKS as u64));
                let interval = 10 + 5 * self.rng.below(10) as i64;
                let target = match self.rng.below(3) {
                    0 => format!("TCP:{}", 8000 + self.rng.below(100)),
                    1 => format!("HTTP:8080/health{}", self.rng.below(10)),
                    _ => "HTTP:80/".to_string(),
                };
                let spec = json!({"spec": {"target": target, "intervalSeconds": interval, "timeoutSeconds": 2 + self.rng.below(5),
                                           "healthyThreshold": 2 + self.rng.below(5), "unhealthyThreshold": 2 + self.rng.below(5)}});
                self.s
                    .custom(&self.ns, "HealthCheck")
                    .patch(&hc, &PatchParams::default(), &Patch::Merge(&spec))
                    .await
                    .expect("patch health check");
            }
            Op::MovePod => {
                let app = self.rng.below(APPS as u64) as usize;
                let k = self.rng.below(self.pods[app].len() as u64) as usize;
                let (old, node) = self.pods[app].remove(k);
                let mut to = self.rng.below(self.nodes.len() as u64) as usize;
                if to == node {
                    to = (to + 1) % self.nodes.len();
                }
                self.s.delete_pod(&self.ns, &old).await;
                self.pod_counter += 1;
                let new = format!("app-{app}-p{}", self.pod_counter);
                self.s.ready_pod(&self.ns, &new, &self.nodes[to].name, &format!("app-{app}")).await;
                self.pods[app].push((new, to));
            }
            Op::RelabelNode => {
                // Each pool keeps a node: a selector that matches nothing is not Ready (NoBackends).
                let i = self.rng.below(self.nodes.len() as u64) as usize;
                if self.nodes.iter().filter(|n| n.pool == self.nodes[i].pool).count() < 2 {
                    return false;
                }
                let pool = if self.nodes[i].pool == "blue" { "green" } else { "blue" };
                self.nodes[i].pool = pool;
                let nodes = kube::Api::<k8s_openapi::api::core::v1::Node>::all(self.s.kube.clone());
                nodes
                    .patch(&self.nodes[i].name, &PatchParams::default(), &Patch::Merge(&json!({"metadata": {"labels": {"pool": pool}}})))
                    .await
                    .expect("relabel node");
            }
            Op::DeleteLb => {
                let Some(name) = self.pick_live(|n, s| !s.retain && n != conflicting) else { return false };
                self.s.custom(&self.ns, "LoadBalancer").delete(&name, &DeleteParams::default()).await.expect("delete LoadBalancer");
                self.live.remove(&name);
                self.expect.deleted.insert(name);
            }
            Op::RecreateLb => {
                // Only once the previous object is gone (its finalizer done).
                let api = self.s.custom(&self.ns, "LoadBalancer");
                let mut gone = Vec::new();
                for name in self.expect.deleted.clone() {
                    if self.shapes.contains_key(&name) && matches!(api.get_opt(&name).await, Ok(None)) {
                        gone.push(name);
                    }
                }
                if gone.is_empty() {
                    return false;
                }
                let name = self.rng.pick(&gone).clone();
                self.create_lb(&name).await;
            }
            Op::DeleteRetain => {
                // Only one whose ELB exists: that one must survive the deletion.
                let mut candidates = Vec::new();
                for name in self.live.iter().filter(|n| self.shapes[n.as_str()].retain && **n != conflicting) {
                    let elb = self.shapes[name].explicit_name.clone().unwrap_or_else(|| elb_operator::naming::elb_name(&self.ns, name));
                    if self.elb_exists(&elb).await {
                        candidates.push((name.clone(), elb));
                    }
                }
                if candidates.is_empty() {
                    return false;
                }
                let (name, elb) = self.rng.pick(&candidates).clone();
                self.s.custom(&self.ns, "LoadBalancer").delete(&name, &DeleteParams::default()).await.expect("delete LoadBalancer");
                self.live.remove(&name);
                self.expect.retained.push((format!("{}/{name}", self.ns), elb));
                // Never created again: its name stays with the retained ELB.
                self.shapes.remove(&name);
                self.expect.deleted.insert(name);
            }
        }
        *self.ops.entry(op).or_default() += 1;
        true
    }
}

/// Runs one campaign and returns its figures; panics (with details) when an invariant
/// does not hold within the bound.
pub async fn run(settings: Settings) -> String {
    let started = Instant::now();
    let mut rng = Rng::new(settings.seed);
    let proxy = ProxyConfig { rate: 0.0, seed: rng.next_u64(), delay: Duration::from_secs(3), ..ProxyConfig::default() };
    let s = Services::start(proxy).await;
    let ns = format!("campaign-{}", settings.seed);
    let cluster = format!("campaign-{}", settings.seed);
    let secret = format!("Sk{:016x}{:08x}", rng.next_u64(), settings.seed);
    s.namespace(&ns).await;

    // EC2 and nodes: two per zone, in two pools; plus static instances.
    let mut nodes = Vec::new();
    for zone in ZONES {
        let ids = tokio::task::block_in_place(|| s.moto.run_instances(NODES_PER_ZONE + 1, zone));
        for (k, id) in ids.iter().take(NODES_PER_ZONE).enumerate() {
            let pool = if (nodes.len() + k) % 2 == 0 { "blue" } else { "green" };
            let name = format!("node-{}", id.trim_start_matches("i-"));
            s.node(&name, zone, id, &json!({"pool": pool})).await;
            nodes.push(NodeInfo { name, pool });
        }
    }
    let static_instances: Vec<(String, &str)> = {
        let mut v = Vec::new();
        for zone in ZONES {
            let id = tokio::task::block_in_place(|| s.moto.run_instances(1, zone)).remove(0);
            v.push((id, zone));
        }
        v
    };

    // The foreign ELB: created straight in moto, no ownership tags, with a tag, a health
    // check, an instance and attributes of its own, all of which must stay as they are.
    let elb = s.elb();
    let foreign = format!("foreign-{}", settings.seed);
    {
        use elb_operator::elb::{ConnectionDraining, CreateLoadBalancerInput, ElbApi, HealthCheck, Listener, LoadBalancerAttributes, Tag};
        let input = CreateLoadBalancerInput {
            name: foreign.clone(),
            listeners: vec![Listener {
                load_balancer_port: 8081,
                protocol: "TCP".into(),
                instance_port: 9000,
                instance_protocol: "TCP".into(),
                ssl_certificate_id: None,
            }],
            availability_zones: vec!["us-east-1c".into()],
            tags: vec![Tag { key: "owner".into(), value: Some("another-team".into()) }],
            ..Default::default()
        };
        elb.create_load_balancer(&input).await.expect("create the foreign ELB");
        let hc = HealthCheck { target: "TCP:9000".into(), interval: 42, timeout: 7, healthy_threshold: 4, unhealthy_threshold: 6 };
        elb.configure_health_check(&foreign, &hc).await.unwrap();
        elb.register_instances(&foreign, &[static_instances[2].0.clone()]).await.unwrap();
        let attrs = LoadBalancerAttributes {
            idle_timeout: Some(99),
            connection_draining: Some(ConnectionDraining { enabled: true, timeout: Some(77) }),
            ..Default::default()
        };
        elb.modify_load_balancer_attributes(&foreign, &attrs).await.unwrap();
    }
    let foreign_before = check::foreign_snapshot(&s.moto, &foreign);

    let mut d = Driver {
        s: &s,
        rng: Rng::new(rng.next_u64()),
        ns: ns.clone(),
        nodes,
        pods: vec![Vec::new(); APPS],
        static_instances,
        shapes: BTreeMap::new(),
        live: BTreeSet::new(),
        expect: Expect {
            namespace: ns.clone(),
            cluster: cluster.clone(),
            conflicting: Driver::lb_name(0),
            foreign_elb: foreign.clone(),
            foreign_before,
            secret: secret.clone(),
            ..Expect::default()
        },
        ops: BTreeMap::new(),
        pod_counter: 0,
    };

    // Workloads: two Ready pods per app on random nodes; three health checks.
    for app in 0..APPS {
        for _ in 0..2 {
            let node = d.rng.below(d.nodes.len() as u64) as usize;
            d.pod_counter += 1;
            let pod = format!("app-{app}-p{}", d.pod_counter);
            s.ready_pod(&ns, &pod, &d.nodes[node].name, &format!("app-{app}")).await;
            d.pods[app].push((pod, node));
        }
    }
    for i in 0..HEALTH_CHECKS {
        let spec = json!({"target": format!("HTTP:8080/health{i}"), "intervalSeconds": 30, "timeoutSeconds": 5, "healthyThreshold": 3, "unhealthyThreshold": 5});
        s.create_custom(&ns, "HealthCheck", json!({"metadata": {"name": format!("hc-{i}")}, "spec": spec}))
            .await
            .expect("create health check");
    }
    // LoadBalancers of every shape; lb-00 wants the foreign ELB's name.
    for i in 0..settings.resources {
        let name = Driver::lb_name(i);
        let backend = match i % 4 {
            0 | 1 => Backend::Pods(i % APPS),
            2 => Backend::Pool(if i % 8 == 2 { "blue" } else { "green" }),
            _ => Backend::Static,
        };
        let explicit_name = match i {
            0 => Some(foreign.clone()),
            _ if i % 3 == 0 => Some(format!("c{}-explicit-{i:02}", settings.seed % 10_000)),
            _ => None,
        };
        let retain = i % 5 == 2;
        d.shapes.insert(name.clone(), Shape { backend, retain, explicit_name });
        d.create_lb(&name).await;
    }

    let args: Vec<String> = [
        "--region",
        REGION,
        "--cluster-name",
        &cluster,
        "--watch-namespace",
        &ns,
        "--elb-endpoint",
        &s.proxy.url(),
        // The reachability check's reads go straight to moto: the faults are the ELB's.
        "--ec2-endpoint",
        &s.moto.endpoint,
        "--lease-namespace",
        &ns,
        "--lease-duration",
        "2s",
        "--health-poll-interval",
        "5s",
        "--elb-timeout-seconds",
        "2",
        "--shutdown-timeout",
        "5s",
        "--log-format",
        "text",
        "--log-level",
        "info",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let env = vec![
        ("AWS_ACCESS_KEY_ID".to_string(), "AKIDCAMPAIGN".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), secret.clone()),
        ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
        ("POD_NAME".to_string(), "campaign".to_string()),
        ("KUBECONFIG".to_string(), s.standin.kubeconfig_path().display().to_string()),
    ];
    let mut operator = Operator::new("operator", s.dir.path(), args, env);
    s.proxy.set_rate(settings.rate);
    operator.start();

    // The rounds: every operation kind comes up in turn, plus random ones; a round ends
    // with a SIGKILL at a random moment and a restart (sometimes after more edits).
    let mut r_rng = Rng::new(rng.next_u64());
    let mut holder = String::new();
    let mut takeovers = Duration::ZERO;
    let mut restarted = true;
    let mut carried: Vec<Op> = Vec::new();
    for round in 0..settings.rounds {
        // A restarted process first waits out its predecessor's lease; the kill is meant
        // to land while it works.
        if restarted {
            let waiting = Instant::now();
            holder = wait_leading(&s, &ns, &holder)
                .await
                .unwrap_or_else(|| panic!("no new leader in round {round}:\n{}", operator.log_tail(60)));
            takeovers += waiting.elapsed();
            restarted = false;
        }
        // An operation that could not be done yet (nothing to re-create, no retained ELB
        // created yet) comes up again in the next round.
        let mut planned: Vec<(Op, bool)> = std::mem::take(&mut carried).into_iter().map(|op| (op, true)).collect();
        planned.push((OPS[round % OPS.len()], false));
        for _ in 0..r_rng.below(3) {
            planned.push((*r_rng.pick(&OPS), false));
        }
        for (op, again) in planned {
            if !d.op(op).await {
                if !carried.contains(&op) {
                    carried.push(op);
                }
                if !again {
                    d.op(Op::EditListeners).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(r_rng.below(settings.round_max.as_millis() as u64 + 1))).await;
        if r_rng.chance(settings.kill_chance) {
            operator.kill();
            if r_rng.chance(0.3) {
                let op = *r_rng.pick(&OPS);
                d.op(op).await;
            }
            operator.start();
            restarted = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !operator.running() {
            panic!("the operator exited on its own in round {round}:\n{}", operator.log_tail(60));
        }
    }
    let campaign_time = started.elapsed();

    // Faults stop; the operator runs on (the last kill may have just happened).
    s.proxy.set_rate(0.0);
    let faults_stopped = Instant::now();
    let faults = s.proxy.fault_counts();
    let fault_total: u64 = faults.values().sum();
    let requests_during = s.proxy.records().len();
    let mut last = (Vec::new(), check::Seen::default());
    let mut converged_after = None;
    let mut timeline = Vec::new();
    let mut at_stop: Option<usize> = None;
    for _ in 0..600 {
        if faults_stopped.elapsed() > settings.converge_limit {
            break;
        }
        if !operator.running() {
            panic!("the operator exited on its own after the faults stopped:\n{}", operator.log_tail(60));
        }
        last = check::invariants(&s, &elb, &d.expect).await;
        at_stop = at_stop.or(Some(last.0.len()));
        timeline.push(format!(
            "+{:.1}s: {} problems{}",
            faults_stopped.elapsed().as_secs_f64(),
            last.0.len(),
            last.0.iter().map(|p| format!("\n    {p}")).collect::<String>()
        ));
        if last.0.is_empty() {
            converged_after = Some(faults_stopped.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    // Converged state stays quiet: no mutating call while nothing changes.
    let mut quiet_mutations = Vec::new();
    if converged_after.is_some() {
        let from = s.proxy.records().len();
        tokio::time::sleep(settings.quiet_period).await;
        quiet_mutations = s.proxy.records()[from..].iter().filter(|r| is_mutating(&r.action)).map(|r| r.to_string()).collect();
    }
    let (final_problems, seen) = if converged_after.is_some() { check::invariants(&s, &elb, &d.expect).await } else { last };
    let log_problems = check::logs_clean(&operator.logs(), &secret);
    if let Some(dir) = &settings.log_dir {
        std::fs::create_dir_all(dir).unwrap();
        for (path, text) in operator.logs() {
            std::fs::write(dir.join(path.file_name().unwrap()), text).unwrap();
        }
        let records: Vec<String> = s.proxy.records().iter().map(|r| r.to_string()).collect();
        std::fs::write(dir.join("proxy.log"), records.join("\n")).unwrap();
        std::fs::write(dir.join("convergence.log"), timeline.join("\n")).unwrap();
    }

    let ops: Vec<String> = d.ops.iter().map(|(k, v)| format!("{k:?}={v}")).collect();
    let fault_list: Vec<String> = faults.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let figures = format!(
        "fault campaign: seed={} resources={} rounds={} fault-rate={:.0}%\n\
         \x20 operations: {}\n\
         \x20 kills (SIGKILL)={} starts={} (waiting for the lease after restarts: {:.1}s in all)\n\
         \x20 ELB requests during the faults={} faults injected={} ({:.1}%): {}\n\
         \x20 campaign time={:.1}s; invariants failing when the faults stopped={}; converged {} after the faults stopped (bound {}s)\n\
         \x20 at the end: live LoadBalancers={} ELBs in moto={} retained={} deleted={} moto duplicate instance listings={}\n\
         \x20 mutating calls in the {}s after convergence={}; log problems={}",
        settings.seed,
        settings.resources,
        settings.rounds,
        settings.rate * 100.0,
        ops.join(" "),
        operator.kills,
        operator.starts,
        takeovers.as_secs_f64(),
        requests_during,
        fault_total,
        100.0 * fault_total as f64 / requests_during.max(1) as f64,
        fault_list.join(" "),
        campaign_time.as_secs_f64(),
        at_stop.unwrap_or(0),
        converged_after.map(|t| format!("{:.1}s", t.as_secs_f64())).unwrap_or_else(|| "NOT".into()),
        settings.converge_limit.as_secs(),
        seen.live,
        seen.elbs,
        d.expect.retained.len(),
        d.expect.deleted.len(),
        seen.duplicate_listings,
        settings.quiet_period.as_secs(),
        quiet_mutations.len(),
        log_problems.len(),
    );
    // Straight to stderr, past the test harness's capture: CI logs show the figures.
    let _ = writeln!(std::io::stderr(), "{figures}");
    let failed = converged_after.is_none() || !final_problems.is_empty() || !log_problems.is_empty() || !quiet_mutations.is_empty();
    if failed {
        panic!(
            "{figures}\nunconverged or broken after {}s:\n  {}\nlog problems:\n  {}\nmutating calls after convergence:\n  {}\n{}",
            settings.converge_limit.as_secs(),
            final_problems.join("\n  "),
            log_problems.join("\n  "),
            quiet_mutations.join("\n  "),
            operator.log_tail(80)
        );
    }
    // The campaign exercised what it claims to.
    assert!(operator.kills >= 1 || settings.kill_chance == 0.0, "no kill happened");
    for kind in [Op::EditListeners, Op::EditZones, Op::EditHealthCheck, Op::MovePod, Op::DeleteLb, Op::DeleteRetain] {
        if settings.rounds >= OPS.len() {
            assert!(d.ops.get(&kind).copied().unwrap_or(0) > 0, "the campaign never did {kind:?}: {ops:?}");
        }
    }
    if settings.rate > 0.0 {
        assert!(faults.len() >= 8, "faults of (nearly) every kind and phase were injected: {faults:?}");
    }
    figures
}

/// Waits (bounded) until the Lease names a holder other than `previous`; returns it.
async fn wait_leading(s: &Services, ns: &str, previous: &str) -> Option<String> {
    let leases = kube::Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(s.kube.clone(), ns);
    test_support::poll(Duration::from_secs(30), || async {
        let holder = leases.get_opt("elb-operator").await.ok()??.spec?.holder_identity?;
        (!holder.is_empty() && holder != previous).then_some(holder)
    })
    .await
}

/// The CI campaign: seeded, about 10 resources and 15 kills, a few minutes at most.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_campaign_converges_without_leaks_duplicates_or_foreign_changes() {
    let settings = Settings::from_env();
    run(settings).await;
}
