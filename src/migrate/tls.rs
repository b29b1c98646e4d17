//! The TLS negotiation policy of an HTTPS or SSL listener: a Classic `ELBSecurityPolicy-*`
//! (`spec.listeners[].sslPolicy`) → the nearest ELBv2 policy.
//!
//! Sources (AWS documentation, read 2026):
//! - Classic: "Predefined SSL security policies for Classic Load Balancers",
//!   <https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-security-policy-table.html>,
//!   and "Update the SSL negotiation configuration of your Classic Load Balancer" (a listener
//!   created without a policy gets `ELBSecurityPolicy-2016-08`).
//! - ALB: "Security policies for your Application Load Balancer",
//!   <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html>.
//! - NLB: "Security policies for your Network Load Balancer",
//!   <https://docs.aws.amazon.com/elasticloadbalancing/latest/network/describe-ssl-policies.html>.
//!   The default of listeners created through the API, and of the LBC's `ssl-policy`
//!   annotations, is `ELBSecurityPolicy-2016-08` on both.
//!
//! The four current Classic policies exist under the same name, with the same TLS versions,
//! on ALB and NLB. The older ones enable SSLv3, or ciphers (RC4, 3DES, DHE, DSS) that no ELBv2
//! policy offers: they map to `ELBSecurityPolicy-2016-08`, the ELBv2 policy with the widest
//! protocol range (TLS 1.0-1.2), and the report says what is lost.

use super::Verdict;

/// The ELBv2 default for HTTPS/TLS listeners (and the LBC's), and the Classic default.
pub const DEFAULT_POLICY: &str = "ELBSecurityPolicy-2016-08";

/// Classic policies that ELBv2 offers under the same name and TLS versions.
pub const SAME_NAME: &[&str] =
    &["ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-1-2017-01", "ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-2015-05"];

/// Older Classic policies and what of them ELBv2 lacks.
pub const OLDER: &[(&str, &str)] = &[
    ("ELBSecurityPolicy-2015-03", "its DHE and 3DES ciphers"),
    ("ELBSecurityPolicy-2015-02", "its DHE, 3DES and RC4 ciphers"),
    ("ELBSecurityPolicy-2014-10", "its RC4 and DHE ciphers"),
    ("ELBSecurityPolicy-2014-01", "SSLv3 and its RC4 ciphers"),
    ("ELBSecurityPolicy-2011-08", "SSLv3 and its RC4 and DSS ciphers"),
    ("ELBSample-ELBDefaultCipherPolicy", "SSLv3 and its RC4 ciphers"),
    ("ELBSample-OpenSSLDefaultCipherPolicy", "SSLv3 and its RC4 ciphers"),
];

/// The ELBv2 policy for a Classic listener's `sslPolicy` (`None`: unset), and how close it is.
pub fn elbv2_policy(classic: Option<&str>) -> (&'static str, Verdict) {
    let Some(classic) = classic else {
        return (DEFAULT_POLICY, Verdict::Exact);
    };
    if let Some(same) = SAME_NAME.iter().find(|p| **p == classic) {
        return (same, Verdict::Exact);
    }
    if let Some((_, lost)) = OLDER.iter().find(|(p, _)| *p == classic) {
        return (
            DEFAULT_POLICY,
            Verdict::Approximated(format!(
                "{classic} has no ELBv2 twin: {DEFAULT_POLICY} keeps TLS 1.0-1.2 but not {lost}; clients that need them fail the handshake"
            )),
        );
    }
    (
        DEFAULT_POLICY,
        Verdict::Approximated(format!("{classic} is not in the AWS table of Classic policies: {DEFAULT_POLICY} chosen; check it")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_policies_keep_their_name_older_ones_become_2016_08() {
        assert_eq!(elbv2_policy(None), (DEFAULT_POLICY, Verdict::Exact), "both sides default to 2016-08");
        assert_eq!(elbv2_policy(Some("ELBSecurityPolicy-TLS-1-2-2017-01")), ("ELBSecurityPolicy-TLS-1-2-2017-01", Verdict::Exact));
        let (p, v) = elbv2_policy(Some("ELBSecurityPolicy-2014-01"));
        assert_eq!(p, DEFAULT_POLICY);
        assert!(v.how().contains("SSLv3"), "{v:?}");
        let (p, v) = elbv2_policy(Some("ELBSecurityPolicy-Nonesuch"));
        assert_eq!((p, v.word()), (DEFAULT_POLICY, "approximated"));
        for p in SAME_NAME.iter().chain(OLDER.iter().map(|(p, _)| p)) {
            assert!(p.starts_with("ELB"), "the CRD's sslPolicy pattern admits {p}");
        }
    }
}
