//! Profile and e-ME after a sign-in, on a fake clock: each refusal of `initiateRequest` and its
//! code; the resident's answer in the app reaching the service's callback (a real HTTP server on
//! 127.0.0.1), signed with the client secret, the fields encrypted under a key wrapped to the
//! service's certificate; retries on the schedule, given up after the last with the body erased;
//! a run that stopped after the release still delivers it; fifty workers send one callback once.
use super::account::Asked;
use super::callbacks::{self, RETRY_AFTER_MS, WAITING_RECHECK_MS};
use super::*;
use crate::authn::approvals;
use crate::oidc::tokens::{self, GrantData};
use crate::oidc::Acr;
use crate::outbound::OutboundPolicy;
use crate::testing::{platform, TestPhone as Phone, TestPlatform};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const REDIRECT: &str = "https://osp.example/callback";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../crypto/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A request received: its headers (names in lower case) and body.
type Received = (Vec<(String, String)>, Vec<u8>);

/// The service's callback endpoint: answers each request with the next status of its plan (the
/// last one repeated) and keeps what it received.
struct Receiver {
    url: String,
    hits: Arc<AtomicUsize>,
    /// Told of each request received.
    arrived: Arc<tokio::sync::Notify>,
    got: Arc<Mutex<Vec<Received>>>,
}

async fn receiver(plan: Vec<u16>) -> Receiver {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/osp/callback", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let got = Arc::new(Mutex::new(Vec::new()));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let (h, g, a) = (hits.clone(), got.clone(), arrived.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let n = h.fetch_add(1, Ordering::SeqCst);
            let status = plan[n.min(plan.len() - 1)];
            let (g, a) = (g.clone(), a.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let Ok(read) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..read]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        while buf.len() < end + 4 + len {
                            let Ok(read) = sock.read(&mut chunk).await else {
                                return;
                            };
                            if read == 0 {
                                return;
                            }
                            buf.extend_from_slice(&chunk[..read]);
                        }
                        break (head, buf[end + 4..end + 4 + len].to_vec());
                    }
                };
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                g.lock().unwrap().push((headers, body));
                a.notify_one();
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    Receiver {
        url,
        hits,
        arrived,
        got,
    }
}

impl Receiver {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The last callback, its signature checked with the client secret: its JSON.
    fn last(&self, c: &ApiClient) -> Value {
        let got = self.got.lock().unwrap();
        let (headers, body) = got.last().expect("a callback");
        let h = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no {n} header"))
        };
        assert_eq!(h("clientid"), c.registered.client_id.as_str());
        assert_eq!(h("signaturemethod"), "HmacSHA256");
        let msg = wire::signed_message(
            &h("clientid"),
            "HmacSHA256",
            &h("timestamp"),
            &h("nonce"),
            body,
        );
        assert!(
            wire::verify(c.client_secret.as_bytes(), &msg, &h("signature")),
            "the callback's signature does not check with the client secret"
        );
        serde_json::from_slice(body).unwrap()
    }
}

/// The service's private key opens `secretKey`; the key opens `content`.
fn open_callback(v: &Value) -> Value {
    use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA256_MGF1SHA256};
    use base64::Engine;
    let pem = String::from_utf8(fixture("osp-kek-TEST-ONLY.key.pem")).unwrap();
    let der = der::pem::decode_vec(pem.as_bytes()).unwrap().1;
    let private =
        OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(&der).unwrap()).unwrap();
    let wrapped = base64::engine::general_purpose::STANDARD
        .decode(v["secretKey"].as_str().unwrap())
        .unwrap();
    let mut out = vec![0u8; private.min_output_size()];
    let key = private
        .decrypt(&OAEP_SHA256_MGF1SHA256, &wrapped, &mut out, None)
        .unwrap();
    let plain = wire::open_content(key, v["content"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&plain).unwrap()
}

/// A platform that may call 127.0.0.1 and calls a failed URL again at once (the fake clock
/// moves faster than the guarded client's memory of failures).
async fn local_platform() -> TestPlatform {
    let mut t = platform().await;
    t.p = t.p.clone().with_outbound(OutboundPolicy {
        allow: vec!["127.0.0.0/8".parse().unwrap()],
        failure_ttl: std::time::Duration::ZERO,
        ..OutboundPolicy::default()
    });
    t
}

async fn api_client(t: &TestPlatform, callback: Option<&str>) -> (ApiClient, Client) {
    let meta = ClientMetadata::for_profile(
        "Compatible",
        vec![REDIRECT.into()],
        ClientProfile::IamsmartApi,
    );
    let c = register(
        &t.p.oidc,
        meta,
        &fixture("osp-kek.cert.pem"),
        callback,
        "operator:test",
    )
    .await
    .unwrap();
    let client = clients::get(&t.p.oidc, &c.registered.client_id)
        .await
        .unwrap()
        .unwrap();
    (c, client)
}

async fn phone(t: &TestPlatform) -> Phone {
    let who = iamsmart_proto::profile::VerifiedIdentity {
        hkid: "C123456(9)".into(),
        name_en: "WONG, Ka Yan".into(),
        name_zh: Some("黃嘉欣".into()),
        date_of_birth: "1990-07-15".into(),
        gender: Some("F".into()),
    };
    t.enrolled_phone(&who, iamsmart_proto::profile::Level::Basic)
        .await
}

/// A sign-in of the resident at the client with these scopes, redeemed as getToken redeems it:
/// (accessToken, openID).
async fn signed_in(
    t: &TestPlatform,
    client: &Client,
    phone: &Phone,
    scope: &str,
) -> (String, String) {
    let now = t.p.clock.now_ms();
    let mut tx = t.p.db.begin().await.unwrap();
    let gid = tokens::create_grant(
        &t.p.oidc,
        &mut tx,
        &GrantData {
            client_id: client.id.clone(),
            resident_id: phone.caller.resident_id.clone(),
            device_id: Some(phone.caller.device_id.clone()),
            sid: None,
            scope: format!("openid {scope}"),
            claims: vec![],
            acr: Acr::Basic,
            amr: vec!["hwk".into()],
            auth_time: now,
            nonce: None,
            authorization_details: None,
        },
        now,
    )
    .await
    .unwrap();
    let code = tokens::issue_code(
        &t.p.oidc, &mut tx, &gid, &client.id, REDIRECT, "", None, now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let body = json!({ "code": code, "grantType": "authorization_code" }).to_string();
    let answer = get_token(&t.p.oidc, client, body.as_bytes()).await.unwrap();
    (answer.access_token, answer.open_id)
}

/// The resident answers the one waiting request in the app, releasing `fields` when approving.
async fn answer(t: &TestPlatform, phone: &Phone, approve: bool, fields: &[&str]) {
    let waiting = approvals::pending(&t.p, &phone.caller.resident_id)
        .await
        .unwrap();
    let id = &waiting.first().expect("a request in the app").id;
    let decision = if approve { "approve" } else { "deny" };
    t.answer_in_app(phone, id, decision, json!({ "fields": fields }))
        .await
        .unwrap();
}

async fn start(t: &TestPlatform, client: &Client, kind: Asked, body: Value) -> ApiResult<Value> {
    account::initiate(&t.p.exchange, client, kind, body.to_string().as_bytes()).await
}

fn profile(token: &str, open_id: &str) -> Value {
    json!({
        "businessID": "case-1", "accessToken": token, "openID": open_id,
        "source": "PC_Browser", "redirectURI": REDIRECT, "state": "s-1",
        "profileFields": ["idNo", "enName", "chName", "birthDate"],
    })
}

async fn ticket_row(t: &TestPlatform, id: &str) -> (String, Option<Vec<u8>>, i64) {
    sqlx::query_as(
        "SELECT status, body, CAST(attempts AS BIGINT) FROM osp_api_tickets WHERE id = $1",
    )
    .bind(id)
    .fetch_one(t.p.db.reader())
    .await
    .unwrap()
}

#[tokio::test]
async fn initiate_request_refuses_with_the_code_of_each_fault() {
    let t = local_platform().await;
    let phone = phone(&t).await;
    let (_, no_callback) = api_client(&t, None).await;
    let (_, client) = api_client(&t, Some("http://127.0.0.1:9/cb")).await;
    let (token, open_id) = signed_in(&t, &client, &phone, "eidapi_auth eidapi_profiles").await;
    let code = |r: ApiResult<Value>| r.map(|_| ApiCode::Success).unwrap_or_else(|e| e.code);
    let good = profile(&token, &open_id);
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let cases = [
        (
            with("openID", json!("someone-else")),
            ApiCode::InvalidAccessToken,
        ),
        (
            with("accessToken", json!("not.a.token")),
            ApiCode::InvalidAccessToken,
        ),
        (
            with("redirectURI", json!("https://evil.example/cb")),
            ApiCode::RedirectNotRegistered,
        ),
        (
            with("profileFields", json!(["mobileNumber"])),
            ApiCode::InvalidRequest,
        ),
        (with("profileFields", json!([])), ApiCode::InvalidRequest),
        (with("source", json!("Fax")), ApiCode::InvalidRequest),
        (with("formName", json!("A form")), ApiCode::InvalidRequest),
    ];
    for (body, want) in cases {
        assert_eq!(
            code(start(&t, &client, Asked::Profile, body.clone()).await),
            want,
            "{body}"
        );
    }
    // e-ME needs its scope; this sign-in granted profiles only.
    let eme = json!({
        "accessToken": token, "openID": open_id, "source": "PC_Browser", "redirectURI": REDIRECT,
        "formName": "Library card", "eMEFields": ["enName", "mobileNumber"],
    });
    assert_eq!(
        code(start(&t, &client, Asked::Eme, eme).await),
        ApiCode::ScopeNotAllowed
    );
    // Another client's token, and a client with no callback registered.
    let (_, other) = api_client(&t, Some("http://127.0.0.1:9/other")).await;
    assert_eq!(
        code(start(&t, &other, Asked::Profile, good.clone()).await),
        ApiCode::InvalidAccessToken
    );
    assert_eq!(
        code(start(&t, &no_callback, Asked::Profile, good.clone()).await),
        ApiCode::RedirectNotRegistered
    );
    // None of these asked the resident anything.
    assert!(approvals::pending(&t.p, &phone.caller.resident_id)
        .await
        .unwrap()
        .is_empty());
    let started = start(&t, &client, Asked::Profile, good).await.unwrap();
    assert_eq!(started["authByQR"], false);
    assert_eq!(started["businessID"], "case-1");
    assert_eq!(
        approvals::pending(&t.p, &phone.caller.resident_id)
            .await
            .unwrap()
            .len(),
        1
    );
    // A callback URL the platform may not call is refused at registration.
    let meta = ClientMetadata::for_profile(
        "Internal",
        vec![REDIRECT.into()],
        ClientProfile::IamsmartApi,
    );
    let e = register(
        &t.p.oidc,
        meta,
        &fixture("osp-kek.cert.pem"),
        Some("https://10.0.0.1/cb"),
        "operator:test",
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ApiCode::InvalidRequest, "{e}");
}

/// A platform, the service's callback endpoint answering `plan`, its client, and a resident
/// signed in to it with `scope`.
struct Scene {
    t: TestPlatform,
    rx: Receiver,
    phone: Phone,
    c: ApiClient,
    client: Client,
    token: String,
    open_id: String,
}

async fn scene(plan: Vec<u16>, scope: &str) -> Scene {
    let t = local_platform().await;
    let rx = receiver(plan).await;
    let phone = phone(&t).await;
    let (c, client) = api_client(&t, Some(&rx.url)).await;
    let (token, open_id) = signed_in(&t, &client, &phone, scope).await;
    Scene {
        t,
        rx,
        phone,
        c,
        client,
        token,
        open_id,
    }
}

impl Scene {
    /// A profile request, approved in the app with every field: its ticket.
    async fn approved_profile(&self) -> String {
        let body = profile(&self.token, &self.open_id);
        let started = start(&self.t, &self.client, Asked::Profile, body)
            .await
            .unwrap();
        answer(&self.t, &self.phone, true, &PROFILE).await;
        started["ticketID"].as_str().unwrap().to_string()
    }

    async fn run(&self) -> callbacks::Ran {
        callbacks::run(&self.t.p).await.unwrap()
    }
}

/// The platform's names of the fields [`profile`] asks for.
const PROFILE: [&str; 4] = ["hkid", "name_en", "name_zh", "birthdate"];

#[tokio::test]
async fn approved_fields_reach_the_callback_signed_and_encrypted_after_a_retry() {
    let s = scene(vec![500, 200], "eidapi_auth eidapi_profiles").await;
    let t = &s.t;
    let body = profile(&s.token, &s.open_id);
    let started = start(t, &s.client, Asked::Profile, body).await.unwrap();
    let ticket = started["ticketID"].as_str().unwrap().to_string();
    // Nothing to send while the resident has not answered.
    t.clock.advance(WAITING_RECHECK_MS);
    assert_eq!(s.run().await, callbacks::Ran::default());
    answer(t, &s.phone, true, &PROFILE).await;
    t.clock.advance(WAITING_RECHECK_MS);
    let ran = s.run().await;
    assert_eq!((ran.built, ran.delivered, ran.failed_attempts), (1, 0, 1));
    assert_eq!(s.rx.hits(), 1);
    // Not again before its time; then again, taken.
    assert_eq!(s.run().await, callbacks::Ran::default());
    t.clock.advance(RETRY_AFTER_MS[0]);
    let ran = s.run().await;
    assert_eq!((ran.built, ran.delivered), (0, 1));
    let v = s.rx.last(&s.c);
    assert_eq!(v["code"], "D00000");
    assert_eq!(v["ticketID"], ticket.as_str());
    assert_eq!(
        (v["businessID"].as_str(), v["state"].as_str()),
        (Some("case-1"), Some("s-1"))
    );
    let content = open_callback(&v);
    assert_eq!(content["openID"], s.open_id.as_str());
    let f = &content["profileFields"];
    assert_eq!(
        f["idNo"],
        json!({ "Identification": "C123456", "CheckDigit": "9" })
    );
    assert_eq!(f["enName"], json!({ "UnstructuredName": "WONG, Ka Yan" }));
    assert_eq!(f["chName"], json!({ "ChineseName": "黃嘉欣" }));
    assert_eq!(f["birthDate"], "19900715");
    // Delivered: the body is gone, the log says what happened.
    let (status, body, attempts) = ticket_row(t, &ticket).await;
    assert_eq!(
        (status.as_str(), body.is_none(), attempts),
        ("delivered", true, 2)
    );
    let log = recent_calls(&t.p.oidc, &s.client.id, 10).await.unwrap();
    let codes: Vec<(&str, &str)> = log
        .iter()
        .map(|r| (r.endpoint.as_str(), r.code.as_str()))
        .collect();
    assert_eq!(
        codes[..2],
        [
            ("callback (attempt 2)", "D00000"),
            ("callback (attempt 1)", "not delivered, will retry")
        ]
    );
    assert_eq!(s.run().await, callbacks::Ran::default());
    assert_eq!(s.rx.hits(), 2);
}

#[tokio::test]
async fn a_refusal_and_a_timeout_reach_the_callback_with_their_codes_and_no_content() {
    let s = scene(vec![200], "eidapi_auth eidapi_formFilling").await;
    let eme = json!({
        "accessToken": s.token, "openID": s.open_id, "source": "PC_Browser",
        "redirectURI": REDIRECT, "state": "form-2", "formName": "Library card",
        "eMEFields": ["enName", "mobileNumber"],
    });
    start(&s.t, &s.client, Asked::Eme, eme.clone())
        .await
        .unwrap();
    answer(&s.t, &s.phone, false, &[]).await;
    s.t.clock.advance(WAITING_RECHECK_MS);
    assert_eq!(s.run().await.delivered, 1);
    let v = s.rx.last(&s.c);
    assert_eq!(
        (v["code"].as_str(), v["state"].as_str()),
        (Some("D40001"), Some("form-2"))
    );
    assert!(
        v.get("content").is_none() && v.get("secretKey").is_none(),
        "{v}"
    );
    // Nobody answers: D40003 once the time to answer is over.
    start(&s.t, &s.client, Asked::Eme, eme).await.unwrap();
    s.t.clock.advance(10 * 60_000);
    assert_eq!(s.run().await.delivered, 1);
    assert_eq!(s.rx.last(&s.c)["code"], "D40003");
}

#[tokio::test]
async fn a_callback_nobody_takes_is_given_up_after_the_last_attempt_and_erased() {
    let s = scene(vec![503], "eidapi_profiles").await;
    let t = &s.t;
    let ticket = s.approved_profile().await;
    t.clock.advance(WAITING_RECHECK_MS);
    s.run().await;
    for wait in RETRY_AFTER_MS {
        let (status, body, _) = ticket_row(t, &ticket).await;
        assert_eq!((status.as_str(), body.is_some()), ("queued", true));
        t.clock.advance(wait);
        s.run().await;
    }
    assert_eq!(s.rx.hits(), RETRY_AFTER_MS.len() + 1);
    let (status, body, attempts) = ticket_row(t, &ticket).await;
    assert_eq!((status.as_str(), body.is_none()), ("failed", true));
    assert_eq!(attempts, RETRY_AFTER_MS.len() as i64 + 1);
    let log = recent_calls(&t.p.oidc, &s.client.id, 1).await.unwrap();
    assert_eq!(log[0].code, "not delivered, given up");
    // A day later the ticket itself goes.
    t.clock.advance(86_400_001);
    purge_expired(&t.p).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM osp_api_tickets")
        .fetch_one(t.p.db.reader())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_release_whose_run_stopped_before_the_callback_was_built_is_still_delivered() {
    let s = scene(vec![200], "eidapi_profiles").await;
    let ticket = s.approved_profile().await;
    // The release is logged and marked delivered, and the process stops there.
    let id = iamsmart_proto::ids::EmeRequestId::parse(&ticket).unwrap();
    let out = crate::exchange::eme::outcome(&s.t.p.exchange, &s.client, &id)
        .await
        .unwrap();
    assert_eq!(out.status, "approved");
    s.t.clock.advance(WAITING_RECHECK_MS);
    assert_eq!(s.run().await.delivered, 1);
    let content = open_callback(&s.rx.last(&s.c));
    assert_eq!(content["profileFields"]["birthDate"], "19900715");
}

#[tokio::test]
async fn fifty_workers_at_once_send_a_callback_once() {
    let s = scene(vec![200], "eidapi_profiles").await;
    s.approved_profile().await;
    s.t.clock.advance(WAITING_RECHECK_MS);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let p = s.t.p.clone();
        workers.spawn(async move { callbacks::run(&p).await.unwrap() });
    }
    let (mut built, mut delivered) = (0, 0);
    while let Some(r) = workers.join_next().await {
        let ran = r.unwrap();
        built += ran.built;
        delivered += ran.delivered;
    }
    assert_eq!((built, delivered, s.rx.hits()), (1, 1, 1));
}

#[tokio::test]
async fn signing_refuses_what_it_cannot_honour_with_its_code() {
    use super::signing::{self, Digest, Flow};
    let s = scene(vec![200], "eidapi_auth eidapi_sign").await;
    // Before the platform's certificate authority is set up, signing is not offered.
    let ask0 = json!({
        "source": "PC_Browser", "hashCode": "ab".repeat(32), "sigAlgo": "SHA256withECDSA",
        "documentName": "Lease",
    });
    let e = signing::initiate(
        &s.t.p,
        &s.client,
        Flow::Anonymous,
        Digest::Hash,
        ask0.to_string().as_bytes(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ApiCode::ServerError, "{e}");
    let root = iamsmart_crypto::pki::SoftSigner::generate().unwrap();
    crate::signing::ca::init(&s.t.p.signing, &root, "Test Authority")
        .await
        .unwrap();
    let ask = json!({
        "accessToken": s.token, "openID": s.open_id, "source": "PC_Browser",
        "redirectURI": REDIRECT, "hashCode": "ab".repeat(32), "sigAlgo": "SHA256withECDSA",
        "documentName": "Lease",
    });
    let code = |r: ApiResult<Value>| r.map(|_| ApiCode::Success).unwrap_or_else(|e| e.code);
    let call = |flow, digest, body: Value| {
        let p = s.t.p.clone();
        let client = s.client.clone();
        async move { signing::initiate(&p, &client, flow, digest, body.to_string().as_bytes()).await }
    };
    let with = |k: &str, v: Value| {
        let mut b = ask.clone();
        b[k] = v;
        b
    };
    let cases = [
        (
            Flow::Account,
            Digest::Hash,
            with("sigAlgo", json!("SHA256withRSA")),
            ApiCode::SigAlgoNotSupported,
        ),
        (
            Flow::Account,
            Digest::Hash,
            with("hashCode", json!("not a digest")),
            ApiCode::InvalidRequest,
        ),
        (
            Flow::Account,
            Digest::Hash,
            with("docDigest", json!("ab".repeat(32))),
            ApiCode::InvalidRequest,
        ),
        (
            Flow::Account,
            Digest::Pdf,
            ask.clone(),
            ApiCode::InvalidRequest,
        ),
        (
            Flow::Account,
            Digest::Hash,
            with("openID", json!("someone")),
            ApiCode::InvalidAccessToken,
        ),
        (
            Flow::Anonymous,
            Digest::Hash,
            ask.clone(),
            ApiCode::InvalidRequest,
        ),
        // The resident is on iAM Smart, not iAM Smart+: nothing is asked of them.
        (
            Flow::Account,
            Digest::Hash,
            ask.clone(),
            ApiCode::SigningRefused,
        ),
    ];
    for (flow, digest, body, want) in cases {
        assert_eq!(code(call(flow, digest, body.clone()).await), want, "{body}");
    }
    assert!(approvals::pending(&s.t.p, &s.phone.caller.resident_id)
        .await
        .unwrap()
        .is_empty());
    // A sign-in without the scope.
    let (token, open_id) = signed_in(&s.t, &s.client, &s.phone, "eidapi_auth").await;
    let mut body = ask.clone();
    body["accessToken"] = json!(token);
    body["openID"] = json!(open_id);
    assert_eq!(
        code(call(Flow::Account, Digest::Hash, body).await),
        ApiCode::ScopeNotAllowed
    );
}

#[tokio::test]
async fn a_face_step_up_declined_or_unanswered_reaches_the_callback_with_its_code() {
    let s = scene(vec![200], "eidapi_auth eidapi_fr").await;
    let ask = json!({
        "businessID": "payment-7", "accessToken": s.token, "openID": s.open_id,
        "source": "PC_Browser", "redirectURI": REDIRECT, "state": "up-1",
    });
    let start = |body: Value| {
        let p = s.t.p.clone();
        let client = s.client.clone();
        async move { super::stepup::initiate(&p, &client, body.to_string().as_bytes()).await }
    };
    let started = start(ask.clone()).await.unwrap();
    assert_eq!(started["authByQR"], false);
    let waiting = approvals::pending(&s.t.p, &s.phone.caller.resident_id)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].kind, "step_up");
    // Approving needs a selfie matched with the registry's photo: without one, nothing is
    // approved.
    let e =
        s.t.answer_in_app(&s.phone, &waiting[0].id, "approve", json!({}))
            .await
            .unwrap_err();
    assert!(e.to_string().contains("selfie"), "{e}");
    answer(&s.t, &s.phone, false, &[]).await;
    s.t.clock.advance(WAITING_RECHECK_MS);
    assert_eq!(s.run().await.delivered, 1);
    let v = s.rx.last(&s.c);
    assert_eq!(
        (
            v["code"].as_str(),
            v["state"].as_str(),
            v["businessID"].as_str()
        ),
        (Some("D40001"), Some("up-1"), Some("payment-7"))
    );
    assert_eq!(v["ticketID"], started["ticketID"]);
    // Nobody answers: D40003.
    start(ask.clone()).await.unwrap();
    s.t.clock.advance(10 * 60_000);
    assert_eq!(s.run().await.delivered, 1);
    assert_eq!(s.rx.last(&s.c)["code"], "D40003");
    // A sign-in without eidapi_fr, and another resident's openID.
    let (token, open_id) = signed_in(&s.t, &s.client, &s.phone, "eidapi_auth").await;
    let mut body = ask.clone();
    body["accessToken"] = json!(token);
    body["openID"] = json!(open_id);
    assert_eq!(
        start(body).await.unwrap_err().code,
        ApiCode::ScopeNotAllowed
    );
    let mut body = ask;
    body["openID"] = json!("someone-else");
    assert_eq!(
        start(body).await.unwrap_err().code,
        ApiCode::InvalidAccessToken
    );
}

#[tokio::test]
async fn the_app_s_answer_sends_the_callback_at_once_without_the_worker() {
    let s = scene(vec![200], "eidapi_profiles").await;
    let ticket = s.approved_profile().await;
    let id = iamsmart_proto::ids::ApprovalId::parse(
        &sqlx::query_scalar::<_, String>("SELECT approval_id FROM osp_api_tickets WHERE id = $1")
            .bind(&ticket)
            .fetch_one(s.t.p.db.reader())
            .await
            .unwrap(),
    )
    .unwrap();
    // A login's answer is never a ticket's: nothing is looked up.
    callbacks::decided(&s.t.p, &id, "login");
    callbacks::decided(&s.t.p, &id, "eme");
    // Waits for the callback's arrival (an event, not a length of time; the bound only ends a
    // broken run).
    tokio::time::timeout(std::time::Duration::from_secs(30), s.rx.arrived.notified())
        .await
        .expect("the callback arrives without the worker");
    assert_eq!(s.rx.hits(), 1);
    assert_eq!(s.rx.last(&s.c)["code"], "D00000");
}

#[tokio::test]
async fn a_certificate_expired_since_the_request_gets_its_code_and_no_data() {
    let s = scene(vec![200], "eidapi_profiles").await;
    s.approved_profile().await;
    // The fixture's certificate is valid until 2050.
    s.t.clock.advance(25 * 365 * 86_400_000);
    assert_eq!(s.run().await.delivered, 1);
    let v = s.rx.last(&s.c);
    assert_eq!(v["code"], "D10011");
    assert!(
        v.get("content").is_none() && v.get("secretKey").is_none(),
        "{v}"
    );
}
