//! The audit and transparency log.
//!
//! Every state change appends an [`Event`] in the same transaction as the change. Events name
//! people only by pseudonymous ids (`resident:r_...`), never by personal data. The log is an
//! RFC 9162 Merkle tree: each entry is a leaf, perfect subtrees are stored as they complete
//! (`merkle_nodes`), and signed tree heads (`tree_heads`) commit to the whole log so that any
//! edit, deletion or reordering is detected by [`verify::verify`].
//!
//! A leaf commits to its entry with a secret salt of its own ([`Entry::leaf_hash`]), so the public
//! log (leaf hashes, tree heads, proofs) says nothing about who did what: an entry is checked by
//! whoever holds it and its salt, that is the resident it concerns (their receipts and export)
//! and the operators (`/admin/v1/audit/entries`).

pub mod verify;

use crate::error::{DomainError, Result};
use crate::keys::{KeyService, Purpose};
use iamsmart_crypto::jose::Alg;
use iamsmart_crypto::merkle::{self, Hash, NodeId};
use iamsmart_store::{AnyConnection, Db, Row};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A state change to record.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// What happened, dotted (`resident.registered`, `key.created`, ...).
    pub kind: &'a str,
    /// Who did it: `system`, `operator:<id>`, `staff:<id>`, `resident:<id>`, `client:<id>`.
    pub actor: &'a str,
    /// What it happened to, as a pseudonymous reference.
    pub subject: &'a str,
    /// Further facts; never personal data.
    pub detail: serde_json::Value,
}

/// When, by whom and in which request a change happens (for functions that append events).
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    /// Unix ms.
    pub at: i64,
    /// Who acts.
    pub actor: &'a str,
    /// The request that causes it.
    pub request_id: Option<&'a str>,
}

/// One stored entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// Position in the log (the leaf index).
    pub seq: u64,
    /// When (Unix ms).
    pub at: i64,
    /// What happened.
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// To what.
    pub subject: String,
    /// Facts (JSON text exactly as stored).
    pub detail: String,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// The secret salt of the leaf's commitment (`None` for entries appended before salts).
    #[serde(skip)]
    pub salt: Option<Vec<u8>>,
}

/// The domain of a salted leaf's input.
const SALTED_LEAF: &[u8] = b"iamsmart-audit-entry/2\0";

impl Entry {
    /// The bytes that are hashed into the leaf: a JSON array of every field, in order.
    pub fn leaf_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&(
            self.seq,
            self.at,
            &self.kind,
            &self.actor,
            &self.subject,
            &self.detail,
            &self.request_id,
        ))
        .unwrap_or_default()
    }

    /// The RFC 9162 leaf hash: of the salt and the entry (of the entry alone for an entry
    /// appended before salts).
    pub fn leaf_hash(&self) -> Hash {
        match &self.salt {
            Some(salt) => {
                let mut input = SALTED_LEAF.to_vec();
                input.extend_from_slice(salt);
                input.extend_from_slice(&self.leaf_bytes());
                merkle::leaf_hash(&input)
            }
            None => merkle::leaf_hash(&self.leaf_bytes()),
        }
    }
}

/// Append `event` inside the caller's transaction and return its sequence number.
/// Appends are serialised by the row lock on `audit_head`; call this last in a transaction.
pub async fn append(
    conn: &mut AnyConnection,
    at: i64,
    request_id: Option<&str>,
    event: &Event<'_>,
) -> Result<u64> {
    let size: i64 =
        sqlx::query_scalar("UPDATE audit_head SET size = size + 1 WHERE id = 1 RETURNING size")
            .fetch_one(&mut *conn)
            .await?;
    let seq = (size - 1) as u64;
    let entry = Entry {
        seq,
        at,
        kind: event.kind.to_string(),
        actor: event.actor.to_string(),
        subject: event.subject.to_string(),
        detail: event.detail.to_string(),
        request_id: request_id.map(str::to_string),
        salt: Some(new_salt()),
    };
    let leaf = entry.leaf_hash();
    let sibling_ids = merkle::append_siblings(seq);
    let found = fetch_nodes(&mut *conn, &sibling_ids).await?;
    let siblings = sibling_ids
        .iter()
        .map(|id| {
            found.get(id).copied().ok_or_else(|| {
                DomainError::Integrity(format!("merkle node {}/{} missing", id.level, id.index))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    sqlx::query(
        "INSERT INTO audit_log (seq, at, kind, actor, subject, detail, request_id, leaf_hash, salt)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq as i64)
    .bind(at)
    .bind(&entry.kind)
    .bind(&entry.actor)
    .bind(&entry.subject)
    .bind(&entry.detail)
    .bind(&entry.request_id)
    .bind(leaf.to_vec())
    .bind(&entry.salt)
    .execute(&mut *conn)
    .await?;
    // The subtrees this leaf completes, in one statement.
    let nodes = merkle::append_nodes(seq, leaf, &siblings);
    let sql = format!(
        "INSERT INTO merkle_nodes (level, idx, hash) VALUES {}",
        iamsmart_store::value_rows(nodes.len(), 3)
    );
    let mut q = sqlx::query(&sql);
    for (id, hash) in &nodes {
        q = q
            .bind(id.level as i64)
            .bind(id.index as i64)
            .bind(hash.to_vec());
    }
    if !nodes.is_empty() {
        q.execute(&mut *conn).await?;
    }
    Ok(seq)
}

/// A fresh secret salt for a leaf. From the system's generator: appends run inside their
/// callers' transactions, which hand over no random source, and no test depends on a salt's
/// value (only on its secrecy and on the leaf matching it).
fn new_salt() -> Vec<u8> {
    use iamsmart_crypto::rng::Rng;
    let mut salt = vec![0u8; 16];
    iamsmart_crypto::rng::SystemRng.fill(&mut salt);
    salt
}

/// Load stored subtree hashes by id (missing ones are absent from the map).
pub async fn fetch_nodes(
    conn: &mut AnyConnection,
    ids: &[NodeId],
) -> Result<HashMap<NodeId, Hash>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(200) {
        if chunk.is_empty() {
            continue;
        }
        let mut sql = String::from("SELECT level, idx, hash FROM merkle_nodes WHERE ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(" OR ");
            }
            sql.push_str(&format!(
                "(level = ${} AND idx = ${})",
                2 * i + 1,
                2 * i + 2
            ));
        }
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id.level as i64).bind(id.index as i64);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let level: i64 = row.try_get(0)?;
            let idx: i64 = row.try_get(1)?;
            let bytes: Vec<u8> = row.try_get(2)?;
            let hash: Hash = bytes
                .try_into()
                .map_err(|_| DomainError::Integrity("merkle node is not 32 bytes".into()))?;
            out.insert(
                NodeId {
                    level: u32::try_from(level).map_err(|_| {
                        DomainError::Integrity("a merkle node's level is out of range".into())
                    })?,
                    index: idx as u64,
                },
                hash,
            );
        }
    }
    Ok(out)
}

/// The hashes of `ranges`, each folded from its stored subtrees.
async fn range_hashes(
    conn: &mut AnyConnection,
    ranges: &[std::ops::Range<u64>],
) -> Result<Vec<Hash>> {
    let per_range: Vec<Vec<NodeId>> = ranges
        .iter()
        .map(|r| merkle::range_nodes(r.clone()))
        .collect();
    let all: Vec<NodeId> = per_range.iter().flatten().copied().collect();
    let found = fetch_nodes(conn, &all).await?;
    per_range
        .iter()
        .map(|ids| {
            let hs = ids
                .iter()
                .map(|id| {
                    found.get(id).copied().ok_or_else(|| {
                        DomainError::Integrity(format!(
                            "merkle node {}/{} missing",
                            id.level, id.index
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(merkle::range_hash(&hs))
        })
        .collect()
}

/// The number of entries in the log.
pub async fn size(db: &Db) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT size FROM audit_head WHERE id = 1")
        .fetch_one(db.reader())
        .await?;
    Ok(n as u64)
}

/// The root hash of the first `tree_size` entries.
pub async fn root(db: &Db, tree_size: u64) -> Result<Hash> {
    let mut conn = db.reader().acquire().await?;
    Ok(range_hashes(&mut conn, std::slice::from_ref(&(0..tree_size))).await?[0])
}

/// A signed tree head (RFC 9162 §4.10, carried as a JWS).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TreeHead {
    /// Number of entries covered.
    pub tree_size: u64,
    /// When it was signed (Unix ms).
    pub timestamp: i64,
    /// Root hash, base64url.
    pub root_hash: String,
    /// Compact JWS (ES256, log key) over `{"tree_size","timestamp","root_hash"}`.
    pub signature: String,
}

/// The JWS payload of a tree head.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct TreeHeadPayload {
    /// Number of entries covered.
    pub tree_size: u64,
    /// When it was signed (Unix ms).
    pub timestamp: i64,
    /// Root hash, base64url.
    pub root_hash: String,
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The latest stored tree head, if any.
pub async fn latest_tree_head(db: &Db) -> Result<Option<TreeHead>> {
    let row = sqlx::query(
        "SELECT tree_size, at, root_hash, signature FROM tree_heads ORDER BY tree_size DESC LIMIT 1",
    )
    .fetch_optional(db.reader())
    .await?;
    row.map(|r| {
        Ok(TreeHead {
            tree_size: r.try_get::<i64, _>(0)? as u64,
            timestamp: r.try_get(1)?,
            root_hash: b64(&r.try_get::<Vec<u8>, _>(2)?),
            signature: r.try_get(3)?,
        })
    })
    .transpose()
}

/// Sign and store a tree head for the current size, unless the latest one already covers it.
pub async fn publish_tree_head(db: &Db, keys: &KeyService) -> Result<TreeHead> {
    let n = size(db).await?;
    if let Some(h) = latest_tree_head(db).await? {
        if h.tree_size >= n {
            return Ok(h);
        }
    }
    let root = root(db, n).await?;
    let payload = TreeHeadPayload {
        tree_size: n,
        timestamp: keys.now_ms(),
        root_hash: b64(&root),
    };
    let body = serde_json::to_vec(&payload).map_err(|e| DomainError::Integrity(e.to_string()))?;
    let signature = keys
        .sign_jws(Purpose::Log, Alg::ES256, Some("tree-head+jwt"), &body)
        .await?;
    sqlx::query(
        "INSERT INTO tree_heads (tree_size, at, root_hash, signature) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tree_size) DO NOTHING",
    )
    .bind(n as i64)
    .bind(payload.timestamp)
    .bind(root.to_vec())
    .bind(&signature)
    .execute(db.writer())
    .await?;
    Ok(latest_tree_head(db).await?.unwrap_or(TreeHead {
        tree_size: n,
        timestamp: payload.timestamp,
        root_hash: payload.root_hash,
        signature,
    }))
}

/// An inclusion proof for entry `index` in the tree of `tree_size` entries.
pub async fn inclusion_proof(db: &Db, index: u64, tree_size: u64) -> Result<(Hash, Vec<Hash>)> {
    if tree_size > size(db).await? || index >= tree_size {
        return Err(DomainError::Invalid {
            field: "index",
            message: "the entry or tree size is beyond the log".into(),
        });
    }
    let mut conn = db.reader().acquire().await?;
    let leaf = range_hashes(&mut conn, std::slice::from_ref(&(index..index + 1))).await?[0];
    let proof = range_hashes(&mut conn, &merkle::inclusion_ranges(index, tree_size)).await?;
    Ok((leaf, proof))
}

/// A consistency proof between the trees of `first` and `second` entries.
pub async fn consistency_proof(db: &Db, first: u64, second: u64) -> Result<Vec<Hash>> {
    if first > second || second > size(db).await? {
        return Err(DomainError::Invalid {
            field: "second",
            message: "need first <= second <= the log size".into(),
        });
    }
    let mut conn = db.reader().acquire().await?;
    range_hashes(&mut conn, &merkle::consistency_ranges(first, second)).await
}

/// An entry about one subject, as the subject's own pages and export show it (no salt: the
/// proofs come from [`proven_entries`]).
#[derive(Debug, Clone)]
pub struct SubjectEntry {
    /// Its position in the log.
    pub seq: i64,
    /// When (Unix ms).
    pub at: i64,
    /// What happened (`login.authorized`, `data_consent.granted`, ...).
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// The details, as recorded (JSON).
    pub detail: String,
}

/// Which entries about a subject, in which order.
#[derive(Debug, Clone, Copy)]
pub enum About<'a> {
    /// Every entry, oldest first.
    All,
    /// The newest `limit` entries, of `kind` only if given, newest first.
    Newest {
        /// Only entries of this kind.
        kind: Option<&'a str>,
        /// At most this many.
        limit: i64,
    },
}

/// The entries about `subject` (for example `resident:<id>`).
pub async fn about(db: &Db, subject: &str, which: About<'_>) -> Result<Vec<SubjectEntry>> {
    let rows: Vec<(i64, i64, String, String, String)> = match which {
        About::All => sqlx::query_as(
            "SELECT seq, at, kind, actor, detail FROM audit_log WHERE subject = $1 ORDER BY seq",
        )
        .bind(subject)
        .fetch_all(db.reader())
        .await?,
        About::Newest { kind, limit } => {
            sqlx::query_as(
                "SELECT seq, at, kind, actor, detail FROM audit_log
                 WHERE subject = $1 AND ($2 IS NULL OR kind = $2) ORDER BY seq DESC LIMIT $3",
            )
            .bind(subject)
            .bind(kind)
            .bind(limit)
            .fetch_all(db.reader())
            .await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(seq, at, kind, actor, detail)| SubjectEntry {
            seq,
            at,
            kind,
            actor,
            detail,
        })
        .collect())
}

/// Entries `[start, end)` (at most 1000), with their salts: for operators, never public.
pub async fn entries(db: &Db, start: u64, end: u64) -> Result<Vec<Entry>> {
    let end = end.min(start + 1000);
    let rows = sqlx::query(
        "SELECT seq, at, kind, actor, subject, detail, request_id, salt FROM audit_log
         WHERE seq >= $1 AND seq < $2 ORDER BY seq",
    )
    .bind(start as i64)
    .bind(end as i64)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(verify::row_to_entry).collect()
}

/// The public view of entries `[start, end)` (at most 1000): position and leaf hash, a
/// commitment that reveals nothing without the entry and its salt.
pub async fn commitments(db: &Db, start: u64, end: u64) -> Result<Vec<(u64, Hash)>> {
    let end = end.min(start + 1000);
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, leaf_hash FROM audit_log WHERE seq >= $1 AND seq < $2 ORDER BY seq",
    )
    .bind(start as i64)
    .bind(end as i64)
    .fetch_all(db.reader())
    .await?;
    rows.into_iter()
        .map(|(seq, h)| {
            let h: Hash = h
                .try_into()
                .map_err(|_| DomainError::Integrity("leaf hash is not 32 bytes".into()))?;
            Ok((seq as u64, h))
        })
        .collect()
}

/// Entries about `subject` (newest `limit`), each with its salt and an inclusion proof in the
/// newest signed tree head (signed now if the log grew): what a resident receives to check
/// their own entries, with no one else's.
pub async fn proven_entries(
    db: &Db,
    keys: &KeyService,
    subject: &str,
    limit: i64,
) -> Result<serde_json::Value> {
    let head = publish_tree_head(db, keys).await?;
    let rows = sqlx::query(
        "SELECT seq, at, kind, actor, subject, detail, request_id, salt FROM audit_log
         WHERE subject = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
    )
    .bind(subject)
    .bind(head.tree_size as i64)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter().rev() {
        let e = verify::row_to_entry(row)?;
        out.push(prove(db, &e, head.tree_size).await?);
    }
    Ok(serde_json::json!({ "tree_head": head, "entries": out }))
}

/// One entry with what proves it is in the tree of `tree_size` entries.
async fn prove(db: &Db, e: &Entry, tree_size: u64) -> Result<serde_json::Value> {
    let (leaf, path) = inclusion_proof(db, e.seq, tree_size).await?;
    Ok(serde_json::json!({
        "entry": e,
        "salt": e.salt.as_deref().map(b64),
        "leaf_hash": b64(&leaf),
        "audit_path": path.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        "leaf_input": "salted: SHA-256(0x00 || \"iamsmart-audit-entry/2\\0\" || salt || JSON [seq, at, kind, actor, subject, detail, request_id]); without a salt: SHA-256(0x00 || that JSON)",
    }))
}

/// One entry (by position) with its salt and inclusion proof in the newest signed tree head.
pub async fn proven_entry(db: &Db, keys: &KeyService, seq: u64) -> Result<serde_json::Value> {
    let head = publish_tree_head(db, keys).await?;
    let row = sqlx::query(
        "SELECT seq, at, kind, actor, subject, detail, request_id, salt FROM audit_log WHERE seq = $1",
    )
    .bind(seq as i64)
    .fetch_optional(db.reader())
    .await?
    .ok_or(DomainError::NotFound)?;
    let e = verify::row_to_entry(&row)?;
    Ok(serde_json::json!({ "tree_head": head, "proof": prove(db, &e, head.tree_size).await? }))
}

#[cfg(test)]
mod tests;
