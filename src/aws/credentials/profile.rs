//! Shared `credentials` and `config` files (`~/.aws/...`), profile from `AWS_PROFILE`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Credentials;

/// The keys of one profile section, merged from both files (the credentials file wins).
pub type Section = HashMap<String, String>;

/// Parses an INI-style AWS file into sections. In the config file, sections other than
/// `default` are named `[profile NAME]`; `config_style` strips that prefix.
pub fn parse(text: &str, config_style: bool) -> HashMap<String, Section> {
    let mut out: HashMap<String, Section> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            let name = if config_style {
                match name.strip_prefix("profile ") {
                    Some(n) => n.trim(),
                    None if name == "default" => name,
                    // `[sso-session x]`, `[services x]`: not profiles.
                    None => {
                        current = None;
                        continue;
                    }
                }
            } else {
                name
            };
            current = Some(name.to_string());
            out.entry(name.to_string()).or_default();
            continue;
        }
        if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            out.entry(section.clone()).or_default().insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    out
}

/// Where the files are: `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`, else `~/.aws/`.
pub fn paths(env: &dyn Fn(&str) -> Option<String>) -> (Option<PathBuf>, Option<PathBuf>) {
    let home = env("HOME").map(PathBuf::from).or_else(dirs::home_dir);
    let creds = env("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".aws/credentials")));
    let config = env("AWS_CONFIG_FILE").map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".aws/config")));
    (creds, config)
}

fn read(path: &Option<PathBuf>) -> Option<String> {
    path.as_deref().and_then(|p: &Path| std::fs::read_to_string(p).ok())
}

/// The merged section of profile `name` (from `AWS_PROFILE`, else `default`).
pub fn load(env: &dyn Fn(&str) -> Option<String>) -> (String, Section) {
    let name = env("AWS_PROFILE").or_else(|| env("AWS_DEFAULT_PROFILE")).unwrap_or_else(|| "default".to_string());
    let (creds_path, config_path) = paths(env);
    let mut section = Section::new();
    if let Some(text) = read(&config_path) {
        if let Some(s) = parse(&text, true).remove(&name) {
            section.extend(s);
        }
    }
    if let Some(text) = read(&creds_path) {
        if let Some(s) = parse(&text, false).remove(&name) {
            section.extend(s);
        }
    }
    (name, section)
}

/// The name of the profile in use (from `AWS_PROFILE`, else `default`) and every profile of
/// both files, merged per name (the credentials file wins): a role's `source_profile` may name
/// any of them.
pub fn load_all(env: &dyn Fn(&str) -> Option<String>) -> (String, HashMap<String, Section>) {
    let name = env("AWS_PROFILE").or_else(|| env("AWS_DEFAULT_PROFILE")).unwrap_or_else(|| "default".to_string());
    let (creds_path, config_path) = paths(env);
    let mut profiles: HashMap<String, Section> = read(&config_path).map(|t| parse(&t, true)).unwrap_or_default();
    for (profile, section) in read(&creds_path).map(|t| parse(&t, false)).unwrap_or_default() {
        profiles.entry(profile).or_default().extend(section);
    }
    (name, profiles)
}

/// The `[sso-session NAME]` sections of the config file, by name.
pub fn sso_sessions(env: &dyn Fn(&str) -> Option<String>) -> HashMap<String, Section> {
    let (_, config_path) = paths(env);
    let raw = read(&config_path).map(|t| parse(&t, false)).unwrap_or_default();
    raw.into_iter().filter_map(|(name, section)| Some((name.strip_prefix("sso-session ")?.trim().to_string(), section))).collect()
}

/// Static keys of a profile section, when it has them.
pub fn static_keys(section: &Section) -> Option<Credentials> {
    let ak = section.get("aws_access_key_id")?;
    let sk = section.get("aws_secret_access_key")?;
    Some(Credentials::new(ak, sk, section.get("aws_session_token").map(String::as_str), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_file_styles() {
        let creds = "[default]\naws_access_key_id = AKD\naws_secret_access_key = SKD\n\n[dev]\n# comment\naws_access_key_id=AK2\naws_secret_access_key=SK2\naws_session_token = T2\n";
        let p = parse(creds, false);
        assert_eq!(static_keys(&p["default"]).unwrap().access_key_id, "AKD");
        let dev = static_keys(&p["dev"]).unwrap();
        assert_eq!(dev.session_token.unwrap().expose(), "T2");

        let config = "[default]\nregion = eu-west-1\n[profile dev]\nregion=us-east-2\nrole_arn = arn:aws:iam::1:role/r\n[sso-session s]\nsso_region=x\n";
        let c = parse(config, true);
        assert_eq!(c["dev"]["region"], "us-east-2");
        assert_eq!(c["default"]["region"], "eu-west-1");
        assert!(!c.contains_key("sso-session s") && !c.contains_key("s"));
    }

    #[test]
    fn loads_the_named_profile_from_both_files() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("credentials"), "[dev]\naws_access_key_id=AK2\naws_secret_access_key=SK2\n").unwrap();
        std::fs::write(dir.join("config"), "[profile dev]\nregion=us-east-2\naws_access_key_id=IGNORED\n").unwrap();
        let d = dir.clone();
        let env = move |k: &str| match k {
            "AWS_PROFILE" => Some("dev".to_string()),
            "AWS_SHARED_CREDENTIALS_FILE" => Some(d.join("credentials").display().to_string()),
            "AWS_CONFIG_FILE" => Some(d.join("config").display().to_string()),
            _ => None,
        };
        let (name, section) = load(&env);
        assert_eq!(name, "dev");
        assert_eq!(section["region"], "us-east-2");
        assert_eq!(static_keys(&section).unwrap().access_key_id, "AK2");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("elb-profile-test-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
