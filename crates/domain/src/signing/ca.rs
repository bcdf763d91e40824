//! The platform's certificate authority: set-up, residents' certificates, revocation, CRLs,
//! OCSP and timestamps. Private keys stay in the key store ([`crate::keys`], Purpose `pki`); the
//! root's key is the caller's (kept offline) and only signs at set-up.
use super::Signing;
use crate::audit::{self, Event};
use crate::env::Env;
use crate::error::{stored, DomainError, Result};
use crate::identity::devices::DeviceCaller;
use iamsmart_crypto::envelope::FieldContext;
use iamsmart_crypto::pki::{self, cert, crl, ocsp, tsp, CaSigner, KeyStoreSigner};
use iamsmart_store::AnyConnection;

/// How long a resident's signing certificate is valid.
pub const CERT_VALIDITY_S: u64 = 2 * 365 * 86_400;
/// How long a CRL is current.
const CRL_VALIDITY_S: u64 = 86_400;
/// How long an OCSP answer is current.
const OCSP_VALIDITY_S: u64 = 3_600;
/// HTTP caches are told to keep an OCSP answer until this long before its nextUpdate (as this
/// process's own cache, [`super::cache::OCSP_REFRESH_MARGIN_S`]).
pub const OCSP_HTTP_MARGIN_S: u64 = super::cache::OCSP_REFRESH_MARGIN_S;
/// Clock skew allowed for at the start of a certificate's validity.
pub(super) const BACKDATE_S: u64 = 60;
/// RFC 5280 CRLReason: keyCompromise (a lost or revoked device).
pub const REASON_KEY_COMPROMISE: u8 = 1;
/// RFC 5280 CRLReason: superseded (a new certificate for the same device).
pub const REASON_SUPERSEDED: u8 = 4;
/// RFC 5280 CRLReason: cessationOfOperation (account closed).
pub const REASON_CESSATION: u8 = 5;

pub(crate) const ROOT_CRL_SETTING: &str = "pki:root_crl";

iamsmart_proto::text_enum! {
    /// Where a resident's signing certificate stands in the CA's records. Stored as its
    /// lower-case name (the database refuses any other: `user_certs_status_known`); expiry is
    /// read from the dates.
    pub enum UserCertStatus {
        /// Issued and not revoked.
        Good = "good",
        /// Revoked (device lost or replaced, account closed); in the CRL until it expires.
        Revoked = "revoked",
    }
}

/// The authority's certificates and the key ids of those that sign online.
#[derive(Debug, Clone)]
pub struct Authority {
    /// The root (DER): the trust anchor verifiers install.
    pub root: Vec<u8>,
    /// The issuing CA (DER).
    pub issuing: Vec<u8>,
    pub(super) issuing_kid: String,
    /// The OCSP responder (DER).
    pub ocsp: Vec<u8>,
    pub(super) ocsp_kid: String,
    /// The timestamp authority (DER).
    pub tsa: Vec<u8>,
    pub(super) tsa_kid: String,
}

impl Authority {
    /// The chain above a resident's certificate: issuing CA, root.
    pub fn chain(&self) -> Vec<Vec<u8>> {
        vec![self.issuing.clone(), self.root.clone()]
    }
}

/// Hex of a certificate serial, without leading zero bytes (as stored).
pub fn serial_hex(serial: &[u8]) -> String {
    let start = serial.iter().position(|b| *b != 0).unwrap_or(serial.len());
    hex::encode(&serial[start..])
}

/// A new serial: 16 random bytes, the first in 1..=0x7f so that it is positive and minimal.
pub(super) fn new_serial(p: &Env) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    p.rng.fill(&mut b);
    b[0] = (b[0] & 0x7f).max(1);
    b
}

fn crypto_invalid(field: &'static str, e: iamsmart_crypto::CryptoError) -> DomainError {
    DomainError::Invalid {
        field,
        message: e.to_string(),
    }
}

pub(super) async fn signer<'a>(p: &'a Signing, kid: &str) -> Result<KeyStoreSigner<'a>> {
    let k = p.keys.by_kid(kid).await?;
    if k.retire_at.is_some_and(|r| r <= p.clock.now_ms()) {
        // A responder key retired after a compromise signs nothing more, even in a process
        // whose cached authority still names it (the cache is refreshed within a minute).
        return Err(DomainError::Integrity(format!(
            "pki key {kid} is retired: the authority is being renewed"
        )));
    }
    let jwk = k
        .public_jwk
        .ok_or_else(|| DomainError::Integrity(format!("pki key {kid} has no public key")))?;
    Ok(KeyStoreSigner::new(p.keys.store(), kid, &k.handle, &jwk)?)
}

/// The authority, or an error saying how to set it up. Cached in the process for a minute
/// ([`super::cache`] says why that is safe); an absent authority is never cached.
pub async fn load(p: &Signing) -> Result<Authority> {
    let now_ms = p.clock.now_ms();
    if let Some(a) = p.pki.authority(now_ms) {
        return Ok(a);
    }
    let auth = load_uncached(p).await?;
    p.pki.put_authority(&auth, now_ms);
    Ok(auth)
}

async fn load_uncached(p: &Env) -> Result<Authority> {
    let rows: Vec<(String, Option<String>, Vec<u8>)> =
        sqlx::query_as("SELECT role, kid, cert FROM pki_certs ORDER BY created_at, serial")
            .fetch_all(p.db.reader())
            .await?;
    let latest = |role: &str| {
        rows.iter()
            .rev()
            .find(|r| r.0 == role)
            .map(|r| (r.1.clone().unwrap_or_default(), r.2.clone()))
    };
    match (
        latest("root"),
        latest("issuing"),
        latest("ocsp"),
        latest("tsa"),
    ) {
        (Some((_, root)), Some((ik, issuing)), Some((ok, ocsp)), Some((tk, tsa))) => {
            Ok(Authority {
                root,
                issuing,
                issuing_kid: ik,
                ocsp,
                ocsp_kid: ok,
                tsa,
                tsa_kid: tk,
            })
        }
        _ => Err(DomainError::FeatureUnavailable(
            "signing is not set up on this platform: an operator runs `iamsmart ca init`",
        )),
    }
}

/// Whether the authority is set up.
pub async fn is_set_up(p: &Env) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pki_certs WHERE role = 'issuing'")
        .fetch_one(p.db.reader())
        .await?;
    Ok(n > 0)
}

pub(super) fn name(cn: String, org: &str) -> cert::DistinguishedName {
    cert::DistinguishedName {
        common_name: cn,
        organization: Some(org.to_string()),
        organizational_unit: None,
        country: Some("HK".into()),
        given_name: None,
        surname: None,
        serial_number: None,
    }
}

/// Set up the authority: the root certificate (self-signed by `root`, the caller's offline
/// key), an issuing CA, an OCSP responder and a timestamp authority, each with a new key in the
/// key store, and the root's CRL. Refused if it is already set up.
pub async fn init(p: &Signing, root: &dyn CaSigner, organization: &str) -> Result<Authority> {
    if is_set_up(p).await? {
        return Err(DomainError::Conflict(
            "the certificate authority is already set up",
        ));
    }
    let now = (p.clock.now_ms() / 1000) as u64;
    let base = p.issuer.clone();
    let year = 365 * 86_400;
    let template = |cn: String, spki: Vec<u8>, years: u64, profile| cert::CertTemplate {
        serial: new_serial(p),
        subject: name(cn, organization),
        subject_spki_der: spki,
        not_before: now - BACKDATE_S,
        not_after: now + years * year,
        profile,
        policy_oid: None,
        crl_url: None,
        ocsp_url: None,
        ca_issuers_url: None,
    };
    let root_cert = cert::issue(
        &template(
            format!("{organization} Root CA"),
            root.spki_der(),
            20,
            cert::Profile::RootCa,
        ),
        None,
        root,
    )?;
    let mut issued: Vec<(&str, String, Vec<u8>)> = Vec::new();
    let issuing_key = p.keys.create_pki_key().await?;
    let issuing_signer = signer(p, &issuing_key.kid).await?;
    let mut t = template(
        format!("{organization} Issuing CA 1"),
        issuing_signer.spki_der(),
        10,
        cert::Profile::IssuingCa,
    );
    t.crl_url = Some(format!("{base}/pki/root.crl"));
    t.ca_issuers_url = Some(format!("{base}/pki/root.cer"));
    let issuing_cert = cert::issue(&t, Some(&root_cert), root)?;
    for (role, cn, profile) in [
        (
            "ocsp",
            format!("{organization} OCSP Responder"),
            cert::Profile::OcspResponder,
        ),
        (
            "tsa",
            format!("{organization} Timestamp Authority"),
            cert::Profile::TimeStamping,
        ),
    ] {
        let key = p.keys.create_pki_key().await?;
        let s = signer(p, &key.kid).await?;
        let mut t = template(cn, s.spki_der(), 5, profile);
        t.crl_url = Some(format!("{base}/pki/crl"));
        t.ca_issuers_url = Some(format!("{base}/pki/issuing.cer"));
        issued.push((
            role,
            key.kid,
            cert::issue(&t, Some(&issuing_cert), &issuing_signer)?,
        ));
    }
    let root_crl = crl::build_crl(&root_cert, root, now, now + year, 1, &[])?;
    let now_ms = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let all = [
        ("root", None, root_cert.clone()),
        (
            "issuing",
            Some(issuing_key.kid.clone()),
            issuing_cert.clone(),
        ),
    ]
    .into_iter()
    .chain(
        issued
            .iter()
            .map(|(r, k, c)| (*r, Some(k.clone()), c.clone())),
    );
    let mut serials = serde_json::Map::new();
    for (role, kid, der) in all {
        let info = cert::parse(&der)?;
        let serial = serial_hex(&info.serial);
        sqlx::query(
            "INSERT INTO pki_certs (role, serial, kid, cert, not_before, not_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(role)
        .bind(&serial)
        .bind(kid)
        .bind(&der)
        .bind(info.not_before as i64 * 1000)
        .bind(info.not_after as i64 * 1000)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        serials.insert(role.into(), serial.into());
    }
    crate::settings::insert(&mut tx, ROOT_CRL_SETTING, &root_crl).await?;
    audit::append(
        &mut tx,
        now_ms,
        None,
        &Event {
            kind: "pki.initialised",
            actor: "operator",
            subject: "pki",
            detail: serde_json::Value::Object(serials),
        },
    )
    .await?;
    tx.commit().await?;
    p.pki.forget();
    load(p).await
}

/// The root's CRL (made at set-up; the root's key is offline).
pub async fn root_crl(p: &Env) -> Result<Vec<u8>> {
    crate::settings::get(&p.db, ROOT_CRL_SETTING)
        .await?
        .ok_or(DomainError::FeatureUnavailable(
            "signing is not set up on this platform: an operator runs `iamsmart ca init`",
        ))
}

/// A certificate issued to a resident's app.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// Serial (hex).
    pub serial: String,
    /// The certificate (DER).
    pub certificate: Vec<u8>,
    /// Issuing CA and root (DER).
    pub chain: Vec<Vec<u8>>,
}

/// The semantics identifier of a resident (ETSI EN 319 412-1 `PNOHK-...`): a keyed hash of the
/// HKID, stable for the person, that reveals nothing without the platform's key.
pub fn semantics_id(p: &Signing, hkid: &str) -> String {
    let mac = p.vault.blind_index("cert-semantics", hkid);
    format!("PNOHK-{}", hex::encode_upper(&mac[..16]))
}

/// Issue a signing certificate to the calling device's app for the public key in `csr_der`
/// (whose signature proves the app holds the private key). Only for iAM Smart+ residents; an
/// earlier certificate of the same device is revoked (superseded).
pub async fn issue_for_device(
    p: &Signing,
    caller: &DeviceCaller,
    csr_der: &[u8],
    request_id: Option<&str>,
) -> Result<IssuedCert> {
    let resident = crate::identity::get(&p.identity, &caller.resident_id).await?;
    if resident.level != iamsmart_proto::profile::Level::Plus {
        return Err(DomainError::Refused {
            code: "not-plus",
            message: "signing certificates are for iAM Smart+: upgrade with a face match first",
        });
    }
    let csr = pki::csr::verify_csr(csr_der).map_err(|e| crypto_invalid("csr", e))?;
    let auth = load(p).await?;
    let issuer = cert::parse(&auth.issuing)?;
    let now = (p.clock.now_ms() / 1000) as u64;
    let base = p.issuer.clone();
    let mut subject = name(resident.verified.name_en.clone(), "iAM Smart");
    subject.organization = None;
    subject.serial_number = Some(semantics_id(p, &resident.verified.hkid));
    let t = cert::CertTemplate {
        serial: new_serial(p),
        subject,
        subject_spki_der: csr.spki_der,
        not_before: now - BACKDATE_S,
        not_after: (now + p.policy.certificate_validity_s).min(issuer.not_after),
        profile: cert::Profile::NaturalPersonSigning,
        policy_oid: Some(p.policy.signing_policy_oid()),
        crl_url: Some(format!("{base}/pki/crl")),
        ocsp_url: Some(format!("{base}/pki/ocsp")),
        ca_issuers_url: Some(format!("{base}/pki/issuing.cer")),
    };
    let s = signer(p, &auth.issuing_kid).await?;
    let der = cert::issue(&t, Some(&auth.issuing), &s)?;
    let info = cert::parse(&der)?;
    let serial = serial_hex(&info.serial);
    let now_ms = p.clock.now_ms();
    let sealed = p.vault.seal(&cert_context(&serial), &der).await?;
    let mut tx = p.db.begin().await?;
    revoke_certs(
        &mut tx,
        &caller.resident_id,
        Some(&caller.device_id),
        REASON_SUPERSEDED,
        now_ms,
    )
    .await?;
    sqlx::query(
        "INSERT INTO user_certs (serial, resident_id, device_id, cert, status, not_before, not_after, created_at) VALUES ($1, $2, $3, $4, 'good', $5, $6, $7)",
    )
    .bind(&serial)
    .bind(&caller.resident_id)
    .bind(&caller.device_id)
    .bind(&sealed)
    .bind(info.not_before as i64 * 1000)
    .bind(info.not_after as i64 * 1000)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        now_ms,
        request_id,
        &Event {
            kind: "certificate.issued",
            actor: &caller.actor(),
            subject: &format!("resident:{}", caller.resident_id),
            detail: serde_json::json!({ "serial": serial, "device": caller.device_id }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedCert {
        serial,
        certificate: der,
        chain: auth.chain(),
    })
}

/// Revoke a resident's good certificates (of one device, or all) inside the caller's
/// transaction; returns how many.
pub(crate) async fn revoke_certs(
    conn: &mut AnyConnection,
    resident_id: &str,
    device_id: Option<&str>,
    reason: u8,
    now: i64,
) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE user_certs SET status = 'revoked', revoked_at = $1, reason = $2
         WHERE resident_id = $3 AND status = 'good' AND ($4 IS NULL OR device_id = $4)",
    )
    .bind(now)
    .bind(i32::from(reason))
    .bind(resident_id)
    .bind(device_id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// Where a resident's certificate is sealed: it names them.
fn cert_context(serial: &str) -> FieldContext<'_> {
    FieldContext {
        table: "user_certs",
        column: "cert",
        row: serial,
    }
}

/// The envelope's first bytes: a certificate stored before sealing starts with DER's SEQUENCE.
const SEALED_MAGIC: &[u8] = b"ISF1";

/// Set once every stored certificate is sealed.
pub(crate) const CERTS_SEALED_SETTING: &str = "user_certs.sealed";

/// Open a stored certificate (one stored before sealing is DER and returned as it is).
async fn open_cert(p: &Signing, serial: &str, stored: &[u8]) -> Result<Vec<u8>> {
    if stored.starts_with(SEALED_MAGIC) {
        Ok(p.vault
            .open_field(&cert_context(serial), stored)
            .await?
            .to_vec())
    } else {
        Ok(stored.to_vec())
    }
}

/// Seal the certificates stored in clear before they were sealed (run at start-up, in
/// batches; each row only if it has not changed meanwhile). Returns how many.
pub async fn seal_stored_certs(p: &Signing) -> Result<u64> {
    if crate::settings::is_set(&p.db, CERTS_SEALED_SETTING).await? {
        return Ok(0);
    }
    let mut after = String::new();
    let mut sealed_now = 0;
    loop {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT serial, cert FROM user_certs WHERE serial > $1 AND cert IS NOT NULL AND substr(cert, 1, 4) <> $2 ORDER BY serial LIMIT 500",
        )
        .bind(&after)
        .bind(SEALED_MAGIC)
        .fetch_all(p.db.reader())
        .await?;
        let Some(last) = rows.last() else {
            // Every certificate written from now on is sealed: later starts skip the scan.
            crate::settings::set_once(&p.db, CERTS_SEALED_SETTING, b"1").await?;
            return Ok(sealed_now);
        };
        after.clone_from(&last.0);
        for (serial, stored) in rows.iter().filter(|(_, c)| !c.starts_with(SEALED_MAGIC)) {
            let sealed = p.vault.seal(&cert_context(serial), stored).await?;
            sealed_now +=
                sqlx::query("UPDATE user_certs SET cert = $1 WHERE serial = $2 AND cert = $3")
                    .bind(&sealed)
                    .bind(serial)
                    .bind(stored)
                    .execute(p.db.writer())
                    .await?
                    .rows_affected();
        }
    }
}

/// Erase a purged resident's certificates inside the caller's transaction: the serial, status
/// and dates stay for the CRL and OCSP, the certificate (which names them) goes.
pub(crate) async fn erase_certificates(conn: &mut AnyConnection, resident_id: &str) -> Result<u64> {
    Ok(
        sqlx::query("UPDATE user_certs SET cert = NULL WHERE resident_id = $1")
            .bind(resident_id)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}

/// A resident's current certificate for a device: (serial, DER).
pub async fn current_cert(
    p: &Signing,
    resident_id: &str,
    device_id: Option<&str>,
) -> Result<Option<(String, Vec<u8>)>> {
    let row: Option<(String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT serial, cert FROM user_certs WHERE resident_id = $1 AND status = 'good' AND not_after > $2 AND ($3 IS NULL OR device_id = $3) ORDER BY created_at DESC LIMIT 1",
    )
    .bind(resident_id)
    .bind(p.clock.now_ms())
    .bind(device_id)
    .fetch_optional(p.db.reader())
    .await?;
    match row {
        Some((serial, Some(stored))) => {
            let der = open_cert(p, &serial, &stored).await?;
            Ok(Some((serial, der)))
        }
        _ => Ok(None),
    }
}

/// A certificate's status as the CA knows it: `None` if it did not issue it.
pub async fn status_of(p: &Env, serial: &str) -> Result<Option<ocsp::CertStatus>> {
    let row: Option<(String, Option<i64>, Option<i32>)> =
        sqlx::query_as("SELECT status, revoked_at, reason FROM user_certs WHERE serial = $1")
            .bind(serial)
            .fetch_optional(p.db.reader())
            .await?;
    if let Some((status, at, reason)) = row {
        return Ok(Some(
            if stored::<UserCertStatus>(&status)? == UserCertStatus::Revoked {
                ocsp::CertStatus::Revoked {
                    at: (at.unwrap_or(0) / 1000) as u64,
                    reason: reason.and_then(|r| u8::try_from(r).ok()),
                }
            } else {
                ocsp::CertStatus::Good
            },
        ));
    }
    let own: Option<(Option<i64>, Option<i32>)> = sqlx::query_as(
        "SELECT revoked_at, reason FROM pki_certs WHERE serial = $1 AND role IN ('ocsp', 'tsa')",
    )
    .bind(serial)
    .fetch_optional(p.db.reader())
    .await?;
    let now = p.clock.now_ms();
    Ok(own.map(|(at, reason)| match at {
        // A routine renewal revokes the old certificate once every server has moved on.
        Some(at) if at <= now => ocsp::CertStatus::Revoked {
            at: (at / 1000) as u64,
            reason: reason.and_then(|r| u8::try_from(r).ok()),
        },
        _ => ocsp::CertStatus::Good,
    }))
}

/// Revoke a retired OCSP responder's or timestamp authority's certificate inside the caller's
/// transaction, from `at` (at renewal: superseded, once running servers have picked up the new
/// one; after a compromise: key compromise, at once). A certificate revoked already keeps its
/// first revocation, unless this one is a compromise, which comes first.
pub(crate) async fn revoke_responder_cert(
    conn: &mut AnyConnection,
    serial: &str,
    reason: u8,
    at: i64,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE pki_certs SET revoked_at = $1, reason = $2 WHERE serial = $3 AND role IN ('ocsp', 'tsa') AND (revoked_at IS NULL OR ($2 = 1 AND (reason IS NULL OR reason <> 1)))",
    )
    .bind(at)
    .bind(i32::from(reason))
    .bind(serial)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Whether a timestamp made at `gen_time` (unix seconds) by the authority whose certificate has
/// `serial` can be trusted, given that certificate's status: `None` if so, or the reason not.
/// After a key compromise nothing it signed is (it could be backdated); after a renewal what it
/// signed before is.
pub async fn timestamp_authority_problem(
    p: &Env,
    serial: &str,
    gen_time: u64,
) -> Result<Option<&'static str>> {
    Ok(match status_of(p, serial).await? {
        Some(ocsp::CertStatus::Revoked { reason, .. }) if reason == Some(REASON_KEY_COMPROMISE) => {
            Some("the timestamp authority's key was compromised: its timestamps prove nothing")
        }
        Some(ocsp::CertStatus::Revoked { at, .. }) if gen_time >= at => {
            Some("the timestamp was made after the authority's certificate was revoked")
        }
        _ => None,
    })
}

/// The issuing CA's current CRL (made and signed on each call; the number is the time in ms).
pub async fn crl(p: &Signing) -> Result<Vec<u8>> {
    let auth = load(p).await?;
    let now_ms = p.clock.now_ms();
    let mut rows: Vec<(String, Option<i64>, Option<i32>)> = sqlx::query_as(
        "SELECT serial, revoked_at, reason FROM user_certs WHERE status = 'revoked' AND not_after > $1 ORDER BY serial",
    )
    .bind(now_ms)
    .fetch_all(p.db.reader())
    .await?;
    // The responders' certificates come from the same issuing CA.
    rows.extend(
        sqlx::query_as::<_, (String, Option<i64>, Option<i32>)>(
            "SELECT serial, revoked_at, reason FROM pki_certs WHERE role IN ('ocsp', 'tsa') AND revoked_at <= $1 AND not_after > $1 ORDER BY serial",
        )
        .bind(now_ms)
        .fetch_all(p.db.reader())
        .await?,
    );
    let revoked: Vec<crl::Revoked> = rows
        .into_iter()
        .filter_map(|(serial, at, reason)| {
            Some(crl::Revoked {
                serial: hex::decode(serial).ok()?,
                revoked_at: (at.unwrap_or(0) / 1000) as u64,
                reason: reason.and_then(|r| u8::try_from(r).ok()),
            })
        })
        .collect();
    let now = (now_ms / 1000) as u64;
    let s = signer(p, &auth.issuing_kid).await?;
    Ok(crl::build_crl(
        &auth.issuing,
        &s,
        now,
        now + CRL_VALIDITY_S,
        now_ms as u64,
        &revoked,
    )?)
}

/// An OCSP answer and what HTTP caches may do with it.
#[derive(Debug, Clone)]
pub struct OcspAnswer {
    /// The response (DER).
    pub der: Vec<u8>,
    /// For a successful answer to a nonce-free request: its producedAt (= thisUpdate) and
    /// nextUpdate (unix seconds), for the RFC 5019 HTTP caching headers. `None` for error
    /// responses and answers that echo a nonce (never to be cached).
    pub cacheable: Option<(u64, u64)>,
    /// Whether it was taken from this process's cache rather than signed for this request.
    pub from_cache: bool,
}

/// Answer an OCSP request (DER in, DER out): malformed requests get `malformedRequest`,
/// certificates of another issuer or unknown serials `unknown`. Nonce-free requests may be
/// answered from the process's cache of signed answers, but only with an answer signed for the
/// statuses just read from the database ([`super::cache`]).
pub async fn ocsp_answer(p: &Signing, request_der: &[u8]) -> Result<Vec<u8>> {
    Ok(ocsp_respond(p, request_der, true).await?.der)
}

/// [`ocsp_answer`] with what HTTP caches need to know; `use_cache` false signs a new answer
/// (and leaves the cache alone).
pub async fn ocsp_respond(p: &Signing, request_der: &[u8], use_cache: bool) -> Result<OcspAnswer> {
    let Ok(req) = ocsp::parse_request(request_der) else {
        return Ok(OcspAnswer {
            der: ocsp::error_response(1),
            cacheable: None,
            from_cache: false,
        });
    };
    let auth = load(p).await?;
    let now = (p.clock.now_ms() / 1000) as u64;
    let mut statuses = Vec::with_capacity(req.ids.len());
    for id in &req.ids {
        statuses.push(if id.matches_issuer(&auth.issuing) {
            status_of(p, &serial_hex(&id.serial))
                .await?
                .unwrap_or(ocsp::CertStatus::Unknown)
        } else {
            ocsp::CertStatus::Unknown
        });
    }
    let cacheable =
        use_cache && req.nonce.is_none() && !statuses.contains(&ocsp::CertStatus::Unknown);
    let key = cacheable.then(|| super::cache::ocsp_key(&req.ids));
    if let Some(key) = &key {
        if let Some(hit) = p.pki.ocsp(key, &statuses, &auth.ocsp_kid, now) {
            return Ok(OcspAnswer {
                der: hit.der,
                cacheable: Some((hit.produced_at, hit.next_update)),
                from_cache: true,
            });
        }
    }
    let next_update = now + OCSP_VALIDITY_S;
    let singles: Vec<ocsp::SingleStatus> = req
        .ids
        .into_iter()
        .zip(statuses.iter())
        .map(|(id, status)| ocsp::SingleStatus {
            id,
            status: *status,
            this_update: now,
            next_update: Some(next_update),
        })
        .collect();
    let s = signer(p, &auth.ocsp_kid).await?;
    let der = ocsp::build_response(&auth.ocsp, &s, now, &singles, req.nonce.as_deref())?;
    if let Some(key) = key {
        p.pki.put_ocsp(
            key,
            super::cache::CachedOcsp {
                statuses,
                responder_kid: auth.ocsp_kid.clone(),
                der: der.clone(),
                produced_at: now,
                next_update,
            },
        );
    }
    Ok(OcspAnswer {
        der,
        cacheable: req.nonce.is_none().then_some((now, next_update)),
        from_cache: false,
    })
}

/// An OCSP answer for one of our certificates (for B-LT validation data), always signed now,
/// never from the cache: validation data embedded with a signature should not predate it.
pub async fn ocsp_for(p: &Signing, cert_der: &[u8]) -> Result<Vec<u8>> {
    let auth = load(p).await?;
    let id = ocsp::CertId::for_cert(cert_der, &auth.issuing)?;
    let req = ocsp::build_request(&[id], None)?;
    Ok(ocsp_respond(p, &req, false).await?.der)
}

/// A timestamp token over a SHA-256 imprint, from the platform's timestamp authority; with
/// `include_certs`, the TSA's certificate and the issuing CA ride along (RFC 3161: only when the
/// request's `certReq` asked for them).
pub async fn stamp(
    p: &Signing,
    imprint: [u8; 32],
    nonce: Option<Vec<u8>>,
    include_certs: bool,
) -> Result<Vec<u8>> {
    let auth = load(p).await?;
    let s = signer(p, &auth.tsa_kid).await?;
    let chain = vec![auth.issuing.clone()];
    let policy = p.policy.tsa_policy_oid();
    Ok(tsp::build_token(&tsp::TokenParams {
        tsa_cert_der: &auth.tsa,
        chain: &chain,
        signer: &s,
        policy_oid: &policy,
        serial: new_serial(p),
        gen_time: (p.clock.now_ms() / 1000) as u64,
        imprint_sha256: imprint,
        nonce,
        include_certs,
    })?)
}

/// Answer an RFC 3161 request (DER in, DER out); a malformed one or another hash algorithm is
/// rejected in the protocol's own terms.
pub async fn timestamp_answer(p: &Signing, request_der: &[u8]) -> Result<Vec<u8>> {
    let req = match tsp::parse_request(request_der) {
        Ok(r) => r,
        // failInfo badDataFormat (5) / badAlg (0): the parser's message says which.
        Err(e) => return Ok(tsp::rejection_response(5, &e.to_string())),
    };
    let token = stamp(p, req.imprint_sha256, req.nonce, req.cert_req).await?;
    Ok(tsp::granted_response(&token))
}
