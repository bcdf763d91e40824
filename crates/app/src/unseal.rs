//! The platform's part in unsealing the app's keys (issue 16, finding 3). The device key and
//! the signing key are sealed (Argon2id, AES-256-GCM) under a secret derived from the PIN and
//! the RFC 9497 OPRF output the platform computes for this device from the blinded PIN, so that
//! an app home copied off the phone cannot be tried PIN by PIN without the platform, which counts
//! every try and locks the device at the sixth in a row that the app does not follow with a call
//! signed by the unsealed key. The platform never sees the PIN.
use super::{b64, client, read_device_file, refused, App, AppError, Result};
use iamsmart_crypto::device::{DeviceKey, KdfParams};
use iamsmart_crypto::oprf::{self, Blinded};
use iamsmart_crypto::rng::SystemRng;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use zeroize::Zeroizing;

/// The sealing secret from the OPRF output (the PIN is inside it: the output is a hash of the
/// PIN and the platform's evaluation of it).
fn secret_of(output: &[u8]) -> Zeroizing<String> {
    let mut input = b"iamsmart-app-unseal/1\0".to_vec();
    input.extend_from_slice(output);
    let s = Zeroizing::new(b64(&iamsmart_crypto::hash::sha256(&input)));
    input.iter_mut().for_each(|b| *b = 0);
    s
}

/// The blinded PIN to have evaluated (by the platform over HTTP, or by a sandbox tool that holds
/// the platform in process).
pub fn blind_pin(pin: &str) -> Result<Blinded> {
    oprf::blind(pin.as_bytes(), &SystemRng).map_err(|e| AppError::Input(e.to_string()))
}

/// Decode the platform's answer: `evaluated` (base64url), and `tries_left` if it says.
async fn evaluated_of(res: reqwest::Response) -> Result<(Vec<u8>, Option<i64>)> {
    if !res.status().is_success() {
        return Err(refused(res).await);
    }
    let v: serde_json::Value = res
        .json()
        .await
        .map_err(|e| AppError::Network(format!("unexpected answer: {e}")))?;
    let evaluated = v["evaluated"]
        .as_str()
        .and_then(|e| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(e)
                .ok()
        })
        .ok_or_else(|| AppError::Network("the platform's answer has no evaluation".into()))?;
    Ok((evaluated, v["tries_left"].as_i64()))
}

/// Ask the platform to evaluate the blinded PIN for `device_id`, showing the home's token; the
/// sealing secret and the tries left.
async fn evaluate_remote(
    http: &reqwest::Client,
    base: &str,
    device_id: &str,
    token: &str,
    pin: &str,
) -> Result<(Zeroizing<String>, Option<i64>)> {
    let blinded = blind_pin(pin)?;
    let res = http
        .post(format!("{base}/app/v1/devices/{device_id}/unseal"))
        .json(&serde_json::json!({ "blinded": b64(&blinded.message), "token": token }))
        .send()
        .await
        .map_err(|e| AppError::Network(e.to_string()))?;
    let (evaluated, tries_left) = evaluated_of(res).await?;
    let out = oprf::finalize(&blinded, pin.as_bytes(), &evaluated)
        .map_err(|e| AppError::Network(e.to_string()))?;
    Ok((secret_of(&out), tries_left))
}

/// What protecting a home sends: the blinded PIN and the hash of a new unseal token.
pub struct Protection {
    /// The blinded PIN.
    pub blinded: Blinded,
    /// The new token (kept in the home).
    token: String,
    /// Its SHA-256 (for the platform).
    pub token_hash: [u8; 32],
}

impl App {
    /// Unlock the device in `home` with `pin`. A home protected with the platform asks it for
    /// its part (the try is counted there); one from before is opened with the PIN alone and
    /// protected with the platform now, if it can be reached.
    pub async fn unlock(home: &Path, pin: &str) -> Result<App> {
        let file = read_device_file(home)?;
        if !file.platform_unseal {
            let mut app = App::open(home, pin)?;
            if app.file.device_id.is_some() {
                match app.protect(pin).await {
                    Ok(()) | Err(AppError::Network(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(app);
        }
        let device_id = file
            .device_id
            .clone()
            .ok_or_else(|| AppError::Home("the device file names no device".into()))?;
        let token = file
            .unseal_token
            .clone()
            .ok_or_else(|| AppError::Home("the device file has no unseal token".into()))?;
        let http = client()?;
        let (secret, tries_left) =
            evaluate_remote(&http, &file.platform_url, &device_id, &token, pin).await?;
        let key = DeviceKey::open(&file.key, &secret).map_err(|_| match tries_left {
            Some(left) => AppError::WrongPinLeft { left },
            None => AppError::WrongPin,
        })?;
        let app = App {
            home: home.to_path_buf(),
            file,
            key,
            http,
            log_checked: AtomicBool::new(false),
            secret,
        };
        app.confirm_unsealed().await?;
        Ok(app)
    }

    /// Protect this app's keys with the platform's part (the device must be bound): from now on
    /// no PIN can be tried without the platform, and only this home can ask it.
    pub async fn protect(&mut self, pin: &str) -> Result<()> {
        let p = self.begin_protect(pin)?;
        let body = serde_json::json!({
            "blinded": b64(&p.blinded.message),
            "token_hash": b64(&p.token_hash),
        });
        let res = self
            .call(
                reqwest::Method::POST,
                "/app/v1/devices/unseal-setup",
                Some(&body),
            )
            .await?;
        let (evaluated, _) = evaluated_of(res).await?;
        self.finish_protect(pin, &p, &evaluated)
    }

    /// The first half of protecting the home (for a tool that asks the platform in process):
    /// a blinded PIN and a new unseal token.
    pub fn begin_protect(&self, pin: &str) -> Result<Protection> {
        let mut raw = [0u8; 32];
        iamsmart_crypto::rng::Rng::fill(&SystemRng, &mut raw);
        let token = b64(&raw);
        Ok(Protection {
            blinded: blind_pin(pin)?,
            token_hash: iamsmart_crypto::hash::sha256(&raw),
            token,
        })
    }

    /// The second half: with the platform's evaluation, seal the keys under the new secret and
    /// keep the token in the home.
    pub fn finish_protect(&mut self, pin: &str, p: &Protection, evaluated: &[u8]) -> Result<()> {
        let out = oprf::finalize(&p.blinded, pin.as_bytes(), evaluated)
            .map_err(|e| AppError::Input(e.to_string()))?;
        self.file.unseal_token = Some(p.token.clone());
        self.reseal(secret_of(&out))
    }

    /// Seal the device key and the signing key under `secret` and say so in the device file.
    fn reseal(&mut self, secret: Zeroizing<String>) -> Result<()> {
        let kdf = KdfParams {
            m_kib: self.file.key.m,
            t: self.file.key.t,
            p: self.file.key.p,
        };
        let sealed = self
            .key
            .seal(&secret, kdf, &SystemRng)
            .map_err(|e| AppError::Home(e.to_string()))?;
        if let Some(signing) = &mut self.file.signing {
            let key =
                DeviceKey::open(&signing.key, &self.secret).map_err(|_| AppError::WrongPin)?;
            signing.key = key
                .seal(&secret, kdf, &SystemRng)
                .map_err(|e| AppError::Home(e.to_string()))?;
        }
        self.file.key = sealed;
        self.file.platform_unseal = true;
        self.secret = secret;
        self.save()
    }

    /// Tell the platform, signing with the unsealed key, that the PIN was right (its count of
    /// tries starts again).
    async fn confirm_unsealed(&self) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            "/app/v1/devices/unsealed",
            Some(&serde_json::json!({})),
        )
        .await
        .map(|_| ())
    }
}
