//! Envelope encryption of personal data at rest.
//!
//! Sealed value format:
//! `b"ISF1" || u8 kid_len || kid || u16be wrapped_len || wrapped_dek || nonce(12) || ciphertext||tag`.
//!
//! Each value gets a fresh 32-byte data key. The content is AES-256-GCM with
//! aad `iamsmart-field-v1|table|column|row`; the data key is wrapped by the KEK through the key
//! store with aad `iamsmart-dek-v1|table|column|row`. The KEK id is not part of the content aad,
//! so re-wrapping changes only the header and leaves the ciphertext as it was.
use crate::keystore::KeyStore;
use crate::rng::Rng;
use crate::CryptoError;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use zeroize::Zeroizing;

/// Where a value lives; bound into both the content and the wrapped key.
#[derive(Debug, Clone, Copy)]
pub struct FieldContext<'a> {
    /// Table.
    pub table: &'a str,
    /// Column.
    pub column: &'a str,
    /// Row key.
    pub row: &'a str,
}

/// A key-encryption key: id and key-store handle.
#[derive(Debug, Clone, Copy)]
pub struct KekRef<'a> {
    /// Key id.
    pub kid: &'a str,
    /// Handle.
    pub handle: &'a [u8],
}

const MAGIC: &[u8; 4] = b"ISF1";

fn aad(prefix: &str, ctx: &FieldContext) -> Vec<u8> {
    format!("{prefix}|{}|{}|{}", ctx.table, ctx.column, ctx.row).into_bytes()
}

struct Parsed<'a> {
    kid: &'a str,
    wrapped: &'a [u8],
    body: &'a [u8],
}

fn malformed(why: &str) -> CryptoError {
    CryptoError::Malformed {
        what: "sealed value",
        why: why.into(),
    }
}

fn parse(sealed: &[u8]) -> Result<Parsed<'_>, CryptoError> {
    if sealed.len() < 5 || &sealed[..4] != MAGIC {
        return Err(malformed("not a sealed value"));
    }
    let kl = sealed[4] as usize;
    let kid_end = 5 + kl;
    let kid = std::str::from_utf8(
        sealed
            .get(5..kid_end)
            .ok_or_else(|| malformed("truncated"))?,
    )
    .map_err(|_| malformed("key id"))?;
    let wl = sealed
        .get(kid_end..kid_end + 2)
        .ok_or_else(|| malformed("truncated"))?;
    let wl = u16::from_be_bytes([wl[0], wl[1]]) as usize;
    let w_end = kid_end + 2 + wl;
    let wrapped = sealed
        .get(kid_end + 2..w_end)
        .ok_or_else(|| malformed("truncated"))?;
    let body = &sealed[w_end..];
    if body.len() < 12 + 16 {
        return Err(malformed("truncated"));
    }
    Ok(Parsed { kid, wrapped, body })
}

fn assemble(kid: &str, wrapped: &[u8], body: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let kl = u8::try_from(kid.len()).map_err(|_| malformed("key id too long"))?;
    let wl = u16::try_from(wrapped.len()).map_err(|_| malformed("wrapped key too long"))?;
    let mut out = Vec::with_capacity(7 + kid.len() + wrapped.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.push(kl);
    out.extend_from_slice(kid.as_bytes());
    out.extend_from_slice(&wl.to_be_bytes());
    out.extend_from_slice(wrapped);
    out.extend_from_slice(body);
    Ok(out)
}

fn content_key(dek: &[u8; 32]) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, dek)
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::Internal("data key"))
}

/// Seal `plaintext` for `ctx` under `kek`.
pub fn seal(
    ks: &dyn KeyStore,
    kek: KekRef,
    ctx: &FieldContext,
    plaintext: &[u8],
    rng: &dyn Rng,
) -> Result<Vec<u8>, CryptoError> {
    let mut dek = Zeroizing::new([0u8; 32]);
    rng.fill(&mut dek[..]);
    let mut nonce = [0u8; 12];
    rng.fill(&mut nonce);
    let wrapped = ks.wrap(kek.kid, kek.handle, &dek, &aad("iamsmart-dek-v1", ctx))?;
    let mut buf = plaintext.to_vec();
    content_key(&dek)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad("iamsmart-field-v1", ctx)),
            &mut buf,
        )
        .map_err(|_| CryptoError::Internal("seal"))?;
    let mut body = nonce.to_vec();
    body.extend_from_slice(&buf);
    assemble(kek.kid, &wrapped, &body)
}

fn unwrap_dek(
    ks: &dyn KeyStore,
    resolve: &dyn Fn(&str) -> Option<Vec<u8>>,
    ctx: &FieldContext,
    p: &Parsed,
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let handle = resolve(p.kid).ok_or_else(|| CryptoError::Malformed {
        what: "sealed value",
        why: format!("unknown key-encryption key {}", p.kid),
    })?;
    ks.unwrap(p.kid, &handle, p.wrapped, &aad("iamsmart-dek-v1", ctx))
}

/// Open a sealed value. `resolve` maps a KEK id to its handle.
pub fn open(
    ks: &dyn KeyStore,
    resolve: &dyn Fn(&str) -> Option<Vec<u8>>,
    ctx: &FieldContext,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let p = parse(sealed)?;
    let dek = unwrap_dek(ks, resolve, ctx, &p)?;
    let nonce = Nonce::try_assume_unique_for_key(&p.body[..12]).map_err(|_| malformed("nonce"))?;
    let mut buf = Zeroizing::new(p.body[12..].to_vec());
    let n = content_key(&dek)?
        .open_in_place(nonce, Aad::from(aad("iamsmart-field-v1", ctx)), &mut buf)
        .map_err(|_| CryptoError::Verify("sealed value"))?
        .len();
    buf.truncate(n);
    Ok(buf)
}

/// Re-wrap the data key of `sealed` under `new_kek`; the ciphertext is unchanged.
pub fn rewrap(
    ks: &dyn KeyStore,
    resolve: &dyn Fn(&str) -> Option<Vec<u8>>,
    new_kek: KekRef,
    ctx: &FieldContext,
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let p = parse(sealed)?;
    let dek = unwrap_dek(ks, resolve, ctx, &p)?;
    let wrapped = ks.wrap(
        new_kek.kid,
        new_kek.handle,
        &dek,
        &aad("iamsmart-dek-v1", ctx),
    )?;
    assemble(new_kek.kid, &wrapped, p.body)
}

/// The id of the KEK a sealed value is wrapped under.
pub fn kek_id(sealed: &[u8]) -> Result<&str, CryptoError> {
    Ok(parse(sealed)?.kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::file::FileKeyStore;
    use crate::keystore::KeyKind;
    use crate::rng::SeededRng;
    use proptest::prelude::*;

    fn setup() -> (FileKeyStore, Vec<u8>, Vec<u8>) {
        let ks = FileKeyStore::from_master_key(Zeroizing::new([1u8; 32]));
        let a = ks.generate("kek-a", KeyKind::Kek).unwrap().handle;
        let b = ks.generate("kek-b", KeyKind::Kek).unwrap().handle;
        (ks, a, b)
    }

    const CTX: FieldContext = FieldContext {
        table: "residents",
        column: "name_en",
        row: "r_1",
    };

    #[test]
    fn round_trip_and_binding() {
        let (ks, a, b) = setup();
        let rng = SeededRng::new(1);
        let resolve = |kid: &str| match kid {
            "kek-a" => Some(a.clone()),
            "kek-b" => Some(b.clone()),
            _ => None,
        };
        let sealed = seal(
            &ks,
            KekRef {
                kid: "kek-a",
                handle: &a,
            },
            &CTX,
            b"CHAN Tai Man",
            &rng,
        )
        .unwrap();
        assert!(!sealed.windows(12).any(|w| w == b"CHAN Tai Man"));
        assert_eq!(
            &open(&ks, &resolve, &CTX, &sealed).unwrap()[..],
            b"CHAN Tai Man"
        );
        assert_eq!(kek_id(&sealed).unwrap(), "kek-a");
        for other in [
            FieldContext { row: "r_2", ..CTX },
            FieldContext {
                column: "address",
                ..CTX
            },
            FieldContext {
                table: "staff",
                ..CTX
            },
        ] {
            assert!(open(&ks, &resolve, &other, &sealed).is_err());
        }
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(open(&ks, &resolve, &CTX, &bad).is_err(), "flipped byte {i}");
        }
        // Re-wrap: same ciphertext, new header, opens with only the new KEK.
        let moved = rewrap(
            &ks,
            &resolve,
            KekRef {
                kid: "kek-b",
                handle: &b,
            },
            &CTX,
            &sealed,
        )
        .unwrap();
        assert_eq!(kek_id(&moved).unwrap(), "kek-b");
        assert_eq!(&moved[moved.len() - 40..], &sealed[sealed.len() - 40..]);
        let only_b = |kid: &str| (kid == "kek-b").then(|| b.clone());
        assert_eq!(
            &open(&ks, &only_b, &CTX, &moved).unwrap()[..],
            b"CHAN Tai Man"
        );
        assert!(open(&ks, &only_b, &CTX, &sealed).is_err());
    }

    proptest! {
        #[test]
        fn any_plaintext_round_trips(pt in proptest::collection::vec(any::<u8>(), 0..512)) {
            let (ks, a, _) = setup();
            let rng = SeededRng::new(2);
            let sealed = seal(&ks, KekRef { kid: "kek-a", handle: &a }, &CTX, &pt, &rng).unwrap();
            let resolve = |_: &str| Some(a.clone());
            prop_assert_eq!(&open(&ks, &resolve, &CTX, &sealed).unwrap()[..], &pt[..]);
        }
    }
}
