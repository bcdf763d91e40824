//! RFC 9162 Merkle tree: hashing, inclusion and consistency proofs.
//!
//! The tree is never held in memory. A log stores the hash of every *perfect aligned subtree*
//! as it completes (a [`NodeId`]: `level` and `index`, covering leaves
//! `[index << level, (index + 1) << level)`). Any range that appears in an RFC 9162 proof is a
//! concatenation of such subtrees, so a proof needs only O(log² n) stored hashes:
//! [`inclusion_ranges`] / [`consistency_ranges`] say which ranges a proof is made of,
//! [`range_nodes`] which stored nodes make up a range, and [`range_hash`] folds them.

use crate::hash::sha256;
use std::ops::Range;

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// A perfect, aligned subtree: leaves `[index << level, (index + 1) << level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves (0 = a leaf).
    pub level: u32,
    /// Position among the nodes of that level.
    pub index: u64,
}

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut input = Vec::with_capacity(data.len() + 1);
    input.push(0u8);
    input.extend_from_slice(data);
    sha256(&input)
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut input = [0u8; 65];
    input[0] = 1;
    input[1..33].copy_from_slice(left);
    input[33..].copy_from_slice(right);
    sha256(&input)
}

/// The root of the empty tree: `SHA-256()`.
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The ranges whose hashes form the inclusion proof of leaf `index` in a tree of `size`
/// leaves, in proof order (RFC 9162 §2.1.3.1, `PATH`). Empty if `index >= size`.
pub fn inclusion_ranges(index: u64, size: u64) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    if index < size {
        path(index, 0, size, &mut out);
    }
    out
}

fn path(m: u64, start: u64, end: u64, out: &mut Vec<Range<u64>>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path(m, start, start + k, out);
        out.push(start + k..end);
    } else {
        path(m - k, start + k, end, out);
        out.push(start..start + k);
    }
}

/// The ranges whose hashes form the consistency proof between a tree of `first` leaves and
/// one of `second` leaves, in proof order (RFC 9162 §2.1.4.1, `PROOF`). Empty when
/// `first == 0`, `first >= second`.
pub fn consistency_ranges(first: u64, second: u64) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    if first > 0 && first < second {
        subproof(first, 0, second, true, &mut out);
    }
    out
}

fn subproof(m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<Range<u64>>) {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(start..end);
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, start, start + k, whole, out);
        out.push(start + k..end);
    } else {
        subproof(m - k, start + k, end, false, out);
        out.push(start..start + k);
    }
}

/// The stored subtrees that make up `range`, left to right. Every range produced by
/// [`inclusion_ranges`], [`consistency_ranges`] or `0..size` decomposes this way.
pub fn range_nodes(range: Range<u64>) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut start = range.start;
    let mut remaining = range.end.saturating_sub(range.start);
    while remaining > 0 {
        let level = 63 - remaining.leading_zeros();
        let chunk = 1u64 << level;
        debug_assert_eq!(start % chunk, 0, "range is not aligned to its subtrees");
        out.push(NodeId {
            level,
            index: start >> level,
        });
        start += chunk;
        remaining -= chunk;
    }
    out
}

/// The Merkle tree hash of a range from the hashes of its [`range_nodes`], in the same order.
/// The empty range hashes to [`empty_root`].
pub fn range_hash(node_hashes: &[Hash]) -> Hash {
    let Some((last, rest)) = node_hashes.split_last() else {
        return empty_root();
    };
    rest.iter()
        .rev()
        .fold(*last, |acc, left| node_hash(left, &acc))
}

/// The stored nodes whose hashes [`append_nodes`] needs to append leaf number `index`
/// (the left siblings of the subtrees it completes), bottom up.
pub fn append_siblings(index: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let (mut level, mut idx) = (0u32, index);
    while idx & 1 == 1 {
        out.push(NodeId {
            level,
            index: idx - 1,
        });
        level += 1;
        idx >>= 1;
    }
    out
}

/// The nodes completed by appending leaf number `index` with hash `leaf`: the leaf itself and
/// every perfect subtree it closes. `siblings` are the hashes of [`append_siblings`]`(index)`.
pub fn append_nodes(index: u64, leaf: Hash, siblings: &[Hash]) -> Vec<(NodeId, Hash)> {
    let mut out = vec![(NodeId { level: 0, index }, leaf)];
    let mut cur = leaf;
    for (i, left) in siblings.iter().enumerate() {
        cur = node_hash(left, &cur);
        out.push((
            NodeId {
                level: u32::try_from(i + 1).expect("a tree of u64 leaves has at most 64 levels"),
                index: index >> (i + 1),
            },
            cur,
        ));
    }
    out
}

/// Verify an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && crate::hash::ct_eq(&r, root)
}

/// Verify a consistency proof between a tree of `first` leaves with root `first_root` and one
/// of `second` leaves with root `second_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return proof.is_empty();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && fr == *first_root && sr == *second_root
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The RFC 9162 definition, straight from the text, over all leaf hashes.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = usize::try_from(split_point(n as u64)).unwrap();
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    /// Builds the node store the way a log does, by appending leaves one at a time.
    fn build(n: u64) -> (Vec<Hash>, HashMap<NodeId, Hash>) {
        let mut store = HashMap::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let leaf = leaf_hash(format!("entry {i}").as_bytes());
            leaves.push(leaf);
            let sib: Vec<Hash> = append_siblings(i).iter().map(|id| store[id]).collect();
            for (id, h) in append_nodes(i, leaf, &sib) {
                store.insert(id, h);
            }
        }
        (leaves, store)
    }

    fn hash_of(store: &HashMap<NodeId, Hash>, r: Range<u64>) -> Hash {
        let hs: Vec<Hash> = range_nodes(r).iter().map(|id| store[id]).collect();
        range_hash(&hs)
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(range_hash(&[]), empty_root());
    }

    #[test]
    fn stored_subtrees_give_the_rfc_root_for_every_size() {
        let (leaves, store) = build(70);
        for n in 0..=70u64 {
            assert_eq!(
                hash_of(&store, 0..n),
                mth(&leaves[..usize::try_from(n).unwrap()]),
                "size {n}"
            );
        }
    }

    #[test]
    fn inclusion_proofs_verify_and_reject_tampering() {
        let (leaves, store) = build(40);
        for n in 1..=40u64 {
            let root = hash_of(&store, 0..n);
            for i in 0..n {
                let proof: Vec<Hash> = inclusion_ranges(i, n)
                    .into_iter()
                    .map(|r| hash_of(&store, r))
                    .collect();
                assert!(
                    verify_inclusion(i, n, &leaves[usize::try_from(i).unwrap()], &proof, &root),
                    "{i}/{n}"
                );
                let other = leaf_hash(b"not in the log");
                assert!(!verify_inclusion(i, n, &other, &proof, &root));
                if let Some(first) = proof.first() {
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_inclusion(
                        i,
                        n,
                        &leaves[usize::try_from(i).unwrap()],
                        &bad,
                        &root
                    ));
                    assert_ne!(first, &bad[0]);
                }
                assert!(!verify_inclusion(
                    n,
                    n,
                    &leaves[usize::try_from(i).unwrap()],
                    &proof,
                    &root
                ));
            }
        }
    }

    #[test]
    fn consistency_proofs_verify_and_reject_tampering() {
        let (_, store) = build(40);
        for n in 1..=40u64 {
            let root_n = hash_of(&store, 0..n);
            for m in 1..=n {
                let root_m = hash_of(&store, 0..m);
                let proof: Vec<Hash> = consistency_ranges(m, n)
                    .into_iter()
                    .map(|r| hash_of(&store, r))
                    .collect();
                assert!(
                    verify_consistency(m, n, &root_m, &root_n, &proof),
                    "{m}->{n}"
                );
                if m < n {
                    let mut wrong = root_m;
                    wrong[5] ^= 0x40;
                    assert!(!verify_consistency(m, n, &wrong, &root_n, &proof));
                    assert!(!verify_consistency(m, n, &root_m, &wrong, &proof));
                    let mut bad = proof.clone();
                    let last = bad.len() - 1;
                    bad[last][0] ^= 1;
                    assert!(!verify_consistency(m, n, &root_m, &root_n, &bad));
                }
            }
        }
    }

    #[test]
    fn rfc_path_and_proof_shapes() {
        // Figure in RFC 9162 §2.1.5: tree of 7 leaves.
        assert_eq!(inclusion_ranges(0, 7), vec![1..2, 2..4, 4..7]);
        assert_eq!(inclusion_ranges(3, 7), vec![2..3, 0..2, 4..7]);
        assert_eq!(inclusion_ranges(4, 7), vec![5..6, 6..7, 0..4]);
        assert_eq!(inclusion_ranges(6, 7), vec![4..6, 0..4]);
        assert_eq!(consistency_ranges(3, 7), vec![2..3, 3..4, 0..2, 4..7]);
        assert_eq!(consistency_ranges(4, 7), vec![4..7]);
        assert_eq!(consistency_ranges(6, 7), vec![4..6, 6..7, 0..4]);
    }
}
