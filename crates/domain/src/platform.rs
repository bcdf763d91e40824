//! The assembled platform: database, keys, vault, clock and randomness.
use crate::clock::Clock;
use crate::env::Env;
use crate::error::{DomainError, Result};
use crate::guard::Limit;
use crate::identity::registry::{NoRegistry, Registry};
use crate::keys::{KeyPolicy, KeyService};
use crate::vault::Vault;
use iamsmart_crypto::keystore::KeyStore;
use iamsmart_crypto::rng::Rng;
use iamsmart_crypto::webauthn::RelyingParty;
use iamsmart_face::{FaceMatcher, NoFaceMatcher};
use iamsmart_store::Db;
use std::sync::Arc;

/// Timings and limits of identity operations.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    /// Lifetime of a registration challenge.
    pub challenge_ttl_ms: i64,
    /// Lifetime of an activation code issued at a counter or kiosk.
    pub activation_code_ttl_ms: i64,
    /// Failed registrations, activations and face checks per HKID, device and address.
    pub failures: Limit,
    /// How long a closed account's personal data is kept before it is erased.
    pub closed_retention_ms: i64,
    /// Lifetime of a staff session.
    pub staff_session_ttl_ms: i64,
    /// Largest accepted image (card photo, selfie), in bytes.
    pub max_image_bytes: usize,
    /// Time limit of one face check.
    pub face_timeout_ms: u64,
    /// Lifetime of a request waiting for approval in the app.
    pub approval_ttl_ms: i64,
    /// Requests one resident may have waiting at once (against push bombing).
    pub max_pending_approvals: i64,
    /// Of those, requests one service may have waiting for one resident at once.
    pub max_pending_per_service: i64,
    /// How long a phone that self-registered with an HKID whose account is on another phone
    /// waits before it takes over (the current phones can refuse meanwhile).
    pub takeover_cool_off_ms: i64,
    /// The resident's app: user verification, sessions, devices.
    pub app: AppPolicy,
}

/// How the resident's app proves the resident is present, and how long an unlocked app stays
/// unlocked. Set from the `[app]` configuration, whose defaults are these.
#[derive(Debug, Clone)]
pub struct AppPolicy {
    /// Whether a device may be bound with a PIN the platform checks (else passkeys only).
    pub pin_allowed: bool,
    /// Refuse to bind devices (activation, registration) without user verification the
    /// platform checks.
    pub require_user_verification: bool,
    /// Wrong PINs in a row after which the device is revoked.
    pub pin_max_failures: i64,
    /// An unlocked app locks after this long without a call.
    pub session_idle_ms: i64,
    /// An unlocked app locks after this long whatever happens.
    pub session_max_ms: i64,
    /// Actions that need a recent proof (closing the account, adding a device) need an unlock
    /// no older than this.
    pub fresh_ms: i64,
    /// Devices one resident may have active at once.
    pub max_devices: i64,
    /// Lifetime of a code one device issues to add another.
    pub link_code_ttl_ms: i64,
}

impl Default for AppPolicy {
    fn default() -> Self {
        Self {
            pin_allowed: true,
            require_user_verification: false,
            pin_max_failures: 5,
            session_idle_ms: 300_000,
            session_max_ms: 1_800_000,
            fresh_ms: 120_000,
            max_devices: 5,
            link_code_ttl_ms: 600_000,
        }
    }
}

/// The default of [`IdentityPolicy::takeover_cool_off_ms`], in hours (three days: long enough
/// for a resident to notice the notice, short enough for someone who lost their phone).
pub const DEFAULT_TAKEOVER_COOL_OFF_HOURS: i64 = 72;

impl Default for IdentityPolicy {
    fn default() -> Self {
        Self {
            challenge_ttl_ms: 10 * 60_000,
            activation_code_ttl_ms: 72 * 3_600_000,
            failures: Limit {
                max_failures: 5,
                window_ms: 3_600_000,
                lock_ms: 3_600_000,
            },
            closed_retention_ms: 30 * 24 * 3_600_000,
            staff_session_ttl_ms: 8 * 3_600_000,
            max_image_bytes: 8 * 1024 * 1024,
            face_timeout_ms: 20_000,
            approval_ttl_ms: 120_000,
            max_pending_approvals: 3,
            max_pending_per_service: 1,
            takeover_cool_off_ms: DEFAULT_TAKEOVER_COOL_OFF_HOURS * 3_600_000,
            app: AppPolicy::default(),
        }
    }
}

/// Everything a request or a worker needs: the [`Env`] (database, clock, randomness), which it
/// dereferences to, and the capabilities built on it. Cheap to clone.
#[derive(Clone)]
pub struct Platform {
    /// The database, the clock and randomness (`p.db`, `p.clock` and `p.rng` through `Deref`).
    pub env: Env,
    /// Keys and their lifecycle.
    pub keys: KeyService,
    /// Personal data at rest.
    pub vault: Vault,
    /// The Immigration Department's registry.
    pub registry: Arc<dyn Registry>,
    /// Face matching (unavailable in builds without the model).
    pub face: Arc<dyn FaceMatcher>,
    /// Identity timings and limits.
    pub identity: Arc<IdentityPolicy>,
    /// Requests waiting for the resident's answer in the app.
    pub approvals: crate::authn::approvals::Approvals,
    /// WebAuthn relying party (passkeys).
    pub rp: Arc<RelyingParty>,
    /// The OpenID provider's settings and caches.
    pub oidc: Arc<crate::oidc::Provider>,
    /// The data exchange gateway's per-process state.
    pub exchange: Arc<crate::exchange::Gateway>,
    /// Digital signing settings.
    pub signing: Arc<crate::signing::SigningPolicy>,
    /// The certificate authority's per-process caches (the loaded authority, OCSP answers).
    pub pki: Arc<crate::signing::cache::PkiCache>,
    /// The portal's catalogue and its search index.
    pub portal: Arc<crate::portal::Portal>,
    /// Notifications: what services send and the resident's inbox.
    pub notify: crate::notify::Notify,
    /// The guarded client for URLs that services and the operator supplied.
    pub outbound: crate::outbound::Outbound,
}

impl std::ops::Deref for Platform {
    type Target = Env;

    fn deref(&self) -> &Env {
        &self.env
    }
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("backend", &self.db.backend())
            .finish()
    }
}

/// Name of the settings row holding the master key check value (file key store).
pub const MASTER_CHECK_SETTING: &str = "master_key_check";

impl Platform {
    /// Assemble the platform on a migrated database: create the first keys if needed and open
    /// the vault.
    pub async fn start(
        db: Db,
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        policy: KeyPolicy,
    ) -> Result<Self> {
        let keys = KeyService::new(db.clone(), store, clock.clone(), rng.clone(), policy);
        keys.bootstrap().await?;
        let vault = Vault::open(db.clone(), keys.clone(), rng.clone()).await?;
        let env = Env { db, clock, rng };
        let identity = Arc::new(IdentityPolicy::default());
        let platform = Self {
            env: env.clone(),
            keys,
            vault: vault.clone(),
            registry: Arc::new(NoRegistry),
            face: Arc::new(NoFaceMatcher),
            identity: identity.clone(),
            approvals: crate::authn::approvals::Approvals::new(env.clone(), identity),
            rp: Arc::new(RelyingParty {
                id: "localhost".into(),
                origin: "http://localhost:8080".into(),
                name: "iAM Smart".into(),
            }),
            oidc: Arc::new(crate::oidc::Provider::new(crate::oidc::OidcPolicy::new(
                "http://localhost:8080",
            ))),
            exchange: Arc::new(crate::exchange::Gateway::default()),
            signing: Arc::new(crate::signing::SigningPolicy::default()),
            pki: Arc::new(crate::signing::cache::PkiCache::default()),
            portal: Arc::new(crate::portal::Portal::new(env.clone())),
            notify: crate::notify::Notify::new(
                env.clone(),
                vault,
                crate::notify::NotifyPolicy::default(),
            ),
            outbound: crate::outbound::Outbound::default(),
        };
        crate::signing::ca::seal_stored_certs(&platform).await?;
        Ok(platform)
    }

    /// The same platform with another registry connection.
    pub fn with_registry(mut self, registry: Arc<dyn Registry>) -> Self {
        self.registry = registry;
        self
    }

    /// The same platform with another face matcher.
    pub fn with_face(mut self, face: Arc<dyn FaceMatcher>) -> Self {
        self.face = face;
        self
    }

    /// The same platform with other identity timings and limits.
    pub fn with_identity_policy(mut self, policy: IdentityPolicy) -> Self {
        self.identity = Arc::new(policy);
        self.approvals =
            crate::authn::approvals::Approvals::new(self.env.clone(), self.identity.clone());
        self
    }

    /// The same platform with another policy for outbound calls (the allow-list of internal
    /// networks, time and size limits).
    pub fn with_outbound(mut self, policy: crate::outbound::OutboundPolicy) -> Self {
        self.outbound = crate::outbound::Outbound::new(policy);
        self
    }

    /// The same platform with other OpenID provider settings.
    pub fn with_oidc(mut self, policy: crate::oidc::OidcPolicy) -> Self {
        self.oidc = Arc::new(crate::oidc::Provider::new(policy));
        self
    }

    /// The same platform with other signing settings.
    pub fn with_signing_policy(mut self, policy: crate::signing::SigningPolicy) -> Self {
        self.signing = Arc::new(policy);
        self
    }

    /// The same platform with other notification limits and retention.
    pub fn with_notify_policy(mut self, policy: crate::notify::NotifyPolicy) -> Self {
        self.notify = crate::notify::Notify::new(self.env.clone(), self.vault.clone(), policy);
        self
    }

    /// The same platform with another WebAuthn relying party.
    pub fn with_relying_party(mut self, rp: RelyingParty) -> Self {
        self.rp = Arc::new(rp);
        self
    }

    /// Compare (or on first start record) the file key store's master key check value, so that
    /// a wrong master key is refused before anything is written with it.
    pub async fn check_master_key(db: &Db, check: &[u8]) -> Result<()> {
        match crate::settings::get(db, MASTER_CHECK_SETTING).await? {
            Some(s) if iamsmart_crypto::hash::ct_eq(&s, check) => Ok(()),
            Some(_) => Err(DomainError::Invalid {
                field: "keys.master_key_file",
                message: "this master key is not the one the database's keys are sealed under; \
                          restore the original master key file (IAMSMART_MASTER_KEY_FILE)"
                    .into(),
            }),
            None => {
                // Of two first starts at once, the check that won must be this key's.
                let kept = crate::settings::set_once(db, MASTER_CHECK_SETTING, check).await?;
                if iamsmart_crypto::hash::ct_eq(&kept, check) {
                    Ok(())
                } else {
                    Err(DomainError::Invalid {
                        field: "keys.master_key_file",
                        message: "another process started first with another master key".into(),
                    })
                }
            }
        }
    }
}
