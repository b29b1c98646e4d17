//! The credential chain of the command-line commands (`orphans`), which run on a laptop with
//! the profiles people log in with: the default chain ([`super::default_chain`]) plus, for the
//! profile named by `AWS_PROFILE`, what the AWS CLI resolves from `~/.aws/config`:
//!
//! - `role_arn` + `source_profile`: STS `AssumeRole` ([`super::assume_role`]) signed with the
//!   source profile's credentials, itself resolved the same way (a chain of roles);
//! - `credential_process`: a command that prints credentials ([`super::process`]);
//! - IAM Identity Center (`sso_session` or legacy `sso_start_url`): the token `aws sso login`
//!   cached, exchanged at the SSO portal ([`super::sso`]).
//!
//! `mfa_serial` (an interactive prompt) and `credential_source` are refused with a way around
//! them: `aws configure export-credentials` turns any profile into environment variables.
//!
//! The operator itself keeps the default chain: in a cluster credentials come from IRSA, Pod
//! Identity or the instance, never from an interactive profile.

use std::collections::HashMap;

use super::assume_role::AssumeRole;
use super::process::ProcessCredentials;
use super::profile::{self, Section};
use super::sso::{SsoCredentials, SsoProfile};
use super::web_identity::WebIdentity;
use super::{default_chain, SharedCredentials, StaticCredentials};
use crate::aws::Error;

/// How many profiles a role chain may pass through before it is taken for a loop.
const MAX_CHAIN: usize = 10;

/// The chain of the CLI commands. See the module documentation.
pub fn cli_chain(env: &dyn Fn(&str) -> Option<String>, region: &str, sts_endpoint: &str) -> Result<SharedCredentials, Error> {
    // Keys in the environment win over any profile, as in the AWS CLI.
    if env("AWS_ACCESS_KEY_ID").is_some() && env("AWS_SECRET_ACCESS_KEY").is_some() {
        return default_chain(env, region, sts_endpoint);
    }
    let (name, profiles) = profile::load_all(env);
    if profiles.contains_key(&name) {
        let sessions = profile::sso_sessions(env);
        let home = env("HOME").map(std::path::PathBuf::from).or_else(dirs::home_dir).unwrap_or_default();
        let sso_endpoint = env("AWS_ENDPOINT_URL_SSO").or_else(|| env("AWS_ENDPOINT_URL"));
        let resolver = Resolver { profiles: &profiles, sessions: &sessions, home, sso_endpoint, region, sts_endpoint };
        if let Some(credentials) = resolver.resolve(&name, &mut Vec::new())? {
            return Ok(credentials);
        }
    }
    default_chain(env, region, sts_endpoint)
}

fn refused(profile: &str, why: &str) -> Error {
    Error::Credentials(format!(
        "profile {profile}: {why}; elb-operator's commands do not support it. Export the profile's credentials first: \
         eval \"$(aws configure export-credentials --profile {profile} --format env)\""
    ))
}

struct Resolver<'a> {
    profiles: &'a HashMap<String, Section>,
    /// `[sso-session NAME]` sections, by name.
    sessions: &'a HashMap<String, Section>,
    /// Where `~/.aws/sso/cache` is.
    home: std::path::PathBuf,
    sso_endpoint: Option<String>,
    region: &'a str,
    sts_endpoint: &'a str,
}

impl Resolver<'_> {
    /// The credentials of profile `name`, in the AWS CLI's order: a role (`role_arn`), SSO,
    /// static keys, `credential_process`. `None`: the profile has none of them.
    fn resolve(&self, name: &str, visited: &mut Vec<String>) -> Result<Option<SharedCredentials>, Error> {
        if visited.iter().any(|v| v == name) || visited.len() >= MAX_CHAIN {
            visited.push(name.to_string());
            return Err(Error::Credentials(format!("the source_profile chain loops: {}", visited.join(" -> "))));
        }
        visited.push(name.to_string());
        let section = self.profiles.get(name).ok_or_else(|| Error::Credentials(format!("profile {name} does not exist")))?;
        if let Some(role) = section.get("role_arn") {
            if section.contains_key("mfa_serial") {
                return Err(refused(name, "it asks for an MFA code (mfa_serial)"));
            }
            if let Some(source) = section.get("source_profile") {
                // A profile may name itself as the source of its own static keys.
                let source_credentials = if source == name {
                    profile::static_keys(section).map(|c| SharedCredentials::new(StaticCredentials(c)))
                } else {
                    self.resolve(source, visited)?
                };
                let source_credentials = source_credentials
                    .ok_or_else(|| Error::Credentials(format!("profile {name}: its source_profile {source} has no credentials")))?;
                let session = section
                    .get("role_session_name")
                    .cloned()
                    .unwrap_or_else(|| format!("elb-operator-cli-{}", chrono::Utc::now().timestamp_millis()));
                let external_id = section.get("external_id").map(String::as_str);
                let assume = AssumeRole::new(role, external_id, &session, source_credentials, self.sts_endpoint, self.region)?;
                return Ok(Some(SharedCredentials::new(assume)));
            }
            if let Some(token_file) = section.get("web_identity_token_file") {
                let session = section.get("role_session_name").cloned();
                return Ok(Some(SharedCredentials::new(WebIdentity::new(role, token_file.into(), session, self.sts_endpoint)?)));
            }
            if section.contains_key("credential_source") {
                return Err(refused(name, "its role takes credentials from credential_source"));
            }
            return Err(Error::Credentials(format!("profile {name}: role_arn without source_profile or web_identity_token_file")));
        }
        if let Some(sso) = SsoProfile::of(name, section, &|s| self.sessions.get(s).cloned())? {
            return Ok(Some(SharedCredentials::new(SsoCredentials::new(sso, &self.home, self.sso_endpoint.clone())?)));
        }
        if let Some(keys) = profile::static_keys(section) {
            return Ok(Some(SharedCredentials::new(StaticCredentials(keys))));
        }
        if let Some(command) = section.get("credential_process") {
            return Ok(Some(SharedCredentials::new(ProcessCredentials::new(name, command))));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain for a config file holding `config`, with `vars` set.
    fn chain(config: &str, vars: &[(&str, &str)]) -> Result<SharedCredentials, Error> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config"), config).unwrap();
        let mut m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        m.insert("AWS_CONFIG_FILE".into(), dir.path().join("config").display().to_string());
        m.insert("AWS_SHARED_CREDENTIALS_FILE".into(), dir.path().join("none").display().to_string());
        m.insert("HOME".into(), "/nonexistent-home".into());
        m.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        cli_chain(&move |k| m.get(k).cloned(), "us-east-1", "http://127.0.0.1:1")
    }

    const CONFIG: &str = "\
[profile keys]
aws_access_key_id = AKIAKEYS
aws_secret_access_key = s
[profile helper]
credential_process = printf '{}'
[profile ops]
role_arn = arn:aws:iam::123456789012:role/ops
source_profile = helper
[profile admin]
role_arn = arn:aws:iam::123456789012:role/admin
source_profile = ops
[profile self]
role_arn = arn:aws:iam::123456789012:role/self
source_profile = self
aws_access_key_id = AKIASELF
aws_secret_access_key = s
[profile loop-a]
role_arn = arn:aws:iam::123456789012:role/a
source_profile = loop-b
[profile loop-b]
role_arn = arn:aws:iam::123456789012:role/b
source_profile = loop-a
[profile sso]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Admin
[sso-session corp]
sso_region = eu-west-1
sso_start_url = https://corp.awsapps.com/start
[profile ops-via-sso]
role_arn = arn:aws:iam::123456789012:role/ops
source_profile = sso
[profile mfa]
role_arn = arn:aws:iam::123456789012:role/mfa
source_profile = keys
mfa_serial = arn:aws:iam::123456789012:mfa/me
[profile instance-role]
role_arn = arn:aws:iam::123456789012:role/x
credential_source = Ec2InstanceMetadata
[profile dangling]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = missing
";

    fn identity(profile: &str) -> Result<String, String> {
        chain(CONFIG, &[("AWS_PROFILE", profile)]).map(|c| c.identity()).map_err(|e| e.to_string())
    }

    #[test]
    fn profiles_resolve_as_the_aws_cli_resolves_them() {
        assert_eq!(identity("keys").unwrap(), "static:AKIAKEYS");
        assert_eq!(identity("helper").unwrap(), "process:helper");
        assert_eq!(identity("ops").unwrap(), "assume-role:arn:aws:iam::123456789012:role/ops");
        assert_eq!(identity("admin").unwrap(), "assume-role:arn:aws:iam::123456789012:role/admin");
        assert_eq!(identity("self").unwrap(), "assume-role:arn:aws:iam::123456789012:role/self");
        assert_eq!(identity("sso").unwrap(), "sso:123456789012/Admin");
        assert_eq!(identity("ops-via-sso").unwrap(), "assume-role:arn:aws:iam::123456789012:role/ops");
        // Keys in the environment win, and a profile with nothing of the above falls through
        // to the default chain.
        let env_keys = chain(CONFIG, &[("AWS_PROFILE", "ops"), ("AWS_ACCESS_KEY_ID", "AKIAENV"), ("AWS_SECRET_ACCESS_KEY", "s")]);
        assert_eq!(env_keys.unwrap().identity(), "env:AKIAENV");
        let err = chain("[profile empty]\nregion = eu-west-1\n", &[("AWS_PROFILE", "empty")]).unwrap_err().to_string();
        assert!(err.contains("IMDS is disabled"), "{err}");
    }

    #[test]
    fn what_it_cannot_do_is_refused_with_a_way_around() {
        let err = identity("loop-a").unwrap_err();
        assert!(err.contains("loops: loop-a -> loop-b -> loop-a"), "{err}");
        for (profile, says) in [("mfa", "mfa_serial"), ("instance-role", "credential_source")] {
            let err = identity(profile).unwrap_err();
            assert!(err.contains(says) && err.contains("aws configure export-credentials --profile"), "{err}");
        }
        assert!(identity("dangling").unwrap_err().contains("profile missing does not exist"));
    }
}
