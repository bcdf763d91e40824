//! Conformance-style negative tests of what the provider accepts as JWTs: client assertions,
//! DPoP proofs, request objects and access tokens; key rotation; concurrent single-use items.
mod common;
use common::rp::*;
use common::*;
use serde_json::{json, Value};

fn percent(s: &str) -> String {
    iamsmart_domain::oidc::authorize::urlencode(s)
}

async fn setup() -> (Site, Server, Rp) {
    let site = Site::new().await;
    let srv = site
        .serve(&[("IAMSMART_HTTP__RATE_LIMIT_PER_IP_PER_MINUTE", "0")])
        .await;
    let rp = Rp::register(&site, &srv, "fapi2", &[]);
    (site, srv, rp)
}

/// A JWT with any header and claims, signed by `key` (or with the given raw signature).
fn forge(header: &Value, claims: &Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(sig)
    )
}

fn sign_as(key: &Key, header: Value, claims: &Value) -> String {
    let h: iamsmart_crypto::jose::JwsHeader = serde_json::from_value(header).unwrap();
    key.key
        .sign_with(&h, claims.to_string().as_bytes())
        .unwrap()
}

fn assertion_claims(rp: &Rp) -> Value {
    json!({ "iss": rp.client_id, "sub": rp.client_id, "aud": rp.base, "exp": now_s() + 60, "iat": now_s(), "jti": random() })
}

/// PAR with a given client assertion; returns the error code (or "ok").
async fn par_with_assertion(rp: &Rp, assertion: &str) -> String {
    let form = [
        ("response_type", "code"),
        ("client_id", rp.client_id.as_str()),
        ("redirect_uri", rp.redirect_uri.as_str()),
        ("scope", "openid"),
        ("code_challenge", &pkce().1),
        ("code_challenge_method", "S256"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ];
    let r = rp
        .http
        .post(rp.url("/par"))
        .form(&form)
        .send()
        .await
        .unwrap();
    if r.status() == 201 {
        return "ok".into();
    }
    r.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn client_assertion_with_wrong_aud_is_refused() {
    let (_s, _srv, rp) = setup().await;
    let mut c = assertion_claims(&rp);
    c["aud"] = json!("https://other.example");
    assert_eq!(
        par_with_assertion(&rp, &rp.key.sign("JWT", &c)).await,
        "invalid_client"
    );
    assert_eq!(
        par_with_assertion(&rp, &rp.key.sign("JWT", &assertion_claims(&rp))).await,
        "ok"
    );
}

#[tokio::test]
async fn client_assertion_past_exp_is_refused() {
    let (_s, _srv, rp) = setup().await;
    let mut c = assertion_claims(&rp);
    c["exp"] = json!(now_s() - 120);
    assert_eq!(
        par_with_assertion(&rp, &rp.key.sign("JWT", &c)).await,
        "invalid_client"
    );
}

#[tokio::test]
async fn client_assertion_without_sub_is_refused() {
    let (_s, _srv, rp) = setup().await;
    let mut c = assertion_claims(&rp);
    c.as_object_mut().unwrap().remove("sub");
    assert_eq!(
        par_with_assertion(&rp, &rp.key.sign("JWT", &c)).await,
        "invalid_client"
    );
}

#[tokio::test]
async fn client_assertion_jti_replay_is_refused() {
    let (_s, _srv, rp) = setup().await;
    let a = rp.key.sign("JWT", &assertion_claims(&rp));
    assert_eq!(par_with_assertion(&rp, &a).await, "ok");
    assert_eq!(par_with_assertion(&rp, &a).await, "invalid_client");
}

/// An assertion is recorded with the effect it authorises: a request refused for another reason
/// leaves it unused (so that a client's corrected retry works), and once it has been accepted,
/// every endpoint refuses it.
#[tokio::test]
async fn a_refused_request_leaves_its_assertion_unused_and_an_accepted_one_is_refused_everywhere() {
    let (_s, _srv, rp) = setup().await;
    let a = rp.key.sign("JWT", &assertion_claims(&rp));
    let post = |path: &str, params: &[(&str, &str)]| {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.push((
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ));
        form.push(("client_assertion", a.as_str()));
        rp.http.post(rp.url(path)).form(&form).send()
    };
    let bad = post(
        "/par",
        &[
            ("response_type", "code"),
            ("client_id", rp.client_id.as_str()),
            ("redirect_uri", "https://elsewhere.example/cb"),
            ("scope", "openid"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(par_with_assertion(&rp, &a).await, "ok");
    assert_eq!(par_with_assertion(&rp, &a).await, "invalid_client");
    for path in ["/token", "/introspect", "/revoke", "/bc-authorize"] {
        let params = [
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("token", "x"),
        ];
        let r = post(path, &params).await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{path}: {body}");
    }
}

#[tokio::test]
async fn client_assertion_with_a_disallowed_alg_is_refused() {
    let (_s, _srv, rp) = setup().await;
    let c = assertion_claims(&rp);
    // alg none.
    let none = forge(&json!({ "alg": "none" }), &c, b"");
    assert_eq!(par_with_assertion(&rp, &none).await, "invalid_client");
    // HS256 keyed with the client's public key (the classic confusion attack).
    let key = rp.key.jwk().to_string();
    let header = json!({ "alg": "HS256", "kid": rp.key.kid });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(c.to_string().as_bytes())
    );
    let mac = iamsmart_crypto::hash::hmac_sha256(key.as_bytes(), input.as_bytes());
    assert_eq!(
        par_with_assertion(&rp, &format!("{input}.{}", b64(&mac))).await,
        "invalid_client"
    );
}

#[tokio::test]
async fn jwts_with_embedded_keys_are_refused() {
    let (_s, _srv, rp) = setup().await;
    let attacker = Key::new("attacker");
    for member in ["jwk", "jku", "x5u"] {
        let value = match member {
            "jwk" => attacker.jwk(),
            _ => json!("https://evil.example/keys"),
        };
        let mut h = json!({ "alg": "ES256", "kid": rp.key.kid, "typ": "JWT" });
        h[member] = value;
        let a = sign_as(&attacker, h, &assertion_claims(&rp));
        assert_eq!(
            par_with_assertion(&rp, &a).await,
            "invalid_client",
            "{member}"
        );
    }
}

#[tokio::test]
async fn ecdsa_signature_r_s_zero_is_refused() {
    let (_s, _srv, rp) = setup().await;
    let h = json!({ "alg": "ES256", "kid": rp.key.kid });
    let a = forge(&h, &assertion_claims(&rp), &[0u8; 64]);
    assert_eq!(par_with_assertion(&rp, &a).await, "invalid_client");
}

#[tokio::test]
async fn kid_path_tricks_are_refused() {
    let (_s, _srv, rp) = setup().await;
    for kid in [
        "../../../../dev/null",
        "rp-key-1/../rp-key-1",
        "' OR '1'='1",
        "rp-key-1\u{0}",
    ] {
        let a = sign_as(
            &rp.key,
            json!({ "alg": "ES256", "kid": kid }),
            &assertion_claims(&rp),
        );
        assert_eq!(
            par_with_assertion(&rp, &a).await,
            "invalid_client",
            "{kid:?}"
        );
    }
}

#[tokio::test]
async fn forged_access_tokens_are_refused_at_userinfo() {
    let (_s, srv, rp) = setup().await;
    let jwks: Value = get_json(&rp.http, &srv, "/.well-known/jwks.json").await;
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    let claims = json!({ "iss": srv.base, "sub": "x", "aud": srv.base, "client_id": rp.client_id, "iat": now_s(), "exp": now_s() + 60, "jti": "j", "scope": "openid", "auth_time": now_s(), "acr": "urn:iamsmart:acr:plus", "gid": "g_x" });
    let none = forge(&json!({ "alg": "none", "typ": "at+jwt" }), &claims, b"");
    let hs = {
        let h = json!({ "alg": "HS256", "typ": "at+jwt", "kid": kid });
        let input = format!(
            "{}.{}",
            b64(h.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mac = iamsmart_crypto::hash::hmac_sha256(
            jwks["keys"][0].to_string().as_bytes(),
            input.as_bytes(),
        );
        format!("{input}.{}", b64(&mac))
    };
    let self_signed = sign_as(
        &rp.key,
        json!({ "alg": "ES256", "typ": "at+jwt", "kid": kid }),
        &claims,
    );
    for t in [none, hs, self_signed] {
        let r = rp.userinfo(&t, false).await;
        assert_eq!(r.status(), 401);
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
    }
}

/// A login's code and verifier, and the browser.
async fn code(site: &Site, srv: &Server, rp: &Rp) -> (String, String) {
    let (_, home) = resident_with_app(site, "basic").await;
    point_app(&home, &srv.base);
    let (request_uri, verifier, _, _) = rp.par("openid", &[]).await;
    let q = login(
        &browser(),
        &home,
        &rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )),
    )
    .await;
    (q["code"].clone(), verifier)
}

/// The token endpoint with a custom DPoP proof; returns the error code or "ok".
async fn token_with_proof(rp: &Rp, code: &str, verifier: &str, proof: &str) -> String {
    let mut form: Vec<(String, String)> = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", rp.redirect_uri.as_str()),
        ("code_verifier", verifier),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    form.extend(rp.auth());
    let r = rp
        .http
        .post(rp.url("/token"))
        .header("DPoP", proof)
        .form(&form)
        .send()
        .await
        .unwrap();
    if r.status() == 200 {
        return "ok".into();
    }
    r.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn dpop_with(key: &Key, header_extra: Value, claims: Value) -> String {
    let mut jwk = serde_json::to_value(key.key.public_jwk()).unwrap();
    jwk.as_object_mut().unwrap().remove("kid");
    let mut h = json!({ "alg": "ES256", "typ": "dpop+jwt", "jwk": jwk });
    for (k, v) in header_extra.as_object().unwrap() {
        h[k] = v.clone();
    }
    let h: iamsmart_crypto::jose::JwsHeader = serde_json::from_value(h).unwrap();
    key.key
        .sign_with(&h, claims.to_string().as_bytes())
        .unwrap()
}

#[tokio::test]
async fn dpop_proofs_that_are_wrong_are_refused() {
    let (site, srv, rp) = setup().await;
    let (code, verifier) = code(&site, &srv, &rp).await;
    let url = rp.url("/token");
    let good = || json!({ "jti": random(), "htm": "POST", "htu": url, "iat": now_s() });
    let cases: Vec<(&str, Value, Value)> = vec![
        ("missing jti", json!({}), {
            let mut c = good();
            c.as_object_mut().unwrap().remove("jti");
            c
        }),
        ("missing iat", json!({}), {
            let mut c = good();
            c.as_object_mut().unwrap().remove("iat");
            c
        }),
        ("missing htm", json!({}), {
            let mut c = good();
            c.as_object_mut().unwrap().remove("htm");
            c
        }),
        ("missing htu", json!({}), {
            let mut c = good();
            c.as_object_mut().unwrap().remove("htu");
            c
        }),
        // The allowed skew is 60 s: one second past it either way is refused.
        ("iat 61 s old", json!({}), {
            let mut c = good();
            c["iat"] = json!(now_s() - 61);
            c
        }),
        // Five seconds past the 60 s allowed: the server reads its clock later than the test
        // (in milliseconds, against whole seconds here), a second or more later on a loaded
        // machine, which would bring a proof 61 s ahead back inside the window.
        ("iat 65 s ahead", json!({}), {
            let mut c = good();
            c["iat"] = json!(now_s() + 65);
            c
        }),
        ("wrong htm", json!({}), {
            let mut c = good();
            c["htm"] = json!("GET");
            c
        }),
        ("wrong htu", json!({}), {
            let mut c = good();
            c["htu"] = json!(rp.url("/par"));
            c
        }),
        ("stale iat", json!({}), {
            let mut c = good();
            c["iat"] = json!(now_s() - 120);
            c
        }),
        ("future iat", json!({}), {
            let mut c = good();
            c["iat"] = json!(now_s() + 120);
            c
        }),
        ("wrong typ", json!({ "typ": "JWT" }), good()),
        (
            "private key in header",
            json!({ "jwk": { "kty": "EC", "crv": "P-256", "x": rp.dpop.jwk()["x"], "y": rp.dpop.jwk()["y"], "d": "AAAA" } }),
            good(),
        ),
    ];
    for (name, header, claims) in cases {
        let proof = dpop_with(&rp.dpop, header, claims);
        assert_eq!(
            token_with_proof(&rp, &code, &verifier, &proof).await,
            "invalid_dpop_proof",
            "{name}"
        );
    }
    // A clock ten seconds behind is fine; the proof works once: its replay is refused.
    let mut behind = good();
    behind["iat"] = json!(now_s() - 10);
    let proof = dpop_with(&rp.dpop, json!({}), behind);
    assert_eq!(token_with_proof(&rp, &code, &verifier, &proof).await, "ok");
    let (code2, verifier2) = self::code(&site, &srv, &rp).await;
    assert_eq!(
        token_with_proof(&rp, &code2, &verifier2, &proof).await,
        "invalid_dpop_proof",
        "replay"
    );
    // Ten seconds ahead is fine too (and the refused replay did not use up the code).
    let mut ahead = good();
    ahead["iat"] = json!(now_s() + 10);
    let proof = dpop_with(&rp.dpop, json!({}), ahead);
    assert_eq!(
        token_with_proof(&rp, &code2, &verifier2, &proof).await,
        "ok"
    );
}

#[tokio::test]
async fn clock_skew_of_ten_seconds_is_accepted_and_seventy_is_refused() {
    let (_s, _srv, rp) = setup().await;
    let with = |iat: i64, exp: i64| {
        let mut c = assertion_claims(&rp);
        c["iat"] = json!(iat);
        c["exp"] = json!(exp);
        rp.key.sign("JWT", &c)
    };
    // The platform allows 60 s either way; the cases stay 10 s inside or outside it, so that a
    // slow machine (the test reads its clock before the server reads its own) cannot move one
    // across the line.
    let now = now_s();
    for (name, iat, exp, want) in [
        ("a client 10 s behind", now - 10, now + 50, "ok"),
        ("a client 10 s ahead", now + 10, now + 70, "ok"),
        ("expired 10 s ago", now - 70, now - 10, "ok"),
        ("issued 70 s ahead", now + 70, now + 130, "invalid_client"),
        ("expired 70 s ago", now - 130, now - 70, "invalid_client"),
    ] {
        assert_eq!(
            par_with_assertion(&rp, &with(iat, exp)).await,
            want,
            "{name}"
        );
    }
}

#[tokio::test]
async fn dpop_with_a_wrong_ath_is_refused_at_userinfo() {
    let (site, srv, rp) = setup().await;
    let (code, verifier) = code(&site, &srv, &rp).await;
    let t: Value = rp.token(&code, &verifier).await.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    let url = rp.url("/userinfo");
    let proof = rp.dpop.dpop("GET", &url, Some("another token"));
    let r = rp
        .http
        .get(&url)
        .header("Authorization", format!("DPoP {at}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Another key's proof for a bound token.
    let stranger = Key::new("stranger");
    let proof = stranger.dpop("GET", &url, Some(at));
    let r = rp
        .http
        .get(&url)
        .header("Authorization", format!("DPoP {at}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(rp.userinfo(at, true).await.status(), 200);
}

#[tokio::test]
async fn request_objects_must_be_signed_by_the_client() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let rp = Rp::register(&site, &srv, "basic", &["--with-keys"]);
    let claims = |aud: &str| {
        json!({
            "iss": rp.client_id, "aud": aud, "exp": now_s() + 60, "response_type": "code",
            "client_id": rp.client_id, "redirect_uri": rp.redirect_uri, "scope": "openid",
            "code_challenge": pkce().1, "code_challenge_method": "S256", "state": "ro",
        })
    };
    let run = |jwt: String| {
        let url = rp.url(&format!(
            "/authorize?client_id={}&request={jwt}",
            rp.client_id
        ));
        async move { browser().get(url).send().await.unwrap() }
    };
    let ok = rp.key.sign("oauth-authz-req+jwt", &claims(&srv.base));
    assert_eq!(
        run(ok).await.status(),
        200,
        "a good request object shows the login page"
    );
    let attacker = Key::new(&rp.key.kid);
    let r = run(attacker.sign("oauth-authz-req+jwt", &claims(&srv.base))).await;
    assert_eq!(r.status(), 400, "not signed by the client's key");
    let r = run(rp
        .key
        .sign("oauth-authz-req+jwt", &claims("https://other.example")))
    .await;
    assert_eq!(r.status(), 400, "wrong audience");
    let r = run(forge(&json!({ "alg": "none" }), &claims(&srv.base), b"")).await;
    assert_eq!(r.status(), 400, "alg none");
}

/// Issue 16, finding 7: after a compromise, `keys rotate --immediate` and `keys revoke` retire
/// the old key at once: it leaves the JWKS and the tokens it signed stop working, instead of
/// staying trusted until they expire.
#[tokio::test]
async fn after_an_emergency_rotation_or_a_revocation_the_old_key_and_its_tokens_are_refused() {
    let (site, srv, rp) = setup().await;
    let kid_of = |jwt: &str| {
        iamsmart_crypto::jose::unverified_header(jwt)
            .unwrap()
            .kid
            .unwrap()
    };
    let kids = |v: &Value| -> Vec<String> {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let (code, verifier) = code(&site, &srv, &rp).await;
    let t: Value = rp.token(&code, &verifier).await.json().await.unwrap();
    let old = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(rp.userinfo(&old, true).await.status(), 200);
    let o = site.run(&["keys", "rotate", "--immediate"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after: Value = get_json(&rp.http, &srv, "/.well-known/jwks.json").await;
    assert!(
        !kids(&after).contains(&kid_of(&old)),
        "the old key is unpublished at once: {after}"
    );
    assert_eq!(
        rp.userinfo(&old, true).await.status(),
        401,
        "tokens of the old key stop working at once"
    );
    let (code, verifier) = self::code(&site, &srv, &rp).await;
    let t: Value = rp.token(&code, &verifier).await.json().await.unwrap();
    let second = t["access_token"].as_str().unwrap().to_string();
    let second_kid = kid_of(&second);
    assert_ne!(
        second_kid,
        kid_of(&old),
        "new tokens are signed with the new key"
    );
    assert_eq!(rp.userinfo(&second, true).await.status(), 200);

    // `keys revoke` the key now signing: a new one takes over, the revoked one is refused.
    let o = site.run(&["keys", "revoke", &second_kid], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("signs from now on"));
    let after: Value = get_json(&rp.http, &srv, "/.well-known/jwks.json").await;
    assert!(!kids(&after).contains(&second_kid), "{after}");
    assert_eq!(rp.userinfo(&second, true).await.status(), 401);
    let (code, verifier) = self::code(&site, &srv, &rp).await;
    let t: Value = rp.token(&code, &verifier).await.json().await.unwrap();
    let third = t["access_token"].as_str().unwrap();
    assert!(![kid_of(&old), second_kid.clone()].contains(&kid_of(third)));
    assert_eq!(rp.userinfo(third, true).await.status(), 200);
    // Revoking it again, an unknown key, or the key-encryption key is refused with a reason.
    for (args, why) in [
        (
            vec!["keys", "revoke", second_kid.as_str()],
            "retired already",
        ),
        (vec!["keys", "revoke", "token-es256-nosuchkey"], "not found"),
    ] {
        let o = site.run(&args, &[]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
        assert!(err.contains(why), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_redemptions_of_one_code_refresh_token_request_uri_assertion_or_dpop_proof_one_wins(
) {
    let (site, srv, rp) = setup().await;
    let rp = std::sync::Arc::new(rp);
    // One code.
    let (code, verifier) = self::code(&site, &srv, &rp).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (rp, code, verifier) = (rp.clone(), code.clone(), verifier.clone());
        tasks.push(tokio::spawn(async move {
            rp.token(&code, &verifier).await.status().as_u16()
        }));
    }
    let mut ok = 0;
    let mut rt = None;
    for t in tasks {
        if t.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one code redemption succeeds");
    // One refresh token (from a fresh login).
    let (code, verifier) = self::code(&site, &srv, &rp).await;
    let t: Value = rp.token(&code, &verifier).await.json().await.unwrap();
    rt.get_or_insert(t["refresh_token"].as_str().unwrap().to_string());
    let rt = rt.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (rp, rt) = (rp.clone(), rt.clone());
        tasks.push(tokio::spawn(async move {
            rp.post(
                "/token",
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                true,
            )
            .await
            .status()
            .as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one refresh succeeds");
    // One request_uri.
    let (request_uri, _, _, _) = rp.par("openid", &[]).await;
    let url = rp.url(&format!(
        "/authorize?client_id={}&request_uri={}",
        rp.client_id,
        percent(&request_uri)
    ));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            browser().get(url).send().await.unwrap().status().as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one use of a request_uri");
    // One client assertion jti.
    let a = rp.key.sign("JWT", &assertion_claims(&rp));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (rp, a) = (rp.clone(), a.clone());
        tasks.push(tokio::spawn(
            async move { par_with_assertion(&rp, &a).await },
        ));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == "ok" {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one use of an assertion jti");
    // One DPoP proof (its jti) at PAR, each request with its own client assertion.
    let proof = dpop_with(
        &rp.dpop,
        json!({}),
        json!({ "jti": random(), "htm": "POST", "htu": rp.url("/par"), "iat": now_s() }),
    );
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (rp, proof) = (rp.clone(), proof.clone());
        tasks.push(tokio::spawn(async move {
            let mut form: Vec<(String, String)> = [
                ("response_type", "code"),
                ("client_id", rp.client_id.as_str()),
                ("redirect_uri", rp.redirect_uri.as_str()),
                ("scope", "openid"),
                ("code_challenge", pkce().1.as_str()),
                ("code_challenge_method", "S256"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            form.extend(rp.auth());
            let r = rp
                .http
                .post(rp.url("/par"))
                .header("DPoP", proof)
                .form(&form);
            r.send().await.unwrap().status().as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == 201 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one use of a DPoP proof's jti");
}

/// Many token requests at once with a small connection pool: each redemption and refresh holds
/// a write transaction while it reads the grant and the resident, so on PostgreSQL (where reads
/// and writes once shared one pool) they used to wait on each other until the pool timed out
/// and answered 503. Every request must succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_and_refreshes_do_not_exhaust_a_small_pool() {
    let site = Site::new().await;
    let srv = site
        .serve(&[
            ("IAMSMART_HTTP__RATE_LIMIT_PER_IP_PER_MINUTE", "0"),
            ("IAMSMART_DATABASE__MAX_CONNECTIONS", "2"),
            ("IAMSMART_DATABASE__ACQUIRE_TIMEOUT_SECS", "1"),
        ])
        .await;
    let rp = std::sync::Arc::new(Rp::register(&site, &srv, "fapi2", &[]));
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let mut codes = Vec::new();
    for _ in 0..8 {
        let (request_uri, verifier, _, _) = rp.par("openid", &[]).await;
        let q = login(
            &browser(),
            &home,
            &rp.url(&format!(
                "/authorize?client_id={}&request_uri={}",
                rp.client_id,
                percent(&request_uri)
            )),
        )
        .await;
        codes.push((q["code"].clone(), verifier));
    }
    let tasks: Vec<_> = codes
        .into_iter()
        .map(|(code, verifier)| {
            let rp = rp.clone();
            tokio::spawn(async move {
                let r = rp.token(&code, &verifier).await;
                (r.status().as_u16(), r.text().await.unwrap())
            })
        })
        .collect();
    let mut refresh_tokens = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        refresh_tokens.push(v["refresh_token"].as_str().unwrap().to_string());
    }
    let tasks: Vec<_> = refresh_tokens
        .into_iter()
        .map(|rt| {
            let rp = rp.clone();
            tokio::spawn(async move {
                let r = rp
                    .post(
                        "/token",
                        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                        true,
                    )
                    .await;
                (r.status().as_u16(), r.text().await.unwrap())
            })
        })
        .collect();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
}

/// PAR with a signed request object and a DPoP proof: the code stays bound to the proof's key.
#[tokio::test]
async fn a_request_object_at_par_keeps_the_dpop_binding() {
    let (site, srv, rp) = setup().await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let (verifier, challenge) = pkce();
    let object = |jkt: Option<String>| {
        let mut c = json!({
            "iss": rp.client_id, "aud": srv.base, "exp": now_s() + 60, "response_type": "code",
            "client_id": rp.client_id, "redirect_uri": rp.redirect_uri, "scope": "openid",
            "code_challenge": challenge, "code_challenge_method": "S256", "state": "jar",
            "nonce": random(),
        });
        if let Some(j) = jkt {
            c["dpop_jkt"] = j.into();
        }
        rp.key.sign("oauth-authz-req+jwt", &c)
    };
    // A request object naming another key than the proof's is refused.
    let other = Key::new("other-dpop");
    let r = rp
        .post(
            "/par",
            &[("request", &object(Some(other.thumbprint())))],
            true,
        )
        .await;
    assert_eq!(r.status(), 400, "{}", r.text().await.unwrap());
    // Without one, the proof's key binds the code.
    let r = rp.post("/par", &[("request", &object(None))], true).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let request_uri = r.json::<Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let q = login(
        &browser(),
        &home,
        &rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )),
    )
    .await;
    let code = q["code"].clone();
    let url = rp.url("/token");
    let proof = |key: &Key| key.dpop("POST", &url, None);
    assert_ne!(
        token_with_proof(&rp, &code, &verifier, &proof(&other)).await,
        "ok",
        "another key cannot redeem the code"
    );
    assert_eq!(
        token_with_proof(&rp, &code, &verifier, &proof(&rp.dpop)).await,
        "ok"
    );
}
