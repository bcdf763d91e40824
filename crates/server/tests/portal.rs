//! The single portal over HTTP: pages without an account in both languages,
//! search (everyday and hostile queries), cluster and service pages, the web app manifest,
//! and operators' catalogue edits (checked, searchable at once, seen by a second process).
mod common;
use common::*;

async fn page(c: &reqwest::Client, url: String, lang: &str) -> (u16, String) {
    let r = c
        .get(url)
        .header("accept-language", lang)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
    (status, r.text().await.unwrap())
}

/// The service ids in a results page, in order.
fn result_ids(html: &str) -> Vec<String> {
    html.split("<h3><a href=\"/services/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

fn query(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

#[tokio::test]
async fn portal_pages_search_clusters_and_manifest_without_an_account() {
    let site = Site::new().await;
    let srv = site
        .serve(&[("IAMSMART_HTTP__RATE_LIMIT_PER_IP_PER_MINUTE", "0")])
        .await;
    let c = reqwest::Client::new();

    let (status, en) = page(&c, srv.url("/"), "en").await;
    assert_eq!(status, 200);
    assert!(en.contains("<html lang=\"en\""));
    assert!(en.contains("Browse by theme") && en.contains("href=\"/topics/theme/education\""));
    assert!(en.contains("href=\"/topics/life-event/"), "life events");
    assert!(en.contains("href=\"/topics/age-group/elderly\""));
    assert!(en.contains("rel=\"manifest\""));
    assert_eq!(result_ids(&en).len(), 8, "popular services");
    let (_, zh) = page(&c, srv.url("/"), "zh-HK").await;
    assert!(zh.contains("<html lang=\"zh-HK\"") && zh.contains("按主題瀏覽"));
    // Simplified Chinese (issue 17): the whole page converted, the language links named in their
    // own script, the catalogue's services too.
    let (_, hans) = page(&c, srv.url("/"), "zh-Hans").await;
    assert!(hans.contains("<html lang=\"zh-Hans\"") && hans.contains("按主题浏览"));
    assert!(!hans.contains("按主題瀏覽") && !hans.contains("\u{E000}"));
    assert!(hans.contains("hreflang=\"zh-HK\">繁體中文</a>") && hans.contains(">English</a>"));
    assert!(zh.contains("hreflang=\"zh-Hans\">简体中文</a>"));
    let (_, chosen) = page(&c, srv.url("/?lang=zh-Hans"), "en").await;
    assert!(chosen.contains("<html lang=\"zh-Hans\""), "chosen by link");

    // Everyday questions in both languages find their service first.
    for (q, lang, expected) in [
        ("renew my ID card", "en", "immd-id-card-replacement"),
        (
            "apply for public housing",
            "en",
            "ha-public-rental-housing-application",
        ),
        ("申請公屋", "zh-HK", "ha-public-rental-housing-application"),
        ("續領身份證", "zh-HK", "immd-id-card-replacement"),
        (
            "申请公屋",
            "zh-Hans",
            "ha-public-rental-housing-application",
        ),
    ] {
        let (status, html) = page(&c, srv.url(&format!("/services?q={}", query(q))), lang).await;
        assert_eq!(status, 200);
        let ids = result_ids(&html);
        assert!(
            ids.iter().take(3).any(|i| i == expected),
            "{q}: {expected} not in the top 3 of {ids:?}"
        );
        assert!(
            html.contains(&format!("value=\"{}\"", q)),
            "the query stays in the box"
        );
    }
    // A typo is corrected and said so.
    let (_, html) = page(&c, srv.url("/services?q=pasport"), "en").await;
    assert!(html.contains("instead of"), "correction note");
    assert!(!result_ids(&html).is_empty());

    // Hostile or empty queries get a friendly page, never an error.
    let long = "身份證 ID card ".repeat(800);
    for q in [
        "",
        "   ",
        "\"unclosed AND (OR NOT *",
        "field:value +must -not ~2 ^3 [a TO b]",
        "<script>alert(1)</script>",
        "🙂🙂🙂",
        "\u{0000}\u{0007}",
        "zzqxv wombatly",
        long.as_str(),
    ] {
        let url = format!("/services?q={}", query(q));
        let (status, html) = page(&c, srv.url(&url), "en").await;
        assert_eq!(status, 200, "{q:?}");
        assert!(!html.contains("<script>alert"), "escaped: {q:?}");
        assert!(html.contains("id=\"search-status\""));
    }
    let (_, html) = page(&c, srv.url("/services?q="), "en").await;
    assert!(html.contains("Type what you are looking for"));
    let (_, html) = page(&c, srv.url("/services?q=zzqxv+wombatly"), "en").await;
    assert!(html.contains("No service matches that"));
    let (_, html) = page(&c, srv.url(&format!("/services?q={}", query(&long))), "en").await;
    assert!(html.contains("only its beginning was used"));
    // Repeated parameters are not an error either.
    let (status, _) = page(&c, srv.url("/services?q=tax&q=rates"), "en").await;
    assert_eq!(status, 200);

    // Cluster pages bring services of different departments together.
    let (status, html) = page(&c, srv.url("/topics/theme/education"), "en").await;
    assert_eq!(status, 200);
    let ids = result_ids(&html);
    assert!(ids.len() >= 3, "{ids:?}");
    assert!(html.contains("from different departments"));
    let (status, html) = page(&c, srv.url("/topics/age-group/elderly"), "zh-HK").await;
    assert_eq!(status, 200);
    assert!(html.contains("長者"));
    let (status, _) = page(&c, srv.url("/topics/theme/no-such-theme"), "en").await;
    assert_eq!(status, 404);

    // A service's page, and going to it: the website when it is not a client here.
    let (status, html) = page(&c, srv.url("/services/immd-id-card-replacement"), "en").await;
    assert_eq!(status, 200);
    assert!(html.contains("Immigration Department"));
    assert!(html.contains("Go to the service"));
    assert!(
        !html.contains("id=\"favourite\""),
        "favourites need signing in"
    );
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect
        .get(srv.url("/services/immd-id-card-replacement/go"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("https://"));
    let (status, _) = page(&c, srv.url("/services/no-such-service"), "en").await;
    assert_eq!(status, 404);

    // Installable: a manifest with an icon.
    let m: serde_json::Value = c
        .get(srv.url("/manifest.webmanifest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["start_url"], "/");
    assert_eq!(m["display"], "standalone");
    let icon = m["icons"][0]["src"].as_str().unwrap();
    let r = c.get(srv.url(icon)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().starts_with("<svg"));
}

#[tokio::test]
async fn operators_edit_the_catalogue_and_every_process_sees_it() {
    let site = Site::new().await;
    let fast = [
        ("IAMSMART_HTTP__RATE_LIMIT_PER_IP_PER_MINUTE", "0"),
        ("IAMSMART_AUDIT__TREE_HEAD_INTERVAL_SECS", "1"),
    ];
    let a = site.serve(&fast).await;
    let b = site.serve(&fast).await;
    let c = reqwest::Client::new();
    let admin = |r: reqwest::RequestBuilder| r.bearer_auth(ADMIN_TOKEN);
    // Process b has built its index before the edit.
    let (_, html) = page(&c, b.url("/services?q=wombat"), "en").await;
    assert!(result_ids(&html).is_empty());

    let r = c
        .put(a.url("/admin/v1/catalogue/services/zz-wombat"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the operator's token is needed");

    let mut svc: serde_json::Value =
        admin(c.get(a.url("/admin/v1/catalogue/services/immd-id-card-replacement")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    svc["id"] = "zz-wombat".into();
    svc["name"] = serde_json::json!({ "en": "Wombat crossing permit", "zh": "袋熊過路許可證" });

    // Wrong: the path and body disagree; a field breaks a rule (named in the answer).
    let r = admin(c.put(a.url("/admin/v1/catalogue/services/other-id")))
        .json(&svc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let mut bad = svc.clone();
    bad["url"] = "javascript:alert(1)".into();
    let r = admin(c.put(a.url("/admin/v1/catalogue/services/zz-wombat")))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let problem: serde_json::Value = r.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("url"),
        "{problem}"
    );
    let mut unknown = svc.clone();
    unknown["colour"] = "green".into();
    let r = admin(c.put(a.url("/admin/v1/catalogue/services/zz-wombat")))
        .json(&unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "unknown fields are refused");

    let r = admin(c.put(a.url("/admin/v1/catalogue/services/zz-wombat")))
        .json(&svc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = admin(c.put(a.url("/admin/v1/catalogue/services/zz-wombat")))
        .json(&svc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a replacement");
    // Searchable at once where it was made...
    let (_, html) = page(&c, a.url("/services?q=wombat"), "en").await;
    assert_eq!(
        result_ids(&html).first().map(String::as_str),
        Some("zz-wombat")
    );
    // ... and in the other server after its next refresh.
    let mut seen = false;
    for _ in 0..50 {
        let (_, html) = page(&c, b.url("/services?q=%E8%A2%8B%E7%86%8A"), "zh-HK").await;
        if result_ids(&html).first().map(String::as_str) == Some("zz-wombat") {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(seen, "the second process picked the edit up");

    let r = admin(c.delete(a.url("/admin/v1/catalogue/services/zz-wombat")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = admin(c.delete(a.url("/admin/v1/catalogue/services/zz-wombat")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (status, _) = page(&c, a.url("/services/zz-wombat"), "en").await;
    assert_eq!(status, 404);
    // A restart reads the edits from the database.
    drop(a);
    let a2 = site.serve(&fast).await;
    let (status, _) = page(&c, a2.url("/services/zz-wombat"), "en").await;
    assert_eq!(status, 404);
    let listed: serde_json::Value = admin(c.get(a2.url("/admin/v1/catalogue/services")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed["services"].as_array().unwrap().len() >= 100);
}
