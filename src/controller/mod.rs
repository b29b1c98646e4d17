//! The reconcile loops: the LoadBalancer controller (ELB convergence, backends, health,
//! finalizer) and the HealthCheck controller (validation, `usedBy`), wired to their caches
//! ([`cache`]) and triggers ([`triggers`]).
//!
//! Triggers of a LoadBalancer reconcile: the LoadBalancer itself (not its status: the
//! operator's own writes come back as events and are filtered out); a HealthCheck it
//! references (its spec or existence, not its status);
//! a Pod its podSelector matches (in its namespace), or matched before the pod's relabel;
//! a Node its nodeSelector matches, that backs a registered instance, or that runs a pod it
//! selects (node events are filtered to changes of labels, providerID and readiness); a LoadBalancerClass it names, or any class
//! when it names none (the default may move); a label change of its Namespace. Plus the objects the [`schedule`] routes
//! back: a resync after drift, a poll or check result to write (poll results mostly go to
//! the health writer beside the reconcile queue); and a retry after a failure
//! ([`loadbalancer::error_policy`]). No timer requeues an object that converged.
//! HealthChecks are also all recomputed once per resync interval.

pub mod backends;
pub mod cache;
pub mod clients;
pub mod config;
pub mod context;
pub mod events;
pub mod fingerprint;
pub mod gates;
pub mod groups;
pub mod handover;
pub mod healthcheck;
pub mod index;
pub mod loadbalancer;
pub mod observer;
pub mod reconciler;
pub mod retry;
pub mod schedule;
pub mod scope;
pub mod sharding;
pub mod status;
pub mod triggers;

use std::future::Future;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::Api;
use kube::core::error_boundary::DeserializeGuard;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{controller, watcher, Controller, WatchStreamExt};
use kube::ResourceExt;
use tracing::{debug, info, warn};

pub use clients::{AwsClients, ClientsByScope};
pub use config::Config;
pub use context::Context;
pub use scope::Scope;

use crate::crd::{HealthCheck, LoadBalancer, LoadBalancerClass};
use crate::telemetry::Metrics;

/// Runs the LoadBalancer and HealthCheck controllers until `shutdown` resolves, then lets
/// in-flight reconciles finish and returns. `config.readiness` turns ready when every cache
/// holds a full list, and not ready again when shutdown begins.
pub async fn run(
    config: Config,
    client: kube::Client,
    aws: impl ClientsByScope,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), crate::Error> {
    let shutdown = shutdown.boxed().shared();
    let readiness = config.readiness.clone();
    let wc = watcher::Config::default();

    // Every watch decodes through a guard, so that one bad object cannot stop its kind.
    fn watched<K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>>(
        client: &kube::Client,
        namespace: Option<&str>,
    ) -> Api<DeserializeGuard<K>> {
        match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let ns = config.namespace.as_deref();
    let (lb_api, hc_api, pod_api) =
        (watched::<LoadBalancer>(&client, ns), watched::<HealthCheck>(&client, ns), watched::<Pod>(&client, ns));
    let node_api: Api<DeserializeGuard<Node>> = Api::all(client.clone());
    let recorder = Recorder::new(client.clone(), Reporter { controller: config.reporter.clone(), instance: config.instance.clone() });
    // Pods, nodes and podSelectors by namespace and label, updated by the watches that fill
    // the stores: a reconcile or a pod event then costs what it selects, not the cluster.
    let indexes = Arc::new(index::Indexes::default());
    let observe_lbs = {
        let indexes = indexes.clone();
        move |e: &watcher::Event<LoadBalancer>| index::Indexes::observe(&indexes.loadbalancers, e)
    };
    let (lb_store, lb_synced, lb_driver, mut lb_rx) = cache::reflect_with(
        lb_api,
        wc.clone(),
        2,
        |_| {},
        events::report_invalid::<LoadBalancer>(recorder.clone(), config.shards.clone()),
        observe_lbs,
    );
    let (hc_store, hc_synced, hc_driver, mut hc_rx) =
        cache::reflect(hc_api, wc.clone(), 2, |_| {}, events::report_invalid::<HealthCheck>(recorder.clone(), config.shards.clone()));
    let observe_pods = {
        let indexes = indexes.clone();
        move |e: &watcher::Event<Pod>| index::Indexes::observe(&indexes.pods, e)
    };
    let (pod_store, pod_synced, pod_driver, mut pod_rx) = cache::reflect_with(
        pod_api,
        wc.clone(),
        1,
        backends::trim_pod,
        events::report_invalid::<Pod>(recorder.clone(), config.shards.clone()),
        observe_pods,
    );
    let trim_node = |n: &mut Node| {
        // The controllers never read node images; they are most of a node's size.
        if let Some(s) = n.status.as_mut() {
            s.images = None;
        }
    };
    let observe_nodes = {
        let indexes = indexes.clone();
        move |e: &watcher::Event<Node>| index::Indexes::observe(&indexes.nodes, e)
    };
    let (node_store, node_synced, node_driver, mut node_rx) = cache::reflect_with(
        node_api,
        wc.clone(),
        1,
        trim_node,
        events::report_invalid::<Node>(recorder.clone(), config.shards.clone()),
        observe_nodes,
    );
    let class_api: Api<DeserializeGuard<LoadBalancerClass>> = Api::all(client.clone());
    let (class_store, class_synced, class_driver, mut class_rx) = cache::reflect(
        class_api,
        watcher::Config::default(),
        1,
        |_| {},
        events::report_invalid::<LoadBalancerClass>(recorder.clone(), config.shards.clone()),
    );
    // The namespaces' labels, for the classes' namespaceSelectors: only the watched one when
    // the operator watches one namespace.
    let ns_api: Api<DeserializeGuard<Namespace>> = Api::all(client.clone());
    let ns_wc = match ns {
        Some(ns) => watcher::Config::default().fields(&format!("metadata.name={ns}")),
        None => watcher::Config::default(),
    };
    let (ns_store, ns_synced, ns_driver, mut ns_rx) =
        cache::reflect(ns_api, ns_wc, 1, cache::trim_namespace, events::report_invalid::<Namespace>(recorder.clone(), None));
    let stores = cache::Stores {
        loadbalancers: lb_store.clone(),
        healthchecks: hc_store.clone(),
        pods: pod_store.clone(),
        nodes: node_store.clone(),
        classes: class_store.clone(),
        namespaces: ns_store.clone(),
        synced: vec![lb_synced, hc_synced, pod_synced, node_synced, class_synced, ns_synced],
        indexes,
    };
    let mut config = config;
    if config.cluster_uid.is_none() {
        config.cluster_uid = cluster_uid(&client).await;
    }
    let controller_config = controller::Config::default().concurrency(config.concurrency);
    // The observers trigger resyncs and health-status writes through this channel.
    let (triggers, triggered) = futures::channel::mpsc::unbounded();
    // A gained shard triggers its HealthChecks through this one.
    let (hc_triggers, hc_triggered) = futures::channel::mpsc::unbounded();
    let shards = config.shards.clone();
    let ctx = Arc::new(Context::new(client, config, Arc::new(aws), metrics, recorder, stores.clone(), triggers.clone()));

    // Every task spawned here ends with this function, on every path out: also when the
    // caller drops it because the grace period after losing the lease ran out.
    let mut tasks = Tasks(vec![], ctx.clone());
    tasks.0.extend([lb_driver, hc_driver, pod_driver, node_driver, class_driver, ns_driver].into_iter().map(tokio::spawn));
    if let Some(shards) = shards.clone() {
        tasks.0.push(tokio::spawn(handover::follow(shards, ctx.clone(), lb_store.clone(), hc_store.clone(), triggers, hc_triggers)));
    }
    tasks.0.push(tokio::spawn({
        let readiness = readiness.clone();
        let stores = stores.clone();
        async move {
            // Bounded per attempt; the stores only fail to fill while the API is unreachable.
            for _ in 0..u16::MAX {
                if stores.wait_ready(std::time::Duration::from_secs(60)).await {
                    info!("caches synced; controllers ready");
                    readiness.set(true);
                    return;
                }
                warn!("caches not synced after 60s; still waiting");
            }
        }
    }));
    tasks.0.push(tokio::spawn({
        let readiness = readiness.clone();
        let shutdown = shutdown.clone();
        async move {
            shutdown.await;
            readiness.set(false);
        }
    }));

    let lbs = lb_store.clone();
    let stores_for_pods = stores.clone();
    let stores_for_nodes = stores.clone();
    let lbs_for_classes = lb_store.clone();
    let lbs_for_namespaces = lb_store.clone();
    let hcs_present = hc_store.clone();
    let hc_events = hc_rx.remove(0).map(Ok).predicate_filter(
        move |hc: &HealthCheck| triggers::health_check_fingerprint(hc, hcs_present.get(&ObjectRef::from_obj(hc)).is_some()),
        Default::default(),
    );
    // The operator's own status writes come back as events: they trigger nothing.
    let gone_ctx = ctx.clone();
    let lb_events = lb_rx
        .remove(0)
        .inspect(move |lb| loadbalancer::forget_if_deleted(&gone_ctx, lb))
        .map(Ok)
        .predicate_filter(triggers::loadbalancer_fingerprint, Default::default());
    let lb_controller = Controller::for_stream(lb_events, lb_store.clone())
        .with_config(controller_config.clone())
        .watches_stream(hc_events, move |hc: HealthCheck| {
            triggers::health_check_to_loadbalancers(&lbs, &hc.namespace().unwrap_or_default(), &hc.name_any())
        })
        .watches_stream(pod_rx.remove(0).map(Ok), move |pod: Pod| triggers::pod_to_loadbalancers_indexed(&stores_for_pods, &pod))
        .watches_stream(node_rx.remove(0).map(Ok).predicate_filter(triggers::node_fingerprint, Default::default()), move |node: Node| {
            triggers::node_to_loadbalancers_indexed(&stores_for_nodes, &node)
        })
        // A class change re-evaluates the LoadBalancers it may apply to; a namespace's label
        // change, that namespace's.
        .watches_stream(class_rx.remove(0).map(Ok), move |class: LoadBalancerClass| {
            triggers::class_to_loadbalancers(&lbs_for_classes, &class)
        })
        .watches_stream(
            ns_rx.remove(0).map(Ok).predicate_filter(triggers::namespace_fingerprint, Default::default()),
            move |ns: Namespace| triggers::namespace_to_loadbalancers(&lbs_for_namespaces, &ns),
        )
        .reconcile_on(triggered)
        .graceful_shutdown_on(shutdown.clone())
        .run(loadbalancer::reconcile, loadbalancer::error_policy, ctx.clone())
        .for_each(|r| async move {
            match r {
                Ok((obj, _)) => debug!(object = %obj, "reconciled"),
                Err(e) => debug!(error = %e, "reconcile did not complete"),
            }
        });

    let users = triggers::HealthCheckUsers::default();
    let lbs_present = lb_store.clone();
    let hc_controller = Controller::for_stream(hc_rx.remove(0).map(Ok), hc_store)
        .with_config(controller_config)
        .watches_stream(lb_rx.remove(0).map(Ok), move |lb: LoadBalancer| {
            users.changed(&lb, lbs_present.get(&ObjectRef::from_obj(&lb)).is_some())
        })
        .reconcile_on(hc_triggered)
        // `usedBy` follows LoadBalancer events; a LoadBalancer deleted while the watch was
        // down sends none, so every HealthCheck is recomputed once per resync interval too.
        .reconcile_all_on(every(ctx.config.resync_interval))
        .graceful_shutdown_on(shutdown.clone())
        .run(healthcheck::reconcile, healthcheck::error_policy, ctx.clone())
        .for_each(|r| async move {
            if let Err(e) = r {
                debug!(error = %e, "HealthCheck reconcile did not complete");
            }
        });

    // Poll results are written beside the reconcile queue, in the order they came, by as
    // many writers as there are reconcile slots.
    let health_writer = match ctx.schedule.health_writes() {
        Some(queue) => {
            let ctx = ctx.clone();
            queue
                .take_until(shutdown.clone())
                .for_each_concurrent(usize::from(ctx.config.concurrency), move |key| loadbalancer::write_health(key, ctx.clone()))
                .boxed()
        }
        None => futures::future::ready(()).boxed(),
    };

    info!("controllers starting");
    // The controllers run only while this process leads (or without leader election); with
    // shards they run all along, and `sharding::follow` keeps the gauge.
    if shards.is_none() {
        ctx.metrics.leader.set(1);
    }
    futures::future::join3(lb_controller, hc_controller, health_writer).await;
    info!("controllers stopped");
    ctx.metrics.leader.set(0);
    readiness.set(false);
    drop(tasks);
    Ok(())
}

/// The UID of the `kube-system` Namespace: this cluster's identity in the ownership tags.
/// `None` (logged) when it cannot be read; ELBs then carry no `cluster-uid` tag.
async fn cluster_uid(client: &kube::Client) -> Option<String> {
    match crate::crd::tags::cluster_uid(client).await {
        Ok(uid) => uid,
        Err(e) => {
            warn!(error = %e, "could not read the kube-system namespace; ELBs get no cluster-uid tag");
            None
        }
    }
}

/// A tick every `period`, the first after one period.
fn every(period: std::time::Duration) -> impl futures::Stream<Item = ()> + Send + 'static {
    futures::stream::unfold((), move |()| async move {
        tokio::time::sleep(period).await;
        Some(((), ()))
    })
}

/// Tasks spawned for one run of the controllers, and the schedule's observers: aborted
/// when the run ends or is dropped.
struct Tasks(Vec<tokio::task::JoinHandle<()>>, Arc<Context>);

impl Drop for Tasks {
    fn drop(&mut self) {
        self.1.metrics.leader.set(0);
        for t in &self.0 {
            t.abort();
        }
        self.1.schedule.scopes.stop();
    }
}
