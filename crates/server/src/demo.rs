//! `iamsmart demo`: the whole platform on 127.0.0.1 with an embedded SQLite database under
//! ./data, an operator token written to ./data/admin.token, and the URLs printed.
use crate::config::Config;
use iamsmart_crypto::rng::{token, SystemRng};
use iamsmart_domain::oidc::clients::{ClientProfile, RequesterType};

/// Run the demo until Ctrl-C.
pub async fn run(mut cfg: Config) -> anyhow::Result<()> {
    if cfg.database_url.is_none() {
        cfg.database_url = Some(format!(
            "sqlite://{}",
            cfg.data_dir.join("demo.db").display()
        ));
    }
    if std::env::var_os("IAMSMART_LOG__FORMAT").is_none() {
        cfg.log.format = "text".into();
    }
    // Browsers refuse passkeys on IP addresses: the demo's pages are at localhost.
    if std::env::var_os("IAMSMART_PUBLIC_URL").is_none()
        && cfg.public_url == Config::default().public_url
    {
        let port = cfg.listen.rsplit(':').next().unwrap_or("8080").to_string();
        cfg.public_url = format!("http://localhost:{port}");
    }
    // The sandbox's services (registry, data providers, the demo service) are on this host: the
    // outbound guard may call loopback here, and only here.
    if cfg.outbound.allow.is_empty() {
        cfg.outbound.allow = vec!["127.0.0.0/8".into(), "::1".into()];
    }
    // Without network the demo shows the samples compiled in (the page says "sample data").
    if cfg.public_info.source.is_none() {
        cfg.public_info.source = Some("bundled".into());
    }
    crate::check_data_dir(&cfg)?;
    let token_file = cfg.data_dir.join("admin.token");
    if cfg.admin.token.is_none() && cfg.admin.token_file.is_none() {
        if !token_file.exists() {
            std::fs::write(&token_file, token(&SystemRng, 24))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
        cfg.admin.token_file = Some(token_file.clone());
    }
    crate::init_logging(&cfg);
    // The sandbox immigration registry, on a port of its own.
    let immd_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let immd_url = format!("http://{}/immd", immd_listener.local_addr()?);
    let immd_cfg = crate::sandbox::immd_config(&cfg.public_url, None, None, Default::default())?;
    let residents = immd_cfg.residents.clone();
    tokio::spawn(iamsmart_sandbox::immd::serve(immd_listener, immd_cfg));
    if cfg.registry.url.is_none() {
        cfg.registry.url = Some(immd_url.clone());
    }
    if cfg.face.models_dir.is_none() && cfg!(feature = "face") {
        cfg.face.models_dir = crate::sandbox::face_data_dir().map(|d| d.join("models"));
    }
    let platform = crate::start_platform(&cfg).await?;
    let face = platform.identity.face.available();
    // The sandbox data providers of the exchange gateway, on a port of their own.
    let providers_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let providers_url = format!("http://{}", providers_listener.local_addr()?);
    tokio::spawn(iamsmart_sandbox::providers::serve(
        providers_listener,
        format!(
            "{}/connectors/v1/jwks.json",
            cfg.public_url.trim_end_matches('/')
        ),
    ));
    crate::sandbox::register_providers(&platform, &providers_url).await?;
    // Digital signing: a sandbox certificate authority (its root key is not kept: the demo's
    // root never signs again after set-up).
    if !iamsmart_domain::signing::ca::is_set_up(&platform).await? {
        crate::pki_cli::ca_init(&platform.signing, "iAM Smart Sandbox", None, None).await?;
    }
    // The demo online service, registered as a basic client.
    let service_listener = tokio::net::TcpListener::bind(&cfg.demo.service_listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "demo.service_listen {}: {e}; set IAMSMART_DEMO__SERVICE_LISTEN",
                cfg.demo.service_listen
            )
        })?;
    let service_url = cfg.demo.service_url.trim_end_matches('/').to_string();
    // It authenticates with a signed assertion (private_key_jwt) and, being a government
    // service, may ask the exchange gateway for the applicant's driving licence (signed, DPoP
    // requests); the data comes encrypted to a key it holds in memory. Both keys live as long as
    // the demo: it registers the service afresh at every start.
    let client_key = std::sync::Arc::new(iamsmart_crypto::device::DeviceKey::generate()?);
    let mut sig_jwk = serde_json::to_value(client_key.public_jwk())?;
    sig_jwk["kid"] = "demo-sig-1".into();
    sig_jwk["alg"] = "ES256".into();
    sig_jwk["use"] = "sig".into();
    let enc_key = std::sync::Arc::new(iamsmart_crypto::jwe::EncryptionKey::generate("demo-enc-1")?);
    let mut meta = iamsmart_domain::oidc::clients::ClientMetadata::for_profile(
        "Online Application for International Driving Permit",
        vec![format!("{service_url}/callback")],
        ClientProfile::Basic,
    );
    meta.client_name_zh_hant = Some("網上申請國際駕駛許可證".into());
    meta.client_name_zh_hans = Some("网上申请国际驾驶许可证".into());
    meta.iamsmart_department = Some("Transport Department (demonstration)".into());
    meta.iamsmart_department_zh_hant = Some("運輸署（示範）".into());
    meta.iamsmart_department_zh_hans = Some("运输署（示范）".into());
    meta.iamsmart_purpose =
        Some("To fill in your application for an International Driving Permit".into());
    meta.iamsmart_purpose_zh_hant = Some("為你填寫國際駕駛許可證申請表".into());
    meta.iamsmart_purpose_zh_hans = Some("为你填写国际驾驶许可证申请表".into());
    meta.iamsmart_retention_days = Some(90);
    meta.iamsmart_data_contact = Some("idp-demo@td.example.hk".into());
    meta.iamsmart_requester_type = Some(RequesterType::Government);
    meta.token_endpoint_auth_method = "private_key_jwt".into();
    meta.jwks = Some(serde_json::json!({ "keys": [sig_jwk, enc_key.public_jwk()?] }));
    // One-tap entry from the portal starts its login here (third-party-initiated login).
    meta.initiate_login_uri = Some(format!("{service_url}/login"));
    let client =
        iamsmart_domain::oidc::clients::register(&platform.oidc, meta, "operator:demo", true)
            .await
            .map_err(|e| anyhow::anyhow!("registering the demo service: {e}"))?;
    // The portal's entry for the permit points at the sandbox service and its client.
    let index = platform.portal.index().await?;
    if let Some(entry) = index.catalogue().get("td-international-driving-permit") {
        let mut entry = entry.clone();
        entry.url = service_url.clone();
        entry.client_id = Some(client.client_id.to_string());
        entry.features.one_tap_login = true;
        entry.features.form_filling = true;
        entry.features.signing = true;
        // Signing needs iAM Smart+.
        entry.requirements.level = iamsmart_domain::portal::catalogue::Level::Plus;
        platform.portal.upsert(entry, "operator:demo").await?;
    }
    // The demo resident (the registry's first) and a fresh activation code for the web app.
    let app_link = match residents.first() {
        Some(r) => Some(crate::sandbox::demo_resident(&platform, r).await),
        None => None,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let cfg2 = cfg.clone();
    let server = tokio::spawn(async move { crate::serve(&cfg2, platform, Some(tx)).await });
    if let Ok(addr) = rx.await {
        tokio::spawn(iamsmart_sandbox::demo_service::serve(
            service_listener,
            iamsmart_sandbox::demo_service::DemoServiceConfig {
                issuer: cfg.public_url.clone(),
                platform_backchannel: format!("http://{addr}"),
                public_url: service_url.clone(),
                client_id: client.client_id.to_string(),
                client_key,
                client_kid: "demo-sig-1".into(),
                enc_key: Some(enc_key),
                witness_state: Some(cfg.data_dir.join("demo-service-log-witness.json")),
            },
        ));
        let base = cfg.public_url.clone();
        println!();
        println!(
            "iamsmart demo is running (SQLite under {})",
            cfg.data_dir.display()
        );
        println!();
        println!("  START HERE         {service_url}   (Online Application for International Driving Permit)");
        println!("  the portal         {base}/   (find a service in English or Chinese; one tap into it once signed in)");
        println!("  your account       {base}/account");
        println!(
            "  public information {base}/public   ({} data)",
            if cfg.public_info.bundled() {
                "sample"
            } else {
                "live"
            }
        );
        println!();
        println!("  health             {base}/healthz   readiness {base}/readyz");
        println!("  OpenID provider    {base}/.well-known/openid-configuration");
        println!("  integration guide  {base}/docs/integration-guide");
        println!("  token signing keys {base}/.well-known/jwks.json");
        println!("  transparency log   {base}/transparency/v1/tree-head   (witnessed by the demo service: {service_url}/log-witness)");
        println!(
            "  metrics            {base}/metrics  (Bearer token in {})",
            token_file.display()
        );
        println!(
            "  operator API       {base}/admin/v1/  (Bearer token in {})",
            token_file.display()
        );
        println!(
            "  sandbox registry   {immd_url}/v1/residents  ({} synthetic residents)",
            residents.len()
        );
        println!(
            "  data providers     {providers_url}/{{td,ird,hd,edb}}/v1/items  (gateway catalogue {base}/gateway/v1/catalogue)"
        );
        println!(
            "  face matching      {}",
            if face {
                "on (self-registration in the app works)"
            } else {
                "off: build with --features face and run scripts/fetch-face-data; counter registration works"
            }
        );
        if let Some(r) = residents.first() {
            println!();
            println!(
                "The resident's app (a web app; open it in a second tab or a phone-size window):"
            );
            match app_link {
                Some(Ok(issued)) => {
                    println!(
                        "  ACTIVATE THE APP   {base}/app/#/activate?code={}",
                        issued.activation_code
                    );
                    println!(
                        "                     for the demo resident {} ({}), iAM Smart+; the code works once, for {} hours",
                        r.name_en,
                        r.hkid,
                        cfg.identity.activation_code_ttl_hours
                    );
                }
                Some(Err(e)) => println!("  (no activation code for the demo resident: {e})"),
                None => {}
            }
            println!("Then sign in at START HERE: the login page's \"Open iAM Smart\" opens the app, which brings you back.");
            println!(
                "The command-line app works too: cargo run --release -- sandbox create-resident --app-home ./data/app-demo"
            );
            println!(
                "  (with IAMSMART_DATABASE_URL={} IAMSMART_PUBLIC_URL={base}), then iamsmart-app approve 'iamsmart:approve?id=...' --match NNNN",
                cfg.database_url()
            );
            println!(
                "Or self-register {} ({}, born {}) in the app or with iamsmart-app register --platform {base} ...",
                r.name_en, r.hkid, r.date_of_birth
            );
        }
        println!("Press Ctrl-C to stop.");
        println!();
    }
    server.await??;
    Ok(())
}
