//! The migration report as a person or a program reads it, its exit code, and the cutover
//! plan with the real names.

use serde::Serialize;

use super::manifests::{alb_service, nlb_service};
use super::{Migration, Target, Verdict};

/// Exit code when every field mapped exactly.
pub const EXIT_EXACT: u8 = 0;
/// Exit code when a field was approximated or not carried.
pub const EXIT_INEXACT: u8 = 3;

/// What `elb-operator migrate` found, for `-o json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// One translation per LoadBalancer, by namespace and name.
    pub load_balancers: Vec<Migration>,
    /// Where the manifests were written (one file per LoadBalancer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifests_dir: Option<String>,
}

impl Report {
    /// 0 when every field of every LoadBalancer mapped exactly, else 3.
    pub fn exit_code(&self) -> u8 {
        if self.load_balancers.iter().all(|m| m.outcome() == "exact") {
            EXIT_EXACT
        } else {
            EXIT_INEXACT
        }
    }
}

/// The manifests' file name of one LoadBalancer.
pub fn file_name(m: &Migration) -> String {
    format!("{}_{}.yaml", m.namespace, m.name)
}

fn targets(m: &Migration) -> String {
    m.targets.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" + ")
}

/// The report as text: per LoadBalancer a header, a table of fields, what to create in AWS.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    if report.load_balancers.is_empty() {
        out.push_str("No LoadBalancers found.\n");
    }
    for m in &report.load_balancers {
        out.push_str(&format!(
            "LoadBalancer {}/{} (ELB {}) -> {}: {}\n",
            m.namespace,
            m.name,
            if m.elb_name.is_empty() { "not created yet" } else { &m.elb_name },
            targets(m),
            m.target_reason
        ));
        out.push_str(&fields_table(m));
        if !m.to_create.is_empty() {
            out.push_str("Create in AWS before applying:\n");
            for c in &m.to_create {
                out.push_str(&format!("  - {c}\n"));
            }
        }
        let count = |word: &str| m.fields.iter().filter(|f| f.verdict.word() == word).count();
        out.push_str(&format!(
            "{} fields: {} exact, {} approximated, {} not carried; {} objects",
            m.fields.len(),
            count("exact"),
            count("approximated"),
            count("not carried"),
            m.manifests.len()
        ));
        match &report.manifests_dir {
            Some(dir) => out.push_str(&format!(" in {dir}/{}\n\n", file_name(m))),
            None => out.push_str("\n\n"),
        }
    }
    out
}

/// FIELD, VERDICT and TARGET in columns, three spaces apart as `kubectl get` prints them; the
/// how or why of a field that is not exact on the line below it, under TARGET.
fn fields_table(m: &Migration) -> String {
    let width = |head: &str, cell: &dyn Fn(&super::Mapping) -> usize| m.fields.iter().map(cell).max().unwrap_or(0).max(head.len());
    let field_w = width("FIELD", &|f| f.field.chars().count());
    let verdict_w = width("VERDICT", &|f| f.verdict.word().len());
    let line = |a: &str, b: &str, c: &str| format!("{}\n", format!("{a:<field_w$}   {b:<verdict_w$}   {c}").trim_end());
    let mut out = line("FIELD", "VERDICT", "TARGET");
    for f in &m.fields {
        out.push_str(&line(&f.field, f.verdict.word(), &f.target));
        if !f.verdict.how().is_empty() {
            out.push_str(&line("", "", &format!("^ {}", f.verdict.how())));
        }
    }
    out
}

/// The cutover steps of one LoadBalancer, with its real names. `file`: where its manifests
/// are; `dns_name`: the Classic ELB's DNS name (status), when known.
pub fn cutover_plan(m: &Migration, file: &str, dns_name: Option<&str>) -> String {
    let ns = &m.namespace;
    let old = dns_name.unwrap_or("<status.dnsName>");
    let mut new_names = Vec::new();
    for t in &m.targets {
        match t {
            Target::Alb => {
                let ing = m.manifests.iter().find(|o| o["kind"] == "Ingress").and_then(|o| o["metadata"]["name"].as_str()).unwrap_or("");
                new_names.push(format!(
                    "kubectl get ingress -n {ns} {ing} -o jsonpath='{{.status.loadBalancer.ingress[0].hostname}}'   # the ALB (Service {})",
                    alb_service(&m.name)
                ));
            }
            Target::Nlb => new_names.push(format!(
                "kubectl get service -n {ns} {} -o jsonpath='{{.status.loadBalancer.ingress[0].hostname}}'   # the NLB",
                nlb_service(&m.name)
            )),
        }
    }
    let blocking = m.fields.iter().filter(|f| matches!(f.verdict, Verdict::NotCarried(_))).count();
    let mut steps = vec![format!(
        "Review the report: {} field(s) not carried; {}",
        blocking,
        if m.to_create.is_empty() {
            "nothing to create in AWS first".to_string()
        } else {
            format!("create first: {}", m.to_create.join("; "))
        }
    )];
    steps.push(format!("Run both side by side: kubectl apply -f {file}   (the Classic ELB {} keeps serving at {old})", m.elb_name));
    steps.push(format!(
        "Wait until the LBC has provisioned and the targets are healthy; the new DNS name(s):\n     {}",
        new_names.join("\n     ")
    ));
    steps.push(format!(
        "Move DNS from {old} to the new name: with spec.dns.hostnames (ExternalDNS), move the hostname to the new load balancer, or put a weighted record pair in front (Classic weight 100 -> 0 in steps)"
    ));
    steps.push(format!(
        "Wait for the record's TTL and until the Classic ELB {} has no more requests (CloudWatch AWS/ELB RequestCount, LoadBalancerName={})",
        m.elb_name, m.elb_name
    ));
    steps.push(format!(
        "Choose what deleting the resource does, then delete it: kubectl patch loadbalancer -n {ns} {} --type merge -p '{{\"spec\":{{\"deletionPolicy\":\"Delete\"}}}}' && kubectl delete loadbalancer -n {ns} {}   (deletionPolicy Retain keeps the Classic ELB in AWS for a rollback)",
        m.name, m.name
    ));
    let mut out = format!("Cutover of LoadBalancer {ns}/{} (ELB {}) to {}:\n", m.name, m.elb_name, targets(m));
    for (i, s) in steps.iter().enumerate() {
        out.push_str(&format!("  {}. {s}\n", i + 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::Mapping;

    fn migration(verdicts: Vec<Verdict>) -> Migration {
        Migration {
            namespace: "web".into(),
            name: "shop".into(),
            elb_name: "shop-elb".into(),
            targets: vec![Target::Alb],
            target_reason: "all listeners are HTTP or HTTPS: an ALB".into(),
            fields: verdicts.into_iter().map(|v| Mapping { field: "f".into(), target: "t".into(), verdict: v }).collect(),
            to_create: vec![],
            manifests: vec![serde_json::json!({"kind": "Ingress", "metadata": {"name": "shop-alb-80"}})],
        }
    }

    #[test]
    fn the_exit_code_is_0_only_when_every_field_is_exact() {
        let exact = Report { load_balancers: vec![migration(vec![Verdict::Exact])], manifests_dir: None };
        assert_eq!(exact.exit_code(), 0);
        let approx =
            Report { load_balancers: vec![migration(vec![Verdict::Exact, Verdict::Approximated("x".into())])], manifests_dir: None };
        assert_eq!(approx.exit_code(), 3);
        let lost = Report { load_balancers: vec![migration(vec![Verdict::NotCarried("y".into())])], manifests_dir: None };
        assert_eq!((lost.exit_code(), lost.load_balancers[0].outcome()), (3, "not carried"));
        let json = serde_json::to_value(&lost).unwrap();
        assert_eq!(json["loadBalancers"][0]["fields"][0]["verdict"], "not carried");
        assert_eq!(json["loadBalancers"][0]["fields"][0]["how"], "y");
    }

    #[test]
    fn the_cutover_plan_names_the_real_objects() {
        let plan = cutover_plan(&migration(vec![Verdict::Exact]), "out/web_shop.yaml", Some("shop-elb-1.us-east-1.elb.amazonaws.com"));
        assert!(plan.contains("kubectl apply -f out/web_shop.yaml"), "{plan}");
        assert!(plan.contains("kubectl get ingress -n web shop-alb-80"), "{plan}");
        assert!(plan.contains("shop-elb-1.us-east-1.elb.amazonaws.com"), "{plan}");
        assert!(plan.contains("kubectl delete loadbalancer -n web shop"), "{plan}");
        assert!(plan.contains("LoadBalancerName=shop-elb"), "{plan}");
    }
}
