//! The sync engine: everything between a desired ELB state and the ELB API, with no
//! Kubernetes in it. The controllers build a [`plan::Desired`] from a resource and hand it
//! here; this module observes the ELB, decides whether it may touch it ([`ownership`]),
//! plans the actions (pure, [`plan`]) and performs them ([`execute`]), one ELB call each
//! ([`calls`]);
//! [`removal`] deletes or keeps the ELB when its resource goes.
//! It takes any [`crate::elb::ElbApi`], so it is tested directly against moto.

pub mod calls;
pub mod execute;
pub mod inventory;
pub mod names;
pub mod ownership;
pub mod plan;
pub mod removal;
