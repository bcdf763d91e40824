//! Configuration: one typed tree from a TOML file, overridden by `IAMSMART_*` environment
//! variables and `*_FILE` secrets, validated before anything starts.
//!
//! Environment names: `IAMSMART_` + the key path in upper case, sections joined by `__`
//! (`IAMSMART_HTTP__BODY_LIMIT_BYTES`). Top-level keys need no section (`IAMSMART_LISTEN`), and
//! `IAMSMART_MASTER_KEY_FILE` is short for `IAMSMART_KEYS__MASTER_KEY_FILE`. For a secret `X`,
//! `X_FILE` names a file holding it (`IAMSMART_DATABASE_URL_FILE`, `IAMSMART_KEYS__PKCS11__PIN_FILE`).
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// The URL residents and services use to reach the platform.
    pub public_url: String,
    /// Where the platform keeps its files (SQLite database, master key).
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; default: SQLite in the data dir.
    pub database_url: Option<String>,
    /// Database pool.
    pub database: DatabaseConfig,
    /// Keys.
    pub keys: KeysConfig,
    /// HTTP.
    pub http: HttpConfig,
    /// Operator API.
    pub admin: AdminConfig,
    /// Audit / transparency log.
    pub audit: AuditConfig,
    /// Logging.
    pub log: LogConfig,
    /// The Immigration Department's registry.
    pub registry: RegistryConfig,
    /// Face matching.
    pub face: FaceConfig,
    /// Registration, devices, staff and approvals.
    pub identity: IdentityConfig,
    /// The resident's app: user verification and unlocking.
    pub app: crate::app_config::AppConfig,
    /// Calls to URLs that services and the operator supplied.
    pub outbound: crate::outbound_config::OutboundConfig,
    /// Passkeys.
    pub webauthn: WebauthnConfig,
    /// The OpenID provider's lifetimes.
    pub oidc: OidcConfig,
    /// Digital signing.
    pub signing: SigningConfig,
    /// Personalised notifications.
    pub notify: NotifyConfig,
    /// `iamsmart demo` only: the demo online service.
    pub demo: DemoConfig,
    /// Public information feeds (weather, warnings, traffic, food alerts, press releases).
    pub public_info: crate::public_info::PublicInfoConfig,
}

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

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database: DatabaseConfig::default(),
            keys: KeysConfig::default(),
            http: HttpConfig::default(),
            admin: AdminConfig::default(),
            audit: AuditConfig::default(),
            log: LogConfig::default(),
            registry: RegistryConfig::default(),
            face: FaceConfig::default(),
            identity: IdentityConfig::default(),
            app: crate::app_config::AppConfig::default(),
            outbound: crate::outbound_config::OutboundConfig::default(),
            webauthn: WebauthnConfig::default(),
            oidc: OidcConfig::default(),
            signing: SigningConfig::default(),
            notify: NotifyConfig::default(),
            demo: DemoConfig::default(),
            public_info: crate::public_info::PublicInfoConfig::default(),
        }
    }
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

/// A configuration problem: which key, what is wrong, how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("configuration: `{key}`: {message}")]
pub struct ConfigError {
    /// The key (dotted path or environment variable).
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// Environment variables that are not configuration keys.
const NOT_CONFIG: &[&str] = &["IAMSMART_CONFIG", "IAMSMART_LOG", "IAMSMART_FACE_DATA"];
const NOT_CONFIG_PREFIXES: &[&str] = &["IAMSMART_TEST_", "IAMSMART_SKIP_"];
/// Secrets that may be given as `<KEY>_FILE`.
const SECRETS: &[&str] = &["database_url", "keys.pkcs11.pin", "admin.token"];

fn env_to_path(name: &str) -> Option<String> {
    let rest = name.strip_prefix("IAMSMART_")?;
    if rest == "MASTER_KEY_FILE" {
        return Some("keys.master_key_file".into());
    }
    Some(rest.to_ascii_lowercase().replace("__", "."))
}

fn set_path(root: &mut toml::Table, path: &str, value: toml::Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or_default();
    let mut table = root;
    for p in parts {
        let entry = table
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        table = entry.as_table_mut().expect("just made a table");
    }
    table.insert(last.to_string(), value);
}

fn known_paths() -> Vec<(String, &'static str)> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, &'static str)>) {
        if let Some(map) = v.as_object() {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_object() {
                    walk(&p, v, out);
                } else {
                    let kind = match v {
                        serde_json::Value::Bool(_) => "bool",
                        serde_json::Value::Number(_) => "number",
                        serde_json::Value::Array(_) => "list",
                        _ => "string",
                    };
                    out.push((p, kind));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        "",
        &serde_json::to_value(Config::default()).unwrap_or_default(),
        &mut out,
    );
    out
}

/// A typed value from an environment string.
fn env_value(kind: &str, raw: &str) -> toml::Value {
    match kind {
        "bool" => match raw {
            "true" | "1" | "yes" => toml::Value::Boolean(true),
            "false" | "0" | "no" => toml::Value::Boolean(false),
            _ => toml::Value::String(raw.into()),
        },
        "number" => raw
            .parse::<i64>()
            .map(toml::Value::Integer)
            .or_else(|_| raw.parse::<f64>().map(toml::Value::Float))
            .unwrap_or_else(|_| toml::Value::String(raw.into())),
        // A list from the environment: comma-separated (`10.0.0.0/8,192.168.1.5`).
        "list" => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| toml::Value::String(v.into()))
                .collect(),
        ),
        _ => toml::Value::String(raw.into()),
    }
}

impl Config {
    /// Load from an optional TOML file and the given environment, then validate.
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut root = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    err(
                        p.display().to_string(),
                        format!("cannot read the configuration file: {e}"),
                    )
                })?;
                text.parse::<toml::Table>().map_err(|e| {
                    err(
                        p.display().to_string(),
                        format!("not valid TOML: {}", e.message()),
                    )
                })?
            }
            None => toml::Table::new(),
        };
        let known = known_paths();
        for (name, raw) in env {
            if !name.starts_with("IAMSMART_")
                || NOT_CONFIG.contains(&name.as_str())
                || NOT_CONFIG_PREFIXES.iter().any(|p| name.starts_with(p))
            {
                continue;
            }
            let mut path = env_to_path(name).unwrap_or_default();
            // `IAMSMART_ADMIN_TOKEN_FILE` may also name `admin.token_file`: match on the flattened name.
            let flat = |p: &str| p.replace('.', "_");
            if !known.iter().any(|(p, _)| *p == path) {
                let wanted = flat(&path);
                if let Some((p, _)) = known.iter().find(|(p, _)| flat(p) == wanted) {
                    path = p.clone();
                } else if let Some(s) = SECRETS
                    .iter()
                    .find(|s| format!("{}_file", flat(s)) == wanted)
                {
                    path = format!("{s}_file");
                }
            }
            if let Some((_, kind)) = known.iter().find(|(p, _)| *p == path) {
                set_path(&mut root, &path, env_value(kind, raw));
                continue;
            }
            if let Some(secret) = path.strip_suffix("_file").filter(|s| SECRETS.contains(s)) {
                let value = std::fs::read_to_string(raw).map_err(|e| {
                    err(
                        name.clone(),
                        format!("cannot read the secret file {raw}: {e}"),
                    )
                })?;
                set_path(
                    &mut root,
                    secret,
                    toml::Value::String(value.trim_end_matches(['\n', '\r']).into()),
                );
                continue;
            }
            return Err(err(
                name.clone(),
                "unknown setting; see `iamsmart config check --help` and docs/ARCHITECTURE.md for the keys",
            ));
        }
        let de = toml::Value::Table(root);
        let cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            let inner = inner.lines().next().unwrap_or_default().to_string();
            err(
                if path == "." {
                    "(top level)".into()
                } else {
                    path
                },
                inner,
            )
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Check values that types cannot (addresses, URLs, back-end requirements).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen.parse::<std::net::SocketAddr>().map_err(|_| {
            err(
                "listen",
                format!(
                    "{:?} is not an address; use host:port, e.g. 127.0.0.1:8080",
                    self.listen
                ),
            )
        })?;
        let u = &self.public_url;
        if !(u.starts_with("http://") || u.starts_with("https://"))
            || u.contains('?')
            || u.contains('#')
            || u.ends_with('/')
        {
            return Err(err(
                "public_url",
                format!("{u:?} must be an http(s) URL without query, fragment or trailing slash, e.g. https://id.example.gov.hk"),
            ));
        }
        if let Some(db) = &self.database_url {
            if !(db.starts_with("sqlite:")
                || db.starts_with("postgres://")
                || db.starts_with("postgresql://"))
            {
                return Err(err(
                    "database_url",
                    "must start with sqlite: or postgres://",
                ));
            }
        }
        iamsmart_domain::signing::check_oid_arc(&self.signing.oid_arc)
            .map_err(|m| err("signing.oid_arc", m))?;
        match self.keys.backend.as_str() {
            "file" => {}
            "pkcs11" => {
                let p = &self.keys.pkcs11;
                if p.module.is_none() {
                    return Err(err("keys.pkcs11.module", "required with keys.backend = \"pkcs11\" (e.g. /usr/lib/softhsm/libsofthsm2.so)"));
                }
                if p.token_label.is_none() {
                    return Err(err(
                        "keys.pkcs11.token_label",
                        "required with keys.backend = \"pkcs11\"",
                    ));
                }
                if p.pin.is_none() && p.pin_file.is_none() {
                    return Err(err("keys.pkcs11.pin_file", "required with keys.backend = \"pkcs11\" (or IAMSMART_KEYS__PKCS11__PIN_FILE)"));
                }
            }
            other => {
                return Err(err(
                    "keys.backend",
                    format!("{other:?} is not a key store; use \"file\" or \"pkcs11\""),
                ))
            }
        }
        if !matches!(self.log.format.as_str(), "json" | "text") {
            return Err(err("log.format", "use \"json\" or \"text\""));
        }
        if self.http.body_limit_bytes < 1024 {
            return Err(err("http.body_limit_bytes", "must be at least 1024"));
        }
        if self.http.request_timeout_secs == 0 {
            return Err(err("http.request_timeout_secs", "must be at least 1"));
        }
        if self.keys.token_max_lifetime_secs == 0 {
            return Err(err("keys.token_max_lifetime_secs", "must be at least 1"));
        }
        for (key, v) in [
            ("notify.retention_days", self.notify.retention_days),
            (
                "notify.max_per_resident",
                u64::from(self.notify.max_per_resident),
            ),
            ("notify.window_minutes", self.notify.window_minutes),
        ] {
            if v == 0 {
                return Err(err(key, "must be at least 1"));
            }
        }
        if self.audit.log_key_thumbprints.iter().any(|t| {
            t.len() != 43
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }) {
            return Err(err(
                "audit.log_key_thumbprints",
                "each is an RFC 7638 SHA-256 thumbprint: 43 base64url characters",
            ));
        }
        if self.audit.tree_head_interval_secs == 0 {
            return Err(err("audit.tree_head_interval_secs", "must be at least 1"));
        }
        if self.http.upload_limit_bytes < self.http.body_limit_bytes {
            return Err(err(
                "http.upload_limit_bytes",
                "must be at least http.body_limit_bytes",
            ));
        }
        if let Some(u) = &self.registry.url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(err(
                    "registry.url",
                    "must be an http(s) URL, e.g. http://127.0.0.1:8091/immd",
                ));
            }
        }
        if !(0.2..=1.0).contains(&self.face.threshold) {
            return Err(err(
                "face.threshold",
                "must be between 0.2 and 1.0 (dlib embedding distance); see docs/FACE.md",
            ));
        }
        let o = &self.oidc;
        if !(1..=60).contains(&o.code_ttl_secs) {
            return Err(err("oidc.code_ttl_secs", "must be 1 to 60 (FAPI 2.0)"));
        }
        if !(5..=600).contains(&o.par_ttl_secs) {
            return Err(err("oidc.par_ttl_secs", "must be 5 to 600 (FAPI 2.0)"));
        }
        for (key, v) in [
            ("oidc.login_ttl_secs", o.login_ttl_secs),
            ("oidc.access_token_ttl_secs", o.access_token_ttl_secs),
            ("oidc.id_token_ttl_secs", o.id_token_ttl_secs),
            ("oidc.refresh_ttl_days", o.refresh_ttl_days),
            ("oidc.session_ttl_minutes", o.session_ttl_minutes),
            ("oidc.session_idle_minutes", o.session_idle_minutes),
            ("oidc.ciba_ttl_secs", o.ciba_ttl_secs),
            ("oidc.ciba_interval_secs", o.ciba_interval_secs),
            (
                "oidc.signing_login_max_age_secs",
                o.signing_login_max_age_secs,
            ),
        ] {
            if v == 0 {
                return Err(err(key, "must be at least 1"));
            }
        }
        if o.access_token_ttl_secs.max(o.id_token_ttl_secs) > self.keys.token_max_lifetime_secs {
            return Err(err(
                "oidc.access_token_ttl_secs",
                "token lifetimes must not exceed keys.token_max_lifetime_secs (old keys must outlive their tokens)",
            ));
        }
        let i = &self.identity;
        for (key, v) in [
            (
                "identity.activation_code_ttl_hours",
                i.activation_code_ttl_hours,
            ),
            ("identity.max_failures", u64::from(i.max_failures)),
            ("identity.failure_window_minutes", i.failure_window_minutes),
            ("identity.staff_session_minutes", i.staff_session_minutes),
            ("identity.approval_ttl_secs", i.approval_ttl_secs),
            (
                "identity.max_pending_approvals",
                u64::from(i.max_pending_approvals),
            ),
            (
                "identity.max_pending_per_service",
                u64::from(i.max_pending_per_service),
            ),
            ("registry.timeout_ms", self.registry.timeout_ms),
            ("face.timeout_ms", self.face.timeout_ms),
        ] {
            if v == 0 {
                return Err(err(key, "must be at least 1"));
            }
        }
        if i.takeover_cool_off_hours > 24 * 30 {
            return Err(err(
                "identity.takeover_cool_off_hours",
                "at most 720 (30 days)",
            ));
        }
        self.public_info
            .validate()
            .map_err(|(key, message)| err(key, message))?;
        self.app
            .validate()
            .map_err(|(key, message)| err(key, message))?;
        self.trusted_proxies()?;
        self.outbound
            .policy()
            .map_err(|(key, message)| err(key, message))?;
        Ok(())
    }

    /// `http.trusted_proxies` as networks (a single address is its own /32 or /128).
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.http
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        err(
                            "http.trusted_proxies",
                            format!("{p:?} is not an address or a network such as 10.0.0.0/8"),
                        )
                    })
            })
            .collect()
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("iamsmart.db").display()))
    }

    /// The WebAuthn relying party: RP ID (from `webauthn.rp_id` or the public URL's host), the
    /// origin (the public URL) and the name.
    pub fn relying_party(&self) -> iamsmart_crypto::webauthn::RelyingParty {
        let host = self
            .public_url
            .split("://")
            .nth(1)
            .unwrap_or_default()
            .split(['/', ':'])
            .next()
            .unwrap_or_default()
            .to_string();
        let id = self.webauthn.rp_id.clone().unwrap_or_else(|| {
            if host.parse::<std::net::IpAddr>().is_ok() {
                "localhost".into()
            } else {
                host
            }
        });
        iamsmart_crypto::webauthn::RelyingParty {
            id,
            origin: self.public_url.clone(),
            name: self.webauthn.rp_name.clone(),
        }
    }

    /// The OpenID provider's policy (issuer = the public URL).
    pub fn oidc_policy(&self) -> iamsmart_domain::oidc::OidcPolicy {
        let o = &self.oidc;
        let mut p = iamsmart_domain::oidc::OidcPolicy::new(&self.public_url);
        p.code_ttl_ms = o.code_ttl_secs as i64 * 1000;
        p.par_ttl_ms = o.par_ttl_secs as i64 * 1000;
        p.login_ttl_ms = o.login_ttl_secs as i64 * 1000;
        p.access_token_ttl_ms = o.access_token_ttl_secs as i64 * 1000;
        p.id_token_ttl_ms = o.id_token_ttl_secs as i64 * 1000;
        p.refresh_ttl_ms = o.refresh_ttl_days as i64 * 86_400_000;
        p.session_ttl_ms = o.session_ttl_minutes as i64 * 60_000;
        p.session_idle_ms = o.session_idle_minutes as i64 * 60_000;
        p.ciba_ttl_ms = o.ciba_ttl_secs as i64 * 1000;
        p.ciba_interval_ms = o.ciba_interval_secs as i64 * 1000;
        p.signing_login_max_age_s = o.signing_login_max_age_secs as i64;
        p
    }

    /// Identity timings and limits for the domain.
    pub fn identity_policy(&self) -> iamsmart_domain::platform::IdentityPolicy {
        let i = &self.identity;
        let window = i.failure_window_minutes as i64 * 60_000;
        iamsmart_domain::platform::IdentityPolicy {
            activation_code_ttl_ms: i.activation_code_ttl_hours as i64 * 3_600_000,
            failures: iamsmart_domain::guard::Limit {
                max_failures: i64::from(i.max_failures),
                window_ms: window,
                lock_ms: window,
            },
            closed_retention_ms: i.closed_retention_days as i64 * 86_400_000,
            staff_session_ttl_ms: i.staff_session_minutes as i64 * 60_000,
            max_image_bytes: self.http.upload_limit_bytes / 3,
            face_timeout_ms: self.face.timeout_ms,
            approval_ttl_ms: i.approval_ttl_secs as i64 * 1000,
            max_pending_approvals: i64::from(i.max_pending_approvals),
            max_pending_per_service: i64::from(i.max_pending_per_service),
            takeover_cool_off_ms: i.takeover_cool_off_hours as i64 * 3_600_000,
            app: self.app.policy(),
            // Not configurable: the domain's.
            ..iamsmart_domain::platform::IdentityPolicy::default()
        }
    }

    /// The master key file in force.
    pub fn master_key_file(&self) -> PathBuf {
        self.keys
            .master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// Read a secret given inline or through a file.
    pub fn secret(
        inline: &Option<String>,
        file: &Option<PathBuf>,
        key: &str,
    ) -> Result<Option<String>, ConfigError> {
        if let Some(v) = inline {
            return Ok(Some(v.clone()));
        }
        match file {
            Some(p) => std::fs::read_to_string(p)
                .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|e| err(key, format!("cannot read {}: {e}", p.display()))),
            None => Ok(None),
        }
    }

    /// The effective configuration for people to read, secrets hidden.
    pub fn redacted(&self) -> String {
        let mut c = self.clone();
        if let Some(u) = &c.database_url {
            if let Some((scheme, rest)) = u.split_once("://") {
                if let Some((cred, host)) = rest.rsplit_once('@') {
                    let user = cred.split(':').next().unwrap_or_default();
                    c.database_url = Some(format!("{scheme}://{user}:***@{host}"));
                }
            }
        }
        if c.keys.pkcs11.pin.is_some() {
            c.keys.pkcs11.pin = Some("***".into());
        }
        if c.admin.token.is_some() {
            c.admin.token = Some("***".into());
        }
        toml::to_string_pretty(&c).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_configuration_gives_the_domain_its_own_defaults() {
        let c = super::Config::default();
        let oidc = iamsmart_domain::oidc::OidcPolicy::new(&c.public_url);
        assert_eq!(format!("{:?}", c.oidc_policy()), format!("{oidc:?}"));
        let notify = iamsmart_domain::notify::NotifyPolicy::default();
        assert_eq!(format!("{:?}", c.notify.policy()), format!("{notify:?}"));
        let identity = iamsmart_domain::platform::IdentityPolicy {
            // The one limit that follows another setting (a third of the upload limit).
            max_image_bytes: c.http.upload_limit_bytes / 3,
            ..Default::default()
        };
        assert_eq!(
            format!("{:?}", c.identity_policy()),
            format!("{identity:?}")
        );
    }

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        let c = Config::load(None, &env(&[])).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert!(c.database_url().starts_with("sqlite://"));
        assert!(c.database_url().ends_with("iamsmart.db"));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(
            &f,
            "listen = \"127.0.0.1:9000\"\n[http]\nbody_limit_bytes = 4096\n",
        )
        .unwrap();
        let secret = dir.path().join("db");
        std::fs::write(&secret, "postgres://u:pw@127.0.0.1/x\n").unwrap();
        let c = Config::load(
            Some(&f),
            &env(&[
                ("IAMSMART_LISTEN", "127.0.0.1:9100"),
                ("IAMSMART_HTTP__RATE_LIMIT_BURST", "7"),
                ("IAMSMART_HTTP__TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5"),
                ("IAMSMART_DATABASE_URL_FILE", secret.to_str().unwrap()),
                ("IAMSMART_MASTER_KEY_FILE", "/run/secrets/mk"),
                ("IAMSMART_TEST_DATABASE_URL", "ignored"),
                ("IAMSMART_ADMIN_TOKEN_FILE", "/run/secrets/admin"),
                ("PATH", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:9100");
        assert_eq!(c.http.body_limit_bytes, 4096);
        assert_eq!(c.http.rate_limit_burst, 7);
        assert_eq!(c.http.trusted_proxies, ["10.0.0.0/8", "192.168.1.5"]);
        assert_eq!(c.trusted_proxies().unwrap().len(), 2);
        assert_eq!(
            c.database_url.as_deref(),
            Some("postgres://u:pw@127.0.0.1/x")
        );
        assert_eq!(c.master_key_file(), PathBuf::from("/run/secrets/mk"));
        assert_eq!(
            c.admin.token_file,
            Some(PathBuf::from("/run/secrets/admin"))
        );
        assert!(c.redacted().contains("postgres://u:***@127.0.0.1/x"));
        assert!(!c.redacted().contains("pw"));
    }

    #[test]
    fn public_information_feeds_are_configured_per_feed() {
        let c = Config::load(
            None,
            &env(&[
                ("IAMSMART_PUBLIC_INFO__SOURCE", "bundled"),
                (
                    "IAMSMART_PUBLIC_INFO__WEATHER__URL_TC",
                    "http://127.0.0.1:9/rhrread?lang=tc",
                ),
                ("IAMSMART_PUBLIC_INFO__TRAFFIC__INTERVAL_SECS", "5"),
                ("IAMSMART_PUBLIC_INFO__ENABLED", "false"),
            ]),
        )
        .unwrap();
        let p = &c.public_info;
        assert!(p.bundled() && !p.enabled);
        assert_eq!(p.weather.url_tc, "http://127.0.0.1:9/rhrread?lang=tc");
        assert!(p.weather.url_en.contains("dataType=rhrread&lang=en"));
        assert_eq!(p.traffic.interval_secs, 5);
        assert!(Config::default()
            .public_info
            .nine_day
            .url_en
            .contains("dataType=fnd"));
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[http]\nbody_limit = 5\n").unwrap();
        let e = Config::load(Some(&f), &env(&[])).unwrap_err();
        assert_eq!(e.key, "http.body_limit");
        assert!(e.message.contains("unknown field `body_limit`"), "{e}");
        let e = Config::load(None, &env(&[("IAMSMART_LISTN", "x")])).unwrap_err();
        assert_eq!(e.key, "IAMSMART_LISTN");
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        let e = Config::load(None, &env(&[("IAMSMART_LISTEN", "localhost")])).unwrap_err();
        assert_eq!(e.key, "listen");
        assert!(e.message.contains("host:port"));
        let e =
            Config::load(None, &env(&[("IAMSMART_HTTP__BODY_LIMIT_BYTES", "lots")])).unwrap_err();
        assert_eq!(e.key, "http.body_limit_bytes", "{e}");
        let e = Config::load(None, &env(&[("IAMSMART_KEYS__BACKEND", "hsm")])).unwrap_err();
        assert_eq!(e.key, "keys.backend");
        let e = Config::load(None, &env(&[("IAMSMART_KEYS__BACKEND", "pkcs11")])).unwrap_err();
        assert_eq!(e.key, "keys.pkcs11.module");
        let e = Config::load(None, &env(&[("IAMSMART_DATABASE_URL", "mysql://x")])).unwrap_err();
        assert_eq!(e.key, "database_url");
        let e = Config::load(None, &env(&[("IAMSMART_PUBLIC_INFO__SOURCE", "cache")])).unwrap_err();
        assert_eq!(e.key, "public_info.source");
        let e = Config::load(
            None,
            &env(&[("IAMSMART_PUBLIC_INFO__TRAFFIC__URL", "ftp://x/y.xml")]),
        )
        .unwrap_err();
        assert_eq!(e.key, "public_info.traffic.url");
        let e = Config::load(
            None,
            &env(&[("IAMSMART_PUBLIC_INFO__WEATHER__INTERVAL_SECS", "0")]),
        )
        .unwrap_err();
        assert_eq!(e.key, "public_info.weather.interval_secs");
        let e =
            Config::load(None, &env(&[("IAMSMART_PUBLIC_INFO__WEATHER__URL", "x")])).unwrap_err();
        assert_eq!(e.key, "IAMSMART_PUBLIC_INFO__WEATHER__URL");
        for arc in ["", "1.3.6.x", "3.1", "1.3.6.1.4.1.99999999999"] {
            let e = Config::load(None, &env(&[("IAMSMART_SIGNING__OID_ARC", arc)])).unwrap_err();
            assert_eq!(e.key, "signing.oid_arc", "{arc:?}");
            assert!(e.message.contains("dotted decimal"), "{e}");
        }
        let c = Config::load(
            None,
            &env(&[("IAMSMART_SIGNING__OID_ARC", "1.3.6.1.4.1.64000")]),
        )
        .unwrap();
        assert_eq!(c.signing.oid_arc, "1.3.6.1.4.1.64000");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "listen = [").unwrap();
        let e = Config::load(Some(&f), &env(&[])).unwrap_err();
        assert!(e.message.contains("not valid TOML"));
    }
}
