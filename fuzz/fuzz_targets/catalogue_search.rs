//! `iamsmart_catalogue::Index::search` over the bundled catalogue on arbitrary query text.
//!
//! Input: a selector byte (selector % 3: no language hint, English, Chinese; selector / 3 % 16:
//! the limit), then the query as UTF-8 (invalid sequences replaced).
//!
//! Properties: search never fails; at most `limit` hits, best first, each a service of the
//! catalogue with a finite positive score and at least one matched field; an empty query has no
//! hit; the searched text is at most `MAX_QUERY_CHARS` characters, and `truncated` says whether
//! the input was longer.
#![no_main]
use std::sync::OnceLock;

use iamsmart_catalogue::{Catalogue, Index, Lang, MAX_QUERY_CHARS};
use libfuzzer_sys::fuzz_target;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| Index::build(&Catalogue::bundled().expect("catalogue")).expect("index"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let lang = match selector % 3 {
        0 => None,
        1 => Some(Lang::En),
        _ => Some(Lang::Zh),
    };
    let limit = usize::from(selector / 3 % 16);
    let query = String::from_utf8_lossy(rest);
    let results = index()
        .search(&query, lang, limit)
        .unwrap_or_else(|e| panic!("{query:?}: {e}"));
    assert!(results.hits.len() <= limit);
    assert!(results.searched_text.chars().count() <= MAX_QUERY_CHARS);
    assert_eq!(results.truncated, query.chars().count() > MAX_QUERY_CHARS);
    if results.empty_query {
        assert!(results.hits.is_empty());
    }
    for hit in &results.hits {
        assert!(index().catalogue().get(&hit.id).is_some(), "{}", hit.id);
        assert!(hit.score.is_finite() && hit.score > 0.0, "{hit:?}");
        assert!(!hit.matched.is_empty(), "{hit:?}");
    }
    assert!(results.hits.windows(2).all(|w| w[0].score >= w[1].score));
});
