//! The SQLite migrations are the one definition of the schema; each PostgreSQL migration is the
//! same text with PostgreSQL's name for bytes (`BYTEA` for `BLOB`). A migration whose two
//! versions must differ (SQLite cannot alter a column and rebuilds the table) is listed below
//! with its reason; everything else that drifts fails here, before a database is touched.
//! `schema_match.rs` compares the resulting live schemas as well.
use std::collections::BTreeMap;
use std::path::Path;

/// Migrations written differently for each engine, and why.
const ENGINE_SPECIFIC: &[(&str, &str)] = &[
    (
        "0014_user_certs_sealed.sql",
        "SQLite cannot drop NOT NULL from a column: it rebuilds user_certs where PostgreSQL alters it",
    ),
    (
        "0020_typed_states.sql",
        "SQLite cannot add a CHECK constraint to a table: triggers refuse what PostgreSQL's CHECK refuses",
    ),
    (
        "0021_identity_foreign_keys.sql",
        "SQLite cannot add a foreign key to a table: triggers refuse and cascade as PostgreSQL's constraints do",
    ),
    (
        "0022_owner_foreign_keys.sql",
        "SQLite cannot add a foreign key to a table: triggers refuse and cascade as PostgreSQL's constraints do",
    ),
    (
        "0023_cross_owner_foreign_keys.sql",
        "SQLite cannot add a foreign key to a table: triggers refuse as PostgreSQL's constraints do",
    ),
    (
        "0024_osp_api.sql",
        "SQLite cannot change a CHECK constraint: it replaces the triggers of 0020 where PostgreSQL replaces the constraint",
    ),
];

fn folder(engine: &str) -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(engine);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect()
}

/// The statements of a migration: comments dropped, whitespace collapsed.
fn statements(sql: &str) -> String {
    sql.lines()
        .map(|l| l.split_once("--").map_or(l, |(code, _)| code))
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

/// SQLite's text as PostgreSQL writes it.
fn as_postgres(sqlite: &str) -> String {
    statements(sqlite)
        .split(' ')
        .map(|w| {
            let bare = w.trim_end_matches([',', ')', ';']);
            if bare == "BLOB" {
                format!("BYTEA{}", &w[bare.len()..])
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn both_engines_have_the_same_migrations_and_each_is_the_sqlite_text() {
    let sqlite = folder("sqlite");
    let postgres = folder("postgres");
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "every migration exists for both engines under the same name"
    );
    for (name, text) in &sqlite {
        let pg = &postgres[name];
        if ENGINE_SPECIFIC.iter().any(|(n, _)| n == name) {
            assert_ne!(
                as_postgres(text),
                statements(pg),
                "{name} is listed as engine-specific but is the same text: take it off the list"
            );
            continue;
        }
        assert_eq!(
            as_postgres(text),
            statements(pg),
            "migrations/postgres/{name} is not migrations/sqlite/{name} with BYTEA for BLOB; \
             write one text, or list the migration in ENGINE_SPECIFIC with the reason"
        );
    }
    for (name, _) in ENGINE_SPECIFIC {
        assert!(
            sqlite.contains_key(*name),
            "{name} is listed but does not exist"
        );
    }
}

#[test]
fn the_check_sees_a_drift() {
    let sqlite = "CREATE TABLE t (a BLOB NOT NULL, -- bytes\n b TEXT);";
    assert_eq!(
        as_postgres(sqlite),
        statements("CREATE TABLE t (a BYTEA NOT NULL,\n b TEXT);")
    );
    assert_ne!(
        as_postgres(sqlite),
        statements("CREATE TABLE t (a BYTEA NOT NULL, b TEXT, c BIGINT);")
    );
    assert_ne!(
        as_postgres(sqlite),
        statements("CREATE TABLE t (a BYTEA, b TEXT);")
    );
}
