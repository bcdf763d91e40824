//! The OpenID Connect provider: clients, authorization (PAR, PKCE, request objects), the
//! resident's approval in the app, tokens (ID tokens, RFC 9068 access tokens, rotating refresh
//! tokens, DPoP binding), userinfo with consented claims only, revocation and introspection,
//! decoupled login (CIBA), logout, and dynamic client registration.
//!
//! Errors are [`OAuthError`]s: the RFC error code, a description for the developer, and the HTTP
//! status; the web layer renders them in the format of the endpoint.
pub mod authorize;
pub mod ciba;
pub mod claims;
pub mod client_auth;
pub mod client_tokens;
pub mod clients;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod logout;
pub mod passkeys;
pub mod request;
pub mod session;
pub mod tokens;

#[cfg(test)]
mod client_auth_tests;
#[cfg(test)]
mod dpop_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod token_tests;

pub use error::{Denial, OAuthError};

use crate::env::Env;

iamsmart_proto::text_enum! {
    /// The assurance of a sign-in (`acr`), ordered from weakest to strongest: a comparison says
    /// whether one meets another.
    #[derive(PartialOrd, Ord)]
    pub enum Acr {
        /// iAM Smart.
        Basic = "urn:iamsmart:acr:basic",
        /// iAM Smart+.
        Plus = "urn:iamsmart:acr:plus",
        /// iAM Smart+ with a fresh face match.
        Face = "urn:iamsmart:acr:face",
    }
}

impl Acr {
    /// The `acr` a resident at `level` reaches, with or without a fresh face match.
    pub fn achieved(level: iamsmart_proto::profile::Level, face: bool) -> Self {
        match (level, face) {
            (iamsmart_proto::profile::Level::Plus, true) => Self::Face,
            (iamsmart_proto::profile::Level::Plus, false) => Self::Plus,
            (iamsmart_proto::profile::Level::Basic, _) => Self::Basic,
        }
    }

    /// The weakest of the values a client asked for (what it accepts), or `Basic` when it asked
    /// for none.
    pub fn weakest_of(requested: &[Self]) -> Self {
        requested.iter().copied().min().unwrap_or(Self::Basic)
    }

    /// Only a fresh face match meets the request (every value asked for is `Face`).
    pub fn asks_face(requested: &[Self]) -> bool {
        !requested.is_empty() && requested.iter().all(|a| *a == Self::Face)
    }
}

/// iAM Smart (the `acr` value).
pub const ACR_BASIC: &str = Acr::Basic.as_str();
/// iAM Smart+.
pub const ACR_PLUS: &str = Acr::Plus.as_str();
/// iAM Smart+ with a fresh face match.
pub const ACR_FACE: &str = Acr::Face.as_str();

/// Lifetimes and limits of the provider.
#[derive(Debug, Clone)]
pub struct OidcPolicy {
    /// The issuer identifier (the platform's public URL).
    pub issuer: String,
    /// Authorization code lifetime (at most 60 s).
    pub code_ttl_ms: i64,
    /// Pushed authorization request lifetime (5 to 600 s).
    pub par_ttl_ms: i64,
    /// How long a login waits for the app.
    pub login_ttl_ms: i64,
    /// Access token lifetime.
    pub access_token_ttl_ms: i64,
    /// ID token lifetime.
    pub id_token_ttl_ms: i64,
    /// Absolute lifetime of a refresh token family.
    pub refresh_ttl_ms: i64,
    /// Absolute lifetime of a browser session at the provider.
    pub session_ttl_ms: i64,
    /// Idle timeout of a browser session.
    pub session_idle_ms: i64,
    /// CIBA request lifetime.
    pub ciba_ttl_ms: i64,
    /// CIBA polling interval.
    pub ciba_interval_ms: i64,
    /// Clock skew accepted on client assertions, request objects and DPoP proofs.
    pub skew_ms: i64,
    /// A signing request made with a resident's access token needs an iAM Smart+ login no older
    /// than this, in seconds.
    pub signing_login_max_age_s: i64,
    /// The compatible API: how far a request's `timestamp` may be from the platform's clock.
    pub api_timestamp_window_ms: i64,
    /// The compatible API: lifetime of a content key issued by `getKey`.
    pub api_content_key_ttl_ms: i64,
}

impl OidcPolicy {
    /// Defaults for an issuer.
    pub fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_string(),
            code_ttl_ms: 60_000,
            par_ttl_ms: 90_000,
            login_ttl_ms: 300_000,
            access_token_ttl_ms: 600_000,
            id_token_ttl_ms: 600_000,
            refresh_ttl_ms: 30 * 86_400_000,
            session_ttl_ms: 8 * 3_600_000,
            session_idle_ms: 30 * 60_000,
            ciba_ttl_ms: 120_000,
            ciba_interval_ms: 5_000,
            skew_ms: 60_000,
            signing_login_max_age_s: 900,
            api_timestamp_window_ms: 300_000,
            api_content_key_ttl_ms: 3_600_000,
        }
    }

    /// An endpoint's URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// The OpenID provider as a capability: authorization, tokens, sessions, clients, CIBA and the
/// resident's passkeys. Built with the handles it uses (the `Env`, which it dereferences to, the
/// keys that sign its tokens, the vault for blind indexes, its settings and caches, the identity
/// service for the resident's account, approvals for requests answered in the app, signing for
/// signatures asked with a login, notifications for the resident's choices, and the guarded
/// client for clients' key sets and back-channel calls) and nothing else. Cheap to clone.
#[derive(Clone)]
pub struct Oidc {
    /// The database, the clock and randomness.
    pub env: Env,
    /// Keys and their lifecycle (the keys that sign tokens).
    pub keys: crate::keys::KeyService,
    /// Personal data at rest (blind indexes).
    pub vault: crate::vault::Vault,
    /// Settings and per-process caches.
    pub provider: std::sync::Arc<Provider>,
    /// The resident's account, devices and passkey relying party.
    pub identity: crate::identity::Identity,
    /// Requests waiting for the resident's answer in the app.
    pub approvals: crate::authn::approvals::Approvals,
    /// Signatures asked for in an authorization request.
    pub signing: crate::signing::Signing,
    /// The resident's notification choices made while consenting.
    pub notify: crate::notify::Notify,
    /// The guarded client for URLs that clients supplied.
    pub outbound: crate::outbound::Outbound,
}

impl std::ops::Deref for Oidc {
    type Target = Env;

    fn deref(&self) -> &Env {
        &self.env
    }
}

/// The provider's settings and per-process caches (shared by every request).
#[derive(Debug)]
pub struct Provider {
    /// Lifetimes and the issuer.
    pub policy: OidcPolicy,
    /// Clients' keys fetched from their `jwks_uri`.
    pub keys: clients::KeyCache,
    /// Clients' registrations (a few seconds).
    pub clients: clients::ClientCache,
}

impl Provider {
    /// A provider with `policy`.
    pub fn new(policy: OidcPolicy) -> Self {
        Self {
            policy,
            keys: clients::KeyCache::default(),
            clients: clients::ClientCache::default(),
        }
    }

    /// Forget a client's cached keys and registration (after its metadata or status changed).
    pub fn forget_keys(&self, client_id: &str) {
        self.keys.forget(client_id);
        self.clients.forget(client_id);
    }
}

/// What a protected resource demands of the resident's authentication (RFC 9470): at least an
/// `acr` and, optionally, an authentication no older than `max_age_s`. A token that falls short
/// gets `insufficient_user_authentication`, and the web layer adds the `acr_values` and `max_age`
/// the client should ask for when it sends the resident back to the authorization endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthRequirement {
    /// The weakest acceptable `acr`.
    pub min_acr: Acr,
    /// The oldest acceptable authentication, in seconds.
    pub max_age_s: Option<i64>,
}

impl AuthRequirement {
    /// Whether an authentication with `acr` at `auth_time` (Unix s) meets the requirement at
    /// `now_s`; an unknown `acr` never does.
    pub fn check(&self, acr: &str, auth_time: i64, now_s: i64) -> Result<(), OAuthError> {
        if Acr::parse(acr).is_none_or(|have| have < self.min_acr) {
            return Err(OAuthError::insufficient_user_authentication(format!(
                "this call needs {} (the resident signed in with {acr}): ask for acr_values={} and sign the resident in again",
                self.min_acr, self.min_acr
            )));
        }
        if let Some(max) = self.max_age_s {
            if now_s.saturating_sub(auth_time) > max {
                return Err(OAuthError::insufficient_user_authentication(format!(
                    "this call needs an authentication from the last {max} s: ask for max_age={max} and sign the resident in again"
                )));
            }
        }
        Ok(())
    }
}

/// This module's tables with a `resident_id` whose rows go when a closed account is erased.
pub(crate) const ERASED_AT_PURGE: &[&str] = &[
    "consents",
    "grants",
    "op_sessions",
    "subjects",
    "ciba_requests",
    "resident_passkeys",
];

/// Erase a purged account's rows from [`ERASED_AT_PURGE`], inside the caller's transaction.
pub(crate) async fn erase_at_purge(
    conn: &mut iamsmart_store::AnyConnection,
    resident_id: &str,
) -> crate::error::Result<()> {
    sqlx::query("DELETE FROM consents WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM grants WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM op_sessions WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM subjects WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM ciba_requests WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM resident_passkeys WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod requirement_tests {
    use super::*;

    #[test]
    fn weaker_acr_older_authentication_and_unknown_acr_fall_short() {
        let r = AuthRequirement {
            min_acr: Acr::Plus,
            max_age_s: Some(300),
        };
        assert!(r.check(ACR_PLUS, 1_000, 1_300).is_ok());
        assert!(r.check(ACR_FACE, 1_000, 1_100).is_ok());
        let weak = r.check(ACR_BASIC, 1_000, 1_001).unwrap_err();
        assert_eq!(weak.error, "insufficient_user_authentication");
        assert!(r.check(ACR_PLUS, 1_000, 1_301).is_err());
        assert!(r.check("urn:other:acr", 1_000, 1_001).is_err());
        let any_age = AuthRequirement {
            min_acr: Acr::Basic,
            max_age_s: None,
        };
        assert!(any_age.check(ACR_BASIC, 0, i64::MAX).is_ok());
    }
}
