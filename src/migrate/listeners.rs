//! The listeners: one ALB Ingress per HTTP/HTTPS listener (its port, certificate, TLS policy,
//! back-end protocol and stickiness), the NLB Service's ports and its TLS, proxy protocol and
//! idle timeout settings, and the TargetGroupBindings of instances that are not pods.

use std::collections::BTreeMap;

use super::manifests::{self, AlbIngress, AlbPlan, Binding, NlbPlan, Plan, ServicePort, DEFAULT_INGRESS_CLASS};
use super::target::{self, Split, Target};
use super::{alb, attrs, nlb, tls, Rows, Verdict};
use crate::crd::{ListenerSpec, LoadBalancer, Protocol};

/// NLB TCP listener idle timeout bounds.
const NLB_IDLE_RANGE: (i32, i32) = (60, 6000);

/// The annotations and attributes decided before the listeners, per side.
pub(super) struct Sides {
    /// Annotations every Ingress of the ALB carries.
    pub alb_common: BTreeMap<String, String>,
    pub alb_lb_attrs: Vec<(String, String)>,
    pub alb_tg_attrs: Vec<(String, String)>,
    /// The NLB Service's annotations.
    pub nlb_ann: BTreeMap<String, String>,
    pub nlb_lb_attrs: Vec<(String, String)>,
    pub nlb_tg_attrs: Vec<(String, String)>,
}

/// What the listeners' translation reads.
pub(super) struct Context<'a> {
    pub lb: &'a LoadBalancer,
    pub split: &'a Split,
    /// The idle timeout in force, and whether the spec set it.
    pub idle: i32,
    pub idle_set: bool,
    /// Instance ids and Auto Scaling groups, as the report names them.
    pub static_sources: &'a [String],
    /// The Classic ELB's name, for the target groups' names.
    pub elb_name: &'a str,
}

/// Translates the listeners into `plan` (its `alb` and `nlb`), with their report rows.
pub(super) fn translate(ctx: &Context<'_>, sides: Sides, rows: &mut Rows, plan: &mut Plan, to_create: &mut Vec<String>) {
    let (lb, split, idle, idle_set, static_sources) = (ctx.lb, ctx.split, ctx.idle, ctx.idle_set, ctx.static_sources);
    let spec = &lb.spec;
    let name = plan.name.clone();
    let has_nlb = !split.nlb.is_empty();
    let unset = |set: bool| if set { "" } else { " (unset: Classic default)" };
    let Sides { alb_common, alb_lb_attrs, alb_tg_attrs, mut nlb_ann, mut nlb_lb_attrs, mut nlb_tg_attrs } = sides;
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
            binding(plan, to_create, (&manifests::alb_service(&name), l.instance_port), l, ctx.elb_name, static_sources);
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
            binding(plan, to_create, (&svc, l.port), l, ctx.elb_name, static_sources);
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
