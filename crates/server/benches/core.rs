//! Core operation throughput: `cargo bench -p iamsmart-server --bench core`.
//! Each measurement runs for a bounded time and prints operations per second; results and the
//! machine go into BENCHMARKS.md.
use iamsmart_crypto::envelope::{self, FieldContext, KekRef};
use iamsmart_crypto::jose::{self, Alg, JwsHeader};
use iamsmart_crypto::keystore::file::FileKeyStore;
use iamsmart_crypto::keystore::{KeyKind, KeyStore};
use iamsmart_crypto::rng::SystemRng;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

const BUDGET: Duration = Duration::from_millis(1500);

fn rate(name: &str, mut op: impl FnMut()) {
    for _ in 0..10 {
        op();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < BUDGET {
        op();
        n += 1;
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "{name:<48} {:>12.0} ops/s  {:>9.1} µs/op",
        n as f64 / s,
        s * 1e6 / n as f64
    );
}

async fn rate_async<F, Fut>(name: &str, mut op: F)
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < BUDGET {
        op(n).await;
        n += 1;
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "{name:<48} {:>12.0} ops/s  {:>9.1} µs/op",
        n as f64 / s,
        s * 1e6 / n as f64
    );
}

fn signing(ks: &dyn KeyStore, label: &str) {
    for alg in [Alg::ES256, Alg::EdDSA] {
        let kid = format!("bench-{}-{}", label, alg.as_str());
        let Ok(g) = ks.generate(&kid, KeyKind::Signing(alg)) else {
            println!("{label}: {} not available", alg.as_str());
            continue;
        };
        let header = JwsHeader {
            alg,
            kid: Some(kid.clone()),
            typ: None,
            extra: Default::default(),
        };
        let payload =
            br#"{"iss":"https://id.example","sub":"abc","aud":"client","exp":1900000000}"#;
        rate(&format!("{label}: JWS sign {}", alg.as_str()), || {
            jose::sign_compact(&header, payload, |i| ks.sign(&kid, &g.handle, alg, i)).unwrap();
        });
        let token =
            jose::sign_compact(&header, payload, |i| ks.sign(&kid, &g.handle, alg, i)).unwrap();
        let keys = [g.public_jwk.clone().unwrap()];
        rate(&format!("{label}: JWS verify {}", alg.as_str()), || {
            jose::verify_compact(&token, &keys, &[alg]).unwrap();
        });
    }
    let kek = ks
        .generate(&format!("bench-{label}-kek"), KeyKind::Kek)
        .unwrap();
    let kid = format!("bench-{label}-kek");
    let ctx = FieldContext {
        table: "residents",
        column: "name_en",
        row: "r_bench",
    };
    let sealed = envelope::seal(
        ks,
        KekRef {
            kid: &kid,
            handle: &kek.handle,
        },
        &ctx,
        b"CHAN Tai Man",
        &SystemRng,
    )
    .unwrap();
    rate(
        &format!("{label}: seal a field (new data key, wrap)"),
        || {
            envelope::seal(
                ks,
                KekRef {
                    kid: &kid,
                    handle: &kek.handle,
                },
                &ctx,
                b"CHAN Tai Man",
                &SystemRng,
            )
            .unwrap();
        },
    );
    let resolve = |_: &str| Some(kek.handle.clone());
    rate(&format!("{label}: open a field (unwrap, decrypt)"), || {
        envelope::open(ks, &resolve, &ctx, &sealed).unwrap();
    });
}

fn main() {
    let file = FileKeyStore::from_master_key(Zeroizing::new([9u8; 32]));
    signing(&file, "file");

    let module = std::path::Path::new("/usr/lib/softhsm/libsofthsm2.so");
    if module.exists() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        let conf = dir.path().join("c.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\n",
                dir.path().join("t").display()
            ),
        )
        .unwrap();
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let ok = std::process::Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                "bench",
                "--pin",
                "1234",
                "--so-pin",
                "5678",
            ])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            let hsm =
                iamsmart_crypto::keystore::pkcs11::Pkcs11KeyStore::open(module, "bench", "1234")
                    .unwrap();
            signing(&hsm, "softhsm");
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for engine in [
            "sqlite".to_string(),
            std::env::var("IAMSMART_TEST_POSTGRES_URL").unwrap_or_default(),
        ] {
            if engine.is_empty() {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            let url = iamsmart_testkit::create_database_on(&engine, dir.path())
                .await
                .unwrap();
            let db = iamsmart_store::Db::connect(&url, &Default::default())
                .await
                .unwrap();
            db.migrate().await.unwrap();
            let label = if engine == "sqlite" {
                "sqlite"
            } else {
                "postgres"
            };
            rate_async(
                &format!("{label}: audit append (one transaction each)"),
                |i| {
                    let db = db.clone();
                    async move {
                        let mut tx = db.begin().await.unwrap();
                        iamsmart_domain::audit::append(
                            &mut tx,
                            i as i64,
                            None,
                            &iamsmart_domain::audit::Event {
                                kind: "bench.event",
                                actor: "system",
                                subject: "thing:1",
                                detail: serde_json::json!({ "i": i }),
                            },
                        )
                        .await
                        .unwrap();
                        tx.commit().await.unwrap();
                    }
                },
            )
            .await;
            let size = iamsmart_domain::audit::size(&db).await.unwrap();
            rate_async(&format!("{label}: inclusion proof (log of {size})"), |i| {
                let db = db.clone();
                async move {
                    iamsmart_domain::audit::inclusion_proof(&db, i % size, size)
                        .await
                        .unwrap();
                }
            })
            .await;
            db.close().await;
        }
    });
}
