//! `[app]`: the resident's app: how it proves the resident is present, and how long an unlocked
//! app stays unlocked. The defaults are the domain's (`AppPolicy::default`), in these units.
use serde::{Deserialize, Serialize};

/// The resident's app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppConfig {
    /// Let residents choose a 6-digit PIN that the platform checks instead of a passkey (for
    /// phones without biometrics or a screen lock).
    pub pin_allowed: bool,
    /// Bind only devices that the platform can ask for user verification (a passkey or a
    /// PIN): refuses the command-line `iamsmart-app`, whose key is protected on the device only.
    pub require_user_verification: bool,
    /// Wrong PINs in a row after which the phone is revoked (it must be set up again).
    pub pin_max_failures: u32,
    /// An unlocked app locks after this many seconds without use.
    pub idle_lock_secs: u64,
    /// An unlocked app locks after this many minutes in any case.
    pub session_max_minutes: u64,
    /// Closing the account, downloading all data and adding a phone need an unlock no older
    /// than this many seconds.
    pub fresh_unlock_secs: u64,
    /// Phones one resident may have at once.
    pub max_devices: u32,
    /// Minutes a code from one phone to add another stays valid.
    pub link_code_minutes: u64,
}

impl Default for AppConfig {
    fn default() -> Self {
        let p = iamsmart_domain::platform::AppPolicy::default();
        let whole = |ms: i64, unit: i64| u64::try_from(ms / unit).unwrap_or(1);
        Self {
            pin_allowed: p.pin_allowed,
            require_user_verification: p.require_user_verification,
            pin_max_failures: u32::try_from(p.pin_max_failures).unwrap_or(5),
            idle_lock_secs: whole(p.session_idle_ms, 1000),
            session_max_minutes: whole(p.session_max_ms, 60_000),
            fresh_unlock_secs: whole(p.fresh_ms, 1000),
            max_devices: u32::try_from(p.max_devices).unwrap_or(5),
            link_code_minutes: whole(p.link_code_ttl_ms, 60_000),
        }
    }
}

impl AppConfig {
    /// Refuse zeros where a zero makes no sense; returns (key, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (key, v) in [
            ("app.pin_max_failures", u64::from(self.pin_max_failures)),
            ("app.idle_lock_secs", self.idle_lock_secs),
            ("app.session_max_minutes", self.session_max_minutes),
            ("app.fresh_unlock_secs", self.fresh_unlock_secs),
            ("app.max_devices", u64::from(self.max_devices)),
            ("app.link_code_minutes", self.link_code_minutes),
        ] {
            if v == 0 {
                return Err((key.into(), "must be at least 1".into()));
            }
        }
        if self.idle_lock_secs > self.session_max_minutes * 60 {
            return Err((
                "app.idle_lock_secs".into(),
                "must not exceed app.session_max_minutes".into(),
            ));
        }
        Ok(())
    }

    /// The policy for the domain.
    pub fn policy(&self) -> iamsmart_domain::platform::AppPolicy {
        iamsmart_domain::platform::AppPolicy {
            pin_allowed: self.pin_allowed,
            require_user_verification: self.require_user_verification,
            pin_max_failures: i64::from(self.pin_max_failures),
            session_idle_ms: self.idle_lock_secs as i64 * 1000,
            session_max_ms: self.session_max_minutes as i64 * 60_000,
            fresh_ms: self.fresh_unlock_secs as i64 * 1000,
            max_devices: i64::from(self.max_devices),
            link_code_ttl_ms: self.link_code_minutes as i64 * 60_000,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_configuration_gives_the_domain_its_own_defaults() {
        let policy = super::AppConfig::default().policy();
        let own = iamsmart_domain::platform::AppPolicy::default();
        assert_eq!(format!("{policy:?}"), format!("{own:?}"));
    }
}
