//! [`Regional`]: one client of a service per (role, region), built on demand, for the ELB
//! and EC2 clients alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::config::{default_endpoint, ClientConfig};
use super::credentials::assume_role::AssumeRole;
use super::credentials::SharedCredentials;
use super::Error;

/// An IAM role that calls are made as (`spec.roleArn`, `spec.externalId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role {
    pub arn: String,
    pub external_id: Option<String>,
}

/// A service client built from a configuration (`elb::Client`, `ec2::Client`).
pub trait FromConfig: Sized {
    fn from_config(config: ClientConfig) -> Result<Self, Error>;
}

/// The credentials of each assumed role: one AssumeRole per role, refreshed before expiry,
/// whatever the region or service.
#[derive(Debug)]
struct Roles {
    /// `RoleSessionName` of every AssumeRole.
    session_name: String,
    assumed: Mutex<HashMap<Role, SharedCredentials>>,
}

type ClientKey = (Option<Role>, String);

/// One client per (role, region), built on demand from a base configuration. Clients share
/// the credential cache: the base credentials, and per role the assumed ones. Rate limiters
/// are shared per (service, credentials, region), so each (role, region) has its own budget.
#[derive(Debug)]
pub struct Regional<C> {
    base: ClientConfig,
    roles: Arc<Roles>,
    /// By (role, region).
    clients: Mutex<HashMap<ClientKey, Arc<C>>>,
}

impl<C: FromConfig> Regional<C> {
    pub fn new(base: ClientConfig) -> Regional<C> {
        let roles = Roles { session_name: "elb-operator".into(), assumed: Mutex::default() };
        Regional { base, roles: Arc::new(roles), clients: Mutex::default() }
    }

    /// The `RoleSessionName` of assumed roles (`elb-operator-<cluster>`). Set it before the
    /// first client, and before [`beside`](Self::beside).
    pub fn with_session_name(mut self, name: String) -> Regional<C> {
        self.roles = Arc::new(Roles { session_name: name, assumed: Mutex::default() });
        self
    }

    /// The clients of another service (`base`: its configuration, e.g. from
    /// `ec2::client_config`) that act as the same roles with the same assumed credentials:
    /// a role is assumed once for both.
    pub fn beside<D: FromConfig>(&self, base: ClientConfig) -> Regional<D> {
        Regional { base, roles: self.roles.clone(), clients: Mutex::default() }
    }

    /// The client of `region` (the base region when empty), with the base credentials.
    pub fn get(&self, region: &str) -> Result<Arc<C>, Error> {
        self.get_as(region, None)
    }

    /// The client of `region` acting as `role` (the base credentials when `None`).
    pub fn get_as(&self, region: &str, role: Option<&Role>) -> Result<Arc<C>, Error> {
        let region = if region.is_empty() { self.base.region.as_str() } else { region };
        let key = (role.cloned(), region.to_string());
        let mut clients = self.clients.lock().expect("clients lock");
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let mut config = self.base.clone().with_region(region);
        if let Some(role) = role {
            config.credentials = self.assumed(role)?;
        }
        let c = Arc::new(C::from_config(config)?);
        clients.insert(key, c.clone());
        Ok(c)
    }

    fn assumed(&self, role: &Role) -> Result<SharedCredentials, Error> {
        let mut assumed = self.roles.assumed.lock().expect("roles lock");
        if let Some(c) = assumed.get(role) {
            return Ok(c.clone());
        }
        let region = self.base.region.as_str();
        let sts = self.base.sts_endpoint.clone().unwrap_or_else(|| default_endpoint("sts", region));
        let source =
            AssumeRole::new(&role.arn, role.external_id.as_deref(), &self.roles.session_name, self.base.credentials.clone(), &sts, region)?;
        let c = SharedCredentials::new(source);
        assumed.insert(role.clone(), c.clone());
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that is only its configuration.
    struct Config(ClientConfig);

    impl FromConfig for Config {
        fn from_config(config: ClientConfig) -> Result<Config, Error> {
            Ok(Config(config))
        }
    }

    #[test]
    fn one_client_per_role_and_region_and_one_assumed_role_for_every_service() {
        let base = ClientConfig::for_endpoint("us-east-1", "http://127.0.0.1:1", "AK", "SK");
        let elb: Regional<Config> = Regional::new(base.clone()).with_session_name("elb-operator-test".into());
        let role = Role { arn: "arn:aws:iam::111111111111:role/lb".into(), external_id: None };
        let here = elb.get("").unwrap();
        assert!(Arc::ptr_eq(&here, &elb.get("us-east-1").unwrap()), "empty is the base region");
        assert_eq!(here.0.credentials.identity(), base.credentials.identity());
        let away = elb.get_as("eu-west-1", Some(&role)).unwrap();
        assert_eq!((away.0.region.as_str(), away.0.credentials.identity()), ("eu-west-1", format!("assume-role:{}", role.arn)));
        assert!(Arc::ptr_eq(&away, &elb.get_as("eu-west-1", Some(&role)).unwrap()));
        let ec2: Regional<Config> = elb.beside(base.with_page_size(7));
        let ec2_away = ec2.get_as("eu-west-1", Some(&role)).unwrap();
        assert_eq!(ec2_away.0.page_size, Some(7), "its own configuration");
        assert!(ec2_away.0.credentials.shares_cache_with(&away.0.credentials), "the role is assumed once for both services");
    }
}
