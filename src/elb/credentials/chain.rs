//! The AWS default credential chain, in its order.

use super::{Credentials, SharedCredentials, StaticCredentials};
use crate::elb::Error;

/// Picks the first source of the default chain that is configured.
pub fn default_chain(env: &dyn Fn(&str) -> Option<String>, _region: &str, _sts_endpoint: &str) -> Result<SharedCredentials, Error> {
    if let (Some(ak), Some(sk)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        let token = env("AWS_SESSION_TOKEN");
        return Ok(SharedCredentials::new(StaticCredentials(Credentials::new(&ak, &sk, token.as_deref(), None))));
    }
    Err(Error::Credentials("no credentials found in the default chain".into()))
}
