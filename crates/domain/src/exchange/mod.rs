//! e-ME form filling and the Consented Data Exchange Gateway.
//!
//! - [`providers`]: departments register data items (schema, titles in English and Chinese, legal
//!   basis, who may ask).
//! - [`consents`]: a requester asks for items for a declared purpose; the resident approves once
//!   in the app; the consent artefact is signed by the platform and its hash goes into the
//!   transparency log; the resident pauses, resumes or revokes it.
//! - [`fetch`]: every fetch is checked against the consent; providers answer signed requests
//!   with each item encrypted to the requester's key, so the gateway relays what it cannot read;
//!   the gateway keeps a metadata-only message log.
//! - [`eme`]: form filling: a service asks for profile fields for a named form; the resident
//!   approves in the app; the service receives exactly the approved fields, signed by the
//!   platform and encrypted to its key when it registered one.
//! - [`dealings`]: everything a resident did with every service, with the consent behind it.
pub mod consents;
pub mod dealings;
pub mod eme;
pub mod fetch;
pub mod providers;

#[cfg(test)]
mod tests;

use crate::connector::SignedClient;
use std::collections::HashMap;
use std::sync::Mutex;

/// The data exchange gateway as a capability: data consents, fetches relayed between services
/// and providers, e-ME and the resident's record of dealings. Built with the handles it uses
/// (the `Env`, which it dereferences to, the keys that sign and authenticate its calls, the
/// identity service for the resident's record, approvals for consents answered in the app, the
/// OpenID provider for clients and their pairwise subjects, the guarded client's policy and
/// the per-process cache of providers' clients) and nothing else. Cheap to clone.
#[derive(Clone)]
pub struct Exchange {
    /// The database, the clock and randomness.
    pub env: crate::env::Env,
    /// Keys and their lifecycle.
    pub keys: crate::keys::KeyService,
    /// The resident's record.
    pub identity: crate::identity::Identity,
    /// Requests waiting for the resident's answer in the app.
    pub approvals: crate::authn::approvals::Approvals,
    /// Clients, their subjects and the issuer.
    pub oidc: crate::oidc::Oidc,
    /// The guarded client for providers' addresses.
    pub outbound: crate::outbound::Outbound,
    /// Signed clients of the providers, per process.
    pub gateway: std::sync::Arc<Gateway>,
}

impl std::ops::Deref for Exchange {
    type Target = crate::env::Env;

    fn deref(&self) -> &crate::env::Env {
        &self.env
    }
}

/// Per-process state of the gateway: a signed client per provider and address (a provider
/// registered again at another address, by this process or another, gets a new client at the
/// next fetch, since every fetch reads the address from the database).
#[derive(Debug, Default)]
pub struct Gateway {
    clients: Mutex<HashMap<String, (String, SignedClient)>>,
}

impl Gateway {
    /// The signed client for a provider at `base_url` (made once per process and address).
    pub fn client(
        &self,
        keys: &crate::keys::KeyService,
        outbound: &crate::outbound::OutboundPolicy,
        provider: &str,
        base_url: &str,
    ) -> crate::error::Result<SignedClient> {
        if let Ok(c) = self.clients.lock() {
            if let Some((at, found)) = c.get(provider) {
                if at == base_url {
                    return Ok(found.clone());
                }
            }
        }
        let client = SignedClient::new(
            keys.clone(),
            "a department's data service",
            provider,
            &format!("{}/v1/jwks.json", base_url.trim_end_matches('/')),
            std::time::Duration::from_secs(10),
            outbound,
        )?;
        if let Ok(mut c) = self.clients.lock() {
            c.insert(provider.to_string(), (base_url.to_string(), client.clone()));
        }
        Ok(client)
    }

    /// Forget a provider's client (its address changed).
    pub fn forget(&self, provider: &str) {
        if let Ok(mut c) = self.clients.lock() {
            c.remove(provider);
        }
    }
}

/// This module's tables with a `resident_id` whose rows go when a closed account is erased.
pub(crate) const ERASED_AT_PURGE: &[&str] = &["data_consents", "exchange_log", "eme_requests"];

/// Erase a purged account's rows from [`ERASED_AT_PURGE`], inside the caller's transaction.
pub(crate) async fn erase_at_purge(
    conn: &mut iamsmart_store::AnyConnection,
    resident_id: &str,
) -> crate::error::Result<()> {
    sqlx::query("DELETE FROM data_consents WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM exchange_log WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM eme_requests WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
