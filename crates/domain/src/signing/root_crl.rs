//! The root CA's CRL: what the current one says, and its renewal with the offline root key.
//!
//! `iamsmart ca init` signs the first root CRL (number 1, current for a year); after that the
//! root's key is offline, so only an operator holding it (`iamsmart ca root-crl`) can sign the
//! next one. The root certifies only the issuing CA, and this platform has no revocation of its
//! own CA certificates yet, so the renewed CRL lists nothing; its number goes up by one each time
//! (RFC 5280 §5.2.3).
use super::ca;
use super::Signing;
use crate::audit::{self, Event};
use crate::error::{DomainError, Result};
use iamsmart_crypto::pki::{cert, crl, CaSigner};

/// When the root CRL counts as due for renewal (`iamsmart ca show` warns).
pub const RENEW_WITHIN_S: u64 = 30 * 86_400;
/// The longest a root CRL may stay current.
pub const MAX_VALIDITY_S: u64 = 2 * 365 * 86_400;

/// What the stored root CRL says (its signature checked against the root certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootCrlStatus {
    /// cRLNumber.
    pub number: u64,
    /// thisUpdate (unix seconds).
    pub this_update: u64,
    /// nextUpdate (unix seconds).
    pub next_update: u64,
    /// How many certificates it lists as revoked.
    pub revoked: usize,
}

impl RootCrlStatus {
    fn of(info: crl::CrlInfo) -> Self {
        Self {
            number: info.number,
            this_update: info.this_update,
            next_update: info.next_update,
            revoked: info.revoked.len(),
        }
    }

    /// Whether it is due for renewal at `now` (unix seconds): nextUpdate within 30 days, or past.
    pub fn due(&self, now: u64) -> bool {
        self.next_update <= now + RENEW_WITHIN_S
    }
}

/// The stored root CRL, checked against the root certificate.
pub async fn status(p: &Signing) -> Result<RootCrlStatus> {
    let auth = ca::load(p).await?;
    let der = ca::root_crl(p).await?;
    let info = crl::parse_crl(&der, &auth.root)
        .map_err(|e| DomainError::Integrity(format!("the stored root CRL: {e}")))?;
    Ok(RootCrlStatus::of(info))
}

/// Sign a new root CRL with `root` (the offline root key, unsealed by the caller), current for
/// `validity_s` seconds from now, numbered one above the stored one, and store it in place of the
/// old one (served at `/pki/root.crl`, embedded in new B-LT signatures). Refused if `root` is not
/// the key of this platform's root certificate. Recorded in the audit log.
pub async fn renew(p: &Signing, root: &dyn CaSigner, validity_s: u64) -> Result<RootCrlStatus> {
    let auth = ca::load(p).await?;
    let root_cert = cert::parse(&auth.root)?;
    if root.spki_der() != root_cert.spki_der {
        return Err(DomainError::Refused {
            code: "not-this-root",
            message: "this key is not the root key of this platform: its public key differs from \
                      the root certificate's (give the sealed root key that `iamsmart ca init` \
                      wrote for this platform)",
        });
    }
    if validity_s == 0 || validity_s > MAX_VALIDITY_S {
        return Err(DomainError::Invalid {
            field: "next-update-days",
            message: format!(
                "the root CRL's nextUpdate must be 1 to {} days away",
                MAX_VALIDITY_S / 86_400
            ),
        });
    }
    let now_ms = p.clock.now_ms();
    let now = (now_ms / 1000) as u64;
    let next_update = now + validity_s;
    if next_update > root_cert.not_after {
        return Err(DomainError::Invalid {
            field: "next-update-days",
            message: "the root CRL's nextUpdate would be after the root certificate expires".into(),
        });
    }
    let old = ca::root_crl(p).await?;
    let old_info = crl::parse_crl(&old, &auth.root)
        .map_err(|e| DomainError::Integrity(format!("the stored root CRL: {e}")))?;
    let number = old_info.number + 1;
    // The root certifies only the issuing CA, whose revocation this platform does not model:
    // nothing to list.
    let der = crl::build_crl(&auth.root, root, now, next_update, number, &[])?;
    let mut tx = p.db.begin().await?;
    // Compare and swap: a renewal made meanwhile by another operator is not overwritten.
    if !crate::settings::replace(&mut tx, ca::ROOT_CRL_SETTING, &old, &der).await? {
        return Err(DomainError::Conflict(
            "the root CRL was renewed meanwhile by someone else: run the command again",
        ));
    }
    audit::append(
        &mut tx,
        now_ms,
        None,
        &Event {
            kind: "pki.root_crl_renewed",
            actor: "operator",
            subject: "pki",
            detail: serde_json::json!({ "number": number, "next_update": next_update }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(RootCrlStatus::of(crl::parse_crl(&der, &auth.root)?))
}
