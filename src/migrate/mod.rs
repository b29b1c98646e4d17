//! `elb-operator migrate`: the way off Classic ELB. Each LoadBalancer (with its HealthCheck
//! and LoadBalancerClass) is translated into the manifests that give the same service through
//! the AWS Load Balancer Controller (LBC): an ALB `Ingress` per HTTP/HTTPS listener, an NLB
//! `Service` for the TCP/SSL listeners, the `Service` that selects the pods, an
//! `IngressClass` + `IngressClassParams` for the class's tags, and `TargetGroupBinding`s for
//! instances that are not pods. Every field gets a verdict: exact, approximated (how) or
//! not carried (why).
//!
//! Files, one concept each: [`target`] (ALB, NLB or both, listener by listener), [`tls`]
//! (the Classic → ELBv2 security policy table), [`fields`] (the field-by-field mapping,
//! pure), `health` (the health check), `listeners` (ports, TLS, stickiness, bindings), [`stickiness`] (cookies → target group attributes), [`manifests`] (the objects), [`report`] (table, JSON, exit code, cutover plan),
//! `cli` (the command: reads the cluster, writes the files).

mod cli;
pub mod fields;
mod health;
mod listeners;
pub mod manifests;
pub mod report;
pub mod stickiness;
pub mod target;
pub mod tls;

use serde::Serialize;

pub use cli::{main, run, Error};
pub use fields::{migrate, Input};
pub use target::Target;

/// The annotation prefix of the LBC's Ingress annotations.
pub const ALB_PREFIX: &str = "alb.ingress.kubernetes.io/";
/// The annotation prefix of the LBC's Service annotations.
pub const NLB_PREFIX: &str = "service.beta.kubernetes.io/";

/// How well one field of the Classic ELB is carried over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "how", rename_all = "camelCase")]
pub enum Verdict {
    /// The new load balancer behaves the same for this field.
    Exact,
    /// Carried with a difference, said here.
    Approximated(String),
    /// Not carried; why, and what to do instead.
    #[serde(rename = "not carried")]
    NotCarried(String),
}

impl Verdict {
    /// `exact`, `approximated` or `not carried`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Exact => "exact",
            Verdict::Approximated(_) => "approximated",
            Verdict::NotCarried(_) => "not carried",
        }
    }

    /// The explanation, empty for exact.
    pub fn how(&self) -> &str {
        match self {
            Verdict::Exact => "",
            Verdict::Approximated(s) | Verdict::NotCarried(s) => s,
        }
    }
}

/// One field of the LoadBalancer, where it went and how well.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// The LoadBalancer (or HealthCheck) field, such as `listeners[443].sslPolicy`.
    pub field: String,
    /// Where it went: an annotation, attribute or object, such as `Ingress my-lb-443`.
    pub target: String,
    /// How well.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The translation of one LoadBalancer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Migration {
    /// The LoadBalancer's namespace.
    pub namespace: String,
    /// The LoadBalancer's name.
    pub name: String,
    /// The Classic ELB's name.
    pub elb_name: String,
    /// What replaces it: `alb`, `nlb` or both.
    pub targets: Vec<Target>,
    /// Why these targets (the split of a mixed LoadBalancer is said here).
    pub target_reason: String,
    /// One row per field, in the order they were decided.
    pub fields: Vec<Mapping>,
    /// What the user must create in AWS before the manifests work (target groups).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to_create: Vec<String>,
    /// The manifests, in apply order.
    #[serde(skip)]
    pub manifests: Vec<serde_json::Value>,
}

impl Migration {
    /// The worst verdict's word: `exact` only when every field is exact.
    pub fn outcome(&self) -> &'static str {
        if self.fields.iter().any(|f| matches!(f.verdict, Verdict::NotCarried(_))) {
            "not carried"
        } else if self.fields.iter().any(|f| matches!(f.verdict, Verdict::Approximated(_))) {
            "approximated"
        } else {
            "exact"
        }
    }
}

/// The report rows of one LoadBalancer, as they are decided.
pub(crate) struct Rows(pub(crate) Vec<Mapping>);

impl Rows {
    pub(crate) fn push(&mut self, field: impl Into<String>, target: impl Into<String>, verdict: Verdict) {
        self.0.push(Mapping { field: field.into(), target: target.into(), verdict });
    }
}

/// Attributes as the LBC's `k=v,k=v` annotation value.
pub(crate) fn attrs(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// An Ingress annotation of the LBC.
pub(crate) fn alb(key: &str) -> String {
    format!("{ALB_PREFIX}{key}")
}

/// A Service annotation of the LBC (`aws-load-balancer-<key>`).
pub(crate) fn nlb(key: &str) -> String {
    format!("{NLB_PREFIX}aws-load-balancer-{key}")
}
