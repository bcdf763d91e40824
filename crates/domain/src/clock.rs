//! Time as a parameter.
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time in Unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct FakeClock(AtomicI64);

impl FakeClock {
    /// A clock standing at `ms`.
    pub fn at(ms: i64) -> Self {
        Self(AtomicI64::new(ms))
    }
    /// Move forward (or back, with a negative value) by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    /// Stand at `ms`.
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The system's time plus however far a test has moved it on: the clock of a platform that
/// tests drive end to end, so that an expiry minutes away is reached without waiting while
/// everything else (ordering, rate windows) keeps real time's course.
#[derive(Debug, Default)]
pub struct AdvancingClock(AtomicI64);

impl AdvancingClock {
    /// A clock that reads the system's time until it is moved on.
    pub fn new() -> Self {
        Self::default()
    }
    /// Move forward by `ms` (never back: a test cannot unsay what the platform has seen).
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms.max(0), Ordering::SeqCst);
    }
    /// How far the clock has been moved on, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock for AdvancingClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.offset_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advancing_clock_keeps_real_time_and_adds_what_it_was_moved_on() {
        let c = AdvancingClock::new();
        let before = SystemClock.now_ms();
        let read = c.now_ms();
        assert!(read >= before && read - before < 1_000);
        c.advance(60_000);
        c.advance(-5_000);
        assert_eq!(c.offset_ms(), 60_000);
        let read = c.now_ms();
        assert!(read >= before + 60_000 && read - before < 61_000);
    }

    #[test]
    fn a_fake_clock_moves_only_when_told() {
        let c = FakeClock::at(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(500);
        assert_eq!(c.now_ms(), 1_500);
        c.set(10);
        assert_eq!(c.now_ms(), 10);
    }
}
