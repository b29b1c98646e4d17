//! Injected faults (`StandIn::faults`) through the kube-rs client: a refused write changes
//! nothing, faults single out a path, a method or one client, a delay holds the answer back,
//! and `times` limits how often a fault acts.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, PostParams};
use kube::{Client, Config};
use kube_standin::faults::Fault;
use kube_standin::StandIn;

use crate::common::client;

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

/// A client that sends `x-test-client: <who>` with every request. Retries are off so each
/// call is one request.
fn client_as(s: &StandIn, who: &str) -> Client {
    let mut config = Config::new(s.url().parse().unwrap());
    config.default_retry = false;
    config.headers.push((http::HeaderName::from_static("x-test-client"), http::HeaderValue::from_str(who).unwrap()));
    Client::try_from(config).unwrap()
}

fn lease(name: &str, holder: &str) -> Lease {
    let mut l = Lease::default();
    l.metadata.name = Some(name.into());
    l.spec = Some(LeaseSpec { holder_identity: Some(holder.into()), ..Default::default() });
    l
}

fn api_error<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> Box<kube::core::Status> {
    match r {
        Err(kube::Error::Api(s)) => s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_update_is_a_status_and_changes_nothing() {
    let s = StandIn::start().await.unwrap();
    let leases: Api<Lease> = Api::default_namespaced(client_as(&s, "a"));
    let created = leases.create(&PostParams::default(), &lease("l1", "a")).await.unwrap();
    let id = s.faults().inject(Fault::on(format!("{LEASES}/l1")).method("PUT").fail(500));

    let mut update = created.clone();
    update.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let status = api_error(leases.replace("l1", &PostParams::default(), &update).await);
    assert_eq!((status.code, status.reason.as_str()), (500, "InternalError"), "{status:?}");
    assert!(status.message.contains("injected fault"), "{status:?}");
    // Reads are not covered by a PUT fault; the refused write was not applied.
    let stored = leases.get("l1").await.unwrap();
    assert_eq!(stored.metadata.resource_version, created.metadata.resource_version);
    assert_eq!(stored.spec.unwrap().holder_identity.as_deref(), Some("a"));
    // Another object's path is not below the fault's.
    leases.create(&PostParams::default(), &lease("l10", "a")).await.unwrap();
    let mut other = leases.get("l10").await.unwrap();
    other.spec.as_mut().unwrap().holder_identity = Some("b".into());
    leases.replace("l10", &PostParams::default(), &other).await.expect("l10 is not faulted");

    assert_eq!(s.faults().remove(id), 1, "the fault acted on one request");
    leases.replace("l1", &PostParams::default(), &update).await.expect("served once the fault is removed");
}

#[tokio::test]
async fn a_header_fault_cuts_off_one_client_only() {
    let s = StandIn::start().await.unwrap();
    let a: Api<Lease> = Api::default_namespaced(client_as(&s, "a"));
    let b: Api<Lease> = Api::default_namespaced(client_as(&s, "b"));
    let id = s.faults().inject(Fault::on("/").header("x-test-client", "a").fail(503));

    assert_eq!(api_error(a.get_opt("l1").await).code, 503);
    assert_eq!(api_error(a.create(&PostParams::default(), &lease("l1", "a")).await).code, 503);
    b.create(&PostParams::default(), &lease("l1", "b")).await.expect("b is served");
    assert_eq!(s.faults().hits(id), 2);

    s.faults().clear();
    let seen = a.get("l1").await.expect("a is served again");
    assert_eq!(seen.spec.unwrap().holder_identity.as_deref(), Some("b"));
}

#[tokio::test]
async fn a_delay_holds_the_answer_back_and_times_limits_the_fault() {
    let s = StandIn::start().await.unwrap();
    let leases: Api<Lease> = Api::default_namespaced(client(&s).await);
    leases.create(&PostParams::default(), &lease("l1", "a")).await.unwrap();
    let delay = Duration::from_millis(400);
    let id = s.faults().inject(Fault::on(format!("{LEASES}/l1")).method("GET").delay(delay).times(1));

    let asked = Instant::now();
    let got = leases.get("l1").await.expect("a delay alone still serves the request");
    assert!(asked.elapsed() >= delay, "answered after {:?}", asked.elapsed());
    assert_eq!(got.spec.unwrap().holder_identity.as_deref(), Some("a"));
    leases.get("l1").await.unwrap();
    assert_eq!(s.faults().hits(id), 1, "times(1): the second read was not delayed");

    // A client that gives up sooner sees a timeout, not an answer.
    let mut config = Config::new(s.url().parse().unwrap());
    config.read_timeout = Some(Duration::from_millis(200));
    config.default_retry = false;
    let impatient: Api<Lease> = Api::default_namespaced(Client::try_from(config).unwrap());
    s.faults().inject(Fault::on(LEASES).delay(Duration::from_secs(5)));
    let out = tokio::time::timeout(Duration::from_secs(4), impatient.get("l1")).await.expect("the client's timeout fires first");
    assert!(!matches!(out, Ok(_) | Err(kube::Error::Api(_))), "{out:?}");
}

#[tokio::test]
async fn a_stopping_server_answers_a_delayed_request_at_once() {
    let s = StandIn::start().await.unwrap();
    let leases: Api<Lease> = Api::default_namespaced(client_as(&s, "a"));
    let id = s.faults().inject(Fault::on(LEASES).delay(Duration::from_secs(600)));
    let pending = tokio::spawn(async move { leases.get_opt("l1").await });
    for _ in 0..100 {
        if s.faults().hits(id) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.faults().hits(id), 1, "the request reached the fault");
    tokio::task::spawn_blocking(move || s.shutdown()).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), pending).await.expect("answered long before the delay ends").unwrap();
    assert_eq!(api_error(out).code, 503);
}
