//! Conversions from the API types to the ELB model, used by the controller's build step
//! (`controller/loadbalancer/desired.rs`, through `.into()`).
//!
//! This is the one arrow from `crd` up to `elb`, kept apart in this file so that it can be
//! removed in one move: these belong to the build step, which owns the translation from the
//! Kubernetes API to the ELB model. Delete this file when that step has its own functions.

use super::{Protocol, Scheme};

/// The API accepts the four protocols ELB has; the ELB model also carries ones it may report.
impl From<Protocol> for crate::elb::Protocol {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::HTTP => crate::elb::Protocol::HTTP,
            Protocol::HTTPS => crate::elb::Protocol::HTTPS,
            Protocol::TCP => crate::elb::Protocol::TCP,
            Protocol::SSL => crate::elb::Protocol::SSL,
        }
    }
}

impl From<Scheme> for crate::elb::Scheme {
    fn from(s: Scheme) -> Self {
        match s {
            Scheme::InternetFacing => crate::elb::Scheme::InternetFacing,
            Scheme::Internal => crate::elb::Scheme::Internal,
        }
    }
}
