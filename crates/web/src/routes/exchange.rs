//! e-ME and the Consented Data Exchange Gateway over HTTP.
//!
//! Services call with a client token (`client_credentials` grant; DPoP-bound for FAPI clients,
//! with a fresh proof on every call). Authentication failures answer in the RFC 6750 / 9449
//! format with `WWW-Authenticate`; everything else in RFC 9457 problem details.
use super::admin::Operator;
use crate::error::{ApiError, ApiResult};
use crate::ids::PathId;
use crate::oauth::ResourceError;
use crate::AppState;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use iamsmart_domain::exchange::consents::{self, ConsentRequest, ItemRef};
use iamsmart_domain::exchange::eme::{self, EmeRequest};
use iamsmart_domain::exchange::{fetch, providers};
use iamsmart_domain::oidc::client_tokens::{self, ClientClaims};
use iamsmart_domain::oidc::clients::Client;
use iamsmart_domain::oidc::OAuthError;
use iamsmart_proto::ids::{DataConsentId, EmeRequestId};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/eme/v1/requests", post(eme_start))
        .route("/eme/v1/requests/{id}", get(eme_outcome))
        // The web app reads the catalogue too: in Simplified Chinese for a reader who asks.
        .route(
            "/gateway/v1/catalogue",
            get(catalogue).layer(axum::middleware::from_fn(
                crate::simplified::app_answers_in_simplified_chinese,
            )),
        )
        .route("/gateway/v1/consents", post(consent_request))
        .route("/gateway/v1/consents/{id}", get(consent_status))
        .route("/gateway/v1/fetch", post(fetch_items))
        .route("/admin/v1/data-providers", post(register_provider))
}

/// A service calling with its client token.
pub struct Service {
    /// The client.
    pub client: Client,
    claims: ClientClaims,
    scheme: &'static str,
}

impl Service {
    pub(crate) fn need(&self, scope: &'static str) -> Result<(), ResourceError> {
        if self.claims.has_scope(scope) {
            return Ok(());
        }
        Err(ResourceError {
            error: OAuthError::insufficient_scope(format!("this call needs the {scope} scope")),
            scheme: self.scheme,
            step_up: None,
        })
    }
}

impl FromRequestParts<AppState> for Service {
    type Rejection = ResourceError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let (scheme, token) = crate::resource::bearer(&parts.headers, None);
        let fail = |error: OAuthError, scheme: &'static str| ResourceError {
            error,
            scheme,
            step_up: None,
        };
        if token.is_empty() {
            return Err(fail(
                OAuthError::invalid_token("send a client token (client_credentials grant)"),
                scheme,
            ));
        }
        let (claims, client) = client_tokens::verify(&s.platform.oidc, token)
            .await
            .map_err(|e| fail(e, scheme))?;
        crate::resource::check_binding(
            s,
            &parts.headers,
            parts.method.as_str(),
            parts.uri.path(),
            scheme,
            token,
            claims.jkt(),
        )
        .await?;
        Ok(Self {
            client,
            claims,
            scheme,
        })
    }
}

fn no_store(status: StatusCode, body: impl serde::Serialize) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not the expected JSON: {e}")))
}

async fn eme_start(
    State(s): State<AppState>,
    svc: Service,
    body: axum::body::Bytes,
) -> Result<Response, Response> {
    svc.need("eme").map_err(IntoResponse::into_response)?;
    let req: EmeRequest = json_body(&body).map_err(IntoResponse::into_response)?;
    let started = eme::start(&s.platform.exchange, &svc.client, req)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok(no_store(StatusCode::CREATED, started))
}

async fn eme_outcome(
    State(s): State<AppState>,
    svc: Service,
    PathId(id): PathId<EmeRequestId>,
) -> Result<Response, Response> {
    svc.need("eme").map_err(IntoResponse::into_response)?;
    let out = eme::outcome(&s.platform.exchange, &svc.client, &id)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok(no_store(StatusCode::OK, out))
}

#[derive(Deserialize)]
struct CatalogueQuery {
    requester_type: Option<String>,
}

/// Every published item (public: definitions, never data), optionally only those a type of
/// requester may ask for.
async fn catalogue(
    State(s): State<AppState>,
    Query(q): Query<CatalogueQuery>,
) -> ApiResult<impl IntoResponse> {
    let mut items = providers::catalogue(&s.platform).await?;
    if let Some(t) = q.requester_type {
        if !providers::REQUESTER_TYPES.contains(&t.as_str()) {
            return Err(ApiError::bad_request(
                "requester_type: government, bank or commercial",
            ));
        }
        items.retain(|i| i.def.requesters.contains(&t));
    }
    Ok(Json(serde_json::json!({ "items": items })))
}

async fn consent_request(
    State(s): State<AppState>,
    svc: Service,
    body: axum::body::Bytes,
) -> Result<Response, Response> {
    svc.need("gateway").map_err(IntoResponse::into_response)?;
    let req: ConsentRequest = json_body(&body).map_err(IntoResponse::into_response)?;
    let v = consents::request(&s.platform.exchange, &svc.client, req)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok(no_store(StatusCode::CREATED, v))
}

async fn consent_status(
    State(s): State<AppState>,
    svc: Service,
    PathId(id): PathId<DataConsentId>,
) -> Result<Response, Response> {
    svc.need("gateway").map_err(IntoResponse::into_response)?;
    let v = consents::for_client(&s.platform.exchange, &svc.client, &id)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok(no_store(StatusCode::OK, v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchBody {
    consent_id: String,
    purpose_code: String,
    #[serde(default)]
    items: Vec<ItemRef>,
}

async fn fetch_items(
    State(s): State<AppState>,
    svc: Service,
    body: axum::body::Bytes,
) -> Result<Response, Response> {
    svc.need("gateway").map_err(IntoResponse::into_response)?;
    let b: FetchBody = json_body(&body).map_err(IntoResponse::into_response)?;
    let consent: DataConsentId =
        crate::ids::named(&b.consent_id).map_err(|e| ApiError::from(e).into_response())?;
    let out = fetch::fetch(
        &s.platform.exchange,
        &svc.client,
        &consent,
        &b.purpose_code,
        &b.items,
    )
    .await
    .map_err(|e| ApiError::from(e).into_response())?;
    Ok(no_store(StatusCode::OK, out))
}

/// The operator registers (or updates) a data provider and its items.
async fn register_provider(
    State(s): State<AppState>,
    op: Operator,
    body: axum::body::Bytes,
) -> ApiResult<impl IntoResponse> {
    let def: providers::ProviderDef = json_body(&body)?;
    providers::register(&s.platform.exchange, &def, &op.0).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": def.id, "items": def.items.len() })),
    ))
}
