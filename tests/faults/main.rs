//! The operator under faults: the fault proxy between the operator and moto
//! (`test_support::fault_proxy`), and the observer's inventory under a concurrent deletion.

mod harness;
mod inventory;
mod proxy;
