//! Graph queries over the catalog: dependencies and dependents (direct and transitive, with a
//! depth limit and a node cap), the path between two entities, ownership through sub-groups,
//! orphans, dangling references, cycles, and the problem list.
//!
//! Walks are breadth-first in Rust with one indexed query per level: each node is visited once,
//! cycles end the walk, and the node cap bounds the work even on dense graphs.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::{RelationType, find_cycles};

/// Which way a dependency walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What the entity needs (its dependencies).
    Dependencies,
    /// What needs the entity (what breaks if it goes down).
    Dependents,
}

/// An entity as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntitySummary {
    pub id: i64,
    pub entity_ref: String,
    pub title: Option<String>,
    pub owner_ref: Option<String>,
}

/// An entity reached by a walk: how many steps from the start, and the entity it was reached
/// through (the start itself at depth 1). Together the results form the walk's breadth-first
/// tree, from which [`paths`] spells out each path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependent {
    pub entity_ref: String,
    pub depth: u32,
    pub via: String,
}

/// The path from the start to each dependent (refs, start first), in the order given.
pub fn paths(start: &str, dependents: &[Dependent]) -> Vec<Vec<String>> {
    let via: HashMap<&str, &str> = dependents
        .iter()
        .map(|dependent| (dependent.entity_ref.as_str(), dependent.via.as_str()))
        .collect();
    dependents
        .iter()
        .map(|dependent| {
            let mut path = vec![dependent.entity_ref.clone()];
            let mut current = dependent.entity_ref.as_str();
            while current != start {
                let Some(&previous) = via.get(current) else { break };
                path.push(previous.to_owned());
                current = previous;
            }
            path.reverse();
            path
        })
        .collect()
}

/// A declared relation as stored, seen from one entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RelationRow {
    pub relation_type: String,
    pub target_ref: String,
    pub resolved: bool,
}

/// Everything `sextant problems` lists. Places are given as separate fields: `repo` (the URL),
/// `file` (the path in the repository) and `line`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problems {
    pub conflicts: Vec<serde_json::Value>,
    pub dangling: Vec<serde_json::Value>,
    pub orphans: Vec<serde_json::Value>,
    /// Owners that resolve to something other than a Group or a User.
    pub invalid_owners: Vec<serde_json::Value>,
    /// Aliases (Compass ids, `sextant.dev/aliases`) claimed by more than one entity.
    pub duplicate_aliases: Vec<serde_json::Value>,
    pub cycles: Vec<Vec<String>>,
    pub stale_repos: Vec<serde_json::Value>,
    pub invalid_files: Vec<serde_json::Value>,
}

impl Problems {
    pub fn total(&self) -> usize {
        self.conflicts.len()
            + self.dangling.len()
            + self.orphans.len()
            + self.invalid_owners.len()
            + self.duplicate_aliases.len()
            + self.cycles.len()
            + self.stale_repos.len()
            + self.invalid_files.len()
    }
}

/// How many problems of each kind the catalog holds (the lengths of [`Problems`]' lists, and
/// the error diagnostics of its files), counted without reading the rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemCounts {
    pub conflicts: usize,
    pub dangling: usize,
    pub orphans: usize,
    pub invalid_owners: usize,
    pub duplicate_aliases: usize,
    pub cycles: usize,
    pub stale_repos: usize,
    pub invalid_files: usize,
    /// Error diagnostics in the catalog's files and trees (an invalid file has at least one).
    pub error_diagnostics: usize,
}

impl ProblemCounts {
    /// The same total as [`Problems::total`].
    pub fn total(&self) -> usize {
        self.conflicts
            + self.dangling
            + self.orphans
            + self.invalid_owners
            + self.duplicate_aliases
            + self.cycles
            + self.stale_repos
            + self.invalid_files
    }
}

/// The dependency graph in memory, as of one catalog version.
#[derive(Debug)]
pub(crate) struct GraphSnapshot {
    version: i64,
    /// Entity → the entities that depend on it.
    dependents: HashMap<i64, Vec<i64>>,
    /// Entity → the entities it depends on.
    dependencies: HashMap<i64, Vec<i64>>,
    refs: HashMap<i64, String>,
}

impl GraphSnapshot {
    fn edges(&self, direction: Direction) -> &HashMap<i64, Vec<i64>> {
        match direction {
            Direction::Dependents => &self.dependents,
            Direction::Dependencies => &self.dependencies,
        }
    }
}

/// A walk whose frontier grows past this many nodes switches to an in-memory walk.
const LARGE_FRONTIER: usize = 256;
/// Past this many ids, references are read with one scan of the entities.
const LARGE_RESULT: usize = 4_096;

/// Relation types along which "A depends on B" holds, declared on A (forward) or on B (reverse).
const FORWARD_DEPENDENCY: &[&str] = &["dependsOn", "consumesApi"];
const REVERSE_DEPENDENCY: &[&str] = &["dependencyOf", "providesApi"];

impl Store {
    /// The id of an entity reference (canonical, lowercased).
    pub async fn entity_id(&self, entity_ref: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT id FROM entities WHERE entity_ref = $1")
            .bind(entity_ref.to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("`{entity_ref}`")))
    }

    /// Direct (`max_depth` 1) or transitive dependencies or dependents, nearest first, each
    /// entity once, at most `max_nodes` of them.
    pub async fn walk_dependencies(
        &self,
        start: i64,
        direction: Direction,
        max_depth: u32,
        max_nodes: usize,
    ) -> Result<Vec<Dependent>, StoreError> {
        let mut parent: HashMap<i64, i64> = HashMap::new();
        let mut depth_of: HashMap<i64, u32> = HashMap::from([(start, 0)]);
        let mut order: Vec<i64> = Vec::new();
        let mut frontier = vec![start];
        let (towards_source, towards_target) = match direction {
            Direction::Dependents => (FORWARD_DEPENDENCY, REVERSE_DEPENDENCY),
            Direction::Dependencies => (REVERSE_DEPENDENCY, FORWARD_DEPENDENCY),
        };
        // Small walks ask Postgres level by level; a walk that fans out switches to the whole
        // graph in memory, which is kept (tagged with the catalog version) for later walks.
        let mut graph = self.current_graph().await?;
        let mut depth = 0;
        'walk: while !frontier.is_empty() && depth < max_depth {
            depth += 1;
            // Pairs (next node, the frontier node it was reached from).
            let rows: Vec<(i64, i64)> = match &graph {
                Some(graph) => {
                    let edges = graph.edges(direction);
                    frontier
                        .iter()
                        .flat_map(|from| edges.get(from).into_iter().flatten().map(move |node| (*node, *from)))
                        .collect()
                }
                None => {
                    sqlx::query_as(
                        "SELECT source_id, target_id FROM relations WHERE target_id = ANY($1) AND type = ANY($2)
                     UNION ALL
                     SELECT target_id, source_id FROM relations WHERE source_id = ANY($1) AND type = ANY($3) AND target_id IS NOT NULL",
                    )
                    .bind(&frontier)
                    .bind(towards_source)
                    .bind(towards_target)
                    .fetch_all(&self.pool)
                    .await?
                }
            };
            let mut next = Vec::new();
            for (node, from) in rows {
                if depth_of.contains_key(&node) {
                    continue;
                }
                depth_of.insert(node, depth);
                parent.insert(node, from);
                order.push(node);
                next.push(node);
                if order.len() >= max_nodes {
                    break 'walk;
                }
            }
            frontier = next;
            if graph.is_none() && frontier.len() > LARGE_FRONTIER {
                graph = Some(self.load_graph().await?);
            }
        }
        let refs = match &graph {
            Some(graph) => std::borrow::Cow::Borrowed(&graph.refs),
            None => std::borrow::Cow::Owned(self.refs_of(order.iter().copied().chain(std::iter::once(start)).collect()).await?),
        };
        Ok(order
            .iter()
            .map(|node| Dependent {
                entity_ref: refs[node].clone(),
                depth: depth_of[node],
                via: refs[&parent[node]].clone(),
            })
            .collect())
    }

    /// The kept graph, if it is as new as the catalog.
    async fn current_graph(&self) -> Result<Option<std::sync::Arc<GraphSnapshot>>, StoreError> {
        let kept = self.graph.lock().expect("no panic while holding the lock").clone();
        let Some(kept) = kept else { return Ok(None) };
        let version: i64 = sqlx::query_scalar("SELECT version FROM catalog_state")
            .fetch_one(&self.pool)
            .await?;
        Ok((kept.version == version).then_some(kept))
    }

    /// Reads every resolved dependency edge and every reference, consistently with the catalog
    /// version, and keeps them.
    async fn load_graph(&self) -> Result<std::sync::Arc<GraphSnapshot>, StoreError> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *transaction)
            .await?;
        let version: i64 = sqlx::query_scalar("SELECT version FROM catalog_state")
            .fetch_one(&mut *transaction)
            .await?;
        // "A depends on B" pairs. The types are spelled out so that the planner can use the
        // partial index `relations_dependency_edges` (index-only once the table is vacuumed).
        let pairs: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT CASE WHEN type IN ('dependsOn', 'consumesApi') THEN source_id ELSE target_id END,
                    CASE WHEN type IN ('dependsOn', 'consumesApi') THEN target_id ELSE source_id END
             FROM relations WHERE target_id IS NOT NULL AND type IN ('dependsOn', 'consumesApi', 'dependencyOf', 'providesApi')",
        )
        .fetch_all(&mut *transaction)
        .await?;
        let refs: HashMap<i64, String> = sqlx::query_as::<_, (i64, String)>("SELECT id, entity_ref FROM entities")
            .fetch_all(&mut *transaction)
            .await?
            .into_iter()
            .collect();
        transaction.commit().await?;
        let mut snapshot = GraphSnapshot {
            version,
            dependents: HashMap::new(),
            dependencies: HashMap::new(),
            refs,
        };
        for (dependent, dependency) in pairs {
            snapshot.dependents.entry(dependency).or_default().push(dependent);
            snapshot.dependencies.entry(dependent).or_default().push(dependency);
        }
        let snapshot = std::sync::Arc::new(snapshot);
        *self.graph.lock().expect("no panic while holding the lock") = Some(snapshot.clone());
        Ok(snapshot)
    }

    async fn refs_of(&self, ids: Vec<i64>) -> Result<HashMap<i64, String>, StoreError> {
        let query = if ids.len() > LARGE_RESULT {
            // Reading the whole table is cheaper than probing thousands of ids.
            sqlx::query_as::<_, (i64, String)>("SELECT id, entity_ref FROM entities")
        } else {
            sqlx::query_as::<_, (i64, String)>("SELECT id, entity_ref FROM entities WHERE id = ANY($1)").bind(&ids)
        };
        Ok(query.fetch_all(&self.pool).await?.into_iter().collect())
    }

    /// The shortest chain of resolved relations (either direction, any type) between two
    /// entities, as refs, or `None` when they are not connected within `max_depth` steps.
    pub async fn path_between(&self, from: i64, to: i64, max_depth: u32) -> Result<Option<Vec<String>>, StoreError> {
        let mut parent: HashMap<i64, i64> = HashMap::new();
        let mut seen = HashSet::from([from]);
        let mut frontier = vec![from];
        for _ in 0..max_depth {
            if frontier.is_empty() || seen.contains(&to) {
                break;
            }
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT target_id, source_id FROM relations WHERE source_id = ANY($1) AND target_id IS NOT NULL
                 UNION ALL
                 SELECT source_id, target_id FROM relations WHERE target_id = ANY($1)",
            )
            .bind(&frontier)
            .fetch_all(&self.pool)
            .await?;
            let mut next = Vec::new();
            for (node, previous) in rows {
                if seen.insert(node) {
                    parent.insert(node, previous);
                    next.push(node);
                }
            }
            frontier = next;
        }
        if !seen.contains(&to) {
            return Ok(None);
        }
        let mut chain = vec![to];
        while let Some(&previous) = parent.get(chain.last().expect("non-empty")) {
            chain.push(previous);
        }
        chain.reverse();
        let refs = self.refs_of(chain.clone()).await?;
        Ok(Some(chain.iter().map(|id| refs[id].clone()).collect()))
    }

    /// The entities owned by a group or by any of its sub-groups (or by a user).
    pub async fn owned_by(&self, owner: i64) -> Result<Vec<EntitySummary>, StoreError> {
        let rows = sqlx::query(
            "WITH RECURSIVE teams(id) AS (
                 SELECT $1::bigint
                 UNION
                 SELECT child.id FROM teams
                 JOIN LATERAL (
                     SELECT source_id AS id FROM relations WHERE target_id = teams.id AND type = 'childOf'
                     UNION
                     SELECT target_id FROM relations WHERE source_id = teams.id AND type = 'parentOf' AND target_id IS NOT NULL
                 ) child ON true
             )
             SELECT e.id, e.entity_ref, e.title, e.owner_ref FROM relations r JOIN entities e ON e.id = r.source_id
             WHERE r.type = 'ownedBy' AND r.target_id IN (SELECT id FROM teams)
             ORDER BY e.entity_ref",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| EntitySummary {
                id: row.get(0),
                entity_ref: row.get(1),
                title: row.get(2),
                owner_ref: row.get(3),
            })
            .collect())
    }

    /// An entity's declared relations and the inverse edges other entities declare towards it.
    pub async fn relations_of(&self, id: i64) -> Result<(Vec<RelationRow>, Vec<RelationRow>), StoreError> {
        let outgoing = sqlx::query_as::<_, (String, String, bool)>(
            "SELECT type, target_ref, target_id IS NOT NULL FROM relations WHERE source_id = $1 ORDER BY type, target_ref",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let incoming = sqlx::query_as::<_, (String, String)>("SELECT r.type, e.entity_ref FROM relations r JOIN entities e ON e.id = r.source_id WHERE r.target_id = $1 ORDER BY r.type, e.entity_ref")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let outgoing = outgoing
            .into_iter()
            .map(|(relation_type, target_ref, resolved)| RelationRow {
                relation_type,
                target_ref,
                resolved,
            })
            .collect();
        let incoming = incoming
            .into_iter()
            .map(|(relation_type, source_ref)| RelationRow {
                relation_type: RelationType::parse(&relation_type)
                    .map_or(relation_type.clone(), |parsed| parsed.inverse().as_str().to_owned()),
                target_ref: source_ref,
                resolved: true,
            })
            .collect();
        Ok((outgoing, incoming))
    }

    /// One entity with its provenance and its file's diagnostics, as JSON.
    pub async fn entity_details(&self, id: i64) -> Result<serde_json::Value, StoreError> {
        let row = sqlx::query(
            "SELECT e.entity_ref, e.title, e.description, e.type, e.lifecycle, e.tier, e.owner_ref, e.system_ref, e.domain_ref, e.tags,
                    e.file_path, e.document_index, e.line, e.format, e.commit_id, r.url, r.status, r.error, e.repo_id,
                    (SELECT o.entity_ref FROM relations x JOIN entities o ON o.id = x.target_id WHERE x.source_id = e.id AND x.type = 'ownedBy' LIMIT 1),
                    e.stale_reason
             FROM entities e JOIN repos r ON r.id = e.repo_id WHERE e.id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        let repo_id: i64 = row.get(18);
        let file_path: String = row.get(10);
        let diagnostics = sqlx::query_as::<_, (i32, i32, String, String, String)>(
            "SELECT line, col, code, severity, message FROM diagnostics WHERE repo_id = $1 AND file_path = $2 ORDER BY line, col",
        )
        .bind(repo_id)
        .bind(&file_path)
        .fetch_all(&self.pool)
        .await?;
        Ok(serde_json::json!({
            "ref": row.get::<String, _>(0),
            "title": row.get::<Option<String>, _>(1),
            "description": row.get::<Option<String>, _>(2),
            "type": row.get::<Option<String>, _>(3),
            "lifecycle": row.get::<Option<String>, _>(4),
            "tier": row.get::<Option<i16>, _>(5),
            "owner": row.get::<Option<String>, _>(6),
            "ownerResolved": row.get::<Option<String>, _>(19),
            "system": row.get::<Option<String>, _>(7),
            "domain": row.get::<Option<String>, _>(8),
            "tags": row.get::<Vec<String>, _>(9),
            "provenance": {
                "repo": row.get::<String, _>(15),
                "repoStatus": row.get::<String, _>(16),
                "repoError": row.get::<Option<String>, _>(17),
                "file": file_path,
                "document": row.get::<i32, _>(11),
                "line": row.get::<i32, _>(12),
                "format": row.get::<String, _>(13),
                "commit": row.get::<String, _>(14),
                "staleReason": row.get::<Option<String>, _>(20),
            },
            "diagnostics": diagnostics.into_iter().map(|(line, column, code, severity, message)| serde_json::json!({
                "line": line, "column": column, "code": code, "severity": severity, "message": message,
            })).collect::<Vec<_>>(),
        }))
    }

    /// Everything a platform team should look at.
    pub async fn problems(&self) -> Result<Problems, StoreError> {
        let json_rows = |rows: Vec<sqlx::postgres::PgRow>| -> Vec<serde_json::Value> {
            rows.into_iter().map(|row| row.get::<serde_json::Value, _>(0)).collect()
        };
        let conflicts = sqlx::query(
            "SELECT json_build_object('ref', c.entity_ref, 'holder', h.url, 'holderFile', c.holder_path,
                 'claimant', k.url, 'claimantFile', c.claimant_path, 'claimantLine', c.claimant_line)
             FROM conflicts c JOIN repos h ON h.id = c.holder_repo_id JOIN repos k ON k.id = c.claimant_repo_id ORDER BY c.entity_ref, k.url",
        )
        .fetch_all(&self.pool)
        .await?;
        let dangling = sqlx::query(
            "SELECT json_build_object('source', e.entity_ref, 'relation', r.type, 'target', r.target_ref,
                 'repo', p.url, 'file', e.file_path, 'line', r.line)
             FROM relations r JOIN entities e ON e.id = r.source_id JOIN repos p ON p.id = e.repo_id WHERE r.target_id IS NULL ORDER BY e.entity_ref, r.type, r.target_ref",
        )
        .fetch_all(&self.pool)
        .await?;
        let orphans = sqlx::query(
            "SELECT json_build_object('ref', e.entity_ref, 'owner', e.owner_ref) FROM entities e
             WHERE e.kind NOT IN ('group', 'user', 'location')
               AND NOT EXISTS (SELECT 1 FROM relations r WHERE r.source_id = e.id AND r.type = 'ownedBy' AND r.target_id IS NOT NULL)
             ORDER BY e.entity_ref",
        )
        .fetch_all(&self.pool)
        .await?;
        let invalid_owners = sqlx::query(
            "SELECT json_build_object('ref', e.entity_ref, 'owner', o.entity_ref) FROM relations r
             JOIN entities e ON e.id = r.source_id JOIN entities o ON o.id = r.target_id
             WHERE r.type = 'ownedBy' AND o.kind NOT IN ('group', 'user') ORDER BY e.entity_ref",
        )
        .fetch_all(&self.pool)
        .await?;
        let duplicate_aliases = sqlx::query(
            "SELECT json_build_object('alias', a.alias, 'entities', array_agg(e.entity_ref ORDER BY e.id))
             FROM entity_aliases a JOIN entities e ON e.id = a.entity_id GROUP BY a.alias HAVING count(*) > 1 ORDER BY a.alias",
        )
        .fetch_all(&self.pool)
        .await?;
        let stale_repos = sqlx::query(
            "SELECT json_build_object('repo', url, 'status', status, 'error', error) FROM repos WHERE status <> 'ok' ORDER BY url",
        )
        .fetch_all(&self.pool)
        .await?;
        let invalid_files = sqlx::query(
            "SELECT json_build_object('repo', r.url, 'file', f.path,
                 'errors', (SELECT count(*) FROM diagnostics d WHERE d.repo_id = f.repo_id AND d.file_path = f.path AND d.severity = 'error'))
             FROM descriptor_files f JOIN repos r ON r.id = f.repo_id WHERE NOT f.valid ORDER BY r.url, f.path",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(Problems {
            conflicts: json_rows(conflicts),
            dangling: json_rows(dangling),
            orphans: json_rows(orphans),
            invalid_owners: json_rows(invalid_owners),
            duplicate_aliases: json_rows(duplicate_aliases),
            cycles: self.cycles().await?,
            stale_repos: json_rows(stale_repos),
            invalid_files: json_rows(invalid_files),
        })
    }

    /// How many problems of each kind the catalog holds: one query for the counts, and the
    /// cycle search (which needs the edges).
    pub async fn problem_counts(&self) -> Result<ProblemCounts, StoreError> {
        let counts: (i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM conflicts),
                    (SELECT count(*) FROM relations WHERE target_id IS NULL),
                    (SELECT count(*) FROM entities e WHERE e.kind NOT IN ('group', 'user', 'location')
                       AND NOT EXISTS (SELECT 1 FROM relations r WHERE r.source_id = e.id AND r.type = 'ownedBy' AND r.target_id IS NOT NULL)),
                    (SELECT count(*) FROM relations r JOIN entities o ON o.id = r.target_id
                       WHERE r.type = 'ownedBy' AND o.kind NOT IN ('group', 'user')),
                    (SELECT count(*) FROM (SELECT 1 FROM entity_aliases GROUP BY alias HAVING count(*) > 1) twice),
                    (SELECT count(*) FROM repos WHERE status <> 'ok'),
                    (SELECT count(*) FROM descriptor_files WHERE NOT valid),
                    (SELECT count(*) FROM diagnostics WHERE severity = 'error')",
        )
        .fetch_one(&self.pool)
        .await?;
        let count = |value: i64| usize::try_from(value).unwrap_or_default();
        Ok(ProblemCounts {
            conflicts: count(counts.0),
            dangling: count(counts.1),
            orphans: count(counts.2),
            invalid_owners: count(counts.3),
            duplicate_aliases: count(counts.4),
            cycles: self.cycles().await?.len(),
            stale_repos: count(counts.5),
            invalid_files: count(counts.6),
            error_diagnostics: count(counts.7),
        })
    }

    /// The label (URL, and branch when set), status and error of the repositories named that are
    /// not `ok`.
    pub async fn unhealthy_repos(&self, repos: &[super::RepoKey]) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        let urls: Vec<&str> = repos.iter().map(|key| key.url.as_str()).collect();
        let branches: Vec<Option<&str>> = repos.iter().map(|key| key.branch.as_deref()).collect();
        let rows: Vec<(String, Option<String>, String, Option<String>)> = sqlx::query_as(
            "SELECT r.url, r.branch, r.status, r.error
             FROM repos r JOIN UNNEST($1::text[], $2::text[]) AS w (url, branch) ON r.url = w.url AND r.branch IS NOT DISTINCT FROM w.branch
             WHERE r.status <> 'ok' ORDER BY r.url, r.branch",
        )
        .bind(&urls)
        .bind(&branches)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(url, branch, status, error)| (super::repo_label(&url, branch.as_deref()), status, error))
            .collect())
    }

    /// Every entity reference in the catalog, for suggestions when one is not found: the refs
    /// with the same name first (any kind or namespace), else all of them.
    pub async fn suggestion_candidates(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let same_name: Vec<String> =
            sqlx::query_scalar("SELECT entity_ref FROM entities WHERE lower(name) = $1 ORDER BY entity_ref LIMIT 20")
                .bind(name.to_ascii_lowercase())
                .fetch_all(&self.pool)
                .await?;
        if !same_name.is_empty() {
            return Ok(same_name);
        }
        Ok(sqlx::query_scalar("SELECT entity_ref FROM entities").fetch_all(&self.pool).await?)
    }

    /// Loops in dependency, partOf and Group parent chains, each as the refs around it.
    pub async fn cycles(&self) -> Result<Vec<Vec<String>>, StoreError> {
        let edges: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT source_id, target_id, type FROM relations
             WHERE target_id IS NOT NULL AND type IN ('dependsOn', 'partOf', 'childOf', 'parentOf', 'dependencyOf')",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut cycles = Vec::new();
        for family in [&["dependsOn", "dependencyOf"][..], &["partOf"], &["childOf", "parentOf"]] {
            let mut index: HashMap<i64, usize> = HashMap::new();
            let mut ids: Vec<i64> = Vec::new();
            let mut graph: Vec<Vec<usize>> = Vec::new();
            let mut node = |id: i64, graph: &mut Vec<Vec<usize>>| {
                *index.entry(id).or_insert_with(|| {
                    ids.push(id);
                    graph.push(Vec::new());
                    ids.len() - 1
                })
            };
            for (source, target, relation_type) in edges
                .iter()
                .filter(|(_, _, relation_type)| family.contains(&relation_type.as_str()))
            {
                // Inverse declarations point the other way: B dependencyOf A means A dependsOn B.
                let (from, to) = if matches!(relation_type.as_str(), "dependencyOf" | "parentOf") {
                    (*target, *source)
                } else {
                    (*source, *target)
                };
                let from = node(from, &mut graph);
                let to = node(to, &mut graph);
                graph[from].push(to);
            }
            let found = find_cycles(&graph);
            if found.is_empty() {
                continue;
            }
            let refs = self
                .refs_of(found.iter().flatten().map(|&position| ids[position]).collect())
                .await?;
            for cycle in found {
                let mut names: Vec<String> = cycle.iter().map(|&position| refs[&ids[position]].clone()).collect();
                let smallest = names
                    .iter()
                    .enumerate()
                    .min_by(|left, right| left.1.cmp(right.1))
                    .map_or(0, |(position, _)| position);
                names.rotate_left(smallest);
                cycles.push(names);
            }
        }
        cycles.sort();
        Ok(cycles)
    }
}
