//! The Consented Data Exchange Gateway end to end: a bank asks for salaries tax and tenancy
//! data, the resident approves once in the app, the bank gets both (encrypted to its key), the
//! resident sees the dealing and revokes, and the next fetch fails. With the bad inputs around
//! it, and a canary check that no payload is kept.
mod common;
use common::rp::*;
use common::*;
use iamsmart_crypto::jwe::EncryptionKey;
use serde_json::{json, Value};

/// A resident of the seed who has a public rental tenancy (not every resident has one).
fn tenant_hkid() -> String {
    seed()
        .into_iter()
        .map(|r| r.hkid)
        .find(|h| iamsmart_sandbox::providers::record("hd", "public_rental_tenancy", h).is_some())
        .expect("a seed resident with a tenancy")
}

/// Log the resident in once so the service knows their subject; returns (subject, access token).
async fn subject_of(rp: &Rp, home: &std::path::Path) -> (String, String) {
    common::signing::login_with(rp, home, &[]).await
}

/// The waiting request of a kind in the app.
fn pending_of(home: &std::path::Path, kind: &str) -> Value {
    let pending = ok_json(&app(home, &["pending"]));
    pending
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} request in {pending}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_gets_tax_and_tenancy_data_with_one_approval_until_the_resident_revokes() {
    let site = Site::new().await;
    let srv = site.serve_process(&[]).await;
    let providers = start_providers(&srv.base).await;
    for dept in ["td", "ird", "hd", "edb"] {
        let def = iamsmart_sandbox::providers::definition(dept, &providers).unwrap();
        let r = register_provider(&srv, &def).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    // A provider definition with a mistake gets a clear error.
    let mut bad = iamsmart_sandbox::providers::definition("td", &providers).unwrap();
    bad["items"][0]["requesters"] = json!(["everyone"]);
    let r = register_provider(&srv, &bad).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("requesters"));

    let hkid = tenant_hkid();
    let home = site.dir.path().join("app-tenant");
    let o = site.run(
        &[
            "sandbox",
            "create-resident",
            "--app-home",
            home.to_str().unwrap(),
            "--level",
            "plus",
            "--pin",
            APP_PIN,
            "--kdf-memory-mib",
            TEST_KDF_MEMORY_MIB,
            "--hkid",
            &hkid,
        ],
        &[],
    );
    ok_json(&o);
    point_app(&home, &srv.base);

    // The bank: a FAPI 2.0 client, requester type bank, with an encryption key.
    let enc = EncryptionKey::generate("bank-enc-1").unwrap();
    let bank = Rp::register_with_keys(
        &site,
        &srv,
        "fapi2",
        &["--requester-type", "bank"],
        &[enc.public_jwk().unwrap()],
    );
    let (sub, resident_token) = subject_of(&bank, &home).await;
    let token = bank.client_token("gateway").await;

    // The catalogue lists what a bank may ask for.
    let cat: Value = get_json(
        &bank.http,
        &srv,
        "/gateway/v1/catalogue?requester_type=bank",
    )
    .await;
    let listed: Vec<String> = cat["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["provider"].as_str().unwrap(),
                i["item"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        listed.contains(&"ird/salaries_tax".to_string()),
        "{listed:?}"
    );
    assert!(listed.contains(&"hd/public_rental_tenancy".to_string()));
    assert!(
        !listed.contains(&"edb/school_attendance".to_string()),
        "government only"
    );

    // Authentication: a resident's token, a bound token sent as Bearer, no token.
    let r = bank
        .api(
            "POST",
            "/gateway/v1/consents",
            &resident_token,
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.status(), 401);
    let r = bank
        .http
        .get(srv.url("/gateway/v1/consents/dc_x"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("DPoP"));
    let r = bank
        .http
        .post(srv.url("/gateway/v1/fetch"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Bad requests: an unknown item, an item for government only, a vague purpose.
    let ask = |items: Value, purpose: &str| {
        json!({
            "login_hint": sub, "items": items, "purpose_code": "credit-assessment",
            "purpose_text": purpose, "fetch_type": "recurring", "frequency_per_day": 2,
            "valid_days": 30, "data_life_days": 90,
        })
    };
    for (items, purpose, status, needle) in [
        (
            json!([{ "provider": "ird", "item": "profits_tax" }]),
            "Mortgage application",
            422,
            "unknown item",
        ),
        (
            json!([{ "provider": "edb", "item": "school_attendance" }]),
            "Mortgage application",
            403,
            "requesters of your type",
        ),
        (
            json!([{ "provider": "ird", "item": "salaries_tax" }]),
            "x",
            422,
            "purpose_text",
        ),
    ] {
        let r = bank
            .api(
                "POST",
                "/gateway/v1/consents",
                &token,
                Some(&ask(items, purpose)),
            )
            .await;
        assert_eq!(r.status(), status);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{body}");
    }

    // One request for items of two departments.
    let items = json!([
        { "provider": "ird", "item": "salaries_tax" },
        { "provider": "hd", "item": "public_rental_tenancy" },
    ]);
    let r = bank
        .api(
            "POST",
            "/gateway/v1/consents",
            &token,
            Some(&ask(items, "Mortgage application for a flat")),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let consent: Value = r.json().await.unwrap();
    assert_eq!(consent["status"], "PENDING");
    let id = consent["consent_id"].as_str().unwrap().to_string();
    // Nothing can be fetched before the resident answers.
    let fetch_body = json!({ "consent_id": id, "purpose_code": "credit-assessment" });
    let r = bank
        .api("POST", "/gateway/v1/fetch", &token, Some(&fetch_body))
        .await;
    assert_eq!(r.status(), 422);

    // The resident sees both items, with each department named, and approves once.
    let req = pending_of(&home, "data_consent");
    let shown: Vec<&str> = req["details"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["provider_en"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["Inland Revenue Department", "Housing Department"]);
    assert_eq!(req["details"]["purpose"], "Mortgage application for a flat");
    let done = ok_json(&app(
        &home,
        &["approve", req["id"].as_str().unwrap(), "--yes"],
    ));
    assert_eq!(done["status"], "approved");

    // The consent is active, its artefact signed by the platform.
    let r = bank
        .api("GET", &format!("/gateway/v1/consents/{id}"), &token, None)
        .await;
    let consent: Value = r.json().await.unwrap();
    assert_eq!(consent["status"], "ACTIVE", "{consent}");
    let artefact = consent["artefact"].as_str().unwrap();
    let jwks: Value = get_json(&bank.http, &srv, "/.well-known/jwks.json").await;
    let keys = iamsmart_domain::oidc::clients::parse_jwks(&jwks).unwrap();
    let (header, payload) = iamsmart_crypto::jose::verify_compact(
        artefact,
        &keys,
        &[iamsmart_crypto::jose::Alg::ES256],
    )
    .unwrap();
    assert_eq!(header.typ.as_deref(), Some("consent+jwt"));
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["data_principal"]["sub"], sub.as_str());
    assert_eq!(claims["purpose"]["code"], "credit-assessment");
    assert_eq!(claims["permission"]["data_life_days"], 90);
    assert_eq!(claims["items"].as_array().unwrap().len(), 2);

    // A purpose that does not match is refused, and nothing is relayed.
    let wrong = json!({ "consent_id": id, "purpose_code": "marketing" });
    let r = bank
        .api("POST", "/gateway/v1/fetch", &token, Some(&wrong))
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("purpose"));

    // The bank gets both, encrypted to its key; the gateway could not read them.
    let r = bank
        .api("POST", "/gateway/v1/fetch", &token, Some(&fetch_body))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let got: Value = r.json().await.unwrap();
    let results = got["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{got}");
    let mut payloads = Vec::new();
    let http = reqwest::Client::new();
    for res in results {
        assert_eq!(res["status"], "ok", "{res}");
        let jwe = res["jwe"].as_str().unwrap();
        let (dept, item) = (
            res["provider"].as_str().unwrap(),
            res["item"].as_str().unwrap(),
        );
        // Signed by the provider inside the encryption: the bank proves where it came from
        // with the provider's own keys (issue 16, finding 11).
        let keys = iamsmart_sandbox::providers::provider_keys(&http, &srv.base, dept)
            .await
            .unwrap();
        let expected = iamsmart_sandbox::providers::ExpectedItem {
            provider: dept,
            client_id: &bank.client_id,
            consent_id: &id,
            item,
        };
        let data = iamsmart_sandbox::providers::open_item(&enc, jwe, &keys, &expected).unwrap();
        assert_eq!(
            data,
            iamsmart_sandbox::providers::record(dept, item, &hkid).unwrap(),
            "the provider's record for this resident"
        );
        // Another provider's keys, another consent or requester: refused.
        let other_keys = iamsmart_sandbox::providers::provider_keys(
            &http,
            &srv.base,
            if dept == "ird" { "hd" } else { "ird" },
        )
        .await
        .unwrap();
        assert!(iamsmart_sandbox::providers::open_item(&enc, jwe, &other_keys, &expected).is_err());
        for wrong in [
            iamsmart_sandbox::providers::ExpectedItem {
                consent_id: "dc_other",
                ..expected
            },
            iamsmart_sandbox::providers::ExpectedItem {
                client_id: "another-bank",
                ..expected
            },
        ] {
            assert!(iamsmart_sandbox::providers::open_item(&enc, jwe, &keys, &wrong).is_err());
        }
        // What anyone who knows the bank's public key (the gateway, say) could make, unsigned
        // or signed with a key of its own, is refused.
        let bank_key: iamsmart_crypto::jose::PublicJwk =
            serde_json::from_value(enc.public_jwk().unwrap()).unwrap();
        let forged_claims = json!({ "iss": dept, "aud": bank.client_id, "consent_id": id,
                                    "item": item, "iat": 0, "data": data });
        let unsigned =
            iamsmart_crypto::jwe::encrypt(&bank_key, forged_claims.to_string().as_bytes(), None)
                .unwrap();
        let forger = iamsmart_crypto::device::DeviceKey::generate().unwrap();
        let forged_jws = forger
            .sign_jws(
                iamsmart_proto::exchange::ITEM_TYP,
                keys[0].kid.as_deref().unwrap(),
                forged_claims.to_string().as_bytes(),
            )
            .unwrap();
        let forged =
            iamsmart_crypto::jwe::encrypt(&bank_key, forged_jws.as_bytes(), Some("JWT")).unwrap();
        for fake in [unsigned, forged] {
            assert!(iamsmart_sandbox::providers::open_item(&enc, &fake, &keys, &expected).is_err());
        }
        payloads.push((jwe.to_string(), data));
    }
    // An item outside the consent is refused.
    let outside = json!({ "consent_id": id, "purpose_code": "credit-assessment",
                          "items": [{ "provider": "td", "item": "driving_licence" }] });
    let r = bank
        .api("POST", "/gateway/v1/fetch", &token, Some(&outside))
        .await;
    assert_eq!(r.status(), 422);

    // Another requester cannot use the consent.
    let other = Rp::register_with_keys(
        &site,
        &srv,
        "fapi2",
        &["--requester-type", "bank"],
        &[EncryptionKey::generate("o").unwrap().public_jwk().unwrap()],
    );
    let other_token = other.client_token("gateway").await;
    let r = other
        .api("POST", "/gateway/v1/fetch", &other_token, Some(&fetch_body))
        .await;
    assert_eq!(r.status(), 404);

    // Twenty fetches at once on a consent of two a day, one already made: exactly one more is
    // relayed, the others are told when to come back (the limit is claimed before the providers
    // are asked, so that it holds at once).
    let answers = futures::future::join_all(
        (0..20).map(|_| bank.api("POST", "/gateway/v1/fetch", &token, Some(&fetch_body))),
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        19,
        "{statuses:?}"
    );

    // The resident sees the dealing, with the consent behind it, and gets the receipt.
    let d = ok_json(&app(&home, &["dealings"]));
    let service = d["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["client_id"] == bank.client_id.as_str())
        .unwrap()
        .clone();
    let dealings = service["dealings"].as_array().unwrap();
    let exchanges: Vec<&Value> = dealings
        .iter()
        .filter(|x| x["kind"] == "exchange")
        .collect();
    assert!(
        exchanges.iter().any(|x| x["provider"] == "ird"
            && x["outcome"] == "ok"
            && x["consent_id"] == id.as_str()),
        "{dealings:?}"
    );
    assert!(exchanges
        .iter()
        .any(|x| x["provider"] == "hd" && x["outcome"] == "ok"));
    assert!(
        exchanges
            .iter()
            .any(|x| x["outcome"] == "refused" && x["detail"] == "purpose does not match"),
        "refusals are visible too"
    );
    assert!(dealings.iter().any(|x| x["kind"] == "login"));
    assert!(dealings
        .iter()
        .any(|x| x["kind"] == "consent" && x["log_seq"].is_number()));
    assert_eq!(service["consents"][0]["consent_id"], id.as_str());
    let receipt = ok_json(&app(&home, &["receipt", &id]));
    assert_eq!(receipt["artefact"], artefact);
    // The receipt carries the log entry with its salt and proof; the public log shows only the
    // entry's salted commitment, the same leaf hash.
    let proof = &receipt["transparency_log"]["proof"];
    let seq = proof["entry"]["seq"].as_u64().unwrap();
    let entry = proof["entry"].to_string();
    assert!(
        entry.contains(receipt["artefact_sha256"].as_str().unwrap()),
        "the artefact's hash is in the transparency log: {entry}"
    );
    let public: Value = get_json(
        &bank.http,
        &srv,
        &format!("/transparency/v1/entries?start={seq}&end={}", seq + 1),
    )
    .await;
    assert_eq!(public[0]["leaf_hash"], proof["leaf_hash"]);
    assert!(!public
        .to_string()
        .contains(receipt["artefact_sha256"].as_str().unwrap()));

    // Pause stops fetches; resume restores them; revoke stops the next one for good.
    let paused = ok_json(&app(&home, &["data-consent", &id, "pause"]));
    assert_eq!(paused["status"], "PAUSED");
    let r = bank
        .api("POST", "/gateway/v1/fetch", &token, Some(&fetch_body))
        .await;
    assert_eq!(r.status(), 422);
    ok_json(&app(&home, &["data-consent", &id, "resume"]));
    let revoked = ok_json(&app(&home, &["data-consent", &id, "revoke"]));
    assert_eq!(revoked["status"], "REVOKED");
    let r = bank
        .api("POST", "/gateway/v1/fetch", &token, Some(&fetch_body))
        .await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("consent-not-active"), "{body}");
    let r = bank
        .api("GET", &format!("/gateway/v1/consents/{id}"), &token, None)
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "REVOKED");

    // No payload is kept anywhere: not the relayed ciphertext, not the data in clear.
    let metrics = reqwest::Client::new()
        .get(srv.url("/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    drop(srv);
    let stored = database_text(&site).await;
    let log = std::fs::read_to_string(site.log_path()).unwrap_or_default();
    for (jwe, data) in &payloads {
        let mut needles = vec![jwe[jwe.len() - 40..].to_string()];
        for v in data.as_object().unwrap().values() {
            if let Some(s) = v.as_str() {
                if s.len() >= 6 {
                    needles.push(s.to_string());
                }
            }
        }
        for n in needles {
            assert!(!stored.contains(&n), "{n} found in the database");
            assert!(!log.contains(&n), "{n} found in the log");
            assert!(!metrics.contains(&n), "{n} found in the metrics");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_is_down_or_answers_garbage_relays_nothing() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    // A "provider" that answers garbage (unsigned), and one that is not there at all.
    let garbage = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let garbage_url = format!("http://{}", garbage.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async { "<html>oops</html>" });
        axum::serve(garbage, app).await.unwrap();
    });
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    for (id, base) in [("garbage", &garbage_url), ("down", &down)] {
        let mut def = iamsmart_sandbox::providers::definition("ird", base).unwrap();
        def["id"] = json!(id);
        def["base_url"] = json!(base);
        let r = register_provider(&srv, &def).await;
        assert_eq!(r.status(), 201);
    }
    let (_, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    let enc = EncryptionKey::generate("enc").unwrap();
    let rp = Rp::register_with_keys(
        &site,
        &srv,
        "fapi2",
        &["--requester-type", "bank"],
        &[enc.public_jwk().unwrap()],
    );
    let (sub, _) = subject_of(&rp, &home).await;
    let token = rp.client_token("gateway").await;
    let r = rp
        .api(
            "POST",
            "/gateway/v1/consents",
            &token,
            Some(&json!({
                "login_hint": sub,
                "items": [{ "provider": "garbage", "item": "salaries_tax" }, { "provider": "down", "item": "salaries_tax" }],
                "purpose_code": "loan", "purpose_text": "Personal loan",
            })),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<Value>().await.unwrap()["consent_id"]
        .as_str()
        .unwrap()
        .to_string();
    let req = pending_of(&home, "data_consent");
    ok_json(&app(
        &home,
        &["approve", req["id"].as_str().unwrap(), "--yes"],
    ));
    let r = rp
        .api(
            "POST",
            "/gateway/v1/fetch",
            &token,
            Some(&json!({ "consent_id": id, "purpose_code": "loan" })),
        )
        .await;
    assert_eq!(r.status(), 200);
    let got: Value = r.json().await.unwrap();
    for res in got["results"].as_array().unwrap() {
        assert_eq!(res["status"], "error", "{res}");
        assert!(res.get("jwe").is_none(), "nothing relayed");
        assert!(
            res["detail"].as_str().unwrap().contains("provider"),
            "{res}"
        );
    }
    // The failures are in the resident's dealings, and the once-only consent is not used up.
    let d = ok_json(&app(&home, &["dealings"]));
    let all = d.to_string();
    assert_eq!(all.matches("provider_error").count(), 2, "{all}");
    let r = rp
        .api("GET", &format!("/gateway/v1/consents/{id}"), &token, None)
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["fetches"], 0);
}

fn verify_platform_jws(jwks: &Value, jws: &str, typ: &str) -> Value {
    let keys = iamsmart_domain::oidc::clients::parse_jwks(jwks).unwrap();
    let (header, payload) =
        iamsmart_crypto::jose::verify_compact(jws, &keys, &[iamsmart_crypto::jose::Alg::ES256])
            .unwrap();
    assert_eq!(header.typ.as_deref(), Some(typ));
    serde_json::from_slice(&payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eme_form_filling_pushed_or_by_qr_code_releases_exactly_the_approved_fields() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let (resident, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let jwks: Value = get_json(&reqwest::Client::new(), &srv, "/.well-known/jwks.json").await;

    // A FAPI service with an encryption key, knowing the resident from an earlier login.
    let enc = EncryptionKey::generate("svc-enc").unwrap();
    let svc = Rp::register_with_keys(&site, &srv, "fapi2", &[], &[enc.public_jwk().unwrap()]);
    let (sub, _) = subject_of(&svc, &home).await;
    let token = svc.client_token("eme").await;
    let form =
        json!({ "name": "Application for International Driving Permit", "number": "TD 118" });
    let ask = |hint: Option<&str>| {
        json!({
            "login_hint": hint, "form": form,
            "fields": ["name_en", "name_zh", "birthdate", "mobile"], "optional_fields": ["mobile"],
        })
    };

    // Bad requests.
    let mut bad = ask(Some(&sub));
    bad["fields"] = json!(["name_en", "salary"]);
    let r = svc
        .api("POST", "/eme/v1/requests", &token, Some(&bad))
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("unknown field"));
    let gateway_only = svc.client_token("gateway").await;
    let r = svc
        .api(
            "POST",
            "/eme/v1/requests",
            &gateway_only,
            Some(&ask(Some(&sub))),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));

    // Pushed to the resident's phone; the resident leaves out the optional mobile number.
    let r = svc
        .api("POST", "/eme/v1/requests", &token, Some(&ask(Some(&sub))))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let started: Value = r.json().await.unwrap();
    let path = format!(
        "/eme/v1/requests/{}",
        started["request_id"].as_str().unwrap()
    );
    let poll = || svc.api("GET", &path, &token, None);
    assert_eq!(
        poll().await.json::<Value>().await.unwrap()["status"],
        "pending"
    );
    let req = pending_of(&home, "eme");
    assert_eq!(req["details"]["form"]["number"], "TD 118");
    assert_eq!(req["match_code"], started["match_code"]);
    ok_json(&app(
        &home,
        &[
            "approve",
            req["id"].as_str().unwrap(),
            "--match",
            started["match_code"].as_str().unwrap(),
            "--fields",
            "name_en,name_zh,birthdate",
            "--yes",
        ],
    ));
    let out: Value = poll().await.json().await.unwrap();
    assert_eq!(out["status"], "approved", "{out}");
    assert_eq!(out["fields"], json!(["name_en", "name_zh", "birthdate"]));
    let data = out["data"].as_str().unwrap();
    assert_eq!(data.split('.').count(), 5, "encrypted to the service's key");
    let jws = String::from_utf8(enc.decrypt(data).unwrap()).unwrap();
    let claims = verify_platform_jws(&jwks, &jws, "eme+jwt");
    assert_eq!(claims["aud"], svc.client_id.as_str());
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["form"]["name"], form["name"]);
    assert_eq!(claims["eme"]["name"], resident["name_en"]);
    assert!(claims["eme"]["birthdate"].is_string());
    assert!(
        claims["eme"].get("phone_number").is_none(),
        "the optional field left out"
    );
    assert!(claims["eme"].get("hkid").is_none());
    // Delivered once.
    let again: Value = poll().await.json().await.unwrap();
    assert_eq!(again["status"], "delivered");
    assert!(again.get("data").is_none());

    // Leaving out a field the form needs is a refusal, not a partial form.
    let r = svc
        .api("POST", "/eme/v1/requests", &token, Some(&ask(Some(&sub))))
        .await;
    let started: Value = r.json().await.unwrap();
    let req = pending_of(&home, "eme");
    ok_json(&app(
        &home,
        &[
            "approve",
            req["id"].as_str().unwrap(),
            "--fields",
            "mobile",
            "--yes",
        ],
    ));
    let out: Value = svc
        .api(
            "GET",
            &format!(
                "/eme/v1/requests/{}",
                started["request_id"].as_str().unwrap()
            ),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["status"], "denied");
    assert!(out["reason"].as_str().unwrap().contains("name_en"), "{out}");
    assert!(out.get("data").is_none());
    // Every later poll gives the same answer, with the reason.
    let again: Value = svc
        .api(
            "GET",
            &format!(
                "/eme/v1/requests/{}",
                started["request_id"].as_str().unwrap()
            ),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, out);

    // Anonymous e-ME: a service with a secret and no keys shows a QR code; the resident scans
    // it; the data comes signed (not encrypted: the service registered no key).
    let kiosk = Rp::register(&site, &srv, "basic", &[]);
    let ktoken = kiosk.client_token("eme").await;
    // The gateway is not for a client that authenticates with a secret: its requests are signed.
    let r = kiosk
        .post(
            "/token",
            &[("grant_type", "client_credentials"), ("scope", "gateway")],
            false,
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "unauthorized_client", "{e}");
    assert!(e["error_description"]
        .as_str()
        .unwrap()
        .contains("private_key_jwt"));
    let r = kiosk
        .api("POST", "/eme/v1/requests", &ktoken, Some(&ask(None)))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let started: Value = r.json().await.unwrap();
    let qr = started["qr"].as_str().unwrap();
    assert!(qr.starts_with("iamsmart:approve?id="));
    ok_json(&app(
        &home,
        &[
            "approve",
            qr,
            "--match",
            started["match_code"].as_str().unwrap(),
            "--yes",
        ],
    ));
    let kpath = format!(
        "/eme/v1/requests/{}",
        started["request_id"].as_str().unwrap()
    );
    let out: Value = kiosk
        .api("GET", &kpath, &ktoken, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["status"], "approved", "{out}");
    let claims = verify_platform_jws(&jwks, out["data"].as_str().unwrap(), "eme+jwt");
    assert_eq!(claims["aud"], kiosk.client_id.as_str());
    assert_eq!(claims["eme"]["name"], resident["name_en"]);
    // Another service cannot read it.
    let r = svc.api("GET", &kpath, &token, None).await;
    assert_eq!(r.status(), 404);
    // The pairwise subject the kiosk learnt names the resident from now on: a request pushed
    // to the phone with it as the hint arrives (it was once "unknown" until a login).
    let sub = claims["sub"].as_str().unwrap();
    let r = kiosk
        .api("POST", "/eme/v1/requests", &ktoken, Some(&ask(Some(sub))))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let pending: Vec<Value> = serde_json::from_value(ok_json(&app(&home, &["pending"]))).unwrap();
    assert!(
        pending.iter().any(|p| p["kind"] == "eme"),
        "the pushed request is on the phone: {pending:?}"
    );
    ok_json(&app(
        &home,
        &[
            "deny",
            pending.iter().find(|p| p["kind"] == "eme").unwrap()["id"]
                .as_str()
                .unwrap(),
        ],
    ));

    // A denial.
    let r = kiosk
        .api("POST", "/eme/v1/requests", &ktoken, Some(&ask(None)))
        .await;
    let started: Value = r.json().await.unwrap();
    let o = app(&home, &["deny", started["qr"].as_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out: Value = kiosk
        .api(
            "GET",
            &format!(
                "/eme/v1/requests/{}",
                started["request_id"].as_str().unwrap()
            ),
            &ktoken,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["status"], "denied");

    // Both releases are in the resident's dealings, with the form named and the fields listed.
    let d = ok_json(&app(&home, &["dealings"]));
    let emes: Vec<Value> = d["services"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["dealings"].as_array().unwrap().clone())
        .filter(|x| x["kind"] == "eme")
        .collect();
    assert_eq!(emes.len(), 2, "{d}");
    assert!(emes.iter().all(|x| x["detail"] == form["name"]));
    assert!(emes
        .iter()
        .any(|x| x["items"] == json!(["name_en", "name_zh", "birthdate"])));
}
