//! `iamsmart sandbox ...`: the sandbox services and helpers for integrators and tests.
use crate::config::Config;
use anyhow::{anyhow, Context};
use iamsmart_app::App;
use iamsmart_domain::identity::{self, activation, registration};
use iamsmart_proto::profile::{Level, VerifiedIdentity};
use iamsmart_sandbox::immd::{self, ImmdConfig, SeedResident};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where `scripts/fetch-face-data` puts the photos and models, if present.
pub fn face_data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("IAMSMART_FACE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/face-data"));
    dir.is_dir().then_some(dir)
}

/// Load the registry's residents from `seed` or the one shipped with the repository.
pub fn residents(seed: Option<&Path>) -> anyhow::Result<Vec<SeedResident>> {
    match seed {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the seed file {}", p.display()))?;
            immd::parse_seed(&text).with_context(|| format!("seed file {}", p.display()))
        }
        None => immd::parse_seed(immd::DEFAULT_SEED),
    }
}

/// The registry's settings for a platform at `platform_url`.
pub fn immd_config(
    platform_url: &str,
    seed: Option<&Path>,
    photos: Option<PathBuf>,
    delay: Duration,
) -> anyhow::Result<ImmdConfig> {
    Ok(ImmdConfig {
        platform_jwks_url: format!(
            "{}/connectors/v1/jwks.json",
            platform_url.trim_end_matches('/')
        ),
        photos_dir: photos.or_else(|| face_data_dir().map(|d| d.join("images"))),
        residents: residents(seed)?,
        delay,
    })
}

/// Run the sandbox registry until Ctrl-C.
pub async fn run_immd(listen: &str, cfg: ImmdConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow!("listen {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "sandbox immigration registry on http://{addr}/immd ({} residents; photos in {}); trusting platform keys at {}",
        cfg.residents.len(),
        cfg.photos_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "(none)".into()),
        cfg.platform_jwks_url
    );
    tokio::select! {
        r = immd::serve(listener, cfg) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// What the registry confirms of one of its residents.
fn verified(r: &SeedResident) -> VerifiedIdentity {
    VerifiedIdentity {
        hkid: r.hkid.clone(),
        name_en: r.name_en.clone(),
        name_zh: r.name_zh.clone(),
        date_of_birth: r.date_of_birth.clone(),
        gender: Some(r.gender.clone()),
    }
}

/// The registry resident with `hkid`, or the next one not yet registered.
async fn pick_resident(
    platform: &iamsmart_domain::Platform,
    seed: &[SeedResident],
    hkid: Option<&str>,
) -> anyhow::Result<SeedResident> {
    for r in seed {
        if hkid.is_some_and(|h| {
            identity::hkid::Hkid::parse(h).ok() != identity::hkid::Hkid::parse(&r.hkid).ok()
        }) {
            continue;
        }
        if hkid.is_some()
            || identity::find_by_hkid(&platform.identity, &r.hkid)
                .await?
                .is_none()
        {
            return Ok(r.clone());
        }
    }
    Err(match hkid {
        Some(h) => anyhow!("{h} is not a resident of the sandbox registry (see GET /immd/v1/residents)"),
        None => anyhow!("every resident of the sandbox registry is registered already; pass --hkid to re-bind one"),
    })
}

/// `iamsmart sandbox activation-code`: register a test resident (the next unregistered one of
/// the registry's seed, or the given HKID) as a counter would, with a synthetic profile, and
/// print a one-time activation code with the link that opens it in the web app.
pub async fn activation_code(
    cfg: &Config,
    level: Level,
    hkid: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let platform = crate::start_platform(cfg).await?;
    let seed = residents(None)?;
    let r = pick_resident(&platform, &seed, hkid).await?;
    let issued =
        registration::sandbox_activation_code(&platform.identity, &verified(&r), level).await?;
    let n = seed.iter().position(|x| x.hkid == r.hkid).unwrap_or(0);
    identity::update_profile(
        &platform.identity,
        &issued.resident_id,
        &synthetic_profile(&r, n),
        None,
    )
    .await?;
    platform.db.close().await;
    let compact = activation::normalise_code(&issued.activation_code);
    Ok(serde_json::json!({
        "resident_id": issued.resident_id,
        "level": level,
        "hkid": r.hkid,
        "name_en": r.name_en,
        "activation_code": issued.activation_code,
        "qr": format!("iamsmart:activate?code={compact}"),
        "link": format!("{}/app/#/activate?code={}", cfg.public_url.trim_end_matches('/'), issued.activation_code),
        "expires_at": issued.expires_at,
    }))
}

/// `iamsmart sandbox create-resident`: register a test resident (the next unregistered one of
/// the registry's seed, or the given HKID) and write an app home that `iamsmart-app` can use.
pub async fn create_resident(
    cfg: &Config,
    app_home: &Path,
    level: Level,
    pin: &str,
    hkid: Option<&str>,
    kdf: iamsmart_crypto::device::KdfParams,
) -> anyhow::Result<serde_json::Value> {
    let platform = crate::start_platform(cfg).await?;
    let seed = residents(None)?;
    let r = pick_resident(&platform, &seed, hkid).await?;
    let mut app = App::create(app_home, &cfg.public_url, "sandbox device", pin, kdf)?;
    let enrolled =
        registration::sandbox_enrol(&platform.identity, &verified(&r), level, &app.new_device())
            .await?;
    app.record_binding(&enrolled)?;
    // Seal the keys with the platform's part, as the app does once bound (in process here).
    let protection = app.begin_protect(pin)?;
    let evaluated = identity::unseal::setup(
        &platform.identity,
        &enrolled.device_id,
        &protection.token_hash,
        &protection.blinded.message,
    )
    .await?;
    app.finish_protect(pin, &protection, &evaluated)?;
    // A synthetic profile, so that forms have something to fill in.
    let n = seed.iter().position(|x| x.hkid == r.hkid).unwrap_or(0);
    let profile = synthetic_profile(&r, n);
    identity::update_profile(&platform.identity, &enrolled.resident_id, &profile, None).await?;
    platform.db.close().await;
    Ok(serde_json::json!({
        "resident_id": enrolled.resident_id,
        "device_id": enrolled.device_id,
        "level": level,
        "hkid": r.hkid,
        "name_en": r.name_en,
        "name_zh": r.name_zh,
        "date_of_birth": r.date_of_birth,
        "app_home": app_home.display().to_string(),
        "pin": pin,
        "platform_url": cfg.public_url,
    }))
}

/// A synthetic profile for the `n`th resident of the sandbox registry, so that forms have
/// something to fill in.
pub fn synthetic_profile(r: &SeedResident, n: usize) -> iamsmart_proto::profile::Profile {
    iamsmart_proto::profile::Profile {
        prefix: Some(if r.gender == "F" { "Ms" } else { "Mr" }.into()),
        mobile: Some(iamsmart_proto::profile::Phone {
            country_code: "852".into(),
            subscriber_number: format!("9{:07}", 1_234_567 + n * 1_111),
        }),
        email: Some(format!("resident{n}@example.hk")),
        residential_address: Some(iamsmart_proto::profile::Address {
            flat: Some(format!("{}A", 3 + n % 20)),
            floor: Some(format!("{}", 3 + n % 20)),
            building: Some("Sample Court".into()),
            street_number: Some(format!("{}", 8 + n)),
            street: Some("Sample Road".into()),
            district: Some("Sha Tin".into()),
            region: Some("NT".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The demo's resident (the first of the sandbox registry), registered as iAM Smart+ with
/// a synthetic profile, and a fresh one-time activation code for the web app.
pub async fn demo_resident(
    platform: &iamsmart_domain::Platform,
    r: &SeedResident,
) -> anyhow::Result<registration::CodeIssued> {
    let issued = registration::sandbox_activation_code(
        &platform.identity,
        &verified(r),
        iamsmart_proto::profile::Level::Plus,
    )
    .await?;
    let current = identity::get(&platform.identity, &issued.resident_id).await?;
    if current.view().profile == iamsmart_proto::profile::Profile::default() {
        identity::update_profile(
            &platform.identity,
            &issued.resident_id,
            &synthetic_profile(r, 0),
            None,
        )
        .await?;
    }
    Ok(issued)
}

/// Register the sandbox data providers (served at `providers_url`) with the platform.
pub async fn register_providers(
    platform: &iamsmart_domain::Platform,
    providers_url: &str,
) -> anyhow::Result<()> {
    for (dept, _, _) in iamsmart_sandbox::providers::DEPARTMENTS {
        let def = iamsmart_sandbox::providers::definition(dept, providers_url)
            .ok_or_else(|| anyhow!("no definition for {dept}"))?;
        let def: iamsmart_domain::exchange::providers::ProviderDef = serde_json::from_value(def)?;
        iamsmart_domain::exchange::providers::register(
            &platform.exchange,
            &def,
            "operator:sandbox",
        )
        .await
        .map_err(|e| anyhow!("registering provider {dept}: {e}"))?;
    }
    Ok(())
}

/// Run the sandbox data providers until Ctrl-C.
pub async fn run_providers(listen: &str, platform_url: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow!("listen {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    let jwks = format!(
        "{}/connectors/v1/jwks.json",
        platform_url.trim_end_matches('/')
    );
    eprintln!(
        "sandbox data providers (td, ird, hd, edb) on http://{addr}; trusting platform keys at {jwks}"
    );
    tokio::select! {
        r = iamsmart_sandbox::providers::serve(listener, jwks) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
