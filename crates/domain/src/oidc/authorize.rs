//! The authorization endpoint's flow: the login transaction shown to the resident (QR code and
//! match code for the app, or a passkey on this device), the consent step in the browser, and
//! the redirect back with a code (or an error, always with `iss`).
//!
//! Errors about the client or the redirect URI are shown on an error page and never
//! redirected; every other error goes back to the client's registered redirect URI.
pub use super::request::{
    error_redirect, push, urlencode, validate, AuthzParams, Form, DETAIL_TYPES, REQUEST_URI_PREFIX,
};
pub use super::session::{session, Session};

use super::claims;
use super::clients::{self, Client};
use super::error::{Denial, OAuthError, OResult};
use super::request::{code_redirect, one, read_par, ParUse};
use super::request::{Dialect, Prompt};
use super::tokens::{self, GrantData};
use super::Acr;
use crate::authn::approvals;
use crate::env::Env;
use crate::error::DomainError;
use crate::oidc::Oidc;
use iamsmart_proto::app::ApprovalStatus;
use iamsmart_proto::i18n::{Localized, ServiceDetails};
use iamsmart_proto::ids::ApprovalId;
use iamsmart_store::AnyConnection;

/// What the endpoint does next.
#[derive(Debug)]
pub enum Outcome {
    /// Show an error page; do not redirect (bad client or redirect URI, or a broken transaction).
    ErrorPage(OAuthError),
    /// Redirect the browser (to the client, with a code or an error).
    Redirect(String),
    /// Show the login page: a QR code for the app, the match code, a continue link.
    Login(LoginPage),
    /// Show the consent page (and set this new session cookie first, if any).
    Consent {
        /// A session just created (cookie value), if any.
        session: Option<String>,
        /// The page.
        page: ConsentPage,
    },
    /// Signed in: set this session cookie (if new), then redirect.
    SignedIn {
        /// The new browser session secret (cookie value), if any.
        session: Option<String>,
        /// Where to go.
        redirect: String,
    },
}

/// What the login page shows.
#[derive(Debug, Clone)]
pub struct LoginPage {
    /// Transaction id (continue link).
    pub tx: String,
    /// Cookie value binding the transaction to this browser (set on the first page only).
    pub browser_secret: Option<String>,
    /// The QR payload for the app.
    pub qr: String,
    /// The match code.
    pub match_code: String,
    /// Who is asking: name, department, purpose in every language registered.
    pub service: ServiceDetails,
    /// Its logo.
    pub logo_uri: Option<String>,
    /// What is asked.
    pub fields: Vec<String>,
    /// Unix ms.
    pub expires_at: i64,
    /// `pending`, `scanned`, ...
    pub status: iamsmart_proto::app::ApprovalStatus,
    /// Preferred languages.
    pub ui_locales: Option<String>,
    /// Whether a face match is needed.
    pub face: bool,
    /// Whether a passkey can satisfy the request (not for face step-up).
    pub passkey_allowed: bool,
    /// The service registered itself (dynamic registration): nobody checked who runs it.
    pub self_registered: bool,
}

/// One item on the consent page.
#[derive(Debug, Clone)]
pub struct ConsentItem {
    /// The e-ME field.
    pub field: String,
    /// Its value as shown (the HKID masked).
    pub shown: String,
    /// Whether the service needs it (cannot be unticked).
    pub required: bool,
}

/// What the consent page shows.
#[derive(Debug, Clone)]
pub struct ConsentPage {
    /// Transaction id (the form posts it back).
    pub tx: String,
    /// Who is asking: name, department, purpose in every language registered.
    pub service: ServiceDetails,
    /// Its logo.
    pub logo_uri: Option<String>,
    /// The items with their values.
    pub items: Vec<ConsentItem>,
    /// Preferred languages.
    pub ui_locales: Option<String>,
    /// Cookie value binding a new transaction to this browser (set with the page).
    pub browser_secret: Option<String>,
}

/// Handle `GET /authorize`.
pub async fn authorize(p: &Oidc, form: &Form, session_cookie: Option<&str>) -> Outcome {
    match authorize_inner(p, form, session_cookie).await {
        Ok(o) => o,
        Err(o) => o,
    }
}

async fn authorize_inner(p: &Oidc, form: &Form, cookie: Option<&str>) -> Result<Outcome, Outcome> {
    let page = Outcome::ErrorPage;
    let client_id = one(form, "client_id")
        .map_err(page)?
        .ok_or_else(|| page(OAuthError::invalid_request("client_id is required")))?;
    let client = clients::named(p, client_id)
        .await
        .map_err(|e| page(e.into()))?
        .ok_or_else(|| page(OAuthError::invalid_client("unknown client_id")))?;
    let (params, par) = match one(form, "request_uri").map_err(page)? {
        Some(uri) => {
            let (params, par) = read_par(p, &client, uri).await.map_err(page)?;
            (params, Some(par))
        }
        None => {
            // Only the redirect URI decides whether an error may be redirected.
            let ruri = one(form, "redirect_uri").ok().flatten();
            let redirectable = ruri.filter(|r| client.meta.redirect_uris.iter().any(|x| x == r));
            let state = one(form, "state").ok().flatten();
            let fail = |e: OAuthError| match redirectable {
                Some(r) if e.error != "invalid_redirect_uri" => {
                    Outcome::Redirect(error_redirect(p, Dialect::of(&client), r, state, &e))
                }
                _ => Outcome::ErrorPage(e),
            };
            if client.fapi() || client.meta.require_pushed_authorization_requests {
                return Err(fail(OAuthError::invalid_request(
                    "this client must use pushed authorization requests (PAR)",
                )));
            }
            (validate(p, &client, form).await.map_err(fail)?, None)
        }
    };
    proceed(p, &client, params, par, cookie).await
}

/// Go on with an authorization request that was validated elsewhere (the compatible API's
/// `getQR`, which has its own parameters): the same sign-in, consent and redirect.
pub async fn authorize_validated(
    p: &Oidc,
    client: &Client,
    params: AuthzParams,
    session_cookie: Option<&str>,
) -> Outcome {
    match proceed(p, client, params, None, session_cookie).await {
        Ok(o) => o,
        Err(o) => o,
    }
}

async fn proceed(
    p: &Oidc,
    client: &Client,
    params: AuthzParams,
    par: Option<ParUse>,
    cookie: Option<&str>,
) -> Result<Outcome, Outcome> {
    let back = |e: OAuthError| {
        Outcome::Redirect(error_redirect(
            p,
            params.dialect,
            &params.redirect_uri,
            params.state.as_deref(),
            &e,
        ))
    };
    let sess = session(p, cookie).await.map_err(|e| back(e.into()))?;
    let now = p.clock.now_ms();
    let fresh_enough = |s: &Session| {
        params.max_age.is_none_or(|m| now - s.auth_time <= m * 1000)
            && s.acr >= params.min_acr()
            && !params.prompts(Prompt::Login)
    };
    if let Some(s) = sess.as_ref().filter(|s| fresh_enough(s)) {
        let consented = claims::consented(p, &s.resident_id, &client.id)
            .await
            .map_err(|e| back(e.into()))?;
        let all = params.fields.iter().all(|f| consented.contains(f));
        let asks = params.prompts(Prompt::Consent) || details_need_consent(&params);
        if all && !asks {
            let closing = Closing {
                par,
                ..Closing::default()
            };
            let redirect = finish(p, client, &params, s, &params.fields, false, closing)
                .await
                .map_err(back)?
                .ok_or_else(|| back(already_finished()))?;
            return Ok(Outcome::Redirect(redirect));
        }
        if params.prompts(Prompt::None) {
            return Err(back(OAuthError::consent_required(
                "the resident has not consented to every requested item",
            )));
        }
        // Signed in already: only the consent step is left.
        let (tx, secret) = async {
            let mut db = p.db.begin().await.map_err(dom)?;
            if let Some(par) = par {
                par.record(&mut db, now).await?;
            }
            let made = new_tx_in(&mut db, p, client, &params, None, Some(&s.sid)).await?;
            db.commit().await.map_err(dom)?;
            Ok(made)
        }
        .await
        .map_err(back)?;
        let mut page = consent_page(p, client, &params, &tx, &s.resident_id)
            .await
            .map_err(back)?;
        page.browser_secret = Some(secret);
        return Ok(Outcome::Consent {
            session: None,
            page,
        });
    } else if params.prompts(Prompt::None) {
        return Err(back(OAuthError::login_required(
            "the resident is not signed in (or must sign in again)",
        )));
    }
    start_login(p, client, &params, sess.map(|s| s.resident_id), par)
        .await
        .map_err(back)
}

fn dom(e: impl Into<DomainError>) -> OAuthError {
    OAuthError::from(e.into())
}

fn already_finished() -> OAuthError {
    OAuthError::invalid_request("this sign-in has already finished")
}

/// Whether authorization details need the consent page: signatures do not (the resident
/// approves each one in the app, with the document's details and a match code).
fn details_need_consent(params: &AuthzParams) -> bool {
    params
        .authorization_details
        .as_ref()
        .and_then(|d| d.as_array())
        .is_some_and(|a| {
            a.iter()
                .any(|i| i["type"] != crate::signing::requests::DETAIL_TYPE)
        })
}

/// Who asks for this sign-in, as the resident sees it: the registered details, with the purpose
/// the request states (as the service wrote it) in place of the registered one.
fn login_service(client: &Client, params: &AuthzParams) -> ServiceDetails {
    let mut service = client.meta.service_details();
    if let Some(purpose) = params
        .purpose
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        service.purpose = Some(Localized {
            en: purpose.to_string(),
            zh_hant: Some(purpose.to_string()),
            zh_hans: Some(purpose.to_string()),
        });
    }
    service
}

fn approval_details(client: &Client, params: &AuthzParams) -> serde_json::Value {
    serde_json::json!({
        "service": client.meta.client_name,
        "fields": params.fields,
        "acr": params.acr_values,
        "authorization_details": params.authorization_details,
    })
}

/// Store a login transaction bound to this browser through `conn`; returns (id, browser
/// secret).
async fn new_tx_in(
    conn: &mut AnyConnection,
    p: &Oidc,
    client: &Client,
    params: &AuthzParams,
    approval: Option<(&ApprovalId, i64)>,
    sid: Option<&str>,
) -> OResult<(String, String)> {
    let tx = iamsmart_crypto::rng::token(p.rng.as_ref(), 16);
    let secret = iamsmart_crypto::rng::token(p.rng.as_ref(), 24);
    let now = p.clock.now_ms();
    let expires = approval
        .map_or(now, |a| a.1)
        .max(now + p.provider.policy.login_ttl_ms);
    sqlx::query(
        "INSERT INTO authz_requests (id, kind, client_id, params, browser_hash, approval_id, sid, created_at, expires_at) VALUES ($1, 'tx', $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&tx)
    .bind(&client.id)
    .bind(serde_json::to_string(params).map_err(|e| OAuthError::server_error(e.to_string()))?)
    .bind(iamsmart_crypto::hash::sha256(secret.as_bytes()).to_vec())
    .bind(approval.map(|a| a.0))
    .bind(sid)
    .bind(now)
    .bind(expires)
    .execute(&mut *conn)
    .await
    .map_err(dom)?;
    Ok((tx, secret))
}

async fn start_login(
    p: &Oidc,
    client: &Client,
    params: &AuthzParams,
    resident: Option<String>,
    par: Option<ParUse>,
) -> OResult<Outcome> {
    let face = Acr::asks_face(&params.acr_values);
    if face && !p.identity.face.available() {
        return Err(OAuthError::unmet_authentication_requirements(
            "face verification is not available on this platform, so the requested assurance cannot be given",
        ));
    }
    // One commit: the pushed request used, the app's request and the login transaction.
    let mut db = p.db.begin().await.map_err(dom)?;
    if let Some(par) = par {
        par.record(&mut db, p.clock.now_ms()).await?;
    }
    let created = approvals::create_in(
        &mut db,
        &p.approvals,
        approvals::NewApproval {
            resident_id: resident.as_deref(),
            // Signatures asked for with `authorization_details` are requests of their own,
            // made once the resident has signed in (`finish`).
            kind: if face { "step_up" } else { "login" },
            client_id: &client.id,
            client_name: &client.meta.client_name,
            details: approval_details(client, params),
            client_vetted: client.vetted,
            service: Some(login_service(client, params)),
        },
    )
    .await?;
    let (tx, secret) = new_tx_in(
        &mut db,
        p,
        client,
        params,
        Some((&created.id, created.expires_at)),
        None,
    )
    .await?;
    db.commit().await.map_err(dom)?;
    Ok(Outcome::Login(LoginPage {
        tx,
        browser_secret: Some(secret),
        qr: format!("iamsmart:approve?id={}", created.id),
        match_code: created.match_code,
        service: login_service(client, params),
        logo_uri: client.meta.logo_uri.clone(),
        fields: params.fields.clone(),
        expires_at: created.expires_at,
        status: iamsmart_proto::app::ApprovalStatus::Pending,
        ui_locales: params.ui_locales.clone(),
        face,
        passkey_allowed: !face,
        self_registered: !client.vetted,
    }))
}

/// Mask an HKID for display: `A123456(7)` becomes `A123***(7)`.
pub fn mask_hkid(h: &str) -> String {
    let (body, check) = h.split_once('(').unwrap_or((h, ""));
    let keep = body.len().saturating_sub(3);
    let masked: String = body
        .chars()
        .enumerate()
        .map(|(i, c)| if i >= keep { '*' } else { c })
        .collect();
    if check.is_empty() {
        masked
    } else {
        format!("{masked}({check}")
    }
}

async fn consent_page(
    p: &Oidc,
    client: &Client,
    params: &AuthzParams,
    tx: &str,
    resident_id: &str,
) -> OResult<ConsentPage> {
    let r = crate::identity::get(&p.identity, resident_id).await?;
    let released = claims::release(&r, &params.fields);
    let items = params
        .fields
        .iter()
        .map(|f| {
            let shown = match f.as_str() {
                "hkid" => mask_hkid(&r.verified.hkid),
                _ => claims::claim_names(f)
                    .iter()
                    .filter_map(|n| released.get(*n))
                    .map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Object(o) => o
                            .get("formatted")
                            .and_then(|x| x.as_str())
                            .unwrap_or_default()
                            .to_string(),
                        other => other.to_string(),
                    })
                    .next()
                    .unwrap_or_default(),
            };
            ConsentItem {
                field: f.clone(),
                shown,
                required: !params.optional.contains(f),
            }
        })
        .collect();
    Ok(ConsentPage {
        tx: tx.to_string(),
        service: login_service(client, params),
        logo_uri: client.meta.logo_uri.clone(),
        items,
        ui_locales: params.ui_locales.clone(),
        browser_secret: None,
    })
}

/// A transaction as stored.
struct Tx {
    client: Client,
    params: AuthzParams,
    approval: Option<ApprovalId>,
    sid: Option<String>,
    expires_at: i64,
}

/// (client, params, browser hash, approval, sid, expires at, used at)
type TxRow = (
    clients::ClientId,
    String,
    Option<Vec<u8>>,
    Option<ApprovalId>,
    Option<String>,
    i64,
    Option<i64>,
);

/// Load an unfinished transaction started in this browser.
async fn load_tx(p: &Oidc, tx: &str, browser_secret: Option<&str>) -> Result<Tx, Outcome> {
    let row: Option<TxRow> = sqlx::query_as(
        "SELECT client_id, params, browser_hash, approval_id, sid, expires_at, used_at FROM authz_requests WHERE id = $1 AND kind = 'tx'",
    )
    .bind(tx)
    .fetch_optional(p.db.reader())
    .await
    .map_err(|e| Outcome::ErrorPage(DomainError::from(e).into()))?;
    let Some((client_id, params, bhash, approval, sid, expires_at, used_at)) = row else {
        return Err(Outcome::ErrorPage(OAuthError::invalid_request(
            "this sign-in is unknown or has ended; start again from the service",
        )));
    };
    let same_browser = match (bhash, browser_secret) {
        (Some(h), Some(s)) => {
            iamsmart_crypto::hash::ct_eq(&h, &iamsmart_crypto::hash::sha256(s.as_bytes()))
        }
        _ => false,
    };
    if !same_browser {
        return Err(Outcome::ErrorPage(OAuthError::access_denied(
            "this sign-in was started in another browser; start again from the service",
        )));
    }
    if used_at.is_some() {
        return Err(Outcome::ErrorPage(OAuthError::invalid_request(
            "this sign-in has already finished; start again from the service",
        )));
    }
    let params: AuthzParams = serde_json::from_str(&params)
        .map_err(|e| Outcome::ErrorPage(OAuthError::server_error(e.to_string())))?;
    let client = match clients::get(p, &client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(Outcome::ErrorPage(OAuthError::invalid_client(
                "the service is no longer registered",
            )))
        }
        Err(e) => return Err(Outcome::ErrorPage(e.into())),
    };
    Ok(Tx {
        client,
        params,
        approval,
        sid,
        expires_at,
    })
}

/// Mark a transaction finished (once); false if it already was.
async fn close_tx(p: &Env, tx: &str) -> Result<bool, DomainError> {
    close_tx_in(
        &mut *p.db.writer().acquire().await?,
        p.clock.now_ms(),
        tx,
        None,
    )
    .await
}

/// [`close_tx`] through `conn`, recording the session it was signed in with (`sid`).
async fn close_tx_in(
    conn: &mut AnyConnection,
    now: i64,
    tx: &str,
    sid: Option<&str>,
) -> Result<bool, DomainError> {
    let r = sqlx::query(
        "UPDATE authz_requests SET used_at = $1, sid = COALESCE($3, sid) WHERE id = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(tx)
    .bind(sid)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Record the browser session a transaction is signed in with, through `conn`.
async fn bind_tx_in(conn: &mut AnyConnection, tx: &str, sid: &str) -> Result<(), DomainError> {
    sqlx::query("UPDATE authz_requests SET sid = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(sid)
        .bind(tx)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Store a new browser session (`secret`, `s`) and bind the transaction to it, in one commit.
async fn open_session(p: &Oidc, tx: &str, secret: &str, s: &Session) -> Result<(), DomainError> {
    let mut db = p.db.begin().await?;
    super::session::store_in(&mut db, p, secret, s).await?;
    bind_tx_in(&mut db, tx, &s.sid).await?;
    db.commit().await?;
    Ok(())
}

/// After sign-in: the consent page if something is not consented yet, else the code. A new
/// session (`new_cookie`, prepared, not stored) is stored in the same commit as what follows.
async fn after_sign_in(
    p: &Oidc,
    t: &Tx,
    tx: &str,
    s: &Session,
    new_cookie: Option<String>,
) -> Result<Outcome, OAuthError> {
    if s.acr < t.params.min_acr() {
        close_tx(p, tx).await?;
        let asked: Vec<&str> = t.params.acr_values.iter().map(|a| a.as_str()).collect();
        return Err(OAuthError::unmet_authentication_requirements(format!(
            "the requested assurance ({}) is above what this resident can give now ({})",
            asked.join(" "),
            s.acr
        )));
    }
    let consented = claims::consented(p, &s.resident_id, &t.client.id).await?;
    let all = t.params.fields.iter().all(|f| consented.contains(f));
    let asks = t.params.prompts(Prompt::Consent) || details_need_consent(&t.params);
    if all && !asks {
        let closing = Closing {
            tx: Some(tx),
            session: new_cookie.as_deref(),
            ..Closing::default()
        };
        let redirect = finish(p, &t.client, &t.params, s, &t.params.fields, false, closing)
            .await?
            .ok_or_else(already_finished)?;
        return Ok(Outcome::SignedIn {
            session: new_cookie,
            redirect,
        });
    }
    if let Some(secret) = &new_cookie {
        open_session(p, tx, secret, s).await?;
    }
    let page = consent_page(p, &t.client, &t.params, tx, &s.resident_id).await?;
    Ok(Outcome::Consent {
        session: new_cookie,
        page,
    })
}

/// How long after it started a login shows a new QR code and match code in place of one that
/// expired unanswered; after that the service hears that the request expired.
pub const LOGIN_RENEWAL_WINDOW_MS: i64 = 10 * 60_000;

/// The login page for a transaction whose request waits for the app.
fn waiting_page(tx: &str, t: &Tx, view: iamsmart_proto::app::ApprovalView) -> LoginPage {
    LoginPage {
        tx: tx.to_string(),
        browser_secret: None,
        qr: format!("iamsmart:approve?id={}", view.id),
        match_code: view.match_code,
        service: login_service(&t.client, &t.params),
        logo_uri: t.client.meta.logo_uri.clone(),
        fields: t.params.fields.clone(),
        expires_at: view.expires_at,
        status: view.status,
        ui_locales: t.params.ui_locales.clone(),
        face: view.kind == "step_up",
        passkey_allowed: view.kind != "step_up",
        self_registered: !t.client.vetted,
    }
}

/// A new request in place of `old`, which expired unanswered, for a login started less than
/// [`LOGIN_RENEWAL_WINDOW_MS`] ago. One renewal however many pages of the login ask at once: the
/// transaction's request is replaced by a conditional update in the same database transaction
/// as the new request, and a page that loses shows the winner's code.
async fn renewed_page(
    p: &Oidc,
    tx: &str,
    old: &ApprovalId,
    browser_secret: Option<&str>,
) -> Option<LoginPage> {
    let now = p.clock.now_ms();
    let renewed: Result<Option<approvals::Created>, DomainError> = async {
        let mut db = p.db.begin().await?;
        let Some(created) = approvals::renew_expired_in(&mut db, &p.approvals, old).await? else {
            return Ok(None);
        };
        let claimed = sqlx::query(
            "UPDATE authz_requests SET approval_id = $1, expires_at = $2
             WHERE id = $3 AND kind = 'tx' AND approval_id = $4 AND used_at IS NULL AND created_at > $5",
        )
        .bind(&created.id)
        .bind(created.expires_at.max(now + p.provider.policy.login_ttl_ms))
        .bind(tx)
        .bind(old)
        .bind(now - LOGIN_RENEWAL_WINDOW_MS)
        .execute(&mut *db)
        .await?
        .rows_affected();
        if claimed != 1 {
            db.rollback().await?;
            return Ok(None);
        }
        db.commit().await?;
        Ok(Some(created))
    }
    .await;
    // Renewed here, or by another page of this login: show the transaction's request now.
    renewed.ok()?;
    let current = load_tx(p, tx, browser_secret).await.ok()?;
    let id = current.approval.clone().filter(|a| a != old)?;
    let view = approvals::status(p, &id).await.ok()?;
    view.status
        .is_waiting()
        .then(|| waiting_page(tx, &current, view))
}

/// Handle `GET /authorize/continue`: after the app's approval (or a passkey), sign the browser
/// in, then ask for consent or return to the client with a code; while waiting, show the login
/// page again.
pub async fn continue_login(
    p: &Oidc,
    tx: &str,
    browser_secret: Option<&str>,
    session_cookie: Option<&str>,
) -> Outcome {
    let t = match load_tx(p, tx, browser_secret).await {
        Ok(t) => t,
        Err(o) => return o,
    };
    let back = |e: OAuthError| {
        Outcome::Redirect(error_redirect(
            p,
            t.params.dialect,
            &t.params.redirect_uri,
            t.params.state.as_deref(),
            &e,
        ))
    };
    // Signed in already (a passkey, or an earlier visit of this link): the session must be the
    // one this transaction was signed in with.
    if let Some(sid) = &t.sid {
        return match session(p, session_cookie).await {
            Ok(Some(s)) if &s.sid == sid => after_sign_in(p, &t, tx, &s, None)
                .await
                .unwrap_or_else(back),
            Ok(_) => Outcome::ErrorPage(OAuthError::access_denied(
                "your session has ended; start again from the service",
            )),
            Err(e) => back(e.into()),
        };
    }
    let Some(approval_id) = t.approval.clone() else {
        return Outcome::ErrorPage(OAuthError::server_error("no approval"));
    };
    let (view, decided) = match approvals::outcome(p, &approval_id).await {
        Ok(v) => v,
        Err(e) => return back(e.into()),
    };
    let now = p.clock.now_ms();
    match view.status {
        ApprovalStatus::Pending | ApprovalStatus::Scanned if t.expires_at > now => {
            return Outcome::Login(waiting_page(tx, &t, view));
        }
        ApprovalStatus::Approved => {}
        ApprovalStatus::Denied => {
            let _ = close_tx(p, tx).await;
            return back(OAuthError::denied(
                Denial::Declined,
                "the resident declined in the app",
            ));
        }
        ApprovalStatus::Pending
        | ApprovalStatus::Scanned
        | ApprovalStatus::Expired
        | ApprovalStatus::Cancelled => {
            // Expired unanswered: a new code on the same page while the login is young enough
            // (the resident may have been slow to find the phone).
            if let Some(page) = renewed_page(p, tx, &approval_id, browser_secret).await {
                return Outcome::Login(page);
            }
            let _ = close_tx(p, tx).await;
            return back(OAuthError::denied(
                Denial::Expired,
                "the sign-in request expired; start again",
            ));
        }
    }
    let Some(decided) = decided else {
        return back(OAuthError::access_denied("the approval is missing"));
    };
    let level = match crate::identity::active_level(p, &decided.resident_id).await {
        Ok(Some(l)) => l,
        Ok(None) => return back(OAuthError::access_denied("the account is not active")),
        Err(e) => return back(e.into()),
    };
    let acr = Acr::achieved(level, decided.face_verified);
    let mut amr = vec!["swk".to_string(), "pin".to_string(), "mfa".to_string()];
    if decided.face_verified {
        amr.push("face".into());
    }
    let (cookie, s) = super::session::prepare(
        p,
        &decided.resident_id,
        Some(&decided.device_id),
        decided.decided_at,
        acr,
        amr,
    );
    after_sign_in(p, &t, tx, &s, Some(cookie))
        .await
        .unwrap_or_else(back)
}

/// What the consent form sent.
#[derive(Debug, Clone)]
pub struct ConsentAnswer<'a> {
    /// Transaction id.
    pub tx: &'a str,
    /// The form's CSRF token.
    pub csrf: &'a str,
    /// `true` to release, `false` to cancel.
    pub allow: bool,
    /// Fields ticked.
    pub fields: Vec<String>,
    /// Remember the consent for this service.
    pub remember: bool,
    /// Let the service send notifications (ticked: turn them on; unticked changes nothing).
    pub notify: bool,
}

/// Handle the consent form: release what was ticked (every required item must be), or cancel.
pub async fn consent(
    p: &Oidc,
    a: ConsentAnswer<'_>,
    browser_secret: Option<&str>,
    session_cookie: Option<&str>,
) -> Outcome {
    let t = match load_tx(p, a.tx, browser_secret).await {
        Ok(t) => t,
        Err(o) => return o,
    };
    let back = |e: OAuthError| {
        Outcome::Redirect(error_redirect(
            p,
            t.params.dialect,
            &t.params.redirect_uri,
            t.params.state.as_deref(),
            &e,
        ))
    };
    let cookie = session_cookie.unwrap_or_default();
    let s = match session(p, Some(cookie)).await {
        Ok(Some(s)) if t.sid.as_deref() == Some(s.sid.as_str()) => s,
        Ok(_) => {
            return Outcome::ErrorPage(OAuthError::access_denied(
                "your session has ended; start again from the service",
            ))
        }
        Err(e) => return back(e.into()),
    };
    if !super::session::csrf_ok(p, cookie, a.csrf) {
        return Outcome::ErrorPage(OAuthError::access_denied(
            "the form has expired or was not sent from this page; start again from the service",
        ));
    }
    let requested: Vec<&str> = t.params.fields.iter().map(String::as_str).collect();
    let released = claims::released_fields(&requested, &a.fields);
    let missing = t
        .params
        .fields
        .iter()
        .find(|f| !t.params.optional.contains(f) && !released.contains(f));
    if !a.allow || missing.is_some() {
        // Refused: the transaction ends here, and the service hears why.
        match close_tx(p, a.tx).await {
            Ok(true) => {}
            Ok(false) => return Outcome::ErrorPage(already_finished()),
            Err(e) => return back(e.into()),
        }
        return back(match missing {
            Some(m) if a.allow => OAuthError::access_denied(format!(
                "the resident did not release {m}, which the service requires"
            )),
            _ => OAuthError::denied(
                Denial::Cancelled,
                "the resident did not agree to release the data",
            ),
        });
    }
    let closing = Closing {
        tx: Some(a.tx),
        ..Closing::default()
    };
    match finish(p, &t.client, &t.params, &s, &released, a.remember, closing).await {
        Ok(None) => Outcome::ErrorPage(already_finished()),
        Ok(Some(redirect)) => {
            if a.notify {
                // After the grant, so that the service counts as one the resident uses. The
                // sign-in goes on whatever happens here; the account pages offer it again.
                if let Err(e) = crate::notify::inbox::set_preference(
                    &p.notify,
                    &s.resident_id,
                    &t.client.id,
                    true,
                    None,
                )
                .await
                {
                    tracing::warn!(error = %e, "could not turn on notifications at consent");
                }
            }
            Outcome::SignedIn {
                session: None,
                redirect,
            }
        }
        Err(e) => back(e),
    }
}

/// The status of a login for the page that started it (`None` unless `browser_secret` is the
/// one bound to the transaction): `pending`, `scanned`, `approved`, `denied` or `expired`.
pub async fn login_status(
    p: &Env,
    tx: &str,
    browser_secret: &str,
) -> Result<Option<iamsmart_proto::app::ApprovalStatus>, DomainError> {
    let row: Option<(Option<ApprovalId>, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT approval_id, browser_hash FROM authz_requests WHERE id = $1 AND kind = 'tx'",
    )
    .bind(tx)
    .fetch_optional(p.db.reader())
    .await?;
    let Some((Some(approval), Some(h))) = row else {
        return Ok(None);
    };
    if !iamsmart_crypto::hash::ct_eq(
        &h,
        &iamsmart_crypto::hash::sha256(browser_secret.as_bytes()),
    ) {
        return Ok(None);
    }
    Ok(Some(approvals::status(p, &approval).await?.status))
}

/// Sign a transaction in with a passkey (the browser's WebAuthn answer to
/// [`super::passkeys::login_options`]); the browser then follows the continue link.
pub async fn sign_in_with_passkey(
    p: &Oidc,
    tx: &str,
    browser_secret: Option<&str>,
    ceremony: &str,
    credential: &iamsmart_crypto::webauthn::AuthenticationResponse,
) -> OResult<String> {
    let t = load_tx(p, tx, browser_secret).await.map_err(|o| match o {
        Outcome::ErrorPage(e) => e,
        _ => OAuthError::access_denied("this sign-in cannot continue"),
    })?;
    let resident = super::passkeys::authenticate(p, ceremony, credential).await?;
    let level = crate::identity::active_level(p, &resident)
        .await?
        .ok_or_else(|| OAuthError::access_denied("the account is not active"))?;
    let acr = Acr::achieved(level, false);
    if acr < t.params.min_acr() {
        return Err(OAuthError::unmet_authentication_requirements(
            "a passkey cannot give the requested assurance; use the app",
        ));
    }
    let (cookie, s) = super::session::prepare(
        p,
        &resident,
        None,
        p.clock.now_ms(),
        acr,
        vec!["hwk".into(), "user".into()],
    );
    open_session(p, tx, &cookie, &s).await?;
    Ok(cookie)
}

#[path = "authorize_finish.rs"]
mod finish;
use finish::{finish, Closing};

#[cfg(test)]
#[path = "renewal_tests.rs"]
mod renewal_tests;

#[cfg(test)]
mod tests {
    #[test]
    fn hkids_are_masked_for_display() {
        assert_eq!(super::mask_hkid("A123456(7)"), "A123***(7)");
        assert_eq!(super::mask_hkid("XA123456(A)"), "XA123***(A)");
    }
}
