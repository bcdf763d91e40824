//! What a witness of the transparency log remembers and checks, so that the log cannot be cut
//! short, rewritten or shown differently to different people without someone noticing.
//!
//! A witness (the `iamsmart witness` command, the resident's app, a service) keeps the log keys
//! it trusts (pinned on first contact or given) and the signed tree heads it has seen. Each time
//! it is shown a newer head it checks the signature with a pinned key and a consistency proof from
//! the newest head it saw; a head for a size it has seen with another root (a fork), a head
//! smaller than one it has seen (a rollback: entries cut off), a head signed by a key it does not
//! trust, or a proof that fails, is an [`Alarm`]. No HTTP client here: [`observe`] walks the
//! protocol (keys, newest head, consistency proof) through a fetch the caller supplies (the
//! resident's app, `iamsmart witness` and the demo service each pass their own), and
//! [`WitnessState::load`] and [`WitnessState::save`] keep the state in a file durably.
use crate::jose::{self, Alg, PublicJwk};
use crate::merkle::{self, Hash};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// How many heads a witness keeps (the newest ones): enough to notice a second head for any size
/// seen recently; the newest alone proves everything older through consistency.
pub const KEPT_HEADS: usize = 10_000;

/// A signed tree head as the log serves it (`/transparency/v1/tree-head`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    /// Entries covered.
    pub tree_size: u64,
    /// When it was signed (unix ms).
    pub timestamp: i64,
    /// The root, base64url.
    pub root_hash: String,
    /// Compact JWS (`typ` `tree-head+jwt`) over `{tree_size, timestamp, root_hash}`.
    pub signature: String,
}

/// A head the witness has seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenHead {
    /// Entries covered.
    pub tree_size: u64,
    /// The root, base64url.
    pub root_hash: String,
    /// When it was signed (unix ms).
    pub timestamp: i64,
}

/// What a witness keeps between contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessState {
    /// RFC 7638 thumbprints of the log keys it trusts.
    pub log_keys: Vec<String>,
    /// Heads seen, by size, at most [`KEPT_HEADS`] (the newest).
    pub heads: Vec<SeenHead>,
}

/// Something that must not happen to an honest log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Alarm {
    /// Two different heads for one size.
    #[error("two different tree heads for size {tree_size}: the log was forked or rewritten")]
    Fork {
        /// The size.
        tree_size: u64,
    },
    /// A head smaller than one already seen is shown as the newest.
    #[error(
        "the log now shows {shown} entries, but {seen} were seen before: entries were cut off"
    )]
    Rollback {
        /// The size seen before.
        seen: u64,
        /// The size shown now.
        shown: u64,
    },
    /// The newer head does not extend the older one.
    #[error("the head of size {second} does not extend the head of size {first} (consistency proof fails)")]
    Inconsistent {
        /// The older size.
        first: u64,
        /// The newer size.
        second: u64,
    },
    /// The head is not signed by a trusted key, or its content differs from its signature.
    #[error("the tree head of size {tree_size} is not signed by a trusted log key: {why}")]
    BadSignature {
        /// The size it claims.
        tree_size: u64,
        /// Why.
        why: String,
    },
}

fn b64_hash(s: &str) -> Option<Hash> {
    URL_SAFE_NO_PAD.decode(s).ok()?.try_into().ok()
}

#[derive(Deserialize)]
struct Payload {
    tree_size: u64,
    timestamp: i64,
    root_hash: String,
}

impl WitnessState {
    /// Trust these log keys (thumbprints) from now on, if none are trusted yet (first contact,
    /// or given by the operator). Returns whether they were taken.
    pub fn pin_if_new(&mut self, keys: &[PublicJwk]) -> bool {
        if !self.log_keys.is_empty() {
            return false;
        }
        self.log_keys = keys.iter().map(PublicJwk::thumbprint).collect();
        true
    }

    /// The newest head seen.
    pub fn newest(&self) -> Option<&SeenHead> {
        self.heads.last()
    }

    /// Check a head's signature with the pinned keys among `keys` (what the log publishes) and
    /// that the signed content is the head's.
    pub fn check_signature(&self, head: &SignedHead, keys: &[PublicJwk]) -> Result<(), Alarm> {
        let bad = |why: &str| Alarm::BadSignature {
            tree_size: head.tree_size,
            why: why.into(),
        };
        let trusted: Vec<PublicJwk> = keys
            .iter()
            .filter(|k| self.log_keys.contains(&k.thumbprint()))
            .cloned()
            .collect();
        let (h, payload) =
            jose::verify_compact(&head.signature, &trusted, &[Alg::ES256, Alg::EdDSA])
                .map_err(|_| bad("no pinned key verifies it"))?;
        if h.typ.as_deref() != Some("tree-head+jwt") {
            return Err(bad("it is not a tree head signature"));
        }
        let p: Payload = serde_json::from_slice(&payload).map_err(|_| bad("malformed"))?;
        if p.tree_size != head.tree_size
            || p.root_hash != head.root_hash
            || p.timestamp != head.timestamp
            || b64_hash(&p.root_hash).is_none()
        {
            return Err(bad("the signed content differs from the head"));
        }
        Ok(())
    }

    /// What a consistency proof is needed for before `head` can be accepted: `Some(first)` to
    /// prove `first -> head.tree_size`; `None` when none is (first head, or a size already seen,
    /// which is compared directly). An alarm for a rollback.
    pub fn proof_needed(&self, head: &SignedHead) -> Result<Option<u64>, Alarm> {
        let Some(newest) = self.newest() else {
            return Ok(None);
        };
        if head.tree_size < newest.tree_size {
            // An older head is fine only if it is one seen before, unchanged; as "the newest" it
            // is a rollback either way.
            return Err(Alarm::Rollback {
                seen: newest.tree_size,
                shown: head.tree_size,
            });
        }
        if head.tree_size == newest.tree_size || newest.tree_size == 0 {
            return Ok(None);
        }
        Ok(Some(newest.tree_size))
    }

    /// Accept a head shown as the newest, after [`Self::check_signature`]: with the consistency
    /// proof [`Self::proof_needed`] asked for (empty when none was). Remembers it.
    pub fn accept(&mut self, head: &SignedHead, proof: &[Hash]) -> Result<(), Alarm> {
        if let Some(seen) = self.heads.iter().find(|h| h.tree_size == head.tree_size) {
            if seen.root_hash != head.root_hash {
                return Err(Alarm::Fork {
                    tree_size: head.tree_size,
                });
            }
        }
        if let Some(first) = self.proof_needed(head)? {
            let newest = self
                .newest()
                .map(|n| n.root_hash.clone())
                .unwrap_or_default();
            let ok = match (b64_hash(&newest), b64_hash(&head.root_hash)) {
                (Some(r1), Some(r2)) => {
                    merkle::verify_consistency(first, head.tree_size, &r1, &r2, proof)
                }
                _ => false,
            };
            if !ok {
                return Err(Alarm::Inconsistent {
                    first,
                    second: head.tree_size,
                });
            }
        }
        if !self.heads.iter().any(|h| h.tree_size == head.tree_size) {
            self.heads.push(SeenHead {
                tree_size: head.tree_size,
                root_hash: head.root_hash.clone(),
                timestamp: head.timestamp,
            });
            self.heads.sort_by_key(|h| h.tree_size);
            let excess = self.heads.len().saturating_sub(KEPT_HEADS);
            self.heads.drain(..excess);
        }
        Ok(())
    }
}

/// Why a witness could not finish.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The log did something an honest log never does.
    #[error("ALARM: {0}")]
    Alarm(#[from] Alarm),
    /// The log could not be asked (network, or an answer that is not what the protocol says),
    /// or the state could not be read or written.
    #[error("cannot check the transparency log: {0}")]
    Unavailable(String),
}

/// What one observation found.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The newest head, accepted.
    pub head: SignedHead,
    /// Whether the log keys were pinned on this contact (the first one).
    pub pinned_now: bool,
    /// The size of the newest head seen before, if any.
    pub previous: Option<u64>,
}

/// Observe the log at `base` (the platform's public URL) once, fetching each JSON document with
/// `get_json` (a URL in, the parsed answer or why not out): pin its keys on first contact
/// (`pins`, thumbprints, when given: then those and no others), check the newest head and its
/// consistency with the newest head in `state`, and remember it there.
pub async fn observe<F, Fut>(
    get_json: F,
    base: &str,
    state: &mut WitnessState,
    pins: &[String],
) -> Result<Observed, WitnessError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<serde_json::Value, String>>,
{
    let base = base.trim_end_matches('/');
    let fetch = |url: String| {
        let answer = get_json(url);
        async move { answer.await.map_err(WitnessError::Unavailable) }
    };
    let parse = |what: &str, v: serde_json::Value| {
        let what = what.to_string();
        move |e: serde_json::Error| WitnessError::Unavailable(format!("{what}: {e} in {v}"))
    };
    #[derive(Deserialize)]
    struct Keys {
        keys: Vec<PublicJwk>,
    }
    let v = fetch(format!("{base}/transparency/v1/keys")).await?;
    let keys: Keys = serde_json::from_value(v.clone()).map_err(parse("log keys", v))?;
    let pinned_now = if state.log_keys.is_empty() && !pins.is_empty() {
        state.log_keys = pins.to_vec();
        true
    } else {
        state.pin_if_new(&keys.keys)
    };
    let v = fetch(format!("{base}/transparency/v1/tree-head")).await?;
    let head: SignedHead = serde_json::from_value(v.clone()).map_err(parse("tree head", v))?;
    state.check_signature(&head, &keys.keys)?;
    let previous = state.newest().map(|h| h.tree_size);
    let proof = match state.proof_needed(&head)? {
        None => Vec::new(),
        Some(first) => {
            let v = fetch(format!(
                "{base}/transparency/v1/consistency?first={first}&second={}",
                head.tree_size
            ))
            .await?;
            v["consistency_path"]
                .as_array()
                .map(|a| a.iter().map(|h| h.as_str().and_then(b64_hash)).collect())
                .unwrap_or(Some(Vec::new()))
                .ok_or_else(|| WitnessError::Unavailable("malformed consistency proof".into()))?
        }
    };
    state.accept(&head, &proof)?;
    Ok(Observed {
        head,
        pinned_now,
        previous,
    })
}

impl WitnessState {
    /// Read a witness state file (a missing file is a first contact).
    pub fn load(path: &std::path::Path) -> Result<Self, WitnessError> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| WitnessError::Unavailable(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(WitnessError::Unavailable(format!(
                "{}: {e}",
                path.display()
            ))),
        }
    }

    /// Write the state file durably ([`crate::file::write_private`]: a crash leaves the old
    /// state or the new one).
    pub fn save(&self, path: &std::path::Path) -> Result<(), WitnessError> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| WitnessError::Unavailable(e.to_string()))?;
        crate::file::write_private(path, &bytes)
            .map_err(|e| WitnessError::Unavailable(format!("cannot write {}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceKey;

    /// RFC 9162's Merkle tree hash, by its definition.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => merkle::empty_root(),
            1 => leaves[0],
            n => {
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                merkle::node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| merkle::leaf_hash(&[i.to_be_bytes()[7]]))
            .collect()
    }

    /// A log of `n` leaves `[i]`: its root.
    fn root(n: u64) -> Hash {
        mth(&leaves(n))
    }

    fn jwk(key: &DeviceKey, kid: &str) -> PublicJwk {
        let mut j = key.public_jwk();
        j.kid = Some(kid.into());
        j
    }

    fn head(key: &DeviceKey, n: u64, root_hash: &Hash) -> SignedHead {
        let kid = jwk(key, "").thumbprint()[..8].to_string();
        let root_hash = URL_SAFE_NO_PAD.encode(root_hash);
        let payload =
            serde_json::json!({ "tree_size": n, "timestamp": n as i64, "root_hash": root_hash });
        SignedHead {
            tree_size: n,
            timestamp: n as i64,
            root_hash,
            signature: key
                .sign_jws("tree-head+jwt", &kid, payload.to_string().as_bytes())
                .unwrap(),
        }
    }

    fn proof(first: u64, second: u64) -> Vec<Hash> {
        let all = leaves(second);
        merkle::consistency_ranges(first, second)
            .iter()
            .map(|r| mth(&all[usize::try_from(r.start).unwrap()..usize::try_from(r.end).unwrap()]))
            .collect()
    }

    #[test]
    fn a_growing_log_is_accepted_and_forks_rollbacks_and_strangers_are_alarms() {
        let key = DeviceKey::generate().unwrap();
        let named = |k: &DeviceKey| jwk(k, &jwk(k, "").thumbprint()[..8]);
        let jwks = vec![named(&key)];
        let mut w = WitnessState::default();
        assert!(w.pin_if_new(&jwks));
        let h5 = head(&key, 5, &root(5));
        w.check_signature(&h5, &jwks).unwrap();
        assert_eq!(w.proof_needed(&h5).unwrap(), None);
        w.accept(&h5, &[]).unwrap();
        let h9 = head(&key, 9, &root(9));
        w.check_signature(&h9, &jwks).unwrap();
        assert_eq!(w.proof_needed(&h9).unwrap(), Some(5));
        w.accept(&h9, &proof(5, 9)).unwrap();
        // The same head again is fine.
        w.accept(&h9, &[]).unwrap();

        // A second head for size 9 with another root: a fork.
        let mut other = leaves(9);
        other[3] = merkle::leaf_hash(b"rewritten");
        let forked = head(&key, 9, &mth(&other));
        assert_eq!(w.accept(&forked, &[]), Err(Alarm::Fork { tree_size: 9 }));
        // A smaller head shown as the newest: entries were cut off.
        let short = head(&key, 7, &root(7));
        assert_eq!(
            w.accept(&short, &[]),
            Err(Alarm::Rollback { seen: 9, shown: 7 })
        );
        // A larger head that does not extend what was seen.
        let mut rewritten = leaves(12);
        rewritten[2] = merkle::leaf_hash(b"rewritten");
        let h12 = head(&key, 12, &mth(&rewritten));
        assert_eq!(
            w.accept(&h12, &proof(9, 12)),
            Err(Alarm::Inconsistent {
                first: 9,
                second: 12
            })
        );
        // A head signed by a key the witness does not trust, even if the log publishes it.
        let stranger = DeviceKey::generate().unwrap();
        let h13 = head(&stranger, 13, &root(13));
        let both = vec![named(&key), named(&stranger)];
        assert!(matches!(
            w.check_signature(&h13, &both),
            Err(Alarm::BadSignature { .. })
        ));
        assert!(!w.pin_if_new(&both), "the first keys stay pinned");
        // A head whose signed content differs from what is shown.
        let mut lying = head(&key, 13, &root(13));
        lying.tree_size = 14;
        assert!(w.check_signature(&lying, &jwks).is_err());
        assert_eq!(w.newest().unwrap().tree_size, 9);
    }
}
