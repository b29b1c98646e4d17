//! `elb-operator run`: wiring only. It builds the pieces each module owns and starts them in
//! order, then stops them in reverse.
//!
//! Start: ELB client configuration (invalid `--elb-*` flags exit here) → Kubernetes client
//! (`Config::infer`: in-cluster service account, else KUBECONFIG / `~/.kube/config`) → CRD
//! check (exit with an install hint) → HTTP server → leader election → controllers while
//! this process leads ([`crate::leader::supervise`]).
//!
//! Stop (SIGTERM or SIGINT): the controllers stop first and their in-flight reconciles
//! finish (bounded by `--shutdown-timeout`), while the lease keeps being renewed; then the
//! lease is released (holderIdentity cleared) so a standby takes over at once; the HTTP
//! server stops last, so probes keep answering during shutdown.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cli::RunArgs;
use crate::http::Health;
use crate::leader::{Election, LeaderElector, LeaseConfig, Role, Shards, SuperviseError};
use crate::telemetry::Metrics;

/// Why `elb-operator run` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),

    #[error("ELB client configuration: {0}")]
    ElbConfig(#[source] crate::aws::Error),

    #[error("EC2 client configuration (--ec2-endpoint): {0}")]
    Ec2Config(#[source] crate::aws::Error),

    #[error(
        "the CustomResourceDefinitions for {missing:?} ({group}/{version}) are not installed; \
         install them with `kubectl apply -f crds/` (or `elb-operator crdgen | kubectl apply -f -`), \
         or install the Helm chart, which ships them",
        group = crate::crd::GROUP,
        version = crate::crd::VERSION
    )]
    CrdsMissing { missing: Vec<String> },

    #[error("cannot bind the HTTP server to {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("HTTP server failed: {0}")]
    Http(#[source] std::io::Error),

    #[error("--shards {0} needs leader election: the shards are held through Leases (drop --leader-election=false)")]
    ShardsWithoutLeaderElection(u32),

    #[error(transparent)]
    Supervise(#[from] SuperviseError),
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

/// `elb-operator run`. Logs are set up by the caller (`main`), before anything can fail.
pub async fn run(args: RunArgs) -> Result<(), Error> {
    crate::aws::install_crypto_provider();

    // Invalid ELB flags or credential settings stop the process here, not on a later
    // leadership win.
    let metrics = Metrics::new();
    let elb_config = elb_client_config(&args, &metrics).map_err(Error::ElbConfig)?;
    // The EC2 client of the reachability check shares the ELB client's credentials and knobs.
    let ec2_config = match args.reachability_check {
        true => Some(ec2_client_config(&args, &elb_config, &metrics).map_err(Error::Ec2Config)?),
        false => None,
    };

    if args.shards > 1 && !args.leader_election {
        return Err(Error::ShardsWithoutLeaderElection(args.shards));
    }
    // One identity for every lease of this process; the API server's audit log (and the
    // test stand-in's request log) tells the replicas apart by the user agent naming it.
    let identity = crate::leader::default_identity(args.identity());
    let mut kube_config = kube::Config::infer().await.map_err(|e| Error::Kube(kube::Error::InferConfig(e)))?;
    let agent = format!("elb-operator/{} ({identity})", env!("CARGO_PKG_VERSION"));
    if let Ok(agent) = http::HeaderValue::from_str(&agent) {
        kube_config.headers.push((http::header::USER_AGENT, agent));
    }
    let client = kube::Client::try_from(kube_config)?;
    let missing = crate::crd::missing_crds(&client).await?;
    if !missing.is_empty() {
        return Err(Error::CrdsMissing { missing });
    }
    tracing::info!(
        cluster = %args.cluster_name,
        region = %args.region,
        namespace = args.watch_namespace().as_deref().unwrap_or("<all>"),
        "CRDs installed; starting"
    );

    let health = Health::new(if args.leader_election { Election::Starting } else { Election::Disabled });
    let listener = tokio::net::TcpListener::bind(args.http_bind).await.map_err(|source| Error::Bind { addr: args.http_bind, source })?;
    tracing::info!(addr = %listener.local_addr().unwrap_or(args.http_bind), "serving /metrics, /healthz and /readyz");
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

    let lease = {
        let namespace = args.lease_namespace.clone().unwrap_or_else(|| client.default_namespace().to_string());
        LeaseConfig::new(&args.lease_name, namespace, identity.clone(), args.lease_duration)
    };
    // The clients of one leadership term, from the ELB client's settings (with the fence of
    // the term): attach and detach are writes, so the AutoScaling client shares that fence;
    // the reachability check's EC2 client only reads.
    let controllers = |shards: Option<Shards>, elb_config: crate::aws::ClientConfig| -> Result<_, Error> {
        // One leader: its reconciles' Kubernetes writes stop at the lease's fence, as its ELB
        // writes do (with shards, each shard's fence does that).
        let lease_fence = if shards.is_none() { elb_config.fence.clone() } else { None };
        let config = crate::controller::Config { shards, lease_fence, ..controller_config(&args, &health) };
        let session = crate::aws::credentials::assume_role::session_name(&[&args.cluster_name]);
        let autoscaling_config = crate::autoscaling::client_config_from_env(&elb_config, None)
            .map_err(Error::ElbConfig)?
            .with_metrics(metrics.autoscaling.clone());
        let (client, metrics, ec2_config) = (client.clone(), metrics.clone(), ec2_config.clone());
        // Fresh clients (and budgets) for each leadership term.
        Ok(move |stop: CancellationToken| {
            let elb = crate::elb::Clients::new(elb_config.clone()).with_session_name(session.clone());
            let ec2 = ec2_config.clone().map(|c| elb.beside::<crate::ec2::Client>(c));
            let autoscaling = elb.beside(autoscaling_config.clone());
            let clients = crate::controller::AwsClients { elb, autoscaling, ec2 };
            crate::controller::run(config.clone(), client.clone(), clients, metrics.clone(), stop.cancelled_owned())
        })
    };
    let result = if args.shards > 1 {
        // One candidate per shard; each reconcile carries its shard's fence, so the client's
        // own fence stays closed: a write outside any shard is refused.
        let shards = Shards::new(args.shards, &identity);
        let roles = (0..args.shards).flat_map(|i| [Role::Member(i), Role::Shard(i)]);
        let electors = roles.map(|role| LeaderElector::for_role(client.clone(), lease.clone(), &shards, role)).collect();
        let run = controllers(Some(shards), elb_config.with_fence(crate::aws::Fence::default()))?;
        crate::leader::supervise_shards(electors, health.clone(), shutdown, args.shutdown_timeout, run).await
    } else {
        let elector = args.leader_election.then(|| LeaderElector::new(client.clone(), lease));
        // With leader election, every mutating ELB call is fenced by the lease.
        let elb_config = match elector.as_ref().map(LeaderElector::fence) {
            Some(fence) => elb_config.with_fence(fence),
            None => elb_config,
        };
        let run = controllers(None, elb_config)?;
        crate::leader::supervise(elector, health.clone(), shutdown, args.shutdown_timeout, run).await
    }
    .map_err(Error::from);

    http_stop.cancel();
    match tokio::time::timeout(Duration::from_secs(5), http_task).await {
        Ok(Ok(Err(e))) => result.and(Err(Error::Http(e))),
        _ => result,
    }
}

/// The controllers' settings from the command line; they report caches synced on `health`.
fn controller_config(args: &RunArgs, health: &Health) -> crate::controller::Config {
    crate::controller::Config {
        cluster_name: args.cluster_name.clone(),
        namespace: args.watch_namespace(),
        default_region: args.region.clone(),
        allowed_role_arns: args.allowed_role_arns.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect(),
        require_class: args.require_class,
        health_poll_interval: args.health_poll_interval,
        status_refresh: args.status_refresh,
        resync_interval: args.resync_interval,
        concurrency: args.concurrency,
        // Events name the process that wrote them (the pod name in a cluster).
        instance: args.identity(),
        readiness: health.caches(),
        ..crate::controller::Config::default()
    }
}

/// The ELB client configuration ([`crate::elb::ElbArgs::client_config`]) with the operator's
/// metrics.
pub fn elb_client_config(args: &RunArgs, metrics: &Metrics) -> Result<crate::aws::ClientConfig, crate::aws::Error> {
    Ok(args.elb.client_config_from_env(&args.region)?.with_metrics(metrics.elb.clone()))
}

/// The EC2 client configuration of the reachability check ([`crate::ec2::client_config`]:
/// `--ec2-endpoint`, else the EC2 endpoint variables) with the operator's metrics.
pub fn ec2_client_config(
    args: &RunArgs,
    elb: &crate::aws::ClientConfig,
    metrics: &Metrics,
) -> Result<crate::aws::ClientConfig, crate::aws::Error> {
    Ok(crate::ec2::client_config_from_env(elb, args.ec2_endpoint.as_deref())?.with_metrics(metrics.ec2.clone()))
}
