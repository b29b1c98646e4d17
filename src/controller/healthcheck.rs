//! The HealthCheck controller: validates the spec (the same rules as the CRD, so an object
//! that predates a rule is still reported) and writes status: `Ready` and `usedBy`.

use std::sync::Arc;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::ResourceExt;
use tracing::warn;

use super::context::Context;
use super::status::{self, Verdict};
use super::triggers::using_health_check;
use crate::crd::{HealthCheck, HealthCheckSpec, HealthCheckStatus};
use crate::elb;
use crate::{Error, Result};

/// Checks a HealthCheck spec and converts it to the ELB's form.
pub fn validate(spec: &HealthCheckSpec) -> Result<elb::HealthCheck, String> {
    validate_target(&spec.target)?;
    let range = |field: &str, v: i32, lo: i32, hi: i32| {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(format!("{field} must be between {lo} and {hi}, got {v}"))
        }
    };
    range("intervalSeconds", spec.interval_seconds, 5, 300)?;
    range("timeoutSeconds", spec.timeout_seconds, 2, 60)?;
    range("healthyThreshold", spec.healthy_threshold, 2, 10)?;
    range("unhealthyThreshold", spec.unhealthy_threshold, 2, 10)?;
    if spec.timeout_seconds >= spec.interval_seconds {
        return Err(format!("timeoutSeconds ({}) must be less than intervalSeconds ({})", spec.timeout_seconds, spec.interval_seconds));
    }
    Ok(elb::HealthCheck {
        target: spec.target.clone(),
        interval: spec.interval_seconds,
        timeout: spec.timeout_seconds,
        healthy_threshold: spec.healthy_threshold,
        unhealthy_threshold: spec.unhealthy_threshold,
    })
}

/// `TCP:port`, `SSL:port`, `HTTP:port/path`, `HTTPS:port/path`; ELB allows a target of at
/// most 1024 UTF-16 code units.
pub fn validate_target(target: &str) -> Result<(), String> {
    elb::HealthTarget::parse(target).map(drop).map_err(|e| e.to_string())
}

/// The metrics label of this controller.
pub const RESOURCE: &str = "healthcheck";

/// Reconciles one HealthCheck: pure validation, then a status write when it changed.
pub async fn reconcile(hc: Arc<HealthCheck>, ctx: Arc<Context>) -> Result<Action> {
    let (ns, name) = (hc.namespace().unwrap_or_default(), hc.name_any());
    super::reconciler::run(&ctx, RESOURCE, &*hc, reconcile_inner(&hc, &ctx, &ns, &name)).await
}

async fn reconcile_inner(hc: &HealthCheck, ctx: &Context, ns: &str, name: &str) -> Result<Action> {
    // usedBy is read from the LoadBalancer cache: wait (bounded) until it holds a full list.
    if !ctx.stores.wait_ready(std::time::Duration::from_secs(30)).await {
        return Ok(Action::requeue(std::time::Duration::from_secs(5)));
    }
    let verdict = match validate(&hc.spec) {
        Ok(_) => Verdict::new(crate::crd::condition::READY, true, "Valid", "the health check is valid"),
        Err(message) => Verdict::new(crate::crd::condition::READY, false, "Invalid", message),
    };
    let previous = hc.status.clone().unwrap_or_default();
    let mut used_by: Vec<String> = using_health_check(&ctx.stores.loadbalancers.state(), ns, name).map(|lb| lb.name_any()).collect();
    used_by.sort();
    let status = HealthCheckStatus {
        observed_generation: hc.metadata.generation,
        used_by,
        conditions: status::conditions(&previous.conditions, &[verdict], hc.metadata.generation),
    };
    let api: Api<HealthCheck> = Api::namespaced(ctx.client.clone(), ns);
    super::sharding::fenced("status", status::write(&api, hc, hc.status.as_ref(), &status)).await?.map_err(Error::Kube)?;
    Ok(Action::await_change())
}

/// Kubernetes errors are retried with backoff; nothing else can fail here.
pub fn error_policy(hc: Arc<HealthCheck>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(object = %format!("{}/{}", hc.namespace().unwrap_or_default(), hc.name_any()), %error, "HealthCheck reconcile failed");
    Action::requeue(super::retry::jittered(std::time::Duration::from_secs(5)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(target: &str, interval: i32, timeout: i32, healthy: i32, unhealthy: i32) -> HealthCheckSpec {
        HealthCheckSpec {
            target: target.into(),
            interval_seconds: interval,
            timeout_seconds: timeout,
            healthy_threshold: healthy,
            unhealthy_threshold: unhealthy,
        }
    }

    #[test]
    fn tutorial_health_check_is_valid() {
        let hc = validate(&spec("HTTP:8080/health", 20, 5, 3, 5)).unwrap();
        assert_eq!(
            hc,
            elb::HealthCheck { target: "HTTP:8080/health".into(), interval: 20, timeout: 5, healthy_threshold: 3, unhealthy_threshold: 5 }
        );
    }

    #[test]
    fn validation_table() {
        let cases = [
            (spec("TCP:80", 30, 5, 2, 2), true),
            (spec("SSL:443", 30, 5, 2, 2), true),
            (spec("HTTPS:443/", 30, 5, 2, 2), true),
            (spec("HTTP:8080", 30, 5, 2, 2), false), // HTTP needs a path
            (spec("TCP:80/x", 30, 5, 2, 2), false),  // TCP takes no path
            (spec("UDP:53", 30, 5, 2, 2), false),
            (spec("http:80/", 30, 5, 2, 2), false), // protocol in upper case
            (spec("TCP:0", 30, 5, 2, 2), false),
            (spec("TCP:65536", 30, 5, 2, 2), false),
            (spec("TCP:+80", 30, 5, 2, 2), false),
            (spec("TCP:80", 4, 2, 2, 2), false), // interval range
            (spec("TCP:80", 301, 5, 2, 2), false),
            (spec("TCP:80", 30, 1, 2, 2), false),  // timeout range
            (spec("TCP:80", 30, 30, 2, 2), false), // timeout < interval
            (spec("TCP:80", 30, 5, 1, 2), false),  // thresholds
            (spec("TCP:80", 30, 5, 2, 11), false),
        ];
        for (s, ok) in cases {
            assert_eq!(validate(&s).is_ok(), ok, "{s:?}: {:?}", validate(&s));
        }
        assert!(validate(&spec("TCP:80", 30, 30, 2, 2)).unwrap_err().contains("less than intervalSeconds"));
    }
}
