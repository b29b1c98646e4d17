//! Discovery documents (/version, /api, /apis, group-version resource lists) and the
//! minimal OpenAPI v3 that lets `kubectl apply` leave validation to the server.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha2::Digest as _;

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
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs[0].clone()})
}

/// `/apis`.
pub fn group_list(state: &State) -> Value {
    let groups: Vec<Value> = groups(state)
        .iter()
        .map(|(n, vs)| group_doc(n, vs))
        .collect();
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
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The OpenAPI v3 document of one group-version: for each kind, PATCH operations carrying
/// `x-kubernetes-group-version-kind` and a `fieldValidation` parameter, which is all
/// kubectl's query-parameter verifier reads.
pub fn openapi_gv(state: &State, group: &str, version: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    for t in state.types.values() {
        if t.group != group || !t.versions.iter().any(|v| v == version) {
            continue;
        }
        let prefix = format!("/{}", gv_path(group, version));
        let item = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{prefix}/{}/{{name}}", t.plural)
        };
        let gvk = json!({"group": group, "version": version, "kind": t.kind});
        let params = json!([
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}}
        ]);
        // kubectl reads the parameters of the PATCH operation itself.
        let op = |verb: &str| {
            json!({"operationId": format!("{verb}{}", t.kind), "x-kubernetes-action": verb, "x-kubernetes-group-version-kind": gvk,
                   "parameters": params, "responses": {"200": {"description": "OK"}}})
        };
        paths.insert(item, json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
    }
    if paths.is_empty() {
        return None;
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths, "components": {"schemas": {}}}),
    )
}

/// `/openapi/v3`: the list of group-version documents with content hashes.
pub fn openapi_root(state: &State) -> Value {
    let mut gvs: Vec<(String, String)> = Vec::new();
    for t in state.types.values() {
        for v in &t.versions {
            let k = (t.group.clone(), v.clone());
            if !gvs.contains(&k) {
                gvs.push(k);
            }
        }
    }
    let mut paths = serde_json::Map::new();
    for (g, v) in gvs {
        let doc = openapi_gv(state, &g, &v).unwrap_or(Value::Null);
        let hash: String = sha2::Sha512::digest(doc.to_string().as_bytes())
            .iter()
            .take(32)
            .map(|b| format!("{b:02X}"))
            .collect();
        let p = gv_path(&g, &v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}
