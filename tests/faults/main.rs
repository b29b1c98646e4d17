//! The operator under faults: the fault proxy between the operator and moto
//! (`test_support::fault_proxy`).

mod harness;
mod proxy;
