//! Leader election: two candidates in one process against the fake Lease API.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use elb_operator::http::Health;
use elb_operator::leader::{Election, LeaderElector, LeaseConfig};
use elb_operator::leader::supervise;
use tokio_util::sync::CancellationToken;

use crate::fake_kube::{Endpoint, FakeKube};
use crate::wait_for;

const NS: &str = "default";
const LEASE: &str = "elb-operator";

fn config(identity: &str, lease: Duration) -> LeaseConfig {
    LeaseConfig::new(LEASE, NS, identity, lease)
}

/// One thing a stand-in controller did: (writer, what, when).
type Entry = (String, &'static str, Instant);

/// What the stand-in controllers did: one entry per "write", tagged with the writer.
#[derive(Clone, Default)]
struct WriteLog(Arc<Mutex<Vec<Entry>>>);

impl WriteLog {
    fn push(&self, who: &str, what: &'static str) {
        self.0.lock().unwrap().push((who.to_string(), what, Instant::now()));
    }
    fn entries(&self) -> Vec<Entry> {
        self.0.lock().unwrap().clone()
    }
    fn writers(&self) -> Vec<String> {
        let mut w: Vec<String> = self.entries().into_iter().map(|e| e.0).collect();
        w.dedup();
        w
    }
}

/// Starts a supervised candidate whose "controllers" write to `log` every 20 ms until told
/// to stop, then finish their in-flight unit of work (50 ms) and record "done".
fn candidate(
    endpoint: &Endpoint,
    identity: &'static str,
    lease: Duration,
    log: &WriteLog,
) -> (Health, CancellationToken, tokio::task::JoinHandle<Result<(), elb_operator::leader::SuperviseError>>) {
    let health = Health::new(Election::Starting);
    let shutdown = CancellationToken::new();
    let elector = LeaderElector::new(endpoint.client(), config(identity, lease));
    let log = log.clone();
    let task = tokio::spawn(supervise(Some(elector), health.clone(), shutdown.clone(), Duration::from_secs(5), {
        let health = health.clone();
        move |stop: CancellationToken| {
            let log = log.clone();
            let health = health.clone();
            async move {
                health.set_caches_synced(true);
                while !stop.is_cancelled() {
                    log.push(identity, "write");
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    }
                }
                // An in-flight reconcile completes after the stop signal.
                tokio::time::sleep(Duration::from_millis(50)).await;
                log.push(identity, "done");
                Ok(())
            }
        }
    }));
    (health, shutdown, task)
}

#[tokio::test]
async fn concurrent_candidates_elect_exactly_one_leader() {
    let fake = FakeKube::new(true);
    let (ea, eb) = (fake.endpoint().await, fake.endpoint().await);
    let mut a = LeaderElector::new(ea.client(), config("a", Duration::from_secs(10)));
    let mut b = LeaderElector::new(eb.client(), config("b", Duration::from_secs(10)));
    let mut leaders = Vec::new();
    for _ in 0..5 {
        let (ra, rb) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
        let (ra, rb) = (ra.expect("a's check"), rb.expect("b's check"));
        assert!(ra ^ rb, "exactly one candidate may lead, got a={ra} b={rb}");
        leaders.push(if ra { "a" } else { "b" });
    }
    assert!(leaders.windows(2).all(|w| w[0] == w[1]), "leadership must not flap: {leaders:?}");
    assert_eq!(fake.holder(NS, LEASE).as_deref(), Some(leaders[0]));
}

#[tokio::test]
async fn a_held_lease_is_taken_over_only_after_it_expires_and_at_once_when_released() {
    let fake = FakeKube::new(true);
    let (ea, eb) = (fake.endpoint().await, fake.endpoint().await);
    let lease = Duration::from_secs(2);
    let mut a = LeaderElector::new(ea.client(), config("a", lease));
    let mut b = LeaderElector::new(eb.client(), config("b", lease));
    assert!(a.try_acquire_or_renew().await.unwrap());

    // a stops renewing (as if it crashed). b must wait for the lease duration, measured from
    // when b first saw the record.
    let before_first_look = Instant::now();
    assert!(!b.try_acquire_or_renew().await.unwrap());
    let second = b.try_acquire_or_renew().await.unwrap();
    if before_first_look.elapsed() < lease {
        assert!(!second, "b took over a lease that had not expired");
    } else {
        println!("machine too slow to check the not-yet-expired case ({:?})", before_first_look.elapsed());
    }
    assert_eq!(b.observed_holder(), Some("a"));
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    assert!(b.try_acquire_or_renew().await.unwrap(), "b takes over the expired lease");
    assert_eq!(fake.holder(NS, LEASE).as_deref(), Some("b"));
    let transitions = fake.lease(NS, LEASE).unwrap()["spec"]["leaseTransitions"].as_i64();
    assert_eq!(transitions, Some(1));

    // a, back, finds b holding it; b releases; a gets it at once, without waiting.
    assert!(!a.try_acquire_or_renew().await.unwrap());
    b.release().await.unwrap();
    assert_eq!(fake.holder(NS, LEASE), None);
    assert!(a.try_acquire_or_renew().await.unwrap(), "a released lease is free at once");
    // Releasing a lease one does not hold changes nothing.
    let writes = fake.writes().len();
    b.release().await.unwrap();
    assert_eq!(fake.writes().len(), writes);
    assert_eq!(fake.holder(NS, LEASE).as_deref(), Some("a"));
}

#[tokio::test]
async fn only_the_leader_writes_and_a_cut_off_leader_steps_down_before_the_standby_takes_over() {
    let fake = FakeKube::new(true);
    let (ea, eb) = (fake.endpoint().await, fake.endpoint().await);
    let lease = Duration::from_secs(3);
    let log = WriteLog::default();

    let (ha, _stop_a, task_a) = candidate(&ea, "a", lease, &log);
    wait_for(Duration::from_secs(10), || fake.holder(NS, LEASE)).await.expect("a acquires the lease");
    let (hb, stop_b, task_b) = candidate(&eb, "b", lease, &log);
    wait_for(Duration::from_secs(10), || (hb.election() == (Election::Standby { api_reachable: true })).then_some(()))
        .await
        .expect("b becomes a standby");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(log.writers(), vec!["a".to_string()], "only the leader's controllers run");
    assert_eq!(ha.election(), Election::Leader);
    assert!(ha.readiness().is_ok() && hb.readiness().is_ok(), "leader (synced) and healthy standby are ready");

    // Cut a off from the API: it cannot renew, steps down and stops its controllers; b takes
    // over once the lease has expired.
    let cut = Instant::now();
    ea.set_down(true);
    wait_for(Duration::from_secs(10), || (fake.holder(NS, LEASE).as_deref() == Some("b")).then_some(()))
        .await
        .expect("b takes over within a bounded time");
    println!("takeover {:?} after the leader was cut off (lease duration {lease:?})", cut.elapsed());
    wait_for(Duration::from_secs(5), || log.entries().iter().any(|e| e.0 == "b").then_some(()))
        .await
        .expect("b's controllers run");

    let entries = log.entries();
    let a_done = entries.iter().position(|e| e.0 == "a" && e.1 == "done").expect("a's controllers stopped");
    let b_first = entries.iter().position(|e| e.0 == "b").unwrap();
    assert!(a_done < b_first, "a stopped writing before b started: {:?}", &entries[a_done.saturating_sub(2)..=b_first]);
    assert_eq!(ha.election(), Election::Standby { api_reachable: false });
    assert!(ha.readiness().is_err(), "a cut-off standby is not ready");
    assert!(!ha.caches_synced());

    // a's API comes back: it stays a healthy standby; the lease is b's.
    ea.set_down(false);
    wait_for(Duration::from_secs(5), || (ha.election() == (Election::Standby { api_reachable: true })).then_some(()))
        .await
        .expect("a recovers as standby");
    assert_eq!(fake.holder(NS, LEASE).as_deref(), Some("b"));

    stop_b.cancel();
    tokio::time::timeout(Duration::from_secs(10), task_b).await.expect("b stops").unwrap().unwrap();
    task_a.abort();
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_work_then_releases_the_lease() {
    let fake = FakeKube::new(true);
    let (ea, eb) = (fake.endpoint().await, fake.endpoint().await);
    // A long lease: the standby can only take over quickly if the lease is released.
    let lease = Duration::from_secs(30);
    let log = WriteLog::default();
    let (_ha, stop_a, task_a) = candidate(&ea, "a", lease, &log);
    wait_for(Duration::from_secs(10), || fake.holder(NS, LEASE)).await.expect("a acquires the lease");
    let (_hb, stop_b, task_b) = candidate(&eb, "b", lease, &log);

    let asked = Instant::now();
    stop_a.cancel();
    tokio::time::timeout(Duration::from_secs(10), task_a).await.expect("a stops").unwrap().unwrap();
    let entries = log.entries();
    let a_done = entries.iter().find(|e| e.0 == "a" && e.1 == "done").expect("a's in-flight work finished").2;
    let release = fake
        .writes()
        .into_iter()
        .find(|w| w.holder.is_none())
        .expect("a released the lease (holderIdentity cleared)");
    assert!(release.at >= a_done, "the lease is released only after the controllers stopped");

    wait_for(Duration::from_secs(10), || (fake.holder(NS, LEASE).as_deref() == Some("b")).then_some(()))
        .await
        .expect("b takes over the released lease long before it would expire");
    println!("takeover {:?} after a was asked to stop (lease duration {lease:?})", asked.elapsed());
    stop_b.cancel();
    tokio::time::timeout(Duration::from_secs(10), task_b).await.expect("b stops").unwrap().unwrap();
    assert_eq!(fake.holder(NS, LEASE), None, "b released it too");
}

#[tokio::test]
async fn without_leader_election_the_controllers_run_at_once_and_stop_on_shutdown() {
    let log = WriteLog::default();
    let health = Health::new(Election::Starting);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(supervise(None, health.clone(), shutdown.clone(), Duration::from_secs(5), {
        let log = log.clone();
        let health = health.clone();
        move |stop: CancellationToken| {
            let log = log.clone();
            let health = health.clone();
            async move {
                health.set_caches_synced(true);
                log.push("solo", "write");
                stop.cancelled().await;
                log.push("solo", "done");
                Ok(())
            }
        }
    }));
    wait_for(Duration::from_secs(5), || health.readiness().ok()).await.expect("ready once synced");
    assert_eq!(health.election(), Election::Disabled);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops").unwrap().unwrap();
    assert_eq!(log.entries().last().map(|e| e.1), Some("done"));
    assert!(health.readiness().is_err(), "not ready once the controllers stopped");
}

#[tokio::test]
async fn a_controller_error_ends_supervision_with_that_error() {
    let health = Health::new(Election::Disabled);
    let out = tokio::time::timeout(
        Duration::from_secs(5),
        supervise(None, health, CancellationToken::new(), Duration::from_secs(1), |_stop| async {
            Err(elb_operator::Error::InvalidSpec("boom".into()))
        }),
    )
    .await
    .expect("returns");
    assert!(matches!(out, Err(elb_operator::leader::SuperviseError::Controllers(_))), "{out:?}");
}
