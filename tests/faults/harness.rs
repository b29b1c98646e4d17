//! What the fault tests run on: moto, the Kubernetes API stand-in, the fault proxy in
//! front of moto, and `elb-operator run` processes (started, SIGKILLed, frozen) whose logs
//! are kept per start.

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use test_support::fault_proxy::{FaultProxy, ProxyConfig};
use test_support::moto::Moto;

pub const BIN: &str = env!("CARGO_BIN_EXE_elb-operator");
pub const REGION: &str = "us-east-1";

/// moto, the stand-in, the proxy in front of moto, and a kube client.
pub struct Services {
    pub dir: tempfile::TempDir,
    pub moto: Moto,
    pub standin: kube_standin::StandIn,
    pub proxy: FaultProxy,
    pub kube: kube::Client,
}

impl Services {
    /// Starts everything on loopback and installs the CRDs.
    pub async fn start(proxy: ProxyConfig) -> Services {
        let dir = tempfile::Builder::new().prefix("elb-faults-").tempdir().expect("tempdir");
        let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
        let standin = kube_standin::StandIn::start().await.expect("start the API stand-in");
        let proxy = FaultProxy::start(&moto.endpoint, proxy).expect("start the fault proxy");
        let kube = kube::Client::try_from(kube::Config::new(standin.url().parse().unwrap())).unwrap();
        let crds: Api<CustomResourceDefinition> = Api::all(kube.clone());
        for crd in elb_operator::crd::crds() {
            crds.create(&PostParams::default(), &crd).await.expect("create CRD");
        }
        Services { dir, moto, standin, proxy, kube }
    }

    /// An ELB client straight to moto (not through the proxy), for checks.
    pub fn elb(&self) -> elb_operator::elb::Client {
        use elb_operator::aws::{ClientConfig, RateLimitConfig};
        use elb_operator::elb::Client;
        Client::new(
            ClientConfig::for_endpoint(REGION, &self.moto.endpoint, "AKIDCHECKER", "checker").with_rate_limit(RateLimitConfig::unlimited()),
        )
        .expect("ELB client")
    }

    pub async fn namespace(&self, name: &str) {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        Api::<Namespace>::all(self.kube.clone()).create(&PostParams::default(), &ns).await.expect("create namespace");
    }

    /// A Ready node backed by EC2 instance `instance` in `zone`.
    pub async fn node(&self, name: &str, zone: &str, instance: &str, labels: &Value) {
        let mut all = json!({"topology.kubernetes.io/zone": zone});
        for (k, v) in labels.as_object().into_iter().flatten() {
            all[k] = v.clone();
        }
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": all},
            "spec": {"providerID": format!("aws:///{zone}/{instance}")},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}
        }))
        .unwrap();
        Api::<Node>::all(self.kube.clone()).create(&PostParams::default(), &node).await.expect("create node");
    }

    /// A Ready pod on `node` (status written through the subresource, as a kubelet would).
    pub async fn ready_pod(&self, ns: &str, name: &str, node: &str, app: &str) {
        let pods = Api::<Pod>::namespaced(self.kube.clone(), ns);
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"nodeName": node, "containers": [{"name": "web", "image": "nginx"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.expect("create pod");
        let status = json!({"status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
            "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0, "image": "nginx",
                                   "imageID": "", "started": true, "state": {"running": {}}}]
        }});
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.expect("pod status");
    }

    pub async fn delete_pod(&self, ns: &str, name: &str) {
        Api::<Pod>::namespaced(self.kube.clone(), ns).delete(name, &DeleteParams::default()).await.expect("delete pod");
    }

    /// The API of a custom kind (`LoadBalancer`, `HealthCheck`) in `ns`, untyped.
    pub fn custom(&self, ns: &str, kind: &str) -> Api<DynamicObject> {
        let gvk = kube::api::GroupVersionKind::gvk(elb_operator::crd::GROUP, elb_operator::crd::VERSION, kind);
        Api::namespaced_with(self.kube.clone(), ns, &kube::api::ApiResource::from_gvk(&gvk))
    }

    /// Creates a custom object from its JSON (`metadata` and `spec`).
    pub async fn create_custom(&self, ns: &str, kind: &str, obj: Value) -> Result<(), kube::Error> {
        let mut obj = obj;
        obj["apiVersion"] = json!(format!("{}/{}", elb_operator::crd::GROUP, elb_operator::crd::VERSION));
        obj["kind"] = json!(kind);
        let obj: DynamicObject = serde_json::from_value(obj).unwrap();
        self.custom(ns, kind).create(&PostParams::default(), &obj).await.map(drop)
    }
}

/// One operator "deployment": the same command line started again after each kill, with
/// one log file per start.
pub struct Operator {
    pub label: String,
    dir: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub starts: u32,
    pub kills: u32,
}

impl Operator {
    /// `args` follow `elb-operator run`; `env` is the whole environment besides `PATH`
    /// and `HOME`.
    pub fn new(label: &str, dir: &Path, args: Vec<String>, env: Vec<(String, String)>) -> Operator {
        Operator { label: label.to_string(), dir: dir.to_path_buf(), args, env, child: None, starts: 0, kills: 0 }
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.label);
        self.starts += 1;
        let log = std::fs::File::create(self.log_path(self.starts)).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .args(&self.args)
            // A port of its own per start: loopback only, and a restart never waits for the old one.
            .arg(format!("--http-bind=127.0.0.1:{}", test_support::free_port()))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("start the operator"));
    }

    /// SIGKILL, as a crash or an OOM kill would; waits for the process to end.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.kills += 1;
        }
    }

    pub fn running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends a signal by name (`STOP`, `CONT`, `TERM`) with kill(1).
    pub fn signal(&self, sig: &str) {
        let pid = self.pid().expect("running").to_string();
        let ok = Command::new("kill").args([&format!("-{sig}"), &pid]).status().expect("run kill").success();
        assert!(ok, "kill -{sig} {pid}");
    }

    fn log_path(&self, start: u32) -> PathBuf {
        self.dir.join(format!("{}-{start:03}.log", self.label))
    }

    /// Every log of every start: (path, text).
    pub fn logs(&self) -> Vec<(PathBuf, String)> {
        (1..=self.starts).map(|i| self.log_path(i)).map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap_or_default())).collect()
    }

    /// The last lines of the current (or last) start's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path(self.starts)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        format!("--- {} (start {}) last lines ---\n{}", self.label, self.starts, all[all.len().saturating_sub(lines)..].join("\n"))
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A frozen process must be thawed to die promptly on some kernels; harmless otherwise.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Lines of `text` that show a panic.
pub fn panics(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.contains("panicked at") || l.contains("RUST_BACKTRACE")).map(str::to_string).collect()
}
