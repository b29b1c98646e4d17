//! The request log: every request the stand-in served, with the client's `User-Agent`, in
//! the spirit of the real API server's audit log (which records `userAgent`, verb, request
//! URI, response code and the stage timestamps). Tests read it to tell which client wrote
//! what, and when: for example that two replicas never wrote the same object at the same
//! time.

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One request: when it arrived and when its answer (for a watch: the response head) left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub received: Instant,
    pub answered: Instant,
    pub method: String,
    /// The path and query, as sent.
    pub uri: String,
    /// The `User-Agent` header; empty when absent.
    pub user_agent: String,
    pub status: u16,
}

impl Request {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }

    /// Whether the request can change state (what an audit policy calls a write).
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }
}

/// The log, shared by the server and the test; the oldest entries are dropped beyond
/// [`RequestLog::CAPACITY`], so a long-running stand-in does not grow without bound.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<std::collections::VecDeque<Request>>>);

impl RequestLog {
    pub const CAPACITY: usize = 200_000;

    pub(crate) fn record(&self, request: Request) {
        let mut log = self.0.lock().expect("request log lock");
        if log.len() >= Self::CAPACITY {
            log.pop_front();
        }
        log.push_back(request);
    }

    /// Every request recorded so far, in the order their answers left.
    pub fn entries(&self) -> Vec<Request> {
        self.0.lock().expect("request log lock").iter().cloned().collect()
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.0.lock().expect("request log lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_paths() {
        let now = Instant::now();
        let r = |method: &str, uri: &str| Request {
            received: now,
            answered: now,
            method: method.into(),
            uri: uri.into(),
            user_agent: "a".into(),
            status: 200,
        };
        assert!(r("PATCH", "/x").is_write() && r("DELETE", "/x").is_write() && !r("GET", "/x").is_write());
        assert_eq!(r("GET", "/apis/g/v1/things?watch=true").path(), "/apis/g/v1/things");
        let log = RequestLog::default();
        log.record(r("GET", "/a"));
        log.record(r("PUT", "/b"));
        assert_eq!(log.entries().iter().map(|e| e.uri.as_str()).collect::<Vec<_>>(), ["/a", "/b"]);
        log.clear();
        assert!(log.entries().is_empty());
    }
}
