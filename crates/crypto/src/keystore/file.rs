//! The file key store (see the module docs of [`crate::keystore`]).
//!
//! Master key file: 32 random bytes, standard base64 on one line, mode 0600. It is created on
//! first start by [`FileKeyStore::open_or_create`]; a file readable by group or others is
//! refused.
//!
//! Handle format: `0x01 || nonce(12) || AES-256-GCM(master, material, aad)`, where the material
//! is a PKCS#8 document (signing keys) or 32 raw bytes (KEKs), and the aad is
//! `iamsmart-key-v1|<kid>|<kind>` (kind: `ES256`, `EdDSA`, `RS256` or `KEK`). A handle therefore
//! only opens under the key id and kind it was made for.
//!
//! Wrapped data key format (KEKs): `nonce(12) || AES-256-GCM(kek, dek, aad)`.
use super::{GeneratedKey, KeyKind, KeyStore};
use crate::jose::{Alg, PublicJwk};
use crate::CryptoError;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::Engine;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// An unsealed, parsed key (derived data, cached).
enum Loaded {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair),
    Kek(LessSafeKey),
}

/// Cache key: key id, kind tag and SHA-256 of the handle (a different handle for the same id
/// is unsealed and authenticated again, never served from the cache).
type CacheKey = (String, &'static str, [u8; 32]);

/// Keys sealed under a master key held in a file.
pub struct FileKeyStore {
    master: LessSafeKey,
    check: [u8; 32],
    cache: Mutex<HashMap<CacheKey, Arc<Loaded>>>,
}

impl std::fmt::Debug for FileKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKeyStore { .. }")
    }
}

const ALL_KINDS: [KeyKind; 4] = [
    KeyKind::Signing(Alg::ES256),
    KeyKind::Signing(Alg::EdDSA),
    KeyKind::Signing(Alg::RS256),
    KeyKind::Kek,
];

fn kind_tag(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Signing(Alg::ES256) => "ES256",
        KeyKind::Signing(Alg::EdDSA) => "EdDSA",
        KeyKind::Signing(Alg::RS256) => "RS256",
        KeyKind::Kek => "KEK",
    }
}

fn op_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Signing(Alg::ES256) => "ES256 signing",
        KeyKind::Signing(Alg::EdDSA) => "EdDSA signing",
        KeyKind::Signing(Alg::RS256) => "RS256 signing",
        KeyKind::Kek => "key wrapping",
    }
}

fn aes_key(bytes: &[u8]) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::Internal("AES key"))
}

fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| CryptoError::Internal("random"))?;
    Ok(b)
}

/// `nonce || AES-256-GCM(key, data, aad)`.
pub(crate) fn gcm_seal(key: &LessSafeKey, data: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let nonce = random::<12>()?;
    let mut buf = Zeroizing::new(data.to_vec());
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut *buf,
    )
    .map_err(|_| CryptoError::Internal("seal"))?;
    let mut out = Vec::with_capacity(12 + buf.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(out)
}

/// Open what [`gcm_seal`] produced; `None` on a bad tag.
pub(crate) fn gcm_open(key: &LessSafeKey, sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < 12 + 16 {
        return None;
    }
    let nonce = Nonce::try_assume_unique_for_key(&sealed[..12]).ok()?;
    let mut buf = Zeroizing::new(sealed[12..].to_vec());
    let n = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .ok()?
        .len();
    buf.truncate(n);
    Some(buf)
}

fn master_err(path: &Path, what: impl std::fmt::Display) -> CryptoError {
    CryptoError::MasterKey(format!("{}: {what}", path.display()))
}

impl FileKeyStore {
    /// A store with the given master key (tests, or a key from elsewhere).
    pub fn from_master_key(master: Zeroizing<[u8; 32]>) -> Self {
        let check = crate::hash::hmac_sha256(&master[..], b"iamsmart master key check v1");
        Self {
            master: aes_key(&master[..]).expect("a 32-byte AES-256 key is always valid"),
            check,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Open an existing master key file; never creates one.
    pub fn open(path: &Path) -> Result<Self, CryptoError> {
        if !path.exists() {
            return Err(CryptoError::MasterKey(format!(
                "master key file {} does not exist; restore it from your backup or set \
                 IAMSMART_MASTER_KEY_FILE to where it is",
                path.display()
            )));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| master_err(path, e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(master_err(
                    path,
                    format_args!(
                        "group or other users may access the master key (mode {:o}); run: chmod 600 {}",
                        mode & 0o777,
                        path.display()
                    ),
                ));
            }
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| master_err(path, format_args!("cannot read: {e}")))?,
        );
        let fix = "restore the original master key file from your backup (keys sealed under it \
                   cannot be opened otherwise), or, on a new installation with no keys yet, \
                   delete the file so that a new master key is created";
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| {
                    master_err(
                        path,
                        format_args!("expected 32 bytes of base64 on one line, found text that is not base64; {fix}"),
                    )
                })?,
        );
        let key: [u8; 32] = bytes[..].try_into().map_err(|_| {
            master_err(
                path,
                format_args!(
                    "expected 32 bytes of base64 on one line, found {} bytes; {fix}",
                    bytes.len()
                ),
            )
        })?;
        Ok(Self::from_master_key(Zeroizing::new(key)))
    }

    /// Open the master key file, creating it (mode 0600, fsynced with its directory) with a new
    /// random key if it does not exist.
    pub fn open_or_create(path: &Path) -> Result<Self, CryptoError> {
        if !path.exists() {
            Self::create(path)?;
        }
        Self::open(path)
    }

    fn create(path: &Path) -> Result<(), CryptoError> {
        let key = Zeroizing::new(random::<32>()?);
        let text =
            Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&key[..]) + "\n");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = match opts.open(path) {
            Ok(f) => f,
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => {
                return Err(master_err(
                    path,
                    format_args!(
                        "cannot create: {e} (does the directory exist and is it writable?)"
                    ),
                ))
            }
        };
        if let Err(e) = f.write_all(text.as_bytes()).and_then(|_| f.sync_all()) {
            drop(f);
            let _ = std::fs::remove_file(path);
            return Err(master_err(path, format_args!("cannot write: {e}")));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| master_err(dir, format_args!("cannot sync the directory: {e}")))
    }

    /// HMAC-SHA-256 of a fixed string under the master key: stored by the server so that a
    /// wrong master key is recognised at start, before any key is used.
    pub fn check_value(&self) -> [u8; 32] {
        self.check
    }

    fn aad(kid: &str, kind: KeyKind) -> Vec<u8> {
        format!("iamsmart-key-v1|{kid}|{}", kind_tag(kind)).into_bytes()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Arc<Loaded>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Unseal and parse a key (or take it from the cache).
    fn load(&self, kid: &str, handle: &[u8], kind: KeyKind) -> Result<Arc<Loaded>, CryptoError> {
        let cache_key: CacheKey = (kid.to_string(), kind_tag(kind), crate::hash::sha256(handle));
        if let Some(k) = self.cache().get(&cache_key) {
            return Ok(k.clone());
        }
        if handle.first() != Some(&1) {
            return Err(CryptoError::Malformed {
                what: "key handle",
                why: "unknown version (expected a file key store handle)".into(),
            });
        }
        let Some(material) = gcm_open(&self.master, &handle[1..], &Self::aad(kid, kind)) else {
            // A key of another kind (a KEK asked to sign, an EdDSA key asked for ES256 ...)?
            let other_kind = ALL_KINDS
                .into_iter()
                .filter(|k| *k != kind)
                .any(|k| gcm_open(&self.master, &handle[1..], &Self::aad(kid, k)).is_some());
            return Err(if other_kind {
                CryptoError::WrongKeyUse {
                    kid: kid.into(),
                    op: op_name(kind),
                }
            } else {
                CryptoError::WrongMasterKey { kid: kid.into() }
            });
        };
        let loaded = match kind {
            KeyKind::Signing(Alg::ES256) => Loaded::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &material)
                    .map_err(|_| CryptoError::Internal("stored ES256 key"))?,
            ),
            KeyKind::Signing(Alg::EdDSA) => Loaded::Ed(
                Ed25519KeyPair::from_pkcs8(&material)
                    .map_err(|_| CryptoError::Internal("stored EdDSA key"))?,
            ),
            KeyKind::Signing(Alg::RS256) => Loaded::Rsa(
                RsaKeyPair::from_pkcs8(&material)
                    .map_err(|_| CryptoError::Internal("stored RS256 key"))?,
            ),
            KeyKind::Kek => Loaded::Kek(aes_key(&material)?),
        };
        let loaded = Arc::new(loaded);
        self.cache().insert(cache_key, loaded.clone());
        Ok(loaded)
    }

    fn with_kek<T>(
        &self,
        kid: &str,
        handle: &[u8],
        f: impl FnOnce(&LessSafeKey) -> Result<T, CryptoError>,
    ) -> Result<T, CryptoError> {
        match &*self.load(kid, handle, KeyKind::Kek)? {
            Loaded::Kek(key) => f(key),
            _ => Err(CryptoError::WrongKeyUse {
                kid: kid.into(),
                op: op_name(KeyKind::Kek),
            }),
        }
    }
}

impl KeyStore for FileKeyStore {
    fn backend(&self) -> &'static str {
        "file"
    }

    fn generate(&self, kid: &str, kind: KeyKind) -> Result<GeneratedKey, CryptoError> {
        let rng = SystemRandom::new();
        let (material, jwk): (Zeroizing<Vec<u8>>, Option<PublicJwk>) = match kind {
            KeyKind::Signing(Alg::ES256) => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| CryptoError::Internal("ES256 key generation"))?;
                let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                    .map_err(|_| CryptoError::Internal("ES256 key"))?;
                let jwk = PublicJwk::from_p256_point(kid, kp.public_key().as_ref())?;
                (Zeroizing::new(doc.as_ref().to_vec()), Some(jwk))
            }
            KeyKind::Signing(Alg::EdDSA) => {
                let doc = Ed25519KeyPair::generate_pkcs8(&rng)
                    .map_err(|_| CryptoError::Internal("EdDSA key generation"))?;
                let kp = Ed25519KeyPair::from_pkcs8(doc.as_ref())
                    .map_err(|_| CryptoError::Internal("EdDSA key"))?;
                let jwk = PublicJwk::from_ed25519(kid, kp.public_key().as_ref())?;
                (Zeroizing::new(doc.as_ref().to_vec()), Some(jwk))
            }
            KeyKind::Signing(Alg::RS256) => {
                let kp = RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| CryptoError::Internal("RSA key generation"))?;
                let doc = kp
                    .as_der()
                    .map_err(|_| CryptoError::Internal("RSA key encoding"))?;
                let jwk = PublicJwk::from_rsa_der(kid, kp.public_key().as_ref())?;
                (Zeroizing::new(doc.as_ref().to_vec()), Some(jwk))
            }
            KeyKind::Kek => (Zeroizing::new(random::<32>()?.to_vec()), None),
        };
        let mut handle = vec![1u8];
        handle.extend(gcm_seal(&self.master, &material, &Self::aad(kid, kind))?);
        Ok(GeneratedKey {
            handle,
            public_jwk: jwk,
        })
    }

    fn sign(&self, kid: &str, handle: &[u8], alg: Alg, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let k = self.load(kid, handle, KeyKind::Signing(alg))?;
        let rng = SystemRandom::new();
        match (&*k, alg) {
            (Loaded::Ec(kp), Alg::ES256) => Ok(kp
                .sign(&rng, msg)
                .map_err(|_| CryptoError::Internal("ES256 sign"))?
                .as_ref()
                .to_vec()),
            (Loaded::Ed(kp), Alg::EdDSA) => Ok(kp.sign(msg).as_ref().to_vec()),
            (Loaded::Rsa(kp), Alg::RS256) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|_| CryptoError::Internal("RS256 sign"))?;
                Ok(sig)
            }
            _ => Err(CryptoError::WrongKeyUse {
                kid: kid.into(),
                op: op_name(KeyKind::Signing(alg)),
            }),
        }
    }

    fn wrap(
        &self,
        kid: &str,
        handle: &[u8],
        dek: &[u8; 32],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.with_kek(kid, handle, |key| gcm_seal(key, dek, aad))
    }

    fn unwrap(
        &self,
        kid: &str,
        handle: &[u8],
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        self.with_kek(kid, handle, |key| {
            let dek = gcm_open(key, wrapped, aad).ok_or(CryptoError::Verify("data key unwrap"))?;
            let mut out = Zeroizing::new([0u8; 32]);
            if dek.len() != 32 {
                return Err(CryptoError::Verify("data key unwrap"));
            }
            out.copy_from_slice(&dek);
            Ok(out)
        })
    }

    fn destroy(&self, kid: &str, _handle: &[u8]) -> Result<(), CryptoError> {
        self.cache().retain(|(k, _, _), _| k != kid);
        Ok(())
    }
}
