//! What the database itself refuses, the same on both engines: states outside their lists
//! (migration 0020: `CHECK` constraints on PostgreSQL, triggers on SQLite) and rows that point at
//! nothing (migration 0021: foreign keys on PostgreSQL, triggers on SQLite), and the one cascade
//! (a device's app sessions go with the device).
use iamsmart_store::{Db, DbOptions};

async fn engines(dir: &std::path::Path) -> Vec<(&'static str, Db)> {
    let lite = Db::connect(
        &format!("sqlite://{}", dir.join("c.db").display()),
        &DbOptions::default(),
    )
    .await
    .unwrap();
    lite.migrate().await.unwrap();
    let mut out = vec![("sqlite", lite)];
    let pg = std::env::var("IAMSMART_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .or_else(|| std::env::var("IAMSMART_TEST_POSTGRES_URL").ok());
    match pg {
        Some(base) => {
            let url = iamsmart_testkit::create_database_on(&base, dir)
                .await
                .unwrap();
            let pg = Db::connect(&url, &DbOptions::default()).await.unwrap();
            pg.migrate().await.unwrap();
            out.push(("postgres", pg));
        }
        None if std::env::var("IAMSMART_SKIP_POSTGRES").is_ok() => {
            eprintln!("IAMSMART_SKIP_POSTGRES set: SQLite only");
        }
        None => panic!("set IAMSMART_TEST_POSTGRES_URL (or IAMSMART_SKIP_POSTGRES=1)"),
    }
    out
}

async fn run(db: &Db, sql: &str, binds: &[&str]) -> Result<u64, String> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    q.execute(db.writer())
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| e.to_string())
}

async fn count(db: &Db, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(db.reader())
        .await
        .unwrap()
}

async fn resident(db: &Db, id: &str, level: &str) -> Result<u64, String> {
    sqlx::query(
        "INSERT INTO residents (id, hkid_index, hkid, name_en, date_of_birth, level, status, channel, created_at, updated_at)
         VALUES ($1, $2, $2, $2, $2, $3, 'active', 'operator', 0, 0)",
    )
    .bind(id)
    .bind(id.as_bytes())
    .bind(level)
    .execute(db.writer())
    .await
    .map(|r| r.rows_affected())
    .map_err(|e| e.to_string())
}

const DEVICE: &str =
    "INSERT INTO devices (id, resident_id, thumbprint, public_jwk, name, status, created_at)
     VALUES ($1, $2, $1, '{}', 'phone', 'active', 0)";

async fn activation_code(db: &Db, hash: &str, resident_id: &str) -> Result<u64, String> {
    sqlx::query(
        "INSERT INTO activation_codes (code_hash, resident_id, issued_by, created_at, expires_at) VALUES ($1, $2, 'test', 0, 0)",
    )
    .bind(hash.as_bytes())
    .bind(resident_id)
    .execute(db.writer())
    .await
    .map(|r| r.rows_affected())
    .map_err(|e| e.to_string())
}

async fn app_session(db: &Db, token: &str, device_id: &str) -> Result<u64, String> {
    sqlx::query(
        "INSERT INTO app_sessions (token_hash, device_id, created_at, idle_until, expires_at) VALUES ($1, $2, 0, 0, 0)",
    )
    .bind(token.as_bytes())
    .bind(device_id)
    .execute(db.writer())
    .await
    .map(|r| r.rows_affected())
    .map_err(|e| e.to_string())
}

#[tokio::test]
async fn unknown_states_and_rows_that_point_at_nothing_are_refused_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, db) in engines(dir.path()).await {
        // A state outside its list.
        let e = resident(&db, "r1", "gold").await.unwrap_err();
        assert!(e.contains("residents_level_known"), "{engine}: {e}");
        resident(&db, "r1", "plus").await.unwrap();
        let e = run(
            &db,
            "UPDATE residents SET status = 'gone' WHERE id = $1",
            &["r1"],
        )
        .await
        .unwrap_err();
        assert!(e.contains("residents_status_known"), "{engine}: {e}");

        // A device, a code or a session that belongs to nobody.
        let e = run(&db, DEVICE, &["d0", "nobody"]).await.unwrap_err();
        assert!(e.contains("devices_resident_fk"), "{engine}: {e}");
        let e = activation_code(&db, "h0", "nobody").await.unwrap_err();
        assert!(e.contains("activation_codes_resident_fk"), "{engine}: {e}");
        let e = app_session(&db, "s0", "no-device").await.unwrap_err();
        assert!(e.contains("app_sessions_device_fk"), "{engine}: {e}");

        // A resident with a device cannot go before it; a device takes its sessions with it.
        run(&db, DEVICE, &["d1", "r1"]).await.unwrap();
        app_session(&db, "s1", "d1").await.unwrap();
        app_session(&db, "s2", "d1").await.unwrap();
        let e = run(&db, "DELETE FROM residents WHERE id = $1", &["r1"])
            .await
            .unwrap_err();
        assert!(e.contains("devices_resident_fk"), "{engine}: {e}");
        assert_eq!(
            run(&db, "DELETE FROM devices WHERE id = $1", &["d1"]).await,
            Ok(1)
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM app_sessions WHERE device_id = $1",
                "d1"
            )
            .await,
            0,
            "{engine}: the sessions went with the device"
        );
        assert_eq!(
            run(&db, "DELETE FROM residents WHERE id = $1", &["r1"]).await,
            Ok(1),
            "{engine}"
        );
        db.close().await;
    }
}
