//! Test harness shared by the integration and end-to-end tests: it starts real local
//! servers (moto for ELB/EC2/STS) on free loopback ports and stops them on drop.

pub mod ec2;
pub mod moto;

use std::path::PathBuf;

/// The repository root (tests run with the package directory as CWD, which differs
/// between the root package and workspace members).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// A free TCP port on 127.0.0.1 (bound and released; the caller binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().unwrap().port()
}
