//! HTTP: routing of paths to discovery and resource handlers, JSON answers, and watch
//! streams that send their headers at once and flush every event.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use crate::api::{self, Answer, Render, Req, Selectors};
use crate::discovery;
use crate::error::{ApiError, ApiResult};
use crate::meta::meta_str;
use crate::openapi;
use crate::resources::ResourceType;
use crate::store::{EventType, State};
use crate::table;

/// State shared by all connections.
pub struct Shared {
    state: Mutex<State>,
    /// Latest committed resourceVersion, to wake watches.
    changed: watch::Sender<u64>,
    /// Set when the server stops, to end watches.
    pub closing: watch::Sender<bool>,
    /// host:port, for /api's serverAddressByClientCIDRs.
    pub addr: String,
}

impl Shared {
    /// Fresh state.
    pub fn new(addr: String) -> Arc<Shared> {
        let state = State::new();
        let rv = state.rv;
        Arc::new(Shared { state: Mutex::new(state), changed: watch::channel(rv).0, closing: watch::channel(false).0, addr })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in one request must not wedge the server: keep using the state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn json_response(code: u16, body: &Value, warnings: &[String]) -> Response<Body> {
    let mut r = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    r.headers_mut().insert("cache-control", HeaderValue::from_static("no-cache, private"));
    for w in warnings {
        let v = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(h) = HeaderValue::from_str(&v) {
            r.headers_mut().append("warning", h);
        }
    }
    r
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.body(), &[])
}

fn answer(r: ApiResult<Answer>) -> Response<Body> {
    match r {
        Ok(a) => json_response(a.code, &a.body, &a.warnings),
        Err(e) => error_response(&e),
    }
}

/// The one handler: routes every request.
pub async fn handle(shared: Arc<Shared>, req: Request<Body>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query: HashMap<String, String> =
        req.uri().query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let (parts, body) = req.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let accept = header("accept");
    let content_type = header("content-type").split(';').next().unwrap_or("").trim().to_string();
    drop(parts);
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b.to_vec(),
        Err(e) => return error_response(&ApiError::bad_request(format!("reading body: {e}"))),
    };
    tracing::debug!(%method, %path, "request");
    // Only JSON bodies: typed kubectl generators (`kubectl create namespace`, `kubectl run`)
    // send protobuf, which the stand-in does not decode.
    if content_type.contains("protobuf") || content_type.contains("cbor") {
        return error_response(&ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the stand-in accepts JSON bodies only, not {content_type}; use kubectl apply/create -f"),
        ));
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();

    // Non-resource paths.
    if method == Method::GET {
        let st = shared.lock();
        let doc = match segs.as_slice() {
            ["version"] => Some(discovery::version()),
            ["api"] => Some(discovery::core_versions(&shared.addr)),
            ["apis"] => Some(discovery::group_list(&st)),
            ["api", v] => discovery::resource_list(&st, "", v).or(Some(Value::Null)),
            ["apis", g] => discovery::group(&st, g).or(Some(Value::Null)),
            ["apis", g, v] => discovery::resource_list(&st, g, v).or(Some(Value::Null)),
            ["openapi", "v3"] => Some(openapi::root(&st)),
            ["openapi", "v3", "api", v] => openapi::group_version(&st, "", v).or(Some(Value::Null)),
            ["openapi", "v3", "apis", g, v] => openapi::group_version(&st, g, v).or(Some(Value::Null)),
            ["openapi", ..] => Some(Value::Null),
            ["healthz"] | ["readyz"] | ["livez"] => {
                let mut r = Response::new(Body::from("ok"));
                r.headers_mut().insert("content-type", HeaderValue::from_static("text/plain; charset=utf-8"));
                return r;
            }
            _ => None,
        };
        if let Some(doc) = doc {
            return if doc.is_null() { error_response(&ApiError::no_route()) } else { json_response(200, &doc, &[]) };
        }
    }

    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] if !rest.is_empty() => (String::new(), v.to_string(), rest.to_vec()),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (g.to_string(), v.to_string(), rest.to_vec()),
        _ => return error_response(&ApiError::no_route()),
    };
    let mut r = Req { group, version, query, accept, content_type, body, ..Default::default() };
    let rt = {
        let st = shared.lock();
        match route(&st, &mut r, &rest) {
            Ok(rt) => rt,
            Err(e) => return error_response(&e),
        }
    };
    let watching = matches!(r.q("watch"), Some("true") | Some("1"));
    match method {
        Method::GET if r.name.is_none() && watching => watch_stream(shared, rt, r),
        Method::GET if r.name.is_none() => answer(api::list(&shared.lock(), &rt, &r)),
        Method::GET => answer(api::get(&shared.lock(), &rt, &r)),
        Method::POST if r.name.is_none() => mutate(&shared, |st| api::create(st, &rt, &r)),
        Method::PUT if r.name.is_some() => mutate(&shared, |st| api::update(st, &rt, &r)),
        Method::PATCH if r.name.is_some() => mutate(&shared, |st| api::patch(st, &rt, &r)),
        Method::DELETE if r.name.is_some() => mutate(&shared, |st| api::delete(st, &rt, &r)),
        Method::DELETE => mutate(&shared, |st| api::delete_collection(st, &rt, &r)),
        _ => error_response(&ApiError::method_not_allowed()),
    }
}

/// Runs a write under the lock, then the controllers, then wakes watches.
fn mutate(shared: &Shared, f: impl FnOnce(&mut State) -> ApiResult<Answer>) -> Response<Body> {
    let (res, rv) = {
        let mut st = shared.lock();
        let res = f(&mut st);
        if res.is_ok() {
            api::after_write(&mut st);
        }
        (res, st.rv)
    };
    shared.changed.send_replace(rv);
    answer(res)
}

/// Resolves the resource part of a path into the request, returning the type.
fn route(st: &State, r: &mut Req, rest: &[&str]) -> ApiResult<ResourceType> {
    let lookup = |plural: &str| st.type_of(&r.group, plural).filter(|t| t.versions.contains(&r.version)).cloned();
    let (rt, tail) = match rest {
        ["namespaces", ns, plural, tail @ ..] if lookup(plural).is_some_and(|t| t.namespaced) => {
            r.namespace = Some(ns.to_string());
            (lookup(plural).expect("checked"), tail)
        }
        [plural, tail @ ..] => (lookup(plural).ok_or_else(ApiError::no_route)?, tail),
        [] => return Err(ApiError::no_route()),
    };
    r.plural = rt.plural.clone();
    match tail {
        [] => {}
        [name] => r.name = Some(name.to_string()),
        [name, "status"] if rt.status => {
            r.name = Some(name.to_string());
            r.sub = Some("status".into());
        }
        _ => return Err(ApiError::no_route()),
    }
    Ok(rt)
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

/// How one watch renders its events.
struct WatchView {
    rt: ResourceType,
    version: String,
    render: Render,
    namespace: Option<String>,
    selectors: Selectors,
}

impl WatchView {
    fn object(&self, obj: &Value) -> Value {
        let o = api::present(&self.rt, &self.version, obj);
        match self.render {
            Render::Full => o,
            Render::Metadata => table::partial_metadata(&o),
            Render::Table(inc) => {
                let rv = meta_str(&o, "resourceVersion").unwrap_or("").to_string();
                table::table(&self.rt, &self.version, &[o], &rv, None, inc)
            }
        }
    }

    fn event(&self, ty: &str, obj: &Value) -> Bytes {
        line(&json!({"type": ty, "object": self.object(obj)}))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let (kind, av) = match self.render {
            Render::Full => (self.rt.kind.clone(), self.rt.api_version(&self.version)),
            _ => ("PartialObjectMetadata".to_string(), "meta.k8s.io/v1".to_string()),
        };
        let mut md = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(&json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": av, "metadata": md}}))
    }

    fn in_scope(&self, obj: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|ns| meta_str(obj, "namespace") == Some(ns))
    }

    /// The watch event a log entry yields, with selector transitions.
    fn translate(&self, kind: EventType, obj: &Value, old: Option<&Value>) -> Option<Bytes> {
        if !self.in_scope(obj) {
            return None;
        }
        let now = self.selectors.matches(obj);
        match kind {
            EventType::Added => now.then(|| self.event("ADDED", obj)),
            EventType::Deleted => now.then(|| self.event("DELETED", obj)),
            EventType::Modified => {
                let before = old.is_some_and(|o| self.selectors.matches(o));
                match (before, now) {
                    (true, true) => Some(self.event("MODIFIED", obj)),
                    (true, false) => Some(self.event("DELETED", obj)),
                    (false, true) => Some(self.event("ADDED", obj)),
                    (false, false) => None,
                }
            }
        }
    }
}

fn expired_event(rv: &str, current: u64) -> Bytes {
    line(&json!({"type": "ERROR", "object": ApiError::expired(format!("too old resource version: {rv} ({current})")).body()}))
}

/// Interval of idle BOOKMARKs.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);
/// Default watch duration when the client gives no timeoutSeconds.
const DEFAULT_WATCH: Duration = Duration::from_secs(1800);

fn watch_stream(shared: Arc<Shared>, rt: ResourceType, r: Req) -> Response<Body> {
    let selectors = match Selectors::of(&rt, &r) {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    let bookmarks = matches!(r.q("allowWatchBookmarks"), Some("true") | Some("1"));
    let send_initial = matches!(r.q("sendInitialEvents"), Some("true") | Some("1"));
    let timeout = r.q("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs).unwrap_or(DEFAULT_WATCH);
    let view = WatchView {
        version: r.version.clone(),
        render: r.render(),
        namespace: if rt.namespaced { r.namespace.clone() } else { None },
        rt,
        selectors,
    };
    let store = view.rt.store_key();
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut first: Vec<Bytes> = Vec::new();
    let mut cursor;
    let mut done = false;
    {
        let st = shared.lock();
        cursor = st.rv;
        match r.q("resourceVersion") {
            Some(rv) if rv != "0" && !send_initial => match rv.parse::<u64>() {
                Ok(n) if n >= st.log_start => cursor = n,
                _ => {
                    first.push(expired_event(rv, st.rv));
                    done = true;
                }
            },
            _ => {
                for o in st.list(&store, view.namespace.as_deref()) {
                    if view.selectors.matches(o) {
                        first.push(view.event("ADDED", o));
                    }
                }
                if send_initial {
                    first.push(view.bookmark(cursor, true));
                }
            }
        }
    }
    let mut changed = shared.changed.subscribe();
    let mut closing = shared.closing.subscribe();
    tokio::spawn(async move {
        for b in first {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        if done {
            return;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (lines, expired) = {
                let st = shared.lock();
                // A CRD that is gone ends its watches (after its last events), as the real
                // server does.
                let gone = st.type_of(&view.rt.group, &view.rt.plural).is_none();
                if cursor < st.log_start {
                    (vec![expired_event(&cursor.to_string(), st.rv)], true)
                } else {
                    let mut out = Vec::new();
                    for e in st.log.iter().rev().take_while(|e| e.rv > cursor).collect::<Vec<_>>().into_iter().rev() {
                        if e.store == store {
                            if let Some(b) = view.translate(e.kind, &e.obj, e.old.as_ref()) {
                                out.push(b);
                            }
                        }
                    }
                    cursor = cursor.max(st.rv);
                    (out, gone)
                }
            };
            for b in lines {
                if tx.send(b).await.is_err() {
                    return;
                }
            }
            if expired || *closing.borrow() {
                return;
            }
            tokio::select! {
                res = changed.changed() => if res.is_err() { return },
                _ = tokio::time::sleep(BOOKMARK_EVERY) => {
                    if bookmarks && tx.send(view.bookmark(cursor, false)).await.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if bookmarks {
                        let _ = tx.send(view.bookmark(cursor, false)).await;
                    }
                    return;
                }
                _ = closing.changed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx)) });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    resp.headers_mut().insert("cache-control", HeaderValue::from_static("no-cache, private"));
    resp
}
