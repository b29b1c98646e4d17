//! The eviction of scopes no LoadBalancer uses any more: without it, every region and role
//! ever named (by any tenant) would keep an observer task, an inventory, clients and
//! credentials for the life of the process.
//!
//! A sweep runs every half resync interval: a running scope that no cached LoadBalancer
//! maps to at two sweeps in a row ([`Sweep`](super::schedule::scopes::Sweep)) has its
//! observer stopped, its inventory dropped, its gauges removed and its clients dropped
//! ([`ClientsByScope::evict`](super::ClientsByScope::evict)), within one resync interval of
//! its last LoadBalancer leaving the cache. A LoadBalancer of the scope that comes later
//! starts it again with its reconcile. The scopes of every cached LoadBalancer count, held
//! shard or not, and a LoadBalancer being deleted is cached until its finalizer is removed,
//! so its cleanup keeps its scope.

use std::collections::HashSet;
use std::sync::Arc;

use tracing::info;

use super::context::Context;
use super::observer;
use super::scope::Scope;
use crate::crd::LoadBalancer;

/// The scopes the LoadBalancers `lbs` map to.
pub fn live_scopes(lbs: &[Arc<LoadBalancer>], default_region: &str) -> HashSet<Scope> {
    lbs.iter().map(|lb| Scope::of(lb, default_region)).collect()
}

/// One sweep ([`super::schedule::scopes::Scopes::sweep`]) against the LoadBalancer cache;
/// returns the scopes it evicted.
pub fn sweep(ctx: &Context) -> Vec<Scope> {
    let live = live_scopes(&ctx.stores.loadbalancers.state(), &ctx.config.default_region);
    let evicted = ctx.schedule.scopes.sweep(&live);
    let running = ctx.schedule.scopes.running();
    for scope in &evicted {
        observer::forget(ctx, scope, &running);
        ctx.elb.evict(scope);
        info!(scope = %scope, "no LoadBalancer left in the scope: its observer is stopped and its clients dropped");
    }
    ctx.metrics.fleet.scopes.set(ctx.schedule.scopes.len() as i64);
    evicted
}

/// Sweeps every half resync interval, until aborted.
pub async fn run(ctx: Arc<Context>) {
    let period = (ctx.config.resync_interval / 2).max(std::time::Duration::from_millis(100));
    // Bounded: one sweep per period for as long as the controllers run (aborted with them).
    for _ in 0..u32::MAX {
        tokio::time::sleep(period).await;
        sweep(&ctx);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use kube::runtime::events::{Recorder, Reporter};
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;
    use crate::aws;
    use crate::controller::cache::Stores;
    use crate::controller::{ClientsByScope, Config};
    use crate::elb::ElbApi;

    /// Clients that are never built, and remember what was evicted.
    #[derive(Default)]
    struct Evictions(Mutex<Vec<Scope>>);

    impl ClientsByScope for Arc<Evictions> {
        fn for_scope(&self, scope: &Scope) -> Result<Arc<dyn ElbApi>, aws::Error> {
            Err(aws::Error::Config(format!("no client for {scope} in this test")))
        }
        fn evict(&self, scope: &Scope) {
            self.0.lock().unwrap().push(scope.clone());
        }
    }

    fn lb(name: &str, region: Option<&str>, role: Option<&str>) -> LoadBalancer {
        let spec = serde_json::from_value(serde_json::json!({
            "listeners": [{"port": 80, "protocol": "HTTP", "instancePort": 8080}],
            "region": region,
            "roleArn": role,
        }))
        .unwrap();
        let mut lb = LoadBalancer::new(name, spec);
        lb.metadata.namespace = Some("ns".into());
        lb
    }

    #[test]
    fn live_scopes_are_those_of_the_cached_load_balancers() {
        let role = "arn:aws:iam::123456789012:role/team-a";
        let lbs: Vec<_> = [lb("a", None, None), lb("b", Some("eu-west-1"), Some(role)), lb("c", Some("us-east-1"), None)]
            .into_iter()
            .map(Arc::new)
            .collect();
        let live = live_scopes(&lbs, "us-east-1");
        assert_eq!(live.len(), 2, "a and c share the operator's region: {live:?}");
        assert!(live.contains(&Scope { region: "us-east-1".into(), role: None }));
        assert!(live.contains(&Scope::of(&lbs[1], "us-east-1")));
    }

    /// After its last LoadBalancer leaves the cache, a scope's observer is stopped and its
    /// clients evicted by the second sweep; the scope of a LoadBalancer still cached stays.
    #[tokio::test]
    async fn a_scope_is_stopped_and_its_clients_evicted_after_its_last_load_balancer_is_deleted() {
        let client = kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap())).unwrap();
        let (lbs, mut writer) = reflector::store::<LoadBalancer>();
        let stores = Stores {
            loadbalancers: lbs,
            healthchecks: reflector::store().0,
            pods: reflector::store().0,
            nodes: reflector::store().0,
            classes: reflector::store().0,
            namespaces: reflector::store().0,
            synced: vec![],
        };
        let recorder = Recorder::new(client.clone(), Reporter { controller: "test".into(), instance: None });
        let evictions = Arc::new(Evictions::default());
        let (triggers, _) = futures::channel::mpsc::unbounded();
        let config = Config { default_region: "us-east-1".into(), ..Config::default() };
        let ctx = Context::new(client, config, Arc::new(evictions.clone()), crate::telemetry::Metrics::new(), recorder, stores, triggers);

        let (home, away) = (lb("home", None, None), lb("away", Some("eu-west-1"), None));
        let mut observers = Vec::new();
        for lb in [&home, &away] {
            writer.apply_watcher_event(&Event::Apply(lb.clone()));
            let task = tokio::spawn(std::future::pending::<()>());
            observers.push(task.abort_handle());
            ctx.schedule.ensure_observer(&Scope::of(lb, "us-east-1"), || task);
        }
        assert!(sweep(&ctx).is_empty() && sweep(&ctx).is_empty(), "both scopes are used");
        assert_eq!(ctx.schedule.scopes.running().len(), 2);
        assert_eq!(ctx.metrics.fleet.scopes.get(), 2, "the gauge");

        writer.apply_watcher_event(&Event::Delete(away.clone()));
        assert!(sweep(&ctx).is_empty(), "marked at the first sweep");
        let away_scope = Scope::of(&away, "us-east-1");
        assert_eq!(sweep(&ctx), std::slice::from_ref(&away_scope));
        assert_eq!(ctx.schedule.scopes.running(), [Scope::of(&home, "us-east-1")]);
        assert_eq!(*evictions.0.lock().unwrap(), [away_scope], "its clients are dropped");
        assert_eq!(ctx.metrics.fleet.scopes.get(), 1, "the gauge");
        tokio::task::yield_now().await;
        assert!(observers[1].is_finished(), "its observer is stopped");
        assert!(!observers[0].is_finished());
    }
}
