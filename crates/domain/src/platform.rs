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
    /// Residents, devices, registration, staff (with the registry, the face model, the relying
    /// party and the identity policy it was built with).
    pub identity: crate::identity::Identity,
    /// Requests waiting for the resident's answer in the app.
    pub approvals: crate::authn::approvals::Approvals,
    /// The OpenID provider: authorization, tokens, sessions, clients, CIBA, passkeys.
    pub oidc: crate::oidc::Oidc,
    /// The data exchange gateway: consents, fetches, e-ME, dealings.
    pub exchange: crate::exchange::Exchange,
    /// Digital signing: the certificate authority and signature requests.
    pub signing: crate::signing::Signing,
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
        let policy = Arc::new(IdentityPolicy::default());
        let notify = crate::notify::Notify::new(
            env.clone(),
            vault.clone(),
            crate::notify::NotifyPolicy::default(),
        );
        let approvals = crate::authn::approvals::Approvals::new(env.clone(), policy.clone());
        let identity = crate::identity::Identity {
            env: env.clone(),
            vault: vault.clone(),
            keys: keys.clone(),
            policy,
            registry: Arc::new(NoRegistry),
            face: Arc::new(NoFaceMatcher),
            rp: Arc::new(RelyingParty {
                id: "localhost".into(),
                origin: "http://localhost:8080".into(),
                name: "iAM Smart".into(),
            }),
            notify: notify.clone(),
            approvals: approvals.clone(),
        };
        let oidc = crate::oidc::OidcPolicy::new("http://localhost:8080");
        let signing = crate::signing::Signing {
            env: env.clone(),
            keys: keys.clone(),
            vault: vault.clone(),
            policy: Arc::new(crate::signing::SigningPolicy::default()),
            pki: Arc::new(crate::signing::cache::PkiCache::default()),
            approvals: approvals.clone(),
            identity: identity.clone(),
            issuer: oidc.issuer.clone(),
        };
        let outbound = crate::outbound::Outbound::default();
        let oidc = crate::oidc::Oidc {
            env: env.clone(),
            keys: keys.clone(),
            vault: vault.clone(),
            provider: Arc::new(crate::oidc::Provider::new(oidc)),
            identity: identity.clone(),
            approvals: approvals.clone(),
            signing: signing.clone(),
            notify: notify.clone(),
            outbound: outbound.clone(),
        };
        let exchange = crate::exchange::Exchange {
            env: env.clone(),
            keys: keys.clone(),
            identity: identity.clone(),
            approvals: approvals.clone(),
            oidc: oidc.clone(),
            outbound: outbound.clone(),
            gateway: Arc::new(crate::exchange::Gateway::default()),
        };
        let platform = Self {
            env: env.clone(),
            keys: keys.clone(),
            vault: vault.clone(),
            identity,
            approvals,
            oidc,
            exchange,
            signing,
            portal: Arc::new(crate::portal::Portal::new(env.clone())),
            notify,
            outbound,
        };
        crate::signing::ca::seal_stored_certs(&platform.signing).await?;
        Ok(platform)
    }

    /// The same platform with another registry connection.
    pub fn with_registry(mut self, registry: Arc<dyn Registry>) -> Self {
        self.identity.registry = registry;
        self.wired()
    }

    /// The same platform with another face matcher.
    pub fn with_face(mut self, face: Arc<dyn FaceMatcher>) -> Self {
        self.identity.face = face;
        self.wired()
    }

    /// The same platform with other identity timings and limits.
    pub fn with_identity_policy(mut self, policy: IdentityPolicy) -> Self {
        let policy = Arc::new(policy);
        self.approvals = crate::authn::approvals::Approvals::new(self.env.clone(), policy.clone());
        self.identity.policy = policy;
        self.wired()
    }

    /// The same platform with another policy for outbound calls (the allow-list of internal
    /// networks, time and size limits).
    pub fn with_outbound(mut self, policy: crate::outbound::OutboundPolicy) -> Self {
        self.outbound = crate::outbound::Outbound::new(policy);
        self.wired()
    }

    /// The same platform with other OpenID provider settings.
    pub fn with_oidc(mut self, policy: crate::oidc::OidcPolicy) -> Self {
        self.oidc.provider = Arc::new(crate::oidc::Provider::new(policy));
        self.wired()
    }

    /// The same platform with other signing settings.
    pub fn with_signing_policy(mut self, policy: crate::signing::SigningPolicy) -> Self {
        self.signing.policy = Arc::new(policy);
        self.wired()
    }

    /// The same platform with other notification limits and retention.
    pub fn with_notify_policy(mut self, policy: crate::notify::NotifyPolicy) -> Self {
        self.notify = crate::notify::Notify::new(self.env.clone(), self.vault.clone(), policy);
        self.wired()
    }

    /// The same platform with another WebAuthn relying party.
    pub fn with_relying_party(mut self, rp: RelyingParty) -> Self {
        self.identity.rp = Arc::new(rp);
        self.wired()
    }

    /// The same platform with each service's handles on the others brought up to date: every
    /// `with_*` replaces one part and ends here, so that a service never holds an older copy
    /// of another (the one place where the services are wired together).
    fn wired(mut self) -> Self {
        self.identity.approvals = self.approvals.clone();
        self.identity.notify = self.notify.clone();
        self.signing.approvals = self.approvals.clone();
        self.signing.identity = self.identity.clone();
        self.signing.issuer = self.oidc.provider.policy.issuer.clone();
        self.oidc.identity = self.identity.clone();
        self.oidc.approvals = self.approvals.clone();
        self.oidc.signing = self.signing.clone();
        self.oidc.notify = self.notify.clone();
        self.oidc.outbound = self.outbound.clone();
        self.exchange.identity = self.identity.clone();
        self.exchange.approvals = self.approvals.clone();
        self.exchange.oidc = self.oidc.clone();
        self.exchange.outbound = self.outbound.clone();
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
