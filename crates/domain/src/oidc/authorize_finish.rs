//! Finishing a sign-in: the grant and its code, with what the same commit also records (the
//! pushed request used, the login transaction closed, the new browser session).
use super::*;

/// What the commit that issues a code also records.
#[derive(Debug, Default)]
pub(super) struct Closing<'a> {
    /// The pushed request used (a browser signed in already, at `/authorize`).
    pub(super) par: Option<ParUse>,
    /// The login transaction finished.
    pub(super) tx: Option<&'a str>,
    /// A new browser session's cookie secret: the session is stored first.
    pub(super) session: Option<&'a str>,
}

/// Record consent (when asked to remember), create the grant and its code, and build the
/// redirect with the code; with them, in one commit, what `closing` names. `None` if the login
/// transaction had already finished (another page of it got there first).
pub(super) async fn finish(
    p: &Oidc,
    client: &Client,
    params: &AuthzParams,
    s: &Session,
    released: &[String],
    remember: bool,
    closing: Closing<'_>,
) -> OResult<Option<String>> {
    // Signatures asked for with the authorization (RFC 9396): pushed to the resident's app now;
    // the details in the grant (and the token response) say where to collect them.
    let authorization_details = match &params.authorization_details {
        Some(d) => Some(
            crate::signing::requests::from_authorization(&p.signing, client, &s.resident_id, d)
                .await?,
        ),
        None => None,
    };
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await.map_err(dom)?;
    if let Some(secret) = closing.session {
        crate::oidc::session::store_in(&mut tx, p, secret, s).await?;
    }
    if let Some(par) = closing.par {
        par.record(&mut tx, now).await?;
    }
    if let Some(id) = closing.tx {
        if !close_tx_in(&mut tx, now, id, Some(&s.sid)).await? {
            return Ok(None);
        }
    }
    if remember {
        claims::record_consent(&mut tx, &s.resident_id, &client.id, released, now).await?;
    }
    let grant_id = tokens::create_grant(
        p,
        &mut tx,
        &GrantData {
            client_id: client.id.clone(),
            resident_id: s.resident_id.clone(),
            device_id: s.device_id.clone(),
            sid: Some(s.sid.clone()),
            scope: params.scope.clone(),
            claims: released.to_vec(),
            acr: s.acr,
            amr: s.amr.clone(),
            auth_time: s.auth_time,
            nonce: params.nonce.clone(),
            authorization_details,
        },
        now,
    )
    .await?;
    let code = tokens::issue_code(
        p,
        &mut tx,
        &grant_id,
        &client.id,
        &params.redirect_uri,
        &params.code_challenge,
        params.dpop_jkt.as_deref(),
        now,
    )
    .await?;
    let subject = format!("resident:{}", s.resident_id);
    crate::audit::append(
        &mut tx,
        now,
        None,
        &crate::audit::Event {
            kind: "login.authorized",
            actor: &subject,
            subject: &subject,
            detail: serde_json::json!({ "client": client.id, "fields": released, "acr": s.acr, "remembered": remember }),
        },
    )
    .await?;
    tx.commit().await.map_err(dom)?;
    Ok(Some(code_redirect(p, params, &code)))
}
