//! Search behaviour: hostile input, both scripts, typos, synonyms, ranking, and edits that show
//! without a restart.

use std::sync::{Arc, OnceLock};

use iamsmart_catalogue::{
    Catalogue, Index, Lang, LiveIndex, MatchedField, SearchResults, Synonyms, MAX_QUERY_CHARS,
};

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| Index::build(&Catalogue::bundled().unwrap()).unwrap())
}

fn ids(results: &SearchResults) -> Vec<&str> {
    results.hits.iter().map(|h| h.id.as_str()).collect()
}

fn top3(query: &str) -> Vec<String> {
    let results = index().search(query, None, 3).unwrap();
    ids(&results).into_iter().map(String::from).collect()
}

#[test]
fn empty_and_meaningless_queries_say_so() {
    for query in [
        "",
        "   ",
        "\t\n\r",
        "+ - && || ! ( ) { } [ ] ^ \" ~ * ? : \\ /",
        "😀🏠🙏",
        "\u{0}\u{1}\u{7f}\u{200b}\u{feff}",
        "how do I",
        "我想",
        "。，！？「」",
    ] {
        let results = index().search(query, None, 10).unwrap();
        assert!(results.hits.is_empty(), "{query:?}: {:?}", ids(&results));
        assert!(results.empty_query, "{query:?}");
    }
    let results = index().search("passport", None, 10).unwrap();
    assert!(!results.empty_query);
}

#[test]
fn huge_queries_are_cut_not_refused() {
    let huge = "public housing ".repeat(700);
    assert!(huge.len() > 10_000);
    let results = index().search(&huge, Some(Lang::En), 5).unwrap();
    assert!(results.truncated);
    assert!(results.searched_text.chars().count() <= MAX_QUERY_CHARS);
    assert_eq!(results.hits[0].id, "ha-public-rental-housing-application");

    let huge_chinese = "公屋".repeat(6_000);
    let results = index().search(&huge_chinese, Some(Lang::Zh), 5).unwrap();
    assert!(results.truncated);
    assert_eq!(results.hits[0].id, "ha-public-rental-housing-application");

    let noise: String = (0..12_000u32)
        .filter_map(|i| char::from_u32(0x20 + (i * 7919) % 0x2FFFF))
        .collect();
    let results = index().search(&noise, None, 5).unwrap();
    assert!(results.truncated);
}

#[test]
fn query_syntax_characters_are_just_text() {
    for query in [
        "name:公屋 AND -tax~2",
        "(public housing)^5 || \"rent\"",
        "public* housing?",
        "{公屋} [申請]",
        "public\\housing/apply",
        "-+公屋+-",
    ] {
        let results = index().search(query, None, 3).unwrap();
        assert!(
            ids(&results).contains(&"ha-public-rental-housing-application"),
            "{query:?}: {:?}",
            ids(&results)
        );
    }
}

#[test]
fn mixed_scripts_emoji_and_control_characters_still_find_the_service() {
    assert_eq!(
        top3("apply 公屋 please")[0],
        "ha-public-rental-housing-application"
    );
    assert_eq!(
        top3("🏠 公屋 🙏")[0],
        "ha-public-rental-housing-application"
    );
    assert_eq!(top3("\u{7}passport\u{0}")[0], "immd-passport");
    assert_eq!(top3("ＰＡＳＳＰＯＲＴ")[0], "immd-passport");
    assert_eq!(top3("\u{202e}passport\u{202c}")[0], "immd-passport");
}

#[test]
fn simplified_and_traditional_chinese_match_alike() {
    assert_eq!(top3("申请公屋")[0], "ha-public-rental-housing-application");
    assert_eq!(top3("身份证")[0..2].len(), 2);
    assert!(top3("补领身份证").contains(&"immd-id-card-replacement".to_string()));
    assert_eq!(top3("强积金")[0], "mpfa-empf");
}

#[test]
fn bigrams_match_what_jieba_splits() {
    // 職安健 and 醫健通 are not in jieba's dictionary; the bigrams still find them.
    assert!(top3("職安健").contains(&"ld-osh-courses".to_string()));
    assert_eq!(top3("醫健通")[0], "ehealth");
}

#[test]
fn typos_are_corrected_as_a_fallback() {
    let results = index().search("pasport", Some(Lang::En), 3).unwrap();
    assert_eq!(results.hits[0].id, "immd-passport");
    assert!(results
        .corrections
        .iter()
        .any(|c| c.typed == "pasport" && c.searched == "passport"));

    assert!(top3("libary books").contains(&"hkpl-library-e-services".to_string()));
    assert!(top3("hosiptal appointment").contains(&"ha-go".to_string()));
    assert!(top3("goverment jobs").contains(&"csb-government-vacancies".to_string()));

    // A word the catalogue has is never "corrected".
    let results = index().search("passport", Some(Lang::En), 3).unwrap();
    assert!(results.corrections.is_empty());
    // Short words are not corrected (too many neighbours).
    let results = index().search("tex", Some(Lang::En), 3).unwrap();
    assert!(results.corrections.is_empty());
}

#[test]
fn synonyms_bring_everyday_words_to_the_services() {
    let results = index().search("ID card", Some(Lang::En), 3).unwrap();
    assert!(
        results.hits[0].id.starts_with("immd-id-card"),
        "{:?}",
        ids(&results)
    );
    assert!(results.synonyms_added.iter().any(|s| s == "HKID"));

    // 交通 finds transport services.
    let catalogue = index().catalogue();
    let results = index().search("交通", Some(Lang::Zh), 5).unwrap();
    assert_eq!(results.hits.len(), 5);
    for hit in &results.hits {
        let service = catalogue.get(&hit.id).unwrap();
        assert!(
            service
                .themes
                .contains(&iamsmart_catalogue::Theme::Transport),
            "{}",
            hit.id
        );
    }
    assert_eq!(top3("tax return")[0], "ird-etax");
    assert!(
        top3("public housing rent").contains(&"ha-public-rental-housing-application".to_string())
    );
    assert_eq!(top3("pension")[0], "mpfa-empf");

    // Without synonyms, the everyday word finds less.
    let plain = Index::build_with_synonyms(catalogue, Synonyms::none()).unwrap();
    let results = plain.search("睇醫生紀錄", Some(Lang::Zh), 3).unwrap();
    assert!(results.synonyms_added.is_empty());
}

#[test]
fn hits_say_where_they_matched_and_rank_names_first() {
    let results = index().search("eTAX", Some(Lang::En), 3).unwrap();
    let hit = &results.hits[0];
    assert_eq!(hit.id, "ird-etax");
    assert!(
        hit.matched.contains(&MatchedField::Name),
        "{:?}",
        hit.matched
    );
    assert!(hit.score >= hit.relevance && hit.relevance > 0.0);

    let results = index()
        .search("Transport Department", Some(Lang::En), 40)
        .unwrap();
    let hit = results.hits.iter().find(|h| h.id == "td-hketoll").unwrap();
    assert!(hit.matched.contains(&MatchedField::Department));

    // Ranking: a name match beats a description match, and popularity breaks ties.
    let template = Catalogue::bundled().unwrap();
    let base = template
        .get("ird-tax-reserve-certificates")
        .unwrap()
        .clone();
    let mut in_name = base.clone();
    in_name.id = "zebra-in-name".into();
    in_name.name.en = "Zebra crossing permits".into();
    in_name.popularity = 1;
    let mut in_description = base.clone();
    in_description.id = "zebra-in-description".into();
    in_description.description.en = "Permits for works near a zebra crossing.".into();
    in_description.popularity = 100;
    let mut twin_popular = in_name.clone();
    twin_popular.id = "zebra-twin-popular".into();
    twin_popular.popularity = 90;
    let small = Catalogue::new(vec![base, in_description, in_name, twin_popular]).unwrap();
    let small_index = Index::build(&small).unwrap();
    let results = small_index.search("zebra", Some(Lang::En), 10).unwrap();
    assert_eq!(
        ids(&results),
        [
            "zebra-twin-popular",
            "zebra-in-name",
            "zebra-in-description"
        ]
    );
}

#[test]
fn limits_are_respected() {
    assert!(index().search("licence", None, 0).unwrap().hits.is_empty());
    assert_eq!(index().search("licence", None, 2).unwrap().hits.len(), 2);
    let all = index().search("licence", None, usize::MAX).unwrap();
    assert!(all.hits.len() <= index().catalogue().len());
    let scores: Vec<f32> = all.hits.iter().map(|h| h.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[test]
fn operators_edits_show_without_a_restart() {
    let catalogue = Catalogue::bundled().unwrap();
    let live = LiveIndex::new(Index::build(&catalogue).unwrap());
    assert!(live
        .search("dragon boat", Some(Lang::En), 3)
        .unwrap()
        .hits
        .is_empty());

    let mut service = catalogue.get("lcsd-museum-pass").unwrap().clone();
    service.id = "lcsd-dragon-boat-races".into();
    service.name.en = "Dragon boat race enrolment".into();
    service.name.zh = "龍舟競賽報名".into();
    live.upsert_service(service.clone()).unwrap();
    let results = live.search("dragon boat", Some(Lang::En), 3).unwrap();
    assert_eq!(results.hits[0].id, "lcsd-dragon-boat-races");
    assert_eq!(
        live.search("龍舟", Some(Lang::Zh), 3).unwrap().hits[0].id,
        "lcsd-dragon-boat-races"
    );

    // An edit that fails the checks is refused and changes nothing.
    let mut broken = service.clone();
    broken.url = "ftp://example".into();
    assert!(live.upsert_service(broken).is_err());
    assert_eq!(
        live.current().catalogue().get("lcsd-dragon-boat-races"),
        Some(&service)
    );

    assert!(live.remove_service("lcsd-dragon-boat-races").unwrap());
    assert!(!live.remove_service("lcsd-dragon-boat-races").unwrap());
    assert!(live
        .search("dragon boat", Some(Lang::En), 3)
        .unwrap()
        .hits
        .is_empty());

    let synonyms =
        Synonyms::from_toml("[[group]]\nwhen = [\"dinosaur\"]\nadd = [\"museum\"]\n").unwrap();
    live.replace_synonyms(synonyms).unwrap();
    assert_eq!(
        live.search("dinosaur", None, 3).unwrap().hits[0].id,
        "lcsd-museum-pass"
    );
    live.replace_catalogue(&catalogue).unwrap();
    assert_eq!(live.current().synonyms().len(), 1);
}

#[test]
fn searches_run_while_the_index_is_swapped() {
    let catalogue = Catalogue::bundled().unwrap();
    let live = Arc::new(LiveIndex::new(Index::build(&catalogue).unwrap()));
    let searchers: Vec<_> = (0..2)
        .map(|_| {
            let live = Arc::clone(&live);
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let results = live.search("passport", Some(Lang::En), 3).unwrap();
                    assert_eq!(results.hits[0].id, "immd-passport");
                }
            })
        })
        .collect();
    for popularity in [10, 20, 30] {
        let mut edited = catalogue.get("ird-etax").unwrap().clone();
        edited.popularity = popularity;
        live.upsert_service(edited).unwrap();
    }
    for searcher in searchers {
        searcher.join().unwrap();
    }
    assert_eq!(
        live.current()
            .catalogue()
            .get("ird-etax")
            .unwrap()
            .popularity,
        30
    );
}
