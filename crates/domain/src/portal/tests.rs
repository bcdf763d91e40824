use super::*;
use crate::testing::platform;
use crate::Platform;
use iamsmart_catalogue::Lang;

async fn first_hit(p: &Platform, q: &str) -> Option<String> {
    let (_, r) = p.portal.search(q, Some(Lang::En), 5).await.unwrap();
    r.hits.first().map(|h| h.id.clone())
}

fn renamed(p: &Index, id: &str, en: &str, zh: &str) -> Service {
    let mut s = p.catalogue().get(id).unwrap().clone();
    s.name = iamsmart_catalogue::Bilingual::new(en, zh);
    s
}

#[tokio::test]
async fn edits_are_searchable_at_once_survive_a_restart_and_reach_other_processes() {
    let t = platform().await;
    let p = &t.p;
    let index = p.portal.index().await.unwrap();
    let n = index.catalogue().len();
    assert!(n >= 100, "the bundled catalogue has {n} services");
    let id = index.catalogue().services()[0].id.clone();
    assert_eq!(first_hit(p, "zyxwvut quokka").await, None);

    // Another process (a second Platform on the same database) has built its index already.
    let other = Platform {
        portal: Arc::new(Portal::new(p.env.clone())),
        ..p.clone()
    };
    other.portal.index().await.unwrap();

    p.portal
        .upsert(
            renamed(&index, &id, "Quokka permit", "短尾矮袋鼠許可證"),
            "operator:test",
        )
        .await
        .unwrap();
    assert_eq!(first_hit(p, "quokka").await.as_deref(), Some(id.as_str()));
    let mut added = index.catalogue().services()[1].clone();
    added.id = "zz-new-service".into();
    added.name = iamsmart_catalogue::Bilingual::new("Wombat licence", "袋熊牌照");
    p.portal.upsert(added, "operator:test").await.unwrap();
    p.portal
        .remove(&index.catalogue().services()[2].id, "operator:test")
        .await
        .unwrap();
    assert_eq!(p.portal.index().await.unwrap().catalogue().len(), n);
    assert!(matches!(
        p.portal.remove("no-such-service", "operator:test").await,
        Err(DomainError::NotFound)
    ));

    // The other process sees nothing until it refreshes, then everything.
    assert_eq!(first_hit(&other, "quokka").await, None);
    assert!(other.portal.refresh().await.unwrap());
    assert!(
        !other.portal.refresh().await.unwrap(),
        "nothing new the second time"
    );
    assert_eq!(
        first_hit(&other, "quokka").await.as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        first_hit(&other, "wombat").await.as_deref(),
        Some("zz-new-service")
    );

    // A restart (a fresh process) reads the same catalogue from the database.
    let restarted = Platform {
        portal: Arc::new(Portal::new(p.env.clone())),
        ..p.clone()
    };
    let again = restarted.portal.index().await.unwrap();
    assert_eq!(
        again.catalogue(),
        p.portal.index().await.unwrap().catalogue()
    );

    // Every edit is in the audit log.
    let kinds = crate::testing::audit_kinds(&p.db, "catalogue.").await;
    assert_eq!(
        kinds,
        [
            "catalogue.service_updated",
            "catalogue.service_added",
            "catalogue.service_removed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_editing_at_once_lose_nothing() {
    let t = platform().await;
    let p = &t.p;
    let index = p.portal.index().await.unwrap();
    // Two processes on one database, each with its own index and its own edit lock.
    let other = Platform {
        portal: Arc::new(Portal::new(p.env.clone())),
        ..p.clone()
    };
    other.portal.index().await.unwrap();
    const EACH: usize = 6;
    let edits = |who: &'static str, q: Platform| {
        let services: Vec<Service> = (0..EACH)
            .map(|i| {
                let mut s = index.catalogue().services()[i].clone();
                s.id = format!("zz-{who}-{i}");
                s.name = iamsmart_catalogue::Bilingual::new(format!("Race {who} {i}"), "同時編輯");
                s
            })
            .collect();
        tokio::spawn(async move {
            for s in services {
                q.portal.upsert(s, "operator:test").await?;
            }
            Ok::<_, DomainError>(())
        })
    };
    let (a, b) = tokio::join!(edits("a", p.clone()), edits("b", other.clone()));
    a.unwrap().unwrap();
    b.unwrap().unwrap();

    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM catalogue_edits ORDER BY seq")
        .fetch_all(p.db.reader())
        .await
        .unwrap();
    assert_eq!(seqs, (1..=2 * EACH as i64).collect::<Vec<_>>());
    // After a refresh both processes hold all twelve.
    p.portal.refresh().await.unwrap();
    other.portal.refresh().await.unwrap();
    for q in [p, &other] {
        let c = q.portal.index().await.unwrap();
        for who in ["a", "b"] {
            for i in 0..EACH {
                assert!(c.catalogue().get(&format!("zz-{who}-{i}")).is_some());
            }
        }
    }
}

#[tokio::test]
async fn a_bad_edit_is_refused_with_the_field_and_changes_nothing() {
    let t = platform().await;
    let p = &t.p;
    let index = p.portal.index().await.unwrap();
    let mut bad = index.catalogue().services()[0].clone();
    bad.url = "ftp://example.org/".into();
    match p.portal.upsert(bad, "operator:test").await {
        Err(DomainError::Invalid { field, message }) => {
            assert_eq!(field, "url", "{message}");
            assert!(message.contains("https"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let mut no_zh = index.catalogue().services()[0].clone();
    no_zh.name = iamsmart_catalogue::Bilingual::new("Fine", "Not Chinese");
    match p.portal.upsert(no_zh, "operator:test").await {
        Err(DomainError::Invalid { field, .. }) => assert_eq!(field, "name"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let edits: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM catalogue_edits")
        .fetch_one(p.db.reader())
        .await
        .unwrap();
    assert_eq!(edits, 0);
    assert_eq!(
        p.portal.index().await.unwrap().catalogue(),
        index.catalogue()
    );
}

#[tokio::test]
async fn favourites_are_checked_capped_and_listed_newest_first() {
    let t = platform().await;
    let p = &t.p;
    let index = p.portal.index().await.unwrap();
    let ids: Vec<String> = index
        .catalogue()
        .services()
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert!(matches!(
        favourites::add(&p.portal, "r1", "no-such-service").await,
        Err(DomainError::NotFound)
    ));
    favourites::add(&p.portal, "r1", &ids[0]).await.unwrap();
    t.clock.advance(1000);
    favourites::add(&p.portal, "r1", &ids[1]).await.unwrap();
    favourites::add(&p.portal, "r1", &ids[1]).await.unwrap();
    assert_eq!(
        favourites::list(p, "r1").await.unwrap(),
        [ids[1].clone(), ids[0].clone()]
    );
    assert!(favourites::list(p, "r2").await.unwrap().is_empty());
    favourites::remove(p, "r1", &ids[1]).await.unwrap();
    assert_eq!(favourites::list(p, "r1").await.unwrap(), [ids[0].clone()]);
    for id in &ids[1..usize::try_from(favourites::MAX_FAVOURITES).unwrap()] {
        favourites::add(&p.portal, "r1", id).await.unwrap();
    }
    assert!(matches!(
        favourites::add(&p.portal, "r1", &ids[60]).await,
        Err(DomainError::Refused { .. })
    ));
}

#[tokio::test]
async fn one_tap_goes_to_the_clients_initiate_login_uri_only() {
    let t = platform().await;
    let p = &t.p;
    let mut meta = clients::ClientMetadata::for_profile(
        "Demo",
        vec!["https://svc.example.org/callback".into()],
        crate::oidc::clients::ClientProfile::Basic,
    );
    meta.initiate_login_uri = Some("https://svc.example.org/login".into());
    let client = clients::register(&p.oidc, meta.clone(), "operator:test", true)
        .await
        .unwrap();
    let index = p.portal.index().await.unwrap();
    let mut s = index.catalogue().services()[0].clone();
    assert_eq!(
        one_tap_url(&p.oidc, &s).await.unwrap(),
        None,
        "not a client"
    );
    s.client_id = Some(client.client_id.to_string());
    s.features.one_tap_login = false;
    assert_eq!(
        one_tap_url(&p.oidc, &s).await.unwrap(),
        None,
        "one-tap login not offered"
    );
    s.features.one_tap_login = true;
    let url = one_tap_url(&p.oidc, &s).await.unwrap().unwrap();
    assert!(
        url.starts_with("https://svc.example.org/login?iss="),
        "{url}"
    );
    assert!(url.contains("target_link_uri="), "{url}");
    // Another site's address is refused at registration.
    meta.initiate_login_uri = Some("https://elsewhere.example.net/login".into());
    assert!(clients::register(&p.oidc, meta, "operator:test", true)
        .await
        .is_err());
}
