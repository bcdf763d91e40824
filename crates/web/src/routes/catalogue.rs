//! The portal's catalogue of services, edited over HTTP: one set of handlers behind two doors,
//! the operator's API (`/admin/v1/catalogue/...`, the operator's bearer token) and the staff
//! API (`/staff/v1/catalogue/...`, a staff session of a role in
//! [`staff::CATALOGUE_EDITORS`]). Each edit is checked (the error names the field), stored,
//! audited with the caller as actor, and searchable on the portal at once.
use super::admin::Operator;
use super::staff::Staff;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use iamsmart_domain::identity::staff;
use iamsmart_domain::portal::catalogue::Service;

type Body = Result<Json<Service>, axum::extract::rejection::JsonRejection>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/catalogue/services", get(list::<Operator>))
        .route(
            "/admin/v1/catalogue/services/{id}",
            get(get_one::<Operator>)
                .put(put::<Operator>)
                .delete(delete::<Operator>),
        )
        .route("/staff/v1/catalogue/services", get(list::<Staff>))
        .route(
            "/staff/v1/catalogue/services/{id}",
            get(get_one::<Staff>)
                .put(put::<Staff>)
                .delete(delete::<Staff>),
        )
}

/// Who may edit: the operator, or a staff member of an editing role; `actor` refuses anyone
/// else and names the caller for the audit log.
trait Editor: FromRequestParts<AppState, Rejection = ApiError> + Send {
    fn actor(&self) -> ApiResult<String>;
}

impl Editor for Operator {
    fn actor(&self) -> ApiResult<String> {
        Ok(self.0.clone())
    }
}

impl Editor for Staff {
    fn actor(&self) -> ApiResult<String> {
        self.0.require(staff::CATALOGUE_EDITORS)?;
        Ok(self.0.actor())
    }
}

/// The catalogue as it is now (the bundled services with every edit applied).
async fn list<E: Editor>(State(s): State<AppState>, who: E) -> ApiResult<Response> {
    who.actor()?;
    let p = &s.platform;
    let index = p.portal.index().await?;
    Ok(Json(serde_json::json!({ "services": index.catalogue().services() })).into_response())
}

async fn get_one<E: Editor>(
    State(s): State<AppState>,
    who: E,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    who.actor()?;
    let p = &s.platform;
    let index = p.portal.index().await?;
    let service = index
        .catalogue()
        .get(&id)
        .ok_or(iamsmart_domain::DomainError::NotFound)?;
    Ok(Json(service.clone()).into_response())
}

/// Adds (201) or replaces (200) a service; the portal's search sees it at once.
async fn put<E: Editor>(
    State(s): State<AppState>,
    who: E,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let actor = who.actor()?;
    let Json(service) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if service.id != id {
        let mut e = ApiError::bad_request("id: the service's id must be the one in the path");
        e.field = Some("id".into());
        return Err(e);
    }
    let p = &s.platform;
    let existed = p.portal.index().await?.catalogue().get(&id).is_some();
    p.portal.upsert(service, &actor).await?;
    let index = p.portal.index().await?;
    let stored = index.catalogue().get(&id).cloned();
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(stored)).into_response())
}

async fn delete<E: Editor>(
    State(s): State<AppState>,
    who: E,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let p = &s.platform;
    p.portal.remove(&id, &who.actor()?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
