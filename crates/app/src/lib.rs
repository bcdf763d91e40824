//! The resident's app: the reference implementation of the phone app's side of the protocol,
//! for tests, the sandbox and real app builders.
//!
//! An app home is a directory holding `device.json`: the platform's URL, the device and resident
//! ids once bound, and the device's P-256 key sealed under the user's PIN (Argon2id). Every call
//! to the platform is signed with that key (see `iamsmart_proto::app`).
use base64::Engine;
use iamsmart_crypto::device::{check_pin, DeviceKey, KdfParams, SealedDeviceKey, DEFAULT_KDF};
use iamsmart_proto::app::*;
use iamsmart_proto::profile::{Profile, ResidentView};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use zeroize::Zeroizing;

mod unseal;
pub mod witness;

pub use unseal::blind_pin;

/// What can go wrong in the app.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The home directory or its file.
    #[error("{0}")]
    Home(String),
    /// A wrong PIN (or a damaged key file).
    #[error("wrong PIN (or the device key file is damaged)")]
    WrongPin,
    /// A wrong PIN, counted by the platform.
    #[error("wrong PIN: {left} tries left before this phone is locked")]
    WrongPinLeft {
        /// Tries left.
        left: i64,
    },
    /// Input the user gave.
    #[error("{0}")]
    Input(String),
    /// The platform could not be reached.
    #[error("cannot reach the platform: {0}")]
    Network(String),
    /// The platform's transparency log was cut off, rewritten or forked since this app last
    /// saw it: nothing more is done (the log is what proves the resident's approvals).
    #[error("the platform's transparency log is not the one this app saw before ({0}); nothing was sent: report it to the platform's operator")]
    LogAlarm(String),
    /// The platform refused, with its explanation.
    #[error("{title} ({status}){}{}", .detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default(), .correlation_id.as_deref().map(|c| format!(" [reference {c}]")).unwrap_or_default())]
    Refused {
        /// HTTP status.
        status: u16,
        /// Problem type slug.
        kind: String,
        /// Summary.
        title: String,
        /// Detail.
        detail: Option<String>,
        /// Correlation id to quote to support.
        correlation_id: Option<String>,
    },
}

/// Shorthand.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// The contents of `device.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceFile {
    /// Format version (1).
    pub version: u32,
    /// The platform's base URL.
    pub platform_url: String,
    /// The name this device is shown with.
    pub device_name: String,
    /// Set once bound.
    pub device_id: Option<String>,
    /// Set once bound.
    pub resident_id: Option<String>,
    /// The device key, sealed under the PIN.
    pub key: SealedDeviceKey,
    /// The signing key and certificate (iAM Smart+), once issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningFile>,
    /// Whether the keys are sealed under a secret the platform takes part in (see
    /// [`App::unlock`]): then no PIN can be tried without it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub platform_unseal: bool,
    /// With `platform_unseal`: the random token (base64url) that shows the platform this is the
    /// home protected for the device (the platform keeps its hash), so that nobody without the
    /// home can spend the device's tries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseal_token: Option<String>,
}

/// The app's signing key (separate from the device key, sealed under the same PIN) and its
/// certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningFile {
    /// The signing key, sealed under the PIN.
    pub key: SealedDeviceKey,
    /// The certificate's serial (hex).
    pub serial: String,
    /// The certificate (DER, base64url).
    pub certificate: String,
    /// The issuing CA and the root (DER, base64url).
    pub chain: Vec<String>,
}

/// An unlocked app.
pub struct App {
    home: PathBuf,
    file: DeviceFile,
    key: DeviceKey,
    http: reqwest::Client,
    log_checked: AtomicBool,
    /// What the keys are sealed under: the PIN, or the secret derived with the platform.
    secret: Zeroizing<String>,
}

/// Where the app keeps what it saw of the transparency log.
pub fn witness_path(home: &Path) -> PathBuf {
    home.join("log-witness.json")
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "App({})", self.home.display())
    }
}

fn device_path(home: &Path) -> PathBuf {
    home.join("device.json")
}

fn read_device_file(home: &Path) -> Result<DeviceFile> {
    let path = device_path(home);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        AppError::Home(format!(
            "no device in {} ({e}); register or activate first",
            home.display()
        ))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| AppError::Home(format!("{} is damaged: {e}", path.display())))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    iamsmart_crypto::file::write_private(path, bytes)
        .map_err(|e| AppError::Home(format!("cannot write {}: {e}", path.display())))
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn random_id() -> String {
    let mut b = [0u8; 18];
    iamsmart_crypto::rng::Rng::fill(&iamsmart_crypto::rng::SystemRng, &mut b);
    b64(&b)
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl App {
    /// Whether `home` already holds a device.
    pub fn exists(home: &Path) -> bool {
        device_path(home).exists()
    }

    /// Create a new device key in `home` for the platform at `platform_url`, sealed under `pin`.
    pub fn create(
        home: &Path,
        platform_url: &str,
        device_name: &str,
        pin: &str,
        kdf: KdfParams,
    ) -> Result<App> {
        check_pin(pin).map_err(|m| AppError::Input(m.into()))?;
        if Self::exists(home) {
            return Err(AppError::Home(format!(
                "{} already holds a device; use another --home",
                home.display()
            )));
        }
        std::fs::create_dir_all(home)
            .map_err(|e| AppError::Home(format!("cannot create {}: {e}", home.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700));
        }
        let key = DeviceKey::generate().map_err(|e| AppError::Home(e.to_string()))?;
        let sealed = key
            .seal(pin, kdf, &iamsmart_crypto::rng::SystemRng)
            .map_err(|e| AppError::Home(e.to_string()))?;
        let file = DeviceFile {
            version: 1,
            platform_url: platform_url.trim_end_matches('/').to_string(),
            device_name: device_name.to_string(),
            device_id: None,
            resident_id: None,
            key: sealed,
            signing: None,
            platform_unseal: false,
            unseal_token: None,
        };
        let app = App {
            home: home.to_path_buf(),
            file,
            key,
            http: client()?,
            log_checked: AtomicBool::new(false),
            secret: Zeroizing::new(pin.to_string()),
        };
        app.save()?;
        Ok(app)
    }

    /// Open the device in `home` with `pin` alone: only a home whose keys are not protected with
    /// the platform (see [`App::unlock`], which opens either).
    pub fn open(home: &Path, pin: &str) -> Result<App> {
        let file = read_device_file(home)?;
        if file.platform_unseal {
            return Err(AppError::Home(
                "this app's keys are unsealed with the platform's help: unlock it online".into(),
            ));
        }
        let key = DeviceKey::open(&file.key, pin).map_err(|_| AppError::WrongPin)?;
        Ok(App {
            home: home.to_path_buf(),
            file,
            key,
            http: client()?,
            log_checked: AtomicBool::new(false),
            secret: Zeroizing::new(pin.to_string()),
        })
    }

    fn save(&self) -> Result<()> {
        let bytes =
            serde_json::to_vec_pretty(&self.file).map_err(|e| AppError::Home(e.to_string()))?;
        write_private(&device_path(&self.home), &bytes)
    }

    /// The device file.
    pub fn file(&self) -> &DeviceFile {
        &self.file
    }

    /// The device to bind: its public key and name.
    pub fn new_device(&self) -> NewDevice {
        NewDevice {
            public_jwk: serde_json::to_value(self.key.public_jwk()).unwrap_or_default(),
            name: self.file.device_name.clone(),
            user_verification: None,
        }
    }

    fn kid(&self) -> String {
        self.file
            .device_id
            .clone()
            .unwrap_or_else(|| self.key.public_jwk().kid.unwrap_or_default())
    }

    /// The `iamsmart-device-signature` header value for a request (method, path and query,
    /// body), signed by this device.
    pub fn sign_request(&self, method: &str, path: &str, body: &[u8]) -> Result<String> {
        let claims = RequestClaims {
            htm: method.to_string(),
            htp: path.to_string(),
            iat: now_s(),
            jti: random_id(),
            bh: b64(&iamsmart_crypto::hash::sha256(body)),
            aud: None,
            iss: None,
        };
        self.key
            .sign_jws(
                DEVICE_REQUEST_TYP,
                &self.kid(),
                &serde_json::to_vec(&claims).map_err(|e| AppError::Input(e.to_string()))?,
            )
            .map_err(|e| AppError::Input(e.to_string()))
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response> {
        self.witness_log_once().await?;
        let bytes = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| AppError::Input(e.to_string()))?
            .unwrap_or_default();
        let sig = self.sign_request(method.as_str(), path, &bytes)?;
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.file.platform_url))
            .header(DEVICE_SIGNATURE_HEADER, sig);
        if body.is_some() {
            req = req.header("content-type", "application/json").body(bytes);
        }
        let res = req
            .send()
            .await
            .map_err(|e| AppError::Network(e.to_string()))?;
        if res.status().is_success() {
            return Ok(res);
        }
        Err(refused(res).await)
    }

    /// Witness the platform's transparency log once per contact (this unlocked app): the newest
    /// head must extend the newest one seen before. A log that cannot be reached is no reason to
    /// stop (the call itself will say); one that was cut off or rewritten is.
    async fn witness_log_once(&self) -> Result<()> {
        if self.log_checked.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.witness_log().await.map(|_| ())
    }

    /// Witness the platform's transparency log now (see [`witness`]).
    pub async fn witness_log(&self) -> Result<Option<witness::Observed>> {
        let path = witness_path(&self.home);
        let mut state = witness::load(&path).map_err(|e| AppError::Home(e.to_string()))?;
        match witness::observe(&self.http, &self.file.platform_url, &mut state, &[]).await {
            Ok(seen) => {
                witness::save(&path, &state).map_err(|e| AppError::Home(e.to_string()))?;
                Ok(Some(seen))
            }
            Err(witness::WitnessError::Alarm(a)) => Err(AppError::LogAlarm(a.to_string())),
            Err(witness::WitnessError::Unavailable(_)) => Ok(None),
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T> {
        self.call(method, path, body)
            .await?
            .json()
            .await
            .map_err(|e| AppError::Network(format!("unexpected answer: {e}")))
    }

    /// Record that this device was bound (by the platform's answer, or by a sandbox tool that
    /// enrolled the key directly).
    pub fn record_binding(&mut self, e: &Enrolled) -> Result<()> {
        self.file.device_id = Some(e.device_id.clone());
        self.file.resident_id = Some(e.resident_id.clone());
        self.save()
    }

    /// Register with card data, a card image and a selfie (self-registration).
    pub async fn register(
        &mut self,
        card: CardData,
        card_image: &[u8],
        selfie: &[u8],
    ) -> Result<Enrolled> {
        let std_b64 = base64::engine::general_purpose::STANDARD;
        let c: Challenge = self
            .http
            .post(format!(
                "{}/app/v1/registrations/challenge",
                self.file.platform_url
            ))
            .send()
            .await
            .map_err(|e| AppError::Network(e.to_string()))?
            .json()
            .await
            .map_err(|e| AppError::Network(e.to_string()))?;
        let reg = SelfRegistration {
            challenge: c.challenge,
            card,
            card_image: std_b64.encode(card_image),
            selfie: std_b64.encode(selfie),
            device: self.new_device(),
        };
        let body = serde_json::to_value(&reg).map_err(|e| AppError::Input(e.to_string()))?;
        drop(reg);
        let e: Enrolled = self
            .json(reqwest::Method::POST, "/app/v1/registrations", Some(&body))
            .await?;
        self.record_binding(&e)?;
        Ok(e)
    }

    /// Bind this device with an activation code from a counter or kiosk (typed or scanned).
    pub async fn activate(&mut self, code: &str) -> Result<Enrolled> {
        let body = serde_json::to_value(Activation {
            code: code.to_string(),
            device: self.new_device(),
        })
        .map_err(|e| AppError::Input(e.to_string()))?;
        let e: Enrolled = self
            .json(reqwest::Method::POST, "/app/v1/activations", Some(&body))
            .await?;
        self.record_binding(&e)?;
        Ok(e)
    }

    /// Requests waiting for this resident.
    pub async fn pending(&self) -> Result<Vec<ApprovalView>> {
        self.json(reqwest::Method::GET, "/app/v1/requests", None)
            .await
    }

    /// Open a request by id or by the payload of its QR code.
    pub async fn open_request(&self, request: &str) -> Result<ApprovalView> {
        let id = match parse_qr(request) {
            Some(("approve", id)) => id,
            Some(_) => return Err(AppError::Input("this QR code is not a request".into())),
            None => request,
        };
        let id = iamsmart_proto::ids::ApprovalId::parse(id)
            .map_err(|_| AppError::Input("not a request id or QR code".into()))?;
        self.json(
            reqwest::Method::GET,
            &format!("/app/v1/requests/{id}"),
            None,
        )
        .await
    }

    /// Sign and send a decision (`approve` or `deny`) on an opened request.
    pub async fn decide(
        &self,
        request: &ApprovalView,
        decision: &str,
        agreed: serde_json::Value,
        selfie: Option<&[u8]>,
    ) -> Result<ApprovalView> {
        let claims = ApprovalClaims {
            rid: request.id.clone(),
            challenge: request.challenge.clone(),
            match_code: request.match_code.clone(),
            decision: decision.to_string(),
            agreed,
            iat: now_s(),
        };
        let signed = self
            .key
            .sign_jws(
                APPROVAL_TYP,
                &self.kid(),
                &serde_json::to_vec(&claims).map_err(|e| AppError::Input(e.to_string()))?,
            )
            .map_err(|e| AppError::Input(e.to_string()))?;
        let body = serde_json::to_value(Decision {
            signed,
            selfie: selfie.map(|s| base64::engine::general_purpose::STANDARD.encode(s)),
            user_verification: None,
        })
        .unwrap_or_default();
        self.json(
            reqwest::Method::POST,
            &format!("/app/v1/requests/{}/decision", request.id),
            Some(&body),
        )
        .await
    }

    /// This resident's devices.
    pub async fn devices(&self) -> Result<Vec<DeviceView>> {
        self.json(reqwest::Method::GET, "/app/v1/devices", None)
            .await
    }

    /// Revoke a device (also this one).
    pub async fn revoke(&self, device_id: &str) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/app/v1/devices/{device_id}/revoke"),
            Some(&serde_json::json!({})),
        )
        .await?;
        Ok(())
    }

    /// Consents remembered per service.
    pub async fn consents(&self) -> Result<serde_json::Value> {
        self.json(reqwest::Method::GET, "/app/v1/consents", None)
            .await
    }

    /// Withdraw every consent given to a service.
    pub async fn revoke_consent(&self, client_id: &str) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/app/v1/consents/{client_id}/revoke"),
            Some(&serde_json::json!({})),
        )
        .await?;
        Ok(())
    }

    /// Every dealing with every service, with the consents behind them.
    pub async fn dealings(&self) -> Result<serde_json::Value> {
        self.json(reqwest::Method::GET, "/app/v1/dealings", None)
            .await
    }

    /// Data consents at the exchange gateway.
    pub async fn data_consents(&self) -> Result<serde_json::Value> {
        self.json(reqwest::Method::GET, "/app/v1/data-consents", None)
            .await
    }

    /// Pause, resume or revoke a data consent.
    pub async fn data_consent_action(
        &self,
        consent_id: &str,
        action: &str,
    ) -> Result<serde_json::Value> {
        self.json(
            reqwest::Method::POST,
            &format!("/app/v1/data-consents/{consent_id}/{action}"),
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// A data consent's receipt.
    pub async fn receipt(&self, consent_id: &str) -> Result<serde_json::Value> {
        self.json(
            reqwest::Method::GET,
            &format!("/app/v1/data-consents/{consent_id}/receipt"),
            None,
        )
        .await
    }

    /// Notifications, newest first (only unread ones if asked), with the unread count.
    pub async fn notifications(&self, unread_only: bool) -> Result<serde_json::Value> {
        let path = if unread_only {
            "/app/v1/notifications?unread=1"
        } else {
            "/app/v1/notifications"
        };
        self.json(reqwest::Method::GET, path, None).await
    }

    /// Mark a notification read; returns it.
    pub async fn mark_notification_read(&self, id: &str) -> Result<serde_json::Value> {
        self.json(
            reqwest::Method::POST,
            &format!("/app/v1/notifications/{id}/read"),
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// Mark every notification read.
    pub async fn mark_all_notifications_read(&self) -> Result<serde_json::Value> {
        self.json(
            reqwest::Method::POST,
            "/app/v1/notifications/read-all",
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// The services you use and whether each may notify you.
    pub async fn notification_settings(&self) -> Result<serde_json::Value> {
        self.json(reqwest::Method::GET, "/app/v1/notification-settings", None)
            .await
    }

    /// Let a service notify you, or stop it.
    pub async fn set_notifications(&self, client_id: &str, on: bool) -> Result<serde_json::Value> {
        let choice = if on { "on" } else { "off" };
        self.json(
            reqwest::Method::POST,
            &format!("/app/v1/notification-settings/{client_id}/{choice}"),
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// The resident's record.
    pub async fn me(&self) -> Result<ResidentView> {
        self.json(reqwest::Method::GET, "/app/v1/me", None).await
    }

    /// Replace the fields the resident maintains.
    pub async fn update_profile(&self, profile: &Profile) -> Result<ResidentView> {
        let body = serde_json::to_value(profile).map_err(|e| AppError::Input(e.to_string()))?;
        self.json(reqwest::Method::PUT, "/app/v1/me/profile", Some(&body))
            .await
    }

    /// Everything the platform holds about the resident.
    pub async fn export(&self) -> Result<serde_json::Value> {
        self.json(reqwest::Method::GET, "/app/v1/me/export", None)
            .await
    }

    /// Close the account.
    pub async fn close(&self) -> Result<serde_json::Value> {
        self.json(
            reqwest::Method::POST,
            "/app/v1/me/close",
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// Get a signing certificate (iAM Smart+): a new P-256 signing key, separate from the device
    /// key, sealed as the device key is; the platform certifies it from a CSR whose signature
    /// proves the app holds it. A new certificate replaces (and revokes) the previous one.
    pub async fn enrol_signing(&mut self) -> Result<IssuedCertificate> {
        let key = DeviceKey::generate().map_err(|e| AppError::Home(e.to_string()))?;
        let name = self.file.device_name.clone();
        let csr = iamsmart_crypto::pki::csr::build_csr(&name, &key)
            .map_err(|e| AppError::Input(e.to_string()))?;
        let body = serde_json::to_value(CertificateRequest { csr: b64(&csr) }).unwrap_or_default();
        let issued: IssuedCertificate = self
            .json(
                reqwest::Method::POST,
                "/app/v1/signing/certificate",
                Some(&body),
            )
            .await?;
        // Sealed with the device key's own parameters, which this device chose at its creation.
        let kdf = KdfParams {
            m_kib: self.file.key.m,
            t: self.file.key.t,
            p: self.file.key.p,
        };
        let sealed = key
            .seal(&self.secret, kdf, &iamsmart_crypto::rng::SystemRng)
            .map_err(|e| AppError::Home(e.to_string()))?;
        self.file.signing = Some(SigningFile {
            key: sealed,
            serial: issued.serial.clone(),
            certificate: issued.certificate.clone(),
            chain: issued.chain.clone(),
        });
        self.save()?;
        Ok(issued)
    }

    /// Sign an opened signing request: rebuild the signed attributes from the digest shown
    /// (never bytes the platform chose), sign them with the signing key (unsealed as the device
    /// key was), and send the approval. `selfie` for requests that need a face match.
    pub async fn sign(
        &self,
        request: &ApprovalView,
        selfie: Option<&[u8]>,
    ) -> Result<ApprovalView> {
        use iamsmart_crypto::pki::CaSigner;
        if request.kind != "sign" {
            return Err(AppError::Input(format!(
                "this is a {} request, not a signing request",
                request.kind
            )));
        }
        let signing = self.file.signing.as_ref().ok_or_else(|| {
            AppError::Input("this app has no signing certificate: run signing-cert first".into())
        })?;
        let digest: [u8; 32] = request.details["digest"]
            .as_str()
            .and_then(|d| hex::decode(d).ok())
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| AppError::Input("the request carries no SHA-256 digest".into()))?;
        let cert = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&signing.certificate)
            .map_err(|_| AppError::Home("the stored certificate is damaged".into()))?;
        let signing_time = (request.details["format"] == "cades").then(|| now_s() as u64);
        let attrs = iamsmart_crypto::pki::cms::signed_attributes(
            &iamsmart_crypto::pki::cms::SignedAttrsParams {
                content_digest: digest,
                signer_cert_der: &cert,
                signing_time,
            },
        )
        .map_err(|e| AppError::Input(e.to_string()))?;
        let key = DeviceKey::open(&signing.key, &self.secret).map_err(|_| AppError::WrongPin)?;
        let signature = key
            .sign_der(&attrs)
            .map_err(|e| AppError::Input(e.to_string()))?;
        let agreed = serde_json::json!({
            "signature": b64(&signature),
            "certificate_serial": signing.serial,
            "signing_time": signing_time,
        });
        self.decide(request, "approve", agreed, selfie).await
    }

    /// Upgrade to iAM Smart+ with a fresh selfie.
    pub async fn upgrade(&self, selfie: &[u8]) -> Result<String> {
        let body = serde_json::to_value(Upgrade {
            selfie: base64::engine::general_purpose::STANDARD.encode(selfie),
        })
        .unwrap_or_default();
        let v: serde_json::Value = self
            .json(reqwest::Method::POST, "/app/v1/me/upgrade", Some(&body))
            .await?;
        Ok(v["level"].as_str().unwrap_or_default().to_string())
    }
}

fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(|e| AppError::Network(e.to_string()))
}

async fn refused(res: reqwest::Response) -> AppError {
    let status = res.status().as_u16();
    let v: serde_json::Value = res.json().await.unwrap_or_default();
    let text = |k: &str| v[k].as_str().map(str::to_string);
    AppError::Refused {
        status,
        kind: text("type")
            .and_then(|t| t.rsplit('/').next().map(str::to_string))
            .unwrap_or_default(),
        title: text("title").unwrap_or_else(|| "the platform refused the request".into()),
        detail: text("detail"),
        correlation_id: text("correlation_id"),
    }
}

/// The default Argon2id parameters for new device keys.
pub const KDF: KdfParams = DEFAULT_KDF;

/// The memory Argon2id may use for a new key by default, in MiB.
pub const KDF_MEMORY_MIB: u32 = KDF.m_kib / 1024;

/// The Argon2id parameters for a new device key that may use `mib` MiB of memory (8 to 1024):
/// the default's passes and lanes. A phone with little memory (or a test) chooses less; the
/// sealed key records what it was sealed with, and the seal binds it, so later unlocks read it
/// from there and it cannot be lowered without the PIN.
pub fn kdf_with_memory_mib(mib: u32) -> Result<KdfParams> {
    if !(8..=1024).contains(&mib) {
        return Err(AppError::Input(format!(
            "the key derivation's memory must be 8 to 1024 MiB, not {mib}"
        )));
    }
    Ok(KdfParams {
        m_kib: mib * 1024,
        ..KDF
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_derivation_memory_is_bounded_and_keeps_the_default_passes() {
        assert_eq!(kdf_with_memory_mib(KDF_MEMORY_MIB).ok(), Some(KDF));
        let small = kdf_with_memory_mib(8).ok();
        assert_eq!(
            small.map(|k| (k.m_kib, k.t, k.p)),
            Some((8192, KDF.t, KDF.p))
        );
        for refused in [0, 7, 1025, u32::MAX] {
            assert!(
                matches!(kdf_with_memory_mib(refused), Err(AppError::Input(_))),
                "{refused} MiB"
            );
        }
    }
}
