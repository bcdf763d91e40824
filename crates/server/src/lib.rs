//! The `iamsmart` server: configuration, start-up checks, the HTTP server and its workers.
pub mod app_config;
pub mod clients_cli;
pub mod config;
pub mod demo;
pub mod outbound_config;
pub mod pki_cli;
pub mod public_info;
pub mod sandbox;
pub mod witness_cli;

use anyhow::{anyhow, Context};
use config::Config;
use iamsmart_crypto::keystore::file::FileKeyStore;
use iamsmart_crypto::keystore::pkcs11::Pkcs11KeyStore;
use iamsmart_crypto::keystore::KeyStore;
use iamsmart_crypto::rng::{Rng, SystemRng};
use iamsmart_domain::clock::{Clock, SystemClock};
use iamsmart_domain::keys::KeyPolicy;
use iamsmart_domain::Platform;
use iamsmart_store::{Db, DbOptions};
use std::sync::Arc;
use std::time::Duration;

/// Make sure the data directory exists and can be written, or say how to fix it.
pub fn check_data_dir(cfg: &Config) -> anyhow::Result<()> {
    let dir = &cfg.data_dir;
    std::fs::create_dir_all(dir).map_err(|e| {
        anyhow!(
            "data_dir {}: cannot create it ({e}); set IAMSMART_DATA_DIR to a writable directory",
            dir.display()
        )
    })?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| {
            anyhow!(
                "data_dir {} is not writable ({e}); fix its permissions or set IAMSMART_DATA_DIR",
                dir.display()
            )
        })
}

/// Connect to the database named by the configuration, with a message that says what to fix.
pub async fn connect(cfg: &Config) -> anyhow::Result<Db> {
    let url = cfg.database_url();
    if url.starts_with("sqlite:") {
        check_data_dir(cfg)?;
    }
    let opts = DbOptions {
        max_connections: cfg.database.max_connections,
        acquire_timeout: Duration::from_secs(cfg.database.acquire_timeout_secs),
        ..DbOptions::default()
    };
    Db::connect(&url, &opts).await.map_err(|e| {
        let shown = config::Config { database_url: Some(url.clone()), ..cfg.clone() };
        let shown = shown.redacted();
        let shown_url = shown
            .lines()
            .find(|l| l.starts_with("database_url"))
            .unwrap_or("database_url")
            .to_string();
        anyhow!("cannot open the database ({shown_url}): {e}; check IAMSMART_DATABASE_URL and that the server is running")
    })
}

/// Open the key store the configuration names. For the file store, a wrong master key is
/// detected against the check value in the database before anything is written.
/// Returns the store and, for the file store, the master key's check value.
pub async fn open_key_store(
    cfg: &Config,
    db: &Db,
) -> anyhow::Result<(Arc<dyn KeyStore>, Option<Vec<u8>>)> {
    match cfg.keys.backend.as_str() {
        "pkcs11" => {
            let p = &cfg.keys.pkcs11;
            let pin = Config::secret(&p.pin, &p.pin_file, "keys.pkcs11.pin_file")?
                .ok_or_else(|| anyhow!("keys.pkcs11.pin_file: no PIN given"))?;
            let module = p.module.clone().unwrap_or_default();
            let label = p.token_label.clone().unwrap_or_default();
            let store =
                tokio::task::spawn_blocking(move || Pkcs11KeyStore::open(&module, &label, &pin))
                    .await
                    .context("PKCS#11 start-up")??;
            Ok((Arc::new(store), None))
        }
        _ => {
            let path = cfg.master_key_file();
            let initialised = db.is_initialised().await.unwrap_or(false);
            let has_check = initialised
                && iamsmart_domain::settings::is_set(
                    db,
                    iamsmart_domain::platform::MASTER_CHECK_SETTING,
                )
                .await
                .unwrap_or(false);
            let store = if has_check {
                FileKeyStore::open(&path)
            } else {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).ok();
                }
                FileKeyStore::open_or_create(&path)
            }
            .map_err(|e| anyhow!("{e}"))?;
            let check = store.check_value().to_vec();
            if initialised {
                Platform::check_master_key(db, &check)
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
            }
            Ok((Arc::new(store), Some(check)))
        }
    }
}

/// Everything `serve`, `demo` and the maintenance commands need, checked and started, on the
/// system's clock and randomness.
pub async fn start_platform(cfg: &Config) -> anyhow::Result<Platform> {
    start_platform_with(cfg, Arc::new(SystemClock), Arc::new(SystemRng)).await
}

/// [`start_platform`] with the time and randomness given: the tests run the platform on a
/// clock they advance.
pub async fn start_platform_with(
    cfg: &Config,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
) -> anyhow::Result<Platform> {
    let db = connect(cfg).await?;
    let (store, check) = open_key_store(cfg, &db).await?;
    db.migrate()
        .await
        .map_err(|e| anyhow!("database migration failed: {e}"))?;
    if let Some(check) = check {
        // First start: record the check value of the master key just created.
        Platform::check_master_key(&db, &check)
            .await
            .map_err(|e| anyhow!("{e}"))?;
    }
    let policy = KeyPolicy {
        publish_lead_ms: cfg.keys.publish_lead_secs as i64 * 1000,
        token_max_lifetime_ms: cfg.keys.token_max_lifetime_secs as i64 * 1000,
    };
    let platform = Platform::start(db, store, clock, rng, policy)
        .await
        .map_err(|e| anyhow!("start-up failed: {e}"))?;
    let outbound = cfg
        .outbound
        .policy()
        .map_err(|(key, message)| anyhow!("{key}: {message}"))?;
    let registry: Arc<dyn iamsmart_domain::identity::registry::Registry> = match &cfg.registry.url {
        Some(url) => Arc::new(
            iamsmart_domain::identity::registry::HttpRegistry::new(
                platform.keys.clone(),
                url,
                Duration::from_millis(cfg.registry.timeout_ms),
                &outbound,
            )
            .map_err(|e| anyhow!("registry.url: {e}"))?,
        ),
        None => Arc::new(iamsmart_domain::identity::registry::NoRegistry),
    };
    let platform = platform
        .with_outbound(outbound)
        .with_registry(registry)
        .with_face(load_face(cfg)?)
        .with_identity_policy(cfg.identity_policy())
        .with_relying_party(cfg.relying_party())
        .with_oidc(cfg.oidc_policy())
        .with_signing_policy(iamsmart_domain::signing::SigningPolicy {
            certificate_validity_s: cfg.signing.certificate_validity_secs,
            oid_arc: cfg.signing.oid_arc.clone(),
        })
        .with_notify_policy(cfg.notify.policy());
    iamsmart_domain::oidc::clients::ensure_portal(&platform.oidc)
        .await
        .map_err(|e| anyhow!("start-up failed: {e}"))?;
    Ok(platform)
}

/// The face matcher the configuration asks for. Without `face.models_dir` (or in a build
/// without the `face` feature) face checks are unavailable and say so; they never pass.
pub fn load_face(cfg: &Config) -> anyhow::Result<Arc<dyn iamsmart_face::FaceMatcher>> {
    match &cfg.face.models_dir {
        Some(dir) => iamsmart_face::load(dir, face_threshold(cfg.face.threshold)).map_err(|e| {
            anyhow!(
                "face.models_dir {}: {e}; run scripts/fetch-face-data, or unset face.models_dir to run without self-registration",
                dir.display()
            )
        }),
        None => {
            if cfg!(feature = "face") {
                tracing::warn!("face.models_dir is not set: self-registration with a selfie is unavailable");
            }
            Ok(Arc::new(iamsmart_face::NoFaceMatcher))
        }
    }
}

/// The face threshold as the matcher keeps it (validated to lie between 0 and 1).
#[allow(
    clippy::cast_possible_truncation,
    reason = "a distance threshold between 0 and 1, checked when the configuration is loaded"
)]
fn face_threshold(t: f64) -> f32 {
    t as f32
}

/// The web layer's settings from the configuration.
pub fn web_config(cfg: &Config) -> anyhow::Result<iamsmart_web::WebConfig> {
    let token = Config::secret(&cfg.admin.token, &cfg.admin.token_file, "admin.token_file")?;
    if let Some(t) = &token {
        if t.len() < 24 {
            anyhow::bail!("configuration: `admin.token`: must be at least 24 characters");
        }
    }
    Ok(iamsmart_web::WebConfig {
        public_url: cfg.public_url.clone(),
        body_limit: cfg.http.body_limit_bytes,
        upload_limit: cfg.http.upload_limit_bytes,
        request_timeout: Duration::from_secs(cfg.http.request_timeout_secs),
        rate: iamsmart_web::limit::RateConfig {
            per_ip_per_minute: cfg.http.rate_limit_per_ip_per_minute,
            per_client_per_minute: cfg.http.rate_limit_per_client_per_minute,
            burst: cfg.http.rate_limit_burst,
        },
        trusted_proxies: cfg.trusted_proxies()?,
        admin_token_sha256: token.map(|t| iamsmart_crypto::hash::sha256(t.as_bytes())),
    })
}

/// Run the HTTP server until SIGINT / SIGTERM, then finish requests in flight.
pub async fn serve(
    cfg: &Config,
    platform: Platform,
    ready: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
) -> anyhow::Result<()> {
    // The web settings are checked before the port is taken, so that a bad setting (a short
    // admin token, an unreadable secret file) is the error reported, not a port held for nothing.
    web_config(cfg)?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| {
            anyhow!(
                "listen {}: {e}; is another server using the port? set IAMSMART_LISTEN",
                cfg.listen
            )
        })?;
    let addr = listener.local_addr()?;
    if let Some(tx) = ready {
        let _ = tx.send(addr);
    }
    serve_until(cfg, platform, listener, shutdown_signal()).await
}

/// Run the HTTP server and its workers on `listener` until `stop` completes, then finish
/// requests in flight (within `http.shutdown_grace_secs`) and close the database. `serve` stops
/// on SIGINT / SIGTERM; the tests run it in-process and stop it when they end.
pub async fn serve_until(
    cfg: &Config,
    platform: Platform,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = iamsmart_web::AppState::new(platform.clone(), web_config(cfg)?);
    let app = iamsmart_web::router(state);
    let addr = listener.local_addr()?;
    tracing::info!(%addr, public_url = %cfg.public_url, backend = ?platform.db.backend(), "listening");
    let workers = spawn_workers(cfg, platform.clone());
    let callbacks = spawn_callbacks(&platform);
    let feeds = public_info::spawn(&cfg.public_info, platform.clone());
    let grace = Duration::from_secs(cfg.http.shutdown_grace_secs);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        stop.await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop_tx.send(true);
    });
    let mut stop_rx2 = stop_rx.clone();
    tokio::select! {
        r = server => r?,
        _ = async move {
            let _ = stop_rx2.changed().await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!("grace period over; closing remaining connections"),
    }
    workers.abort();
    callbacks.abort();
    drop(feeds);
    platform.db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// How often the worker looks for callbacks of the compatible API to build or retry.
const CALLBACK_POLL: Duration = Duration::from_secs(5);

/// The compatible API's callbacks: what the app's decision did not deliver at once, and retries
/// when due (each step claimed in the database, so several processes share the work).
fn spawn_callbacks(platform: &Platform) -> tokio::task::JoinHandle<()> {
    let platform = platform.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CALLBACK_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = iamsmart_domain::osp_api::callbacks::run(&platform).await {
                tracing::warn!(error = %e, "could not deliver the compatible API's callbacks");
            }
        }
    })
}

/// Background work: signed tree heads, purging expired single-use values, closed accounts and
/// expired notifications, and re-wrapping data keys after a KEK rotation.
fn spawn_workers(cfg: &Config, platform: Platform) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(cfg.audit.tree_head_interval_secs);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) =
                iamsmart_domain::audit::publish_tree_head(&platform.db, &platform.keys).await
            {
                tracing::warn!(error = %e, "could not sign a tree head");
            }
            if let Err(e) = iamsmart_domain::guard::purge_expired(&platform).await {
                tracing::warn!(error = %e, "could not purge expired single-use values");
            }
            if let Err(e) = iamsmart_domain::osp_api::purge_expired(&platform).await {
                tracing::warn!(error = %e, "could not purge expired content keys");
            }
            if let Err(e) =
                iamsmart_domain::identity::user_verification::purge_sessions(&platform).await
            {
                tracing::warn!(error = %e, "could not purge ended app sessions");
            }
            match iamsmart_domain::identity::rights::purge_closed(&platform).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(accounts = n, "erased the personal data of closed accounts");
                }
                Err(e) => tracing::warn!(error = %e, "could not erase closed accounts"),
            }
            match iamsmart_domain::exchange::consents::purge(&platform.exchange).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(consents = n, "erased data consents past their retention"),
                Err(e) => tracing::warn!(error = %e, "could not erase old data consents"),
            }
            if let Err(e) = iamsmart_domain::exchange::eme::purge(&platform).await {
                tracing::warn!(error = %e, "could not erase finished e-ME requests");
            }
            // Catalogue edits made through another process.
            if let Err(e) = platform.portal.refresh().await {
                tracing::warn!(error = %e, "could not refresh the portal's catalogue");
            }
            match iamsmart_domain::notify::inbox::purge(&platform).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(notifications = n, "erased expired notifications"),
                Err(e) => tracing::warn!(error = %e, "could not erase expired notifications"),
            }
            match platform.keys.all(iamsmart_domain::keys::Purpose::Kek).await {
                Ok(keks) if keks.iter().filter(|k| k.retire_at.is_none()).count() > 1 => {
                    match platform.vault.rewrap_all().await {
                        Ok(n) => {
                            tracing::info!(rewrapped = n, "data keys re-wrapped under the new KEK");
                        }
                        Err(e) => tracing::warn!(error = %e, "re-wrap failed; will retry"),
                    }
                }
                _ => {}
            }
        }
    })
}

/// Structured logs to stderr: JSON (default) or text. Never personal data.
pub fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IAMSMART_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cfg.log.level.clone()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if cfg.log.format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.try_init()
    };
    // A panic's message may quote the input (or a secret) that caused it: the log says where,
    // never what. A panic in a request handler is answered 500 by the web layer; the process
    // goes on.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(location = %at, "panic (its message is not logged)");
    }));
}
