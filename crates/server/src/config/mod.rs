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

mod env;
mod sections;
use env::*;
pub use sections::*;

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
        if !(1..=3600).contains(&o.api_timestamp_window_secs) {
            return Err(err(
                "oidc.api_timestamp_window_secs",
                "must be 1 to 3600 (nonces are kept as long, so a replay is always caught)",
            ));
        }
        if !(60..=86_400).contains(&o.api_content_key_ttl_secs) {
            return Err(err("oidc.api_content_key_ttl_secs", "must be 60 to 86400"));
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
        p.api_timestamp_window_ms = o.api_timestamp_window_secs as i64 * 1000;
        p.api_content_key_ttl_ms = o.api_content_key_ttl_secs as i64 * 1000;
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
mod tests;
