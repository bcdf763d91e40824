//! `iamsmart ca init` and `iamsmart verify FILE`.
use anyhow::{anyhow, bail, Context};
use base64::Engine;
use iamsmart_crypto::device::{DeviceKey, DEFAULT_KDF};
use iamsmart_domain::signing::{ca, requests, verify};
use iamsmart_domain::Platform;
use std::path::Path;

/// The shortest accepted passphrase for the sealed root key.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Set up the certificate authority: a new root key (in memory; written to `root_key_out`
/// sealed under `passphrase` when given, else discarded), the issuing CA, OCSP responder and
/// timestamp authority keys in the key store. Prints what was made.
pub async fn ca_init(
    p: &Platform,
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
    p: &Platform,
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
