use super::*;
use crate::clock::Clock;
use crate::keys::Purpose;
use crate::testing::platform;

fn sample(hkid: &str) -> NewResident {
    NewResident {
        hkid: hkid.into(),
        name_en: "CHAN, Tai Man".into(),
        name_zh: Some("陳大文".into()),
        date_of_birth: "1980-02-29".into(),
        gender: Some("M".into()),
        profile: Some(Profile {
            residential_address: Some(iamsmart_proto::profile::Address {
                flat: Some("12A".into()),
                building: Some("Canary Court".into()),
                street: Some("Canary Road".into()),
                district: Some("Sha Tin".into()),
                region: Some("NT".into()),
                ..Default::default()
            }),
            ..Profile::default()
        }),
        level: None,
    }
}

#[tokio::test]
async fn residents_round_trip_and_hkid_is_unique() {
    let t = platform().await;
    let r = create(&t.p.identity, sample("A123456(3)"), "operator:test", None)
        .await
        .unwrap();
    let got = get(&t.p.identity, &r.id).await.unwrap();
    assert_eq!(got.verified.hkid, "A123456(3)");
    assert_eq!(got.verified.name_zh.as_deref(), Some("陳大文"));
    assert_eq!(
        got.profile
            .residential_address
            .and_then(|a| a.building)
            .as_deref(),
        Some("Canary Court")
    );
    assert_eq!(
        find_by_hkid(&t.p.identity, "a1234563").await.unwrap(),
        Some(r.id.clone())
    );
    let dup = create(&t.p.identity, sample("A 123456 (3)"), "operator:test", None)
        .await
        .unwrap_err();
    assert!(matches!(dup, DomainError::Conflict(_)), "{dup:?}");
    assert_eq!(count(&t.p).await.unwrap(), 1);
}

#[tokio::test]
async fn bad_input_names_the_field_and_stores_nothing() {
    let t = platform().await;
    for (field, new) in [
        (
            "hkid",
            NewResident {
                hkid: "A123456(4)".into(),
                ..sample("")
            },
        ),
        (
            "date_of_birth",
            NewResident {
                date_of_birth: "1981-02-29".into(),
                ..sample("A123456(3)")
            },
        ),
        (
            "name_en",
            NewResident {
                name_en: " ".into(),
                ..sample("A123456(3)")
            },
        ),
        (
            "gender",
            NewResident {
                gender: Some("male".into()),
                ..sample("A123456(3)")
            },
        ),
    ] {
        match create(&t.p.identity, new, "operator:test", None).await {
            Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // A level that is not one is refused where the request is read, before anything else.
    let e = serde_json::from_value::<NewResident>(serde_json::json!({
        "hkid": "A123456(3)", "name_en": "CHAN, Tai Man", "date_of_birth": "1980-01-01",
        "level": "gold",
    }))
    .expect_err("an unknown level is refused");
    assert!(
        e.to_string()
            .contains("unknown variant `gold`, expected `basic` or `plus`"),
        "{e}"
    );
    assert_eq!(count(&t.p).await.unwrap(), 0);
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_or_column_does_not_open() {
    let t = platform().await;
    let a = create(&t.p.identity, sample("A123456(3)"), "operator:test", None)
        .await
        .unwrap();
    let b = create(&t.p.identity, sample("G123456(A)"), "operator:test", None)
        .await
        .unwrap();
    // Copy A's name into B's row.
    sqlx::query("UPDATE residents SET name_en = (SELECT name_en FROM residents WHERE id = $1) WHERE id = $2")
        .bind(&a.id)
        .bind(&b.id)
        .execute(t.p.db.writer())
        .await
        .unwrap();
    assert!(matches!(
        get(&t.p.identity, &b.id).await,
        Err(DomainError::Integrity(_))
    ));
    // Swap two columns of A.
    sqlx::query("UPDATE residents SET profile = name_zh, name_zh = profile WHERE id = $1")
        .bind(&a.id)
        .execute(t.p.db.writer())
        .await
        .unwrap();
    assert!(matches!(
        get(&t.p.identity, &a.id).await,
        Err(DomainError::Integrity(_))
    ));
}

#[tokio::test]
async fn kek_rotation_rewraps_every_data_key_and_retires_the_old_kek() {
    let t = platform().await;
    let mut ids = Vec::new();
    for (p, d) in [("A", "100001"), ("B", "200002"), ("CD", "300003")] {
        let h = hkid::Hkid::with_check_digit(p, d).unwrap();
        ids.push(
            create(&t.p.identity, sample(&h.display()), "operator:test", None)
                .await
                .unwrap()
                .id,
        );
    }
    let old = t.p.keys.active(Purpose::Kek, None).await.unwrap();
    let new = t.p.keys.rotate_kek().await.unwrap();
    t.clock.advance(1);
    // Still readable before the re-wrap, and new writes use the new KEK.
    assert!(get(&t.p.identity, &ids[0]).await.is_ok());
    let before = t.p.vault.count_not_under(&new.kid).await.unwrap();
    assert!(before >= 3 * 6, "{before}");
    let moved = t.p.vault.rewrap_all().await.unwrap();
    assert_eq!(moved, before);
    assert_eq!(t.p.vault.count_not_under(&new.kid).await.unwrap(), 0);
    t.clock.advance(1);
    let old_now = t.p.keys.by_kid(&old.kid).await.unwrap();
    assert_eq!(old_now.state(t.clock.now_ms()), "retired");
    for id in &ids {
        assert_eq!(
            get(&t.p.identity, id).await.unwrap().verified.name_en,
            "CHAN, Tai Man"
        );
    }
    // The blind index key was re-wrapped too: a freshly opened vault still finds residents.
    let vault = crate::vault::Vault::open(t.p.db.clone(), t.p.keys.clone(), t.p.rng.clone())
        .await
        .unwrap();
    let p2 = crate::Platform {
        vault,
        ..t.p.clone()
    };
    let h = hkid::Hkid::with_check_digit("A", "100001").unwrap();
    assert_eq!(
        find_by_hkid(&p2.identity, h.as_str())
            .await
            .unwrap()
            .as_deref(),
        Some(ids[0].as_str())
    );
}
