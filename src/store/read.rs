//! Typed reads of the catalog for the API, each one statement on a request's [`Snapshot`]:
//! pages of entities by filter (keyset pagination), and the batch lookups behind the
//! DataLoaders (entities by id or reference, relations by source or target, aliases,
//! diagnostics by file, owned entities). Results are plain structs; GraphQL objects are built
//! from them in `src/graphql/`.

use serde_json::Value as Json;
use sqlx::{Postgres, QueryBuilder};

use super::{Snapshot, StoreError};
use crate::domain::names::{dangerous_link_scheme, is_valid_url};

/// An entity as the API shows it: its columns, the labels, annotations and links of its
/// document, and where it was declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRecord {
    pub id: i64,
    /// The canonical reference `kind:namespace/name`, lowercased.
    pub entity_ref: String,
    /// Lowercased, as in the reference.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub entity_type: Option<String>,
    pub lifecycle: Option<String>,
    pub tier: Option<i16>,
    /// The owner as written (a reference, or a Compass ARI); resolved through the `ownedBy` relation.
    pub owner_ref: Option<String>,
    pub system_ref: Option<String>,
    pub domain_ref: Option<String>,
    pub tags: Vec<String>,
    /// Other identifiers the entity answers to: a Compass component id, ARIs in `sextant.dev/aliases`.
    pub aliases: Vec<String>,
    /// Sorted by key.
    pub labels: Vec<(String, String)>,
    /// Sorted by key.
    pub annotations: Vec<(String, String)>,
    pub links: Vec<LinkRecord>,
    /// A Group's or User's `spec.profile.displayName` (Backstage), trimmed; `None` when absent or empty.
    pub display_name: Option<String>,
    /// A Group's or User's `spec.profile.email` (Backstage), trimmed; `None` when absent or empty.
    pub email: Option<String>,
    pub provenance: ProvenanceRecord,
}

/// A link of an entity (Backstage `metadata.links`, Compass `links`). Only links with a valid
/// URL of a safe scheme are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    pub url: String,
    pub title: Option<String>,
    pub icon: Option<String>,
    pub link_type: Option<String>,
}

/// Where an entity was declared, and whether the copy in the catalog is a last good one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceRecord {
    pub repo_id: i64,
    pub repo_url: String,
    pub branch: Option<String>,
    pub path: String,
    pub document_index: i32,
    pub line: i32,
    pub commit: String,
    /// `backstage` or `compass`.
    pub format: String,
    /// When the repository was last read (RFC 3339, UTC), if ever.
    pub last_crawled: Option<String>,
    /// Why the entity is a last good copy: its file is unusable, or its repository's last read
    /// failed. `None` when it is what its file says at the tip.
    pub stale_reason: Option<String>,
}

impl ProvenanceRecord {
    pub fn stale(&self) -> bool {
        self.stale_reason.is_some()
    }
}

/// A relation as its source declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredRelation {
    pub source_id: i64,
    /// The Backstage spelling, e.g. `dependsOn`.
    pub relation_type: String,
    pub target_ref: String,
    /// `None` while the target is not in the catalog (a dangling reference).
    pub target_id: Option<i64>,
}

/// A relation declared by another entity towards this one (`target_id`), with the type as
/// its source declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingRelation {
    pub target_id: i64,
    pub relation_type: String,
    pub source_id: i64,
    pub source_ref: String,
}

/// A diagnostic of a descriptor file.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DiagnosticRecord {
    pub repo_id: i64,
    pub file_path: String,
    pub line: i32,
    pub column: i32,
    pub code: String,
    /// `error`, `warning` or `note`.
    pub severity: String,
    pub message: String,
    pub hint: Option<String>,
    /// The text of the line it points at, cut around the column when long (`None`: about the
    /// whole file, or stored before lines were kept).
    pub snippet: Option<String>,
}

/// Which entities a page holds. Every list is "any of" (empty: no condition); the fields are
/// combined with "and". References and kinds are expected canonical (lowercased).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityQuery {
    pub kinds: Vec<String>,
    /// Compared case-insensitively.
    pub types: Vec<String>,
    pub namespaces: Vec<String>,
    /// Owner references: entities whose owner resolves to one of them (or, with
    /// `include_subgroups`, to one of their sub-groups), or whose owner is written so.
    pub owners: Vec<String>,
    pub include_subgroups: bool,
    /// Compared case-insensitively.
    pub lifecycles: Vec<String>,
    pub tiers: Vec<i16>,
    pub tags: Vec<String>,
    pub labels: Vec<LabelMatch>,
    pub systems: Vec<String>,
    /// Entities of these domains, directly (systems) or through their system.
    pub domains: Vec<String>,
    /// Repository URLs (or paths) as configured.
    pub repos: Vec<String>,
    /// Entities whose file has diagnostics (or has none, with `false`).
    pub has_diagnostics: Option<bool>,
    /// Entities kept as last good copies.
    pub stale: Option<bool>,
    /// Entities (other than groups, users and locations) whose owner does not resolve.
    pub orphan: Option<bool>,
    /// Entities with at least one relation whose target is not in the catalog.
    pub dangling: Option<bool>,
}

/// A label condition: the key with this value, or the key with any value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMatch {
    pub key: String,
    pub value: Option<String>,
}

/// What a page of entities is sorted by; the reference breaks ties, so the order is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortField {
    /// The canonical reference (so kind, then namespace, then name).
    #[default]
    Ref,
    Name,
    /// The title, or the name when there is none.
    Title,
}

impl SortField {
    fn expression(self) -> &'static str {
        match self {
            SortField::Ref => "e.entity_ref",
            SortField::Name => "e.name",
            SortField::Title => "coalesce(e.title, e.name)",
        }
    }

    /// This field's value for an entity (what a cursor holds).
    pub fn key_of(self, entity: &EntityRecord) -> String {
        match self {
            SortField::Ref => entity.entity_ref.clone(),
            SortField::Name => entity.name.clone(),
            SortField::Title => entity.title.clone().unwrap_or_else(|| entity.name.clone()),
        }
    }
}

/// A page's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SortOrder {
    pub field: SortField,
    pub descending: bool,
}

/// A position in an ordered list of entities: the sort key and the reference of the last
/// entity seen. The page after it starts with the next entity in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortPosition {
    pub key: String,
    pub entity_ref: String,
}

/// The columns of an [`EntityRow`], over `entities e JOIN repos r`.
const ENTITY_COLUMNS: &str = "e.id, e.entity_ref, e.kind, e.namespace, e.name, e.title, e.description, e.type AS entity_type,
    e.lifecycle, e.tier, e.owner_ref, e.system_ref, e.domain_ref, e.tags, e.aliases,
    CASE WHEN e.format = 'backstage' THEN e.document #> '{metadata,labels}' END AS labels,
    CASE WHEN e.format = 'backstage' THEN e.document #> '{metadata,annotations}' END AS annotations,
    CASE WHEN e.format = 'compass' THEN e.document -> 'links' ELSE e.document #> '{metadata,links}' END AS links,
    CASE WHEN e.format = 'backstage' THEN e.document #> '{spec,profile}' END AS profile,
    e.repo_id, r.url AS repo_url, r.branch AS repo_branch, e.file_path, e.document_index, e.line, e.commit_id, e.format,
    to_char(r.last_crawled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS last_crawled,
    e.stale_reason, r.read_failed, r.error AS repo_error
    FROM entities e JOIN repos r ON r.id = e.repo_id";

#[derive(sqlx::FromRow)]
struct EntityRow {
    id: i64,
    entity_ref: String,
    kind: String,
    namespace: String,
    name: String,
    title: Option<String>,
    description: Option<String>,
    entity_type: Option<String>,
    lifecycle: Option<String>,
    tier: Option<i16>,
    owner_ref: Option<String>,
    system_ref: Option<String>,
    domain_ref: Option<String>,
    tags: Vec<String>,
    aliases: Vec<String>,
    labels: Option<Json>,
    annotations: Option<Json>,
    links: Option<Json>,
    profile: Option<Json>,
    repo_id: i64,
    repo_url: String,
    repo_branch: Option<String>,
    file_path: String,
    document_index: i32,
    line: i32,
    commit_id: String,
    format: String,
    last_crawled: Option<String>,
    stale_reason: Option<String>,
    read_failed: bool,
    repo_error: Option<String>,
}

impl EntityRow {
    fn into_record(self) -> EntityRecord {
        let stale_reason = self.stale_reason.or_else(|| {
            self.read_failed
                .then(|| self.repo_error.unwrap_or_else(|| "the repository's last read failed".to_owned()))
        });
        EntityRecord {
            id: self.id,
            entity_ref: self.entity_ref,
            kind: self.kind,
            namespace: self.namespace,
            name: self.name,
            title: self.title,
            description: self.description,
            entity_type: self.entity_type,
            lifecycle: self.lifecycle,
            tier: self.tier,
            owner_ref: self.owner_ref,
            system_ref: self.system_ref,
            domain_ref: self.domain_ref,
            tags: self.tags,
            aliases: self.aliases,
            labels: string_pairs(self.labels),
            annotations: string_pairs(self.annotations),
            links: links(self.links),
            display_name: profile_text(self.profile.as_ref(), "displayName"),
            email: profile_text(self.profile.as_ref(), "email"),
            provenance: ProvenanceRecord {
                repo_id: self.repo_id,
                repo_url: self.repo_url,
                branch: self.repo_branch,
                path: self.file_path,
                document_index: self.document_index,
                line: self.line,
                commit: self.commit_id,
                format: self.format,
                last_crawled: self.last_crawled,
                stale_reason,
            },
        }
    }
}

/// A JSON object's scalar members as sorted (key, text) pairs; anything else is ignored.
fn string_pairs(value: Option<Json>) -> Vec<(String, String)> {
    let Some(Json::Object(members)) = value else {
        return Vec::new();
    };
    let mut pairs: Vec<(String, String)> = members
        .into_iter()
        .filter_map(|(key, value)| match value {
            Json::String(text) => Some((key, text)),
            Json::Number(number) => Some((key, number.to_string())),
            Json::Bool(flag) => Some((key, flag.to_string())),
            Json::Null | Json::Array(_) | Json::Object(_) => None,
        })
        .collect();
    pairs.sort();
    pairs
}

/// A string member of a `spec.profile` object, trimmed; `None` when it is missing, not a
/// string, or blank.
fn profile_text(profile: Option<&Json>, key: &str) -> Option<String> {
    let text = profile?.get(key)?.as_str()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The links of a document's link list: Backstage's `url`, `title`, `icon`, `type`, or
/// Compass's `url`, `name`, `type`. Links without a valid, safe URL are left out.
fn links(value: Option<Json>) -> Vec<LinkRecord> {
    let Some(Json::Array(items)) = value else {
        return Vec::new();
    };
    let text = |link: &serde_json::Map<String, Json>, key: &str| link.get(key).and_then(Json::as_str).map(str::to_owned);
    items
        .iter()
        .filter_map(|item| {
            let link = item.as_object()?;
            let url = text(link, "url")?;
            if !is_valid_url(&url) || dangerous_link_scheme(&url).is_some() {
                return None;
            }
            Some(LinkRecord {
                url,
                title: text(link, "title").or_else(|| text(link, "name")),
                icon: text(link, "icon"),
                link_type: text(link, "type"),
            })
        })
        .collect()
}

/// The relations whose targets (as `target_id`) make up the owner set of a filter.
fn push_owner_set(builder: &mut QueryBuilder<'_, Postgres>, owners: &[String], include_subgroups: bool) {
    if include_subgroups {
        builder.push(
            "WITH RECURSIVE teams(id) AS (
                 SELECT id FROM entities WHERE entity_ref = ANY(",
        );
        builder.push_bind(owners.to_vec());
        builder.push(
            ")
                 UNION
                 SELECT child.id FROM teams JOIN LATERAL (
                     SELECT source_id AS id FROM relations WHERE target_id = teams.id AND type = 'childOf'
                     UNION
                     SELECT target_id FROM relations WHERE source_id = teams.id AND type = 'parentOf' AND target_id IS NOT NULL
                 ) child ON true
             ) SELECT id FROM teams",
        );
    } else {
        builder.push("SELECT id FROM entities WHERE entity_ref = ANY(");
        builder.push_bind(owners.to_vec());
        builder.push(")");
    }
}

/// ` WHERE ...` for a filter (always present, `true` when the filter is empty).
fn push_filter(builder: &mut QueryBuilder<'_, Postgres>, filter: &EntityQuery) {
    builder.push(" WHERE true");
    let any_of = |builder: &mut QueryBuilder<'_, Postgres>, expression: &str, values: &[String]| {
        if !values.is_empty() {
            builder.push(format!(" AND {expression} = ANY("));
            builder.push_bind(values.to_vec());
            builder.push(")");
        }
    };
    any_of(builder, "e.kind", &filter.kinds);
    any_of(builder, "lower(e.type)", &lowercased(&filter.types));
    any_of(builder, "e.namespace", &filter.namespaces);
    any_of(builder, "lower(e.lifecycle)", &lowercased(&filter.lifecycles));
    any_of(builder, "e.system_ref", &filter.systems);
    any_of(builder, "r.url", &filter.repos);
    if !filter.tiers.is_empty() {
        builder.push(" AND e.tier = ANY(");
        builder.push_bind(filter.tiers.clone());
        builder.push(")");
    }
    if !filter.tags.is_empty() {
        builder.push(" AND e.tags && ");
        builder.push_bind(filter.tags.clone());
    }
    if !filter.domains.is_empty() {
        builder.push(" AND (e.domain_ref = ANY(");
        builder.push_bind(filter.domains.clone());
        builder.push(") OR e.system_ref IN (SELECT s.entity_ref FROM entities s WHERE s.domain_ref = ANY(");
        builder.push_bind(filter.domains.clone());
        builder.push(")))");
    }
    if !filter.owners.is_empty() {
        // A set of ids from both sides (the resolved `ownedBy` relations of the owners, and the
        // owners as written), not an OR over every entity: the planner then reads the owners'
        // entities through the indexes instead of testing each row of the catalog.
        builder.push(" AND e.id IN (SELECT o.source_id FROM relations o WHERE o.type = 'ownedBy' AND o.target_id IN (");
        push_owner_set(builder, &filter.owners, filter.include_subgroups);
        builder.push(") UNION ALL SELECT w.id FROM entities w WHERE w.owner_ref = ANY(");
        builder.push_bind(filter.owners.clone());
        builder.push("))");
    }
    if !filter.labels.is_empty() {
        builder.push(" AND (false");
        for label in &filter.labels {
            match &label.value {
                Some(value) => {
                    builder.push(" OR (e.document #> '{metadata,labels}') @> ");
                    builder.push_bind(serde_json::json!({ label.key.clone(): value }));
                }
                None => {
                    builder.push(" OR (e.document #> '{metadata,labels}') ? ");
                    builder.push_bind(label.key.clone());
                }
            }
        }
        builder.push(")");
    }
    let flag = |builder: &mut QueryBuilder<'_, Postgres>, wanted: Option<bool>, condition: &str| {
        if let Some(wanted) = wanted {
            builder.push(if wanted { " AND " } else { " AND NOT " });
            builder.push(condition);
        }
    };
    flag(
        builder,
        filter.has_diagnostics,
        "EXISTS (SELECT 1 FROM diagnostics d WHERE d.repo_id = e.repo_id AND d.file_path = e.file_path)",
    );
    flag(builder, filter.stale, "(e.stale_reason IS NOT NULL OR r.read_failed)");
    flag(
        builder,
        filter.orphan,
        "(e.kind NOT IN ('group', 'user', 'location')
          AND NOT EXISTS (SELECT 1 FROM relations o WHERE o.source_id = e.id AND o.type = 'ownedBy' AND o.target_id IS NOT NULL))",
    );
    flag(
        builder,
        filter.dangling,
        "EXISTS (SELECT 1 FROM relations x WHERE x.source_id = e.id AND x.target_id IS NULL)",
    );
}

fn lowercased(values: &[String]) -> Vec<String> {
    values.iter().map(|value| value.to_lowercase()).collect()
}

/// Up to `limit` entities matching `filter`, in `order`, after `after` when given.
pub async fn entities_page(
    snapshot: &Snapshot,
    filter: &EntityQuery,
    order: SortOrder,
    after: Option<&SortPosition>,
    limit: usize,
) -> Result<Vec<EntityRecord>, StoreError> {
    let mut builder = QueryBuilder::new(format!("SELECT {ENTITY_COLUMNS}"));
    push_filter(&mut builder, filter);
    let expression = order.field.expression();
    let (comparison, direction) = if order.descending { ("<", "DESC") } else { (">", "ASC") };
    if let Some(position) = after {
        if order.field == SortField::Ref {
            builder.push(format!(" AND e.entity_ref {comparison} "));
            builder.push_bind(position.entity_ref.clone());
        } else {
            builder.push(format!(" AND ({expression}, e.entity_ref) {comparison} ("));
            builder.push_bind(position.key.clone());
            builder.push(", ");
            builder.push_bind(position.entity_ref.clone());
            builder.push(")");
        }
    }
    if order.field == SortField::Ref {
        builder.push(format!(" ORDER BY e.entity_ref {direction}"));
    } else {
        builder.push(format!(" ORDER BY {expression} {direction}, e.entity_ref {direction}"));
    }
    builder.push(" LIMIT ");
    builder.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let mut connection = snapshot.connection().await?;
    let rows: Vec<EntityRow> = builder.build_query_as().fetch_all(&mut *connection).await?;
    Ok(rows.into_iter().map(EntityRow::into_record).collect())
}

/// How many entities match `filter`.
pub async fn count_entities(snapshot: &Snapshot, filter: &EntityQuery) -> Result<i64, StoreError> {
    // The repository is needed only by the filters that read it.
    let needs_repo = !filter.repos.is_empty() || filter.stale.is_some();
    let mut builder = QueryBuilder::new(if needs_repo {
        "SELECT count(*) FROM entities e JOIN repos r ON r.id = e.repo_id"
    } else {
        "SELECT count(*) FROM entities e"
    });
    push_filter(&mut builder, filter);
    let mut connection = snapshot.connection().await?;
    Ok(builder.build_query_scalar().fetch_one(&mut *connection).await?)
}

/// The entities with these ids (those that exist), in no particular order.
pub async fn entities_by_ids(snapshot: &Snapshot, ids: &[i64]) -> Result<Vec<EntityRecord>, StoreError> {
    let mut connection = snapshot.connection().await?;
    let rows: Vec<EntityRow> = sqlx::query_as(&format!("SELECT {ENTITY_COLUMNS} WHERE e.id = ANY($1)"))
        .bind(ids)
        .fetch_all(&mut *connection)
        .await?;
    Ok(rows.into_iter().map(EntityRow::into_record).collect())
}

/// The entities with these canonical references (those that exist), in no particular order.
pub async fn entities_by_refs(snapshot: &Snapshot, refs: &[String]) -> Result<Vec<EntityRecord>, StoreError> {
    let mut connection = snapshot.connection().await?;
    let rows: Vec<EntityRow> = sqlx::query_as(&format!("SELECT {ENTITY_COLUMNS} WHERE e.entity_ref = ANY($1)"))
        .bind(refs)
        .fetch_all(&mut *connection)
        .await?;
    Ok(rows.into_iter().map(EntityRow::into_record).collect())
}

/// (alias, entity id) for the entities answering to these aliases (a Compass component id or
/// ARI, or one listed in `sextant.dev/aliases`); an alias two entities claim gives both.
pub async fn entity_ids_by_aliases(snapshot: &Snapshot, aliases: &[String]) -> Result<Vec<(String, i64)>, StoreError> {
    let mut connection = snapshot.connection().await?;
    Ok(
        sqlx::query_as("SELECT alias, entity_id FROM entity_aliases WHERE alias = ANY($1) ORDER BY alias, entity_id")
            .bind(aliases)
            .fetch_all(&mut *connection)
            .await?,
    )
}

/// (alias, entity) for the entities answering to these aliases, one statement; an alias two
/// entities claim gives the one with the lowest id (as `entity_ids_by_aliases(..).first()`).
pub async fn entities_by_aliases(snapshot: &Snapshot, aliases: &[String]) -> Result<Vec<(String, EntityRecord)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct AliasedRow {
        alias: String,
        #[sqlx(flatten)]
        entity: EntityRow,
    }
    let mut connection = snapshot.connection().await?;
    let rows: Vec<AliasedRow> = sqlx::query_as(&format!(
        "SELECT DISTINCT ON (a.alias) a.alias, {ENTITY_COLUMNS} JOIN entity_aliases a ON a.entity_id = e.id
         WHERE a.alias = ANY($1) ORDER BY a.alias, a.entity_id"
    ))
    .bind(aliases)
    .fetch_all(&mut *connection)
    .await?;
    Ok(rows.into_iter().map(|row| (row.alias, row.entity.into_record())).collect())
}

/// (id, URL as configured) of every repository (each branch apart), by id.
pub async fn repo_urls(snapshot: &Snapshot) -> Result<Vec<(i64, String)>, StoreError> {
    let mut connection = snapshot.connection().await?;
    Ok(sqlx::query_as("SELECT id, url FROM repos ORDER BY id")
        .fetch_all(&mut *connection)
        .await?)
}

/// The state of these repositories (the columns of `Snapshot::repo_page`), by URL then branch
/// (none first).
pub async fn repo_states(snapshot: &Snapshot, ids: &[i64]) -> Result<Vec<super::RepoState>, StoreError> {
    let mut connection = snapshot.connection().await?;
    Ok(sqlx::query_as(&format!(
        "SELECT {} WHERE r.id = ANY($1) ORDER BY r.url, coalesce(r.branch, '')",
        super::health::REPO_STATE_COLUMNS
    ))
    .bind(ids)
    .fetch_all(&mut *connection)
    .await?)
}

/// The relations these entities declare, by source, type and target reference.
pub async fn relations_from(snapshot: &Snapshot, source_ids: &[i64]) -> Result<Vec<DeclaredRelation>, StoreError> {
    let mut connection = snapshot.connection().await?;
    let rows: Vec<(i64, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT source_id, type, target_ref, target_id FROM relations WHERE source_id = ANY($1) ORDER BY source_id, type, target_ref",
    )
    .bind(source_ids)
    .fetch_all(&mut *connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(source_id, relation_type, target_ref, target_id)| DeclaredRelation {
            source_id,
            relation_type,
            target_ref,
            target_id,
        })
        .collect())
}

/// The relations other entities declare towards these ones, by target, type and source reference.
pub async fn relations_to(snapshot: &Snapshot, target_ids: &[i64]) -> Result<Vec<IncomingRelation>, StoreError> {
    let mut connection = snapshot.connection().await?;
    let rows: Vec<(i64, String, i64, String)> = sqlx::query_as(
        "SELECT r.target_id, r.type, r.source_id, e.entity_ref FROM relations r JOIN entities e ON e.id = r.source_id
         WHERE r.target_id = ANY($1) ORDER BY r.target_id, r.type, e.entity_ref",
    )
    .bind(target_ids)
    .fetch_all(&mut *connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(target_id, relation_type, source_id, source_ref)| IncomingRelation {
            target_id,
            relation_type,
            source_id,
            source_ref,
        })
        .collect())
}

/// The diagnostics of these files, each given as (repository id, path), by file, line and column.
pub async fn diagnostics_of_files(snapshot: &Snapshot, files: &[(i64, String)]) -> Result<Vec<DiagnosticRecord>, StoreError> {
    let repo_ids: Vec<i64> = files.iter().map(|(repo_id, _)| *repo_id).collect();
    let paths: Vec<&str> = files.iter().map(|(_, path)| path.as_str()).collect();
    let mut connection = snapshot.connection().await?;
    Ok(sqlx::query_as(
        "SELECT d.repo_id, d.file_path, d.line, d.col AS \"column\", d.code, d.severity, d.message, d.hint, d.snippet
         FROM diagnostics d JOIN UNNEST($1::bigint[], $2::text[]) AS w (repo_id, path) ON d.repo_id = w.repo_id AND d.file_path = w.path
         ORDER BY d.repo_id, d.file_path, d.line, d.col, d.code",
    )
    .bind(&repo_ids)
    .bind(&paths)
    .fetch_all(&mut *connection)
    .await?)
}

/// (owner id, entity id) for what these groups or users own (whose `ownedBy` resolves to
/// them), or with `include_subgroups`, what they and their sub-groups (through `childOf` and
/// `parentOf`, each group once) own. By owner, then entity reference.
pub async fn owned_entity_ids(snapshot: &Snapshot, owners: &[i64], include_subgroups: bool) -> Result<Vec<(i64, i64)>, StoreError> {
    let statement = if include_subgroups {
        "WITH RECURSIVE teams(root, id) AS (
             SELECT id, id FROM UNNEST($1::bigint[]) AS owner (id)
             UNION
             SELECT teams.root, child.id FROM teams JOIN LATERAL (
                 SELECT source_id AS id FROM relations WHERE target_id = teams.id AND type = 'childOf'
                 UNION
                 SELECT target_id FROM relations WHERE source_id = teams.id AND type = 'parentOf' AND target_id IS NOT NULL
             ) child ON true
         )
         SELECT DISTINCT t.root, e.id, e.entity_ref FROM teams t
         JOIN relations r ON r.target_id = t.id AND r.type = 'ownedBy' JOIN entities e ON e.id = r.source_id
         ORDER BY t.root, e.entity_ref"
    } else {
        "SELECT r.target_id, e.id, e.entity_ref FROM relations r JOIN entities e ON e.id = r.source_id
         WHERE r.target_id = ANY($1) AND r.type = 'ownedBy' ORDER BY r.target_id, e.entity_ref"
    };
    let mut connection = snapshot.connection().await?;
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(statement).bind(owners).fetch_all(&mut *connection).await?;
    Ok(rows.into_iter().map(|(owner, entity, _)| (owner, entity)).collect())
}

/// (entity id, `spec.definition`) of the APIs among these entities that have a textual definition.
pub async fn api_definitions(snapshot: &Snapshot, ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
    let mut connection = snapshot.connection().await?;
    Ok(sqlx::query_as(
        "SELECT id, document #>> '{spec,definition}' FROM entities
         WHERE id = ANY($1) AND kind = 'api' AND jsonb_typeof(document #> '{spec,definition}') = 'string'",
    )
    .bind(ids)
    .fetch_all(&mut *connection)
    .await?)
}

/// Up to `per_type` of the relations other entities declare towards `target_id`, for each type
/// (the declarers with the lowest ids), by type and source reference; and how many there are of
/// each type. A hub's page reads this instead of [`relations_to`]: only the relations it shows
/// are joined to their sources.
pub async fn relations_to_first(
    snapshot: &Snapshot,
    target_id: i64,
    per_type: usize,
) -> Result<(Vec<IncomingRelation>, Vec<(String, i64)>), StoreError> {
    let mut connection = snapshot.connection().await?;
    let rows: Vec<(String, i64, Option<String>, i64)> = sqlx::query_as(
        "WITH incoming AS MATERIALIZED (
             SELECT type, source_id, row_number() OVER (PARTITION BY type ORDER BY source_id) AS position,
                    count(*) OVER (PARTITION BY type) AS total
             FROM relations WHERE target_id = $1
         )
         SELECT i.type, i.source_id, e.entity_ref, i.total FROM incoming i
         LEFT JOIN entities e ON e.id = i.source_id AND i.position <= $2
         WHERE i.position <= $2 OR i.position = 1
         ORDER BY i.type, e.entity_ref",
    )
    .bind(target_id)
    .bind(i64::try_from(per_type).unwrap_or(i64::MAX))
    .fetch_all(&mut *connection)
    .await?;
    let mut relations = Vec::new();
    let mut totals: Vec<(String, i64)> = Vec::new();
    for (relation_type, source_id, source_ref, total) in rows {
        if totals.last().is_none_or(|(last, _)| *last != relation_type) {
            totals.push((relation_type.clone(), total));
        }
        if let Some(source_ref) = source_ref {
            relations.push(IncomingRelation {
                target_id,
                relation_type,
                source_id,
                source_ref,
            });
        }
    }
    Ok((relations, totals))
}

/// What is wrong with one entity, as the catalog's problem filters count it (the dashboard's
/// team page counts its entities' problems from these).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EntityProblems {
    pub id: i64,
    pub entity_ref: String,
    pub kind: String,
    pub system_ref: Option<String>,
    /// Its file has diagnostics (`EntityQuery::has_diagnostics`).
    pub has_diagnostics: bool,
    /// It declares a relation whose target is not in the catalog (`EntityQuery::dangling`).
    pub dangling: bool,
    /// Its owner does not resolve and it is not a group, user or location (`EntityQuery::orphan`).
    pub orphan: bool,
}

/// The [`EntityProblems`] of the rows of `picked(id)`: each problem is a lateral lookup with
/// `LIMIT 1` on an index, so the cost follows the number of entities asked about, not the size
/// of the catalog (as `EXISTS` columns, a generic plan may hash the whole relations table).
const PROBLEMS_OF_PICKED: &str = "SELECT e.id, e.entity_ref, e.kind, e.system_ref,
    d.found IS NOT NULL AS has_diagnostics,
    x.found IS NOT NULL AS dangling,
    (e.kind NOT IN ('group', 'user', 'location') AND o.found IS NULL) AS orphan
    FROM picked JOIN entities e ON e.id = picked.id
    LEFT JOIN LATERAL (SELECT true AS found FROM diagnostics d WHERE d.repo_id = e.repo_id AND d.file_path = e.file_path LIMIT 1) d ON true
    LEFT JOIN LATERAL (SELECT true AS found FROM relations x WHERE x.source_id = e.id AND x.target_id IS NULL LIMIT 1) x ON true
    LEFT JOIN LATERAL (
        SELECT true AS found FROM relations o WHERE o.source_id = e.id AND o.type = 'ownedBy' AND o.target_id IS NOT NULL LIMIT 1
    ) o ON true
    ORDER BY e.entity_ref";

/// The problems of these entities (those that exist), by reference.
pub async fn problems_of(snapshot: &Snapshot, ids: &[i64]) -> Result<Vec<EntityProblems>, StoreError> {
    let mut connection = snapshot.connection().await?;
    Ok(sqlx::query_as(&format!(
        "WITH picked AS MATERIALIZED (SELECT id FROM entities WHERE id = ANY($1)) {PROBLEMS_OF_PICKED}"
    ))
    .bind(ids)
    .fetch_all(&mut *connection)
    .await?)
}

/// The problems of the entities that are part of these systems (`system_ref`, canonical), by
/// reference; at most `limit` of them (the first by reference).
pub async fn problems_in_systems(snapshot: &Snapshot, system_refs: &[String], limit: usize) -> Result<Vec<EntityProblems>, StoreError> {
    let mut connection = snapshot.connection().await?;
    Ok(sqlx::query_as(&format!(
        "WITH members AS MATERIALIZED (SELECT id, entity_ref FROM entities WHERE system_ref = ANY($1)),
         picked AS (SELECT id FROM members ORDER BY entity_ref LIMIT $2) {PROBLEMS_OF_PICKED}"
    ))
    .bind(system_refs)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *connection)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_text_keeps_trimmed_non_empty_strings_only() {
        let profile = serde_json::json!({"displayName": "  Booking Team ", "email": "   ", "picture": 7});
        assert_eq!(profile_text(Some(&profile), "displayName").as_deref(), Some("Booking Team"));
        assert_eq!(profile_text(Some(&profile), "email"), None);
        assert_eq!(profile_text(Some(&profile), "picture"), None);
        assert_eq!(profile_text(Some(&serde_json::json!("a string")), "email"), None);
        assert_eq!(profile_text(None, "email"), None);
    }

    #[test]
    fn labels_keep_scalars_sorted_and_links_keep_safe_urls() {
        let labels = string_pairs(Some(serde_json::json!({"tier": 1, "team": "a", "nested": {"x": 1}, "on": true})));
        assert_eq!(
            labels,
            vec![
                ("on".to_owned(), "true".to_owned()),
                ("team".to_owned(), "a".to_owned()),
                ("tier".to_owned(), "1".to_owned())
            ]
        );
        assert!(string_pairs(Some(serde_json::json!(["a"]))).is_empty());
        let found = links(Some(serde_json::json!([
            {"url": "https://example.com/a", "title": "A", "icon": "dashboard", "type": "docs"},
            {"url": "https://example.com/b", "name": "B", "type": "REPOSITORY"},
            {"url": "javascript:alert(1)", "title": "bad"},
            {"title": "no url"},
            "not a link"
        ])));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].title.as_deref(), Some("A"));
        assert_eq!(found[1].title.as_deref(), Some("B"));
        assert_eq!(found[1].link_type.as_deref(), Some("REPOSITORY"));
    }
}
