//! The field-by-field mapping of a LoadBalancer (and its HealthCheck and class) onto the
//! LBC's annotations and CRDs, with a verdict per field. Pure: the caller reads the cluster.
//!
//! A Classic field left unset means "as AWS created it"; the translation writes AWS's
//! Classic default explicitly where ELBv2's differs (cross-zone off, no connection draining,
//! 60 s idle timeout), so that the new load balancer behaves as the old one did, assuming
//! nobody changed the default by hand.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::manifests::{self, ClassPlan, Plan};
use super::target::{self, Target};
use super::{alb, listeners, nlb, Migration, Rows, Verdict};
use crate::crd::{HealthCheckSpec, LoadBalancer, LoadBalancerClass, Scheme};

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

/// `k1=v1,k2=v2`, the LBC's stringMap.
fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
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

    // Listeners: one Ingress per ALB listener, the NLB Service's ports and TLS settings.
    let sides = listeners::Sides { alb_common, alb_lb_attrs, alb_tg_attrs, nlb_ann, nlb_lb_attrs, nlb_tg_attrs };
    let elb_name = spec_elb_name(lb).to_string();
    let ctx = listeners::Context { lb, split: &split, idle, idle_set, static_sources: &static_sources, elb_name: &elb_name };
    listeners::translate(&ctx, sides, &mut rows, &mut plan, &mut to_create);

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
