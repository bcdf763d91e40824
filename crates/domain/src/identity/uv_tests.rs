//! User verification the platform checks (the web app's passkey or PIN), unlocked sessions, and
//! phones added from another phone: on a fake clock, on SQLite and PostgreSQL.
use super::devices::{self, DeviceCaller, SignedRequest};
use super::test_phone::{identity, new_device, Phone};
use super::user_verification::{self as uv, SessionRule};
use super::{activation, registration};
use crate::authn::approvals;
use crate::error::DomainError;
use crate::guard::Spent;
use crate::testing::{platform, TestPlatform};
use iamsmart_crypto::device::DeviceKey;
use iamsmart_crypto::webauthn::soft::SoftPasskey;
use iamsmart_proto::app::{
    AppSession, ApprovalClaims, Decision, RequestClaims, Unlock, UserVerification,
    UserVerificationSetup, APPROVAL_TYP, DEVICE_REQUEST_TYP,
};
use iamsmart_proto::ids::DeviceId;

const ORIGIN: &str = "http://localhost:8080";

/// A resident whose phone is bound with a passkey made by `pk`.
async fn passkey_phone(t: &TestPlatform, n: u32, pk: &SoftPasskey) -> Phone {
    let key = DeviceKey::generate().unwrap();
    let jwk = serde_json::to_value(key.public_jwk()).unwrap();
    let opts = uv::creation_options(&t.p.identity, &jwk, "Test phone").unwrap();
    let credential = serde_json::to_value(pk.register(&opts)).unwrap();
    Phone::enrolled(
        &t.p.identity,
        key,
        n,
        iamsmart_proto::profile::Level::Plus,
        Some(UserVerificationSetup::Passkey { credential }),
    )
    .await
}

async fn pin_phone(t: &TestPlatform, n: u32, pin: &str) -> Phone {
    Phone::enrolled(
        &t.p.identity,
        DeviceKey::generate().unwrap(),
        n,
        iamsmart_proto::profile::Level::Basic,
        Some(UserVerificationSetup::Pin { pin: pin.into() }),
    )
    .await
}

async fn unlock_with_passkey(t: &TestPlatform, phone: &mut Phone, pk: &SoftPasskey) -> AppSession {
    let o = uv::unlock_options(&t.p.identity, &phone.device_id)
        .await
        .unwrap();
    assert_eq!(o.method, "passkey");
    let assertion =
        serde_json::to_value(pk.authenticate(o.public_key.as_ref().unwrap()).unwrap()).unwrap();
    let s = uv::unlock(
        &t.p.identity,
        &phone.device_id,
        &Unlock {
            challenge: o.challenge,
            user_verification: UserVerification::Passkey { assertion },
        },
        None,
    )
    .await
    .unwrap();
    phone.session = Some(s.session.clone());
    s
}

async fn unlock_with_pin(
    t: &TestPlatform,
    phone: &Phone,
    pin: &str,
) -> Result<AppSession, DomainError> {
    let o = uv::unlock_options(&t.p.identity, &phone.device_id).await?;
    uv::unlock(
        &t.p.identity,
        &phone.device_id,
        &Unlock {
            challenge: o.challenge,
            user_verification: UserVerification::Pin { pin: pin.into() },
        },
        None,
    )
    .await
}

/// A login request waiting for the phone's resident; answers (id, view).
async fn waiting_login(t: &TestPlatform, phone: &Phone) -> iamsmart_proto::app::ApprovalView {
    let created = approvals::create(
        &t.p.approvals,
        approvals::NewApproval {
            resident_id: Some(&phone.resident_id),
            kind: "login",
            client_id: "sandbox",
            client_name: "Test service",
            details: serde_json::json!({ "fields": [] }),
            client_vetted: true,
            service: None,
        },
    )
    .await
    .unwrap();
    approvals::open(&t.p, &phone.caller(), &created.id, Spent::new())
        .await
        .unwrap()
}

fn signed_decision(
    t: &TestPlatform,
    phone: &Phone,
    view: &iamsmart_proto::app::ApprovalView,
    decision: &str,
) -> String {
    let claims = ApprovalClaims {
        rid: view.id.clone(),
        challenge: view.challenge.clone(),
        match_code: view.match_code.clone(),
        decision: decision.into(),
        agreed: serde_json::json!({ "fields": [] }),
        iat: t.p.clock.now_ms() / 1000,
    };
    phone
        .key
        .sign_jws(
            APPROVAL_TYP,
            &phone.device_id,
            &serde_json::to_vec(&claims).unwrap(),
        )
        .unwrap()
}

fn request_options(t: &TestPlatform, challenge: &str, credential: &str) -> serde_json::Value {
    t.p.identity
        .rp
        .request_options(challenge, &[credential.to_string()])
}

async fn credential_id(t: &TestPlatform, phone: &Phone) -> String {
    let o = uv::unlock_options(&t.p.identity, &phone.device_id)
        .await
        .unwrap();
    o.public_key.unwrap()["allowCredentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_passkey_phone_works_only_unlocked_and_approves_only_with_a_fresh_assertion() {
    let t = platform().await;
    let mut pk = SoftPasskey::new(ORIGIN);
    let mut phone = passkey_phone(&t, 1, &pk).await;
    // Locked: no session, no call (a copied browser profile has the key but not the passkey).
    assert!(matches!(
        phone.call(&t.p.identity, SessionRule::Unlocked).await,
        Err(DomainError::AppLocked(_))
    ));
    phone.session = Some("made-up".into());
    assert!(matches!(
        phone.call(&t.p.identity, SessionRule::Unlocked).await,
        Err(DomainError::AppLocked(_))
    ));
    unlock_with_passkey(&t, &mut phone, &pk).await;
    phone
        .call(&t.p.identity, SessionRule::Unlocked)
        .await
        .unwrap();

    let view = waiting_login(&t, &phone).await;
    let signed = signed_decision(&t, &phone, &view, "approve");
    let decide = |uv: Option<UserVerification>, signed: String| {
        let p = t.p.clone();
        let caller = phone.caller();
        let id = view.id.clone();
        async move {
            approvals::decide(
                &p.approvals,
                &p.identity,
                &caller,
                &id,
                &Decision {
                    signed,
                    selfie: None,
                    user_verification: uv,
                },
                "127.0.0.1",
                None,
                Spent::new(),
            )
            .await
        }
    };
    // Without a proof.
    let e = decide(None, signed.clone()).await.unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::Refused {
                code: "user-verification-required",
                ..
            }
        ),
        "{e:?}"
    );
    // A PIN for a passkey phone.
    let e = decide(
        Some(UserVerification::Pin {
            pin: "246813".into(),
        }),
        signed.clone(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::Refused {
                code: "user-verification-required",
                ..
            }
        ),
        "{e:?}"
    );
    // An assertion over something else (another decision, the unlock challenge).
    let cred = credential_id(&t, &phone).await;
    let other = pk
        .authenticate(&request_options(&t, "c29tZXRoaW5nLWVsc2U", &cred))
        .unwrap();
    let e = decide(
        Some(UserVerification::Passkey {
            assertion: serde_json::to_value(other).unwrap(),
        }),
        signed.clone(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::Refused {
                code: "user-verification-failed",
                ..
            }
        ),
        "{e:?}"
    );
    // An assertion without user verification (presence only) over the right decision.
    let challenge = uv::decision_challenge(&signed);
    pk.user_verified = false;
    let unverified = pk
        .authenticate(&request_options(&t, &challenge, &cred))
        .unwrap();
    pk.user_verified = true;
    let e = decide(
        Some(UserVerification::Passkey {
            assertion: serde_json::to_value(unverified).unwrap(),
        }),
        signed.clone(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::Refused {
                code: "user-verification-failed",
                ..
            }
        ),
        "{e:?}"
    );
    // The right one.
    let good = serde_json::to_value(
        pk.authenticate(&request_options(&t, &challenge, &cred))
            .unwrap(),
    )
    .unwrap();
    let out = decide(
        Some(UserVerification::Passkey {
            assertion: good.clone(),
        }),
        signed.clone(),
    )
    .await
    .unwrap();
    assert_eq!(out.status, iamsmart_proto::app::ApprovalStatus::Approved);
    // Used once: the same answer again is refused (the request is closed and the counter moved).
    assert!(
        decide(Some(UserVerification::Passkey { assertion: good }), signed)
            .await
            .is_err()
    );
    // A denial needs no proof.
    let view2 = waiting_login(&t, &phone).await;
    let deny = signed_decision(&t, &phone, &view2, "deny");
    let out = approvals::decide(
        &t.p.approvals,
        &t.p.identity,
        &phone.caller(),
        &view2.id,
        &Decision {
            signed: deny,
            selfie: None,
            user_verification: None,
        },
        "127.0.0.1",
        None,
        Spent::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.status, iamsmart_proto::app::ApprovalStatus::Denied);
}

#[tokio::test]
async fn a_passkey_that_never_verifies_the_user_cannot_set_up_or_unlock() {
    let t = platform().await;
    let mut lazy = SoftPasskey::new(ORIGIN);
    lazy.user_verified = false;
    let key = DeviceKey::generate().unwrap();
    let jwk = serde_json::to_value(key.public_jwk()).unwrap();
    let opts = uv::creation_options(&t.p.identity, &jwk, "Test phone").unwrap();
    assert_eq!(
        opts["authenticatorSelection"]["userVerification"],
        "required"
    );
    let credential = serde_json::to_value(lazy.register(&opts)).unwrap();
    let e = registration::sandbox_enrol(
        &t.p.identity,
        &identity(2),
        iamsmart_proto::profile::Level::Basic,
        &new_device(&key, Some(UserVerificationSetup::Passkey { credential })),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::Refused {
                code: "passkey-refused",
                ..
            }
        ),
        "{e:?}"
    );
    // A passkey made for another device key is refused for this one.
    let pk = SoftPasskey::new(ORIGIN);
    let other = DeviceKey::generate().unwrap();
    let other_opts = uv::creation_options(
        &t.p.identity,
        &serde_json::to_value(other.public_jwk()).unwrap(),
        "x",
    )
    .unwrap();
    let credential = serde_json::to_value(pk.register(&other_opts)).unwrap();
    let e = registration::sandbox_enrol(
        &t.p.identity,
        &identity(2),
        iamsmart_proto::profile::Level::Basic,
        &new_device(&key, Some(UserVerificationSetup::Passkey { credential })),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::Refused {
                code: "passkey-refused",
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_unlocked_app_locks_after_idle_minutes_and_after_the_longest_session() {
    let t = platform().await;
    let pk = SoftPasskey::new(ORIGIN);
    let mut phone = passkey_phone(&t, 3, &pk).await;
    let s = unlock_with_passkey(&t, &mut phone, &pk).await;
    assert_eq!(s.idle_secs, 300);
    // Used every four minutes, it stays unlocked...
    for _ in 0..7 {
        t.clock.advance(240_000);
        phone
            .call(&t.p.identity, SessionRule::Unlocked)
            .await
            .unwrap();
    }
    // ...until the longest session (30 minutes) is over.
    t.clock.advance(180_000);
    assert!(matches!(
        phone.call(&t.p.identity, SessionRule::Unlocked).await,
        Err(DomainError::AppLocked(_))
    ));
    // Left alone for more than five minutes, it locks.
    unlock_with_passkey(&t, &mut phone, &pk).await;
    t.clock.advance(301_000);
    assert!(matches!(
        phone.call(&t.p.identity, SessionRule::Unlocked).await,
        Err(DomainError::AppLocked(_))
    ));
    // The purge removes ended sessions.
    assert!(uv::purge_sessions(&t.p).await.unwrap() >= 1);
}

#[tokio::test]
async fn closing_the_account_and_adding_a_phone_need_a_recent_unlock() {
    let t = platform().await;
    let pk = SoftPasskey::new(ORIGIN);
    let mut phone = passkey_phone(&t, 4, &pk).await;
    unlock_with_passkey(&t, &mut phone, &pk).await;
    phone.call(&t.p.identity, SessionRule::Fresh).await.unwrap();
    t.clock.advance(150_000);
    phone
        .call(&t.p.identity, SessionRule::Unlocked)
        .await
        .unwrap();
    assert!(matches!(
        phone.call(&t.p.identity, SessionRule::Fresh).await,
        Err(DomainError::UnlockAgain)
    ));
    unlock_with_passkey(&t, &mut phone, &pk).await;
    phone.call(&t.p.identity, SessionRule::Fresh).await.unwrap();
}

#[tokio::test]
async fn fifty_wrong_pins_at_once_get_five_tries_and_revoke_the_phone() {
    let t = platform().await;
    let phone = pin_phone(&t, 5, "246813").await;
    // A right PIN after wrong ones starts the count again.
    for _ in 0..3 {
        assert!(matches!(
            unlock_with_pin(&t, &phone, "135790").await,
            Err(DomainError::WrongPin { .. })
        ));
    }
    unlock_with_pin(&t, &phone, "246813").await.unwrap();
    let o = uv::unlock_options(&t.p.identity, &phone.device_id)
        .await
        .unwrap();
    assert_eq!(o.attempts_left, Some(5));
    // Fifty guesses at once.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let p = t.p.clone();
        let device = phone.device_id.clone();
        tasks.push(tokio::spawn(async move {
            let o = uv::unlock_options(&p.identity, &device).await?;
            uv::unlock(
                &p.identity,
                &device,
                &Unlock {
                    challenge: o.challenge,
                    user_verification: UserVerification::Pin {
                        pin: format!("{:06}", 100_000 + i * 7),
                    },
                },
                None,
            )
            .await
        }));
    }
    let mut wrong = 0;
    let mut revoked = 0;
    for task in tasks {
        match task.await.unwrap() {
            Err(DomainError::WrongPin { .. }) => wrong += 1,
            Err(DomainError::DeviceRevoked) => revoked += 1,
            other => panic!("unexpected {:?}", other.map(|_| ())),
        }
    }
    assert_eq!(wrong, 4, "four wrong PINs are told how many tries are left");
    assert_eq!(
        revoked, 46,
        "the fifth revokes the phone; the rest find it revoked"
    );
    let failures: i64 = sqlx::query_scalar("SELECT uv_failures FROM devices WHERE id = $1")
        .bind(&phone.device_id)
        .fetch_one(t.p.db.reader())
        .await
        .unwrap();
    assert_eq!(failures, 5, "no more than five PINs were compared");
    // The right PIN does not bring it back, and the phone's calls are refused.
    assert!(matches!(
        unlock_with_pin(&t, &phone, "246813").await,
        Err(DomainError::DeviceRevoked)
    ));
    assert!(matches!(
        phone.call(&t.p.identity, SessionRule::None).await,
        Err(DomainError::DeviceRevoked)
    ));
}

#[tokio::test]
async fn easy_pins_and_pins_where_policy_forbids_them_are_refused_at_set_up() {
    let t = platform().await;
    let key = DeviceKey::generate().unwrap();
    let e = registration::sandbox_enrol(
        &t.p.identity,
        &identity(6),
        iamsmart_proto::profile::Level::Basic,
        &new_device(
            &key,
            Some(UserVerificationSetup::Pin {
                pin: "123456".into(),
            }),
        ),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        e,
        DomainError::Invalid {
            field: "user_verification.pin",
            ..
        }
    ));
    let mut policy = (*t.p.identity.policy).clone();
    policy.app.pin_allowed = false;
    policy.app.require_user_verification = true;
    let strict = t.p.clone().with_identity_policy(policy);
    let e = registration::sandbox_enrol(
        &strict.identity,
        &identity(6),
        iamsmart_proto::profile::Level::Basic,
        &new_device(
            &key,
            Some(UserVerificationSetup::Pin {
                pin: "246813".into(),
            }),
        ),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        e,
        DomainError::Refused {
            code: "pin-not-allowed",
            ..
        }
    ));
    // An activation without user verification is refused when the policy requires it.
    let e = uv::prepare(&strict.identity, &key.public_jwk(), None).unwrap_err();
    assert!(matches!(
        e,
        DomainError::Refused {
            code: "user-verification-required",
            ..
        }
    ));
}

#[tokio::test]
async fn a_code_from_one_phone_adds_another_and_keeps_the_first() {
    let t = platform().await;
    let pk = SoftPasskey::new(ORIGIN);
    let first = passkey_phone(&t, 7, &pk).await;
    let issued = activation::issue_device_link_code(&t.p.identity, &first.caller(), None)
        .await
        .unwrap();
    assert!(issued.expires_at - t.p.clock.now_ms() <= 600_000);
    // The second phone activates with it, with a PIN.
    let key = DeviceKey::generate().unwrap();
    let device = new_device(
        &key,
        Some(UserVerificationSetup::Pin {
            pin: "246813".into(),
        }),
    );
    let body = serde_json::to_vec(&iamsmart_proto::app::Activation {
        code: issued.activation_code.clone(),
        device: device.clone(),
    })
    .unwrap();
    let second = Phone {
        key,
        device_id: String::new(),
        resident_id: first.resident_id.clone(),
        session: None,
    };
    let jwk = devices::check_new_device(&device).unwrap();
    let sig = {
        let claims = RequestClaims {
            htm: "POST".into(),
            htp: "/app/v1/activations".into(),
            iat: t.p.clock.now_ms() / 1000,
            jti: "activation-jti-0001".into(),
            bh: crate::connector::body_hash(&body),
            aud: None,
            iss: None,
        };
        second
            .key
            .sign_jws(
                DEVICE_REQUEST_TYP,
                jwk.kid.as_deref().unwrap(),
                &serde_json::to_vec(&claims).unwrap(),
            )
            .unwrap()
    };
    let e = activation::activate(
        &t.p.identity,
        serde_json::from_slice(&body).unwrap(),
        &SignedRequest {
            signature: Some(&sig),
            method: "POST",
            path: "/app/v1/activations",
            body: &body,
            session: None,
        },
        "127.0.0.1",
        None,
    )
    .await
    .unwrap();
    assert_eq!(e.resident_id, first.resident_id);
    assert!(!e.rebound);
    assert!(e.session.is_some(), "the new phone is unlocked at once");
    let list = devices::list(&t.p, &first.resident_id, None).await.unwrap();
    assert_eq!(
        list.iter()
            .filter(|d| d.status == iamsmart_proto::app::DeviceStatus::Active)
            .count(),
        2,
        "both phones work"
    );
    // The second removes the first (a lost phone); the first's sessions end with it.
    let second_caller = DeviceCaller {
        device_id: e.device_id.clone(),
        resident_id: e.resident_id.clone(),
    };
    devices::revoke(
        &t.p,
        &second_caller,
        &DeviceId::parse(&first.device_id).unwrap(),
        None,
    )
    .await
    .unwrap();
    assert!(matches!(
        first.call(&t.p.identity, SessionRule::None).await,
        Err(DomainError::DeviceRevoked)
    ));
    let sessions: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM app_sessions WHERE device_id = $1")
            .bind(&first.device_id)
            .fetch_one(t.p.db.reader())
            .await
            .unwrap();
    assert_eq!(sessions, 0);
}

#[tokio::test]
async fn fifty_pushes_at_once_fill_one_slot_per_service_and_three_per_resident() {
    let t = platform().await;
    let pk = SoftPasskey::new(ORIGIN);
    let phone = passkey_phone(&t, 8, &pk).await;
    let push = |client: String| {
        let p = t.p.clone();
        let resident = phone.resident_id.clone();
        async move {
            approvals::create(
                &p.approvals,
                approvals::NewApproval {
                    resident_id: Some(&resident),
                    kind: "login",
                    client_id: &client,
                    client_name: "Service",
                    details: serde_json::json!({}),
                    client_vetted: true,
                    service: None,
                },
            )
            .await
            .is_ok()
        }
    };
    // One service, fifty times at once: one waits.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        tasks.push(tokio::spawn(push("c_bomber".to_string())));
    }
    let mut ok = 0;
    for task in tasks {
        ok += usize::from(task.await.unwrap());
    }
    assert_eq!(ok, 1, "one request per service");
    // Fifty services at once: two more wait (three in all).
    let mut tasks = Vec::new();
    for i in 0..50 {
        tasks.push(tokio::spawn(push(format!("c_{i}"))));
    }
    let mut ok = 0;
    for task in tasks {
        ok += usize::from(task.await.unwrap());
    }
    assert_eq!(ok, 2, "three per resident");
    assert_eq!(
        approvals::pending(&t.p, &phone.resident_id)
            .await
            .unwrap()
            .len(),
        3
    );
}
