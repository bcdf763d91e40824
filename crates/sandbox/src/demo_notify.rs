//! The demo service as a sender of notifications: once an application is submitted it tells the
//! applicant so through iAM Smart (client token with scope `notify`, DPoP-bound; the
//! application's reference as the idempotency key). The platform delivers it only if the
//! applicant turned on notifications from this service; either way the form goes on.
use crate::demo_licence::client_token;
use crate::demo_service::Demo;
use serde_json::{json, Value};

/// Send "application received"; returns the platform's status (`delivered`, `not_delivered`)
/// or why it could not be sent.
pub(crate) async fn application_received(
    s: &Demo,
    sub: &str,
    reference: &str,
) -> Result<String, String> {
    let token = client_token(s, "notify").await?;
    let path = "/notify/v1/notifications";
    let proof = s.dpop(
        "POST",
        &format!("{}{path}", s.cfg.issuer.trim_end_matches('/')),
        Some(&token),
    )?;
    let body = json!({
        "sub": sub,
        "title": {
            "en": "Your application was received",
            "zh": "已收到你的申請",
        },
        "body": {
            "en": format!("We received your application for an International Driving Permit (reference {reference}). We will tell you when the permit is ready for collection."),
            "zh": format!("我們已收到你的國際駕駛許可證申請（編號 {reference}）。許可證可供領取時，我們會再通知你。"),
        },
        "link": format!("{}/", s.cfg.public_url.trim_end_matches('/')),
        "category": "application-status",
    });
    let r = s
        .http
        .post(format!("{}{path}", s.cfg.platform_backchannel))
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .header("Idempotency-Key", format!("idp-received-{reference}"))
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("iAM Smart: {e}"))?;
    let v: Value = r.json().await.map_err(|e| format!("iAM Smart: {e}"))?;
    v["status"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| crate::demo_licence::why(&v))
}
