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

#[cfg(test)]
#[allow(clippy::type_complexity)] // table rows are tuples
mod tests {
    use super::super::tests::*;
    use super::super::*;
    use crate::elb::{AccessLog, ConnectionDraining};

    #[test]
    fn attributes_table() {
        let observed = converged().attributes;
        let draining = |enabled, timeout| Some(ConnectionDraining { enabled, timeout });
        let cases: Vec<(&str, LoadBalancerAttributes, Option<LoadBalancerAttributes>)> = vec![
            ("nothing set", LoadBalancerAttributes::default(), None),
            (
                "equal values",
                LoadBalancerAttributes { cross_zone_load_balancing: Some(false), idle_timeout: Some(60), ..Default::default() },
                None,
            ),
            (
                "only the differing field is sent",
                LoadBalancerAttributes { cross_zone_load_balancing: Some(false), idle_timeout: Some(120), ..Default::default() },
                Some(LoadBalancerAttributes { idle_timeout: Some(120), ..Default::default() }),
            ),
            (
                "cross zone",
                LoadBalancerAttributes { cross_zone_load_balancing: Some(true), ..Default::default() },
                Some(LoadBalancerAttributes { cross_zone_load_balancing: Some(true), ..Default::default() }),
            ),
            (
                "draining enabled, timeout unset",
                LoadBalancerAttributes { connection_draining: draining(true, None), ..Default::default() },
                Some(LoadBalancerAttributes { connection_draining: draining(true, None), ..Default::default() }),
            ),
            (
                "draining disabled, any timeout",
                LoadBalancerAttributes { connection_draining: draining(false, None), ..Default::default() },
                None,
            ),
            (
                "draining timeout differs",
                LoadBalancerAttributes { connection_draining: draining(false, Some(30)), ..Default::default() },
                Some(LoadBalancerAttributes { connection_draining: draining(false, Some(30)), ..Default::default() }),
            ),
            (
                "access log enabled",
                LoadBalancerAttributes {
                    access_log: Some(AccessLog {
                        enabled: true,
                        s3_bucket_name: Some("b".into()),
                        s3_bucket_prefix: None,
                        emit_interval: Some(5),
                    }),
                    ..Default::default()
                },
                Some(LoadBalancerAttributes {
                    access_log: Some(AccessLog {
                        enabled: true,
                        s3_bucket_name: Some("b".into()),
                        s3_bucket_prefix: None,
                        emit_interval: Some(5),
                    }),
                    ..Default::default()
                }),
            ),
            (
                "access log disabled matches",
                LoadBalancerAttributes {
                    access_log: Some(AccessLog {
                        enabled: false,
                        s3_bucket_name: Some("b".into()),
                        s3_bucket_prefix: None,
                        emit_interval: None,
                    }),
                    ..Default::default()
                },
                None,
            ),
        ];
        for (name, want, expect) in cases {
            assert_eq!(plan_attributes(&want, &observed), expect, "case {name}");
        }
        // Attributes AWS did not report are set.
        let empty = LoadBalancerAttributes::default();
        let want = LoadBalancerAttributes { idle_timeout: Some(60), ..Default::default() };
        assert_eq!(plan_attributes(&want, &empty), Some(want.clone()));
    }
}
