//! The objects of a migration, rendered from a [`Plan`] (what [`super::fields`] decided):
//! the IngressClassParams and IngressClass of a class with tags, the Service that selects the
//! pods for the ALB, one Ingress per ALB listener, the NLB's Service, and the
//! TargetGroupBindings of instances that are not pods. Pure; no I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

/// The LBC's IngressClass controller name.
pub const ALB_CONTROLLER: &str = "ingress.k8s.aws/alb";
/// The IngressClass the LBC's Helm chart installs.
pub const DEFAULT_INGRESS_CLASS: &str = "alb";
/// The API group of the LBC's CRDs.
pub const LBC_GROUP: &str = "elbv2.k8s.aws";

/// Every object of one LoadBalancer's migration, before rendering.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// The LoadBalancer's namespace: the namespaced objects go there.
    pub namespace: String,
    /// The LoadBalancer's name: the objects are named after it.
    pub name: String,
    /// The pods' labels (`spec.backends.podSelector.matchLabels`); `None`: a Service without
    /// selector (no pods).
    pub selector: Option<BTreeMap<String, String>>,
    /// The ALB side, when some listener goes to an ALB.
    pub alb: Option<AlbPlan>,
    /// The NLB side, when some listener goes to an NLB.
    pub nlb: Option<NlbPlan>,
    /// The class's tags, when an ALB needs an IngressClass of its own for them.
    pub class: Option<ClassPlan>,
    /// Bindings of instance target groups the user creates.
    pub bindings: Vec<Binding>,
}

/// The ALB: one Ingress per listener, all in one IngressGroup (one ALB).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlbPlan {
    /// The Ingresses' `ingressClassName`.
    pub ingress_class: String,
    /// One per ALB listener.
    pub ingresses: Vec<AlbIngress>,
}

/// One ALB listener as an Ingress.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlbIngress {
    /// The Ingress's name.
    pub name: String,
    /// Its LBC annotations.
    pub annotations: BTreeMap<String, String>,
    /// The port of the backend Service (the Classic instance port).
    pub backend_port: i32,
}

/// The NLB: one Service of type LoadBalancer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NlbPlan {
    /// The Service's LBC annotations.
    pub annotations: BTreeMap<String, String>,
    /// One per NLB listener.
    pub ports: Vec<ServicePort>,
}

/// A Service port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    /// The port's name (required with several ports).
    pub name: String,
    /// The Service port (the NLB listener's port).
    pub port: i32,
    /// The pods' port (the Classic instance port).
    pub target_port: i32,
}

/// A LoadBalancerClass's tags as an IngressClassParams (and the IngressClass naming it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassPlan {
    /// The IngressClassParams's name (the LoadBalancerClass's).
    pub params: String,
    /// The IngressClass naming it.
    pub ingress_class: String,
    /// The class's tags.
    pub tags: BTreeMap<String, String>,
}

/// A TargetGroupBinding for instances the user registers in a target group of their own.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The TargetGroupBinding's name.
    pub name: String,
    /// The target group the user creates.
    pub target_group_name: String,
    /// The Service (and its port) that stands for the listener's targets.
    pub service: String,
    pub port: i32,
}

/// A Kubernetes object name: `<name>-<suffix>`, at most 63 characters (Service names are
/// DNS-1035 labels: no dots).
pub fn object_name(name: &str, suffix: &str) -> String {
    let room = 63 - suffix.len() - 1;
    let base: String = name.replace('.', "-").chars().take(room).collect();
    format!("{}-{suffix}", base.trim_end_matches('-'))
}

/// The Service the ALB's Ingresses send to.
pub fn alb_service(name: &str) -> String {
    object_name(name, "alb")
}

/// The NLB's Service.
pub fn nlb_service(name: &str) -> String {
    object_name(name, "nlb")
}

fn meta(name: &str, namespace: Option<&str>, annotations: &BTreeMap<String, String>) -> Value {
    let mut m = json!({"name": name, "labels": {"app.kubernetes.io/managed-by": "elb-operator-migrate"}});
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    if !annotations.is_empty() {
        m["annotations"] = json!(annotations);
    }
    m
}

fn service(plan: &Plan, name: &str, annotations: &BTreeMap<String, String>, ports: &[ServicePort], nlb: bool) -> Value {
    let ports: Vec<Value> =
        ports.iter().map(|p| json!({"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": "TCP"})).collect();
    // The LBC binds instance targets through a node port: a Service a TargetGroupBinding
    // names must have them.
    let bound = plan.bindings.iter().any(|b| b.service == name);
    let kind = match (nlb, bound) {
        (true, _) => "LoadBalancer",
        (false, true) => "NodePort",
        (false, false) => "ClusterIP",
    };
    let mut spec = json!({"type": kind, "ports": ports});
    if let Some(selector) = &plan.selector {
        spec["selector"] = json!(selector);
    }
    json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(name, Some(&plan.namespace), annotations), "spec": spec})
}

/// The objects, in apply order (cluster-scoped class objects first, Services before the
/// Ingresses and bindings that name them).
pub fn render(plan: &Plan) -> Vec<Value> {
    let mut out = Vec::new();
    let none = BTreeMap::new();
    if let Some(class) = &plan.class {
        let tags: Vec<Value> = class.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
        out.push(json!({
            "apiVersion": format!("{LBC_GROUP}/v1beta1"), "kind": "IngressClassParams",
            "metadata": meta(&class.params, None, &none),
            "spec": {"tags": tags},
        }));
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": meta(&class.ingress_class, None, &none),
            "spec": {"controller": ALB_CONTROLLER,
                     "parameters": {"apiGroup": LBC_GROUP, "kind": "IngressClassParams", "name": class.params}},
        }));
    }
    if let Some(alb) = &plan.alb {
        let ports: BTreeSet<i32> = alb.ingresses.iter().map(|i| i.backend_port).collect();
        let ports: Vec<ServicePort> =
            ports.into_iter().map(|p| ServicePort { name: format!("tcp-{p}"), port: p, target_port: p }).collect();
        out.push(service(plan, &alb_service(&plan.name), &none, &ports, false));
    }
    if let Some(nlb) = &plan.nlb {
        out.push(service(plan, &nlb_service(&plan.name), &nlb.annotations, &nlb.ports, true));
    }
    if let Some(alb) = &plan.alb {
        for ing in &alb.ingresses {
            let backend = json!({"service": {"name": alb_service(&plan.name), "port": {"number": ing.backend_port}}});
            out.push(json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": meta(&ing.name, Some(&plan.namespace), &ing.annotations),
                "spec": {"ingressClassName": alb.ingress_class,
                         "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]},
            }));
        }
    }
    for b in &plan.bindings {
        out.push(json!({
            "apiVersion": format!("{LBC_GROUP}/v1beta1"), "kind": "TargetGroupBinding",
            "metadata": meta(&b.name, Some(&plan.namespace), &none),
            "spec": {"targetGroupName": b.target_group_name, "targetType": "instance",
                     // Leave the instances the user registers (or an Auto Scaling group
                     // attaches) alone: the LBC then only touches targets of this cluster.
                     "multiClusterTargetGroup": true,
                     "serviceRef": {"name": b.service, "port": b.port}},
        }));
    }
    out
}

/// The objects as one YAML stream (`---` between documents).
pub fn to_yaml(objects: &[Value]) -> String {
    objects.iter().map(|o| serde_yaml::to_string(o).expect("JSON values serialize as YAML")).collect::<Vec<_>>().join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_a_dns_label_and_keep_their_suffix() {
        assert_eq!(alb_service("my-lb"), "my-lb-alb");
        let long = "a".repeat(253);
        let n = object_name(&long, "alb-443");
        assert!(n.len() <= 63 && n.ends_with("-alb-443"), "{n}");
        assert_eq!(object_name("web.v2", "nlb"), "web-v2-nlb", "no dots in a Service name");
    }

    #[test]
    fn an_alb_plan_renders_service_then_ingresses_and_bindings_last() {
        let plan = Plan {
            namespace: "web".into(),
            name: "shop".into(),
            selector: Some([("app".to_string(), "shop".to_string())].into()),
            alb: Some(AlbPlan {
                ingress_class: "alb".into(),
                ingresses: vec![
                    AlbIngress { name: "shop-alb-80".into(), annotations: BTreeMap::new(), backend_port: 8080 },
                    AlbIngress { name: "shop-alb-443".into(), annotations: BTreeMap::new(), backend_port: 8080 },
                ],
            }),
            bindings: vec![Binding { name: "b".into(), target_group_name: "tg".into(), service: "shop-alb".into(), port: 8080 }],
            ..Plan::default()
        };
        let objects = render(&plan);
        let kinds: Vec<&str> = objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["Service", "Ingress", "Ingress", "TargetGroupBinding"]);
        assert_eq!(objects[0]["spec"]["ports"].as_array().unwrap().len(), 1, "one port per distinct instance port");
        assert_eq!(objects[0]["spec"]["selector"]["app"], "shop");
        assert_eq!(objects[0]["spec"]["type"], "NodePort", "a binding's instance targets need node ports");
        assert_eq!(objects[1]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"], 8080);
        assert!(to_yaml(&objects).matches("---\n").count() == 3);
    }
}
