//! Per-process caches of the certificate authority (one per [`super::Signing`], no global
//! state): the loaded [`Authority`] and signed OCSP answers for nonce-free requests (RFC 5019).
//!
//! **The authority** (certificates and key ids from `pki_certs`) is kept for
//! [`AUTHORITY_TTL_MS`]. Those rows are written once, by `iamsmart ca init`, which is refused
//! when the authority is already set up; nothing changes them afterwards. So a short TTL costs
//! nothing per request, where a "has it changed?" query (a count or max(created_at) of
//! `pki_certs`) would cost a database round trip on every OCSP and timestamp answer, the very
//! thing this cache removes. An absent authority is never cached, so a `ca init` run by the CLI
//! (another process) is seen by a running server on its next request, and `ca init` in this
//! process forgets the cached value at once. Should a later change add certificates (a new
//! issuing CA), every process sees them within the TTL.
//!
//! **OCSP answers** are kept per request (the CertIDs asked about, as asked: the answer repeats
//! them) until [`OCSP_REFRESH_MARGIN_S`] before their nextUpdate. A status must never be stale,
//! so the cache is consulted only *after* the certificates' current statuses have been read from
//! the database (one indexed query each, as before), and an entry is used only if it was signed
//! for exactly those statuses (good, or revoked at the same time for the same reason). A
//! revocation, made by this process or any other sharing the database, therefore shows in the
//! very next answer: the statuses differ, the entry is not used and a new answer is signed. What
//! the cache saves is the signature (a key store or HSM operation), building the response, and
//! the key lookup. Answers to requests with a nonce are never taken from the cache nor put in it
//! (the nonce must be echoed, in a response signed for it); answers naming an unknown
//! certificate are not cached (anyone can ask about any serial).
use super::ca::Authority;
use iamsmart_crypto::pki::ocsp::{CertId, CertStatus};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

/// How long the loaded authority is reused, in ms (see the module's documentation).
pub const AUTHORITY_TTL_MS: i64 = 60_000;
/// A cached OCSP answer is signed anew this long before its nextUpdate, so that no client or
/// HTTP cache is handed an answer about to lapse.
pub const OCSP_REFRESH_MARGIN_S: u64 = 300;
/// Most OCSP answers kept; when full, the cache is emptied (an answer costs one signature to
/// make again).
const MAX_OCSP_ENTRIES: usize = 10_000;

/// A signed OCSP answer kept for reuse.
#[derive(Debug, Clone)]
pub(crate) struct CachedOcsp {
    /// The statuses it was signed for, in the request's order.
    pub statuses: Vec<CertStatus>,
    /// The responder key that signed it.
    pub responder_kid: String,
    /// The response (DER).
    pub der: Vec<u8>,
    /// producedAt and thisUpdate (unix seconds).
    pub produced_at: u64,
    /// nextUpdate (unix seconds).
    pub next_update: u64,
}

/// The caches of one process.
#[derive(Debug, Default)]
pub struct PkiCache {
    authority: RwLock<Option<(Authority, i64)>>,
    ocsp: Mutex<HashMap<Vec<u8>, CachedOcsp>>,
}

impl PkiCache {
    /// The cached authority, if loaded less than [`AUTHORITY_TTL_MS`] before `now_ms`.
    pub(crate) fn authority(&self, now_ms: i64) -> Option<Authority> {
        let a = self.authority.read().ok()?;
        a.as_ref()
            .filter(|(_, at)| (0..AUTHORITY_TTL_MS).contains(&(now_ms - at)))
            .map(|(auth, _)| auth.clone())
    }

    pub(crate) fn put_authority(&self, auth: &Authority, now_ms: i64) {
        if let Ok(mut a) = self.authority.write() {
            *a = Some((auth.clone(), now_ms));
        }
    }

    /// Forget the authority and every OCSP answer (after `ca init` in this process).
    pub fn forget(&self) {
        if let Ok(mut a) = self.authority.write() {
            *a = None;
        }
        if let Ok(mut o) = self.ocsp.lock() {
            o.clear();
        }
    }

    /// The cached answer for `key` if it was signed by `responder_kid` for exactly `statuses`
    /// and is still at least [`OCSP_REFRESH_MARGIN_S`] from its nextUpdate at `now`.
    pub(crate) fn ocsp(
        &self,
        key: &[u8],
        statuses: &[CertStatus],
        responder_kid: &str,
        now: u64,
    ) -> Option<CachedOcsp> {
        let o = self.ocsp.lock().ok()?;
        o.get(key)
            .filter(|c| {
                c.statuses == statuses
                    && c.responder_kid == responder_kid
                    && c.produced_at <= now
                    && now + OCSP_REFRESH_MARGIN_S < c.next_update
            })
            .cloned()
    }

    pub(crate) fn put_ocsp(&self, key: Vec<u8>, answer: CachedOcsp) {
        if let Ok(mut o) = self.ocsp.lock() {
            if o.len() >= MAX_OCSP_ENTRIES {
                o.clear();
            }
            o.insert(key, answer);
        }
    }

    /// How many OCSP answers are kept (for tests and metrics).
    pub fn ocsp_entries(&self) -> usize {
        self.ocsp.lock().map(|o| o.len()).unwrap_or(0)
    }
}

/// The cache key of a request: its CertIDs as asked (hash algorithm, issuer hashes, serial).
pub(crate) fn ocsp_key(ids: &[CertId]) -> Vec<u8> {
    let mut k = Vec::with_capacity(ids.len() * 64);
    for id in ids {
        for part in [&id.issuer_name_hash, &id.issuer_key_hash, &id.serial] {
            k.push(u8::try_from(part.len()).unwrap_or(u8::MAX));
            k.extend_from_slice(part);
        }
        k.push(u8::from(id.hash_alg_sha1));
    }
    k
}
