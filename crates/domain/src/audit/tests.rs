use super::verify::{verify, Problem};
use super::*;
use crate::clock::Clock;
use crate::testing::platform;

async fn add(t: &crate::testing::TestPlatform, n: usize) {
    for i in 0..n {
        let mut tx = t.p.db.begin().await.unwrap();
        append(
            &mut tx,
            t.clock.now_ms(),
            Some("req"),
            &Event {
                kind: "test.event",
                actor: "system",
                subject: &format!("thing:{i}"),
                detail: serde_json::json!({ "i": i }),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn the_log_verifies_with_proofs_and_tree_heads() {
    let t = platform().await;
    let before = size(&t.p.db).await.unwrap();
    add(&t, 20).await;
    let n = size(&t.p.db).await.unwrap();
    assert_eq!(n, before + 20);
    let h1 = publish_tree_head(&t.p.db, &t.p.keys).await.unwrap();
    add(&t, 7).await;
    let h2 = publish_tree_head(&t.p.db, &t.p.keys).await.unwrap();
    assert_eq!(h2.tree_size, n + 7);

    let root1 = root(&t.p.db, h1.tree_size).await.unwrap();
    let root2 = root(&t.p.db, h2.tree_size).await.unwrap();
    for i in [0, 5, h2.tree_size - 1] {
        let (leaf, path) = inclusion_proof(&t.p.db, i, h2.tree_size).await.unwrap();
        let e = &entries(&t.p.db, i, i + 1).await.unwrap()[0];
        assert_eq!(e.leaf_hash(), leaf);
        assert!(merkle::verify_inclusion(
            i,
            h2.tree_size,
            &leaf,
            &path,
            &root2
        ));
    }
    let proof = consistency_proof(&t.p.db, h1.tree_size, h2.tree_size)
        .await
        .unwrap();
    assert!(merkle::verify_consistency(
        h1.tree_size,
        h2.tree_size,
        &root1,
        &root2,
        &proof
    ));

    let report = verify(&t.p.db, &t.p.keys).await.unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.entries, h2.tree_size);
    assert_eq!(report.tree_heads_checked, 2);
}

#[tokio::test]
async fn an_edited_entry_is_reported() {
    let t = platform().await;
    add(&t, 10).await;
    publish_tree_head(&t.p.db, &t.p.keys).await.unwrap();
    sqlx::query("UPDATE audit_log SET detail = '{\"i\":99}' WHERE seq = 6")
        .execute(t.p.db.writer())
        .await
        .unwrap();
    let r = verify(&t.p.db, &t.p.keys).await.unwrap();
    assert_eq!(r.problem, Some(Problem::Altered { seq: 6 }));
}

#[tokio::test]
async fn an_edit_with_recomputed_hashes_breaks_the_signed_tree_head() {
    let t = platform().await;
    add(&t, 10).await;
    publish_tree_head(&t.p.db, &t.p.keys).await.unwrap();
    // A careful attacker rewrites the entry and its leaf everywhere, but cannot re-sign.
    let mut e = entries(&t.p.db, 4, 5).await.unwrap().remove(0);
    e.detail = "{\"i\":1000}".into();
    let h = e.leaf_hash().to_vec();
    sqlx::query("UPDATE audit_log SET detail = $1, leaf_hash = $2 WHERE seq = 4")
        .bind(&e.detail)
        .bind(&h)
        .execute(t.p.db.writer())
        .await
        .unwrap();
    sqlx::query("UPDATE merkle_nodes SET hash = $1 WHERE level = 0 AND idx = 4")
        .bind(&h)
        .execute(t.p.db.writer())
        .await
        .unwrap();
    let r = verify(&t.p.db, &t.p.keys).await.unwrap();
    assert!(
        matches!(r.problem, Some(Problem::BadTreeHead { .. })),
        "{:?}",
        r.problem
    );
}

#[tokio::test]
async fn a_deleted_entry_is_reported() {
    let t = platform().await;
    add(&t, 10).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = 7")
        .execute(t.p.db.writer())
        .await
        .unwrap();
    let r = verify(&t.p.db, &t.p.keys).await.unwrap();
    assert_eq!(r.problem, Some(Problem::Missing { seq: 7 }));
    // Deleting the newest entry is caught by the head count.
    let t = platform().await;
    add(&t, 3).await;
    let last = size(&t.p.db).await.unwrap() - 1;
    sqlx::query("DELETE FROM audit_log WHERE seq = $1")
        .bind(last as i64)
        .execute(t.p.db.writer())
        .await
        .unwrap();
    let r = verify(&t.p.db, &t.p.keys).await.unwrap();
    assert_eq!(r.problem, Some(Problem::Missing { seq: last }));
}

#[tokio::test]
async fn reordered_entries_are_reported() {
    let t = platform().await;
    add(&t, 10).await;
    // Swap entries 3 and 8 (three updates through a free sequence number).
    for (from, to) in [(3, -1), (8, 3), (-1, 8)] {
        sqlx::query("UPDATE audit_log SET seq = $1 WHERE seq = $2")
            .bind(to as i64)
            .bind(from as i64)
            .execute(t.p.db.writer())
            .await
            .unwrap();
    }
    let r = verify(&t.p.db, &t.p.keys).await.unwrap();
    assert_eq!(r.problem, Some(Problem::Altered { seq: 3 }));
}

/// Issue 16, finding 7: a tree head dated after its signing key was retired (signed with a
/// revoked, perhaps compromised, key) is reported.
#[tokio::test]
async fn a_tree_head_signed_outside_its_keys_validity_is_reported() {
    let t = platform().await;
    add(&t, 5).await;
    let head = publish_tree_head(&t.p.db, &t.p.keys).await.unwrap();
    assert_eq!(verify(&t.p.db, &t.p.keys).await.unwrap().problem, None);
    // As if the key had been revoked before this head was signed.
    let kid =
        t.p.keys
            .active(crate::keys::Purpose::Log, None)
            .await
            .unwrap()
            .kid;
    sqlx::query("UPDATE keys SET retire_at = $1 WHERE kid = $2")
        .bind(head.timestamp - 1)
        .bind(&kid)
        .execute(t.p.db.writer())
        .await
        .unwrap();
    t.p.keys.reload();
    let r = verify(&t.p.db, &t.p.keys).await.unwrap();
    match r.problem {
        Some(Problem::BadTreeHead { ref why, .. }) => {
            assert!(why.contains("outside its signing key"), "{why}");
        }
        ref other => panic!("{other:?}"),
    }
}

/// Rewrite the newest entry (the log has an odd size, so no stored subtree above it is complete)
/// and its stored leaf, and drop the heads over it.
async fn rewrite_last(t: &crate::testing::TestPlatform) {
    let n = size(&t.p.db).await.unwrap();
    assert_eq!(n % 2, 1);
    let mut e = entries(&t.p.db, n - 1, n).await.unwrap().remove(0);
    e.detail = "{\"i\":\"rewritten\"}".into();
    let h = e.leaf_hash().to_vec();
    let db = t.p.db.writer();
    sqlx::query("UPDATE audit_log SET detail = $1, leaf_hash = $2 WHERE seq = $3")
        .bind(&e.detail)
        .bind(&h)
        .bind((n - 1) as i64)
        .execute(db)
        .await
        .unwrap();
    sqlx::query("UPDATE merkle_nodes SET hash = $1 WHERE level = 0 AND idx = $2")
        .bind(&h)
        .bind((n - 1) as i64)
        .execute(db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM tree_heads WHERE tree_size >= $1")
        .bind(n as i64)
        .execute(db)
        .await
        .unwrap();
}

/// A log of odd size with a signed head over it, and a witness that saw that head.
async fn witnessed_log(
    t: &crate::testing::TestPlatform,
) -> (TreeHead, iamsmart_crypto::witness::WitnessState) {
    add(t, 6).await;
    if size(&t.p.db).await.unwrap() % 2 == 0 {
        add(t, 1).await;
    }
    let head = publish_tree_head(&t.p.db, &t.p.keys).await.unwrap();
    let mut w = iamsmart_crypto::witness::WitnessState::default();
    w.heads.push(iamsmart_crypto::witness::SeenHead {
        tree_size: head.tree_size,
        root_hash: head.root_hash.clone(),
        timestamp: head.timestamp,
    });
    (head, w)
}

/// Issue 16, finding 4: the newest entries cut off (entries, subtrees, heads and count) verify
/// clean on the database alone, but not against a witness that saw the longer log.
#[tokio::test]
async fn a_truncated_log_is_caught_by_its_witness() {
    let t = platform().await;
    let (head, witness) = witnessed_log(&t).await;
    crate::testing::cut_off_audit_log(&t.p.db, head.tree_size - 2).await;
    assert_eq!(verify(&t.p.db, &t.p.keys).await.unwrap().problem, None);
    let trust = super::verify::Trust {
        witness: Some(witness),
        ..Default::default()
    };
    let r = super::verify::verify_with(&t.p.db, &t.p.keys, &trust)
        .await
        .unwrap();
    assert_eq!(
        r.problem,
        Some(Problem::Truncated {
            witnessed: head.tree_size,
            stored: head.tree_size - 2
        })
    );
}

/// Issue 16, finding 4: an entry rewritten and a head signed for it with a key written into the
/// database (the attacker's own) is refused: the key store does not hold that key, and it is not
/// one of the pinned keys.
#[tokio::test]
async fn a_log_rewritten_and_signed_with_a_new_key_is_reported() {
    let t = platform().await;
    let (_, _) = witnessed_log(&t).await;
    let genuine =
        t.p.keys
            .active(crate::keys::Purpose::Log, None)
            .await
            .unwrap();
    let pinned = genuine.public_jwk.as_ref().unwrap().thumbprint();
    rewrite_last(&t).await;
    // The attacker's key, as a log key row (the handle is not a key the store holds).
    let forger = iamsmart_crypto::device::DeviceKey::generate().unwrap();
    let mut jwk = forger.public_jwk();
    jwk.kid = Some("log-es256-forged".into());
    let now = t.clock.now_ms();
    sqlx::query(
        "INSERT INTO keys (kid, purpose, alg, backend, handle, public_jwk, created_at, publish_at, activate_at, retire_at) VALUES ('log-es256-forged', 'log', 'ES256', 'file', $1, $2, $3, $3, $3, NULL)",
    )
    .bind(b"not a sealed key".to_vec())
    .bind(serde_json::to_string(&jwk).unwrap())
    .bind(now - 10)
    .execute(t.p.db.writer())
    .await
    .unwrap();
    let n = size(&t.p.db).await.unwrap();
    let root = root(&t.p.db, n).await.unwrap();
    let payload = TreeHeadPayload {
        tree_size: n,
        timestamp: now,
        root_hash: b64(&root),
    };
    let sig = forger
        .sign_jws(
            "tree-head+jwt",
            "log-es256-forged",
            &serde_json::to_vec(&payload).unwrap(),
        )
        .unwrap();
    sqlx::query(
        "INSERT INTO tree_heads (tree_size, at, root_hash, signature) VALUES ($1, $2, $3, $4)",
    )
    .bind(n as i64)
    .bind(now)
    .bind(root.to_vec())
    .bind(&sig)
    .execute(t.p.db.writer())
    .await
    .unwrap();
    t.p.keys.reload();
    let r = verify(&t.p.db, &t.p.keys).await.unwrap();
    match r.problem {
        Some(Problem::BadTreeHead { ref why, .. }) => {
            assert!(why.contains("not held by the key store"), "{why}");
        }
        ref other => panic!("{other:?}"),
    }
    let trust = super::verify::Trust {
        pinned_log_keys: vec![pinned],
        witness: None,
    };
    let r = super::verify::verify_with(&t.p.db, &t.p.keys, &trust)
        .await
        .unwrap();
    match r.problem {
        Some(Problem::BadTreeHead { ref why, .. }) => {
            assert!(why.contains("not one of the pinned log keys"), "{why}");
        }
        ref other => panic!("{other:?}"),
    }
}

/// Issue 16, finding 4: a log rewritten by an insider who can sign with the genuine key (a forked
/// head: a second head for a size a witness saw) verifies on its own, and not against the witness.
#[tokio::test]
async fn a_forked_head_is_caught_by_its_witness() {
    let t = platform().await;
    let (head, witness) = witnessed_log(&t).await;
    rewrite_last(&t).await;
    let forked = publish_tree_head(&t.p.db, &t.p.keys).await.unwrap();
    assert_eq!(forked.tree_size, head.tree_size);
    assert_ne!(forked.root_hash, head.root_hash);
    assert_eq!(verify(&t.p.db, &t.p.keys).await.unwrap().problem, None);
    let trust = super::verify::Trust {
        witness: Some(witness),
        ..Default::default()
    };
    let r = super::verify::verify_with(&t.p.db, &t.p.keys, &trust)
        .await
        .unwrap();
    assert_eq!(
        r.problem,
        Some(Problem::WitnessMismatch {
            tree_size: head.tree_size
        })
    );
}

/// Issue 16, finding 2: a leaf commits to its entry with a salt of its own, so the public
/// commitments reveal nothing without it; entries appended before salts (no salt, the leaf of
/// the entry alone) still verify.
#[tokio::test]
async fn leaves_are_salted_commitments_and_unsalted_old_entries_still_verify() {
    let t = platform().await;
    witnessed_log(&t).await;
    let n = size(&t.p.db).await.unwrap();
    let last = entries(&t.p.db, n - 1, n).await.unwrap().remove(0);
    let salt = last.salt.clone().expect("salted");
    assert_eq!(salt.len(), 16);
    let unsalted = Entry {
        salt: None,
        ..last.clone()
    };
    assert_ne!(
        last.leaf_hash(),
        unsalted.leaf_hash(),
        "the salt is in the leaf"
    );
    let public = commitments(&t.p.db, n - 1, n).await.unwrap();
    assert_eq!(public, vec![(n - 1, last.leaf_hash())]);
    // An entry from before salts: no salt, the plain leaf (the last one of an odd-sized log).
    sqlx::query("UPDATE audit_log SET salt = NULL, leaf_hash = $1 WHERE seq = $2")
        .bind(unsalted.leaf_hash().to_vec())
        .bind((n - 1) as i64)
        .execute(t.p.db.writer())
        .await
        .unwrap();
    sqlx::query("UPDATE merkle_nodes SET hash = $1 WHERE level = 0 AND idx = $2")
        .bind(unsalted.leaf_hash().to_vec())
        .bind((n - 1) as i64)
        .execute(t.p.db.writer())
        .await
        .unwrap();
    sqlx::query("DELETE FROM tree_heads WHERE tree_size >= $1")
        .bind(n as i64)
        .execute(t.p.db.writer())
        .await
        .unwrap();
    publish_tree_head(&t.p.db, &t.p.keys).await.unwrap();
    assert_eq!(verify(&t.p.db, &t.p.keys).await.unwrap().problem, None);
    // A salt changed afterwards breaks the entry.
    sqlx::query("UPDATE audit_log SET salt = $1 WHERE seq = 1")
        .bind(vec![7u8; 16])
        .execute(t.p.db.writer())
        .await
        .unwrap();
    assert_eq!(
        verify(&t.p.db, &t.p.keys).await.unwrap().problem,
        Some(Problem::Altered { seq: 1 })
    );
}
