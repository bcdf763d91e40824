//! The bundled data, the loader's checks and the clusters.

use iamsmart_catalogue::{
    clusters, AgeGroup, Catalogue, Cluster, Error, LifeEvent, Service, Theme,
};

const LIST_2023: &str = include_str!("../data/services-2023.tsv");

/// A valid service in the data format; `replace` swaps one line for another to break it.
fn one_service(replace: &[(&str, &str)]) -> String {
    let mut text = r#"[[service]]
id = "test-service"
name = { en = "Test service", zh = "測試服務" }
department = { en = "Test Department", zh = "測試署" }
description = { en = "A service for tests.", zh = "測試用的服務。" }
audience = { en = "Testers", zh = "測試人員" }
requirements = { level = "basic", documents = [{ en = "HKID card", zh = "香港身份證" }] }
fees = { en = "Free", zh = "免費" }
url = "https://www.gov.hk/"
features = { one_tap_login = true, form_filling = false, signing = false }
themes = ["education"]
life_events = []
age_groups = ["all"]
popularity = 10
keywords = { en = ["test"], zh = ["測試"] }
"#
    .to_string();
    for (from, to) in replace {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    text
}

fn load(text: &str) -> Result<Catalogue, Error> {
    Catalogue::from_toml_sources(&[("test.toml", text)])
}

fn expect_invalid(replace: &[(&str, &str)], field: &str, problem_has: &str) {
    let err = load(&one_service(replace)).unwrap_err();
    match &err {
        Error::Invalid {
            service,
            field: f,
            problem,
        } => {
            assert_eq!(service, "test-service", "{err}");
            assert_eq!(*f, field, "{err}");
            assert!(problem.contains(problem_has), "{err}");
        }
        other => panic!("expected an invalid field, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("test-service") && message.contains(field),
        "{message}"
    );
}

#[test]
fn bundled_catalogue_has_over_100_real_services() {
    let catalogue = Catalogue::bundled().unwrap();
    assert!(catalogue.len() >= 100, "{} services", catalogue.len());
    for service in catalogue.services() {
        assert!(service.url.starts_with("https://"), "{}", service.id);
    }
}

#[test]
fn bundled_catalogue_has_the_2023_services_by_name_and_department() {
    let catalogue = Catalogue::bundled().unwrap();
    let mut rows = 0;
    let mut found = 0;
    for line in LIST_2023.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split('\t').collect();
        let [department_en, department_zh, service_en] = cells[..] else {
            panic!("bad row {line:?}");
        };
        rows += 1;
        let matching = catalogue
            .services()
            .iter()
            .find(|s| s.name.en == service_en);
        if let Some(service) = matching {
            found += 1;
            assert_eq!(service.department.en, department_en, "{}", service.id);
            assert_eq!(service.department.zh, department_zh, "{}", service.id);
        }
    }
    assert_eq!(rows, 51);
    assert!(found >= 40, "only {found} of the 2023 services");
    assert_eq!(found, 51, "all 51 are in");
}

#[test]
fn every_theme_has_at_least_three_services_and_every_page_some() {
    let catalogue = Catalogue::bundled().unwrap();
    for &theme in Theme::ALL {
        let n = catalogue.services_in(Cluster::Theme(theme)).len();
        assert!(n >= 3, "{theme:?} has {n}");
    }
    for &event in LifeEvent::ALL {
        let n = catalogue.services_in(Cluster::LifeEvent(event)).len();
        assert!(n >= 2, "{event:?} has {n}");
    }
    for group in [AgeGroup::Youth, AgeGroup::Elderly] {
        let n = catalogue.services_in(Cluster::AgeGroup(group)).len();
        assert!(n >= 10, "{group:?} has {n}");
    }
}

#[test]
fn clusters_have_titles_intros_and_popularity_order() {
    let catalogue = Catalogue::bundled().unwrap();
    let all = clusters();
    assert_eq!(all.len(), Theme::ALL.len() + LifeEvent::ALL.len() + 2);
    for info in &all {
        assert!(!info.title_en.is_empty() && !info.intro_en.is_empty());
        assert!(info.title_zh.chars().any(iamsmart_catalogue::is_han));
        assert!(info.intro_zh.chars().any(iamsmart_catalogue::is_han));
        assert_eq!(Cluster::from_path(&info.cluster.path()), Some(info.cluster));
        let services = catalogue.services_in(info.cluster);
        assert!(services
            .windows(2)
            .all(|w| w[0].popularity >= w[1].popularity));
        assert!(services.iter().all(|s| info.cluster.contains(s)));
    }
    let education: Vec<&str> = catalogue
        .services_in(Cluster::Theme(Theme::Education))
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert!(education.contains(&"edb-primary-one-admission"));
    assert!(education.contains(&"sfo-student-financial-assistance"));
    assert_eq!(Cluster::from_path("theme/nonsense"), None);
    assert_eq!(Cluster::from_path("nonsense"), None);
}

#[test]
fn a_valid_service_loads() {
    let catalogue = load(&one_service(&[])).unwrap();
    let service = catalogue.get("test-service").unwrap();
    assert_eq!(service.themes, [Theme::Education]);
    assert_eq!(service.name.zh, "測試服務");
}

#[test]
fn errors_name_the_service_and_the_field() {
    expect_invalid(
        &[(r#"themes = ["education"]"#, r#"themes = ["educaton"]"#)],
        "themes",
        "educaton",
    );
    expect_invalid(
        &[(
            "life_events = []",
            r#"life_events = ["winning-the-lottery"]"#,
        )],
        "life_events",
        "unknown",
    );
    expect_invalid(
        &[(r#"age_groups = ["all"]"#, r#"age_groups = ["toddlers"]"#)],
        "age_groups",
        "unknown",
    );
    expect_invalid(
        &[(r#"age_groups = ["all"]"#, "age_groups = []")],
        "age_groups",
        "at least one",
    );
    expect_invalid(
        &[(r#"themes = ["education"]"#, "themes = []")],
        "themes",
        "at least one theme or life event",
    );
    expect_invalid(
        &[(r#"zh = "測試服務""#, r#"zh = """#)],
        "name",
        "Chinese text is missing",
    );
    expect_invalid(
        &[(r#"zh = "測試服務""#, r#"zh = "Test""#)],
        "name",
        "no Chinese characters",
    );
    expect_invalid(
        &[(r#"en = "Test Department""#, r#"en = " ""#)],
        "department",
        "English text is missing",
    );
    expect_invalid(
        &[("https://www.gov.hk/", "http://www.gov.hk/")],
        "url",
        "https",
    );
    expect_invalid(
        &[("https://www.gov.hk/", "not a url")],
        "url",
        "not a valid address",
    );
    expect_invalid(
        &[("https://www.gov.hk/", "https://intranet/")],
        "url",
        "host",
    );
    // A service on this machine (the sandbox's demo service) may be plain http on loopback,
    // and only there.
    expect_invalid(
        &[("https://www.gov.hk/", "http://www.gov.hk/")],
        "url",
        "https",
    );
    expect_invalid(
        &[(r#"level = "basic""#, r#"level = "gold""#)],
        "requirements.level",
        "gold",
    );
    expect_invalid(
        &[("popularity = 10", "popularity = 101")],
        "popularity",
        "0 to 100",
    );
    expect_invalid(&[("popularity = 10\n", "")], "popularity", "missing");
    expect_invalid(&[(r#"url = "https://www.gov.hk/""#, "")], "url", "missing");
    let err = load(&one_service(&[(
        r#"id = "test-service""#,
        r#"id = "Test Service""#,
    )]))
    .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid { service, field: "id", .. } if service == "Test Service"),
        "{err}"
    );
    expect_invalid(
        &[(r#"en = ["test"]"#, r#"en = [" "]"#)],
        "keywords",
        "blank",
    );
    expect_invalid(
        &[(
            r#"documents = [{ en = "HKID card", zh = "香港身份證" }]"#,
            r#"documents = [{ en = "HKID card", zh = "" }]"#,
        )],
        "requirements.documents",
        "Chinese",
    );
}

#[test]
fn duplicates_typos_and_syntax_errors_are_refused() {
    let twice = format!("{}\n{}", one_service(&[]), one_service(&[]));
    let err = load(&twice).unwrap_err();
    assert!(
        matches!(err, Error::DuplicateId(ref id) if id == "test-service"),
        "{err}"
    );

    let err = load(&one_service(&[(
        "popularity = 10",
        "popularity = 10\npopularty = 3",
    )]))
    .unwrap_err();
    assert!(matches!(err, Error::Syntax { .. }), "{err}");
    assert!(err.to_string().contains("test.toml"), "{err}");

    let err = load("[[service]\nid = 1").unwrap_err();
    assert!(matches!(err, Error::Syntax { .. }), "{err}");

    let err = load(&one_service(&[("id = \"test-service\"\n", "")])).unwrap_err();
    assert!(err.to_string().contains("Test service"), "{err}");
}

#[test]
fn typed_services_are_checked_too() {
    let catalogue = Catalogue::bundled().unwrap();
    let mut service: Service = catalogue.get("ird-etax").unwrap().clone();
    service.id = "another-etax".into();
    service.description.zh = String::new();
    let err = catalogue.with_service(service.clone()).unwrap_err();
    assert!(err.to_string().contains("another-etax"), "{err}");

    service.description.zh = "新的描述。".into();
    let grown = catalogue.with_service(service).unwrap();
    assert_eq!(grown.len(), catalogue.len() + 1);

    let mut edited = catalogue.get("ird-etax").unwrap().clone();
    edited.popularity = 1;
    let same_size = catalogue.with_service(edited).unwrap();
    assert_eq!(same_size.len(), catalogue.len());
    assert_eq!(same_size.get("ird-etax").unwrap().popularity, 1);
    assert_eq!(
        same_size.position("ird-etax"),
        catalogue.position("ird-etax")
    );

    let (smaller, removed) = catalogue.without_service("ird-etax");
    assert!(removed && smaller.get("ird-etax").is_none());
    assert_eq!(smaller.len(), catalogue.len() - 1);
    assert!(!smaller.without_service("ird-etax").1);
}

#[test]
fn the_catalogue_writes_toml_that_reads_back_the_same() {
    let catalogue = Catalogue::bundled().unwrap();
    let text = catalogue.to_toml().unwrap();
    let again = Catalogue::from_toml_sources(&[("export.toml", &text)]).unwrap();
    assert_eq!(again, catalogue);
}
