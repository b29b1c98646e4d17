//! The subset of Kubernetes JSONPath that printer columns use: `.a.b`, `['a.b']`, `[0]`,
//! `[-1]`, `[*]`, `..` is not supported, filters `[?(@.x.y=="v")]` with `==`/`!=` and
//! `[?(@.x)]` existence.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    Filter { path: Vec<String>, op: Option<(bool, Value)> },
}

/// A compiled path; `None` from [`JsonPath::parse`] means it could not be parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath(Vec<Step>);

fn parse_literal(s: &str) -> Value {
    let s = s.trim();
    if (s.starts_with('"') && s.ends_with('"') && s.len() >= 2) || (s.starts_with('\'') && s.ends_with('\'') && s.len() >= 2) {
        return Value::String(s[1..s.len() - 1].to_string());
    }
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

impl JsonPath {
    /// Parses a path such as `.status.conditions[?(@.type=="Ready")].status`.
    pub fn parse(src: &str) -> Option<JsonPath> {
        let mut s = src.trim();
        if let Some(inner) = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
            s = inner.trim();
        }
        let s = s.strip_prefix('$').unwrap_or(s);
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        let mut steps = Vec::new();
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    i += 1;
                    let start = i;
                    while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                        i += 1;
                    }
                    let name: String = chars[start..i].iter().collect();
                    if name == "*" {
                        steps.push(Step::All);
                    } else if !name.is_empty() {
                        steps.push(Step::Field(name));
                    }
                }
                '[' => {
                    // Find the matching ']' outside quotes.
                    let start = i + 1;
                    let mut j = start;
                    let mut quote: Option<char> = None;
                    let mut depth = 0;
                    while j < chars.len() {
                        let c = chars[j];
                        match quote {
                            Some(q) if c == q => quote = None,
                            Some(_) => {}
                            None if c == '"' || c == '\'' => quote = Some(c),
                            None if c == '(' => depth += 1,
                            None if c == ')' => depth -= 1,
                            None if c == ']' && depth == 0 => break,
                            None => {}
                        }
                        j += 1;
                    }
                    if j >= chars.len() {
                        return None;
                    }
                    let inner: String = chars[start..j].iter().collect();
                    let inner = inner.trim();
                    i = j + 1;
                    if inner == "*" {
                        steps.push(Step::All);
                    } else if let Some(f) = inner.strip_prefix("?(").and_then(|x| x.strip_suffix(')')) {
                        let f = f.trim();
                        let (lhs, op) = if let Some((l, r)) = f.split_once("==") {
                            (l, Some((true, parse_literal(r))))
                        } else if let Some((l, r)) = f.split_once("!=") {
                            (l, Some((false, parse_literal(r))))
                        } else {
                            (f, None)
                        };
                        let lhs = lhs.trim().strip_prefix('@')?;
                        let path = lhs.split('.').filter(|p| !p.is_empty()).map(String::from).collect();
                        steps.push(Step::Filter { path, op });
                    } else if (inner.starts_with('\'') || inner.starts_with('"')) && inner.len() >= 2 {
                        steps.push(Step::Field(inner[1..inner.len() - 1].to_string()));
                    } else {
                        steps.push(Step::Index(inner.parse().ok()?));
                    }
                }
                c if c.is_whitespace() => i += 1,
                _ => {
                    // A leading bare field name.
                    let start = i;
                    while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                        i += 1;
                    }
                    steps.push(Step::Field(chars[start..i].iter().collect()));
                }
            }
        }
        Some(JsonPath(steps))
    }

    /// All values the path selects, in document order.
    pub fn find(&self, root: &Value) -> Vec<Value> {
        let mut cur = vec![root.clone()];
        for step in &self.0 {
            let mut next = Vec::new();
            for v in cur {
                match step {
                    Step::Field(f) => {
                        if let Some(x) = v.get(f) {
                            next.push(x.clone())
                        }
                    }
                    Step::Index(i) => {
                        if let Value::Array(a) = &v {
                            let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                            if idx >= 0 {
                                if let Some(x) = a.get(idx as usize) {
                                    next.push(x.clone())
                                }
                            }
                        }
                    }
                    Step::All => match v {
                        Value::Array(a) => next.extend(a),
                        Value::Object(m) => next.extend(m.into_iter().map(|(_, x)| x)),
                        _ => {}
                    },
                    Step::Filter { path, op } => {
                        if let Value::Array(a) = v {
                            for item in a {
                                let mut field = Some(&item);
                                for p in path {
                                    field = field.and_then(|f| f.get(p));
                                }
                                let keep = match (field, op) {
                                    (Some(f), Some((true, want))) => f == want,
                                    (Some(f), Some((false, want))) => f != want,
                                    (None, Some((false, _))) => false,
                                    (None, Some((true, _))) => false,
                                    (Some(_), None) => true,
                                    (None, None) => false,
                                };
                                if keep {
                                    next.push(item);
                                }
                            }
                        }
                    }
                }
            }
            cur = next;
        }
        cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_and_indexes() {
        let o = json!({"status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]},
                       "spec": {"a.b": 1, "list": [1, 2, 3]}});
        let p = JsonPath::parse(".status.conditions[?(@.type==\"Ready\")].status").unwrap();
        assert_eq!(p.find(&o), vec![json!("True")]);
        assert_eq!(JsonPath::parse(".spec['a.b']").unwrap().find(&o), vec![json!(1)]);
        assert_eq!(JsonPath::parse(".spec.list[-1]").unwrap().find(&o), vec![json!(3)]);
        assert_eq!(JsonPath::parse("{.spec.list[*]}").unwrap().find(&o).len(), 3);
        assert!(JsonPath::parse(".status.missing").unwrap().find(&o).is_empty());
    }
}
