//! The sections of the configuration, each with its defaults.
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Digital signing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    /// How long residents' signing certificates are valid (capped by the issuing CA's own
    /// validity).
    pub certificate_validity_secs: u64,
    /// The arc of the certificate and timestamp policy OIDs (`{arc}.1.1`, `{arc}.1.2`). The
    /// default is an example arc (RFC 5612); an operator sets one of its own.
    pub oid_arc: String,
}

impl Default for SigningConfig {
    fn default() -> Self {
        Self {
            certificate_validity_secs: iamsmart_domain::signing::ca::CERT_VALIDITY_S,
            oid_arc: iamsmart_domain::signing::OID_ARC.to_string(),
        }
    }
}

/// Personalised notifications from services.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Days a notification is kept; then the workers erase it.
    pub retention_days: u64,
    /// Notifications one service may send one resident per window.
    pub max_per_resident: u32,
    /// The window of that limit, in minutes.
    pub window_minutes: u64,
}

/// A duration in milliseconds in whole units of `unit_ms` (the configuration's units), for
/// defaults taken from the domain's policies: each default is written once, there.
fn whole(ms: i64, unit_ms: i64) -> u64 {
    u64::try_from(ms / unit_ms).unwrap_or(0)
}

impl Default for NotifyConfig {
    fn default() -> Self {
        let p = iamsmart_domain::notify::NotifyPolicy::default();
        Self {
            retention_days: whole(p.retention_ms, 86_400_000),
            max_per_resident: u32::try_from(p.max_per_resident).unwrap_or(0),
            window_minutes: whole(p.window_ms, 60_000),
        }
    }
}

impl NotifyConfig {
    /// The domain's policy.
    pub fn policy(&self) -> iamsmart_domain::notify::NotifyPolicy {
        iamsmart_domain::notify::NotifyPolicy {
            retention_ms: self.retention_days as i64 * 86_400_000,
            max_per_resident: i64::from(self.max_per_resident),
            window_ms: self.window_minutes as i64 * 60_000,
        }
    }
}

/// The demo online service started by `iamsmart demo`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Address the demo service listens on.
    pub service_listen: String,
    /// Its URL as browsers reach it.
    pub service_url: String,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            service_listen: "127.0.0.1:8081".into(),
            service_url: "http://localhost:8081".into(),
        }
    }
}

/// Lifetimes of the OpenID provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// Authorization code lifetime (at most 60).
    pub code_ttl_secs: u64,
    /// Pushed authorization request lifetime (5 to 600).
    pub par_ttl_secs: u64,
    /// How long a login waits for the app.
    pub login_ttl_secs: u64,
    /// Access token lifetime.
    pub access_token_ttl_secs: u64,
    /// ID token lifetime.
    pub id_token_ttl_secs: u64,
    /// Absolute lifetime of a refresh token family, in days.
    pub refresh_ttl_days: u64,
    /// Absolute lifetime of a browser session at the provider, in minutes.
    pub session_ttl_minutes: u64,
    /// Idle timeout of a browser session, in minutes.
    pub session_idle_minutes: u64,
    /// CIBA request lifetime.
    pub ciba_ttl_secs: u64,
    /// CIBA polling interval.
    pub ciba_interval_secs: u64,
    /// A signing request made with a resident's access token needs an iAM Smart+ login no older
    /// than this (RFC 9470 step-up otherwise).
    pub signing_login_max_age_secs: u64,
    /// The iAM Smart-compatible API: how far a request's `timestamp` may be from the
    /// platform's clock, either way.
    pub api_timestamp_window_secs: u64,
    /// The iAM Smart-compatible API: lifetime of a content key issued by `getKey`.
    pub api_content_key_ttl_secs: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        let p = iamsmart_domain::oidc::OidcPolicy::new("");
        Self {
            code_ttl_secs: whole(p.code_ttl_ms, 1000),
            par_ttl_secs: whole(p.par_ttl_ms, 1000),
            login_ttl_secs: whole(p.login_ttl_ms, 1000),
            access_token_ttl_secs: whole(p.access_token_ttl_ms, 1000),
            id_token_ttl_secs: whole(p.id_token_ttl_ms, 1000),
            refresh_ttl_days: whole(p.refresh_ttl_ms, 86_400_000),
            session_ttl_minutes: whole(p.session_ttl_ms, 60_000),
            session_idle_minutes: whole(p.session_idle_ms, 60_000),
            ciba_ttl_secs: whole(p.ciba_ttl_ms, 1000),
            ciba_interval_secs: whole(p.ciba_interval_ms, 1000),
            signing_login_max_age_secs: u64::try_from(p.signing_login_max_age_s).unwrap_or(0),
            api_timestamp_window_secs: whole(p.api_timestamp_window_ms, 1000),
            api_content_key_ttl_secs: whole(p.api_content_key_ttl_ms, 1000),
        }
    }
}

/// Connection to the immigration registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Base URL, e.g. `http://127.0.0.1:8091/immd`. Unset: registrations that need the registry
    /// are refused with a clear message.
    pub url: Option<String>,
    /// Milliseconds to wait for an answer.
    pub timeout_ms: u64,
}

/// Face matching (builds with the `face` feature).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaceConfig {
    /// Directory with `shape_predictor_5_face_landmarks.dat` and
    /// `dlib_face_recognition_resnet_model_v1.dat` (see scripts/fetch-face-data).
    pub models_dir: Option<PathBuf>,
    /// Largest embedding distance accepted as the same person.
    pub threshold: f64,
    /// Milliseconds one face check may take.
    pub timeout_ms: u64,
}

/// Identity timings and limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Lifetime of an activation code from a counter or kiosk, in hours.
    pub activation_code_ttl_hours: u64,
    /// Failed proofing or activation attempts allowed per HKID, device and address per window.
    pub max_failures: u32,
    /// The failure window and the lock after it is exceeded, in minutes.
    pub failure_window_minutes: u64,
    /// Days a closed account's personal data is kept before it is erased.
    pub closed_retention_days: u64,
    /// Lifetime of a staff session, in minutes.
    pub staff_session_minutes: u64,
    /// Seconds a request waits for approval in the app.
    pub approval_ttl_secs: u64,
    /// Requests one resident may have waiting at once.
    pub max_pending_approvals: u32,
    /// Of those, requests one service may have waiting for one resident at once (so that one
    /// service cannot take every slot).
    pub max_pending_per_service: u32,
    /// Hours a phone that self-registered with an HKID already on another phone waits before it
    /// takes the account over (the current phones are told and can refuse); 0: at once.
    pub takeover_cool_off_hours: u64,
}

/// WebAuthn relying party.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnConfig {
    /// RP ID; default: the host of `public_url` (`localhost` for 127.0.0.1, since browsers refuse
    /// IP addresses as RP IDs).
    pub rp_id: Option<String>,
    /// Name shown by authenticators.
    pub rp_name: String,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            url: None,
            timeout_ms: 5000,
        }
    }
}

impl Default for FaceConfig {
    fn default() -> Self {
        Self {
            models_dir: None,
            threshold: f64::from(iamsmart_face::DEFAULT_THRESHOLD),
            timeout_ms: iamsmart_domain::platform::IdentityPolicy::default().face_timeout_ms,
        }
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        let p = iamsmart_domain::platform::IdentityPolicy::default();
        Self {
            activation_code_ttl_hours: whole(p.activation_code_ttl_ms, 3_600_000),
            max_failures: u32::try_from(p.failures.max_failures).unwrap_or(0),
            failure_window_minutes: whole(p.failures.window_ms, 60_000),
            closed_retention_days: whole(p.closed_retention_ms, 86_400_000),
            staff_session_minutes: whole(p.staff_session_ttl_ms, 60_000),
            approval_ttl_secs: whole(p.approval_ttl_ms, 1000),
            max_pending_approvals: u32::try_from(p.max_pending_approvals).unwrap_or(0),
            max_pending_per_service: u32::try_from(p.max_pending_per_service).unwrap_or(0),
            takeover_cool_off_hours: whole(p.takeover_cool_off_ms, 3_600_000),
        }
    }
}

impl Default for WebauthnConfig {
    fn default() -> Self {
        Self {
            rp_id: None,
            rp_name: "iAM Smart".into(),
        }
    }
}

/// Database pool settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Connections in each pool (reads, and on PostgreSQL writes: up to twice this many
    /// connections per process there).
    pub max_connections: u32,
    /// Seconds to wait for a connection before answering 503.
    pub acquire_timeout_secs: u64,
}

/// Key store settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// `file` or `pkcs11`.
    pub backend: String,
    /// The master key (file back end); default: `<data_dir>/master.key`, created on first start.
    pub master_key_file: Option<PathBuf>,
    /// PKCS#11 settings (pkcs11 back end).
    pub pkcs11: Pkcs11Config,
    /// Seconds a new signing key is published before it signs.
    pub publish_lead_secs: u64,
    /// Longest lifetime of a signed token, in seconds.
    pub token_max_lifetime_secs: u64,
}

/// PKCS#11 token settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module.
    pub module: Option<PathBuf>,
    /// Label of the token.
    pub token_label: Option<String>,
    /// User PIN (prefer `pin_file`).
    pub pin: Option<String>,
    /// File holding the user PIN.
    pub pin_file: Option<PathBuf>,
}

/// HTTP settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest request body in bytes.
    pub body_limit_bytes: usize,
    /// Largest body of calls that carry images (registration, upgrade), in bytes.
    pub upload_limit_bytes: usize,
    /// Seconds one request may take.
    pub request_timeout_secs: u64,
    /// Seconds to finish requests in flight at shutdown.
    pub shutdown_grace_secs: u64,
    /// Requests per minute per client IP (0 = unlimited).
    pub rate_limit_per_ip_per_minute: u32,
    /// Requests per minute per API client (0 = unlimited).
    pub rate_limit_per_client_per_minute: u32,
    /// Burst above the steady rate.
    pub rate_limit_burst: u32,
    /// The reverse proxies in front of the platform (addresses or CIDR networks, e.g.
    /// `["10.0.0.0/8"]`). Behind one of them the client is the address the last trusted proxy
    /// saw (read from the right of `X-Forwarded-For`); none by default, so the header is ignored.
    pub trusted_proxies: Vec<String>,
}

/// Operator API settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// The operator API token (prefer `token_file`). Unset: the operator API is off.
    pub token: Option<String>,
    /// File holding the operator API token.
    pub token_file: Option<PathBuf>,
}

/// Audit log settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Seconds between signed tree heads (when the log grew).
    pub tree_head_interval_secs: u64,
    /// RFC 7638 thumbprints of the log keys that may sign tree heads, for `iamsmart audit
    /// verify` (publish them; `iamsmart keys list` shows them). Empty: any log key the key
    /// store holds.
    pub log_key_thumbprints: Vec<String>,
}

/// Logging settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` or `text`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `iamsmart=debug,info`.
    pub level: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout_secs: 3,
        }
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            backend: "file".into(),
            master_key_file: None,
            pkcs11: Pkcs11Config::default(),
            publish_lead_secs: 600,
            token_max_lifetime_secs: 86_400,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 1024 * 1024,
            upload_limit_bytes: 24 * 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 20,
            rate_limit_per_ip_per_minute: 600,
            rate_limit_per_client_per_minute: 6000,
            rate_limit_burst: 100,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            tree_head_interval_secs: 60,
            log_key_thumbprints: Vec::new(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "json".into(),
            level: "info".into(),
        }
    }
}
