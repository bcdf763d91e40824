//! Staff: passkey enrolment and login, staff management by supervisors, counter registration
//! and upgrades, kiosk registration (the catalogue editors' routes are in `catalogue.rs`). Staff
//! calls carry the session token as a bearer token.
use crate::error::{ApiError, ApiResult, RequestId};
use crate::middleware::client_ip;
use crate::AppState;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use iamsmart_crypto::webauthn::{AuthenticationResponse, RegistrationResponse};
use iamsmart_domain::identity::registration::{self, CodeIssued};
use iamsmart_domain::identity::staff::{self, StaffCaller};
use iamsmart_domain::identity::{check_card, find_by_hkid};
use iamsmart_proto::app::CardData;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/v1/enrolment/options", post(enrol_options))
        .route("/staff/v1/enrolment/finish", post(enrol_finish))
        .route("/staff/v1/login/options", post(login_options))
        .route("/staff/v1/login/finish", post(login_finish))
        .route("/staff/v1/logout", post(logout))
        .route("/staff/v1/me", get(me))
        .route("/staff/v1/staff", get(list).post(create))
        .route("/staff/v1/staff/{id}/disable", post(disable))
        .route("/counter/v1/registrations", post(counter_register))
        .route("/counter/v1/upgrades", post(counter_upgrade))
}

/// Calls that carry images.
pub fn upload_routes() -> Router<AppState> {
    Router::new().route("/kiosk/v1/registrations", post(kiosk_register))
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// An authenticated staff member (session token as bearer).
pub struct Staff(pub StaffCaller, String);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .ok_or_else(ApiError::unauthorized)?
            .to_string();
        let caller = staff::authenticate(&s.platform, &token).await?;
        Ok(Staff(caller, token))
    }
}

fn json<T: serde::de::DeserializeOwned>(
    body: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<T> {
    body.map(|Json(v)| v)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolStart {
    staff_id: String,
    enrolment_code: String,
}

async fn enrol_options(
    State(s): State<AppState>,
    body: Result<Json<EnrolStart>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<impl IntoResponse> {
    let b = json(body)?;
    let (ceremony, options) =
        staff::enrolment_options(&s.platform.identity, &b.staff_id, &b.enrolment_code).await?;
    Ok(Json(
        serde_json::json!({ "ceremony": ceremony, "publicKey": options }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolFinish {
    ceremony: String,
    credential: RegistrationResponse,
}

fn session(token: String, caller: &StaffCaller) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "token": token,
        "staff": { "id": caller.id, "role": caller.role },
    }))
}

async fn enrol_finish(
    State(s): State<AppState>,
    Extension(rid): Extension<RequestId>,
    body: Result<Json<EnrolFinish>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<impl IntoResponse> {
    let b = json(body)?;
    let (token, caller) = staff::enrolment_finish(
        &s.platform.identity,
        &b.ceremony,
        &b.credential,
        Some(&rid.0),
    )
    .await?;
    Ok((StatusCode::CREATED, session(token, &caller)))
}

async fn login_options(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    let (ceremony, options) = staff::login_options(&s.platform.identity).await?;
    Ok(Json(
        serde_json::json!({ "ceremony": ceremony, "publicKey": options }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginFinish {
    ceremony: String,
    credential: AuthenticationResponse,
}

async fn login_finish(
    State(s): State<AppState>,
    Extension(rid): Extension<RequestId>,
    body: Result<Json<LoginFinish>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<impl IntoResponse> {
    let b = json(body)?;
    let (token, caller) = staff::login_finish(
        &s.platform.identity,
        &b.ceremony,
        &b.credential,
        Some(&rid.0),
    )
    .await?;
    Ok(session(token, &caller))
}

async fn logout(State(s): State<AppState>, who: Staff) -> ApiResult<impl IntoResponse> {
    staff::logout(&s.platform, &who.1).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(who: Staff) -> impl IntoResponse {
    Json(serde_json::json!({ "id": who.0.id, "role": who.0.role }))
}

async fn list(State(s): State<AppState>, who: Staff) -> ApiResult<impl IntoResponse> {
    who.0.require(&["supervisor"])?;
    Ok(Json(staff::list(&s.platform.identity).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewStaffBody {
    pub display_name: String,
    pub role: String,
}

async fn create(
    State(s): State<AppState>,
    who: Staff,
    Extension(rid): Extension<RequestId>,
    body: Result<Json<NewStaffBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<impl IntoResponse> {
    let b = json(body)?;
    let created = staff::create(
        &s.platform.identity,
        Some(&who.0),
        &who.0.actor(),
        &b.display_name,
        &b.role,
        Some(&rid.0),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn disable(
    State(s): State<AppState>,
    who: Staff,
    Path(id): Path<String>,
    Extension(rid): Extension<RequestId>,
) -> ApiResult<impl IntoResponse> {
    staff::disable(&s.platform, Some(&who.0), &who.0.actor(), &id, Some(&rid.0)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterRegistration {
    card: CardData,
}

/// An officer has checked the card in person; the registry confirms its data; the resident
/// gets an activation code for the app.
async fn counter_register(
    State(s): State<AppState>,
    who: Staff,
    Extension(rid): Extension<RequestId>,
    body: Result<Json<CounterRegistration>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<CodeIssued>)> {
    who.0.require(&["officer", "supervisor"])?;
    let b = json(body)?;
    let out = registration::register_with_code(
        &s.platform.identity,
        &b.card,
        None,
        "counter",
        &who.0.actor(),
        Some(&rid.0),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterUpgrade {
    hkid: String,
}

/// An officer upgrades a registered resident to iAM Smart+ after checking their card in person.
async fn counter_upgrade(
    State(s): State<AppState>,
    who: Staff,
    Extension(rid): Extension<RequestId>,
    body: Result<Json<CounterUpgrade>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<impl IntoResponse> {
    who.0.require(&["officer", "supervisor"])?;
    let b = json(body)?;
    let id = find_by_hkid(&s.platform.identity, &b.hkid)
        .await?
        .ok_or(iamsmart_domain::DomainError::NotFound)?;
    registration::upgrade_at_counter(&s.platform.identity, &who.0, &id, Some(&rid.0)).await?;
    Ok(Json(
        serde_json::json!({ "resident_id": id, "level": "plus" }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KioskRegistration {
    card: CardData,
    card_image: String,
    selfie: String,
}

/// A self-service kiosk scanned the card and took a selfie: the same checks as the app, then
/// an activation code to bind the resident's phone.
async fn kiosk_register(
    State(s): State<AppState>,
    who: Staff,
    Extension(rid): Extension<RequestId>,
    req: Request,
) -> ApiResult<(StatusCode, Json<CodeIssued>)> {
    who.0.require(&["kiosk"])?;
    let ip = client_ip(&s, &req);
    let body = axum::body::to_bytes(req.into_body(), s.config.upload_limit)
        .await
        .map_err(|_| ApiError::bad_request("the body could not be read"))?;
    let b: KioskRegistration = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not the expected JSON: {e}")))?;
    drop(body);
    let hkid = check_card(
        &b.card.hkid,
        &b.card.name_en,
        b.card.name_zh.as_deref(),
        &b.card.date_of_birth,
    )?;
    let p = &s.platform;
    let keys = registration::attempt_keys(&p.identity, &hkid, &format!("kiosk:{}", who.0.id), &ip);
    let verified =
        registration::prove_remotely(&p.identity, &b.card, Some(&b.card_image), &b.selfie, &keys)
            .await?;
    let out = registration::register_with_code(
        &p.identity,
        &b.card,
        Some(verified),
        "kiosk",
        &who.0.actor(),
        Some(&rid.0),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}
