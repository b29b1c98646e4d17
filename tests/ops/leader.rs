//! Leader election: candidates in one process against the Kubernetes API stand-in. The
//! stand-in's injected faults cut one candidate off from the API, or make its lease
//! renewals hang, while the other keeps working.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use elb_operator::http::Health;
use elb_operator::leader::supervise;
use elb_operator::leader::{Election, LeaderElector, LeaseConfig};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, WatchEvent, WatchParams};
use kube_standin::faults::Fault;
use kube_standin::StandIn;
use test_support::poll;
use tokio_util::sync::CancellationToken;

const NS: &str = "default";
const LEASE: &str = "elb-operator";
const LEASE_PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases/elb-operator";
/// Sent by each candidate's client with its name, so that a fault can single it out.
const CANDIDATE_HEADER: &str = "x-candidate";

fn config(identity: &str, lease: Duration) -> LeaseConfig {
    LeaseConfig::new(LEASE, NS, identity, lease)
}

/// A client of the stand-in for candidate `name` (its requests carry [`CANDIDATE_HEADER`]).
fn client_of(standin: &StandIn, name: &str) -> kube::Client {
    let mut config = kube::Config::new(standin.url().parse().expect("stand-in URL"));
    config.headers.push((http::HeaderName::from_static(CANDIDATE_HEADER), http::HeaderValue::from_str(name).expect("header value")));
    kube::Client::try_from(config).expect("kube client")
}

/// The test's own view of the Lease, through a client no fault singles out.
struct Leases(Api<Lease>);

impl Leases {
    fn new(standin: &StandIn) -> Leases {
        let config = kube::Config::new(standin.url().parse().expect("stand-in URL"));
        Leases(Api::namespaced(kube::Client::try_from(config).expect("kube client"), NS))
    }

    async fn get(&self) -> Option<Lease> {
        self.0.get_opt(LEASE).await.expect("read the lease")
    }

    async fn holder(&self) -> Option<String> {
        holder_of(&self.get().await?)
    }

    /// Polls until `who` holds the lease, for at most `limit`.
    async fn wait_for_holder(&self, who: &str, limit: Duration) -> Option<()> {
        poll(limit, || async { (self.holder().await.as_deref() == Some(who)).then_some(()) }).await
    }
}

fn holder_of(lease: &Lease) -> Option<String> {
    lease.spec.as_ref()?.holder_identity.clone().filter(|h| !h.is_empty())
}

/// Every version of the Lease the API stored, in order, as a watch started before the first
/// write sees them.
struct LeaseHistory {
    versions: Arc<Mutex<Vec<Lease>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaseHistory {
    async fn start(leases: &Leases) -> LeaseHistory {
        let params = WatchParams::default().fields(&format!("metadata.name={LEASE}"));
        let mut events = leases.0.watch(&params, "0").await.expect("watch the lease").boxed();
        let versions = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let versions = versions.clone();
            async move {
                while let Some(Ok(event)) = events.next().await {
                    if let WatchEvent::Added(lease) | WatchEvent::Modified(lease) = event {
                        versions.lock().unwrap().push(lease);
                    }
                }
            }
        });
        LeaseHistory { versions, task }
    }

    fn versions(&self) -> Vec<Lease> {
        self.versions.lock().unwrap().clone()
    }
}

impl Drop for LeaseHistory {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One thing a candidate's stand-in controller did: (writer, what, when).
type Entry = (String, &'static str, SystemTime);

/// What the candidates' stand-in controllers did: one entry per "write", tagged with the
/// writer.
#[derive(Clone, Default)]
struct WriteLog(Arc<Mutex<Vec<Entry>>>);

impl WriteLog {
    fn push(&self, who: &str, what: &'static str) {
        self.0.lock().unwrap().push((who.to_string(), what, SystemTime::now()));
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

type Supervision = tokio::task::JoinHandle<Result<(), elb_operator::leader::SuperviseError>>;

/// Starts a supervised candidate whose "controllers" write to `log` every 20 ms until told
/// to stop, then finish their in-flight unit of work (50 ms) and record "done".
fn candidate(standin: &StandIn, name: &'static str, lease: Duration, log: &WriteLog) -> (Health, CancellationToken, Supervision) {
    let health = Health::new(Election::Starting);
    let shutdown = CancellationToken::new();
    let elector = LeaderElector::new(client_of(standin, name), config(name, lease));
    let log = log.clone();
    let task = tokio::spawn(supervise(Some(elector), health.clone(), shutdown.clone(), Duration::from_secs(5), {
        let health = health.clone();
        move |stop: CancellationToken| {
            let log = log.clone();
            let health = health.clone();
            async move {
                health.set_caches_synced(true);
                while !stop.is_cancelled() {
                    log.push(name, "write");
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    }
                }
                // An in-flight reconcile completes after the stop signal.
                tokio::time::sleep(Duration::from_millis(50)).await;
                log.push(name, "done");
                Ok(())
            }
        }
    }));
    (health, shutdown, task)
}

#[tokio::test]
async fn concurrent_candidates_elect_exactly_one_leader() {
    let standin = StandIn::start().await.expect("stand-in starts");
    let mut a = LeaderElector::new(client_of(&standin, "a"), config("a", Duration::from_secs(10)));
    let mut b = LeaderElector::new(client_of(&standin, "b"), config("b", Duration::from_secs(10)));
    let mut leaders = Vec::new();
    for _ in 0..5 {
        let (ra, rb) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
        let (ra, rb) = (ra.expect("a's check"), rb.expect("b's check"));
        assert!(ra ^ rb, "exactly one candidate may lead, got a={ra} b={rb}");
        leaders.push(if ra { "a" } else { "b" });
    }
    assert!(leaders.windows(2).all(|w| w[0] == w[1]), "leadership must not flap: {leaders:?}");
    assert_eq!(Leases::new(&standin).holder().await.as_deref(), Some(leaders[0]));
}

#[tokio::test]
async fn a_held_lease_is_taken_over_only_after_it_expires_and_at_once_when_released() {
    let standin = StandIn::start().await.expect("stand-in starts");
    let leases = Leases::new(&standin);
    let lease = Duration::from_secs(2);
    let mut a = LeaderElector::new(client_of(&standin, "a"), config("a", lease));
    let mut b = LeaderElector::new(client_of(&standin, "b"), config("b", lease));
    assert!(a.try_acquire_or_renew().await.unwrap());

    // a stops renewing (as if it crashed). b takes over only once it has seen the same record
    // for the lease duration, measured from its first look; it keeps looking until then.
    let first_look = Instant::now();
    assert!(!b.try_acquire_or_renew().await.unwrap(), "b took over a lease it had just seen renewed");
    assert_eq!(b.observed_holder(), Some("a"));
    let mut taken_after = None;
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if b.try_acquire_or_renew().await.unwrap() {
            taken_after = Some(first_look.elapsed());
            break;
        }
    }
    let taken_after = taken_after.expect("b takes over the expired lease within 15 s");
    assert!(taken_after >= lease, "b took over {taken_after:?} after its first look, before the lease ({lease:?}) expired");
    assert_eq!(leases.holder().await.as_deref(), Some("b"));
    let transitions = leases.get().await.unwrap().spec.unwrap().lease_transitions;
    assert_eq!(transitions, Some(1));

    // a, back, finds b holding it; b releases; a gets it at once, without waiting.
    assert!(!a.try_acquire_or_renew().await.unwrap());
    b.release().await.unwrap();
    assert_eq!(leases.holder().await, None);
    assert!(a.try_acquire_or_renew().await.unwrap(), "a released lease is free at once");
    // Releasing a lease one does not hold writes nothing.
    let before = leases.get().await.unwrap().metadata.resource_version;
    b.release().await.unwrap();
    assert_eq!(leases.get().await.unwrap().metadata.resource_version, before);
    assert_eq!(leases.holder().await.as_deref(), Some("a"));
}

/// Only the leader's controllers run. Then `cut_off` (a fault on a's requests) keeps a from
/// renewing: a steps down and stops its controllers before b, once the lease has expired,
/// takes over. `a_reaches_the_api` is what a reports as standby while the fault lasts. When
/// the fault is removed, a stays a healthy standby.
async fn a_leader_that_cannot_renew_steps_down_before_the_standby_takes_over(cut_off: Fault, a_reaches_the_api: bool) {
    let standin = StandIn::start().await.expect("stand-in starts");
    let leases = Leases::new(&standin);
    let lease = Duration::from_secs(3);
    let log = WriteLog::default();

    let (ha, _stop_a, task_a) = candidate(&standin, "a", lease, &log);
    leases.wait_for_holder("a", Duration::from_secs(10)).await.expect("a acquires the lease");
    let (hb, stop_b, task_b) = candidate(&standin, "b", lease, &log);
    poll(Duration::from_secs(10), || async { (hb.election() == Election::Standby { api_reachable: true }).then_some(()) })
        .await
        .expect("b becomes a standby");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(log.writers(), vec!["a".to_string()], "only the leader's controllers run");
    assert_eq!(ha.election(), Election::Leader);
    assert!(ha.readiness().is_ok() && hb.readiness().is_ok(), "leader (synced) and healthy standby are ready");

    let cut = Instant::now();
    let fault = standin.faults().inject(cut_off);
    leases.wait_for_holder("b", lease * 3 + Duration::from_secs(5)).await.expect("b takes over within a bounded time");
    println!("takeover {:?} after the leader was cut off (lease duration {lease:?})", cut.elapsed());
    assert!(standin.faults().hits(fault) > 0, "the fault acted on a's requests");
    poll(Duration::from_secs(5), || async { log.entries().iter().any(|e| e.0 == "b").then_some(()) }).await.expect("b's controllers run");

    let entries = log.entries();
    let a_done = entries.iter().position(|e| e.0 == "a" && e.1 == "done").expect("a's controllers stopped");
    let b_first = entries.iter().position(|e| e.0 == "b").unwrap();
    assert!(a_done < b_first, "a stopped writing before b started: {:?}", &entries[a_done.saturating_sub(2)..=b_first]);
    let standby = Election::Standby { api_reachable: a_reaches_the_api };
    poll(Duration::from_secs(5), || async { (ha.election() == standby).then_some(()) })
        .await
        .unwrap_or_else(|| panic!("a is {standby:?}, not {:?}", ha.election()));
    assert_eq!(ha.readiness().is_ok(), a_reaches_the_api, "a standby is ready only if it reaches the API");
    assert!(!ha.caches_synced());

    // The fault ends: a stays a healthy standby; the lease is b's.
    standin.faults().remove(fault);
    poll(Duration::from_secs(5), || async { (ha.election() == Election::Standby { api_reachable: true }).then_some(()) })
        .await
        .expect("a recovers as standby");
    assert_eq!(leases.holder().await.as_deref(), Some("b"));

    stop_b.cancel();
    tokio::time::timeout(Duration::from_secs(10), task_b).await.expect("b stops").unwrap().unwrap();
    task_a.abort();
}

#[tokio::test]
async fn a_leader_cut_off_from_the_api_steps_down_before_the_standby_takes_over() {
    let unavailable = Fault::on("/").header(CANDIDATE_HEADER, "a").fail(503);
    a_leader_that_cannot_renew_steps_down_before_the_standby_takes_over(unavailable, false).await;
}

#[tokio::test]
async fn a_leader_whose_renewals_hang_steps_down_before_the_standby_takes_over() {
    // Each renewal (a PUT of the Lease) is answered only after 2 s, longer than a's check may
    // take (lease/6), and then not applied. a still reads the Lease: once b holds it, a is a
    // standby that reaches the API.
    let hanging = Fault::on(LEASE_PATH).method("PUT").header(CANDIDATE_HEADER, "a").delay(Duration::from_secs(2)).fail(504);
    a_leader_that_cannot_renew_steps_down_before_the_standby_takes_over(hanging, true).await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_work_then_releases_the_lease() {
    let standin = StandIn::start().await.expect("stand-in starts");
    let leases = Leases::new(&standin);
    let history = LeaseHistory::start(&leases).await;
    // A long lease: the standby can only take over quickly if the lease is released.
    let lease = Duration::from_secs(30);
    let log = WriteLog::default();
    let (_ha, stop_a, task_a) = candidate(&standin, "a", lease, &log);
    leases.wait_for_holder("a", Duration::from_secs(10)).await.expect("a acquires the lease");
    let (_hb, stop_b, task_b) = candidate(&standin, "b", lease, &log);

    let asked = Instant::now();
    stop_a.cancel();
    tokio::time::timeout(Duration::from_secs(10), task_a).await.expect("a stops").unwrap().unwrap();
    let entries = log.entries();
    let a_done = entries.iter().find(|e| e.0 == "a" && e.1 == "done").expect("a's in-flight work finished").2;
    let release = poll(Duration::from_secs(5), || async { history.versions().into_iter().find(|l| holder_of(l).is_none()) })
        .await
        .expect("a released the lease (holderIdentity cleared)");
    let released_at = SystemTime::from(release.spec.unwrap().renew_time.expect("a release sets renewTime").0);
    assert!(released_at >= a_done, "the lease was released ({released_at:?}) before the controllers stopped ({a_done:?})");

    leases.wait_for_holder("b", Duration::from_secs(10)).await.expect("b takes over the released lease long before it would expire");
    println!("takeover {:?} after a was asked to stop (lease duration {lease:?})", asked.elapsed());
    stop_b.cancel();
    tokio::time::timeout(Duration::from_secs(10), task_b).await.expect("b stops").unwrap().unwrap();
    assert_eq!(leases.holder().await, None, "b released it too");
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
    poll(Duration::from_secs(5), || async { health.readiness().ok() }).await.expect("ready once synced");
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

/// A single-leader candidate takes no Lease while a shard Lease (another shard count) is
/// fresh, however often it looks; it takes its own once that record has stood unchanged for
/// its duration, and labels it with its count (1).
#[tokio::test]
async fn a_single_leader_waits_while_a_shard_lease_of_another_count_is_renewed() {
    use elb_operator::leader::exclusion::COUNT_LABEL;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
    use kube::api::PostParams;

    let standin = StandIn::start().await.expect("stand-in starts");
    let leases = Leases::new(&standin);
    let shard = "elb-operator-shard-1";
    let renewed = |lease: Option<Lease>| {
        let mut lease = lease.unwrap_or_else(|| Lease {
            metadata: ObjectMeta {
                name: Some(shard.into()),
                labels: Some([(COUNT_LABEL.to_string(), "3".to_string())].into()),
                ..ObjectMeta::default()
            },
            spec: None,
        });
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        lease.spec = Some(LeaseSpec {
            holder_identity: Some("old".into()),
            lease_duration_seconds: Some(4),
            renew_time: Some(now),
            ..LeaseSpec::default()
        });
        lease
    };
    leases.0.create(&PostParams::default(), &renewed(None)).await.expect("create the shard lease");
    let mut a = LeaderElector::new(client_of(&standin, "a"), config("a", Duration::from_secs(2)));

    // "old" renews its shard (4 s leases: a loaded machine must not stall the renewals for
    // that long) for 5 s, longer than the duration: a never takes.
    let renewing = Instant::now();
    while renewing.elapsed() < Duration::from_secs(5) {
        assert!(!a.try_acquire_or_renew().await.unwrap(), "a took the lease while a shard lease of count 3 was fresh");
        assert!(leases.get().await.is_none(), "a wrote the single-leader lease");
        let current = leases.0.get(shard).await.expect("read the shard lease");
        leases.0.replace(shard, &PostParams::default(), &renewed(Some(current))).await.expect("renew the shard lease");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // It stops renewing: a takes over once the record has stood unchanged for 4 s.
    let stopped = Instant::now();
    let mut taken = None;
    while taken.is_none() && stopped.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        taken = a.try_acquire_or_renew().await.unwrap().then(|| stopped.elapsed());
    }
    let taken = taken.expect("a leads within 20 s once the shard lease expired");
    assert!(taken >= Duration::from_secs(4), "a took over {taken:?} after the last renewal, before it expired");
    let lease = leases.get().await.expect("the single-leader lease");
    assert_eq!(holder_of(&lease).as_deref(), Some("a"));
    assert_eq!(lease.metadata.labels.unwrap_or_default().get(COUNT_LABEL).map(String::as_str), Some("1"));
}
