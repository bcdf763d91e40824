//! Sign-in through the compatible API: `getQR` (the browser's entry) and `getToken` (the
//! service's redemption of the code).
use super::{ApiCode, ApiError, ApiResult};
use crate::oidc::authorize::{self, Outcome};
use crate::oidc::clients::{self, Client, ClientProfile};
use crate::oidc::request::{api_error_redirect, one, AuthzParams, Dialect, Form};
use crate::oidc::{tokens, Acr, OAuthError, Oidc};
use serde::{Deserialize, Serialize};

/// The scopes of the API, and whether a sign-in may ask for each.
pub const SCOPES: [&str; 5] = [
    "eidapi_auth",
    "eidapi_profiles",
    "eidapi_formFilling",
    "eidapi_sign",
    "eidapi_fr",
];

/// `source` values of the real platform: the browser or app the sign-in starts from.
pub(super) fn source_ok(source: &str) -> bool {
    const EXACT: [&str; 4] = ["PC_Browser", "App_Link", "App_Package", "App_Scheme"];
    let named = |prefix: &str| {
        source.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 40
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    };
    EXACT.contains(&source) || named("Android_") || named("iOS_")
}

/// `lang` of the real platform, as the platform's `ui_locales`.
fn locale(lang: &str) -> Option<&'static str> {
    match lang {
        "en-US" => Some("en"),
        "zh-HK" => Some("zh-Hant"),
        "zh-CN" => Some("zh-Hans"),
        _ => None,
    }
}

fn page_error(code: ApiCode, message: &str) -> Outcome {
    let e = if code == ApiCode::UnknownClient {
        OAuthError::invalid_client(format!("{}: {message}", code.as_str()))
    } else {
        OAuthError::invalid_request(format!("{}: {message}", code.as_str()))
    };
    Outcome::ErrorPage(e)
}

/// `GET /api/v1/auth/getQR`: the same sign-in page as `/authorize` (QR code, match code, the
/// hand-over to the app on a phone), answering the service at `redirectURI` with `code` and
/// `state`, or `error_code` and `state`. Before the redirect URI is known to be the client's,
/// errors are shown on a page (never redirected).
pub async fn get_qr(p: &Oidc, form: &Form, session_cookie: Option<&str>) -> Outcome {
    let text = |k: &str| one(form, k).ok().flatten();
    let Some(client_id) = text("clientID") else {
        return page_error(ApiCode::InvalidRequest, "clientID is required");
    };
    let client = match clients::named(p, client_id).await {
        Ok(Some(c)) if c.meta.iamsmart_profile == ClientProfile::IamsmartApi => c,
        Ok(_) => return page_error(ApiCode::UnknownClient, ApiCode::UnknownClient.message()),
        Err(e) => return Outcome::ErrorPage(e.into()),
    };
    if form.values().any(|v| v.len() > 1) {
        return page_error(ApiCode::InvalidRequest, "a parameter is repeated");
    }
    let Some(redirect_uri) = text("redirectURI") else {
        return page_error(ApiCode::InvalidRequest, "redirectURI is required");
    };
    if !client.meta.redirect_uris.iter().any(|r| r == redirect_uri) {
        return page_error(
            ApiCode::RedirectNotRegistered,
            "redirectURI is not registered for this clientID (exact match)",
        );
    }
    let state = text("state");
    match params(&client, form, redirect_uri) {
        Ok(params) => authorize::authorize_validated(p, &client, params, session_cookie).await,
        Err(e) => Outcome::Redirect(api_error_redirect(
            redirect_uri,
            state.filter(|s| s.len() <= 1024),
            e.code,
        )),
    }
}

fn params(client: &Client, form: &Form, redirect_uri: &str) -> ApiResult<AuthzParams> {
    let text = |k: &str| one(form, k).ok().flatten();
    let bad = |m: &str| ApiError::new(ApiCode::InvalidRequest, m);
    if text("responseType") != Some("code") {
        return Err(bad("responseType must be code"));
    }
    let source = text("source").ok_or_else(|| bad("source is required"))?;
    if !source_ok(source) {
        return Err(bad(
            "source must be PC_Browser, Android_<browser>, iOS_<browser>, App_Link, App_Package or App_Scheme",
        ));
    }
    let ui_locales = match text("lang") {
        None => None,
        Some(l) => Some(
            locale(l)
                .ok_or_else(|| bad("lang must be en-US, zh-HK or zh-CN"))?
                .to_string(),
        ),
    };
    let scope = text("scope").ok_or_else(|| bad("scope is required"))?;
    let scopes: Vec<&str> = scope.split([' ', ',']).filter(|s| !s.is_empty()).collect();
    if let Some(s) = scopes.iter().find(|s| !SCOPES.contains(s)) {
        return Err(bad(&format!(
            "scope {s} is unknown (eidapi_auth, eidapi_profiles, eidapi_formFilling, eidapi_sign, eidapi_fr)"
        )));
    }
    if !scopes.contains(&"eidapi_auth") {
        return Err(bad("scope must include eidapi_auth"));
    }
    if let Some(allowed) = &client.meta.scope {
        if let Some(s) = scopes
            .iter()
            .find(|s| !allowed.split(' ').any(|a| a == **s))
        {
            return Err(ApiError::new(
                ApiCode::ScopeNotAllowed,
                format!("scope {s} is not allowed for this client"),
            ));
        }
    }
    let state = text("state");
    if state.is_some_and(|s| s.len() > 1024) {
        return Err(bad("state is too long (at most 1024 characters)"));
    }
    if text("brokerPage").is_some_and(|b| b != "true" && b != "false") {
        return Err(bad("brokerPage must be true or false"));
    }
    let mut granted = vec!["openid"];
    for s in SCOPES {
        if scopes.contains(&s) {
            granted.push(s);
        }
    }
    Ok(AuthzParams {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope: granted.join(" "),
        fields: vec![],
        state: state.map(str::to_string),
        nonce: None,
        code_challenge: String::new(),
        prompt: vec![],
        max_age: None,
        acr_values: vec![],
        ui_locales,
        dpop_jkt: None,
        authorization_details: None,
        optional: vec![],
        purpose: None,
        dialect: Dialect::IamsmartApi,
    })
}

/// The body of `getToken`, sent as plain JSON (as clients of the real platform send it).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequest {
    code: String,
    grant_type: String,
}

/// The answer of `getToken` (encrypted under the client's content key as `content`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TokenAnswer {
    /// The access token (a signed JWT; pass it back as `accessToken`).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Issued at (milliseconds since the epoch).
    pub issue_at: i64,
    /// Valid for (milliseconds).
    pub expires_in: i64,
    /// The resident's identifier for this service (pairwise: another service sees another).
    #[serde(rename = "openID")]
    pub open_id: String,
    /// When the resident's account last changed (milliseconds since the epoch).
    pub last_modified_date: i64,
    /// `iAMSmart` or `iAMSmartPlus` (the level of the account when it signed in).
    pub user_type: String,
    /// The scopes granted, space-separated.
    pub scope: String,
}

/// `POST /api/v1/auth/getToken`: redeem the code of a sign-in (once; a second use revokes what
/// the first gave, as at `/token`).
pub async fn get_token(p: &Oidc, client: &Client, body: &[u8]) -> ApiResult<TokenAnswer> {
    let req: TokenRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ApiCode::InvalidRequest,
            format!("the body must be JSON {{\"code\": ..., \"grantType\": \"authorization_code\"}} ({e})"),
        )
    })?;
    if req.grant_type != "authorization_code" {
        return Err(ApiError::new(
            ApiCode::InvalidRequest,
            "grantType must be authorization_code",
        ));
    }
    if req.code.is_empty() || req.code.len() > 256 {
        return Err(ApiCode::BadAuthorizationCode.into());
    }
    let redeemed = tokens::redeem_code_grant(
        p,
        client,
        &req.code,
        None,
        None,
        None,
        crate::guard::Spent::new(),
    )
    .await?;
    let last_modified = crate::identity::last_modified(p, &redeemed.grant.data.resident_id)
        .await?
        .unwrap_or(redeemed.grant.data.auth_time);
    let signed = tokens::sign_tokens(
        p,
        client,
        &redeemed.grant,
        &redeemed.subject,
        None,
        None,
        false,
    )
    .await?;
    let now = p.clock.now_ms();
    let user_type = match redeemed.grant.data.acr {
        Acr::Basic => "iAMSmart",
        _ => "iAMSmartPlus",
    };
    let scope = signed
        .scope
        .split(' ')
        .filter(|s| *s != "openid")
        .collect::<Vec<_>>()
        .join(" ");
    Ok(TokenAnswer {
        access_token: signed.access_token,
        token_type: "Bearer".into(),
        issue_at: now,
        expires_in: signed.expires_in * 1000,
        open_id: redeemed.subject,
        last_modified_date: last_modified,
        user_type: user_type.into(),
        scope,
    })
}
