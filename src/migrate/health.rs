//! The health check (the HealthCheck resource, or AWS's Classic default) as the ALB's
//! Ingress annotations and the NLB's Service annotations.

use std::collections::BTreeMap;

use super::target;
use super::{alb, nlb, Rows, Verdict};
use crate::crd::{HealthCheckSpec, LoadBalancer};
use crate::elb::{HealthTarget, TargetProtocol};

/// The Classic ELB's health check when none is configured (AWS's default for a load balancer
/// created through the API: TCP on the first listener's instance port, every 30 s, 5 s
/// timeout, 10 healthy and 2 unhealthy).
const CLASSIC_DEFAULT_CHECK: (i32, i32, i32, i32) = (30, 5, 10, 2);

/// The health check on both sides.
pub(super) fn health_check(
    lb: &LoadBalancer,
    health_check: Option<&HealthCheckSpec>,
    split: &target::Split,
    rows: &mut Rows,
    alb_common: &mut BTreeMap<String, String>,
    nlb_ann: &mut BTreeMap<String, String>,
) {
    let spec = &lb.spec;
    let (target, interval, timeout, healthy, unhealthy, source) = match (&spec.health_check_ref, health_check) {
        (Some(r), None) => {
            rows.push(
                "healthCheckRef",
                "-",
                Verdict::NotCarried(format!("HealthCheck {} does not exist: the LBC's default health check applies", r.name)),
            );
            return;
        }
        (Some(_), Some(hc)) => match HealthTarget::parse(&hc.target) {
            Ok(t) => (t, hc.interval_seconds, hc.timeout_seconds, hc.healthy_threshold, hc.unhealthy_threshold, None),
            Err(e) => {
                rows.push("healthCheck.target", "-", Verdict::NotCarried(e.to_string()));
                return;
            }
        },
        (None, _) => {
            let port = spec.listeners.first().map(|l| l.instance_port).unwrap_or(80) as u16;
            let (i, t, h, u) = CLASSIC_DEFAULT_CHECK;
            let t0 = HealthTarget { protocol: TargetProtocol::Tcp, port, path: None };
            (t0, i, t, h, u, Some(format!("no HealthCheck: carried as AWS's Classic default (TCP:{port}, {i} s, {t} s, {h}/{u}), which the operator does not read back")))
        }
    };
    let field = "healthCheck";
    let note = |v: Verdict| match (&source, v) {
        (Some(s), Verdict::Exact) => Verdict::Approximated(s.clone()),
        (Some(s), Verdict::Approximated(h)) => Verdict::Approximated(format!("{s}; {h}")),
        (_, v) => v,
    };
    if !split.alb.is_empty() {
        let (proto, path, codes, verdict) = match target.protocol {
            TargetProtocol::Http => ("HTTP", target.path.clone().unwrap_or("/".into()), "200", Verdict::Exact),
            TargetProtocol::Https => ("HTTPS", target.path.clone().unwrap_or("/".into()), "200", Verdict::Exact),
            p => (
                "HTTP",
                "/".to_string(),
                "200-499",
                Verdict::Approximated(format!(
                    "an ALB checks HTTP or HTTPS only: {} becomes GET / with any answer below 500 counting as healthy",
                    p.as_str()
                )),
            ),
        };
        alb_common.insert(alb("healthcheck-protocol"), proto.into());
        alb_common.insert(alb("healthcheck-port"), target.port.to_string());
        alb_common.insert(alb("healthcheck-path"), path.clone());
        alb_common.insert(alb("success-codes"), codes.into());
        alb_common.insert(alb("healthcheck-interval-seconds"), interval.to_string());
        alb_common.insert(alb("healthcheck-timeout-seconds"), timeout.to_string());
        alb_common.insert(alb("healthy-threshold-count"), healthy.to_string());
        alb_common.insert(alb("unhealthy-threshold-count"), unhealthy.to_string());
        rows.push(
            format!("{field}.target"),
            format!("Ingress healthcheck-protocol/port/path {proto}:{}{path}, success-codes {codes}", target.port),
            note(verdict),
        );
        rows.push(
            format!("{field}.interval/timeout/thresholds"),
            format!("Ingress healthcheck-interval-seconds={interval}, -timeout-seconds={timeout}, healthy/unhealthy-threshold-count={healthy}/{unhealthy}"),
            note(Verdict::Exact),
        );
    }
    if !split.nlb.is_empty() {
        let (proto, verdict) = match target.protocol {
            TargetProtocol::Http => ("HTTP", Verdict::Exact),
            TargetProtocol::Https => ("HTTPS", Verdict::Exact),
            TargetProtocol::Tcp => ("TCP", Verdict::Exact),
            TargetProtocol::Ssl => {
                ("TCP", Verdict::Approximated("an NLB has no SSL health check: a TCP connect, without the TLS handshake".into()))
            }
        };
        nlb_ann.insert(nlb("healthcheck-protocol"), proto.into());
        nlb_ann.insert(nlb("healthcheck-port"), target.port.to_string());
        if let Some(path) = &target.path {
            nlb_ann.insert(nlb("healthcheck-path"), path.clone());
            nlb_ann.insert(nlb("healthcheck-success-codes"), "200".into());
        }
        nlb_ann.insert(nlb("healthcheck-interval"), interval.to_string());
        nlb_ann.insert(nlb("healthcheck-timeout"), timeout.to_string());
        nlb_ann.insert(nlb("healthcheck-healthy-threshold"), healthy.to_string());
        nlb_ann.insert(nlb("healthcheck-unhealthy-threshold"), unhealthy.to_string());
        rows.push(
            format!("{field}.target"),
            format!(
                "Service aws-load-balancer-healthcheck-protocol/port/path {proto}:{}{}",
                target.port,
                target.path.clone().unwrap_or_default()
            ),
            note(verdict),
        );
        rows.push(
            format!("{field}.interval/timeout/thresholds"),
            format!("Service aws-load-balancer-healthcheck-interval={interval}, -timeout={timeout}, -healthy/unhealthy-threshold={healthy}/{unhealthy}"),
            note(Verdict::Exact),
        );
    }
}
