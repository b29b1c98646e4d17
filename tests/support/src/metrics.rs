//! ELB calls as the operator itself counts them: the `elb_operator_elb_calls_total{action,
//! outcome}` family of its Prometheus metrics, one sample per HTTP attempt (retries
//! included), read back from the text exposition (`Metrics::encode`, what `/metrics` serves).
//! Tests count calls this way rather than through counters on the production client.

use std::collections::BTreeMap;

/// The counter family of ELB calls in the text exposition.
pub const ELB_CALLS: &str = "elb_operator_elb_calls_total";
/// The counter family of EC2 calls (same labels).
pub const EC2_CALLS: &str = "elb_operator_ec2_calls_total";
/// The counter family of Auto Scaling calls (same labels).
pub const AUTOSCALING_CALLS: &str = "elb_operator_autoscaling_calls_total";

/// ELB call attempts by (action, outcome), `outcome` being `success` or an error kind label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElbCalls(BTreeMap<(String, String), u64>);

impl ElbCalls {
    /// The [`ELB_CALLS`] samples of a Prometheus text exposition. Panics on a sample it cannot
    /// read, so that a format change fails the tests instead of counting zero.
    pub fn parse(exposition: &str) -> ElbCalls {
        Self::parse_family(exposition, ELB_CALLS)
    }

    /// The samples of another family of call counters (e.g. [`EC2_CALLS`]).
    pub fn parse_family(exposition: &str, family: &str) -> ElbCalls {
        let mut calls = BTreeMap::new();
        for line in exposition.lines() {
            let Some(rest) = line.strip_prefix(family).and_then(|r| r.strip_prefix('{')) else {
                continue;
            };
            let (labels, value) = rest.split_once("} ").unwrap_or_else(|| panic!("unreadable sample: {line}"));
            let label = |name: &str| {
                labels
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix("=\"")?.strip_suffix('"'))
                    .unwrap_or_else(|| panic!("no {name} label in: {line}"))
                    .to_string()
            };
            let n: u64 = value.trim().parse().unwrap_or_else(|_| panic!("not a count: {line}"));
            calls.insert((label("action"), label("outcome")), n);
        }
        ElbCalls(calls)
    }

    /// The calls made after `earlier` was read (counters only grow).
    pub fn since(&self, earlier: &ElbCalls) -> ElbCalls {
        let diff = self.0.iter().map(|(k, n)| (k.clone(), n - earlier.0.get(k).copied().unwrap_or(0)));
        ElbCalls(diff.filter(|(_, n)| *n > 0).collect())
    }

    /// Attempts of `action`, whatever their outcome.
    pub fn attempts(&self, action: &str) -> u64 {
        self.0.iter().filter(|((a, _), _)| a == action).map(|(_, n)| n).sum()
    }

    /// Attempts of `action` that ended with `outcome`.
    pub fn outcome(&self, action: &str, outcome: &str) -> u64 {
        self.0.get(&(action.to_string(), outcome.to_string())).copied().unwrap_or(0)
    }

    /// Attempts of every action for which `select` holds (e.g. `aws::is_mutating`).
    pub fn matching(&self, select: impl Fn(&str) -> bool) -> u64 {
        self.0.iter().filter(|((a, _), _)| select(a)).map(|(_, n)| n).sum()
    }

    /// Attempts per action.
    pub fn per_action(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for ((action, _), n) in &self.0 {
            *out.entry(action.clone()).or_default() += n;
        }
        out
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPOSITION: &str = r#"# HELP elb_operator_elb_calls ELB API calls by action and outcome.
# TYPE elb_operator_elb_calls counter
elb_operator_elb_calls_total{action="DescribeLoadBalancers",outcome="throttled"} 2
elb_operator_elb_calls_total{action="DescribeLoadBalancers",outcome="success"} 1
elb_operator_elb_calls_total{action="CreateLoadBalancer",outcome="success"} 1
elb_operator_elb_call_duration_seconds_count{action="CreateLoadBalancer"} 1
# EOF
"#;

    #[test]
    fn reads_the_calls_family_only() {
        let calls = ElbCalls::parse(EXPOSITION);
        assert_eq!(calls.attempts("DescribeLoadBalancers"), 3);
        assert_eq!(calls.outcome("DescribeLoadBalancers", "throttled"), 2);
        assert_eq!(calls.outcome("DescribeLoadBalancers", "retryable"), 0);
        assert_eq!(calls.matching(|a| !a.starts_with("Describe")), 1);
        let per_action: Vec<(String, u64)> = calls.per_action().into_iter().collect();
        assert_eq!(per_action, [("CreateLoadBalancer".into(), 1), ("DescribeLoadBalancers".into(), 3)]);
        assert_eq!(calls.total(), 4);
    }

    #[test]
    fn since_keeps_only_new_calls() {
        let before = ElbCalls::parse(EXPOSITION);
        let after = ElbCalls::parse(&EXPOSITION.replace(r#"outcome="success"} 1"#, r#"outcome="success"} 3"#));
        let new = after.since(&before);
        let per_action: Vec<(String, u64)> = new.per_action().into_iter().collect();
        assert_eq!(per_action, [("CreateLoadBalancer".into(), 2), ("DescribeLoadBalancers".into(), 2)]);
        assert_eq!(before.since(&before), ElbCalls::default());
    }

    #[test]
    #[should_panic(expected = "not a count")]
    fn an_unreadable_sample_fails_loudly() {
        ElbCalls::parse(r#"elb_operator_elb_calls_total{action="X",outcome="success"} many"#);
    }
}
