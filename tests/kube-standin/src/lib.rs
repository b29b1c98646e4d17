//! An in-memory stand-in for the parts of the Kubernetes API that the operator and kubectl use.

pub mod validation;
