//! The search index: a tantivy index in RAM over one catalogue, built in one go.
//!
//! Every service is one document. Its texts are grouped in five parts (see [`MatchedField`]),
//! and each part is indexed three ways: English (stemmed), Chinese words (jieba) and Chinese
//! bigrams. Queries are built from these fields in [`crate::search`]; tantivy's query parser
//! is never used, so no query text is syntax.
//!
//! An index is immutable. To show an operator's edit, build a new one from the edited catalogue
//! and swap it in: [`crate::LiveIndex`] does that behind an `Arc`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};

use crate::catalogue::Catalogue;
use crate::clusters::Cluster;
use crate::error::Result;
use crate::model::{AgeGroup, Service};
use crate::synonyms::Synonyms;
use crate::text::{
    english_analyzer, english_words_analyzer, tokens, ChineseBigramTokenizer, ChineseWordTokenizer,
    CHINESE_BIGRAMS, CHINESE_WORDS, ENGLISH,
};

/// The part of a service a search matched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchedField {
    /// The service's name.
    Name,
    /// Its keywords (other names residents use).
    Keywords,
    /// The department's name.
    Department,
    /// The description and audience.
    Description,
    /// The titles of its themes, life events and age groups.
    Topics,
}

impl MatchedField {
    /// Every part, in ranking weight order.
    pub const ALL: [MatchedField; 5] = [
        MatchedField::Name,
        MatchedField::Keywords,
        MatchedField::Department,
        MatchedField::Description,
        MatchedField::Topics,
    ];

    /// How much a match in this part counts: names over department over the rest.
    pub(crate) fn boost(self) -> f32 {
        match self {
            MatchedField::Name => 3.0,
            MatchedField::Keywords => 2.5,
            MatchedField::Department => 1.5,
            MatchedField::Description => 1.0,
            MatchedField::Topics => 1.0,
        }
    }

    fn key(self) -> &'static str {
        match self {
            MatchedField::Name => "name",
            MatchedField::Keywords => "keywords",
            MatchedField::Department => "department",
            MatchedField::Description => "description",
            MatchedField::Topics => "topics",
        }
    }
}

/// The ways a part is analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Analysis {
    English,
    ChineseWords,
    ChineseBigrams,
}

impl Analysis {
    pub(crate) const ALL: [Analysis; 3] = [
        Analysis::English,
        Analysis::ChineseWords,
        Analysis::ChineseBigrams,
    ];

    fn tokenizer(self) -> &'static str {
        match self {
            Analysis::English => ENGLISH,
            Analysis::ChineseWords => CHINESE_WORDS,
            Analysis::ChineseBigrams => CHINESE_BIGRAMS,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Analysis::English => "en",
            Analysis::ChineseWords => "zh_words",
            Analysis::ChineseBigrams => "zh_bigrams",
        }
    }
}

/// The index's fields: one per part and analysis, and the service's position.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    text: HashMap<(MatchedField, Analysis), Field>,
    /// The service's position in the catalogue (a fast field).
    pub position: Field,
}

impl Fields {
    pub(crate) fn get(&self, part: MatchedField, analysis: Analysis) -> Field {
        self.text[&(part, analysis)]
    }
}

pub(crate) const POSITION_FIELD: &str = "position";

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let mut text = HashMap::new();
    for part in MatchedField::ALL {
        for analysis in Analysis::ALL {
            let indexing = TextFieldIndexing::default()
                .set_tokenizer(analysis.tokenizer())
                .set_index_option(IndexRecordOption::WithFreqs);
            let options = TextOptions::default().set_indexing_options(indexing);
            let name = format!("{}_{}", part.key(), analysis.key());
            text.insert((part, analysis), builder.add_text_field(&name, options));
        }
    }
    let position = builder.add_u64_field(POSITION_FIELD, FAST);
    (builder.build(), Fields { text, position })
}

/// The English and Chinese texts of one part of a service.
fn part_texts(service: &Service, part: MatchedField) -> (String, String) {
    match part {
        MatchedField::Name => (service.name.en.clone(), service.name.zh.clone()),
        MatchedField::Keywords => (
            service.keywords.en.join(". "),
            service.keywords.zh.join("，"),
        ),
        MatchedField::Department => (service.department.en.clone(), service.department.zh.clone()),
        MatchedField::Description => (
            format!("{} {}", service.description.en, service.audience.en),
            format!("{}{}", service.description.zh, service.audience.zh),
        ),
        MatchedField::Topics => {
            let clusters = service
                .themes
                .iter()
                .map(|&t| Cluster::Theme(t))
                .chain(service.life_events.iter().map(|&e| Cluster::LifeEvent(e)))
                .chain(
                    service
                        .age_groups
                        .iter()
                        .filter(|&&a| a != AgeGroup::All)
                        .map(|&a| Cluster::AgeGroup(a)),
                )
                .map(Cluster::info);
            let (mut en, mut zh) = (String::new(), String::new());
            for info in clusters {
                en.push_str(info.title_en);
                en.push_str(". ");
                zh.push_str(info.title_zh);
                zh.push('，');
            }
            (en, zh)
        }
    }
}

/// The analyzers a search uses; cloned for each search (they are small).
#[derive(Clone)]
pub(crate) struct Analyzers {
    pub english: TextAnalyzer,
    pub english_words: TextAnalyzer,
    pub chinese_words: ChineseWordTokenizer,
}

/// A search index over one catalogue. Cheap to share (`Arc`); searching takes `&self`.
pub struct Index {
    pub(crate) catalogue: Arc<Catalogue>,
    pub(crate) synonyms: Arc<Synonyms>,
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
    pub(crate) analyzers: Analyzers,
    /// English words of the catalogue (not stemmed), with the number of services using each:
    /// what typo correction can correct to.
    pub(crate) english_words: HashMap<String, u32>,
    /// English stems present in the catalogue: a query stem outside it has no exact match.
    pub(crate) english_stems: HashSet<String>,
    /// The index itself, kept with its reader.
    _tantivy: tantivy::Index,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("services", &self.catalogue.len())
            .field("synonym_groups", &self.synonyms.len())
            .finish_non_exhaustive()
    }
}

impl Index {
    /// Builds the index of `catalogue` in RAM, with the bundled synonyms.
    pub fn build(catalogue: &Catalogue) -> Result<Self> {
        Self::build_with_synonyms(catalogue, Synonyms::bundled()?)
    }

    /// Builds the index of `catalogue` in RAM with these synonyms.
    pub fn build_with_synonyms(catalogue: &Catalogue, synonyms: Synonyms) -> Result<Self> {
        let (schema, fields) = schema();
        let index = tantivy::Index::create_in_ram(schema);
        let tokenizers = index.tokenizers();
        tokenizers.register(ENGLISH, english_analyzer());
        tokenizers.register(CHINESE_WORDS, ChineseWordTokenizer::default());
        tokenizers.register(CHINESE_BIGRAMS, ChineseBigramTokenizer);

        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000)?;
        let mut english_words_analyzer = english_words_analyzer();
        let mut english = english_analyzer();
        let mut english_words: HashMap<String, u32> = HashMap::new();
        let mut english_stems = HashSet::new();
        for (position, service) in catalogue.services().iter().enumerate() {
            let mut doc = TantivyDocument::new();
            let mut service_words = HashSet::new();
            for part in MatchedField::ALL {
                let (en, zh) = part_texts(service, part);
                doc.add_text(fields.get(part, Analysis::English), &en);
                doc.add_text(fields.get(part, Analysis::ChineseWords), &zh);
                doc.add_text(fields.get(part, Analysis::ChineseBigrams), &zh);
                service_words.extend(tokens(&mut english_words_analyzer, &en));
                english_stems.extend(tokens(&mut english, &en));
            }
            for word in service_words {
                *english_words.entry(word).or_default() += 1;
            }
            doc.add_u64(fields.position, position as u64);
            writer.add_document(doc)?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            catalogue: Arc::new(catalogue.clone()),
            synonyms: Arc::new(synonyms),
            reader,
            fields,
            analyzers: Analyzers {
                english,
                english_words: english_words_analyzer,
                chinese_words: ChineseWordTokenizer::default(),
            },
            english_words,
            english_stems,
            _tantivy: index,
        })
    }

    /// The catalogue this index was built from.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The synonyms this index expands queries with.
    pub fn synonyms(&self) -> &Synonyms {
        &self.synonyms
    }
}
