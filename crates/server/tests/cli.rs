//! The command line: one-line errors that name the cause and the fix, and the maintenance commands.
mod common;
use common::*;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test]
async fn configuration_errors_are_one_line_and_name_the_key() {
    let site = Site::new().await;
    let o = site.run(&["config", "check"], &[("IAMSMART_LISTN", "x")]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(e.contains("IAMSMART_LISTN"), "{e}");

    let cfg = site.dir.path().join("bad.toml");
    std::fs::write(&cfg, "[keys]\nbackend = \"hsm\"\n").unwrap();
    let o = site.run(&["--config", cfg.to_str().unwrap(), "config", "check"], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("keys.backend"));

    let o = site.run(&["config", "check"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("configuration is valid"));
}

#[tokio::test]
async fn unreachable_database_and_unwritable_data_dir_fail_clearly() {
    let site = Site::new().await;
    let port = iamsmart_testkit::free_port();
    let url = format!("postgres://postgres:secretpw@127.0.0.1:{port}/nothing");
    let o = site.run(
        &["migrate"],
        &[
            ("IAMSMART_DATABASE_URL", &url),
            ("IAMSMART_DATABASE__ACQUIRE_TIMEOUT_SECS", "1"),
        ],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("cannot open the database") && e.contains("IAMSMART_DATABASE_URL"),
        "{e}"
    );
    assert!(!e.contains("secretpw"), "password shown: {e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");

    let ro = site.dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::write(ro.join("data"), b"a file where a directory should be").unwrap();
    let dd = ro.join("data");
    let url = format!("sqlite://{}/x.db", dd.display());
    let o = site.run(
        &["migrate"],
        &[
            ("IAMSMART_DATA_DIR", dd.to_str().unwrap()),
            ("IAMSMART_DATABASE_URL", &url),
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("data_dir"), "{}", stderr(&o));
}

#[tokio::test]
async fn a_wrong_master_key_is_refused_before_anything_is_written() {
    let site = Site::new().await;
    let o = site.run(&["migrate"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let other = site.dir.path().join("other.key");
    std::fs::write(&other, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let o = site.run(
        &["keys", "list"],
        &[("IAMSMART_MASTER_KEY_FILE", other.to_str().unwrap())],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("master key"), "{}", stderr(&o));
    // A master key readable by others is refused too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mk = site.data_dir().join("master.key");
        assert_eq!(
            std::fs::metadata(&mk).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&mk, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = site.run(&["keys", "list"], &[]);
        assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
        std::fs::set_permissions(&mk, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let o = site.run(&["keys", "list"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[tokio::test]
async fn keys_rotate_and_audit_verify_from_the_command_line() {
    let site = Site::new().await;
    assert!(site.run(&["migrate"], &[]).status.success());
    let o = site.run(&["keys", "rotate"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = site.run(&["keys", "rotate", "--kek"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list = String::from_utf8_lossy(&site.run(&["keys", "list"], &[]).stdout).to_string();
    assert!(
        list.contains("published") && list.contains("retiring"),
        "{list}"
    );
    let o = site.run(&["audit", "verify"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("audit log verified"));

    // Tamper with one entry: verify reports it and exits non-zero.
    let db = iamsmart_store::Db::connect(&site.db_url, &Default::default())
        .await
        .unwrap();
    iamsmart_store::sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1")
        .execute(db.writer())
        .await
        .unwrap();
    db.close().await;
    let o = site.run(&["audit", "verify"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\"seq\": 1"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
