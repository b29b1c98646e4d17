//! The annotation names and values `elb-operator migrate` writes, checked against the AWS Load
//! Balancer Controller's annotation reference, held here with its source:
//! https://github.com/kubernetes-sigs/aws-load-balancer-controller, files
//! `docs/guide/ingress/annotations.md` and `docs/guide/service/annotations.md` (the tables at
//! their top), commit 225f44568848eb25f13e304a5f1cc68c0cd9415d. Attribute keys: the AWS ELBv2
//! API reference, `LoadBalancerAttribute`, `TargetGroupAttribute` and `ListenerAttribute`
//! (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/).

use std::collections::BTreeMap;

use crate::cases;

/// Ingress annotations (ingress/annotations.md). `${…}` stands for a part the user names.
const INGRESS: &[&str] = &[
    "alb.ingress.kubernetes.io/load-balancer-name",
    "alb.ingress.kubernetes.io/group.name",
    "alb.ingress.kubernetes.io/group.order",
    "alb.ingress.kubernetes.io/tags",
    "alb.ingress.kubernetes.io/ip-address-type",
    "alb.ingress.kubernetes.io/scheme",
    "alb.ingress.kubernetes.io/subnets",
    "alb.ingress.kubernetes.io/security-groups",
    "alb.ingress.kubernetes.io/manage-backend-security-group-rules",
    "alb.ingress.kubernetes.io/customer-owned-ipv4-pool",
    "alb.ingress.kubernetes.io/load-balancer-attributes",
    "alb.ingress.kubernetes.io/wafv2-acl-arn",
    "alb.ingress.kubernetes.io/waf-acl-id",
    "alb.ingress.kubernetes.io/shield-advanced-protection",
    "alb.ingress.kubernetes.io/listen-ports",
    "alb.ingress.kubernetes.io/ssl-redirect",
    "alb.ingress.kubernetes.io/inbound-cidrs",
    "alb.ingress.kubernetes.io/security-group-prefix-lists",
    "alb.ingress.kubernetes.io/certificate-arn",
    "alb.ingress.kubernetes.io/ssl-policy",
    "alb.ingress.kubernetes.io/target-type",
    "alb.ingress.kubernetes.io/backend-protocol",
    "alb.ingress.kubernetes.io/backend-protocol-version",
    "alb.ingress.kubernetes.io/target-group-attributes",
    "alb.ingress.kubernetes.io/healthcheck-port",
    "alb.ingress.kubernetes.io/healthcheck-protocol",
    "alb.ingress.kubernetes.io/healthcheck-path",
    "alb.ingress.kubernetes.io/healthcheck-interval-seconds",
    "alb.ingress.kubernetes.io/healthcheck-timeout-seconds",
    "alb.ingress.kubernetes.io/healthy-threshold-count",
    "alb.ingress.kubernetes.io/unhealthy-threshold-count",
    "alb.ingress.kubernetes.io/success-codes",
    "alb.ingress.kubernetes.io/auth-type",
    "alb.ingress.kubernetes.io/auth-idp-cognito",
    "alb.ingress.kubernetes.io/auth-idp-oidc",
    "alb.ingress.kubernetes.io/auth-on-unauthenticated-request",
    "alb.ingress.kubernetes.io/auth-scope",
    "alb.ingress.kubernetes.io/auth-session-cookie",
    "alb.ingress.kubernetes.io/auth-session-timeout",
    "alb.ingress.kubernetes.io/jwt-validation",
    "alb.ingress.kubernetes.io/actions.${action-name}",
    "alb.ingress.kubernetes.io/transforms.${transforms-name}",
    "alb.ingress.kubernetes.io/conditions.${conditions-name}",
    "alb.ingress.kubernetes.io/use-regex-path-match",
    "alb.ingress.kubernetes.io/target-node-labels",
    "alb.ingress.kubernetes.io/mutual-authentication",
    "alb.ingress.kubernetes.io/multi-cluster-target-group",
    "alb.ingress.kubernetes.io/listener-attributes.${Protocol}-${Port}",
    "alb.ingress.kubernetes.io/minimum-load-balancer-capacity",
    "alb.ingress.kubernetes.io/ipam-ipv4-pool-id",
    "alb.ingress.kubernetes.io/enable-frontend-nlb",
    "alb.ingress.kubernetes.io/frontend-nlb-scheme",
    "alb.ingress.kubernetes.io/frontend-nlb-subnets",
    "alb.ingress.kubernetes.io/frontend-nlb-security-groups",
    "alb.ingress.kubernetes.io/frontend-nlb-listener-port-mapping",
    "alb.ingress.kubernetes.io/frontend-nlb-healthcheck-port",
    "alb.ingress.kubernetes.io/frontend-nlb-healthcheck-protocol",
    "alb.ingress.kubernetes.io/frontend-nlb-healthcheck-path",
    "alb.ingress.kubernetes.io/frontend-nlb-healthcheck-interval-seconds",
    "alb.ingress.kubernetes.io/frontend-nlb-healthcheck-timeout-seconds",
    "alb.ingress.kubernetes.io/frontend-nlb-healthcheck-healthy-threshold-count",
    "alb.ingress.kubernetes.io/frontend-nlb-healthcheck-unhealthy-threshold-count",
    "alb.ingress.kubernetes.io/frontend-nlb-healthcheck-success-codes",
    "alb.ingress.kubernetes.io/frontend-nlb-tags",
    "alb.ingress.kubernetes.io/frontend-nlb-eip-allocations",
    "alb.ingress.kubernetes.io/target-control-port.${serviceName}.${servicePort}",
    "alb.ingress.kubernetes.io/frontend-nlb-attributes",
];

/// Service annotations (service/annotations.md).
const SERVICE: &[&str] = &[
    "service.beta.kubernetes.io/load-balancer-source-ranges",
    "service.beta.kubernetes.io/aws-load-balancer-security-group-prefix-lists",
    "service.beta.kubernetes.io/aws-load-balancer-type",
    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type",
    "service.beta.kubernetes.io/aws-load-balancer-name",
    "service.beta.kubernetes.io/aws-load-balancer-internal",
    "service.beta.kubernetes.io/aws-load-balancer-scheme",
    "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol",
    "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol-per-target-group",
    "service.beta.kubernetes.io/aws-load-balancer-ip-address-type",
    "service.beta.kubernetes.io/aws-load-balancer-access-log-enabled",
    "service.beta.kubernetes.io/aws-load-balancer-access-log-s3-bucket-name",
    "service.beta.kubernetes.io/aws-load-balancer-access-log-s3-bucket-prefix",
    "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled",
    "service.beta.kubernetes.io/aws-load-balancer-ssl-cert",
    "service.beta.kubernetes.io/aws-load-balancer-ssl-ports",
    "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy",
    "service.beta.kubernetes.io/aws-load-balancer-backend-protocol",
    "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-healthy-threshold",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-unhealthy-threshold",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-timeout",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-success-codes",
    "service.beta.kubernetes.io/aws-load-balancer-eip-allocations",
    "service.beta.kubernetes.io/aws-load-balancer-private-ipv4-addresses",
    "service.beta.kubernetes.io/aws-load-balancer-ipv6-addresses",
    "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes",
    "service.beta.kubernetes.io/aws-load-balancer-subnets",
    "service.beta.kubernetes.io/aws-load-balancer-alpn-policy",
    "service.beta.kubernetes.io/aws-load-balancer-target-node-labels",
    "service.beta.kubernetes.io/aws-load-balancer-attributes",
    "service.beta.kubernetes.io/aws-load-balancer-security-groups",
    "service.beta.kubernetes.io/aws-load-balancer-manage-backend-security-group-rules",
    "service.beta.kubernetes.io/aws-load-balancer-inbound-sg-rules-on-private-link-traffic",
    "service.beta.kubernetes.io/aws-load-balancer-listener-attributes.${Protocol}-${Port}",
    "service.beta.kubernetes.io/aws-load-balancer-multi-cluster-target-group",
    "service.beta.kubernetes.io/aws-load-balancer-enable-prefix-for-ipv6-source-nat",
    "service.beta.kubernetes.io/aws-load-balancer-source-nat-ipv6-prefixes",
    "service.beta.kubernetes.io/aws-load-balancer-minimum-load-balancer-capacity",
    "service.beta.kubernetes.io/aws-load-balancer-enable-icmp-for-path-mtu-discovery",
    "service.beta.kubernetes.io/aws-load-balancer-enable-tcp-udp-listener",
    "service.beta.kubernetes.io/aws-load-balancer-disable-nlb-sg",
    "service.beta.kubernetes.io/aws-load-balancer-quic-enabled-ports",
    "service.beta.kubernetes.io/actions.${protocol}-${port}",
];

/// Load balancer attribute keys (API_LoadBalancerAttribute), those of ALB and NLB.
const LB_ATTRIBUTES: &[&str] = &[
    "access_logs.s3.enabled",
    "access_logs.s3.bucket",
    "access_logs.s3.prefix",
    "deletion_protection.enabled",
    "idle_timeout.timeout_seconds",
    "load_balancing.cross_zone.enabled",
    "routing.http2.enabled",
    "routing.http.drop_invalid_header_fields.enabled",
];

/// Target group attribute keys (API_TargetGroupAttribute).
const TG_ATTRIBUTES: &[&str] = &[
    "deregistration_delay.timeout_seconds",
    "deregistration_delay.connection_termination.enabled",
    "stickiness.enabled",
    "stickiness.type",
    "stickiness.lb_cookie.duration_seconds",
    "stickiness.app_cookie.cookie_name",
    "stickiness.app_cookie.duration_seconds",
    "load_balancing.cross_zone.enabled",
    "preserve_client_ip.enabled",
    "proxy_protocol_v2.enabled",
];

/// Listener attribute keys (API_ListenerAttribute) of NLB TCP listeners.
const LISTENER_ATTRIBUTES: &[&str] = &["tcp.idle_timeout.seconds"];

/// Whether `name` is on `list`, a `${…}` part standing for any non-empty text.
fn listed(name: &str, list: &[&str]) -> bool {
    list.iter().any(|entry| match entry.find("${") {
        None => *entry == name,
        Some(i) => name.starts_with(&entry[..i]) && name.len() > i,
    })
}

/// `k=v,k=v` → keys, values.
fn string_map(v: &str) -> BTreeMap<String, String> {
    v.split(',').map(|kv| kv.split_once('=').unwrap_or_else(|| panic!("not k=v: {kv} in {v}"))).map(|(k, v)| (k.into(), v.into())).collect()
}

/// Every annotation of every object of every case: (kind, name, value).
fn annotations() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for m in cases::all().iter().flat_map(|c| c.migrations()) {
        for o in &m.manifests {
            for (k, v) in o["metadata"]["annotations"].as_object().into_iter().flatten() {
                out.push((o["kind"].as_str().unwrap().to_string(), k.clone(), v.as_str().unwrap().to_string()));
            }
        }
    }
    out
}

#[test]
fn every_annotation_the_generator_writes_is_in_the_lbc_reference() {
    let all = annotations();
    assert!(all.len() > 500, "the cases write annotations: {}", all.len());
    let mut unknown = Vec::new();
    for (kind, name, _) in &all {
        let ok = match kind.as_str() {
            "Ingress" => listed(name, INGRESS),
            "Service" => listed(name, SERVICE),
            _ => false,
        };
        if !ok {
            unknown.push(format!("{kind} {name}"));
        }
    }
    unknown.dedup();
    assert!(unknown.is_empty(), "annotations not in the LBC reference: {unknown:?}");
    // The check can fail: a misspelt name is not listed.
    assert!(!listed("alb.ingress.kubernetes.io/healthcheck-interval", INGRESS));
    assert!(listed("service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-22", SERVICE));
    assert!(!listed("service.beta.kubernetes.io/aws-load-balancer-listener-attributes.", SERVICE));
}

#[test]
fn the_annotation_values_are_ones_the_lbc_takes() {
    let policies: Vec<&str> = elb_operator::migrate::tls::SAME_NAME.to_vec();
    let int = |v: &str| v.parse::<u32>().is_ok();
    for (kind, name, value) in annotations() {
        let key = name.rsplit('/').next().unwrap().trim_start_matches("aws-load-balancer-");
        let ok = match key {
            "scheme" => ["internal", "internet-facing"].contains(&value.as_str()),
            "target-type" | "nlb-target-type" => ["instance", "ip"].contains(&value.as_str()),
            "type" => value == "external",
            "backend-protocol" if kind == "Ingress" => ["HTTP", "HTTPS"].contains(&value.as_str()),
            "backend-protocol" => value == "ssl",
            "healthcheck-protocol" if kind == "Ingress" => ["HTTP", "HTTPS"].contains(&value.as_str()),
            "healthcheck-protocol" => ["TCP", "HTTP", "HTTPS"].contains(&value.as_str()),
            "ssl-policy" | "ssl-negotiation-policy" => policies.contains(&value.as_str()),
            "healthcheck-port"
            | "healthcheck-interval-seconds"
            | "healthcheck-timeout-seconds"
            | "healthy-threshold-count"
            | "unhealthy-threshold-count"
            | "healthcheck-interval"
            | "healthcheck-timeout"
            | "healthcheck-healthy-threshold"
            | "healthcheck-unhealthy-threshold" => int(&value),
            "healthcheck-path" => value.starts_with('/'),
            "success-codes" | "healthcheck-success-codes" => ["200", "200-499"].contains(&value.as_str()),
            "listen-ports" => serde_json::from_str::<Vec<BTreeMap<String, u16>>>(&value)
                .is_ok_and(|l| l.iter().all(|m| m.len() == 1 && m.keys().all(|p| p == "HTTP" || p == "HTTPS"))),
            "certificate-arn" | "ssl-cert" => value.split(',').all(|a| a.starts_with("arn:aws:acm:") || a.starts_with("arn:aws:iam::")),
            "ssl-ports" | "proxy-protocol-per-target-group" => value.split(',').all(int),
            "proxy-protocol" => value == "*",
            "subnets" => value.split(',').all(|s| s.starts_with("subnet-")),
            "security-groups" => value.split(',').all(|s| s.starts_with("sg-")),
            "load-balancer-attributes" | "attributes" => string_map(&value).keys().all(|k| LB_ATTRIBUTES.contains(&k.as_str())),
            "target-group-attributes" => string_map(&value).iter().all(|(k, v)| {
                TG_ATTRIBUTES.contains(&k.as_str())
                    && (k != "stickiness.type" || ["lb_cookie", "app_cookie", "source_ip"].contains(&v.as_str()))
            }),
            k if k.starts_with("listener-attributes.TCP-") => string_map(&value).keys().all(|k| LISTENER_ATTRIBUTES.contains(&k.as_str())),
            "tags" | "additional-resource-tags" => !string_map(&value).is_empty(),
            "group.name" => {
                value.len() <= 63 && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            }
            "load-balancer-name" | "name" => value.len() <= 32,
            other => panic!("no value check for annotation {other} ({name})"),
        };
        assert!(ok, "{kind} {name}: {value:?} is not a value the LBC takes");
    }
}
