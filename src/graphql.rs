//! The GraphQL API: the schema (split by concern and merged), the per-request snapshot and
//! DataLoaders, limits, and error codes. Built at the edge from the store's typed results.
//!
//! Every request reads one [`Snapshot`] (put in its data by [`execute`]), and every batch
//! lookup goes through the request's DataLoaders ([`loaders`]), so a page of entities with
//! their owners and relations costs a fixed number of statements. Errors carry a stable
//! `extensions.code` ([`ErrorCode`]); store errors become GraphQL errors in one place
//! ([`store_error`]), which logs the detail and never shows it.

mod catalog;
mod entity;
mod filter;
mod graph;
mod health;
mod limits;
pub mod loaders;
mod mutation;
mod order;
mod search;

use std::sync::Arc;

use async_graphql::{BatchRequest, BatchResponse, EmptySubscription, MergedObject, Request, Response, Schema, ServerError};

use crate::search::Search;
use crate::store::{Snapshot, Store, StoreError};

pub use catalog::CatalogQuery;
pub use entity::{
    Api, Component, Diagnostic, Domain, Entity, Group, KeyValue, Link, Location, Provenance, Relation, RelationDirection, Resource, System,
    Template, User, entities_by_ids, entity_by_id, entity_by_ref, parse_ref, prefetch,
};
pub use filter::MAX_PAGE_SIZE;
pub use search::typed_search_filter;

/// Every query field of the API, merged from one object per concern. A concern adds its
/// query object here (and nowhere else).
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    CatalogQuery,
    graph::GraphQuery,
    health::HealthQuery,
    mutation::JobQuery,
    search::SearchQuery,
);

/// The mutations (the job queue's: `crawlRepo`, `crawlAll`, `forgetRepo`); they need the
/// [`crate::jobs::Queue`] in the schema's data ([`build_schema_with_jobs`]).
pub use mutation::{JobQuery, MutationRoot};

/// How many items a list without a page size (relations, members, owned entities, a walk's
/// nodes) counts for in the limit on expanded fields (`SchemaOptions::max_fields`): nested lists
/// multiply, so a query that would fan out without bound is refused (`QUERY_TOO_COMPLEX`)
/// before it runs.
pub const LIST_WEIGHT: usize = 25;

/// The API's schema type.
pub type CatalogSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Who sent a request, inserted into each request's data by the HTTP layer (through [`execute`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caller {
    /// The request carried the configured bearer token: mutations are allowed.
    pub authorized: bool,
}

/// The schema's limits and switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaOptions {
    /// Whether `__schema` and `__type` answer (GraphiQL needs them).
    pub introspection: bool,
    /// Deepest field nesting (`QUERY_TOO_DEEP`).
    pub max_depth: usize,
    /// Highest complexity: each field counts 1, a list of entities counts its page size times
    /// its selection (`QUERY_TOO_COMPLEX`).
    pub max_complexity: usize,
    /// Most aliases in one document (`TOO_MANY_ALIASES`).
    pub max_aliases: usize,
    /// Most directives in one document (`TOO_MANY_DIRECTIVES`).
    pub max_directives: usize,
    /// Most fields once fragments are expanded, and most fragment definitions (`QUERY_TOO_COMPLEX`).
    pub max_fields: usize,
    /// Longest query text, in bytes (`QUERY_TOO_LARGE`).
    pub max_query_bytes: usize,
    /// Most operations in one batched request (`BATCH_TOO_LARGE`).
    pub max_batch: usize,
}

impl Default for SchemaOptions {
    fn default() -> Self {
        SchemaOptions {
            introspection: true,
            max_depth: 16,
            max_complexity: 25_000,
            max_aliases: 200,
            max_directives: 200,
            max_fields: 5_000,
            max_query_bytes: 256 * 1024,
            max_batch: 10,
        }
    }
}

/// The schema with its limits; `store` serves what lives outside a request's snapshot (such as
/// the kept dependency graph), `search` the `search` query.
pub fn build_schema(store: Store, search: Search, options: &SchemaOptions) -> CatalogSchema {
    schema_builder(options).data(store).data(search).finish()
}

/// The schema with the job queue in its data: the mutations and the `job` query use it.
pub fn build_schema_with_jobs(store: Store, search: Search, queue: crate::jobs::Queue, options: &SchemaOptions) -> CatalogSchema {
    schema_builder(options).data(store).data(search).data(queue).finish()
}

fn schema_builder(options: &SchemaOptions) -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    let builder = Schema::build(QueryRoot::default(), MutationRoot, EmptySubscription)
        .limit_depth(options.max_depth)
        .limit_complexity(options.max_complexity)
        .extension(limits::Limits::new(options))
        .extension(order::AnswerOrder)
        .data(options.clone());
    if options.introspection {
        builder
    } else {
        builder.disable_introspection()
    }
}

/// The SDL of the schema as served; `schema/catalog.graphql` is this text, committed.
pub fn sdl() -> String {
    schema_builder(&SchemaOptions::default()).finish().sdl()
}

/// The most operations a batch of `schema` may hold (its `SchemaOptions::max_batch`).
pub fn max_batch(schema: &CatalogSchema) -> usize {
    schema
        .data::<SchemaOptions>()
        .map_or(SchemaOptions::default().max_batch, |options| options.max_batch)
}

/// Executes a request (one operation or a batch) as the HTTP layer receives it: each operation
/// reads its own fresh snapshot with its own DataLoaders, one after the other. A batch larger
/// than `max_batch` is refused whole with `BATCH_TOO_LARGE`.
pub async fn execute(schema: &CatalogSchema, store: &Store, request: BatchRequest, caller: Caller) -> BatchResponse {
    match request {
        BatchRequest::Single(request) => BatchResponse::Single(execute_one(schema, Arc::new(store.snapshot()), request, caller).await),
        BatchRequest::Batch(requests) => {
            let max_batch = max_batch(schema);
            if requests.len() > max_batch {
                return BatchResponse::Single(Response::from_errors(vec![server_error(
                    ErrorCode::BatchTooLarge,
                    format!("a batch holds at most {max_batch} operations; this one has {}", requests.len()),
                )]));
            }
            let mut responses = Vec::with_capacity(requests.len());
            for request in requests {
                responses.push(execute_one(schema, Arc::new(store.snapshot()), request, caller).await);
            }
            BatchResponse::Batch(responses)
        }
    }
}

/// Executes one operation on `snapshot` (tests pass their own, to count its statements), then
/// ends the snapshot's transaction.
pub async fn execute_one(schema: &CatalogSchema, snapshot: Arc<Snapshot>, request: Request, caller: Caller) -> Response {
    let request = request
        .data(snapshot.clone())
        .data(loaders::new_loaders(snapshot.clone()))
        .data(caller);
    let response = schema.execute(request).await;
    snapshot.release().await;
    response
}

/// The stable codes of the API's errors (`extensions.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is malformed or asks for something that does not exist in the schema.
    BadRequest,
    /// Something named by the request is not in the catalog.
    NotFound,
    /// `first` is above [`MAX_PAGE_SIZE`] (or negative).
    PageTooLarge,
    QueryTooDeep,
    QueryTooComplex,
    QueryTooLarge,
    TooManyAliases,
    TooManyDirectives,
    BatchTooLarge,
    /// A mutation without the configured bearer token.
    Unauthorized,
    /// The database cannot be reached; the request may be retried.
    Unavailable,
    /// The search backend (Meilisearch) cannot be reached or did not answer in time; the
    /// request may be retried.
    SearchUnavailable,
    /// A fault of the server (details are in its log).
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::PageTooLarge => "PAGE_TOO_LARGE",
            ErrorCode::QueryTooDeep => "QUERY_TOO_DEEP",
            ErrorCode::QueryTooComplex => "QUERY_TOO_COMPLEX",
            ErrorCode::QueryTooLarge => "QUERY_TOO_LARGE",
            ErrorCode::TooManyAliases => "TOO_MANY_ALIASES",
            ErrorCode::TooManyDirectives => "TOO_MANY_DIRECTIVES",
            ErrorCode::BatchTooLarge => "BATCH_TOO_LARGE",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::SearchUnavailable => "SEARCH_UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

/// A resolver error with a stable code.
pub fn api_error(code: ErrorCode, message: impl Into<String>) -> async_graphql::Error {
    let mut error = async_graphql::Error::new(message);
    error.extensions.get_or_insert_with(Default::default).set("code", code.as_str());
    error
}

/// A request-level error (parsing, validation, limits) with a stable code.
pub fn server_error(code: ErrorCode, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    error.extensions.get_or_insert_with(Default::default).set("code", code.as_str());
    error
}

/// The one place where store errors become API errors: the detail goes to the log, the client
/// gets a code and a short message (never SQL or a driver's text).
pub fn store_error(error: &StoreError) -> async_graphql::Error {
    tracing::warn!(error.code = error.code(), error.detail = %error, "a GraphQL request failed in the store");
    if error.is_unreachable() {
        api_error(ErrorCode::Unavailable, "the catalog's database is unavailable; try again shortly")
    } else if matches!(error, StoreError::NotFound(_)) {
        api_error(ErrorCode::NotFound, "not in the catalog")
    } else {
        api_error(ErrorCode::Internal, "internal error; the server's log has the details")
    }
}

/// The request's snapshot (inserted by [`execute_one`]).
pub fn snapshot<'context>(context: &async_graphql::Context<'context>) -> async_graphql::Result<&'context Arc<Snapshot>> {
    context.data::<Arc<Snapshot>>().map_err(|_| {
        api_error(
            ErrorCode::Internal,
            "the request has no snapshot; it was not run through graphql::execute",
        )
    })
}

/// The request's caller (inserted by [`execute_one`]); a request without one is not authorized.
pub fn caller(context: &async_graphql::Context<'_>) -> Caller {
    context.data::<Caller>().copied().unwrap_or_default()
}
