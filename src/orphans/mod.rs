//! Orphaned ELBs: ELBs that carry this cluster's ownership tags but that no LoadBalancer
//! resource claims any more (a namespace deleted while the operator was down, a finalizer
//! removed by hand). They cost money and nobody reconciles them.
//!
//! [`classify()`] is the decision, pure: an inventory snapshot of a region (with every ELB's
//! tags), the cluster name and the LoadBalancer resources that exist → the orphaned ELBs,
//! and apart from them the ELBs left behind on purpose, which are never deleted: by a
//! `deletionPolicy: Retain` resource ([`crate::crd::tags::RETAINED_TAG`]), or adopted ones
//! ([`crate::sync::ownership::ADOPTED_TAG`]). The running operator exports their count
//! after each inventory pass; [`run()`] is `elb-operator orphans`, which prints them and, with
//! `--delete --yes`, deletes the orphaned ones.
//!
//! An ELB is claimed when a LoadBalancer with the `namespace/name` of its resource tag
//! exists, whatever ELB that resource manages now: the report errs towards keeping.
//!
//! Before `--delete` deletes anything it checks that the candidates are this cluster's: an
//! ELB whose [`CLUSTER_UID_TAG`] names another cluster than the current kube context's
//! (the UID of its `kube-system` namespace) makes the command refuse, since the context or
//! `--cluster-name` is wrong.
//!
//! Files: [`classify`](mod@classify) (the decisions), [`render`] (the tables), `cli` (the
//! command: Kubernetes listing, the cluster check and the deletions).

pub mod classify;
mod cli;
pub mod render;

use serde::Serialize;

pub use crate::sync::ownership::CLUSTER_UID_TAG;
pub use classify::{classify, is_retained, Orphan, Orphans};
pub use cli::{main, run, Error};
pub use render::{age, table};

/// What `--delete` did to one orphan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deletion {
    pub name: String,
    pub region: String,
    /// `deleted`, `already gone`, `kept: <why>`, or `failed: <error>`.
    pub result: String,
}

impl Deletion {
    pub(crate) fn failed(&self) -> bool {
        self.result.starts_with("failed")
    }
}

/// What `elb-operator orphans` found (and did).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cluster: String,
    pub regions: Vec<String>,
    #[serde(flatten)]
    pub orphans: Orphans,
    /// With `--delete`: one entry per orphaned ELB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Vec<Deletion>>,
}
