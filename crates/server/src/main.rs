//! The `iamsmart` command.
use anyhow::anyhow;
use clap::{Parser, Subcommand};
use iamsmart_crypto::jose::Alg;
use iamsmart_domain::keys::Purpose;
use iamsmart_domain::oidc::clients::ClientProfile;
use iamsmart_proto::profile::Level;
use iamsmart_server::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

/// iamsmart: one digital identity for every resident; login, consented data release and
/// legally backed signing for online services.
///
/// Configuration comes from the TOML file given with --config (or IAMSMART_CONFIG), overridden
/// by IAMSMART_* environment variables (IAMSMART_LISTEN, IAMSMART_PUBLIC_URL, IAMSMART_DATA_DIR,
/// IAMSMART_DATABASE_URL, IAMSMART_MASTER_KEY_FILE, IAMSMART_<SECTION>__<KEY>) and *_FILE secrets.
#[derive(Parser)]
#[command(name = "iamsmart", version)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "IAMSMART_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the platform: check the configuration, migrate the database, serve HTTP until
    /// SIGTERM (requests in flight are finished first).
    Serve,
    /// Run everything on 127.0.0.1 with an embedded SQLite database under ./data and sandbox
    /// data, and print the URLs to open. For trying the platform, not for production.
    Demo,
    /// Apply database migrations and exit (the server also migrates at start).
    Migrate,
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Audit and transparency log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Online services (OpenID Connect clients).
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// The certificate authority of digital signing.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// Verify a signature the platform made: a signed PDF, or a CMS signature (DER, PEM or
    /// base64) with its document or the document's SHA-256. Prints signer, time, integrity and
    /// the certificate's status at signing time; exits 1 when it is not valid.
    Verify {
        /// The signed PDF or the CMS signature.
        file: PathBuf,
        /// The signed document (for a CMS signature).
        #[arg(long)]
        content: Option<PathBuf>,
        /// The document's SHA-256, hex or base64 (for a CMS signature).
        #[arg(long)]
        digest: Option<String>,
    },
    /// Witness a platform's transparency log: keep a copy of its signed tree heads in --state
    /// and check each newer one against the last (signature by a pinned log key, consistency
    /// proof). Exits 3 with "ALARM" if the log was cut off, rewritten, forked or signed by a key
    /// that is not pinned; 1 if it could not be checked. Run it from cron, or with --every.
    Witness {
        /// The platform's public URL.
        url: String,
        /// The file that keeps the pinned keys and the heads seen (created on first contact).
        #[arg(long)]
        state: PathBuf,
        /// An RFC 7638 thumbprint of a log key to trust (repeatable); without any, the keys the
        /// log publishes at first contact are pinned. (Base64url: it may start with `-`.)
        #[arg(long = "log-key", allow_hyphen_values = true)]
        log_keys: Vec<String>,
        /// Check again every this many seconds (instead of once).
        #[arg(long)]
        every: Option<u64>,
        /// With --every: stop after this many seconds.
        #[arg(long = "for", default_value_t = 3600)]
        for_secs: u64,
    },
    /// Sandbox services and helpers for integrators and tests.
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
}

#[derive(Subcommand)]
enum CaCommand {
    /// Set up the certificate authority: a root CA whose key is written sealed to
    /// --root-key-out (keep it offline) and then dropped from memory; an issuing CA, an OCSP
    /// responder and a timestamp authority whose keys live in the key store (the HSM when
    /// keys.backend is pkcs11). Refused if already set up.
    Init {
        /// The organisation named in the certificates.
        #[arg(long, default_value = "iAM Smart")]
        organization: String,
        /// Where to write the root key, sealed (Argon2id + AES-256-GCM) under the passphrase.
        #[arg(long)]
        root_key_out: PathBuf,
        /// A file holding the passphrase (at least 12 characters).
        #[arg(long, env = "IAMSMART_ROOT_PASSPHRASE_FILE")]
        root_passphrase_file: PathBuf,
    },
    /// Renew the root CA's CRL (served at /pki/root.crl) with the offline root key: unseal the
    /// file that `ca init --root-key-out` wrote, check that it is this platform's root, sign a
    /// CRL numbered one above the current one and store it. Run it before the current one's
    /// nextUpdate (`ca show` says when, and warns 30 days ahead).
    RootCrl {
        /// The sealed root key (the file `ca init --root-key-out` wrote).
        #[arg(long)]
        root_key: PathBuf,
        /// A file holding the root key's passphrase.
        #[arg(long, env = "IAMSMART_ROOT_PASSPHRASE_FILE")]
        root_passphrase_file: PathBuf,
        /// How many days the new CRL stays current (its nextUpdate).
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..=730))]
        next_update_days: u64,
    },
    /// Renew the OCSP responder's or the timestamp authority's certificate before it expires:
    /// a new key in the key store and a certificate from the issuing CA (the root key is not
    /// needed). Running servers use the new one within a minute; then the old certificate is
    /// revoked (superseded: what it signed before stays valid) and its key retired.
    Renew {
        /// Which certificate.
        #[arg(value_enum)]
        role: RenewRole,
        /// Years of validity (at most the issuing CA's remaining validity).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=10))]
        years: u64,
        /// The old key is compromised: revoke its certificate at once for key compromise, so
        /// that nothing it signed is trusted (running servers fail to sign with it until they
        /// pick up the new one, within a minute).
        #[arg(long)]
        compromised: bool,
    },
    /// Show the authority's certificates (PEM) and status: each certificate's expiry and the
    /// root CRL's number and nextUpdate (warnings on standard error when one is near or past).
    Show,
}

/// The certificates `ca renew` renews.
#[derive(Clone, Copy, clap::ValueEnum)]
enum RenewRole {
    /// The OCSP responder.
    Ocsp,
    /// The timestamp authority.
    Tsa,
}

// Parsed once per run: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum ClientsCommand {
    /// Register an online service; prints the client as JSON (with a secret for the basic
    /// profile with client_secret_basic, and for the iamsmart-api profile).
    Create {
        /// Name shown to residents (English).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        texts: iamsmart_server::clients_cli::ServiceTexts,
        /// Redirect URI (repeat for several; exact match).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// The client's public keys (a JWKS file), for private_key_jwt.
        #[arg(long, conflicts_with = "jwks_uri")]
        jwks_file: Option<PathBuf>,
        /// Where the client publishes its public keys.
        #[arg(long)]
        jwks_uri: Option<String>,
        /// fapi2 (PAR, private_key_jwt, DPoP), basic (PKCE with a secret or private_key_jwt), or
        /// iamsmart-api (the iAM Smart-compatible API under /api/v1/; needs --kek-cert).
        #[arg(long, value_enum, default_value = "fapi2")]
        profile: ProfileArg,
        /// The service's encipherment certificate (PEM or DER, RSA 2048 to 4096 bits), to which
        /// the compatible API wraps content keys (--profile iamsmart-api).
        #[arg(long)]
        kek_cert: Option<PathBuf>,
        /// Where the compatible API POSTs results that come later (profile and e-ME after a
        /// sign-in), signed with the client secret (--profile iamsmart-api).
        #[arg(long)]
        callback_uri: Option<String>,
        /// The scopes the client may ask for, space-separated (default: every scope of its
        /// profile).
        #[arg(long)]
        scope: Option<String>,
        /// Public subject identifiers instead of pairwise (operator-approved government services).
        #[arg(long)]
        public_subject: bool,
        /// Allow decoupled login (CIBA) in this mode.
        #[arg(long, value_enum)]
        ciba: Option<CibaArg>,
        /// CIBA ping endpoint (with --ciba ping).
        #[arg(long)]
        ciba_notification_endpoint: Option<String>,
        /// Back-channel logout endpoint.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// Post-logout redirect URI (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// As a requester of the data exchange gateway: commercial (default), government, or
        /// bank (HKMA Commercial Data Interchange; needs --profile fapi2).
        #[arg(long)]
        requester_type: Option<iamsmart_domain::oidc::clients::RequesterType>,
    },
    /// Issue an initial access token for dynamic client registration (RFC 7591).
    InitialToken {
        /// Hours it stays valid.
        #[arg(long, default_value_t = 24)]
        hours: u64,
        /// How many registrations it allows.
        #[arg(long, default_value_t = 1)]
        uses: u32,
    },
    /// Disable a client and revoke its grants.
    Disable {
        /// The client id.
        client_id: String,
    },
    /// A client's recent calls of the iAM Smart-compatible API, newest first, one JSON object a
    /// line: when, the endpoint, the answer's code and its txID (kept 7 days).
    Log {
        /// The client id.
        client_id: String,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ProfileArg {
    Fapi2,
    Basic,
    IamsmartApi,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CibaArg {
    Poll,
    Ping,
}

#[derive(Subcommand)]
enum SandboxCommand {
    /// Run the sandbox Immigration Department registry (synthetic residents; signed requests
    /// from the platform at --platform-url only).
    Immd {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8091")]
        listen: String,
        /// The platform whose connector keys are trusted.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        platform_url: String,
        /// Seed file of residents (default: the one shipped with iamsmart).
        #[arg(long)]
        seed: Option<PathBuf>,
        /// Directory of reference photos (default: target/face-data/images if present).
        #[arg(long)]
        photos: Option<PathBuf>,
        /// Delay every answer by this many milliseconds (to rehearse a slow registry).
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
    },
    /// Run the sandbox data providers of the exchange gateway (Transport Department, Inland
    /// Revenue Department, Housing Department, Education Bureau; synthetic data; signed requests
    /// from the platform at --platform-url only). With --register, also register them with the
    /// platform's database first.
    Providers {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8092")]
        listen: String,
        /// The platform whose connector keys are trusted.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        platform_url: String,
        /// Register the providers (at http://LISTEN) with the configured platform first.
        #[arg(long)]
        register: bool,
    },
    /// Register a test resident directly and write an app home for `iamsmart-app --home DIR`;
    /// prints the resident as JSON.
    CreateResident {
        /// The app home to create.
        #[arg(long)]
        app_home: PathBuf,
        /// Account level.
        #[arg(long, value_enum, default_value = "basic")]
        level: LevelArg,
        /// The PIN that seals the app's device key.
        #[arg(long, default_value = "246813")]
        pin: String,
        /// Which registry resident (default: the next one not yet registered).
        #[arg(long)]
        hkid: Option<String>,
        /// Memory for the PIN's key derivation (Argon2id), in MiB (8 to 1024), as
        /// `iamsmart-app --kdf-memory-mib`.
        #[arg(long, default_value_t = iamsmart_app::KDF_MEMORY_MIB)]
        kdf_memory_mib: u32,
    },
    /// Register a test resident as a counter would and print a one-time activation code, with
    /// the link that opens it in the resident's web app (/app/).
    ActivationCode {
        /// Account level.
        #[arg(long, value_enum, default_value = "basic")]
        level: LevelArg,
        /// Which registry resident (default: the next one not yet registered).
        #[arg(long)]
        hkid: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LevelArg {
    Basic,
    Plus,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load and validate the configuration, and print the effective values (secrets hidden).
    /// Exits non-zero with the key to fix if anything is wrong.
    Check,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List keys: purpose, algorithm, back end, state and times.
    List,
    /// Rotate a key. Signing keys: the new key is published now and signs after
    /// keys.publish_lead_secs; the old one stays in the JWKS until its tokens expire.
    /// With --kek: a new key-encryption key, and every data key is re-wrapped under it online.
    Rotate {
        /// What the key is for.
        #[arg(long, value_enum, default_value = "token")]
        purpose: PurposeArg,
        /// Signing algorithm.
        #[arg(long, value_enum, default_value = "es256")]
        alg: AlgArg,
        /// Rotate the key-encryption key instead (same as --purpose kek).
        #[arg(long)]
        kek: bool,
        /// After a compromise: sign with the new key at once and retire the old ones now,
        /// everywhere they are accepted (what they signed stops verifying: residents and
        /// services sign in again; relying parties that cached the JWKS fail until they
        /// refresh it).
        #[arg(long)]
        immediate: bool,
    },
    /// Retire one signing key (token, log or connector) at once, everywhere it is accepted,
    /// after a compromise; if it was the one signing, a new key takes over at once.
    Revoke {
        /// The key id (`iamsmart keys list`).
        kid: String,
    },
    /// Re-wrap every data key under the active key-encryption key now.
    Rewrap,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every entry of the log, the stored Merkle tree and every signed tree head; report
    /// the first broken entry. Exits 0 only if the whole log verifies. Tree heads must be signed
    /// by a log key the key store holds and, when audit.log_key_thumbprints or --log-key name
    /// any, by one of those.
    Verify {
        /// A witness's state file (`iamsmart witness --state`): the log must still hold every
        /// head the witness saw, unchanged (catches entries cut off and a rewritten log).
        #[arg(long)]
        witness_state: Option<PathBuf>,
        /// An RFC 7638 thumbprint of a trusted log key (repeatable; added to the configuration's).
        /// (Base64url: it may start with `-`.)
        #[arg(long = "log-key", allow_hyphen_values = true)]
        log_keys: Vec<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PurposeArg {
    Token,
    Log,
    Kek,
    Connector,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AlgArg {
    Es256,
    Eddsa,
    Rs256,
}

fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    Config::load(path, &env).map_err(|e| anyhow!("{e}"))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let cfg = load_config(cli.config.as_deref())?;
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            iamsmart_server::web_config(&cfg)?;
            println!("# configuration is valid\n{}", cfg.redacted());
        }
        Command::Serve => {
            iamsmart_server::init_logging(&cfg);
            let platform = iamsmart_server::start_platform(&cfg).await?;
            iamsmart_server::serve(&cfg, platform, None).await?;
        }
        Command::Demo => {
            iamsmart_server::demo::run(cfg).await?;
        }
        Command::Migrate => {
            let platform = iamsmart_server::start_platform(&cfg).await?;
            platform.db.close().await;
            println!("database is up to date ({:?})", platform.db.backend());
        }
        Command::Keys { command } => {
            let platform = iamsmart_server::start_platform(&cfg).await?;
            let now = platform.clock.now_ms();
            match command {
                KeysCommand::List => {
                    println!(
                        "{:<34} {:<6} {:<8} {:<7} {:<10} THUMBPRINT",
                        "KID", "USE", "ALG", "STORE", "STATE"
                    );
                    for k in platform.keys.list().await? {
                        println!(
                            "{:<34} {:<6} {:<8} {:<7} {:<10} {}",
                            k.kid,
                            k.purpose,
                            k.alg,
                            k.backend,
                            k.state(now),
                            k.public_jwk
                                .as_ref()
                                .map(|j| j.thumbprint())
                                .unwrap_or_else(|| "-".into())
                        );
                    }
                }
                KeysCommand::Rotate {
                    purpose,
                    alg,
                    kek,
                    immediate,
                } => {
                    let purpose = if kek {
                        Purpose::Kek
                    } else {
                        match purpose {
                            PurposeArg::Token => Purpose::Token,
                            PurposeArg::Log => Purpose::Log,
                            PurposeArg::Kek => Purpose::Kek,
                            PurposeArg::Connector => Purpose::Connector,
                        }
                    };
                    let alg = match alg {
                        AlgArg::Es256 => Alg::ES256,
                        AlgArg::Eddsa => Alg::EdDSA,
                        AlgArg::Rs256 => Alg::RS256,
                    };
                    let new = platform.keys.rotate(purpose, alg, immediate).await?;
                    println!(
                        "new key {} ({}, {}): published now, active from {} ms",
                        new.kid, new.purpose, new.alg, new.activate_at
                    );
                    if purpose == Purpose::Kek {
                        let n = platform.vault.rewrap_all().await?;
                        println!("re-wrapped {n} data keys under {}", new.kid);
                    }
                }
                KeysCommand::Revoke { kid } => {
                    let replacement = platform.keys.revoke(&kid).await?;
                    println!("key {kid} retired now: nothing accepts it any more");
                    if let Some(new) = replacement {
                        println!(
                            "new key {} ({}, {}) signs from now on",
                            new.kid, new.purpose, new.alg
                        );
                    }
                }
                KeysCommand::Rewrap => {
                    let n = platform.vault.rewrap_all().await?;
                    println!("re-wrapped {n} data keys");
                }
            }
            platform.db.close().await;
        }
        Command::Ca { command } => {
            let platform = iamsmart_server::start_platform(&cfg).await?;
            match command {
                CaCommand::Init {
                    organization,
                    root_key_out,
                    root_passphrase_file,
                } => {
                    let pass = std::fs::read_to_string(&root_passphrase_file).map_err(|e| {
                        anyhow!("cannot read {}: {e}", root_passphrase_file.display())
                    })?;
                    let auth = iamsmart_server::pki_cli::ca_init(
                        &platform.signing,
                        &organization,
                        Some(&root_key_out),
                        Some(pass.trim_end_matches(['\r', '\n'])),
                    )
                    .await?;
                    println!(
                        "certificate authority set up: {}; root key sealed in {} (keep it offline)",
                        iamsmart_server::pki_cli::describe(&auth)?,
                        root_key_out.display()
                    );
                }
                CaCommand::RootCrl {
                    root_key,
                    root_passphrase_file,
                    next_update_days,
                } => {
                    let pass = std::fs::read_to_string(&root_passphrase_file).map_err(|e| {
                        anyhow!("cannot read {}: {e}", root_passphrase_file.display())
                    })?;
                    let renewed = iamsmart_server::pki_cli::renew_root_crl(
                        &platform.signing,
                        &root_key,
                        pass.trim_end_matches(['\r', '\n']),
                        next_update_days,
                    )
                    .await?;
                    println!(
                        "root CRL renewed: number {}, next update {} (served at /pki/root.crl)",
                        renewed.number,
                        iamsmart_server::pki_cli::utc(renewed.next_update)
                    );
                }
                CaCommand::Renew {
                    role,
                    years,
                    compromised,
                } => {
                    use iamsmart_domain::signing::responders::{self, Responder};
                    let (who, label) = match role {
                        RenewRole::Ocsp => (Responder::Ocsp, "OCSP responder"),
                        RenewRole::Tsa => (Responder::Tsa, "timestamp authority"),
                    };
                    let r = responders::renew(&platform.signing, who, years, compromised).await?;
                    println!(
                        "{label} certificate renewed: serial {} (replaces {}), valid until {}; running servers use it within a minute",
                        r.serial,
                        r.previous_serial,
                        iamsmart_server::pki_cli::utc(r.not_after)
                    );
                    if compromised {
                        println!(
                            "certificate {} revoked now for key compromise; its key is retired",
                            r.previous_serial
                        );
                    } else {
                        println!(
                            "certificate {} is revoked (superseded) and its key retired in {} s",
                            r.previous_serial,
                            responders::HANDOVER_MS / 1000
                        );
                    }
                }
                CaCommand::Show => {
                    let auth = iamsmart_domain::signing::ca::load(&platform.signing).await?;
                    println!("# {}", iamsmart_server::pki_cli::describe(&auth)?);
                    let now = (platform.clock.now_ms() / 1000) as u64;
                    for (label, der) in [
                        ("root CA", &auth.root),
                        ("issuing CA", &auth.issuing),
                        ("OCSP responder", &auth.ocsp),
                        ("timestamp authority", &auth.tsa),
                    ] {
                        let (line, warning) =
                            iamsmart_server::pki_cli::describe_expiry(label, der, now)?;
                        println!("# {line}");
                        if let Some(w) = warning {
                            eprintln!("{w}");
                        }
                    }
                    match iamsmart_domain::signing::root_crl::status(&platform.signing).await {
                        Ok(crl) => {
                            let now = (platform.clock.now_ms() / 1000) as u64;
                            let (line, warning) =
                                iamsmart_server::pki_cli::describe_root_crl(&crl, now);
                            println!("# {line}");
                            if let Some(w) = warning {
                                eprintln!("{w}");
                            }
                        }
                        Err(e) => eprintln!("warning: the root CRL cannot be read: {e}"),
                    }
                    for der in [&auth.root, &auth.issuing, &auth.ocsp, &auth.tsa] {
                        print!("{}", iamsmart_crypto::pki::cert::to_pem(der));
                    }
                }
            }
            platform.db.close().await;
        }
        Command::Verify {
            file,
            content,
            digest,
        } => {
            let platform = iamsmart_server::start_platform(&cfg).await?;
            let valid = iamsmart_server::pki_cli::verify_file(
                &platform.signing,
                &file,
                content.as_deref(),
                digest.as_deref(),
            )
            .await?;
            platform.db.close().await;
            if !valid {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Clients { command } => {
            let platform = iamsmart_server::start_platform(&cfg).await?;
            iamsmart_server::clients_cli::run(&platform.oidc, command_to_spec(command)?).await?;
            platform.db.close().await;
        }
        Command::Witness {
            url,
            state,
            log_keys,
            every,
            for_secs,
        } => {
            let verdict =
                iamsmart_server::witness_cli::run(&url, &state, &log_keys, every, for_secs).await?;
            return Ok(ExitCode::from(verdict.exit_code()));
        }
        Command::Sandbox { command } => match command {
            SandboxCommand::Immd {
                listen,
                platform_url,
                seed,
                photos,
                delay_ms,
            } => {
                iamsmart_server::init_logging(&cfg);
                let c = iamsmart_server::sandbox::immd_config(
                    &platform_url,
                    seed.as_deref(),
                    photos,
                    std::time::Duration::from_millis(delay_ms),
                )?;
                iamsmart_server::sandbox::run_immd(&listen, c).await?;
            }
            SandboxCommand::Providers {
                listen,
                platform_url,
                register,
            } => {
                iamsmart_server::init_logging(&cfg);
                if register {
                    let platform = iamsmart_server::start_platform(&cfg).await?;
                    iamsmart_server::sandbox::register_providers(
                        &platform,
                        &format!("http://{listen}"),
                    )
                    .await?;
                    platform.db.close().await;
                }
                iamsmart_server::sandbox::run_providers(&listen, &platform_url).await?;
            }
            SandboxCommand::CreateResident {
                app_home,
                level,
                pin,
                hkid,
                kdf_memory_mib,
            } => {
                let level = match level {
                    LevelArg::Basic => Level::Basic,
                    LevelArg::Plus => Level::Plus,
                };
                let kdf = iamsmart_app::kdf_with_memory_mib(kdf_memory_mib)?;
                let out = iamsmart_server::sandbox::create_resident(
                    &cfg,
                    &app_home,
                    level,
                    &pin,
                    hkid.as_deref(),
                    kdf,
                )
                .await?;
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            SandboxCommand::ActivationCode { level, hkid } => {
                let level = match level {
                    LevelArg::Basic => Level::Basic,
                    LevelArg::Plus => Level::Plus,
                };
                let out =
                    iamsmart_server::sandbox::activation_code(&cfg, level, hkid.as_deref()).await?;
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
        },
        Command::Audit {
            command:
                AuditCommand::Verify {
                    witness_state,
                    log_keys,
                },
        } => {
            let platform = iamsmart_server::start_platform(&cfg).await?;
            let mut trust = iamsmart_domain::audit::verify::Trust {
                pinned_log_keys: cfg.audit.log_key_thumbprints.clone(),
                witness: None,
            };
            trust.pinned_log_keys.extend(log_keys);
            if let Some(path) = witness_state {
                if !path.exists() {
                    return Err(anyhow!("{}: no such witness state file", path.display()));
                }
                trust.witness = Some(iamsmart_app::witness::load(&path)?);
            }
            let report =
                iamsmart_domain::audit::verify::verify_with(&platform.db, &platform.keys, &trust)
                    .await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if let Some(p) = report.problem {
                eprintln!("audit log verification FAILED: {p:?}");
                return Ok(ExitCode::from(2));
            }
            println!(
                "audit log verified: {} entries, {} signed tree heads",
                report.entries, report.tree_heads_checked
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn command_to_spec(c: ClientsCommand) -> anyhow::Result<iamsmart_server::clients_cli::Spec> {
    use iamsmart_server::clients_cli::Spec;
    Ok(match c {
        ClientsCommand::Create {
            name,
            texts,
            redirect_uris,
            jwks_file,
            jwks_uri,
            profile,
            kek_cert,
            callback_uri,
            scope,
            public_subject,
            ciba,
            ciba_notification_endpoint,
            backchannel_logout_uri,
            post_logout_redirect_uris,
            requester_type,
        } => {
            let jwks = match jwks_file {
                Some(f) => Some(
                    serde_json::from_slice(
                        &std::fs::read(&f)
                            .map_err(|e| anyhow!("--jwks-file {}: {e}", f.display()))?,
                    )
                    .map_err(|e| anyhow!("--jwks-file {}: not JSON: {e}", f.display()))?,
                ),
                None => None,
            };
            Spec::Create {
                name,
                texts,
                redirect_uris,
                jwks,
                jwks_uri,
                profile: match profile {
                    ProfileArg::Fapi2 => ClientProfile::Fapi2,
                    ProfileArg::Basic => ClientProfile::Basic,
                    ProfileArg::IamsmartApi => ClientProfile::IamsmartApi,
                },
                kek_cert: match kek_cert {
                    Some(f) => Some(
                        std::fs::read(&f)
                            .map_err(|e| anyhow!("--kek-cert {}: {e}", f.display()))?,
                    ),
                    None => None,
                },
                callback_uri,
                scope,
                public_subject,
                ciba: ciba.map(|c| match c {
                    CibaArg::Poll => "poll".into(),
                    CibaArg::Ping => "ping".into(),
                }),
                ciba_notification_endpoint,
                backchannel_logout_uri,
                post_logout_redirect_uris,
                requester_type,
            }
        }
        ClientsCommand::InitialToken { hours, uses } => Spec::InitialToken { hours, uses },
        ClientsCommand::Disable { client_id } => Spec::Disable { client_id },
        ClientsCommand::Log { client_id, limit } => Spec::Log { client_id, limit },
    })
}
