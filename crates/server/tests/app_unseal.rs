//! Issue 16, finding 3: a stolen app home cannot be brute-forced offline. The command-line app's
//! keys are sealed under a secret the platform takes part in (RFC 9497 OPRF): with the home and
//! every local file but without the platform, not even the right PIN opens them; with it, each
//! try is counted, a right PIN starts the count again, and the sixth try after five wrong PINs
//! locks the phone.
mod common;
use common::rp::*;
use common::signing::text;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_platform_no_pin_can_be_tried_and_the_sixth_wrong_try_locks() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let (_, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    ok_json(&app(&home, &["me"]));
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.join("device.json")).unwrap()).unwrap();
    assert_eq!(
        file["platform_unseal"], true,
        "sealed with the platform's part"
    );

    // Offline: the right PIN alone opens nothing, and the app cannot check a PIN.
    let sealed: iamsmart_crypto::device::SealedDeviceKey =
        serde_json::from_value(file["key"].clone()).unwrap();
    assert!(iamsmart_crypto::device::DeviceKey::open(&sealed, APP_PIN).is_err());
    assert!(iamsmart_app::App::open(&home, APP_PIN).is_err());
    let stolen = site.dir.path().join("stolen-home");
    std::fs::create_dir_all(&stolen).unwrap();
    for f in std::fs::read_dir(&home).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, stolen.join(f.file_name().unwrap())).unwrap();
    }
    let mut copy = file.clone();
    copy["platform_url"] = serde_json::json!(format!(
        "http://127.0.0.1:{}",
        iamsmart_testkit::free_port()
    ));
    std::fs::write(stolen.join("device.json"), copy.to_string()).unwrap();
    for pin in [APP_PIN, "135792"] {
        let o = app_with_pin(&stolen, pin, &["me"]);
        assert_eq!(
            o.status.code(),
            Some(5),
            "cannot reach the platform: {}",
            text(&o)
        );
    }

    // Without the home's unseal token nobody can spend the phone's tries (and so lock it).
    let device_id = file["device_id"].as_str().unwrap();
    let http = reqwest::Client::new();
    for _ in 0..8 {
        let r = http
            .post(srv.url(&format!("/app/v1/devices/{device_id}/unseal")))
            .json(&serde_json::json!({ "blinded": "AAAA", "token": "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", r.text().await.unwrap());
    }
    ok_json(&app(&home, &["me"]));

    // Online: wrong PINs are counted, a right one starts the count again.
    for left in [4, 3] {
        let o = app_with_pin(&home, "135792", &["me"]);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        assert!(
            text(&o).contains(&format!("{left} tries left")),
            "{}",
            text(&o)
        );
    }
    ok_json(&app(&home, &["me"]));
    for left in [4, 3, 2, 1, 0] {
        let o = app_with_pin(&home, "135792", &["me"]);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        assert!(
            text(&o).contains(&format!("{left} tries left")),
            "{}",
            text(&o)
        );
    }
    // The sixth try locks the phone, whatever the PIN.
    let o = app(&home, &["me"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let o = app(&home, &["me"]);
    assert_eq!(o.status.code(), Some(4), "locked for good: {}", text(&o));
}
