//! Label selectors, with Kubernetes' semantics (`metav1.LabelSelectorAsSelector`): every
//! `matchLabels` pair and every `matchExpressions` requirement must hold; an empty selector
//! selects everything. `In` and `NotIn` need values, `Exists` and `DoesNotExist` take none;
//! `NotIn` and `DoesNotExist` hold for a label that is absent.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

/// Whether `labels` are selected by `selector`, or why the selector is invalid (Kubernetes
/// refuses to evaluate such a selector; a caller must not read it as "everything").
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    let pairs = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let mut all = pairs;
    for requirement in selector.match_expressions.iter().flatten() {
        // Every requirement is checked for validity, also after one failed to hold.
        all &= holds(requirement, labels)?;
    }
    Ok(all)
}

fn holds(r: &LabelSelectorRequirement, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    let values = r.values.as_deref().unwrap_or_default();
    let value = labels.get(&r.key);
    match r.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => Err(format!("{} {}: values must not be empty", r.key, r.operator)),
        "In" => Ok(value.is_some_and(|v| values.contains(v))),
        "NotIn" => Ok(!value.is_some_and(|v| values.contains(v))),
        "Exists" | "DoesNotExist" if !values.is_empty() => Err(format!("{} {}: values must be empty", r.key, r.operator)),
        "Exists" => Ok(value.is_some()),
        "DoesNotExist" => Ok(value.is_none()),
        other => Err(format!("{}: unknown operator {other:?} (In, NotIn, Exists or DoesNotExist)", r.key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(yaml: &str) -> LabelSelector {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn empty_selector_selects_everything() {
        assert_eq!(matches(&selector("{}"), &labels(&[])), Ok(true));
        assert_eq!(matches(&selector("{matchLabels: {}, matchExpressions: []}"), &labels(&[("a", "b")])), Ok(true));
    }

    #[test]
    fn match_labels_need_every_pair() {
        let s = selector("{matchLabels: {team: a, env: prod}}");
        assert_eq!(matches(&s, &labels(&[("team", "a"), ("env", "prod"), ("x", "y")])), Ok(true));
        assert_eq!(matches(&s, &labels(&[("team", "a")])), Ok(false));
        assert_eq!(matches(&s, &labels(&[("team", "a"), ("env", "dev")])), Ok(false));
    }

    #[test]
    fn expressions_follow_kubernetes() {
        let cases = [
            ("{key: env, operator: In, values: [prod, staging]}", &[("env", "prod")][..], true),
            ("{key: env, operator: In, values: [prod, staging]}", &[("env", "dev")][..], false),
            ("{key: env, operator: In, values: [prod]}", &[][..], false),
            ("{key: env, operator: NotIn, values: [prod]}", &[("env", "dev")][..], true),
            ("{key: env, operator: NotIn, values: [prod]}", &[("env", "prod")][..], false),
            ("{key: env, operator: NotIn, values: [prod]}", &[][..], true),
            ("{key: env, operator: Exists}", &[("env", "")][..], true),
            ("{key: env, operator: Exists}", &[][..], false),
            ("{key: env, operator: DoesNotExist}", &[][..], true),
            ("{key: env, operator: DoesNotExist}", &[("env", "x")][..], false),
        ];
        for (expr, l, want) in cases {
            let s = selector(&format!("{{matchExpressions: [{expr}]}}"));
            assert_eq!(matches(&s, &labels(l)), Ok(want), "{expr} on {l:?}");
        }
        // Pairs and expressions are ANDed.
        let s = selector("{matchLabels: {team: a}, matchExpressions: [{key: env, operator: In, values: [prod]}]}");
        assert_eq!(matches(&s, &labels(&[("team", "a"), ("env", "prod")])), Ok(true));
        assert_eq!(matches(&s, &labels(&[("team", "b"), ("env", "prod")])), Ok(false));
    }

    #[test]
    fn invalid_selectors_are_errors_not_answers() {
        for (expr, says) in [
            ("{key: env, operator: In, values: []}", "values must not be empty"),
            ("{key: env, operator: NotIn}", "values must not be empty"),
            ("{key: env, operator: Exists, values: [x]}", "values must be empty"),
            ("{key: env, operator: Equals, values: [x]}", "unknown operator"),
        ] {
            // Invalid even when a matchLabels pair already fails.
            let s = selector(&format!("{{matchLabels: {{team: a}}, matchExpressions: [{expr}]}}"));
            let got = matches(&s, &labels(&[("team", "b")]));
            assert!(got.as_ref().is_err_and(|e| e.contains(says)), "{expr}: {got:?}");
        }
    }
}
