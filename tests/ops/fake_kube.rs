//! A minimal in-memory Kubernetes API on 127.0.0.1 for the leader-election and CLI tests:
//! discovery of the `elb.operator.dev/v1alpha1` group (served or not) and
//! coordination.k8s.io/v1 Leases with get/create/replace and resourceVersion conflicts,
//! as the real API server answers them.
//!
//! The whole-system two-process test runs against the API stand-in (`standin.rs`); this
//! fake stays for what the stand-in cannot do: cut one client off while the other keeps
//! working, and record every Lease write in order.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

/// One successful write to a Lease: who held it afterwards.
#[derive(Debug, Clone)]
pub struct LeaseWrite {
    pub holder: Option<String>,
    pub at: std::time::Instant,
}

#[derive(Default)]
struct Store {
    leases: BTreeMap<(String, String), Value>,
    writes: Vec<LeaseWrite>,
}

/// The shared state behind every endpoint of one fake API.
#[derive(Clone, Default)]
pub struct FakeKube {
    store: Arc<Mutex<Store>>,
    resource_version: Arc<AtomicU64>,
    crds_installed: Arc<AtomicBool>,
}

/// One listening address of a [`FakeKube`]; it can be taken down (answers 503) on its own,
/// to cut one client off while the others keep working.
pub struct Endpoint {
    pub addr: SocketAddr,
    down: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Endpoint {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// A kube client for this endpoint, default namespace `default`.
    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url().parse().expect("endpoint URL"));
        kube::Client::try_from(config).expect("kube client")
    }

    /// A kubeconfig file pointing at this endpoint (for the operator binary).
    pub fn write_kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: \"{}\"}}\n\
             users:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: fake, namespace: default}}\n\
             current-context: fake\n",
            self.url()
        );
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }
}

#[derive(Clone)]
struct AppState {
    kube: FakeKube,
    down: Arc<AtomicBool>,
}

/// A JSON response (axum's `json` feature is not enabled in this crate).
fn json_response(code: StatusCode, value: Value) -> Response {
    (code, [(axum::http::header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    json_response(StatusCode::from_u16(code).unwrap(), body)
}

impl FakeKube {
    pub fn new(crds_installed: bool) -> Self {
        let kube = FakeKube::default();
        kube.crds_installed.store(crds_installed, Ordering::SeqCst);
        kube
    }

    /// Starts one more listener on 127.0.0.1 serving this API.
    pub async fn endpoint(&self) -> Endpoint {
        let down = Arc::new(AtomicBool::new(false));
        let state = AppState { kube: self.clone(), down: down.clone() };
        let app = Router::new()
            .route("/apis/elb.operator.dev/v1alpha1", get(discovery))
            .route("/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", axum::routing::post(create_lease))
            .route("/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}", get(get_lease).put(replace_lease))
            .fallback(|| async { status(404, "NotFound", "not served by the fake API") })
            .layer(axum::middleware::from_fn_with_state(state.clone(), outage))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Endpoint { addr, down, task }
    }

    /// The current Lease object, if any.
    pub fn lease(&self, namespace: &str, name: &str) -> Option<Value> {
        self.store.lock().unwrap().leases.get(&(namespace.to_string(), name.to_string())).cloned()
    }

    /// The holder of a Lease, `None` when missing or released.
    pub fn holder(&self, namespace: &str, name: &str) -> Option<String> {
        self.lease(namespace, name)
            .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
            .filter(|h| !h.is_empty())
    }

    /// Every successful Lease write so far, in order.
    pub fn writes(&self) -> Vec<LeaseWrite> {
        self.store.lock().unwrap().writes.clone()
    }

    fn next_rv(&self) -> String {
        (self.resource_version.fetch_add(1, Ordering::SeqCst) + 1).to_string()
    }
}

async fn outage(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if state.down.load(Ordering::SeqCst) {
        return status(503, "ServiceUnavailable", "fake API endpoint is down");
    }
    next.run(req).await
}

async fn discovery(State(state): State<AppState>) -> Response {
    if !state.kube.crds_installed.load(Ordering::SeqCst) {
        return status(404, "NotFound", "the server could not find the requested resource");
    }
    let resource = |name: &str, kind: &str| {
        json!({"name": name, "singularName": kind.to_lowercase(), "namespaced": true, "kind": kind,
               "verbs": ["delete","get","list","patch","create","update","watch"]})
    };
    json_response(
        StatusCode::OK,
        json!({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "elb.operator.dev/v1alpha1",
            "resources": [resource("loadbalancers", "LoadBalancer"), resource("healthchecks", "HealthCheck")]
        }),
    )
}

async fn get_lease(State(state): State<AppState>, Path((ns, name)): Path<(String, String)>) -> Response {
    match state.kube.lease(&ns, &name) {
        Some(lease) => json_response(StatusCode::OK, lease),
        None => status(404, "NotFound", &format!("leases.coordination.k8s.io \"{name}\" not found")),
    }
}

fn holder_of(lease: &Value) -> Option<String> {
    lease["spec"]["holderIdentity"].as_str().map(str::to_string).filter(|h| !h.is_empty())
}

async fn create_lease(State(state): State<AppState>, Path(ns): Path<String>, body: Bytes) -> Response {
    let Ok(mut lease) = serde_json::from_slice::<Value>(&body) else {
        return status(400, "BadRequest", "body is not JSON");
    };
    let Some(name) = lease["metadata"]["name"].as_str().map(str::to_string) else {
        return status(422, "Invalid", "metadata.name: Required value");
    };
    if lease["metadata"].get("resourceVersion").is_some() {
        return status(500, "InternalError", "resourceVersion should not be set on objects to be created");
    }
    let mut store = state.kube.store.lock().unwrap();
    let key = (ns.clone(), name.clone());
    if store.leases.contains_key(&key) {
        return status(409, "AlreadyExists", &format!("leases.coordination.k8s.io \"{name}\" already exists"));
    }
    lease["apiVersion"] = json!("coordination.k8s.io/v1");
    lease["kind"] = json!("Lease");
    lease["metadata"]["namespace"] = json!(ns);
    lease["metadata"]["resourceVersion"] = json!(state.kube.next_rv());
    lease["metadata"]["uid"] = json!(format!("uid-{name}"));
    store.writes.push(LeaseWrite { holder: holder_of(&lease), at: std::time::Instant::now() });
    store.leases.insert(key, lease.clone());
    json_response(StatusCode::CREATED, lease)
}

async fn replace_lease(State(state): State<AppState>, Path((ns, name)): Path<(String, String)>, body: Bytes) -> Response {
    let Ok(mut lease) = serde_json::from_slice::<Value>(&body) else {
        return status(400, "BadRequest", "body is not JSON");
    };
    let mut store = state.kube.store.lock().unwrap();
    let key = (ns.clone(), name.clone());
    let Some(current) = store.leases.get(&key) else {
        return status(404, "NotFound", &format!("leases.coordination.k8s.io \"{name}\" not found"));
    };
    let sent_rv = lease["metadata"]["resourceVersion"].as_str().unwrap_or("");
    if sent_rv != current["metadata"]["resourceVersion"].as_str().unwrap_or("-") {
        return status(409, "Conflict", "Operation cannot be fulfilled on leases.coordination.k8s.io: the object has been modified; please apply your changes to the latest version and try again");
    }
    lease["apiVersion"] = json!("coordination.k8s.io/v1");
    lease["kind"] = json!("Lease");
    lease["metadata"]["namespace"] = json!(ns);
    lease["metadata"]["uid"] = current["metadata"]["uid"].clone();
    lease["metadata"]["resourceVersion"] = json!(state.kube.next_rv());
    store.writes.push(LeaseWrite { holder: holder_of(&lease), at: std::time::Instant::now() });
    store.leases.insert(key, lease.clone());
    json_response(StatusCode::OK, lease)
}
