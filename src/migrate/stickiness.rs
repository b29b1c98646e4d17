//! Classic cookie stickiness (per listener) as ALB target group attributes.

use super::Verdict;

/// ELBv2's bound on stickiness durations (7 days).
const MAX_STICKINESS_SECONDS: i64 = 604_800;
/// The duration an ALB cookie gets when the Classic one lasted the browser session: the
/// ALB's default (1 day); an ALB cookie always expires.
const ALB_DEFAULT_COOKIE_SECONDS: i64 = 86_400;

/// Classic cookie stickiness as ALB target group attributes.
pub fn alb_stickiness(s: &crate::crd::Stickiness) -> (Vec<(String, String)>, Verdict) {
    let mut pairs = vec![("stickiness.enabled".to_string(), "true".to_string())];
    match (&s.cookie_name, s.expiration_seconds) {
        (Some(cookie), _) => {
            pairs.push(("stickiness.type".into(), "app_cookie".into()));
            pairs.push(("stickiness.app_cookie.cookie_name".into(), cookie.clone()));
            pairs.push(("stickiness.app_cookie.duration_seconds".into(), ALB_DEFAULT_COOKIE_SECONDS.to_string()));
            // ALB reserves these prefixes for its own cookies.
            if ["AWSALB", "AWSALBAPP", "AWSALBTG"].iter().any(|p| cookie.starts_with(p)) {
                return (pairs, Verdict::NotCarried(format!("an ALB refuses an application cookie named {cookie} (AWSALB* is reserved)")));
            }
            (
                pairs,
                Verdict::Approximated(format!(
                    "the ALB follows {cookie} through its own AWSALBAPP cookie, which lasts {ALB_DEFAULT_COOKIE_SECONDS} s; the Classic ELB followed the application cookie's own lifetime"
                )),
            )
        }
        (None, Some(secs)) => {
            pairs.push(("stickiness.type".into(), "lb_cookie".into()));
            let d = secs.min(MAX_STICKINESS_SECONDS);
            pairs.push(("stickiness.lb_cookie.duration_seconds".into(), d.to_string()));
            let verdict = if d == secs {
                Verdict::Exact
            } else {
                Verdict::Approximated(format!("an ALB cookie lasts at most {MAX_STICKINESS_SECONDS} s (7 days): {secs} s became {d} s"))
            };
            (pairs, verdict)
        }
        (None, None) => {
            pairs.push(("stickiness.type".into(), "lb_cookie".into()));
            pairs.push(("stickiness.lb_cookie.duration_seconds".into(), ALB_DEFAULT_COOKIE_SECONDS.to_string()));
            (
                pairs,
                Verdict::Approximated(format!(
                    "the Classic cookie lasted the browser session; an ALB cookie always expires: {ALB_DEFAULT_COOKIE_SECONDS} s"
                )),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_cookie_and_a_reserved_cookie_name_are_not_exact() {
        let (_, v) = alb_stickiness(&crate::crd::Stickiness { cookie_name: None, expiration_seconds: None });
        assert_eq!(v.word(), "approximated");
        let (_, v) = alb_stickiness(&crate::crd::Stickiness { cookie_name: Some("AWSALBAPP-0".into()), expiration_seconds: None });
        assert_eq!(v.word(), "not carried");
        let (pairs, v) = alb_stickiness(&crate::crd::Stickiness { cookie_name: None, expiration_seconds: Some(10_000_000) });
        assert!(v.how().contains("604800") && pairs.iter().any(|(k, val)| k == "stickiness.lb_cookie.duration_seconds" && val == "604800"));
        let (_, v) = alb_stickiness(&crate::crd::Stickiness { cookie_name: None, expiration_seconds: Some(60) });
        assert_eq!(v, Verdict::Exact);
    }
}
