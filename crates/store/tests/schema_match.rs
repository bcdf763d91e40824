//! The SQLite and PostgreSQL migrations must describe the same schema.
use iamsmart_store::{schema, Db, DbOptions};

#[tokio::test]
async fn sqlite_and_postgres_migrations_describe_the_same_schema() {
    let pg = std::env::var("IAMSMART_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .or_else(|| std::env::var("IAMSMART_TEST_POSTGRES_URL").ok());
    let Some(pg_base) = pg else {
        if std::env::var("IAMSMART_SKIP_POSTGRES").is_ok() {
            eprintln!("IAMSMART_SKIP_POSTGRES set: schema comparison skipped");
            return;
        }
        panic!("set IAMSMART_TEST_POSTGRES_URL (or IAMSMART_SKIP_POSTGRES=1) to compare the two schemas");
    };
    let dir = tempfile::tempdir().unwrap();
    let lite = Db::connect(
        &format!("sqlite://{}", dir.path().join("s.db").display()),
        &DbOptions::default(),
    )
    .await
    .unwrap();
    lite.migrate().await.unwrap();

    let url = iamsmart_testkit::create_database_on(&pg_base, dir.path())
        .await
        .unwrap();
    let pg = Db::connect(&url, &DbOptions::default()).await.unwrap();
    pg.migrate().await.unwrap();

    let (a, b) = (
        schema::columns(&lite).await.unwrap(),
        schema::columns(&pg).await.unwrap(),
    );
    assert!(!a.is_empty());
    let only_lite: Vec<_> = a.iter().filter(|c| !b.contains(c)).collect();
    let only_pg: Vec<_> = b.iter().filter(|c| !a.contains(c)).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "columns differ\nonly in SQLite: {only_lite:#?}\nonly in PostgreSQL: {only_pg:#?}"
    );
    let (a, b) = (
        schema::indexes(&lite).await.unwrap(),
        schema::indexes(&pg).await.unwrap(),
    );
    assert!(!a.is_empty());
    assert_eq!(a, b, "indexes differ");
}
