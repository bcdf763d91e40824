//! Loading, validating and redacting the configuration.
#[test]
fn the_configuration_gives_the_domain_its_own_defaults() {
    let c = super::Config::default();
    let oidc = iamsmart_domain::oidc::OidcPolicy::new(&c.public_url);
    assert_eq!(format!("{:?}", c.oidc_policy()), format!("{oidc:?}"));
    let notify = iamsmart_domain::notify::NotifyPolicy::default();
    assert_eq!(format!("{:?}", c.notify.policy()), format!("{notify:?}"));
    let identity = iamsmart_domain::platform::IdentityPolicy {
        // The one limit that follows another setting (a third of the upload limit).
        max_image_bytes: c.http.upload_limit_bytes / 3,
        ..Default::default()
    };
    assert_eq!(
        format!("{:?}", c.identity_policy()),
        format!("{identity:?}")
    );
}

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_are_valid() {
    let c = Config::load(None, &env(&[])).unwrap();
    assert_eq!(c.listen, "127.0.0.1:8080");
    assert!(c.database_url().starts_with("sqlite://"));
    assert!(c.database_url().ends_with("iamsmart.db"));
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(
        &f,
        "listen = \"127.0.0.1:9000\"\n[http]\nbody_limit_bytes = 4096\n",
    )
    .unwrap();
    let secret = dir.path().join("db");
    std::fs::write(&secret, "postgres://u:pw@127.0.0.1/x\n").unwrap();
    let c = Config::load(
        Some(&f),
        &env(&[
            ("IAMSMART_LISTEN", "127.0.0.1:9100"),
            ("IAMSMART_HTTP__RATE_LIMIT_BURST", "7"),
            ("IAMSMART_HTTP__TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5"),
            ("IAMSMART_DATABASE_URL_FILE", secret.to_str().unwrap()),
            ("IAMSMART_MASTER_KEY_FILE", "/run/secrets/mk"),
            ("IAMSMART_TEST_DATABASE_URL", "ignored"),
            ("IAMSMART_ADMIN_TOKEN_FILE", "/run/secrets/admin"),
            ("PATH", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(c.listen, "127.0.0.1:9100");
    assert_eq!(c.http.body_limit_bytes, 4096);
    assert_eq!(c.http.rate_limit_burst, 7);
    assert_eq!(c.http.trusted_proxies, ["10.0.0.0/8", "192.168.1.5"]);
    assert_eq!(c.trusted_proxies().unwrap().len(), 2);
    assert_eq!(
        c.database_url.as_deref(),
        Some("postgres://u:pw@127.0.0.1/x")
    );
    assert_eq!(c.master_key_file(), PathBuf::from("/run/secrets/mk"));
    assert_eq!(
        c.admin.token_file,
        Some(PathBuf::from("/run/secrets/admin"))
    );
    assert!(c.redacted().contains("postgres://u:***@127.0.0.1/x"));
    assert!(!c.redacted().contains("pw"));
}

#[test]
fn public_information_feeds_are_configured_per_feed() {
    let c = Config::load(
        None,
        &env(&[
            ("IAMSMART_PUBLIC_INFO__SOURCE", "bundled"),
            (
                "IAMSMART_PUBLIC_INFO__WEATHER__URL_TC",
                "http://127.0.0.1:9/rhrread?lang=tc",
            ),
            ("IAMSMART_PUBLIC_INFO__TRAFFIC__INTERVAL_SECS", "5"),
            ("IAMSMART_PUBLIC_INFO__ENABLED", "false"),
        ]),
    )
    .unwrap();
    let p = &c.public_info;
    assert!(p.bundled() && !p.enabled);
    assert_eq!(p.weather.url_tc, "http://127.0.0.1:9/rhrread?lang=tc");
    assert!(p.weather.url_en.contains("dataType=rhrread&lang=en"));
    assert_eq!(p.traffic.interval_secs, 5);
    assert!(Config::default()
        .public_info
        .nine_day
        .url_en
        .contains("dataType=fnd"));
}

#[test]
fn unknown_keys_are_rejected_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, "[http]\nbody_limit = 5\n").unwrap();
    let e = Config::load(Some(&f), &env(&[])).unwrap_err();
    assert_eq!(e.key, "http.body_limit");
    assert!(e.message.contains("unknown field `body_limit`"), "{e}");
    let e = Config::load(None, &env(&[("IAMSMART_LISTN", "x")])).unwrap_err();
    assert_eq!(e.key, "IAMSMART_LISTN");
}

#[test]
fn bad_values_name_the_key_and_the_fix() {
    let e = Config::load(None, &env(&[("IAMSMART_LISTEN", "localhost")])).unwrap_err();
    assert_eq!(e.key, "listen");
    assert!(e.message.contains("host:port"));
    let e = Config::load(None, &env(&[("IAMSMART_HTTP__BODY_LIMIT_BYTES", "lots")])).unwrap_err();
    assert_eq!(e.key, "http.body_limit_bytes", "{e}");
    let e = Config::load(None, &env(&[("IAMSMART_KEYS__BACKEND", "hsm")])).unwrap_err();
    assert_eq!(e.key, "keys.backend");
    let e = Config::load(None, &env(&[("IAMSMART_KEYS__BACKEND", "pkcs11")])).unwrap_err();
    assert_eq!(e.key, "keys.pkcs11.module");
    let e = Config::load(None, &env(&[("IAMSMART_DATABASE_URL", "mysql://x")])).unwrap_err();
    assert_eq!(e.key, "database_url");
    let e = Config::load(None, &env(&[("IAMSMART_PUBLIC_INFO__SOURCE", "cache")])).unwrap_err();
    assert_eq!(e.key, "public_info.source");
    let e = Config::load(
        None,
        &env(&[("IAMSMART_PUBLIC_INFO__TRAFFIC__URL", "ftp://x/y.xml")]),
    )
    .unwrap_err();
    assert_eq!(e.key, "public_info.traffic.url");
    let e = Config::load(
        None,
        &env(&[("IAMSMART_PUBLIC_INFO__WEATHER__INTERVAL_SECS", "0")]),
    )
    .unwrap_err();
    assert_eq!(e.key, "public_info.weather.interval_secs");
    let e = Config::load(None, &env(&[("IAMSMART_PUBLIC_INFO__WEATHER__URL", "x")])).unwrap_err();
    assert_eq!(e.key, "IAMSMART_PUBLIC_INFO__WEATHER__URL");
    for arc in ["", "1.3.6.x", "3.1", "1.3.6.1.4.1.99999999999"] {
        let e = Config::load(None, &env(&[("IAMSMART_SIGNING__OID_ARC", arc)])).unwrap_err();
        assert_eq!(e.key, "signing.oid_arc", "{arc:?}");
        assert!(e.message.contains("dotted decimal"), "{e}");
    }
    let c = Config::load(
        None,
        &env(&[("IAMSMART_SIGNING__OID_ARC", "1.3.6.1.4.1.64000")]),
    )
    .unwrap();
    assert_eq!(c.signing.oid_arc, "1.3.6.1.4.1.64000");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, "listen = [").unwrap();
    let e = Config::load(Some(&f), &env(&[])).unwrap_err();
    assert!(e.message.contains("not valid TOML"));
}
