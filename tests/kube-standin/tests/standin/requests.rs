//! The request log (`StandIn::requests`): every request with its client's user agent,
//! method, URI, answer status and times, in answer order, as an audit log would show them.

use std::time::Instant;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, PostParams};
use kube::{Client, Config};
use kube_standin::faults::Fault;
use kube_standin::StandIn;

fn client_with_agent(s: &StandIn, agent: &str) -> Client {
    let mut config = Config::new(s.url().parse().unwrap());
    config.default_retry = false;
    config.headers.push((http::header::USER_AGENT, http::HeaderValue::from_str(agent).unwrap()));
    Client::try_from(config).unwrap()
}

#[tokio::test]
async fn every_request_is_logged_with_its_user_agent_status_and_times() {
    let s = StandIn::start().await.unwrap();
    let start = Instant::now();
    let a: Api<Lease> = Api::default_namespaced(client_with_agent(&s, "replica-a/1.0"));
    let b: Api<Lease> = Api::default_namespaced(client_with_agent(&s, "replica-b/1.0"));
    let mut lease = Lease::default();
    lease.metadata.name = Some("l".into());
    lease.spec = Some(LeaseSpec { holder_identity: Some("a".into()), ..Default::default() });
    a.create(&PostParams::default(), &lease).await.unwrap();
    assert!(b.create(&PostParams::default(), &lease).await.is_err(), "409 AlreadyExists");
    s.faults().inject(Fault::on("/apis/coordination.k8s.io/v1/namespaces/default/leases/l").method("GET").fail(503).times(1));
    assert!(b.get("l").await.is_err(), "the injected 503");
    b.get("l").await.unwrap();

    let log: Vec<_> = s.requests().entries().into_iter().filter(|r| r.path().contains("/leases")).collect();
    let seen: Vec<(&str, &str, u16)> = log.iter().map(|r| (r.user_agent.as_str(), r.method.as_str(), r.status)).collect();
    assert_eq!(
        seen,
        [("replica-a/1.0", "POST", 201), ("replica-b/1.0", "POST", 409), ("replica-b/1.0", "GET", 503), ("replica-b/1.0", "GET", 200)]
    );
    assert_eq!(log[3].path(), "/apis/coordination.k8s.io/v1/namespaces/default/leases/l");
    assert!(log[0].is_write() && !log[3].is_write());
    for pair in log.windows(2) {
        assert!(start <= pair[0].received && pair[0].received <= pair[0].answered && pair[0].answered <= pair[1].received, "{pair:?}");
    }
    s.requests().clear();
    assert!(s.requests().entries().is_empty());
}
