//! The 30 everyday questions (`questions.tsv`): what residents would type, half in Chinese
//! (written Traditional and Cantonese colloquial), each with the service that answers it. Every
//! one must rank its service in the top 3. Each row is searched with the language hint of the
//! page it would be typed on.

use iamsmart_catalogue::{Catalogue, Index, Lang};

const QUESTIONS: &str = include_str!("questions.tsv");

/// (question, language of the page, expected service id)
fn questions() -> Vec<(&'static str, Lang, &'static str)> {
    QUESTIONS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let [question, lang, expected] = cells[..] else {
                panic!("bad row {line:?}");
            };
            let lang = match lang {
                "en" => Lang::En,
                "zh" => Lang::Zh,
                other => panic!("bad language {other:?}"),
            };
            (question, lang, expected)
        })
        .collect()
}

#[test]
fn thirty_everyday_questions_find_their_service_in_the_top_3() {
    let catalogue = Catalogue::bundled().unwrap();
    let index = Index::build(&catalogue).unwrap();
    let questions = questions();
    assert_eq!(questions.len(), 30);
    let chinese = questions.iter().filter(|q| q.1 == Lang::Zh).count();
    assert_eq!(chinese, 15, "half the questions are in Chinese");
    assert!(questions
        .iter()
        .filter(|q| q.1 == Lang::Zh)
        .all(|q| q.0.chars().any(iamsmart_catalogue::is_han)));
    let mut failures = Vec::new();
    for &(question, lang, expected) in &questions {
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
