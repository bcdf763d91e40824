//! The PKCS#11 key store (see the module docs of [`crate::keystore`]).
//!
//! Keys are generated inside the token (sensitive, not extractable); the handle is the
//! object's `CKA_ID` (the key id bytes); `CKA_LABEL` is the key id too. ECDSA is `CKM_ECDSA` over
//! a SHA-256 digest computed here, because SoftHSM lacks `CKM_ECDSA_SHA256`; EdDSA is
//! `CKM_EDDSA` (when the module supports Ed25519); RS256 is `CKM_SHA256_RSA_PKCS`. Data keys are
//! wrapped with `CKM_AES_GCM` under a token-resident AES-256 key: `iv(12) || ciphertext || tag(16)`.
//!
//! One PKCS#11 context is kept per module for the life of the process (never finalized), so
//! that several stores can be opened and dropped without tearing down each other's sessions.
//! PKCS#11 login state is per application and token: once a store of this process is logged
//! in to a token, another `open` of the same token finds the user already logged in and does
//! not check its PIN again.
use super::{GeneratedKey, KeyKind, KeyStore};
use crate::jose::{Alg, PublicJwk};
use crate::CryptoError;
use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use zeroize::Zeroizing;

/// DER of the P-256 curve OID (1.2.840.10045.3.1.7).
const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the Ed25519 OID (1.3.101.112).
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER PrintableString "edwards25519" (the older way to name the curve).
const ED25519_NAME: &[u8] = b"\x13\x0cedwards25519";

/// Keys in a PKCS#11 token.
pub struct Pkcs11KeyStore {
    label: String,
    session: Mutex<Session>,
    _ctx: Pkcs11,
}

impl std::fmt::Debug for Pkcs11KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11KeyStore")
            .field("token", &self.label)
            .finish_non_exhaustive()
    }
}

/// `PinIncorrect` -> `CKR_PIN_INCORRECT`.
fn ckr_name(rv: RvError) -> String {
    let mut out = String::from("CKR");
    for c in format!("{rv:?}")
        .chars()
        .filter(char::is_ascii_alphanumeric)
    {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Maps a cryptoki error to a message naming the function, token and CKR code (never the PIN).
fn ck<'a>(func: &'static str, label: &'a str) -> impl Fn(CkError) -> CryptoError + 'a {
    move |e| match e {
        CkError::Pkcs11(RvError::PinIncorrect, _) => {
            CryptoError::Pkcs11(format!("PIN incorrect for token {label}"))
        }
        CkError::Pkcs11(RvError::PinLocked, _) => CryptoError::Pkcs11(format!(
            "token {label} is locked (too many wrong PINs): unlock it with the SO PIN \
             (set a new user PIN as the security officer, e.g. pkcs11-tool --token-label {label} \
             --login --login-type so --init-pin)"
        )),
        CkError::Pkcs11(rv, _) => {
            CryptoError::Pkcs11(format!("{func} failed on token {label}: {}", ckr_name(rv)))
        }
        other => CryptoError::Pkcs11(format!("{func} failed on token {label}: {other}")),
    }
}

/// The process-wide context of `module` (loaded and initialized once).
fn context(module: &Path) -> Result<Pkcs11, CryptoError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let key = module
        .canonicalize()
        .unwrap_or_else(|_| module.to_path_buf());
    if let Some(ctx) = map.get(&key) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module).map_err(|e| {
        CryptoError::Pkcs11(format!(
            "cannot load the PKCS#11 module {}: {e}; install softhsm2 (or your HSM's PKCS#11 \
             library) or set the module path (keys.pkcs11.module)",
            module.display()
        ))
    })?;
    match ctx.initialize(CInitializeArgs::OsThreads) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(ck("C_Initialize", &module.display().to_string())(e)),
    }
    map.insert(key, ctx.clone());
    Ok(ctx)
}

impl Pkcs11KeyStore {
    /// Load `module`, find the token labelled `token_label`, open a read/write session and log
    /// in as the user with `user_pin`.
    pub fn open(module: &Path, token_label: &str, user_pin: &str) -> Result<Self, CryptoError> {
        if !module.exists() {
            return Err(CryptoError::Pkcs11(format!(
                "PKCS#11 module {} not found: install softhsm2 (apt-get install softhsm2) or your \
                 HSM's PKCS#11 library, or set the module path (keys.pkcs11.module)",
                module.display()
            )));
        }
        let ctx = context(module)?;
        let mut found = None;
        for slot in ctx
            .get_slots_with_token()
            .map_err(ck("C_GetSlotList", token_label))?
        {
            let info = ctx
                .get_token_info(slot)
                .map_err(ck("C_GetTokenInfo", token_label))?;
            if info.label().trim_end() == token_label {
                found = Some(slot);
                break;
            }
        }
        let slot = found.ok_or_else(|| {
            CryptoError::Pkcs11(format!(
                "no PKCS#11 token labelled \"{token_label}\"; create it with: softhsm2-util \
                 --init-token --free --label {token_label} --so-pin <SO PIN> --pin <PIN> \
                 (with SOFTHSM2_CONF pointing at the same configuration as the server)"
            ))
        })?;
        let session = ctx
            .open_rw_session(slot)
            .map_err(ck("C_OpenSession", token_label))?;
        let pin = AuthPin::new(user_pin.into());
        match session.login(UserType::User, Some(&pin)) {
            // Login state is shared by all sessions of the process (see the module docs).
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(ck("C_Login", token_label)(e)),
        }
        Ok(Self {
            label: token_label.to_string(),
            session: Mutex::new(session),
            _ctx: ctx,
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Session) -> Result<T, CryptoError>,
    ) -> Result<T, CryptoError> {
        let s = self.session.lock().unwrap_or_else(|p| p.into_inner());
        f(&s)
    }

    fn err(&self, func: &'static str) -> impl Fn(CkError) -> CryptoError + '_ {
        ck(func, &self.label)
    }

    fn find(
        &self,
        s: &Session,
        id: &[u8],
        class: ObjectClass,
    ) -> Result<Option<ObjectHandle>, CryptoError> {
        Ok(
            s.find_objects(&[Attribute::Id(id.to_vec()), Attribute::Class(class)])
                .map_err(self.err("C_FindObjects"))?
                .into_iter()
                .next(),
        )
    }

    fn not_found(&self, kid: &str) -> CryptoError {
        CryptoError::Pkcs11(format!("key {kid} not found in token {}", self.label))
    }

    /// The private key `handle`, checked to be of the type `alg` needs.
    fn private_key(
        &self,
        s: &Session,
        kid: &str,
        handle: &[u8],
        alg: Alg,
    ) -> Result<ObjectHandle, CryptoError> {
        let wrong = || CryptoError::WrongKeyUse {
            kid: kid.into(),
            op: match alg {
                Alg::ES256 => "ES256 signing",
                Alg::EdDSA => "EdDSA signing",
                Alg::RS256 => "RS256 signing",
            },
        };
        let Some(key) = self.find(s, handle, ObjectClass::PRIVATE_KEY)? else {
            return Err(match self.find(s, handle, ObjectClass::SECRET_KEY)? {
                Some(_) => wrong(),
                None => self.not_found(kid),
            });
        };
        let want = match alg {
            Alg::ES256 => KeyType::EC,
            Alg::EdDSA => KeyType::EC_EDWARDS,
            Alg::RS256 => KeyType::RSA,
        };
        let attrs = s
            .get_attributes(key, &[AttributeType::KeyType])
            .map_err(self.err("C_GetAttributeValue"))?;
        match attrs.first() {
            Some(Attribute::KeyType(t)) if *t == want => Ok(key),
            _ => Err(wrong()),
        }
    }

    /// The AES key `handle`.
    fn secret_key(
        &self,
        s: &Session,
        kid: &str,
        handle: &[u8],
    ) -> Result<ObjectHandle, CryptoError> {
        match self.find(s, handle, ObjectClass::SECRET_KEY)? {
            Some(k) => Ok(k),
            None => Err(match self.find(s, handle, ObjectClass::PRIVATE_KEY)? {
                Some(_) => CryptoError::WrongKeyUse {
                    kid: kid.into(),
                    op: "key wrapping",
                },
                None => self.not_found(kid),
            }),
        }
    }

    fn generate_ec(
        &self,
        s: &Session,
        kid: &str,
        alg: Alg,
        public: &[Attribute],
        private: &[Attribute],
    ) -> Result<PublicJwk, CryptoError> {
        let pub_h = if alg == Alg::ES256 {
            let mut t = public.to_vec();
            t.push(Attribute::EcParams(P256_OID.to_vec()));
            s.generate_key_pair(&Mechanism::EccKeyPairGen, &t, private)
                .map_err(self.err("C_GenerateKeyPair"))?
                .0
        } else {
            self.generate_ed25519(s, public, private)?
        };
        let attrs = s
            .get_attributes(pub_h, &[AttributeType::EcPoint])
            .map_err(self.err("C_GetAttributeValue"))?;
        let point = attrs
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .ok_or_else(|| CryptoError::Pkcs11("the token returned no public point".into()))?;
        if alg == Alg::ES256 {
            PublicJwk::from_p256_point(kid, ec_point(&point, 65))
        } else {
            PublicJwk::from_ed25519(kid, ec_point(&point, 32))
        }
    }

    fn generate_ed25519(
        &self,
        s: &Session,
        public: &[Attribute],
        private: &[Attribute],
    ) -> Result<ObjectHandle, CryptoError> {
        let mut last = None;
        for params in [ED25519_OID, ED25519_NAME] {
            let mut t = public.to_vec();
            t.push(Attribute::EcParams(params.to_vec()));
            match s.generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &t, private) {
                Ok((pub_h, _)) => return Ok(pub_h),
                Err(CkError::Pkcs11(rv, _)) if unsupported(rv) => last = Some(rv),
                Err(e) => return Err(self.err("C_GenerateKeyPair")(e)),
            }
        }
        Err(CryptoError::Alg(format!(
            "EdDSA: the PKCS#11 module of token {} cannot generate Ed25519 keys \
             (CKM_EC_EDWARDS_KEY_PAIR_GEN: {}); use ES256 keys in this HSM",
            self.label,
            last.map(ckr_name).unwrap_or_default()
        )))
    }

    fn generate_rsa(
        &self,
        s: &Session,
        kid: &str,
        public: &[Attribute],
        private: &[Attribute],
    ) -> Result<PublicJwk, CryptoError> {
        let mut t = public.to_vec();
        t.extend([
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
        ]);
        let (pub_h, _) = match s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &t, private) {
            Ok(k) => k,
            Err(CkError::Pkcs11(rv, _)) if unsupported(rv) => {
                return Err(CryptoError::Alg(format!(
                    "RS256: the PKCS#11 module of token {} cannot generate RSA keys ({}); use ES256",
                    self.label,
                    ckr_name(rv)
                )))
            }
            Err(e) => return Err(self.err("C_GenerateKeyPair")(e)),
        };
        let attrs = s
            .get_attributes(
                pub_h,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )
            .map_err(self.err("C_GetAttributeValue"))?;
        let (mut n, mut e) = (None, None);
        for a in attrs {
            match a {
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                _ => {}
            }
        }
        match (n, e) {
            (Some(n), Some(e)) => Ok(PublicJwk::from_rsa(kid, &n, &e)),
            _ => Err(CryptoError::Pkcs11(
                "the token returned no RSA public key".into(),
            )),
        }
    }
}

/// Return codes that mean "this module cannot do that" rather than a failure.
fn unsupported(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::MechanismInvalid
            | RvError::MechanismParamInvalid
            | RvError::CurveNotSupported
            | RvError::DomainParamsInvalid
            | RvError::AttributeValueInvalid
            | RvError::TemplateInconsistent
            | RvError::FunctionNotSupported
    )
}

/// The raw point of `CKA_EC_POINT`: either the bare `len`-byte point or a DER OCTET STRING
/// wrapping it (PKCS#11 says wrapped; some modules return it bare).
fn ec_point(b: &[u8], len: usize) -> &[u8] {
    if b.len() == len + 2 && b[0] == 0x04 && b[1] as usize == len {
        &b[2..]
    } else {
        b
    }
}

impl KeyStore for Pkcs11KeyStore {
    fn backend(&self) -> &'static str {
        "pkcs11"
    }

    fn generate(&self, kid: &str, kind: KeyKind) -> Result<GeneratedKey, CryptoError> {
        let id = kid.as_bytes().to_vec();
        let common = |private: bool| {
            vec![
                Attribute::Token(true),
                Attribute::Id(id.clone()),
                Attribute::Label(id.clone()),
                Attribute::Private(private),
            ]
        };
        self.with(|s| {
            let existing = s
                .find_objects(&[Attribute::Id(id.clone())])
                .map_err(self.err("C_FindObjects"))?;
            if !existing.is_empty() {
                return Err(CryptoError::Pkcs11(format!(
                    "a key with id {kid} already exists in token {}",
                    self.label
                )));
            }
            match kind {
                KeyKind::Signing(alg) => {
                    let mut public = common(false);
                    public.push(Attribute::Verify(true));
                    let mut private = common(true);
                    private.extend([
                        Attribute::Sign(true),
                        Attribute::Sensitive(true),
                        Attribute::Extractable(false),
                    ]);
                    let jwk = match alg {
                        Alg::ES256 | Alg::EdDSA => {
                            self.generate_ec(s, kid, alg, &public, &private)?
                        }
                        Alg::RS256 => self.generate_rsa(s, kid, &public, &private)?,
                    };
                    Ok(GeneratedKey {
                        handle: id.clone(),
                        public_jwk: Some(jwk),
                    })
                }
                KeyKind::Kek => {
                    let mut t = common(true);
                    t.extend([
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::AES),
                        Attribute::ValueLen(32.into()),
                        Attribute::Encrypt(true),
                        Attribute::Decrypt(true),
                        Attribute::Sensitive(true),
                        Attribute::Extractable(false),
                    ]);
                    s.generate_key(&Mechanism::AesKeyGen, &t)
                        .map_err(self.err("C_GenerateKey"))?;
                    Ok(GeneratedKey {
                        handle: id.clone(),
                        public_jwk: None,
                    })
                }
            }
        })
    }

    fn sign(&self, kid: &str, handle: &[u8], alg: Alg, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.with(|s| {
            let key = self.private_key(s, kid, handle, alg)?;
            let sig = match alg {
                Alg::ES256 => {
                    let digest = crate::hash::sha256(msg);
                    s.sign(&Mechanism::Ecdsa, key, &digest)
                }
                Alg::EdDSA => s.sign(
                    &Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                    key,
                    msg,
                ),
                Alg::RS256 => s.sign(&Mechanism::Sha256RsaPkcs, key, msg),
            }
            .map_err(self.err("C_Sign"))?;
            let ok = match alg {
                Alg::ES256 | Alg::EdDSA => sig.len() == 64,
                Alg::RS256 => sig.len() >= 256,
            };
            if !ok {
                return Err(CryptoError::Pkcs11(format!(
                    "token {} returned a {}-byte {} signature",
                    self.label,
                    sig.len(),
                    alg.as_str()
                )));
            }
            Ok(sig)
        })
    }

    fn wrap(
        &self,
        kid: &str,
        handle: &[u8],
        dek: &[u8; 32],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut iv = [0u8; 12];
        aws_lc_rs::rand::fill(&mut iv).map_err(|_| CryptoError::Internal("random"))?;
        self.with(|s| {
            let key = self.secret_key(s, kid, handle)?;
            let mut iv_buf = iv;
            let params =
                GcmParams::new(&mut iv_buf, aad, 128.into()).map_err(self.err("GcmParams"))?;
            let ct = s
                .encrypt(&Mechanism::AesGcm(params), key, dek)
                .map_err(self.err("C_Encrypt"))?;
            let mut out = iv.to_vec();
            out.extend_from_slice(&ct);
            Ok(out)
        })
    }

    fn unwrap(
        &self,
        kid: &str,
        handle: &[u8],
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        if wrapped.len() != 12 + 32 + 16 {
            return Err(CryptoError::Verify("data key unwrap"));
        }
        self.with(|s| {
            let key = self.secret_key(s, kid, handle)?;
            let mut iv = [0u8; 12];
            iv.copy_from_slice(&wrapped[..12]);
            let params = GcmParams::new(&mut iv, aad, 128.into()).map_err(self.err("GcmParams"))?;
            let pt = match s.decrypt(&Mechanism::AesGcm(params), key, &wrapped[12..]) {
                Ok(pt) => Zeroizing::new(pt),
                Err(CkError::Pkcs11(
                    RvError::EncryptedDataInvalid
                    | RvError::EncryptedDataLenRange
                    | RvError::GeneralError
                    | RvError::FunctionFailed,
                    _,
                )) => return Err(CryptoError::Verify("data key unwrap")),
                Err(e) => return Err(self.err("C_Decrypt")(e)),
            };
            let mut out = Zeroizing::new([0u8; 32]);
            if pt.len() != 32 {
                return Err(CryptoError::Verify("data key unwrap"));
            }
            out.copy_from_slice(&pt);
            Ok(out)
        })
    }

    fn destroy(&self, _kid: &str, handle: &[u8]) -> Result<(), CryptoError> {
        self.with(|s| {
            for h in s
                .find_objects(&[Attribute::Id(handle.to_vec())])
                .map_err(self.err("C_FindObjects"))?
            {
                s.destroy_object(h).map_err(self.err("C_DestroyObject"))?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    #[test]
    fn error_messages_name_the_cause_and_never_the_pin() {
        let m = |rv| ck("C_Login", "tok")(CkError::Pkcs11(rv, Function::Login)).to_string();
        assert_eq!(
            m(RvError::PinIncorrect),
            "PKCS#11: PIN incorrect for token tok"
        );
        assert!(m(RvError::PinLocked)
            .contains("token tok is locked (too many wrong PINs): unlock it with the SO PIN"));
        assert_eq!(
            m(RvError::TokenNotPresent),
            "PKCS#11: C_Login failed on token tok: CKR_TOKEN_NOT_PRESENT"
        );
        assert_eq!(
            ckr_name(RvError::CryptokiAlreadyInitialized),
            "CKR_CRYPTOKI_ALREADY_INITIALIZED"
        );
    }

    #[test]
    fn ec_points_wrapped_or_bare() {
        let mut bare = vec![4u8];
        bare.extend([0x3f; 64]); // x starts with 0x3f: looks like an OCTET STRING header of 63
        assert_eq!(ec_point(&bare, 65), &bare[..]);
        let mut wrapped = vec![0x04, 65];
        wrapped.extend(&bare);
        assert_eq!(ec_point(&wrapped, 65), &bare[..]);
        let ed = [7u8; 32];
        let mut wrapped = vec![0x04, 32];
        wrapped.extend(ed);
        assert_eq!(ec_point(&wrapped, 32), &ed[..]);
        assert_eq!(ec_point(&ed, 32), &ed[..]);
    }
}
