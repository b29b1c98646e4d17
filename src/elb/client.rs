//! [`Client`]: the signed, retried, rate-limited Classic ELB client, and [`Clients`], one
//! client per region.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tracing::Instrument;

use super::config::ClientConfig;
use super::exchange::{self, http_client, snippet, ExchangeError};
use super::model::*;
use super::rate_limit::{self, RateLimiter};
use super::retry::{self, RetryQuota};
use super::wire::{self, Params};
use super::xml::Element;
use super::{signing, DecodeError, Error, ErrorKind};

/// The SigV4 service name of Classic ELB.
pub const SERVICE: &str = "elasticloadbalancing";

/// Every action the client can send (kept in step with `docs/iam-policy.json` by a test).
pub const ACTIONS: &[&str] = &[
    "AddTags",
    "ApplySecurityGroupsToLoadBalancer",
    "AttachLoadBalancerToSubnets",
    "ConfigureHealthCheck",
    "CreateAppCookieStickinessPolicy",
    "CreateLBCookieStickinessPolicy",
    "CreateLoadBalancer",
    "CreateLoadBalancerListeners",
    "CreateLoadBalancerPolicy",
    "DeleteLoadBalancer",
    "DeleteLoadBalancerListeners",
    "DeleteLoadBalancerPolicy",
    "DeregisterInstancesFromLoadBalancer",
    "DescribeInstanceHealth",
    "DescribeLoadBalancerAttributes",
    "DescribeLoadBalancerPolicies",
    "DescribeLoadBalancers",
    "DescribeTags",
    "DetachLoadBalancerFromSubnets",
    "DisableAvailabilityZonesForLoadBalancer",
    "EnableAvailabilityZonesForLoadBalancer",
    "ModifyLoadBalancerAttributes",
    "RegisterInstancesWithLoadBalancer",
    "RemoveTags",
    "SetLoadBalancerListenerSSLCertificate",
    "SetLoadBalancerPoliciesForBackendServer",
    "SetLoadBalancerPoliciesOfListener",
];

/// DescribeTags accepts at most this many names per call.
pub const DESCRIBE_TAGS_BATCH: usize = 20;
/// Bound on DescribeLoadBalancers pages followed by one call.
const MAX_PAGES: usize = 10_000;

/// The Classic ELB client of one region. Cheap to clone: clones share the HTTP pool,
/// credential cache, rate limiter and retry quota. Calls are counted, by action and
/// outcome, in the metrics of its configuration.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    url: String,
    http: reqwest::Client,
    limiter: Arc<RateLimiter>,
    quota: RetryQuota,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("region", &self.inner.config.region)
            .field("endpoint", &self.inner.url)
            .field("credentials", &self.inner.config.credentials)
            .finish_non_exhaustive()
    }
}

/// Turns an HTTP exchange into a result element or a classified error.
fn decode(action: &'static str, status: u16, body: &str) -> Result<(Element, Option<String>), Error> {
    if (200..300).contains(&status) {
        return wire::parse_result(action, body).map_err(|_| Error::UnexpectedResponse { action, status, snippet: snippet(body) });
    }
    match wire::parse_error(body) {
        Some(e) => Err(Error::Api { action, code: e.code, message: e.message, request_id: e.request_id, status }),
        None => Err(Error::UnexpectedResponse { action, status, snippet: snippet(body) }),
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        let http = http_client(config.connect_timeout)?;
        let url = format!("{}/", config.endpoint_url().trim_end_matches('/'));
        url::Url::parse(&url).map_err(|e| Error::Config(format!("endpoint {url:?}: {e}")))?;
        let limiter = rate_limit::shared(&config.credentials.identity(), &config.region, config.rate_limit);
        let quota = RetryQuota::new(config.retry.quota);
        Ok(Client { inner: Arc::new(Inner { config, url, http, limiter, quota }) })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Tokens left in the retry quota.
    pub fn retry_quota_available(&self) -> u32 {
        self.inner.quota.available()
    }

    /// One logical call: rate limiting, signing, retries, metrics and a tracing span.
    async fn call(&self, action: &'static str, load_balancer: Option<&str>, params: Params) -> Result<Element, Error> {
        self.call_reading(action, load_balancer, params, Ok).await
    }

    /// [`call`](Self::call) with its result element read by `read`. A result `read` refuses
    /// fails its attempt as [`Error::MalformedResponse`], so metrics and the span count it as
    /// the terminal error it is, not as a success.
    async fn call_reading<T>(
        &self,
        action: &'static str,
        load_balancer: Option<&str>,
        params: Params,
        read: impl Fn(Element) -> Result<T, DecodeError>,
    ) -> Result<T, Error> {
        let span = tracing::info_span!(
            "elb_call",
            action,
            load_balancer = load_balancer.unwrap_or(""),
            region = %self.inner.config.region,
            attempt = tracing::field::Empty,
            outcome = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        self.call_with_retries(action, params.encode(), read).instrument(span).await
    }

    async fn call_with_retries<T>(
        &self,
        action: &'static str,
        body: String,
        read: impl Fn(Element) -> Result<T, DecodeError>,
    ) -> Result<T, Error> {
        let cfg = &self.inner.config;
        let span = tracing::Span::current();
        let mut spent = 0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            span.record("attempt", attempt);
            let waited = self.inner.limiter.acquire(is_mutating(action)).await;
            if let Some(m) = &cfg.metrics {
                m.rate_limiter_wait.observe(waited.as_secs_f64());
            }
            let start = tokio::time::Instant::now();
            let result = self.attempt(action, &body).await;
            let throttled = matches!(&result, Err(e) if e.kind() == ErrorKind::Throttled);
            if throttled || result.is_ok() {
                self.inner.limiter.bucket(is_mutating(action)).feedback(throttled);
            }
            let result = result.and_then(|(element, request_id)| {
                if let Some(r) = &request_id {
                    span.record("request_id", r.as_str());
                }
                read(element).map_err(|problem| Error::MalformedResponse { action, problem })
            });
            let outcome = match &result {
                Ok(_) => "success",
                Err(e) => e.kind().label(),
            };
            if let Some(m) = &cfg.metrics {
                m.observe_call(action, outcome, start.elapsed().as_secs_f64());
            }
            span.record("outcome", outcome);
            match result {
                Ok(value) => {
                    if spent > 0 {
                        self.inner.quota.release(spent);
                    }
                    tracing::debug!(attempt, "ELB call succeeded");
                    return Ok(value);
                }
                Err(e) => {
                    if let Error::Api { request_id: Some(r), .. } = &e {
                        span.record("request_id", r.as_str());
                    }
                    if matches!(e.code(), Some("ExpiredToken" | "ExpiredTokenException" | "RequestExpired")) {
                        // Rotated or revoked early: fetch fresh credentials next time.
                        cfg.credentials.invalidate().await;
                    }
                    if !retry::is_retryable(&e) || attempt >= cfg.retry.max_attempts {
                        tracing::debug!(attempt, error = %e, "ELB call failed");
                        return Err(e);
                    }
                    let Some(cost) = self.inner.quota.acquire(&e) else {
                        tracing::warn!(attempt, error = %e, "ELB retry quota exhausted; not retrying");
                        return Err(e);
                    };
                    spent += cost;
                    let delay = retry::backoff(&cfg.retry, attempt, rand::random::<f64>());
                    tracing::info!(attempt, error = %e, delay_ms = delay.as_millis() as u64, "retrying ELB call");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn attempt(&self, action: &'static str, body: &str) -> Result<(Element, Option<String>), Error> {
        let cfg = &self.inner.config;
        // Checked right before sending, on every attempt: a retry after the lease was lost
        // must not go out either. The attempt may not outlive the fence.
        let mut timeout = cfg.timeout;
        if let (true, Some(fence)) = (is_mutating(action), &cfg.fence) {
            timeout = timeout.min(fence.remaining().ok_or(Error::Fenced { action })?);
        }
        let credentials = cfg.credentials.get().await?;
        let headers = signing::sign_post(&self.inner.url, body.as_bytes(), &credentials, &cfg.region, SERVICE, SystemTime::now())?;
        let mut request = self.inner.http.post(&self.inner.url).header("content-type", signing::CONTENT_TYPE).body(body.to_string());
        for (k, v) in headers {
            request = request.header(k, v);
        }
        match exchange::send(request, timeout).await {
            Ok(response) => decode(action, response.status, &response.body),
            Err(ExchangeError::Timeout(timeout)) => Err(Error::Timeout { action, timeout }),
            Err(ExchangeError::Transport(message)) => Err(Error::Transport { action, message }),
        }
    }

    /// A call on one named load balancer, its parameters completed by `build`.
    async fn simple(&self, action: &'static str, name: &str, build: impl FnOnce(&mut Params)) -> Result<Element, Error> {
        self.simple_reading(action, name, build, Ok).await
    }

    /// [`simple`](Self::simple) with its result read as in [`call_reading`](Self::call_reading).
    async fn simple_reading<T>(
        &self,
        action: &'static str,
        name: &str,
        build: impl FnOnce(&mut Params),
        read: impl Fn(Element) -> Result<T, DecodeError>,
    ) -> Result<T, Error> {
        let mut p = Params::new(action);
        p.put("LoadBalancerName", name);
        build(&mut p);
        self.call_reading(action, Some(name), p, read).await
    }
}

#[async_trait::async_trait]
impl ElbApi for Client {
    fn budget(&self) -> Option<Arc<RateLimiter>> {
        Some(self.inner.limiter.clone())
    }

    fn region(&self) -> &str {
        &self.inner.config.region
    }

    async fn create_load_balancer(&self, input: &CreateLoadBalancerInput) -> Result<String, Error> {
        let r = self.call("CreateLoadBalancer", Some(&input.name), wire::create_load_balancer(input)).await?;
        Ok(r.string("DNSName"))
    }

    async fn delete_load_balancer(&self, name: &str) -> Result<(), Error> {
        self.simple("DeleteLoadBalancer", name, |_| {}).await.map(drop)
    }

    async fn describe_load_balancers(&self, names: &[String]) -> Result<Vec<LoadBalancerDescription>, Error> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut p = Params::new("DescribeLoadBalancers");
            p.list("LoadBalancerNames", names);
            if names.is_empty() {
                p.put_opt("PageSize", self.inner.config.page_size);
            }
            p.put_opt("Marker", marker.as_ref());
            let lb = (names.len() == 1).then(|| names[0].as_str());
            let (page, next) = self.call_reading("DescribeLoadBalancers", lb, p, |r| wire::describe_load_balancers(&r)).await?;
            out.extend(page);
            match next {
                // A marker that does not move would loop forever.
                Some(m) if Some(&m) != marker.as_ref() => marker = Some(m),
                _ => return Ok(out),
            }
        }
        Err(Error::UnexpectedResponse { action: "DescribeLoadBalancers", status: 200, snippet: format!("more than {MAX_PAGES} pages") })
    }

    async fn create_load_balancer_listeners(&self, name: &str, listeners: &[Listener]) -> Result<(), Error> {
        self.simple("CreateLoadBalancerListeners", name, |p| {
            p.listeners(listeners);
        })
        .await
        .map(drop)
    }

    async fn delete_load_balancer_listeners(&self, name: &str, ports: &[u16]) -> Result<(), Error> {
        // One port per call: the API accepts several, but a partial failure would leave an
        // unknown subset deleted (and moto mishandles several ports in one call).
        for port in ports {
            self.simple("DeleteLoadBalancerListeners", name, |p| {
                p.list("LoadBalancerPorts", &[port.to_string()]);
            })
            .await?;
        }
        Ok(())
    }

    async fn set_load_balancer_listener_ssl_certificate(&self, name: &str, port: u16, certificate_id: &str) -> Result<(), Error> {
        self.simple("SetLoadBalancerListenerSSLCertificate", name, |p| {
            p.put("LoadBalancerPort", port).put("SSLCertificateId", certificate_id);
        })
        .await
        .map(drop)
    }

    async fn configure_health_check(&self, name: &str, health_check: &HealthCheck) -> Result<HealthCheck, Error> {
        // The API echoes the health check it applied; without the echo, it applied ours.
        let read = |r: Element| match r.child("HealthCheck") {
            Some(applied) => wire::health_check_of(applied),
            None => Ok(health_check.clone()),
        };
        self.simple_reading("ConfigureHealthCheck", name, |p| wire::health_check(p, health_check), read).await
    }

    async fn register_instances(&self, name: &str, instance_ids: &[String]) -> Result<Vec<String>, Error> {
        let r = self.simple("RegisterInstancesWithLoadBalancer", name, |p| {
            p.instances(instance_ids);
        })
        .await?;
        Ok(wire::instance_ids(&r))
    }

    async fn deregister_instances(&self, name: &str, instance_ids: &[String]) -> Result<Vec<String>, Error> {
        let r = self.simple("DeregisterInstancesFromLoadBalancer", name, |p| {
            p.instances(instance_ids);
        })
        .await?;
        Ok(wire::instance_ids(&r))
    }

    async fn describe_instance_health(&self, name: &str, instance_ids: &[String]) -> Result<Vec<InstanceState>, Error> {
        let r = self.simple("DescribeInstanceHealth", name, |p| {
            p.instances(instance_ids);
        })
        .await?;
        Ok(wire::instance_states(&r))
    }

    async fn enable_availability_zones(&self, name: &str, zones: &[String]) -> Result<Vec<String>, Error> {
        let r = self.simple("EnableAvailabilityZonesForLoadBalancer", name, |p| {
            p.list("AvailabilityZones", zones);
        })
        .await?;
        Ok(r.member_strings("AvailabilityZones"))
    }

    async fn disable_availability_zones(&self, name: &str, zones: &[String]) -> Result<Vec<String>, Error> {
        let r = self.simple("DisableAvailabilityZonesForLoadBalancer", name, |p| {
            p.list("AvailabilityZones", zones);
        })
        .await?;
        Ok(r.member_strings("AvailabilityZones"))
    }

    async fn attach_subnets(&self, name: &str, subnets: &[String]) -> Result<Vec<String>, Error> {
        let r = self.simple("AttachLoadBalancerToSubnets", name, |p| {
            p.list("Subnets", subnets);
        })
        .await?;
        Ok(r.member_strings("Subnets"))
    }

    async fn detach_subnets(&self, name: &str, subnets: &[String]) -> Result<Vec<String>, Error> {
        let r = self.simple("DetachLoadBalancerFromSubnets", name, |p| {
            p.list("Subnets", subnets);
        })
        .await?;
        Ok(r.member_strings("Subnets"))
    }

    async fn apply_security_groups(&self, name: &str, groups: &[String]) -> Result<Vec<String>, Error> {
        let r = self.simple("ApplySecurityGroupsToLoadBalancer", name, |p| {
            p.list("SecurityGroups", groups);
        })
        .await?;
        Ok(r.member_strings("SecurityGroups"))
    }

    async fn describe_load_balancer_attributes(&self, name: &str) -> Result<LoadBalancerAttributes, Error> {
        self.simple_reading("DescribeLoadBalancerAttributes", name, |_| {}, |r| wire::load_balancer_attributes(&r)).await
    }

    async fn modify_load_balancer_attributes(&self, name: &str, attributes: &LoadBalancerAttributes) -> Result<LoadBalancerAttributes, Error> {
        let read = |r: Element| wire::load_balancer_attributes(&r);
        self.simple_reading("ModifyLoadBalancerAttributes", name, |p| wire::attributes(p, attributes), read).await
    }

    async fn add_tags(&self, names: &[String], tags: &[Tag]) -> Result<(), Error> {
        // AddTags and RemoveTags accept one load balancer name per call.
        for name in names {
            let mut p = Params::new("AddTags");
            p.list("LoadBalancerNames", std::slice::from_ref(name)).tags(tags);
            self.call("AddTags", Some(name), p).await?;
        }
        Ok(())
    }

    async fn remove_tags(&self, names: &[String], keys: &[String]) -> Result<(), Error> {
        for name in names {
            let mut p = Params::new("RemoveTags");
            p.list("LoadBalancerNames", std::slice::from_ref(name));
            for (i, k) in keys.iter().enumerate() {
                p.put(format!("Tags.member.{}.Key", i + 1), k);
            }
            self.call("RemoveTags", Some(name), p).await?;
        }
        Ok(())
    }

    async fn describe_tags(&self, names: &[String]) -> Result<BTreeMap<String, Vec<Tag>>, Error> {
        let mut out = BTreeMap::new();
        for chunk in names.chunks(DESCRIBE_TAGS_BATCH) {
            let mut p = Params::new("DescribeTags");
            p.list("LoadBalancerNames", chunk);
            let lb = (chunk.len() == 1).then(|| chunk[0].as_str());
            let r = self.call("DescribeTags", lb, p).await?;
            out.extend(wire::tag_descriptions(&r));
        }
        Ok(out)
    }

    async fn create_load_balancer_policy(&self, name: &str, policy_name: &str, policy_type_name: &str, attributes: &[PolicyAttribute]) -> Result<(), Error> {
        self.simple("CreateLoadBalancerPolicy", name, |p| {
            p.put("PolicyName", policy_name).put("PolicyTypeName", policy_type_name);
            for (i, a) in attributes.iter().enumerate() {
                p.put(format!("PolicyAttributes.member.{}.AttributeName", i + 1), &a.name);
                p.put(format!("PolicyAttributes.member.{}.AttributeValue", i + 1), &a.value);
            }
        })
        .await
        .map(drop)
    }

    async fn delete_load_balancer_policy(&self, name: &str, policy_name: &str) -> Result<(), Error> {
        self.simple("DeleteLoadBalancerPolicy", name, |p| {
            p.put("PolicyName", policy_name);
        })
        .await
        .map(drop)
    }

    async fn describe_load_balancer_policies(&self, name: &str, policy_names: &[String]) -> Result<Vec<PolicyDescription>, Error> {
        let r = self.simple("DescribeLoadBalancerPolicies", name, |p| {
            p.list("PolicyNames", policy_names);
        })
        .await?;
        Ok(wire::policy_descriptions(&r))
    }

    async fn create_lb_cookie_stickiness_policy(&self, name: &str, policy_name: &str, cookie_expiration_period: Option<i64>) -> Result<(), Error> {
        self.simple("CreateLBCookieStickinessPolicy", name, |p| {
            p.put("PolicyName", policy_name).put_opt("CookieExpirationPeriod", cookie_expiration_period);
        })
        .await
        .map(drop)
    }

    async fn create_app_cookie_stickiness_policy(&self, name: &str, policy_name: &str, cookie_name: &str) -> Result<(), Error> {
        self.simple("CreateAppCookieStickinessPolicy", name, |p| {
            p.put("PolicyName", policy_name).put("CookieName", cookie_name);
        })
        .await
        .map(drop)
    }

    async fn set_load_balancer_policies_of_listener(&self, name: &str, port: u16, policy_names: &[String]) -> Result<(), Error> {
        self.simple("SetLoadBalancerPoliciesOfListener", name, |p| {
            p.put("LoadBalancerPort", port);
            policies(p, policy_names);
        })
        .await
        .map(drop)
    }

    async fn set_load_balancer_policies_for_backend_server(&self, name: &str, instance_port: u16, policy_names: &[String]) -> Result<(), Error> {
        self.simple("SetLoadBalancerPoliciesForBackendServer", name, |p| {
            p.put("InstancePort", instance_port);
            policies(p, policy_names);
        })
        .await
        .map(drop)
    }
}

/// `PolicyNames.member.N`, or an empty `PolicyNames=` to remove every policy (the Query
/// protocol's encoding of an empty list).
fn policies(p: &mut Params, names: &[String]) {
    if names.is_empty() {
        p.put("PolicyNames", "");
    } else {
        p.list("PolicyNames", names);
    }
}

/// An IAM role that calls are made as (`spec.roleArn`, `spec.externalId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role {
    pub arn: String,
    pub external_id: Option<String>,
}

type ClientKey = (Option<Role>, String);

/// One [`Client`] per (role, region), built on demand from a base configuration. Clients
/// share the credential cache: the base credentials, and per role the assumed ones (one
/// AssumeRole per role, refreshed before expiry, whatever the region). Rate limiters are
/// shared per (credentials, region), so each (role, region) has its own budget.
#[derive(Debug)]
pub struct Clients {
    base: ClientConfig,
    /// `RoleSessionName` of every AssumeRole.
    session_name: String,
    /// By (role, region).
    clients: Mutex<HashMap<ClientKey, Arc<Client>>>,
    roles: Mutex<HashMap<Role, crate::elb::SharedCredentials>>,
}

impl Clients {
    pub fn new(base: ClientConfig) -> Clients {
        Clients { base, session_name: "elb-operator".into(), clients: Mutex::default(), roles: Mutex::default() }
    }

    /// The `RoleSessionName` of assumed roles (`elb-operator-<cluster>`).
    pub fn with_session_name(mut self, name: String) -> Clients {
        self.session_name = name;
        self
    }

    /// The client of `region` (the base region when empty), with the base credentials.
    pub fn get(&self, region: &str) -> Result<Arc<Client>, Error> {
        self.get_as(region, None)
    }

    /// The client of `region` acting as `role` (the base credentials when `None`).
    pub fn get_as(&self, region: &str, role: Option<&Role>) -> Result<Arc<Client>, Error> {
        let region = if region.is_empty() { self.base.region.as_str() } else { region };
        let key = (role.cloned(), region.to_string());
        let mut clients = self.clients.lock().unwrap();
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let mut config = self.base.clone().with_region(region);
        if let Some(role) = role {
            config.credentials = self.assumed(role)?;
        }
        let c = Arc::new(Client::new(config)?);
        clients.insert(key, c.clone());
        Ok(c)
    }

    fn assumed(&self, role: &Role) -> Result<crate::elb::SharedCredentials, Error> {
        let mut roles = self.roles.lock().unwrap();
        if let Some(c) = roles.get(role) {
            return Ok(c.clone());
        }
        let region = self.base.region.as_str();
        let sts = self.base.sts_endpoint.clone().unwrap_or_else(|| super::config::default_endpoint("sts", region));
        let source = crate::elb::credentials::assume_role::AssumeRole::new(
            &role.arn,
            role.external_id.as_deref(),
            &self.session_name,
            self.base.credentials.clone(),
            &sts,
            region,
        )?;
        let c = crate::elb::SharedCredentials::new(source);
        roles.insert(role.clone(), c.clone());
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn builds_tls_clients_for_public_endpoints() {
        // reqwest is built without a default crypto provider; the client installs ring.
        let c = Client::new(ClientConfig::for_endpoint("eu-west-1", "https://elasticloadbalancing.eu-west-1.amazonaws.com", "AK", "SK")).unwrap();
        assert_eq!(c.inner.url, "https://elasticloadbalancing.eu-west-1.amazonaws.com/");
        let cfg = ClientConfig::for_endpoint("cn-north-1", "x", "AK", "SK");
        let cfg = ClientConfig { endpoint: None, ..cfg };
        assert_eq!(Client::new(cfg).unwrap().inner.url, "https://elasticloadbalancing.cn-north-1.amazonaws.com.cn/");
    }

    #[test]
    fn decode_classifies_bodies() {
        let ok = decode("DeleteLoadBalancer", 200, "<DeleteLoadBalancerResponse><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DeleteLoadBalancerResponse>");
        assert_eq!(ok.unwrap().1.as_deref(), Some("r1"));
        let err = decode("DeleteLoadBalancer", 400, "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r2</RequestId></ErrorResponse>").unwrap_err();
        assert_eq!(err.kind(), crate::elb::ErrorKind::Throttled);
        let long = format!("<html>{}</html>", "x".repeat(1000));
        match decode("DeleteLoadBalancer", 502, &long).unwrap_err() {
            Error::UnexpectedResponse { status: 502, snippet, .. } => assert!(snippet.chars().count() <= 161, "{snippet}"),
            other => panic!("{other:?}"),
        }
    }
}
