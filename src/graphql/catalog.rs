//! The catalog's queries: one entity by the reference people type (or many at once), lists of
//! entities as Relay connections (filter, order, keyset pagination, total count), groups and
//! users, and the repositories a URL names whatever its spelling.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::PageInfo;
use async_graphql::{Context, Object, Result, SimpleObject};

use super::entity::{Entity, Group, User, entity_by_ref, parse_ref, prefetch};
use super::filter::{EntityFilter, EntityOrder, complexity_page_size, decode_cursor, encode_cursor, page_size};
use super::health::{REPO_DIAGNOSTICS, Repo};
use super::loaders::{EntityRefKey, load_many};
use super::{ErrorCode, api_error, snapshot, store_error};
use crate::pr_check::repo_identity;
use crate::store::read::{self, EntityQuery, EntityRecord, SortField, SortPosition};

/// Most references `entitiesByRef` takes in one call.
pub const MAX_REFS: usize = 500;
/// Longest URL `reposMatching` takes.
const MAX_URL_LENGTH: usize = 4_096;

/// The catalog's query fields.
#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// One entity, by the reference people type: `booking-service` (a Component in the default
    /// namespace), `component:booking-service`, `Component:Default/Booking-Service`, with or
    /// without surrounding spaces; or by an alias (a Compass component id or ARI). Null when
    /// nothing in the catalog answers to it; a malformed reference is a `BAD_REQUEST`.
    async fn entity(&self, context: &Context<'_>, #[graphql(name = "ref")] entity_ref: String) -> Result<Option<Entity>> {
        entity_by_ref(context, &entity_ref, "component").await
    }

    /// Many entities at once, each reference resolved as `entity(ref:)` resolves it (the
    /// spellings people type, or an alias: a Compass component id or ARI), in the order given:
    /// null where nothing in the catalog answers to it (a reference that cannot be parsed is
    /// null too, where `entity(ref:)` refuses it). At most 500 references (more is a
    /// `PAGE_TOO_LARGE` error); the references are resolved with two statements at most,
    /// whatever their number.
    #[graphql(complexity = "1 + refs.len().min(MAX_REFS) * child_complexity")]
    async fn entities_by_ref(&self, context: &Context<'_>, refs: Vec<String>) -> Result<Vec<Option<Entity>>> {
        if refs.len() > MAX_REFS {
            return Err(api_error(
                ErrorCode::PageTooLarge,
                format!("`refs` takes at most {MAX_REFS} references; it has {}", refs.len()),
            ));
        }
        let canonical: Vec<Option<String>> = refs
            .iter()
            .map(|text| parse_ref(text, "component").ok().map(|entity_ref| entity_ref.to_string()))
            .collect();
        let by_ref = load_many(context, canonical.iter().flatten().cloned().map(EntityRefKey)).await?;
        let mut aliases: Vec<String> = refs
            .iter()
            .zip(&canonical)
            .filter(|(_, canonical)| {
                canonical
                    .as_ref()
                    .is_some_and(|known| !by_ref.contains_key(&EntityRefKey(known.clone())))
            })
            .map(|(text, _)| text.trim().to_owned())
            .collect();
        aliases.sort();
        aliases.dedup();
        let by_alias: HashMap<String, Arc<EntityRecord>> = if aliases.is_empty() {
            HashMap::new()
        } else {
            read::entities_by_aliases(snapshot(context)?, &aliases)
                .await
                .map_err(|error| store_error(&error))?
                .into_iter()
                .map(|(alias, record)| (alias, Arc::new(record)))
                .collect()
        };
        let found: Vec<Option<Arc<EntityRecord>>> = refs
            .iter()
            .zip(&canonical)
            .map(|(text, canonical)| {
                let known = canonical.as_ref()?;
                by_ref
                    .get(&EntityRefKey(known.clone()))
                    .or_else(|| by_alias.get(text.trim()))
                    .cloned()
            })
            .collect();
        let mut distinct: Vec<Arc<EntityRecord>> = found.iter().flatten().cloned().collect();
        distinct.sort_by_key(|record| record.id);
        distinct.dedup_by_key(|record| record.id);
        prefetch(context, &distinct, &context.look_ahead()).await?;
        Ok(found.into_iter().map(|record| record.map(Entity::from_record)).collect())
    }

    /// The catalog's repositories (each crawled branch) whose URL names the same repository as
    /// `url`, whatever the spelling: scheme, user, port, a `.git` suffix, a trailing slash and
    /// the host's case are ignored (`git@github.com:Acme/pay.git` is
    /// `https://github.com/Acme/pay`); a local path is compared as an absolute path. By URL,
    /// then branch (none first); empty when the catalog crawls no such repository.
    async fn repos_matching(&self, context: &Context<'_>, url: String) -> Result<Vec<Repo>> {
        if url.trim().is_empty() || url.len() > MAX_URL_LENGTH {
            return Err(api_error(
                ErrorCode::BadRequest,
                format!("`url` must be a repository URL or path of 1 to {MAX_URL_LENGTH} bytes"),
            ));
        }
        let wanted = repo_identity(&url);
        let snapshot = snapshot(context)?;
        let ids: Vec<i64> = read::repo_urls(snapshot)
            .await
            .map_err(|error| store_error(&error))?
            .into_iter()
            .filter(|(_, stored)| repo_identity(stored) == wanted)
            .map(|(id, _)| id)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let states = read::repo_states(snapshot, &ids).await.map_err(|error| store_error(&error))?;
        let mut diagnostics = if context.look_ahead().field("diagnostics").exists() {
            snapshot
                .repo_diagnostics(&ids, REPO_DIAGNOSTICS)
                .await
                .map_err(|error| store_error(&error))?
        } else {
            HashMap::new()
        };
        Ok(states
            .into_iter()
            .map(|state| {
                let found = diagnostics.remove(&state.id).unwrap_or_default();
                Repo::new(state, found)
            })
            .collect())
    }

    /// Entities, a page at a time, sorted by `orderBy` (the reference by default). `first` is
    /// the page size (50 when absent, at most 500: more is a `PAGE_TOO_LARGE` error); `after`
    /// is the `endCursor` of the previous page.
    #[graphql(complexity = "1 + complexity_page_size(first) * child_complexity")]
    async fn entities(
        &self,
        context: &Context<'_>,
        filter: Option<EntityFilter>,
        first: Option<i32>,
        after: Option<String>,
        order_by: Option<EntityOrder>,
    ) -> Result<EntityConnection> {
        let limit = page_size(first)?;
        let query = filter.unwrap_or_default().to_query()?;
        let order = order_by.unwrap_or_default().sort_order();
        let position = after.as_deref().map(|cursor| decode_cursor(order.field, cursor)).transpose()?;
        let snapshot = snapshot(context)?;
        let mut records = read::entities_page(snapshot, &query, order, position.as_ref(), limit + 1)
            .await
            .map_err(|error| store_error(&error))?;
        let has_next_page = records.len() > limit;
        records.truncate(limit);
        Ok(EntityConnection {
            records: records.into_iter().map(Arc::new).collect(),
            sort_field: order.field,
            has_next_page,
            has_previous_page: position.is_some(),
            query,
        })
    }

    /// A group, by reference (`platform` means `group:default/platform`); null when the catalog
    /// has no group of that reference.
    async fn group(&self, context: &Context<'_>, #[graphql(name = "ref")] group_ref: String) -> Result<Option<Group>> {
        Ok(match entity_by_ref(context, &group_ref, "group").await? {
            Some(Entity::Group(group)) => Some(group),
            _ => None,
        })
    }

    /// A user, by reference (`jane` means `user:default/jane`); null when the catalog has no
    /// user of that reference.
    async fn user(&self, context: &Context<'_>, #[graphql(name = "ref")] user_ref: String) -> Result<Option<User>> {
        Ok(match entity_by_ref(context, &user_ref, "user").await? {
            Some(Entity::User(user)) => Some(user),
            _ => None,
        })
    }
}

/// A page of entities.
pub struct EntityConnection {
    records: Vec<Arc<EntityRecord>>,
    sort_field: SortField,
    has_next_page: bool,
    has_previous_page: bool,
    /// The list's filter, for `totalCount`.
    query: EntityQuery,
}

impl EntityConnection {
    fn cursor(&self, record: &EntityRecord) -> String {
        encode_cursor(
            self.sort_field,
            &SortPosition {
                key: self.sort_field.key_of(record),
                entity_ref: record.entity_ref.clone(),
            },
        )
    }
}

#[Object]
impl EntityConnection {
    async fn edges(&self, context: &Context<'_>) -> Result<Vec<EntityEdge>> {
        prefetch(context, &self.records, &context.look_ahead().field("node")).await?;
        Ok(self
            .records
            .iter()
            .map(|record| EntityEdge {
                cursor: self.cursor(record),
                node: Entity::from_record(record.clone()),
            })
            .collect())
    }

    /// The page's entities (the edges' nodes).
    async fn nodes(&self, context: &Context<'_>) -> Result<Vec<Entity>> {
        prefetch(context, &self.records, &context.look_ahead()).await?;
        Ok(self.records.iter().cloned().map(Entity::from_record).collect())
    }

    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            start_cursor: self.records.first().map(|record| self.cursor(record)),
            end_cursor: self.records.last().map(|record| self.cursor(record)),
        }
    }

    /// How many entities match the filter, over all pages (counted only when asked for).
    #[graphql(complexity = 10)]
    async fn total_count(&self, context: &Context<'_>) -> Result<i32> {
        let count = read::count_entities(snapshot(context)?, &self.query)
            .await
            .map_err(|error| store_error(&error))?;
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}

/// An entity and its cursor.
#[derive(SimpleObject)]
pub struct EntityEdge {
    /// Opaque: pass it as `after` for the entities that follow this one.
    cursor: String,
    node: Entity,
}
