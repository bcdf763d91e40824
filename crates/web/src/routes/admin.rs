//! The operator API (bearer token until staff passkeys arrive): resident records.
use crate::error::{ApiError, ApiResult, RequestId};
use crate::AppState;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use iamsmart_domain::identity::{self, NewResident};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/residents", post(create_resident))
        .route("/admin/v1/residents/{id}", get(get_resident))
}

/// An authenticated operator (the configured API token).
pub struct Operator(pub String);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.config.admin_token_sha256 else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "admin-disabled",
                "The operator API is not enabled",
            )
            .detail("set admin.token_file (IAMSMART_ADMIN_TOKEN_FILE) to enable it"));
        };
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        let got = iamsmart_crypto::hash::sha256(token.as_bytes());
        if !iamsmart_crypto::hash::ct_eq(&got, &expected) {
            return Err(ApiError::unauthorized());
        }
        Ok(Operator("operator:api".into()))
    }
}

async fn create_resident(
    State(s): State<AppState>,
    op: Operator,
    Extension(rid): Extension<RequestId>,
    body: Result<Json<NewResident>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<impl IntoResponse> {
    let Json(new) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let r = identity::create(&s.platform, new, &op.0, Some(&rid.0)).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/admin/v1/residents/{}", r.id))],
        Json(
            serde_json::json!({ "id": r.id, "level": r.level, "status": r.status, "created_at": r.created_at }),
        ),
    ))
}

async fn get_resident(
    State(s): State<AppState>,
    _op: Operator,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(identity::get(&s.platform, &id).await?))
}
