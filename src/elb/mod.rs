//! The operator's client for the AWS Classic Elastic Load Balancing Query API (2012-06-01).
//!
//! [`ElbApi`] is the seam between the domain and AWS: the controller only sees the typed
//! requests and responses of [`model`] and the classified [`Error`]; the wire format
//! (form-encoded requests, XML responses, SigV4) stays inside this module and
//! `crate::aws`, whose one call path (signing, credentials, retries, the budget, the write
//! fence, timeouts and metrics) it shares with the EC2 client.
//!
//! Submodules: [`client`] (the ELB actions), `wire` (their parameters and decoders),
//! [`model`] (the typed values and [`ElbApi`]), [`config`] (the `--elb-*` flags). The shared
//! pieces its API is made of (errors, configuration, budget, fence) are `crate::aws`'s, and
//! callers import them from there.

pub mod client;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod health_target;
pub mod hosted_zone;
pub mod model;
mod wire;

pub use client::{Client, Clients, ACTIONS, DESCRIBE_TAGS_BATCH};
pub use config::ElbArgs;
pub use health_target::{HealthTarget, TargetError, TargetProtocol};
pub use hosted_zone::hosted_zone_id;
pub use model::*;
pub use wire::SERVICE;
