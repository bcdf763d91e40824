//! Counters the domain keeps; the web layer exports them.
use std::sync::atomic::{AtomicU64, Ordering};

/// Key operation counters, by operation.
#[derive(Debug, Default)]
pub struct KeyOpCounters {
    /// Signatures made.
    pub sign: AtomicU64,
    /// Data keys wrapped.
    pub wrap: AtomicU64,
    /// Data keys unwrapped.
    pub unwrap: AtomicU64,
    /// Failed key operations.
    pub errors: AtomicU64,
}

impl KeyOpCounters {
    /// Count one operation.
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}
