//! Digital signing under load (iamsmart only): whole signatures (`--mode sign`), OCSP
//! (`--mode ocsp`), timestamps (`--mode tsa`) and certificate issuance (`--mode issue`).
//!
//! Set-up: a service (`clients create --profile fapi2`), the residents' apps (iAM Smart+), and
//! for `sign` and `ocsp` a signing certificate per resident, issued through the app API as the
//! app gets one (`POST /app/v1/signing/certificate`, a device-signed call with a CSR). The app
//! seals its signing key under the PIN (Argon2id, 64 MiB) and unseals it for every signature:
//! that is the phone's cost, not the platform's, so here the key is made and kept in memory.
//!
//! - `sign`: one login per resident tells the service the resident's subject; with a client
//!   token of scope `sign` (client_credentials, private_key_jwt, DPoP) the service asks
//!   (`POST /sign/v1/requests` with a random digest), the app opens the request and checks the
//!   match code and digest, builds the CMS signed attributes from the digest shown, signs them
//!   and sends the approval (as `App::sign` does), the service polls
//!   `GET /sign/v1/requests/{id}` until `signed` and the load generator verifies the CMS.
//! - `ocsp`: `POST /pki/ocsp` for the residents' certificates (nonce-free requests, as browsers
//!   and RFC 5019 clients send them); each answer is verified and must say `good`.
//! - `tsa`: `POST /pki/tsa` with a random SHA-256 imprint and nonce; each token is verified.
//! - `issue`: a new key and CSR, `POST /app/v1/signing/certificate` (each call revokes the
//!   device's previous certificate as superseded and issues a new one).
//!
//! Worker i acts for resident i mod N, so with as many residents as workers no resident has
//! two requests in flight.
use crate::drive::{self, Shape, Window};
use crate::exchange::{app_of, futures_all, sub_of};
use crate::rp::{self, StepError, StepResult};
use crate::stats::Report;
use crate::target::{self, SetupArgs};
use crate::{us, Mode, RunArgs};
use anyhow::{anyhow, bail, Result};
use base64::Engine;
use iamsmart_app::App;
use iamsmart_crypto::device::DeviceKey;
use iamsmart_crypto::pki::{cert, cms, csr, ocsp, tsp, CaSigner};
use iamsmart_proto::app::{IssuedCertificate, DEVICE_SIGNATURE_HEADER};
use serde_json::{json, Value};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The steps of a whole signature.
pub const SIGN_STEPS: [&str; 4] = ["request", "app_open", "app_sign", "collect"];
/// How long the service polls for a signed request before it gives up.
const COLLECT_WITHIN: Duration = Duration::from_secs(10);
/// A client token is renewed when it is this old (access tokens last 10 minutes by default).
const TOKEN_RENEW_AFTER: Duration = Duration::from_secs(240);

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    iamsmart_crypto::rng::Rng::fill(&iamsmart_crypto::rng::SystemRng, &mut b);
    b
}

fn b64url_decode(s: &str) -> Result<Vec<u8>> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('='))?)
}

/// An error of one step: the step's name leads the kind.
fn at(step: &'static str) -> impl Fn(StepError) -> StepError {
    move |e| StepError::new(format!("{step}: {}", e.kind), e.detail)
}

fn bad(step: &str, kind: &str, detail: impl Into<String>) -> StepError {
    StepError::new(format!("{step}: {kind}"), detail)
}

/// A resident's app with its signing key in memory.
struct Signer {
    app: App,
    key: DeviceKey,
    cert: Vec<u8>,
    serial: String,
    /// The subject the service knows the resident by (`sign` mode).
    sub: String,
}

/// A device-signed call of the app API (`App::sign_request` signs it; the body is JSON).
async fn app_call(
    http: &reqwest::Client,
    app: &App,
    path: &str,
    body: &Value,
) -> StepResult<Value> {
    let bytes = serde_json::to_vec(body).map_err(|e| StepError::new("json", e.to_string()))?;
    let sig = app
        .sign_request("POST", path, &bytes)
        .map_err(|e| StepError::new("app", e.to_string()))?;
    let r = http
        .post(format!("{}{path}", app.file().platform_url))
        .header(DEVICE_SIGNATURE_HEADER, sig)
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .map_err(StepError::net)?;
    if !r.status().is_success() {
        return Err(rp::refused(r).await);
    }
    r.json().await.map_err(StepError::net)
}

/// Get a signing certificate as the app does (`App::enrol_signing`): a new P-256 key, a CSR
/// signed with it, a device-signed call; the key is kept in memory instead of sealed.
async fn enrol(
    http: &reqwest::Client,
    app: &App,
) -> StepResult<(DeviceKey, IssuedCertificate, Vec<u8>)> {
    let key = DeviceKey::generate().map_err(|e| StepError::new("keygen", e.to_string()))?;
    let csr = csr::build_csr(&app.file().device_name, &key)
        .map_err(|e| StepError::new("csr", e.to_string()))?;
    let v = app_call(
        http,
        app,
        "/app/v1/signing/certificate",
        &json!({ "csr": rp::b64(&csr) }),
    )
    .await?;
    let issued: IssuedCertificate = serde_json::from_value(v.clone())
        .map_err(|_| StepError::new("bad answer", v.to_string()))?;
    let der = b64url_decode(&issued.certificate)
        .map_err(|e| StepError::new("bad answer", e.to_string()))?;
    let info = cert::parse(&der).map_err(|e| StepError::new("bad certificate", e.to_string()))?;
    if info.spki_der != key.spki_der() || hex(&info.serial) != issued.serial {
        return Err(StepError::new(
            "bad certificate",
            "not for the key in the CSR, or another serial",
        ));
    }
    Ok((key, issued, der))
}

/// The service's client token (scope `sign`), renewed before it expires.
struct Token {
    rp: rp::Rp,
    current: tokio::sync::Mutex<(Instant, String)>,
}

impl Token {
    async fn new(rp: rp::Rp) -> Result<Token> {
        let t = rp
            .client_token("sign")
            .await
            .map_err(|e| anyhow!("client token: {} {}", e.kind, e.detail))?;
        Ok(Token {
            rp,
            current: tokio::sync::Mutex::new((Instant::now(), t.access_token)),
        })
    }

    async fn get(&self) -> StepResult<String> {
        let mut cur = self.current.lock().await;
        if cur.0.elapsed() > TOKEN_RENEW_AFTER {
            let t = self.rp.client_token("sign").await?;
            *cur = (Instant::now(), t.access_token);
        }
        Ok(cur.1.clone())
    }
}

/// Everything a run needs, set up.
struct Bench {
    signers: Vec<Signer>,
    token: Option<Token>,
    http: reqwest::Client,
    base: String,
    issuing: Vec<u8>,
    tsa: Vec<u8>,
    /// Nonce-free OCSP requests, one per signer.
    ocsp_requests: Vec<Vec<u8>>,
}

async fn download(http: &reqwest::Client, url: &str) -> Result<Vec<u8>> {
    let r = http.get(url).send().await?;
    if !r.status().is_success() {
        bail!(
            "GET {url}: {} (is the certificate authority set up? `iamsmart ca init`)",
            r.status()
        );
    }
    Ok(r.bytes().await?.to_vec())
}

async fn setup(a: &RunArgs) -> Result<Bench> {
    let base = a.url.trim_end_matches('/').to_string();
    let http = rp::http_client(a.concurrency * 2)?;
    let issuing = download(&http, &format!("{base}/pki/issuing.cer")).await?;
    let tsa = download(&http, &format!("{base}/pki/tsa.cer")).await?;
    let mut bench = Bench {
        signers: vec![],
        token: None,
        http: http.clone(),
        base: base.clone(),
        issuing,
        tsa,
        ocsp_requests: vec![],
    };
    if a.mode == Mode::Tsa {
        // Anyone may ask for a timestamp: no service, no residents.
        return Ok(bench);
    }
    let setup = SetupArgs {
        base,
        also: vec![],
        residents: a.residents,
        work_dir: a.work_dir.clone(),
        iamsmart_bin: a.iamsmart_bin.clone(),
        setup_token: None,
        // The login only tells the service the resident's subject.
        scope: "openid".into(),
        pool: a.concurrency * 2,
        client_args: vec![],
        extra_jwks: vec![],
    };
    let t = target::setup_iamsmart(&setup).await?;
    let mut subs = vec![String::new(); t.phones.len()];
    if a.mode == Mode::Sign {
        for (i, phone) in t.phones.iter().enumerate() {
            let mut ignored = Vec::new();
            let tok = crate::login(&t, 0, phone, &mut ignored)
                .await
                .map_err(|(step, e)| {
                    anyhow!("login of resident {i}: {step}: {} {}", e.kind, e.detail)
                })?;
            subs[i] = sub_of(tok.id_token.as_deref().unwrap_or_default())?;
        }
        bench.token = Some(Token::new(t.rps[0].clone()).await?);
    }
    if a.mode == Mode::Issue {
        for (phone, sub) in t.phones.into_iter().zip(subs) {
            let app = match phone {
                target::Phone::Iamsmart(app) => *app,
                target::Phone::Peer { .. } => bail!("the signing modes drive iamsmart only"),
            };
            // No certificate yet: the run issues them.
            bench.signers.push(Signer {
                app,
                key: DeviceKey::generate()?,
                cert: vec![],
                serial: String::new(),
                sub,
            });
        }
        return Ok(bench);
    }
    // A signing certificate per resident, residents in parallel.
    let started = Instant::now();
    let enrolled = futures_all(
        t.phones
            .iter()
            .map(|p| async { enrol(&http, app_of(p)?).await.map_err(step_err) })
            .collect(),
    )
    .await;
    for ((phone, sub), got) in t.phones.into_iter().zip(subs).zip(enrolled) {
        let (key, issued, der) = got.map_err(|e| anyhow!("signing certificate: {e}"))?;
        let app = match phone {
            target::Phone::Iamsmart(app) => *app,
            target::Phone::Peer { .. } => bail!("the signing modes drive iamsmart only"),
        };
        let id = ocsp::CertId::for_cert(&der, &bench.issuing)?;
        bench.ocsp_requests.push(ocsp::build_request(&[id], None)?);
        bench.signers.push(Signer {
            app,
            key,
            cert: der,
            serial: issued.serial,
            sub,
        });
    }
    eprintln!(
        "{} signing certificates issued in {:.1} s",
        bench.signers.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(bench)
}

fn step_err(e: StepError) -> anyhow::Error {
    anyhow!("{} {}", e.kind, e.detail)
}

impl Bench {
    /// One whole signature; the time of each step.
    async fn sign(&self, worker: usize, n: u64) -> StepResult<Vec<u64>> {
        let s = &self.signers[worker % self.signers.len()];
        let token = self
            .token
            .as_ref()
            .ok_or_else(|| bad("request", "setup", ""))?;
        let rp = &token.rp;
        let mut times = Vec::with_capacity(SIGN_STEPS.len());
        // The service asks.
        let t = Instant::now();
        let access = token.get().await.map_err(at("request"))?;
        let digest: [u8; 32] = random_bytes();
        let ask = json!({
            "login_hint": s.sub,
            "document": { "name": format!("Load test document {n}"), "service": "Signing benchmark" },
            "digest": hex(&digest),
        });
        let started = rp
            .api(
                reqwest::Method::POST,
                "/sign/v1/requests",
                &access,
                Some(&ask),
            )
            .await
            .map_err(at("request"))?;
        let (Some(id), Some(qr), Some(code)) = (
            started["request_id"].as_str(),
            started["qr"].as_str(),
            started["match_code"].as_str(),
        ) else {
            return Err(bad("request", "bad answer", started.to_string()));
        };
        times.push(us(t));
        // The app opens it: the match code and the digest it shows are those of the request.
        let t = Instant::now();
        let view = s
            .app
            .open_request(qr)
            .await
            .map_err(|e| at("app_open")(target::app_err(e)))?;
        if view.kind != "sign" || view.match_code != code {
            return Err(bad("app_open", "wrong request", view.id.to_string()));
        }
        if view.details["digest"].as_str() != Some(hex(&digest).as_str()) {
            return Err(bad("app_open", "digest differs", view.details.to_string()));
        }
        times.push(us(t));
        // The app signs what it was shown (as `App::sign`, with the key already unsealed).
        let t = Instant::now();
        let signing_time = (view.details["format"] == "cades").then(|| rp::now_s() as u64);
        let attrs = cms::signed_attributes(&cms::SignedAttrsParams {
            content_digest: digest,
            signer_cert_der: &s.cert,
            signing_time,
        })
        .map_err(|e| bad("app_sign", "attributes", e.to_string()))?;
        let signature = s
            .key
            .sign_der(&attrs)
            .map_err(|e| bad("app_sign", "sign", e.to_string()))?;
        let agreed = json!({
            "signature": rp::b64(&signature),
            "certificate_serial": s.serial,
            "signing_time": signing_time,
        });
        let done = s
            .app
            .decide(&view, "approve", agreed, None)
            .await
            .map_err(|e| at("app_sign")(target::app_err(e)))?;
        if done.status != iamsmart_proto::app::ApprovalStatus::Approved {
            return Err(bad("app_sign", &format!("status {}", done.status), ""));
        }
        times.push(us(t));
        // The service collects the signature and checks it.
        let t = Instant::now();
        let path = format!("/sign/v1/requests/{id}");
        let out = loop {
            let access = token.get().await.map_err(at("collect"))?;
            let out = rp
                .api(reqwest::Method::GET, &path, &access, None)
                .await
                .map_err(at("collect"))?;
            match out["status"].as_str().unwrap_or_default() {
                "signed" => break out,
                "pending" | "scanned" if t.elapsed() < COLLECT_WITHIN => {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                other => {
                    return Err(bad(
                        "collect",
                        &format!("status {other}"),
                        out["reason"].as_str().unwrap_or_default(),
                    ))
                }
            }
        };
        times.push(us(t));
        check_signature(&out["signature"], &digest, &s.serial)
            .map_err(|e| bad("collect", "bad signature", e.to_string()))?;
        Ok(times)
    }

    /// One OCSP request for a resident's certificate; the answer must be verified and `good`.
    async fn ocsp(&self, worker: usize) -> StepResult<Vec<u64>> {
        let req = &self.ocsp_requests[worker % self.ocsp_requests.len()];
        let body = self
            .post_der("/pki/ocsp", "application/ocsp-request", req.clone())
            .await?;
        let info = ocsp::parse_response(&body, &self.issuing)
            .map_err(|e| StepError::new("bad answer", e.to_string()))?;
        match info.statuses.first().map(|s| s.status) {
            Some(ocsp::CertStatus::Good) => Ok(vec![]),
            other => Err(StepError::new("not good", format!("{other:?}"))),
        }
    }

    /// One timestamp over a random imprint; the token must verify with the TSA's certificate.
    async fn tsa(&self) -> StepResult<Vec<u64>> {
        let imprint: [u8; 32] = random_bytes();
        let mut nonce: [u8; 8] = random_bytes();
        nonce[0] = (nonce[0] & 0x7f).max(1);
        let req = tsp::build_request(&imprint, Some(&nonce), true)
            .map_err(|e| StepError::new("request", e.to_string()))?;
        let body = self
            .post_der("/pki/tsa", "application/timestamp-query", req)
            .await?;
        let token = tsp::token_from_response(&body)
            .map_err(|e| StepError::new("refused", e.to_string()))?;
        let info = tsp::verify_token(&token, Some(&self.tsa))
            .map_err(|e| StepError::new("bad token", e.to_string()))?;
        if info.imprint_sha256 != imprint {
            return Err(StepError::new("bad token", "another imprint"));
        }
        Ok(vec![])
    }

    /// One certificate issued to a resident's app.
    async fn issue(&self, worker: usize) -> StepResult<Vec<u64>> {
        let s = &self.signers[worker % self.signers.len()];
        enrol(&self.http, &s.app).await.map(|_| vec![])
    }

    async fn post_der(&self, path: &str, content_type: &str, body: Vec<u8>) -> StepResult<Vec<u8>> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .map_err(StepError::net)?;
        if !r.status().is_success() {
            return Err(rp::refused(r).await);
        }
        Ok(r.bytes().await.map_err(StepError::net)?.to_vec())
    }
}

/// The collected signature: a CMS over the digest, by the signer's certificate, timestamped.
fn check_signature(sig: &Value, digest: &[u8; 32], serial: &str) -> Result<()> {
    let cms_der = base64::engine::general_purpose::STANDARD
        .decode(sig["cms"].as_str().ok_or_else(|| anyhow!("no cms"))?)?;
    let v = cms::verify_detached(&cms_der, digest)?;
    if v.timestamp.is_none() {
        bail!("no signature timestamp");
    }
    if hex(&cert::parse(&v.signer_cert_der)?.serial) != serial
        || sig["certificate_serial"] != serial
    {
        bail!("signed with another certificate");
    }
    Ok(())
}

/// Set up, run one signature (or OCSP request, timestamp, issuance) as a check, warm up,
/// measure, report.
pub async fn run(a: RunArgs) -> Result<Report> {
    let started = drive::start(&a)?;
    let bench = Arc::new(setup(&a).await?);
    let mode = a.mode;
    let op = Arc::new(move |worker: usize, n: u64| {
        let b = bench.clone();
        async move {
            match mode {
                Mode::Sign => b.sign(worker, n).await,
                Mode::Ocsp => b.ocsp(worker).await,
                Mode::Tsa => b.tsa().await,
                _ => b.issue(worker).await,
            }
        }
    });
    // One operation end to end before the clock starts: a set-up that cannot work fails here.
    op(0, u64::MAX)
        .await
        .map_err(|e| anyhow!("first {mode:?} operation: {} {}", e.kind, e.detail))?;
    let w = Window::starting_now(a.warmup, a.duration);
    let (steps, service): (&[&str], Option<&str>) = match mode {
        Mode::Sign => (&SIGN_STEPS, None),
        Mode::Ocsp => (&[], Some("ocsp")),
        Mode::Tsa => (&[], Some("tsa")),
        _ => (&[], Some("issue")),
    };
    let shape = Shape {
        target: "iamsmart",
        steps,
        service_step: service,
        metrics_url: Some(format!("{}/metrics", a.url.trim_end_matches('/'))),
    };
    let exhausted = Arc::new(AtomicBool::new(false));
    drive::measure(&a, started, w, shape, |w| {
        drive::drive(a.concurrency, a.rate, w, u64::MAX, exhausted, op)
    })
    .await
}

/// The signing runs' key store operations per operation, and the per-step latencies of the
/// `sign` runs, as Markdown.
pub fn steps_table(reports: &[Report]) {
    let signing = ["sign", "ocsp", "tsa", "issue"];
    let with_keys: Vec<&Report> = reports
        .iter()
        .filter(|r| signing.contains(&r.mode.as_str()) && !r.key_ops_per_op.is_empty())
        .collect();
    if !with_keys.is_empty() {
        println!();
        println!("| run | mode | data keys unwrapped per op | wrapped per op | JWS signatures per op (not counted: CA, OCSP, TSA signatures) |");
        println!("|---|---|---:|---:|---:|");
        for r in with_keys {
            let k = |op: &str| r.key_ops_per_op.get(op).copied().unwrap_or(0.0);
            println!(
                "| {} | {} | {:.2} | {:.2} | {:.2} |",
                r.label,
                r.mode,
                k("unwrap"),
                k("wrap"),
                k("sign")
            );
        }
    }
    let runs: Vec<&Report> = reports.iter().filter(|r| r.mode == "sign").collect();
    if runs.is_empty() {
        return;
    }
    println!();
    print!("| signature step, p50 / p99 ms |");
    for r in &runs {
        print!(" {} |", r.label);
    }
    println!();
    print!("|---|");
    for _ in &runs {
        print!("---:|");
    }
    println!();
    for n in SIGN_STEPS.iter().copied().chain(["TOTAL"]) {
        print!("| {n} |");
        for r in &runs {
            let d = if n == "TOTAL" {
                Some(&r.total)
            } else {
                r.steps.iter().find(|s| s.0 == n).map(|s| &s.1)
            };
            match d {
                Some(d) => print!(" {:.2} / {:.2} |", d.p50_ms, d.p99_ms),
                None => print!(" - |"),
            }
        }
        println!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0, 1, 0xab, 0xff]), "0001abff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn step_errors_name_their_step() {
        let e = at("app_sign")(StepError::new("http 422", "no"));
        assert_eq!(e.kind, "app_sign: http 422");
        assert_eq!(
            bad("collect", "status failed", "x").kind,
            "collect: status failed"
        );
    }
}
