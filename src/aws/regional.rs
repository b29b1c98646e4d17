//! [`Regional`]: one client of a service per (role, tenant, region), built on demand, for
//! the ELB, EC2 and Auto Scaling clients alike, and evicted when its scope is gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::config::{default_endpoint, ClientConfig};
use super::credentials::assume_role::{session_name, AssumeRole};
use super::credentials::SharedCredentials;
use super::Error;

/// An IAM role that calls are made as (`spec.roleArn`, `spec.externalId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role {
    pub arn: String,
    pub external_id: Option<String>,
}

/// The `account` metric label of calls made without a role: the operator's own credentials.
pub const DEFAULT_ACCOUNT: &str = "default";
/// The `account` label of a role whose ARN names no account id.
pub const UNKNOWN_ACCOUNT: &str = "unknown";

impl Role {
    /// The account id of the role's ARN (`arn:<partition>:iam::<12 digits>:role/…`).
    pub fn account_id(&self) -> Option<&str> {
        let account = self.arn.split(':').nth(4)?;
        (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
    }
}

/// The `account` label of metrics about calls made as `role`: its account id,
/// [`DEFAULT_ACCOUNT`] for the operator's own credentials. Never the role's name or ARN:
/// tenants choose those, and metric labels must stay few.
pub fn account_label(role: Option<&Role>) -> String {
    match role {
        None => DEFAULT_ACCOUNT.to_string(),
        Some(r) => r.account_id().unwrap_or(UNKNOWN_ACCOUNT).to_string(),
    }
}

/// Who a client acts for: the cluster and the namespace of the LoadBalancers it serves.
///
/// An assumed role's session carries it, as the session tags `elb.operator.dev/cluster` and
/// `elb.operator.dev/namespace` and in the session name: a role's trust policy tells tenants
/// apart by those tags (`aws:RequestTag/elb.operator.dev/namespace`), so that a namespace
/// reaches only the roles granted to it. Credentials are therefore cached per (role,
/// external id, tenant): one namespace's session is never lent to another.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant {
    pub cluster: String,
    pub namespace: String,
}

/// The session tag naming the cluster.
pub const TAG_CLUSTER: &str = "elb.operator.dev/cluster";
/// The session tag naming the namespace.
pub const TAG_NAMESPACE: &str = "elb.operator.dev/namespace";

impl Tenant {
    pub fn new(cluster: impl Into<String>, namespace: impl Into<String>) -> Tenant {
        Tenant { cluster: cluster.into(), namespace: namespace.into() }
    }

    /// `elb-operator-<cluster>-<namespace>`, as STS accepts it (`assume_role::session_name`).
    pub fn session_name(&self) -> String {
        session_name(&[&self.cluster, &self.namespace])
    }

    /// The AssumeRole session tags.
    pub fn session_tags(&self) -> Vec<(String, String)> {
        vec![(TAG_CLUSTER.into(), self.cluster.clone()), (TAG_NAMESPACE.into(), self.namespace.clone())]
    }
}

/// A service client built from a configuration (`elb::Client`, `ec2::Client`).
pub trait FromConfig: Sized {
    fn from_config(config: ClientConfig) -> Result<Self, Error>;
}

/// A role as one tenant assumes it (`None`: the role's sessions carry no tenant).
type Session = (Role, Option<Tenant>);

/// The credentials of each assumed role: one AssumeRole per (role, tenant), refreshed before
/// expiry, whatever the region or service.
#[derive(Debug)]
struct Roles {
    /// `RoleSessionName` of AssumeRoles without a tenant.
    session_name: String,
    assumed: Mutex<HashMap<Session, SharedCredentials>>,
}

/// (What the client acts as, region); `None`: the base credentials.
type ClientKey = (Option<Session>, String);

/// One client per (role, tenant, region), built on demand from a base configuration.
/// Clients share the credential cache: the base credentials, and per (role, tenant) the
/// assumed ones. Rate limiters are shared per (service, credentials, region), so each (role,
/// region) has its own budget.
#[derive(Debug)]
pub struct Regional<C> {
    base: ClientConfig,
    roles: Arc<Roles>,
    clients: Mutex<HashMap<ClientKey, Arc<C>>>,
}

impl<C: FromConfig> Regional<C> {
    pub fn new(base: ClientConfig) -> Regional<C> {
        let roles = Roles { session_name: "elb-operator".into(), assumed: Mutex::default() };
        Regional { base, roles: Arc::new(roles), clients: Mutex::default() }
    }

    /// The `RoleSessionName` of roles assumed without a tenant (`elb-operator-<cluster>`).
    /// Set it before the first client, and before [`beside`](Self::beside).
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

    /// The client of `region` acting as `role` (the base credentials when `None`), in
    /// sessions that carry no tenant.
    pub fn get_as(&self, region: &str, role: Option<&Role>) -> Result<Arc<C>, Error> {
        self.get_for(region, role, None)
    }

    /// The client of `region` acting as `role` for `tenant`: the role's sessions carry the
    /// tenant's tags and name ([`Tenant`]). Without a role the tenant changes nothing: the
    /// base credentials are the operator's own.
    pub fn get_for(&self, region: &str, role: Option<&Role>, tenant: Option<&Tenant>) -> Result<Arc<C>, Error> {
        let key = self.key(region, role, tenant);
        let mut clients = self.clients.lock().expect("clients lock");
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let mut config = self.base.clone().with_region(&key.1);
        if let Some(session) = &key.0 {
            config.credentials = self.assumed(session)?;
        }
        let c = Arc::new(C::from_config(config)?);
        clients.insert(key, c.clone());
        Ok(c)
    }

    /// Drops the client of (`region`, `role`, `tenant`), and the assumed credentials that no
    /// client holds any more: a scope with no LoadBalancer left costs nothing. Evict the scope
    /// from every service's `Regional` (they share the credentials). Returns whether a client
    /// was cached. A later [`get_for`](Self::get_for) builds it again.
    pub fn evict(&self, region: &str, role: Option<&Role>, tenant: Option<&Tenant>) -> bool {
        let key = self.key(region, role, tenant);
        let removed = self.clients.lock().expect("clients lock").remove(&key);
        let was_cached = removed.is_some();
        // The client goes first, so that its credentials are no longer held by it.
        drop(removed);
        self.roles.assumed.lock().expect("roles lock").retain(|_, c| c.is_shared());
        was_cached
    }

    /// How many clients, and how many assumed roles' credentials (of every service beside
    /// this one), are cached.
    pub fn cached(&self) -> (usize, usize) {
        (self.clients.lock().expect("clients lock").len(), self.roles.assumed.lock().expect("roles lock").len())
    }

    fn key(&self, region: &str, role: Option<&Role>, tenant: Option<&Tenant>) -> ClientKey {
        let region = if region.is_empty() { self.base.region.as_str() } else { region };
        (role.map(|r| (r.clone(), tenant.cloned())), region.to_string())
    }

    fn assumed(&self, (role, tenant): &Session) -> Result<SharedCredentials, Error> {
        let mut assumed = self.roles.assumed.lock().expect("roles lock");
        let session = (role.clone(), tenant.clone());
        if let Some(c) = assumed.get(&session) {
            return Ok(c.clone());
        }
        let region = self.base.region.as_str();
        let sts = self.base.sts_endpoint.clone().unwrap_or_else(|| default_endpoint("sts", region));
        let name = tenant.as_ref().map_or_else(|| self.roles.session_name.clone(), Tenant::session_name);
        let tags = tenant.as_ref().map(Tenant::session_tags).unwrap_or_default();
        let source =
            AssumeRole::new(&role.arn, role.external_id.as_deref(), &name, self.base.credentials.clone(), &sts, region)?.with_tags(tags);
        let c = SharedCredentials::new(source);
        assumed.insert(session, c.clone());
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

    #[test]
    fn credentials_are_per_role_external_id_and_tenant_and_evicted_with_their_last_client() {
        let base = ClientConfig::for_endpoint("us-east-1", "http://127.0.0.1:1", "AK", "SK");
        let elb: Regional<Config> = Regional::new(base);
        let role = Role { arn: "arn:aws:iam::111111111111:role/lb".into(), external_id: None };
        let other_id = Role { external_id: Some("x".into()), ..role.clone() };
        let (a, b) = (Tenant::new("prod", "team-a"), Tenant::new("prod", "team-b"));
        let a_east = elb.get_for("us-east-1", Some(&role), Some(&a)).unwrap();
        let a_west = elb.get_for("us-west-2", Some(&role), Some(&a)).unwrap();
        let b_east = elb.get_for("us-east-1", Some(&role), Some(&b)).unwrap();
        let x_east = elb.get_for("us-east-1", Some(&other_id), Some(&a)).unwrap();
        let untagged = elb.get_as("us-east-1", Some(&role)).unwrap();
        assert!(a_east.0.credentials.shares_cache_with(&a_west.0.credentials), "one session per tenant, whatever the region");
        for other in [&b_east, &x_east, &untagged] {
            assert!(!a_east.0.credentials.shares_cache_with(&other.0.credentials), "another tenant, external id or none: another session");
        }
        let base_client = elb.get("us-east-1").unwrap();
        assert!(Arc::ptr_eq(&base_client, &elb.get_for("us-east-1", None, Some(&a)).unwrap()), "no role: the operator's own");
        assert_eq!(elb.cached(), (6, 4));
        drop((a_east, a_west, b_east, x_east, untagged, base_client));

        assert!(elb.evict("us-east-1", Some(&role), Some(&a)));
        assert_eq!(elb.cached(), (5, 4), "team-a's session still serves us-west-2");
        assert!(elb.evict("us-west-2", Some(&role), Some(&a)));
        assert_eq!(elb.cached(), (4, 3), "team-a's last client gone: its credentials too");
        assert!(!elb.evict("us-west-2", Some(&role), Some(&a)), "already gone");
        let held = elb.get_for("us-east-1", Some(&role), Some(&b)).unwrap();
        assert!(elb.evict("us-east-1", Some(&role), Some(&b)));
        assert_eq!(elb.cached(), (3, 3), "a client still in use keeps its credentials");
        drop(held);
        assert!(!elb.evict("us-east-1", Some(&role), Some(&b)));
        assert_eq!(elb.cached(), (3, 2), "and they go at the next eviction once it is dropped");
    }

    #[test]
    fn account_labels_are_account_ids_never_role_names() {
        let role = |arn: &str| Role { arn: arn.into(), external_id: None };
        assert_eq!(account_label(Some(&role("arn:aws:iam::123456789012:role/team-a/lb"))), "123456789012");
        assert_eq!(account_label(Some(&role("arn:aws-cn:iam::210987654321:role/x"))), "210987654321");
        assert_eq!(account_label(Some(&role("arn:aws:iam::12345:role/x"))), UNKNOWN_ACCOUNT);
        assert_eq!(account_label(Some(&role("team-a-role"))), UNKNOWN_ACCOUNT);
        assert_eq!(account_label(None), DEFAULT_ACCOUNT);
    }

    #[test]
    fn a_tenant_names_and_tags_its_sessions() {
        let t = Tenant::new("prod", "team-a");
        assert_eq!(t.session_name(), "elb-operator-prod-team-a");
        assert_eq!(
            t.session_tags(),
            vec![("elb.operator.dev/cluster".to_string(), "prod".to_string()), ("elb.operator.dev/namespace".into(), "team-a".into())]
        );
    }
}
