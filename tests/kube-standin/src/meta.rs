//! Object metadata helpers: server-set fields, normalisation, time formatting.

use rand::Rng as _;
use serde_json::{Map, Value};

/// Now as RFC 3339 with seconds precision (`2026-01-01T00:00:00Z`), as metav1.Time.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Now with microseconds, as metav1.MicroTime.
pub fn now_micro() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A random v4 UUID.
pub fn uid() -> String {
    let b: [u8; 16] = rand::rng().random();
    let mut b = b;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// The 5 random characters generateName appends (the apiserver's alphabet, no vowels).
pub fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut r = rand::rng();
    (0..5).map(|_| ALPHABET[r.random_range(0..ALPHABET.len())] as char).collect()
}

/// `metadata` of an object, created if absent.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Map::new());
    }
    obj["metadata"].as_object_mut().expect("metadata is an object")
}

/// A string field of `metadata`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// Drops empty or null metadata lists and maps, as the apiserver's storage round-trip does
/// (kube-rs's finalizer helper relies on `finalizers: []` reading back as absent).
pub fn normalise(obj: &mut Value) {
    let m = meta_mut(obj);
    for key in ["labels", "annotations", "finalizers", "ownerReferences", "managedFields"] {
        let empty = match m.get(key) {
            Some(Value::Null) => true,
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Object(o)) => o.is_empty(),
            _ => false,
        };
        if empty {
            m.remove(key);
        }
    }
    for key in ["generateName", "namespace", "resourceVersion", "uid", "selfLink"] {
        if matches!(m.get(key), Some(Value::Null)) || m.get(key).and_then(Value::as_str) == Some("") {
            m.remove(key);
        }
    }
    for key in ["creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        if matches!(m.get(key), Some(Value::Null)) {
            m.remove(key);
        }
    }
}

/// Why `name` is not a valid object name, in apimachinery's words: an RFC 1123 label for
/// namespaces, an RFC 1123 subdomain otherwise.
pub fn name_problem(name: &str, label: bool) -> Option<String> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !p.starts_with('-')
            && !p.ends_with('-')
    };
    if label {
        if name.len() > 63 {
            return Some(format!("Invalid value: \"{name}\": must be no more than 63 characters"));
        }
        if !part_ok(name) {
            return Some(format!("Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"));
        }
        return None;
    }
    if name.len() > 253 {
        return Some(format!("Invalid value: \"{name}\": must be no more than 253 characters"));
    }
    if !name.split('.').all(part_ok) {
        return Some(format!("Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
    }
    None
}

/// Kubernetes's `duration.HumanDuration`, used for ages in tables.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{dy}d", hours / 24 / 365) };
    }
    format!("{}y", hours / 24 / 365)
}

/// Age of an RFC 3339 timestamp, as HumanDuration; None if unparsable.
pub fn age(ts: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(ts).ok()?;
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds();
    Some(human_duration(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn human_duration_matches_kubernetes() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 120), "3h2m");
        assert_eq!(human_duration(9 * 3600), "9h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
    }

    #[test]
    fn normalise_drops_empty_collections() {
        let mut o = json!({"metadata": {"name": "a", "finalizers": [], "labels": {}, "annotations": null}});
        normalise(&mut o);
        assert_eq!(o, json!({"metadata": {"name": "a"}}));
    }

    #[test]
    fn names_follow_rfc1123() {
        assert_eq!(name_problem("web-1.example", false), None);
        assert!(name_problem("Bad_Name", false).unwrap().contains("RFC 1123 subdomain"));
        assert!(name_problem("a.b", true).unwrap().contains("RFC 1123 label"));
        assert!(name_problem("-a", false).is_some());
    }

    #[test]
    fn name_suffix_is_five_chars() {
        assert_eq!(name_suffix().len(), 5);
        assert_eq!(uid().len(), 36);
    }
}
