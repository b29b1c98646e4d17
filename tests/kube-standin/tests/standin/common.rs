//! Shared helpers: a server plus a kube-rs client, the test CRD, raw requests.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, CustomResource};
use kube_standin::StandIn;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The test kind of `fixtures/crd.yaml`.
#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[kube(group = "test.standin.dev", version = "v1", kind = "Gadget", namespaced, status = "GadgetStatus")]
pub struct GadgetSpec {
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Status of the test kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GadgetStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Cond>,
}

/// A condition of the test kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Cond {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A fixture file's path.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A kube-rs client for a stand-in, built from the kubeconfig it wrote.
pub async fn client(s: &StandIn) -> Client {
    let kc = Kubeconfig::read_from(s.kubeconfig_path()).expect("kubeconfig");
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.expect("config");
    Client::try_from(cfg).expect("client")
}

/// A server with the test CRD registered, and a client.
pub async fn setup() -> (StandIn, Client) {
    let s = StandIn::start().await.expect("start stand-in");
    let c = client(&s).await;
    let crd: CustomResourceDefinition = serde_yaml::from_str(&std::fs::read_to_string(fixture("crd.yaml")).unwrap()).unwrap();
    Api::<CustomResourceDefinition>::all(c.clone()).create(&PostParams::default(), &crd).await.expect("create CRD");
    (s, c)
}

/// A Gadget with a name and size.
pub fn gadget(name: &str, size: i64) -> Gadget {
    Gadget::new(name, GadgetSpec { size, ..Default::default() })
}

/// A raw request; answers (status code, JSON body).
pub async fn raw(c: &Client, method: &str, path: &str, accept: &str, ctype: &str, body: Option<Value>) -> (u16, Value) {
    let mut b = http::Request::builder().method(method).uri(path).header("accept", accept);
    if body.is_some() {
        b = b.header("content-type", ctype);
    }
    let req = b.body(body.map(|v| serde_json::to_vec(&v).unwrap()).unwrap_or_default()).unwrap();
    match c.request_text(req).await {
        Ok(text) => (200, serde_json::from_str(&text).unwrap_or(Value::String(text))),
        Err(kube::Error::Api(s)) => (s.code, serde_json::to_value(&*s).unwrap()),
        Err(e) => panic!("request failed: {e}"),
    }
}

/// The error code of a kube-rs result.
pub fn code<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> u16 {
    match r {
        Err(kube::Error::Api(s)) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Bounded wait for an async condition.
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    // At most 30 s: generous for loaded CI machines, still bounded.
    for _ in 0..300 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// resourceVersion of an object as a number.
pub fn rv_of(o: &impl kube::Resource) -> u64 {
    o.meta().resource_version.as_deref().unwrap().parse().unwrap()
}
