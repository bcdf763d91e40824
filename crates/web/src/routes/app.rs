//! The resident's app API. Every call after registration is signed by the device key (see
//! `iamsmart_proto::app`); the signature covers the method, path and body, so handlers read the
//! raw body and parse it after the signature is checked.
use crate::error::{ApiError, ApiResult, RequestId};
use crate::ids::PathId;
use crate::middleware::client_ip;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use iamsmart_domain::authn::approvals;
use iamsmart_domain::exchange::{consents as data_consent, dealings};
use iamsmart_domain::guard::Spent;
use iamsmart_domain::identity::devices::{self, DeviceCaller, SignedRequest};
use iamsmart_domain::identity::user_verification::{self as uv, SessionRule};
use iamsmart_domain::identity::{self, activation, registration, rights};
use iamsmart_domain::notify::inbox;
use iamsmart_domain::oidc::clients::ClientId;
use iamsmart_proto::app::{
    Activation, Decision, SelfRegistration, Unlock, Upgrade, APP_SESSION_HEADER,
    DEVICE_SIGNATURE_HEADER,
};
use iamsmart_proto::ids::DeviceId;
use iamsmart_proto::ids::{ApprovalId, DataConsentId, NotificationId};
use iamsmart_proto::profile::Profile;
use serde::de::DeserializeOwned;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/v1/registrations/challenge", post(challenge))
        .route("/app/v1/activations", post(activate))
        .route("/app/v1/config", get(app_config))
        .route("/app/v1/devices/passkey-options", post(passkey_options))
        .route("/app/v1/unlock/options", post(unlock_options))
        .route("/app/v1/unlock", post(unlock))
        .route("/app/v1/lock", post(lock))
        .route("/app/v1/devices/link", post(link_device))
        .route("/app/v1/me", get(me))
        .route("/app/v1/me/profile", put(update_profile))
        .route("/app/v1/me/export", get(export))
        .route("/app/v1/me/close", post(close))
        .route("/app/v1/devices", get(list_devices))
        .route("/app/v1/devices/{id}/revoke", post(revoke_device))
        .route("/app/v1/devices/{id}/unseal", post(unseal_evaluate))
        .route("/app/v1/devices/unsealed", post(unsealed))
        .route("/app/v1/devices/unseal-setup", post(unseal_setup))
        .route("/app/v1/consents", get(consents))
        .route("/app/v1/consents/{client}/revoke", post(revoke_consent))
        .route("/app/v1/dealings", get(dealings))
        .route("/app/v1/data-consents", get(data_consents))
        .route("/app/v1/data-consents/{id}/receipt", get(receipt))
        .route(
            "/app/v1/data-consents/{id}/{action}",
            post(data_consent_action),
        )
        .route("/app/v1/requests", get(pending))
        .route("/app/v1/requests/{id}", get(open_request))
        .route("/app/v1/requests/{id}/decision", post(decide))
        .route("/app/v1/signing/certificate", post(signing_certificate))
        .route("/app/v1/notifications", get(notifications))
        .route(
            "/app/v1/notifications/read-all",
            post(notifications_read_all),
        )
        .route("/app/v1/notifications/{id}/read", post(notification_read))
        .route("/app/v1/notification-settings", get(notification_settings))
        .route(
            "/app/v1/notification-settings/{client}/{choice}",
            post(notification_setting),
        )
}

/// Calls that carry images.
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .route("/app/v1/registrations", post(register))
        .route("/app/v1/me/upgrade", post(upgrade))
}

/// What a signed call brings: the signature header, method, path, client address, request id
/// and the raw body.
pub struct Signed {
    signature: Option<String>,
    session: Option<String>,
    method: String,
    path: String,
    ip: String,
    rid: String,
    body: Bytes,
}

impl Signed {
    async fn from(state: &AppState, req: Request) -> ApiResult<Self> {
        let ip = client_ip(state, &req);
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, state.config.upload_limit)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    "The request body is too large",
                )
            })?;
        Ok(Self {
            signature: parts
                .headers
                .get(DEVICE_SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            session: parts
                .headers
                .get(APP_SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.len() <= 128)
                .map(str::to_string),
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            ip,
            rid: parts
                .extensions
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default(),
            body,
        })
    }

    fn request(&self) -> SignedRequest<'_> {
        SignedRequest {
            signature: self.signature.as_deref(),
            method: &self.method,
            path: &self.path,
            body: &self.body,
            session: self.session.as_deref(),
        }
    }

    fn json<T: DeserializeOwned>(&self) -> ApiResult<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("the body is not the expected JSON: {e}")))
    }

    async fn device(&self, state: &AppState) -> ApiResult<DeviceCaller> {
        self.device_with(state, SessionRule::Unlocked).await
    }

    async fn device_with(&self, state: &AppState, rule: SessionRule) -> ApiResult<DeviceCaller> {
        Ok(devices::authenticate_with(&state.platform.identity, &self.request(), rule).await?)
    }

    /// The calling device, its request's `jti` left for the handler to record with its effect.
    async fn device_deferred(&self, state: &AppState) -> ApiResult<(DeviceCaller, Spent)> {
        Ok(devices::authenticate_deferred(
            &state.platform.identity,
            &self.request(),
            SessionRule::Unlocked,
        )
        .await?)
    }
}

async fn challenge(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(registration::challenge(&s.platform.identity).await?),
    ))
}

async fn register(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let reg: SelfRegistration = call.json()?;
    let out = registration::register_in_app(
        &s.platform.identity,
        reg,
        &call.request(),
        &call.ip,
        Some(&call.rid),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

async fn activate(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let act: Activation = call.json()?;
    let out = activation::activate(
        &s.platform.identity,
        act,
        &call.request(),
        &call.ip,
        Some(&call.rid),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

async fn me(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    Ok(Json(
        identity::get(&s.platform.identity, &caller.resident_id)
            .await?
            .view(),
    ))
}

async fn update_profile(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    let profile: Profile = call.json()?;
    let r = identity::update_profile(
        &s.platform.identity,
        &caller.resident_id,
        &profile,
        Some(&call.rid),
    )
    .await?;
    Ok(Json(r.view()))
}

async fn export(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device_with(&s, SessionRule::Fresh).await?;
    let doc = rights::export(&s.platform, &caller).await?;
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"iamsmart-my-data.json\"",
        )],
        Json(doc),
    ))
}

async fn close(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device_with(&s, SessionRule::Fresh).await?;
    let purge_at = rights::close(&s.platform.identity, &caller, Some(&call.rid)).await?;
    Ok(Json(serde_json::json!({
        "status": "closed",
        "personal_data_erased_after": purge_at,
    })))
}

/// What the app needs to know before it is set up: the passkey relying party, whether a PIN
/// may replace a passkey, whether self-registration (a face model) is available, and how long
/// an unlocked app stays unlocked.
async fn app_config(State(s): State<AppState>) -> impl IntoResponse {
    let p = &s.platform;
    Json(serde_json::json!({
        "rp_id": p.identity.rp.id,
        "pin_allowed": p.identity.policy.app.pin_allowed,
        "self_registration": p.identity.face.available(),
        "idle_secs": p.identity.policy.app.session_idle_ms / 1000,
    }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PasskeyOptionsBody {
    public_jwk: serde_json::Value,
    name: String,
}

/// Creation options for the passkey of a device key about to be bound (activation or
/// registration): the challenge names the key, so the passkey works for that key only.
async fn passkey_options(
    State(s): State<AppState>,
    Json(b): Json<PasskeyOptionsBody>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(serde_json::json!({
        "publicKey": uv::creation_options(&s.platform.identity, &b.public_jwk, &b.name)?,
    })))
}

/// A challenge to unlock with (and the passkey's request options).
async fn unlock_options(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device_with(&s, SessionRule::None).await?;
    Ok(Json(
        uv::unlock_options(&s.platform.identity, &caller.device_id).await?,
    ))
}

/// Unlock: the passkey's assertion over the challenge, or the PIN; answers a session token.
async fn unlock(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device_with(&s, SessionRule::None).await?;
    let body: Unlock = call.json()?;
    let session = uv::unlock(
        &s.platform.identity,
        &caller.device_id,
        &body,
        Some(&call.rid),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Lock now: the session sent ends.
async fn lock(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device_with(&s, SessionRule::None).await?;
    uv::lock(&s.platform, &caller.device_id, call.session.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A short-lived code (and its QR payload) with which another phone joins this account.
async fn link_device(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device_with(&s, SessionRule::Fresh).await?;
    let issued =
        activation::issue_device_link_code(&s.platform.identity, &caller, Some(&call.rid)).await?;
    let compact = activation::normalise_code(&issued.activation_code);
    let qr = format!("iamsmart:activate?code={compact}");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "code": issued.activation_code,
            "qr_image": qr_data_url(&qr),
            "qr": qr,
            "expires_at": issued.expires_at,
        })),
    ))
}

async fn upgrade(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    let up: Upgrade = call.json()?;
    let level = registration::upgrade_in_app(
        &s.platform.identity,
        &caller,
        &up.selfie,
        &call.ip,
        Some(&call.rid),
    )
    .await?;
    Ok(Json(serde_json::json!({ "level": level })))
}

async fn list_devices(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    Ok(Json(
        devices::list(&s.platform, &caller.resident_id, Some(&caller.device_id)).await?,
    ))
}

async fn revoke_device(
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    let id: DeviceId = crate::ids::named(&id)?;
    devices::revoke(&s.platform, &caller, &id, Some(&call.rid)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
struct UnsealRequest {
    /// The app's blinded PIN (RFC 9497, ristretto255), base64url.
    blinded: String,
    /// The app home's unseal token, base64url.
    token: String,
}

#[derive(serde::Deserialize)]
struct UnsealSetup {
    /// The app's blinded PIN (RFC 9497, ristretto255), base64url.
    blinded: String,
    /// SHA-256 of the app home's new unseal token, base64url.
    token_hash: String,
}

fn b64_field(value: &str, max: usize, what: &'static str) -> ApiResult<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.as_bytes())
        .ok()
        .filter(|b| b.len() <= max)
        .ok_or_else(|| ApiError::bad_request(format!("{what}: base64url, at most {max} bytes")))
}

/// Protect the app's keys with the platform's part: signed by the device key the app is about
/// to seal; remembers the hash of the home's unseal token and evaluates the blinded PIN.
async fn unseal_setup(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    use base64::Engine;
    let call = Signed::from(&s, req).await?;
    let body: UnsealSetup = call.json()?;
    let blinded = b64_field(&body.blinded, 64, "blinded")?;
    let token_hash: [u8; 32] = b64_field(&body.token_hash, 32, "token_hash")?
        .try_into()
        .map_err(|_| ApiError::bad_request("token_hash: a SHA-256"))?;
    let evaluated = identity::unseal::setup_signed(
        &s.platform.identity,
        &call.request(),
        &token_hash,
        &blinded,
    )
    .await?;
    Ok(Json(serde_json::json!({
        "evaluated": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(evaluated),
    })))
}

/// The platform's part in unsealing the command-line app's keys: evaluate the blinded PIN with
/// the device's OPRF key. Not signed (the app cannot sign before it has unsealed) but carrying
/// the home's unseal token; each call is counted against the device, and the sixth in a row
/// without the app's proof that it unsealed locks it.
async fn unseal_evaluate(
    State(s): State<AppState>,
    PathId(id): PathId<DeviceId>,
    axum::Extension(rid): axum::Extension<RequestId>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    use base64::Engine;
    let body: UnsealRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not the expected JSON: {e}")))?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let blinded = b64_field(&body.blinded, 64, "blinded")?;
    let token = b64_field(&body.token, 64, "token")?;
    let evaluated = identity::unseal::evaluate(
        &s.platform.identity,
        &id,
        &token,
        &blinded,
        Some(rid.0.as_str()),
    )
    .await?;
    Ok(Json(serde_json::json!({
        "evaluated": b64.encode(evaluated),
        "tries_left": identity::unseal::tries_left(&s.platform.identity, &id).await?,
    })))
}

/// The app proves, signing with the key it unsealed, that its PIN was right: the count of
/// tries starts again.
async fn unsealed(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    identity::unseal::unsealed(&s.platform.identity, &call.request()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn consents(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    Ok(Json(
        iamsmart_domain::oidc::claims::list_consents(&s.platform, &caller.resident_id).await?,
    ))
}

/// Withdraw every consent given to a service; its tokens that carried personal data stop
/// working at once.
async fn revoke_consent(
    State(s): State<AppState>,
    Path(client): Path<String>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    let client: ClientId = crate::ids::named(&client)?;
    let n = iamsmart_domain::oidc::claims::revoke_consent(
        &s.platform,
        &caller.resident_id,
        &client,
        None,
        Some(&call.rid),
    )
    .await?;
    if n == 0 {
        return Err(iamsmart_domain::DomainError::NotFound.into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Every dealing with every service, with the consents behind them (also the JSON export).
async fn dealings(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    Ok(Json(serde_json::json!({
        "services": dealings::for_resident(&s.platform.exchange, &caller.resident_id).await?,
    })))
}

async fn data_consents(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    Ok(Json(
        data_consent::for_resident(&s.platform.exchange, &caller.resident_id).await?,
    ))
}

/// Pause, resume or revoke a data consent; the next fetch sees it at once.
async fn data_consent_action(
    State(s): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    let id: DataConsentId = crate::ids::named(&id)?;
    Ok(Json(
        data_consent::resident_action(&s.platform.exchange, &caller.resident_id, &id, &action)
            .await?,
    ))
}

/// A consent's receipt: the signed artefact and its place in the transparency log.
async fn receipt(
    State(s): State<AppState>,
    PathId(id): PathId<DataConsentId>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    Ok(Json(
        dealings::receipt(&s.platform.exchange, &caller.resident_id, &id).await?,
    ))
}

async fn pending(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    Ok(Json(
        approvals::pending(&s.platform, &caller.resident_id).await?,
    ))
}

async fn open_request(
    State(s): State<AppState>,
    PathId(id): PathId<ApprovalId>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let (caller, spent) = call.device_deferred(&s).await?;
    Ok(Json(
        approvals::open(&s.platform, &caller, &id, spent).await?,
    ))
}

async fn decide(
    State(s): State<AppState>,
    PathId(id): PathId<ApprovalId>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let (caller, spent) = call.device_deferred(&s).await?;
    let d: Decision = call.json()?;
    let view = approvals::decide(
        &s.platform.approvals,
        &s.platform.identity,
        &caller,
        &id,
        &d,
        &call.ip,
        Some(&call.rid),
        spent,
    )
    .await?;
    iamsmart_domain::oidc::ciba::decided(&s.platform.oidc, &id).await;
    // A signing request: the app's signature is checked and assembled now, so that the
    // resident learns at once if it could not be used.
    if view.kind == iamsmart_domain::signing::requests::APPROVAL_KIND {
        iamsmart_domain::signing::requests::answered(&s.platform.signing, &id, Some(&call.rid))
            .await?;
    }
    // A request of the compatible API: its callback goes now (once the signature is made).
    iamsmart_domain::osp_api::callbacks::decided(&s.platform, &id, &view.kind);
    Ok(Json(view))
}

/// Issue a signing certificate for the app's signing key (iAM Smart+ only).
async fn signing_certificate(
    State(s): State<AppState>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    use base64::Engine;
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    let body: iamsmart_proto::app::CertificateRequest = call.json()?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let csr = b64
        .decode(body.csr.trim_end_matches('='))
        .map_err(|_| ApiError::bad_request("csr is not base64url"))?;
    let issued = iamsmart_domain::signing::ca::issue_for_device(
        &s.platform.signing,
        &caller,
        &csr,
        Some(&call.rid),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(iamsmart_proto::app::IssuedCertificate {
            serial: issued.serial,
            certificate: b64.encode(&issued.certificate),
            chain: issued.chain.iter().map(|c| b64.encode(c)).collect(),
        }),
    ))
}

/// The resident's notifications, newest first (`?unread=1`: only unread ones), with the unread
/// count.
async fn notifications(State(s): State<AppState>, req: Request) -> ApiResult<impl IntoResponse> {
    let unread_only = req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|kv| kv == "unread=1" || kv == "unread=true")
    });
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    let list = inbox::list(&s.platform.notify, &caller.resident_id, unread_only, 200).await?;
    let unread = inbox::unread_count(&s.platform, &caller.resident_id).await?;
    Ok(Json(serde_json::json!({
        "unread": unread,
        "notifications": list,
    })))
}

async fn notification_read(
    State(s): State<AppState>,
    PathId(id): PathId<NotificationId>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    inbox::mark_read(&s.platform, &caller.resident_id, &id).await?;
    Ok(Json(
        inbox::get(&s.platform.notify, &caller.resident_id, &id).await?,
    ))
}

async fn notifications_read_all(
    State(s): State<AppState>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    let n = inbox::mark_all_read(&s.platform, &caller.resident_id).await?;
    Ok(Json(serde_json::json!({ "marked_read": n })))
}

/// The services the resident uses, and whether each may send notifications.
async fn notification_settings(
    State(s): State<AppState>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    Ok(Json(
        inbox::preferences(&s.platform.notify, &caller.resident_id).await?,
    ))
}

/// Turn a service's notifications `on` or `off`.
async fn notification_setting(
    State(s): State<AppState>,
    Path((client, choice)): Path<(String, String)>,
    req: Request,
) -> ApiResult<impl IntoResponse> {
    let call = Signed::from(&s, req).await?;
    let caller = call.device(&s).await?;
    let enabled = match choice.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(ApiError::bad_request("choose on or off")),
    };
    let client: ClientId = crate::ids::named(&client)?;
    inbox::set_preference(
        &s.platform.notify,
        &caller.resident_id,
        &client,
        enabled,
        Some(&call.rid),
    )
    .await?;
    Ok(Json(
        inbox::preferences(&s.platform.notify, &caller.resident_id).await?,
    ))
}

/// A QR code as an SVG `data:` URL (the app shows it as an image; the CSP allows `data:` images).
fn qr_data_url(payload: &str) -> Option<String> {
    use base64::Engine;
    let code = qrcode::QrCode::new(payload.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}
