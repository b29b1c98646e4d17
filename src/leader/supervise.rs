//! Leadership supervision: runs the controllers while this process holds the lease (or at
//! once without leader election), stops them when it is lost or on shutdown, and releases
//! the lease only after they stopped.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Election, LeaderElector};

/// Where supervision reports what readiness depends on: the election state, and that the
/// controllers stopped (their caches no longer count). The HTTP endpoints' health state
/// implements it; this module needs nothing of HTTP.
pub trait Report: Clone + Send + Sync + 'static {
    fn set_election(&self, election: Election);
    fn controllers_stopped(&self);
}

/// Why supervision ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error("controllers failed: {0}")]
    Controllers(#[source] crate::Error),

    #[error("controllers stopped without being asked to")]
    ControllersExited,
}

/// Waits for `fut` until `stop` is cancelled, then gives it `grace()` to finish on its own
/// (asked only then: the grace depends on why it stops).
async fn run_until_stopped<F>(fut: F, stop: &CancellationToken, grace: impl FnOnce() -> Duration) -> Option<F::Output>
where
    F: Future,
{
    tokio::pin!(fut);
    tokio::select! {
        out = &mut fut => return Some(out),
        _ = stop.cancelled() => {}
    }
    let grace = grace();
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
/// once its token is cancelled, and mark its caches synced (where `health` reads them) when they are.
pub async fn supervise<F, Fut>(
    elector: Option<LeaderElector>,
    health: impl Report,
    shutdown: CancellationToken,
    grace: Duration,
    mut controllers: F,
) -> Result<(), SuperviseError>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = crate::Result<()>>,
{
    let Some(elector) = elector else {
        health.set_election(Election::Disabled);
        let stop = shutdown.child_token();
        let out = run_until_stopped(controllers(stop.clone()), &stop, || grace).await;
        health.controllers_stopped();
        return finished(out, &stop);
    };

    let lost_grace = elector.config().lease_duration.saturating_sub(elector.config().renew_deadline);
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
        // On shutdown the lease is still renewed while in-flight work finishes; once it is
        // lost, the fence already refuses writes and the grace stays below the lease margin.
        let out =
            run_until_stopped(controllers(stop.clone()), &stop, || if shutdown.is_cancelled() { grace } else { grace.min(lost_grace) })
                .await;
        on_lost.abort();
        health.controllers_stopped();
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

/// Runs `controllers` from the start until `shutdown` is cancelled, with one candidate per
/// shard (`electors`, from [`LeaderElector::for_role`]) running beside them: the controllers
/// reconcile only the objects of the shards held at the moment, each under its shard's
/// fence. On shutdown the controllers stop first (bounded by `grace`), then the electors
/// release the shards they hold.
pub async fn supervise_shards<F, Fut>(
    electors: Vec<LeaderElector>,
    health: impl Report,
    shutdown: CancellationToken,
    grace: Duration,
    controllers: F,
) -> Result<(), SuperviseError>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = crate::Result<()>>,
{
    // Readiness is the controllers' (caches synced): they run whichever shards are held.
    health.set_election(Election::Disabled);
    let elector_stop = CancellationToken::new();
    // If this future is dropped, the electors stop too instead of holding shards on their own.
    let _elector_guard = elector_stop.clone().drop_guard();
    let tasks: Vec<_> = electors
        .into_iter()
        .map(|elector| tokio::spawn(elector.run(watch::channel(Election::Starting).0, elector_stop.clone().cancelled_owned())))
        .collect();
    let stop = shutdown.child_token();
    let out = run_until_stopped(controllers(stop.clone()), &stop, || grace).await;
    health.controllers_stopped();
    // Only now, with the controllers stopped, give up the shards.
    elector_stop.cancel();
    if tokio::time::timeout(grace, futures::future::join_all(tasks)).await.is_err() {
        tracing::warn!("shard election did not stop in time");
    }
    finished(out, &stop)
}

fn finished(out: Option<crate::Result<()>>, stop: &CancellationToken) -> Result<(), SuperviseError> {
    match out {
        Some(Ok(())) if stop.is_cancelled() => Ok(()),
        Some(Ok(())) => Err(SuperviseError::ControllersExited),
        Some(Err(e)) => Err(SuperviseError::Controllers(e)),
        None => Ok(()),
    }
}
