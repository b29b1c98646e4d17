//! The Route 53 hosted zone of Classic Load Balancers, per region: what an alias record to
//! an ELB's DNS name names as its `HostedZoneId`. DescribeLoadBalancers returns it as
//! `CanonicalHostedZoneNameID`; CreateLoadBalancer returns only the DNS name, so a new
//! ELB's zone comes from this table, and a region missing from it costs a describe.
//!
//! Source: AWS General Reference, "Elastic Load Balancing endpoints and quotas", service
//! endpoints table, column "Route 53 Hosted Zone ID (Application Load Balancers, Classic
//! Load Balancers)" (https://docs.aws.amazon.com/general/latest/gr/elb.html).

/// `(region, hosted zone id)`, sorted by region.
const ZONES: &[(&str, &str)] = &[
    ("af-south-1", "Z268VQBMOI5EKX"),
    ("ap-east-1", "Z3DQVH9N71FHZ0"),
    ("ap-northeast-1", "Z14GRHDCWA56QT"),
    ("ap-northeast-2", "ZWKZPGTI48KDX"),
    ("ap-northeast-3", "Z5LXEXXYW11ES"),
    ("ap-south-1", "ZP97RAFLXTNZK"),
    ("ap-southeast-1", "Z1LMS91P8CMLE5"),
    ("ap-southeast-2", "Z1GM3OXH4ZPM65"),
    ("ca-central-1", "ZQSVJUPU6J1EY"),
    ("eu-central-1", "Z215JYRZR1TBD5"),
    ("eu-north-1", "Z23TAZ7KASGC05"),
    ("eu-south-1", "Z3ULH7SSC9OV64"),
    ("eu-west-1", "Z32O12XQLNTSW2"),
    ("eu-west-2", "ZHURV8PSTC4K8"),
    ("eu-west-3", "Z3Q77PNBQS71R4"),
    ("me-south-1", "ZS929ML54UICD"),
    ("sa-east-1", "Z2P70J7HTTTPLU"),
    ("us-east-1", "Z35SXDOTRQ7X7K"),
    ("us-east-2", "Z3AADJGX6KTTL2"),
    ("us-west-1", "Z368ELLRRE2KJ0"),
    ("us-west-2", "Z1H1FL5HABSF5"),
];

/// The hosted zone id of the Classic Load Balancers of `region`, if the table has it.
pub fn hosted_zone_id(region: &str) -> Option<&'static str> {
    ZONES.binary_search_by(|(r, _)| (*r).cmp(region)).ok().map(|i| ZONES[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_answers_by_region() {
        assert!(ZONES.windows(2).all(|w| w[0].0 < w[1].0), "sorted, once each: binary search relies on it");
        assert_eq!(hosted_zone_id("us-east-1"), Some("Z35SXDOTRQ7X7K"));
        assert_eq!(hosted_zone_id("eu-west-1"), Some("Z32O12XQLNTSW2"));
        assert_eq!(hosted_zone_id("xx-nowhere-1"), None);
    }
}
