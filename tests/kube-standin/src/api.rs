//! Request semantics: create, get, list, update, patch, apply and delete, with the
//! apiserver's rules for server-set metadata, the status subresource, generation, no-op
//! writes, finalizers, and the controllers that establish CRDs and finish namespace and CRD
//! deletion.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::apply;
use crate::builtin;
use crate::error::{qualified, ApiError, ApiResult};
use crate::events;
use crate::meta::{self, meta_mut, meta_str, normalise};
use crate::resources::{from_crd, ResourceType};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{State, StoreKey};
use crate::table::{self, IncludeObject};
use crate::validation;

/// One parsed API request on a resource.
#[derive(Debug, Clone, Default)]
pub struct Req {
    /// API group ("" for core).
    pub group: String,
    /// Version in the path.
    pub version: String,
    /// Resource (plural).
    pub plural: String,
    /// Namespace in the path.
    pub namespace: Option<String>,
    /// Object name in the path.
    pub name: Option<String>,
    /// Subresource ("status").
    pub sub: Option<String>,
    /// Query parameters.
    pub query: HashMap<String, String>,
    /// Accept header.
    pub accept: String,
    /// Content-Type header (without parameters).
    pub content_type: String,
    /// Request body.
    pub body: Vec<u8>,
}

/// How a GET answer is rendered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Render {
    /// Full objects.
    Full,
    /// PartialObjectMetadata(List).
    Metadata,
    /// meta.k8s.io Table.
    Table(IncludeObject),
}

impl Req {
    /// A query parameter.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str).filter(|s| !s.is_empty())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.q(key), Some("true") | Some("1"))
    }

    fn dry_run(&self) -> bool {
        self.q("dryRun").is_some()
    }

    /// The apiserver accepts `dryRun=All` only (`ValidateDryRun`): any other value makes the
    /// write's options invalid (`CreateOptions`, `UpdateOptions`, `PatchOptions`), 422.
    fn check_dry_run(&self, options_kind: &str) -> ApiResult<()> {
        match self.q("dryRun") {
            None | Some("All") => Ok(()),
            Some(other) => Err(ApiError::invalid(
                "meta.k8s.io",
                options_kind,
                "",
                &[(
                    "FieldValueNotSupported".into(),
                    "dryRun".into(),
                    format!("Unsupported value: [\"{other}\"]: supported values: \"All\""),
                )],
            )),
        }
    }

    /// How to render answers, from the Accept header.
    pub fn render(&self) -> Render {
        if self.accept.contains("as=Table") {
            let inc = match self.q("includeObject") {
                Some("None") => IncludeObject::None,
                Some("Object") => IncludeObject::Object,
                _ => IncludeObject::Metadata,
            };
            Render::Table(inc)
        } else if self.accept.contains("as=PartialObjectMetadata") {
            Render::Metadata
        } else {
            Render::Full
        }
    }

    fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }
}

/// A successful answer: code, body and warnings.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub code: u16,
    /// JSON body.
    pub body: Value,
    /// `Warning` headers.
    pub warnings: Vec<String>,
}

fn ok(code: u16, body: Value) -> ApiResult<Answer> {
    Ok(Answer { code, body, warnings: Vec::new() })
}

/// A namespace object as the namespace lifecycle creates it.
pub fn new_namespace(name: &str) -> Value {
    let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    prepare_namespace(&mut ns);
    let m = meta_mut(&mut ns);
    m.insert("uid".into(), json!(meta::uid()));
    m.insert("creationTimestamp".into(), json!(meta::now()));
    ns
}

fn prepare_namespace(ns: &mut Value) {
    let name = meta_str(ns, "name").unwrap_or("").to_string();
    let m = meta_mut(ns);
    let labels = m.entry("labels").or_insert(json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    labels["kubernetes.io/metadata.name"] = json!(name);
    if ns.pointer("/spec/finalizers").is_none() {
        ns["spec"] = json!({"finalizers": ["kubernetes"]});
    }
    ns["status"] = json!({"phase": "Active"});
}

/// The object in the form of the requested version/view.
pub fn present(rt: &ResourceType, version: &str, obj: &Value) -> Value {
    if rt.group == "events.k8s.io" {
        return events::to_events_v1(obj);
    }
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        // apiVersion and kind first, as the apiserver writes them.
        let mut out = Map::new();
        out.insert("apiVersion".into(), json!(rt.api_version(version)));
        out.insert("kind".into(), json!(rt.kind));
        for (k, v) in std::mem::take(m) {
            if k != "apiVersion" && k != "kind" {
                out.insert(k, v);
            }
        }
        *m = out;
    }
    o
}

/// A request body in storage form.
fn ingest(rt: &ResourceType, mut obj: Value) -> Value {
    if rt.group == "events.k8s.io" {
        return events::from_events_v1(&obj);
    }
    if let Some(m) = obj.as_object_mut() {
        m.insert("apiVersion".into(), json!(rt.api_version(rt.storage_version())));
        m.insert("kind".into(), json!(rt.kind));
    }
    if rt.group.is_empty() && rt.plural == "events" {
        events::normalise_core(&mut obj);
    }
    obj
}

fn parse_json(body: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
}

fn parse_object(body: &[u8]) -> ApiResult<Value> {
    let v = parse_json(body)?;
    if !v.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    Ok(v)
}

/// Typed decoding of a built-in kind's body (in the request's view): wrongly typed fields are
/// a 400; unknown fields are a 400 under `fieldValidation=Strict`, dropped silently under
/// `Ignore`, and dropped with warnings otherwise (the server's default, Warn).
fn decode_builtin(rt: &ResourceType, req: &Req, body: Value) -> ApiResult<(Value, Vec<String>)> {
    if rt.custom {
        return Ok((body, Vec::new()));
    }
    // An apply configuration is partial (required fields may be absent): only look for unknown
    // fields there, do not insist that it decodes.
    if req.content_type == "application/apply-patch+yaml" {
        if let builtin::Decoded::Invalid(_) = builtin::decode(&rt.group, &rt.plural, &body) {
            return Ok((body, Vec::new()));
        }
    }
    let cannot = |why: String| {
        ApiError::bad_request(format!("{k} in version \"{v}\" cannot be handled as a {k}: {why}", k = rt.kind, v = req.version))
    };
    match builtin::decode(&rt.group, &rt.plural, &body) {
        builtin::Decoded::Invalid(e) => Err(cannot(e)),
        builtin::Decoded::Ok(v, unknown) if unknown.is_empty() => Ok((v, Vec::new())),
        builtin::Decoded::Ok(v, unknown) => {
            let list: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
            match req.q("fieldValidation") {
                Some("Strict") => Err(cannot(format!("strict decoding error: {}", list.join(", ")))),
                Some("Ignore") => Ok((v, Vec::new())),
                _ => Ok((v, list)),
            }
        }
    }
}

fn with_warnings(answer: ApiResult<Answer>, warnings: Vec<String>) -> ApiResult<Answer> {
    answer.map(|mut a| {
        a.warnings.extend(warnings);
        a
    })
}

fn manager_of(req: &Req, default: &str) -> String {
    req.q("fieldManager").unwrap_or(default).to_string()
}

fn store_key(rt: &ResourceType) -> StoreKey {
    rt.store_key()
}

/// Turns validation causes into the apiserver's answer: unknown fields under
/// `fieldValidation=Strict` are a 400 strict-decoding error (causes with reason
/// `FieldValueUnknown`), everything else a 422 Invalid naming the fields.
fn invalid_from_causes(rt: &ResourceType, version: &str, name: &str, causes: Vec<validation::Cause>) -> ApiError {
    let unknown: Vec<&validation::Cause> = causes.iter().filter(|c| c.reason == "FieldValueUnknown").collect();
    if !unknown.is_empty() && unknown.len() == causes.len() {
        let list = unknown.iter().map(|c| format!("unknown field \"{}\"", c.field)).collect::<Vec<_>>().join(", ");
        return ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {list}",
            kind = rt.kind
        ));
    }
    let causes: Vec<(String, String, String)> = causes
        .into_iter()
        .map(|c| {
            let prefix = format!("{}: ", c.field);
            let msg = c.message.strip_prefix(&prefix).map(String::from).unwrap_or(c.message);
            (c.reason, c.field, msg)
        })
        .collect();
    ApiError::invalid(&rt.group, &rt.kind, name, &causes)
}

fn validate_custom(rt: &ResourceType, obj: &mut Value, old: Option<&Value>, req: &Req) -> ApiResult<Vec<String>> {
    if !rt.custom {
        return Ok(Vec::new());
    }
    let Some(schema) = rt.schemas.get(rt.storage_version()) else {
        return Ok(Vec::new());
    };
    let opts = validation::Options { strict: req.q("fieldValidation") == Some("Strict") };
    let name = meta_str(obj, "name").unwrap_or("").to_string();
    validation::validate(schema, obj, old, &opts).map_err(|c| invalid_from_causes(rt, &req.version, &name, c))
}

/// The field validation of a built-in kind (see `builtin::validate`): 422 Invalid.
fn validate_builtin(rt: &ResourceType, obj: &Value) -> ApiResult<()> {
    if rt.custom {
        return Ok(());
    }
    let causes = builtin::validate(&rt.group, &rt.plural, obj);
    if causes.is_empty() {
        return Ok(());
    }
    let name = meta_str(obj, "name").unwrap_or("").to_string();
    Err(ApiError::invalid(&rt.group, &rt.kind, &name, &causes))
}

/// Everything outside metadata and status, for generation and no-op decisions.
fn spec_part(o: &Value) -> Value {
    let mut o = o.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    o
}

fn not_found(rt: &ResourceType, name: &str) -> ApiError {
    ApiError::not_found(&rt.group, &rt.plural, name)
}

// ---------------------------------------------------------------- reads

/// GET of one object.
pub fn get(state: &State, rt: &ResourceType, req: &Req) -> ApiResult<Answer> {
    let name = req.name.as_deref().unwrap_or("");
    let obj = state.get(&store_key(rt), req.ns(), name).ok_or_else(|| not_found(rt, name))?;
    let o = present(rt, &req.version, obj);
    let body = match req.render() {
        Render::Full => o,
        Render::Metadata => table::partial_metadata(&o),
        Render::Table(inc) => table::table(rt, &req.version, &[o], &state.rv.to_string(), None, inc),
    };
    ok(200, body)
}

/// Selectors of a list or watch request.
pub struct Selectors {
    /// labelSelector.
    pub label: LabelSelector,
    /// fieldSelector.
    pub field: FieldSelector,
}

impl Selectors {
    /// Parses the request's selectors (400 on unsupported fields).
    pub fn of(rt: &ResourceType, req: &Req) -> ApiResult<Selectors> {
        Ok(Selectors {
            label: LabelSelector::parse(req.q("labelSelector").unwrap_or(""))?,
            field: FieldSelector::parse(req.q("fieldSelector").unwrap_or(""), &rt.group, &rt.plural)?,
        })
    }

    /// Whether a stored object matches.
    pub fn matches(&self, obj: &Value) -> bool {
        self.label.matches(obj) && self.field.matches(obj)
    }
}

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    use base64::Engine as _;
    let start = if ns.is_empty() { format!("{name}\u{0}") } else { format!("{ns}/{name}\u{0}") };
    base64::engine::general_purpose::STANDARD.encode(json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).to_string())
}

fn decode_continue(token: &str) -> ApiResult<(u64, String)> {
    use base64::Engine as _;
    let bad = || ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
    let raw = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok((v["rv"].as_u64().ok_or_else(bad)?, v["start"].as_str().ok_or_else(bad)?.to_string()))
}

/// LIST (not watch).
pub fn list(state: &State, rt: &ResourceType, req: &Req) -> ApiResult<Answer> {
    let sel = Selectors::of(rt, req)?;
    let limit: usize = req.q("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
    let (snapshot, start) = match req.q("continue") {
        Some(tok) => {
            let (rv, start) = decode_continue(tok)?;
            if rv < state.log_start {
                return Err(ApiError::expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."));
            }
            (rv, Some(start))
        }
        None => (state.rv, None),
    };
    let ns = if rt.namespaced { req.namespace.as_deref() } else { None };
    let all: Vec<&Value> = state
        .list(&store_key(rt), ns)
        .into_iter()
        .filter(|o| {
            let (n, name) = (meta_str(o, "namespace").unwrap_or(""), meta_str(o, "name").unwrap_or(""));
            let key = if n.is_empty() { format!("{name}\u{0}") } else { format!("{n}/{name}\u{0}") };
            start.as_ref().is_none_or(|s| key.as_str() > s.as_str())
        })
        .filter(|o| sel.matches(o))
        .collect();
    let (page, rest) = if limit > 0 && all.len() > limit { all.split_at(limit) } else { (&all[..], &[][..]) };
    let cont = page
        .last()
        .filter(|_| !rest.is_empty())
        .map(|o| encode_continue(snapshot, meta_str(o, "namespace").unwrap_or(""), meta_str(o, "name").unwrap_or("")));
    let items: Vec<Value> = page.iter().map(|o| present(rt, &req.version, o)).collect();
    let rv = snapshot.to_string();
    let body = match req.render() {
        Render::Table(inc) => table::table(rt, &req.version, &items, &rv, cont.as_deref(), inc),
        Render::Metadata => {
            let mut md = json!({"resourceVersion": rv});
            if let Some(c) = &cont {
                md["continue"] = json!(c);
            }
            json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": md,
                   "items": items.iter().map(table::partial_metadata).collect::<Vec<_>>()})
        }
        Render::Full => {
            let mut md = Map::new();
            if rt.custom {
                md.insert("continue".into(), json!(cont.clone().unwrap_or_default()));
            } else if let Some(c) = &cont {
                md.insert("continue".into(), json!(c));
            }
            if cont.is_some() && req.q("labelSelector").is_none() && req.q("fieldSelector").is_none() {
                md.insert("remainingItemCount".into(), json!(rest.len()));
            }
            md.insert("resourceVersion".into(), json!(rv));
            let items: Vec<Value> = if rt.custom {
                items
            } else {
                // Typed lists of built-in kinds carry no per-item apiVersion/kind.
                items
                    .into_iter()
                    .map(|mut i| {
                        if let Some(m) = i.as_object_mut() {
                            m.remove("apiVersion");
                            m.remove("kind");
                        }
                        i
                    })
                    .collect()
            };
            let list_api_version = rt.api_version(&req.version);
            json!({"apiVersion": list_api_version, "items": items, "kind": rt.list_kind, "metadata": md})
        }
    };
    ok(200, body)
}

// ---------------------------------------------------------------- writes

/// POST.
pub fn create(state: &mut State, rt: &ResourceType, req: &Req) -> ApiResult<Answer> {
    req.check_dry_run("CreateOptions")?;
    let (body, warnings) = decode_builtin(rt, req, parse_object(&req.body)?)?;
    let body = ingest(rt, body);
    let manager = manager_of(req, "unknown");
    with_warnings(create_object(state, rt, req, body, Some(&manager), None), warnings)
}

/// Creates `obj` (storage form). `manager` records field ownership as an update; `managers`
/// (from an apply) replaces it.
fn create_object(
    state: &mut State,
    rt: &ResourceType,
    req: &Req,
    mut obj: Value,
    manager: Option<&str>,
    managers: Option<apply::Managers>,
) -> ApiResult<Answer> {
    normalise(&mut obj);
    if rt.namespaced {
        let ns = req.namespace.clone().ok_or_else(ApiError::no_route)?;
        if let Some(body_ns) = meta_str(&obj, "namespace") {
            if body_ns != ns {
                return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
            }
        }
        meta_mut(&mut obj).insert("namespace".into(), json!(ns));
    } else {
        meta_mut(&mut obj).remove("namespace");
    }
    if meta_str(&obj, "resourceVersion").is_some() {
        return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
    }
    // Name or generateName.
    let store = store_key(rt);
    let ns = req.ns().to_string();
    if meta_str(&obj, "name").is_none() {
        let Some(prefix) = meta_str(&obj, "generateName").map(String::from) else {
            return Err(ApiError::invalid(
                &rt.group,
                &rt.kind,
                "",
                &[("FieldValueRequired".into(), "metadata.name".into(), "Required value: name or generateName is required".into())],
            ));
        };
        let mut name = format!("{prefix}{}", meta::name_suffix());
        for _ in 0..8 {
            if state.get(&store, &ns, &name).is_none() {
                break;
            }
            name = format!("{prefix}{}", meta::name_suffix());
        }
        meta_mut(&mut obj).insert("name".into(), json!(name));
    }
    let name = meta_str(&obj, "name").unwrap_or("").to_string();
    // Events are named `<object>.<hex>` and some built-ins allow more; check the common rule.
    let label_rule = rt.group.is_empty() && rt.plural == "namespaces";
    if let Some(problem) = meta::name_problem(&name, label_rule) {
        return Err(ApiError::invalid(&rt.group, &rt.kind, &name, &[("FieldValueInvalid".into(), "metadata.name".into(), problem)]));
    }
    if rt.namespaced {
        match state.namespace(&ns) {
            None => return Err(ApiError::not_found("", "namespaces", &ns)),
            Some(n) if n.pointer("/metadata/deletionTimestamp").is_some() => {
                return Err(ApiError {
                    code: 403,
                    reason: "Forbidden".into(),
                    message: format!(
                        "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                        qualified(&rt.group, &rt.plural)
                    ),
                    details: Some(json!({"name": name, "group": rt.group, "kind": rt.plural})),
                })
            }
            Some(_) => {}
        }
    }
    if state.get(&store, &ns, &name).is_some() {
        return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
    }
    // Server-set metadata.
    {
        let m = meta_mut(&mut obj);
        m.insert("uid".into(), json!(meta::uid()));
        m.insert("creationTimestamp".into(), json!(meta::now()));
        for k in ["deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"] {
            m.remove(k);
        }
        if rt.generation {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
    }
    prepare_create(rt, &mut obj)?;
    let warnings = validate_custom(rt, &mut obj, None, req)?;
    validate_builtin(rt, &obj)?;
    normalise(&mut obj);
    if req.dry_run() {
        return Ok(Answer { code: 201, body: present(rt, &req.version, &obj), warnings });
    }
    let uid = meta_str(&obj, "uid").unwrap_or("").to_string();
    let stored = state.insert(&store, obj);
    let mut mgrs = managers.unwrap_or_default();
    if let Some(m) = manager {
        apply::record_update(rt, rt.storage_version(), None, &stored, m, "", &mut mgrs);
    }
    state.managers.insert(uid, mgrs);
    if rt.group == "apiextensions.k8s.io" {
        establish_crd(state, &stored);
    }
    Ok(Answer { code: 201, body: present(rt, &req.version, &stored), warnings })
}

fn prepare_create(rt: &ResourceType, obj: &mut Value) -> ApiResult<()> {
    if rt.custom && rt.status {
        if let Some(m) = obj.as_object_mut() {
            m.remove("status");
        }
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => prepare_namespace(obj),
        ("", "pods") => {
            // Pods start Pending: the kubelet (absent here) reports the rest via /status.
            obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
            let spec = obj.get_mut("spec").and_then(Value::as_object_mut);
            if let Some(spec) = spec {
                spec.entry("restartPolicy").or_insert(json!("Always"));
                spec.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
                spec.entry("schedulerName").or_insert(json!("default-scheduler"));
                spec.entry("terminationGracePeriodSeconds").or_insert(json!(30));
                for c in spec.get_mut("containers").and_then(Value::as_array_mut).into_iter().flatten() {
                    for p in c.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
                        if let Some(p) = p.as_object_mut() {
                            p.entry("protocol").or_insert(json!("TCP"));
                        }
                    }
                }
            }
        }
        ("apiextensions.k8s.io", _) => prepare_crd(obj)?,
        _ => {}
    }
    Ok(())
}

fn prepare_crd(obj: &mut Value) -> ApiResult<()> {
    let group = obj.pointer("/spec/group").and_then(Value::as_str).unwrap_or("").to_string();
    let plural = obj.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or("").to_string();
    let kind = obj.pointer("/spec/names/kind").and_then(Value::as_str).unwrap_or("").to_string();
    let name = meta_str(obj, "name").unwrap_or("").to_string();
    if name != format!("{plural}.{group}") {
        return Err(ApiError::invalid(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            &name,
            &[(
                "FieldValueInvalid".into(),
                "metadata.name".into(),
                format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
            )],
        ));
    }
    if from_crd(obj).is_none() {
        return Err(ApiError::invalid(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            &name,
            &[(
                "FieldValueRequired".into(),
                "spec.versions".into(),
                "Required value: must have exactly one version marked as storage version".into(),
            )],
        ));
    }
    let spec = obj["spec"].as_object_mut().expect("spec checked above");
    spec.entry("conversion").or_insert(json!({"strategy": "None"}));
    let names = spec.get_mut("names").and_then(Value::as_object_mut).expect("names checked above");
    names.entry("listKind").or_insert(json!(format!("{kind}List")));
    names.entry("singular").or_insert(json!(kind.to_lowercase()));
    let storage = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|vs| vs.iter().find(|v| v["storage"] == true))
        .and_then(|v| v["name"].as_str())
        .unwrap_or("")
        .to_string();
    obj["status"] = json!({"acceptedNames": {"kind": "", "plural": ""}, "conditions": null, "storedVersions": [storage]});
    Ok(())
}

/// The CRD controller's first pass: names accepted, Established, resource served.
fn establish_crd(state: &mut State, crd: &Value) {
    let Some(rt) = from_crd(crd) else { return };
    let mut c = crd.clone();
    let now = meta::now();
    c["status"]["acceptedNames"] = crd["spec"]["names"].clone();
    c["status"]["conditions"] = json!([
        {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
        {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
    ]);
    state.replace(&(String::from("apiextensions.k8s.io"), "customresourcedefinitions".into()), c);
    state.types.insert((rt.group.clone(), rt.plural.clone()), rt);
}

/// PUT.
pub fn update(state: &mut State, rt: &ResourceType, req: &Req) -> ApiResult<Answer> {
    req.check_dry_run("UpdateOptions")?;
    let (body, warnings) = decode_builtin(rt, req, parse_object(&req.body)?)?;
    let body = ingest(rt, body);
    let name = req.name.clone().unwrap_or_default();
    let current = state.get(&store_key(rt), req.ns(), &name).cloned().ok_or_else(|| not_found(rt, &name))?;
    if let Some(bn) = meta_str(&body, "name") {
        if bn != name {
            return Err(ApiError::bad_request(format!("the name of the object ({bn}) does not match the name on the URL ({name})")));
        }
    }
    match meta_str(&body, "resourceVersion") {
        None if rt.custom => {
            return Err(ApiError::invalid(
                &rt.group,
                &rt.plural,
                &name,
                &[(
                    "FieldValueInvalid".into(),
                    "metadata.resourceVersion".into(),
                    "Invalid value: 0: must be specified for an update".into(),
                )],
            ))
        }
        None => {}
        Some(rv) if Some(rv) != meta_str(&current, "resourceVersion") => {
            return Err(ApiError::conflict(&rt.group, &rt.plural, &name));
        }
        Some(_) => {}
    }
    let sub = req.sub.clone().unwrap_or_default();
    let manager = manager_of(req, "unknown");
    with_warnings(finish_write(state, rt, req, &current, body, &sub, WriteOwner::Update(&manager)), warnings)
}

/// Who a write is recorded for.
enum WriteOwner<'a> {
    Update(&'a str),
    Applied(apply::Managers),
}

/// The common tail of PUT and PATCH: restore server-owned fields, subresource rules,
/// validation, generation, no-op detection, finalizer completion, commit.
fn finish_write(
    state: &mut State,
    rt: &ResourceType,
    req: &Req,
    current: &Value,
    mut new: Value,
    sub: &str,
    owner: WriteOwner<'_>,
) -> ApiResult<Answer> {
    let store = store_key(rt);
    let name = meta_str(current, "name").unwrap_or("").to_string();
    normalise(&mut new);
    if !new.get("metadata").is_some_and(Value::is_object) {
        new["metadata"] = json!({});
    }
    if let Some(m) = new.as_object_mut() {
        m.insert("apiVersion".into(), current["apiVersion"].clone());
        m.insert("kind".into(), current["kind"].clone());
    }
    {
        let cm = current["metadata"].as_object().cloned().unwrap_or_default();
        let m = meta_mut(&mut new);
        for k in [
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "namespace",
            "name",
            "resourceVersion",
        ] {
            match cm.get(k) {
                Some(v) => {
                    m.insert(k.into(), v.clone());
                }
                None => {
                    m.remove(k);
                }
            }
        }
        m.remove("managedFields");
        m.remove("selfLink");
    }
    if sub == "status" {
        let mut merged = current.clone();
        match new.get("status") {
            Some(s) => merged["status"] = s.clone(),
            None => {
                if let Some(m) = merged.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        new = merged;
    } else if rt.status {
        if let Some(m) = new.as_object_mut() {
            match current.get("status") {
                Some(s) => {
                    m.insert("status".into(), s.clone());
                }
                None => {
                    m.remove("status");
                }
            }
        }
    }
    if rt.group.is_empty() && rt.plural == "namespaces" {
        new["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
    }
    if rt.group == "apiextensions.k8s.io" && sub != "status" {
        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
            spec.entry("conversion").or_insert(json!({"strategy": "None"}));
        }
    }
    // No new finalizers while deleting.
    if current.pointer("/metadata/deletionTimestamp").is_some() {
        let old: Vec<Value> = current.pointer("/metadata/finalizers").and_then(Value::as_array).cloned().unwrap_or_default();
        let added: Vec<String> = new
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter(|f| !old.contains(f)).filter_map(|f| f.as_str().map(String::from)).collect())
            .unwrap_or_default();
        if !added.is_empty() {
            let list = added.iter().map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(", ");
            let cause = (
                "FieldValueForbidden".to_string(),
                "metadata.finalizers".to_string(),
                format!(
                    "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{list}}}"
                ),
            );
            // The real server reports it twice for custom resources (generic and CR validation).
            let causes = if rt.custom { vec![cause.clone(), cause] } else { vec![cause] };
            return Err(ApiError::invalid(&rt.group, &rt.kind, &name, &causes));
        }
    }
    let warnings = validate_custom(rt, &mut new, Some(current), req)?;
    validate_builtin(rt, &new)?;
    normalise(&mut new);
    if rt.generation && spec_part(&new) != spec_part(current) {
        let g = current.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
        new["metadata"]["generation"] = json!(g + 1);
    }
    let uid = meta_str(current, "uid").unwrap_or("").to_string();
    let mut managers = state.managers.get(&uid).cloned().unwrap_or_default();
    match owner {
        WriteOwner::Update(m) => apply::record_update(rt, rt.storage_version(), Some(current), &new, m, sub, &mut managers),
        WriteOwner::Applied(m) => managers = m,
    }
    if new == *current {
        if !req.dry_run() {
            state.managers.insert(uid, managers);
        }
        return Ok(Answer { code: 200, body: present(rt, &req.version, current), warnings });
    }
    if req.dry_run() {
        return Ok(Answer { code: 200, body: present(rt, &req.version, &new), warnings });
    }
    let deleting = current.pointer("/metadata/deletionTimestamp").is_some();
    if deleting && new.pointer("/metadata/finalizers").is_none() {
        // The last finalizer is gone: the object goes. The answer is the final state at the
        // previous resourceVersion, as the real server answers.
        state.remove(&store, meta_str(current, "namespace").unwrap_or(""), &name);
        after_remove(state, rt, current);
        return Ok(Answer { code: 200, body: present(rt, &req.version, &new), warnings });
    }
    let stored = state.replace(&store, new);
    state.managers.insert(uid, managers);
    if rt.group == "apiextensions.k8s.io" {
        if let Some(t) = from_crd(&stored) {
            if stored.pointer("/status/conditions").and_then(Value::as_array).is_some_and(|c| !c.is_empty()) {
                state.types.insert((t.group.clone(), t.plural.clone()), t);
            }
        }
    }
    Ok(Answer { code: 200, body: present(rt, &req.version, &stored), warnings })
}

/// Bookkeeping after an object left the store.
fn after_remove(state: &mut State, rt: &ResourceType, obj: &Value) {
    if rt.group == "apiextensions.k8s.io" {
        if let Some(t) = from_crd(obj) {
            state.types.remove(&(t.group.clone(), t.plural.clone()));
            state.objects.remove(&(t.group, t.plural));
        }
    }
}

/// PATCH (merge, JSON, strategic, apply).
pub fn patch(state: &mut State, rt: &ResourceType, req: &Req) -> ApiResult<Answer> {
    req.check_dry_run("PatchOptions")?;
    let name = req.name.clone().unwrap_or_default();
    let sub = req.sub.clone().unwrap_or_default();
    let store = store_key(rt);
    let current = state.get(&store, req.ns(), &name).cloned();
    let ct = req.content_type.as_str();
    if ct == "application/apply-patch+yaml" || ct == "application/apply-patch+cbor" {
        return apply_patch(state, rt, req, current);
    }
    let current = current.ok_or_else(|| not_found(rt, &name))?;
    let mut view = present(rt, &req.version, &current);
    match ct {
        "application/merge-patch+json" => crate::patch::merge(&mut view, &parse_json(&req.body)?),
        "application/json-patch+json" => {
            let ops = parse_json(&req.body)?;
            if crate::patch::json_patch(&mut view, &ops).is_err() {
                return Err(ApiError {
                    code: 422,
                    reason: "Invalid".into(),
                    message: "the server rejected our request due to an error in our request".into(),
                    details: Some(json!({})),
                });
            }
        }
        "application/strategic-merge-patch+json" if !rt.custom => crate::patch::strategic(&mut view, &parse_json(&req.body)?),
        _ => return Err(ApiError::unsupported_patch(rt.custom)),
    }
    if !view.is_object() {
        return Err(ApiError::bad_request("the patched object is not a JSON object"));
    }
    // A resourceVersion in the patch is a precondition.
    if meta_str(&view, "resourceVersion") != meta_str(&current, "resourceVersion") {
        if meta_str(&view, "resourceVersion").is_some() {
            return Err(ApiError::conflict(&rt.group, &rt.plural, &name));
        }
        view["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    }
    let (view, warnings) = decode_builtin(rt, req, view)?;
    let new = ingest(rt, view);
    let manager = manager_of(req, "unknown");
    with_warnings(finish_write(state, rt, req, &current, new, &sub, WriteOwner::Update(&manager)), warnings)
}

fn apply_patch(state: &mut State, rt: &ResourceType, req: &Req, current: Option<Value>) -> ApiResult<Answer> {
    let name = req.name.clone().unwrap_or_default();
    let sub = req.sub.clone().unwrap_or_default();
    let Some(manager) = req.q("fieldManager").map(String::from) else {
        return Err(ApiError::bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set"));
    };
    let applied: Value =
        serde_yaml::from_slice::<Value>(&req.body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !applied.is_object() {
        return Err(ApiError::bad_request("apply patch must be an object"));
    }
    if applied.get("apiVersion").and_then(Value::as_str).unwrap_or("").is_empty()
        || applied.get("kind").and_then(Value::as_str).unwrap_or("").is_empty()
    {
        return Err(ApiError::bad_request("invalid object type: /, Kind="));
    }
    let (applied, warnings) = decode_builtin(rt, req, applied)?;
    let applied = if rt.group == "events.k8s.io" { events::from_events_v1(&applied) } else { applied };
    if current.is_none() && sub == "status" {
        return Err(not_found(rt, &name));
    }
    if let Some(n) = meta_str(&applied, "name") {
        if n != name {
            return Err(ApiError::bad_request(format!("the name of the object ({n}) does not match the name on the URL ({name})")));
        }
    }
    let force = req.flag("force");
    let version = rt.storage_version().to_string();
    match current {
        None => {
            if sub == "status" {
                return Err(not_found(rt, &name));
            }
            let mut managers = apply::Managers::new();
            let mut created =
                apply::apply(rt, &version, None, &applied, &manager, "", force, &mut managers).map_err(|c| conflict_error(&c))?;
            meta_mut(&mut created).insert("name".into(), json!(name));
            let created = ingest(rt, created);
            with_warnings(create_object(state, rt, req, created, None, Some(managers)), warnings)
        }
        Some(cur) => {
            if let Some(rv) = meta_str(&applied, "resourceVersion") {
                if Some(rv) != meta_str(&cur, "resourceVersion") {
                    return Err(ApiError::conflict(&rt.group, &rt.plural, &name));
                }
            }
            let uid = meta_str(&cur, "uid").unwrap_or("").to_string();
            let mut managers = state.managers.get(&uid).cloned().unwrap_or_default();
            let merged =
                apply::apply(rt, &version, Some(&cur), &applied, &manager, &sub, force, &mut managers).map_err(|c| conflict_error(&c))?;
            let merged = ingest(rt, merged);
            with_warnings(finish_write(state, rt, req, &cur, merged, &sub, WriteOwner::Applied(managers)), warnings)
        }
    }
}

fn conflict_error(conflicts: &[apply::Conflict]) -> ApiError {
    let n = conflicts.len();
    let text = if n == 1 {
        format!("conflict with \"{}\": {}", conflicts[0].manager, conflicts[0].field)
    } else {
        let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for m in managers {
            lines.push(format!("conflicts with \"{m}\":"));
            for c in conflicts.iter().filter(|c| c.manager == m) {
                lines.push(format!("- {}", c.field));
            }
        }
        lines.join("\n")
    };
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{}\"", c.manager), "field": c.field}))
        .collect();
    ApiError {
        code: 409,
        reason: "Conflict".into(),
        message: format!("Apply failed with {n} conflict{}: {text}", if n == 1 { "" } else { "s" }),
        details: Some(json!({"causes": causes})),
    }
}

// ---------------------------------------------------------------- deletion

fn delete_options(req: &Req) -> ApiResult<Value> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    parse_json(&req.body)
}

/// DELETE of one object.
pub fn delete(state: &mut State, rt: &ResourceType, req: &Req) -> ApiResult<Answer> {
    let name = req.name.clone().unwrap_or_default();
    let opts = delete_options(req)?;
    let current = state.get(&store_key(rt), req.ns(), &name).cloned().ok_or_else(|| not_found(rt, &name))?;
    if let Some(uid) = opts.pointer("/preconditions/uid").and_then(Value::as_str) {
        let actual = meta_str(&current, "uid").unwrap_or("");
        if uid != actual {
            return Err(ApiError::conflict_msg(
                &rt.group,
                &rt.plural,
                &name,
                &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"),
            ));
        }
    }
    if let Some(rv) = opts.pointer("/preconditions/resourceVersion").and_then(Value::as_str) {
        let actual = meta_str(&current, "resourceVersion").unwrap_or("");
        if rv != actual {
            return Err(ApiError::conflict_msg(
                &rt.group,
                &rt.plural,
                &name,
                &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"),
            ));
        }
    }
    if req.dry_run() {
        return ok(200, present(rt, &req.version, &current));
    }
    let answer = delete_object(state, rt, &current);
    reconcile(state);
    let still_there = state.get(&store_key(rt), req.ns(), &name).is_some();
    match answer {
        Some(obj) if rt.delete_returns_object || still_there => ok(200, present(rt, &req.version, &obj)),
        _ => ok(
            200,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                   "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": meta_str(&current, "uid")}}),
        ),
    }
}

/// Deletes one stored object the way the registry does; returns what DELETE answers.
fn delete_object(state: &mut State, rt: &ResourceType, current: &Value) -> Option<Value> {
    let store = store_key(rt);
    let ns = meta_str(current, "namespace").unwrap_or("").to_string();
    let name = meta_str(current, "name").unwrap_or("").to_string();
    let deleting = current.pointer("/metadata/deletionTimestamp").is_some();
    if rt.group.is_empty() && rt.plural == "namespaces" {
        if deleting {
            return Some(current.clone());
        }
        let mut n = current.clone();
        n["metadata"]["deletionTimestamp"] = json!(meta::now());
        n["status"]["phase"] = json!("Terminating");
        return Some(state.replace(&store, n));
    }
    if rt.group == "apiextensions.k8s.io" {
        if deleting {
            return Some(current.clone());
        }
        let mut c = current.clone();
        c["metadata"]["deletionTimestamp"] = json!(meta::now());
        let fins = meta_mut(&mut c).entry("finalizers").or_insert(json!([]));
        if let Some(a) = fins.as_array_mut() {
            let f = json!("customresourcecleanup.apiextensions.k8s.io");
            if !a.contains(&f) {
                a.push(f);
            }
        }
        if let Some(conds) = c.pointer_mut("/status/conditions").and_then(Value::as_array_mut) {
            conds.push(json!({"type": "Terminating", "status": "True", "lastTransitionTime": meta::now(),
                "reason": "InstanceDeletionPending", "message": "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon"}));
        }
        return Some(state.replace(&store, c));
    }
    let has_finalizers = current.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    if has_finalizers {
        if deleting {
            return Some(current.clone());
        }
        let mut o = current.clone();
        o["metadata"]["deletionTimestamp"] = json!(meta::now());
        o["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        if rt.generation {
            let g = o.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            o["metadata"]["generation"] = json!(g + 1);
        }
        return Some(state.replace(&store, o));
    }
    let removed = state.remove(&store, &ns, &name);
    after_remove(state, rt, current);
    removed
}

/// DELETE on a collection: deletes every matching object; answers the list of them.
pub fn delete_collection(state: &mut State, rt: &ResourceType, req: &Req) -> ApiResult<Answer> {
    let sel = Selectors::of(rt, req)?;
    let ns = if rt.namespaced { req.namespace.as_deref() } else { None };
    let targets: Vec<Value> = state.list(&store_key(rt), ns).into_iter().filter(|o| sel.matches(o)).cloned().collect();
    let mut items = Vec::new();
    if !req.dry_run() {
        for t in &targets {
            if let Some(o) = delete_object(state, rt, t) {
                items.push(present(rt, &req.version, &o));
            }
        }
        reconcile(state);
    }
    ok(
        200,
        json!({"apiVersion": rt.api_version(&req.version), "kind": rt.list_kind, "metadata": {"resourceVersion": state.rv.to_string()}, "items": items}),
    )
}

/// The controllers the stand-in runs synchronously after deletions: a terminating CRD
/// deletes its instances and goes when none remain; a terminating namespace deletes its
/// contents and goes when empty.
pub fn reconcile(state: &mut State) {
    for _ in 0..16 {
        let mut changed = false;
        let crd_store: StoreKey = ("apiextensions.k8s.io".into(), "customresourcedefinitions".into());
        let terminating_crds: Vec<Value> =
            state.list(&crd_store, None).into_iter().filter(|c| c.pointer("/metadata/deletionTimestamp").is_some()).cloned().collect();
        for crd in terminating_crds {
            let Some(t) = from_crd(&crd) else { continue };
            let rt = state.type_of(&t.group, &t.plural).cloned().unwrap_or(t);
            let instances: Vec<Value> = state.list(&rt.store_key(), None).into_iter().cloned().collect();
            for i in &instances {
                if i.pointer("/metadata/deletionTimestamp").is_none() {
                    delete_object(state, &rt, i);
                    changed = true;
                }
            }
            if state.list(&rt.store_key(), None).is_empty() {
                let name = meta_str(&crd, "name").unwrap_or("").to_string();
                state.remove(&crd_store, "", &name);
                state.types.remove(&(rt.group.clone(), rt.plural.clone()));
                state.objects.remove(&rt.store_key());
                changed = true;
            }
        }
        let ns_store: StoreKey = (String::new(), "namespaces".into());
        let terminating_ns: Vec<String> = state
            .list(&ns_store, None)
            .into_iter()
            .filter(|n| n.pointer("/metadata/deletionTimestamp").is_some())
            .filter_map(|n| meta_str(n, "name").map(String::from))
            .collect();
        for ns in terminating_ns {
            let types: Vec<ResourceType> = state.types.values().filter(|t| t.namespaced && t.group != "events.k8s.io").cloned().collect();
            let mut empty = true;
            for rt in types {
                let objs: Vec<Value> = state.list(&rt.store_key(), Some(&ns)).into_iter().cloned().collect();
                for o in &objs {
                    empty = false;
                    if o.pointer("/metadata/deletionTimestamp").is_none() {
                        delete_object(state, &rt, o);
                        changed = true;
                    }
                }
            }
            if empty {
                state.remove(&ns_store, "", &ns);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Runs the controllers after any write (finalizer removal can finish a deletion).
pub fn after_write(state: &mut State) {
    reconcile(state);
}
