//! elb-operator: makes AWS Classic Elastic Load Balancers declarative.
//!
//! Module map (one module per concept):
//! - [`crd`]: the `LoadBalancer`, `HealthCheck` and `LoadBalancerClass` custom resource types
//!   (their doc comments are the `kubectl explain` text).
//! - [`aws`]: what the AWS clients share: the Query protocol and its one call path (signing,
//!   credentials, XML, errors, retries, rate limiting, the write fence).
//! - [`elb`]: the operator's own client for the Classic ELB Query API. No AWS wire type
//!   leaves it.
//! - [`ec2`]: the read-only EC2 client (instances, security groups, subnets).
//! - [`autoscaling`]: the Auto Scaling client (attach and detach Classic ELBs, groups read in
//!   bulk) for `spec.backends.autoScalingGroups`.
//! - [`reachability`]: whether the backends' security groups admit the load balancer (pure
//!   decision, and the EC2 calls it needs).
//! - [`orphans`]: ELBs tagged for this cluster that no LoadBalancer claims (pure
//!   classification, and the `elb-operator orphans` report).
//! - [`migrate`]: the way off Classic ELB: LoadBalancers → the AWS Load Balancer
//!   Controller's manifests, with a field-by-field report (`elb-operator migrate`).
//! - [`naming`]: the deterministic ELB name derived from namespace/name.
//! - [`tenancy`]: what a LoadBalancer may reach in AWS, from its LoadBalancerClass (pure:
//!   the class, the namespace, roles, regions, schemes, adoption, tags, required resource tags).
//! - [`sync`]: the sync engine without Kubernetes: ownership, pure planning (desired vs
//!   observed ELB state -> ordered ELB actions) and their execution against the ELB API.
//! - [`controller`]: the reconcile loops: caches, triggers, the schedule, backend discovery,
//!   desired state, status and events.
//! - [`telemetry`], [`http`], [`leader`]: logs/metrics, the metrics and health endpoints
//!   (and the one readiness flag), leader election and the supervision of the controllers.
//! - [`rbac`]: the Kubernetes API calls the operator makes (the chart's RBAC source).
//! - [`cli`], [`operator`]: the command line, and the wiring of `elb-operator run`.

pub mod autoscaling;
pub mod aws;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod ec2;
pub mod elb;
pub mod http;
pub mod leader;
pub mod migrate;
pub mod naming;
pub mod operator;
pub mod orphans;
pub mod preview;
pub mod rbac;
pub mod reachability;
pub mod sync;
pub mod telemetry;
pub mod tenancy;

/// The operator's error type. Each variant knows a short label used for metrics and event
/// reasons.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An AWS call failed (ELB, EC2, Auto Scaling or STS).
    #[error(transparent)]
    Aws(#[from] aws::Error),

    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),

    /// The object is invalid in a way the CRD schema could not catch; waiting for the user
    /// to change it is the only fix, so it is not retried on a timer.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),

    /// An ELB with the wanted name exists but is not owned by this resource.
    #[error("conflict: {0}")]
    Conflict(String),

    #[error("finalizer error: {0}")]
    Finalizer(String),

    /// A Kubernetes write (status, event, pod condition) of an object whose shard this
    /// process no longer holds: not sent.
    #[error("{write} not written: this replica no longer holds the object's shard")]
    Fenced { write: &'static str },
}

impl Error {
    /// A short, stable label for metrics and event reasons.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Aws(e) => e.kind().label(),
            Error::Kube(_) => "kube",
            Error::InvalidSpec(_) => "invalid_spec",
            Error::Conflict(_) => "conflict",
            Error::Finalizer(_) => "finalizer",
            Error::Fenced { .. } => "fenced",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
