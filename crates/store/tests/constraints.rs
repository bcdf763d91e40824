//! What the database itself refuses, the same on both engines: states outside their lists
//! (migration 0020: `CHECK` constraints on PostgreSQL, triggers on SQLite) and rows that point at
//! nothing (migration 0021: foreign keys on PostgreSQL, triggers on SQLite), and a cascade
//! (a device's app sessions go with the device); migration 0022: rows of one owner that belong to
//! another of its rows (a refresh token to its grant, a fetch slot to its data consent, a staff
//! member's passkeys to them, an item to its provider) are refused without it and go with it;
//! migration 0023: rows that name another owner's row (a grant its client, a data consent and a
//! passkey their resident) are refused without it, and the row they name cannot go before them.
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

/// A value bound to a statement.
enum Arg<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

async fn exec(db: &Db, sql: &str, args: &[Arg<'_>]) -> Result<u64, String> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = match a {
            Arg::Text(t) => q.bind(*t),
            Arg::Bytes(b) => q.bind(*b),
        };
    }
    q.execute(db.writer())
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| e.to_string())
}

/// One owner's row that belongs to another of its rows: how to make the parent and the child,
/// the constraint's name, and how to count the children.
struct Belongs {
    fk: &'static str,
    parent: &'static str,
    parent_table: &'static str,
    child: &'static str,
    children: &'static str,
    parent_blob: bool,
    child_blob: bool,
}

const BELONGS: &[Belongs] = &[
    Belongs {
        fk: "refresh_tokens_grant_fk",
        parent: "INSERT INTO grants (id, client_id, resident_id, scope, claims, acr, amr, auth_time, created_at, expires_at)
                 VALUES ($1, 'c', 'r', 'openid', '[]', 'a', '[]', 0, 0, 0)",
        parent_table: "grants",
        child: "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, 0, 0)",
        children: "SELECT COUNT(*) FROM refresh_tokens WHERE grant_id = $1",
        parent_blob: false,
        child_blob: true,
    },
    Belongs {
        fk: "consent_fetch_slots_consent_fk",
        parent: "INSERT INTO data_consents (id, resident_id, client_id, approval_id, items, purpose_code, purpose_text, fetch_type, valid_days, data_life_days, status, fetches, created_at, updated_at)
                 VALUES ($1, 'r', 'c', 'a', '[]', 'p', 'p', 'once', 1, 1, 'ACTIVE', 0, 0, 0)",
        parent_table: "data_consents",
        child: "INSERT INTO consent_fetch_slots (consent_id, slot, claimed_at) VALUES ($1, 0, 0)",
        children: "SELECT COUNT(*) FROM consent_fetch_slots WHERE consent_id = $1",
        parent_blob: false,
        child_blob: false,
    },
    Belongs {
        fk: "staff_passkeys_staff_fk",
        parent: "INSERT INTO staff (id, display_name, role, status, created_by, created_at, updated_at)
                 VALUES ($1, $2, 'officer', 'active', 'test', 0, 0)",
        parent_table: "staff",
        child: "INSERT INTO staff_passkeys (credential_id, staff_id, public_key, sign_count, created_at) VALUES ($1, $2, '{}', 0, 0)",
        children: "SELECT COUNT(*) FROM staff_passkeys WHERE staff_id = $1",
        parent_blob: true,
        child_blob: false,
    },
    Belongs {
        fk: "data_items_provider_fk",
        parent: "INSERT INTO data_providers (id, name_en, name_zh, base_url, status, created_at, updated_at)
                 VALUES ($1, 'p', 'p', 'http://127.0.0.1', 'active', 0, 0)",
        parent_table: "data_providers",
        child: "INSERT INTO data_items (provider_id, item, title_en, title_zh, description_en, description_zh, legal_basis, requesters, schema)
                VALUES ($1, 'item', 't', 't', 'd', 'd', 'l', '[]', '{}')",
        children: "SELECT COUNT(*) FROM data_items WHERE provider_id = $1",
        parent_blob: false,
        child_blob: false,
    },
];

impl Belongs {
    async fn parent(&self, db: &Db, id: &str) -> Result<u64, String> {
        if self.parent_blob {
            exec(db, self.parent, &[Arg::Text(id), Arg::Bytes(id.as_bytes())]).await
        } else {
            exec(db, self.parent, &[Arg::Text(id)]).await
        }
    }

    /// A child of `parent`; `key` tells children of one parent apart where the table needs it.
    async fn child(&self, db: &Db, key: &str, parent: &str) -> Result<u64, String> {
        if !self.child.contains("$2") {
            return exec(db, self.child, &[Arg::Text(parent)]).await;
        }
        if self.child_blob {
            exec(
                db,
                self.child,
                &[Arg::Bytes(key.as_bytes()), Arg::Text(parent)],
            )
            .await
        } else {
            exec(db, self.child, &[Arg::Text(key), Arg::Text(parent)]).await
        }
    }
}

async fn client(db: &Db, id: &str) -> Result<u64, String> {
    exec(
        db,
        "INSERT INTO clients (id, name, profile, metadata, status, created_by, created_at, updated_at)
         VALUES ($1, $1, 'basic', '{}', 'active', 'test', 0, 0)",
        &[Arg::Text(id)],
    )
    .await
}

#[tokio::test]
async fn rows_of_one_owner_belong_to_their_parent_and_go_with_it() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, db) in engines(dir.path()).await {
        // What the parents name in other owners' tables (migration 0023).
        resident(&db, "r", "plus").await.unwrap();
        client(&db, "c").await.unwrap();
        for b in BELONGS {
            let what = format!("{engine}, {}", b.fk);
            // A child of nothing is refused, naming the constraint.
            let e = b.child(&db, "k0", "nobody").await.unwrap_err();
            assert!(e.contains(b.fk), "{what}: {e}");
            // A parent's id cannot change under its children.
            b.parent(&db, "p1").await.unwrap();
            assert_eq!(b.child(&db, "k1", "p1").await, Ok(1), "{what}");
            let e = exec(
                &db,
                &format!("UPDATE {} SET id = 'p2' WHERE id = 'p1'", b.parent_table),
                &[],
            )
            .await
            .unwrap_err();
            assert!(e.contains(b.fk), "{what}: {e}");
            // Deleting the parent takes its children with it, and only its own.
            b.parent(&db, "p3").await.unwrap();
            b.child(&db, "k3", "p3").await.unwrap();
            assert_eq!(
                exec(
                    &db,
                    &format!("DELETE FROM {} WHERE id = 'p1'", b.parent_table),
                    &[]
                )
                .await,
                Ok(1),
                "{what}"
            );
            assert_eq!(count(&db, b.children, "p1").await, 0, "{what}");
            assert_eq!(count(&db, b.children, "p3").await, 1, "{what}");
        }
        db.close().await;
    }
}

/// A row that names another owner's row: the statement that makes one naming `$1`, the
/// constraint, and the table and statement that make the row it names.
struct Names {
    fk: &'static str,
    child: &'static str,
    child_table: &'static str,
    parent_table: &'static str,
}

const NAMES: &[Names] = &[
    Names {
        fk: "grants_client_fk",
        child: "INSERT INTO grants (id, client_id, resident_id, scope, claims, acr, amr, auth_time, created_at, expires_at)
                VALUES ($2, $1, 'r', 'openid', '[]', 'a', '[]', 0, 0, 0)",
        child_table: "grants",
        parent_table: "clients",
    },
    Names {
        fk: "data_consents_resident_fk",
        child: "INSERT INTO data_consents (id, resident_id, client_id, approval_id, items, purpose_code, purpose_text, fetch_type, valid_days, data_life_days, status, fetches, created_at, updated_at)
                VALUES ($2, $1, 'c', 'a', '[]', 'p', 'p', 'once', 1, 1, 'ACTIVE', 0, 0, 0)",
        child_table: "data_consents",
        parent_table: "residents",
    },
    Names {
        fk: "resident_passkeys_resident_fk",
        child: "INSERT INTO resident_passkeys (credential_id, resident_id, name, public_key, sign_count, created_at)
                VALUES ($2, $1, 'key', '{}', 0, 0)",
        child_table: "resident_passkeys",
        parent_table: "residents",
    },
];

#[tokio::test]
async fn rows_that_name_another_owners_row_need_it_and_keep_it() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, db) in engines(dir.path()).await {
        resident(&db, "r", "plus").await.unwrap();
        client(&db, "c").await.unwrap();
        for n in NAMES {
            let what = format!("{engine}, {}", n.fk);
            let db = &db;
            let child = |parent: &'static str, key: &'static str| async move {
                exec(db, n.child, &[Arg::Text(parent), Arg::Text(key)]).await
            };
            // A row naming nothing is refused, naming the constraint.
            let e = child("nobody", "k0").await.unwrap_err();
            assert!(e.contains(n.fk), "{what}: {e}");
            // Naming a row that is there is fine; moving it to nothing is refused.
            let parent = if n.parent_table == "clients" {
                client(db, "p1").await
            } else {
                resident(db, "p1", "plus").await
            };
            parent.unwrap();
            assert_eq!(child("p1", "k1").await, Ok(1), "{what}");
            let key_column = if n.child_table == "resident_passkeys" {
                "credential_id"
            } else {
                "id"
            };
            let moved = format!(
                "UPDATE {} SET {} = 'nobody' WHERE {key_column} = 'k1'",
                n.child_table,
                if n.child_table == "grants" {
                    "client_id"
                } else {
                    "resident_id"
                }
            );
            let e = exec(db, &moved, &[]).await.unwrap_err();
            assert!(e.contains(n.fk), "{what}: {e}");
            // The named row cannot go, nor change its id, while the row naming it is there:
            // nothing cascades across owners; each erases its own rows first.
            for sql in [
                format!("DELETE FROM {} WHERE id = 'p1'", n.parent_table),
                format!("UPDATE {} SET id = 'p2' WHERE id = 'p1'", n.parent_table),
            ] {
                let e = exec(db, &sql, &[]).await.unwrap_err();
                assert!(e.contains(n.fk), "{what}: {sql}: {e}");
            }
            let erase = format!("DELETE FROM {} WHERE {key_column} = 'k1'", n.child_table);
            assert_eq!(exec(db, &erase, &[]).await, Ok(1), "{what}");
            let gone = format!("DELETE FROM {} WHERE id = 'p1'", n.parent_table);
            assert_eq!(exec(db, &gone, &[]).await, Ok(1), "{what}");
        }
        db.close().await;
    }
}
