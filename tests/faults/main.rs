//! The operator under faults: the fault proxy between the operator and moto
//! (`test_support::fault_proxy`), the fencing proof with two real processes (`fencing`),
//! and the observer's inventory under a concurrent deletion.

mod fencing;
mod harness;
mod inventory;
mod proxy;
