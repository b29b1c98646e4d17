//! The `HealthCheck` resource: an ELB health check that LoadBalancers reference by name.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// How the load balancer decides that an instance is healthy. Referenced from
/// `LoadBalancer.spec.healthCheckRef`; a change here reaches every LoadBalancer using it.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "elb.operator.dev",
    version = "v1alpha1",
    kind = "HealthCheck",
    namespaced,
    status = "HealthCheckStatus",
    shortname = "elbhc",
    category = "elb-operator",
    cel,
    doc = "An ELB health check, referenced by LoadBalancers in the same namespace through spec.healthCheckRef.",
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".spec.target"}"#,
    printcolumn = r#"{"name":"Interval","type":"integer","jsonPath":".spec.intervalSeconds"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Used By","type":"string","priority":1,"jsonPath":".status.usedBy"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new("self.timeoutSeconds < self.intervalSeconds")
    .message("timeoutSeconds must be less than intervalSeconds")
    .field_path(".timeoutSeconds"))]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckSpec {
    /// What to check on each instance: `TCP:<port>`, `SSL:<port>`, `HTTP:<port>/<path>` or
    /// `HTTPS:<port>/<path>` (port 1-65535, protocol in capitals, at most 1024 characters in
    /// all). A TCP or SSL check passes when the connection opens; an HTTP or HTTPS check
    /// passes on a 200 answer for the path.
    // The syntax is checked by CEL rather than an OpenAPI pattern so that the user reads a
    // sentence instead of a regular expression. maxLength bounds the CEL cost estimate.
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = Rule::new(TARGET_SYNTAX_RULE).message(TARGET_SYNTAX_MESSAGE))]
    #[x_kube(validation = Rule::new(TARGET_PORT_RULE).message(TARGET_PORT_MESSAGE))]
    pub target: String,

    /// Seconds between two checks of one instance (5-300, default 30).
    #[serde(default = "default_interval")]
    #[schemars(range(min = 5, max = 300))]
    pub interval_seconds: i32,

    /// Seconds to wait for an answer (2-60, default 5); must be less than intervalSeconds.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 2, max = 60))]
    pub timeout_seconds: i32,

    /// Consecutive successes before an instance is InService (2-10, default 3).
    #[serde(default = "default_healthy")]
    #[schemars(range(min = 2, max = 10))]
    pub healthy_threshold: i32,

    /// Consecutive failures before an instance is OutOfService (2-10, default 5).
    #[serde(default = "default_unhealthy")]
    #[schemars(range(min = 2, max = 10))]
    pub unhealthy_threshold: i32,
}

/// CEL: the target's shape, as ELB accepts it.
pub const TARGET_SYNTAX_RULE: &str = "self.matches('^(TCP|SSL):[0-9]{1,5}$') || self.matches('^(HTTP|HTTPS):[0-9]{1,5}/.*$')";
const TARGET_SYNTAX_MESSAGE: &str = "target must be TCP:<port>, SSL:<port>, HTTP:<port>/<path> \
or HTTPS:<port>/<path>, for example HTTP:8080/health";
/// CEL: the target's port is 1-65535. Only judged once the shape is right, so that a bad
/// shape yields one message, not two.
pub const TARGET_PORT_RULE: &str = "!self.matches('^[A-Z]+:[0-9]{1,5}($|/)') || \
(int(self.split('/')[0].split(':')[1]) >= 1 && int(self.split('/')[0].split(':')[1]) <= 65535)";
const TARGET_PORT_MESSAGE: &str = "the port in target must be between 1 and 65535";

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
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Names of the LoadBalancers in this namespace whose healthCheckRef names this check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub used_by: Vec<String>,

    /// `Ready`: the spec is valid and can be applied to load balancers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}
