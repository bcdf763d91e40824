//! SQLite group commit: concurrent requests share flushes of the write-ahead log, and every
//! commit acknowledged after `durable()` is there when the database is opened again.
use iamsmart_store::{Db, DbOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_share_flushes_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
    sqlx::query("CREATE TABLE t (n BIGINT PRIMARY KEY NOT NULL)")
        .execute(db.writer())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..200i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            sqlx::query("INSERT INTO t (n) VALUES ($1)")
                .bind(n)
                .execute(db.writer())
                .await
                .unwrap();
            db.durable().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let flushes = db.flushes();
    assert!(flushes >= 1, "at least one flush");
    assert!(
        flushes < 200,
        "flushes are shared: {flushes} for 200 commits"
    );
    db.close().await;
    let again = Db::connect(&url, &DbOptions::default()).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
        .fetch_one(again.reader())
        .await
        .unwrap();
    assert_eq!(n, 200);
}
