//! Rate limits (GCRA), per client IP and per API client.
//!
//! Limits are kept in each process's memory: behind a load balancer with N processes the
//! effective limit is up to N times the configured one. They protect capacity; single-use and
//! security-critical counters (failed logins, codes) live in the database instead.
use iamsmart_domain::clock::Clock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Limits per minute, with a burst allowance.
#[derive(Debug, Clone, Copy)]
pub struct RateConfig {
    /// Requests per minute per client IP (0 = unlimited).
    pub per_ip_per_minute: u32,
    /// Requests per minute per authenticated API client (0 = unlimited).
    pub per_client_per_minute: u32,
    /// Requests allowed at once above the steady rate.
    pub burst: u32,
}

/// A GCRA limiter: for each key, the theoretical arrival time of the next request.
pub struct RateLimiter {
    config: RateConfig,
    clock: Arc<dyn Clock>,
    tat: Mutex<Table>,
}

/// The limiter's keys, and the size above which the next request clears out the idle ones: it
/// doubles after a clean-up that left many keys, so that the clean-up (under the lock) happens
/// once per doubling, not once per request.
struct Table {
    keys: HashMap<String, i64>,
    clean_above: usize,
}

/// Keys before the first clean-up.
const CLEAN_FROM: usize = 100_000;
/// Live keys beyond which the table is emptied (memory stays bounded under a flood of new keys;
/// limits start afresh).
const MAX_KEYS: usize = 2_000_000;

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .finish()
    }
}

impl RateLimiter {
    /// A limiter with the given limits.
    pub fn new(config: RateConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            clock,
            tat: Mutex::new(Table {
                keys: HashMap::new(),
                clean_above: CLEAN_FROM,
            }),
        }
    }

    /// The configured limits.
    pub fn config(&self) -> RateConfig {
        self.config
    }

    /// Take one request for `key` at `per_minute`; `Err(seconds)` says how long to wait.
    pub fn check(&self, key: &str, per_minute: u32) -> Result<(), u64> {
        if per_minute == 0 {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let interval = 60_000 / i64::from(per_minute.max(1));
        let tolerance = interval * i64::from(self.config.burst);
        let mut table = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        if table.keys.len() > table.clean_above {
            table.keys.retain(|_, t| *t > now);
            if table.keys.len() > MAX_KEYS {
                tracing::warn!(keys = table.keys.len(), "rate limiter table full: emptied");
                table.keys.clear();
            }
            table.clean_above = (table.keys.len() * 2).max(CLEAN_FROM);
        }
        let map = &mut table.keys;
        let tat = map.get(key).copied().unwrap_or(now).max(now);
        if tat - now > tolerance {
            let wait_ms = tat - now - tolerance;
            return Err(((wait_ms + 999) / 1000).max(1) as u64);
        }
        map.insert(key.to_string(), tat + interval);
        Ok(())
    }
}

/// Live-status streams (server-sent events) open in this process, per login and per client
/// address: each holds a connection and a database poll, so their number is capped.
#[derive(Debug, Default)]
pub struct StreamCounts {
    open: Mutex<(HashMap<String, u32>, HashMap<String, u32>)>,
}

/// An open stream; dropping it (the stream ended or the browser went away) frees its place.
#[derive(Debug)]
pub struct StreamPlace {
    counts: Arc<StreamCounts>,
    login: String,
    address: String,
}

impl StreamCounts {
    /// Take a place for a stream of `login` from `address`, if neither has its maximum open.
    pub fn open(
        counts: &Arc<StreamCounts>,
        login: &str,
        address: &str,
        per_login: u32,
        per_address: u32,
    ) -> Option<StreamPlace> {
        let mut g = counts.open.lock().unwrap_or_else(|p| p.into_inner());
        let (by_login, by_address) = &mut *g;
        if by_login.get(login).copied().unwrap_or(0) >= per_login
            || by_address.get(address).copied().unwrap_or(0) >= per_address
        {
            return None;
        }
        *by_login.entry(login.to_string()).or_insert(0) += 1;
        *by_address.entry(address.to_string()).or_insert(0) += 1;
        Some(StreamPlace {
            counts: counts.clone(),
            login: login.to_string(),
            address: address.to_string(),
        })
    }
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        let mut g = self.counts.open.lock().unwrap_or_else(|p| p.into_inner());
        let (by_login, by_address) = &mut *g;
        for (map, key) in [
            (&mut *by_login, &self.login),
            (&mut *by_address, &self.address),
        ] {
            if let Some(n) = map.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamsmart_domain::clock::FakeClock;

    #[test]
    fn allows_the_burst_then_refuses_then_recovers() {
        let clock = Arc::new(FakeClock::at(1_000_000));
        let l = RateLimiter::new(
            RateConfig {
                per_ip_per_minute: 60,
                per_client_per_minute: 0,
                burst: 5,
            },
            clock.clone(),
        );
        for i in 0..6 {
            assert!(l.check("ip:1", 60).is_ok(), "request {i}");
        }
        let wait = l.check("ip:1", 60).unwrap_err();
        assert!((1..=2).contains(&wait), "wait {wait}");
        assert!(l.check("ip:2", 60).is_ok(), "other keys are independent");
        clock.advance(1000);
        assert!(l.check("ip:1", 60).is_ok());
        assert!(l.check("ip:1", 0).is_ok(), "0 means unlimited");
    }

    #[test]
    fn live_streams_are_capped_per_login_and_per_address() {
        let counts = Arc::new(StreamCounts::default());
        let a = StreamCounts::open(&counts, "tx1", "ip1", 2, 3).unwrap();
        let b = StreamCounts::open(&counts, "tx1", "ip1", 2, 3).unwrap();
        assert!(
            StreamCounts::open(&counts, "tx1", "ip1", 2, 3).is_none(),
            "two per login"
        );
        let c = StreamCounts::open(&counts, "tx2", "ip1", 2, 3).unwrap();
        assert!(
            StreamCounts::open(&counts, "tx3", "ip1", 2, 3).is_none(),
            "three per address"
        );
        assert!(
            StreamCounts::open(&counts, "tx3", "ip2", 2, 3).is_some(),
            "another address"
        );
        drop(a);
        assert!(
            StreamCounts::open(&counts, "tx1", "ip1", 2, 3).is_some(),
            "a closed one frees its place"
        );
        drop((b, c));
        assert!(counts.open.lock().unwrap().0.len() <= 1);
    }

    #[test]
    fn a_flood_of_keys_is_cleaned_once_per_doubling_not_per_request() {
        let clock = Arc::new(FakeClock::at(1_000_000));
        let l = RateLimiter::new(
            RateConfig {
                per_ip_per_minute: 60,
                per_client_per_minute: 0,
                burst: 5,
            },
            clock.clone(),
        );
        for i in 0..(CLEAN_FROM + 10) {
            assert!(l.check(&format!("ip:{i}"), 60).is_ok());
        }
        // Every key is live: the clean-up found nothing and will wait until twice as many.
        let above = l.tat.lock().unwrap().clean_above;
        assert!(above >= 2 * CLEAN_FROM, "{above}");
        clock.advance(120_000);
        for i in 0..(above - CLEAN_FROM) {
            let _ = l.check(&format!("new:{i}"), 60);
        }
        let len = l.tat.lock().unwrap().keys.len();
        assert!(len <= above + 1, "{len}");
    }
}
