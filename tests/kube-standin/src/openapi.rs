//! OpenAPI v3 as kube-apiserver publishes it: `/openapi/v3` lists one document per served
//! group-version (with a content hash in its URL), and each `/openapi/v3/api/v1` or
//! `/openapi/v3/apis/G/V` document holds the REST paths of that group-version and, under
//! `components.schemas`, the schema of every kind served there with everything it refers to.
//!
//! - Custom resources follow apiextensions-apiserver's OpenAPI builder: the CRD's
//!   `openAPIV3Schema` (int-or-string unfolded to `anyOf`), with `apiVersion`, `kind` and a
//!   `metadata` reference to `ObjectMeta` added, an `x-kubernetes-group-version-kind`
//!   extension, a `<Kind>List` schema, and definitions named by the reversed group
//!   (`dev.operator.elb.v1alpha1.LoadBalancer`).
//! - Built-in kinds use the schemas k8s-openapi generates from the same Go definitions
//!   (`io.k8s.api.core.v1.Pod`, …), a `$ref` with siblings wrapped in `allOf` as in the real
//!   v3 documents.
//!
//! kubectl uses these documents for `kubectl explain` (it finds the kind through a path's
//! `x-kubernetes-group-version-kind`, then the schema carrying the same extension) and, in
//! `kubectl apply`, to check that PATCH accepts `fieldValidation` (then validation is left to
//! the server). One deliberate difference: built-in kinds' PATCH operations do not list
//! `application/strategic-merge-patch+json`. k8s-openapi's schemas lack the
//! `x-kubernetes-patch-merge-key` extensions, and with the media type listed kubectl would
//! build strategic patches from these schemas (merging no list by key); without it kubectl
//! uses its compiled-in patch metadata, which gives the same patch it sends a real server.
//! `/openapi/v2` is not served (404): kubectl 1.32 only falls back to it when v3 is absent.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use k8s_openapi::schemars::JsonSchema;
use serde_json::{json, Map, Value};
use sha2::Digest as _;

use crate::resources::ResourceType;
use crate::store::State;

const REF_PREFIX: &str = "#/components/schemas/";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

const API_VERSION_DOC: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DOC: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DOC: &str =
    "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_METADATA_DOC: &str =
    "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("{REF_PREFIX}{name}")})
}

/// A reference with a description, as the v3 documents write it (`$ref` allows no siblings).
fn described_ref(name: &str, description: &str) -> Value {
    json!({"allOf": [schema_ref(name)], "description": description})
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "version": version, "kind": kind})
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The definition name of a custom kind: `ToRESTFriendlyName("G/V.Kind")`, i.e. the group's
/// labels reversed (`elb.operator.dev` → `dev.operator.elb`), then version and kind.
pub fn custom_definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// Built-in kinds' definitions, generated once: (definition name of each served kind by
/// (group, plural)), and all definitions.
struct Builtins {
    names: BTreeMap<(String, String), String>,
    definitions: Map<String, Value>,
}

fn builtins() -> &'static Builtins {
    static B: OnceLock<Builtins> = OnceLock::new();
    B.get_or_init(|| {
        use k8s_openapi::api::coordination::v1::Lease;
        use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Namespace, Node, Pod, Secret, Service, ServiceAccount};
        use k8s_openapi::api::events::v1::Event as EventsEvent;
        use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;

        let mut gen = SchemaGenerator::new(SchemaSettings::openapi3());
        let mut names = BTreeMap::new();
        let mut add =
            |gen: &mut SchemaGenerator, group: &str, plural: &str, name: std::borrow::Cow<'static, str>, f: fn(&mut SchemaGenerator)| {
                f(gen);
                names.insert((group.to_string(), plural.to_string()), name.into_owned());
            };
        add(&mut gen, "", "pods", Pod::schema_name(), |g| drop(g.subschema_for::<Pod>()));
        add(&mut gen, "", "nodes", Node::schema_name(), |g| drop(g.subschema_for::<Node>()));
        add(&mut gen, "", "namespaces", Namespace::schema_name(), |g| drop(g.subschema_for::<Namespace>()));
        add(&mut gen, "", "events", CoreEvent::schema_name(), |g| drop(g.subschema_for::<CoreEvent>()));
        add(&mut gen, "", "serviceaccounts", ServiceAccount::schema_name(), |g| drop(g.subschema_for::<ServiceAccount>()));
        add(&mut gen, "", "configmaps", ConfigMap::schema_name(), |g| drop(g.subschema_for::<ConfigMap>()));
        add(&mut gen, "", "secrets", Secret::schema_name(), |g| drop(g.subschema_for::<Secret>()));
        add(&mut gen, "", "services", Service::schema_name(), |g| drop(g.subschema_for::<Service>()));
        add(&mut gen, "events.k8s.io", "events", EventsEvent::schema_name(), |g| drop(g.subschema_for::<EventsEvent>()));
        add(&mut gen, "coordination.k8s.io", "leases", Lease::schema_name(), |g| drop(g.subschema_for::<Lease>()));
        add(&mut gen, "networking.k8s.io", "ingresses", Ingress::schema_name(), |g| drop(g.subschema_for::<Ingress>()));
        add(&mut gen, "networking.k8s.io", "ingressclasses", IngressClass::schema_name(), |g| drop(g.subschema_for::<IngressClass>()));
        add(&mut gen, "apiextensions.k8s.io", "customresourcedefinitions", CustomResourceDefinition::schema_name(), |g| {
            drop(g.subschema_for::<CustomResourceDefinition>())
        });
        // What every document's operations refer to.
        let _ = gen.subschema_for::<meta::ObjectMeta>();
        let _ = gen.subschema_for::<meta::ListMeta>();
        let _ = gen.subschema_for::<meta::Status>();
        let _ = gen.subschema_for::<meta::DeleteOptions>();
        let _ = gen.subschema_for::<meta::Patch>();
        let definitions = gen.take_definitions(true).into_iter().collect();
        Builtins { names, definitions }
    })
}

/// Adds `name` and every definition it refers to (transitively) from `all` to `out`.
fn add_with_dependencies(name: &str, all: &Map<String, Value>, out: &mut Map<String, Value>) {
    let mut todo = vec![name.to_string()];
    while let Some(n) = todo.pop() {
        if out.contains_key(&n) {
            continue;
        }
        let Some(def) = all.get(&n) else { continue };
        out.insert(n, def.clone());
        collect_refs(def, &mut todo);
    }
}

fn collect_refs(v: &Value, into: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => {
                        if let Some(n) = r.strip_prefix(REF_PREFIX) {
                            into.push(n.to_string());
                        }
                    }
                    _ => collect_refs(x, into),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, into)),
        _ => {}
    }
}

/// Structural "unfolding" as the apiserver does before publishing: int-or-string becomes
/// `anyOf: [integer, string]`, embedded resources get apiVersion/kind/metadata.
fn unfold(s: &mut Value) {
    let Some(m) = s.as_object_mut() else { return };
    if m.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) && !m.contains_key("anyOf") {
        m.insert("anyOf".into(), json!([{"type": "integer"}, {"type": "string"}]));
    }
    if m.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true)) {
        let props = m.entry("properties").or_insert_with(|| json!({}));
        if let Some(p) = props.as_object_mut() {
            p.insert("apiVersion".into(), json!({"description": "apiVersion defines the versioned schema of this representation of an object. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources", "type": "string"}));
            p.insert("kind".into(), json!({"description": "kind is a string value representing the type of this object. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds", "type": "string"}));
            p.insert("metadata".into(), described_ref(OBJECT_META, METADATA_DOC));
        }
        let req = m.entry("required").or_insert_with(|| json!([]));
        if let Some(r) = req.as_array_mut() {
            for k in ["kind", "apiVersion"] {
                if !r.iter().any(|x| x == k) {
                    r.push(json!(k));
                }
            }
        }
    }
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(p)) = m.get_mut(key) {
            p.values_mut().for_each(unfold);
        }
    }
    if let Some(items) = m.get_mut("items") {
        unfold(items);
    }
    if let Some(ap @ Value::Object(_)) = m.get_mut("additionalProperties") {
        unfold(ap);
    }
}

/// The published schema of a custom kind in one version, and its list kind's.
fn custom_schemas(t: &ResourceType, version: &str) -> (Value, Value) {
    let mut schema = match t.schemas.get(version) {
        Some(s) => {
            let mut s = s.clone();
            unfold(&mut s);
            s
        }
        None => json!({"type": "object"}),
    };
    if t.schemas.contains_key(version) {
        if let Some(m) = schema.as_object_mut() {
            let props = m.entry("properties").or_insert_with(|| json!({}));
            if let Some(p) = props.as_object_mut() {
                p.insert("apiVersion".into(), json!({"description": API_VERSION_DOC, "type": "string"}));
                p.insert("kind".into(), json!({"description": KIND_DOC, "type": "string"}));
                p.insert("metadata".into(), described_ref(OBJECT_META, METADATA_DOC));
            }
        }
    }
    schema["x-kubernetes-group-version-kind"] = json!([gvk(&t.group, version, &t.kind)]);
    let list = json!({
        "description": format!("{} is a list of {}", t.list_kind, t.kind),
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DOC, "type": "string"},
            "items": {
                "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", t.plural),
                "type": "array",
                "items": schema_ref(&custom_definition_name(&t.group, version, &t.kind)),
            },
            "kind": {"description": KIND_DOC, "type": "string"},
            "metadata": described_ref(LIST_META, LIST_METADATA_DOC),
        },
        "x-kubernetes-group-version-kind": [gvk(&t.group, version, &t.list_kind)],
    });
    (schema, list)
}

/// `readCoreV1NamespacedPod`-style operation ids and `core_v1`-style tags.
fn op_prefix(group: &str, version: &str) -> (String, String) {
    let cap = |s: &str| {
        let mut c = s.chars();
        c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
    };
    let words: Vec<String> = if group.is_empty() { vec!["core".into()] } else { group.split(['.', '-']).map(String::from).collect() };
    let camel: String = words.iter().map(|w| cap(w)).collect();
    let tag_group = {
        let mut c = camel.chars();
        c.next().map(|f| f.to_lowercase().collect::<String>() + c.as_str()).unwrap_or_default()
    };
    (format!("{camel}{}", cap(version)), format!("{tag_group}_{version}"))
}

fn query(name: &str, ty: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": ty, "uniqueItems": true}})
}

fn write_params(with_force: bool) -> Vec<Value> {
    let mut p = vec![
        query("dryRun", "string", "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed"),
        query("fieldManager", "string", "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint."),
        query("fieldValidation", "string", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered."),
    ];
    if with_force {
        p.push(query("force", "boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests."));
    }
    p
}

fn list_params() -> Vec<Value> {
    vec![
        query("allowWatchBookmarks", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."),
        query("continue", "string", "The continue option should be set when retrieving more results from the server."),
        query("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
        query("labelSelector", "string", "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
        query("limit", "integer", "limit is a maximum number of responses to return for a list call."),
        query("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request may be served from."),
        query("resourceVersionMatch", "string", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
        query("sendInitialEvents", "boolean", "`sendInitialEvents=true` may be set together with `watch=true`."),
        query("timeoutSeconds", "integer", "Timeout for the list/watch call."),
        query(
            "watch",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
        ),
    ]
}

fn delete_params() -> Vec<Value> {
    vec![
        query("dryRun", "string", "When present, indicates that modifications should not be persisted."),
        query("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted."),
        query("propagationPolicy", "string", "Whether and how garbage collection will be performed."),
    ]
}

struct Kind<'a> {
    t: &'a ResourceType,
    version: &'a str,
    def: String,
    list_def: String,
}

fn content(types: &[&str], schema: &Value) -> Value {
    Value::Object(types.iter().map(|t| (t.to_string(), json!({"schema": schema}))).collect())
}

fn operation(
    k: &Kind,
    action: &str,
    verb: &str,
    op_id: String,
    params: Vec<Value>,
    body: Option<Value>,
    responses: &[(&str, &str, &str)],
) -> Value {
    let (prefix, tag) = op_prefix(&k.t.group, k.version);
    let media: &[&str] = if k.t.custom {
        &["application/json", "application/yaml"]
    } else {
        &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
    };
    let mut resp = Map::new();
    for (code, desc, def) in responses {
        resp.insert(code.to_string(), json!({"description": desc, "content": content(media, &schema_ref(def))}));
    }
    resp.insert("401".into(), json!({"description": "Unauthorized"}));
    let mut params = params;
    params.push(query("pretty", "string", "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."));
    let description = match verb {
        "patch" => format!("partially update the specified {}", k.t.kind),
        "list" => format!("list or watch objects of kind {}", k.t.kind),
        "deletecollection" => format!("delete collection of {}", k.t.kind),
        "create" => format!("create a {}", k.t.kind),
        "delete" => format!("delete a {}", k.t.kind),
        other => format!("{other} the specified {}", k.t.kind),
    };
    let mut op = json!({
        "tags": [tag],
        "description": description,
        "operationId": format!("{}{prefix}{op_id}", if verb == "deletecollection" { "delete" } else { verb }),
        "parameters": params,
        "responses": resp,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(&k.t.group, k.version, &k.t.kind),
    });
    if let Some(b) = body {
        op["requestBody"] = b;
    }
    op
}

/// The REST paths of one kind in one version, as the apiserver's route builder lays them out.
fn paths_of(k: &Kind, paths: &mut Map<String, Value>) {
    let t = k.t;
    let gv = format!("/{}", gv_path(&t.group, k.version));
    let ns = if t.namespaced { "Namespaced" } else { "" };
    let root = if t.namespaced { format!("{gv}/namespaces/{{namespace}}/{}", t.plural) } else { format!("{gv}/{}", t.plural) };
    let path_param = |name: &str, d: &str| json!({"name": name, "in": "path", "description": d, "required": true, "schema": {"type": "string", "uniqueItems": true}});
    let ns_param = path_param("namespace", "object name and auth scope, such as for teams and projects");
    let name_param = path_param("name", &format!("name of the {}", t.kind));
    let object_body = json!({"content": {"*/*": {"schema": schema_ref(&k.def)}}, "required": true});
    // Built-in kinds would also list application/strategic-merge-patch+json: see the module
    // documentation for why it is left out.
    let patch_types = ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"];
    let patch_body = json!({"content": content(&patch_types, &schema_ref(PATCH)), "required": true});
    let delete_body = json!({"content": {"*/*": {"schema": schema_ref(DELETE_OPTIONS)}}});

    if t.namespaced {
        paths.insert(
            format!("{gv}/{}", t.plural),
            json!({"get": operation(k, "list", "list", format!("{}ForAllNamespaces", t.kind), list_params(), None, &[("200", "OK", &k.list_def)])}),
        );
    }
    let mut collection = json!({
        "get": operation(k, "list", "list", format!("{ns}{}", t.kind), list_params(), None, &[("200", "OK", &k.list_def)]),
        "post": operation(k, "post", "create", format!("{ns}{}", t.kind), write_params(false), Some(object_body.clone()),
            &[("200", "OK", &k.def), ("201", "Created", &k.def), ("202", "Accepted", &k.def)]),
        "delete": operation(k, "deletecollection", "deletecollection", format!("Collection{ns}{}", t.kind), list_params(), Some(delete_body.clone()), &[("200", "OK", STATUS)]),
    });
    if t.namespaced {
        collection["parameters"] = json!([ns_param]);
    }
    paths.insert(root.clone(), collection);

    let item_params = if t.namespaced { json!([name_param, ns_param]) } else { json!([name_param]) };
    let item = json!({
        "get": operation(k, "get", "read", format!("{ns}{}", t.kind), vec![], None, &[("200", "OK", &k.def)]),
        "put": operation(k, "put", "replace", format!("{ns}{}", t.kind), write_params(false), Some(object_body.clone()),
            &[("200", "OK", &k.def), ("201", "Created", &k.def)]),
        "delete": operation(k, "delete", "delete", format!("{ns}{}", t.kind), delete_params(), Some(delete_body),
            &[("200", "OK", STATUS), ("202", "Accepted", STATUS)]),
        "patch": operation(k, "patch", "patch", format!("{ns}{}", t.kind), write_params(true), Some(patch_body.clone()),
            &[("200", "OK", &k.def), ("201", "Created", &k.def)]),
        "parameters": item_params,
    });
    paths.insert(format!("{root}/{{name}}"), item);
    if t.status {
        let status = json!({
            "get": operation(k, "get", "read", format!("{ns}{}Status", t.kind), vec![], None, &[("200", "OK", &k.def)]),
            "put": operation(k, "put", "replace", format!("{ns}{}Status", t.kind), write_params(false), Some(object_body),
                &[("200", "OK", &k.def), ("201", "Created", &k.def)]),
            "patch": operation(k, "patch", "patch", format!("{ns}{}Status", t.kind), write_params(true), Some(patch_body),
                &[("200", "OK", &k.def), ("201", "Created", &k.def)]),
            "parameters": item_params,
        });
        paths.insert(format!("{root}/{{name}}/status"), status);
    }
}

/// A served document and its hash.
type Served = (Arc<Value>, Arc<str>);

/// The OpenAPI v3 document of one group-version (`/openapi/v3/api/v1`,
/// `/openapi/v3/apis/G/V`) and its hash; None when nothing is served there. Documents of
/// built-in group-versions never change and are built once.
fn document(state: &State, group: &str, version: &str) -> Option<Served> {
    static FIXED: OnceLock<Mutex<HashMap<(String, String), Served>>> = OnceLock::new();
    let fixed = !state.types.values().any(|t| t.custom && t.group == group);
    let key = (group.to_string(), version.to_string());
    if fixed {
        if let Some(hit) = FIXED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Some(hit.clone());
        }
    }
    let doc = build(state, group, version)?;
    let hash: Arc<str> = sha2::Sha512::digest(doc.to_string().as_bytes()).iter().map(|b| format!("{b:02X}")).collect::<String>().into();
    let out = (Arc::new(doc), hash);
    if fixed {
        FIXED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner()).insert(key, out.clone());
    }
    Some(out)
}

/// The OpenAPI v3 document of one group-version; None when nothing is served there.
pub fn group_version(state: &State, group: &str, version: &str) -> Option<Value> {
    document(state, group, version).map(|(d, _)| (*d).clone())
}

fn build(state: &State, group: &str, version: &str) -> Option<Value> {
    let b = builtins();
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut any = false;
    for t in state.types.values() {
        if t.group != group || !t.versions.iter().any(|v| v == version) {
            continue;
        }
        any = true;
        let (def, list_def) = if t.custom {
            let def = custom_definition_name(group, version, &t.kind);
            let list_def = custom_definition_name(group, version, &t.list_kind);
            let (s, l) = custom_schemas(t, version);
            schemas.insert(def.clone(), s);
            schemas.insert(list_def.clone(), l);
            (def, list_def)
        } else {
            let def = b
                .names
                .get(&(t.group.clone(), t.plural.clone()))
                .cloned()
                .unwrap_or_else(|| custom_definition_name(group, version, &t.kind));
            add_with_dependencies(&def, &b.definitions, &mut schemas);
            if let Some(s) = schemas.get_mut(&def) {
                s["x-kubernetes-group-version-kind"] = json!([gvk(group, version, &t.kind)]);
            }
            let list_def = format!("{}List", def);
            schemas.insert(
                list_def.clone(),
                json!({
                    "description": format!("{} is a list of {}.", t.list_kind, t.kind),
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "apiVersion": {"description": API_VERSION_DOC, "type": "string"},
                        "items": {"description": format!("List of {}.", t.plural), "type": "array", "items": schema_ref(&def)},
                        "kind": {"description": KIND_DOC, "type": "string"},
                        "metadata": described_ref(LIST_META, LIST_METADATA_DOC),
                    },
                    "x-kubernetes-group-version-kind": [gvk(group, version, &t.list_kind)],
                }),
            );
            (def, list_def)
        };
        paths_of(&Kind { t, version, def, list_def }, &mut paths);
    }
    if !any {
        return None;
    }
    for name in [OBJECT_META, LIST_META, STATUS, DELETE_OPTIONS, PATCH] {
        add_with_dependencies(name, &b.definitions, &mut schemas);
    }
    schemas.sort_keys();
    paths.sort_keys();
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::discovery::version()["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// `/openapi/v3`: every served group-version's document, with its content hash.
pub fn root(state: &State) -> Value {
    let mut gvs: Vec<(String, String)> = Vec::new();
    for t in state.types.values() {
        for v in &t.versions {
            let k = (t.group.clone(), v.clone());
            if !gvs.contains(&k) {
                gvs.push(k);
            }
        }
    }
    let mut paths = Map::new();
    for (g, v) in gvs {
        let Some((_, hash)) = document(state, &g, &v) else { continue };
        let p = gv_path(&g, &v);
        paths.insert(p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash}")}));
    }
    json!({"paths": paths})
}
