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
    tat: Mutex<HashMap<String, i64>>,
}

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
            tat: Mutex::new(HashMap::new()),
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
        let mut map = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, t| *t > now);
        }
        let tat = map.get(key).copied().unwrap_or(now).max(now);
        if tat - now > tolerance {
            let wait_ms = tat - now - tolerance;
            return Err(((wait_ms + 999) / 1000).max(1) as u64);
        }
        map.insert(key.to_string(), tat + interval);
        Ok(())
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
}
