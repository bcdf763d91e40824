//! `iamsmart-app`: the resident's app on the command line.
use clap::{Parser, Subcommand};
use iamsmart_app::{App, AppError};
use iamsmart_proto::app::CardData;
use iamsmart_proto::profile::Profile;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// The resident's app: holds the device key (sealed under your PIN) and talks to the platform.
///
/// The PIN comes from --pin-file, the IAMSMART_APP_PIN environment variable, or is asked for.
#[derive(Parser)]
#[command(name = "iamsmart-app", version)]
struct Cli {
    /// The app's home directory (holds device.json).
    #[arg(long, env = "IAMSMART_APP_HOME")]
    home: PathBuf,
    /// A file holding the PIN (6 to 12 digits).
    #[arg(long, global = true)]
    pin_file: Option<PathBuf>,
    /// Memory for the PIN's key derivation (Argon2id) when this command creates the device key,
    /// in MiB (8 to 1024). The sealed key records it; a phone with little memory uses less.
    #[arg(long, global = true, env = "IAMSMART_APP_KDF_MEMORY_MIB",
          default_value_t = iamsmart_app::KDF_MEMORY_MIB)]
    kdf_memory_mib: u32,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register yourself: card data, a photo of your card and a selfie. Creates the device key.
    Register {
        /// The platform's URL.
        #[arg(long)]
        platform: String,
        /// HKID as printed, e.g. A123456(3).
        #[arg(long)]
        hkid: String,
        /// English name as printed.
        #[arg(long)]
        name_en: String,
        /// Chinese name as printed.
        #[arg(long)]
        name_zh: Option<String>,
        /// Date of birth, YYYY-MM-DD.
        #[arg(long)]
        dob: String,
        /// Image file of the card.
        #[arg(long)]
        card: PathBuf,
        /// Image file of your face.
        #[arg(long)]
        selfie: PathBuf,
        /// Name of this device.
        #[arg(long, default_value = "iamsmart-app")]
        device_name: String,
    },
    /// Bind this app with the activation code from a counter or kiosk (or its QR payload).
    Activate {
        /// The platform's URL.
        #[arg(long)]
        platform: String,
        /// The code.
        code: String,
        /// Name of this device.
        #[arg(long, default_value = "iamsmart-app")]
        device_name: String,
    },
    /// Requests waiting for you.
    Pending,
    /// Show a request (id or QR payload) with its match code.
    Show {
        /// Request id or QR payload.
        request: String,
    },
    /// Approve a request (id or QR payload) after checking its match code.
    Approve {
        /// Request id or QR payload.
        request: String,
        /// The match code shown where the request started; refused if it differs.
        #[arg(long = "match")]
        match_code: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// A selfie, for requests that need a face match.
        #[arg(long)]
        selfie: Option<PathBuf>,
        /// Release only these fields (comma-separated; default: every field asked for). Fields
        /// the service marked optional may be left out.
        #[arg(long, value_delimiter = ',')]
        fields: Option<Vec<String>>,
    },
    /// Deny a request.
    Deny {
        /// Request id or QR payload.
        request: String,
    },
    /// Your devices.
    Devices,
    /// Revoke a device (also this one), or refuse a new phone waiting to take the account over.
    Revoke {
        /// Device id.
        device: String,
    },
    /// Consents you gave to services (remembered per service and item).
    Consents,
    /// Withdraw every consent given to a service.
    RevokeConsent {
        /// The service's client id.
        client_id: String,
    },
    /// Everything you did with every service (logins, data released, exchanges), with the
    /// consents behind them (JSON: also your export of dealings).
    Dealings,
    /// Your data consents at the exchange gateway.
    DataConsents,
    /// Pause, resume or revoke a data consent.
    DataConsent {
        /// Consent id.
        consent_id: String,
        /// What to do.
        #[arg(value_parser = ["pause", "resume", "revoke"])]
        action: String,
    },
    /// Download a data consent's receipt (the signed artefact and its place in the
    /// transparency log).
    Receipt {
        /// Consent id.
        consent_id: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show your record.
    Me,
    /// Replace the fields you maintain with the JSON in FILE (see `me` for the shape).
    SetProfile {
        /// JSON file.
        file: PathBuf,
    },
    /// Download everything the platform holds about you.
    Export {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Close your account (devices and sessions end at once).
    Close {
        /// Confirm.
        #[arg(long)]
        yes: bool,
    },
    /// Get a signing certificate (iAM Smart+; done after an upgrade too): a new signing key,
    /// separate from the device key; replaces the previous certificate.
    SigningCert,
    /// Notifications from services, newest first; or mark them read.
    Notifications {
        /// Only unread ones.
        #[arg(long)]
        unread: bool,
        /// Mark this notification read (and show it).
        #[arg(long, value_name = "ID", conflicts_with = "all")]
        mark_read: Option<String>,
        /// Mark every notification read.
        #[arg(long)]
        all: bool,
        /// Show the Traditional Chinese text where the service gave one.
        #[arg(long)]
        zh: bool,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// The services you use and whether each may send you notifications; turn one on or off.
    NotificationSettings {
        /// Let this service (client id) notify you.
        #[arg(long, value_name = "CLIENT_ID", conflicts_with = "off")]
        on: Option<String>,
        /// Stop this service (client id) notifying you.
        #[arg(long, value_name = "CLIENT_ID")]
        off: Option<String>,
    },
    /// Upgrade to iAM Smart+ with a fresh selfie.
    Upgrade {
        /// Image file of your face.
        #[arg(long)]
        selfie: PathBuf,
    },
}

fn read_pin(cli: &Cli) -> anyhow::Result<String> {
    if let Some(f) = &cli.pin_file {
        return Ok(std::fs::read_to_string(f)?.trim().to_string());
    }
    if let Ok(p) = std::env::var("IAMSMART_APP_PIN") {
        return Ok(p.trim().to_string());
    }
    eprint!("PIN: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && matches!(line.trim(), "y" | "Y" | "yes")
}

fn print(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// A notification's text in the language asked for, or the other one.
fn pick(v: &serde_json::Value, zh: bool) -> &str {
    let (a, b) = if zh { ("zh", "en") } else { ("en", "zh") };
    v[a].as_str().or(v[b].as_str()).unwrap_or_default()
}

/// Unix ms as Hong Kong time (UTC+8), YYYY-MM-DD HH:MM.
fn hk_time(ms: i64) -> String {
    iamsmart_proto::time::hk_date_time(ms)
}

/// One notification, for people to read.
fn print_notification(n: &serde_json::Value, zh: bool) {
    let unread = n["read_at"].is_null();
    println!(
        "{} {}  {}",
        if unread { "[unread]" } else { "[read]  " },
        hk_time(n["created_at"].as_i64().unwrap_or_default()),
        n["service"].as_str().unwrap_or_default()
    );
    println!("  {}", pick(&n["title"], zh));
    for line in pick(&n["body"], zh).lines() {
        println!("    {line}");
    }
    if let Some(l) = n["link"].as_str() {
        println!("  link: {l}");
    }
    println!("  id: {}", n["id"].as_str().unwrap_or_default());
}

fn read_file(p: &PathBuf, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read the {what} {}: {e}", p.display()))
}

async fn new_or_open(
    cli: &Cli,
    platform: &str,
    device_name: &str,
) -> anyhow::Result<(App, String)> {
    let pin = read_pin(cli)?;
    let app = if App::exists(&cli.home) {
        App::unlock(&cli.home, &pin).await?
    } else {
        let kdf = iamsmart_app::kdf_with_memory_mib(cli.kdf_memory_mib)?;
        App::create(&cli.home, platform, device_name, &pin, kdf)?
    };
    Ok((app, pin))
}

/// Once bound, seal the keys with the platform's part, so that no PIN can be tried without it.
/// A phone that cannot yet (the platform is unreachable) is protected at its next unlock.
async fn protect(app: &mut App, pin: &str) {
    if app.file().platform_unseal {
        return;
    }
    if let Err(e) = app.protect(pin).await {
        eprintln!(
            "the keys stay sealed by the PIN alone for now ({e}); the next unlock tries again"
        );
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Register {
            platform,
            hkid,
            name_en,
            name_zh,
            dob,
            card,
            selfie,
            device_name,
        } => {
            let card_image = read_file(card, "card image")?;
            let selfie = read_file(selfie, "selfie")?;
            let (mut app, pin) = new_or_open(&cli, platform, device_name).await?;
            let e = app
                .register(
                    CardData {
                        hkid: hkid.clone(),
                        name_en: name_en.clone(),
                        name_zh: name_zh.clone(),
                        date_of_birth: dob.clone(),
                    },
                    &card_image,
                    &selfie,
                )
                .await?;
            protect(&mut app, &pin).await;
            print(&e)?;
            if e.pending_until.is_some() {
                eprintln!(
                    "your account is on another phone: it moves to this one when the waiting time ends (pending_until), unless that phone refuses; a registration counter can move it at once"
                );
            }
        }
        Command::Activate {
            platform,
            code,
            device_name,
        } => {
            let (mut app, pin) = new_or_open(&cli, platform, device_name).await?;
            let e = app.activate(code).await?;
            protect(&mut app, &pin).await;
            print(&e)?;
        }
        command => {
            let pin = read_pin(&cli)?;
            let mut app = App::unlock(&cli.home, &pin).await?;
            match command {
                Command::Pending => print(&app.pending().await?)?,
                Command::Show { request } => print(&app.open_request(request).await?)?,
                Command::Approve {
                    request,
                    match_code,
                    yes,
                    selfie,
                    fields,
                } => {
                    let r = app.open_request(request).await?;
                    eprintln!(
                        "{} asks for {} (match code {}): {}",
                        r.client_name, r.kind, r.match_code, r.details
                    );
                    if let Some(m) = match_code {
                        if *m != r.match_code {
                            anyhow::bail!(
                                "the match code differs from the one shown ({}): do not approve; this may be a phishing attempt",
                                r.match_code
                            );
                        }
                    }
                    if !yes && !confirm("Approve?") {
                        anyhow::bail!("not approved");
                    }
                    let face = match selfie {
                        Some(f) => Some(read_file(f, "selfie")?),
                        None if r.kind == "step_up" || r.details["face"] == true => {
                            anyhow::bail!("this request needs a face match: pass --selfie FILE")
                        }
                        None => None,
                    };
                    if r.kind == "sign" {
                        if fields.is_some() {
                            anyhow::bail!("--fields is for personal data requests, not signing");
                        }
                        print(&app.sign(&r, face.as_deref()).await?)?;
                        return Ok(());
                    }
                    let asked: Vec<String> =
                        serde_json::from_value(r.details["fields"].clone()).unwrap_or_default();
                    let chosen = match fields {
                        Some(_) if asked.is_empty() => anyhow::bail!(
                            "--fields chooses personal data fields; this {} request has none to choose (approve it whole or deny it)",
                            r.kind
                        ),
                        Some(f) => {
                            if let Some(bad) = f.iter().find(|x| !asked.contains(x)) {
                                anyhow::bail!(
                                    "{bad} was not asked for (asked: {})",
                                    asked.join(", ")
                                );
                            }
                            f.clone()
                        }
                        None => asked,
                    };
                    let agreed = serde_json::json!({ "fields": chosen });
                    print(&app.decide(&r, "approve", agreed, face.as_deref()).await?)?;
                }
                Command::Deny { request } => {
                    let r = app.open_request(request).await?;
                    print(
                        &app.decide(&r, "deny", serde_json::Value::Null, None)
                            .await?,
                    )?;
                }
                Command::Devices => print(&app.devices().await?)?,
                Command::Revoke { device } => {
                    app.revoke(device).await?;
                    eprintln!("device {device} revoked");
                }
                Command::Consents => print(&app.consents().await?)?,
                Command::RevokeConsent { client_id } => {
                    app.revoke_consent(client_id).await?;
                    eprintln!("consents given to {client_id} are withdrawn");
                }
                Command::Dealings => print(&app.dealings().await?)?,
                Command::DataConsents => print(&app.data_consents().await?)?,
                Command::DataConsent { consent_id, action } => {
                    print(&app.data_consent_action(consent_id, action).await?)?;
                }
                Command::Receipt { consent_id, out } => {
                    let doc = app.receipt(consent_id).await?;
                    match out {
                        Some(path) => {
                            std::fs::write(path, serde_json::to_vec_pretty(&doc)?)?;
                            eprintln!("written to {}", path.display());
                        }
                        None => print(&doc)?,
                    }
                }
                Command::Me => print(&app.me().await?)?,
                Command::SetProfile { file } => {
                    let text = read_file(file, "profile")?;
                    let profile: Profile = serde_json::from_slice(&text)?;
                    print(&app.update_profile(&profile).await?)?;
                }
                Command::Export { out } => {
                    let doc = app.export().await?;
                    match out {
                        Some(path) => {
                            std::fs::write(path, serde_json::to_vec_pretty(&doc)?)?;
                            eprintln!("written to {}", path.display());
                        }
                        None => print(&doc)?,
                    }
                }
                Command::Close { yes } => {
                    if !yes && !confirm("Close your account? Your devices stop working at once.") {
                        anyhow::bail!("not closed");
                    }
                    print(&app.close().await?)?;
                }
                Command::Notifications {
                    unread,
                    mark_read,
                    all,
                    zh,
                    json,
                } => {
                    if let Some(id) = mark_read {
                        let n = app.mark_notification_read(id).await?;
                        if *json {
                            print(&n)?;
                        } else {
                            print_notification(&n, *zh);
                        }
                        return Ok(());
                    }
                    if *all {
                        let v = app.mark_all_notifications_read().await?;
                        if *json {
                            print(&v)?;
                        } else {
                            println!(
                                "{} notifications marked read",
                                v["marked_read"].as_i64().unwrap_or_default()
                            );
                        }
                        return Ok(());
                    }
                    let v = app.notifications(*unread).await?;
                    if *json {
                        print(&v)?;
                        return Ok(());
                    }
                    let list = v["notifications"].as_array().cloned().unwrap_or_default();
                    println!(
                        "{} notifications shown, {} unread",
                        list.len(),
                        v["unread"].as_i64().unwrap_or_default()
                    );
                    for n in &list {
                        println!();
                        print_notification(n, *zh);
                    }
                }
                Command::NotificationSettings { on, off } => {
                    let v = match (on, off) {
                        (Some(c), _) => app.set_notifications(c, true).await?,
                        (_, Some(c)) => app.set_notifications(c, false).await?,
                        _ => app.notification_settings().await?,
                    };
                    for s in v.as_array().cloned().unwrap_or_default() {
                        println!(
                            "{}  {}  ({})",
                            if s["enabled"] == true { "on " } else { "off" },
                            s["service"].as_str().unwrap_or_default(),
                            s["client_id"].as_str().unwrap_or_default()
                        );
                    }
                }
                Command::SigningCert => print(&app.enrol_signing().await?)?,
                Command::Upgrade { selfie } => {
                    let s = read_file(selfie, "selfie")?;
                    let level = app.upgrade(&s).await?;
                    // iAM Smart+ can sign: get the signing certificate at once (a platform
                    // without signing set up says so; the upgrade stands either way).
                    let certificate = match app.enrol_signing().await {
                        Ok(c) => serde_json::json!({ "serial": c.serial }),
                        Err(e) => serde_json::json!({ "not_issued": e.to_string() }),
                    };
                    print(
                        &serde_json::json!({ "level": level, "signing_certificate": certificate }),
                    )?;
                }
                Command::Register { .. } | Command::Activate { .. } => unreachable!(),
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e.downcast_ref::<AppError>() {
                Some(AppError::WrongPin | AppError::WrongPinLeft { .. }) => 3,
                Some(AppError::Refused { .. }) => 4,
                Some(AppError::Network(_)) => 5,
                _ => 1,
            };
            eprintln!("error: {e}");
            ExitCode::from(code)
        }
    }
}
