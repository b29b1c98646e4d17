//! The table `elb-operator plan` prints: one line per LoadBalancer, its planned calls
//! indented below it, and a summary.

use std::fmt::Write;

use super::{Plan, Report};

/// The plan as text.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let rows: Vec<[String; 4]> = report
        .load_balancers
        .iter()
        .map(|e| [format!("{}/{}", e.namespace, e.name), e.elb.clone(), e.region.clone(), summary(&e.plan)])
        .collect();
    let header = ["LOADBALANCER".to_string(), "ELB".into(), "REGION".into(), "PLAN".into()];
    let widths: Vec<usize> = (0..3).map(|i| rows.iter().chain([&header]).map(|r| r[i].len()).max().unwrap_or(0)).collect();
    let line = |out: &mut String, r: &[String; 4]| {
        let _ = writeln!(out, "{:w0$}  {:w1$}  {:w2$}  {}", r[0], r[1], r[2], r[3], w0 = widths[0], w1 = widths[1], w2 = widths[2]);
    };
    line(&mut out, &header);
    for (row, entry) in rows.iter().zip(&report.load_balancers) {
        line(&mut out, row);
        for call in entry.calls() {
            let _ = writeln!(out, "    {} {}", call.action, call.arguments_line());
        }
        if let Plan::Paused { on_resume, .. } = &entry.plan {
            for call in on_resume {
                let _ = writeln!(out, "    (on resume) {} {}", call.action, call.arguments_line());
            }
        }
    }
    let calls: usize = report.load_balancers.iter().map(|e| e.calls().len()).sum();
    let changing = report.load_balancers.iter().filter(|e| !e.calls().is_empty()).count();
    let _ = match (report.load_balancers.len(), changing) {
        (0, _) => writeln!(out, "No LoadBalancers."),
        (_, 0) => write!(out, "No changes: {} LoadBalancer(s) checked", report.load_balancers.len()),
        (n, c) => write!(out, "{c} of {n} LoadBalancer(s) would change, with {calls} AWS call(s)"),
    };
    if !report.load_balancers.is_empty() {
        let pending: Vec<usize> = report
            .load_balancers
            .iter()
            .filter_map(|e| match &e.plan {
                Plan::Paused { on_resume, .. } if !on_resume.is_empty() => Some(on_resume.len()),
                _ => None,
            })
            .collect();
        let _ = match pending.len() {
            0 => writeln!(out, "."),
            n => writeln!(out, "; {n} paused, with {} call(s) on resume.", pending.iter().sum::<usize>()),
        };
    }
    out
}

/// The PLAN column.
fn summary(plan: &Plan) -> String {
    let n = |calls: &[super::Call]| format!("{} call{}", calls.len(), if calls.len() == 1 { "" } else { "s" });
    match plan {
        Plan::InSync => "in sync".into(),
        Plan::Create { calls } => format!("create ({})", n(calls)),
        Plan::Adopt { calls } => format!("adopt ({})", n(calls)),
        Plan::Change { calls } => format!("change ({})", n(calls)),
        Plan::Delete { outcome, calls } => format!("delete: {outcome} ({})", n(calls)),
        Plan::Conflict { reason, claimed_by } => match claimed_by {
            Some(by) => format!("conflict ({reason}): claimed by {by}"),
            None => format!("conflict ({reason})"),
        },
        Plan::Refused { reason, message } => format!("refused ({reason}): {message}"),
        Plan::Paused { deleting, on_resume } => {
            let what = if *deleting { "paused: the deletion waits" } else { "paused: no AWS write" };
            match on_resume.len() {
                0 => what.to_string(),
                _ => format!("{what} (on resume: {})", n(on_resume)),
            }
        }
        Plan::Error { message } => format!("error: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Call, Entry};
    use super::*;
    use crate::sync::plan::Action;
    use crate::sync::removal::RemovalCall;

    fn entry(name: &str, plan: Plan) -> Entry {
        Entry { namespace: "demo".into(), name: name.into(), elb: format!("elb-{name}"), region: "us-east-1".into(), plan }
    }

    #[test]
    fn one_line_per_load_balancer_its_calls_below_and_a_summary() {
        let register = Call::of(&Action::RegisterInstances(vec!["i-1".into()]), "elb-web");
        let report = Report {
            load_balancers: vec![
                entry("web", Plan::Change { calls: vec![register] }),
                entry("api", Plan::InSync),
                entry(
                    "old",
                    Plan::Paused { deleting: true, on_resume: vec![Call::of_removal(&RemovalCall::DeleteLoadBalancer, "elb-old")] },
                ),
            ],
        };
        let text = table(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("LOADBALANCER") && lines[0].ends_with("PLAN"), "{text}");
        assert!(lines[1].starts_with("demo/web") && lines[1].ends_with("change (1 call)"), "{text}");
        assert_eq!(lines[2], r#"    RegisterInstancesWithLoadBalancer Instances=[{"InstanceId":"i-1"}] LoadBalancerName="elb-web""#);
        assert!(lines[3].ends_with("in sync") && lines[4].ends_with("paused: the deletion waits (on resume: 1 call)"), "{text}");
        assert_eq!(lines[5], r#"    (on resume) DeleteLoadBalancer LoadBalancerName="elb-old""#);
        assert_eq!(lines[6], "1 of 3 LoadBalancer(s) would change, with 1 AWS call(s); 1 paused, with 1 call(s) on resume.");
        assert!(report.changes() && !report.failed());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["loadBalancers"][0]["action"], "change");
        assert_eq!(json["loadBalancers"][0]["calls"][0]["action"], "RegisterInstancesWithLoadBalancer");
        assert_eq!(json["loadBalancers"][1]["action"], "inSync");
        assert_eq!(json["loadBalancers"][2]["onResume"][0]["action"], "DeleteLoadBalancer");
    }
}
