//! Writes `fuzz/fixtures.json` (fresh test keys), the seed corpora `fuzz/seeds/<target>/` made
//! with them, and the dictionaries `fuzz/dict/<target>.dict`. Run from `fuzz/`:
//! `cargo run --example seeds`. Everything it writes is replaced, and the keys change, so commit
//! the fixtures and the seeds together.
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use iamsmart_crypto::device::{DeviceKey, KdfParams};
use iamsmart_crypto::envelope::{self, FieldContext, KekRef};
use iamsmart_crypto::jose::{self, JwsHeader};
use iamsmart_crypto::keystore::file::FileKeyStore;
use iamsmart_crypto::keystore::{KeyKind, KeyStore};
use iamsmart_crypto::pki::cert::{self, CertTemplate, DistinguishedName, Profile};
use iamsmart_crypto::pki::{csr, ocsp, tsp, CaSigner, SoftSigner};
use iamsmart_crypto::rng::SeededRng;
use iamsmart_crypto::webauthn::soft::SoftPasskey;
use iamsmart_fuzz::webauthn::rp;
use iamsmart_fuzz::{b64, seed, Fixtures, Keys, ALGS, CHALLENGE, DEVICE_PIN, KIDS, ORIGIN};
use serde_json::json;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

struct Seeds {
    target: &'static str,
    n: usize,
}

impl Seeds {
    fn new(target: &'static str) -> Self {
        let d = dir().join("seeds").join(target);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("seed directory");
        Self { target, n: 0 }
    }

    fn add(&mut self, name: &str, bytes: &[u8]) {
        self.n += 1;
        let p = dir()
            .join("seeds")
            .join(self.target)
            .join(format!("{:02}-{name}", self.n));
        std::fs::write(p, bytes).expect("write seed");
    }

    fn json(&mut self, name: &str, sel: u8, v: &impl serde::Serialize) {
        self.add(name, &seed(sel, &serde_json::to_vec(v).expect("json")));
    }
}

fn dict(target: &str, words: &[&str]) {
    let d = dir().join("dict");
    std::fs::create_dir_all(&d).expect("dict directory");
    // libFuzzer's dictionary format: printable ASCII, with \\, \" and \xNN escapes.
    let escape = |w: &str| -> String {
        w.bytes()
            .map(|b| match b {
                b'\\' => "\\\\".to_string(),
                b'"' => "\\\"".to_string(),
                0x20..=0x7e => char::from(b).to_string(),
                _ => format!("\\x{b:02X}"),
            })
            .collect()
    };
    let text: String = words
        .iter()
        .map(|w| format!("\"{}\"\n", escape(w)))
        .collect::<Vec<_>>()
        .concat();
    std::fs::write(d.join(format!("{target}.dict")), text).expect("write dict");
}

fn new_keys() -> [Vec<u8>; 3] {
    let rng = SystemRandom::new();
    let es = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ed = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let rsa: aws_lc_rs::encoding::Pkcs8V1Der = rsa.as_der().unwrap();
    [
        es.as_ref().to_vec(),
        ed.as_ref().to_vec(),
        rsa.as_ref().to_vec(),
    ]
}

fn token(keys: &Keys, i: usize, header: &serde_json::Value, payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(payload)
    );
    let sig = keys.sign_jws(i, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

fn main() {
    let docs = new_keys();
    let keys = Keys::from_pkcs8(&docs);
    let jwks = keys.jwks();

    // WebAuthn: a credential registered by the soft passkey, and its responses.
    let rp = rp();
    let pk = SoftPasskey::new(ORIGIN);
    let creation = rp.creation_options(CHALLENGE, b"user-1", "chan", "CHAN Tai Man", &[]);
    let registration = pk.register(&creation);
    let cred = rp
        .verify_registration(CHALLENGE, &registration)
        .expect("the soft passkey registers");
    let request = rp.request_options(CHALLENGE, &[]);
    let assertions: Vec<_> = (0..2).map(|_| pk.authenticate(&request).unwrap()).collect();

    // The file key store: a master key and three handles.
    let mut master = [0u8; 32];
    aws_lc_rs::rand::fill(&mut master).unwrap();
    let ks = FileKeyStore::from_master_key(Zeroizing::new(master));
    let handles: Vec<(String, Vec<u8>)> = [
        ("kek-a", KeyKind::Kek),
        ("kek-b", KeyKind::Kek),
        ("sig-1", KeyKind::Signing(jose::Alg::ES256)),
    ]
    .into_iter()
    .map(|(kid, kind)| (kid.to_string(), ks.generate(kid, kind).unwrap().handle))
    .collect();

    let fixtures = Fixtures {
        note: "Test keys made by fuzz/examples/seeds.rs for the fuzz targets only; they protect \
               nothing."
            .into(),
        pkcs8: docs.clone().map(|d| b64(&d)),
        soft_credential_id: cred.id.clone(),
        soft_credential_key: cred.public_key.clone(),
        master_key: b64(&master),
        handles: handles.iter().map(|(k, h)| (k.clone(), b64(h))).collect(),
    };
    let text = serde_json::to_string_pretty(&fixtures).unwrap() + "\n";
    std::fs::write(dir().join("fixtures.json"), text).expect("write fixtures.json");

    // jws_compact
    let mut s = Seeds::new("jws_compact");
    let claims = br#"{"htm":"POST","htp":"/app/v1/devices","iat":1700000000,"jti":"0123456789abcdef","bh":"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWzG3hSuFU"}"#;
    for i in 0..3 {
        let alg = ALGS[i].as_str();
        let h = json!({"alg": alg, "kid": KIDS[i], "typ": "iamsmart-device+jwt"});
        s.add(alg, &seed(0b111, token(&keys, i, &h, claims).as_bytes()));
        let only = 1u8 << i;
        s.add(
            &format!("{alg}-only"),
            &seed(only, token(&keys, i, &h, b"{}").as_bytes()),
        );
        let no_kid = json!({"alg": alg});
        let t = token(&keys, i, &no_kid, b"x");
        s.add(&format!("{alg}-no-kid"), &seed(0b01_111, t.as_bytes()));
        s.add(&format!("{alg}-signed"), &seed(0x87, &[i as u8, 0]));
        let h = serde_json::to_vec(&json!({"alg": alg, "kid": KIDS[i], "x": [1]})).unwrap();
        let mut body = vec![i as u8, h.len() as u8];
        body.extend_from_slice(&h);
        body.extend_from_slice(claims);
        s.add(&format!("{alg}-signed-header"), &seed(0x87, &body));
    }
    let forbidden = json!({"alg": "ES256", "kid": KIDS[0], "jwk": jwks[0]});
    s.add(
        "jwk-header",
        &seed(7, token(&keys, 0, &forbidden, b"{}").as_bytes()),
    );
    let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(b"{}"));
    s.add("alg-none", &seed(7, none.as_bytes()));
    let header = JwsHeader {
        alg: jose::Alg::EdDSA,
        kid: Some(KIDS[0].into()),
        typ: None,
        extra: Default::default(),
    };
    let shared = jose::sign_compact(&header, b"{}", |m| Ok(keys.sign_jws(1, m))).unwrap();
    s.add("shared-kid", &seed(0b11_111, shared.as_bytes()));
    dict(
        "jws_compact",
        &[
            "alg", "kid", "typ", "ES256", "EdDSA", "RS256", "none", "jwk", "jku", "x5u", "x5c",
            "crit", "es256-1", "eddsa-1", "rs256-1", ".", "\"", "eyJ",
        ],
    );

    // jwk
    let mut s = Seeds::new("jwk");
    for (i, j) in jwks.iter().enumerate() {
        s.json(&format!("json-{}", ALGS[i].as_str()), 0, j);
    }
    s.json("json-soft-credential", 0, &cred.public_key);
    s.add("rsa-pkcs1", &seed(1, keys.public(2)));
    let spki: aws_lc_rs::encoding::PublicKeyX509Der = keys.rs256.public_key().as_der().unwrap();
    s.add("rsa-spki", &seed(1, spki.as_ref()));
    s.add("p256-point", &seed(2, keys.public(0)));
    s.add("ed25519", &seed(2, keys.public(1)));
    dict(
        "jwk",
        &[
            "kty", "crv", "x", "y", "n", "e", "kid", "alg", "use", "EC", "OKP", "RSA", "P-256",
            "Ed25519", "sig", "ES256", "EdDSA", "RS256",
        ],
    );

    // webauthn_registration
    let mut s = Seeds::new("webauthn_registration");
    s.json("soft-passkey", 0, &registration);
    let mut unverified = SoftPasskey::new(ORIGIN);
    unverified.user_verified = false;
    s.json("no-uv", 0, &unverified.register(&creation));
    s.json(
        "other-origin",
        0,
        &SoftPasskey::new("https://evil.example").register(&creation),
    );
    s.add("structured", &seed(1, &[0; 256]));
    s.add("structured-packed", &seed(1, &[1; 256]));
    let webauthn_words = [
        "id",
        "type",
        "response",
        "clientDataJSON",
        "attestationObject",
        "authenticatorData",
        "signature",
        "userHandle",
        "public-key",
        "webauthn.create",
        "webauthn.get",
        "challenge",
        "origin",
        "crossOrigin",
        "fmt",
        "attStmt",
        "authData",
        "none",
        "packed",
        "alg",
        "sig",
        "x5c",
        CHALLENGE,
        ORIGIN,
    ];
    dict("webauthn_registration", &webauthn_words);

    // webauthn_authentication
    let mut s = Seeds::new("webauthn_authentication");
    s.json("soft-passkey-1", 0, &assertions[0]);
    s.json("soft-passkey-2-stored-1", 0b01_000, &assertions[1]);
    for k in 1..=3u8 {
        s.add(
            &format!("structured-key-{k}"),
            &seed(1 | (k << 1), &[0; 128]),
        );
    }
    dict("webauthn_authentication", &webauthn_words);

    // sealed_device_key
    let mut s = Seeds::new("sealed_device_key");
    let cheap = KdfParams {
        m_kib: 8 * 1024,
        t: 1,
        p: 1,
    };
    let dk = DeviceKey::generate().unwrap();
    s.add(
        "sealed",
        &serde_json::to_vec(&dk.seal(DEVICE_PIN, cheap, &SeededRng::new(1)).unwrap()).unwrap(),
    );
    let other_pin = dk.seal("730164", cheap, &SeededRng::new(2)).unwrap();
    s.add("other-pin", &serde_json::to_vec(&other_pin).unwrap());
    dict(
        "sealed_device_key",
        &[
            "v",
            "kdf",
            "argon2id",
            "m",
            "t",
            "p",
            "salt",
            "nonce",
            "ct",
            "public_jwk",
            "kty",
            "crv",
            "x",
            "y",
            "8192",
            "16384",
        ],
    );

    // envelope_open (sealed only for the first context of the target)
    let mut s = Seeds::new("envelope_open");
    let ctx = FieldContext {
        table: "residents",
        column: "name_en",
        row: "r_1",
    };
    let rng = SeededRng::new(3);
    for (kid, h) in &handles[..2] {
        for (name, pt) in [
            ("empty", &b""[..]),
            ("name", b"CHAN Tai Man"),
            ("long", &[7; 300]),
        ] {
            let kek = KekRef { kid, handle: h };
            let sealed = envelope::seal(&ks, kek, &ctx, pt, &rng).unwrap();
            s.add(&format!("{kid}-{name}"), &seed(0, &sealed));
        }
    }
    let sealed = envelope::seal(
        &ks,
        KekRef {
            kid: "kek-a",
            handle: &handles[0].1,
        },
        &ctx,
        b"x",
        &rng,
    )
    .unwrap();
    s.add("other-row", &seed(1, &sealed));
    dict("envelope_open", &["ISF1", "kek-a", "kek-b", "sig-1"]);

    // outbound_url: selector (allow-list: % 4; bit 7: an address of 4 or 16 bytes), then a URL
    let mut s = Seeds::new("outbound_url");
    for (sel, url) in [
        (0u8, "https://rp.example/jwks.json"),
        (0, "https://127.0.0.1/jwks"),
        (0, "https://[::ffff:169.254.169.254]/latest/meta-data"),
        (0, "http://user:pass@rp.example/"),
        (0, "https://2130706433/"),
        (1, "http://127.0.0.1:8080/cb"),
        (1, "http://localhost/cb"),
        (2, "http://[::1]:9/cb"),
        (3, "https://[fd00::1]/"),
    ] {
        s.add("url", &[&[sel][..], url.as_bytes()].concat());
    }
    s.add("v4", &[0x80, 169, 254, 169, 254]);
    s.add("v4-allowed", &[0x81, 127, 0, 0, 1]);
    let mapped: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1];
    s.add("v6-mapped", &[&[0x80][..], &mapped[..]].concat());
    dict(
        "outbound_url",
        &[
            "https://",
            "http://",
            "[::ffff:",
            "]",
            "@",
            ":",
            "localhost",
            "0x7f",
            "%2e",
            "127.0.0.1",
        ],
    );

    // hkid
    let mut s = Seeds::new("hkid");
    for h in [
        "A123456(3)",
        "AB987654(3)",
        "G123456(A)",
        "c668668(9)",
        "XY 123456 (7)",
    ] {
        s.add("hkid", h.as_bytes());
    }

    // catalogue_search: selector (language hint: % 3; limit: / 3 % 16), then the query
    let mut s = Seeds::new("catalogue_search");
    for (sel, query) in [
        (3 * 5 + 2, "續領身份證"),
        (3 * 5 + 1, "renew my ID card"),
        (3 * 3, "name:公屋 AND -tax~2 (public housing)^5"),
        (3 * 10 + 1, "pasport libary hosiptal"),
        (3 * 4 + 2, "apply 公屋 please 😀"),
        (3 * 2, ""),
    ] {
        s.add("query", &seed(sel, query.as_bytes()));
    }
    dict(
        "catalogue_search",
        &[
            "公屋",
            "身份證",
            "身分证",
            "強積金",
            "搵工",
            "tax",
            "licence",
            "ID card",
            "AND",
            "OR",
            "NOT",
            "\\",
            "\"",
            "~2",
            "^5",
            "*",
            "?",
            ":",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
        ],
    );

    // registry_answer
    let mut s = Seeds::new("registry_answer");
    let record = json!({"hkid": "A123456(3)", "name_en": "CHAN, Tai Man", "name_zh": "陳大文",
        "date_of_birth": "1980-01-31", "gender": "M", "card_issue_date": "2019-05-01"});
    s.json(
        "answer",
        0,
        &json!({"outcome": "match", "record": record, "photo": "iVBORw0KGgo="}),
    );
    s.json("mismatch", 0, &json!({"outcome": "mismatch"}));
    s.json(
        "query",
        1,
        &json!({"hkid": "A123456(3)", "name_en": "CHAN, Tai Man",
        "date_of_birth": "1980-01-31", "include_photo": true}),
    );
    s.json("record", 2, &record);
    s.json(
        "claims",
        3,
        &json!({"iss": "immd", "iat": 1700000000, "bh": "abc", "req": "j1",
        "status": 200}),
    );

    // app_wire
    let mut s = Seeds::new("app_wire");
    let device = json!({"public_jwk": dk.public_jwk(), "name": "Pixel 8"});
    let card = json!({"hkid": "A123456(3)", "name_en": "CHAN, Tai Man",
        "date_of_birth": "1980-01-31"});
    let app_seeds = [
        json!({"htm": "POST", "htp": "/app/v1/devices", "iat": 1700000000,
            "jti": "0123456789abcdef", "bh": "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWzG3hSuFU"}),
        card.clone(),
        device.clone(),
        json!({"challenge": "c1", "expires_at": 1700000000000i64}),
        json!({"challenge": "c1", "card": card, "card_image": "", "selfie": "",
            "device": device}),
        json!({"code": "iamsmart:activate?code=K7Q2-AB3D-9XYZ", "device": device}),
        json!({"selfie": "/9j/4AAQ"}),
        json!({"resident_id": "r_1", "device_id": "d_1", "level": "basic", "rebound": false}),
        json!({"id": "d_1", "name": "Pixel", "status": "active", "created_at": 1,
            "last_used_at": null, "revoked_at": null, "current": true}),
        json!({"id": "ar_1", "kind": "login", "client_name": "eTAX", "details": {"scope": ["a"]},
            "match_code": "1234", "challenge": "c", "status": "pending", "created_at": 1,
            "expires_at": 2}),
        json!({"rid": "ar_1", "challenge": "c", "match_code": "1234", "decision": "approve",
            "agreed": ["name_en"], "iat": 1700000000}),
        json!({"signed": "a.b.c"}),
    ];
    for (i, v) in app_seeds.iter().enumerate() {
        s.json(&format!("type-{i}"), i as u8, v);
    }
    for qr in [
        "iamsmart:approve?id=ar_abc-1",
        "iamsmart:activate?code=K7Q2-AB3D-9XYZ",
    ] {
        s.add("qr", &seed(12, qr.as_bytes()));
    }
    dict(
        "app_wire",
        &[
            "iamsmart:",
            "approve",
            "activate",
            "?id=",
            "?code=",
            "&",
            "htm",
            "htp",
            "iat",
            "jti",
            "bh",
            "aud",
            "iss",
            "public_jwk",
            "device",
            "name",
            "kty",
            "EC",
            "crv",
            "P-256",
        ],
    );

    // profile
    let mut s = Seeds::new("profile");
    s.json(
        "good",
        0,
        &json!({"prefix": "Ms", "mobile": {"country_code": "852",
        "subscriber_number": "91234567"}, "email": "chan.tm@example.hk",
        "residential_address": {"flat": "12A", "building": "Canary Court",
        "district": "Sha Tin", "region": "NT"}, "education_level": "degree"}),
    );
    s.json("empty", 0, &json!({}));
    s.add("built", &seed(1, &[0; 128]));
    s.add("built-known", &seed(1, &[1; 128]));

    // pki_requests: a PKCS#10 request, OCSP requests (SHA-1 and SHA-256 CertIDs, with and
    // without a nonce), time-stamp requests.
    let mut s = Seeds::new("pki_requests");
    let ca = SoftSigner::generate().unwrap();
    let leaf = SoftSigner::generate().unwrap();
    s.add("csr", &seed(0, &csr::build_csr("fuzz", &leaf).unwrap()));
    let t = 1_800_000_000;
    let template = |cn: &str, spki: Vec<u8>, profile| CertTemplate {
        serial: vec![0x42; 16],
        subject: DistinguishedName {
            common_name: cn.into(),
            ..Default::default()
        },
        subject_spki_der: spki,
        not_before: t,
        not_after: t + 86_400,
        profile,
        policy_oid: None,
        crl_url: None,
        ocsp_url: None,
        ca_issuers_url: None,
    };
    let ca_cert = cert::issue(&template("CA", ca.spki_der(), Profile::RootCa), None, &ca).unwrap();
    let leaf_cert = cert::issue(
        &template("leaf", leaf.spki_der(), Profile::TimeStamping),
        Some(&ca_cert),
        &ca,
    )
    .unwrap();
    let id = ocsp::CertId::for_cert(&leaf_cert, &ca_cert).unwrap();
    let id256 = ocsp::CertId {
        hash_alg_sha1: false,
        issuer_name_hash: vec![1; 32],
        issuer_key_hash: vec![2; 32],
        serial: vec![0x80, 1],
    };
    let nonce = [7u8; 16];
    s.add(
        "ocsp",
        &seed(
            1,
            &ocsp::build_request(std::slice::from_ref(&id), Some(&nonce)).unwrap(),
        ),
    );
    s.add(
        "ocsp-two",
        &seed(1, &ocsp::build_request(&[id, id256], None).unwrap()),
    );
    s.add(
        "tsq",
        &seed(
            2,
            &tsp::build_request(&[3; 32], Some(&nonce), true).unwrap(),
        ),
    );
    s.add(
        "tsq-bare",
        &seed(2, &tsp::build_request(&[4; 32], None, false).unwrap()),
    );

    println!("wrote {}/fixtures.json, seeds/ and dict/", dir().display());
}
