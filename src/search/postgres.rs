//! The Postgres full-text backend, in the catalog's own database: `search_documents` with a
//! `tsvector` built by sextant's tokenizer, `search_terms` with trigrams for typos.
//!
//! Lexemes are made here ([`query::words`]), written as `tsvector` text and cast, and queries
//! are written as `tsquery` text and cast: the database's own parser (which depends on its
//! locale, and under `C` drops every non-ASCII letter) is never used. A query word matches its
//! lexeme, the last word also the lexemes it begins (`'pay':*`); a word with a typo budget also
//! matches the indexed words within its budget (the last word: their beginnings), found in
//! `search_terms` by trigram similarity and checked with [`query::match_word`], the same
//! function that highlights.
//!
//! Ranking is by buckets, best first, each ordered by name: the entity whose name is the query;
//! every query word exactly in the name or title (tier A); every word matching a word of tier A
//! (as a prefix or within its typos); of tier A or B (tags, labels); of A, B or C (description, owner,
//! system); the rest (a word only in an API definition). Each word of tiers A, B and C is
//! indexed a second time with its tier's mark (`|a`, `|b`, `|c`), and the name once whole (`|n`),
//! so that every bucket is a `tsquery` the GIN index answers, and a page is read bucket by
//! bucket in name order (`LIMIT`): a query that matches every document costs what a narrow one
//! does, instead of ranking all its matches.
//!
//! Filter values are lexemes too (`|:owner=group:default/team-a`), so that a filter narrows the
//! GIN index scan (there is no other index on the filter columns); the columns are compared as
//! well, which keeps a filter exact where a long value's lexeme is cut.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::search::query::{self, MatchKind, Tier};
use crate::search::{
    Applied, BackendAnswer, Facet, FacetField, MAX_FACET_VALUES, MAX_HITS, ParsedQuery, SearchError, SearchFilter, SearchRequest,
};
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
/// Bytes per lexeme: longer words are indexed (and searched) by their beginning. Keeps a
/// document's `tsvector` far under Postgres's 1 MB limit.
const MAX_LEXEME_BYTES: usize = 255;
/// The mark of the lexeme that stands for a whole name. Marks begin with `|`, which separates
/// words: no query word, and so no prefix search, begins with it.
const NAME_MARK: &str = "|n";
/// Words shorter than this are never a typo alternative (a term with a budget has 5
/// characters or more): they stay out of `search_terms`.
const MIN_TERM_CHARS: usize = 4;
/// Documents per insert statement.
const WRITE_CHUNK: usize = 500;
/// Entities read from the catalog per page by a rebuild.
const REBUILD_PAGE: usize = 2000;
/// Typo candidates looked at per query word and lookup.
const TYPO_CANDIDATES: i64 = 50;
/// Matches counted: one beyond the deepest hit served, so that a count of `MAX_HITS + 1` says
/// "more than [`MAX_HITS`]" (as the Meilisearch backend counts).
const MAX_COUNTED: i64 = MAX_HITS as i64 + 1;

/// A search's transaction: one snapshot for the page, the count and the facets; plans made for
/// the actual query (a generic plan cannot tell a rare word from a common prefix); no sequential
/// scan where the GIN index can answer (the planner multiplies the selectivities of words and
/// filters as if they were independent, and a scan it expects to stop early can read the whole
/// table instead); `pg_trgm` thresholds for typo candidates, low since a short word with one typo
/// shares few trigrams (candidates are then checked by edit distance).
const BEGIN_SEARCH: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL plan_cache_mode = force_custom_plan;
     SET LOCAL enable_seqscan = off;
     SET LOCAL pg_trgm.similarity_threshold = 0.2; SET LOCAL pg_trgm.word_similarity_threshold = 0.5";

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

    /// One page of hits, the number of matches (exact up to [`MAX_HITS`]) and, when asked, the
    /// facet counts.
    pub async fn search(&self, query: &ParsedQuery, request: &SearchRequest) -> Result<BackendAnswer, SearchError> {
        let filters = Filters::from(&request.filter);
        if filters.match_nothing() {
            return Ok(BackendAnswer {
                hits: Vec::new(),
                total: 0,
                total_is_exact: true,
                facets: if request.facets { empty_facets() } else { Vec::new() },
            });
        }
        let mut transaction = self.store.begin_with(BEGIN_SEARCH).await.map_err(store_error)?;
        let text_query = if query.terms.is_empty() {
            None
        } else {
            let alternatives = typo_alternatives(&mut transaction, query).await?;
            Some(TextQuery::new(query, &alternatives))
        };
        let (hits, total) = match &text_query {
            Some(text_query) => ranked_page(&mut transaction, text_query, &filters, request.first, request.offset).await?,
            None => browse_page(&mut transaction, &filters, request.first, request.offset).await?,
        };
        let facets = if request.facets {
            if text_query.is_none() && filters.clause.is_none() {
                // Every document: no index to use, a sequential scan is the plan.
                sqlx::query("SET LOCAL enable_seqscan = on")
                    .execute(&mut *transaction)
                    .await
                    .map_err(store_error)?;
            }
            facet_counts(&mut transaction, text_query.as_ref(), &filters).await?
        } else {
            Vec::new()
        };
        transaction.commit().await.map_err(store_error)?;
        Ok(BackendAnswer {
            hits,
            total,
            total_is_exact: total <= MAX_HITS,
            facets,
        })
    }

    /// Upserts `upserts` and removes `deletes`, in one transaction.
    pub async fn apply(&self, upserts: &[SearchEntity], deletes: &[String]) -> Result<Applied, SearchError> {
        let mut transaction = self.store.begin().await.map_err(store_error)?;
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
        // The GIN indexes' pending entries merged (a search would read them one by one), the
        // visibility map set, and the statistics the planner needs: before the tables go live.
        sqlx::query("VACUUM (ANALYZE) search_documents_next, search_terms_next")
            .execute(pool)
            .await
            .map_err(store_error)?;
        let mut transaction = self.store.begin().await.map_err(store_error)?;
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

/// The mark of the copies of a tier's words (tier D words have none).
fn tier_mark(tier: Tier) -> Option<&'static str> {
    match tier {
        Tier::A => Some("|a"),
        Tier::B => Some("|b"),
        Tier::C => Some("|c"),
        Tier::D => None,
    }
}

/// `word` after `mark`, cut to a lexeme's length.
fn marked(mark: &str, word: &str) -> String {
    cut_lexeme(&format!("{mark}{word}")).to_owned()
}

/// The words of `entity`'s searchable fields, each once, with a marked copy for each tier it
/// appears in (but D), and the name whole, as `tsvector` text (no positions: ranking is by
/// buckets).
fn lexemes(entity: &SearchEntity) -> Lexemes {
    let mut plain: HashSet<String> = HashSet::new();
    let mut lexemes: BTreeSet<String> = BTreeSet::new();
    let mut terms: Vec<String> = Vec::new();
    for (_, tier, text) in query::fields(entity) {
        for word in query::words(text) {
            let lexeme = cut_lexeme(&word.folded);
            if !plain.contains(lexeme) {
                if plain.len() == MAX_DOCUMENT_WORDS {
                    continue;
                }
                plain.insert(lexeme.to_owned());
                lexemes.insert(lexeme.to_owned());
                if lexeme.chars().count() >= MIN_TERM_CHARS {
                    terms.push(lexeme.to_owned());
                }
            }
            if let Some(mark) = tier_mark(tier) {
                lexemes.insert(marked(mark, lexeme));
            }
        }
    }
    if let Some(marker) = name_marker(&entity.name) {
        lexemes.insert(marker);
    }
    for (field, value) in facet_values(entity) {
        lexemes.insert(facet_lexeme(field, &value));
    }
    let mut tsvector = String::new();
    for lexeme in &lexemes {
        if !tsvector.is_empty() {
            tsvector.push(' ');
        }
        push_quoted(&mut tsvector, lexeme);
    }
    Lexemes { tsvector, terms }
}

/// The values `entity` can be filtered by, field by field (every tag).
fn facet_values(entity: &SearchEntity) -> Vec<(FacetField, String)> {
    let mut values = vec![
        (FacetField::Kind, entity.kind.clone()),
        (FacetField::Namespace, entity.namespace.clone()),
    ];
    let optional = [
        (FacetField::Type, &entity.entity_type),
        (FacetField::Owner, &entity.owner),
        (FacetField::Lifecycle, &entity.lifecycle),
        (FacetField::System, &entity.system),
        (FacetField::Domain, &entity.domain),
        (FacetField::Repo, &entity.repo),
    ];
    values.extend(
        optional
            .into_iter()
            .filter_map(|(field, value)| value.clone().map(|value| (field, value))),
    );
    values.extend(entity.tier.map(|tier| (FacetField::Tier, tier.to_string())));
    values.extend(entity.tags.iter().map(|tag| (FacetField::Tags, tag.clone())));
    values
}

/// The lexeme of a filter value: `|:<field>=<value>`, cut to a lexeme's length.
fn facet_lexeme(field: FacetField, value: &str) -> String {
    marked(&format!("|:{}=", field.name()), value)
}

/// The lexeme that stands for a whole name: its folded words joined by spaces, marked. A query
/// whose words are the name's has the same marker (the exact-name bucket).
fn name_marker(name: &str) -> Option<String> {
    let words: Vec<String> = query::words(name).into_iter().map(|word| word.folded).collect();
    if words.is_empty() {
        return None;
    }
    Some(marked(NAME_MARK, &words.join(" ")))
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
        // A beginning that starts with another one adds nothing to the other's prefix search
        // (the last word); words before it are searched whole.
        let found: Vec<String> = found
            .iter()
            .filter(|word| !term.prefix || !found.iter().any(|other| other != *word && word.starts_with(other.as_str())))
            .cloned()
            .collect();
        if !found.is_empty() {
            alternatives.insert(index, found);
        }
    }
    Ok(alternatives)
}

/// A query's `tsquery` texts: what matches, and the buckets of the ranking, best first, each
/// within the next (the last is `matching`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct TextQuery {
    /// Every word (or one of its typo alternatives) as a prefix of a word of the entity.
    matching: String,
    buckets: Vec<String>,
}

impl TextQuery {
    fn new(query: &ParsedQuery, alternatives: &HashMap<usize, Vec<String>>) -> TextQuery {
        // Each term's spellings: itself, then its typo alternatives; searched as prefixes for
        // the last word of the query, as whole words before it.
        let spellings: Vec<(bool, Vec<&str>)> = query
            .terms
            .iter()
            .enumerate()
            .map(|(index, term)| {
                let spellings = std::iter::once(term.text.as_str())
                    .chain(alternatives.get(&index).into_iter().flatten().map(String::as_str))
                    .collect();
                (term.prefix, spellings)
            })
            .collect();
        // AND over the terms of OR over their spellings under each of `marks`; `exact`: the
        // terms themselves, whole.
        let every_term = |marks: &[&str], exact: bool| {
            let clauses: Vec<String> = spellings
                .iter()
                .map(|(prefix, spellings)| {
                    let spellings = if exact { &spellings[..1] } else { &spellings[..] };
                    let mut variants = Vec::new();
                    for mark in marks {
                        for spelling in spellings {
                            let mut lexeme = String::new();
                            push_quoted(&mut lexeme, &marked(mark, spelling));
                            if *prefix && !exact {
                                lexeme.push_str(":*");
                            }
                            variants.push(lexeme);
                        }
                    }
                    if variants.len() == 1 {
                        variants.remove(0)
                    } else {
                        format!("({})", variants.join(" | "))
                    }
                })
                .collect();
            clauses.join(" & ")
        };
        let matching = every_term(&[""], false);
        let mut name = String::new();
        match name_marker(&query.text) {
            Some(marker) => push_quoted(&mut name, &marker),
            // Not reached: a query with terms has words.
            None => push_quoted(&mut name, NAME_MARK),
        }
        let buckets = vec![
            name,
            every_term(&["|a"], true),
            every_term(&["|a"], false),
            every_term(&["|a", "|b"], false),
            every_term(&["|a", "|b", "|c"], false),
            matching.clone(),
        ];
        TextQuery { matching, buckets }
    }
}

/// The filter, one condition per field that has values, and the same as a `tsquery`.
#[derive(Debug, Clone, Default)]
struct Filters {
    conditions: Vec<(FacetField, FilterValues)>,
    /// AND over the fields of OR over their values' lexemes; `None`: no filter.
    clause: Option<String>,
}

#[derive(Debug, Clone)]
enum FilterValues {
    Texts(Vec<String>),
    /// Tiers given as numbers; other values match nothing.
    Tiers(Vec<i16>),
}

impl Filters {
    /// Whether some field has no value that can match (only tiers that are not numbers).
    fn match_nothing(&self) -> bool {
        self.conditions
            .iter()
            .any(|(_, values)| matches!(values, FilterValues::Tiers(tiers) if tiers.is_empty()))
    }

    /// `tsquery` text that holds `query` and the filter.
    fn and(&self, query: Option<&str>) -> Option<String> {
        match (query, &self.clause) {
            (Some(query), Some(clause)) => Some(format!("({query}) & {clause}")),
            (Some(query), None) => Some(query.to_owned()),
            (None, clause) => clause.clone(),
        }
    }
}

impl From<&SearchFilter> for Filters {
    fn from(filter: &SearchFilter) -> Filters {
        let mut conditions = Vec::new();
        let mut clauses = Vec::new();
        for (field, values) in filter.fields() {
            let values = match field {
                FacetField::Tier => FilterValues::Tiers(values.into_iter().filter_map(crate::search::tier_value).collect()),
                _ => FilterValues::Texts(values.into_iter().map(str::to_owned).collect()),
            };
            let lexemes: BTreeSet<String> = match &values {
                FilterValues::Texts(texts) => texts.iter().map(|value| facet_lexeme(field, value)).collect(),
                FilterValues::Tiers(tiers) => tiers.iter().map(|tier| facet_lexeme(field, &tier.to_string())).collect(),
            };
            let quoted: Vec<String> = lexemes
                .iter()
                .map(|lexeme| {
                    let mut text = String::new();
                    push_quoted(&mut text, lexeme);
                    text
                })
                .collect();
            match quoted.len() {
                0 => {}
                1 => clauses.push(quoted.concat()),
                _ => clauses.push(format!("({})", quoted.join(" | "))),
            }
            conditions.push((field, values));
        }
        let clause = (!clauses.is_empty()).then(|| clauses.join(" & "));
        Filters { conditions, clause }
    }
}

/// Appends ` AND <condition>` for each filter field, values bound.
/// (`search_documents` names its filter columns as the facet fields: `FacetField::name`.)
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
                    .push(field.name())
                    .push(" = ANY(")
                    .push_bind(values.clone())
                    .push("::text[])");
            }
        }
    }
}

/// Pushes the `FROM` and `WHERE` of the matching documents.
fn push_matches(builder: &mut QueryBuilder<'_, Postgres>, text_query: Option<&TextQuery>, filters: &Filters) {
    builder.push(" FROM search_documents WHERE ");
    match filters.and(text_query.map(|text_query| text_query.matching.as_str())) {
        Some(tsquery) => builder.push("lexemes @@ CAST(").push_bind(tsquery).push(" AS tsquery)"),
        None => builder.push("true"),
    };
    push_filters(builder, filters);
}

/// A page of hits for a text query, best bucket first, by name within a bucket, and the number
/// of matches (counted up to [`MAX_COUNTED`]).
async fn ranked_page(
    connection: &mut PgConnection,
    text_query: &TextQuery,
    filters: &Filters,
    first: usize,
    offset: usize,
) -> Result<(Vec<(SearchEntity, f64)>, usize), SearchError> {
    let buckets: Vec<Option<String>> = text_query.buckets.iter().map(|bucket| filters.and(Some(bucket))).collect();
    let excluded: Vec<Option<&str>> = std::iter::once(None)
        .chain(text_query.buckets.iter().map(|bucket| Some(bucket.as_str())))
        .collect();
    let (found, total) = read_buckets(connection, &buckets, &excluded, filters, offset.saturating_add(first)).await?;
    let page: Vec<(String, f64)> = found
        .into_iter()
        .skip(offset)
        .map(|(entity_ref, bucket)| (entity_ref, (text_query.buckets.len() - bucket) as f64))
        .collect();
    Ok((documents(connection, page).await?, total))
}

/// A page of every document the filters let through, by name, and their number (counted up to
/// [`MAX_COUNTED`]).
async fn browse_page(
    connection: &mut PgConnection,
    filters: &Filters,
    first: usize,
    offset: usize,
) -> Result<(Vec<(SearchEntity, f64)>, usize), SearchError> {
    let (found, total) = read_buckets(connection, &[filters.and(None)], &[None], filters, offset.saturating_add(first)).await?;
    let page: Vec<(String, f64)> = found.into_iter().skip(offset).map(|(entity_ref, _)| (entity_ref, 0.0)).collect();
    Ok((documents(connection, page).await?, total))
}

/// The first `wanted` references of the matches, bucket after bucket (each bucket: the documents
/// `buckets[i]` matches and `excluded[i]` does not, and the filter's columns let through; by
/// name), with the index of their bucket; and the number of matches, counted up to
/// [`MAX_COUNTED`]. A `None` bucket matches everything.
///
/// Each bucket is first read whole, unordered, up to what is left to count: through the GIN
/// index, so a small bucket costs little whatever the planner expects of it. A bucket that
/// fills the count is large: its first references are then read in name order, which the name
/// index gives at once.
async fn read_buckets(
    connection: &mut PgConnection,
    buckets: &[Option<String>],
    excluded: &[Option<&str>],
    filters: &Filters,
    wanted: usize,
) -> Result<(Vec<(String, usize)>, usize), SearchError> {
    let mut found: Vec<(String, usize)> = Vec::new();
    let mut counted: usize = 0;
    let cap = usize::try_from(MAX_COUNTED).unwrap_or(usize::MAX);
    for (index, bucket) in buckets.iter().enumerate() {
        if counted >= cap {
            break;
        }
        let excluded = excluded.get(index).copied().flatten();
        let left_to_count = cap - counted;
        let mut builder: QueryBuilder<'_, Postgres> = QueryBuilder::new("SELECT entity_ref FROM (SELECT entity_ref, name");
        push_bucket(&mut builder, bucket.as_deref(), excluded, filters);
        builder
            .push(" LIMIT ")
            .push_bind(i64::try_from(left_to_count).unwrap_or(i64::MAX))
            .push(") AS bucket ORDER BY name, entity_ref");
        let refs: Vec<(String,)> = builder.build_query_as().fetch_all(&mut *connection).await.map_err(store_error)?;
        counted += refs.len();
        let needed = wanted.saturating_sub(found.len());
        if refs.len() < left_to_count || needed == 0 {
            // The whole bucket (or all that the page needs of it).
            found.extend(refs.into_iter().take(needed).map(|(entity_ref,)| (entity_ref, index)));
            continue;
        }
        // A large bucket: its first references by name.
        let mut builder: QueryBuilder<'_, Postgres> = QueryBuilder::new("SELECT entity_ref");
        push_bucket(&mut builder, bucket.as_deref(), excluded, filters);
        builder
            .push(" ORDER BY name, entity_ref LIMIT ")
            .push_bind(i64::try_from(needed).unwrap_or(i64::MAX));
        let refs: Vec<(String,)> = builder.build_query_as().fetch_all(&mut *connection).await.map_err(store_error)?;
        found.extend(refs.into_iter().map(|(entity_ref,)| (entity_ref, index)));
    }
    Ok((found, counted.min(cap)))
}

/// Pushes the `FROM` and `WHERE` of one bucket.
fn push_bucket(builder: &mut QueryBuilder<'_, Postgres>, bucket: Option<&str>, excluded: Option<&str>, filters: &Filters) {
    builder.push(" FROM search_documents WHERE ");
    match bucket {
        Some(bucket) => builder.push("lexemes @@ CAST(").push_bind(bucket.to_owned()).push(" AS tsquery)"),
        None => builder.push("true"),
    };
    if let Some(excluded) = excluded {
        builder
            .push(" AND NOT lexemes @@ CAST(")
            .push_bind(excluded.to_owned())
            .push(" AS tsquery)");
    }
    push_filters(builder, filters);
}

/// The documents of `page` (references with their scores), in its order.
async fn documents(connection: &mut PgConnection, page: Vec<(String, f64)>) -> Result<Vec<(SearchEntity, f64)>, SearchError> {
    if page.is_empty() {
        return Ok(Vec::new());
    }
    let refs: Vec<&str> = page.iter().map(|(entity_ref, _)| entity_ref.as_str()).collect();
    let mut documents: HashMap<String, SearchEntity> =
        sqlx::query_as::<_, (String, Json<SearchEntity>)>("SELECT entity_ref, document FROM search_documents WHERE entity_ref = ANY($1)")
            .bind(&refs)
            .fetch_all(&mut *connection)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|(entity_ref, document)| (entity_ref, document.0))
            .collect();
    Ok(page
        .into_iter()
        .filter_map(|(entity_ref, score)| documents.remove(&entity_ref).map(|entity| (entity, score)))
        .collect())
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
            FacetField::Tags => {
                builder.push("SELECT 'tags', tag, count(*) FROM (SELECT unnest(tags) AS tag FROM matches) AS tags GROUP BY tag")
            }
            FacetField::Tier => builder.push("SELECT 'tier', tier::text, count(*) FROM matches WHERE tier IS NOT NULL GROUP BY tier"),
            _ => {
                let column = field.name();
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
    let mut facets = empty_facets();
    for (field, value, count) in rows {
        if let Some(facet) = facets.iter_mut().find(|facet| facet.field.name() == field) {
            facet.values.push((value, u64::try_from(count).unwrap_or(0)));
        }
    }
    Ok(facets)
}

/// Every facet field, without values.
fn empty_facets() -> Vec<Facet> {
    FacetField::ALL
        .into_iter()
        .map(|field| Facet { field, values: Vec::new() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(name: &str) -> SearchEntity {
        SearchEntity::component_named(name)
    }

    #[test]
    fn lexemes_carry_tier_marks() {
        let mut payments = entity("payments-api");
        payments.title = Some("Payments".into());
        payments.tags = vec!["billing".into()];
        payments.description = Some("Takes payments".into());
        payments.definition = Some("openapi".into());
        let lexemes = lexemes(&payments);
        assert_eq!(
            lexemes.tsvector,
            "'api' 'billing' 'openapi' 'payments' 'takes' '|:kind=component' '|:namespace=default' '|:tags=billing' \
             '|aapi' '|apayments' '|bbilling' '|cpayments' '|ctakes' '|npayments api'"
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
        assert!(
            lexemes.tsvector.split(' ').all(|lexeme| lexeme.len() <= MAX_LEXEME_BYTES + 2),
            "{}",
            lexemes.tsvector
        );
        assert!(lexemes.tsvector.contains(&format!("'{}'", "e".repeat(MAX_LEXEME_BYTES))));
        let mut many = entity("many");
        many.definition = Some((0..5000).map(|number| format!("word{number} ")).collect());
        let tsvector = super::lexemes(&many).tsvector;
        let plain = tsvector.split(' ').filter(|lexeme| !lexeme.starts_with("'|")).count();
        assert_eq!(plain, MAX_DOCUMENT_WORDS);
    }

    #[test]
    fn queries_quote_every_lexeme_and_nest_their_buckets() {
        let query = query::parse("pay it's paymnts").expect("valid");
        let mut alternatives = HashMap::new();
        alternatives.insert(3, vec!["payments".to_owned()]);
        let text_query = TextQuery::new(&query, &alternatives);
        // Only the last word is a prefix.
        assert_eq!(text_query.matching, "'pay' & 'it' & 's' & ('paymnts':* | 'payments':*)");
        assert_eq!(
            text_query.buckets,
            [
                "'|npay it s paymnts'".to_owned(),
                "'|apay' & '|ait' & '|as' & '|apaymnts'".to_owned(),
                "'|apay' & '|ait' & '|as' & ('|apaymnts':* | '|apayments':*)".to_owned(),
                "('|apay' | '|bpay') & ('|ait' | '|bit') & ('|as' | '|bs') & ('|apaymnts':* | '|apayments':* | '|bpaymnts':* | '|bpayments':*)".to_owned(),
                "('|apay' | '|bpay' | '|cpay') & ('|ait' | '|bit' | '|cit') & ('|as' | '|bs' | '|cs') & ('|apaymnts':* | '|apayments':* | '|bpaymnts':* | '|bpayments':* | '|cpaymnts':* | '|cpayments':*)".to_owned(),
                text_query.matching.clone(),
            ]
        );
        let before_last = TextQuery::new(
            &query::parse("paymnts pay").expect("valid"),
            &HashMap::from([(0, vec!["payments".to_owned()])]),
        );
        assert_eq!(before_last.matching, "('paymnts' | 'payments') & 'pay':*");
    }

    #[test]
    fn tier_filters_keep_numbers_only() {
        let filter = SearchFilter::default()
            .with(FacetField::Tier, ["1".to_owned(), "high".to_owned()])
            .with(FacetField::Kind, ["api".to_owned()]);
        let filters = Filters::from(&filter);
        assert!(matches!(&filters.conditions[0], (FacetField::Kind, FilterValues::Texts(values)) if values == &["api"]));
        assert!(matches!(&filters.conditions[1], (FacetField::Tier, FilterValues::Tiers(values)) if values == &[1]));
        assert_eq!(filters.clause.as_deref(), Some("'|:kind=api' & '|:tier=1'"));
        assert!(!filters.match_nothing());
        let nothing = Filters::from(&SearchFilter::default().with(FacetField::Tier, ["x".to_owned()]));
        assert!(nothing.match_nothing());
    }

    #[test]
    fn filter_values_are_quoted_lexemes() {
        let filter = SearchFilter::default()
            .with(FacetField::Lifecycle, ["it's \\ odd".to_owned(), "a | b & !c".to_owned()])
            .with(FacetField::Tags, ["java".to_owned()]);
        let filters = Filters::from(&filter);
        assert_eq!(
            filters.clause.as_deref(),
            Some("('|:lifecycle=a | b & !c' | '|:lifecycle=it''s \\\\ odd') & '|:tags=java'")
        );
        assert_eq!(
            filters.and(Some("'pay':*")).as_deref(),
            Some("('pay':*) & ('|:lifecycle=a | b & !c' | '|:lifecycle=it''s \\\\ odd') & '|:tags=java'")
        );
        assert_eq!(Filters::from(&SearchFilter::default()).and(None), None);
    }
}
