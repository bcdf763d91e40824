//! What a witness of the transparency log remembers and checks, so that the log cannot be cut
//! short, rewritten or shown differently to different people without someone noticing.
//!
//! A witness (the `iamsmart witness` command, the resident's app, a service) keeps the log keys
//! it trusts (pinned on first contact or given) and the signed tree heads it has seen. Each time
//! it is shown a newer head it checks the signature with a pinned key and a consistency proof from
//! the newest head it saw; a head for a size it has seen with another root (a fork), a head
//! smaller than one it has seen (a rollback: entries cut off), a head signed by a key it does not
//! trust, or a proof that fails, is an [`Alarm`]. No HTTP here: callers fetch, this decides.
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
        (0..n).map(|i| merkle::leaf_hash(&[i as u8])).collect()
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
            .map(|r| mth(&all[r.start as usize..r.end as usize]))
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
