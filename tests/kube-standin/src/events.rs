//! Events live in one store in core/v1 form; the events.k8s.io/v1 view is a conversion, as
//! in the apiserver, so kube's Recorder (events.k8s.io) and `kubectl describe` (core/v1
//! field selectors on involvedObject) see the same objects.

use serde_json::{Map, Value};

/// (core/v1 field, events.k8s.io/v1 field) pairs that only change name.
const RENAMES: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

fn rename(obj: &Value, from_core: bool, api_version: &str) -> Value {
    let mut out = Map::new();
    if let Value::Object(m) = obj {
        for (k, v) in m {
            let nk = RENAMES
                .iter()
                .find(|(c, e)| if from_core { c == k } else { e == k })
                .map(|(c, e)| if from_core { *e } else { *c })
                .unwrap_or(k.as_str());
            out.insert(nk.to_string(), v.clone());
        }
    }
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    out.insert("kind".into(), Value::String("Event".into()));
    Value::Object(out)
}

/// Storage (core/v1) → events.k8s.io/v1 view.
pub fn to_events_v1(core: &Value) -> Value {
    let mut v = rename(core, true, "events.k8s.io/v1");
    let m = v.as_object_mut().expect("object");
    // Zero-valued fields the Go types always serialise.
    m.entry("deprecatedFirstTimestamp").or_insert(Value::Null);
    m.entry("deprecatedLastTimestamp").or_insert(Value::Null);
    m.entry("deprecatedSource").or_insert(Value::Object(Map::new()));
    if m.get("deprecatedCount").and_then(Value::as_i64) == Some(0) {
        m.remove("deprecatedCount");
    }
    v
}

/// events.k8s.io/v1 body → storage (core/v1) form.
pub fn from_events_v1(ev: &Value) -> Value {
    let mut v = rename(ev, false, "v1");
    normalise_core(&mut v);
    v
}

/// Fills the zero-valued fields core/v1 Events always serialise.
pub fn normalise_core(v: &mut Value) {
    if let Some(m) = v.as_object_mut() {
        m.entry("firstTimestamp").or_insert(Value::Null);
        m.entry("lastTimestamp").or_insert(Value::Null);
        m.entry("source").or_insert(Value::Object(Map::new()));
        if m.get("reportingComponent").and_then(Value::as_str) == Some("") {
            m.remove("reportingComponent");
        }
        if m.get("eventTime").is_none() {
            m.insert("eventTime".into(), Value::Null);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_between_views() {
        let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "a"},
            "regarding": {"name": "w"}, "note": "hi", "reason": "R", "reportingController": "c", "type": "Normal"});
        let core = from_events_v1(&ev);
        assert_eq!(core["involvedObject"]["name"], "w");
        assert_eq!(core["message"], "hi");
        assert_eq!(core["reportingComponent"], "c");
        assert_eq!(core["apiVersion"], "v1");
        let back = to_events_v1(&core);
        assert_eq!(back["note"], "hi");
        assert_eq!(back["regarding"]["name"], "w");
        assert_eq!(back["deprecatedSource"], json!({}));
    }
}
