//! The Consented Data Exchange Gateway under load (`run --mode exchange`), and the sandbox data
//! provider alone, called as the gateway calls it (`run --mode provider`), so that what the
//! gateway adds to the provider's own latency can be read off two runs at the same rate.
//!
//! Exchange setup: a requester client (`clients create --profile fapi2 --requester-type TYPE`,
//! an ES256 key and an ECDH-ES encryption key in its JWKS), one login per resident (so the
//! requester knows their pairwise subject), then consents: the requester asks
//! (`POST /gateway/v1/consents`, recurring, 24 fetches a day, the gateway's maximum) and the
//! resident approves in the app (open the request, sign the decision with the device key), one
//! request at a time per resident. The run: `POST /gateway/v1/fetch` with a DPoP-bound
//! `client_credentials` token and a fresh proof per call; fetch n uses consent n / 24, so no
//! consent is asked for more than it allows.
//!
//! Provider runs: `POST /{dept}/v1/fetch` with the body the gateway sends, signed as the gateway
//! signs it (`iamsmart-request+jwt`, ES256, method, path, body hash, time, single-use id,
//! audience), with a key the load generator serves as the "platform" connector keys.
use crate::drive::{self, Shape, Window};
use crate::rp::{self, random, StepError, StepResult};
use crate::stats::Report;
use crate::target::{self, Phone, SetupArgs};
use crate::{Mode, RunArgs};
use anyhow::{anyhow, bail, Context, Result};
use iamsmart_crypto::device::DeviceKey;
use iamsmart_crypto::jwe::EncryptionKey;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Fetches a recurring consent allows a day per provider (the gateway's maximum frequency).
pub const FETCHES_PER_CONSENT: u64 = 24;
/// The purpose the consents are given for.
const PURPOSE: &str = "credit-assessment";
/// Closed-loop runs prepare consents for this many fetches a second unless told otherwise.
const CLOSED_LOOP_BUDGET_RATE: f64 = 1000.0;

/// The consent the n-th fetch uses (each is used [`FETCHES_PER_CONSENT`] times in a row), or
/// none when all `consents` are used up.
pub fn consent_for(n: u64, consents: usize) -> Option<usize> {
    let c = usize::try_from(n / FETCHES_PER_CONSENT).ok()?;
    (c < consents).then_some(c)
}

/// Consents needed for a budget of fetches.
pub fn consents_needed(fetches: usize) -> usize {
    fetches.div_ceil(usize::try_from(FETCHES_PER_CONSENT).unwrap_or(usize::MAX))
}

/// The fetch budget of a run: the offered rate (or the closed-loop allowance) over warm-up and
/// duration, plus 5% and one per worker.
pub fn default_budget(rate: Option<f64>, secs: u64, concurrency: usize) -> usize {
    let r = rate.unwrap_or(CLOSED_LOOP_BUDGET_RATE);
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a rate times seconds: far below usize; a negative or NaN rate saturates to 0"
    )]
    let budget = (r * secs as f64 * 1.05).ceil() as usize;
    budget + concurrency
}

/// `provider/item,...` into pairs.
pub fn parse_items(s: &str) -> Result<Vec<(String, String)>> {
    let items: Vec<(String, String)> = s
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.split_once('/')
                .map(|(p, i)| (p.to_string(), i.to_string()))
                .ok_or_else(|| anyhow!("{x}: expected provider/item"))
        })
        .collect::<Result<_>>()?;
    if items.is_empty() {
        bail!("--items: at least one provider/item");
    }
    Ok(items)
}

/// The gateway side: the requester, its token and the approved consents.
struct Gateway {
    rp: rp::Rp,
    token: String,
    consents: Vec<String>,
    items: Value,
}

impl Gateway {
    async fn fetch(&self, consent: &str) -> StepResult<Value> {
        let body = json!({ "consent_id": consent, "purpose_code": PURPOSE, "items": self.items });
        self.rp
            .api(
                reqwest::Method::POST,
                "/gateway/v1/fetch",
                &self.token,
                Some(&body),
            )
            .await
    }
}

/// Every item answered `ok` with a JWE.
fn check_fetched(v: &Value, items: usize) -> StepResult<()> {
    let results = v["results"]
        .as_array()
        .ok_or_else(|| StepError::new("bad answer", v.to_string()))?;
    if results.len() != items {
        return Err(StepError::new("bad answer", v.to_string()));
    }
    for r in results {
        if r["status"] != "ok" || r["jwe"].as_str().is_none() {
            let kind = format!("item {}", r["status"].as_str().unwrap_or("?"));
            return Err(StepError::new(
                kind,
                r["detail"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    Ok(())
}

pub(crate) fn app_of(phone: &Phone) -> Result<&iamsmart_app::App> {
    match phone {
        Phone::Iamsmart(app) => Ok(app),
        Phone::Peer { .. } => bail!("the exchange mode drives iamsmart only"),
    }
}

/// The `sub` claim of an ID token (not verified: the platform just issued it to us).
pub(crate) fn sub_of(id_token: &str) -> Result<String> {
    use base64::Engine;
    let payload = id_token
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow!("malformed ID token"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    let v: Value = serde_json::from_slice(&bytes)?;
    v["sub"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("ID token without sub"))
}

/// Ask for consents for one resident (whose subject is `sub`) and approve each in the app, one
/// at a time, until `want` are made across all residents (counted in `made`).
async fn consents_of(
    g: &rp::Rp,
    token: &str,
    app: &iamsmart_app::App,
    sub: &str,
    items: &Value,
    want: usize,
    made: &AtomicU64,
) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    while usize::try_from(made.fetch_add(1, Ordering::Relaxed)).is_ok_and(|m| m < want) {
        let ask = json!({
            "login_hint": sub, "items": items, "purpose_code": PURPOSE,
            "purpose_text": "Mortgage application (load test)", "fetch_type": "recurring",
            "frequency_per_day": FETCHES_PER_CONSENT, "valid_days": 30, "data_life_days": 90,
        });
        let c = g
            .api(
                reqwest::Method::POST,
                "/gateway/v1/consents",
                token,
                Some(&ask),
            )
            .await
            .map_err(|e| anyhow!("consent request: {} {}", e.kind, e.detail))?;
        let id = c["consent_id"]
            .as_str()
            .ok_or_else(|| anyhow!("consent request answered {c}"))?
            .to_string();
        let pending = app.pending().await?;
        let req = pending
            .iter()
            .find(|p| p.kind == "data_consent")
            .ok_or_else(|| anyhow!("no data_consent request in the app"))?;
        let view = app.open_request(req.id.as_str()).await?;
        let done = app
            .decide(&view, "approve", json!({ "fields": [] }), None)
            .await?;
        if done.status != iamsmart_proto::app::ApprovalStatus::Approved {
            bail!("the consent was not approved: {}", done.status);
        }
        ids.push(id);
    }
    Ok(ids)
}

async fn setup_gateway(a: &RunArgs, budget: usize) -> Result<(Gateway, EncryptionKey)> {
    let items = parse_items(&a.items)?;
    let items_json: Value = items
        .iter()
        .map(|(p, i)| json!({ "provider": p, "item": i }))
        .collect();
    let enc = EncryptionKey::generate("loadgen-enc-1")?;
    let setup = SetupArgs {
        base: a.url.trim_end_matches('/').to_string(),
        also: vec![],
        residents: a.residents,
        work_dir: a.work_dir.clone(),
        iamsmart_bin: a.iamsmart_bin.clone(),
        setup_token: None,
        // The login only tells the requester the resident's subject: no profile fields (as in
        // the gateway's end-to-end test), so no consent page for them.
        scope: "openid".into(),
        pool: a.concurrency * 2,
        client_args: vec!["--requester-type".into(), a.requester_type.clone()],
        extra_jwks: vec![enc.public_jwk()?],
    };
    let t = target::setup_iamsmart(&setup).await?;
    let rp = t.rps[0].clone();
    // One login per resident: the requester learns the resident's (pairwise) subject.
    let mut subs = Vec::new();
    for (i, phone) in t.phones.iter().enumerate() {
        let mut ignored = Vec::new();
        let tok = crate::login(&t, 0, phone, &mut ignored)
            .await
            .map_err(|(step, e)| {
                anyhow!("login of resident {i}: {step}: {} {}", e.kind, e.detail)
            })?;
        subs.push(sub_of(tok.id_token.as_deref().unwrap_or_default())?);
    }
    let token = rp
        .client_token("gateway")
        .await
        .map_err(|e| anyhow!("client token: {} {}", e.kind, e.detail))?
        .access_token;
    // Consents for the budget, plus one for the check below; residents in parallel.
    let want = consents_needed(budget) + 1;
    let made = AtomicU64::new(0);
    let started = Instant::now();
    let mut jobs = Vec::new();
    for (phone, sub) in t.phones.iter().zip(&subs) {
        jobs.push(consents_of(
            &rp,
            &token,
            app_of(phone)?,
            sub,
            &items_json,
            want,
            &made,
        ));
    }
    let mut consents = Vec::new();
    for r in futures_all(jobs).await {
        consents.extend(r?);
    }
    eprintln!(
        "{} consents asked for and approved in the app in {:.1} s",
        consents.len(),
        started.elapsed().as_secs_f64()
    );
    let check = consents.pop().context("no consent was made")?;
    let g = Gateway {
        rp,
        token,
        consents,
        items: items_json,
    };
    // One exchange end to end: the data decrypt with the requester's key.
    let v = g
        .fetch(&check)
        .await
        .map_err(|e| anyhow!("first fetch: {} {}", e.kind, e.detail))?;
    check_fetched(&v, items.len()).map_err(|e| anyhow!("first fetch: {} {}", e.kind, e.detail))?;
    // The item is signed by its provider inside the encryption: verified with the keys the
    // provider publishes (where the gateway's catalogue says), as a requester does.
    let first = &v["results"][0];
    let provider = first["provider"].as_str().unwrap_or_default();
    let catalogue: Value =
        g.rp.http
            .get(format!(
                "{}/gateway/v1/catalogue",
                a.url.trim_end_matches('/')
            ))
            .send()
            .await?
            .json()
            .await?;
    let jwks_uri = catalogue["items"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["provider"] == provider))
        .and_then(|i| i["provider_jwks_uri"].as_str())
        .with_context(|| format!("the catalogue names no keys for {provider}"))?
        .to_string();
    let jwks: Value = g.rp.http.get(jwks_uri).send().await?.json().await?;
    let keys: Vec<iamsmart_crypto::jose::PublicJwk> = serde_json::from_value(jwks["keys"].clone())?;
    let jwe = first["jwe"].as_str().unwrap_or_default();
    let payload = enc.decrypt_signed(jwe, &keys, iamsmart_proto::exchange::ITEM_TYP)?;
    let doc: iamsmart_proto::exchange::ItemClaims = serde_json::from_slice(&payload)?;
    if doc.consent_id != check.as_str() || doc.aud != g.rp.client_id || doc.data.is_null() {
        bail!("first fetch: unexpected item {doc:?}");
    }
    Ok((g, enc))
}

/// Run futures concurrently on this task, in order of their results.
pub(crate) async fn futures_all<F: Future>(fs: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = fs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in pinned.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// The provider alone: the load generator's connector key and what it signs.
struct Direct {
    http: reqwest::Client,
    url: String,
    path: String,
    dept: String,
    items: Vec<String>,
    key: DeviceKey,
    kid: String,
    requester_key: Value,
}

/// Synthetic HKIDs (the sandbox providers derive a record from any HKID; salaries tax and
/// qualifications exist for every one).
fn hkid(n: u64) -> String {
    let letters = b"ABCDEGHKMPRTVYZ";
    format!(
        "{}{:06}({})",
        letters[usize::try_from(n % letters.len() as u64).unwrap_or(0)] as char,
        (n * 7919) % 1_000_000,
        n % 10
    )
}

impl Direct {
    fn jwks(&self) -> Value {
        let mut j = serde_json::to_value(self.key.public_jwk()).unwrap_or_default();
        j["kid"] = json!(self.kid);
        j["alg"] = json!("ES256");
        j["use"] = json!("sig");
        json!({ "keys": [j] })
    }

    /// One provider request: the body and signature the gateway sends.
    async fn fetch(&self, n: u64) -> StepResult<()> {
        let body = json!({
            "consent_id": format!("dc_loadgen{n:015}"), "hkid": hkid(n), "items": self.items,
            "purpose_code": PURPOSE,
            "requester": { "client_id": "loadgen", "name": "Load test service" },
            "requester_key": self.requester_key,
        });
        let bytes = serde_json::to_vec(&body).map_err(|e| StepError::new("json", e.to_string()))?;
        let claims = iamsmart_proto::app::RequestClaims {
            htm: "POST".into(),
            htp: self.path.clone(),
            iat: rp::now_s(),
            jti: random(18),
            bh: rp::b64(&iamsmart_crypto::hash::sha256(&bytes)),
            aud: Some(self.dept.clone()),
            iss: Some("iamsmart".into()),
        };
        let payload =
            serde_json::to_vec(&claims).map_err(|e| StepError::new("json", e.to_string()))?;
        let sig = self
            .key
            .sign_jws(iamsmart_proto::registry::REQUEST_TYP, &self.kid, &payload)
            .map_err(|e| StepError::new("sign", e.to_string()))?;
        let r = self
            .http
            .post(&self.url)
            .header(iamsmart_proto::registry::SIGNATURE_HEADER, sig)
            .header("content-type", "application/json")
            .body(bytes)
            .send()
            .await
            .map_err(StepError::net)?;
        if r.status().as_u16() != 200 {
            return Err(rp::refused(r).await);
        }
        let v: Value = r.json().await.map_err(StepError::net)?;
        check_fetched(&v, self.items.len())
    }
}

/// Serve `body` as JSON to every request on `listen` (127.0.0.1 only) until the process ends.
async fn serve_json(listen: &str, body: String) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    rp::check_loopback(&format!("http://{listen}"))?;
    let l = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen {listen}"))?;
    let body = Arc::new(body);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 65536 {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => got.extend_from_slice(&buf[..k]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    Ok(())
}

/// The load generator's connector key, the same in every run with this work dir: the providers
/// cache the keys they trust and fetch them again at most every 10 s, so a new key per run would
/// be refused by a provider process that served an earlier run.
fn connector_key(work_dir: &std::path::Path) -> Result<DeviceKey> {
    use iamsmart_crypto::device::{KdfParams, SealedDeviceKey};
    // Not a secret: a test key on loopback, sealed only because that is the format on offer.
    const PIN: &str = "loadgen";
    std::fs::create_dir_all(work_dir)?;
    let file = work_dir.join("connector-key.json");
    if let Ok(bytes) = std::fs::read(&file) {
        let sealed: SealedDeviceKey = serde_json::from_slice(&bytes)?;
        return Ok(DeviceKey::open(&sealed, PIN)?);
    }
    let key = DeviceKey::generate()?;
    let kdf = KdfParams {
        m_kib: 8 * 1024,
        t: 1,
        p: 1,
    };
    let sealed = key.seal(PIN, kdf, &iamsmart_crypto::rng::SystemRng)?;
    std::fs::write(&file, serde_json::to_vec(&sealed)?)?;
    Ok(key)
}

async fn setup_direct(a: &RunArgs) -> Result<Direct> {
    let items = parse_items(&a.items)?;
    let dept = items[0].0.clone();
    if items.iter().any(|(p, _)| *p != dept) {
        bail!("provider mode: items of one provider only");
    }
    let key = connector_key(&a.work_dir)?;
    let kid = format!("loadgen-connector-{}", &key.public_jwk().thumbprint()[..12]);
    let d = Direct {
        http: rp::http_client(a.concurrency * 2)?,
        url: format!("{}/{dept}/v1/fetch", a.url.trim_end_matches('/')),
        path: format!("/{dept}/v1/fetch"),
        dept,
        items: items.into_iter().map(|x| x.1).collect(),
        kid,
        key,
        requester_key: EncryptionKey::generate("loadgen-enc-1")?.public_jwk()?,
    };
    let listen = a
        .jwks_listen
        .as_deref()
        .ok_or_else(|| anyhow!("provider mode needs --jwks-listen"))?;
    serve_json(listen, d.jwks().to_string()).await?;
    d.fetch(u64::MAX / 2)
        .await
        .map_err(|e| anyhow!("first provider request: {} {}", e.kind, e.detail))?;
    Ok(d)
}

/// Set up, warm up, measure, report.
pub async fn run(a: RunArgs) -> Result<Report> {
    let started = drive::start(&a)?;
    let budget = a
        .fetch_budget
        .unwrap_or_else(|| default_budget(a.rate, a.warmup + a.duration, a.concurrency));
    let exhausted = Arc::new(AtomicBool::new(false));
    let records = match a.mode {
        Mode::Exchange => {
            let (g, _enc) = setup_gateway(&a, budget).await?;
            // The setup took its time: the schedule starts now.
            let w = Window::starting_now(a.warmup, a.duration);
            let limit = g.consents.len() as u64 * FETCHES_PER_CONSENT;
            let g = Arc::new(g);
            let n_items = parse_items(&a.items)?.len();
            let op = Arc::new(move |_worker: usize, n: u64| {
                let g = g.clone();
                async move {
                    let c = consent_for(n, g.consents.len())
                        .ok_or_else(|| StepError::new("budget", "consents used up"))?;
                    let v = g.fetch(&g.consents[c]).await?;
                    check_fetched(&v, n_items).map(|()| vec![])
                }
            });
            let shape = Shape {
                target: "iamsmart",
                steps: &[],
                service_step: Some("gateway fetch (service time)"),
                metrics_url: None,
            };
            drive::measure(&a, started, w, shape, |w| {
                drive::drive(a.concurrency, a.rate, w, limit, exhausted.clone(), op)
            })
            .await
        }
        _ => {
            let d = Arc::new(setup_direct(&a).await?);
            let w = Window::starting_now(a.warmup, a.duration);
            let op = Arc::new(move |_worker: usize, n: u64| {
                let d = d.clone();
                async move { d.fetch(n).await.map(|()| vec![]) }
            });
            let shape = Shape {
                target: "provider",
                steps: &[],
                service_step: Some("provider fetch (service time)"),
                metrics_url: None,
            };
            drive::measure(&a, started, w, shape, |w| {
                drive::drive(a.concurrency, a.rate, w, u64::MAX, exhausted.clone(), op)
            })
            .await
        }
    };
    let mut report = records?;
    if exhausted.load(Ordering::Relaxed) {
        *report
            .error_kinds
            .entry("budget: consents used up, the run stopped early".into())
            .or_insert(0) += 1;
        report.errors += 1;
    }
    Ok(report)
}

/// What the gateway adds: each exchange run against the provider run at the same offered rate
/// (closed-loop runs pair with closed-loop runs), as Markdown.
pub fn added_table(reports: &[Report]) {
    if !reports.iter().any(|r| r.mode == "exchange") {
        return;
    }
    println!();
    println!("| exchange run | offered | exchanges/s | gateway p50 / p99 ms | provider alone p50 / p99 ms (same rate) | added p50 / p99 ms | server CPU per exchange | provider CPU per request: via gateway / alone | errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let cpu_of = |r: &Report, label: &str| -> f64 {
        r.procs
            .iter()
            .filter(|p| p.label.starts_with(label))
            .map(|p| p.cpu_ms_per_op)
            .sum()
    };
    for (i, x) in reports.iter().enumerate() {
        if x.mode != "exchange" {
            continue;
        }
        let p = paired_provider(reports, i);
        let cpu = cpu_of(x, "server");
        let prov_cpu = format!(
            "{:.3} / {} ms",
            cpu_of(x, "providers"),
            p.map(|p| format!("{:.3}", cpu_of(p, "providers")))
                .unwrap_or_else(|| "-".into())
        );
        let (prov, added) = match p {
            Some(p) => (
                format!("{:.2} / {:.2}", p.total.p50_ms, p.total.p99_ms),
                format!(
                    "{:.2} / {:.2}",
                    x.total.p50_ms - p.total.p50_ms,
                    x.total.p99_ms - p.total.p99_ms
                ),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {} | {} | {:.0} | {:.2} / {:.2} | {prov} | {added} | {cpu:.2} ms | {prov_cpu} | {} |",
            x.label,
            x.rate
                .map(|r| format!("{r}/s"))
                .unwrap_or_else(|| format!("closed loop, {}", x.concurrency)),
            x.ops_per_sec,
            x.total.p50_ms,
            x.total.p99_ms,
            x.errors
        );
    }
}

/// The provider run for the exchange run `reports[i]`: the latest one before it at the same
/// offered rate (the script runs the provider alone just before each exchange run).
fn paired_provider(reports: &[Report], i: usize) -> Option<&Report> {
    reports[..i]
        .iter()
        .rev()
        .find(|r| r.mode == "provider" && r.rate == reports[i].rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Dist;
    use std::collections::BTreeMap;

    #[test]
    fn each_consent_serves_its_daily_allowance_then_the_next() {
        assert_eq!(consent_for(0, 2), Some(0));
        assert_eq!(consent_for(23, 2), Some(0));
        assert_eq!(consent_for(24, 2), Some(1));
        assert_eq!(consent_for(47, 2), Some(1));
        assert_eq!(consent_for(48, 2), None);
        assert_eq!(consents_needed(48), 2);
        assert_eq!(consents_needed(49), 3);
        assert_eq!(consents_needed(0), 0);
        // 500/s over 25 s with 128 workers: 13,253 fetches, 553 consents.
        assert_eq!(default_budget(Some(500.0), 25, 128), 13_253);
        assert_eq!(consents_needed(default_budget(Some(500.0), 25, 128)), 553);
        assert_eq!(default_budget(None, 10, 0), 10_500);
    }

    #[test]
    fn exchange_runs_pair_with_the_latest_provider_run_at_their_rate() {
        let r = |label: &str, mode: &str, rate: Option<f64>| Report {
            label: label.into(),
            target: String::new(),
            mode: mode.into(),
            concurrency: 1,
            rate,
            window_secs: 1.0,
            ops: 0,
            ops_per_sec: 0.0,
            errors: 0,
            error_kinds: BTreeMap::new(),
            error_samples: BTreeMap::new(),
            total: Dist::of(vec![]),
            steps: vec![],
            procs: vec![],
            loadgen_cpu_util: 0.0,
            load_average: String::new(),
            started_unix: 0,
            key_ops_per_op: BTreeMap::new(),
        };
        let runs = vec![
            r("p1", "provider", Some(100.0)),
            r("x1", "exchange", Some(100.0)),
            r("p2", "provider", None),
            r("x2", "exchange", None),
            r("p3", "provider", Some(100.0)),
            r("x3", "exchange", Some(100.0)),
            r("x4", "exchange", Some(7.0)),
        ];
        let label = |i| paired_provider(&runs, i).map(|p| p.label.as_str());
        assert_eq!(label(1), Some("p1"));
        assert_eq!(label(3), Some("p2"));
        assert_eq!(label(5), Some("p3"));
        assert_eq!(label(6), None);
    }

    #[test]
    fn items_and_id_tokens_parse() {
        assert_eq!(
            parse_items("ird/salaries_tax, hd/public_rental_tenancy").unwrap(),
            vec![
                ("ird".to_string(), "salaries_tax".to_string()),
                ("hd".to_string(), "public_rental_tenancy".to_string())
            ]
        );
        assert!(parse_items("ird").is_err());
        assert!(parse_items("").is_err());
        let tok = format!("h.{}.s", rp::b64(br#"{"sub":"abc","aud":"x"}"#));
        assert_eq!(sub_of(&tok).unwrap(), "abc");
        assert!(sub_of("nodots").is_err());
        assert_ne!(hkid(1), hkid(2));
    }
}
