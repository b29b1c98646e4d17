//! The fault proxy itself, against moto and the operator's ELB client: requests pass
//! unchanged, each fault kind reaches the client as the error it stands for, a fault
//! *before* forwarding leaves moto unchanged and one *after* it leaves moto changed, and a
//! hold delays exactly the calls it names.

use std::time::{Duration, Instant};

use elb_operator::aws::{ClientConfig, Error, ErrorKind, RateLimitConfig};
use elb_operator::elb::{Client, CreateLoadBalancerInput, ElbApi};
use test_support::fault_proxy::{FaultKind, FaultProxy, Hold, Phase, ProxyConfig};
use test_support::moto::Moto;

use crate::harness::REGION;

/// One attempt per call, a short timeout (the proxy's `timeout` fault waits longer).
fn client(endpoint: &str, key: &str) -> Client {
    let cfg = ClientConfig::for_endpoint(REGION, endpoint, key, "proxy-secret")
        .with_rate_limit(RateLimitConfig::unlimited())
        .with_max_attempts(1)
        .with_timeout(Duration::from_millis(800));
    Client::new(cfg).unwrap()
}

fn input(name: &str) -> CreateLoadBalancerInput {
    CreateLoadBalancerInput::http(name, "us-east-1a", 8080)
}

/// moto loads its ELB backend on the first call (a second or more on a busy machine).
async fn warm_up(moto: &Moto) {
    let c =
        Client::new(ClientConfig::for_endpoint(REGION, &moto.endpoint, "AKIDWARM", "warm").with_timeout(Duration::from_secs(60))).unwrap();
    c.describe_load_balancers(&[]).await.expect("moto answers");
}

async fn exists(direct: &Client, name: &str) -> bool {
    match direct.describe_load_balancers(&[name.to_string()]).await {
        Ok(v) => !v.is_empty(),
        Err(e) if e.is_not_found() => false,
        Err(e) => panic!("describe {name} at moto: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_before_and_after_forwarding_reach_the_client_as_their_errors() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    warm_up(&moto).await;
    let config = ProxyConfig { rate: 0.0, delay: Duration::from_millis(1500), ..ProxyConfig::default() };
    let proxy = FaultProxy::start(&moto.endpoint, config).unwrap();
    let via = client(&proxy.url(), "AKIDPROXYTEST");
    let direct = client(&moto.endpoint, "AKIDDIRECT");

    // Without faults the proxy is transparent: moto accepts the forwarded signed bytes.
    via.create_load_balancer(&input("px-plain")).await.expect("create through the proxy");
    let seen = via.describe_load_balancers(&["px-plain".to_string()]).await.expect("describe through the proxy");
    assert_eq!(seen.len(), 1);
    assert!(exists(&direct, "px-plain").await);

    for kind in FaultKind::ALL {
        for phase in [Phase::Before, Phase::After] {
            let name = format!("px-{}-{}", kind.label().replace('-', ""), phase.label());
            proxy.configure(|c| {
                c.rate = 1.0;
                c.kinds = vec![kind];
                c.phases = vec![phase];
            });
            let err = via.create_load_balancer(&input(&name)).await.expect_err("a fault every time");
            proxy.set_rate(0.0);
            let expected = match (kind, &err) {
                (FaultKind::Throttle, Error::Api { code, status: 400, .. }) => code == "Throttling" && err.kind() == ErrorKind::Throttled,
                (FaultKind::Unavailable, Error::Api { code, status: 503, .. }) => {
                    code == "ServiceUnavailable" && err.kind() == ErrorKind::Retryable
                }
                (FaultKind::InternalHtml, Error::UnexpectedResponse { status: 500, snippet, .. }) => {
                    snippet.contains("<html>") && err.kind() == ErrorKind::Retryable
                }
                (FaultKind::Reset, Error::Transport { .. }) => true,
                (FaultKind::Timeout, Error::Timeout { .. }) => true,
                _ => false,
            };
            assert!(expected, "{kind:?}/{phase:?} reached the client as {err:?}");
            let record = proxy.records().into_iter().rev().find(|r| r.load_balancer.as_deref() == Some(name.as_str())).expect("recorded");
            assert_eq!(record.fault, Some((kind, phase)));
            assert_eq!(record.access_key, "AKIDPROXYTEST");
            assert_eq!(record.action, "CreateLoadBalancer");
            // "After" means moto applied the call (before the client saw the fault);
            // "before" means it never reached moto.
            let applied = exists(&direct, &name).await;
            assert_eq!(applied, phase == Phase::After, "{kind:?}/{phase:?}: moto has the ELB: {applied}");
            assert_eq!(record.forwarded, phase == Phase::After);
        }
    }
    let counts = proxy.fault_counts();
    assert_eq!(counts.len(), 10, "every kind in both phases: {counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    println!("fault proxy self-test: {}", proxy.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_delays_only_the_calls_it_names() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    warm_up(&moto).await;
    let proxy = FaultProxy::start(&moto.endpoint, ProxyConfig::default()).unwrap();
    let held = client(&proxy.url(), "AKIDHELD");
    let other = client(&proxy.url(), "AKIDOTHER");
    let long = |c: &Client| {
        let cfg = c.config().clone().with_timeout(Duration::from_secs(10));
        Client::new(cfg).unwrap()
    };
    let (held, other) = (long(&held), long(&other));
    proxy.hold(Hold { mutating_only: true, access_key: Some("AKIDHELD".into()), delay: Duration::from_millis(1200), ..Hold::default() });

    let t = Instant::now();
    other.create_load_balancer(&input("px-hold-other")).await.unwrap();
    held.describe_load_balancers(&[]).await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(1200), "neither another key's write nor a read is held: {:?}", t.elapsed());

    let t = Instant::now();
    held.create_load_balancer(&input("px-hold")).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(1200), "the named key's write is held: {:?}", t.elapsed());
    let r = proxy.records().into_iter().find(|r| r.load_balancer.as_deref() == Some("px-hold")).unwrap();
    assert_eq!((r.held, r.forwarded, r.upstream_status), (Duration::from_millis(1200), true, Some(200)));
    let drained = test_support::poll(Duration::from_secs(5), || async { (proxy.in_flight() == 0).then_some(()) }).await;
    assert!(drained.is_some(), "nothing stays in flight");
}

/// A create that timed out after AWS applied it is not sent again, neither by the client's
/// retries nor by the next sync: that sync describes the name (the listing it has predates
/// the create), finds the ELB, and goes on from there (issue 18: 525 creates were sent twice at
/// 10,000 load balancers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_create_is_not_sent_again() {
    use elb_operator::controller::backends;
    use elb_operator::controller::loadbalancer::build::desired_state;
    use elb_operator::sync::execute::{self, Known, Outcome};
    use elb_operator::sync::names::NameCheck;
    use elb_operator::sync::ownership::Owner;

    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    warm_up(&moto).await;
    let proxy = FaultProxy::start(&moto.endpoint, ProxyConfig::default()).unwrap();
    // Three attempts a call, as shipped: only the create is held past the timeout.
    let cfg = ClientConfig::for_endpoint(REGION, &proxy.url(), "AKIDCREATE", "proxy-secret")
        .with_rate_limit(RateLimitConfig::unlimited())
        .with_timeout(Duration::from_millis(800));
    let via = Client::new(cfg).unwrap();
    proxy.hold(Hold { action: Some("CreateLoadBalancer".into()), delay: Duration::from_millis(1500), times: Some(1), ..Hold::default() });

    let spec =
        serde_yaml::from_str("availabilityZones: [us-east-1a]\nlisteners:\n- {port: 80, instancePort: 8080, protocol: HTTP}\n").unwrap();
    let owner = Owner::new("proxy", "default", "timed-out");
    let resolved = backends::resolve(None, "default", &[], &[]).unwrap();
    let desired = desired_state(&spec, "px-timed-out", None, &resolved, &owner).unwrap();
    let names = NameCheck::default();
    let known = Known { names: Some(&names), ..Known::default() };
    let apis = execute::Apis { elb: &via, autoscaling: None };

    let first = execute::converge_from(apis, &desired, &owner, false, known).await;
    let err = first.result.expect_err("the create timed out");
    assert!(err.to_string().contains("timed out"), "{err}");
    // The held create reaches moto after the client gave up.
    let until = Instant::now() + Duration::from_secs(10);
    while proxy.in_flight() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let listings = names.listings();
    let second = execute::converge_from(apis, &desired, &owner, false, known).await;
    assert!(matches!(second.result, Ok(Outcome::Converged(_))), "{:?}", second.result);
    assert!(second.applied.is_empty(), "the ELB found, nothing to create: {:?}", second.applied);
    assert_eq!(names.listings(), listings, "no listing: the one name is described");
    let described = proxy
        .records()
        .iter()
        .filter(|r| r.action == "DescribeLoadBalancers" && r.load_balancer.as_deref() == Some("px-timed-out"))
        .count();
    // The name check's describe is the sync's read of the ELB (its tags next): once.
    assert_eq!(described, 1, "looked for by name, after the create was sent");
    let creates = proxy.records().iter().filter(|r| r.action == "CreateLoadBalancer").count();
    assert_eq!(creates, 1, "one create sent in all");
}
