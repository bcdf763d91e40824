//! Searching the catalogue in residents' own words.
//!
//! A query is cleaned up (see [`crate::text`]), then turned into *concepts*: the English stems
//! of its words, its jieba words and its Chinese bigrams, plus the phrases of the synonym groups
//! it triggers and, for English words the catalogue does not have, the nearest catalogue words
//! (typo correction). Each concept is one disjunction over the five parts of a service, boosted
//! by part (name over keywords over department over description and topics); the concepts are
//! summed. Synonyms, corrections and bigrams count less than the resident's own words. The
//! BM25 score is then multiplied by a mild popularity factor.
//!
//! The query is built term by term; tantivy's query parser is never given user text, so no
//! character is syntax and no query fails to parse.

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, DisjunctionMaxQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::{TokenStream, Tokenizer};
use tantivy::{DocAddress, DocSet, Searcher, Term, TERMINATED};

use crate::error::Result;
use crate::index::{Analysis, Index, MatchedField};
use crate::model::{Lang, MAX_POPULARITY};
use crate::text::{clean_query, edit_distance, fold, is_han, tokens};

/// Weight of a synonym's words against the resident's own.
const SYNONYM_WEIGHT: f32 = 0.5;
/// Weight of a bigram concept against a jieba word (bigrams overlap each other and the words).
const BIGRAM_WEIGHT: f32 = 0.5;
/// Weight of a typo correction at edit distance 1 (distance 2 counts half of this).
const CORRECTION_WEIGHT: f32 = 0.6;
/// Extra weight of the fields in the language the resident asked in.
const LANGUAGE_HINT_BOOST: f32 = 1.2;
/// How far popularity can lift a score: the most popular service gets this factor more.
const POPULARITY_WEIGHT: f32 = 0.2;
/// How much of a part's score the other parts add in a concept's disjunction.
const TIE_BREAKER: f32 = 0.1;
/// Hits scoring under this share of the best hit's score are dropped: they matched only a
/// stray word (a synonym's, or one bigram) and would bury nothing but add noise.
const MIN_SHARE_OF_BEST: f32 = 0.1;
/// At most this many concepts are searched (a 200-character query has fewer in practice).
const MAX_CONCEPTS: usize = 96;
/// At most this many words of a query are typo-corrected, and to at most this many words each.
const MAX_CORRECTED_WORDS: usize = 6;
const MAX_CORRECTIONS_PER_WORD: usize = 3;
/// Results asked for beyond this are not returned.
pub const MAX_LIMIT: usize = 200;

/// One service found.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The service's id.
    pub id: String,
    /// The ranking score: relevance times the popularity factor.
    pub score: f32,
    /// The relevance alone (BM25 over the concepts).
    pub relevance: f32,
    /// The parts of the service that matched, in weight order.
    pub matched: Vec<MatchedField>,
}

/// A typo correction made for a query word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    /// The word as typed (lowercased).
    pub typed: String,
    /// The catalogue word searched for instead.
    pub searched: String,
}

/// The results of a search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchResults {
    /// Services found, best first.
    pub hits: Vec<SearchHit>,
    /// The query had nothing to search for: empty, blank, or only punctuation, symbols, emoji
    /// or common words. Show a friendly prompt rather than "no results".
    pub empty_query: bool,
    /// The query was longer than [`crate::MAX_QUERY_CHARS`] characters and was cut.
    pub truncated: bool,
    /// The query text as searched, after clean-up.
    pub searched_text: String,
    /// Synonym phrases added to the query.
    pub synonyms_added: Vec<String>,
    /// Typo corrections made.
    pub corrections: Vec<Correction>,
}

/// Something to look for: a term in the fields of one analysis.
#[derive(Debug, Clone, PartialEq)]
struct Concept {
    analysis: Analysis,
    term: String,
    weight: f32,
}

/// The concepts of a query: the resident's words, deduplicated (a repeated concept keeps its
/// highest weight), and the synonym groups it triggers. A group counts as much as its
/// best-matching phrase (a disjunction), so a group with many phrases does not outweigh the
/// resident's words; a phrase sums its concepts.
#[derive(Default)]
struct Plan {
    concepts: Vec<Concept>,
    seen: HashMap<(Analysis, String), usize>,
    synonym_groups: Vec<Vec<Vec<Concept>>>,
    synonym_concepts: usize,
    synonyms_added: Vec<String>,
    corrections: Vec<Correction>,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.concepts.is_empty() && self.synonym_groups.is_empty()
    }

    /// Every concept, the resident's and the synonyms'.
    fn all_concepts(&self) -> impl Iterator<Item = &Concept> {
        self.concepts
            .iter()
            .chain(self.synonym_groups.iter().flatten().flatten())
    }

    fn add(&mut self, analysis: Analysis, term: &str, weight: f32) {
        if term.is_empty() {
            return;
        }
        let key = (analysis, term.to_string());
        if let Some(&i) = self.seen.get(&key) {
            let concept = &mut self.concepts[i];
            concept.weight = concept.weight.max(weight);
        } else if self.concepts.len() + self.synonym_concepts < MAX_CONCEPTS {
            self.seen.insert(key, self.concepts.len());
            self.concepts.push(Concept {
                analysis,
                term: term.to_string(),
                weight,
            });
        }
    }
}

impl Index {
    /// Searches the catalogue for `query`, typed by a resident in English or Chinese (or both).
    ///
    /// `lang_hint` is the language of the page the resident searches from: fields in that
    /// language weigh a little more. At most `limit` hits (and at most [`MAX_LIMIT`]) come
    /// back, best first.
    ///
    /// No query text is an error: empty or meaningless text gives no hit and
    /// [`SearchResults::empty_query`]; text over [`crate::MAX_QUERY_CHARS`] characters is cut
    /// ([`SearchResults::truncated`]). An error means the index itself could not be read.
    pub fn search(
        &self,
        query: &str,
        lang_hint: Option<Lang>,
        limit: usize,
    ) -> Result<SearchResults> {
        let clean = clean_query(query);
        let mut results = SearchResults {
            truncated: clean.truncated,
            searched_text: clean.text.clone(),
            ..SearchResults::default()
        };
        let plan = self.plan(&clean.text);
        results.synonyms_added = plan.synonyms_added.clone();
        results.corrections = plan.corrections.clone();
        if plan.is_empty() {
            results.empty_query = true;
            return Ok(results);
        }
        let limit = limit.min(MAX_LIMIT).min(self.catalogue.len());
        if limit == 0 {
            return Ok(results);
        }
        let query = self.query(&plan, lang_hint);
        let searcher = self.reader.searcher();
        // Popularity can reorder hits, so rank every candidate (the catalogue is small).
        let candidates = self.catalogue.len().clamp(1, 10_000);
        let top = searcher.search(&query, &TopDocs::with_limit(candidates).order_by_score())?;

        let ln_max = (1.0 + MAX_POPULARITY as f32).ln();
        let mut positions = HashMap::new();
        let mut ranked = Vec::with_capacity(top.len());
        for (relevance, address) in top {
            let column = match positions.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    searcher
                        .segment_reader(address.segment_ord)
                        .fast_fields()
                        .u64(crate::index::POSITION_FIELD)?,
                ),
            };
            let Some(service) = column
                .first(address.doc_id)
                .and_then(|p| usize::try_from(p).ok())
                .and_then(|p| self.catalogue.services().get(p))
            else {
                continue;
            };
            let popularity = (1.0 + service.popularity as f32).ln() / ln_max;
            let score = relevance * (1.0 + POPULARITY_WEIGHT * popularity);
            ranked.push((score, relevance, address, service.id.clone()));
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.3.cmp(&b.3)));
        let floor = ranked
            .first()
            .map_or(0.0, |best| best.0 * MIN_SHARE_OF_BEST);
        ranked.retain(|r| r.0 >= floor);
        ranked.truncate(limit);

        let addresses: Vec<DocAddress> = ranked.iter().map(|r| r.2).collect();
        let concepts: Vec<&Concept> = plan.all_concepts().collect();
        let matched = self.matched_fields(&searcher, &concepts, &addresses)?;
        results.hits = ranked
            .into_iter()
            .zip(matched)
            .map(|((score, relevance, _, id), matched)| SearchHit {
                id,
                score,
                relevance,
                matched,
            })
            .collect();
        Ok(results)
    }

    /// The concepts of a cleaned query.
    fn plan(&self, text: &str) -> Plan {
        let mut plan = Plan::default();
        if text.is_empty() {
            return plan;
        }
        let mut analyzers = self.analyzers.clone();

        // English: each word's stem; a word whose stem the catalogue lacks is corrected to the
        // nearest catalogue words. The stems, with corrections, also trigger synonyms.
        let mut stems_for_synonyms = Vec::new();
        let mut corrected_words = 0;
        for word in tokens(&mut analyzers.english_words, text) {
            if word.chars().any(is_han) {
                continue;
            }
            let Some(stem) = tokens(&mut analyzers.english, &word).into_iter().next() else {
                continue;
            };
            if self.english_stems.contains(&stem) {
                plan.add(Analysis::English, &stem, 1.0);
                stems_for_synonyms.push(stem);
                continue;
            }
            let corrections = if corrected_words < MAX_CORRECTED_WORDS {
                self.corrections(&word)
            } else {
                Vec::new()
            };
            if corrections.is_empty() {
                stems_for_synonyms.push(stem);
                continue;
            }
            corrected_words += 1;
            for (i, (correct, distance)) in corrections.into_iter().enumerate() {
                let weight = CORRECTION_WEIGHT / distance as f32;
                for corrected_stem in tokens(&mut analyzers.english, &correct) {
                    if i == 0 {
                        stems_for_synonyms.push(corrected_stem.clone());
                    }
                    plan.add(Analysis::English, &corrected_stem, weight);
                }
                plan.corrections.push(Correction {
                    typed: word.clone(),
                    searched: correct,
                });
            }
        }

        // Chinese: jieba words and bigrams. When jieba finds only common words (我想, 點樣),
        // the bigrams are not searched either: the query has nothing to look for.
        let has_han = text.chars().any(is_han);
        if has_han {
            let mut words = 0;
            let mut stream = analyzers.chinese_words.token_stream(text);
            while let Some(token) = stream.next() {
                plan.add(Analysis::ChineseWords, &token.text, 1.0);
                words += 1;
            }
            if words > 0 {
                for bigram in crate::text::chinese_bigrams(text) {
                    plan.add(Analysis::ChineseBigrams, &bigram, BIGRAM_WEIGHT);
                }
            }
        }

        // Synonyms, triggered by the resident's words only.
        let folded = if has_han { fold(text) } else { String::new() };
        for group in self.synonyms.expansions(&stems_for_synonyms, &folded) {
            let mut phrases = Vec::with_capacity(group.len());
            for (phrase, analysed) in group {
                let concepts: Vec<Concept> = analysed
                    .english
                    .iter()
                    .map(|t| (Analysis::English, t, 1.0))
                    .chain(
                        analysed
                            .chinese_words
                            .iter()
                            .map(|t| (Analysis::ChineseWords, t, 1.0)),
                    )
                    .chain(
                        analysed
                            .chinese_bigrams
                            .iter()
                            .map(|t| (Analysis::ChineseBigrams, t, BIGRAM_WEIGHT)),
                    )
                    .map(|(analysis, term, weight)| Concept {
                        analysis,
                        term: term.clone(),
                        weight,
                    })
                    .collect();
                if plan.concepts.len() + plan.synonym_concepts + concepts.len() > MAX_CONCEPTS {
                    break;
                }
                plan.synonym_concepts += concepts.len();
                if !plan.synonyms_added.contains(phrase) {
                    plan.synonyms_added.push(phrase.clone());
                }
                phrases.push(concepts);
            }
            if !phrases.is_empty() {
                plan.synonym_groups.push(phrases);
            }
        }
        plan
    }

    /// The catalogue words nearest to a word the catalogue lacks: edit distance 1 for words of
    /// 5 to 7 letters, 2 from 8 letters; shorter words and words with digits are not corrected.
    /// Nearest first, then the most used.
    fn corrections(&self, word: &str) -> Vec<(String, usize)> {
        let letters = word.chars().count();
        if letters < 5 || !word.chars().all(|c| c.is_ascii_alphabetic()) {
            return Vec::new();
        }
        let max = if letters >= 8 { 2 } else { 1 };
        let mut found: Vec<(usize, u32, &str)> = self
            .english_words
            .iter()
            .filter_map(|(candidate, &uses)| {
                edit_distance(word, candidate, max).map(|d| (d, uses, candidate.as_str()))
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2)));
        let best = found.first().map(|f| f.0);
        found
            .into_iter()
            .take_while(|f| Some(f.0) == best)
            .take(MAX_CORRECTIONS_PER_WORD)
            .map(|(d, _, w)| (w.to_string(), d))
            .collect()
    }

    /// One concept's query: a disjunction over the parts, boosted by part and by language.
    fn concept_query(&self, concept: &Concept, lang_hint: Option<Lang>) -> Box<dyn Query> {
        let language_boost = match (lang_hint, concept.analysis) {
            (Some(Lang::En), Analysis::English) => LANGUAGE_HINT_BOOST,
            (Some(Lang::Zh), Analysis::ChineseWords | Analysis::ChineseBigrams) => {
                LANGUAGE_HINT_BOOST
            }
            _ => 1.0,
        };
        let parts: Vec<Box<dyn Query>> = MatchedField::ALL
            .iter()
            .map(|&part| {
                let field = self.fields.get(part, concept.analysis);
                let term = TermQuery::new(
                    Term::from_field_text(field, &concept.term),
                    IndexRecordOption::WithFreqs,
                );
                Box::new(BoostQuery::new(Box::new(term), part.boost())) as Box<dyn Query>
            })
            .collect();
        let disjunction = DisjunctionMaxQuery::with_tie_breaker(parts, TIE_BREAKER);
        Box::new(BoostQuery::new(
            Box::new(disjunction),
            concept.weight * language_boost,
        ))
    }

    /// The tantivy query of a plan: the sum of the resident's concepts and of the synonym
    /// groups (each the best of its phrases, each phrase the sum of its concepts).
    fn query(&self, plan: &Plan, lang_hint: Option<Lang>) -> BooleanQuery {
        let should = |q: Box<dyn Query>| (Occur::Should, q);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = plan
            .concepts
            .iter()
            .map(|c| should(self.concept_query(c, lang_hint)))
            .collect();
        for group in &plan.synonym_groups {
            let phrases: Vec<Box<dyn Query>> = group
                .iter()
                .map(|concepts| {
                    let sum = concepts
                        .iter()
                        .map(|c| should(self.concept_query(c, lang_hint)))
                        .collect();
                    Box::new(BooleanQuery::new(sum)) as Box<dyn Query>
                })
                .collect();
            let best = DisjunctionMaxQuery::new(phrases);
            clauses.push(should(Box::new(BoostQuery::new(
                Box::new(best),
                SYNONYM_WEIGHT,
            ))));
        }
        BooleanQuery::new(clauses)
    }

    /// For each hit, the parts in which some concept occurs.
    fn matched_fields(
        &self,
        searcher: &Searcher,
        concepts: &[&Concept],
        hits: &[DocAddress],
    ) -> Result<Vec<Vec<MatchedField>>> {
        let mut matched = vec![Vec::new(); hits.len()];
        for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
            let mut local: Vec<(u32, usize)> = hits
                .iter()
                .enumerate()
                .filter(|(_, a)| a.segment_ord as usize == segment_ord)
                .map(|(i, a)| (a.doc_id, i))
                .collect();
            if local.is_empty() {
                continue;
            }
            local.sort_unstable();
            for part in MatchedField::ALL {
                for analysis in Analysis::ALL {
                    let field = self.fields.get(part, analysis);
                    let inverted = segment.inverted_index(field)?;
                    for concept in concepts.iter().filter(|c| c.analysis == analysis) {
                        let term = Term::from_field_text(field, &concept.term);
                        let Some(mut postings) = inverted
                            .read_postings(&term, IndexRecordOption::Basic)
                            .map_err(tantivy::TantivyError::from)?
                        else {
                            continue;
                        };
                        for &(doc, hit) in &local {
                            let current = postings.doc();
                            if current == TERMINATED || current > doc {
                                continue;
                            }
                            if postings.seek(doc) == doc && !matched[hit].contains(&part) {
                                matched[hit].push(part);
                            }
                        }
                    }
                }
            }
        }
        for parts in &mut matched {
            parts.sort();
        }
        Ok(matched)
    }
}
