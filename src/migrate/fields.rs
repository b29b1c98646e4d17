//! The field-by-field mapping of a LoadBalancer (and its HealthCheck and class) onto the
//! LBC's annotations and CRDs, with a verdict per field. Pure: the caller reads the cluster.
//!
//! A Classic field left unset means "as AWS created it"; the translation writes AWS's
//! Classic default explicitly where ELBv2's differs (cross-zone off, no connection draining,
//! 60 s idle timeout), so that the new load balancer behaves as the old one did, assuming
//! nobody changed the default by hand.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::manifests::{self, AlbIngress, AlbPlan, Binding, ClassPlan, NlbPlan, Plan, ServicePort, DEFAULT_INGRESS_CLASS};
use super::target::{self, Target};
use super::{alb, nlb, tls, Migration, Rows, Verdict};
use crate::crd::{HealthCheckSpec, ListenerSpec, LoadBalancer, LoadBalancerClass, Protocol, Scheme};

/// What one LoadBalancer's translation reads.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The LoadBalancer to translate.
    pub lb: &'a LoadBalancer,
    /// The HealthCheck `spec.healthCheckRef` names, when it exists.
    pub health_check: Option<&'a HealthCheckSpec>,
    /// The LoadBalancerClass that applies to it, if any.
    pub class: Option<&'a LoadBalancerClass>,
    /// `--target`.
    pub forced: Option<Target>,
}

/// The tag the new load balancer gets with the `namespace/name` of the LoadBalancer it
/// replaces.
pub const MIGRATED_FROM_TAG: &str = "elb.operator.dev/migrated-from";
/// NLB TCP listener idle timeout bounds.
const NLB_IDLE_RANGE: (i32, i32) = (60, 6000);

/// `k1=v1,k2=v2`, the LBC's stringMap.
fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

fn attrs(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Translates one LoadBalancer.
pub fn migrate(input: Input<'_>) -> Migration {
    let lb = input.lb;
    let spec = &lb.spec;
    let namespace = lb.namespace().unwrap_or_default();
    let name = lb.name_any();
    let split = target::choose(&spec.listeners, input.forced);
    let mut rows = Rows(Vec::new());
    let mut to_create = Vec::new();
    let mut plan = Plan { namespace: namespace.clone(), name: name.clone(), ..Plan::default() };
    let group = format!("{namespace}.{name}").chars().take(63).collect::<String>().trim_end_matches(['-', '.']).to_string();

    // Annotations every Ingress of the ALB carries (ALB-wide settings must agree across the
    // IngressGroup), and the NLB Service's.
    let mut alb_common: BTreeMap<String, String> = BTreeMap::new();
    let mut nlb_ann: BTreeMap<String, String> = BTreeMap::new();
    let has_alb = !split.alb.is_empty();
    let has_nlb = !split.nlb.is_empty();
    if has_alb {
        alb_common.insert(alb("group.name"), group.clone());
        alb_common.insert(alb("target-type"), "ip".into());
    }
    if has_nlb {
        nlb_ann.insert(nlb("type"), "external".into());
        nlb_ann.insert(nlb("nlb-target-type"), "ip".into());
    }
    let sides = |alb_key: &str, nlb_key: &str| -> String {
        match (has_alb, has_nlb) {
            (true, true) => format!("Ingress {alb_key} / Service {nlb_key}"),
            (true, false) => format!("Ingress {alb_key}"),
            _ => format!("Service {nlb_key}"),
        }
    };

    // Name.
    match &spec.load_balancer_name {
        Some(n) if has_alb && has_nlb => {
            let short: String = n.chars().take(28).collect::<String>().trim_end_matches('-').to_string();
            let (a, b) = (format!("{short}-alb"), format!("{short}-nlb"));
            alb_common.insert(alb("load-balancer-name"), a.clone());
            nlb_ann.insert(nlb("name"), b.clone());
            rows.push(
                "loadBalancerName",
                sides("load-balancer-name", "aws-load-balancer-name"),
                Verdict::Approximated(format!("two load balancers need two names: {a} and {b}")),
            );
        }
        Some(n) => {
            if has_alb {
                alb_common.insert(alb("load-balancer-name"), n.clone());
            } else {
                nlb_ann.insert(nlb("name"), n.clone());
            }
            rows.push("loadBalancerName", sides("load-balancer-name", "aws-load-balancer-name"), Verdict::Exact);
        }
        None => rows.push("loadBalancerName", "derived by the LBC (k8s-<namespace>-<name>-<hash>)", Verdict::Exact),
    }

    // Region and account.
    let region = spec.region.clone().unwrap_or_else(|| "the operator's --region".into());
    // The LBC runs in one region: the region is a requirement on it, not an annotation.
    rows.push("region", format!("the LBC's --aws-region: {region}"), Verdict::Exact);
    if let Some(role) = &spec.role_arn {
        rows.push(
            "roleArn",
            "-",
            Verdict::NotCarried(format!(
                "the LBC manages load balancers in its own account with its own IAM role: run an LBC with access to the account of {role}"
            )),
        );
    }

    // Scheme: the LBC defaults to internal, Classic to internet-facing, so it is always written.
    let scheme = spec.scheme.unwrap_or(Scheme::InternetFacing).as_str();
    if has_alb {
        alb_common.insert(alb("scheme"), scheme.into());
    }
    if has_nlb {
        nlb_ann.insert(nlb("scheme"), scheme.into());
    }
    rows.push("scheme", sides(&format!("scheme={scheme}"), &format!("aws-load-balancer-scheme={scheme}")), Verdict::Exact);

    // Placement.
    let subnet_tag = if scheme == "internal" { "kubernetes.io/role/internal-elb" } else { "kubernetes.io/role/elb" };
    match (&spec.subnets, &spec.availability_zones) {
        (Some(subnets), _) => {
            let v = subnets.join(",");
            if has_alb {
                alb_common.insert(alb("subnets"), v.clone());
            }
            if has_nlb {
                nlb_ann.insert(nlb("subnets"), v.clone());
            }
            rows.push("subnets", sides("subnets", "aws-load-balancer-subnets"), Verdict::Exact);
        }
        (None, Some(zones)) => rows.push(
            "availabilityZones",
            "subnet discovery",
            Verdict::Approximated(format!(
                "the LBC picks one subnet per zone tagged {subnet_tag}; zones {} are not pinned (set subnets to pin them)",
                zones.join(", ")
            )),
        ),
        (None, None) => rows.push(
            "availabilityZones",
            "subnet discovery",
            Verdict::Approximated(format!(
                "the Classic ELB followed its backends' zones; the LBC picks one subnet per zone tagged {subnet_tag}"
            )),
        ),
    }
    if spec.security_groups.is_empty() {
        rows.push(
            "securityGroups",
            "a security group the LBC creates",
            Verdict::Approximated(
                "the LBC creates a security group open on the listener ports; the Classic ELB had the VPC's default group".into(),
            ),
        );
    } else {
        let v = spec.security_groups.join(",");
        if has_alb {
            alb_common.insert(alb("security-groups"), v.clone());
        }
        if has_nlb {
            nlb_ann.insert(nlb("security-groups"), v);
        }
        rows.push("securityGroups", sides("security-groups", "aws-load-balancer-security-groups"), Verdict::Exact);
    }

    // Attributes.
    let attributes = spec.attributes.clone().unwrap_or_default();
    let mut alb_lb_attrs: Vec<(String, String)> = Vec::new();
    let mut alb_tg_attrs: Vec<(String, String)> = Vec::new();
    let mut nlb_lb_attrs: Vec<(String, String)> = Vec::new();
    let mut nlb_tg_attrs: Vec<(String, String)> = Vec::new();
    let cross_zone = attributes.cross_zone.unwrap_or(false);
    let unset = |set: bool| if set { "" } else { " (unset: Classic default)" };
    if has_alb {
        // An ALB balances across zones; a target group attribute turns it off.
        alb_tg_attrs.push(("load_balancing.cross_zone.enabled".into(), cross_zone.to_string()));
    }
    if has_nlb {
        nlb_lb_attrs.push(("load_balancing.cross_zone.enabled".into(), cross_zone.to_string()));
    }
    let cz_where = match (has_alb, has_nlb) {
        (true, true) => "ALB target groups, NLB",
        (true, false) => "ALB target groups",
        _ => "NLB",
    };
    rows.push(
        format!("attributes.crossZone{}", unset(attributes.cross_zone.is_some())),
        format!("load_balancing.cross_zone.enabled={cross_zone} ({cz_where})"),
        Verdict::Exact,
    );

    let draining = attributes.connection_draining.clone();
    let delay = match &draining {
        Some(d) if d.enabled => d.timeout_seconds.unwrap_or(300),
        _ => 0,
    };
    if has_alb {
        alb_tg_attrs.push(("deregistration_delay.timeout_seconds".into(), delay.to_string()));
    }
    if has_nlb {
        nlb_tg_attrs.push(("deregistration_delay.timeout_seconds".into(), delay.to_string()));
    }
    rows.push(
        format!("attributes.connectionDraining{}", unset(draining.is_some())),
        format!("target group deregistration_delay.timeout_seconds={delay}"),
        Verdict::Exact,
    );

    let idle = attributes.idle_timeout_seconds.unwrap_or(60);
    let idle_set = attributes.idle_timeout_seconds.is_some();
    let idle_field = format!("attributes.idleTimeoutSeconds{}", unset(idle_set));
    if has_alb {
        alb_lb_attrs.push(("idle_timeout.timeout_seconds".into(), idle.to_string()));
        rows.push(idle_field.clone(), format!("Ingress load-balancer-attributes idle_timeout.timeout_seconds={idle}"), Verdict::Exact);
    }

    // Access logs.
    if let Some(log) = attributes.access_log.as_ref().filter(|l| l.enabled) {
        let bucket = log.s3_bucket_name.clone().unwrap_or_default();
        let mut pairs = vec![("access_logs.s3.enabled".to_string(), "true".to_string()), ("access_logs.s3.bucket".into(), bucket)];
        if let Some(prefix) = &log.s3_bucket_prefix {
            pairs.push(("access_logs.s3.prefix".into(), prefix.clone()));
        }
        let interval = match log.emit_interval_minutes {
            Some(60) => Verdict::Approximated("ELBv2 writes a log file every 5 minutes; the Classic ELB wrote one every 60".into()),
            _ => Verdict::Exact,
        };
        if has_alb {
            alb_lb_attrs.extend(pairs.iter().cloned());
            rows.push("attributes.accessLog", "Ingress load-balancer-attributes access_logs.s3.*", Verdict::Exact);
            rows.push("attributes.accessLog.emitIntervalMinutes", "ALB log interval (5 minutes, fixed)", interval.clone());
        }
        if has_nlb {
            nlb_lb_attrs.extend(pairs);
            let tls_listeners =
                split.nlb.iter().filter(|&&i| target::elbv2_protocol(spec.listeners[i].protocol, Target::Nlb) == Some("TLS")).count();
            let verdict = if tls_listeners == 0 {
                Verdict::NotCarried("an NLB logs the connections of TLS listeners only, and this one has none".into())
            } else if tls_listeners < split.nlb.len() {
                Verdict::Approximated("an NLB logs the connections of TLS listeners only: its TCP listeners are not logged".into())
            } else {
                Verdict::Exact
            };
            rows.push("attributes.accessLog", "Service aws-load-balancer-attributes access_logs.s3.*", verdict);
            rows.push("attributes.accessLog.emitIntervalMinutes", "NLB log interval (5 minutes, fixed)", interval);
        }
    }

    // Tags: the user's, the class's, and the ownership markers.
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    let mut bad_tags = Vec::new();
    for (k, v) in &spec.tags {
        // The LBC's stringMap is split on ',' and '=': such a key or value cannot pass.
        if k.contains([',', '=']) || v.contains(',') {
            bad_tags.push(k.clone());
        } else {
            tags.insert(k.clone(), v.clone());
        }
    }
    if !spec.tags.is_empty() {
        let verdict = if bad_tags.is_empty() {
            Verdict::Exact
        } else {
            Verdict::NotCarried(format!("tags {} hold ',' or '=' which the LBC's k=v,k=v annotation cannot carry", bad_tags.join(", ")))
        };
        rows.push("tags", sides("tags", "aws-load-balancer-additional-resource-tags"), verdict);
    }
    let class_tags: BTreeMap<String, String> = input.class.map(|c| c.spec.tags.clone()).unwrap_or_default();
    if let Some(class) = input.class {
        let class_name = class.name_any();
        let mut how =
            vec!["the class's grants (roles, regions, schemes, adoption, required resource tags) have no LBC counterpart".to_string()];
        if !class_tags.is_empty() {
            how.push(if has_alb {
                format!("its tags go to IngressClassParams {class_name} (IngressClass {class_name}-alb)")
            } else {
                "its tags go to the Service's additional-resource-tags".into()
            });
        }
        rows.push(format!("className ({class_name})"), "IngressClass / tags", Verdict::Approximated(how.join("; ")));
        if has_alb && !class_tags.is_empty() {
            plan.class =
                Some(ClassPlan { params: class_name.clone(), ingress_class: format!("{class_name}-alb"), tags: class_tags.clone() });
        }
    }
    // The ownership markers: the LBC tags what it owns itself; the resource the load
    // balancer replaces is recorded beside them, for the cutover and for audits.
    tags.insert(MIGRATED_FROM_TAG.into(), format!("{namespace}/{name}"));
    if has_alb {
        alb_common.insert(alb("tags"), string_map(&tags));
    }
    if has_nlb {
        let mut all = class_tags.clone();
        all.extend(tags.clone());
        nlb_ann.insert(nlb("additional-resource-tags"), string_map(&all));
    }
    rows.push(
        "ownership tags (elb.operator.dev/*)",
        format!(
            "the LBC's own (elbv2.k8s.aws/cluster, ingress.k8s.aws/stack or service.k8s.aws/stack) and {MIGRATED_FROM_TAG}={namespace}/{name}"
        ),
        Verdict::Exact,
    );

    // Health check.
    super::health::health_check(input.lb, input.health_check, &split, &mut rows, &mut alb_common, &mut nlb_ann);

    // Backends.
    let backends = spec.backends.clone().unwrap_or_default();
    if let Some(selector) = &backends.pod_selector {
        let labels = selector.match_labels.clone().unwrap_or_default();
        let exprs = selector.match_expressions.as_ref().is_some_and(|e| !e.is_empty());
        let mut services = Vec::new();
        if has_alb {
            services.push(manifests::alb_service(&name));
        }
        if has_nlb {
            services.push(manifests::nlb_service(&name));
        }
        let service_names = format!("Service {}", services.join(", "));
        let verdict = if labels.is_empty() {
            Verdict::NotCarried(
                "a Service selects by labels only, and this selector has matchExpressions only: select the pods by label".into(),
            )
        } else if exprs {
            Verdict::Approximated("a Service selects by labels only: matchExpressions dropped, so it may select more pods".into())
        } else {
            Verdict::Approximated(
                "targets are the pods' IPs on the instance port (target-type ip) instead of their nodes: the pods must listen on that port"
                    .into(),
            )
        };
        if !labels.is_empty() {
            plan.selector = Some(labels);
        }
        rows.push("backends.podSelector", format!("{service_names} selector"), verdict);
    }
    if backends.node_selector.is_some() {
        rows.push(
            "backends.nodeSelector",
            "-",
            Verdict::NotCarried(
                "the LBC registers nodes only as the NodePort of a Service's pods; run the nodes' workload as pods, or register the nodes in a target group by hand"
                    .into(),
            ),
        );
    }
    let static_sources: Vec<String> = backends
        .instance_ids
        .iter()
        .map(|i| format!("instance {i}"))
        .chain(backends.auto_scaling_groups.iter().map(|g| format!("Auto Scaling group {g}")))
        .collect();

    // Listeners.
    let mut ingresses = Vec::new();
    let mut nlb_ports = Vec::new();
    let mut tls_ports = Vec::new();
    let mut certs: Vec<String> = Vec::new();
    // Each TLS listener's policy and its report row: an NLB Service takes one policy for all.
    let mut nlb_policies: Vec<(&'static str, usize)> = Vec::new();
    let mut proxy_ports = Vec::new();
    let mut backend_tls = Vec::new();
    let ingress_class = plan.class.as_ref().map(|c| c.ingress_class.clone()).unwrap_or_else(|| DEFAULT_INGRESS_CLASS.into());
    for &i in &split.alb {
        let l = &spec.listeners[i];
        let field = format!("listeners[{}]", l.port);
        let Some(proto) = target::elbv2_protocol(l.protocol, Target::Alb) else {
            rows.push(
                field,
                "-",
                Verdict::NotCarried(format!("an ALB has no {} listener: leave --target unset to put it on an NLB", l.protocol.as_str())),
            );
            continue;
        };
        let ing_name = manifests::object_name(&name, &format!("alb-{}", l.port));
        let mut ann = alb_common.clone();
        ann.insert(alb("listen-ports"), format!("[{{\"{proto}\": {}}}]", l.port));
        let backend = if l.instance_protocol.unwrap_or(Protocol::HTTP) == Protocol::HTTPS { "HTTPS" } else { "HTTP" };
        ann.insert(alb("backend-protocol"), backend.into());
        rows.push(
            field.clone(),
            format!("Ingress {ing_name}: listen-ports {proto}:{}, backend-protocol {backend}, port {}", l.port, l.instance_port),
            Verdict::Exact,
        );
        if let Some(cert) = &l.ssl_certificate_id {
            ann.insert(alb("certificate-arn"), cert.clone());
            rows.push(format!("{field}.sslCertificateId"), format!("Ingress {ing_name} certificate-arn"), Verdict::Exact);
        }
        if l.protocol == Protocol::HTTPS {
            let (policy, verdict) = tls::elbv2_policy(l.ssl_policy.as_deref());
            ann.insert(alb("ssl-policy"), policy.into());
            rows.push(format!("{field}.sslPolicy"), format!("Ingress {ing_name} ssl-policy={policy}"), verdict);
        }
        let mut tg = alb_tg_attrs.clone();
        if let Some(s) = &l.stickiness {
            let (pairs, verdict) = super::stickiness::alb_stickiness(s);
            rows.push(format!("{field}.stickiness"), format!("Ingress {ing_name} target-group-attributes {}", attrs(&pairs)), verdict);
            tg.extend(pairs);
        }
        ann.insert(alb("target-group-attributes"), attrs(&tg));
        let mut lb_attrs = alb_lb_attrs.clone();
        lb_attrs.sort();
        ann.insert(alb("load-balancer-attributes"), attrs(&lb_attrs));
        ingresses.push(AlbIngress { name: ing_name, annotations: ann, backend_port: l.instance_port });
        if !static_sources.is_empty() {
            binding(&mut plan, &mut to_create, (&manifests::alb_service(&name), l.instance_port), l, spec_elb_name(lb), &static_sources);
        }
    }
    for &i in &split.nlb {
        let l = &spec.listeners[i];
        let field = format!("listeners[{}]", l.port);
        let proto = target::elbv2_protocol(l.protocol, Target::Nlb).expect("every Classic protocol has an NLB listener");
        let port_name = format!("{}-{}", proto.to_lowercase(), l.port);
        nlb_ports.push(ServicePort { name: port_name, port: l.port, target_port: l.instance_port });
        let svc = manifests::nlb_service(&name);
        let verdict = match l.protocol {
            Protocol::HTTP | Protocol::HTTPS => Verdict::Approximated(format!(
                "{} becomes {proto} on an NLB: no HTTP parsing, no X-Forwarded-For headers",
                l.protocol.as_str()
            )),
            _ => Verdict::Exact,
        };
        rows.push(field.clone(), format!("Service {svc} port {} ({proto}) -> {}", l.port, l.instance_port), verdict);
        let instance_tls = matches!(l.instance_protocol, Some(Protocol::SSL | Protocol::HTTPS));
        if proto == "TLS" {
            tls_ports.push(l.port.to_string());
            if let Some(cert) = &l.ssl_certificate_id {
                if !certs.contains(cert) {
                    certs.push(cert.clone());
                }
            }
            let (policy, verdict) = tls::elbv2_policy(l.ssl_policy.as_deref());
            rows.push(format!("{field}.sslPolicy"), format!("Service aws-load-balancer-ssl-negotiation-policy={policy}"), verdict);
            nlb_policies.push((policy, rows.0.len() - 1));
            backend_tls.push(instance_tls);
        } else if instance_tls {
            rows.push(
                format!("{field}.instanceProtocol"),
                "-",
                Verdict::NotCarried(
                    "an NLB TCP listener cannot encrypt to its targets: make the listener SSL, or the instance protocol TCP".into(),
                ),
            );
        }
        if l.proxy_protocol {
            proxy_ports.push(l.port.to_string());
        }
        if l.stickiness.is_some() {
            nlb_tg_attrs.retain(|(k, _)| !k.starts_with("stickiness"));
            nlb_tg_attrs.push(("stickiness.enabled".into(), "true".into()));
            nlb_tg_attrs.push(("stickiness.type".into(), "source_ip".into()));
            rows.push(
                format!("{field}.stickiness"),
                "Service target-group-attributes stickiness.type=source_ip",
                Verdict::Approximated("an NLB sticks by client IP address, not by cookie".into()),
            );
        }
        if proto == "TCP" {
            let secs = idle.clamp(NLB_IDLE_RANGE.0, NLB_IDLE_RANGE.1);
            nlb_ann.insert(format!("{}.TCP-{}", nlb("listener-attributes"), l.port), format!("tcp.idle_timeout.seconds={secs}"));
            let verdict = if secs == idle {
                Verdict::Exact
            } else {
                Verdict::Approximated(format!(
                    "an NLB TCP idle timeout is {}-{} s: {idle} s became {secs} s",
                    NLB_IDLE_RANGE.0, NLB_IDLE_RANGE.1
                ))
            };
            rows.push(
                format!("attributes.idleTimeoutSeconds[{}]{}", l.port, unset(idle_set)),
                format!("Service listener-attributes.TCP-{}", l.port),
                verdict,
            );
        } else {
            rows.push(
                format!("attributes.idleTimeoutSeconds[{}]{}", l.port, unset(idle_set)),
                "-",
                Verdict::Approximated(format!("an NLB TLS listener's idle timeout is fixed at 350 s (was {idle} s)")),
            );
        }
        if !static_sources.is_empty() {
            binding(&mut plan, &mut to_create, (&svc, l.port), l, spec_elb_name(lb), &static_sources);
        }
    }
    if has_nlb {
        if !tls_ports.is_empty() {
            nlb_ann.insert(nlb("ssl-ports"), tls_ports.join(","));
            nlb_ann.insert(nlb("ssl-cert"), certs.join(","));
            if certs.len() > 1 {
                rows.push(
                    "listeners[].sslCertificateId",
                    "Service aws-load-balancer-ssl-cert",
                    Verdict::Approximated(
                        "an NLB's TLS listeners share one certificate list: the first is the default, SNI picks the others".into(),
                    ),
                );
            } else {
                rows.push("listeners[].sslCertificateId", "Service aws-load-balancer-ssl-cert", Verdict::Exact);
            }
            let first = nlb_policies[0].0;
            nlb_ann.insert(nlb("ssl-negotiation-policy"), first.into());
            for (policy, row) in &nlb_policies {
                if *policy != first {
                    rows.0[*row].target = format!("Service aws-load-balancer-ssl-negotiation-policy={first}");
                    rows.0[*row].verdict = Verdict::Approximated(format!(
                        "an NLB's TLS listeners share one policy: {first}, the first one's, instead of {policy}"
                    ));
                }
            }
            if backend_tls.iter().any(|b| *b) {
                nlb_ann.insert(nlb("backend-protocol"), "ssl".into());
                let verdict = if backend_tls.iter().all(|b| *b) {
                    Verdict::Exact
                } else {
                    Verdict::Approximated("an NLB encrypts to the targets of all its TLS listeners or none: all do now".into())
                };
                rows.push("listeners[].instanceProtocol SSL", "Service aws-load-balancer-backend-protocol=ssl", verdict);
            }
        }
        if !proxy_ports.is_empty() {
            let how =
                "an NLB sends PROXY protocol version 2 (binary), the Classic ELB version 1 (text): the backend must read v2".to_string();
            if proxy_ports.len() == split.nlb.len() {
                nlb_ann.insert(nlb("proxy-protocol"), "*".into());
            } else {
                nlb_ann.insert(nlb("proxy-protocol-per-target-group"), proxy_ports.join(","));
            }
            rows.push("listeners[].proxyProtocol", "Service aws-load-balancer-proxy-protocol", Verdict::Approximated(how));
        }
        nlb_lb_attrs.sort();
        nlb_ann.insert(nlb("attributes"), attrs(&nlb_lb_attrs));
        nlb_ann.insert(nlb("target-group-attributes"), attrs(&nlb_tg_attrs));
        plan.nlb = Some(NlbPlan { annotations: nlb_ann, ports: nlb_ports });
    }
    if !ingresses.is_empty() {
        plan.alb = Some(AlbPlan { ingress_class, ingresses });
    } else if plan.class.is_some() {
        plan.class = None;
    }
    if !static_sources.is_empty() {
        rows.push(
            "backends.instanceIds / autoScalingGroups",
            "TargetGroupBinding per listener",
            Verdict::NotCarried(format!(
                "the LBC registers only the cluster's endpoints: create the target groups listed below, register {} in them, and forward the listeners to them; the TargetGroupBinding (multiClusterTargetGroup) leaves those targets alone",
                static_sources.join(", ")
            )),
        );
    }

    Migration {
        namespace,
        name,
        elb_name: spec_elb_name(lb).to_string(),
        targets: split.targets(),
        target_reason: split.reason.clone(),
        fields: rows.0,
        to_create,
        manifests: manifests::render(&plan),
    }
}

fn spec_elb_name(lb: &LoadBalancer) -> &str {
    // The status records the name in AWS; the spec's or the derived name otherwise.
    lb.status.as_ref().and_then(|s| s.load_balancer_name.as_deref()).or(lb.spec.load_balancer_name.as_deref()).unwrap_or("")
}

/// A TargetGroupBinding for the listener's port (`service`: the Service and its port that
/// stands for the listener's targets), and what the user must create for it.
fn binding(plan: &mut Plan, to_create: &mut Vec<String>, service: (&str, i32), l: &ListenerSpec, elb: &str, sources: &[String]) {
    let (service, service_port) = service;
    let base = if elb.is_empty() { plan.name.as_str() } else { elb };
    // Target group names: at most 32 characters.
    let suffix = format!("-{}", l.instance_port);
    let tg: String = base.chars().take(32 - suffix.len()).collect::<String>().trim_end_matches('-').to_string() + &suffix;
    if plan.bindings.iter().any(|b| b.target_group_name == tg) {
        return;
    }
    let protocol = match l.instance_protocol.unwrap_or(if l.protocol.is_http_family() { Protocol::HTTP } else { Protocol::TCP }) {
        Protocol::SSL => "TLS",
        p => p.as_str(),
    };
    to_create.push(format!(
        "target group {tg} (target type instance, {protocol} port {}) with {}, forwarded to from listener {}",
        l.instance_port,
        sources.join(", "),
        l.port
    ));
    plan.bindings.push(Binding {
        name: manifests::object_name(&plan.name, &format!("static-{}", l.instance_port)),
        target_group_name: tg,
        service: service.to_string(),
        port: service_port,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::Mapping;

    fn lb(yaml: &str) -> LoadBalancer {
        serde_yaml::from_str(yaml).expect("a LoadBalancer")
    }

    fn run(lb: &LoadBalancer, hc: Option<&HealthCheckSpec>, forced: Option<Target>) -> Migration {
        migrate(Input { lb, health_check: hc, class: None, forced })
    }

    fn row<'a>(m: &'a Migration, field: &str) -> &'a Mapping {
        m.fields.iter().find(|f| f.field.starts_with(field)).unwrap_or_else(|| panic!("no row {field}: {:#?}", m.fields))
    }

    fn objects<'a>(m: &'a Migration, kind: &str) -> Vec<&'a serde_json::Value> {
        m.manifests.iter().filter(|o| o["kind"] == kind).collect()
    }

    const HTTPS: &str = r#"
apiVersion: elb.operator.dev/v1alpha1
kind: LoadBalancer
metadata: {name: api, namespace: web}
spec:
  scheme: internal
  subnets: [subnet-0abc1234]
  listeners:
  - {port: 443, protocol: HTTPS, instancePort: 8443, instanceProtocol: HTTPS, sslCertificateId: "arn:aws:acm:us-east-1:123456789012:certificate/x", sslPolicy: ELBSecurityPolicy-TLS-1-2-2017-01, stickiness: {expirationSeconds: 600}}
  - {port: 80, protocol: HTTP, instancePort: 8080, stickiness: {cookieName: SESSION}}
  healthCheckRef: {name: ready}
  backends: {podSelector: {matchLabels: {app: api}}}
  attributes: {crossZone: true, idleTimeoutSeconds: 30, connectionDraining: {enabled: true}}
"#;

    #[test]
    fn https_listeners_become_one_ingress_each_with_their_certificate_policy_and_stickiness() {
        let hc = HealthCheckSpec {
            target: "HTTPS:8443/ready".into(),
            interval_seconds: 10,
            timeout_seconds: 4,
            healthy_threshold: 2,
            unhealthy_threshold: 3,
        };
        let m = run(&lb(HTTPS), Some(&hc), None);
        assert_eq!(m.targets, [Target::Alb]);
        let ings = objects(&m, "Ingress");
        assert_eq!(ings.len(), 2);
        let a = &ings[0]["metadata"]["annotations"];
        assert_eq!(a["alb.ingress.kubernetes.io/listen-ports"], r#"[{"HTTPS": 443}]"#);
        assert_eq!(a["alb.ingress.kubernetes.io/ssl-policy"], "ELBSecurityPolicy-TLS-1-2-2017-01");
        assert_eq!(a["alb.ingress.kubernetes.io/backend-protocol"], "HTTPS");
        assert_eq!(a["alb.ingress.kubernetes.io/scheme"], "internal");
        assert_eq!(a["alb.ingress.kubernetes.io/tags"], "elb.operator.dev/migrated-from=web/api", "the resource it replaces");
        assert_eq!(a["alb.ingress.kubernetes.io/healthcheck-path"], "/ready");
        let tg = a["alb.ingress.kubernetes.io/target-group-attributes"].as_str().unwrap();
        assert!(
            tg.contains("stickiness.lb_cookie.duration_seconds=600") && tg.contains("deregistration_delay.timeout_seconds=300"),
            "{tg}"
        );
        assert!(a["alb.ingress.kubernetes.io/load-balancer-attributes"].as_str().unwrap().contains("idle_timeout.timeout_seconds=30"));
        assert_eq!(row(&m, "listeners[443].stickiness").verdict, Verdict::Exact);
        assert_eq!(row(&m, "listeners[443].sslPolicy").verdict, Verdict::Exact);
        assert_eq!(row(&m, "listeners[80].stickiness").verdict.word(), "approximated", "app cookie: the ALB adds its own");
        let b = &ings[1]["metadata"]["annotations"];
        assert!(b["alb.ingress.kubernetes.io/target-group-attributes"]
            .as_str()
            .unwrap()
            .contains("stickiness.app_cookie.cookie_name=SESSION"));
        assert!(b.get("alb.ingress.kubernetes.io/certificate-arn").is_none());
        let svc = objects(&m, "Service");
        assert_eq!(svc[0]["spec"]["ports"].as_array().unwrap().len(), 2, "one port per instance port");
        assert_eq!(m.outcome(), "approximated");
    }

    #[test]
    fn tcp_and_ssl_listeners_become_an_nlb_with_proxy_protocol_v2_and_static_instances_need_target_groups() {
        let m = run(
            &lb(r#"
apiVersion: elb.operator.dev/v1alpha1
kind: LoadBalancer
metadata: {name: edge, namespace: web}
spec:
  loadBalancerName: edge-passthrough
  listeners:
  - {port: 443, protocol: SSL, instancePort: 8443, sslCertificateId: "arn:aws:iam::123456789012:server-certificate/e", sslPolicy: ELBSecurityPolicy-2014-01}
  - {port: 22, protocol: TCP, instancePort: 2222, proxyProtocol: true}
  backends: {instanceIds: [i-4f8cf126], nodeSelector: {matchLabels: {role: edge}}}
  attributes: {idleTimeoutSeconds: 30}
"#),
            None,
            None,
        );
        assert_eq!(m.targets, [Target::Nlb]);
        let svc = objects(&m, "Service");
        let a = &svc[0]["metadata"]["annotations"];
        assert_eq!(a["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"], "443");
        assert_eq!(a["service.beta.kubernetes.io/aws-load-balancer-proxy-protocol-per-target-group"], "22");
        assert_eq!(a["service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy"], "ELBSecurityPolicy-2016-08");
        assert_eq!(a["service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-22"], "tcp.idle_timeout.seconds=60");
        assert_eq!(a["service.beta.kubernetes.io/aws-load-balancer-name"], "edge-passthrough");
        assert!(svc[0]["spec"].get("selector").is_none(), "no pods: no selector");
        assert!(row(&m, "listeners[].proxyProtocol").verdict.how().contains("version 2"));
        assert!(row(&m, "listeners[443].sslPolicy").verdict.how().contains("SSLv3"));
        assert_eq!(row(&m, "backends.nodeSelector").verdict.word(), "not carried");
        assert_eq!(row(&m, "healthCheck.target").verdict.word(), "approximated", "the AWS default, not read back");
        let tgbs = objects(&m, "TargetGroupBinding");
        assert_eq!(tgbs.len(), 2);
        assert_eq!(tgbs[0]["spec"]["targetGroupName"], "edge-passthrough-8443");
        let service_ports: Vec<&serde_json::Value> = svc[0]["spec"]["ports"].as_array().unwrap().iter().map(|p| &p["port"]).collect();
        assert!(tgbs.iter().all(|b| service_ports.contains(&&b["spec"]["serviceRef"]["port"])), "a binding names a port of its Service");
        assert_eq!(m.to_create.len(), 2);
        assert!(m.to_create[0].contains("instance i-4f8cf126"), "{:?}", m.to_create);
    }

    #[test]
    fn a_mixed_load_balancer_is_split_and_forcing_an_alb_drops_tcp() {
        let mixed = lb(r#"
apiVersion: elb.operator.dev/v1alpha1
kind: LoadBalancer
metadata: {name: my-lb, namespace: default}
spec:
  loadBalancerName: my-lb
  listeners:
  - {port: 80, instancePort: 8080, protocol: HTTP}
  - {port: 443, instancePort: 8443, protocol: TCP}
  healthCheckRef: {name: missing}
"#);
        let m = run(&mixed, None, None);
        assert_eq!(m.targets, [Target::Alb, Target::Nlb]);
        assert!(m.target_reason.contains("mixed"));
        assert_eq!(row(&m, "loadBalancerName").verdict.word(), "approximated");
        assert_eq!(row(&m, "healthCheckRef").verdict.word(), "not carried");
        let forced = run(&mixed, None, Some(Target::Alb));
        assert_eq!(forced.targets, [Target::Alb]);
        assert_eq!(row(&forced, "listeners[443]").verdict.word(), "not carried");
        assert_eq!(objects(&forced, "Ingress").len(), 1);
        let nlb = run(&mixed, None, Some(Target::Nlb));
        assert_eq!(row(&nlb, "listeners[80]").verdict.word(), "approximated", "HTTP becomes TCP");
    }
}
