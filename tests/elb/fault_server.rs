//! A small scripted HTTP server on 127.0.0.1:0 for fault tests: it answers each request
//! with the next scripted reply (the last one repeats) and records what it received,
//! with the tokio (possibly virtual) time of arrival. Started with
//! [`FaultServer::forwarding`], it records each request and forwards it to a real server
//! (moto), whose answer it returns.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One scripted reply.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub content_type: &'static str,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn xml(status: u16, body: impl Into<String>) -> Reply {
        Reply { status, body: body.into(), content_type: "text/xml", delay: Duration::ZERO }
    }
    pub fn html(status: u16, body: impl Into<String>) -> Reply {
        Reply { status, body: body.into(), content_type: "text/html", delay: Duration::ZERO }
    }
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply { status, body: body.into(), content_type: "application/json", delay: Duration::ZERO }
    }
    pub fn delayed(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
    /// An ELB error document (`ErrorResponse/Error`).
    pub fn elb_error(status: u16, code: &str) -> Reply {
        Reply::xml(
            status,
            format!(
                "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>scripted {code}</Message></Error><RequestId>req-{code}</RequestId></ErrorResponse>"
            ),
        )
    }
    /// A successful empty DescribeLoadBalancers.
    pub fn describe_ok() -> Reply {
        Reply::xml(200, "<DescribeLoadBalancersResponse><DescribeLoadBalancersResult><LoadBalancerDescriptions/></DescribeLoadBalancersResult><ResponseMetadata><RequestId>ok-1</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>")
    }
    /// A successful result of any action without output.
    pub fn empty_ok(action: &str) -> Reply {
        Reply::xml(200, format!("<{action}Response><ResponseMetadata><RequestId>ok</RequestId></ResponseMetadata></{action}Response>"))
    }
}

/// One received request.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    pub at: tokio::time::Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }
    /// A form parameter of the body.
    pub fn param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.body.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    received: Vec<Received>,
    /// Forward to this URL instead of answering from the script.
    upstream: Option<String>,
}

/// The running server; it stops when the test's runtime ends.
#[derive(Clone)]
pub struct FaultServer {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

impl FaultServer {
    /// Starts serving on the current tokio runtime.
    pub async fn start(script: Vec<Reply>) -> FaultServer {
        Self::serve(Inner { script: script.into(), ..Inner::default() }).await
    }

    /// A recorder in front of `upstream`: every request is recorded, then forwarded as is
    /// (headers and body; the path is kept).
    pub async fn forwarding(upstream: &str) -> FaultServer {
        Self::serve(Inner { upstream: Some(upstream.trim_end_matches('/').to_string()), ..Inner::default() }).await
    }

    async fn serve(inner: Inner) -> FaultServer {
        let inner = Arc::new(Mutex::new(inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(handle).with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultServer { inner, url }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().received.len()
    }
}

async fn handle(State(inner): State<Arc<Mutex<Inner>>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let upstream = inner.lock().unwrap().upstream.clone();
    let received = Received {
        method: method.to_string(),
        path: uri.to_string(),
        headers: headers.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: tokio::time::Instant::now(),
    };
    inner.lock().unwrap().received.push(received);
    if let Some(upstream) = upstream {
        return forward(&upstream, method, &uri, headers, body).await;
    }
    let reply = {
        let mut g = inner.lock().unwrap();
        if g.script.len() > 1 {
            g.script.pop_front()
        } else {
            g.script.front().cloned()
        }
    };
    let Some(reply) = reply else {
        return (StatusCode::NOT_IMPLEMENTED, "no scripted reply").into_response();
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    (StatusCode::from_u16(reply.status).unwrap(), [("content-type", reply.content_type)], reply.body).into_response()
}

async fn forward(upstream: &str, method: Method, uri: &Uri, headers: HeaderMap, body: Bytes) -> Response {
    elb_operator::aws::install_crypto_provider();
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = reqwest::Client::new().request(method, format!("{upstream}{path}")).body(body);
    for (name, value) in headers.iter().filter(|(n, _)| *n != "host" && *n != "content-length") {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(r) => {
            let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
            let content_type = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("text/xml").to_string();
            let body = r.bytes().await.unwrap_or_default();
            (status, [("content-type", content_type)], body).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
