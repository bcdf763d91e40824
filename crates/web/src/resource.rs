//! The platform's protected resources called with a resident's access token (userinfo, the
//! signing API): the token check shared by all of them (Bearer or DPoP-bound, RFC 6750 / 9449),
//! and step-up challenges (RFC 9470) when a call needs a stronger or fresher authentication.
use crate::oauth::ResourceError;
use crate::routes::oidc::{dpop_jkt, spend};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use iamsmart_domain::guard::Spent;
use iamsmart_domain::oidc::tokens::{self, AccessClaims, Grant};
use iamsmart_domain::oidc::{AuthRequirement, OAuthError};

/// A resident's access token that checked out, with its grant.
pub struct UserAccess {
    /// The token's claims (`acr`, `auth_time`, scopes, ...).
    pub claims: AccessClaims,
    /// The grant it belongs to (client, resident, released fields).
    pub grant: Grant,
    /// `DPoP` or `Bearer`: the scheme challenges answer in.
    pub scheme: &'static str,
}

impl UserAccess {
    /// Check a token taken from the `Authorization` header (or, for userinfo's POST form, the
    /// `access_token` parameter: pass it as `form_token`) and, for a DPoP-bound token, the proof
    /// for this method and path.
    pub async fn check(
        s: &AppState,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        form_token: Option<&str>,
    ) -> Result<Self, ResourceError> {
        let (scheme, token) = bearer(headers, form_token);
        if token.is_empty() {
            return Err(ResourceError {
                error: OAuthError::invalid_token("send an access token"),
                scheme,
                step_up: None,
            });
        }
        let (claims, grant) = tokens::verify_access_token(&s.platform.oidc, token)
            .await
            .map_err(|error| ResourceError {
                error,
                scheme,
                step_up: None,
            })?;
        let bound = claims.cnf.as_ref().and_then(|c| c["jkt"].as_str());
        check_binding(s, headers, method, path, scheme, token, bound).await?;
        Ok(Self {
            claims,
            grant,
            scheme,
        })
    }

    /// The step-up check (RFC 9470): `Ok` when the token's authentication meets `need`, else a
    /// 401 `insufficient_user_authentication` whose challenge names the `acr_values` (and
    /// `max_age`) to ask for.
    pub fn require(&self, need: AuthRequirement, now_s: i64) -> Result<(), ResourceError> {
        need.check(&self.claims.acr, self.claims.auth_time, now_s)
            .map_err(|error| ResourceError {
                error,
                scheme: self.scheme,
                step_up: Some((need.min_acr.to_string(), need.max_age_s)),
            })
    }

    /// `insufficient_scope` unless the token carries `scope`.
    pub fn need_scope(&self, scope: &str) -> Result<(), ResourceError> {
        if self.claims.scope.split(' ').any(|s| s == scope) {
            return Ok(());
        }
        Err(ResourceError {
            error: OAuthError::insufficient_scope(format!("this call needs the {scope} scope")),
            scheme: self.scheme,
            step_up: None,
        })
    }
}

/// The scheme and token of the `Authorization` header (`DPoP` or `Bearer`), or `form_token`
/// as a Bearer token when there is no header.
pub fn bearer<'a>(headers: &'a HeaderMap, form_token: Option<&'a str>) -> (&'static str, &'a str) {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(t) = auth.strip_prefix("DPoP ") {
        ("DPoP", t.trim())
    } else if let Some(t) = auth.strip_prefix("Bearer ") {
        ("Bearer", t.trim())
    } else {
        ("Bearer", form_token.unwrap_or_default())
    }
}

/// RFC 9449 at a resource: a DPoP-bound token (`bound` is its `cnf.jkt`) must come with the
/// DPoP scheme and a proof for this method and path from the key it is bound to; an unbound
/// token must not use the DPoP scheme.
pub async fn check_binding(
    s: &AppState,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    scheme: &'static str,
    token: &str,
    bound: Option<&str>,
) -> Result<(), ResourceError> {
    let fail = |error: OAuthError, scheme: &'static str| ResourceError {
        error,
        scheme,
        step_up: None,
    };
    match bound {
        Some(jkt) => {
            if scheme != "DPoP" {
                return Err(fail(
                    OAuthError::invalid_token(
                        "this token is DPoP-bound: use the DPoP scheme with a proof",
                    ),
                    "DPoP",
                ));
            }
            let mut spent = Spent::new();
            let got = dpop_jkt(s, headers, method, path, Some(token), &mut spent)
                .map_err(|e| fail(e, "DPoP"))?;
            if got.as_deref() != Some(jkt) {
                return Err(fail(
                    OAuthError::invalid_token(
                        "the DPoP proof is not from the key the token is bound to",
                    ),
                    "DPoP",
                ));
            }
            // Resources are mostly reads: the proof is recorded on its own.
            spend(s, spent).await.map_err(|e| fail(e, "DPoP"))
        }
        None if scheme == "DPoP" => Err(fail(
            OAuthError::invalid_token("this token is not DPoP-bound: use Bearer"),
            "Bearer",
        )),
        None => Ok(()),
    }
}

impl FromRequestParts<AppState> for UserAccess {
    type Rejection = ResourceError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let path = parts.uri.path().to_string();
        Self::check(s, parts.method.as_str(), &path, &parts.headers, None).await
    }
}
