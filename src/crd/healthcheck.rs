//! The `HealthCheck` resource: an ELB health check that LoadBalancers reference by name.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the load balancer decides that an instance is healthy. Referenced from
/// `LoadBalancer.spec.healthCheckRef`; a change here reaches every LoadBalancer using it.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "elb.operator.dev",
    version = "v1alpha1",
    kind = "HealthCheck",
    namespaced,
    status = "HealthCheckStatus",
    shortname = "elbhc",
    category = "elb",
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".spec.target"}"#,
    printcolumn = r#"{"name":"Interval","type":"integer","jsonPath":".spec.intervalSeconds"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckSpec {
    /// What to check on each instance: `TCP:<port>`, `SSL:<port>`, `HTTP:<port>/<path>` or
    /// `HTTPS:<port>/<path>`. A TCP or SSL check passes when the connection opens; an HTTP or
    /// HTTPS check passes on a 200 answer for the path.
    pub target: String,

    /// Seconds between two checks of one instance (5-300).
    #[serde(default = "default_interval")]
    pub interval_seconds: i32,

    /// Seconds to wait for an answer (2-60); must be less than intervalSeconds.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: i32,

    /// Consecutive successes before an instance is InService (2-10).
    #[serde(default = "default_healthy")]
    pub healthy_threshold: i32,

    /// Consecutive failures before an instance is OutOfService (2-10).
    #[serde(default = "default_unhealthy")]
    pub unhealthy_threshold: i32,
}

fn default_interval() -> i32 {
    30
}
fn default_timeout() -> i32 {
    5
}
fn default_healthy() -> i32 {
    3
}
fn default_unhealthy() -> i32 {
    5
}

/// What the HealthCheck controller observed.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Names of the LoadBalancers in this namespace whose healthCheckRef names this check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used_by: Vec<String>,

    /// `Ready`: the spec is valid and can be applied to load balancers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
