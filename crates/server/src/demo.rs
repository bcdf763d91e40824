//! `iamsmart demo`: the whole platform on 127.0.0.1 with an embedded SQLite database under
//! ./data, an operator token written to ./data/admin.token, and the URLs printed.
use crate::config::Config;
use iamsmart_crypto::rng::{token, SystemRng};

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
    let platform = crate::start_platform(&cfg).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let cfg2 = cfg.clone();
    let server = tokio::spawn(async move { crate::serve(&cfg2, platform, Some(tx)).await });
    if let Ok(addr) = rx.await {
        let base = format!("http://{addr}");
        println!();
        println!(
            "iamsmart demo is running (SQLite under {})",
            cfg.data_dir.display()
        );
        println!("  health             {base}/healthz   readiness {base}/readyz");
        println!("  token signing keys {base}/.well-known/jwks.json");
        println!("  transparency log   {base}/transparency/v1/tree-head");
        println!("  metrics            {base}/metrics");
        println!(
            "  operator API       {base}/admin/v1/residents  (Bearer token in {})",
            token_file.display()
        );
        println!("Press Ctrl-C to stop.");
        println!();
    }
    server.await??;
    Ok(())
}
