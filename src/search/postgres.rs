//! The Postgres full-text backend, in the catalog's own database: `search_documents` with a
//! weighted `tsvector` built by sextant's tokenizer, `search_terms` with trigrams for typos.
//!
//! Lexemes are made here ([`query::words`]), written as `tsvector` text and cast, and queries
//! are written as `tsquery` text and cast: the database's own parser (which depends on its
//! locale, and under `C` drops every non-ASCII letter) is never used. A query word matches the
//! lexemes it begins (`'pay':*`); a word with a typo budget also matches the beginnings of the
//! indexed words within its budget, found in `search_terms` by trigram similarity and checked
//! with [`query::match_word`], the same function that highlights.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::search::query::{self, MatchKind, Tier};
use crate::search::{Applied, BackendAnswer, Facet, FacetField, MAX_FACET_VALUES, ParsedQuery, SearchError, SearchFilter, SearchRequest};
use crate::store::{SearchEntity, Store, StoreError};

/// The tables searched, and those a rebuild fills before it swaps them in.
#[derive(Debug, Clone, Copy)]
struct Tables {
    documents: &'static str,
    terms: &'static str,
}

const LIVE: Tables = Tables {
    documents: "search_documents",
    terms: "search_terms",
};
const NEXT: Tables = Tables {
    documents: "search_documents_next",
    terms: "search_terms_next",
};

/// Distinct words indexed per document (the first ones, names and titles first).
const MAX_DOCUMENT_WORDS: usize = 2000;
/// Positions kept per word of a document: ranking needs a few, not all.
const MAX_WORD_POSITIONS: usize = 16;
/// The highest `tsvector` position.
const MAX_POSITION: usize = 16_383;
/// Bytes per lexeme: longer words are indexed (and searched) by their beginning. Keeps a
/// document's `tsvector` far under Postgres's 1 MB limit.
const MAX_LEXEME_BYTES: usize = 255;
/// Words shorter than this are never a typo alternative (a term with a budget has 5
/// characters or more): they stay out of `search_terms`.
const MIN_TERM_CHARS: usize = 4;
/// Documents per insert statement.
const WRITE_CHUNK: usize = 500;
/// Entities read from the catalog per page by a rebuild.
const REBUILD_PAGE: usize = 2000;
/// Typo candidates looked at per query word and lookup.
const TYPO_CANDIDATES: i64 = 50;
/// `pg_trgm` thresholds for typo candidates: low, since a short word with one typo shares few
/// trigrams; candidates are then checked by edit distance.
const SIMILARITY_THRESHOLD: &str = "0.2";
const WORD_SIMILARITY_THRESHOLD: &str = "0.5";
/// Rank weights of D, C, B, A (the order `ts_rank` takes them).
const RANK_WEIGHTS: &str = "{0.05,0.2,0.4,1.0}";
/// How much the rank of the query's exact words adds to the rank of the whole match: exact
/// words rank above prefixes and typos in the same tier, not above a higher tier (a tier's rank
/// for one word is at most 1.65 times the rank of one occurrence, and the tiers are 2.5 times
/// apart or more).
const EXACT_WORD_FACTOR: f64 = 0.2;
/// Added to the score of an entity whose name is the query.
const EXACT_NAME_BONUS: f64 = 100.0;

/// A search's transaction: one snapshot for the page, the count and the facets; plans made
/// for the actual query (a generic plan cannot tell a rare word from a common prefix).
const BEGIN_SEARCH: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL plan_cache_mode = force_custom_plan";

pub struct PostgresIndex {
    store: Store,
}

impl PostgresIndex {
    pub fn new(store: Store) -> PostgresIndex {
        PostgresIndex { store }
    }

    pub async fn prepare(&self) -> Result<(), SearchError> {
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), SearchError> {
        Ok(self.store.ping().await?)
    }

    /// One page of hits, the exact number of matches and, when asked, the facet counts.
    pub async fn search(&self, query: &ParsedQuery, request: &SearchRequest) -> Result<BackendAnswer, SearchError> {
        let filters = Filters::from(&request.filter);
        let mut transaction = self.store.pool().begin_with(BEGIN_SEARCH).await.map_err(store_error)?;
        let text_query = if query.terms.is_empty() {
            None
        } else {
            let alternatives = typo_alternatives(&mut transaction, query).await?;
            Some(TextQuery::new(query, &alternatives))
        };
        let limit = i64::try_from(request.first).unwrap_or(i64::MAX);
        let offset = i64::try_from(request.offset).unwrap_or(i64::MAX);
        let (hits, total) = match &text_query {
            Some(text_query) => ranked_page(&mut transaction, text_query, &filters, limit, offset).await?,
            None => browse_page(&mut transaction, &filters, limit, offset).await?,
        };
        let facets = if request.facets {
            facet_counts(&mut transaction, text_query.as_ref(), &filters).await?
        } else {
            Vec::new()
        };
        transaction.commit().await.map_err(store_error)?;
        Ok(BackendAnswer {
            hits,
            total,
            total_is_exact: true,
            facets,
        })
    }

    /// Upserts `upserts` and removes `deletes`, in one transaction.
    pub async fn apply(&self, upserts: &[SearchEntity], deletes: &[String]) -> Result<Applied, SearchError> {
        let mut transaction = self.store.pool().begin().await.map_err(store_error)?;
        write_documents(&mut transaction, LIVE, upserts).await?;
        if !deletes.is_empty() {
            let mut deletes: Vec<&str> = deletes.iter().map(String::as_str).collect();
            deletes.sort_unstable();
            deletes.dedup();
            sqlx::query("DELETE FROM search_documents WHERE entity_ref = ANY($1)")
                .bind(&deletes)
                .execute(&mut *transaction)
                .await
                .map_err(store_error)?;
        }
        transaction.commit().await.map_err(store_error)?;
        Ok(Applied::default())
    }

    /// Fills fresh tables from the catalog, page by page, then swaps them in in one short
    /// transaction. Searches read the old tables until the swap.
    pub async fn rebuild(&self) -> Result<usize, SearchError> {
        let pool = self.store.pool();
        for statement in [
            "DROP TABLE IF EXISTS search_documents_next, search_terms_next",
            "CREATE TABLE search_documents_next (LIKE search_documents INCLUDING ALL)",
            "CREATE TABLE search_terms_next (LIKE search_terms INCLUDING ALL)",
        ] {
            sqlx::query(statement).execute(pool).await.map_err(store_error)?;
        }
        let mut documents = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.store.search_entities_page(after.as_deref(), REBUILD_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.entity_ref.clone());
            let mut connection = pool.acquire().await.map_err(store_error)?;
            write_documents(&mut connection, NEXT, &page).await?;
            documents += page.len();
            if page.len() < REBUILD_PAGE {
                break;
            }
        }
        let mut transaction = pool.begin().await.map_err(store_error)?;
        for statement in [
            // Waits for searches in progress on the old tables; new ones wait for the swap. The
            // tables are locked in the order searches and writes use them (terms, documents).
            "SET LOCAL lock_timeout = '30s'",
            "LOCK TABLE search_terms, search_documents IN ACCESS EXCLUSIVE MODE",
            "DROP TABLE search_documents",
            "ALTER TABLE search_documents_next RENAME TO search_documents",
            "DROP TABLE search_terms",
            "ALTER TABLE search_terms_next RENAME TO search_terms",
        ] {
            sqlx::query(statement).execute(&mut *transaction).await.map_err(store_error)?;
        }
        transaction.commit().await.map_err(store_error)?;
        sqlx::query("ANALYZE search_documents, search_terms")
            .execute(pool)
            .await
            .map_err(store_error)?;
        tracing::info!(documents, "search index rebuilt");
        Ok(documents)
    }
}

fn store_error(error: sqlx::Error) -> SearchError {
    SearchError::Store(StoreError::from(error))
}

// ---------------------------------------------------------------------------------------------
// Writing documents

/// An entity's indexed form: its `tsvector` text, and its words that may be typo alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lexemes {
    tsvector: String,
    terms: Vec<String>,
}

/// The words of `entity`'s searchable fields with their positions and tiers, as `tsvector`
/// text, plus the marker of its name (see [`name_marker`]).
fn lexemes(entity: &SearchEntity) -> Lexemes {
    // Word → positions (with the tier of each), in the order the words first appear.
    let mut positions: HashMap<String, Vec<(usize, Tier)>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut next_position = 1;
    for (_, tier, text) in query::fields(entity) {
        for word in query::words(text) {
            let lexeme = cut_lexeme(&word.folded);
            let position = next_position.min(MAX_POSITION);
            next_position += 1;
            match positions.get_mut(lexeme) {
                Some(list) if list.len() < MAX_WORD_POSITIONS && list.last().is_none_or(|&(last, _)| last < position) => {
                    list.push((position, tier));
                }
                Some(_) => {}
                None if order.len() < MAX_DOCUMENT_WORDS => {
                    order.push(lexeme.to_owned());
                    positions.insert(lexeme.to_owned(), vec![(position, tier)]);
                }
                None => {}
            }
        }
    }
    let mut tsvector = String::new();
    for word in &order {
        push_quoted(&mut tsvector, word);
        tsvector.push(':');
        for (index, (position, tier)) in positions.get(word).into_iter().flatten().enumerate() {
            if index > 0 {
                tsvector.push(',');
            }
            let _ = write!(tsvector, "{position}{}", tier.letter());
        }
        tsvector.push(' ');
    }
    if let Some(marker) = name_marker(&entity.name) {
        push_quoted(&mut tsvector, &marker);
        tsvector.push_str(":1A");
    }
    let terms = order.into_iter().filter(|word| word.chars().count() >= MIN_TERM_CHARS).collect();
    Lexemes { tsvector, terms }
}

/// A lexeme standing for a whole name: its folded words joined by spaces, after a space. No
/// query word holds a space, so no query word or prefix matches it; a query whose words are
/// the name's matches it exactly (the exact-name bonus).
fn name_marker(name: &str) -> Option<String> {
    let words: Vec<String> = query::words(name).into_iter().map(|word| word.folded).collect();
    if words.is_empty() {
        return None;
    }
    Some(cut_lexeme(&format!(" {}", words.join(" "))).to_owned())
}

/// `word` cut to [`MAX_LEXEME_BYTES`] at a character boundary.
fn cut_lexeme(word: &str) -> &str {
    if word.len() <= MAX_LEXEME_BYTES {
        return word;
    }
    let mut end = MAX_LEXEME_BYTES;
    while !word.is_char_boundary(end) {
        end -= 1;
    }
    &word[..end]
}

/// Appends `lexeme` quoted for `tsvector`/`tsquery` input: in single quotes, with quotes
/// doubled and backslashes escaped.
fn push_quoted(out: &mut String, lexeme: &str) {
    out.push('\'');
    for character in lexeme.chars() {
        match character {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(character),
        }
    }
    out.push('\'');
}

/// Upserts `entities` (the last of a reference wins) into `tables`, with their new terms.
async fn write_documents(connection: &mut PgConnection, tables: Tables, entities: &[SearchEntity]) -> Result<(), SearchError> {
    // One row per reference (an upsert cannot touch a row twice), in reference order (two
    // writers lock rows in the same order).
    let mut latest: BTreeMap<&str, &SearchEntity> = BTreeMap::new();
    for entity in entities {
        latest.insert(entity.entity_ref.as_str(), entity);
    }
    let entities: Vec<&SearchEntity> = latest.into_values().collect();
    let indexed: Vec<Lexemes> = entities.iter().map(|entity| lexemes(entity)).collect();
    // Terms first: every statement that reads or writes both tables takes them in this order
    // (a search looks up typo alternatives before it reads documents), and so does the swap
    // of a rebuild; the other order could deadlock with it.
    let terms: BTreeSet<&str> = indexed
        .iter()
        .flat_map(|lexemes| lexemes.terms.iter().map(String::as_str))
        .collect();
    if !terms.is_empty() {
        // Sorted: concurrent writers insert shared terms in the same order.
        let terms: Vec<&str> = terms.into_iter().collect();
        for chunk in terms.chunks(10 * WRITE_CHUNK) {
            sqlx::query(&format!(
                "INSERT INTO {terms} (term) SELECT UNNEST($1::text[]) ON CONFLICT DO NOTHING",
                terms = tables.terms
            ))
            .bind(chunk)
            .execute(&mut *connection)
            .await
            .map_err(store_error)?;
        }
    }
    for (chunk, indexed) in entities.chunks(WRITE_CHUNK).zip(indexed.chunks(WRITE_CHUNK)) {
        let refs: Vec<&str> = chunk.iter().map(|entity| entity.entity_ref.as_str()).collect();
        let documents: Vec<Json<&SearchEntity>> = chunk.iter().map(|entity| Json(*entity)).collect();
        let kinds: Vec<&str> = chunk.iter().map(|entity| entity.kind.as_str()).collect();
        let types: Vec<Option<&str>> = chunk.iter().map(|entity| entity.entity_type.as_deref()).collect();
        let namespaces: Vec<&str> = chunk.iter().map(|entity| entity.namespace.as_str()).collect();
        let names: Vec<&str> = chunk.iter().map(|entity| entity.name.as_str()).collect();
        let owners: Vec<Option<&str>> = chunk.iter().map(|entity| entity.owner.as_deref()).collect();
        let lifecycles: Vec<Option<&str>> = chunk.iter().map(|entity| entity.lifecycle.as_deref()).collect();
        let tiers: Vec<Option<i16>> = chunk.iter().map(|entity| entity.tier).collect();
        let systems: Vec<Option<&str>> = chunk.iter().map(|entity| entity.system.as_deref()).collect();
        let domains: Vec<Option<&str>> = chunk.iter().map(|entity| entity.domain.as_deref()).collect();
        let repos: Vec<Option<&str>> = chunk.iter().map(|entity| entity.repo.as_deref()).collect();
        // Arrays of arrays of different lengths do not fit a Postgres array: JSON per row.
        let tags: Vec<Json<Vec<&str>>> = chunk
            .iter()
            .map(|entity| {
                let mut tags: Vec<&str> = entity.tags.iter().map(String::as_str).collect();
                tags.sort_unstable();
                tags.dedup();
                Json(tags)
            })
            .collect();
        let tsvectors: Vec<&str> = indexed.iter().map(|lexemes| lexemes.tsvector.as_str()).collect();
        sqlx::query(&format!(
            "INSERT INTO {documents} (entity_ref, document, kind, type, namespace, name, owner, lifecycle, tier, system, domain, repo, tags, lexemes)
             SELECT entity_ref, document, kind, type, namespace, name, owner, lifecycle, tier, system, domain, repo,
                    ARRAY(SELECT jsonb_array_elements_text(tags)), lexemes::tsvector
             FROM UNNEST($1::text[], $2::jsonb[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int2[],
                         $10::text[], $11::text[], $12::text[], $13::jsonb[], $14::text[])
                  AS rows (entity_ref, document, kind, type, namespace, name, owner, lifecycle, tier, system, domain, repo, tags, lexemes)
             ON CONFLICT (entity_ref) DO UPDATE SET
                 document = EXCLUDED.document, kind = EXCLUDED.kind, type = EXCLUDED.type, namespace = EXCLUDED.namespace,
                 name = EXCLUDED.name, owner = EXCLUDED.owner, lifecycle = EXCLUDED.lifecycle, tier = EXCLUDED.tier,
                 system = EXCLUDED.system, domain = EXCLUDED.domain, repo = EXCLUDED.repo, tags = EXCLUDED.tags,
                 lexemes = EXCLUDED.lexemes",
            documents = tables.documents
        ))
        .bind(&refs)
        .bind(&documents)
        .bind(&kinds)
        .bind(&types)
        .bind(&namespaces)
        .bind(&names)
        .bind(&owners)
        .bind(&lifecycles)
        .bind(&tiers)
        .bind(&systems)
        .bind(&domains)
        .bind(&repos)
        .bind(&tags)
        .bind(&tsvectors)
        .execute(&mut *connection)
        .await
        .map_err(store_error)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Searching

/// For each query word with a typo budget, the beginnings of indexed words within its budget
/// (each searched as a prefix), by the index of the word in the query.
async fn typo_alternatives(connection: &mut PgConnection, query: &ParsedQuery) -> Result<HashMap<usize, Vec<String>>, SearchError> {
    let tolerant: Vec<&str> = query
        .terms
        .iter()
        .filter(|term| term.typos > 0)
        .map(|term| term.text.as_str())
        .collect();
    let mut alternatives: HashMap<usize, Vec<String>> = HashMap::new();
    if tolerant.is_empty() {
        return Ok(alternatives);
    }
    sqlx::query("SELECT set_config('pg_trgm.similarity_threshold', $1, true), set_config('pg_trgm.word_similarity_threshold', $2, true)")
        .bind(SIMILARITY_THRESHOLD)
        .bind(WORD_SIMILARITY_THRESHOLD)
        .execute(&mut *connection)
        .await
        .map_err(store_error)?;
    // Similar whole words (a typo anywhere), and words with a similar part (a typo in the
    // beginning of a longer word).
    let candidates: Vec<(String, String)> = sqlx::query_as(
        "SELECT wanted.term, found.term
         FROM UNNEST($1::text[]) AS wanted (term)
         CROSS JOIN LATERAL (
             SELECT t.term FROM search_terms t WHERE t.term % wanted.term
             ORDER BY similarity(t.term, wanted.term) DESC, t.term LIMIT $2
         ) AS found
         UNION
         SELECT wanted.term, found.term
         FROM UNNEST($1::text[]) AS wanted (term)
         CROSS JOIN LATERAL (
             SELECT t.term FROM search_terms t WHERE wanted.term <% t.term
             ORDER BY word_similarity(wanted.term, t.term) DESC, t.term LIMIT $2
         ) AS found",
    )
    .bind(&tolerant)
    .bind(TYPO_CANDIDATES)
    .fetch_all(&mut *connection)
    .await
    .map_err(store_error)?;
    for (index, term) in query.terms.iter().enumerate() {
        if term.typos == 0 {
            continue;
        }
        let mut found: BTreeSet<String> = BTreeSet::new();
        for (_, candidate) in candidates.iter().filter(|(wanted, _)| *wanted == term.text) {
            if let Some((MatchKind::Typo(_), length)) = query::match_word(term, candidate) {
                found.insert(candidate.chars().take(length).collect());
            }
        }
        // A beginning that starts with another one adds nothing to the other's prefix search.
        let found: Vec<String> = found
            .iter()
            .filter(|word| !found.iter().any(|other| other != *word && word.starts_with(other.as_str())))
            .cloned()
            .collect();
        if !found.is_empty() {
            alternatives.insert(index, found);
        }
    }
    Ok(alternatives)
}

/// A query's `tsquery` texts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TextQuery {
    /// Every word (or one of its typo alternatives) as a prefix: what matches.
    matching: String,
    /// Any word exactly: ranks exact words above prefixes and typos.
    exact: String,
    /// The name marker of the whole query: ranks the entity named so first.
    name: String,
}

impl TextQuery {
    fn new(query: &ParsedQuery, alternatives: &HashMap<usize, Vec<String>>) -> TextQuery {
        let mut matching = String::new();
        let mut exact = String::new();
        for (index, term) in query.terms.iter().enumerate() {
            if index > 0 {
                matching.push_str(" & ");
                exact.push_str(" | ");
            }
            let lexeme = cut_lexeme(&term.text);
            push_quoted(&mut exact, lexeme);
            let alternatives = alternatives.get(&index).map_or(&[][..], Vec::as_slice);
            if alternatives.is_empty() {
                push_quoted(&mut matching, lexeme);
                matching.push_str(":*");
            } else {
                matching.push('(');
                for (position, alternative) in std::iter::once(lexeme)
                    .chain(alternatives.iter().map(|word| cut_lexeme(word)))
                    .enumerate()
                {
                    if position > 0 {
                        matching.push_str(" | ");
                    }
                    push_quoted(&mut matching, alternative);
                    matching.push_str(":*");
                }
                matching.push(')');
            }
        }
        let mut name = String::new();
        // A query of words only (no terms) has no marker; the terms are not empty here.
        push_quoted(&mut name, name_marker(&query.text).as_deref().unwrap_or(" "));
        TextQuery { matching, exact, name }
    }
}

/// The filter, one condition per field that has values.
#[derive(Debug, Clone, Default)]
struct Filters {
    conditions: Vec<(FacetField, FilterValues)>,
}

#[derive(Debug, Clone)]
enum FilterValues {
    Texts(Vec<String>),
    /// Tiers given as numbers; other values match nothing.
    Tiers(Vec<i16>),
}

impl From<&SearchFilter> for Filters {
    fn from(filter: &SearchFilter) -> Filters {
        let mut conditions = Vec::new();
        for field in FacetField::ALL {
            let values: Vec<&String> = filter
                .values
                .iter()
                .filter(|(given, _)| *given == field)
                .flat_map(|(_, values)| values)
                .collect();
            if values.is_empty() {
                continue;
            }
            let values = match field {
                FacetField::Tier => FilterValues::Tiers(values.iter().filter_map(|value| value.trim().parse::<i16>().ok()).collect()),
                _ => FilterValues::Texts(values.into_iter().cloned().collect()),
            };
            conditions.push((field, values));
        }
        Filters { conditions }
    }
}

/// The column of a facet field.
fn column(field: FacetField) -> &'static str {
    match field {
        FacetField::Kind => "kind",
        FacetField::Type => "type",
        FacetField::Owner => "owner",
        FacetField::Lifecycle => "lifecycle",
        FacetField::Tier => "tier",
        FacetField::Tags => "tags",
        FacetField::System => "system",
        FacetField::Domain => "domain",
        FacetField::Namespace => "namespace",
        FacetField::Repo => "repo",
    }
}

/// Appends ` AND <condition>` for each filter field, values bound.
fn push_filters(builder: &mut QueryBuilder<'_, Postgres>, filters: &Filters) {
    for (field, values) in &filters.conditions {
        builder.push(" AND ");
        match (field, values) {
            (FacetField::Tags, FilterValues::Texts(values)) => {
                builder.push("tags && ").push_bind(values.clone()).push("::text[]");
            }
            (_, FilterValues::Tiers(values)) => {
                builder.push("tier = ANY(").push_bind(values.clone()).push("::int2[])");
            }
            (field, FilterValues::Texts(values)) => {
                builder
                    .push(column(*field))
                    .push(" = ANY(")
                    .push_bind(values.clone())
                    .push("::text[])");
            }
        }
    }
}

/// Pushes the `FROM` and `WHERE` of the matching documents.
fn push_matches(builder: &mut QueryBuilder<'_, Postgres>, text_query: Option<&TextQuery>, filters: &Filters) {
    match text_query {
        Some(text_query) => {
            builder
                .push(" FROM search_documents, CAST(")
                .push_bind(text_query.matching.clone())
                .push(" AS tsquery) AS matching WHERE lexemes @@ matching");
        }
        None => {
            builder.push(" FROM search_documents WHERE true");
        }
    }
    push_filters(builder, filters);
}

#[derive(sqlx::FromRow)]
struct HitRow {
    document: Json<SearchEntity>,
    score: f64,
    total: i64,
}

/// A page of hits for a text query, best first, and the number of matches.
async fn ranked_page(
    connection: &mut PgConnection,
    text_query: &TextQuery,
    filters: &Filters,
    limit: i64,
    offset: i64,
) -> Result<(Vec<(SearchEntity, f64)>, usize), SearchError> {
    let mut builder: QueryBuilder<'_, Postgres> = QueryBuilder::new("WITH ranked AS (SELECT entity_ref, name, (ts_rank(");
    builder
        .push_bind(RANK_WEIGHTS)
        .push("::float4[], lexemes, matching) + ")
        .push_bind(EXACT_WORD_FACTOR)
        .push(" * ts_rank(")
        .push_bind(RANK_WEIGHTS)
        .push("::float4[], lexemes, ")
        .push_bind(text_query.exact.clone())
        .push("::tsquery) + CASE WHEN lexemes @@ ")
        .push_bind(text_query.name.clone())
        .push("::tsquery THEN ")
        .push_bind(EXACT_NAME_BONUS)
        .push(" ELSE 0 END)::float8 AS score, count(*) OVER () AS total");
    push_matches(&mut builder, Some(text_query), filters);
    builder
        .push(" ORDER BY score DESC, name, entity_ref LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset)
        .push(
            ") SELECT d.document, r.score, r.total FROM ranked r JOIN search_documents d ON d.entity_ref = r.entity_ref
             ORDER BY r.score DESC, r.name, r.entity_ref",
        );
    let rows: Vec<HitRow> = builder.build_query_as().fetch_all(&mut *connection).await.map_err(store_error)?;
    let total = match rows.first() {
        Some(row) => usize::try_from(row.total).unwrap_or(0),
        None if offset > 0 => count_matches(connection, Some(text_query), filters).await?,
        None => 0,
    };
    Ok((rows.into_iter().map(|row| (row.document.0, row.score)).collect(), total))
}

/// A page of every document the filters let through, by name, and their number.
async fn browse_page(
    connection: &mut PgConnection,
    filters: &Filters,
    limit: i64,
    offset: i64,
) -> Result<(Vec<(SearchEntity, f64)>, usize), SearchError> {
    let mut builder: QueryBuilder<'_, Postgres> = QueryBuilder::new("SELECT document");
    push_matches(&mut builder, None, filters);
    builder
        .push(" ORDER BY name, entity_ref LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    let rows: Vec<(Json<SearchEntity>,)> = builder.build_query_as().fetch_all(&mut *connection).await.map_err(store_error)?;
    let total = count_matches(connection, None, filters).await?;
    Ok((rows.into_iter().map(|(document,)| (document.0, 0.0)).collect(), total))
}

async fn count_matches(connection: &mut PgConnection, text_query: Option<&TextQuery>, filters: &Filters) -> Result<usize, SearchError> {
    let mut builder: QueryBuilder<'_, Postgres> = QueryBuilder::new("SELECT count(*)");
    push_matches(&mut builder, text_query, filters);
    let (count,): (i64,) = builder.build_query_as().fetch_one(&mut *connection).await.map_err(store_error)?;
    Ok(usize::try_from(count).unwrap_or(0))
}

/// The counts of every facet field's values over all matches: each field's most frequent
/// first, then by value; every field listed, in [`FacetField::ALL`] order.
async fn facet_counts(connection: &mut PgConnection, text_query: Option<&TextQuery>, filters: &Filters) -> Result<Vec<Facet>, SearchError> {
    let mut builder: QueryBuilder<'_, Postgres> =
        QueryBuilder::new("WITH matches AS MATERIALIZED (SELECT kind, type, owner, lifecycle, tier, tags, system, domain, namespace, repo");
    push_matches(&mut builder, text_query, filters);
    builder.push("), counts (field, value, n) AS (");
    for (index, field) in FacetField::ALL.into_iter().enumerate() {
        if index > 0 {
            builder.push(" UNION ALL ");
        }
        let name = field.name();
        match field {
            FacetField::Tags => builder.push("SELECT 'tags', tag, count(*) FROM matches, unnest(tags) AS tag GROUP BY tag"),
            FacetField::Tier => builder.push("SELECT 'tier', tier::text, count(*) FROM matches WHERE tier IS NOT NULL GROUP BY tier"),
            _ => {
                let column = column(field);
                builder.push(format!(
                    "SELECT '{name}', {column}, count(*) FROM matches WHERE {column} IS NOT NULL GROUP BY {column}"
                ))
            }
        };
    }
    builder
        .push(
            ") SELECT field, value, n FROM (
                 SELECT field, value, n, row_number() OVER (PARTITION BY field ORDER BY n DESC, value) AS place FROM counts
             ) AS ranked WHERE place <= ",
        )
        .push_bind(i64::try_from(MAX_FACET_VALUES).unwrap_or(i64::MAX))
        .push(" ORDER BY field, n DESC, value");
    let rows: Vec<(String, String, i64)> = builder.build_query_as().fetch_all(&mut *connection).await.map_err(store_error)?;
    let mut facets: Vec<Facet> = FacetField::ALL
        .into_iter()
        .map(|field| Facet { field, values: Vec::new() })
        .collect();
    for (field, value, count) in rows {
        if let Some(facet) = facets.iter_mut().find(|facet| facet.field.name() == field) {
            facet.values.push((value, u64::try_from(count).unwrap_or(0)));
        }
    }
    Ok(facets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(name: &str) -> SearchEntity {
        SearchEntity {
            entity_ref: format!("component:default/{name}"),
            kind: "component".into(),
            namespace: "default".into(),
            name: name.into(),
            title: None,
            description: None,
            entity_type: None,
            lifecycle: None,
            tier: None,
            owner: None,
            system: None,
            domain: None,
            tags: Vec::new(),
            labels: Vec::new(),
            repo: None,
            definition: None,
        }
    }

    #[test]
    fn lexemes_carry_positions_and_tiers() {
        let mut payments = entity("payments-api");
        payments.title = Some("Payments".into());
        payments.tags = vec!["billing".into()];
        payments.description = Some("Takes payments".into());
        payments.definition = Some("openapi".into());
        let lexemes = lexemes(&payments);
        assert_eq!(
            lexemes.tsvector,
            "'payments':1A,3A,6C 'api':2A 'billing':4B 'takes':5C 'openapi':7D ' payments api':1A"
        );
        assert_eq!(lexemes.terms, ["payments", "billing", "takes", "openapi"]);
    }

    #[test]
    fn lexemes_are_quoted_and_escaped() {
        let mut output = String::new();
        push_quoted(&mut output, "it's a \\ test");
        assert_eq!(output, "'it''s a \\\\ test'");
    }

    #[test]
    fn long_words_and_many_words_are_capped() {
        let mut long = entity("long");
        long.description = Some("é".repeat(400));
        let lexemes = lexemes(&long);
        let description_lexeme = lexemes.tsvector.split(' ').nth(1).expect("a second lexeme");
        assert!(description_lexeme.len() <= MAX_LEXEME_BYTES + 6, "{description_lexeme}");
        let mut many = entity("many");
        many.definition = Some((0..5000).map(|number| format!("word{number} ")).collect());
        assert_eq!(lexemes_count(&lexemes_of(&many)), MAX_DOCUMENT_WORDS + 1);
        let mut repeated = entity("repeated");
        repeated.definition = Some("again ".repeat(100));
        let tsvector = lexemes_of(&repeated);
        let again = tsvector.split(' ').find(|lexeme| lexeme.starts_with("'again'")).expect("indexed");
        assert_eq!(again.split(',').count(), MAX_WORD_POSITIONS);
    }

    fn lexemes_of(entity: &SearchEntity) -> String {
        lexemes(entity).tsvector
    }

    fn lexemes_count(tsvector: &str) -> usize {
        tsvector.matches("':").count()
    }

    #[test]
    fn queries_quote_every_lexeme() {
        let query = query::parse("pay it's paymnts").expect("valid");
        let mut alternatives = HashMap::new();
        alternatives.insert(3, vec!["payments".to_owned(), "payment".to_owned()]);
        let text_query = TextQuery::new(&query, &alternatives);
        assert_eq!(
            text_query.matching,
            "'pay':* & 'it':* & 's':* & ('paymnts':* | 'payments':* | 'payment':*)"
        );
        assert_eq!(text_query.exact, "'pay' | 'it' | 's' | 'paymnts'");
        assert_eq!(text_query.name, "' pay it s paymnts'");
    }

    #[test]
    fn tier_filters_keep_numbers_only() {
        let filter = SearchFilter::default()
            .with(FacetField::Tier, ["1".to_owned(), "high".to_owned()])
            .with(FacetField::Kind, ["api".to_owned()]);
        let filters = Filters::from(&filter);
        assert!(matches!(&filters.conditions[0], (FacetField::Kind, FilterValues::Texts(values)) if values == &["api"]));
        assert!(matches!(&filters.conditions[1], (FacetField::Tier, FilterValues::Tiers(values)) if values == &[1]));
        let nothing = Filters::from(&SearchFilter::default().with(FacetField::Tier, ["x".to_owned()]));
        assert!(matches!(&nothing.conditions[0], (FacetField::Tier, FilterValues::Tiers(values)) if values.is_empty()));
    }
}
