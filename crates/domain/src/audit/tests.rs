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
