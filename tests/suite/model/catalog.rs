//! The whole catalog as plain sorted rows, read from Postgres with plain SQL, and the
//! differences between two such catalogs (the reference model's and the store's).

use std::collections::BTreeMap;

use sqlx::PgPool;

/// A stored entity with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntityRow {
    pub entity_ref: String,
    pub repo_url: String,
    pub path: String,
    pub document_index: i64,
    pub line: i64,
    pub commit: String,
    /// Whether the entity is a last good copy (it has a stale reason).
    pub stale: bool,
    /// The stored document, as canonical JSON text.
    pub document: String,
}

/// A declared relation of a stored entity and what its target resolved to (`None`: dangling).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RelationRow {
    pub source_ref: String,
    pub relation_type: String,
    pub target_ref: String,
    pub resolved: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConflictRow {
    pub entity_ref: String,
    pub holder_url: String,
    pub holder_path: String,
    pub claimant_url: String,
    pub claimant_path: String,
    pub claimant_document_index: i64,
    pub claimant_line: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RepoRow {
    pub url: String,
    pub status: String,
    pub has_error: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub entities: Vec<EntityRow>,
    pub relations: Vec<RelationRow>,
    pub conflicts: Vec<ConflictRow>,
    pub repos: Vec<RepoRow>,
}

impl Catalog {
    pub fn sort(&mut self) {
        self.entities.sort();
        self.relations.sort();
        self.conflicts.sort();
        self.repos.sort();
    }
}

/// Empties every catalog table (not the migrations' bookkeeping, not the catalog version).
/// Deleting the few rows of a sequence, with foreign-key triggers off for the transaction, is
/// several times faster than TRUNCATE, which replaces every table's and index's files.
pub async fn truncate(pool: &PgPool) {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()
         AND tablename NOT IN ('_sqlx_migrations', 'catalog_state') ORDER BY tablename",
    )
    .fetch_all(pool)
    .await
    .expect("list the tables");
    let deletes: String = tables.iter().map(|table| format!("DELETE FROM {table};")).collect();
    sqlx::raw_sql(&format!("BEGIN; SET LOCAL session_replication_role = replica; {deletes} COMMIT;"))
        .execute(pool)
        .await
        .expect("empty the catalog");
}

/// JSON with object keys in sorted order, so that equal documents print equally.
pub fn canonical_json(value: &serde_json::Value) -> String {
    fn sorted(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let ordered: BTreeMap<&String, serde_json::Value> = map.iter().map(|(key, value)| (key, sorted(value))).collect();
                serde_json::Value::Object(ordered.into_iter().map(|(key, value)| (key.clone(), value)).collect())
            }
            serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// An entity row as selected: ref, repository url, path, document index, line, commit, stale, document.
type EntityColumns = (String, String, String, i32, i32, String, bool, serde_json::Value);

/// Reads the whole catalog.
pub async fn read(pool: &PgPool) -> Catalog {
    let entities: Vec<EntityColumns> = sqlx::query_as(
        "SELECT e.entity_ref, r.url, e.file_path, e.document_index, e.line, e.commit_id, e.stale_reason IS NOT NULL, e.document
         FROM entities e JOIN repos r ON r.id = e.repo_id",
    )
    .fetch_all(pool)
    .await
    .expect("read the entities");
    let relations: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT s.entity_ref, l.type, l.target_ref, t.entity_ref
         FROM relations l JOIN entities s ON s.id = l.source_id LEFT JOIN entities t ON t.id = l.target_id",
    )
    .fetch_all(pool)
    .await
    .expect("read the relations");
    let conflicts: Vec<(String, String, String, String, String, i32, i32)> = sqlx::query_as(
        "SELECT c.entity_ref, h.url, c.holder_path, k.url, c.claimant_path, c.claimant_document_index, c.claimant_line
         FROM conflicts c JOIN repos h ON h.id = c.holder_repo_id JOIN repos k ON k.id = c.claimant_repo_id",
    )
    .fetch_all(pool)
    .await
    .expect("read the conflicts");
    let repos: Vec<(String, String, Option<String>)> = sqlx::query_as("SELECT url, status, error FROM repos")
        .fetch_all(pool)
        .await
        .expect("read the repositories");
    let mut catalog = Catalog {
        entities: entities
            .into_iter()
            .map(
                |(entity_ref, repo_url, path, document_index, line, commit, stale, document)| EntityRow {
                    entity_ref,
                    repo_url,
                    path,
                    document_index: document_index.into(),
                    line: line.into(),
                    commit,
                    stale,
                    document: canonical_json(&document),
                },
            )
            .collect(),
        relations: relations
            .into_iter()
            .map(|(source_ref, relation_type, target_ref, resolved)| RelationRow {
                source_ref,
                relation_type,
                target_ref,
                resolved,
            })
            .collect(),
        conflicts: conflicts
            .into_iter()
            .map(
                |(entity_ref, holder_url, holder_path, claimant_url, claimant_path, claimant_document_index, claimant_line)| ConflictRow {
                    entity_ref,
                    holder_url,
                    holder_path,
                    claimant_url,
                    claimant_path,
                    claimant_document_index: claimant_document_index.into(),
                    claimant_line: claimant_line.into(),
                },
            )
            .collect(),
        repos: repos
            .into_iter()
            .map(|(url, status, error)| RepoRow {
                url,
                status,
                has_error: error.is_some_and(|error| !error.is_empty()),
            })
            .collect(),
    };
    catalog.sort();
    catalog
}

/// What a difference is about, most fundamental first: a failing sequence is shrunk while its
/// first category stays the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// The crawl itself returned an error.
    CrawlFailed,
    EntityMissing,
    EntityExtra,
    EntityHolder,
    EntityPlace,
    EntityData,
    EntityCommit,
    StaleFlag,
    ConflictMissing,
    ConflictExtra,
    RelationMissing,
    RelationExtra,
    Resolution,
    RepoStatus,
}

#[derive(Debug, Clone)]
pub struct Difference {
    pub category: Category,
    pub text: String,
}

fn entity_text(row: &EntityRow) -> String {
    format!(
        "{} @ {} {}#{} line {} commit {} stale {}",
        row.entity_ref,
        short_url(&row.repo_url),
        row.path,
        row.document_index,
        row.line,
        &row.commit[..row.commit.len().min(8)],
        row.stale
    )
}

/// The last folder of a repository path (`repo-2`), enough to tell them apart in a report.
pub fn short_url(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

fn conflict_text(row: &ConflictRow) -> String {
    format!(
        "{} held by {} {}, claimed by {} {}#{} line {}",
        row.entity_ref,
        short_url(&row.holder_url),
        row.holder_path,
        short_url(&row.claimant_url),
        row.claimant_path,
        row.claimant_document_index,
        row.claimant_line
    )
}

/// Every way `actual` differs from `expected`.
pub fn differences(expected: &Catalog, actual: &Catalog) -> Vec<Difference> {
    let mut found = Vec::new();
    let mut push = |category, text: String| found.push(Difference { category, text });

    let expected_entities: BTreeMap<&str, &EntityRow> = expected.entities.iter().map(|row| (row.entity_ref.as_str(), row)).collect();
    let actual_entities: BTreeMap<&str, &EntityRow> = actual.entities.iter().map(|row| (row.entity_ref.as_str(), row)).collect();
    for (entity_ref, want) in &expected_entities {
        let Some(have) = actual_entities.get(entity_ref) else {
            push(Category::EntityMissing, format!("missing entity {}", entity_text(want)));
            continue;
        };
        let pairs = [
            (Category::EntityHolder, want.repo_url != have.repo_url),
            (
                Category::EntityPlace,
                (&want.path, want.document_index, want.line) != (&have.path, have.document_index, have.line),
            ),
            (Category::EntityData, want.document != have.document),
            (Category::EntityCommit, want.commit != have.commit),
            (Category::StaleFlag, want.stale != have.stale),
        ];
        for (category, differs) in pairs {
            if differs {
                let mut text = format!("entity {entity_ref}: model {} / catalog {}", entity_text(want), entity_text(have));
                if category == Category::EntityData {
                    text = format!(
                        "entity {entity_ref}: model document {} / catalog document {}",
                        want.document, have.document
                    );
                }
                push(category, text);
            }
        }
    }
    for (entity_ref, have) in &actual_entities {
        if !expected_entities.contains_key(entity_ref) {
            push(Category::EntityExtra, format!("extra entity {}", entity_text(have)));
        }
    }

    for row in multiset_minus(&expected.conflicts, &actual.conflicts) {
        push(Category::ConflictMissing, format!("missing conflict {}", conflict_text(row)));
    }
    for row in multiset_minus(&actual.conflicts, &expected.conflicts) {
        push(Category::ConflictExtra, format!("extra conflict {}", conflict_text(row)));
    }

    let key =
        |row: &RelationRow| -> (String, String, String) { (row.source_ref.clone(), row.relation_type.clone(), row.target_ref.clone()) };
    let expected_relations: BTreeMap<(String, String, String), &Option<String>> =
        expected.relations.iter().map(|row| (key(row), &row.resolved)).collect();
    let actual_relations: BTreeMap<(String, String, String), &Option<String>> =
        actual.relations.iter().map(|row| (key(row), &row.resolved)).collect();
    let show = |(source, relation_type, target): &(String, String, String)| -> String { format!("{source} {relation_type} {target}") };
    for (relation, want) in &expected_relations {
        match actual_relations.get(relation) {
            None => push(
                Category::RelationMissing,
                format!("missing relation {} -> {want:?}", show(relation)),
            ),
            Some(have) if have != want => push(
                Category::Resolution,
                format!("relation {}: model resolves to {want:?} / catalog to {have:?}", show(relation)),
            ),
            Some(_) => {}
        }
    }
    for (relation, have) in &actual_relations {
        if !expected_relations.contains_key(relation) {
            push(Category::RelationExtra, format!("extra relation {} -> {have:?}", show(relation)));
        }
    }
    if actual.relations.len() != actual_relations.len() {
        push(Category::RelationExtra, "the catalog holds a relation twice".to_owned());
    }

    let expected_repos: BTreeMap<&str, &RepoRow> = expected.repos.iter().map(|row| (row.url.as_str(), row)).collect();
    let actual_repos: BTreeMap<&str, &RepoRow> = actual.repos.iter().map(|row| (row.url.as_str(), row)).collect();
    for (url, want) in &expected_repos {
        match actual_repos.get(url) {
            None => push(Category::RepoStatus, format!("missing repository {}", short_url(url))),
            Some(have) if have != want => push(
                Category::RepoStatus,
                format!(
                    "repository {}: model {} (error {}) / catalog {} (error {})",
                    short_url(url),
                    want.status,
                    want.has_error,
                    have.status,
                    have.has_error
                ),
            ),
            Some(_) => {}
        }
    }
    for url in actual_repos.keys() {
        if !expected_repos.contains_key(url) {
            push(Category::RepoStatus, format!("extra repository {}", short_url(url)));
        }
    }
    found.sort_by_key(|difference| difference.category);
    found
}

/// The rows of `left` not matched one for one in `right` (both sorted).
fn multiset_minus<'rows, Row: Ord>(left: &'rows [Row], right: &[Row]) -> Vec<&'rows Row> {
    let mut remaining: BTreeMap<&Row, usize> = BTreeMap::new();
    for row in right {
        *remaining.entry(row).or_default() += 1;
    }
    left.iter()
        .filter(|row| match remaining.get_mut(row) {
            Some(count) if *count > 0 => {
                *count -= 1;
                false
            }
            _ => true,
        })
        .collect()
}
