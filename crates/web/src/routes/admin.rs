//! The operator API (bearer token): resident records, staff accounts, the app simulator's
//! approvals; the catalogue's routes are in `catalogue.rs`, shared with editors.
use crate::error::{ApiError, ApiResult, RequestId};
use crate::ids::PathId;
use crate::AppState;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use iamsmart_domain::authn::approvals;
use iamsmart_domain::identity::{self, staff, NewResident};
use iamsmart_proto::ids::ApprovalId;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/residents", post(create_resident))
        .route("/admin/v1/residents/{id}", get(get_resident))
        .route("/admin/v1/staff", post(create_staff))
        .route("/admin/v1/staff/{id}/disable", post(disable_staff))
        .route("/admin/v1/approvals", post(create_approval))
        .route("/admin/v1/approvals/{id}", get(approval_status))
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
    let r = identity::create(&s.platform.identity, new, &op.0, Some(&rid.0)).await?;
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
    PathId(id): PathId<iamsmart_proto::ids::ResidentId>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(identity::get(&s.platform.identity, &id).await?.view()))
}

/// The operator creates staff accounts (the first supervisor, in particular).
async fn create_staff(
    State(s): State<AppState>,
    op: Operator,
    Extension(rid): Extension<RequestId>,
    body: Result<Json<super::staff::NewStaffBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<impl IntoResponse> {
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let created = staff::create(
        &s.platform.identity,
        None,
        &op.0,
        &b.display_name,
        &b.role,
        Some(&rid.0),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn disable_staff(
    State(s): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    Extension(rid): Extension<RequestId>,
) -> ApiResult<impl IntoResponse> {
    staff::disable(&s.platform, None, &op.0, &id, Some(&rid.0)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewApprovalBody {
    #[serde(default)]
    resident_id: Option<String>,
    kind: String,
    client_name: String,
    #[serde(default)]
    details: serde_json::Value,
}

/// The sandbox's app simulator: create a request for a resident's app (or an unbound one to
/// show as a QR code), as a login or signing flow would.
async fn create_approval(
    State(s): State<AppState>,
    _op: Operator,
    body: Result<Json<NewApprovalBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<impl IntoResponse> {
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if !["login", "consent", "sign", "step_up"].contains(&b.kind.as_str()) {
        return Err(ApiError::bad_request(
            "kind: expected login, consent, sign or step_up",
        ));
    }
    if b.client_name.trim().is_empty() || b.client_name.chars().count() > 100 {
        return Err(ApiError::bad_request("client_name: 1 to 100 characters"));
    }
    // Each simulated service by its name: the caps per service apply to them as to real ones.
    let client_id = format!("sandbox:{}", b.client_name.trim());
    let created = approvals::create(
        &s.platform.approvals,
        approvals::NewApproval {
            resident_id: b.resident_id.as_deref(),
            kind: &b.kind,
            client_id: &client_id,
            client_name: &b.client_name,
            details: b.details,
            client_vetted: true,
            service: None,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "id": created.id,
            "match_code": created.match_code,
            "expires_at": created.expires_at,
            "qr": format!("iamsmart:approve?id={}", created.id),
        })),
    ))
}

async fn approval_status(
    State(s): State<AppState>,
    _op: Operator,
    PathId(id): PathId<ApprovalId>,
) -> ApiResult<impl IntoResponse> {
    let v = approvals::status(&s.platform, &id).await?;
    Ok(Json(
        serde_json::json!({ "id": v.id, "status": v.status, "kind": v.kind }),
    ))
}
