//! Renewing the OCSP responder's and the timestamp authority's certificates before they expire
//! (`iamsmart ca renew ocsp|tsa`): a new key in the key store and a new certificate from the
//! issuing CA (whose key is online, so the offline root is not needed), stored beside the old
//! one. The newest certificate of a role is the one in use; the old one is revoked by the
//! issuing CA and its key retired once running servers have moved on ([`HANDOVER_MS`]; reason
//! superseded, so timestamps and answers it signed before keep verifying). After a compromise (`--compromised`) the reason is key
//! compromise: nothing the old key signed is trusted any more, as it could be backdated.
use super::ca::{self, Authority};
use super::Signing;
use crate::audit::{self, Event};
use crate::error::{DomainError, Result};
use iamsmart_crypto::pki::{cert, CaSigner};

/// The online certificates that can be renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responder {
    /// The OCSP responder.
    Ocsp,
    /// The timestamp authority.
    Tsa,
}

impl Responder {
    /// The role in `pki_certs`.
    pub fn role(self) -> &'static str {
        match self {
            Responder::Ocsp => "ocsp",
            Responder::Tsa => "tsa",
        }
    }

    fn profile(self) -> cert::Profile {
        match self {
            Responder::Ocsp => cert::Profile::OcspResponder,
            Responder::Tsa => cert::Profile::TimeStamping,
        }
    }

    fn current(self, auth: &Authority) -> (&[u8], &str) {
        match self {
            Responder::Ocsp => (&auth.ocsp, &auth.ocsp_kid),
            Responder::Tsa => (&auth.tsa, &auth.tsa_kid),
        }
    }
}

/// How long a routinely renewed responder's old certificate and key stay in use: running
/// servers reload the authority within [`super::cache::AUTHORITY_TTL_MS`].
pub const HANDOVER_MS: i64 = 2 * super::cache::AUTHORITY_TTL_MS;

/// What a renewal did.
#[derive(Debug, Clone)]
pub struct Renewed {
    /// The certificate now in use (DER).
    pub certificate: Vec<u8>,
    /// Its serial (hex).
    pub serial: String,
    /// The serial of the one it replaces (hex).
    pub previous_serial: String,
    /// Its notAfter (unix seconds): `years` from now, or the issuing CA's own notAfter if that
    /// comes first.
    pub not_after: u64,
}

/// Issue a new certificate for `who`, valid `years` years (at most the issuing CA's remaining
/// validity), for a new key in the key store; store it as the one in use, revoke the previous
/// one (superseded, or key compromise when `compromised`), retire its key and audit it. Refused
/// when the issuing CA has less than a day left.
pub async fn renew(p: &Signing, who: Responder, years: u64, compromised: bool) -> Result<Renewed> {
    if !(1..=10).contains(&years) {
        return Err(DomainError::Invalid {
            field: "years",
            message: "1 to 10 years".into(),
        });
    }
    let auth = ca::load(p).await?;
    let (previous_der, previous_kid) = who.current(&auth);
    let previous = cert::parse(previous_der)?;
    let previous_kid = previous_kid.to_string();
    let issuing = cert::parse(&auth.issuing)?;
    let now = (p.clock.now_ms() / 1000) as u64;
    let not_after = (now + years * 365 * 86_400).min(issuing.not_after);
    if not_after < now + 86_400 {
        return Err(DomainError::Refused {
            code: "issuing-ca-expiring",
            message: "the issuing CA expires within a day: it must be renewed first",
        });
    }
    let organization = previous
        .subject_organization
        .clone()
        .unwrap_or_else(|| "iAM Smart".into());
    let key = p.keys.create_pki_key().await?;
    let new_signer = ca::signer(p, &key.kid).await?;
    let issuing_signer = ca::signer(p, &auth.issuing_kid).await?;
    let base = p.issuer.clone();
    let template = cert::CertTemplate {
        serial: ca::new_serial(p),
        subject: ca::name(previous.subject_cn.clone(), &organization),
        subject_spki_der: new_signer.spki_der(),
        not_before: now - ca::BACKDATE_S,
        not_after,
        profile: who.profile(),
        policy_oid: None,
        crl_url: Some(format!("{base}/pki/crl")),
        ocsp_url: None,
        ca_issuers_url: Some(format!("{base}/pki/issuing.cer")),
    };
    let der = cert::issue(&template, Some(&auth.issuing), &issuing_signer)?;
    let info = cert::parse(&der)?;
    let serial = ca::serial_hex(&info.serial);
    let previous_serial = ca::serial_hex(&previous.serial);
    let now_ms = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    // The newest of a role is in use: created_at orders them, so the new row must sort last
    // even if the clock stood still.
    let last: Option<i64> =
        sqlx::query_scalar("SELECT MAX(created_at) FROM pki_certs WHERE role = $1")
            .bind(who.role())
            .fetch_one(&mut *tx)
            .await?;
    let created_at = now_ms.max(last.unwrap_or(0) + 1);
    sqlx::query(
        "INSERT INTO pki_certs (role, serial, kid, cert, not_before, not_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(who.role())
    .bind(&serial)
    .bind(&key.kid)
    .bind(&der)
    .bind(info.not_before as i64 * 1000)
    .bind(info.not_after as i64 * 1000)
    .bind(created_at)
    .execute(&mut *tx)
    .await?;
    // After a compromise, at once (running servers that still hold the old key fail to sign
    // until they reload the authority, within a minute); otherwise once they have reloaded it.
    let (reason, retire_at) = if compromised {
        (ca::REASON_KEY_COMPROMISE, now_ms)
    } else {
        (ca::REASON_SUPERSEDED, now_ms + HANDOVER_MS)
    };
    ca::revoke_responder_cert(&mut tx, &previous_serial, reason, retire_at).await?;
    audit::append(
        &mut tx,
        now_ms,
        None,
        &Event {
            kind: "pki.renewed",
            actor: "operator",
            subject: "pki",
            detail: serde_json::json!({
                "role": who.role(),
                "serial": serial,
                "previous": previous_serial,
                "previous_revoked": if compromised { "key compromise" } else { "superseded" },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    p.keys.schedule_retirement(&previous_kid, retire_at).await?;
    p.pki.forget();
    Ok(Renewed {
        certificate: der,
        serial,
        previous_serial,
        not_after: info.not_after,
    })
}
