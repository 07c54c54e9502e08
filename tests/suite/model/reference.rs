//! The reference model: the catalog rules (claims per repository, one holder per reference,
//! hand-over, conflicts, resolution, status) written from the rules alone, not from src/store.
//! It learns what a file defines from `descriptor::parse_bytes`, the validator.

use std::collections::{BTreeMap, BTreeSet};

use sextant::descriptor::parse_bytes;
use sextant::domain::Severity;

use super::catalog::{Catalog, ConflictRow, EntityRow, RelationRow, RepoRow, canonical_json};
use super::world::TipView;

/// The file names a crawl reads as descriptors.
const DESCRIPTOR_NAMES: &[&str] = &["catalog-info.yaml", "catalog-info.yml", "compass.yml", "compass.yaml"];

/// What one document of a clean file defines.
#[derive(Debug, Clone)]
struct Definition {
    entity_ref: String,
    document_index: i64,
    line: i64,
    document: String,
    /// Declared relations (type, target); the catalog keeps each pair once.
    relations: BTreeSet<(String, String)>,
    aliases: Vec<String>,
}

/// One entity definition a repository makes.
#[derive(Debug, Clone)]
struct Claim {
    definition: Definition,
    path: String,
    commit: String,
    /// From a file that is unusable now (its last good definitions).
    stale: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Stale,
}

struct RepoState {
    url: String,
    status: Status,
    /// Claims in (path, document index) order.
    claims: Vec<Claim>,
    /// Per descriptor path present at the last successful read: its definitions the last time
    /// it was clean, and the commit of that read.
    last_good: BTreeMap<String, (Vec<Definition>, String)>,
}

/// The catalog as the rules say it must be.
#[derive(Default)]
pub struct Model {
    /// Registered repositories, in registration order.
    repos: Vec<RepoState>,
    /// Repository (by test index) → registration position.
    position_of: BTreeMap<usize, usize>,
    /// Reference → registration position of the repository holding it, and the path of the
    /// stored claim.
    holders: BTreeMap<String, (usize, String)>,
}

fn is_descriptor(path: &str) -> bool {
    DESCRIPTOR_NAMES.contains(&path.rsplit('/').next().unwrap_or(path))
}

/// The definitions of a file, or `None` when it is not clean.
fn read_file(path: &str, bytes: &[u8]) -> Option<Vec<Definition>> {
    let parsed = parse_bytes(path, bytes);
    if parsed.diagnostics.iter().any(|diagnostic| diagnostic.severity == Severity::Error) {
        return None;
    }
    Some(
        parsed
            .entities
            .iter()
            .map(|entity| Definition {
                entity_ref: entity.entity_ref.to_string(),
                document_index: entity.provenance.document as i64,
                line: entity.provenance.position.line.into(),
                document: canonical_json(&entity.document),
                relations: entity
                    .relations
                    .iter()
                    .map(|relation| (relation.relation_type.as_str().to_owned(), relation.target.to_string()))
                    .collect(),
                aliases: entity.aliases.clone(),
            })
            .collect(),
    )
}

impl Model {
    /// One crawl of `reads` (test index, url, what a read sees), given in any order: new
    /// repositories are registered in the order given, then every read is applied in
    /// registration order, each followed by the per-reference reconcile.
    pub fn crawl(&mut self, reads: Vec<(usize, String, TipView)>) {
        for (repo, url, _) in &reads {
            if !self.position_of.contains_key(repo) {
                self.position_of.insert(*repo, self.repos.len());
                self.repos.push(RepoState {
                    url: url.clone(),
                    status: Status::Stale,
                    claims: Vec::new(),
                    last_good: BTreeMap::new(),
                });
            }
        }
        let mut ordered: Vec<(usize, TipView)> = reads.into_iter().map(|(repo, _, view)| (self.position_of[&repo], view)).collect();
        ordered.sort_by_key(|(position, _)| *position);
        for (position, view) in ordered {
            self.apply(position, view);
            self.reconcile();
        }
    }

    fn apply(&mut self, position: usize, view: TipView) {
        let state = &mut self.repos[position];
        let TipView::Tip { commit, mut files } = view else {
            state.status = Status::Stale;
            return;
        };
        files.sort_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
        let mut claims = Vec::new();
        let mut last_good = BTreeMap::new();
        let mut unusable = false;
        for (path, is_link, bytes) in files.into_iter().filter(|(path, ..)| is_descriptor(path)) {
            let clean = if is_link { None } else { read_file(&path, &bytes) };
            match clean {
                Some(definitions) => {
                    claims.extend(definitions.iter().map(|definition| Claim {
                        definition: definition.clone(),
                        path: path.clone(),
                        commit: commit.clone(),
                        stale: false,
                    }));
                    last_good.insert(path, (definitions, commit.clone()));
                }
                None => {
                    unusable = true;
                    if let Some((definitions, good_commit)) = state.last_good.remove(&path) {
                        claims.extend(definitions.iter().map(|definition| Claim {
                            definition: definition.clone(),
                            path: path.clone(),
                            commit: good_commit.clone(),
                            stale: true,
                        }));
                        last_good.insert(path, (definitions, good_commit));
                    }
                }
            }
        }
        state.claims = claims;
        state.last_good = last_good;
        state.status = if unusable { Status::Stale } else { Status::Ok };
    }

    fn claims(&self, position: usize, entity_ref: &str) -> impl Iterator<Item = &Claim> {
        self.repos[position]
            .claims
            .iter()
            .filter(move |claim| claim.definition.entity_ref == entity_ref)
    }

    /// Per reference, with the previous holder = the (repository, path) of the stored claim:
    /// the previous holder's file, while it still claims the reference, keeps it (its first
    /// claim in document order); else the holder repository's first claim in (path, document)
    /// order; else the first claim over all repositories in (registration, path, document)
    /// order; unclaimed references go.
    fn reconcile(&mut self) {
        let mut references: BTreeSet<String> = self.holders.keys().cloned().collect();
        for state in &self.repos {
            references.extend(state.claims.iter().map(|claim| claim.definition.entity_ref.clone()));
        }
        for entity_ref in references {
            let previous = self.holders.get(&entity_ref).cloned();
            let first_in_repo = |position: usize| {
                self.claims(position, &entity_ref)
                    .next()
                    .map(|claim| (position, claim.path.clone()))
            };
            let holder = previous
                .clone()
                .filter(|(position, path)| self.claims(*position, &entity_ref).any(|claim| &claim.path == path))
                .or_else(|| previous.and_then(|(position, _)| first_in_repo(position)))
                .or_else(|| (0..self.repos.len()).find_map(first_in_repo));
            match holder {
                Some(holder) => self.holders.insert(entity_ref, holder),
                None => self.holders.remove(&entity_ref),
            };
        }
    }

    /// The stored entity of each reference: the first claim of its holder's file.
    fn stored(&self) -> Vec<(usize, &Claim)> {
        self.holders
            .iter()
            .map(|(entity_ref, (holder, path))| {
                let claim = self
                    .claims(*holder, entity_ref)
                    .find(|claim| &claim.path == path)
                    .expect("a holder claims its reference in its file");
                (*holder, claim)
            })
            .collect()
    }

    /// The catalog the rules call for. Where an alias names several entities any of them is a
    /// right resolution: the one `actual` chose is taken when it is among them.
    pub fn catalog(&self, actual: &Catalog) -> Catalog {
        let stored = self.stored();
        let references: BTreeSet<&str> = stored.iter().map(|(_, claim)| claim.definition.entity_ref.as_str()).collect();
        let mut aliases: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (_, claim) in &stored {
            for alias in &claim.definition.aliases {
                aliases
                    .entry(alias.as_str())
                    .or_default()
                    .insert(claim.definition.entity_ref.as_str());
            }
        }
        let chosen: BTreeMap<(&str, &str, &str), Option<&str>> = actual
            .relations
            .iter()
            .map(|row| {
                (
                    (row.source_ref.as_str(), row.relation_type.as_str(), row.target_ref.as_str()),
                    row.resolved.as_deref(),
                )
            })
            .collect();

        let mut catalog = Catalog::default();
        for (holder, claim) in &stored {
            let definition = &claim.definition;
            catalog.entities.push(EntityRow {
                entity_ref: definition.entity_ref.clone(),
                repo_url: self.repos[*holder].url.clone(),
                path: claim.path.clone(),
                document_index: definition.document_index,
                line: definition.line,
                commit: claim.commit.clone(),
                stale: claim.stale,
                document: definition.document.clone(),
            });
            for (relation_type, target) in &definition.relations {
                let candidates: Vec<&str> = if references.contains(target.as_str()) {
                    vec![target.as_str()]
                } else {
                    aliases
                        .get(target.as_str())
                        .map(|found| found.iter().copied().collect())
                        .unwrap_or_default()
                };
                let picked = chosen
                    .get(&(definition.entity_ref.as_str(), relation_type.as_str(), target.as_str()))
                    .copied()
                    .flatten()
                    .filter(|resolved| candidates.contains(resolved))
                    .or(candidates.first().copied());
                catalog.relations.push(RelationRow {
                    source_ref: definition.entity_ref.clone(),
                    relation_type: relation_type.clone(),
                    target_ref: target.clone(),
                    resolved: picked.map(str::to_owned),
                });
            }
        }
        for (holder, held) in &stored {
            let entity_ref = held.definition.entity_ref.as_str();
            for (position, state) in self.repos.iter().enumerate() {
                for claim in self.claims(position, entity_ref) {
                    if position == *holder && std::ptr::eq(claim, *held) {
                        continue;
                    }
                    catalog.conflicts.push(ConflictRow {
                        entity_ref: entity_ref.to_owned(),
                        holder_url: self.repos[*holder].url.clone(),
                        holder_path: held.path.clone(),
                        claimant_url: state.url.clone(),
                        claimant_path: claim.path.clone(),
                        claimant_document_index: claim.definition.document_index,
                        claimant_line: claim.definition.line,
                    });
                }
            }
        }
        catalog.repos = self
            .repos
            .iter()
            .map(|state| RepoRow {
                url: state.url.clone(),
                status: match state.status {
                    Status::Ok => "ok",
                    Status::Stale => "stale",
                }
                .to_owned(),
                has_error: state.status == Status::Stale,
            })
            .collect();
        catalog.sort();
        catalog
    }
}
