//! Load balancer attributes: only the fields the spec sets.

use crate::elb::{AccessLog, ConnectionDraining, LoadBalancerAttributes};

/// The attribute fields the spec sets that differ from AWS, or `None` when all match.
/// Sub-fields the spec leaves unset (a draining timeout, an access-log prefix) are not compared.
pub fn plan_attributes(desired: &LoadBalancerAttributes, observed: &LoadBalancerAttributes) -> Option<LoadBalancerAttributes> {
    let mut changes = LoadBalancerAttributes::default();
    if let Some(want) = desired.cross_zone_load_balancing {
        if observed.cross_zone_load_balancing != Some(want) {
            changes.cross_zone_load_balancing = Some(want);
        }
    }
    if let Some(want) = &desired.connection_draining {
        let matches = observed.connection_draining.as_ref().is_some_and(|have| draining_matches(want, have));
        if !matches {
            changes.connection_draining = Some(want.clone());
        }
    }
    if let Some(want) = desired.idle_timeout {
        if observed.idle_timeout != Some(want) {
            changes.idle_timeout = Some(want);
        }
    }
    if let Some(want) = &desired.access_log {
        let matches = observed.access_log.as_ref().is_some_and(|have| access_log_matches(want, have));
        if !matches {
            changes.access_log = Some(want.clone());
        }
    }
    (changes != LoadBalancerAttributes::default()).then_some(changes)
}

fn draining_matches(want: &ConnectionDraining, have: &ConnectionDraining) -> bool {
    want.enabled == have.enabled && want.timeout.is_none_or(|t| have.timeout == Some(t))
}

fn access_log_matches(want: &AccessLog, have: &AccessLog) -> bool {
    if want.enabled != have.enabled {
        return false;
    }
    // A disabled access log's other fields do not matter.
    if !want.enabled {
        return true;
    }
    let same = |w: &Option<String>, h: &Option<String>| w.is_none() || w.as_deref() == h.as_deref();
    same(&want.s3_bucket_name, &have.s3_bucket_name)
        && same(&want.s3_bucket_prefix, &have.s3_bucket_prefix)
        && want.emit_interval.is_none_or(|i| have.emit_interval == Some(i))
}
