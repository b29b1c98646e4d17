//! The CEL rules of the CRD schemas that are longer than a line or that the controller
//! repeats as Rust twins ([`super::checks`]).

/// CEL: a valid ELB name.
pub const ELB_NAME_RULE: &str = "self.matches('^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$')";
/// CEL: Auto Scaling group names: 1-255 characters of ASCII 33-126 except ':' (AWS's rule
/// for CreateAutoScalingGroup).
pub const AUTO_SCALING_GROUP_NAME_RULE: &str = "self.all(g, g.matches('^[!-9;-~]{1,255}$'))";
/// CEL: an availability zone name (region name plus a zone letter).
pub const ZONE_NAME_RULE: &str = "self.all(z, z.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+[a-z]$'))";
/// CEL: an AWS region name.
pub const REGION_NAME_RULE: &str = "self.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+$')";
/// CEL: every zone is in spec.region (the region name followed by one letter), when that is
/// set and a region name (a malformed region has its own message).
pub const ZONES_IN_REGION_RULE: &str = "!has(self.region) || !has(self.availabilityZones) \
|| !self.region.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+$') || self.availabilityZones.all(z, z.startsWith(self.region) && size(z) == size(self.region) + 1)";
/// CEL: subnet ids.
pub const SUBNET_ID_RULE: &str = "self.all(s, s.matches('^subnet-([0-9a-f]{8}|[0-9a-f]{17})$'))";
/// CEL: security group ids.
pub const SECURITY_GROUP_ID_RULE: &str = "self.all(g, g.matches('^sg-([0-9a-f]{8}|[0-9a-f]{17})$'))";
/// CEL: the certificate ARN of an HTTPS/SSL listener: ACM (regional) or IAM (global), in
/// any partition (aws, aws-cn, aws-us-gov, ...).
pub const CERTIFICATE_ARN_RULE: &str = "self.matches('^arn:aws(-[a-z]+)*:(acm:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:certificate/.+\
|iam::[0-9]{12}:server-certificate/.+)$')";
/// CEL: ACM certificates live in one region, which must be the ELB's when spec.region is
/// set (without it the region is the operator's, which the schema cannot know) and a region
/// name (a malformed region has its own message).
pub const ACM_CERTIFICATE_REGION_RULE: &str = "!has(self.region) \
|| !self.region.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+$') || self.listeners.all(l, \
!has(l.sslCertificateId) || !l.sslCertificateId.matches('^arn:[a-z-]+:acm:') \
|| l.sslCertificateId.contains(':acm:' + self.region + ':'))";
/// CEL: listeners forwarding to one instance port agree on back-end encryption (ELB's rule
/// for InstanceProtocol; the default back-end protocol, HTTP or TCP, is unencrypted).
pub const INSTANCE_PORT_ENCRYPTION_RULE: &str = "self.all(l, self.all(m, l.instancePort != m.instancePort \
|| (has(l.instanceProtocol) && l.instanceProtocol in ['HTTPS', 'SSL']) \
== (has(m.instanceProtocol) && m.instanceProtocol in ['HTTPS', 'SSL'])))";
/// CEL: an application cookie name is an RFC 6265 token.
pub const COOKIE_NAME_RULE: &str = r#"self.matches("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")"#;
/// CEL: a Kubernetes object name (DNS-1123 subdomain; the length is the schema's).
pub const OBJECT_NAME_RULE: &str = r"self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')";
/// CEL: an S3 bucket name (legacy us-east-1 names included), not a URL or a path.
pub const S3_BUCKET_NAME_RULE: &str = "self.matches('^[a-zA-Z0-9._-]{3,255}$')";
/// CEL: tag values in ELB's character set (Unicode letters, separators and digits, and
/// `_ . : / = + - @`).
pub const TAG_VALUES_CHARSET_RULE: &str = r"self.all(k, self[k].matches('^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]*$'))";
/// CEL: zones and subnets exclusive.
pub const ZONES_XOR_SUBNETS_RULE: &str = "!(has(self.availabilityZones) && has(self.subnets))";
/// CEL (transition): loadBalancerName may not be set, changed or removed.
pub const NAME_IMMUTABLE_RULE: &str = "has(self.loadBalancerName) == has(oldSelf.loadBalancerName) \
&& (!has(self.loadBalancerName) || self.loadBalancerName == oldSelf.loadBalancerName)";
/// CEL (transition): the effective scheme may not change; an unset scheme means
/// internet-facing, so spelling out the default later is allowed.
pub const SCHEME_IMMUTABLE_RULE: &str = "(has(self.scheme) ? self.scheme : 'internet-facing') \
== (has(oldSelf.scheme) ? oldSelf.scheme : 'internet-facing')";
/// CEL (transition): region may not be set, changed or removed (an unset region is the
/// operator's, which the schema cannot know).
pub const REGION_IMMUTABLE_RULE: &str = "has(self.region) == has(oldSelf.region) \
&& (!has(self.region) || self.region == oldSelf.region)";
/// CEL: HTTPS and SSL listeners carry a certificate.
pub const LISTENER_CERT_RULE: &str = "!(self.protocol in ['HTTPS', 'SSL']) \
|| (has(self.sslCertificateId) && size(self.sslCertificateId) > 0)";
/// CEL: front-end and back-end protocols are of the same layer.
pub const LISTENER_PAIR_RULE: &str = "!has(self.instanceProtocol) \
|| ((self.protocol in ['HTTP', 'HTTPS']) == (self.instanceProtocol in ['HTTP', 'HTTPS']))";
/// CEL: the PROXY protocol header only goes to TCP/SSL back ends (the default back-end
/// protocol follows the front-end one).
pub const LISTENER_PROXY_RULE: &str = "!has(self.proxyProtocol) || !self.proxyProtocol \
|| !((has(self.instanceProtocol) ? self.instanceProtocol : self.protocol) in ['HTTP', 'HTTPS'])";
/// CEL: a list of AWS region names ([`REGION_NAME_RULE`] for each).
pub const REGION_NAMES_RULE: &str = "self.all(r, r.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+$'))";
/// CEL: role ARN globs: an IAM role ARN in which `*` may stand for any run of characters
/// in the partition, the account id and the role's path and name (the shape only: what a
/// glob matches is the operator's business).
pub const ROLE_ARN_GLOBS_RULE: &str =
    "self.all(a, a.matches('^arn:(aws[a-z-]*|[*]):iam::([0-9]{12}|[0-9]*[*][0-9*]*):role/[A-Za-z0-9_+=,.@/*-]+$'))";
/// CEL (transition): className may not be set, changed or removed: the class decides what
/// the LoadBalancer may reach, so switching would escape it.
pub const CLASS_NAME_IMMUTABLE_RULE: &str = "has(self.className) == has(oldSelf.className) \
&& (!has(self.className) || self.className == oldSelf.className)";
