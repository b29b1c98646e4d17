//! The operator's client for the EC2 Auto Scaling Query API (2011-01-01): attach and detach
//! Classic load balancers to and from Auto Scaling groups, and read groups in bulk
//! (`spec.backends.autoScalingGroups`).
//!
//! [`AutoScalingApi`] is the seam, as `ElbApi` is for ELB: callers see the typed values of
//! [`model`] and the shared `crate::aws::Error`. The call path (signing, credentials,
//! retries, its own budget per credentials and region, the write fence, timeouts, metrics)
//! is `crate::aws::query`, the one the ELB client uses.
//!
//! Submodules: [`client`] (the actions, batching and pagination), `wire` (parameters and
//! decoders), [`model`] (the typed values and [`AutoScalingApi`]).

pub mod client;
pub mod model;
mod wire;

pub use client::{client_config, client_config_from_env, Client, Clients, ACTIONS, NAMES_BATCH, RATE_LIMIT, SERVICE};
pub use model::*;
