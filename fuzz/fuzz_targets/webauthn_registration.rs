//! `webauthn::RelyingParty::verify_registration` on arbitrary responses.
//!
//! Input: a selector byte, then the data. Selector bit 0 = mode:
//! - 0: the data is the response JSON (seeds: responses of `SoftPasskey`).
//! - 1: structure-aware: the data drives `arbitrary` to build client data, authenticator data,
//!   a COSE key (one of the fixed keys, altered, or any CBOR) and an attestation object of any
//!   format (a `packed` self-attestation may be signed for real by the harness).
//!
//! Property: a verified registration answered our challenge from our origin, for our RP ID with
//! UP, UV and AT set; its credential id is the response's; a `packed` statement's signature
//! verifies, by aws-lc-rs directly, under the credential's key.
#![no_main]
use arbitrary::{Arbitrary, Unstructured};
use ciborium::Value;
use iamsmart_crypto::jose::b64_decode;
use iamsmart_crypto::webauthn::{AttestationPart, RegistrationResponse};
use iamsmart_fuzz::cbor::{encode, int, text, Cbor};
use iamsmart_fuzz::webauthn::{
    assert_auth_data, assert_client_data, rp, signed_data, verifies_with_jwk, AuthData, Client, AT,
};
use iamsmart_fuzz::{b64, jwks, keys, split, CHALLENGE};
use libfuzzer_sys::fuzz_target;

/// COSE algorithm of each fixed key.
const COSE_ALGS: [i64; 3] = [-7, -8, -257];

#[derive(Debug, Arbitrary)]
enum Cose {
    /// A fixed key (index % 3), optionally altered.
    Key {
        which: u8,
        kty: Option<i8>,
        alg: Option<i16>,
        crv: Option<i8>,
        /// Bit i removes the i-th member.
        drop: u8,
        extra: Vec<(Cbor, Cbor)>,
    },
    Any(Cbor),
    Raw(Vec<u8>),
}

impl Cose {
    /// The encoded key and the fixed key it is (if any).
    fn bytes(&self) -> (Vec<u8>, Option<usize>) {
        let (which, kty, alg, crv, drop, extra) = match self {
            Cose::Key {
                which,
                kty,
                alg,
                crv,
                drop,
                extra,
            } => (*which as usize % 3, kty, alg, crv, *drop, extra),
            Cose::Any(c) => return (encode(&c.value()), None),
            Cose::Raw(r) => return (r.clone(), None),
        };
        let jwk = &jwks()[which];
        let b = |s: &Option<String>| Value::Bytes(b64_decode("k", s.as_deref().unwrap()).unwrap());
        let default_kty = [2, 1, 3][which];
        let mut m = vec![
            (int(1), int(kty.map_or(default_kty, i64::from))),
            (int(3), int(alg.map_or(COSE_ALGS[which], i64::from))),
        ];
        match which {
            0 => {
                m.push((int(-1), int(crv.map_or(1, i64::from))));
                m.push((int(-2), b(&jwk.x)));
                m.push((int(-3), b(&jwk.y)));
            }
            1 => {
                m.push((int(-1), int(crv.map_or(6, i64::from))));
                m.push((int(-2), b(&jwk.x)));
            }
            _ => {
                m.push((int(-1), b(&jwk.n)));
                m.push((int(-2), b(&jwk.e)));
            }
        }
        let m: Vec<(Value, Value)> = m
            .into_iter()
            .enumerate()
            .filter(|(i, _)| drop & (1 << i) == 0)
            .map(|(_, kv)| kv)
            .chain(extra.iter().map(|(k, v)| (k.value(), v.value())))
            .collect();
        (encode(&Value::Map(m)), Some(which))
    }
}

#[derive(Debug, Arbitrary)]
enum Sig {
    /// Signed by the fixed key the COSE key is (or key 0).
    Valid,
    Bytes(Vec<u8>),
    Missing,
}

#[derive(Debug, Arbitrary)]
enum Stmt {
    Empty,
    Packed {
        alg: Option<i16>,
        sig: Sig,
        x5c: Option<Cbor>,
    },
    Any(Cbor),
}

#[derive(Debug, Arbitrary)]
enum Fmt {
    None,
    Packed,
    Other(String),
    Missing,
    NotText(Cbor),
}

#[derive(Debug, Arbitrary)]
struct Registration {
    client: Client,
    auth: AuthData,
    aaguid: [u8; 16],
    cred_id: Vec<u8>,
    id_len: Option<u16>,
    cose: Cose,
    extensions: Vec<u8>,
    fmt: Fmt,
    stmt: Stmt,
    extra: Vec<(Cbor, Cbor)>,
    /// Replace the response id (otherwise the credential id, base64url).
    id: Option<String>,
    kind: Option<String>,
    order: bool,
}

fn build(r: &Registration) -> RegistrationResponse {
    let cdj = r.client.bytes("webauthn.create");
    let (cose, which) = r.cose.bytes();
    let mut tail = r.aaguid.to_vec();
    let id_len = r.id_len.unwrap_or(r.cred_id.len() as u16);
    tail.extend_from_slice(&id_len.to_be_bytes());
    tail.extend_from_slice(&r.cred_id);
    tail.extend_from_slice(&cose);
    tail.extend_from_slice(&r.extensions);
    let ad = r.auth.bytes(&tail);
    let stmt = match &r.stmt {
        Stmt::Empty => Value::Map(vec![]),
        Stmt::Packed { alg, sig, x5c } => {
            let which = which.unwrap_or(0);
            let alg = alg.map_or(COSE_ALGS[which], i64::from);
            let mut m = vec![(text("alg"), int(alg))];
            match sig {
                Sig::Valid => {
                    let s = keys().sign_webauthn(which, &signed_data(&ad, &cdj));
                    m.push((text("sig"), Value::Bytes(s)));
                }
                Sig::Bytes(b) => m.push((text("sig"), Value::Bytes(b.clone()))),
                Sig::Missing => {}
            }
            if let Some(x) = x5c {
                m.push((text("x5c"), x.value()));
            }
            Value::Map(m)
        }
        Stmt::Any(c) => c.value(),
    };
    let fmt = match &r.fmt {
        Fmt::None => Some(text("none")),
        Fmt::Packed => Some(text("packed")),
        Fmt::Other(s) => Some(text(s)),
        Fmt::Missing => None,
        Fmt::NotText(c) => Some(c.value()),
    };
    let mut m: Vec<(Value, Value)> = fmt.map(|f| (text("fmt"), f)).into_iter().collect();
    m.push((text("attStmt"), stmt));
    m.push((text("authData"), Value::Bytes(ad)));
    if r.order {
        m.reverse();
    }
    m.extend(r.extra.iter().map(|(k, v)| (k.value(), v.value())));
    RegistrationResponse {
        id: r.id.clone().unwrap_or_else(|| b64(&r.cred_id)),
        kind: r.kind.clone().unwrap_or_else(|| "public-key".into()),
        response: AttestationPart {
            client_data_json: b64(&cdj),
            attestation_object: b64(&encode(&Value::Map(m))),
        },
    }
}

fn check(resp: &RegistrationResponse) {
    let Ok(cred) = rp().verify_registration(CHALLENGE, resp) else {
        return;
    };
    let cdj = b64_decode("c", &resp.response.client_data_json).unwrap();
    assert_client_data(&cdj, "webauthn.create");
    let att = b64_decode("a", &resp.response.attestation_object).unwrap();
    let att: Value = ciborium::de::from_reader(&att[..]).expect("verified CBOR");
    let map = att.as_map().expect("verified a map");
    let get = |k: &str| {
        map.iter()
            .find(|(x, _)| x.as_text() == Some(k))
            .map(|e| &e.1)
    };
    let ad = get("authData").and_then(Value::as_bytes).expect("authData");
    let count = assert_auth_data(ad);
    assert_eq!(count, cred.sign_count);
    assert!(
        ad[32] & AT != 0,
        "verified without attested credential data"
    );
    let id_len = u16::from_be_bytes([ad[53], ad[54]]) as usize;
    assert_eq!(b64(&ad[55..55 + id_len]), resp.id, "credential id mismatch");
    assert_eq!(cred.id, resp.id);
    assert_eq!(resp.kind, "public-key");
    match get("fmt").and_then(Value::as_text) {
        Some("none") => {}
        Some("packed") => {
            let stmt = get("attStmt").and_then(Value::as_map).expect("attStmt");
            let sig = stmt
                .iter()
                .find(|(k, _)| k.as_text() == Some("sig"))
                .and_then(|(_, v)| v.as_bytes())
                .expect("packed sig");
            assert!(
                verifies_with_jwk(&cred.public_key, &signed_data(ad, &cdj), sig),
                "verified a packed attestation whose signature does not verify"
            );
        }
        other => panic!("verified attestation format {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let (sel, rest) = split(data);
    if sel & 1 == 0 {
        if let Ok(resp) = serde_json::from_slice::<RegistrationResponse>(rest) {
            check(&resp);
        }
        return;
    }
    if let Ok(r) = Registration::arbitrary_take_rest(Unstructured::new(rest)) {
        check(&build(&r));
    }
});
