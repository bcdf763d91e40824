//! Whole-log verification: every entry, every stored leaf, every signed tree head.
use super::{Entry, TreeHeadPayload};
use crate::error::{DomainError, Result};
use crate::keys::KeyService;
use iamsmart_crypto::jose::{self, Alg};
use iamsmart_crypto::merkle::{self, Hash};
use iamsmart_store::{AnyRow, Db, Row};
use serde::Serialize;

/// The first problem found, if any.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// An entry is missing: the sequence jumps from `seq - 1` to a later number.
    Missing {
        /// The missing position.
        seq: u64,
    },
    /// An entry's content no longer matches the hash recorded when it was appended
    /// (edited, or moved to another position).
    Altered {
        /// The position of the altered entry.
        seq: u64,
    },
    /// The stored Merkle tree disagrees with the entries at this leaf.
    TreeMismatch {
        /// The leaf.
        seq: u64,
    },
    /// A signed tree head does not match the entries it covers, or its signature fails.
    BadTreeHead {
        /// The tree head's size.
        tree_size: u64,
        /// Why.
        why: String,
    },
    /// A witness saw more entries than the log holds now: the newest were cut off.
    Truncated {
        /// The largest size a witness saw.
        witnessed: u64,
        /// Entries stored now.
        stored: u64,
    },
    /// The log's root at a size a witness saw differs from the root the witness saw: the log
    /// was rewritten (or forked) since.
    WitnessMismatch {
        /// The size.
        tree_size: u64,
    },
    /// The log head counts a different number of entries than are stored.
    SizeMismatch {
        /// Entries counted by the head.
        head: u64,
        /// Entries stored.
        stored: u64,
    },
}

/// The outcome of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Entries read.
    pub entries: u64,
    /// Signed tree heads checked.
    pub tree_heads_checked: u64,
    /// The latest signed tree head's size, if there is one.
    pub latest_tree_head: Option<u64>,
    /// The root over all entries, base64url.
    pub root_hash: String,
    /// The first problem, or none.
    pub problem: Option<Problem>,
}

pub(crate) fn row_to_entry(r: &AnyRow) -> Result<Entry> {
    Ok(Entry {
        seq: r.try_get::<i64, _>(0)? as u64,
        at: r.try_get(1)?,
        kind: r.try_get(2)?,
        actor: r.try_get(3)?,
        subject: r.try_get(4)?,
        detail: r.try_get(5)?,
        request_id: r.try_get(6)?,
        salt: r.try_get(7)?,
    })
}

/// Compact range of perfect subtrees over the leaves seen so far (O(log n) memory).
#[derive(Default)]
struct Frontier(Vec<(u32, Hash)>);

impl Frontier {
    fn push(&mut self, leaf: Hash) {
        let mut cur = (0u32, leaf);
        while let Some(&(level, left)) = self.0.last() {
            if level != cur.0 {
                break;
            }
            self.0.pop();
            cur = (level + 1, merkle::node_hash(&left, &cur.1));
        }
        self.0.push(cur);
    }
    fn root(&self) -> Hash {
        let hs: Vec<Hash> = self.0.iter().map(|(_, h)| *h).collect();
        merkle::range_hash(&hs)
    }
}

struct Head {
    size: u64,
    root: Vec<u8>,
    signature: String,
}

/// The `kid` of a compact JWS header, unverified (only to pick the key to verify with).
fn peek_kid(jws: &str) -> Option<String> {
    use base64::Engine;
    let header = jws.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("kid")?.as_str().map(str::to_string)
}

/// What `verify` trusts beyond the database: the log keys pinned in configuration (RFC 7638
/// thumbprints; empty: any key the key store holds), and what a witness saw.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Thumbprints of the log keys that may sign tree heads.
    pub pinned_log_keys: Vec<String>,
    /// A witness's heads (`iamsmart witness --state FILE`): the log must still contain each, and
    /// its newest one at least.
    pub witness: Option<iamsmart_crypto::witness::WitnessState>,
}

/// Keys already judged during one verification: kid -> why not trusted.
type Judged = std::collections::HashMap<String, Option<String>>;

fn judge_key(keys: &KeyService, trust: &Trust, key: &crate::keys::KeyRecord) -> Option<String> {
    let Some(jwk) = &key.public_jwk else {
        return Some("its signing key has no public key".into());
    };
    if !trust.pinned_log_keys.is_empty() && !trust.pinned_log_keys.contains(&jwk.thumbprint()) {
        return Some(format!(
            "its signing key {} (thumbprint {}) is not one of the pinned log keys",
            key.kid,
            jwk.thumbprint()
        ));
    }
    if !keys.holds(key) {
        return Some(format!(
            "its signing key {} is not held by the key store: it was written into the database",
            key.kid
        ));
    }
    None
}

async fn check_head(
    keys: &KeyService,
    trust: &Trust,
    judged: &mut Judged,
    head: &Head,
    computed: &Hash,
) -> Option<String> {
    if head.root != computed.as_slice() {
        return Some("its root hash differs from the entries it covers".into());
    }
    let Some(kid) = peek_kid(&head.signature) else {
        return Some("its signature names no key".into());
    };
    let key = match keys.by_kid(&kid).await {
        Ok(k) if k.purpose == "log" => k,
        _ => return Some(format!("its signing key {kid} is not a log key")),
    };
    if !judged.contains_key(&kid) {
        let why = judge_key(keys, trust, &key);
        judged.insert(kid.clone(), why);
    }
    if let Some(Some(why)) = judged.get(&kid) {
        return Some(why.clone());
    }
    let Some(jwk) = key.public_jwk else {
        return Some("its signing key has no public key".into());
    };
    match jose::verify_compact(&head.signature, &[jwk], &[Alg::ES256, Alg::EdDSA]) {
        Ok((_, payload)) => match serde_json::from_slice::<TreeHeadPayload>(&payload) {
            Ok(p) if p.tree_size == head.size && p.root_hash == super::b64(computed) => {
                // A key signs only while it is active: a head dated outside that window was
                // signed with a retired (perhaps compromised) key, or backdated. (A head is dated
                // just before its key is picked, hence the minute's grace at the start.)
                let in_window = key.activate_at - 60_000 <= p.timestamp
                    && key.retire_at.is_none_or(|r| p.timestamp < r);
                (!in_window).then(|| {
                    format!(
                        "it is dated {} ms, outside its signing key {kid}'s validity",
                        p.timestamp
                    )
                })
            }
            _ => Some("its signed content differs from the stored tree head".into()),
        },
        Err(e) => Some(format!("its signature does not verify: {e}")),
    }
}

/// Check the whole log: sequence, leaf hashes, stored tree, and every signed tree head.
/// Stops at the first problem.
pub async fn verify(db: &Db, keys: &KeyService) -> Result<Report> {
    verify_with(db, keys, &Trust::default()).await
}

/// [`verify`], trusting only `trust`'s pinned log keys (if any) and comparing with a witness.
pub async fn verify_with(db: &Db, keys: &KeyService, trust: &Trust) -> Result<Report> {
    let mut judged = Judged::new();
    let heads: Vec<Head> =
        sqlx::query("SELECT tree_size, root_hash, signature FROM tree_heads ORDER BY tree_size")
            .fetch_all(db.reader())
            .await?
            .iter()
            .map(|r| {
                Ok(Head {
                    size: r.try_get::<i64, _>(0)? as u64,
                    root: r.try_get(1)?,
                    signature: r.try_get(2)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
    let mut report = Report {
        entries: 0,
        tree_heads_checked: 0,
        latest_tree_head: heads.last().map(|h| h.size),
        root_hash: String::new(),
        problem: None,
    };
    let mut frontier = Frontier::default();
    let mut next_head = 0usize;
    let mut expected: u64 = 0;
    // Tree heads over an empty log.
    while next_head < heads.len() && heads[next_head].size == 0 {
        if let Some(why) = check_head(
            keys,
            trust,
            &mut judged,
            &heads[next_head],
            &frontier.root(),
        )
        .await
        {
            report.problem = Some(Problem::BadTreeHead { tree_size: 0, why });
            return Ok(report);
        }
        report.tree_heads_checked += 1;
        next_head += 1;
    }
    const PAGE: i64 = 5000;
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, kind, actor, subject, detail, request_id, salt, leaf_hash FROM audit_log
             WHERE seq >= $1 ORDER BY seq LIMIT $2",
        )
        .bind(expected as i64)
        .bind(PAGE)
        .fetch_all(db.reader())
        .await?;
        if rows.is_empty() {
            break;
        }
        let first = rows[0].try_get::<i64, _>(0)? as u64;
        let last = rows[rows.len() - 1].try_get::<i64, _>(0)? as u64;
        let leaves: std::collections::HashMap<u64, Vec<u8>> = sqlx::query(
            "SELECT idx, hash FROM merkle_nodes WHERE level = 0 AND idx >= $1 AND idx <= $2",
        )
        .bind(first as i64)
        .bind(last as i64)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)? as u64, r.try_get::<Vec<u8>, _>(1)?)))
        .collect::<Result<_>>()?;
        for row in &rows {
            let entry = row_to_entry(row)?;
            if entry.seq != expected {
                report.problem = Some(Problem::Missing { seq: expected });
                return Ok(report);
            }
            let stored: Vec<u8> = row.try_get(8)?;
            let computed = entry.leaf_hash();
            if stored != computed.as_slice() {
                report.problem = Some(Problem::Altered { seq: entry.seq });
                return Ok(report);
            }
            if leaves.get(&entry.seq).map(Vec::as_slice) != Some(computed.as_slice()) {
                report.problem = Some(Problem::TreeMismatch { seq: entry.seq });
                return Ok(report);
            }
            frontier.push(computed);
            expected += 1;
            report.entries += 1;
            while next_head < heads.len() && heads[next_head].size == expected {
                if let Some(why) = check_head(
                    keys,
                    trust,
                    &mut judged,
                    &heads[next_head],
                    &frontier.root(),
                )
                .await
                {
                    report.problem = Some(Problem::BadTreeHead {
                        tree_size: expected,
                        why,
                    });
                    return Ok(report);
                }
                report.tree_heads_checked += 1;
                next_head += 1;
            }
        }
    }
    let head_size = super::size(db).await?;
    if head_size != expected {
        report.problem = Some(if head_size > expected {
            Problem::Missing { seq: expected }
        } else {
            Problem::SizeMismatch {
                head: head_size,
                stored: expected,
            }
        });
        return Ok(report);
    }
    if let Some(h) = heads.get(next_head) {
        report.problem = Some(Problem::BadTreeHead {
            tree_size: h.size,
            why: "it covers entries that are not in the log".into(),
        });
        return Ok(report);
    }
    report.root_hash = super::b64(&frontier.root());
    if let Some(w) = &trust.witness {
        if let Some(problem) = compare_with_witness(db, w, expected).await? {
            report.problem = Some(problem);
        }
    }
    Ok(report)
}

/// The newest heads a witness saw that are compared with the log (the newest one proves the
/// older ones through consistency; a few more catch a rewrite between them at once).
const WITNESS_HEADS_COMPARED: usize = 64;

async fn compare_with_witness(
    db: &Db,
    w: &iamsmart_crypto::witness::WitnessState,
    entries: u64,
) -> Result<Option<Problem>> {
    for seen in w.heads.iter().rev().take(WITNESS_HEADS_COMPARED) {
        if seen.tree_size > entries {
            return Ok(Some(Problem::Truncated {
                witnessed: seen.tree_size,
                stored: entries,
            }));
        }
        let root = super::root(db, seen.tree_size).await?;
        if super::b64(&root) != seen.root_hash {
            return Ok(Some(Problem::WitnessMismatch {
                tree_size: seen.tree_size,
            }));
        }
    }
    Ok(None)
}

impl From<Problem> for DomainError {
    fn from(p: Problem) -> Self {
        DomainError::Integrity(format!("{p:?}"))
    }
}
