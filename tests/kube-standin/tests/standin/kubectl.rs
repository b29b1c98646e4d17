//! The kubectl flows the project relies on, with the real kubectl binary: apply of a CRD and
//! custom objects, get with printer columns / -o wide / -A / -o json / jsonpath, describe
//! with events, wait for a condition, delete blocking on a finalizer.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kube_standin::StandIn;
use serde_json::Value;

use crate::common::fixture;

struct Kubectl {
    standin: StandIn,
    cache: tempfile::TempDir,
}

impl Kubectl {
    fn start() -> Kubectl {
        Kubectl { standin: StandIn::start_blocking().expect("stand-in"), cache: tempfile::tempdir().unwrap() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        // Discovery is cached per host:port for hours: each test gets its own cache.
        c.arg("--kubeconfig").arg(self.standin.kubeconfig_path()).arg("--cache-dir").arg(self.cache.path()).arg("--request-timeout=20s");
        c.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).spawn().expect("kubectl must be installed (v1.32) for these tests")
    }

    /// Runs kubectl to completion (bounded); returns the output.
    fn run_input(&self, args: &[&str], input: &str) -> Output {
        let mut child = self.spawn(args);
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        finish(child, Duration::from_secs(60))
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_input(args, "")
    }

    /// Runs kubectl and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

fn finish(mut child: Child, bound: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > bound {
            child.kill().ok();
            panic!("kubectl did not finish within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Splits `kubectl get` output into rows of whitespace-separated cells.
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines().map(|l| l.split_whitespace().map(String::from).collect()).collect()
}

#[test]
fn apply_and_get_with_printer_columns() {
    let k = Kubectl::start();
    let out = k.ok(&["apply", "-f", path(&fixture("crd.yaml"))]);
    assert!(out.contains("customresourcedefinition.apiextensions.k8s.io/gadgets.test.standin.dev created"), "{out}");
    k.ok(&["apply", "-f", path(&fixture("namespace.yaml"))]);
    let out = k.ok(&["apply", "-f", path(&fixture("gadgets.yaml"))]);
    assert!(out.contains("gadget.test.standin.dev/g1 created") && out.contains("gadget.test.standin.dev/g2 created"), "{out}");

    let all = rows(&k.ok(&["get", "gadgets", "-A"]));
    assert_eq!(all[0], vec!["NAMESPACE", "NAME", "SIZE", "READY", "AGE"]);
    assert_eq!(all[1][..3], ["default", "g1", "3"]);
    assert_eq!(all[2][..3], ["other", "g2", "5"]);

    k.ok(&[
        "patch",
        "gadget",
        "g1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Ready","status":"True","message":"fine"}]}}"#,
    ]);
    let plain = rows(&k.ok(&["get", "gdg"]));
    assert_eq!(plain[0], vec!["NAME", "SIZE", "READY", "AGE"], "priority-1 columns only with -o wide");
    assert_eq!(plain[1][..3], ["g1", "3", "True"]);
    let wide = rows(&k.ok(&["get", "gadget", "-o", "wide"]));
    assert_eq!(wide[0], vec!["NAME", "SIZE", "READY", "MESSAGE", "AGE"]);
    assert_eq!(wide[1][..4], ["g1", "3", "True", "fine"]);
    let labels = k.ok(&["get", "gadget", "g1", "--show-labels"]);
    assert!(labels.contains("tier=a"), "{labels}");

    let json: Value = serde_json::from_str(&k.ok(&["get", "gadget", "g1", "-o", "json"])).unwrap();
    assert_eq!(json["spec"]["size"], 3);
    assert_eq!(k.ok(&["get", "gadget", "g1", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"]), "True");
    let yaml = k.ok(&["get", "gadget", "g1", "-o", "yaml"]);
    assert!(yaml.contains("kubectl.kubernetes.io/last-applied-configuration"), "{yaml}");

    let again = k.ok(&["apply", "-f", path(&fixture("gadgets.yaml"))]);
    assert!(again.contains("g1 unchanged"), "{again}");
    let changed = k.ok(&["apply", "-f", path(&fixture("gadgets-v2.yaml"))]);
    assert!(changed.contains("g1 configured"), "{changed}");
    assert_eq!(k.ok(&["get", "gadget", "g1", "-o", "jsonpath={.metadata.generation}/{.spec.size}"]), "2/4");
    // Built-in kinds decode strictly under kubectl's default validation, like the real server.
    let typo = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"b"},"dta":{}}"#;
    let refused = k.run_input(&["apply", "-f", "-"], typo);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(r#"strict decoding error: unknown field "dta""#),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let warned = k.run_input(&["apply", "--validate=warn", "-f", "-"], typo);
    assert!(warned.status.success());
    assert!(String::from_utf8_lossy(&warned.stderr).contains(r#"unknown field "dta""#));
    let ns = rows(&k.ok(&["get", "namespaces"]));
    assert!(ns.iter().any(|r| r[..2] == ["other", "Active"]));
}

#[test]
fn describe_wait_and_delete_blocking_on_a_finalizer() {
    let k = Kubectl::start();
    k.ok(&["apply", "-f", path(&fixture("crd.yaml"))]);
    k.ok(&["apply", "-f", path(&fixture("gadgets-v2.yaml"))]);

    // wait: not Ready yet → times out; Ready → returns.
    let early = k.run(&["wait", "--for=condition=Ready", "gadget/g1", "--timeout=1s"]);
    assert!(!early.status.success());
    let waiter = k.spawn(&["wait", "--for=condition=Ready", "gadget/g1", "--timeout=30s"]);
    k.ok(&[
        "patch",
        "gadget",
        "g1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":"True","message":"fine"}]}}"#,
    ]);
    let out = finish(waiter, Duration::from_secs(40));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("condition met"));

    // describe shows events about the object (events.k8s.io write, core/v1 read).
    let uid = k.ok(&["get", "gadget", "g1", "-o", "jsonpath={.metadata.uid}"]);
    let event = format!(
        r#"{{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{{"name":"g1.1","namespace":"default"}},
        "eventTime":"2026-01-01T00:00:00.000000Z","action":"Reconcile","reason":"Provisioned","note":"made the thing",
        "type":"Normal","reportingController":"gadget-ctl","reportingInstance":"ctl-0",
        "regarding":{{"apiVersion":"test.standin.dev/v1","kind":"Gadget","name":"g1","namespace":"default","uid":"{uid}"}}}}"#
    );
    let out = k.run_input(&["create", "-f", "-"], &event);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let described = k.ok(&["describe", "gadget", "g1"]);
    let events = described.split("Events:").nth(1).expect("an Events section");
    assert!(events.contains("Provisioned") && events.contains("made the thing") && events.contains("gadget-ctl"), "{described}");

    // delete blocks while a finalizer remains.
    k.ok(&["patch", "gadget", "g1", "--type=merge", "-p", r#"{"metadata":{"finalizers":["test.standin.dev/hold"]}}"#]);
    let mut deleter = k.spawn(&["delete", "gadget", "g1", "--timeout=30s"]);
    let start = Instant::now();
    while k.ok(&["get", "gadget", "g1", "-o", "jsonpath={.metadata.deletionTimestamp}"]).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "deletionTimestamp never set");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(deleter.try_wait().unwrap().is_none(), "kubectl delete must wait for the finalizer");
    k.ok(&["patch", "gadget", "g1", "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#]);
    let out = finish(deleter, Duration::from_secs(40));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let gone = k.run(&["get", "gadget", "g1"]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NotFound"), "{}", String::from_utf8_lossy(&gone.stderr));
}
