//! The backend index of issue 18 (prints figures; nothing here passes or fails on speed):
//! the reconcile path's pod work for one LoadBalancer with 10 pods, in a fleet of 10,000
//! LoadBalancers, with no unrelated pod and with 100,000 of them (half in other namespaces,
//! half in its own with other labels), through the indexes and by the old scans.
//!
//! - resolve: the LoadBalancer's backends (pods → nodes → instances);
//! - pod event: the LoadBalancers a pod event reaches;
//! - node event: the LoadBalancers a node event reaches (for information: it still reads
//!   every LoadBalancer, and every pod on the node).
//!
//! Also the memory of the indexes alone at that size. Pure: no moto, no API server.
//! `cargo bench --bench backends` (`--profile dev` for the debug build).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use elb_operator::controller::cache::Stores;
use elb_operator::controller::index::Indexes;
use elb_operator::controller::{backends, triggers};
use elb_operator::crd::{Backends, LoadBalancer};
use k8s_openapi::api::core::v1::{ContainerStatus, Node, NodeCondition, NodeSpec, NodeStatus, Pod, PodCondition, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::runtime::reflector;
use kube::runtime::watcher::Event;

/// Counts the bytes live on the heap, to weigh the indexes exactly (RSS also counts what
/// the allocator keeps of freed memory).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const LBS: usize = 10_000;
const NODES: usize = 100;
const UNRELATED: usize = 100_000;
const NAMESPACE: &str = "shop";

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn pod(ns: &str, name: &str, pairs: &[(&str, &str)], node: usize) -> Pod {
    Pod {
        metadata: ObjectMeta { name: Some(name.into()), namespace: Some(ns.into()), labels: Some(labels(pairs)), ..Default::default() },
        spec: Some(PodSpec { node_name: Some(format!("node-{node}")), ..Default::default() }),
        status: Some(PodStatus {
            conditions: Some(vec![PodCondition { type_: "Ready".into(), status: "True".into(), ..Default::default() }]),
            container_statuses: Some(vec![ContainerStatus { name: "c".into(), ready: true, ..Default::default() }]),
            ..Default::default()
        }),
    }
}

fn node(i: usize) -> Node {
    Node {
        metadata: ObjectMeta { name: Some(format!("node-{i}")), labels: Some(labels(&[("pool", "web")])), ..Default::default() },
        spec: Some(NodeSpec { provider_id: Some(format!("aws:///us-east-1a/i-{i:017x}")), ..Default::default() }),
        status: Some(NodeStatus {
            conditions: Some(vec![NodeCondition { type_: "Ready".into(), status: "True".into(), ..Default::default() }]),
            ..Default::default()
        }),
    }
}

fn load_balancer(ns: &str, name: &str, selector: &[(&str, &str)]) -> LoadBalancer {
    let mut lb = LoadBalancer::new(name, serde_json::from_value(serde_json::json!({"listeners": []})).expect("spec"));
    lb.metadata.namespace = Some(ns.into());
    lb.spec.backends = Some(Backends {
        pod_selector: Some(LabelSelector { match_labels: Some(labels(selector)), ..Default::default() }),
        ..Default::default()
    });
    lb
}

/// The fleet: the measured LoadBalancer `shop/web` (app=web, team=shop) with its 10 pods,
/// 9,999 others in namespaces of their own, and `unrelated` more pods: half in those other
/// namespaces (selected by their LoadBalancers), half in `shop` with `team=shop` but another
/// `app`.
fn world(unrelated: usize) -> Stores {
    let indexes = Arc::new(Indexes::default());
    let (pods, mut pod_writer) = reflector::store();
    let (nodes, mut node_writer) = reflector::store();
    let (loadbalancers, mut lb_writer) = reflector::store();
    let mut apply_pod = |p: Pod| {
        let e = Event::Apply(p);
        pod_writer.apply_watcher_event(&e);
        Indexes::observe(&indexes.pods, &e);
    };
    for i in 0..10 {
        apply_pod(pod(NAMESPACE, &format!("web-{i}"), &[("app", "web"), ("team", "shop")], i));
    }
    for i in 0..unrelated / 2 {
        let lb = i % (LBS - 1);
        apply_pod(pod(&format!("ns-{lb}"), &format!("pod-{i}"), &[("app", "web"), ("team", "shop")], i % NODES));
        apply_pod(pod(NAMESPACE, &format!("other-{i}"), &[("app", &format!("other-{}", i % 5_000)), ("team", "shop")], i % NODES));
    }
    for i in 0..NODES {
        let e = Event::Apply(node(i));
        node_writer.apply_watcher_event(&e);
        Indexes::observe(&indexes.nodes, &e);
    }
    let mut apply_lb = |lb: LoadBalancer| {
        let e = Event::Apply(lb);
        lb_writer.apply_watcher_event(&e);
        Indexes::observe(&indexes.loadbalancers, &e);
    };
    apply_lb(load_balancer(NAMESPACE, "web", &[("app", "web"), ("team", "shop")]));
    for i in 0..LBS - 1 {
        apply_lb(load_balancer(&format!("ns-{i}"), "web", &[("app", "web")]));
    }
    Stores {
        loadbalancers,
        healthchecks: reflector::store().0,
        pods,
        nodes,
        classes: reflector::store().0,
        namespaces: reflector::store().0,
        synced: vec![],
        indexes,
    }
}

/// The CPU time this thread has used: the machine is shared, and time spent waiting for a
/// core is not the code's.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The CPU time of one call of each of `fs`: the fastest of 21 rounds, each round as many
/// calls as fit in about `round`, the functions taking turns round by round (the machine is
/// shared: the minimum is the least disturbed, and turns spread a busy spell over all).
fn times<const N: usize>(round: Duration, mut fs: [&mut dyn FnMut(); N]) -> [Duration; N] {
    let calls = fs.each_mut().map(|f| {
        let start = thread_cpu();
        f();
        let once = (thread_cpu() - start).max(Duration::from_nanos(50));
        (round.as_nanos() / once.as_nanos()).clamp(1, 1_000_000) as u32
    });
    let mut best = [Duration::MAX; N];
    for _ in 0..21 {
        for (i, f) in fs.iter_mut().enumerate() {
            let start = thread_cpu();
            for _ in 0..calls[i] {
                f();
            }
            best[i] = best[i].min((thread_cpu() - start) / calls[i]);
        }
    }
    best
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The RSS the indexes alone take at fleet size (no store), built from objects dropped as
/// they go in; measured first, before freed memory can hide it.
fn index_memory() {
    let (before, live_before) = (rss_kib(), LIVE.load(Ordering::Relaxed));
    let indexes = Indexes::default();
    for i in 0..UNRELATED {
        let p = pod(
            &format!("ns-{}", i % LBS),
            &format!("pod-{i:06}"),
            &[("app", "web"), ("pod-template-hash", &format!("{:x}", i % LBS))],
            i % NODES,
        );
        Indexes::observe(&indexes.pods, &Event::Apply(p));
    }
    for i in 0..LBS {
        Indexes::observe(&indexes.loadbalancers, &Event::Apply(load_balancer(&format!("ns-{i}"), "web", &[("app", "web")])));
    }
    let heap = LIVE.load(Ordering::Relaxed).saturating_sub(live_before);
    let rss = rss_kib().zip(before).map_or(0.0, |(after, before)| after.saturating_sub(before) as f64 / 1024.0);
    println!(
        "indexes of {UNRELATED} pods (2 labels each, 10 pods per namespace) and {LBS} LoadBalancers: {:.1} MiB on the heap ({} bytes per pod), {rss:.1} MiB of RSS",
        heap as f64 / (1024.0 * 1024.0),
        heap / UNRELATED
    );
    black_box(&indexes);
}

fn main() {
    index_memory();
    let round = Duration::from_millis(50);
    let spec = load_balancer(NAMESPACE, "web", &[("app", "web"), ("team", "shop")]).spec.backends;
    let event_pod = pod(NAMESPACE, "web-0", &[("app", "web"), ("team", "shop")], 0);
    let event_node = node(0);
    println!("# backend index: 1 LoadBalancer with 10 pods, {LBS} LoadBalancers, {NODES} nodes (CPU time per call, fastest of 21 rounds)");
    let mut worlds = Vec::new();
    for unrelated in [0, UNRELATED] {
        let live_before = LIVE.load(Ordering::Relaxed);
        let stores = world(unrelated);
        let heap = LIVE.load(Ordering::Relaxed).saturating_sub(live_before) as f64 / (1024.0 * 1024.0);
        let expected = backends::resolve(spec.as_ref(), NAMESPACE, &stores.pods.state(), &stores.nodes.state()).expect("resolve");
        assert_eq!(stores.resolve_backends(spec.as_ref(), NAMESPACE).expect("resolve"), expected, "the index answers as the scan");
        assert_eq!(expected.instances.len(), 10);
        assert_eq!(triggers::pod_to_loadbalancers_indexed(&stores, &event_pod).len(), 1);
        println!("{unrelated:>7} unrelated pods: {heap:.1} MiB of heap for the stores and indexes");
        worlds.push(stores);
    }
    // What a cached pod weighs however trimmed: k8s-openapi's structs keep every field.
    println!(
        "size of a Pod {} bytes, of its PodSpec {} and PodStatus {} (inline, trimmed or not), of a ContainerStatus {}, a PodCondition {}",
        std::mem::size_of::<Pod>(),
        std::mem::size_of::<PodSpec>(),
        std::mem::size_of::<PodStatus>(),
        std::mem::size_of::<ContainerStatus>(),
        std::mem::size_of::<PodCondition>()
    );
    let (none, many) = (&worlds[0], &worlds[1]);
    let resolve = |stores: &Stores| black_box(stores.resolve_backends(black_box(spec.as_ref()), NAMESPACE).ok());
    let scan = |stores: &Stores| {
        black_box(backends::resolve(black_box(spec.as_ref()), NAMESPACE, &stores.pods.state(), &stores.nodes.state()).ok())
    };
    let resolved =
        times(round, [&mut || drop(resolve(none)), &mut || drop(resolve(many)), &mut || drop(scan(none)), &mut || drop(scan(many))]);
    let pod_event = |stores: &Stores| black_box(triggers::pod_to_loadbalancers_indexed(stores, black_box(&event_pod)));
    let pod_scan = |stores: &Stores| black_box(triggers::pod_to_loadbalancers(&stores.loadbalancers, black_box(&event_pod)));
    let pods = times(
        round,
        [&mut || drop(pod_event(none)), &mut || drop(pod_event(many)), &mut || drop(pod_scan(none)), &mut || drop(pod_scan(many))],
    );
    let node_event = |stores: &Stores| black_box(triggers::node_to_loadbalancers_indexed(stores, black_box(&event_node)));
    let node_scan =
        |stores: &Stores| black_box(triggers::node_to_loadbalancers(&stores.loadbalancers, &stores.pods, black_box(&event_node)));
    let nodes = times(
        round,
        [&mut || drop(node_event(none)), &mut || drop(node_event(many)), &mut || drop(node_scan(none)), &mut || drop(node_scan(many))],
    );
    for (what, t) in [("resolve", resolved), ("pod event", pods), ("node event", nodes)] {
        println!(
            "{what:>10}: indexed {:>10.2?} with 0 unrelated pods, {:>10.2?} with {UNRELATED} | old scan {:>10.2?}, {:>10.2?}",
            t[0], t[1], t[2], t[3]
        );
    }
    let figures = [(resolved[0], pods[0]), (resolved[1], pods[1])];
    let ratio = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64();
    println!(
        "indexed, {UNRELATED} unrelated pods against none: resolve x{:.2}, pod event x{:.2} (target: within 10%)",
        ratio(figures[0].0, figures[1].0),
        ratio(figures[0].1, figures[1].1)
    );
}
