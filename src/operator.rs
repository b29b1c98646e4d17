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
use crate::leader::{Election, LeaderElector, LeaseConfig, SuperviseError};
use crate::telemetry::Metrics;

/// Why `elb-operator run` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),

    #[error("ELB client configuration: {0}")]
    ElbConfig(#[source] crate::elb::Error),

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
    crate::elb::install_crypto_provider();

    // Invalid ELB flags or credential settings stop the process here, not on a later
    // leadership win.
    let metrics = Metrics::new();
    let elb_config = elb_client_config(&args, &metrics).map_err(Error::ElbConfig)?;

    let client = kube::Client::try_default().await?;
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

    // With leader election, every mutating ELB call is fenced by the lease.
    let elb_config = match elector.as_ref().map(LeaderElector::fence) {
        Some(fence) => elb_config.with_fence(fence),
        None => elb_config,
    };
    let result = crate::leader::supervise(elector, health.clone(), shutdown, args.shutdown_timeout, |stop| {
        let config = controller_config(&args, &health);
        let clients = crate::elb::Clients::new(elb_config.clone());
        crate::controller::run(config, client.clone(), clients, metrics.clone(), stop.cancelled_owned())
    })
    .await
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
        health_poll_interval: args.health_poll_interval,
        resync_interval: args.resync_interval,
        concurrency: args.concurrency,
        // Events name the process that wrote them (the pod name in a cluster).
        instance: args.leader_identity.clone(),
        readiness: health.caches(),
        ..crate::controller::Config::default()
    }
}

/// The ELB client configuration: the AWS default credential chain and endpoint overrides
/// from the environment, `--elb-endpoint` over them, the `--elb-*` timeout, retry and rate
/// flags, and the operator's metrics.
pub fn elb_client_config(args: &RunArgs, metrics: &Metrics) -> Result<crate::elb::ClientConfig, crate::elb::Error> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    elb_client_config_from_vars(args, metrics, &env)
}

/// [`elb_client_config`] over any variable lookup (tests pass a map).
fn elb_client_config_from_vars(
    args: &RunArgs,
    metrics: &Metrics,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<crate::elb::ClientConfig, crate::elb::Error> {
    let base = crate::elb::ClientConfig::from_vars(&args.region, env)?;
    // `--elb-max-attempts` always has a value; left at its default, AWS_MAX_ATTEMPTS (already
    // read into `base`) decides, as it does for the AWS SDKs.
    let env_attempts = base.retry.max_attempts;
    let mut config = args.elb.apply(base)?.with_metrics(metrics.elb.clone());
    if args.elb.max_attempts == crate::elb::RetryConfig::default().max_attempts {
        config = config.with_max_attempts(env_attempts);
    }
    if let Some(endpoint) = args.elb_endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        config.endpoint = Some(endpoint.trim_end_matches('/').to_string());
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::collections::HashMap;

    fn run_args(flags: &[&str]) -> RunArgs {
        let argv = ["elb-operator", "run", "--cluster-name=c"].into_iter().chain(flags.iter().copied());
        match crate::cli::Cli::try_parse_from(argv).expect("parses").command {
            crate::cli::Command::Run(args) => *args,
            other => panic!("expected run, got {other:?}"),
        }
    }

    fn config(flags: &[&str], vars: &[(&str, &str)]) -> Result<crate::elb::ClientConfig, crate::elb::Error> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let keys = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK")];
        let env = move |k: &str| vars.get(k).cloned().or_else(|| keys.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()));
        elb_client_config_from_vars(&run_args(flags), &Metrics::new(), &env)
    }

    #[test]
    fn elb_flags_reach_the_client_config() {
        let c = config(
            &[
                "--elb-timeout-seconds=1.5",
                "--elb-max-attempts=6",
                "--elb-describe-rate=2",
                "--elb-describe-burst=5",
                "--elb-mutate-rate=0.25",
                "--elb-mutate-burst=1",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!(c.retry.max_attempts, 6);
        assert_eq!((c.rate_limit.describe.per_second, c.rate_limit.describe.burst), (2.0, 5));
        assert_eq!((c.rate_limit.mutate.per_second, c.rate_limit.mutate.burst), (0.25, 1));
        assert!(c.metrics.is_some());
        assert!(matches!(config(&["--elb-mutate-rate=0"], &[]), Err(crate::elb::Error::Config(_))));
        assert!(matches!(config(&["--elb-timeout-seconds=0"], &[]), Err(crate::elb::Error::Config(_))));
    }

    #[test]
    fn aws_max_attempts_applies_unless_the_flag_sets_another_value() {
        assert_eq!(config(&[], &[]).unwrap().retry.max_attempts, 3);
        assert_eq!(config(&[], &[("AWS_MAX_ATTEMPTS", "5")]).unwrap().retry.max_attempts, 5);
        assert_eq!(config(&["--elb-max-attempts=2"], &[("AWS_MAX_ATTEMPTS", "5")]).unwrap().retry.max_attempts, 2);
    }

    #[test]
    fn the_endpoint_flag_wins_over_the_environment() {
        let vars = [("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING", "http://127.0.0.1:1")];
        assert_eq!(config(&[], &vars).unwrap().endpoint.as_deref(), Some("http://127.0.0.1:1"));
        let c = config(&["--elb-endpoint=http://127.0.0.1:2/"], &vars).unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:2"));
    }
}
