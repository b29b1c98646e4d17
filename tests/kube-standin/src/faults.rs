//! Injectable faults, for tests of how a client copes with an API server that refuses
//! requests, is unavailable, or answers slowly. Not part of the Kubernetes API: a test sets
//! them through [`crate::StandIn::faults`] and they act before the request is served.
//!
//! A [`Fault`] matches requests by path prefix (whole segments), and optionally by method
//! and by a request header (to single out one client: give its `kube::Config` an extra
//! header). A matching request is delayed, then refused with a `Status` of the chosen code
//! without being served, so a refused write changes nothing. The first matching fault
//! acts; [`Fault::times`] limits how often.
//!
//! ```no_run
//! use kube_standin::faults::Fault;
//! let standin = kube_standin::StandIn::start_blocking().unwrap();
//! let lease = "/apis/coordination.k8s.io/v1/namespaces/default/leases/my-lease";
//! // Every update of the Lease fails with 500 until the fault is removed.
//! let id = standin.faults().inject(Fault::on(lease).method("PUT").fail(500));
//! // ... exercise the client ...
//! assert!(standin.faults().hits(id) > 0);
//! standin.faults().remove(id);
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use tokio::sync::watch;

use crate::error::ApiError;

/// Which requests to disturb, and how.
#[derive(Debug, Clone)]
pub struct Fault {
    prefix: String,
    method: Option<String>,
    header: Option<(String, String)>,
    delay: Duration,
    status: Option<u16>,
    times: Option<u64>,
}

impl Fault {
    /// Requests whose path is `prefix` or lies below it, segment by segment:
    /// `/api/v1/namespaces/default/pods` matches that list and every pod in it, not
    /// `/api/v1/namespaces/default/podsx`. `/` matches every request. As it stands, the
    /// fault does nothing: add [`Fault::fail`] and/or [`Fault::delay`].
    pub fn on(prefix: impl Into<String>) -> Fault {
        let prefix = prefix.into().trim_end_matches('/').to_string();
        Fault { prefix, method: None, header: None, delay: Duration::ZERO, status: None, times: None }
    }

    /// Only requests with this HTTP method (`GET`, `PUT`, ...; case-insensitive).
    pub fn method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests that carry header `name` with exactly `value` (names are
    /// case-insensitive).
    pub fn header(mut self, name: &str, value: &str) -> Fault {
        self.header = Some((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Refuse the request with a `Status` of this HTTP code (reason as the real server names
    /// it: 500 InternalError, 503 ServiceUnavailable, 429 TooManyRequests, ...) instead of
    /// serving it.
    pub fn fail(mut self, code: u16) -> Fault {
        self.status = Some(code);
        self
    }

    /// Wait this long before serving (or refusing) the request. A server that stops meanwhile
    /// answers the waiting request at once, with 503.
    pub fn delay(mut self, delay: Duration) -> Fault {
        self.delay = delay;
        self
    }

    /// Act on the next `n` matching requests only; later ones are served normally.
    pub fn times(mut self, n: u64) -> Fault {
        self.times = Some(n);
        self
    }

    fn matches(&self, method: &str, path: &str, header: impl Fn(&str) -> Option<String>) -> bool {
        let below = path == self.prefix
            || self.prefix.is_empty()
            || path.strip_prefix(self.prefix.as_str()).is_some_and(|rest| rest.starts_with('/'));
        below
            && self.method.as_deref().is_none_or(|m| m == method)
            && self.header.as_ref().is_none_or(|(name, value)| header(name).as_deref() == Some(value))
    }
}

/// Names one injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultId(u64);

struct Entry {
    id: u64,
    fault: Fault,
    hits: u64,
}

#[derive(Default)]
struct Table {
    next: u64,
    entries: Vec<Entry>,
}

/// The faults of one server; cheap to clone (all clones share them).
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<Table>>);

/// What a fault does to one request.
struct Action {
    delay: Duration,
    status: Option<u16>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a fault after those already injected.
    pub fn inject(&self, fault: Fault) -> FaultId {
        let mut t = self.lock();
        t.next += 1;
        let id = t.next;
        t.entries.push(Entry { id, fault, hits: 0 });
        FaultId(id)
    }

    /// Removes a fault; answers how many requests it acted on.
    pub fn remove(&self, id: FaultId) -> u64 {
        let mut t = self.lock();
        let hits = t.entries.iter().find(|e| e.id == id.0).map_or(0, |e| e.hits);
        t.entries.retain(|e| e.id != id.0);
        hits
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    /// How many requests a fault has acted on so far (0 once removed).
    pub fn hits(&self, id: FaultId) -> u64 {
        self.lock().entries.iter().find(|e| e.id == id.0).map_or(0, |e| e.hits)
    }

    fn action(&self, method: &str, path: &str, header: impl Fn(&str) -> Option<String>) -> Option<Action> {
        let mut t = self.lock();
        let entry = t.entries.iter_mut().find(|e| e.fault.times.is_none_or(|n| e.hits < n) && e.fault.matches(method, path, &header))?;
        entry.hits += 1;
        Some(Action { delay: entry.fault.delay, status: entry.fault.status })
    }

    /// Applies the first matching fault to `req`: waits its delay (cut short, with a 503, when
    /// `closing` turns true, so a delayed request does not hold up the server's shutdown),
    /// then answers its failure. `None`: serve the request.
    pub(crate) fn intercept(
        &self,
        req: &Request<Body>,
        mut closing: watch::Receiver<bool>,
    ) -> impl Future<Output = Option<Response<Body>>> + Send + 'static {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let action = self.action(req.method().as_str(), req.uri().path(), header);
        async move {
            let action = action?;
            if !action.delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(action.delay) => {}
                    _ = closing.wait_for(|closed| *closed) => return Some(failure(503)),
                }
            }
            action.status.map(failure)
        }
    }
}

/// A `Status` failure as the real server words the common codes.
fn failure(code: u16) -> Response<Body> {
    let reason = match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Expired",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    };
    let e = ApiError::new(code, reason, format!("injected fault: {reason}"));
    let mut r = Response::new(Body::from(serde_json::to_vec(&e.body()).unwrap_or_default()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_prefix_matches_whole_segments() {
        let f = Fault::on("/api/v1/namespaces/default/pods/");
        assert!(f.matches("GET", "/api/v1/namespaces/default/pods", none));
        assert!(f.matches("GET", "/api/v1/namespaces/default/pods/web", none));
        assert!(f.matches("PUT", "/api/v1/namespaces/default/pods/web/status", none));
        assert!(!f.matches("GET", "/api/v1/namespaces/default/podsx", none));
        assert!(!f.matches("GET", "/api/v1/namespaces/default", none));
        assert!(Fault::on("/").matches("GET", "/version", none));
    }

    #[test]
    fn method_and_header_narrow_the_match() {
        let f = Fault::on("/").method("put").header("X-Client", "a");
        let a = |name: &str| (name == "x-client").then(|| "a".to_string());
        let b = |name: &str| (name == "x-client").then(|| "b".to_string());
        assert!(f.matches("PUT", "/x", a));
        assert!(!f.matches("GET", "/x", a), "other method");
        assert!(!f.matches("PUT", "/x", b), "other header value");
        assert!(!f.matches("PUT", "/x", none), "no header");
    }

    #[test]
    fn the_first_live_fault_acts_and_counts_its_hits() {
        let faults = Faults::default();
        let once = faults.inject(Fault::on("/a").fail(500).times(1));
        let always = faults.inject(Fault::on("/").fail(503));
        let code = |path: &str| faults.action("GET", path, none).and_then(|a| a.status);
        assert_eq!(code("/a"), Some(500));
        assert_eq!(code("/a"), Some(503), "the first fault is used up");
        assert_eq!(code("/b"), Some(503));
        assert_eq!((faults.hits(once), faults.hits(always)), (1, 2));
        assert_eq!(faults.remove(always), 2);
        assert!(faults.action("GET", "/b", none).is_none());
        assert_eq!(faults.hits(always), 0, "removed");
        faults.clear();
        assert_eq!(faults.hits(once), 0);
    }
}
