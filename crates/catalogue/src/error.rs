//! Errors of the catalogue and of its search index.

/// What went wrong loading a catalogue, reading synonyms or building an index.
///
/// Searching itself does not fail on any query text: see [`crate::Index::search`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data file is not TOML of the expected shape (the message has the line and column).
    #[error("{source_name}: {message}")]
    Syntax {
        /// The name the text was given under (a file name).
        source_name: String,
        /// What the TOML reader said.
        message: String,
    },
    /// A service has a missing or wrong field.
    #[error("service {service:?}, field `{field}`: {problem}")]
    Invalid {
        /// The service's id.
        service: String,
        /// The field, as named in the data files.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// Two services have the same id.
    #[error("service id {0:?} is used by more than one service")]
    DuplicateId(String),
    /// A synonym group is wrong.
    #[error("synonyms, group {group}: {problem}")]
    Synonyms {
        /// The group's position in the file, from 1.
        group: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// The search engine failed (building the in-memory index or reading it).
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
}

/// A result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
