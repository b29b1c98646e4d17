//! The world an end-to-end test runs in: moto for ELB/EC2, a Kubernetes API (the in-memory
//! stand-in, or a real cluster named by `E2E_KUBECONFIG`), and the operator binary as a
//! separate process, the way users run it. Tests drive it with kubectl and kube-rs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use elb_operator::aws;
use elb_operator::elb::{self, ElbApi};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use test_support::moto::Moto;

pub const REGION: &str = "us-east-1";

/// How long any single wait in these tests may take before it fails.
pub const WAIT: Duration = Duration::from_secs(90);

pub struct World {
    pub dir: tempfile::TempDir,
    pub namespace: String,
    /// Unique per world, so nodes (cluster-scoped) and ownership tags never collide.
    pub id: String,
    pub kubeconfig: PathBuf,
    pub elb_endpoint: String,
    moto: Option<Moto>,
    _standin: Option<kube_standin::StandIn>,
    operator: Option<Child>,
    operator_runs: u32,
    created_nodes: Vec<String>,
    pub kube: kube::Client,
}

fn random_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..6).map(|_| (b'a' + rng.random_range(0..26)) as char).collect()
}

impl World {
    /// Starts moto and the Kubernetes API (unless `E2E_KUBECONFIG` names a real cluster),
    /// applies the CRDs from `crds/` and creates a namespace of the test's own.
    pub async fn start() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let (standin, kubeconfig) = match std::env::var_os("E2E_KUBECONFIG") {
            Some(path) => (None, PathBuf::from(path)),
            None => {
                let s = kube_standin::StandIn::start().await.expect("start the API stand-in");
                let path = s.kubeconfig_path().to_path_buf();
                (Some(s), path)
            }
        };
        // An ELB endpoint from the environment (with its credentials) replaces moto.
        let (moto, elb_endpoint) = match std::env::var("E2E_ELB_ENDPOINT") {
            Ok(endpoint) => (None, endpoint),
            Err(_) => {
                let m = tokio::task::spawn_blocking(Moto::start).await.unwrap();
                let e = m.endpoint.clone();
                (Some(m), e)
            }
        };
        let kube = kube_client(&kubeconfig).await;
        let id = random_id();
        let namespace = format!("e2e-{id}");
        let mut world = World {
            dir,
            namespace: namespace.clone(),
            id,
            kubeconfig,
            elb_endpoint,
            moto,
            _standin: standin,
            operator: None,
            operator_runs: 0,
            created_nodes: Vec::new(),
            kube,
        };
        world.kubectl_ok(&["apply", "-f", &repo_path("crds").to_string_lossy()]);
        world.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            "crd/loadbalancers.elb.operator.dev",
            "crd/healthchecks.elb.operator.dev",
            "crd/loadbalancerclasses.elb.operator.dev",
            "--timeout=30s",
        ]);
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}})).unwrap();
        Api::<Namespace>::all(world.kube.clone()).create(&PostParams::default(), &ns).await.expect("create namespace");
        world.created_nodes.clear();
        world
    }

    pub fn moto(&self) -> &Moto {
        self.moto.as_ref().expect("this step needs moto's EC2 (E2E_ELB_ENDPOINT is set)")
    }

    /// An ELB client for checking what the operator did.
    pub fn elb(&self) -> elb::Client {
        let (key, secret) = credentials();
        elb::Client::new(aws::ClientConfig::for_endpoint(REGION, &self.elb_endpoint, &key, &secret)).expect("ELB client")
    }

    /// Starts (or restarts) the operator process, watching only this world's namespace.
    pub fn start_operator(&mut self) {
        assert!(self.operator.is_none(), "operator already running");
        self.operator_runs += 1;
        let log = std::fs::File::create(self.dir.path().join(format!("operator-{}.log", self.operator_runs))).unwrap();
        let (key, secret) = credentials();
        let child = Command::new(env!("CARGO_BIN_EXE_elb-operator"))
            .args(["run", "--region", REGION, "--cluster-name", &format!("e2e-{}", self.id)])
            .args(["--watch-namespace", &self.namespace])
            .args(["--health-poll-interval", "1s", "--resync-interval", "3s"])
            .args(["--leader-election", "false", "--log-format", "text", "--log-level", "info,elb_operator=debug"])
            .args(["--http-bind", &format!("127.0.0.1:{}", test_support::free_port())])
            .env("KUBECONFIG", &self.kubeconfig)
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            // ELB's endpoint only: EC2 (the reachability check) and Auto Scaling are moto's,
            // or the region's when E2E_ELB_ENDPOINT names a real ELB endpoint.
            .env("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING", &self.elb_endpoint)
            .args(self.moto.as_ref().map(|m| format!("--ec2-endpoint={}", m.endpoint)))
            .envs(self.moto.as_ref().map(|m| ("AWS_ENDPOINT_URL_AUTO_SCALING", m.endpoint.clone())))
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the operator");
        self.operator = Some(child);
    }

    /// Kills the operator with SIGKILL, as a crash would.
    pub fn kill_operator(&mut self) {
        if let Some(mut child) = self.operator.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs kubectl against this world's API, in its namespace.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("kube-cache"))
            .args(["--namespace", &self.namespace])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl and returns its stdout; panics with its stderr on failure.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            self.operator_log_tail()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `kubectl apply` of a manifest given as YAML text.
    pub fn apply_yaml(&self, yaml: &str) -> Output {
        let path = self.dir.path().join(format!("manifest-{}.yaml", random_id()));
        std::fs::write(&path, yaml).unwrap();
        self.kubectl(&["apply", "-f", &path.to_string_lossy()])
    }

    /// A LoadBalancer as JSON, read with kubectl.
    pub fn get_json(&self, kind_name: &str) -> Value {
        serde_json::from_str(&self.kubectl_ok(&["get", kind_name, "-o", "json"])).unwrap()
    }

    /// A Ready node backed by a new EC2 instance in `zone`, with a Ready pod labelled
    /// `app=<app>` on it. Returns (node name, pod name, instance id).
    pub async fn node_with_pod(&mut self, zone: &str, app: &str) -> (String, String, String) {
        let instance = self.moto().run_instances(1, zone).remove(0);
        let node_name = format!("{}-{}", self.id, instance);
        self.create_node(&node_name, zone, Some(&format!("aws:///{zone}/{instance}"))).await;
        let pod_name = format!("{app}-{}", random_id());
        self.create_ready_pod(&pod_name, &node_name, app).await;
        (node_name, pod_name, instance)
    }

    pub async fn create_node(&mut self, name: &str, zone: &str, provider_id: Option<&str>) {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone, "e2e": self.id}},
            "spec": {"providerID": provider_id},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}
        }))
        .unwrap();
        Api::<Node>::all(self.kube.clone()).create(&PostParams::default(), &node).await.expect("create node");
        self.created_nodes.push(name.to_string());
    }

    /// Creates a pod on `node` and marks it Ready through the status subresource (the API
    /// server ignores a pod's status on create, and no kubelet runs here).
    pub async fn create_ready_pod(&self, name: &str, node: &str, app: &str) {
        let pods = Api::<Pod>::namespaced(self.kube.clone(), &self.namespace);
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

    pub async fn delete_pod(&self, name: &str) {
        let pods = Api::<Pod>::namespaced(self.kube.clone(), &self.namespace);
        pods.delete(name, &DeleteParams::default()).await.expect("delete pod");
    }

    /// The ELB as moto describes it, or None when it does not exist.
    pub async fn describe(&self, name: &str) -> Option<elb::LoadBalancerDescription> {
        match self.elb().describe_load_balancers(&[name.to_string()]).await {
            Ok(mut v) => v.pop(),
            Err(e) if e.is_not_found() => None,
            Err(e) => panic!("describe {name}: {e}"),
        }
    }

    /// The last lines of the operator's log, for failure messages.
    pub fn operator_log_tail(&self) -> String {
        let path = self.dir.path().join(format!("operator-{}.log", self.operator_runs));
        match std::fs::read_to_string(path) {
            Ok(s) => {
                let lines: Vec<&str> = s.lines().collect();
                let tail = lines[lines.len().saturating_sub(40)..].join("\n");
                format!("\n--- operator log (last lines) ---\n{tail}")
            }
            Err(_) => String::new(),
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.operator_log_tail());
        }
        self.kill_operator();
        // On a real cluster, leave nothing behind (the stand-in simply goes away).
        if self._standin.is_none() {
            let _ = self.kubectl(&["delete", "namespace", &self.namespace, "--wait=false"]);
            for n in &self.created_nodes {
                let _ = self.kubectl(&["delete", "node", n, "--wait=false"]);
            }
        }
    }
}

async fn kube_client(path: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(path).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await.expect("kubeconfig");
    kube::Client::try_from(config).expect("kube client")
}

/// Credentials for the ELB endpoint: from the environment when one is given, else moto's.
fn credentials() -> (String, String) {
    match (std::env::var("E2E_ELB_ENDPOINT"), std::env::var("AWS_ACCESS_KEY_ID"), std::env::var("AWS_SECRET_ACCESS_KEY")) {
        (Ok(_), Ok(k), Ok(s)) => (k, s),
        _ => ("testing".into(), "testing".into()),
    }
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Polls `f` until it returns Some, at most `WAIT`; panics naming `what` otherwise.
pub async fn eventually<T, F, Fut>(what: &str, world: &World, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    match test_support::poll(WAIT, f).await {
        Some(v) => v,
        None => panic!("timed out after {WAIT:?} waiting for {what}{}", world.operator_log_tail()),
    }
}
