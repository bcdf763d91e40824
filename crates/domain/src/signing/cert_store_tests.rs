//! A resident's signing certificate names them, so it is sealed at rest like other personal
//! data; certificates stored in clear before are sealed when the platform starts; a purged
//! account's certificates lose the certificate and keep what the CRL and OCSP need (issue 16,
//! finding 8). On SQLite and PostgreSQL.
use super::ca;
use crate::env::Env;
use crate::testing::platform;

const NAME: &[u8] = b"CHAN, Tai Man";

/// A DER-looking certificate that carries a name, stored as rows were before sealing.
fn legacy_cert() -> Vec<u8> {
    let mut der = vec![0x30, 0x82, 0x01, 0x00];
    der.extend_from_slice(NAME);
    der.resize(260, 0x05);
    der
}

async fn insert_clear(p: &Env, serial: &str, resident: &str, device: &str, cert: &[u8]) {
    let now = p.clock.now_ms();
    sqlx::query(
        "INSERT INTO user_certs (serial, resident_id, device_id, cert, status, not_before, not_after, created_at) VALUES ($1, $2, $3, $4, 'good', $5, $6, $7)",
    )
    .bind(serial)
    .bind(resident)
    .bind(device)
    .bind(cert)
    .bind(now - 1000)
    .bind(now + 86_400_000)
    .bind(now)
    .execute(p.db.writer())
    .await
    .unwrap();
}

async fn stored(p: &Env, serial: &str) -> Option<Vec<u8>> {
    sqlx::query_scalar("SELECT cert FROM user_certs WHERE serial = $1")
        .bind(serial)
        .fetch_one(p.db.reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn certificates_stored_in_clear_are_sealed_at_start_and_erased_at_purge() {
    let t = platform().await;
    let p = &t.p;
    // The flag set by the first start is what a database from before sealing lacks.
    crate::settings::remove(&p.db, super::ca::CERTS_SEALED_SETTING)
        .await
        .unwrap();
    let cert = legacy_cert();
    insert_clear(p, "0a01", "res-1", "dev-1", &cert).await;
    insert_clear(p, "0a02", "res-2", "dev-2", &cert).await;

    // Before sealing, a clear certificate is still read as it is.
    let (serial, der) = ca::current_cert(&p.signing, "res-1", Some("dev-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((serial.as_str(), der.as_slice()), ("0a01", cert.as_slice()));

    assert_eq!(ca::seal_stored_certs(&p.signing).await.unwrap(), 2);
    for serial in ["0a01", "0a02"] {
        let s = stored(p, serial).await.unwrap();
        assert!(s.starts_with(b"ISF1"), "sealed");
        assert!(
            !s.windows(NAME.len()).any(|w| w == NAME),
            "the name is not in clear"
        );
    }
    let (_, der) = ca::current_cert(&p.signing, "res-1", Some("dev-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(der, cert, "a sealed certificate opens to what was stored");
    // A later start finds nothing to do and does not scan again.
    assert_eq!(ca::seal_stored_certs(&p.signing).await.unwrap(), 0);
    // A sealed certificate moved to another row does not open.
    let moved = stored(p, "0a01").await.unwrap();
    sqlx::query("UPDATE user_certs SET cert = $1 WHERE serial = '0a02'")
        .bind(&moved)
        .execute(p.db.writer())
        .await
        .unwrap();
    assert!(ca::current_cert(&p.signing, "res-2", Some("dev-2"))
        .await
        .is_err());

    // Re-wrapping after a KEK rotation covers certificates too.
    let kek = p
        .keys
        .active(crate::keys::Purpose::Kek, None)
        .await
        .unwrap();
    assert_eq!(p.vault.count_not_under(&kek.kid).await.unwrap(), 0);

    // A purged account keeps the serial and status for the CRL and OCSP, not the certificate.
    let mut tx = p.db.begin().await.unwrap();
    assert_eq!(ca::erase_certificates(&mut tx, "res-1").await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert_eq!(stored(p, "0a01").await, None);
    assert!(ca::current_cert(&p.signing, "res-1", Some("dev-1"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        ca::status_of(p, "0a01").await.unwrap(),
        Some(iamsmart_crypto::pki::ocsp::CertStatus::Good)
    );
}
