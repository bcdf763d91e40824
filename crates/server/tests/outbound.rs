//! The outbound guard, through the real server: a service that registers a `jwks_uri` on an
//! internal address gets a plain `invalid_client` and the platform never calls it; an endless
//! answer is cut at the size limit (the platform hangs up long before a gigabyte); a failed URL
//! is not called again at once.
mod common;
use common::rp::*;
use common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A local HTTP server that answers every request with an endless JSON body; counts the
/// connections and the bytes it managed to send.
async fn endless_server() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/jwks.json",
        listener.local_addr().unwrap().port()
    );
    let (conns, sent) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c, s) = (conns.clone(), sent.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let s = s.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"keys\": [";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                // Up to a gigabyte, or until the platform hangs up.
                for _ in 0..(1 << 14) {
                    if sock.write_all(&chunk).await.is_err() {
                        return;
                    }
                    s.fetch_add(chunk.len(), Ordering::SeqCst);
                }
            });
        }
    });
    (url, conns, sent)
}

/// A FAPI client whose keys are at `jwks_uri`; returns its id.
fn client_with_jwks_uri(site: &Site, jwks_uri: &str) -> String {
    let out = site.run(
        &[
            "clients",
            "create",
            "--name",
            "Keys elsewhere",
            "--redirect-uri",
            "https://service.example/cb",
            "--jwks-uri",
            jwks_uri,
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok_json(&out)["client_id"].as_str().unwrap().to_string()
}

/// A client-credentials call with a (never checked) assertion of `client_id`.
async fn token(srv: &Server, client_id: &str) -> (u16, Value) {
    let key = Key::new("k");
    let assertion = key.sign(
        "JWT",
        &json!({ "iss": client_id, "sub": client_id, "aud": srv.base, "exp": now_s() + 60,
                 "iat": now_s(), "jti": random() }),
    );
    let r = reqwest::Client::new()
        .post(srv.url("/token"))
        .header("DPoP", key.dpop("POST", &srv.url("/token"), None))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_jwks_uri_on_an_internal_address_is_never_called_and_the_error_says_nothing() {
    let site = Site::new().await;
    // No allow-list: a production deployment.
    let srv = site.serve(&[("IAMSMART_OUTBOUND__ALLOW", "")]).await;
    let (url, conns, _) = endless_server().await;
    let id = client_with_jwks_uri(&site, &url);
    let (status, e) = token(&srv, &id).await;
    assert_eq!(status, 401, "{e}");
    assert_eq!(e["error"], "invalid_client");
    let said = e["error_description"].as_str().unwrap_or_default();
    for leak in [
        "127.0.0.1",
        "connect",
        "error sending",
        "tcp",
        "refused",
        "status",
    ] {
        assert!(!said.contains(leak), "the answer says {said:?}");
    }
    assert_eq!(
        conns.load(Ordering::SeqCst),
        0,
        "the platform never called it"
    );
}

#[tokio::test]
async fn an_endless_answer_is_cut_at_the_limit_and_a_failed_url_waits() {
    let site = Site::new().await;
    // Loopback allowed (a sandbox), with the default 256 KiB limit.
    let srv = site.serve(&[]).await;
    let (url, conns, sent) = endless_server().await;
    let id = client_with_jwks_uri(&site, &url);
    let started = std::time::Instant::now();
    let (status, e) = token(&srv, &id).await;
    assert_eq!(status, 401, "{e}");
    assert_eq!(e["error"], "invalid_client");
    assert!(
        started.elapsed().as_secs() < 10,
        "cut short, not read to the end"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    let bytes = sent.load(Ordering::SeqCst);
    assert!(
        bytes < 64 * 1024 * 1024,
        "the platform hung up after {bytes} bytes, far from a gigabyte"
    );
    // Asked again at once: the failure is remembered, the URL is not called.
    let (status, _) = token(&srv, &id).await;
    assert_eq!(status, 401);
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "not called again within the failure time"
    );
}
