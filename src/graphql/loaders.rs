//! The request's DataLoaders: one loader over the request's snapshot, with one key type per
//! batch lookup of `store::read`. Keys asked for during one tick are loaded with one statement
//! (`= ANY($1)`); values are cached for the request (its snapshot never changes).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use super::{ErrorCode, api_error, store_error};
use crate::store::read::{self, DeclaredRelation, DiagnosticRecord, EntityRecord, IncomingRelation};
use crate::store::{Snapshot, StoreError};

/// Keys loaded in one statement at most; more are split (the page size cap keeps pages far below).
const MAX_BATCH: usize = 10_000;

/// The batch lookups of one request, all on its snapshot.
pub struct CatalogLoader {
    snapshot: Arc<Snapshot>,
}

/// The request's loaders, as resolvers find them in the request data.
pub type Loaders = DataLoader<CatalogLoader, HashMapCache>;

/// How long a loader waits for more keys before it loads.
const LOAD_DELAY: std::time::Duration = std::time::Duration::from_micros(100);

/// Fresh loaders over `snapshot` (one set per request).
pub fn new_loaders(snapshot: Arc<Snapshot>) -> Loaders {
    // The loads of one level of the query are made together, before the task yields, so a
    // short delay batches them as well as the default millisecond, which every request would wait.
    DataLoader::with_cache(CatalogLoader { snapshot }, tokio::spawn, HashMapCache::default())
        .max_batch_size(MAX_BATCH)
        .delay(LOAD_DELAY)
}

/// A failed batch, shared by every key of it.
#[derive(Debug, Clone)]
pub struct LoadError(Arc<StoreError>);

impl From<StoreError> for LoadError {
    fn from(error: StoreError) -> Self {
        LoadError(Arc::new(error))
    }
}

/// An entity by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntityId(pub i64);

/// An entity by canonical reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityRefKey(pub String);

/// The relations an entity declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeclaredBy(pub i64);

/// The relations other entities declare towards an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeclaredTowards(pub i64);

/// The diagnostics of a file: (repository id, path).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileKey(pub i64, pub String);

/// What a group or user owns, optionally with what its sub-groups own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OwnedBy {
    pub owner: i64,
    pub include_subgroups: bool,
}

/// The textual `spec.definition` of an API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DefinitionOf(pub i64);

impl Loader<EntityId> for CatalogLoader {
    type Value = Arc<EntityRecord>;
    type Error = LoadError;

    async fn load(&self, keys: &[EntityId]) -> Result<HashMap<EntityId, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let records = read::entities_by_ids(&self.snapshot, &ids).await?;
        Ok(records.into_iter().map(|record| (EntityId(record.id), Arc::new(record))).collect())
    }
}

impl Loader<EntityRefKey> for CatalogLoader {
    type Value = Arc<EntityRecord>;
    type Error = LoadError;

    async fn load(&self, keys: &[EntityRefKey]) -> Result<HashMap<EntityRefKey, Self::Value>, Self::Error> {
        let refs: Vec<String> = keys.iter().map(|key| key.0.clone()).collect();
        let records = read::entities_by_refs(&self.snapshot, &refs).await?;
        Ok(records
            .into_iter()
            .map(|record| (EntityRefKey(record.entity_ref.clone()), Arc::new(record)))
            .collect())
    }
}

impl Loader<DeclaredBy> for CatalogLoader {
    type Value = Arc<Vec<DeclaredRelation>>;
    type Error = LoadError;

    async fn load(&self, keys: &[DeclaredBy]) -> Result<HashMap<DeclaredBy, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let mut grouped: HashMap<DeclaredBy, Vec<DeclaredRelation>> = keys.iter().map(|key| (*key, Vec::new())).collect();
        for relation in read::relations_from(&self.snapshot, &ids).await? {
            grouped.entry(DeclaredBy(relation.source_id)).or_default().push(relation);
        }
        Ok(grouped.into_iter().map(|(key, relations)| (key, Arc::new(relations))).collect())
    }
}

impl Loader<DeclaredTowards> for CatalogLoader {
    type Value = Arc<Vec<IncomingRelation>>;
    type Error = LoadError;

    async fn load(&self, keys: &[DeclaredTowards]) -> Result<HashMap<DeclaredTowards, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let mut grouped: HashMap<DeclaredTowards, Vec<IncomingRelation>> = keys.iter().map(|key| (*key, Vec::new())).collect();
        for relation in read::relations_to(&self.snapshot, &ids).await? {
            grouped.entry(DeclaredTowards(relation.target_id)).or_default().push(relation);
        }
        Ok(grouped.into_iter().map(|(key, relations)| (key, Arc::new(relations))).collect())
    }
}

impl Loader<FileKey> for CatalogLoader {
    type Value = Arc<Vec<DiagnosticRecord>>;
    type Error = LoadError;

    async fn load(&self, keys: &[FileKey]) -> Result<HashMap<FileKey, Self::Value>, Self::Error> {
        let files: Vec<(i64, String)> = keys.iter().map(|key| (key.0, key.1.clone())).collect();
        let mut grouped: HashMap<FileKey, Vec<DiagnosticRecord>> = keys.iter().map(|key| (key.clone(), Vec::new())).collect();
        for diagnostic in read::diagnostics_of_files(&self.snapshot, &files).await? {
            grouped
                .entry(FileKey(diagnostic.repo_id, diagnostic.file_path.clone()))
                .or_default()
                .push(diagnostic);
        }
        Ok(grouped.into_iter().map(|(key, diagnostics)| (key, Arc::new(diagnostics))).collect())
    }
}

impl Loader<OwnedBy> for CatalogLoader {
    type Value = Arc<Vec<i64>>;
    type Error = LoadError;

    async fn load(&self, keys: &[OwnedBy]) -> Result<HashMap<OwnedBy, Self::Value>, Self::Error> {
        let mut grouped: HashMap<OwnedBy, Vec<i64>> = keys.iter().map(|key| (*key, Vec::new())).collect();
        for include_subgroups in [false, true] {
            let owners: Vec<i64> = keys
                .iter()
                .filter(|key| key.include_subgroups == include_subgroups)
                .map(|key| key.owner)
                .collect();
            if owners.is_empty() {
                continue;
            }
            for (owner, entity) in read::owned_entity_ids(&self.snapshot, &owners, include_subgroups).await? {
                grouped.entry(OwnedBy { owner, include_subgroups }).or_default().push(entity);
            }
        }
        Ok(grouped.into_iter().map(|(key, ids)| (key, Arc::new(ids))).collect())
    }
}

impl Loader<DefinitionOf> for CatalogLoader {
    type Value = String;
    type Error = LoadError;

    async fn load(&self, keys: &[DefinitionOf]) -> Result<HashMap<DefinitionOf, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|key| key.0).collect();
        Ok(read::api_definitions(&self.snapshot, &ids)
            .await?
            .into_iter()
            .map(|(id, definition)| (DefinitionOf(id), definition))
            .collect())
    }
}

/// The request's loaders (inserted by `graphql::execute_one`).
pub fn loaders<'context>(context: &Context<'context>) -> async_graphql::Result<&'context Loaders> {
    context.data::<Loaders>().map_err(|_| {
        api_error(
            ErrorCode::Internal,
            "the request has no loaders; it was not run through graphql::execute",
        )
    })
}

/// Loads one key through the request's loaders, mapping a store failure to its API error.
pub async fn load_one<K>(context: &Context<'_>, key: K) -> async_graphql::Result<Option<<CatalogLoader as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    CatalogLoader: Loader<K, Error = LoadError>,
{
    loaders(context)?.load_one(key).await.map_err(|error| store_error(&error.0))
}

/// Loads many keys through the request's loaders (one statement for those not cached).
pub async fn load_many<K>(
    context: &Context<'_>,
    keys: impl IntoIterator<Item = K>,
) -> async_graphql::Result<HashMap<K, <CatalogLoader as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    CatalogLoader: Loader<K, Error = LoadError>,
{
    loaders(context)?.load_many(keys).await.map_err(|error| store_error(&error.0))
}
