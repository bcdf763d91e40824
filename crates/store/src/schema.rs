//! Introspection of the live schema, used to prove that the SQLite and PostgreSQL migrations
//! describe the same tables.
use crate::{Backend, Db, StoreError};
use sqlx::Row;

/// One column as both engines can describe it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    /// Table name.
    pub table: String,
    /// Column name.
    pub name: String,
    /// Normalised type: `int`, `text` or `bytes`.
    pub kind: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Position in the primary key (0 = not part of it).
    pub pk: i64,
}

/// An index: table, name, uniqueness and its columns in order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Index {
    /// Table name.
    pub table: String,
    /// Index name (as written in the migration).
    pub name: String,
    /// Whether it is unique.
    pub unique: bool,
    /// Its columns, in order.
    pub columns: Vec<String>,
}

fn normalise(t: &str) -> String {
    let t = t.to_ascii_lowercase();
    match t.as_str() {
        "integer" | "bigint" | "int8" => "int".into(),
        "text" | "character varying" | "varchar" => "text".into(),
        "blob" | "bytea" => "bytes".into(),
        other => other.into(),
    }
}

/// Every user table's columns, sorted (migration bookkeeping excluded).
pub async fn columns(db: &Db) -> Result<Vec<Column>, StoreError> {
    let mut out = Vec::new();
    match db.backend() {
        Backend::Sqlite => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
            )
            .fetch_all(db.reader())
            .await?;
            for t in tables {
                let rows = sqlx::query(&format!(
                    "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{t}')"
                ))
                .fetch_all(db.reader())
                .await?;
                for r in rows {
                    let pk: i64 = r.try_get(3)?;
                    let notnull: i64 = r.try_get(2)?;
                    out.push(Column {
                        table: t.clone(),
                        name: r.try_get(0)?,
                        kind: normalise(&r.try_get::<String, _>(1)?),
                        nullable: notnull == 0 && pk == 0,
                        pk,
                    });
                }
            }
        }
        Backend::Postgres => {
            let rows = sqlx::query(
                "SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.is_nullable::text,
                        COALESCE((SELECT k.ordinal_position::bigint FROM information_schema.key_column_usage k
                                  JOIN information_schema.table_constraints tc
                                    ON tc.constraint_name = k.constraint_name AND tc.table_schema = k.table_schema
                                  WHERE tc.constraint_type = 'PRIMARY KEY' AND k.table_schema = c.table_schema
                                    AND k.table_name = c.table_name AND k.column_name = c.column_name), 0)
                 FROM information_schema.columns c
                 WHERE c.table_schema = current_schema() AND c.table_name <> '_sqlx_migrations'",
            )
            .fetch_all(db.reader())
            .await?;
            for r in rows {
                out.push(Column {
                    table: r.try_get(0)?,
                    name: r.try_get(1)?,
                    kind: normalise(&r.try_get::<String, _>(2)?),
                    nullable: r.try_get::<String, _>(3)? == "YES",
                    pk: r.try_get(4)?,
                });
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Every explicitly created index (primary keys and constraint-backed indexes excluded), sorted.
pub async fn indexes(db: &Db) -> Result<Vec<Index>, StoreError> {
    let mut out = Vec::new();
    match db.backend() {
        Backend::Sqlite => {
            let rows = sqlx::query(
                "SELECT m.tbl_name, m.name FROM sqlite_master m WHERE m.type = 'index' AND m.sql IS NOT NULL",
            )
            .fetch_all(db.reader())
            .await?;
            for r in rows {
                let table: String = r.try_get(0)?;
                let name: String = r.try_get(1)?;
                let unique: i64 = sqlx::query_scalar(&format!(
                    "SELECT \"unique\" FROM pragma_index_list('{table}') WHERE name = '{name}'"
                ))
                .fetch_one(db.reader())
                .await?;
                let columns: Vec<String> = sqlx::query_scalar(&format!(
                    "SELECT name FROM pragma_index_info('{name}') ORDER BY seqno"
                ))
                .fetch_all(db.reader())
                .await?;
                out.push(Index {
                    table,
                    name,
                    unique: unique == 1,
                    columns,
                });
            }
        }
        Backend::Postgres => {
            let rows = sqlx::query(
                "SELECT t.relname::text, i.relname::text, CASE WHEN ix.indisunique THEN 1 ELSE 0 END::bigint,
                        array_to_string(ARRAY(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
                              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord), ',')
                 FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
                 JOIN pg_namespace n ON n.oid = t.relnamespace
                 WHERE n.nspname = current_schema() AND NOT ix.indisprimary
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)
                   AND t.relname <> '_sqlx_migrations'",
            )
            .fetch_all(db.reader())
            .await?;
            for r in rows {
                let cols: String = r.try_get(3)?;
                out.push(Index {
                    table: r.try_get(0)?,
                    name: r.try_get(1)?,
                    unique: r.try_get::<i64, _>(2)? == 1,
                    columns: cols.split(',').map(str::to_string).collect(),
                });
            }
        }
    }
    out.sort();
    Ok(out)
}
