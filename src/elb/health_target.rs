//! The target of an ELB health check (`HTTP:8080/health`, `TCP:22`), parsed once into its
//! protocol, port and path. The HealthCheck controller validates with it, the planner
//! compares with it, and the reachability check reads its port.

use std::fmt;

/// The protocol a health check probes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetProtocol {
    Tcp,
    Ssl,
    Http,
    Https,
}

impl TargetProtocol {
    /// As ELB spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetProtocol::Tcp => "TCP",
            TargetProtocol::Ssl => "SSL",
            TargetProtocol::Http => "HTTP",
            TargetProtocol::Https => "HTTPS",
        }
    }

    /// HTTP and HTTPS probe a path; TCP and SSL only connect.
    pub fn takes_path(self) -> bool {
        matches!(self, TargetProtocol::Http | TargetProtocol::Https)
    }
}

/// A parsed health check target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HealthTarget {
    pub protocol: TargetProtocol,
    pub port: u16,
    /// The path with its leading `/` (HTTP and HTTPS), `None` for TCP and SSL.
    pub path: Option<String>,
}

/// Why a target does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("target {0:?} must be TCP:<port>, SSL:<port>, HTTP:<port>/<path> or HTTPS:<port>/<path>")]
    Form(String),
    #[error("target {0:?}: the port must be 1-65535")]
    Port(String),
    /// ELB allows at most 1024 UTF-16 code units.
    #[error("target {0:?}: longer than 1024 characters")]
    TooLong(String),
}

/// The longest target ELB accepts, in UTF-16 code units.
pub const MAX_TARGET_LEN: usize = 1024;

impl HealthTarget {
    /// Parses a target as a HealthCheck spec must write it (the CRD's rules): the protocol
    /// in upper case, a port of 1-5 digits in 1-65535, a one-line path for HTTP and HTTPS
    /// and none for TCP and SSL, at most 1024 UTF-16 code units in all.
    pub fn parse(target: &str) -> Result<HealthTarget, TargetError> {
        parse(target, false)
    }

    /// [`HealthTarget::parse`], with the protocol in any case: AWS keeps a target as sent,
    /// and compares the protocol without case.
    pub fn parse_described(target: &str) -> Result<HealthTarget, TargetError> {
        parse(target, true)
    }
}

fn parse(target: &str, any_case: bool) -> Result<HealthTarget, TargetError> {
    let form = || TargetError::Form(target.to_string());
    let (protocol, rest) = target.split_once(':').ok_or_else(form)?;
    let protocol = if any_case { protocol.to_ascii_uppercase() } else { protocol.to_string() };
    let protocol = match protocol.as_str() {
        "TCP" => TargetProtocol::Tcp,
        "SSL" => TargetProtocol::Ssl,
        "HTTP" => TargetProtocol::Http,
        "HTTPS" => TargetProtocol::Https,
        _ => return Err(form()),
    };
    let (port, path) = match (protocol.takes_path(), rest.find('/')) {
        (false, _) => (rest, None),
        (true, Some(slash)) if !rest[slash..].contains('\n') => (&rest[..slash], Some(rest[slash..].to_string())),
        (true, _) => return Err(form()),
    };
    if !(1..=5).contains(&port.len()) || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(form());
    }
    let port = match port.parse::<u32>() {
        Ok(p @ 1..=65535) => p as u16,
        _ => return Err(TargetError::Port(target.to_string())),
    };
    if target.encode_utf16().count() > MAX_TARGET_LEN {
        return Err(TargetError::TooLong(target.to_string()));
    }
    Ok(HealthTarget { protocol, port, path })
}

/// As ELB spells it: `HTTP:8080/health`.
impl fmt::Display for HealthTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}{}", self.protocol.as_str(), self.port, self.path.as_deref().unwrap_or(""))
    }
}

impl std::str::FromStr for HealthTarget {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HealthTarget::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(port: u16, path: &str) -> HealthTarget {
        HealthTarget { protocol: TargetProtocol::Http, port, path: Some(path.into()) }
    }

    #[test]
    fn parses_each_form() {
        assert_eq!(HealthTarget::parse("HTTP:8080/health"), Ok(http(8080, "/health")));
        assert_eq!(
            HealthTarget::parse("HTTPS:443/"),
            Ok(HealthTarget { protocol: TargetProtocol::Https, port: 443, path: Some("/".into()) })
        );
        assert_eq!(HealthTarget::parse("TCP:22"), Ok(HealthTarget { protocol: TargetProtocol::Tcp, port: 22, path: None }));
        assert_eq!(HealthTarget::parse("SSL:65535").map(|t| t.port), Ok(65535));
        // The path is everything after the port, slashes and colons included.
        assert_eq!(HealthTarget::parse("HTTP:80/a/b:c?d=1"), Ok(http(80, "/a/b:c?d=1")));
        assert_eq!(HealthTarget::parse("HTTP:8080/health").unwrap().to_string(), "HTTP:8080/health");
    }

    #[test]
    fn refuses_what_the_crd_refuses() {
        let form = |t: &str| Err(TargetError::Form(t.into()));
        for bad in ["HTTP:8080", "TCP:80/x", "UDP:53", "http:80/", "TCP:+80", "TCP:", "TCP:123456", "HTTP:80/a\nb", "nothing"] {
            assert_eq!(HealthTarget::parse(bad), form(bad), "{bad:?}");
        }
        for bad in ["TCP:0", "TCP:65536", "TCP:99999"] {
            assert_eq!(HealthTarget::parse(bad), Err(TargetError::Port(bad.into())), "{bad:?}");
        }
        let long = format!("HTTP:80/{}", "x".repeat(MAX_TARGET_LEN));
        assert!(matches!(HealthTarget::parse(&long), Err(TargetError::TooLong(_))));
        assert!(HealthTarget::parse(&long[..MAX_TARGET_LEN]).is_ok());
    }

    #[test]
    fn a_described_target_may_spell_the_protocol_in_any_case() {
        assert_eq!(HealthTarget::parse_described("http:8080/health"), Ok(http(8080, "/health")));
        assert_eq!(HealthTarget::parse_described("Tcp:22").map(|t| t.protocol), Ok(TargetProtocol::Tcp));
        // The path keeps its case.
        assert_ne!(HealthTarget::parse_described("HTTP:8080/Health"), Ok(http(8080, "/health")));
        assert!(HealthTarget::parse_described("HTTP:eighty/").is_err());
    }
}
