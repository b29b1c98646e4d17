//! The operator's HTTP endpoints: `/metrics` (Prometheus/OpenMetrics text), `/healthz`
//! (liveness) and `/readyz` (readiness).
//!
//! Readiness ([`Health::readiness`]):
//! - without leader election: ready once the controllers' caches are synced;
//! - the leader: ready once its caches are synced;
//! - a standby (another process holds the lease): ready while its last lease check reached
//!   the API server. A standby runs no controllers, so "caches synced" cannot apply to it;
//!   what makes it useful is being able to take over, which needs a working API connection.
//!   Reporting it ready lets rolling updates and PodDisruptionBudgets treat it as available.
//! - before the first lease check: not ready.
//!
//! Liveness only says the process serves HTTP: restarting a standby that cannot reach the
//! API would not help, and the leader steps down by itself when it cannot renew.

use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::leader::Election;
use crate::telemetry::Metrics;

fn election_to_u8(e: Election) -> u8 {
    match e {
        Election::Disabled => 0,
        Election::Starting => 1,
        Election::Leader => 2,
        Election::Standby { api_reachable: true } => 3,
        Election::Standby { api_reachable: false } => 4,
    }
}

fn election_from_u8(v: u8) -> Election {
    match v {
        0 => Election::Disabled,
        2 => Election::Leader,
        3 => Election::Standby { api_reachable: true },
        4 => Election::Standby { api_reachable: false },
        _ => Election::Starting,
    }
}

/// Why `/readyz` answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    CachesNotSynced,
    LeaseNotChecked,
    ApiUnreachable,
}

impl NotReady {
    fn as_str(self) -> &'static str {
        match self {
            NotReady::CachesNotSynced => "controller caches not synced",
            NotReady::LeaseNotChecked => "leader election has not checked the lease yet",
            NotReady::ApiUnreachable => "standby cannot reach the Kubernetes API",
        }
    }
}

/// The pure readiness rule (see the module documentation).
pub fn readiness(election: Election, caches_synced: bool) -> Result<&'static str, NotReady> {
    match election {
        Election::Disabled | Election::Leader if caches_synced => Ok("ready"),
        Election::Disabled | Election::Leader => Err(NotReady::CachesNotSynced),
        Election::Starting => Err(NotReady::LeaseNotChecked),
        Election::Standby { api_reachable: true } => Ok("ready (standby)"),
        Election::Standby { api_reachable: false } => Err(NotReady::ApiUnreachable),
    }
}

/// Whether the controllers' caches (LoadBalancers, HealthCheck, Pods, Nodes) are synced and
/// reconciling: the one readiness flag of the process. The controllers set it; `/readyz`
/// reads it through [`Health`]; tests wait on it.
#[derive(Clone, Debug)]
pub struct Readiness(Arc<watch::Sender<bool>>);

impl Default for Readiness {
    fn default() -> Self {
        Readiness(Arc::new(watch::channel(false).0))
    }
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once ready.
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    pub fn set(&self, ready: bool) {
        self.0.send_replace(ready);
    }
}

/// Shared, cheaply cloned health state: written by the controllers (caches synced) and the
/// leader elector, read by `/readyz`.
#[derive(Clone, Debug)]
pub struct Health {
    inner: Arc<HealthInner>,
}

#[derive(Debug)]
struct HealthInner {
    caches_synced: Readiness,
    election: AtomicU8,
}

impl Health {
    /// A fresh state: caches not synced, election as given.
    pub fn new(election: Election) -> Self {
        Health { inner: Arc::new(HealthInner { caches_synced: Readiness::default(), election: AtomicU8::new(election_to_u8(election)) }) }
    }

    /// The caches-synced flag, handed to the controllers, which set it themselves.
    pub fn caches(&self) -> Readiness {
        self.inner.caches_synced.clone()
    }

    /// Records whether the running controllers' caches are synced (false once they stop).
    pub fn set_caches_synced(&self, synced: bool) {
        self.inner.caches_synced.set(synced);
    }

    pub fn caches_synced(&self) -> bool {
        self.inner.caches_synced.is_ready()
    }

    /// Records the outcome of the latest lease check.
    pub fn set_election(&self, election: Election) {
        self.inner.election.store(election_to_u8(election), Ordering::SeqCst);
    }

    pub fn election(&self) -> Election {
        election_from_u8(self.inner.election.load(Ordering::SeqCst))
    }

    /// The current readiness (see [`readiness`]).
    pub fn readiness(&self) -> Result<&'static str, NotReady> {
        readiness(self.election(), self.caches_synced())
    }
}

impl crate::leader::Report for Health {
    fn set_election(&self, election: Election) {
        Health::set_election(self, election);
    }

    fn controllers_stopped(&self) {
        self.set_caches_synced(false);
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    health: Health,
}

/// The routes: `/metrics`, `/healthz`, `/readyz`.
pub fn router(metrics: Metrics, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz_handler))
        .with_state(AppState { metrics, health })
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    let body = state.metrics.encode();
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}

async fn readyz_handler(State(state): State<AppState>) -> Response {
    match state.health.readiness() {
        Ok(msg) => (StatusCode::OK, msg).into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why.as_str()).into_response(),
    }
}

/// Serves the endpoints on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, health)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_rule() {
        assert!(readiness(Election::Disabled, true).is_ok());
        assert_eq!(readiness(Election::Disabled, false), Err(NotReady::CachesNotSynced));
        assert!(readiness(Election::Leader, true).is_ok());
        assert_eq!(readiness(Election::Leader, false), Err(NotReady::CachesNotSynced));
        assert_eq!(readiness(Election::Starting, true), Err(NotReady::LeaseNotChecked));
        assert!(readiness(Election::Standby { api_reachable: true }, false).is_ok());
        assert_eq!(readiness(Election::Standby { api_reachable: false }, false), Err(NotReady::ApiUnreachable));
    }

    #[test]
    fn caches_flag_is_shared_with_the_controllers() {
        let h = Health::new(Election::Disabled);
        let controllers = h.caches();
        assert_eq!(h.readiness(), Err(NotReady::CachesNotSynced));
        controllers.set(true);
        assert!(h.readiness().is_ok());
        assert!(h.caches_synced());
    }

    #[test]
    fn election_round_trips_through_the_atomic() {
        for e in [
            Election::Disabled,
            Election::Starting,
            Election::Leader,
            Election::Standby { api_reachable: true },
            Election::Standby { api_reachable: false },
        ] {
            let h = Health::new(Election::Starting);
            h.set_election(e);
            assert_eq!(h.election(), e);
        }
    }
}
