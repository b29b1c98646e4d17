//! The fleet benchmark of issue 9: N LoadBalancers against moto (ELB/EC2) and the in-memory
//! Kubernetes API stand-in, with the operator binary running as its own process, the way
//! users run it. It prints figures; it passes or fails on nothing but a broken setup.
//!
//! One run is one budget (`--limits shipped` or `--limits lifted`) over a fresh moto:
//! 1. **bare**: the minimal call sequence of a new load balancer (CreateLoadBalancer with
//!    tags, whose answer holds the DNS name; ConfigureHealthCheck; RegisterInstances; one
//!    DescribeInstanceHealth), issued straight at moto for N ELBs, with as many in flight as
//!    the operator's `--concurrency`; then moto is reset.
//! 2. **create**: 20 EC2 instances in moto, 20 Nodes naming them in `providerID`, Ready Pods
//!    spread over them (each LoadBalancer selects its own pods, on 3 nodes), the operator
//!    started, then N LoadBalancers applied: time until all are Ready, calls per load
//!    balancer by action (the operator's `elb_operator_elb_calls_total`).
//! 3. **steady**: calls per minute by action over a window, against the configured budget,
//!    and the scheduler's queues at both ends of it.
//! 4. **restart**: the operator stopped (SIGTERM) and started again over the converged
//!    fleet: its calls in the first minute.
//! 5. **change**: the operator restarted with `--health-poll-interval 1s`, so that health
//!    polls saturate the describe budget; then one listener port changed at a time on
//!    several LoadBalancers: time until moto shows it.
//!
//! plus the operator's RSS (VmRSS/VmHWM of its process) along the way.
//!
//! `scripts/bench-fleet.sh` builds and runs it for both budgets; directly:
//! `cargo bench --profile dev --bench fleet -- --lbs 1000 --limits shipped`.
//! `--smoke` is a short run over 5 LoadBalancers (about a minute).
//! Every wait is bounded, and the whole run by `--timeout`; only 127.0.0.1 is used.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use elb_operator::aws;
use elb_operator::aws::{ClientConfig, RateLimitConfig};
use elb_operator::controller::backends;
use elb_operator::controller::loadbalancer::build::desired_state;
use elb_operator::crd::{LoadBalancer, LoadBalancerSpec};
use elb_operator::elb::{self, Client, ElbApi};
use elb_operator::sync::execute;
use elb_operator::sync::ownership::Owner;
use elb_operator::sync::plan;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use serde_json::json;
use test_support::moto::Moto;

const REGION: &str = "us-east-1";
const ZONES: [&str; 2] = ["us-east-1a", "us-east-1b"];
const NAMESPACE: &str = "fleet";
const CLUSTER: &str = "bench";
/// Lifted limits: far beyond what moto can serve, so the budget never waits.
const LIFTED_RATE: &str = "1000000";
const LIFTED_BURST: &str = "1000000";
/// The shipped defaults of `--elb-describe-rate` and `--elb-mutate-rate`.
const SHIPPED_DESCRIBE: f64 = 10.0;
const SHIPPED_MUTATE: f64 = 4.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Limits {
    Shipped,
    Lifted,
}

#[derive(Debug, Clone)]
struct Args {
    lbs: usize,
    limits: Limits,
    pods_per_lb: usize,
    nodes: usize,
    health_checks: usize,
    concurrency: u16,
    health_poll_interval: String,
    settle: Duration,
    steady: Duration,
    restart_window: Duration,
    changes: usize,
    timeout: Duration,
    skip_bare: bool,
    skip_restart: bool,
    skip_change: bool,
    out_dir: PathBuf,
    log_level: String,
}

impl Args {
    fn parse() -> Args {
        let mut a = Args {
            lbs: 1000,
            limits: Limits::Shipped,
            pods_per_lb: 0,
            nodes: 20,
            health_checks: 1,
            concurrency: 16,
            health_poll_interval: "30s".into(),
            settle: Duration::from_secs(30),
            steady: Duration::from_secs(60),
            restart_window: Duration::from_secs(60),
            changes: 10,
            timeout: Duration::from_secs(3600),
            skip_bare: false,
            skip_restart: false,
            skip_change: false,
            out_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-fleet"),
            log_level: "info".into(),
        };
        let mut it = std::env::args().skip(1);
        let secs = |v: Option<String>, flag: &str| Duration::from_secs(v.and_then(|v| v.parse().ok()).unwrap_or_else(|| die(flag)));
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--bench" => {} // passed by `cargo bench`
                "--lbs" => a.lbs = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| die(&flag)),
                "--limits" => {
                    a.limits = match it.next().as_deref() {
                        Some("shipped") => Limits::Shipped,
                        Some("lifted") => Limits::Lifted,
                        _ => die(&flag),
                    }
                }
                "--pods-per-lb" => a.pods_per_lb = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| die(&flag)),
                "--nodes" => a.nodes = it.next().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or_else(|| die(&flag)),
                "--health-checks" => {
                    a.health_checks = it.next().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or_else(|| die(&flag))
                }
                "--concurrency" => a.concurrency = it.next().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or_else(|| die(&flag)),
                "--health-poll-interval" => a.health_poll_interval = it.next().unwrap_or_else(|| die(&flag)),
                "--settle" => a.settle = secs(it.next(), &flag),
                "--steady" => a.steady = secs(it.next(), &flag),
                "--restart-window" => a.restart_window = secs(it.next(), &flag),
                "--changes" => a.changes = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| die(&flag)),
                "--timeout" => a.timeout = secs(it.next(), &flag),
                "--skip-bare" => a.skip_bare = true,
                "--skip-restart" => a.skip_restart = true,
                "--skip-change" => a.skip_change = true,
                "--out-dir" => a.out_dir = it.next().map(PathBuf::from).unwrap_or_else(|| die(&flag)),
                "--log-level" => a.log_level = it.next().unwrap_or_else(|| die(&flag)),
                "--smoke" => {
                    a.lbs = 5;
                    a.pods_per_lb = 3;
                    a.nodes = 4;
                    a.settle = Duration::from_secs(2);
                    a.steady = Duration::from_secs(10);
                    a.restart_window = Duration::from_secs(10);
                    a.changes = 2;
                    a.timeout = Duration::from_secs(300);
                }
                "--help" | "-h" => {
                    println!(
                        "fleet bench: --lbs N (1000) --limits shipped|lifted --pods-per-lb P (10000/N, 3..10) --nodes K (20)\n  \
                         --health-checks H (1: every LoadBalancer references the same HealthCheck)\n  \
                         --concurrency C (16) --health-poll-interval D (30s) --settle S (30) --steady S (60)\n  \
                         --restart-window S (60) --changes K (10) --timeout S (3600) --skip-bare --skip-restart --skip-change\n  \
                         --out-dir DIR (target/bench-fleet) --log-level FILTER (info) --smoke"
                    );
                    std::process::exit(0);
                }
                other => die(other),
            }
        }
        if a.pods_per_lb == 0 {
            a.pods_per_lb = (10_000 / a.lbs.max(1)).clamp(3, 10);
        }
        a
    }

    fn limit_flags(&self) -> Vec<String> {
        match self.limits {
            Limits::Shipped => vec![],
            Limits::Lifted => [
                "--elb-describe-rate",
                LIFTED_RATE,
                "--elb-describe-burst",
                LIFTED_BURST,
                "--elb-mutate-rate",
                LIFTED_RATE,
                "--elb-mutate-burst",
                LIFTED_BURST,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }
    }

    fn budget(&self) -> Option<(f64, f64)> {
        (self.limits == Limits::Shipped).then_some((SHIPPED_DESCRIBE, SHIPPED_MUTATE))
    }
}

fn die(flag: &str) -> ! {
    eprintln!("fleet bench: bad or missing value for {flag} (--help lists the flags)");
    std::process::exit(2)
}

/// The run's deadline: every wait is bounded by what is left of it.
#[derive(Clone, Copy)]
struct Deadline(Instant);

impl Deadline {
    fn left(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
    fn bound(&self, d: Duration) -> Duration {
        d.min(self.left())
    }
}

// ---------------------------------------------------------------------------------------
// Figures

/// `elb_operator_elb_calls_total` by (action, outcome).
type Calls = BTreeMap<(String, String), f64>;

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
    let end = labels[start..].find('"')? + start;
    Some(&labels[start..end])
}

fn parse_calls(metrics: &str) -> Calls {
    let mut out = Calls::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("elb_operator_elb_calls_total{") else { continue };
        let Some((labels, value)) = rest.split_once("} ") else { continue };
        let (Some(action), Some(outcome)) = (label(labels, "action"), label(labels, "outcome")) else { continue };
        let value: f64 = value.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        *out.entry((action.to_string(), outcome.to_string())).or_default() += value;
    }
    out
}

/// The value of the sample named exactly `series` (name plus labels as printed).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.split_whitespace().next()?.parse().ok())
}

/// The sum of every sample of the family `name` (`name{…} v` and `name v` lines).
fn family_sum(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix(name).filter(|r| r.starts_with('{') || r.starts_with(' ')))
        .filter_map(|r| r.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The operator's requests (by its user agent) to the API server that arrived in
/// `[from, to)`, by verb: count and seconds to answer. Watches are counted apart (`WATCH`,
/// no time: they stay open); status writes (`PATCH status`) and events apart from the rest.
fn api_requests(standin: &kube_standin::StandIn, from: Instant, to: Instant) -> BTreeMap<String, (u64, f64)> {
    let mut out: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for r in standin.requests().entries() {
        if !r.user_agent.starts_with("elb-operator/") || r.received < from || r.received >= to {
            continue;
        }
        let path = r.path();
        let verb = if r.uri.contains("watch=true") || r.uri.contains("watch=1") {
            "WATCH".to_string()
        } else if path.ends_with("/status") {
            format!("{} status", r.method)
        } else if path.contains("/events") {
            format!("{} events", r.method)
        } else {
            r.method.clone()
        };
        let e = out.entry(verb.clone()).or_default();
        e.0 += 1;
        if verb != "WATCH" {
            e.1 += r.answered.saturating_duration_since(r.received).as_secs_f64();
        }
    }
    out
}

fn print_api_requests(title: &str, requests: &BTreeMap<String, (u64, f64)>, minutes: Option<f64>) {
    let per = |n: u64| minutes.map_or(String::new(), |m| format!(" ({:.0}/min)", n as f64 / m));
    let parts: Vec<String> = requests.iter().map(|(v, (n, secs))| format!("{v} {n}{} {secs:.1} s", per(*n))).collect();
    println!("  {title}: {}", if parts.is_empty() { "none".to_string() } else { parts.join(", ") });
}

fn diff(after: &Calls, before: &Calls) -> Calls {
    after.iter().map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0))).filter(|(_, v)| *v > 0.0).collect()
}

fn is_mutating(action: &str) -> bool {
    !action.starts_with("Describe")
}

fn by_action(calls: &Calls) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for ((action, _), v) in calls {
        *out.entry(action.clone()).or_default() += v;
    }
    out
}

fn total(calls: &Calls, pred: impl Fn(&str) -> bool) -> f64 {
    // `+ 0.0` turns the empty sum (-0.0) into 0.
    calls.iter().filter(|((a, _), _)| pred(a)).map(|(_, v)| v).sum::<f64>() + 0.0
}

fn print_calls(title: &str, calls: &Calls, per: Option<(f64, &str)>) {
    println!("  {title}");
    if calls.is_empty() {
        println!("    (none)");
    }
    for ((action, outcome), v) in calls {
        match per {
            Some((n, unit)) => println!("    {action:<36} {outcome:<10} {v:>9.0}   {:>8.2} {unit}", v / n),
            None => println!("    {action:<36} {outcome:<10} {v:>9.0}"),
        }
    }
    let (d, m) = (total(calls, |a| !is_mutating(a)), total(calls, is_mutating));
    match per {
        Some((n, unit)) => println!(
            "    {:<47} {:>9.0}   {:>8.2} {unit}\n    {:<47} {:>9.0}   {:>8.2} {unit}",
            "describes",
            d,
            d / n,
            "mutations",
            m,
            m / n
        ),
        None => println!("    {:<47} {:>9.0}\n    {:<47} {:>9.0}", "describes", d, "mutations", m),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// (VmRSS, VmHWM) of a process, in MiB.
fn rss(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> Option<f64> {
        status.lines().find_map(|l| l.strip_prefix(key)?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
    };
    Some((kb("VmRSS:")? / 1024.0, kb("VmHWM:")? / 1024.0))
}

/// CPU time (user + system) of a process so far, in seconds.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The pid of the moto server listening on `port` (its command line names the port).
fn moto_pid(port: u16) -> Option<u32> {
    let port = port.to_string();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<&str> = cmdline.split('\0').collect();
        (args.iter().any(|a| a.contains("moto")) && args.windows(2).any(|w| w[0] == "-p" && w[1] == port)).then_some(pid)
    })
}

/// CPU seconds of the operator, moto and this process (the harness and the API stand-in).
#[derive(Clone, Copy)]
struct Cpu {
    at: Instant,
    operator: f64,
    moto: f64,
    harness: f64,
}

impl Cpu {
    fn now(operator: u32, moto: Option<u32>) -> Cpu {
        Cpu {
            at: Instant::now(),
            operator: cpu_secs(operator).unwrap_or(f64::NAN),
            moto: moto.and_then(cpu_secs).unwrap_or(f64::NAN),
            harness: cpu_secs(std::process::id()).unwrap_or(f64::NAN),
        }
    }

    /// "operator X s (Y%), moto ..., harness+stand-in ..." since `earlier`.
    fn since(&self, earlier: &Cpu) -> String {
        let wall = (self.at - earlier.at).as_secs_f64().max(1e-9);
        let part = |name: &str, a: f64, b: f64| format!("{name} {:.1} s ({:.0}% of a core)", a - b, (a - b) / wall * 100.0);
        format!(
            "CPU over {:.1} s: {}, {}, {}",
            wall,
            part("operator", self.operator, earlier.operator),
            part("moto", self.moto, earlier.moto),
            part("harness+stand-in", self.harness, earlier.harness)
        )
    }
}

/// The summary rows: (figure, measured, target, met).
#[derive(Default)]
struct Summary {
    rows: Vec<(String, String, String, String)>,
}

impl Summary {
    fn row(&mut self, figure: impl Into<String>, measured: impl Into<String>, target: impl Into<String>, met: Option<bool>) {
        let met = match met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "-",
        };
        self.rows.push((figure.into(), measured.into(), target.into(), met.into()));
    }

    fn print(&self, args: &Args) {
        let limits = match args.limits {
            Limits::Shipped => "shipped",
            Limits::Lifted => "lifted",
        };
        println!("\n## Summary: {} LoadBalancers, {limits} limits\n", args.lbs);
        println!("| figure | measured | target | |");
        println!("|---|---|---|---|");
        for (f, m, t, ok) in &self.rows {
            println!("| {f} | {m} | {t} | {ok} |");
        }
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim().to_string())).unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("{cpus} CPUs ({model}), {mem} memory, load average {} at start", load.join(" "))
}

// ---------------------------------------------------------------------------------------
// The world: moto, the stand-in, the objects, the operator process

/// LoadBalancer i: one HTTP listener, its own pods (or instances), HealthCheck `web-{i % h}`.
fn spec_yaml(i: usize, health_checks: usize, backends: &str) -> String {
    format!(
        "loadBalancerName: {}\navailabilityZones: [us-east-1a, us-east-1b]\n\
         listeners:\n- {{port: 80, instancePort: 8080, protocol: HTTP}}\n\
         healthCheckRef: {{name: web-{}}}\n{backends}",
        elb_name(i),
        i % health_checks
    )
}

fn elb_name(i: usize) -> String {
    format!("fleet-{i:05}")
}

fn lb_name(i: usize) -> String {
    format!("lb-{i:05}")
}

/// The HealthCheck every LoadBalancer references (as the ELB API takes it).
const HEALTH_TARGET: &str = "HTTP:8080/health";

fn health_check() -> elb::HealthCheck {
    elb::HealthCheck { target: HEALTH_TARGET.into(), interval: 30, timeout: 5, healthy_threshold: 3, unhealthy_threshold: 5 }
}

/// The bare minimal sequence for N ELBs, straight at moto with `concurrency` in flight:
/// returns the wall time and the calls by action.
async fn bare_sequence(moto: &Moto, n: usize, concurrency: usize, deadline: Deadline) -> (Duration, BTreeMap<String, u64>, usize) {
    let mut instances = moto.run_instances(2, ZONES[0]);
    instances.extend(moto.run_instances(1, ZONES[1]));
    let metrics = elb_operator::telemetry::Metrics::new();
    let client = Client::new(
        ClientConfig::for_endpoint(REGION, &moto.endpoint, "testing", "testing")
            .with_rate_limit(RateLimitConfig::unlimited())
            .with_metrics(metrics.elb.clone()),
    )
    .expect("ELB client");
    let hc = health_check();
    let backends = format!("backends:\n  instanceIds: {instances:?}\n");
    let desired: Vec<plan::Desired> = (0..n)
        .map(|i| {
            let spec: LoadBalancerSpec = serde_yaml::from_str(&spec_yaml(i, 1, &backends).replace("fleet-", "bare-")).expect("spec");
            let owner = Owner::new(CLUSTER, NAMESPACE, &lb_name(i));
            let resolved = backends::resolve(spec.backends.as_ref(), NAMESPACE, &[], &[]).expect("backends");
            desired_state(&spec, spec.load_balancer_name.as_deref().unwrap(), Some(hc.clone()), &resolved, &owner).expect("desired")
        })
        .collect();
    let start = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let run = futures::stream::iter(desired)
        .map(|d| {
            let (client, done) = (client.clone(), done.clone());
            async move {
                for action in plan::plan(&d, None, None).expect("plan") {
                    // moto sometimes fails a create with an HTML 500 under load; the client does
                    // not resend a create that may have been applied, so neither does this: it
                    // looks for the ELB first (counted, like every call).
                    for attempt in 1..=3 {
                        match execute::apply(&client, &d.name, &action).await {
                            Ok(()) => break,
                            Err(e) if e.maybe_applied() && attempt < 3 => {
                                if execute::describe(&client, &d.name).await.ok().flatten().is_some() {
                                    break;
                                }
                            }
                            Err(e) => panic!("bare call: {e:?}"),
                        }
                    }
                }
                client.describe_instance_health(&d.name, &[]).await.expect("health");
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>();
    let finished = tokio::time::timeout(deadline.bound(Duration::from_secs(3600)), run).await.is_ok();
    let elapsed = start.elapsed();
    let completed = done.load(std::sync::atomic::Ordering::Relaxed);
    if !finished {
        println!("  bare sequence: stopped by the deadline after {completed} of {n}");
    }
    (elapsed, test_support::metrics::ElbCalls::parse(&metrics.encode()).per_action(), completed)
}

async fn kube_client(path: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(path).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await.expect("kubeconfig");
    kube::Client::try_from(config).expect("kube client")
}

async fn install_crds(client: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in ["healthchecks.elb.operator.dev.yaml", "loadbalancers.elb.operator.dev.yaml", "loadbalancerclasses.elb.operator.dev.yaml"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds").join(file);
        let crd: CustomResourceDefinition = serde_yaml::from_str(&std::fs::read_to_string(&path).expect("CRD file")).expect("CRD");
        crds.create(&PostParams::default(), &crd).await.expect("install CRD");
    }
}

async fn create<K>(api: &Api<K>, value: serde_json::Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(value).expect("object");
    api.create(&PostParams::default(), &obj).await.expect("create")
}

/// Nodes backed by moto instances, and Ready pods: LoadBalancer i selects `lb=lb-i`, whose
/// pods run on 3 nodes (fewer with fewer pods).
async fn populate(client: &kube::Client, moto: &Moto, args: &Args, deadline: Deadline) {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut instances = Vec::new();
    for (z, zone) in ZONES.iter().enumerate() {
        let count = args.nodes / 2 + if z == 0 { args.nodes % 2 } else { 0 };
        if count > 0 {
            instances.extend(moto.run_instances(count, zone).into_iter().map(|id| (zone.to_string(), id)));
        }
    }
    for (k, (zone, id)) in instances.iter().enumerate() {
        create(
            &nodes,
            json!({"metadata": {"name": format!("node-{k:02}"), "labels": {"topology.kubernetes.io/zone": zone}},
                   "spec": {"providerID": format!("aws:///{zone}/{id}")}}),
        )
        .await;
        let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
        nodes.patch_status(&format!("node-{k:02}"), &PatchParams::default(), &Patch::Merge(&status)).await.expect("node status");
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let total = args.lbs * args.pods_per_lb;
    let start = Instant::now();
    let work = futures::stream::iter(0..total)
        .map(|p| {
            let pods = pods.clone();
            let (i, j) = (p / args.pods_per_lb, p % args.pods_per_lb);
            let node = (i * 3 + j % 3) % args.nodes;
            async move {
                let name = format!("{}-{j}", lb_name(i));
                create(
                    &pods,
                    json!({"metadata": {"name": name, "labels": {"lb": lb_name(i)}},
                           "spec": {"nodeName": format!("node-{node:02}"), "containers": [{"name": "web", "image": "nginx"}]}}),
                )
                .await;
                let status = json!({"status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
                    "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0, "image": "nginx",
                                           "imageID": "", "started": true, "state": {"running": {}}}]
                }});
                pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await.expect("pod status");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>();
    tokio::time::timeout(deadline.left(), work).await.expect("deadline while creating pods");
    println!("  {} nodes (EC2 instances in {}), {total} Ready pods in {}", args.nodes, ZONES.join(", "), secs(start.elapsed()));
}

/// First time each LoadBalancer was seen Ready, from a watch.
#[derive(Clone, Default)]
struct ReadyTracker {
    first_ready: Arc<Mutex<HashMap<String, Instant>>>,
}

impl ReadyTracker {
    fn start(client: &kube::Client) -> (ReadyTracker, tokio::task::JoinHandle<()>) {
        let t = ReadyTracker::default();
        let api: Api<LoadBalancer> = Api::namespaced(client.clone(), NAMESPACE);
        let first_ready = t.first_ready.clone();
        let task = tokio::spawn(async move {
            let mut stream = watcher(api, watcher::Config::default()).default_backoff().applied_objects().boxed();
            loop {
                match stream.try_next().await {
                    Ok(Some(lb)) => {
                        let ready =
                            lb.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                        if ready {
                            first_ready.lock().unwrap().entry(lb.name_any()).or_insert_with(Instant::now);
                        }
                    }
                    Ok(None) => return,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        (t, task)
    }

    fn count(&self) -> usize {
        self.first_ready.lock().unwrap().len()
    }

    fn times(&self) -> Vec<Instant> {
        self.first_ready.lock().unwrap().values().copied().collect()
    }
}

struct Operator {
    child: Child,
    pub port: u16,
    started: Instant,
    log: PathBuf,
}

impl Operator {
    /// Starts the operator binary. Called from the main thread: the child gets SIGTERM when
    /// this process dies (PR_SET_PDEATHSIG), so no operator outlives a killed benchmark.
    fn start(args: &Args, kubeconfig: &Path, moto: &Moto, poll: &str, log: PathBuf) -> Operator {
        use std::os::unix::process::CommandExt;
        let port = test_support::free_port();
        let file = std::fs::File::create(&log).expect("operator log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_elb-operator"));
        cmd.args(["run", "--region", REGION, "--cluster-name", CLUSTER, "--watch-namespace", NAMESPACE])
            .args(["--leader-election", "false", "--log-format", "json", "--log-level", &args.log_level])
            .args(["--http-bind", &format!("127.0.0.1:{port}")])
            .args(["--health-poll-interval", poll, "--concurrency", &args.concurrency.to_string()])
            .args(args.limit_flags())
            .env("KUBECONFIG", kubeconfig)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_REGION")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        // SIGKILL, not SIGTERM: an operator log that says "shutdown requested" was then
        // stopped by this benchmark (Operator::stop), never by its death.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        debug_assert_eq!(std::thread::current().name(), Some("main"), "PR_SET_PDEATHSIG follows the spawning thread");
        let child = cmd.spawn().expect("start the operator");
        Operator { child, port, started: Instant::now(), log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs (a zombie does not): it never should stop before
    /// [`Operator::stop`], and a phase that finds it gone says so and ends.
    fn alive(&self) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next()).is_some_and(|state| state != "Z" && state != "X")
    }

    /// Prints that the operator is gone, with the end of its log; true when it is.
    fn gone(&self) -> bool {
        if self.alive() {
            return false;
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(3).collect();
        println!("  THE OPERATOR EXITED (pid {}); the end of {}:", self.pid(), self.log.display());
        for l in tail.iter().rev() {
            println!("    {}", l.chars().take(300).collect::<String>());
        }
        true
    }

    async fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        for _ in 0..5 {
            if let Ok(r) = reqwest::get(&url).await {
                if let Ok(t) = r.text().await {
                    return t;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        String::new()
    }

    async fn calls(&self) -> Calls {
        parse_calls(&self.metrics().await)
    }

    async fn wait_ready(&mut self, limit: Duration) -> bool {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                println!("  operator exited early ({status}); log: {}", self.log.display());
                return false;
            }
            if reqwest::get(&url).await.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    fn rss(&self) -> Option<(f64, f64)> {
        rss(self.pid())
    }

    /// SIGTERM, then SIGKILL after 30 s.
    async fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        for _ in 0..300 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!("  operator did not stop within 30 s of SIGTERM; killed");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn warnings_in(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|s| s.lines().filter(|l| l.contains(r#""level":"WARN""#) || l.contains(r#""level":"ERROR""#)).count())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------

/// Everything the phases share.
struct Bench {
    args: Args,
    deadline: Deadline,
    summary: Summary,
    moto: Moto,
    moto_pid: Option<u32>,
    /// An unlimited ELB client of the harness's own, for checking what moto holds.
    probe: Client,
    standin: Option<kube_standin::StandIn>,
    kube: Option<kube::Client>,
    operator: Option<Operator>,
    tracker: Option<(ReadyTracker, tokio::task::JoinHandle<()>)>,
}

impl Bench {
    fn n(&self) -> f64 {
        self.args.lbs as f64
    }

    fn lbs(&self) -> Api<LoadBalancer> {
        Api::namespaced(self.kube.clone().expect("the world is up"), NAMESPACE)
    }

    fn op(&self) -> &Operator {
        self.operator.as_ref().expect("the operator runs")
    }

    /// (Re)starts the operator with `--health-poll-interval poll`; false when it does not
    /// become ready.
    async fn start_operator(&mut self, poll: &str, phase: &str) -> bool {
        if let Some(op) = self.operator.take() {
            op.stop().await;
        }
        let limits = if self.args.limits == Limits::Shipped { "shipped" } else { "lifted" };
        let log = self.args.out_dir.join(format!("operator-{limits}-{}-{phase}.log", self.args.lbs));
        let kubeconfig = self.standin.as_ref().expect("the world is up").kubeconfig_path().to_path_buf();
        let mut op = Operator::start(&self.args, &kubeconfig, &self.moto, poll, log);
        let ready = op.wait_ready(self.deadline.bound(Duration::from_secs(120))).await;
        if !ready {
            println!("  the operator did not become ready; log: {}", op.log.display());
        }
        self.operator = Some(op);
        ready
    }

    /// 1. The bare minimal sequence, straight at moto; moto is reset afterwards.
    async fn bare(&mut self) -> Duration {
        println!("## 1. bare minimal sequence against moto ({} in flight)", self.args.concurrency);
        let cpu0 = Cpu::now(std::process::id(), self.moto_pid);
        let (bare, calls, done) = bare_sequence(&self.moto, self.args.lbs, self.args.concurrency as usize, self.deadline).await;
        let cpu1 = Cpu::now(std::process::id(), self.moto_pid);
        let total: u64 = calls.values().sum();
        println!(
            "  {done} ELBs in {} ({:.1} ELBs/s, {total} calls, {:.0} calls/s): {calls:?}",
            secs(bare),
            done as f64 / bare.as_secs_f64(),
            total as f64 / bare.as_secs_f64()
        );
        println!("  moto CPU {:.1} s ({:.0}% of a core)", cpu1.moto - cpu0.moto, (cpu1.moto - cpu0.moto) / bare.as_secs_f64() * 100.0);
        self.moto.reset();
        bare
    }

    /// 2. The world (stand-in, CRDs, HealthCheck, nodes, pods), the operator, then N
    ///    LoadBalancers until all are Ready.
    async fn create(&mut self, bare: Option<Duration>) -> bool {
        let (n, nf) = (self.args.lbs, self.n());
        println!("\n## 2. create {n} LoadBalancers");
        let standin = kube_standin::StandIn::start().await.expect("start the API stand-in");
        let kube = kube_client(standin.kubeconfig_path()).await;
        self.standin = Some(standin);
        self.kube = Some(kube.clone());
        install_crds(&kube).await;
        create(&Api::<Namespace>::all(kube.clone()), json!({"metadata": {"name": NAMESPACE}})).await;
        for h in 0..self.args.health_checks {
            create(
                &Api::<elb_operator::crd::HealthCheck>::namespaced(kube.clone(), NAMESPACE),
                json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "HealthCheck", "metadata": {"name": format!("web-{h}")},
                       "spec": {"target": HEALTH_TARGET, "intervalSeconds": 30, "timeoutSeconds": 5, "healthyThreshold": 3, "unhealthyThreshold": 5}}),
            )
            .await;
        }
        populate(&kube, &self.moto, &self.args, self.deadline).await;

        let poll = self.args.health_poll_interval.clone();
        if !self.start_operator(&poll, "create").await {
            return false;
        }
        let op = self.op();
        println!("  operator ready {} after start; RSS {:?} MiB", secs(op.started.elapsed()), op.rss().map(|r| r.0.round()));
        let (tracker, task) = ReadyTracker::start(&kube);
        let before = op.calls().await;
        let metrics_before = op.metrics().await;
        let cpu0 = Cpu::now(op.pid(), self.moto_pid);
        let t0 = Instant::now();
        let lbs = self.lbs();
        let health_checks = self.args.health_checks;
        let apply = futures::stream::iter(0..n)
            .map(|i| {
                let lbs = lbs.clone();
                async move {
                    let backends = format!("backends:\n  podSelector: {{matchLabels: {{lb: {}}}}}\n", lb_name(i));
                    let spec: serde_json::Value = serde_yaml::from_str(&spec_yaml(i, health_checks, &backends)).unwrap();
                    create(&lbs, json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": lb_name(i)}, "spec": spec}))
                        .await;
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>();
        tokio::time::timeout(self.deadline.left(), apply).await.expect("deadline while applying");
        println!("  applied in {}", secs(t0.elapsed()));
        let mut last_print = Instant::now();
        let mut peak_rss: f64 = 0.0;
        while tracker.count() < n && self.deadline.left() > Duration::ZERO && !op.gone() {
            tokio::time::sleep(Duration::from_millis(250)).await;
            peak_rss = peak_rss.max(op.rss().map_or(0.0, |r| r.0));
            if last_print.elapsed() >= Duration::from_secs(30) {
                last_print = Instant::now();
                let m = op.metrics().await;
                let calls = diff(&parse_calls(&m), &before);
                println!(
                    "  {:>6.0} s: {} Ready, {:.0} describes + {:.0} mutations so far, queued change {:?}, RSS {:?} MiB",
                    t0.elapsed().as_secs_f64(),
                    tracker.count(),
                    total(&calls, |a| !is_mutating(a)),
                    total(&calls, is_mutating),
                    sample(&m, "elb_operator_scheduler_queued{class=\"change\"}"),
                    op.rss().map(|r| r.0.round())
                );
            }
        }
        let ready_count = tracker.count();
        let mut times: Vec<Duration> = tracker.times().into_iter().map(|t| t.saturating_duration_since(t0)).collect();
        times.sort();
        let all_ready = times.last().copied().unwrap_or_default();
        println!("  {}", Cpu::now(op.pid(), self.moto_pid).since(&cpu0));
        let m = op.metrics().await;
        let calls = diff(&parse_calls(&m), &before);
        let lb_runs = sample(&m, "elb_operator_reconcile_runs_total{resource=\"loadbalancer\"}").unwrap_or(f64::NAN);
        let lb_busy = sample(&m, "elb_operator_reconcile_duration_seconds_sum{resource=\"loadbalancer\"}").unwrap_or(f64::NAN);
        println!(
            "  reconciles: LoadBalancer {lb_runs} ({:.1} per LoadBalancer; {lb_busy:.0} s in reconciles, {:.1} of the {} slots busy on average), \
             HealthCheck {:?}; failed: {:?}",
            lb_runs / nf,
            lb_busy / t0.elapsed().as_secs_f64(),
            self.args.concurrency,
            sample(&m, "elb_operator_reconcile_runs_total{resource=\"healthcheck\"}"),
            m.lines().filter(|l| l.starts_with("elb_operator_reconcile_failures_total{")).collect::<Vec<_>>()
        );
        println!(
            "  {ready_count}/{n} Ready; all Ready {} after the first apply (p50 {}, p90 {})",
            secs(all_ready),
            secs(percentile(&times, 0.5)),
            secs(percentile(&times, 0.9))
        );
        print_calls("calls while creating, per LoadBalancer:", &calls, Some((nf, "/LB")));
        let api = self.standin.as_ref().map(|st| api_requests(st, t0, Instant::now())).unwrap_or_default();
        print_api_requests("API server requests by verb while creating (operator's)", &api, None);
        // Where the reconciles' time went: the budget, moto, the API server; the rest is the
        // operator's own (CPU, and waits on its queues).
        let m0 = &metrics_before;
        let of_family = |name: &str| family_sum(&m, name) - family_sum(m0, name);
        let budget_wait = of_family("elb_operator_elb_rate_limiter_wait_seconds_sum");
        let elb_time = of_family("elb_operator_elb_call_duration_seconds_sum");
        let api_time: f64 = api.iter().filter(|(v, _)| v.as_str() != "WATCH").map(|(_, (_, s))| s).sum();
        println!(
            "  where the time went: {lb_busy:.0} s in reconciles (all slots); ELB calls {elb_time:.0} s at moto, {budget_wait:.0} s waiting for the budget; \
             API server {api_time:.0} s answering the operator; operator CPU in the CPU line above"
        );
        println!(
            "  operator RSS after all Ready: {:?} MiB (VmRSS, VmHWM); peak sampled {peak_rss:.0} MiB",
            op.rss().map(|(a, b)| (a.round(), b.round()))
        );
        let mutations = total(&calls, is_mutating);
        let describes = total(&calls, |a| !is_mutating(a));
        let ratio = bare.map_or(f64::NAN, |b| all_ready.as_secs_f64() / b.as_secs_f64());
        let bound = 1.1 * mutations / SHIPPED_MUTATE;
        if ready_count < n {
            self.summary.row("LoadBalancers Ready", format!("{ready_count}/{n} before the deadline"), format!("{n}"), Some(false));
        }
        self.summary.row(
            "time to all Ready",
            match bare {
                Some(b) => format!("{} ({ratio:.2}× the bare sequence's {})", secs(all_ready), secs(b)),
                None => format!("{} (bare sequence skipped)", secs(all_ready)),
            },
            match self.args.limits {
                Limits::Lifted => "≤ 1.25× bare".to_string(),
                Limits::Shipped => format!("≤ 1.1 × mutations ÷ 4/s = {bound:.0} s"),
            },
            Some(
                ready_count == n
                    && match self.args.limits {
                        Limits::Lifted => ratio <= 1.25,
                        Limits::Shipped => all_ready.as_secs_f64() <= bound,
                    },
            ),
        );
        // Health polls of the LoadBalancers created first run while later ones are created:
        // they are counted apart (each sync reads health once more itself).
        let actions = by_action(&calls);
        let of = |a: &str| actions.get(a).copied().unwrap_or(0.0) / nf;
        let sync_calls: Vec<String> =
            actions.iter().filter(|(a, _)| a.as_str() != "DescribeInstanceHealth").map(|(a, v)| format!("{a} {:.2}", v / nf)).collect();
        self.summary.row(
            "calls per new LoadBalancer",
            format!(
                "{:.2} in all: {:.2} mutations, {:.2} describes besides health ({}); DescribeInstanceHealth {:.2} (1 after registration, the rest polls of the fleet during the {})",
                (mutations + describes) / nf,
                mutations / nf,
                describes / nf - of("DescribeInstanceHealth"),
                sync_calls.join(", "),
                of("DescribeInstanceHealth"),
                secs(all_ready)
            ),
            "≤ 4.3 (Create with tags, ConfigureHealthCheck, Register, one DescribeInstanceHealth; shared listings)",
            Some((mutations + describes) / nf <= 4.3),
        );
        self.summary.row(
            "CreateLoadBalancer per new ELB",
            format!("{:.3}", of("CreateLoadBalancer")),
            "1.00",
            Some((of("CreateLoadBalancer") - 1.0).abs() < 1e-9),
        );
        self.tracker = Some((tracker, task));
        ready_count == n
    }

    /// 3. Calls per minute over a window of the converged fleet, and the queues at its ends.
    async fn steady(&mut self) {
        let args = &self.args;
        println!("\n## 3. steady state: {} settle, then a {} window", secs(args.settle), secs(args.steady));
        tokio::time::sleep(args.settle).await;
        let op = self.op();
        let m0 = op.metrics().await;
        let cpu0 = Cpu::now(op.pid(), self.moto_pid);
        let window_start = Instant::now();
        tokio::time::sleep(args.steady).await;
        let m1 = op.metrics().await;
        let api = self.standin.as_ref().map(|st| api_requests(st, window_start, Instant::now())).unwrap_or_default();
        if op.gone() {
            return;
        }
        println!("  {}", Cpu::now(op.pid(), self.moto_pid).since(&cpu0));
        let window = diff(&parse_calls(&m1), &parse_calls(&m0));
        let minutes = args.steady.as_secs_f64() / 60.0;
        println!("  calls per minute by action:");
        for (a, v) in by_action(&window) {
            println!("    {a:<36} {:>8.1}/min", v / minutes);
        }
        let d = total(&window, |a| !is_mutating(a)) / minutes;
        let mu = total(&window, is_mutating) / minutes;
        let budget = |i: usize| args.budget().map_or("unlimited".into(), |b| format!("{:.0}/min", [b.0, b.1][i] * 60.0));
        println!("    {:<36} {d:>8.1}/min   (budget {})", "describes", budget(0));
        println!("    {:<36} {mu:>8.1}/min   (budget {})", "mutations", budget(1));
        let q = |m: &str, class: &str| sample(m, &format!("elb_operator_scheduler_queued{{class=\"{class}\"}}")).unwrap_or(f64::NAN);
        let age = |m: &str| sample(m, "elb_operator_oldest_health_observation_seconds").unwrap_or(f64::NAN);
        println!(
            "  queued at start/end of the window: change {}/{}, resync {}/{}, health {}/{}; oldest health observation {:.0} s/{:.0} s",
            q(&m0, "change"),
            q(&m1, "change"),
            q(&m0, "resync"),
            q(&m1, "resync"),
            q(&m0, "health"),
            q(&m1, "health"),
            age(&m0),
            age(&m1)
        );
        print_api_requests("API server requests by verb in the window (operator's)", &api, Some(minutes));
        let status_writes = api.get("PATCH status").map_or(0, |(n, _)| *n) as f64 / minutes;
        let status_row = (
            format!("{status_writes:.0}/min (every unchanged status at most once per --status-refresh, 10 min: ≤ N/10 by construction)"),
            format!("≤ N/10 = {:.0}/min", self.n() / 10.0),
            status_writes <= self.n() / 10.0,
        );
        let polls = by_action(&window).get("DescribeInstanceHealth").copied().unwrap_or(0.0) / minutes;
        let wanted = self.n() / parse_secs(&args.health_poll_interval) * 60.0;
        println!("  health polls: {polls:.0}/min done, {wanted:.0}/min wanted by --health-poll-interval {}", args.health_poll_interval);
        let rss = op.rss();
        println!("  operator RSS: {:?} MiB (VmRSS, VmHWM)", rss.map(|(a, b)| (a.round(), b.round())));
        let within = args.budget().is_none_or(|(dr, _)| d <= dr * 60.0 * 1.02);
        let row = (
            format!(
                "{d:.0} describes/min ({polls:.0} DescribeInstanceHealth; {wanted:.0}/min wanted), {mu:.0} mutations/min; health queue {} → {}, oldest observation {:.0} s → {:.0} s",
                q(&m0, "health"),
                q(&m1, "health"),
                age(&m0),
                age(&m1)
            ),
            match args.budget() {
                Some((dr, _)) => format!("0 mutations, describes ≤ {:.0}/min, no queue growth", dr * 60.0),
                None => "0 mutations".into(),
            },
            mu == 0.0 && within && q(&m1, "change") <= 0.0,
        );
        let pods = args.lbs * args.pods_per_lb;
        let n = args.lbs;
        self.summary.row("steady state, calls/min", row.0, row.1, Some(row.2));
        self.summary.row("status writes in a quiet minute", status_row.0, status_row.1, Some(status_row.2));
        if let Some((r, hwm)) = rss {
            self.summary.row(
                "operator RSS (steady)",
                format!("{r:.0} MiB (peak {hwm:.0} MiB), {n} LBs, {pods} pods"),
                "≤ 100 MiB at 1,000 LBs and 10,000 pods",
                (n == 1000 && pods >= 10_000).then_some(hwm <= 100.0),
            );
        }
    }

    /// 4. The operator stopped and started again over the converged fleet: its calls in the
    ///    first `--restart-window`.
    async fn restart(&mut self) {
        let (n, window) = (self.args.lbs, self.args.restart_window);
        println!("\n## 4. restart over the converged fleet (SIGTERM, start again, {} window)", secs(window));
        let poll = self.args.health_poll_interval.clone();
        let ready = self.start_operator(&poll, "restart").await;
        let op = self.op();
        tokio::time::sleep((op.started + window).saturating_duration_since(Instant::now())).await;
        let m = op.metrics().await;
        if op.gone() {
            return;
        }
        let calls = parse_calls(&m);
        println!("  ready: {ready}; operator CPU {:.1} s in the window", cpu_secs(op.pid()).unwrap_or(f64::NAN));
        print_calls(&format!("calls in the first {} after the start:", secs(window)), &calls, None);
        let target = n.div_ceil(400) + n.div_ceil(20) + 10;
        let sync_describes = total(&calls, |a| !is_mutating(a) && a != "DescribeInstanceHealth");
        let polls = by_action(&calls).get("DescribeInstanceHealth").copied().unwrap_or(0.0);
        let muts = total(&calls, is_mutating);
        println!(
            "  describes other than health polls: {sync_describes:.0} (⌈N/400⌉+⌈N/20⌉+10 = {target}; \
             moto answers pages of 50 when PageSize is not sent: ⌈N/50⌉+⌈N/20⌉+10 = {})",
            n.div_ceil(50) + n.div_ceil(20) + 10
        );
        let rss = op.rss();
        println!(
            "  queued change after the window: {:?}; operator RSS {:?} MiB",
            sample(&m, "elb_operator_scheduler_queued{class=\"change\"}"),
            rss.map(|(a, b)| (a.round(), b.round()))
        );
        let actions = by_action(&calls).iter().map(|(a, v)| format!("{a} {v:.0}")).collect::<Vec<_>>().join(", ");
        // Health polls go on at the budget's pace across a restart (they are the fleet's
        // steady state, not work the restart adds): the target is about the rest.
        self.summary.row(
            format!("restart, first {}", secs(window)),
            format!(
                "{sync_describes:.0} describes for the restart itself, {muts:.0} mutations; plus {polls:.0} health polls (steady-state polling, going on) ({actions})"
            ),
            format!("≤ ⌈N/400⌉+⌈N/20⌉+10 = {target} describes, 0 mutations"),
            Some(muts == 0.0 && sync_describes <= target as f64),
        );
        if let Some((r, hwm)) = rss {
            self.summary.row(
                "operator RSS (after restart)",
                format!("{r:.0} MiB (peak {hwm:.0} MiB)"),
                "≤ 100 MiB at 1,000 LBs",
                (n == 1000).then_some(hwm <= 100.0),
            );
        }
    }

    /// 5. The operator restarted with `--health-poll-interval 1s`; once polls saturate the
    ///    describe budget, one listener port changed at a time: time until moto shows it.
    async fn change(&mut self) {
        let (n, nf, changes) = (self.args.lbs, self.n(), self.args.changes);
        println!("\n## 5. spec changes while health polls saturate the budget (--health-poll-interval 1s)");
        let ready = self.start_operator("1s", "change").await;
        let op = self.op();
        // Saturated: every LoadBalancer had its first reconcile, no sync calls for 3 s (the
        // first syncs after a start are done), and polls wait for the budget.
        let settle = Instant::now();
        let mut m = String::new();
        let (mut quiet, mut last_sync_calls) = (0, f64::NAN);
        while settle.elapsed() < self.deadline.bound(Duration::from_secs(300)) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if op.gone() {
                return;
            }
            m = op.metrics().await;
            let change = sample(&m, "elb_operator_scheduler_queued{class=\"change\"}");
            let health = sample(&m, "elb_operator_scheduler_queued{class=\"health\"}");
            let runs = sample(&m, "elb_operator_reconcile_runs_total{resource=\"loadbalancer\"}").unwrap_or(0.0);
            let sync_calls = total(&parse_calls(&m), |a| a != "DescribeInstanceHealth");
            quiet = if sync_calls == last_sync_calls { quiet + 1 } else { 0 };
            last_sync_calls = sync_calls;
            // A fleet too small to saturate the budget waits 20 s.
            let saturated = health.is_some_and(|h| h > 0.0) || settle.elapsed() > Duration::from_secs(20);
            if runs >= nf && change == Some(0.0) && quiet >= 3 && saturated {
                break;
            }
        }
        println!(
            "  ready: {ready}; after {}: queued change {:?}, health {:?}",
            secs(settle.elapsed()),
            sample(&m, "elb_operator_scheduler_queued{class=\"change\"}"),
            sample(&m, "elb_operator_scheduler_queued{class=\"health\"}")
        );
        let c0 = op.calls().await;
        let w0 = Instant::now();
        let lbs = self.lbs();
        let mut latencies = Vec::new();
        for k in 0..changes {
            if self.deadline.left() < Duration::from_secs(30) || op.gone() {
                break;
            }
            let i = (k * n / changes + k) % n;
            let port = 8000 + k as u16;
            let patch = json!({"spec": {"listeners": [{"port": port, "instancePort": 8080, "protocol": "HTTP"}]}});
            let start = Instant::now();
            lbs.patch(&lb_name(i), &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch");
            let probe = &self.probe;
            let seen = test_support::poll(self.deadline.bound(Duration::from_secs(120)), || async {
                match probe.describe_load_balancers(&[elb_name(i)]).await {
                    Ok(d) if d.first().is_some_and(|d| d.listeners.len() == 1 && d.listeners[0].listener.load_balancer_port == port) => {
                        Some(())
                    }
                    _ => None,
                }
            })
            .await;
            let took = start.elapsed();
            match seen {
                Some(()) => {
                    println!("  change {k}: {} listener 80 → {port}: in moto after {:.2} s", lb_name(i), took.as_secs_f64());
                    latencies.push(took);
                }
                None => println!("  change {k}: {} listener 80 → {port}: not in moto after {}", lb_name(i), secs(took)),
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let window = diff(&op.calls().await, &c0);
        let minutes = w0.elapsed().as_secs_f64() / 60.0;
        println!("  calls per minute during the changes:");
        for (a, v) in by_action(&window) {
            println!("    {a:<36} {:>8.1}/min", v / minutes);
        }
        latencies.sort();
        let (p50, max) = (percentile(&latencies, 0.5), latencies.last().copied().unwrap_or_default());
        let describes_per_s = total(&window, |a| !is_mutating(a)) / (minutes * 60.0);
        println!(
            "  latency over {} changes: p50 {:.2} s, max {:.2} s; describes ran at {describes_per_s:.1}/s",
            latencies.len(),
            p50.as_secs_f64(),
            max.as_secs_f64()
        );
        if let Some((r, hwm)) = op.rss() {
            println!("  operator RSS: {r:.0} MiB (peak {hwm:.0} MiB)");
        }
        // Each change needs 2 mutations (DeleteLoadBalancerListeners, CreateLoadBalancerListeners).
        let allowance = 2.0 + self.args.budget().map_or(0.0, |(_, mr)| 2.0 / mr);
        self.summary.row(
            "spec change latency, budget saturated",
            format!(
                "{} of {changes} changes in moto within 120 s; over those p50 {:.2} s, max {:.2} s (describes at {describes_per_s:.1}/s)",
                latencies.len(),
                p50.as_secs_f64(),
                max.as_secs_f64()
            ),
            format!("< 2 s + 2 mutations = {allowance:.1} s"),
            Some(latencies.len() == changes && max.as_secs_f64() < allowance),
        );
    }

    async fn finish(mut self) {
        if let Some(op) = self.operator.take() {
            let log = op.log.clone();
            op.stop().await;
            println!("\noperator logs in {} (last run: {} WARN/ERROR lines)", self.args.out_dir.display(), warnings_in(&log));
        }
        if let Some((_, task)) = self.tracker.take() {
            task.abort();
        }
        self.summary.print(&self.args);
    }
}

async fn run(args: Args) {
    let limits = match args.limits {
        Limits::Shipped => "shipped (--elb-describe-rate 10, burst 20; --elb-mutate-rate 4, burst 8)".to_string(),
        Limits::Lifted => format!("lifted (--elb-*-rate {LIFTED_RATE}, --elb-*-burst {LIFTED_BURST})"),
    };
    let profile = if cfg!(debug_assertions) { "debug (dev profile)" } else { "optimized" };
    println!("# fleet benchmark: {} LoadBalancers, limits {limits}", args.lbs);
    println!("date: {}", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"));
    println!("machine: {}", machine());
    println!("build: {profile}; operator binary {}", env!("CARGO_BIN_EXE_elb-operator"));
    println!(
        "operator flags: --concurrency {} --health-poll-interval {} (change phase: 1s) --resync-interval 10m (default)",
        args.concurrency, args.health_poll_interval
    );
    println!(
        "backends: {} pods per LoadBalancer on {} of {} nodes; {} HealthCheck(s) shared by the LoadBalancers\n",
        args.pods_per_lb,
        args.pods_per_lb.min(3).min(args.nodes),
        args.nodes,
        args.health_checks
    );
    std::fs::create_dir_all(&args.out_dir).expect("output directory");

    aws::install_crypto_provider();
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let probe =
        Client::new(ClientConfig::for_endpoint(REGION, &moto.endpoint, "testing", "testing").with_rate_limit(RateLimitConfig::unlimited()))
            .expect("ELB client");
    let mut bench = Bench {
        deadline: Deadline(Instant::now() + args.timeout),
        args,
        summary: Summary::default(),
        moto_pid: moto_pid(moto.port),
        moto,
        probe,
        standin: None,
        kube: None,
        operator: None,
        tracker: None,
    };
    let bare = if bench.args.skip_bare { None } else { Some(bench.bare().await) };
    if bench.create(bare).await {
        if bench.deadline.left() > bench.args.settle + bench.args.steady {
            bench.steady().await;
        }
        if !bench.args.skip_restart && bench.deadline.left() > bench.args.restart_window + Duration::from_secs(60) {
            bench.restart().await;
        }
        if !bench.args.skip_change && bench.args.changes > 0 && bench.deadline.left() > Duration::from_secs(120) {
            bench.change().await;
        }
    }
    bench.finish().await;
}

fn parse_secs(d: &str) -> f64 {
    elb_operator::cli::parse_duration(d).map(|d| d.as_secs_f64()).unwrap_or(30.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo test --benches` lists targets; there is nothing to list here.
        return;
    }
    if std::env::args().len() == 1 {
        // `cargo test --all-targets` runs bench targets without arguments: no 25-minute
        // benchmark there. `cargo bench` passes `--bench`; the script passes `--limits`.
        println!("fleet benchmark: nothing to do without arguments (scripts/bench-fleet.sh, or --help)");
        return;
    }
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    // On a shared machine, stray SIGTERMs reached earlier runs (another session's chaos test
    // signalling a reused pid). The run ends at its own deadline; Ctrl-C (SIGINT) or SIGKILL
    // stop it earlier, and the script's `timeout` sends SIGKILL.
    rt.spawn(async {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else { return };
        while term.recv().await.is_some() {
            println!("  (SIGTERM received and ignored: the run ends at its --timeout; SIGINT or SIGKILL stop it)");
        }
    });
    rt.block_on(run(args));
}
