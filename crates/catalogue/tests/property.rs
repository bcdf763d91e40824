//! Property: no query text makes search fail or panic, and every answer is well-formed.

use std::sync::OnceLock;

use iamsmart_catalogue::{Catalogue, Index, Lang, MAX_QUERY_CHARS};
use proptest::prelude::*;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| Index::build(&Catalogue::bundled().unwrap()).unwrap())
}

fn check(query: &str, lang: Option<Lang>, limit: usize) {
    let results = index()
        .search(query, lang, limit)
        .unwrap_or_else(|e| panic!("{query:?}: {e}"));
    assert!(results.hits.len() <= limit);
    assert!(results.searched_text.chars().count() <= MAX_QUERY_CHARS);
    assert_eq!(results.truncated, query.chars().count() > MAX_QUERY_CHARS);
    if results.empty_query {
        assert!(results.hits.is_empty());
    }
    for hit in &results.hits {
        assert!(index().catalogue().get(&hit.id).is_some(), "{}", hit.id);
        assert!(
            hit.score.is_finite() && hit.score > 0.0,
            "{query:?}: {hit:?}"
        );
        assert!(!hit.matched.is_empty(), "{query:?}: {hit:?}");
    }
    assert!(results.hits.windows(2).all(|w| w[0].score >= w[1].score));
    if let Some(best) = results.hits.first() {
        // Stray matches under a tenth of the best are not shown.
        assert!(results.hits.iter().all(|h| h.score >= best.score * 0.1));
    }
}

/// Pieces residents and attackers type: words of both languages, syntax, emoji, controls.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("公屋".to_string()),
        Just("身份證".to_string()),
        Just("tax".to_string()),
        Just("licence".to_string()),
        Just("搵工".to_string()),
        Just("ID card".to_string()),
        Just("😀".to_string()),
        Just("\u{200b}".to_string()),
        Just("\u{0}".to_string()),
        Just("\u{202e}".to_string()),
        Just("ＡＢＣ".to_string()),
        "[-+&|!(){}\\[\\]^\"~*?:\\\\/ ]{1,4}",
        "[a-z]{1,12}",
        "[\u{4e00}-\u{9fff}]{1,4}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_string_is_answered(query in any::<String>(), limit in 0usize..30) {
        check(&query, None, limit);
    }

    #[test]
    fn mixtures_are_answered(
        pieces in prop::collection::vec(piece(), 0..12),
        zh in any::<bool>(),
        limit in 1usize..12,
    ) {
        let query = pieces.concat();
        check(&query, Some(if zh { Lang::Zh } else { Lang::En }), limit);
    }

    #[test]
    fn long_strings_are_cut(pieces in prop::collection::vec(piece(), 1..4), repeat in 50usize..400) {
        let query = pieces.concat().repeat(repeat);
        check(&query, None, 5);
    }
}
