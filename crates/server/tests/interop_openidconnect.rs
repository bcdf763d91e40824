//! The provider as an independent Rust relying-party library, the `openidconnect` crate, sees it.
//!
//! The crate does: discovery (metadata and JWKS, issuer checked), the authorization URL with
//! PKCE S256, state and nonce, the code exchange, refresh and introspection requests
//! (client_secret_basic), ID token validation (signature against the JWKS with the algorithms the
//! metadata lists, iss, aud, azp, exp, iat, nonce), userinfo (sub checked, standard and
//! language-tagged claims parsed) and the end-session URL. Revocation is plain HTTP: the crate
//! refuses a revocation endpoint without TLS, and the tests run on http://127.0.0.1.
//!
//! The crate has no PAR, no DPoP and no CIBA. For the FAPI 2.0 client the pushed request is
//! plain HTTP (the test helpers' `Rp::par`), the private_key_jwt assertion is added to the
//! crate's requests as extra parameters, and DPoP proofs are added by the HTTP client handed to
//! the crate (which also turns its `Bearer` into `DPoP` for userinfo); everything else is the
//! crate's. It does not check `state` or `iss` of the authorization response (it hands them to
//! the application): this file does.
mod common;
use common::rp::*;
use common::*;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreRevocableToken, CoreSubjectIdentifierType,
};
use openidconnect::{
    http, AdditionalClaims, AdditionalProviderMetadata, AuthType, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, IntrospectionUrl, IssuerUrl, LanguageTag, LogoutProviderMetadata,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadata, RedirectUrl, RevocationUrl, Scope,
    TokenIntrospectionResponse, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// Metadata the crate has no field for.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Extra {
    revocation_endpoint: String,
    introspection_endpoint: String,
    pushed_authorization_request_endpoint: String,
    authorization_response_iss_parameter_supported: bool,
}
impl AdditionalProviderMetadata for Extra {}

type Metadata = ProviderMetadata<
    LogoutProviderMetadata<Extra>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The e-ME claims that are not standard OpenID Connect claims.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Eme {
    hkid: Option<String>,
}
impl AdditionalClaims for Eme {}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const POST_LOGOUT: &str = "https://service.example/signed-out";

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .unwrap()
}

async fn discover(srv: &Server, http: &reqwest::Client) -> Metadata {
    let issuer = IssuerUrl::new(srv.base.clone()).unwrap();
    Metadata::discover_async(issuer, http)
        .await
        .expect("the crate accepts the discovery document and the JWKS")
}

fn extra(meta: &Metadata) -> Extra {
    meta.additional_metadata().additional_metadata.clone()
}

/// A resident with an app home and a profile, so that every standard claim has a value.
async fn resident(site: &Site, srv: &Server) -> (Value, std::path::PathBuf) {
    let (resident, home) = resident_with_app(site, "plus").await;
    point_app(&home, &srv.base);
    let profile = home.join("profile.json");
    std::fs::write(
        &profile,
        serde_json::json!({
            "prefix": "Mr", "email": "resident@example.hk",
            "mobile": { "country_code": "852", "subscriber_number": "91234567" },
            "residential_address": { "flat": "12A", "building": "Canary Court",
                "street": "Canary Road", "district": "Sha Tin", "region": "NT" },
        })
        .to_string(),
    )
    .unwrap();
    ok_json(&app(&home, &["set-profile", profile.to_str().unwrap()]));
    (resident, home)
}

/// The redirect back from a login: the crate leaves `state` and `iss` to the application.
fn code_from(q: &std::collections::HashMap<String, String>, srv: &Server, state: &str) -> String {
    assert_eq!(q.get("iss").map(String::as_str), Some(srv.base.as_str()));
    assert_eq!(q.get("state").map(String::as_str), Some(state));
    q.get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code: {q:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_client_code_flow_refresh_userinfo_revocation_logout_and_key_rotation() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let (person, home) = resident(&site, &srv).await;
    let rp = Rp::register(
        &site,
        &srv,
        "basic",
        &["--post-logout-redirect-uri", POST_LOGOUT],
    );
    let http = http_client();
    let meta = discover(&srv, &http).await;
    let ex = extra(&meta);
    assert!(ex.authorization_response_iss_parameter_supported);
    let end_session = meta.additional_metadata().end_session_endpoint.clone();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(rp.client_id.clone()),
        rp.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.clone()).unwrap())
    .set_revocation_url(RevocationUrl::new(ex.revocation_endpoint).unwrap())
    .set_introspection_url(IntrospectionUrl::new(ex.introspection_endpoint).unwrap());

    // The code flow with PKCE, every standard scope and an e-ME field, in the zh-HK locale.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scopes(
            ["profile", "email", "phone", "address", "eme.hkid"].map(|s| Scope::new(s.into())),
        )
        .add_ui_locale(LanguageTag::new("zh-HK".into()))
        .set_pkce_challenge(challenge)
        .url();
    let q = login(&browser(), &home, url.as_str()).await;
    let code = code_from(&q, &srv, state.secret());
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token response");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the crate verifies the ID token")
        .clone();
    assert_eq!(claims.issuer().as_str(), srv.base);
    assert_eq!(claims.audiences()[0].as_str(), rp.client_id);
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:iamsmart:acr:plus")
    );
    let sub = claims.subject().clone();
    assert_ne!(sub.as_str(), person["resident_id"].as_str().unwrap());

    // Userinfo, parsed by the crate: standard, language-tagged and additional claims.
    let info: UserInfoClaims<Eme, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), Some(sub.clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("the crate parses userinfo");
    assert_eq!(
        info.additional_claims().hkid,
        person["hkid"].as_str().map(String::from)
    );
    let name = info.name().expect("name");
    assert_eq!(
        name.get(None).map(|n| n.as_str()),
        person["name_en"].as_str()
    );
    let zh = LanguageTag::new("zh-Hant-HK".into());
    assert_eq!(
        name.get(Some(&zh)).map(|n| n.as_str()),
        person["name_zh"].as_str()
    );
    assert_eq!(
        info.email().map(|e| e.as_str()),
        Some("resident@example.hk")
    );
    assert_eq!(
        info.phone_number().map(|p| p.as_str()),
        Some("+85291234567")
    );
    assert_eq!(info.gender().map(|g| g.as_str()), Some("male"));
    assert_eq!(
        info.birthdate().map(|b| b.as_str()),
        person["date_of_birth"].as_str()
    );
    let address = info.address().expect("address");
    assert_eq!(
        address.locality.as_ref().map(|l| l.as_str()),
        Some("Sha Tin")
    );

    // Introspection and refresh (a new ID token, verified by the crate).
    let i = client
        .introspect(tokens.access_token())
        .request_async(&http)
        .await
        .expect("introspection");
    assert!(i.active());
    assert_eq!(
        i.client_id().map(|c| c.as_str()),
        Some(rp.client_id.as_str())
    );
    let rt = tokens.refresh_token().expect("a refresh token");
    let refreshed = client
        .exchange_refresh_token(rt)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(refreshed.refresh_token().unwrap().secret(), rt.secret());
    let again = refreshed
        .id_token()
        .expect("an ID token on refresh")
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the refreshed ID token verifies");
    assert_eq!(again.subject(), &sub);

    // Revocation ends the grant. The crate refuses a revocation endpoint without TLS (RFC 7009
    // requires it) and tests run on http://127.0.0.1: the request is plain HTTP.
    let rt2 = refreshed.refresh_token().unwrap().clone();
    assert!(matches!(
        client.revoke_token(CoreRevocableToken::from(rt2.clone())),
        Err(openidconnect::ConfigurationError::InsecureUrl("revocation"))
    ));
    let r = rp.post("/revoke", &[("token", rt2.secret())], false).await;
    assert_eq!(r.status(), 200);
    let i = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(!i.active());

    // After `keys rotate --immediate`, the next login's ID token is signed by the new key (the old
    // one is retired at once: issue 16, finding 7). The
    // crate verifies against the key set it was given and never refetches it: the application
    // fetches the JWKS again (here by discovery), and then it verifies.
    let old_kids: Vec<String> = jwks_kids(&http, &srv).await;
    let o = site.run(&["keys", "rotate", "--immediate"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kids = jwks_kids(&http, &srv).await;
    assert!(
        !kids.is_empty() && kids.iter().all(|k| !old_kids.contains(k)),
        "an immediate rotation (after a compromise) unpublishes the old key at once: {kids:?}"
    );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    // A new browser: the resident approves in the app again.
    let b = browser();
    let q = login(&b, &home, url.as_str()).await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code_from(&q, &srv, state.secret())))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let kid = jwt_header(&id_token.to_string())["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!old_kids.contains(&kid), "signed by the new key");
    assert!(
        id_token
            .claims(&client.id_token_verifier(), &nonce)
            .is_err(),
        "the crate refuses a key it was not given"
    );
    let fresh = CoreClient::from_provider_metadata(
        discover(&srv, &http).await,
        ClientId::new(rp.client_id.clone()),
        rp.secret.clone().map(ClientSecret::new),
    );
    let claims = id_token
        .claims(&fresh.id_token_verifier(), &nonce)
        .expect("verifies with the refetched JWKS");
    assert_eq!(claims.subject(), &sub);

    // RP-initiated logout with the crate's end-session URL.
    let logout_state = CsrfToken::new_random();
    let url = LogoutRequest::from(end_session.expect("end_session_endpoint"))
        .set_id_token_hint(id_token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(POST_LOGOUT.into()).unwrap())
        .set_state(logout_state.clone())
        .http_get_url();
    let r = b.get(url.as_str()).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with(POST_LOGOUT), "{to}");
    assert_eq!(location_params(&r)["state"], *logout_state.secret());
}

async fn jwks_kids(http: &reqwest::Client, srv: &Server) -> Vec<String> {
    let v: Value = http
        .get(srv.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

fn jwt_header(t: &str) -> Value {
    use base64::Engine;
    let h = t.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(h)
            .unwrap(),
    )
    .unwrap()
}

/// What the HTTP client handed to the crate returns.
type HttpFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<http::Response<Vec<u8>>, reqwest::Error>> + Send>,
>;

/// An HTTP client for the crate that adds a DPoP proof to every request, and sends the access
/// token of a resource request with the DPoP scheme instead of Bearer.
fn with_dpop(
    http: reqwest::Client,
    key: Arc<Key>,
) -> impl Fn(http::Request<Vec<u8>>) -> HttpFuture {
    move |req: http::Request<Vec<u8>>| {
        let http = http.clone();
        let key = key.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let url = parts.uri.to_string();
            let mut token = None;
            let mut out = http.request(parts.method.clone(), &url);
            for (name, value) in &parts.headers {
                let bearer = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer "));
                match bearer {
                    Some(t) if name == http::header::AUTHORIZATION => token = Some(t.to_string()),
                    _ => out = out.header(name, value),
                }
            }
            if let Some(t) = &token {
                out = out.header(http::header::AUTHORIZATION, format!("DPoP {t}"));
            }
            let proof = key.dpop(parts.method.as_str(), &url, token.as_deref());
            let res = out.header("DPoP", proof).body(body).send().await?;
            let mut back = http::Response::builder().status(res.status());
            for (name, value) in res.headers() {
                back = back.header(name, value);
            }
            Ok(back.body(res.bytes().await?.to_vec()).unwrap())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fapi2_client_par_private_key_jwt_dpop_with_the_crate() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let (person, home) = resident(&site, &srv).await;
    let rp = Rp::register(&site, &srv, "fapi2", &[]);
    let http = http_client();
    let meta = discover(&srv, &http).await;
    let ex = extra(&meta);
    assert_eq!(ex.pushed_authorization_request_endpoint, srv.url("/par"));
    let client =
        CoreClient::from_provider_metadata(meta, ClientId::new(rp.client_id.clone()), None)
            .set_auth_type(AuthType::RequestBody)
            .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.clone()).unwrap())
            .set_introspection_url(IntrospectionUrl::new(ex.introspection_endpoint).unwrap());
    let dpop_key = Arc::new(Key::new("dpop"));
    let dpop = with_dpop(http.clone(), dpop_key.clone());

    // PAR (plain HTTP), the login, then the crate's code exchange with DPoP.
    let (request_uri, verifier, state, nonce) = rp.par("openid profile eme.hkid", &[]).await;
    let url = srv.url(&format!(
        "/authorize?client_id={}&request_uri={}",
        rp.client_id,
        percent(&request_uri)
    ));
    let q = login(&browser(), &home, &url).await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code_from(&q, &srv, &state)))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .add_extra_param("client_assertion_type", JWT_BEARER)
        .add_extra_param("client_assertion", rp.assertion())
        .request_async(&dpop)
        .await
        .expect("token response");
    assert!(tokens.token_type().as_ref().eq_ignore_ascii_case("DPoP"));
    let nonce = Nonce::new(nonce);
    let claims = tokens
        .id_token()
        .expect("an ID token")
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the crate verifies the ID token")
        .clone();
    let sub = claims.subject().clone();
    let at = tokens.access_token().clone();
    assert_eq!(
        jwt_claims(at.secret())["cnf"]["jkt"],
        dpop_key.thumbprint().as_str()
    );

    // Userinfo through the crate, with the DPoP scheme and a proof bound to the token.
    let info: UserInfoClaims<Eme, CoreGenderClaim> = client
        .user_info(at.clone(), Some(sub.clone()))
        .unwrap()
        .request_async(&dpop)
        .await
        .expect("userinfo");
    assert_eq!(
        info.additional_claims().hkid,
        person["hkid"].as_str().map(String::from)
    );
    // The crate alone (Bearer, no proof) is refused.
    let plain: Result<UserInfoClaims<Eme, CoreGenderClaim>, _> = client
        .user_info(at.clone(), Some(sub.clone()))
        .unwrap()
        .request_async(&http)
        .await;
    assert!(plain.is_err(), "a DPoP-bound token is refused as Bearer");

    let i = client
        .introspect(&at)
        .add_extra_param("client_assertion_type", JWT_BEARER)
        .add_extra_param("client_assertion", rp.assertion())
        .request_async(&http)
        .await
        .expect("introspection");
    assert!(i.active());
    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .add_extra_param("client_assertion_type", JWT_BEARER)
        .add_extra_param("client_assertion", rp.assertion())
        .request_async(&dpop)
        .await
        .expect("refresh");
    let again = refreshed
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the refreshed ID token verifies");
    assert_eq!(again.subject(), &sub);
}

fn percent(s: &str) -> String {
    iamsmart_domain::oidc::authorize::urlencode(s)
}
