//! The reconcile loops: the LoadBalancer controller (ELB convergence, backends, health,
//! finalizer) and the HealthCheck controller (validation, `usedBy`).
//!
//! Caches: one reflector per kind (LoadBalancer, HealthCheck, Pod, Node). Each watch runs
//! once; its events are fanned out to the controllers that need them, and reconcilers read
//! the reflector stores, never the API.
//!
//! Triggers of a LoadBalancer reconcile: the LoadBalancer itself; a HealthCheck it references;
//! a Pod its podSelector matches (in its namespace); a Node its nodeSelector matches, that
//! backs a registered instance, or that runs a pod it selects (node events are filtered to
//! changes of labels, providerID and readiness). Plus the requeues for health polling and
//! the full resync (see [`loadbalancer`]).

pub mod backends;
pub mod context;
pub mod converge;
pub mod healthcheck;
pub mod loadbalancer;
pub mod ownership;
pub mod status;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{controller, watcher, Controller, WatchStreamExt};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tracing::{debug, info, warn};

pub use context::{Config, Context, ElbClients, Readiness};

use crate::crd::{HealthCheck, LoadBalancer};
use crate::telemetry::Metrics;

/// Every Kubernetes API call the controllers make: (apiGroup, resource, verbs). The chart's
/// RBAC must grant at least these (checked by a test on the chart).
pub const KUBE_API_CALLS: &[(&str, &str, &[&str])] = &[
    // Reflectors list and watch; the finalizer helper adds/removes the finalizer with a JSON patch.
    ("elb.operator.dev", "loadbalancers", &["list", "watch", "patch"]),
    // Status: server-side apply (a PATCH) on the status subresource.
    ("elb.operator.dev", "loadbalancers/status", &["patch"]),
    ("elb.operator.dev", "healthchecks", &["list", "watch"]),
    ("elb.operator.dev", "healthchecks/status", &["patch"]),
    ("", "pods", &["list", "watch"]),
    ("", "nodes", &["list", "watch"]),
    // kube's event Recorder creates events and patches repeats into a series.
    ("events.k8s.io", "events", &["create", "patch"]),
];

/// Runs the LoadBalancer and HealthCheck controllers until `shutdown` resolves, then lets
/// in-flight reconciles finish and returns. `config.readiness` turns ready when every cache
/// holds a full list, and not ready again when shutdown begins.
pub async fn run(
    config: Config,
    client: kube::Client,
    elb: impl ElbClients,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), crate::Error> {
    let shutdown = shutdown.boxed().shared();
    let readiness = config.readiness.clone();
    let wc = watcher::Config::default();

    let (lb_api, hc_api, pod_api): (Api<LoadBalancer>, Api<HealthCheck>, Api<Pod>) = match &config.namespace {
        Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns)),
        None => (Api::all(client.clone()), Api::all(client.clone()), Api::all(client.clone())),
    };
    let node_api: Api<Node> = Api::all(client.clone());

    let (lb_store, lb_synced, lb_driver, mut lb_rx) = reflect(lb_api, wc.clone(), 2, |_| {});
    let (hc_store, hc_synced, hc_driver, mut hc_rx) = reflect(hc_api, wc.clone(), 2, |_| {});
    let (pod_store, pod_synced, pod_driver, mut pod_rx) = reflect(pod_api, wc.clone(), 1, |_| {});
    let (node_store, node_synced, node_driver, mut node_rx) = reflect(node_api, wc, 1, |n: &mut Node| {
        // The controllers never read node images; they are most of a node's size.
        if let Some(s) = n.status.as_mut() {
            s.images = None;
        }
    });
    let stores = context::Stores {
        loadbalancers: lb_store.clone(),
        healthchecks: hc_store.clone(),
        pods: pod_store.clone(),
        nodes: node_store.clone(),
        synced: vec![lb_synced, hc_synced, pod_synced, node_synced],
    };
    let recorder = Recorder::new(client.clone(), Reporter { controller: config.reporter.clone(), instance: config.instance.clone() });
    let controller_config = controller::Config::default().concurrency(config.concurrency);
    let ctx = Arc::new(Context::new(client, config, Arc::new(elb), metrics, recorder, stores.clone()));

    let drivers: Vec<_> = [lb_driver, hc_driver, pod_driver, node_driver].into_iter().map(tokio::spawn).collect();
    let ready_task = tokio::spawn({
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
    });
    let not_ready_on_shutdown = tokio::spawn({
        let readiness = readiness.clone();
        let shutdown = shutdown.clone();
        async move {
            shutdown.await;
            readiness.set(false);
        }
    });

    let lbs = lb_store.clone();
    let lbs_for_pods = lb_store.clone();
    let lbs_for_nodes = lb_store.clone();
    let pods_for_nodes = pod_store.clone();
    let lb_controller = Controller::for_stream(lb_rx.remove(0).map(Ok), lb_store.clone())
        .with_config(controller_config.clone())
        .watches_stream(hc_rx.remove(0).map(Ok), move |hc: HealthCheck| {
            loadbalancer::referencing(&lbs.state(), hc.namespace().as_deref(), &hc.name_any())
        })
        .watches_stream(pod_rx.remove(0).map(Ok), move |pod: Pod| pod_to_loadbalancers(&lbs_for_pods, &pod))
        .watches_stream(
            node_rx.remove(0).map(Ok).predicate_filter(node_fingerprint, Default::default()),
            move |node: Node| node_to_loadbalancers(&lbs_for_nodes, &pods_for_nodes, &node),
        )
        .graceful_shutdown_on(shutdown.clone())
        .run(loadbalancer::reconcile, loadbalancer::error_policy, ctx.clone())
        .for_each(|r| async move {
            match r {
                Ok((obj, _)) => debug!(object = %obj, "reconciled"),
                Err(e) => debug!(error = %e, "reconcile did not complete"),
            }
        });

    let hcs = hc_store.clone();
    let hc_controller = Controller::for_stream(hc_rx.remove(0).map(Ok), hc_store)
        .with_config(controller_config)
        .watches_stream(lb_rx.remove(0).map(Ok), move |lb: LoadBalancer| {
            // A LoadBalancer that changed or dropped its reference must leave the old
            // HealthCheck's usedBy too: recompute every HealthCheck of its namespace.
            let ns = lb.namespace();
            hcs.state().iter().filter(|hc| hc.namespace() == ns).map(|hc| ObjectRef::from_obj(&**hc)).collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown.clone())
        .run(healthcheck::reconcile, healthcheck::error_policy, ctx.clone())
        .for_each(|r| async move {
            if let Err(e) = r {
                debug!(error = %e, "HealthCheck reconcile did not complete");
            }
        });

    info!("controllers starting");
    futures::future::join(lb_controller, hc_controller).await;
    info!("controllers stopped");
    readiness.set(false);
    ready_task.abort();
    not_ready_on_shutdown.abort();
    for d in drivers {
        d.abort();
    }
    Ok(())
}

/// One watch of `api` into a store, with its objects (deleted ones included) fanned out to
/// `outputs` receivers, and a flag set once the first full list is in the store. The
/// returned future drives the watch; it runs until aborted (watch errors are retried with
/// kube's default backoff).
fn reflect<K>(
    api: Api<K>,
    wc: watcher::Config,
    outputs: usize,
    trim: fn(&mut K),
) -> (Store<K>, watch::Receiver<bool>, BoxFuture<'static, ()>, Vec<mpsc::UnboundedReceiver<K>>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..outputs).map(|_| mpsc::unbounded()).unzip();
    let stream = watcher(api, wc)
        .default_backoff()
        .modify(move |obj: &mut K| {
            obj.meta_mut().managed_fields = None;
            trim(obj);
        })
        .reflect(writer);
    let (synced_tx, synced) = watch::channel(false);
    let driver = async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            // The reflector has applied the event to the store before yielding it.
            match item {
                Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)) => {
                    for tx in &senders {
                        let _ = tx.unbounded_send(obj.clone());
                    }
                }
                Ok(watcher::Event::Delete(mut obj)) => {
                    // Marked as deleted so that a predicate filter downstream (nodes) sees a
                    // change even when the object's last state carried no deletionTimestamp.
                    if obj.meta().deletion_timestamp.is_none() {
                        obj.meta_mut().deletion_timestamp =
                            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
                    }
                    for tx in &senders {
                        let _ = tx.unbounded_send(obj.clone());
                    }
                }
                Ok(watcher::Event::InitDone) => {
                    synced_tx.send_replace(true);
                }
                Ok(watcher::Event::Init) => {}
                Err(e) => warn!(kind = %K::kind(&()), error = %e, "watch failed; retrying"),
            }
        }
    }
    .boxed();
    (reader, synced, driver, receivers)
}

/// The LoadBalancers whose podSelector matches a pod.
fn pod_to_loadbalancers(lbs: &Store<LoadBalancer>, pod: &Pod) -> Vec<ObjectRef<LoadBalancer>> {
    lbs.state()
        .iter()
        .filter(|lb| backends::selects_pod(lb.spec.backends.as_ref(), &lb.namespace().unwrap_or_default(), pod))
        .map(|lb| ObjectRef::from_obj(&**lb))
        .collect()
}

/// The LoadBalancers a node change can affect.
fn node_to_loadbalancers(lbs: &Store<LoadBalancer>, pods: &Store<Pod>, node: &Node) -> Vec<ObjectRef<LoadBalancer>> {
    let node_name = node.name_any();
    let pods_on_node: Vec<Arc<Pod>> =
        pods.state().into_iter().filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node_name.as_str())).collect();
    lbs.state()
        .iter()
        .filter(|lb| {
            let ns = lb.namespace().unwrap_or_default();
            let backends = lb.spec.backends.as_ref();
            backends::selects_node(backends, node)
                || lb.status.as_ref().is_some_and(|s| s.instances.iter().any(|i| i.node.as_deref() == Some(node_name.as_str())))
                || pods_on_node.iter().any(|p| backends::selects_pod(backends, &ns, p))
        })
        .map(|lb| ObjectRef::from_obj(&**lb))
        .collect()
}

/// What of a node matters to backends: labels, providerID, readiness, deletion.
fn node_fingerprint(node: &Node) -> Option<u64> {
    Some(context::fingerprint(&(
        node.metadata.labels.as_ref(),
        node.spec.as_ref().and_then(|s| s.provider_id.as_deref()),
        backends::node_ready(node),
        node.metadata.deletion_timestamp.is_some(),
    )))
}
