//! Staff passkeys (issue 16, finding 10): the counter moves by compare-and-set, so a cloned
//! authenticator answering many sign-ins at once with one counter gets in once; passkeys that
//! sync to a cloud account (backup eligible) are refused for staff.
use super::staff;
use crate::testing::platform;
use iamsmart_crypto::webauthn::soft::SoftPasskey;

const ORIGIN: &str = "http://localhost:8080";

#[tokio::test]
async fn a_cloned_staff_passkey_answering_fifty_sign_ins_at_once_gets_in_once() {
    let t = platform().await;
    let made = staff::create(
        &t.p.identity,
        None,
        "operator",
        "Officer Chan",
        "officer",
        None,
    )
    .await
    .unwrap();
    let pk = SoftPasskey::new(ORIGIN);
    let (ceremony, options) =
        staff::enrolment_options(&t.p.identity, &made.id, &made.enrolment_code)
            .await
            .unwrap();
    staff::enrolment_finish(&t.p.identity, &ceremony, &pk.register(&options), None)
        .await
        .unwrap();
    // Fifty sign-ins, each answered from the same authenticator state (one counter value).
    let mut answers = Vec::new();
    for _ in 0..50 {
        let (ceremony, options) = staff::login_options(&t.p.identity).await.unwrap();
        pk.set_counter(7);
        answers.push((ceremony, pk.authenticate(&options).expect("an assertion")));
    }
    let mut tasks = Vec::new();
    for (ceremony, answer) in answers {
        let p = t.p.clone();
        tasks.push(tokio::spawn(async move {
            staff::login_finish(&p.identity, &ceremony, &answer, None)
                .await
                .is_ok()
        }));
    }
    let mut signed_in = 0;
    for task in tasks {
        if task.await.unwrap() {
            signed_in += 1;
        }
    }
    assert_eq!(signed_in, 1, "one counter value, one sign-in");
}

#[tokio::test]
async fn a_passkey_that_syncs_to_a_cloud_account_is_refused_for_staff() {
    let t = platform().await;
    let made = staff::create(
        &t.p.identity,
        None,
        "operator",
        "Officer Lee",
        "officer",
        None,
    )
    .await
    .unwrap();
    let mut synced = SoftPasskey::new(ORIGIN);
    synced.synced = true;
    let (ceremony, options) =
        staff::enrolment_options(&t.p.identity, &made.id, &made.enrolment_code)
            .await
            .unwrap();
    let e = staff::enrolment_finish(&t.p.identity, &ceremony, &synced.register(&options), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("syncs"), "{e}");
    // The code is not spent: a device-bound passkey enrols with it.
    let bound = SoftPasskey::new(ORIGIN);
    let (ceremony, options) =
        staff::enrolment_options(&t.p.identity, &made.id, &made.enrolment_code)
            .await
            .unwrap();
    staff::enrolment_finish(&t.p.identity, &ceremony, &bound.register(&options), None)
        .await
        .unwrap();
}
