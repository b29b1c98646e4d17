//! AWS credentials: the value type (secrets redacted from `Debug`), the sources of the
//! default chain, and a cache that refreshes before expiry.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Mutex;

use super::Error;

pub mod assume_role;
pub mod chain;
pub mod cli_chain;
pub mod container;
pub mod imds;
pub mod process;
pub mod profile;
pub mod sso;
pub mod web_identity;

pub use chain::default_chain;
pub use cli_chain::cli_chain;

/// A secret string: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("** redacted **")
    }
}

/// One set of AWS credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    /// When these credentials stop working; `None` for long-term keys.
    pub expires: Option<SystemTime>,
}

impl Credentials {
    pub fn new(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>, expires: Option<SystemTime>) -> Self {
        Credentials {
            access_key_id: access_key_id.to_string(),
            secret_access_key: Secret::new(secret_access_key),
            session_token: session_token.filter(|t| !t.is_empty()).map(Secret::new),
            expires,
        }
    }

    pub(crate) fn to_sdk(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.expose().to_string(),
            self.session_token.as_ref().map(|t| t.expose().to_string()),
            self.expires,
            "elb-operator",
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token.as_ref().map(|_| "** redacted **"))
            .field("expires", &self.expires)
            .finish()
    }
}

/// A source of credentials (one link of the chain).
#[async_trait::async_trait]
pub trait ProvideCredentials: Send + Sync + fmt::Debug {
    /// Fetches fresh credentials.
    async fn provide(&self) -> Result<Credentials, Error>;
    /// A stable, secret-free identity of the source (e.g. `env:AKIA...`, `web-identity:arn`),
    /// used to share rate limiters between clients using the same credentials.
    fn identity(&self) -> String;
}

/// Long-term keys given directly.
#[derive(Debug, Clone)]
pub struct StaticCredentials(pub Credentials);

#[async_trait::async_trait]
impl ProvideCredentials for StaticCredentials {
    async fn provide(&self) -> Result<Credentials, Error> {
        Ok(self.0.clone())
    }
    fn identity(&self) -> String {
        format!("static:{}", self.0.access_key_id)
    }
}

/// How long before expiry cached credentials are refreshed.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// A credential source with a cache shared by every clone: fetched once, refreshed when
/// within [`REFRESH_BEFORE_EXPIRY`] of expiring. Concurrent callers wait for one refresh.
#[derive(Clone)]
pub struct SharedCredentials {
    source: Arc<dyn ProvideCredentials>,
    cache: Arc<Mutex<Option<Credentials>>>,
    refresh_before: Duration,
}

impl fmt::Debug for SharedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCredentials").field("source", &self.source).finish_non_exhaustive()
    }
}

impl SharedCredentials {
    pub fn new(source: impl ProvideCredentials + 'static) -> Self {
        Self::from_arc(Arc::new(source))
    }

    pub fn from_arc(source: Arc<dyn ProvideCredentials>) -> Self {
        SharedCredentials { source, cache: Arc::new(Mutex::new(None)), refresh_before: REFRESH_BEFORE_EXPIRY }
    }

    /// Static keys.
    pub fn from_keys(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Self {
        Self::new(StaticCredentials(Credentials::new(access_key_id, secret_access_key, session_token, None)))
    }

    /// Changes how long before expiry credentials are refreshed (tests use short lifetimes).
    pub fn with_refresh_before(mut self, d: Duration) -> Self {
        self.refresh_before = d;
        self
    }

    /// Whether both share one cache (one refresh serves both).
    #[cfg(test)]
    pub(crate) fn shares_cache_with(&self, other: &SharedCredentials) -> bool {
        Arc::ptr_eq(&self.cache, &other.cache)
    }

    /// Whether another clone (a client's) holds this cache besides this one.
    pub(crate) fn is_shared(&self) -> bool {
        Arc::strong_count(&self.cache) > 1
    }

    pub fn identity(&self) -> String {
        self.source.identity()
    }

    /// Cached credentials, refreshed first when missing or about to expire.
    pub async fn get(&self) -> Result<Credentials, Error> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            let fresh = match c.expires {
                None => true,
                Some(exp) => exp.duration_since(SystemTime::now()).map(|left| left > self.refresh_before).unwrap_or(false),
            };
            if fresh {
                return Ok(c.clone());
            }
        }
        let c = self.source.provide().await.inspect_err(|e| {
            tracing::warn!(source = %self.source.identity(), error = %e, "fetching AWS credentials failed");
        })?;
        tracing::debug!(source = %self.source.identity(), access_key_id = %c.access_key_id, expires = ?c.expires, "fetched AWS credentials");
        *cache = Some(c.clone());
        Ok(c)
    }

    /// Drops the cached credentials so that the next call fetches new ones.
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }
}

/// Parses an RFC 3339 timestamp such as `2026-11-23T12:00:00Z`.
pub(crate) fn parse_time(s: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(s.trim()).ok().map(SystemTime::from)
}
