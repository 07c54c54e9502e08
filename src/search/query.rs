//! Queries and highlights, the same for both backends: the query cleaned and cut into folded
//! words (lowercase, accents removed), each with its typo budget; and the fields of an entity
//! that a query matched, as snippets with match ranges.

use crate::search::SearchError;
use crate::store::SearchEntity;

/// One query word, folded, with the edits it may be off by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub typos: u8,
}

/// A query ready for a backend.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedQuery {
    /// The query with control characters turned into spaces, trimmed (what Meilisearch gets).
    pub text: String,
    /// At most [`crate::search::MAX_QUERY_TERMS`]; empty: a browse.
    pub terms: Vec<Term>,
}

/// A field of a hit that the query matched: the text shown (the whole value, or a window of a
/// long one), and the matched ranges in it, as offsets in Unicode code points, end exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMatch {
    pub field: &'static str,
    pub snippet: String,
    pub ranges: Vec<(usize, usize)>,
}

pub fn parse(query: &str) -> Result<ParsedQuery, SearchError> {
    let _ = query;
    todo!()
}

pub fn highlight(query: &ParsedQuery, entity: &SearchEntity) -> Vec<FieldMatch> {
    let _ = (query, entity);
    todo!()
}
