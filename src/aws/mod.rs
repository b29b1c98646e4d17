//! What the operator's AWS clients share, whatever the service: the Query protocol and its
//! one call path ([`query`]), and everything that call path stands on.
//!
//! The ELB client (`crate::elb`), the EC2 client (`crate::ec2`) and the Auto Scaling client
//! (`crate::autoscaling`) are each a list of actions and typed decoders over a
//! [`query::QueryClient`]; signing, credentials, retries, the budget, the write fence,
//! timeouts and metrics are written once, here.
//!
//! Submodules: [`config`] (region, endpoint, knobs), [`credentials`] (the default chain and
//! its cache), [`signing`] (SigV4), [`retry`] (standard mode), [`rate_limit`] (the budget of
//! one service, credentials and region), [`regional`] (a client per role and region, roles
//! assumed once for every service), [`fence`] (the write deadline), `xml` (a small
//! element tree), `exchange` (the one timed HTTP exchange of the API, STS, container and
//! IMDS calls), [`error`] (one error type, one retry classification), [`query`] (it all
//! together).

pub mod client;
pub mod config;
pub mod credentials;
pub mod error;
pub(crate) mod exchange;
pub mod fence;
pub mod metrics;
pub mod query;
pub mod rate_limit;
pub mod redact;
pub mod regional;
pub mod retry;
pub mod service;
pub mod signing;
pub(crate) mod xml;

pub use client::{paginate, ServiceClient};
pub use config::ClientConfig;
pub use credentials::{Credentials, SharedCredentials};
pub use error::{DecodeError, Error, ErrorKind};
pub use exchange::install_crypto_provider;
pub use fence::{with_fence, Fence};
pub use metrics::ApiMetrics;
pub use rate_limit::{with_class, Bucket, Class, RateLimitConfig, RateLimiter};
pub use regional::{account_label, FromConfig, Regional, Role, Tenant};
pub use retry::RetryConfig;
pub use service::{is_mutating, Service, Shape};
