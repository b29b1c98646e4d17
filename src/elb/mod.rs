//! The operator's client for the AWS Classic Elastic Load Balancing Query API (2012-06-01).
//!
//! [`ElbApi`] is the seam between the domain and AWS: the controller only sees the typed
//! requests and responses of [`model`] and the classified [`Error`]; the wire format
//! (form-encoded requests, XML responses, SigV4) stays inside this module.

pub mod error;
pub mod model;

pub use error::{Error, ErrorKind};
pub use model::*;
