//! `iamsmart ca init`, `iamsmart ca root-crl`, `iamsmart ca renew`, `iamsmart ca show` and
//! `iamsmart verify FILE`.
use anyhow::{anyhow, bail, Context};
use base64::Engine;
use iamsmart_crypto::device::{DeviceKey, SealedDeviceKey, DEFAULT_KDF};
use iamsmart_domain::signing::root_crl::{self, RootCrlStatus};
use iamsmart_domain::signing::Signing;
use iamsmart_domain::signing::{ca, requests, verify};
use std::path::Path;

/// The shortest accepted passphrase for the sealed root key.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Set up the certificate authority: a new root key (in memory; written to `root_key_out`
/// sealed under `passphrase` when given, else discarded), the issuing CA, OCSP responder and
/// timestamp authority keys in the key store. Prints what was made.
pub async fn ca_init(
    p: &Signing,
    organization: &str,
    root_key_out: Option<&Path>,
    passphrase: Option<&str>,
) -> anyhow::Result<ca::Authority> {
    if ca::is_set_up(p).await? {
        bail!("the certificate authority is already set up");
    }
    let root = DeviceKey::generate()?;
    if let Some(out) = root_key_out {
        let pass = passphrase.ok_or_else(|| {
            anyhow!("--root-key-out needs a passphrase: --root-passphrase-file FILE")
        })?;
        if pass.chars().count() < MIN_PASSPHRASE_CHARS {
            bail!("the root key passphrase must be at least {MIN_PASSPHRASE_CHARS} characters");
        }
        if out.exists() {
            bail!(
                "{} already exists: choose another --root-key-out",
                out.display()
            );
        }
        let sealed = root.seal(pass, DEFAULT_KDF, &iamsmart_crypto::rng::SystemRng)?;
        write_private(out, &serde_json::to_vec_pretty(&sealed)?)?;
    }
    let auth = match ca::init(p, &root, organization).await {
        Ok(a) => a,
        Err(e) => {
            if let Some(out) = root_key_out {
                let _ = std::fs::remove_file(out);
            }
            return Err(anyhow!("{e}"));
        }
    };
    Ok(auth)
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// A one-line description of the authority for people.
pub fn describe(auth: &ca::Authority) -> anyhow::Result<String> {
    let root = iamsmart_crypto::pki::cert::parse(&auth.root)?;
    Ok(format!(
        "root \"{}\" (SHA-256 {})",
        root.subject_cn,
        hex::encode(iamsmart_crypto::pki::sha256(&auth.root))
    ))
}

/// Renew the root CRL: unseal the root key in `key_file` (as `ca init --root-key-out` wrote it)
/// with `passphrase`, check that it is this platform's root, and sign and store a new root CRL
/// current for `days` days. Nothing is changed when any step fails.
pub async fn renew_root_crl(
    p: &Signing,
    key_file: &Path,
    passphrase: &str,
    days: u64,
) -> anyhow::Result<RootCrlStatus> {
    let bytes =
        std::fs::read(key_file).with_context(|| format!("cannot read {}", key_file.display()))?;
    let sealed: SealedDeviceKey = serde_json::from_slice(&bytes).map_err(|_| {
        anyhow!(
            "{} is not a sealed root key (the file `iamsmart ca init --root-key-out` wrote)",
            key_file.display()
        )
    })?;
    let auth = ca::load(p).await?;
    let root_spki = iamsmart_crypto::pki::cert::parse(&auth.root)?.spki_der;
    let sealed_spki = iamsmart_crypto::pki::spki_from_jwk(&sealed.public_jwk)
        .map_err(|e| anyhow!("{}: {e}", key_file.display()))?;
    if sealed_spki != root_spki {
        bail!(
            "{} holds another key, not the root key of this platform ({}): nothing was changed",
            key_file.display(),
            describe(&auth)?
        );
    }
    let root = DeviceKey::open(&sealed, passphrase).map_err(|_| {
        anyhow!(
            "cannot unseal {}: wrong passphrase, or the file is damaged; nothing was changed",
            key_file.display()
        )
    })?;
    Ok(root_crl::renew(p, &root, days.saturating_mul(86_400)).await?)
}

/// Unix seconds as `YYYY-MM-DD hh:mm:ss UTC`.
pub fn utc(secs: u64) -> String {
    match iamsmart_crypto::pki::utc_calendar(secs) {
        Ok((y, mo, d, h, mi, s)) => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC"),
        Err(_) => format!("{secs} (unix time)"),
    }
}

/// The root CRL's state for `ca show` at `now` (unix seconds): a line to print, and a warning
/// when its nextUpdate is within 30 days or past.
pub fn describe_root_crl(s: &RootCrlStatus, now: u64) -> (String, Option<String>) {
    let when = if s.next_update >= now {
        format!("in {} days", (s.next_update - now) / 86_400)
    } else {
        format!("{} days ago", (now - s.next_update).div_ceil(86_400))
    };
    let line = format!(
        "root CRL: number {}, {} revoked, this update {}, next update {} ({when})",
        s.number,
        s.revoked,
        utc(s.this_update),
        utc(s.next_update)
    );
    let warning = s.due(now).then(|| {
        let state = if s.next_update >= now {
            "is due for renewal"
        } else {
            "has EXPIRED: relying parties that check it refuse the whole chain"
        };
        format!(
            "warning: the root CRL {state} (nextUpdate {}, {when}); renew it with the offline \
             root key: iamsmart ca root-crl --root-key FILE --root-passphrase-file FILE",
            utc(s.next_update)
        )
    });
    (line, warning)
}

/// Days before a certificate's notAfter from which `ca show` warns.
pub const EXPIRY_WARNING_DAYS: u64 = 90;

/// A certificate's expiry for `ca show` at `now`: a line to print, and a warning when it is
/// within [`EXPIRY_WARNING_DAYS`] or past, saying how to renew it.
pub fn describe_expiry(
    label: &str,
    der: &[u8],
    now: u64,
) -> anyhow::Result<(String, Option<String>)> {
    let info = iamsmart_crypto::pki::cert::parse(der)?;
    let serial = ca::serial_hex(&info.serial);
    let when = if info.not_after >= now {
        format!("in {} days", (info.not_after - now) / 86_400)
    } else {
        format!("{} days ago", (now - info.not_after).div_ceil(86_400))
    };
    let line = format!(
        "{label}: serial {serial}, valid until {} ({when})",
        utc(info.not_after)
    );
    let due = info.not_after < now + EXPIRY_WARNING_DAYS * 86_400;
    let warning = due.then(|| {
        let state = if info.not_after >= now {
            "expires soon"
        } else {
            "has EXPIRED"
        };
        let fix = match label {
            "OCSP responder" => "renew it: iamsmart ca renew ocsp",
            "timestamp authority" => "renew it: iamsmart ca renew tsa",
            _ => "a new one needs the offline root key and a planned rollover",
        };
        format!(
            "warning: the {label}'s certificate {state} ({}, {when}); {fix}",
            utc(info.not_after)
        )
    });
    Ok((line, warning))
}

/// Read a CMS signature given as DER, PEM or base64.
fn read_cms(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("not DER, PEM or base64"))?;
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|_| anyhow!("the signature file is not DER, PEM or base64"))
}

/// Verify a signed PDF, or a CMS signature with its document (`content`) or the document's
/// SHA-256 (`digest`). Prints the report; returns whether it is valid.
pub async fn verify_file(
    p: &Signing,
    file: &Path,
    content: Option<&Path>,
    digest: Option<&str>,
) -> anyhow::Result<bool> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let report = if bytes.starts_with(b"%PDF-") {
        verify::verify_pdf(p, &bytes).await?
    } else {
        let digest = match (content, digest) {
            (Some(c), None) => iamsmart_crypto::pki::sha256(
                &std::fs::read(c).with_context(|| format!("cannot read {}", c.display()))?,
            ),
            (None, Some(d)) => requests::parse_digest(d)?,
            _ => bail!("a CMS signature is detached: give --content DOCUMENT or --digest SHA256"),
        };
        verify::verify_cms(p, &read_cms(&bytes)?, &digest).await?
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(report.valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crl(next_update: u64) -> RootCrlStatus {
        RootCrlStatus {
            number: 7,
            this_update: 1_700_000_000,
            next_update,
            revoked: 0,
        }
    }

    #[test]
    fn ca_show_warns_thirty_days_before_the_root_crl_lapses_and_after() {
        let now = 1_800_000_000;
        let (line, warning) = describe_root_crl(&crl(now + 90 * 86_400), now);
        assert!(
            line.contains("number 7") && line.contains("in 90 days"),
            "{line}"
        );
        assert!(warning.is_none());
        let (_, warning) = describe_root_crl(&crl(now + 29 * 86_400), now);
        assert!(warning.unwrap().contains("due for renewal"));
        let (line, warning) = describe_root_crl(&crl(now - 86_400), now);
        assert!(line.contains("1 days ago"), "{line}");
        assert!(warning.unwrap().contains("EXPIRED"));
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
    }

    fn cert_until(not_after: u64) -> Vec<u8> {
        use iamsmart_crypto::pki::{cert, CaSigner};
        let key = DeviceKey::generate().unwrap();
        let t = cert::CertTemplate {
            serial: vec![0x42],
            subject: cert::DistinguishedName {
                common_name: "Test".into(),
                ..Default::default()
            },
            subject_spki_der: key.spki_der(),
            not_before: 1_700_000_000,
            not_after,
            profile: cert::Profile::RootCa,
            policy_oid: None,
            crl_url: None,
            ocsp_url: None,
            ca_issuers_url: None,
        };
        cert::issue(&t, None, &key).unwrap()
    }

    #[test]
    fn ca_show_warns_ninety_days_before_a_certificate_expires_and_says_how_to_renew() {
        let now = 1_800_000_000;
        let (line, warning) =
            describe_expiry("timestamp authority", &cert_until(now + 200 * 86_400), now).unwrap();
        assert!(
            line.contains("serial 42") && line.contains("in 200 days"),
            "{line}"
        );
        assert!(warning.is_none());
        let (_, warning) =
            describe_expiry("timestamp authority", &cert_until(now + 89 * 86_400), now).unwrap();
        let w = warning.unwrap();
        assert!(
            w.contains("expires soon") && w.contains("ca renew tsa"),
            "{w}"
        );
        let (_, warning) =
            describe_expiry("OCSP responder", &cert_until(now - 86_400), now).unwrap();
        let w = warning.unwrap();
        assert!(w.contains("EXPIRED") && w.contains("ca renew ocsp"), "{w}");
        let (_, warning) = describe_expiry("issuing CA", &cert_until(now + 86_400), now).unwrap();
        assert!(warning.unwrap().contains("offline root key"));
    }
}
