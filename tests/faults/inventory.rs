//! An inventory pass (the observer's bulk read of a region) survives an ELB deleted while
//! it runs. DescribeTags of a batch that names a deleted ELB fails as a whole with
//! LoadBalancerNotFound; before the fix that failed the pass, and with it every first sync
//! after a start waited out `FIRST_INVENTORY_WAIT` (30 s) — the campaign found it as a
//! 30 s convergence whenever a restart met a deletion.

use std::collections::BTreeSet;
use std::time::Duration;

use elb_operator::aws::{ClientConfig, RateLimitConfig};
use elb_operator::elb::{Client, CreateLoadBalancerInput, ElbApi};
use elb_operator::sync::inventory;
use test_support::fault_proxy::{FaultProxy, Hold, ProxyConfig};
use test_support::moto::Moto;

use crate::harness::REGION;

fn client(endpoint: &str) -> Client {
    Client::new(
        ClientConfig::for_endpoint(REGION, endpoint, "AKIDINVENTORY", "inventory")
            .with_rate_limit(RateLimitConfig::unlimited())
            .with_timeout(Duration::from_secs(30)),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_elb_deleted_during_an_inventory_pass_does_not_fail_it() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let proxy = FaultProxy::start(&moto.endpoint, ProxyConfig::default()).unwrap();
    let direct = client(&moto.endpoint);
    let names: Vec<String> = (0..3).map(|i| format!("inv-{i}")).collect();
    for name in &names {
        direct.create_load_balancer(&CreateLoadBalancerInput::http(name, "us-east-1a", 8080)).await.unwrap();
    }
    // DescribeTags waits at the proxy; meanwhile one of the ELBs goes away.
    proxy.hold(Hold { action: Some("DescribeTags".into()), delay: Duration::from_millis(1500), times: Some(1), ..Hold::default() });
    let via = client(&proxy.url());
    let interest: BTreeSet<String> = names.iter().cloned().collect();
    let pass = tokio::spawn(async move { inventory::take(&via, &interest, false).await });
    let held =
        test_support::poll(Duration::from_secs(20), || async { proxy.records().into_iter().find(|r| r.action == "DescribeTags") }).await;
    assert!(held.is_some(), "the pass asks for tags");
    direct.delete_load_balancer("inv-1").await.unwrap();

    let snapshot = tokio::time::timeout(Duration::from_secs(60), pass).await.expect("the pass ends").unwrap().expect("the pass succeeds");
    assert!(snapshot.get("inv-1").is_none(), "the deleted ELB is not in the snapshot");
    for name in ["inv-0", "inv-2"] {
        let seen = snapshot.get(name).unwrap_or_else(|| panic!("{name} is in the snapshot"));
        assert!(seen.tags.is_some(), "{name}: its tags were read");
    }
}
