//! `elb-operator orphans` as a person reads it: tables like `kubectl get` prints them.

use super::{Orphan, Report};

/// `3d`, `5h`, `12m`, `40s` since `created` (RFC 3339); `-` when unknown.
pub fn age(created: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> String {
    let Some(t) = created.and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()) else {
        return "-".into();
    };
    let s = (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// The report as tables: the orphaned ELBs, the retained ones, and what was deleted.
pub fn table(report: &Report, now: chrono::DateTime<chrono::Utc>) -> String {
    let rows = |list: &[Orphan]| -> Vec<[String; 5]> {
        list.iter()
            .map(|o| {
                [o.name.clone(), o.region.clone(), o.resource.clone(), age(o.created_time.as_deref(), now), o.instances.len().to_string()]
            })
            .collect()
    };
    let mut out = Vec::new();
    let sections = [
        ("orphaned", &report.orphans.orphaned, " (no LoadBalancer resource claims them)"),
        ("retained", &report.orphans.retained, " (deletionPolicy: Retain; never deleted)"),
    ];
    for (title, list, note) in sections {
        if list.is_empty() {
            out.push(format!("No {title} load balancers of cluster {} in {}.\n", report.cluster, report.regions.join(", ")));
        } else {
            let header = format!("{} load balancers{note}:\n", capitalized(title));
            out.push(header + &columns(&["NAME", "REGION", "RESOURCE", "AGE", "INSTANCES"], &rows(list)));
        }
    }
    if let Some(deleted) = &report.deleted {
        let lines: String = deleted.iter().map(|d| format!("{} ({}): {}\n", d.name, d.region, d.result)).collect();
        out.push(format!("Deletions:\n{}", if lines.is_empty() { "none\n".to_string() } else { lines }));
    }
    out.join("\n")
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Left-aligned columns, three spaces apart, as `kubectl get` prints them.
fn columns<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("{}\n", padded.join("   ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orphans::{Deletion, Orphan, Orphans, Report};

    #[test]
    fn ages_in_the_largest_whole_unit() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-05-04T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(age(Some("2024-05-01T10:00:00.000Z"), now), "3d");
        assert_eq!(age(Some("2024-05-04T09:30:00Z"), now), "2h");
        assert_eq!(age(Some("2024-05-04T11:59:15+00:00"), now), "45s");
        assert_eq!(age(Some("2024-05-04T11:15:00Z"), now), "45m");
        assert_eq!(age(Some("2024-05-05T00:00:00Z"), now), "0s", "a clock ahead is not a negative age");
        assert_eq!((age(None, now), age(Some("yesterday"), now)), ("-".into(), "-".into()));
    }

    #[test]
    fn the_table_lists_both_sections_and_the_deletions() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-05-04T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
        let orphan = |name: &str, resource: &str, instances: usize| Orphan {
            name: name.into(),
            region: "us-east-1".into(),
            resource: resource.into(),
            created_time: Some("2024-05-01T10:00:00Z".into()),
            instances: (0..instances).map(|i| format!("i-{i}")).collect(),
            cluster_uid: None,
        };
        let report = Report {
            cluster: "prod".into(),
            regions: vec!["us-east-1".into()],
            orphans: Orphans { orphaned: vec![orphan("web-gone-lb-1a2b3c4d", "web/gone-lb", 2)], retained: vec![] },
            deleted: Some(vec![Deletion { name: "web-gone-lb-1a2b3c4d".into(), region: "us-east-1".into(), result: "deleted".into() }]),
        };
        assert_eq!(
            table(&report, now),
            "Orphaned load balancers (no LoadBalancer resource claims them):\n\
             NAME                   REGION      RESOURCE      AGE   INSTANCES\n\
             web-gone-lb-1a2b3c4d   us-east-1   web/gone-lb   3d    2\n\
             \n\
             No retained load balancers of cluster prod in us-east-1.\n\
             \n\
             Deletions:\n\
             web-gone-lb-1a2b3c4d (us-east-1): deleted\n"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["orphaned"][0]["resource"], "web/gone-lb");
        assert_eq!(json["orphaned"][0]["createdTime"], "2024-05-01T10:00:00Z");
        assert_eq!(json["retained"], serde_json::json!([]));
        assert_eq!(json["deleted"][0]["result"], "deleted");
    }
}
