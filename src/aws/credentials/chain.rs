//! The AWS default credential chain, in its order: environment, shared files
//! (`AWS_PROFILE`), web identity (IRSA), container credentials, EC2 IMDSv2.

use std::path::PathBuf;

use super::container::ContainerCredentials;
use super::imds::{self, Imds};
use super::web_identity::WebIdentity;
use super::{profile, Credentials, SharedCredentials, StaticCredentials};
use crate::aws::Error;

/// Picks the first configured source of the chain. The environment is read now; sources
/// that fetch (STS, container, IMDS) fetch on first use and are cached by
/// [`SharedCredentials`].
pub fn default_chain(env: &dyn Fn(&str) -> Option<String>, _region: &str, sts_endpoint: &str) -> Result<SharedCredentials, Error> {
    // 1. Environment variables.
    if let (Some(ak), Some(sk)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        let token = env("AWS_SESSION_TOKEN");
        return Ok(SharedCredentials::new(EnvCredentials(Credentials::new(&ak, &sk, token.as_deref(), None))));
    }
    // 2. Shared credentials/config files.
    let (profile_name, section) = profile::load(env);
    if let Some(c) = profile::static_keys(&section) {
        return Ok(SharedCredentials::new(StaticCredentials(c)));
    }
    // 3. Web identity: from the environment, or from the profile's role_arn +
    //    web_identity_token_file.
    let role = env("AWS_ROLE_ARN").or_else(|| section.get("role_arn").cloned());
    let token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE").or_else(|| section.get("web_identity_token_file").cloned());
    if let (Some(role), Some(token_file)) = (role, token_file) {
        let session = env("AWS_ROLE_SESSION_NAME").or_else(|| section.get("role_session_name").cloned());
        return Ok(SharedCredentials::new(WebIdentity::new(&role, PathBuf::from(token_file), session, sts_endpoint)?));
    }
    if env("AWS_PROFILE").is_some() && !section.is_empty() {
        tracing::debug!(profile = %profile_name, "profile has no static keys or web identity; continuing the chain");
    }
    // 4. Container credentials.
    if let Some(c) = ContainerCredentials::from_vars(env)? {
        return Ok(SharedCredentials::new(c));
    }
    // 5. EC2 instance metadata, unless disabled.
    if env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(Error::Credentials(
            "no credentials: none in the environment, shared files, web identity or container settings, and IMDS is disabled".into(),
        ));
    }
    let endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_else(|| imds::DEFAULT_ENDPOINT.to_string());
    Ok(SharedCredentials::new(Imds::new(&endpoint)?))
}

/// Keys from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`.
#[derive(Debug, Clone)]
pub struct EnvCredentials(pub Credentials);

#[async_trait::async_trait]
impl super::ProvideCredentials for EnvCredentials {
    async fn provide(&self) -> Result<Credentials, Error> {
        Ok(self.0.clone())
    }
    fn identity(&self) -> String {
        format!("env:{}", self.0.access_key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn chain(pairs: &[(&str, &str)]) -> Result<SharedCredentials, Error> {
        let mut m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        // Never read the developer's own ~/.aws.
        m.entry("HOME".into()).or_insert_with(|| "/nonexistent-home".into());
        default_chain(&move |k| m.get(k).cloned(), "us-east-1", "http://127.0.0.1:1")
    }

    #[test]
    fn chain_order() {
        let all = [
            ("AWS_ACCESS_KEY_ID", "AK"),
            ("AWS_SECRET_ACCESS_KEY", "SK"),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/tmp/t"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/c"),
        ];
        assert_eq!(chain(&all).unwrap().identity(), "env:AK");
        assert_eq!(chain(&all[2..]).unwrap().identity(), "web-identity:arn:aws:iam::1:role/r");
        assert_eq!(chain(&all[4..]).unwrap().identity(), "container:http://127.0.0.1:9/c");
        assert_eq!(chain(&[]).unwrap().identity(), "imds:http://169.254.169.254");
        assert_eq!(chain(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:7/")]).unwrap().identity(), "imds:http://127.0.0.1:7");
        assert!(matches!(chain(&[("AWS_EC2_METADATA_DISABLED", "true")]), Err(Error::Credentials(_))));
    }

    #[test]
    fn profile_comes_after_environment_and_before_web_identity() {
        let dir = std::env::temp_dir().join(format!("elb-chain-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("credentials");
        std::fs::write(&file, "[ops]\naws_access_key_id=AKPROFILE\naws_secret_access_key=SKP\n").unwrap();
        let f = file.display().to_string();
        let with_profile = [
            ("AWS_SHARED_CREDENTIALS_FILE", f.as_str()),
            ("AWS_PROFILE", "ops"),
            ("AWS_ROLE_ARN", "arn:r"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/tmp/t"),
        ];
        assert_eq!(chain(&with_profile).unwrap().identity(), "static:AKPROFILE");
        let env_too = [with_profile[0], with_profile[1], ("AWS_ACCESS_KEY_ID", "AKENV"), ("AWS_SECRET_ACCESS_KEY", "S")];
        assert_eq!(chain(&env_too).unwrap().identity(), "env:AKENV");
        // Another profile without keys: on to web identity.
        let other = [with_profile[0], ("AWS_PROFILE", "none"), with_profile[2], with_profile[3]];
        assert_eq!(chain(&other).unwrap().identity(), "web-identity:arn:r");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
