//! [`Service`]: what tells one Query API from another (its SigV4 name, version, endpoint
//! variable and answer [`Shape`]). The configuration and the call path both read it, so it
//! sits below them.

/// Where a successful answer keeps its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…`: ELB, STS.
    Wrapped,
    /// `<ActionResponse><requestId>…</requestId>…`, the fields directly under the root: EC2.
    Bare,
}

/// One Query API.
#[derive(Debug)]
pub struct Service {
    /// The SigV4 service name, also the first label of its public endpoint.
    pub name: &'static str,
    /// The `Version` every request names.
    pub version: &'static str,
    /// The environment variable that overrides its endpoint (before `AWS_ENDPOINT_URL`).
    pub endpoint_env: &'static str,
    /// How logs and error messages name it (`ELB`, `EC2`).
    pub label: &'static str,
    pub shape: Shape,
}

/// Whether an action changes state: it picks the rate-limit bucket, and only such calls are
/// fenced. Every Query API names its read-only actions `Describe…` (the only reads used here).
pub fn is_mutating(action: &str) -> bool {
    !action.starts_with("Describe")
}
