//! Results that go to the service's callback: a ticket for each request whose answer comes
//! later (profile, e-ME and signing after a sign-in), and the callback's delivery, at least once.
//!
//! A ticket is `waiting` until the resident answers in the app; the platform then builds the
//! callback (the fields, encrypted under a fresh content key wrapped to the service's
//! certificate; or the code of a refusal), keeps it sealed, `queued`, and POSTs it to the
//! client's registered callback URL through the guarded client, signed as the service's own
//! calls are (HMAC-SHA256 under the client secret). A 2xx answer ends it (`delivered`); other
//! answers are tried again on a schedule ([`RETRY_AFTER_MS`]) and given up after the last
//! (`failed`). Either way the body is erased at once: what stays is the code and the dates.
//!
//! The app's decision wakes the ticket at once ([`decided`]); a worker in every `serve` process
//! ([`run`]) catches what that missed (a process that stopped, a retry that is due). Each step
//! is claimed by a conditional update, so two processes do not build or send the same attempt.
use super::{ApiCode, ApiError, ApiResult};
use crate::error::{DomainError, Result};
use crate::exchange::eme;
use crate::oidc::clients::{self, Client};
use crate::oidc::Oidc;
use crate::Platform;
use iamsmart_crypto::envelope::FieldContext;
use iamsmart_crypto::osp_api as wire;
use iamsmart_proto::ids::{ApprovalId, EmeRequestId, SignRequestId};
use serde_json::{json, Value};

/// What a ticket asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketKind {
    /// `account/auth/profile/initiateRequest`.
    Profile,
    /// `account/eme/initiateRequest`.
    Eme,
    /// `account/signing/initiateRequest` and `account/pdfsigning/initiateRequest`.
    Sign,
    /// `account/stepup/initiateRequest`.
    StepUp,
}

impl TicketKind {
    /// Every kind (the database allows exactly these).
    pub const ALL: [TicketKind; 4] = [
        TicketKind::Profile,
        TicketKind::Eme,
        TicketKind::Sign,
        TicketKind::StepUp,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::Profile => "profile",
            TicketKind::Eme => "eme",
            TicketKind::Sign => "sign",
            TicketKind::StepUp => "stepup",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketStatus {
    /// The resident has not answered.
    Waiting,
    /// The callback is built and not yet delivered.
    Queued,
    /// The service's callback URL took it.
    Delivered,
    /// Given up after the last attempt.
    Failed,
}

impl TicketStatus {
    /// Every status (the database allows exactly these).
    pub const ALL: [TicketStatus; 4] = [
        TicketStatus::Waiting,
        TicketStatus::Queued,
        TicketStatus::Delivered,
        TicketStatus::Failed,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Waiting => "waiting",
            TicketStatus::Queued => "queued",
            TicketStatus::Delivered => "delivered",
            TicketStatus::Failed => "failed",
        }
    }
}

/// After a failed attempt, the next one is this long after it (ms); after the last, none. So a
/// callback is tried 8 times over about 22 hours. The first wait is longer than the guarded
/// client's memory of a failed URL (`OutboundPolicy::failure_ttl`, 30 s), which would
/// refuse a sooner attempt without calling.
pub const RETRY_AFTER_MS: [i64; 7] = [
    60_000, 300_000, 900_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000,
];

/// A waiting ticket is looked at again this long after (ms), in case the app's decision did not
/// wake it (the process stopped): the worker's safety net.
pub const WAITING_RECHECK_MS: i64 = 30_000;

/// The most tickets one run of the worker builds, and sends.
const BATCH: i64 = 50;

fn body_context(id: &str) -> FieldContext<'_> {
    FieldContext {
        table: "osp_api_tickets",
        column: "body",
        row: id,
    }
}

/// A client's registered callback URL.
pub async fn callback_uri(p: &Oidc, client: &Client) -> ApiResult<Option<String>> {
    let uri: Option<Option<String>> =
        sqlx::query_scalar("SELECT callback_uri FROM osp_api_clients WHERE client_id = $1")
            .bind(&client.id)
            .fetch_optional(p.db.reader())
            .await
            .map_err(DomainError::from)?;
    Ok(uri.flatten())
}

/// Check a callback URL as a redirect URI is checked (absolute, https or http on localhost, no
/// fragment), and that the guarded client may call it.
pub fn check_callback_uri(p: &Oidc, uri: &str) -> ApiResult<()> {
    clients::check_uri("callback_uri", uri)
        .map_err(|m| ApiError::new(ApiCode::InvalidRequest, m))?;
    p.outbound.check_url(uri).map_err(|_| {
        ApiError::new(
            ApiCode::InvalidRequest,
            "callback_uri: the platform may not call this address (an internal network)",
        )
    })?;
    Ok(())
}

/// What a new ticket records.
#[derive(Debug)]
pub struct NewTicket<'a> {
    /// The ticket's id (the e-ME request's).
    pub id: &'a str,
    /// The approval shown in the app.
    pub approval_id: &'a str,
    /// Profile or e-ME.
    pub kind: TicketKind,
    /// The service's `businessID`, returned in the callback.
    pub business_id: Option<&'a str>,
    /// The service's `state`, returned in the callback.
    pub state: Option<&'a str>,
    /// Values the callback's content repeats (a JSON object), if any.
    pub echo: Option<Value>,
    /// Where the callback goes.
    pub callback_uri: &'a str,
    /// When the resident's time to answer ends.
    pub expires_at: i64,
}

/// Record a ticket, waiting for the resident.
pub async fn open_ticket(x: &crate::env::Env, client: &Client, t: NewTicket<'_>) -> Result<()> {
    let now = x.clock.now_ms();
    sqlx::query(
        "INSERT INTO osp_api_tickets (id, client_id, approval_id, kind, status, business_id, state, echo, callback_uri, attempts, next_attempt_at, created_at, expires_at)
         VALUES ($1, $2, $3, $4, 'waiting', $5, $6, $7, $8, 0, $9, $10, $11)",
    )
    .bind(t.id)
    .bind(&client.id)
    .bind(t.approval_id)
    .bind(t.kind.as_str())
    .bind(t.business_id)
    .bind(t.state)
    .bind(t.echo.as_ref().map(Value::to_string))
    .bind(t.callback_uri)
    .bind(now + WAITING_RECHECK_MS)
    .bind(now)
    .bind(t.expires_at)
    .execute(x.db.writer())
    .await?;
    Ok(())
}

/// A ticket as read for the next step.
#[derive(Debug, Clone)]
struct Ticket {
    id: String,
    client_id: clients::ClientId,
    kind: String,
    business_id: Option<String>,
    state: Option<String>,
    echo: Option<String>,
    callback_uri: String,
    body: Option<Vec<u8>>,
    code: Option<String>,
    attempts: i64,
}

const TICKET_COLUMNS: &str =
    "id, client_id, kind, business_id, state, echo, callback_uri, body, code, CAST(attempts AS BIGINT) AS attempts";

/// A row of [`TICKET_COLUMNS`].
type TicketRow = (
    String,
    clients::ClientId,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<Vec<u8>>,
    Option<String>,
    i64,
);

impl From<TicketRow> for Ticket {
    fn from(r: TicketRow) -> Self {
        let (id, client_id, kind, business_id, state, echo, callback_uri, body, code, attempts) = r;
        Ticket {
            id,
            client_id,
            kind,
            business_id,
            state,
            echo,
            callback_uri,
            body,
            code,
            attempts,
        }
    }
}

/// Which tickets to read.
#[derive(Debug, Clone, Copy)]
enum Pick<'a> {
    /// Those of a status whose next step is due at this time, the longest due first.
    Due(TicketStatus, i64),
    /// The waiting ticket of an approval.
    WaitingFor(&'a str),
    /// A ticket by id, if queued.
    Queued(&'a str),
}

async fn tickets(x: &Platform, pick: Pick<'_>) -> Result<Vec<Ticket>> {
    let filter = match pick {
        Pick::Due(..) => "status = $1 AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3",
        Pick::WaitingFor(_) => "approval_id = $1 AND status = 'waiting'",
        Pick::Queued(_) => "id = $1 AND status = 'queued'",
    };
    let sql = format!("SELECT {TICKET_COLUMNS} FROM osp_api_tickets WHERE {filter}");
    let q = sqlx::query_as::<_, TicketRow>(&sql);
    let q = match pick {
        Pick::Due(status, at) => q.bind(status.as_str()).bind(at).bind(BATCH),
        Pick::WaitingFor(id) | Pick::Queued(id) => q.bind(id),
    };
    Ok(q.fetch_all(x.db.writer())
        .await?
        .into_iter()
        .map(Ticket::from)
        .collect())
}

/// What one run of the worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ran {
    /// Callbacks built (the resident answered, or the time to answer ended).
    pub built: usize,
    /// Callbacks the service took.
    pub delivered: usize,
    /// Attempts that failed (tried again later, or given up).
    pub failed_attempts: usize,
}

/// The worker's step: build the callbacks of tickets whose resident has answered, then send
/// those that are due.
pub async fn run(x: &Platform) -> Result<Ran> {
    let mut ran = Ran::default();
    let now = x.clock.now_ms();
    let waiting = tickets(x, Pick::Due(TicketStatus::Waiting, now)).await?;
    for t in waiting {
        if build(x, &t).await? {
            ran.built += 1;
        }
    }
    let queued = tickets(x, Pick::Due(TicketStatus::Queued, now)).await?;
    for t in queued {
        match send(x, &t).await? {
            Some(true) => ran.delivered += 1,
            Some(false) => ran.failed_attempts += 1,
            None => {}
        }
    }
    Ok(ran)
}

/// The kinds of approval behind tickets (a login's never is).
const TICKET_APPROVAL_KINDS: [&str; 3] =
    ["eme", crate::signing::requests::APPROVAL_KIND, "step_up"];

/// After the resident answered an approval (of `kind`) in the app: if it is a ticket's, build its
/// callback and send it now, in the background (the app's answer does not wait for the service,
/// and a login costs nothing more).
pub fn decided(x: &Platform, approval_id: &ApprovalId, kind: &str) {
    if !TICKET_APPROVAL_KINDS.contains(&kind) {
        return;
    }
    let (x, approval_id) = (x.clone(), approval_id.clone());
    tokio::spawn(async move {
        let found = tickets(&x, Pick::WaitingFor(approval_id.as_str())).await;
        let Some(t) = found.ok().and_then(|t| t.into_iter().next()) else {
            return;
        };
        if let Err(e) = wake(&x, &t).await {
            tracing::warn!(error = %e, "a callback of the compatible API waits for the worker");
        }
    });
}

async fn wake(x: &Platform, t: &Ticket) -> Result<()> {
    if build(x, t).await? {
        let queued = tickets(x, Pick::Queued(&t.id)).await?;
        if let Some(q) = queued.into_iter().next() {
            send(x, &q).await?;
        }
    }
    Ok(())
}

/// What a ticket's request came to: still waiting, or the callback's code, message and content.
enum Answered {
    /// The resident has not answered.
    Waiting,
    /// The callback to send.
    Done(ApiCode, String, Option<Value>),
}

/// Build a waiting ticket's callback if the resident has answered (or the time to answer
/// ended). Answers whether it was built here.
async fn build(x: &Platform, t: &Ticket) -> Result<bool> {
    let now = x.clock.now_ms();
    let client = clients::get(&x.oidc, &t.client_id).await?;
    let (Some(client), Some(kind)) = (client, TicketKind::parse(&t.kind)) else {
        return give_up_waiting(x, t, ApiCode::ServerError, "the client is gone").await;
    };
    let answered = match kind {
        TicketKind::Profile | TicketKind::Eme => form_answer(x, &client, t, kind).await,
        TicketKind::Sign => signing_answer(x, &client, t).await,
        TicketKind::StepUp => super::stepup::answered(x, &t.id).await.map(|a| match a {
            None => Answered::Waiting,
            Some((code, message, content)) => {
                Answered::Done(code, message, content.map(|c| with_echo(c, t)))
            }
        }),
    };
    let (code, message, content) = match answered {
        Ok(Answered::Waiting) => {
            sqlx::query("UPDATE osp_api_tickets SET next_attempt_at = $1 WHERE id = $2 AND status = 'waiting'")
                .bind(now + WAITING_RECHECK_MS)
                .bind(&t.id)
                .execute(x.db.writer())
                .await?;
            return Ok(false);
        }
        Ok(Answered::Done(code, message, content)) => (code, message, content),
        Err(DomainError::NotFound) => {
            return give_up_waiting(x, t, ApiCode::Timeout, "the request ended").await
        }
        Err(e) => return Err(e),
    };
    // The content under a fresh key wrapped to the service's certificate; a certificate that
    // expired since the request can wrap nothing, and the callback says so without the data.
    let (code, message, sealed) = match content {
        None => (code, message, None),
        Some(content) => {
            match encrypt_for(&x.oidc, &client, &serde_json::to_vec(&content)?).await {
                Ok(sealed) => (code, message, Some(sealed)),
                Err(e) if e.code == ApiCode::CertificateNotValid => (e.code, e.message, None),
                Err(e) => return Err(DomainError::Integrity(e.message)),
            }
        }
    };
    let mut body = json!({
        "ticketID": t.id,
        "code": code.as_str(),
        "message": message,
    });
    if let Some(b) = &t.business_id {
        body["businessID"] = Value::String(b.clone());
    }
    if let Some(s) = &t.state {
        body["state"] = Value::String(s.clone());
    }
    if let Some((secret_key, sealed)) = sealed {
        body["secretKey"] = Value::String(secret_key);
        body["content"] = Value::String(sealed);
    }
    let bytes = serde_json::to_vec(&body)?;
    let stored = x.oidc.vault.seal(&body_context(&t.id), &bytes).await?;
    let r = sqlx::query(
        "UPDATE osp_api_tickets SET status = 'queued', body = $1, code = $2, next_attempt_at = $3 WHERE id = $4 AND status = 'waiting'",
    )
    .bind(&stored)
    .bind(code.as_str())
    .bind(now)
    .bind(&t.id)
    .execute(x.db.writer())
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A profile or e-ME request: the released fields in the real API's shapes.
async fn form_answer(
    x: &Platform,
    client: &Client,
    t: &Ticket,
    kind: TicketKind,
) -> Result<Answered> {
    let id = EmeRequestId::parse(&t.id).map_err(|_| DomainError::NotFound)?;
    let out = eme::outcome(&x.exchange, client, &id).await?;
    Ok(match out.status.as_str() {
        "pending" | "scanned" => Answered::Waiting,
        "denied" => Answered::Done(
            ApiCode::UserRejected,
            out.reason
                .unwrap_or_else(|| "the resident declined".to_string()),
            None,
        ),
        "expired" => Answered::Done(
            ApiCode::Timeout,
            "the resident did not answer in time".to_string(),
            None,
        ),
        // Approved now, or delivered by an earlier run that stopped before it was recorded here:
        // either way the release is logged and its fields are known.
        _ => match eme::released(&x.exchange, client, &id).await? {
            Some((resident_id, fields)) => {
                let resident = crate::identity::get(&x.identity, &resident_id).await?;
                let open_id = crate::oidc::tokens::subject_for(&x.oidc, client, &resident_id);
                let mut content = json!({ "ticketID": t.id, "openID": open_id });
                let name = if kind == TicketKind::Profile {
                    "profileFields"
                } else {
                    "eMEFields"
                };
                content[name] = Value::Object(super::eme::values(&resident, &fields));
                Answered::Done(
                    ApiCode::Success,
                    ApiCode::Success.message().to_string(),
                    Some(content),
                )
            }
            None => Answered::Done(
                ApiCode::ServerError,
                "the result could not be read again: start a new request".to_string(),
                None,
            ),
        },
    })
}

/// A callback's content with the ticket's id and what it repeats (`echo`).
fn with_echo(mut content: Value, t: &Ticket) -> Value {
    content["ticketID"] = Value::String(t.id.clone());
    if let Some(Value::Object(echo)) = t.echo.as_deref().and_then(|e| serde_json::from_str(e).ok())
    {
        for (k, v) in echo {
            content[k] = v;
        }
    }
    content
}

/// A signing request: the signature, its certificate and its timestamp, with what the service
/// sent repeated (`echo`: its `hashCode` or `docDigest`, and the resident's `openID`).
async fn signing_answer(x: &Platform, client: &Client, t: &Ticket) -> Result<Answered> {
    use crate::signing::requests::{self, OutcomeStatus};
    let id = SignRequestId::parse(&t.id).map_err(|_| DomainError::NotFound)?;
    let out = requests::outcome(&x.signing, client, &id).await?;
    let reason = |default: &str| out.reason.clone().unwrap_or_else(|| default.to_string());
    Ok(match out.status {
        OutcomeStatus::Pending | OutcomeStatus::Scanned => Answered::Waiting,
        OutcomeStatus::Denied => {
            Answered::Done(ApiCode::UserRejected, reason("the resident declined"), None)
        }
        OutcomeStatus::Expired => Answered::Done(
            ApiCode::Timeout,
            reason("the resident did not answer in time"),
            None,
        ),
        OutcomeStatus::Failed => Answered::Done(
            ApiCode::SigningRefused,
            reason("the app's answer could not be made into a signature"),
            None,
        ),
        // A signature is handed out once and not kept: a run that took it and stopped before
        // recording the callback cannot build it again.
        OutcomeStatus::Collected => Answered::Done(
            ApiCode::ServerError,
            "the signature was made but could not be sent: start a new request".to_string(),
            None,
        ),
        OutcomeStatus::Signed => {
            let sig = out
                .signature
                .ok_or_else(|| DomainError::Integrity("signed without a signature".into()))?;
            let content = with_echo(super::signing::signature_content(&sig), t);
            Answered::Done(
                ApiCode::Success,
                ApiCode::Success.message().to_string(),
                Some(content),
            )
        }
    })
}

/// End a ticket that can never be answered: a callback with the code alone.
async fn give_up_waiting(x: &Platform, t: &Ticket, code: ApiCode, why: &str) -> Result<bool> {
    tracing::warn!(ticket = %t.id, reason = why, "a ticket of the compatible API ended");
    let mut body = json!({ "ticketID": t.id, "code": code.as_str(), "message": why });
    if let Some(b) = &t.business_id {
        body["businessID"] = Value::String(b.clone());
    }
    if let Some(s) = &t.state {
        body["state"] = Value::String(s.clone());
    }
    let stored = x
        .oidc
        .vault
        .seal(&body_context(&t.id), &serde_json::to_vec(&body)?)
        .await?;
    let r = sqlx::query(
        "UPDATE osp_api_tickets SET status = 'queued', body = $1, code = $2, next_attempt_at = $3 WHERE id = $4 AND status = 'waiting'",
    )
    .bind(&stored)
    .bind(code.as_str())
    .bind(x.clock.now_ms())
    .bind(&t.id)
    .execute(x.db.writer())
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A fresh content key wrapped to the client's certificate, and `plaintext` sealed under it.
async fn encrypt_for(p: &Oidc, client: &Client, plaintext: &[u8]) -> ApiResult<(String, String)> {
    let key = super::encipherment_key_of(p, client).await?;
    let content_key = wire::new_content_key(p.rng.as_ref());
    let wrapped = key
        .wrap(content_key.as_ref())
        .map_err(|e| DomainError::Integrity(e.to_string()))?;
    let sealed = wire::seal_content(content_key.as_ref(), plaintext, p.rng.as_ref())
        .map_err(|e| DomainError::Integrity(e.to_string()))?;
    Ok((super::b64(&wrapped), sealed))
}

/// One attempt to send a queued callback. `None` when another process has this attempt;
/// otherwise whether the service took it.
async fn send(x: &Platform, t: &Ticket) -> Result<Option<bool>> {
    let now = x.clock.now_ms();
    let attempt = t.attempts + 1;
    let last = attempt > RETRY_AFTER_MS.len() as i64;
    let retry_at = RETRY_AFTER_MS
        .get(usize::try_from(t.attempts).unwrap_or(usize::MAX))
        .map_or(now, |after| now + after);
    // Claim this attempt: only one caller moves `attempts` from what it read.
    let claimed = sqlx::query(
        "UPDATE osp_api_tickets SET attempts = attempts + 1, next_attempt_at = $1 WHERE id = $2 AND status = 'queued' AND attempts = $3",
    )
    .bind(retry_at)
    .bind(&t.id)
    .bind(t.attempts)
    .execute(x.db.writer())
    .await?;
    if claimed.rows_affected() != 1 {
        return Ok(None);
    }
    let Some(stored) = &t.body else {
        return Ok(None);
    };
    let body = x
        .oidc
        .vault
        .open_field(&body_context(&t.id), stored)
        .await?;
    let client = clients::get(&x.oidc, &t.client_id).await?;
    let delivered = match &client {
        Some(c) => post(x, c, &t.callback_uri, body.to_vec()).await,
        None => false,
    };
    let code = t.code.as_deref().unwrap_or("D50000");
    let endpoint = format!("callback (attempt {attempt})");
    if delivered {
        sqlx::query(
            "UPDATE osp_api_tickets SET status = 'delivered', body = NULL, finished_at = $1 WHERE id = $2 AND status = 'queued'",
        )
        .bind(now)
        .bind(&t.id)
        .execute(x.db.writer())
        .await?;
        super::record(&x.oidc, &t.client_id, &endpoint, code, &t.id).await?;
    } else {
        if last {
            sqlx::query(
                "UPDATE osp_api_tickets SET status = 'failed', body = NULL, finished_at = $1 WHERE id = $2 AND status = 'queued'",
            )
            .bind(now)
            .bind(&t.id)
            .execute(x.db.writer())
            .await?;
        }
        let outcome = if last {
            "not delivered, given up"
        } else {
            "not delivered, will retry"
        };
        super::record(&x.oidc, &t.client_id, &endpoint, outcome, &t.id).await?;
    }
    Ok(Some(delivered))
}

/// POST a callback, signed with the client's secret as its own calls are.
async fn post(x: &Platform, client: &Client, url: &str, body: Vec<u8>) -> bool {
    let Ok(secret) = super::secret_of(&x.oidc, client).await else {
        return false;
    };
    let timestamp = x.clock.now_ms().to_string();
    let nonce = iamsmart_crypto::rng::token(x.rng.as_ref(), 16);
    let message = wire::signed_message(
        client.id.as_str(),
        wire::SIGNATURE_METHOD,
        &timestamp,
        &nonce,
        &body,
    );
    let signature = wire::sign(secret.as_bytes(), &message);
    let headers = [
        ("clientID", client.id.as_str().to_string()),
        ("signatureMethod", wire::SIGNATURE_METHOD.to_string()),
        ("timestamp", timestamp),
        ("nonce", nonce),
        ("signature", signature),
    ];
    x.oidc
        .outbound
        .post_json_bytes(url, &headers, body)
        .await
        .is_ok()
}
