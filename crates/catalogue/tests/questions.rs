//! The 30 everyday questions: what residents would type, half in Chinese (written Traditional
//! and Cantonese colloquial), each with the service that answers it. Every one must be in the
//! top 3. Each row is searched with the language hint of the page it would be typed on.

use iamsmart_catalogue::{Catalogue, Index, Lang};

/// (question, language of the page, expected service id)
const QUESTIONS: &[(&str, Lang, &str)] = &[
    // English
    ("renew my ID card", Lang::En, "immd-id-card-replacement"),
    (
        "apply for public housing",
        Lang::En,
        "ha-public-rental-housing-application",
    ),
    ("how much tax do I owe", Lang::En, "ird-etax"),
    ("book a driving test", Lang::En, "td-driving-test-booking"),
    (
        "check my student grant",
        Lang::En,
        "sfo-student-financial-assistance",
    ),
    ("see my medical records", Lang::En, "ehealth"),
    ("register a company", Lang::En, "cr-e-services"),
    ("find a job", Lang::En, "ld-interactive-employment-service"),
    ("my MPF account", Lang::En, "mpfa-empf"),
    (
        "register my baby's birth",
        Lang::En,
        "immd-birth-registration",
    ),
    ("renew car licence", Lang::En, "td-vehicle-licence-renewal"),
    ("book a badminton court", Lang::En, "lcsd-smartplay"),
    ("typhoon warning", Lang::En, "hko-weather"),
    ("hospital appointment", Lang::En, "ha-go"),
    ("pay a parking ticket", Lang::En, "police-etraffic-ticket"),
    // Chinese
    ("續領身份證", Lang::Zh, "immd-id-card-replacement"),
    ("申請公屋", Lang::Zh, "ha-public-rental-housing-application"),
    ("交稅", Lang::Zh, "ird-etax"),
    ("考車牌", Lang::Zh, "td-driving-test-booking"),
    ("睇醫生紀錄", Lang::Zh, "ehealth"),
    (
        "幼稚園學券",
        Lang::Zh,
        "edb-kindergarten-admission-registration",
    ),
    ("強積金", Lang::Zh, "mpfa-empf"),
    ("搵工", Lang::Zh, "ld-interactive-employment-service"),
    ("長者醫療券", Lang::Zh, "health-care-voucher"),
    ("小一派位", Lang::Zh, "edb-primary-one-admission"),
    ("點樣開公司", Lang::Zh, "cr-e-services"),
    ("攞出世紙", Lang::Zh, "immd-birth-registration"),
    ("圖書館續借", Lang::Zh, "hkpl-library-e-services"),
    ("揸車北上", Lang::Zh, "td-northbound-travel-hzmb"),
    ("申請生果金", Lang::Zh, "swd-social-security-allowance"),
];

#[test]
fn thirty_everyday_questions_find_their_service_in_the_top_3() {
    let catalogue = Catalogue::bundled().unwrap();
    let index = Index::build(&catalogue).unwrap();
    assert_eq!(QUESTIONS.len(), 30);
    let chinese = QUESTIONS.iter().filter(|q| q.1 == Lang::Zh).count();
    assert_eq!(chinese, 15, "half the questions are in Chinese");
    let mut failures = Vec::new();
    for &(question, lang, expected) in QUESTIONS {
        assert!(catalogue.get(expected).is_some(), "no service {expected}");
        let results = index.search(question, Some(lang), 5).unwrap();
        let ids: Vec<&str> = results.hits.iter().map(|h| h.id.as_str()).collect();
        let rank = ids.iter().position(|&id| id == expected);
        println!("{question:>28} -> {rank:?} {ids:?}");
        if !matches!(rank, Some(0..=2)) {
            failures.push(format!(
                "{question:?}: expected {expected} in the top 3, got {:?}",
                results
                    .hits
                    .iter()
                    .map(|h| format!("{} {:.2} {:?}", h.id, h.score, h.matched))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
