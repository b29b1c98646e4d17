//! Field errors formatted exactly as `k8s.io/apimachinery/pkg/util/validation/field` does,
//! including Go's `%v`, `%q` and `%#v` renderings of the offending value.

use serde_json::Value;

use super::Cause;

/// `field.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrType {
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    TypeInvalid,
}

impl ErrType {
    fn reason(self) -> &'static str {
        match self {
            ErrType::Required => "FieldValueRequired",
            ErrType::Duplicate => "FieldValueDuplicate",
            ErrType::Invalid => "FieldValueInvalid",
            ErrType::NotSupported => "FieldValueNotSupported",
            ErrType::Forbidden => "FieldValueForbidden",
            ErrType::TooLong => "FieldValueTooLong",
            ErrType::TooMany => "FieldValueTooMany",
            ErrType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    fn text(self) -> &'static str {
        match self {
            ErrType::Required => "Required value",
            ErrType::Duplicate => "Duplicate value",
            ErrType::Invalid | ErrType::TypeInvalid => "Invalid value",
            ErrType::NotSupported => "Unsupported value",
            ErrType::Forbidden => "Forbidden",
            ErrType::TooLong => "Too long",
            ErrType::TooMany => "Too many",
        }
    }
}

/// The bad value of a field error, rendered as Go would print the unstructured value.
#[derive(Debug, Clone)]
pub(crate) enum BadValue {
    /// `field.OmitValueType{}`: no value in the message.
    Omit,
    /// A JSON value (`null` prints as `null`, strings quoted, maps and lists as `%#v`).
    Json(Value),
}

/// One `field.Error`.
#[derive(Debug, Clone)]
pub(crate) struct FieldError {
    pub kind: ErrType,
    /// `None` prints as `<nil>` (a nil `*field.Path`).
    pub field: Option<String>,
    pub value: BadValue,
    pub detail: String,
}

impl FieldError {
    pub fn new(kind: ErrType, field: &str, value: BadValue, detail: impl Into<String>) -> Self {
        Self { kind, field: Some(field.to_string()), value, detail: detail.into() }
    }

    pub fn invalid(field: &str, value: &Value, detail: impl Into<String>) -> Self {
        Self::new(ErrType::Invalid, field, BadValue::Json(value.clone()), detail)
    }

    pub fn required(field: &str) -> Self {
        Self::new(ErrType::Required, field, BadValue::Omit, "")
    }

    /// `field.NotSupported`: valid values quoted and joined.
    pub fn not_supported(field: &str, value: &Value, valid: &[String]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrType::NotSupported, field, BadValue::Json(value.clone()), detail)
    }

    /// `field.TooLong` (the value is never printed).
    pub fn too_long(field: &str, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("may not be more than {max} {}", if max == 1 { "byte" } else { "bytes" })
        } else {
            "value is too long".to_string()
        };
        Self::new(ErrType::TooLong, field, BadValue::Omit, detail)
    }

    /// `field.TooMany`.
    pub fn too_many(field: &str, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 { format!("must have at most {max} items") } else { "has too many items".to_string() };
        let value = if actual >= 0 { BadValue::Json(Value::from(actual)) } else { BadValue::Omit };
        Self::new(ErrType::TooMany, field, value, detail)
    }

    /// The error apiextensions-apiserver adds instead of evaluating CEL rules on an object with
    /// blocking schema errors.
    pub fn cel_skipped() -> Self {
        Self {
            kind: ErrType::Invalid,
            field: None,
            value: BadValue::Json(Value::Null),
            detail:
                "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"
                    .into(),
        }
    }

    /// apiextensions-apiserver's `hasBlockingErr`: these error types stop CEL evaluation.
    pub fn blocks_cel(&self) -> bool {
        matches!(self.kind, ErrType::NotSupported | ErrType::Required | ErrType::TooLong | ErrType::TooMany | ErrType::TypeInvalid)
    }

    /// `(*field.Error).ErrorBody()`.
    pub fn body(&self) -> String {
        let mut s = match (self.kind, &self.value) {
            (ErrType::Required | ErrType::Forbidden | ErrType::TooLong, _) | (_, BadValue::Omit) => self.kind.text().to_string(),
            (_, BadValue::Json(v)) => format!("{}: {}", self.kind.text(), go_value(v)),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    pub fn field_str(&self) -> String {
        self.field.clone().unwrap_or_else(|| "<nil>".to_string())
    }

    pub fn into_cause(self) -> Cause {
        Cause { reason: self.kind.reason().to_string(), field: self.field_str(), message: self.body() }
    }
}

/// The message of a 422 Invalid Status, as `errors.NewInvalid` builds it:
/// `Widget.acc.dev "bad" is invalid: <aggregate>`. Identical error texts are listed once, and
/// more than one error is bracketed, as `field.ErrorList.ToAggregate()` prints them.
/// `qualified_kind` is `Kind.group` (`Kind` alone for the core group).
pub fn invalid_message(qualified_kind: &str, name: &str, causes: &[Cause]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for c in causes {
        let text = c.to_string();
        if !seen.contains(&text) {
            seen.push(text);
        }
    }
    let agg = match seen.len() {
        1 => seen.remove(0),
        _ => format!("[{}]", seen.join(", ")),
    };
    format!("{qualified_kind} {} is invalid: {agg}", go_quote(name))
}

/// Go's `%v` for the simple types and `%q` for strings, `%#v` for maps and slices, as
/// `ErrorBody` picks them.
pub(crate) fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::String(s) => go_quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::Array(_) | Value::Object(_) => go_sharp_v(v),
    }
}

/// Go's `%#v` of an unstructured value.
pub(crate) fn go_sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".to_string(),
        Value::String(s) => go_quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(go_sharp_v).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Object(m) => {
            // fmt sorts map keys; serde_json's map is already sorted.
            let items: Vec<String> = m.iter().map(|(k, v)| format!("{}:{}", go_quote(k), go_sharp_v(v))).collect();
            format!("map[string]interface {{}}{{{}}}", items.join(", "))
        }
    }
}

/// An unstructured number: int64 when the JSON had no fraction or exponent, else float64.
pub(crate) fn go_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        go_float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): shortest digits, exponent
/// form when the exponent is below -4 or at least max(6, digit count) as `%g` decides.
pub(crate) fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Go's shortest formatting.
    let e = format!("{:e}", f);
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let nd = digits.len() as i32;
    let dp = exp + 1;
    // Shortest formatting decides with precision 6.
    let eprec = 6;
    let sign = if neg { "-" } else { "" };
    if exp < -4 || exp >= eprec {
        let frac = if digits.len() > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{frac}e{esign}{:02}", &digits[..1], exp.abs())
    } else if dp <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-dp) as usize))
    } else if dp >= nd {
        format!("{sign}{digits}{}", "0".repeat((dp - nd) as usize))
    } else {
        format!("{sign}{}.{}", &digits[..dp as usize], &digits[dp as usize..])
    }
}

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_float_formats_like_percent_v() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(1000000.0), "1e+06");
        assert_eq!(go_float(123456789.0), "1.23456789e+08");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-2.25), "-2.25");
    }

    #[test]
    fn values_render_as_go_prints_them() {
        assert_eq!(go_value(&json!("a\"b\n")), r#""a\"b\n""#);
        assert_eq!(go_value(&json!(null)), "null");
        assert_eq!(go_value(&json!(true)), "true");
        assert_eq!(go_value(&json!({"port": 80, "name": "x"})), r#"map[string]interface {}{"name":"x", "port":80}"#);
        assert_eq!(go_value(&json!([1, "a"])), r#"[]interface {}{1, "a"}"#);
    }

    #[test]
    fn bodies_follow_the_error_type() {
        assert_eq!(FieldError::too_long("spec.n", 3).body(), "Too long: may not be more than 3 bytes");
        assert_eq!(FieldError::too_long("spec.n", 1).body(), "Too long: may not be more than 1 byte");
        assert_eq!(FieldError::too_many("spec.l", 4, 3).body(), "Too many: 4: must have at most 3 items");
        assert_eq!(FieldError::required("spec.x").body(), "Required value");
        assert_eq!(FieldError::new(ErrType::Forbidden, "spec.x", BadValue::Omit, "nope").body(), "Forbidden: nope");
        assert_eq!(FieldError::new(ErrType::Duplicate, "spec.l[1]", BadValue::Json(json!("a")), "").body(), r#"Duplicate value: "a""#);
        assert_eq!(FieldError::cel_skipped().field_str(), "<nil>");
    }

    #[test]
    fn invalid_message_dedups_identical_errors() {
        let c = Cause { reason: "FieldValueForbidden".into(), field: "metadata.finalizers".into(), message: "Forbidden: x".into() };
        assert_eq!(
            invalid_message("Widget.acc.dev", "w1", &[c.clone(), c]),
            r#"Widget.acc.dev "w1" is invalid: metadata.finalizers: Forbidden: x"#
        );
    }
}
