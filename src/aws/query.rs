//! The AWS Query protocol, as the ELB, EC2, Auto Scaling and STS APIs speak it, and the one
//! call path of their clients: budget → fence → signed exchange → decode → retries → metrics, in
//! [`QueryClient::call_reading`].
//!
//! The services differ only in what a [`Service`] says: the SigV4 name, the API version, the
//! endpoint variable, and the [`Shape`] of a successful answer. Error documents are read
//! the same way for both (`ErrorResponse/Error` or `Response/Errors/Error`).

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::Instrument;

use super::config::ClientConfig;
use super::exchange::{self, http_client, snippet, ExchangeError};
use super::rate_limit::{self, RateLimiter};
use super::retry::{self, RetryQuota};
pub use super::service::{is_mutating, Service, Shape};
use super::xml::{self, Element};
use super::{signing, DecodeError, Error, ErrorKind};

/// Form parameters of one request, in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// `Action` and the service's `Version`.
    pub fn new(service: &Service, action: &str) -> Params {
        let mut p = Params(Vec::new());
        p.put("Action", action);
        p.put("Version", service.version);
        p
    }

    pub fn put(&mut self, key: impl Into<String>, value: impl ToString) -> &mut Self {
        self.0.push((key.into(), value.to_string()));
        self
    }

    pub fn put_opt(&mut self, key: &str, value: Option<impl ToString>) -> &mut Self {
        if let Some(v) = value {
            self.put(key, v);
        }
        self
    }

    /// `Name.member.N` for a list of strings (1-based): the list encoding of ELB and STS.
    pub fn list(&mut self, name: &str, values: &[impl AsRef<str>]) -> &mut Self {
        for (i, v) in values.iter().enumerate() {
            self.put(format!("{name}.member.{}", i + 1), v.as_ref());
        }
        self
    }

    /// `Name.N` for a list of strings (1-based): the list encoding of EC2.
    pub fn flat_list(&mut self, name: &str, values: &[impl AsRef<str>]) -> &mut Self {
        for (i, v) in values.iter().enumerate() {
            self.put(format!("{name}.{}", i + 1), v.as_ref());
        }
        self
    }

    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The `application/x-www-form-urlencoded` body (RFC 3986 unreserved characters kept).
    pub fn encode(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{}={}", escape(k), escape(v))).collect::<Vec<_>>().join("&")
    }
}

const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn escape(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY).to_string()
}

/// An error document from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// Parses `ErrorResponse/Error` (ELB, STS) or `…/Errors/Error` (EC2), matched by local name.
/// `None` when the body is not such a document.
pub fn parse_error(body: &str) -> Option<ApiError> {
    let root = xml::parse(body).ok()?;
    let error = find_error(&root)?;
    let code = error.text_of("Code")?;
    Some(ApiError { code, message: error.string("Message"), request_id: request_id(&root) })
}

fn find_error(e: &Element) -> Option<&Element> {
    if e.name == "Error" && e.child("Code").is_some() {
        return Some(e);
    }
    e.children.iter().find_map(find_error)
}

/// The request id of a response or error document: `RequestId` (ELB), `RequestID` (EC2
/// errors) or `requestId` (EC2 answers).
pub fn request_id(root: &Element) -> Option<String> {
    ["RequestId", "RequestID", "requestId"].iter().find_map(|n| root.find(n)).map(|e| e.text.trim().to_string())
}

/// Parses a success document and returns the element holding its fields: the
/// `<Action>Result` of a [`Shape::Wrapped`] answer (empty when absent, as for actions without
/// output), the root of a [`Shape::Bare`] one.
pub fn parse_result(shape: Shape, action: &str, body: &str) -> Result<(Element, Option<String>), String> {
    let root = xml::parse(body)?;
    let expected = format!("{action}Response");
    if root.name != expected {
        return Err(format!("expected <{expected}>, got <{}>", root.name));
    }
    let rid = request_id(&root);
    let result = match shape {
        Shape::Wrapped => root.child(&format!("{action}Result")).cloned().unwrap_or_default(),
        Shape::Bare => root,
    };
    Ok((result, rid))
}

/// Turns an HTTP exchange into a result element or a classified error.
fn decode(shape: Shape, action: &'static str, status: u16, body: &str) -> Result<(Element, Option<String>), Error> {
    if (200..300).contains(&status) {
        return parse_result(shape, action, body).map_err(|_| Error::UnexpectedResponse { action, status, snippet: snippet(body) });
    }
    match parse_error(body) {
        Some(e) => Err(Error::Api { action, code: e.code, message: e.message, request_id: e.request_id, status }),
        None => Err(Error::UnexpectedResponse { action, status, snippet: snippet(body) }),
    }
}

/// The signed, retried, rate-limited client of one Query API in one region. Cheap to clone:
/// clones share the HTTP pool, credential cache, rate limiter and retry quota. Calls are
/// counted, by action and outcome, in the metrics of its configuration.
#[derive(Clone)]
pub struct QueryClient {
    inner: Arc<Inner>,
}

struct Inner {
    service: &'static Service,
    config: ClientConfig,
    url: String,
    http: reqwest::Client,
    limiter: Arc<RateLimiter>,
    quota: RetryQuota,
}

impl fmt::Debug for QueryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryClient")
            .field("service", &self.inner.service.name)
            .field("region", &self.inner.config.region)
            .field("endpoint", &self.inner.url)
            .field("credentials", &self.inner.config.credentials)
            .finish_non_exhaustive()
    }
}

impl QueryClient {
    pub fn new(service: &'static Service, config: ClientConfig) -> Result<QueryClient, Error> {
        let http = http_client(config.connect_timeout)?;
        let url = format!("{}/", config.endpoint_url(service.name).trim_end_matches('/'));
        url::Url::parse(&url).map_err(|e| Error::Config(format!("endpoint {url:?}: {e}")))?;
        // Each service has its own budget: AWS throttles ELB and EC2 separately.
        let limiter = rate_limit::shared(service.name, &config.credentials.identity(), &config.region, config.rate_limit);
        let quota = RetryQuota::new(config.retry.quota);
        Ok(QueryClient { inner: Arc::new(Inner { service, config, url, http, limiter, quota }) })
    }

    pub fn service(&self) -> &'static Service {
        self.inner.service
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The URL requests are sent to.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The budget calls are spent from.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.inner.limiter
    }

    /// Tokens left in the retry quota.
    pub fn retry_quota_available(&self) -> u32 {
        self.inner.quota.available()
    }

    /// The parameters of a request of `action`: `Action` and this service's `Version`.
    pub fn params(&self, action: &str) -> Params {
        Params::new(self.inner.service, action)
    }

    /// One logical call, its result element returned as is.
    pub async fn call(&self, action: &'static str, resource: Option<&str>, params: Params) -> Result<Element, Error> {
        self.call_reading(action, resource, params, Ok).await
    }

    /// One logical call: rate limiting, the fence, signing, retries, metrics and a tracing
    /// span naming `resource` (a load balancer, …). Its result element is read by `read`; a
    /// result `read` refuses fails its attempt as [`Error::MalformedResponse`], so metrics and
    /// the span count it as the terminal error it is, not as a success.
    pub async fn call_reading<T>(
        &self,
        action: &'static str,
        resource: Option<&str>,
        params: Params,
        read: impl Fn(Element) -> Result<T, DecodeError>,
    ) -> Result<T, Error> {
        let span = tracing::info_span!(
            "aws_call",
            service = self.inner.service.label,
            action,
            resource = resource.unwrap_or(""),
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
        let label = self.inner.service.label;
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
                    tracing::debug!(attempt, "{label} call succeeded");
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
                    if !retry::may_resend(action, &e) || attempt >= cfg.retry.max_attempts {
                        tracing::debug!(attempt, error = %e, "{label} call failed");
                        return Err(e);
                    }
                    let Some(cost) = self.inner.quota.acquire(&e) else {
                        tracing::warn!(attempt, error = %e, "{label} retry quota exhausted; not retrying");
                        return Err(e);
                    };
                    spent += cost;
                    let delay = retry::backoff(&cfg.retry, attempt, rand::random::<f64>());
                    tracing::info!(attempt, error = %e, delay_ms = delay.as_millis() as u64, "retrying {label} call");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn attempt(&self, action: &'static str, body: &str) -> Result<(Element, Option<String>), Error> {
        let cfg = &self.inner.config;
        // A shard's fence carried by the task (`fence::with_fence`) takes the place of the
        // client's.
        let fence = match (is_mutating(action), &cfg.fence) {
            (true, Some(fence)) => Some(super::fence::scoped().unwrap_or_else(|| fence.clone())),
            _ => None,
        };
        // Checked on every attempt (a retry after the lease was lost must not go out either),
        // first before fetching credentials, which costs an STS call when the fence is
        // already closed.
        if let Some(fence) = &fence {
            fence.remaining().ok_or(Error::Fenced { action })?;
        }
        let credentials = cfg.credentials.get().await?;
        // Then again right before sending: fetching credentials can take seconds (STS), and
        // the lease may have passed meanwhile. The attempt may not outlive the fence.
        let mut timeout = cfg.timeout;
        if let Some(fence) = &fence {
            timeout = timeout.min(fence.remaining().ok_or(Error::Fenced { action })?);
        }
        let service = self.inner.service;
        let headers = signing::sign_post(&self.inner.url, body.as_bytes(), &credentials, &cfg.region, service.name, SystemTime::now())?;
        let mut request = self.inner.http.post(&self.inner.url).header("content-type", signing::CONTENT_TYPE).body(body.to_string());
        for (k, v) in headers {
            request = request.header(k, v);
        }
        match exchange::send(request, timeout).await {
            Ok(response) => decode(service.shape, action, response.status, &response.body),
            Err(ExchangeError::Timeout(timeout)) => Err(Error::Timeout { action, timeout }),
            Err(ExchangeError::Transport(message)) => Err(Error::Transport { action, message }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST: Service =
        Service { name: "test", version: "2020-01-01", endpoint_env: "AWS_ENDPOINT_URL_TEST", label: "Test", shape: Shape::Wrapped };

    #[test]
    fn params_name_action_and_version_and_encode_lists_both_ways() {
        let mut p = Params::new(&TEST, "DescribeThings");
        p.list("Names", &["a b", "c"]).flat_list("Id", &["i-1", "i-2"]).put_opt("Marker", None::<&str>);
        assert_eq!(p.get("Version"), Some("2020-01-01"));
        assert_eq!(p.get("Marker"), None);
        assert_eq!(p.encode(), "Action=DescribeThings&Version=2020-01-01&Names.member.1=a%20b&Names.member.2=c&Id.1=i-1&Id.2=i-2");
    }

    #[test]
    fn wrapped_answers_give_their_result_element_and_bare_ones_their_root() {
        let doc = r#"<DescribeThingsResponse xmlns="x"><DescribeThingsResult><N>1</N></DescribeThingsResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeThingsResponse>"#;
        let (r, rid) = parse_result(Shape::Wrapped, "DescribeThings", doc).unwrap();
        assert_eq!((r.name.as_str(), r.string("N"), rid.as_deref()), ("DescribeThingsResult", "1".into(), Some("r1")));
        let bare = r#"<DescribeThingsResponse xmlns="x"><requestId>r2</requestId><n>2</n></DescribeThingsResponse>"#;
        let (r, rid) = parse_result(Shape::Bare, "DescribeThings", bare).unwrap();
        assert_eq!((r.string("n"), rid.as_deref()), ("2".into(), Some("r2")));
        assert!(parse_result(Shape::Bare, "DescribeOther", bare).is_err(), "the root names the action");
    }

    #[test]
    fn action_without_result_element() {
        let doc = r#"<DeleteLoadBalancerResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/"><ResponseMetadata><RequestId>abc</RequestId></ResponseMetadata></DeleteLoadBalancerResponse>"#;
        let (r, rid) = parse_result(Shape::Wrapped, "DeleteLoadBalancer", doc).unwrap();
        assert!(r.children.is_empty());
        assert_eq!(rid.as_deref(), Some("abc"));
    }

    #[test]
    fn error_shape_error_response_error() {
        let doc = r#"<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/">
  <Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code><Message>There is no ACTIVE Load Balancer named 'x'</Message></Error>
  <RequestId>f3a1c6e1-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>"#;
        let e = parse_error(doc).unwrap();
        assert_eq!(e.code, "LoadBalancerNotFound");
        assert_eq!(e.message, "There is no ACTIVE Load Balancer named 'x'");
        assert_eq!(e.request_id.as_deref(), Some("f3a1c6e1-0000-0000-0000-000000000000"));
    }

    #[test]
    fn error_shape_response_errors_error() {
        // The EC2 error document.
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>"#;
        let e = parse_error(doc).unwrap();
        assert_eq!(e.code, "UnauthorizedOperation");
        assert_eq!(e.message, "You are not authorized to perform this operation.");
        assert_eq!(e.request_id.as_deref(), Some("ea966190-f9aa-478e-9ede-example"));
    }

    #[test]
    fn non_error_bodies_are_not_errors() {
        assert_eq!(parse_error("<html><body><h1>500 Internal Server Error</h1></body></html>"), None);
        assert_eq!(parse_error("<ErrorResponse><Error><Message>no code</Message></Error>"), None);
        assert_eq!(parse_error(""), None);
    }

    #[test]
    fn decode_classifies_bodies() {
        let ok = decode(
            Shape::Wrapped,
            "DeleteLoadBalancer",
            200,
            "<DeleteLoadBalancerResponse><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DeleteLoadBalancerResponse>",
        );
        assert_eq!(ok.unwrap().1.as_deref(), Some("r1"));
        let err = decode(Shape::Wrapped, "DeleteLoadBalancer", 400, "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r2</RequestId></ErrorResponse>").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Throttled);
        let denied = decode(Shape::Bare, "DescribeInstances", 403, "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors><RequestID>r3</RequestID></Response>").unwrap_err();
        assert!(denied.is_not_allowed(), "{denied:?}");
        let long = format!("<html>{}</html>", "x".repeat(1000));
        match decode(Shape::Wrapped, "DeleteLoadBalancer", 502, &long).unwrap_err() {
            Error::UnexpectedResponse { status: 502, snippet, .. } => assert!(snippet.chars().count() <= 161, "{snippet}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn builds_tls_clients_for_public_endpoints() {
        // reqwest is built without a default crypto provider; the client installs ring.
        let c =
            QueryClient::new(&TEST, ClientConfig::for_endpoint("eu-west-1", "https://test.eu-west-1.amazonaws.com", "AK", "SK")).unwrap();
        assert_eq!(c.url(), "https://test.eu-west-1.amazonaws.com/");
        let cfg = ClientConfig { endpoint: None, ..ClientConfig::for_endpoint("cn-north-1", "x", "AK", "SK") };
        assert_eq!(QueryClient::new(&TEST, cfg).unwrap().url(), "https://test.cn-north-1.amazonaws.com.cn/");
    }
}
