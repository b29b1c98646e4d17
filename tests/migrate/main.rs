//! `elb-operator migrate`: golden outputs (report and manifests) of every example and of every
//! listener, stickiness, TLS policy and attribute case of the CRD; the manifests applied with
//! a server-side dry run to the stand-in with the LBC's CRDs installed; the annotation names
//! and values checked against the LBC's reference; the command's exit codes.
//!
//! `UPDATE_GOLDEN=1 cargo test --test migrate` rewrites `tests/migrate/golden/`.

mod annotations;
mod cases;
mod cli;
mod golden;
