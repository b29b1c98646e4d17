//! The operator's read-only client for the EC2 Query API (2016-11-15): instances, security
//! groups and subnets, for the backend reachability check (`crate::reachability`).
//!
//! [`Ec2Api`] is the seam, as `ElbApi` is for ELB: callers see the typed values of
//! [`model`] and the shared `crate::aws::Error`. The call path (signing, credentials,
//! retries, its own budget per credentials and region, timeouts, metrics) is
//! `crate::aws::query`, the one the ELB client uses. It never modifies anything: every
//! action it can send is a `Describe*`.
//!
//! Submodules: [`client`] (the reads, batching and pagination), `wire` (filters and
//! decoders), [`model`] (the typed values and [`Ec2Api`]).

pub mod client;
pub mod model;
mod wire;

pub use client::{client_config, client_config_from_env, Client, Clients, ACTIONS, FILTER_BATCH, RATE_LIMIT, SERVICE};
pub use model::*;
