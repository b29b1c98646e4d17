//! The operator under faults: the fault proxy between the operator and moto
//! (`test_support::fault_proxy`), a seeded fault campaign that SIGKILLs and restarts the
//! operator binary while resources change and then checks the invariants of issue 10
//! (`campaign`), the fencing proof with two real processes (`fencing`), and scale-out with
//! three processes sharing the work by shards (`shards`), and rollouts that change the shard
//! count (`rollout`).
//!
//! - `cargo test --test faults` runs the CI campaign (about 10 resources, 15 kills).
//! - `scripts/fault-campaign.sh` runs the large one (30 resources, 50 rounds, 30% faults);
//!   the `FAULT_CAMPAIGN_*` variables of [`campaign::Settings::from_env`] size it.

mod campaign;
mod check;
mod fencing;
mod harness;
mod inventory;
mod proxy;
mod rollout;
mod shards;
