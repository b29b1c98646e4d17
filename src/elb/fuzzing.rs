//! One entry point per decoder of bytes that come from the network, for the fuzz targets in
//! `fuzz/` and the property tests in `tests/decoders.rs`. Not an API: the client reaches the
//! same decoders through its calls.

use std::collections::BTreeMap;

use super::model::*;
use super::wire;
use crate::aws::query::{self, Shape};
use crate::aws::Error;

pub use crate::aws::query::{parse_error, ApiError};
pub use crate::aws::xml::{parse as parse_xml, Element};

/// The actions whose answers the client reads, each with its decoder in [`decode`].
pub const ACTIONS: [&str; 9] = [
    "DescribeLoadBalancers",
    "DescribeInstanceHealth",
    "DescribeTags",
    "DescribeLoadBalancerAttributes",
    "ModifyLoadBalancerAttributes",
    "DescribeLoadBalancerPolicies",
    "ConfigureHealthCheck",
    "RegisterInstancesWithLoadBalancer",
    "DeregisterInstancesFromLoadBalancer",
];

/// A decoded answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    LoadBalancers { page: Vec<LoadBalancerDescription>, next_marker: Option<String> },
    InstanceHealth(Vec<InstanceState>),
    Tags(BTreeMap<String, Vec<Tag>>),
    Attributes(LoadBalancerAttributes),
    Policies(Vec<PolicyDescription>),
    HealthCheck(Option<HealthCheck>),
    Instances(Vec<String>),
}

/// Decodes an HTTP answer with `status` and `body` to `action` (one of [`ACTIONS`]) as the
/// client does: a 2xx body through the action's decoder, any other through the error parser.
pub fn decode(action: &'static str, status: u16, body: &str) -> Result<Answer, Error> {
    let unexpected = || Error::UnexpectedResponse { action, status, snippet: body.chars().take(160).collect() };
    if !(200..300).contains(&status) {
        return Err(match parse_error(body) {
            Some(e) => Error::Api { action, code: e.code, message: e.message, request_id: e.request_id, status },
            None => unexpected(),
        });
    }
    let (r, _request_id) = query::parse_result(Shape::Wrapped, action, body).map_err(|_| unexpected())?;
    let malformed = |problem| Error::MalformedResponse { action, problem };
    Ok(match action {
        "DescribeLoadBalancers" => {
            let (page, next_marker) = wire::describe_load_balancers(&r).map_err(malformed)?;
            Answer::LoadBalancers { page, next_marker }
        }
        "DescribeInstanceHealth" => Answer::InstanceHealth(wire::instance_states(&r)),
        "DescribeTags" => Answer::Tags(wire::tag_descriptions(&r)),
        "DescribeLoadBalancerAttributes" | "ModifyLoadBalancerAttributes" => {
            Answer::Attributes(wire::load_balancer_attributes(&r).map_err(malformed)?)
        }
        "DescribeLoadBalancerPolicies" => Answer::Policies(wire::policy_descriptions(&r)),
        "ConfigureHealthCheck" => Answer::HealthCheck(r.child("HealthCheck").map(wire::health_check_of).transpose().map_err(malformed)?),
        "RegisterInstancesWithLoadBalancer" | "DeregisterInstancesFromLoadBalancer" => Answer::Instances(wire::instance_ids(&r)),
        other => return Err(Error::Config(format!("no decoder for action {other}"))),
    })
}

/// The statuses [`decode_input`] picks from: a success, a client error, a server error.
pub const STATUSES: [u16; 3] = [200, 400, 503];

/// Decodes a fuzzer's input: its first byte picks the action (`byte % 9`, in [`ACTIONS`]
/// order) and the status (`byte / 9 % 3`, in [`STATUSES`] order); the rest is the body, read
/// as the HTTP client reads text (invalid UTF-8 replaced). An empty input decodes nothing.
pub fn decode_input(data: &[u8]) -> Option<Result<Answer, Error>> {
    let (&selector, body) = data.split_first()?;
    let action = ACTIONS[usize::from(selector) % ACTIONS.len()];
    let status = STATUSES[usize::from(selector) / ACTIONS.len() % STATUSES.len()];
    Some(decode(action, status, &String::from_utf8_lossy(body)))
}
