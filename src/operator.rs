//! `elb-operator run`: wires telemetry, the Kubernetes client, the CRD check, the HTTP
//! endpoints, leader election and the controllers, and stops them in order.
//!
//! Start: logs → ELB client configuration (invalid `--elb-*` flags exit here) → Kubernetes
//! client (`Config::infer`: in-cluster service account, else KUBECONFIG / `~/.kube/config`)
//! → CRD check (exit with an install hint) → HTTP server →
//! leader election → controllers while this process leads.
//!
//! Stop (SIGTERM or SIGINT): the controllers stop first and their in-flight reconciles
//! finish (bounded by `--shutdown-timeout`), while the lease keeps being renewed; then the
//! lease is released (holderIdentity cleared) so a standby takes over at once; the HTTP
//! server stops last, so probes keep answering during shutdown.
//!
//! Losing the lease stops the controllers the same way; the process then stays as a
//! standby and may lead again later.

use std::future::Future;
use std::time::Duration;

use kube::Resource;
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cli::RunArgs;
use crate::crd::{HealthCheck, LoadBalancer};
use crate::http::Health;
use crate::leader::{Election, LeaderElector, LeaseConfig};
use crate::telemetry::{self, Metrics};

/// Why `elb-operator run` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    LogFilter(#[from] telemetry::LogFilterError),

    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),

    #[error("ELB client configuration: {0}")]
    ElbConfig(#[source] crate::elb::Error),

    #[error(
        "the CustomResourceDefinitions for {missing:?} ({group}/{version}) are not installed; \
         install them with `kubectl apply -f crds/` (or `elb-operator crdgen | kubectl apply -f -`), \
         or install the Helm chart, which ships them"
    )]
    CrdsMissing { group: &'static str, version: &'static str, missing: Vec<String> },

    #[error("cannot bind the HTTP server to {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("HTTP server failed: {0}")]
    Http(#[source] std::io::Error),

    #[error("controllers failed: {0}")]
    Controllers(#[source] crate::Error),

    #[error("controllers stopped without being asked to")]
    ControllersExited,
}

/// Which namespace an RBAC rule must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    /// The watched namespace (all namespaces, or `--watch-namespace`); cluster-scoped
    /// resources such as nodes always need a ClusterRole.
    Watched,
    /// The operator's own namespace (the lease).
    Own,
}

/// One kind of Kubernetes API call the operator makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiCall {
    /// API group, `""` for core.
    pub group: String,
    /// Resource, with the subresource after a slash (`loadbalancers/status`).
    pub resource: String,
    pub verbs: Vec<String>,
    pub scope: Scope,
}

/// The controllers' API calls (see [`crate::controller::KUBE_API_CALLS`]).
use crate::controller::KUBE_API_CALLS as CONTROLLER_API_CALLS;

/// `update` on the `finalizers` subresource of both resources. No request goes there; the
/// permission is what admission checks (OwnerReferencesPermissionEnforcement, on by default
/// on OpenShift) ask of a controller that manages finalizers and owner references of its
/// resources, so the chart grants it as kubebuilder-generated operators do.
pub const FINALIZER_PERMISSIONS: &[(&str, &str, &[&str])] = &[
    ("elb.operator.dev", "loadbalancers/finalizers", &["update"]),
    ("elb.operator.dev", "healthchecks/finalizers", &["update"]),
];

/// The API calls of the leader elector ([`crate::leader`]).
pub const LEADER_ELECTION_API_CALLS: &[(&str, &str, &[&str])] =
    &[("coordination.k8s.io", "leases", &["get", "create", "update"])];

/// Every Kubernetes API call the operator makes (the controllers' and the leader
/// elector's), plus [`FINALIZER_PERMISSIONS`]: what the chart's RBAC must grant.
/// The CRD check uses discovery (`/apis/elb.operator.dev/v1alpha1`), which every
/// authenticated client may read, so it needs no rule.
pub fn kube_api_calls() -> Vec<ApiCall> {
    let to_calls = |list: &[(&str, &str, &[&str])], scope| {
        list.iter()
            .map(move |(group, resource, verbs)| ApiCall {
                group: group.to_string(),
                resource: resource.to_string(),
                verbs: verbs.iter().map(|v| v.to_string()).collect(),
                scope,
            })
            .collect::<Vec<_>>()
    };
    let mut calls = to_calls(CONTROLLER_API_CALLS, Scope::Watched);
    calls.extend(to_calls(FINALIZER_PERMISSIONS, Scope::Watched));
    calls.extend(to_calls(LEADER_ELECTION_API_CALLS, Scope::Own));
    calls
}

/// Checks through discovery that both custom resources are served.
pub async fn check_crds(client: &kube::Client) -> Result<(), Error> {
    let group = crate::crd::GROUP;
    let version = crate::crd::VERSION;
    let wanted = [LoadBalancer::plural(&()).to_string(), HealthCheck::plural(&()).to_string()];
    let served: Vec<String> = match client.list_api_group_resources(&format!("{group}/{version}")).await {
        Ok(list) => list.resources.into_iter().map(|r| r.name).collect(),
        Err(kube::Error::Api(s)) if s.is_not_found() => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let missing: Vec<String> = wanted.into_iter().filter(|w| !served.contains(w)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::CrdsMissing { group, version, missing })
    }
}

/// Waits for `fut` until `stop` is cancelled, then gives it `grace` to finish on its own.
async fn run_until_stopped<F>(fut: F, stop: &CancellationToken, grace: Duration) -> Option<F::Output>
where
    F: Future,
{
    tokio::pin!(fut);
    tokio::select! {
        out = &mut fut => return Some(out),
        _ = stop.cancelled() => {}
    }
    match tokio::time::timeout(grace, fut).await {
        Ok(out) => Some(out),
        Err(_) => {
            tracing::warn!(?grace, "controllers did not stop in time; abandoning in-flight reconciles");
            None
        }
    }
}

/// Runs `controllers` while this process may reconcile, until `shutdown` is cancelled.
///
/// - Without an elector the controllers run at once.
/// - With one, they run only while it holds the lease; their stop token is cancelled when
///   the lease is lost or on shutdown, and they get `grace` to finish in-flight work.
///   After they stopped, the elector releases the lease.
///
/// `controllers` is called each time this process becomes leader; it must stop writing
/// once its token is cancelled, and mark caches synced on `health` when they are.
pub async fn supervise<F, Fut>(
    elector: Option<LeaderElector>,
    health: Health,
    shutdown: CancellationToken,
    grace: Duration,
    mut controllers: F,
) -> Result<(), Error>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = crate::Result<()>>,
{
    let Some(elector) = elector else {
        health.set_election(Election::Disabled);
        let stop = shutdown.child_token();
        let out = run_until_stopped(controllers(stop.clone()), &stop, grace).await;
        health.set_caches_synced(false);
        return finished(out, &stop);
    };

    let (state_tx, mut state_rx) = watch::channel(Election::Starting);
    health.set_election(Election::Starting);
    let elector_stop = CancellationToken::new();
    // If this future is dropped, the elector stops too instead of leading on its own.
    let _elector_guard = elector_stop.clone().drop_guard();
    let elector_task = tokio::spawn(elector.run(state_tx, elector_stop.clone().cancelled_owned()));
    let mirror = {
        let mut rx = state_rx.clone();
        let health = health.clone();
        tokio::spawn(async move {
            loop {
                let state = *rx.borrow_and_update();
                health.set_election(state);
                if rx.changed().await.is_err() {
                    break;
                }
            }
        })
    };

    let result = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            leader = state_rx.wait_for(|e| *e == Election::Leader) => {
                if leader.is_err() {
                    break Ok(()); // The elector ended; nothing more to lead.
                }
            }
        }
        tracing::info!("leading: starting the controllers");
        let stop = shutdown.child_token();
        let on_lost = {
            let mut rx = state_rx.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let _ = rx.wait_for(|e| *e != Election::Leader).await;
                stop.cancel();
            })
        };
        let out = run_until_stopped(controllers(stop.clone()), &stop, grace).await;
        on_lost.abort();
        health.set_caches_synced(false);
        if let Err(e) = finished(out, &stop) {
            stop.cancel();
            break Err(e);
        }
        if shutdown.is_cancelled() {
            break Ok(());
        }
        tracing::warn!("the lease was lost: controllers stopped; continuing as standby");
    };

    // Only now, with the controllers stopped, give up the lease.
    elector_stop.cancel();
    if tokio::time::timeout(grace, elector_task).await.is_err() {
        tracing::warn!("leader election did not stop in time");
    }
    mirror.abort();
    result
}

fn finished(out: Option<crate::Result<()>>, stop: &CancellationToken) -> Result<(), Error> {
    match out {
        Some(Ok(())) if stop.is_cancelled() => Ok(()),
        Some(Ok(())) => Err(Error::ControllersExited),
        Some(Err(e)) => Err(Error::Controllers(e)),
        None => Ok(()),
    }
}

/// Completes on the first SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `elb-operator run`.
pub async fn run(args: RunArgs) -> Result<(), Error> {
    telemetry::init_tracing(args.log_format, &args.log_level)?;
    // The ELB client (reqwest with rustls) needs a process-wide crypto provider; a second
    // installation attempt is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();

    // Invalid ELB flags or credential settings stop the process here, not on a later
    // leadership win.
    let metrics = Metrics::new();
    let elb_config = elb_client_config(&args, &metrics).map_err(Error::ElbConfig)?;

    let client = kube::Client::try_default().await?;
    check_crds(&client).await?;
    tracing::info!(
        cluster = %args.cluster_name,
        region = %args.region,
        namespace = args.watch_namespace().as_deref().unwrap_or("<all>"),
        "CRDs installed; starting"
    );

    let health = Health::new(if args.leader_election { Election::Starting } else { Election::Disabled });
    let listener = tokio::net::TcpListener::bind(args.http_bind)
        .await
        .map_err(|source| Error::Bind { addr: args.http_bind, source })?;
    let http_stop = CancellationToken::new();
    let http_task = tokio::spawn(crate::http::serve(listener, metrics.clone(), health.clone(), http_stop.clone().cancelled_owned()));

    let shutdown = CancellationToken::new();
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested; finishing in-flight work");
            shutdown.cancel();
        });
    }

    let elector = args.leader_election.then(|| {
        let namespace = args.lease_namespace.clone().unwrap_or_else(|| client.default_namespace().to_string());
        let identity = crate::leader::default_identity(args.leader_identity.clone());
        LeaderElector::new(client.clone(), LeaseConfig::new(&args.lease_name, namespace, identity, args.lease_duration))
    });

    let result = supervise(elector, health.clone(), shutdown, args.shutdown_timeout, |stop| {
        start_controllers(args.clone(), elb_config.clone(), client.clone(), metrics.clone(), health.clone(), stop)
    })
    .await;

    http_stop.cancel();
    match tokio::time::timeout(Duration::from_secs(5), http_task).await {
        Ok(Ok(Err(e))) => result.and(Err(Error::Http(e))),
        _ => result,
    }
}

/// The ELB client configuration ([`crate::elb::ElbArgs::client_config`]) with the operator's
/// metrics.
pub fn elb_client_config(args: &RunArgs, metrics: &Metrics) -> Result<crate::elb::ClientConfig, crate::elb::Error> {
    Ok(args.elb.client_config_from_env(&args.region)?.with_metrics(metrics.elb.clone()))
}

/// Starts the controllers with the settings of `args` and ELB clients built from
/// `elb_config`; they stop when `stop` is cancelled and mark `health` synced once their
/// caches are.
async fn start_controllers(
    args: RunArgs,
    elb_config: crate::elb::ClientConfig,
    client: kube::Client,
    metrics: Metrics,
    health: Health,
    stop: CancellationToken,
) -> crate::Result<()> {
    // One client per region, built on demand; `elb::Clients` is the controllers' `ElbClients`.
    let clients = crate::elb::Clients::new(elb_config);
    let readiness = crate::controller::Readiness::default();
    let config = crate::controller::Config {
        cluster_name: args.cluster_name.clone(),
        namespace: args.watch_namespace(),
        default_region: args.region.clone(),
        health_poll_interval: args.health_poll_interval,
        resync_interval: args.resync_interval,
        concurrency: args.concurrency,
        // Events name the process that wrote them (the pod name in a cluster).
        instance: args.leader_identity.clone(),
        readiness: readiness.clone(),
        ..crate::controller::Config::default()
    };
    let synced = tokio::spawn(async move {
        readiness.wait().await;
        health.set_caches_synced(true);
    });
    let out = crate::controller::run(config, client, clients, metrics, stop.cancelled_owned()).await;
    synced.abort();
    out
}
