//! Face step-up through the compatible API (`account/stepup/initiateRequest`): the service asks
//! the signed-in resident to prove again, with a fresh face match in the app, that they are the
//! one signed in; the answer goes to its callback. It is the approval of kind `step_up` that the
//! OpenID provider's face step-up (`acr_values`) and CIBA use: the app takes a selfie and the
//! platform matches it with the registry's photo before the approval counts.
use super::account;
use super::callbacks::{self, TicketKind};
use super::{ApiCode, ApiError, ApiResult};
use crate::authn::approvals;
use crate::error::DomainError;
use crate::oidc::clients::Client;
use crate::Platform;
use serde::Deserialize;
use serde_json::{json, Value};

/// The body of `account/stepup/initiateRequest` (inside `content`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StartRequest {
    #[serde(rename = "businessID")]
    business_id: Option<String>,
    access_token: String,
    #[serde(rename = "openID")]
    open_id: String,
    source: String,
    #[serde(rename = "redirectURI")]
    redirect_uri: String,
    state: Option<String>,
    lang: Option<String>,
}

/// `POST /api/v1/account/stepup/initiateRequest`: needs a sign-in that granted `eidapi_fr`.
pub async fn initiate(p: &Platform, client: &Client, body: &[u8]) -> ApiResult<Value> {
    let req: StartRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ApiCode::InvalidRequest,
            format!("the request's content is not the expected JSON: {e}"),
        )
    })?;
    let (business_id, state) = account::common_fields(
        &req.business_id,
        &req.state,
        &req.source,
        req.lang.as_deref(),
    )?;
    let callback_uri = account::redirect_and_callback(&p.oidc, client, &req.redirect_uri).await?;
    account::signed_in(
        &p.oidc,
        client,
        &req.access_token,
        &req.open_id,
        "eidapi_fr",
    )
    .await?;
    let resident =
        crate::oidc::claims::resident_of_subject(p, &client.subject_sector(), &req.open_id)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    ApiCode::InvalidAccessToken,
                    "openID names no resident of this client",
                )
            })?;
    let created = approvals::create(
        &p.approvals,
        approvals::NewApproval {
            resident_id: Some(&resident),
            kind: "step_up",
            client_id: &client.id,
            client_name: &client.meta.client_name,
            details: json!({
                "service": client.meta.client_name,
                "fields": [],
                "binding_message": null,
                "acr": [],
            }),
            client_vetted: client.vetted,
            service: Some(client.meta.service_details()),
        },
    )
    .await?;
    callbacks::open_ticket(
        p,
        client,
        callbacks::NewTicket {
            id: created.id.as_str(),
            approval_id: created.id.as_str(),
            kind: TicketKind::StepUp,
            business_id,
            state,
            echo: Some(json!({ "openID": req.open_id })),
            callback_uri: &callback_uri,
            expires_at: created.expires_at,
        },
    )
    .await?;
    let mut answer = json!({
        "ticketID": created.id,
        "authByQR": false,
        "matchCode": created.match_code,
        "expiresAt": created.expires_at,
    });
    if let Some(b) = business_id {
        answer["businessID"] = Value::String(b.to_string());
    }
    Ok(answer)
}

/// Where a step-up stands, for its callback: `None` while the resident has not answered;
/// otherwise the code, the message and (approved with a face match) the content.
pub(super) async fn answered(
    p: &Platform,
    ticket_id: &str,
) -> crate::error::Result<Option<(ApiCode, String, Option<Value>)>> {
    use iamsmart_proto::app::ApprovalStatus;
    let id =
        iamsmart_proto::ids::ApprovalId::parse(ticket_id).map_err(|_| DomainError::NotFound)?;
    let (view, decided) = approvals::outcome(p, &id).await?;
    Ok(match (view.status, decided) {
        (ApprovalStatus::Pending | ApprovalStatus::Scanned, _) => None,
        (ApprovalStatus::Denied, _) => Some((
            ApiCode::UserRejected,
            "the resident declined".to_string(),
            None,
        )),
        (ApprovalStatus::Cancelled, _) => Some((
            ApiCode::UserCancelled,
            "the request was cancelled".to_string(),
            None,
        )),
        (ApprovalStatus::Expired, _) => Some((
            ApiCode::Timeout,
            "the resident did not answer in time".to_string(),
            None,
        )),
        (ApprovalStatus::Approved, Some(d)) if d.face_verified => Some((
            ApiCode::Success,
            ApiCode::Success.message().to_string(),
            Some(json!({ "faceVerified": true, "verifiedAt": d.decided_at })),
        )),
        (ApprovalStatus::Approved, _) => Some((
            ApiCode::ServerError,
            "approved without a face match: start again".to_string(),
            None,
        )),
    })
}
