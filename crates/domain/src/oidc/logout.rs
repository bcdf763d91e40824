//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and back-channel logout
//! (OpenID Connect Back-Channel Logout 1.0): ending a browser session ends its grants at once,
//! and every client that had tokens from it is told.
use super::clients;
use super::error::{OAuthError, OResult};
use super::tokens;
use crate::error::DomainError;
use crate::keys::Purpose;
use crate::platform::Platform;
use iamsmart_crypto::jose::{self, Alg};

/// What to do after a logout request.
#[derive(Debug, Clone)]
pub struct Ended {
    /// Where to send the browser (a registered post-logout URI, with `state`), if anywhere.
    pub redirect: Option<String>,
    /// Whether a session was ended.
    pub ended: bool,
}

/// Handle a logout request: `id_token_hint`, `client_id`, `post_logout_redirect_uri`, `state`,
/// and the browser's session cookie.
pub async fn end_session(
    p: &Platform,
    id_token_hint: Option<&str>,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
    state: Option<&str>,
    session_cookie: Option<&str>,
) -> OResult<Ended> {
    let mut hinted: Option<(String, Option<String>)> = None; // (client, sid)
    if let Some(t) = id_token_hint {
        let keys = p
            .keys
            .jwks(Purpose::Token)
            .await
            .map_err(OAuthError::from)?;
        let (_, payload) = jose::verify_compact(t, &keys, &[Alg::ES256, Alg::EdDSA, Alg::RS256])
            .map_err(|_| {
                OAuthError::invalid_request("id_token_hint is not an ID token of this provider")
            })?;
        let v: serde_json::Value = serde_json::from_slice(&payload)
            .map_err(|_| OAuthError::invalid_request("id_token_hint"))?;
        if v["iss"] != p.oidc.policy.issuer.as_str() {
            return Err(OAuthError::invalid_request(
                "id_token_hint is from another issuer",
            ));
        }
        let aud = v["aud"].as_str().unwrap_or_default().to_string();
        hinted = Some((aud, v["sid"].as_str().map(str::to_string)));
    }
    let client_id = match (client_id, &hinted) {
        (Some(c), Some((a, _))) if c != a => {
            return Err(OAuthError::invalid_request(
                "client_id differs from the id_token_hint's audience",
            ))
        }
        (Some(c), _) => Some(c.to_string()),
        (None, Some((a, _))) => Some(a.clone()),
        (None, None) => None,
    };
    let redirect = match (post_logout_redirect_uri, &client_id) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "post_logout_redirect_uri needs client_id or id_token_hint",
            ))
        }
        (Some(uri), Some(cid)) => {
            let client = clients::get(p, cid)
                .await?
                .ok_or_else(|| OAuthError::invalid_request("unknown client"))?;
            if !client
                .meta
                .post_logout_redirect_uris
                .iter()
                .any(|u| u == uri)
            {
                return Err(OAuthError::invalid_request(
                    "post_logout_redirect_uri is not registered for this client",
                ));
            }
            Some(match state {
                Some(s) => format!(
                    "{uri}{}state={}",
                    if uri.contains('?') { '&' } else { '?' },
                    super::authorize::urlencode(s)
                ),
                None => uri.to_string(),
            })
        }
    };
    let now = p.clock.now_ms();
    let cookie_sid = match super::authorize::session(p, session_cookie).await? {
        Some(s) => Some(s.sid),
        None => None,
    };
    let sid = cookie_sid.or_else(|| hinted.and_then(|(_, s)| s));
    let mut ended = false;
    if let Some(sid) = sid {
        ended = end_by_sid(p, &sid, "logout", now).await?;
    }
    Ok(Ended { redirect, ended })
}

/// End one browser session and its grants; tell the clients. Returns whether it was live.
pub async fn end_by_sid(
    p: &Platform,
    sid: &str,
    reason: &str,
    now: i64,
) -> Result<bool, DomainError> {
    let mut tx = p.db.begin().await?;
    let resident: Option<String> = sqlx::query_scalar(
        "UPDATE op_sessions SET revoked_at = $1 WHERE sid = $2 AND revoked_at IS NULL RETURNING resident_id",
    )
    .bind(now)
    .bind(sid)
    .fetch_optional(&mut *tx)
    .await?;
    let clients: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT client_id, resident_id FROM grants WHERE sid = $1 AND revoked_at IS NULL",
    )
    .bind(sid)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("UPDATE grants SET revoked_at = $1, revoked_reason = $2 WHERE sid = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(sid)
        .execute(&mut *tx)
        .await?;
    if let Some(r) = &resident {
        let subject = format!("resident:{r}");
        crate::audit::append(
            &mut tx,
            now,
            None,
            &crate::audit::Event {
                kind: "session.ended",
                actor: &subject,
                subject: &subject,
                detail: serde_json::json!({ "sid": sid, "reason": reason }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    for (client_id, resident_id) in clients {
        notify(p, &client_id, &resident_id, Some(sid)).await;
    }
    Ok(resident.is_some())
}

/// Send a back-channel logout token to a client (in the background; failures are logged).
pub async fn notify(p: &Platform, client_id: &str, resident_id: &str, sid: Option<&str>) {
    let Ok(Some(client)) = clients::get(p, client_id).await else {
        return;
    };
    let Some(uri) = client.meta.backchannel_logout_uri.clone() else {
        return;
    };
    let now = p.clock.now_ms() / 1000;
    let mut claims = serde_json::json!({
        "iss": p.oidc.policy.issuer,
        "aud": client.id,
        "iat": now,
        "exp": now + 120,
        "jti": iamsmart_crypto::rng::token(p.rng.as_ref(), 16),
        "sub": tokens::subject_for(p, &client, resident_id),
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    if let Some(s) = sid {
        claims["sid"] = serde_json::Value::String(s.to_string());
    }
    let token = match p
        .keys
        .sign_jws(
            Purpose::Token,
            client.id_token_alg(),
            Some("logout+jwt"),
            claims.to_string().as_bytes(),
        )
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "cannot sign a logout token");
            return;
        }
    };
    let outbound = p.outbound.clone();
    tokio::spawn(async move {
        if let Err(e) = outbound
            .post_form(&uri, &[("logout_token", token.as_str())])
            .await
        {
            tracing::warn!(client = %client.id, error = %e, "back-channel logout failed");
        }
    });
}
