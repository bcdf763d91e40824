//! The single portal's catalogue of online services, in English and Traditional Chinese, and its
//! search.
//!
//! - [`Catalogue`]: the services (name, description, department, audience, requirements, fees,
//!   link, iAM Smart features, themes, life events, age groups, popularity, keywords), loaded from
//!   TOML and checked; [`Catalogue::bundled`] has 124 real Hong Kong services, among them the 51
//!   that had adopted iAM Smart by 2023.
//! - [`clusters`] and [`Catalogue::services_in`]: citizen-centric pages by theme, life event
//!   and age group.
//! - [`Index`]: full-text search with tantivy in RAM. Chinese through jieba (tantivy-jieba) on
//!   text folded to one script, plus character bigrams; English stemmed, with typo correction;
//!   synonyms for everyday words ([`Synonyms`], `data/synonyms.toml`); ranked by relevance with
//!   a mild popularity factor. Any query text is accepted: see [`Index::search`].
//! - [`LiveIndex`]: operators' edits replace the index without a restart.
//!
//! No database and no HTTP here: the domain and web crates store edits and serve pages.
//!
//! ```
//! use iamsmart_catalogue::{Catalogue, Index, Lang};
//!
//! let catalogue = Catalogue::bundled()?;
//! let index = Index::build(&catalogue)?;
//! let results = index.search("申請公屋", Some(Lang::Zh), 3)?;
//! assert_eq!(results.hits[0].id, "ha-public-rental-housing-application");
//! # Ok::<(), iamsmart_catalogue::Error>(())
//! ```
#![deny(missing_docs)]

mod catalogue;
mod clusters;
mod error;
mod index;
mod live;
mod model;
mod search;
mod synonyms;
mod text;

pub use catalogue::Catalogue;
pub use clusters::{clusters, Cluster, ClusterInfo};
pub use error::{Error, Result};
pub use index::{Index, MatchedField};
pub use live::LiveIndex;
pub use model::{
    AgeGroup, Bilingual, Features, Keywords, Lang, Level, LifeEvent, Requirements, Service, Theme,
    MAX_POPULARITY,
};
pub use search::{Correction, SearchHit, SearchResults, MAX_LIMIT};
pub use synonyms::Synonyms;
pub use text::{is_han, MAX_QUERY_CHARS};
