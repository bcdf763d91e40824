//! The OpenID provider's endpoints. OAuth endpoints answer errors in their RFC format; the
//! authorization endpoint answers with pages (see `routes::pages`).
use crate::oauth::{
    client_credentials, form_body, one, parse_form, Form, OAuthJson, ResourceError,
};
use crate::resource::UserAccess;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use iamsmart_domain::guard::Spent;
use iamsmart_domain::oidc::clients::{self, ClientMetadata};
use iamsmart_domain::oidc::{ciba, client_auth, discovery, dpop, tokens, OAuthError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(metadata))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/par", post(par))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .route("/revoke", post(revoke))
        .route("/introspect", post(introspect))
        .route("/bc-authorize", post(bc_authorize))
        .route("/register", post(register))
        .route(
            "/register/{id}",
            get(read_client).put(update_client).delete(delete_client),
        )
        .layer(axum::middleware::from_fn(basic_challenge_only_for_basic))
}

/// `WWW-Authenticate: Basic` only answers a request that tried Basic authentication; a client
/// using private_key_jwt gets the plain JSON error (some libraries would otherwise hide it).
async fn basic_challenge_only_for_basic(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("basic "));
    let mut res = next.run(req).await;
    let challenge = res
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Basic"));
    if challenge && !basic {
        res.headers_mut().remove(header::WWW_AUTHENTICATE);
    }
    res
}

async fn metadata(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(discovery::metadata(&s.platform.oidc)),
    )
}

fn no_store<T: IntoResponse>(status: StatusCode, body: T) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The DPoP proof of a request, verified (`None` if the request carries none); its `jti` goes
/// into `spent`, to be recorded with the request's effect.
pub(crate) fn dpop_jkt(
    s: &AppState,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    access_token: Option<&str>,
    spent: &mut Spent,
) -> Result<Option<String>, OAuthError> {
    let mut proofs = headers.get_all("dpop").iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(OAuthError::invalid_dpop_proof("send one DPoP header"));
    }
    let proof = proof
        .to_str()
        .map_err(|_| OAuthError::invalid_dpop_proof("DPoP header is not text"))?;
    let url = s.platform.oidc.provider.policy.url(path);
    dpop::verify(&s.platform.oidc, proof, method, &url, access_token, spent).map(Some)
}

/// Record a request's single-use values on their own (a request that writes nothing else).
pub(crate) async fn spend(s: &AppState, spent: Spent) -> Result<(), OAuthError> {
    Ok(spent
        .spend(&s.platform.oidc)
        .await
        .map_err(OAuthError::from)??)
}

/// The client of a request; its assertion's `jti` goes into `spent`.
async fn authenticated(
    s: &AppState,
    headers: &HeaderMap,
    form: &Form,
    path: &str,
    spent: &mut Spent,
) -> Result<clients::Client, OAuthError> {
    let creds = client_credentials(headers, form)?;
    client_auth::authenticate(
        &s.platform.oidc,
        &creds,
        &s.platform.oidc.provider.policy.url(path),
        spent,
    )
    .await
}

/// The client of a request that records nothing else: its assertion is recorded at once.
async fn authenticated_once(
    s: &AppState,
    headers: &HeaderMap,
    form: &Form,
    path: &str,
) -> Result<clients::Client, OAuthError> {
    let mut spent = Spent::new();
    let client = authenticated(s, headers, form, path, &mut spent).await?;
    spend(s, spent).await?;
    Ok(client)
}

async fn par(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthJson> {
    let form = form_body(&headers, &body)?;
    let mut spent = Spent::new();
    let client = authenticated(&s, &headers, &form, "/par", &mut spent).await?;
    // A DPoP proof at PAR binds the code to that key (RFC 9449 section 10).
    let mut form = form;
    if let Some(jkt) = dpop_jkt(&s, &headers, "POST", "/par", None, &mut spent)? {
        match one(&form, "dpop_jkt")? {
            Some(j) if j != jkt => {
                return Err(OAuthError::invalid_dpop_proof(
                    "dpop_jkt differs from the DPoP proof's key",
                )
                .into())
            }
            _ => {
                form.insert("dpop_jkt".into(), vec![jkt]);
            }
        }
    }
    for k in ["client_assertion", "client_assertion_type"] {
        form.remove(k);
    }
    let (request_uri, expires_in) =
        iamsmart_domain::oidc::authorize::push(&s.platform.oidc, &client, &form, spent).await?;
    Ok(no_store(
        StatusCode::CREATED,
        Json(serde_json::json!({ "request_uri": request_uri, "expires_in": expires_in })),
    ))
}

async fn token(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthJson> {
    let form = form_body(&headers, &body)?;
    let mut spent = Spent::new();
    let client = authenticated(&s, &headers, &form, "/token", &mut spent).await?;
    let jkt = dpop_jkt(&s, &headers, "POST", "/token", None, &mut spent)?;
    let p = &s.platform;
    let grant = one(&form, "grant_type")?.unwrap_or_default();
    if !client.has_grant(grant) {
        return Err(match grant {
            "authorization_code" | "refresh_token" | "client_credentials" | clients::CIBA_GRANT => {
                OAuthError::unauthorized_client(format!("this client may not use {grant}"))
            }
            _ => OAuthError::unsupported_grant_type(
                "grant_type: authorization_code, refresh_token, client_credentials or CIBA",
            ),
        }
        .into());
    }
    let out = match grant {
        "authorization_code" => {
            let code = one(&form, "code")?
                .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
            tokens::redeem_code(
                &p.oidc,
                &client,
                code,
                one(&form, "redirect_uri")?,
                one(&form, "code_verifier")?,
                jkt,
                spent,
            )
            .await?
        }
        "refresh_token" => {
            let t = one(&form, "refresh_token")?
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
            tokens::refresh(&p.oidc, &client, t, one(&form, "scope")?, jkt, spent).await?
        }
        clients::CIBA_GRANT => {
            let id = one(&form, "auth_req_id")?
                .ok_or_else(|| OAuthError::invalid_request("auth_req_id is required"))?;
            ciba::redeem(&p.oidc, &client, id, jkt, spent).await?
        }
        "client_credentials" => {
            iamsmart_domain::oidc::client_tokens::issue(
                &p.oidc,
                &client,
                one(&form, "scope")?,
                jkt,
                spent,
            )
            .await?
        }
        _ => return Err(OAuthError::unsupported_grant_type("unsupported grant_type").into()),
    };
    Ok(no_store(StatusCode::OK, Json(out)))
}

/// Userinfo: the consented claims, for a Bearer or DPoP-bound access token.
async fn userinfo(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ResourceError> {
    let form;
    let form_token = if method == Method::POST {
        form = parse_form(&body);
        one(&form, "access_token").ok().flatten()
    } else {
        None
    };
    let user = UserAccess::check(&s, method.as_str(), uri.path(), &headers, form_token).await?;
    let (claims, grant) = (&user.claims, &user.grant);
    let out = tokens::userinfo(&s.platform.oidc, claims, grant)
        .await
        .map_err(|error| ResourceError {
            error,
            scheme: user.scheme,
            step_up: None,
        })?;
    Ok(no_store(StatusCode::OK, Json(out)))
}

async fn revoke(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthJson> {
    let form = form_body(&headers, &body)?;
    let client = authenticated_once(&s, &headers, &form, "/revoke").await?;
    let t = one(&form, "token")?.ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    tokens::revoke(&s.platform.oidc, &client, t).await?;
    Ok(no_store(StatusCode::OK, ""))
}

async fn introspect(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthJson> {
    let form = form_body(&headers, &body)?;
    let client = authenticated_once(&s, &headers, &form, "/introspect").await?;
    let t = one(&form, "token")?.ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    Ok(no_store(
        StatusCode::OK,
        Json(tokens::introspect(&s.platform.oidc, &client, t).await),
    ))
}

async fn bc_authorize(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthJson> {
    let form = form_body(&headers, &body)?;
    let client = authenticated_once(&s, &headers, &form, "/bc-authorize").await?;
    let started = ciba::start(&s.platform.oidc, &client, &form).await?;
    Ok(no_store(StatusCode::OK, Json(started)))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

fn metadata_from(body: &[u8]) -> Result<ClientMetadata, OAuthError> {
    serde_json::from_slice(body)
        .map_err(|e| OAuthError::invalid_client_metadata(format!("client metadata: {e}")))
}

/// Dynamic client registration (RFC 7591), with an initial access token from the operator.
async fn register(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthJson> {
    let token = bearer(&headers).ok_or_else(|| {
        OAuthError::invalid_token("dynamic registration needs an initial access token (Bearer)")
    })?;
    clients::use_initial_token(&s.platform, token).await?;
    let meta = metadata_from(&body)?;
    let created = clients::register(&s.platform.oidc, meta, "dynamic-registration", false).await?;
    Ok(no_store(StatusCode::CREATED, Json(created)))
}

async fn managed(
    s: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<clients::Client, OAuthError> {
    let token = bearer(headers)
        .ok_or_else(|| OAuthError::invalid_token("send the registration access token"))?;
    clients::check_registration_token(&s.platform.oidc, id, token).await
}

fn client_view(s: &AppState, c: &clients::Client) -> serde_json::Value {
    let mut v = serde_json::to_value(&c.meta).unwrap_or_default();
    v["client_id"] = c.id.to_string().into();
    v["registration_client_uri"] = s
        .platform
        .oidc
        .provider
        .policy
        .url(&format!("/register/{}", c.id))
        .into();
    v
}

async fn read_client(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ResourceError> {
    let c = managed(&s, &headers, &id)
        .await
        .map_err(|error| ResourceError {
            error,
            scheme: "Bearer",
            step_up: None,
        })?;
    Ok(no_store(StatusCode::OK, Json(client_view(&s, &c))))
}

async fn update_client(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    let c = managed(&s, &headers, &id).await.map_err(|error| {
        ResourceError {
            error,
            scheme: "Bearer",
            step_up: None,
        }
        .into_response()
    })?;
    let mut v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        OAuthJson(OAuthError::invalid_client_metadata(format!(
            "client metadata: {e}"
        )))
        .into_response()
    })?;
    if v.get("client_id")
        .and_then(|x| x.as_str())
        .is_some_and(|x| x != id)
    {
        return Err(
            OAuthJson(OAuthError::invalid_client_metadata("client_id differs")).into_response(),
        );
    }
    if let Some(o) = v.as_object_mut() {
        for k in [
            "client_id",
            "registration_client_uri",
            "registration_access_token",
            "client_secret",
            "client_id_issued_at",
        ] {
            o.remove(k);
        }
    }
    let meta: ClientMetadata = serde_json::from_value(v).map_err(|e| {
        OAuthJson(OAuthError::invalid_client_metadata(format!(
            "client metadata: {e}"
        )))
        .into_response()
    })?;
    let updated = clients::update(&s.platform.oidc, &c, meta)
        .await
        .map_err(|e| OAuthJson(e).into_response())?;
    Ok(no_store(StatusCode::OK, Json(client_view(&s, &updated))))
}

async fn delete_client(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ResourceError> {
    let err = |error| ResourceError {
        error,
        scheme: "Bearer",
        step_up: None,
    };
    let c = managed(&s, &headers, &id).await.map_err(err)?;
    clients::disable(&s.platform.oidc, &c.id, &format!("client:{}", c.id))
        .await
        .map_err(err)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
