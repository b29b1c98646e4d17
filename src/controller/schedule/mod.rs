//! Who gets ELB calls next. One schedule serves every LoadBalancer; each scope gets an
//! observer task ([`super::observer`]) that spends what the budget leaves over.
//!
//! Work comes in three classes ([`Class`](crate::aws::Class)), and the ELB budget serves
//! them in this order:
//! - **change**: the inputs of a LoadBalancer changed (spec, generation, resolved backends,
//!   the referenced HealthCheck) or it is being deleted. Its reconcile syncs at once.
//! - **resync**: an inventory pass found drift (or a poll found the ELB gone, or its
//!   instances not the wanted ones). The observer marks the object and triggers it.
//! - **health**: instance-health polls, issued by the observer only when the budget has a
//!   spare token: promptly while a LoadBalancer is in transition, otherwise oldest first
//!   and never more often than `--health-poll-interval`.
//!
//! No requeue timer decides anything: a reconcile with nothing pending does nothing and
//! waits for a watch event or a trigger from the observer.
//!
//! Two halves: the [`index`] (what is remembered of each object and every decision made
//! from it, pure) and the [`runtime`] (the lock, the queues the decisions route objects
//! to, the scopes' observers and inventories, the resync slots).

pub mod index;
pub mod runtime;
pub mod scopes;

pub use index::{status_print, Memo, Route, Step, Synced, Target, STATUS_REFRESH, TRANSITION_POLL};
pub use runtime::{Schedule, Settings};

// The LoadBalancer steps import these from here.
pub use super::fingerprint::fingerprint;
pub use super::retry::jittered;
