//! ELB attributes: cross-zone load balancing, connection draining, idle timeout and access
//! logs.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::*;

/// ELB attributes.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    /// Spread traffic evenly over all instances of all zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_zone: Option<bool>,

    /// Let in-flight requests finish before an instance is deregistered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_draining: Option<ConnectionDrainingSpec>,

    /// Seconds a connection may stay idle (1-4000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4000))]
    pub idle_timeout_seconds: Option<i32>,

    /// Write access logs to S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<AccessLogSpec>,
}

/// Connection draining.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDrainingSpec {
    /// Whether deregistered or unhealthy instances keep their in-flight requests.
    pub enabled: bool,
    /// Seconds to wait for in-flight requests (1-3600). Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_seconds: Option<i32>,
}

/// Access logs.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[x_kube(validation = Rule::new("!self.enabled || (has(self.s3BucketName) && size(self.s3BucketName) > 0)")
    .message("s3BucketName is required when access logs are enabled")
    .reason(Reason::FieldValueRequired)
    .field_path(".s3BucketName"))]
#[serde(rename_all = "camelCase")]
pub struct AccessLogSpec {
    /// Whether access logs are written; needs s3BucketName.
    pub enabled: bool,
    /// The S3 bucket that receives the logs: its name only (3-255 letters, digits, `.`, `-`
    /// and `_`; new buckets: 3-63 lowercase), without `s3://` or a key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    #[x_kube(validation = Rule::new(S3_BUCKET_NAME_RULE).message(
        "s3BucketName must be a bucket name such as my-elb-logs: no s3:// and no key prefix (put the prefix in s3BucketPrefix)"
    ))]
    pub s3_bucket_name: Option<String>,
    /// A key prefix inside the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_prefix: Option<String>,
    /// Minutes between log files: 5 or 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == 5 || self == 60")
        .message("emitIntervalMinutes must be 5 or 60"))]
    pub emit_interval_minutes: Option<i32>,
}
