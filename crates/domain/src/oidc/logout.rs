//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and back-channel logout
//! (OpenID Connect Back-Channel Logout 1.0): ending a browser session ends its grants at once,
//! and every client that had tokens from it is told.
use super::clients::{self, ClientId};
use super::error::{OAuthError, OResult};
use super::tokens;
use crate::error::DomainError;
use crate::keys::Purpose;
use crate::oidc::Oidc;
use iamsmart_crypto::jose::{self, Alg};

/// What to do after a logout request.
#[derive(Debug, Clone)]
pub struct Ended {
    /// Where to send the browser (a registered post-logout URI, with `state`), if anywhere.
    pub redirect: Option<String>,
    /// Whether a session was ended.
    pub ended: bool,
}

/// The answer to a logout request.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Done (or nothing to do): go on.
    Done(Ended),
    /// The browser has a session that the request does not name (no `id_token_hint`, or one of
    /// another session: a page of another site can send the browser here): the resident is
    /// asked before anything ends.
    Confirm(Confirmation),
}

/// What the confirmation page shows and sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// The service that asked, if one did: (id, name).
    pub client: Option<(String, String)>,
    /// The registered post-logout URI it gave, if any (checked).
    pub post_logout_redirect_uri: Option<String>,
    /// Its `state`.
    pub state: Option<String>,
    /// Where "stay signed in" goes: the service's post-logout URI with `state`, if it gave one
    /// (it has signed the resident out on its side already).
    pub return_to: Option<String>,
}

/// How much a confirmed logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The browser's iAM Smart session, and the asking service's grants from it.
    ThisService,
    /// The session and every grant from it: every service signed in to with it is told.
    Everywhere,
}

/// The longest an ID token given as `id_token_hint` may have been issued before: no session
/// lives longer, so an older one names nothing worth ending.
fn hint_max_age_s(p: &Oidc) -> i64 {
    p.provider.policy.session_ttl_ms / 1000
}

/// (client, sid) named by a valid `id_token_hint`: an ID token of this provider (not an access
/// or logout token, which the same key signs), recent enough to name a live session.
async fn read_hint(p: &Oidc, t: &str) -> OResult<(String, Option<String>)> {
    let keys = p
        .keys
        .jwks(Purpose::Token)
        .await
        .map_err(OAuthError::from)?;
    let (header, payload) = jose::verify_compact(t, &keys, &[Alg::ES256, Alg::EdDSA, Alg::RS256])
        .map_err(|_| {
        OAuthError::invalid_request("id_token_hint is not an ID token of this provider")
    })?;
    let v: serde_json::Value = serde_json::from_slice(&payload)
        .map_err(|_| OAuthError::invalid_request("id_token_hint"))?;
    if !matches!(header.typ.as_deref(), None | Some("JWT"))
        || v.get("events").is_some()
        || v.get("client_id").is_some()
    {
        return Err(OAuthError::invalid_request(
            "id_token_hint is another kind of token; send the ID token",
        ));
    }
    if v["iss"] != p.provider.policy.issuer.as_str() {
        return Err(OAuthError::invalid_request(
            "id_token_hint is from another issuer",
        ));
    }
    let Some(aud) = v["aud"].as_str().filter(|a| !a.is_empty()) else {
        return Err(OAuthError::invalid_request(
            "id_token_hint has no single audience",
        ));
    };
    let iat = v["iat"].as_i64().unwrap_or(0);
    if iat + hint_max_age_s(p) < p.clock.now_ms() / 1000 {
        return Err(OAuthError::invalid_request(
            "id_token_hint is older than any session; sign-in again or leave it out",
        ));
    }
    Ok((aud.to_string(), v["sid"].as_str().map(str::to_string)))
}

/// The client a logout names and where to send the browser after, both checked.
async fn client_and_redirect(
    p: &Oidc,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
    state: Option<&str>,
) -> OResult<(Option<clients::Client>, Option<String>)> {
    let client = match client_id {
        Some(cid) => Some(
            clients::named(p, cid)
                .await?
                .ok_or_else(|| OAuthError::invalid_request("unknown client"))?,
        ),
        None => None,
    };
    let redirect = match (post_logout_redirect_uri, &client) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "post_logout_redirect_uri needs client_id or id_token_hint",
            ))
        }
        (Some(uri), Some(client)) => {
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
    Ok((client, redirect))
}

/// Handle a logout request: `id_token_hint`, `client_id`, `post_logout_redirect_uri`, `state`,
/// and the browser's session cookie (OpenID Connect RP-Initiated Logout 1.0, section 2).
///
/// - The hint names this browser's session: it ends, with the asking service's grants from it
///   (other services signed in with it keep theirs).
/// - The browser has a session the request does not name: the resident is asked
///   ([`Outcome::Confirm`], then [`confirm`]).
/// - No session in this browser: nothing of the resident's ends but the asking service's own
///   grants from the session its hint names (a hint alone cannot end anyone's sign-in).
pub async fn end_session(
    p: &Oidc,
    id_token_hint: Option<&str>,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
    state: Option<&str>,
    session_cookie: Option<&str>,
) -> OResult<Outcome> {
    let hinted = match id_token_hint {
        Some(t) => Some(read_hint(p, t).await?),
        None => None,
    };
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
    let (client, redirect) =
        client_and_redirect(p, client_id.as_deref(), post_logout_redirect_uri, state).await?;
    let now = p.clock.now_ms();
    let session = super::authorize::session(p, session_cookie).await?;
    let hinted_sid = hinted.and_then(|(_, sid)| sid);
    match session {
        Some(s) if hinted_sid.as_deref() == Some(s.sid.as_str()) => {
            let client = client.as_ref().map(|c| &c.id);
            let ended = end_by_sid(
                p,
                &s.sid,
                client.map_or(Grants::None, Grants::OfClient),
                "logout",
                now,
            )
            .await?;
            Ok(Outcome::Done(Ended { redirect, ended }))
        }
        Some(_) => Ok(Outcome::Confirm(Confirmation {
            client: client.map(|c| (c.id.to_string(), c.meta.client_name.clone())),
            post_logout_redirect_uri: post_logout_redirect_uri
                .filter(|_| redirect.is_some())
                .map(str::to_string),
            state: state.map(str::to_string),
            return_to: redirect,
        })),
        None => {
            if let (Some(c), Some(sid)) = (&client, &hinted_sid) {
                revoke_client_grants(p, sid, &c.id, now).await?;
            }
            Ok(Outcome::Done(Ended {
                redirect,
                ended: false,
            }))
        }
    }
}

/// The resident confirmed on the page: end this browser's session, and the asking service's
/// grants from it or every grant from it. The page's CSRF token is checked by the caller.
pub async fn confirm(
    p: &Oidc,
    session_cookie: Option<&str>,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
    state: Option<&str>,
    reach: Reach,
) -> OResult<Ended> {
    let (client, redirect) =
        client_and_redirect(p, client_id, post_logout_redirect_uri, state).await?;
    let Some(s) = super::authorize::session(p, session_cookie).await? else {
        return Ok(Ended {
            redirect,
            ended: false,
        });
    };
    let grants = match (reach, &client) {
        (Reach::Everywhere, _) => Grants::All,
        (Reach::ThisService, Some(c)) => Grants::OfClient(&c.id),
        (Reach::ThisService, None) => Grants::None,
    };
    let ended = end_by_sid(p, &s.sid, grants, "logout", p.clock.now_ms()).await?;
    Ok(Ended { redirect, ended })
}

/// Which grants of a session end with it.
#[derive(Debug, Clone, Copy)]
pub enum Grants<'a> {
    /// None: the services keep their tokens until they sign the resident out themselves.
    None,
    /// Those of one client.
    OfClient(&'a ClientId),
    /// All.
    All,
}

/// A service's own grants from one session end (it asked, with an ID token of that session).
async fn revoke_client_grants(
    p: &Oidc,
    sid: &str,
    client_id: &ClientId,
    now: i64,
) -> Result<(), DomainError> {
    let residents: Vec<String> = sqlx::query_scalar(
        "UPDATE grants SET revoked_at = $1, revoked_reason = 'logout' WHERE sid = $2 AND client_id = $3 AND revoked_at IS NULL RETURNING resident_id",
    )
    .bind(now)
    .bind(sid)
    .bind(client_id)
    .fetch_all(p.db.writer())
    .await?;
    if let Some(r) = residents.first() {
        notify(p, client_id, r, Some(sid)).await;
    }
    Ok(())
}

/// End one browser session and the chosen grants from it; tell their clients. Returns whether
/// the session was live.
pub async fn end_by_sid(
    p: &Oidc,
    sid: &str,
    grants: Grants<'_>,
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
    let ended: Vec<(ClientId, String)> = match grants {
        Grants::None => Vec::new(),
        Grants::OfClient(c) => sqlx::query_as(
            "UPDATE grants SET revoked_at = $1, revoked_reason = $2 WHERE sid = $3 AND client_id = $4 AND revoked_at IS NULL RETURNING client_id, resident_id",
        )
        .bind(now)
        .bind(reason)
        .bind(sid)
        .bind(c)
        .fetch_all(&mut *tx)
        .await?,
        Grants::All => sqlx::query_as(
            "UPDATE grants SET revoked_at = $1, revoked_reason = $2 WHERE sid = $3 AND revoked_at IS NULL RETURNING client_id, resident_id",
        )
        .bind(now)
        .bind(reason)
        .bind(sid)
        .fetch_all(&mut *tx)
        .await?,
    };
    let mut clients: Vec<(ClientId, String)> = ended;
    clients.sort();
    clients.dedup();
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
                detail: serde_json::json!({
                    "sid": sid,
                    "reason": reason,
                    "services_signed_out": clients.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
                }),
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
pub async fn notify(p: &Oidc, client_id: &ClientId, resident_id: &str, sid: Option<&str>) {
    let Ok(Some(client)) = clients::get(p, client_id).await else {
        return;
    };
    let Some(uri) = client.meta.backchannel_logout_uri.clone() else {
        return;
    };
    let now = p.clock.now_ms() / 1000;
    let mut claims = serde_json::json!({
        "iss": p.provider.policy.issuer,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use serde_json::json;

    async fn signed(p: &Oidc, typ: Option<&str>, claims: serde_json::Value) -> String {
        p.keys
            .sign_jws(
                Purpose::Token,
                Alg::ES256,
                typ,
                claims.to_string().as_bytes(),
            )
            .await
            .expect("sign")
    }

    fn id_token(p: &Oidc) -> serde_json::Value {
        json!({
            "iss": p.provider.policy.issuer,
            "aud": "client-a",
            "sub": "s",
            "sid": "sid-1",
            "iat": p.clock.now_ms() / 1000,
            "exp": p.clock.now_ms() / 1000 + 300,
        })
    }

    #[tokio::test]
    async fn a_logout_hint_must_be_a_recent_id_token_of_this_provider() {
        let t = testing::platform().await;
        let p = &t.p;
        let ok = signed(&p.oidc, Some("JWT"), id_token(&p.oidc)).await;
        assert_eq!(
            read_hint(&p.oidc, &ok)
                .await
                .expect("an ID token names its session"),
            ("client-a".to_string(), Some("sid-1".to_string()))
        );
        // Other tokens the same key signs are not hints.
        let logout_token = signed(&p.oidc, Some("logout+jwt"), id_token(&p.oidc)).await;
        assert!(read_hint(&p.oidc, &logout_token).await.is_err());
        let mut with_events = id_token(&p.oidc);
        with_events["events"] = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
        assert!(
            read_hint(&p.oidc, &signed(&p.oidc, None, with_events).await)
                .await
                .is_err()
        );
        let mut access = id_token(&p.oidc);
        access["client_id"] = json!("client-a");
        assert!(read_hint(
            &p.oidc,
            &signed(&p.oidc, Some("at+jwt"), access.clone()).await
        )
        .await
        .is_err());
        assert!(read_hint(&p.oidc, &signed(&p.oidc, None, access).await)
            .await
            .is_err());
        // Another issuer, several audiences, no audience.
        let mut other = id_token(&p.oidc);
        other["iss"] = json!("https://elsewhere.example");
        assert!(read_hint(&p.oidc, &signed(&p.oidc, None, other).await)
            .await
            .is_err());
        let mut many = id_token(&p.oidc);
        many["aud"] = json!(["client-a", "client-b"]);
        assert!(read_hint(&p.oidc, &signed(&p.oidc, None, many).await)
            .await
            .is_err());
        // Not signed by us: a changed payload.
        let mut parts: Vec<String> = ok.split('.').map(str::to_string).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert!(read_hint(&p.oidc, &parts.join(".")).await.is_err());
        assert!(read_hint(&p.oidc, "not-a-jwt").await.is_err());
        // Expired is fine (the specification allows it) until no session could still live.
        t.clock.advance(3_600_000);
        assert!(
            read_hint(&p.oidc, &ok).await.is_ok(),
            "an expired ID token still names its sign-in"
        );
        t.clock.advance(p.oidc.provider.policy.session_ttl_ms);
        assert!(
            read_hint(&p.oidc, &ok).await.is_err(),
            "older than any session"
        );
    }
}
