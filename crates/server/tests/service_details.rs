//! Issue 17: a service registers its name, department and purpose in English, Traditional and
//! Simplified Chinese (RFC 7591 language-tagged metadata); the login and consent pages and the
//! app show the reader's language, and a Chinese page never shows the English name. A
//! self-registered service cannot take a department's or another service's name in any
//! language, nor hide characters in it.
mod common;
use common::rp::*;
use common::signing::percent;
use common::*;
use serde_json::{json, Value};

const NAME_EN: &str = "Kowloon Tea House Rewards";
const NAME_HANT: &str = "九龍茶樓會員獎賞";
const NAME_HANS: &str = "九龙茶楼会员奖赏";
const ORG_EN: &str = "Kowloon Tea House Limited";
const ORG_HANT: &str = "九龍茶樓有限公司";
const PURPOSE_EN: &str = "To open your rewards account";
const PURPOSE_HANT: &str = "為你開立會員獎賞帳戶";

fn metadata(key: &Key, host: &str) -> Value {
    json!({
        "client_name": NAME_EN,
        "client_name#zh-Hant": NAME_HANT,
        "client_name#zh-Hans": NAME_HANS,
        "iamsmart_department": ORG_EN,
        "iamsmart_department#zh-HK": ORG_HANT,
        "iamsmart_purpose": PURPOSE_EN,
        "iamsmart_purpose#zh-Hant": PURPOSE_HANT,
        "iamsmart_retention_days": 180,
        "iamsmart_data_contact": "privacy@teahouse.example",
        "iamsmart_pics_uri": "https://teahouse.example/privacy",
        "redirect_uris": [format!("https://{host}/cb")],
        "jwks": key.jwks(),
        "token_endpoint_auth_method": "private_key_jwt",
        "iamsmart_profile": "basic",
        "grant_types": ["authorization_code"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_s_details_are_shown_in_the_reader_s_language_everywhere() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let tok = initial_token(&site, 20);
    let c = reqwest::Client::new();
    let key = Key::new("k1");
    let register = |body: Value| {
        let req = c.post(srv.url("/register")).bearer_auth(&tok).json(&body);
        async move { req.send().await.unwrap() }
    };

    // Registered in three languages; the registration answers with the tagged names.
    let r = register(metadata(&key, "teahouse.example")).await;
    assert_eq!(r.status(), 201);
    let reg: Value = r.json().await.unwrap();
    assert_eq!(reg["client_name#zh-Hant"], NAME_HANT);
    assert_eq!(reg["client_name#zh-Hans"], NAME_HANS);
    assert_eq!(
        reg["iamsmart_department#zh-Hant"], ORG_HANT,
        "zh-HK is zh-Hant"
    );
    let client_id = reg["client_id"].as_str().unwrap().to_string();

    // Refused: a department's Chinese name, a department as the organisation, another
    // service's Chinese name, hidden direction overrides, an overlong purpose.
    let refused = [
        ("client_name#zh-Hant", json!("運輸署")),
        ("iamsmart_department", json!("Transport Department")),
        ("iamsmart_department#zh-Hant", json!("香港特別行政區政府")),
        ("client_name#zh-Hans", json!(NAME_HANS)),
        ("client_name#zh-Hant", json!("九龍\u{202e}茶樓")),
        ("iamsmart_purpose", json!("x".repeat(301))),
        ("iamsmart_retention_days", json!(0)),
        (
            "iamsmart_pics_uri",
            json!("http://teahouse.example/privacy"),
        ),
    ];
    for (i, (field, value)) in refused.iter().enumerate() {
        let mut body = metadata(&key, &format!("other{i}.example"));
        body["client_name"] = json!(format!("Another Shop {i}"));
        body["client_name#zh-Hant"] = json!(format!("另一間店{i}"));
        body["client_name#zh-Hans"] = json!(format!("另一间店{i}"));
        body["iamsmart_department"] = json!("Another Shop Limited");
        // (One key per language: the accepted case spells it zh-HK.)
        body.as_object_mut()
            .unwrap()
            .remove("iamsmart_department#zh-HK");
        body["iamsmart_department#zh-Hant"] = json!("另一間店有限公司");
        body[field] = value.clone();
        let r = register(body).await;
        assert_eq!(r.status(), 400, "{field} = {value}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"], "invalid_client_metadata", "{field}: {e}");
        // The description names the field that is wrong.
        let named = field.split('#').next().unwrap();
        assert!(
            e["error_description"]
                .as_str()
                .unwrap_or_default()
                .starts_with(named),
            "{field}: {e}"
        );
    }

    // The login page in each language; the app's view of the request carries all three.
    let redirect_uri = "https://teahouse.example/cb";
    let (_, challenge) = pkce();
    let auth = |lang: &str| {
        srv.url(&format!(
            "/authorize?client_id={client_id}&response_type=code&redirect_uri={}&scope=openid%20eme.mobile&state=s&code_challenge={challenge}&code_challenge_method=S256&ui_locales={lang}",
            percent(redirect_uri)
        ))
    };
    let zh = open_login(&browser(), &auth("zh-HK")).await;
    assert!(
        zh.html.contains(NAME_HANT) && zh.html.contains(ORG_HANT),
        "{}",
        zh.html
    );
    assert!(
        !zh.html.contains(NAME_EN) && !zh.html.contains(ORG_EN),
        "no English name on the Chinese page"
    );
    let en = open_login(&browser(), &auth("en")).await;
    assert!(en.html.contains(NAME_EN) && en.html.contains(ORG_EN));
    assert!(!en.html.contains(NAME_HANT));
    let shown = ok_json(&app(&home, &["show", &zh.qr]));
    assert_eq!(shown["service"]["name"]["zh-Hant"], NAME_HANT, "{shown}");
    assert_eq!(shown["service"]["name"]["en"], NAME_EN);
    assert_eq!(shown["service"]["department"]["zh-Hant"], ORG_HANT);
    assert_eq!(shown["service"]["purpose"]["zh-Hant"], PURPOSE_HANT);
    assert!(
        shown["details"].get("service_details").is_none(),
        "lifted out of the details"
    );

    // The consent page after the approval, in Chinese: the registered purpose in Chinese.
    let b = browser();
    let page = open_login(&b, &auth("zh-HK")).await;
    let done = ok_json(&app(
        &home,
        &["approve", &page.qr, "--match", &page.match_code, "--yes"],
    ));
    assert_eq!(done["status"], "approved");
    let r = b.get(srv.url(&page.continue_url)).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("consent-form"), "{html}");
    assert!(
        html.contains(NAME_HANT) && html.contains(PURPOSE_HANT),
        "{html}"
    );
    // The collection statement: who receives the data, for how long, the rights and where.
    for part in [
        "收集個人資料聲明",
        "由你提供當日起計180日",
        "privacy@teahouse.example",
        "《個人資料（私隱）條例》",
        "href=\"https://teahouse.example/privacy\"",
    ] {
        assert!(html.contains(part), "{part}: {html}");
    }
    assert!(
        !html.contains(NAME_EN) && !html.contains(PURPOSE_EN),
        "{html}"
    );
}
