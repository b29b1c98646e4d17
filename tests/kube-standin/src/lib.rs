//! An in-memory stand-in for the parts of the Kubernetes API that kube-rs (watcher,
//! Controller, finalizer helper, event Recorder, leases) and kubectl 1.32 (apply, get,
//! describe, wait, delete) use. See `docs/kube-standin.md` for what it covers and leaves out.
//! Tests of a client under API failures make chosen requests fail or answer late through
//! [`StandIn::faults`] (see [`faults`]). Every request is recorded with its client's
//! user agent ([`StandIn::requests`], see [`requests`]).
//!
//! ```no_run
//! let standin = kube_standin::StandIn::start_blocking().unwrap();
//! println!("export KUBECONFIG={}", standin.kubeconfig_path().display());
//! ```

pub mod api;
pub mod apply;
pub mod builtin;
pub mod discovery;
pub mod error;
pub mod events;
pub mod faults;
pub mod jsonpath;
pub mod meta;
pub mod openapi;
pub mod patch;
pub mod requests;
pub mod resources;
pub mod selectors;
pub mod server;
pub mod store;
pub mod table;
pub mod validation;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A running stand-in: HTTP on 127.0.0.1 plus a kubeconfig file pointing at it. It runs on
/// its own thread and runtime, so blocking test code (kubectl via `std::process`) cannot
/// stall it. Stops on drop or [`StandIn::shutdown`].
pub struct StandIn {
    addr: SocketAddr,
    kubeconfig: PathBuf,
    _dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: Option<std::sync::mpsc::Receiver<()>>,
    faults: faults::Faults,
    requests: requests::RequestLog,
}

/// The kubeconfig text for a server URL.
pub fn kubeconfig_yaml(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: standin\n  cluster:\n    server: {url}\ncontexts:\n- name: standin\n  context:\n    cluster: standin\n    user: standin\n    namespace: default\ncurrent-context: standin\nusers:\n- name: standin\n  user: {{}}\npreferences: {{}}\n"
    )
}

impl StandIn {
    /// Starts on a free port with a kubeconfig in a fresh temporary directory.
    pub async fn start() -> std::io::Result<StandIn> {
        tokio::task::spawn_blocking(StandIn::start_blocking).await.map_err(std::io::Error::other)?
    }

    /// Same as [`StandIn::start`], from synchronous code.
    pub fn start_blocking() -> std::io::Result<StandIn> {
        let dir = tempfile::Builder::new().prefix("kube-standin-").tempdir()?;
        let path = dir.path().join("kubeconfig");
        let mut s = StandIn::start_with(0, &path)?;
        s._dir = Some(dir);
        Ok(s)
    }

    /// Starts on `port` (0: any free one) and writes the kubeconfig to `kubeconfig`.
    pub fn start_with(port: u16, kubeconfig: &Path) -> std::io::Result<StandIn> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        std::fs::write(kubeconfig, kubeconfig_yaml(&format!("http://{addr}")))?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (stopped_tx, stopped_rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let faults = faults::Faults::default();
        let server_faults = faults.clone();
        let requests = requests::RequestLog::default();
        let server_requests = requests.clone();
        std::thread::Builder::new().name(format!("kube-standin-{}", addr.port())).spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                serve_logged(listener, addr, server_faults, server_requests, async move {
                    let _ = stop_rx.await;
                })
                .await;
            });
            // Watches hold no resources beyond the runtime; do not wait for slow clients.
            rt.shutdown_timeout(Duration::from_secs(1));
            let _ = stopped_tx.send(());
        })?;
        ready_rx.recv_timeout(Duration::from_secs(10)).map_err(std::io::Error::other)??;
        Ok(StandIn {
            addr,
            kubeconfig: kubeconfig.to_path_buf(),
            _dir: None,
            stop: Some(stop_tx),
            stopped: Some(stopped_rx),
            faults,
            requests,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The kubeconfig file for this server.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The faults injected into this server's answers (see [`faults`]); none at start.
    pub fn faults(&self) -> &faults::Faults {
        &self.faults
    }

    /// Every request served so far, with its client's user agent (see [`requests`]).
    pub fn requests(&self) -> &requests::RequestLog {
        &self.requests
    }

    /// Stops the server and waits (briefly) until it has stopped.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(rx) = self.stopped.take() {
            let _ = rx.recv_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Serves the stand-in on `listener` until `stop` completes.
/// With `KUBE_STANDIN_LOG` set, every request is logged to stderr (method, path, status).
pub async fn serve(listener: tokio::net::TcpListener, addr: SocketAddr, stop: impl std::future::Future<Output = ()> + Send + 'static) {
    serve_with_faults(listener, addr, faults::Faults::default(), stop).await
}

/// [`serve`], disturbing requests as `faults` say (see [`faults`]).
pub async fn serve_with_faults(
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    faults: faults::Faults,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    serve_logged(listener, addr, faults, requests::RequestLog::default(), stop).await
}

/// [`serve_with_faults`], recording every request in `requests`.
pub async fn serve_logged(
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    faults: faults::Faults,
    requests: requests::RequestLog,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let shared = server::Shared::new(addr.to_string());
    let closing = shared.closing.clone();
    let log = std::env::var_os("KUBE_STANDIN_LOG").is_some();
    let app = axum::Router::new().fallback({
        let shared = Arc::clone(&shared);
        move |req: axum::extract::Request| {
            let shared = Arc::clone(&shared);
            let faults = faults.clone();
            let requests = requests.clone();
            let closing = shared.closing.subscribe();
            let line = log.then(|| format!("{} {}", req.method(), req.uri()));
            let received = std::time::Instant::now();
            let (method, uri) = (req.method().to_string(), req.uri().to_string());
            let user_agent = req.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            let fut: std::pin::Pin<Box<dyn std::future::Future<Output = axum::response::Response> + Send>> = Box::pin(async move {
                let resp = match faults.intercept(&req, closing).await {
                    Some(refused) => refused,
                    None => server::handle(shared, req).await,
                };
                if let Some(line) = line {
                    eprintln!("kube-standin: {line} -> {}", resp.status().as_u16());
                }
                let status = resp.status().as_u16();
                requests.record(requests::Request { received, answered: std::time::Instant::now(), method, uri, user_agent, status });
                resp
            });
            fut
        }
    });
    let shutdown = async move {
        stop.await;
        // End open watches so the graceful shutdown does not wait for their timeouts.
        closing.send_replace(true);
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::error!(error = %e, "kube-standin server failed");
    }
}
