//! The operator's client for the AWS Classic Elastic Load Balancing Query API (2012-06-01).
//!
//! [`ElbApi`] is the seam between the domain and AWS: the controller only sees the typed
//! requests and responses of [`model`] and the classified [`Error`]; the wire format
//! (form-encoded requests, XML responses, SigV4) stays inside this module.
//!
//! Submodules: [`config`] (region, endpoint, knobs), [`credentials`] (the default chain and
//! its cache), [`signing`] (SigV4), [`retry`] (standard mode), [`rate_limit`] (token
//! buckets), `wire`/`xml` (the Query protocol), `exchange` (the one timed HTTP exchange of
//! the ELB, STS, container and IMDS calls), [`client`] (it all together).

pub mod client;
pub mod config;
pub mod credentials;
pub mod error;
mod exchange;
pub mod fence;
pub mod model;
pub mod rate_limit;
pub mod retry;
pub mod signing;
mod wire;
mod xml;
#[doc(hidden)]
pub mod fuzzing;

pub use client::{Client, Clients, Role, ACTIONS, DESCRIBE_TAGS_BATCH};
pub use config::{ClientConfig, ElbArgs};
pub use credentials::{Credentials, SharedCredentials};
pub use error::{DecodeError, Error, ErrorKind};
pub use exchange::install_crypto_provider;
pub use fence::Fence;
pub use model::*;
pub use rate_limit::{with_class, Bucket, Class, RateLimitConfig, RateLimiter};
pub use retry::RetryConfig;
