//! The reconcile loops.
