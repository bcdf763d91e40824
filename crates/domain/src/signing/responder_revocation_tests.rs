//! Issue 16, finding 7: a renewed OCSP responder's or timestamp authority's old certificate is
//! revoked by the issuing CA (superseded, once running servers have moved on: what it signed
//! before stays valid) and its key retired; after a compromise it is revoked at once for key
//! compromise, and no timestamp it made counts any more. On SQLite and PostgreSQL.
use super::ca;
use super::responders::{self, Responder, HANDOVER_MS};
use crate::clock::Clock;
use crate::testing::platform;
use iamsmart_crypto::pki::{self, crl, ocsp, tsp, SoftSigner};

fn tsa_serial(token: &[u8]) -> (String, u64) {
    let t = tsp::verify_token(token, None).unwrap();
    let info = pki::cert::parse(&t.tsa_cert_der.unwrap()).unwrap();
    (ca::serial_hex(&info.serial), t.gen_time)
}

#[tokio::test]
async fn a_renewed_responder_is_revoked_and_a_compromised_one_at_once() {
    let t = platform().await;
    let p = &t.p;
    let root = SoftSigner::generate().unwrap();
    ca::init(&p.signing, &root, "Test Authority").await.unwrap();
    let before = ca::stamp(&p.signing, [1u8; 32], None, true).await.unwrap();
    let (first, first_time) = tsa_serial(&before);
    assert_eq!(
        ca::status_of(p, &first).await.unwrap(),
        Some(ocsp::CertStatus::Good)
    );

    // A routine renewal: the old certificate stays good while running servers move on.
    t.clock.advance(1_000);
    let renewed = responders::renew(&p.signing, Responder::Tsa, 2, false)
        .await
        .unwrap();
    assert_eq!(renewed.previous_serial, first);
    assert_eq!(
        ca::status_of(p, &first).await.unwrap(),
        Some(ocsp::CertStatus::Good)
    );
    let after = ca::stamp(&p.signing, [2u8; 32], None, true).await.unwrap();
    assert_eq!(
        tsa_serial(&after).0,
        renewed.serial,
        "new stamps from the new one"
    );

    // Then it is revoked (superseded), on the CRL and in OCSP; what it stamped before counts.
    t.clock.advance(HANDOVER_MS);
    let revoked_at = (t.clock.now_ms() / 1000) as u64;
    assert_eq!(
        ca::status_of(p, &first).await.unwrap(),
        Some(ocsp::CertStatus::Revoked {
            at: revoked_at,
            reason: Some(ca::REASON_SUPERSEDED)
        })
    );
    let auth = ca::load(&p.signing).await.unwrap();
    let list = crl::parse_crl(&ca::crl(&p.signing).await.unwrap(), &auth.issuing).unwrap();
    assert!(list
        .revoked
        .iter()
        .any(|r| ca::serial_hex(&r.serial) == first));
    assert_eq!(
        ca::timestamp_authority_problem(p, &first, first_time)
            .await
            .unwrap(),
        None
    );
    assert!(ca::timestamp_authority_problem(p, &first, revoked_at + 1)
        .await
        .unwrap()
        .is_some());
    let old_key = p
        .keys
        .all(crate::keys::Purpose::Pki)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.retire_at.is_some_and(|r| r <= t.clock.now_ms()))
        .count();
    assert_eq!(old_key, 1, "the old key is retired");

    // A compromise: the current one is revoked at once, and nothing it stamped counts.
    let (second, second_time) = tsa_serial(&after);
    let again = responders::renew(&p.signing, Responder::Tsa, 2, true)
        .await
        .unwrap();
    assert_eq!(again.previous_serial, second);
    assert!(matches!(
        ca::status_of(p, &second).await.unwrap(),
        Some(ocsp::CertStatus::Revoked {
            reason: Some(ca::REASON_KEY_COMPROMISE),
            ..
        })
    ));
    assert!(ca::timestamp_authority_problem(p, &second, second_time)
        .await
        .unwrap()
        .is_some());
    let list = crl::parse_crl(&ca::crl(&p.signing).await.unwrap(), &auth.issuing).unwrap();
    assert!(list.revoked.iter().any(
        |r| ca::serial_hex(&r.serial) == second && r.reason == Some(ca::REASON_KEY_COMPROMISE)
    ));
    // The platform stamps with the new authority.
    let third = ca::stamp(&p.signing, [3u8; 32], None, true).await.unwrap();
    assert_eq!(tsa_serial(&third).0, again.serial);
}
