//! Synonyms: everyday words residents search with, mapped to the words services are described
//! with (`data/synonyms.toml` documents the format and the matching).

use serde::Deserialize;
use tantivy::tokenizer::{TextAnalyzer, Tokenizer};

use crate::error::{Error, Result};
use crate::text::{chinese_bigrams, english_analyzer, fold, is_han, tokens, ChineseWordTokenizer};

const BUNDLED: &str = include_str!("../data/synonyms.toml");

/// A phrase analysed the way the index analyses text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Analysed {
    /// English stems.
    pub english: Vec<String>,
    /// Chinese words (folded).
    pub chinese_words: Vec<String>,
    /// Chinese bigrams (folded).
    pub chinese_bigrams: Vec<String>,
}

impl Analysed {
    pub(crate) fn of(
        text: &str,
        english: &mut TextAnalyzer,
        words: &mut ChineseWordTokenizer,
    ) -> Self {
        let mut chinese_words = Vec::new();
        if text.chars().any(is_han) {
            let mut stream = words.token_stream(text);
            while let Some(t) = tantivy::tokenizer::TokenStream::next(&mut stream) {
                chinese_words.push(t.text.clone());
            }
        }
        Self {
            english: tokens(english, text)
                .into_iter()
                .filter(|t| !t.chars().any(is_han))
                .collect(),
            chinese_words,
            chinese_bigrams: chinese_bigrams(text),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.english.is_empty() && self.chinese_words.is_empty() && self.chinese_bigrams.is_empty()
    }
}

/// What makes a group apply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Trigger {
    /// A sequence of English stems, found in order and next to each other.
    English(Vec<String>),
    /// Folded Chinese text, found as a substring.
    Chinese(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    when: Vec<Trigger>,
    add: Vec<(String, Analysed)>,
}

/// A set of synonym groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synonyms {
    groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    group: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    when: Vec<String>,
    add: Vec<String>,
}

impl Synonyms {
    /// The synonyms shipped with this crate (`data/synonyms.toml`).
    pub fn bundled() -> Result<Self> {
        Self::from_toml(BUNDLED)
    }

    /// No synonyms.
    pub fn none() -> Self {
        Self { groups: Vec::new() }
    }

    /// Reads synonyms in the format of `data/synonyms.toml`.
    pub fn from_toml(text: &str) -> Result<Self> {
        let raw: RawFile = toml::from_str(text).map_err(|e| Error::Syntax {
            source_name: "synonyms".into(),
            message: e.to_string(),
        })?;
        let mut english = english_analyzer();
        let mut words = ChineseWordTokenizer::default();
        let mut groups = Vec::with_capacity(raw.group.len());
        for (i, g) in raw.group.into_iter().enumerate() {
            let problem = |problem: String| Error::Synonyms {
                group: i + 1,
                problem,
            };
            if g.when.is_empty() || g.add.is_empty() {
                return Err(problem("`when` and `add` each need a phrase".into()));
            }
            let mut when = Vec::with_capacity(g.when.len());
            for phrase in &g.when {
                if phrase.chars().any(is_han) {
                    when.push(Trigger::Chinese(fold(phrase.trim())));
                } else {
                    let stems = tokens(&mut english, phrase);
                    if stems.is_empty() {
                        return Err(problem(format!(
                            "{phrase:?} has no searchable word (only common words like \"my\")"
                        )));
                    }
                    when.push(Trigger::English(stems));
                }
            }
            let mut add = Vec::with_capacity(g.add.len());
            for phrase in g.add {
                let analysed = Analysed::of(&phrase, &mut english, &mut words);
                if analysed.is_empty() {
                    return Err(problem(format!("{phrase:?} has no searchable word")));
                }
                add.push((phrase, analysed));
            }
            groups.push(Group { when, add });
        }
        Ok(Self { groups })
    }

    /// The number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there is no group.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The groups a query with these English stems and this folded text triggers, each as its
    /// list of phrases to add.
    pub(crate) fn expansions<'a>(
        &'a self,
        english_stems: &[String],
        folded_query: &str,
    ) -> Vec<&'a [(String, Analysed)]> {
        self.groups
            .iter()
            .filter(|group| {
                group.when.iter().any(|trigger| match trigger {
                    Trigger::Chinese(text) => folded_query.contains(text.as_str()),
                    Trigger::English(stems) => english_stems
                        .windows(stems.len())
                        .any(|window| window == stems.as_slice()),
                })
            })
            .map(|group| group.add.as_slice())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_synonyms_load() {
        let s = Synonyms::bundled().unwrap();
        assert!(s.len() >= 30);
    }

    #[test]
    fn english_triggers_match_stems_in_order() {
        let s =
            Synonyms::from_toml("[[group]]\nwhen = [\"id card\"]\nadd = [\"HKID\", \"身份證\"]\n")
                .unwrap();
        let q = tokens(&mut english_analyzer(), "renew my ID cards");
        let groups = s.expansions(&q, "");
        let added: Vec<&str> = groups[0].iter().map(|p| p.0.as_str()).collect();
        assert_eq!(added, ["HKID", "身份證"]);
        let q = tokens(&mut english_analyzer(), "card id");
        assert!(s.expansions(&q, "").is_empty());
    }

    #[test]
    fn chinese_triggers_match_either_script() {
        let s = Synonyms::from_toml("[[group]]\nwhen = [\"公屋\"]\nadd = [\"public housing\"]\n")
            .unwrap();
        assert_eq!(s.expansions(&[], &fold("申請公屋")).len(), 1);
        assert_eq!(s.expansions(&[], &fold("申请公屋")).len(), 1);
    }

    #[test]
    fn bad_groups_are_refused() {
        let err = Synonyms::from_toml("[[group]]\nwhen = [\"my\"]\nadd = [\"x\"]\n").unwrap_err();
        assert!(err.to_string().contains("group 1"), "{err}");
        assert!(Synonyms::from_toml("[[group]]\nwhen = []\nadd = [\"x\"]\n").is_err());
        assert!(Synonyms::from_toml("[[grup]]\n").is_err());
    }
}
