//! Discovery documents (/version, /api, /apis, group-version resource lists). OpenAPI is in
//! `openapi.rs`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::store::State;

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "emulationMajor": "1",
        "emulationMinor": "32",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "31",
        "gitVersion": "v1.32.0-standin",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.4",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`.
pub fn core_versions(addr: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}]})
}

/// group → served versions (preferred first), over all non-core types.
fn groups(state: &State) -> BTreeMap<String, Vec<String>> {
    let mut g: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in state.types.values() {
        if t.group.is_empty() {
            continue;
        }
        let e = g.entry(t.group.clone()).or_default();
        for v in &t.versions {
            if !e.contains(v) {
                e.push(v.clone());
            }
        }
    }
    g
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs[0].clone()})
}

/// `/apis`.
pub fn group_list(state: &State) -> Value {
    let groups: Vec<Value> = groups(state).iter().map(|(n, vs)| group_doc(n, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/G`.
pub fn group(state: &State, name: &str) -> Option<Value> {
    let g = groups(state);
    let vs = g.get(name)?;
    let mut d = group_doc(name, vs);
    d["kind"] = json!("APIGroup");
    d["apiVersion"] = json!("v1");
    Some(d)
}

/// `/api/v1` or `/apis/G/V`.
pub fn resource_list(state: &State, group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for t in state.types.values() {
        if t.group == group && t.versions.iter().any(|v| v == version) {
            resources.extend(t.discovery(version));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}
