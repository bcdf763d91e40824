//! The two providers a run can drive: iamsmart (set up with its own CLI, the resident's side
//! through the `iamsmart-app` library) and the peer in `bench/peer` (set up over HTTP with a
//! setup token; the resident's side signs the same way with a P-256 device key).
use crate::rp::{self, random, Endpoints, Key, LoginPage, Rp, StepError, StepResult};
use anyhow::{anyhow, bail, Context, Result};
use iamsmart_app::App;
use iamsmart_crypto::device::DeviceKey;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const REDIRECT_URI: &str = "https://service.example/callback";
const PIN: &str = "480317";

/// How to set a target up.
pub struct SetupArgs {
    pub base: String,
    /// Other processes of the same provider (same public URL) to spread the load over.
    pub also: Vec<String>,
    pub residents: usize,
    pub work_dir: PathBuf,
    pub iamsmart_bin: Option<PathBuf>,
    pub setup_token: Option<String>,
    pub scope: String,
    pub pool: usize,
    /// More `iamsmart clients create` arguments (e.g. `--requester-type bank`).
    pub client_args: Vec<String>,
    /// More public keys for the client's JWKS (e.g. an encryption key).
    pub extra_jwks: Vec<Value>,
}

/// A resident's phone.
pub enum Phone {
    /// The reference app, unlocked once.
    Iamsmart(Box<App>),
    /// A device key enrolled at the peer.
    Peer {
        key: DeviceKey,
        device_id: String,
        base: String,
    },
}

/// A target, set up: the online service and the residents' phones.
pub struct Target {
    /// The online service, one per provider process (worker i uses `rps[i % len]`).
    pub rps: Vec<Rp>,
    pub phones: Vec<Phone>,
    /// A client for the peer's device endpoints (the iamsmart app brings its own).
    pub device_http: reqwest::Client,
}

fn run_cli(bin: &Path, args: &[&str]) -> Result<Value> {
    let out = std::process::Command::new(bin)
        .args(args)
        .output()
        .with_context(|| format!("run {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "{} {}: {}",
            bin.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{} printed no JSON: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Register the service and create residents with the `iamsmart` CLI (it reads the same
/// `IAMSMART_*` environment as the server under test).
pub async fn setup_iamsmart(a: &SetupArgs) -> Result<Target> {
    let bin = a
        .iamsmart_bin
        .as_deref()
        .ok_or_else(|| anyhow!("--iamsmart-bin is needed for the iamsmart target"))?;
    std::fs::create_dir_all(&a.work_dir)?;
    let http = rp::http_client(a.pool)?;
    let ep = Endpoints::discover(&http, &a.base).await?;
    let key = Key::new("loadgen-1")?;
    let jwks_file = a.work_dir.join(format!("jwks-{}.json", random(6)));
    let mut jwks = key.jwks();
    if let Some(keys) = jwks["keys"].as_array_mut() {
        keys.extend(a.extra_jwks.iter().cloned());
    }
    std::fs::write(&jwks_file, jwks.to_string())?;
    let jwks_path = jwks_file.display().to_string();
    let mut args = vec![
        "clients",
        "create",
        "--name",
        "Load test service",
        "--redirect-uri",
        REDIRECT_URI,
        "--profile",
        "fapi2",
        "--jwks-file",
        &jwks_path,
    ];
    args.extend(a.client_args.iter().map(String::as_str));
    let created = run_cli(bin, &args)?;
    let client_id = created["client_id"]
        .as_str()
        .ok_or_else(|| anyhow!("clients create printed no client_id"))?
        .to_string();
    let mut phones = Vec::new();
    for i in 0..a.residents {
        let home = a.work_dir.join(format!("app-{i}"));
        if !App::exists(&home) {
            run_cli(
                bin,
                &[
                    "sandbox",
                    "create-resident",
                    "--app-home",
                    &home.display().to_string(),
                    "--level",
                    "plus",
                    "--pin",
                    PIN,
                ],
            )
            .with_context(|| format!("resident {i} (the sandbox registry has 24)"))?;
        }
        // The app home names the URL the CLI was configured with: point it at the server.
        let file = home.join("device.json");
        let mut dev: Value = serde_json::from_slice(&std::fs::read(&file)?)?;
        let servers: Vec<&String> = std::iter::once(&a.base).chain(&a.also).collect();
        dev["platform_url"] = json!(servers[i % servers.len()]);
        std::fs::write(&file, serde_json::to_vec_pretty(&dev)?)?;
        phones.push(Phone::Iamsmart(Box::new(App::unlock(&home, PIN).await?)));
    }
    let rp = Rp {
        ep,
        client_id,
        key: Arc::new(key),
        dpop: Arc::new(Key::new("dpop")?),
        via: None,
        redirect_uri: REDIRECT_URI.into(),
        scope: a.scope.clone(),
        http: http.clone(),
    };
    let rps = std::iter::once(&a.base)
        .chain(&a.also)
        .map(|o| rp.via(o))
        .collect();
    Ok(Target {
        rps,
        phones,
        device_http: http,
    })
}

/// Register the service (dynamic registration) and enrol device keys at the peer.
pub async fn setup_peer(a: &SetupArgs) -> Result<Target> {
    let token = a
        .setup_token
        .as_deref()
        .ok_or_else(|| anyhow!("--setup-token is needed for the peer"))?;
    let http = rp::http_client(a.pool)?;
    let ep = Endpoints::discover(&http, &a.base).await?;
    let key = Key::new("loadgen-1")?;
    let reg = ep
        .registration
        .clone()
        .ok_or_else(|| anyhow!("the peer offers no registration endpoint"))?;
    let r = http
        .post(&reg)
        .bearer_auth(token)
        .json(&json!({
            "client_name": "Load test service",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "id_token_signed_response_alg": "ES256",
            "dpop_bound_access_tokens": true,
            "require_pushed_authorization_requests": true,
            "jwks": key.jwks(),
        }))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("peer registration: {} {}", r.status(), r.text().await?);
    }
    let v: Value = r.json().await?;
    let client_id = v["client_id"]
        .as_str()
        .ok_or_else(|| anyhow!("registration answered no client_id"))?
        .to_string();
    let mut phones = Vec::new();
    for i in 0..a.residents {
        let key = DeviceKey::generate()?;
        let r = http
            .post(format!("{}/bench/enrol", a.base))
            .bearer_auth(token)
            .json(&json!({ "public_jwk": key.public_jwk(), "name": format!("Resident {i}") }))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("peer enrol: {} {}", r.status(), r.text().await?);
        }
        let v: Value = r.json().await?;
        phones.push(Phone::Peer {
            key,
            device_id: v["device_id"].as_str().unwrap_or_default().to_string(),
            base: a.base.clone(),
        });
    }
    let rp = Rp {
        ep,
        client_id,
        key: Arc::new(key),
        dpop: Arc::new(Key::new("dpop")?),
        via: None,
        redirect_uri: REDIRECT_URI.into(),
        scope: a.scope.clone(),
        http: http.clone(),
    };
    let rps = std::iter::once(&a.base)
        .chain(&a.also)
        .map(|o| rp.via(o))
        .collect();
    Ok(Target {
        rps,
        phones,
        device_http: http,
    })
}

pub(crate) fn app_err(e: iamsmart_app::AppError) -> StepError {
    let kind = match &e {
        iamsmart_app::AppError::Refused { status, kind, .. } => format!("http {status} {kind}"),
        iamsmart_app::AppError::Network(_) => "network".into(),
        _ => "app".into(),
    };
    StepError::new(kind, e.to_string())
}

/// A device request signature for the peer: the same claims the iamsmart app signs
/// (method, path, time, single-use id, body hash).
fn peer_signature(key: &DeviceKey, kid: &str, method: &str, path: &str, body: &[u8]) -> String {
    let claims = json!({
        "htm": method, "htp": path, "iat": rp::now_s(), "jti": random(18),
        "bh": rp::b64(&iamsmart_crypto::hash::sha256(body)),
    });
    key.sign_jws("iamsmart-device+jwt", kid, claims.to_string().as_bytes())
        .unwrap_or_default()
}

async fn peer_call(
    http: &reqwest::Client,
    key: &DeviceKey,
    kid: &str,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> StepResult<Value> {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let sig = peer_signature(key, kid, method.as_str(), path, &bytes);
    let mut req = http
        .request(method, format!("{base}{path}"))
        .header("device-signature", sig);
    if !bytes.is_empty() {
        req = req.header("content-type", "application/json").body(bytes);
    }
    let r = req.send().await.map_err(StepError::net)?;
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or_default();
    if status != 200 {
        return Err(StepError::new(format!("http {status}"), v.to_string()));
    }
    Ok(v)
}

impl Phone {
    /// Scan the QR code: open the request, check the match code. Returns what `approve` needs.
    pub async fn open(&self, http: &reqwest::Client, page: &LoginPage) -> StepResult<Value> {
        match self {
            Phone::Iamsmart(app) => {
                let view = app.open_request(&page.qr).await.map_err(app_err)?;
                if view.match_code != page.match_code {
                    return Err(StepError::new("match code differs", ""));
                }
                serde_json::to_value(&view).map_err(|e| StepError::new("app", e.to_string()))
            }
            Phone::Peer {
                key,
                device_id,
                base,
            } => {
                let id = page
                    .qr
                    .split_once("id=")
                    .map(|x| x.1)
                    .ok_or_else(|| StepError::new("qr without id", page.qr.clone()))?;
                let v = peer_call(
                    http,
                    key,
                    device_id,
                    base,
                    reqwest::Method::GET,
                    &format!("/app/requests/{id}"),
                    None,
                )
                .await?;
                if v["match_code"].as_str() != Some(page.match_code.as_str()) {
                    return Err(StepError::new("match code differs", ""));
                }
                Ok(v)
            }
        }
    }

    /// Approve an opened request: the decision signed by the device key.
    pub async fn approve(&self, http: &reqwest::Client, opened: Value) -> StepResult<()> {
        match self {
            Phone::Iamsmart(app) => {
                let view: iamsmart_proto::app::ApprovalView = serde_json::from_value(opened)
                    .map_err(|e| StepError::new("app", e.to_string()))?;
                let agreed = json!({ "fields": view.details["fields"].clone() });
                let done = app
                    .decide(&view, "approve", agreed, None)
                    .await
                    .map_err(app_err)?;
                if done.status != iamsmart_proto::app::ApprovalStatus::Approved {
                    return Err(StepError::new(format!("status {}", done.status), ""));
                }
                Ok(())
            }
            Phone::Peer {
                key,
                device_id,
                base,
            } => {
                let id = opened["id"].as_str().unwrap_or_default();
                let claims = json!({
                    "rid": id, "challenge": opened["challenge"], "match_code": opened["match_code"],
                    "decision": "approve", "agreed": { "fields": opened["fields"] }, "iat": rp::now_s(),
                });
                let signed = key
                    .sign_jws(
                        "iamsmart-approval+jwt",
                        device_id,
                        claims.to_string().as_bytes(),
                    )
                    .map_err(|e| StepError::new("sign", e.to_string()))?;
                let v = peer_call(
                    http,
                    key,
                    device_id,
                    base,
                    reqwest::Method::POST,
                    &format!("/app/requests/{id}/decision"),
                    Some(json!({ "signed": signed })),
                )
                .await?;
                if v["status"] != "approved" {
                    return Err(StepError::new("not approved", v.to_string()));
                }
                Ok(())
            }
        }
    }
}
