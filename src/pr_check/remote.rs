//! The catalog of a running sextant, asked over its GraphQL API in a few batched requests:
//! `entitiesByRef` for lookups (500 references a request), `reposMatching` for the repository,
//! `entities(filter: {repos})` pages of 500 for its entities, and `impact` under aliases (20
//! references a request) for dependents. Every answer is read with a size cap and checked for
//! its shape: a hostile or broken server gives a [`CatalogError`], never a panic.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{CatalogEntity, CatalogError, CatalogRepo, DeclaredEdge, Dependent, repo_identity};
use crate::domain::{DEFAULT_NAMESPACE, EntityRef};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take, answer included, unless [`RemoteCatalog::with_timeout`] says otherwise.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read; a larger one is refused.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;
/// The most of a server's message kept in an error.
const MAX_REASON_CHARS: usize = 300;
/// References per `entitiesByRef` request (the field's own limit).
const LOOKUP_CHUNK: usize = 500;
/// Entities per page of a repository's entities (the API's page size cap).
const PAGE_SIZE: usize = 500;
/// Pages read at most for one repository (5,000,000 entities): a server that never ends its
/// list ends the walk.
const MAX_PAGES: usize = 10_000;
/// `impact` queries per request: each counts about 260 fields against the server's limit of
/// 5,000 expanded fields (its `nodes` and its root's `relations` lists count 25 items each).
const DEPENDENTS_CHUNK: usize = 18;
/// How deep `impact` walks (the API's default).
const IMPACT_DEPTH: u32 = 10;
/// Dependents per removed entity at most (the API's node cap).
const IMPACT_NODES: u32 = 500;

/// What the catalog checks need of an entity, as one fragment on the `Entity` interface.
const ENTITY_FIELDS: &str = "fragment CatalogEntity on Entity {
  ref ownerRef owner { ref } lifecycle tier systemRef aliases
  provenance { repo branch path line documentIndex }
  relations(direction: OUTGOING) { type targetRef }
}";

const LOOKUP_QUERY: &str = "query SextantCheckLookup($refs: [String!]!) { entitiesByRef(refs: $refs) { ...CatalogEntity } }";

const REPOS_QUERY: &str = "query SextantCheckRepos($url: String!) { reposMatching(url: $url) { url branch } }";

const REPO_ENTITIES_QUERY: &str = "query SextantCheckRepoEntities($repo: String!, $first: Int!, $after: String) {
  entities(filter: {repos: [$repo]}, first: $first, after: $after) {
    nodes { ...CatalogEntity }
    pageInfo { hasNextPage endCursor }
  }
}";

const DEPENDENTS_FIELDS: &str = "fragment Dependents on Impact {
  root { relations(direction: INCOMING) { targetRef } }
  nodes { depth path ownerRef entity { provenance { repo branch path line } } }
}";

/// A running sextant: its GraphQL endpoint and bearer token.
pub struct RemoteCatalog {
    endpoint: String,
    token: Option<String>,
    client: reqwest::Client,
    timeout: Duration,
    /// HTTP requests sent so far (a check must need only a few).
    requests: AtomicUsize,
}

impl RemoteCatalog {
    /// The server's dashboard: its base URL (the endpoint without `/graphql`).
    pub fn dashboard_url(&self) -> String {
        self.endpoint.strip_suffix("/graphql").unwrap_or(&self.endpoint).to_owned()
    }

    /// `url` is the server's base URL (`http://host:7878`) or its `/graphql` endpoint.
    pub fn new(url: &str, token: Option<String>) -> Result<RemoteCatalog, CatalogError> {
        let base = url.trim().trim_end_matches('/');
        let endpoint = if base.ends_with("/graphql") {
            base.to_owned()
        } else {
            format!("{base}/graphql")
        };
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("sextant/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| CatalogError::Unreachable {
                url: endpoint.clone(),
                reason: format!("the HTTP client could not be set up: {}", chain(&error)),
            })?;
        let token = token.map(|token| token.trim().to_owned()).filter(|token| !token.is_empty());
        Ok(RemoteCatalog {
            endpoint,
            token,
            client,
            timeout: REQUEST_TIMEOUT,
            requests: AtomicUsize::new(0),
        })
    }

    /// The same catalog with another limit on each request (connecting included).
    pub fn with_timeout(mut self, timeout: Duration) -> RemoteCatalog {
        self.timeout = timeout;
        self
    }

    /// The GraphQL endpoint asked.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// How many HTTP requests this catalog has sent.
    pub fn requests_sent(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// The entities answering to each of `refs` (as written); those the catalog does not know
    /// are absent. One request per 500 distinct references.
    pub async fn lookup(&self, refs: &[String]) -> Result<HashMap<String, CatalogEntity>, CatalogError> {
        let asked = distinct(refs);
        let mut found = HashMap::new();
        for chunk in asked.chunks(LOOKUP_CHUNK) {
            let query = format!("{LOOKUP_QUERY}\n{ENTITY_FIELDS}");
            let data: LookupData = self.query(&query, json!({ "refs": chunk })).await?;
            if data.entities_by_ref.len() != chunk.len() {
                return Err(self.answer_error(format!(
                    "`entitiesByRef` answered {} entries for {} references",
                    data.entities_by_ref.len(),
                    chunk.len()
                )));
            }
            for (asked_ref, entity) in chunk.iter().zip(data.entities_by_ref) {
                if let Some(entity) = entity {
                    found.insert((*asked_ref).to_owned(), entity.into_catalog_entity());
                }
            }
        }
        Ok(found)
    }

    /// The catalog's repositories naming the same repository as `url`, every branch.
    pub async fn repositories(&self, url: &str) -> Result<Vec<CatalogRepo>, CatalogError> {
        // A local path is sent absolute: the server would resolve a relative one against its own folder.
        let identity = repo_identity(url);
        let sent = if identity.starts_with('/') {
            identity
        } else {
            url.trim().to_owned()
        };
        let data: ReposData = self.query(REPOS_QUERY, json!({ "url": sent })).await?;
        Ok(data
            .repos_matching
            .into_iter()
            .map(|repo| CatalogRepo {
                url: repo.url,
                branch: repo.branch,
            })
            .collect())
    }

    /// Every entity the catalog holds from this repository (its URL as the catalog names it)
    /// and branch, sorted by reference: one request per 500 entities of the repository's branches.
    pub async fn repository_entities(&self, repo: &CatalogRepo) -> Result<Vec<CatalogEntity>, CatalogError> {
        let query = format!("{REPO_ENTITIES_QUERY}\n{ENTITY_FIELDS}");
        let mut entities = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let data: EntitiesData = self
                .query(&query, json!({ "repo": repo.url, "first": PAGE_SIZE, "after": after }))
                .await?;
            let page = data.entities;
            entities.extend(
                page.nodes
                    .into_iter()
                    .filter(|entity| entity.provenance.branch == repo.branch)
                    .map(EntityAnswer::into_catalog_entity),
            );
            match page.page_info.end_cursor {
                Some(cursor) if page.page_info.has_next_page && after.as_deref() != Some(cursor.as_str()) => after = Some(cursor),
                _ => break,
            }
        }
        entities.sort_by(|left, right| left.entity_ref.cmp(&right.entity_ref));
        entities.dedup_by(|left, right| left.entity_ref == right.entity_ref);
        Ok(entities)
    }

    /// The transitive dependents of each of `refs`, nearest first; a reference the catalog does
    /// not know maps to an empty list. One request per 20 references.
    pub async fn dependents(&self, refs: &[String]) -> Result<HashMap<String, Vec<Dependent>>, CatalogError> {
        let asked = distinct(refs);
        let mut found: HashMap<String, Vec<Dependent>> = HashMap::new();
        // A reference that cannot name an entity is unknown without asking.
        let (valid, malformed): (Vec<&str>, Vec<&str>) = asked
            .into_iter()
            .partition(|text| EntityRef::parse(text.trim(), Some("component"), DEFAULT_NAMESPACE).is_ok());
        for text in malformed {
            found.insert(text.to_owned(), Vec::new());
        }
        // Chunks of even size, two requests at a time: each has one database connection on the
        // server, so two keep both of a small server's cores walking.
        let requests = valid.len().div_ceil(DEPENDENTS_CHUNK).max(1);
        let chunks: Vec<&[&str]> = valid.chunks(valid.len().div_ceil(requests).max(1)).collect();
        for pair in chunks.chunks(2) {
            let (first, second) = match pair {
                [first, second] => tokio::join!(self.dependents_of_chunk(first), self.dependents_of_chunk(second)),
                [only] => (self.dependents_of_chunk(only).await, Ok(HashMap::new())),
                _ => continue,
            };
            found.extend(first?);
            found.extend(second?);
        }
        Ok(found)
    }

    /// One chunk of [`RemoteCatalog::dependents`]: `impact` under an alias per reference. The
    /// API answers an unknown reference with a `NOT_FOUND` error at its alias and the other
    /// aliases' answers; a server that nulls the whole answer instead is asked again without
    /// the unknown references.
    async fn dependents_of_chunk(&self, chunk: &[&str]) -> Result<HashMap<String, Vec<Dependent>>, CatalogError> {
        let mut found: HashMap<String, Vec<Dependent>> = HashMap::new();
        let mut pending: Vec<(String, &str)> = chunk.iter().enumerate().map(|(index, text)| (format!("d{index}"), *text)).collect();
        while !pending.is_empty() {
            let (query, variables) = dependents_query(&pending);
            let answer = self.post(&query, variables).await?;
            let (not_found, others): (Vec<&GraphqlError>, Vec<&GraphqlError>) = answer.errors.iter().partition(|error| {
                error.code() == Some("NOT_FOUND")
                    && matches!(error.path.as_slice(), [Value::String(alias)] if pending.iter().any(|(known, _)| known == alias))
            });
            if !others.is_empty() {
                return Err(self.answer_error(messages(&others)));
            }
            let unknown: HashSet<String> = not_found
                .iter()
                .filter_map(|error| error.path.first().and_then(Value::as_str).map(str::to_owned))
                .collect();
            let mut data = match answer.data {
                Some(Value::Object(data)) => data,
                Some(Value::Null) | None => serde_json::Map::new(),
                Some(_) => return Err(self.answer_error("the answer's data is not an object".to_owned())),
            };
            let complete = pending
                .iter()
                .all(|(alias, _)| unknown.contains(alias) || data.get(alias).is_some_and(|impact| !impact.is_null()));
            if !complete {
                if unknown.is_empty() {
                    return Err(self.answer_error("the answer lacks some of the impacts asked for".to_owned()));
                }
                pending.retain(|(alias, text)| {
                    let known = !unknown.contains(alias);
                    if !known {
                        found.insert((*text).to_owned(), Vec::new());
                    }
                    known
                });
                continue;
            }
            for (alias, text) in &pending {
                let dependents = match data.remove(alias) {
                    Some(impact) if !unknown.contains(alias) => self.shaped::<ImpactAnswer>(impact)?.into_dependents(),
                    _ => Vec::new(),
                };
                found.insert((*text).to_owned(), dependents);
            }
            break;
        }
        Ok(found)
    }

    /// Posts a query and returns its data, shaped as `T`; any GraphQL error fails it.
    async fn query<T: DeserializeOwned>(&self, query: &str, variables: Value) -> Result<T, CatalogError> {
        let answer = self.post(query, variables).await?;
        if !answer.errors.is_empty() {
            return Err(self.answer_error(messages(&answer.errors.iter().collect::<Vec<_>>())));
        }
        match answer.data {
            Some(data) => self.shaped(data),
            None => Err(self.answer_error("the answer has neither data nor errors".to_owned())),
        }
    }

    /// `value` as `T`, or an error saying what did not fit.
    fn shaped<T: DeserializeOwned>(&self, value: Value) -> Result<T, CatalogError> {
        serde_json::from_value(value).map_err(|error| self.answer_error(format!("the answer is not of the expected shape: {error}")))
    }

    /// One GraphQL request: the HTTP exchange, the status, a capped body, the JSON envelope.
    async fn post(&self, query: &str, variables: Value) -> Result<GraphqlAnswer, CatalogError> {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let mut request = self
            .client
            .post(&self.endpoint)
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut response = request.send().await.map_err(|error| self.unreachable(&error))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(CatalogError::Unauthorized {
                url: self.endpoint.clone(),
                status: status.as_u16(),
            });
        }
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| self.unreachable(&error))? {
            if bytes.len().saturating_add(chunk.len()) > MAX_ANSWER_BYTES {
                return Err(self.answer_error(format!(
                    "the answer is larger than {} MiB (HTTP {})",
                    MAX_ANSWER_BYTES / (1024 * 1024),
                    status.as_u16()
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let envelope: Option<GraphqlAnswer> = serde_json::from_slice(&bytes).ok();
        match envelope {
            Some(answer) if status.is_success() => {
                if answer.data.is_none() && answer.errors.is_empty() {
                    return Err(self.answer_error("the answer is JSON but not a GraphQL answer".to_owned()));
                }
                Ok(answer)
            }
            Some(answer) if !answer.errors.is_empty() => Err(self.answer_error(format!(
                "HTTP {}: {}",
                status.as_u16(),
                messages(&answer.errors.iter().collect::<Vec<_>>())
            ))),
            _ => {
                let text = String::from_utf8_lossy(&bytes);
                let reason = if status.is_success() {
                    format!("the answer is not GraphQL JSON: {}", readable(&text))
                } else if text.trim().is_empty() {
                    format!("HTTP {}", status.as_u16())
                } else {
                    format!("HTTP {}: {}", status.as_u16(), readable(&text))
                };
                Err(self.answer_error(reason))
            }
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> CatalogError {
        let reason = if error.is_timeout() {
            format!("no answer within {:.1} s", self.timeout.as_secs_f64())
        } else if error.is_builder() {
            format!("`{}` is not a usable URL: {}", self.endpoint, chain(error))
        } else {
            chain(error)
        };
        CatalogError::Unreachable {
            url: self.endpoint.clone(),
            reason,
        }
    }

    fn answer_error(&self, reason: String) -> CatalogError {
        CatalogError::Answer {
            url: self.endpoint.clone(),
            reason,
        }
    }
}

/// The query and variables asking `impact` for each (alias, reference).
fn dependents_query(pending: &[(String, &str)]) -> (String, Value) {
    let parameters: Vec<String> = pending.iter().map(|(alias, _)| format!("${alias}: String!")).collect();
    let fields: Vec<String> = pending
        .iter()
        .map(|(alias, _)| format!("  {alias}: impact(ref: ${alias}, depth: {IMPACT_DEPTH}, first: {IMPACT_NODES}) {{ ...Dependents }}"))
        .collect();
    let query = format!(
        "query SextantCheckDependents({}) {{\n{}\n}}\n{DEPENDENTS_FIELDS}",
        parameters.join(", "),
        fields.join("\n")
    );
    let variables: serde_json::Map<String, Value> = pending
        .iter()
        .map(|(alias, text)| (alias.clone(), Value::String((*text).to_owned())))
        .collect();
    (query, Value::Object(variables))
}

/// The references once each, in their first order.
fn distinct(refs: &[String]) -> Vec<&str> {
    let mut seen = HashSet::new();
    refs.iter().map(String::as_str).filter(|text| seen.insert(*text)).collect()
}

/// An error with its causes, `a: b: c`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text
}

/// A server's text made readable in one line: whitespace folded, control characters dropped,
/// at most [`MAX_REASON_CHARS`] characters.
fn readable(text: &str) -> String {
    let folded: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|character| !character.is_control())
        .collect();
    match folded.char_indices().nth(MAX_REASON_CHARS) {
        Some((end, _)) => format!("{}…", &folded[..end]),
        None => folded,
    }
}

/// The errors' messages (with their codes), readable.
fn messages(errors: &[&GraphqlError]) -> String {
    let shown: Vec<String> = errors
        .iter()
        .take(3)
        .map(|error| match error.code() {
            Some(code) => format!("{code}: {}", error.message),
            None => error.message.clone(),
        })
        .collect();
    let more = errors.len().saturating_sub(shown.len());
    let suffix = if more > 0 { format!(" (and {more} more)") } else { String::new() };
    readable(&format!("{}{suffix}", shown.join("; ")))
}

/// A GraphQL answer's envelope.
#[derive(Deserialize)]
struct GraphqlAnswer {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

#[derive(Deserialize)]
struct GraphqlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    path: Vec<Value>,
    #[serde(default)]
    extensions: Option<Value>,
}

impl GraphqlError {
    fn code(&self) -> Option<&str> {
        self.extensions.as_ref()?.get("code")?.as_str()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LookupData {
    entities_by_ref: Vec<Option<EntityAnswer>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReposData {
    repos_matching: Vec<RepoAnswer>,
}

#[derive(Deserialize)]
struct RepoAnswer {
    url: String,
    branch: Option<String>,
}

#[derive(Deserialize)]
struct EntitiesData {
    entities: EntityPage,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntityPage {
    nodes: Vec<EntityAnswer>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

/// An entity as [`ENTITY_FIELDS`] asks for it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntityAnswer {
    #[serde(rename = "ref")]
    entity_ref: String,
    owner_ref: Option<String>,
    owner: Option<RefAnswer>,
    lifecycle: Option<String>,
    tier: Option<i64>,
    system_ref: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    provenance: ProvenanceAnswer,
    #[serde(default)]
    relations: Vec<RelationAnswer>,
}

#[derive(Deserialize)]
struct RefAnswer {
    #[serde(rename = "ref")]
    entity_ref: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProvenanceAnswer {
    repo: String,
    branch: Option<String>,
    path: String,
    line: i64,
    #[serde(default)]
    document_index: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RelationAnswer {
    #[serde(rename = "type")]
    relation_type: String,
    target_ref: String,
}

impl EntityAnswer {
    fn into_catalog_entity(self) -> CatalogEntity {
        let mut relations: Vec<DeclaredEdge> = self
            .relations
            .into_iter()
            .map(|relation| DeclaredEdge {
                relation_type: relation.relation_type,
                target: relation.target_ref,
            })
            .collect();
        relations.sort();
        relations.dedup();
        CatalogEntity {
            entity_ref: self.entity_ref.to_lowercase(),
            repo: self.provenance.repo,
            branch: self.provenance.branch,
            path: self.provenance.path,
            line: clamped(self.provenance.line),
            document_index: clamped(self.provenance.document_index),
            owner_ref: self.owner.map(|owner| owner.entity_ref).or(self.owner_ref),
            lifecycle: self.lifecycle,
            tier: self.tier.and_then(|tier| u8::try_from(tier).ok()),
            system_ref: self.system_ref,
            aliases: {
                let mut aliases = self.aliases;
                aliases.sort();
                aliases.dedup();
                aliases
            },
            relations,
        }
    }
}

/// An `impact` answer as [`DEPENDENTS_FIELDS`] asks for it.
#[derive(Deserialize)]
struct ImpactAnswer {
    /// The entity walked from, with the relations others declare to it (each `targetRef` the
    /// declaring entity's reference).
    root: Option<ImpactRootAnswer>,
    nodes: Vec<ImpactNodeAnswer>,
}

#[derive(Deserialize)]
struct ImpactRootAnswer {
    #[serde(default)]
    relations: Vec<IncomingAnswer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IncomingAnswer {
    target_ref: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImpactNodeAnswer {
    depth: i64,
    path: Vec<String>,
    owner_ref: Option<String>,
    entity: Option<ImpactEntityAnswer>,
}

#[derive(Deserialize)]
struct ImpactEntityAnswer {
    provenance: ImpactProvenanceAnswer,
}

#[derive(Deserialize)]
struct ImpactProvenanceAnswer {
    repo: String,
    branch: Option<String>,
    path: String,
    line: i64,
}

impl ImpactAnswer {
    /// The dependents, nearest first (a node without its entity or path is left out).
    fn into_dependents(self) -> Vec<Dependent> {
        let declaring: HashSet<String> = self
            .root
            .into_iter()
            .flat_map(|root| root.relations)
            .map(|relation| relation.target_ref.to_lowercase())
            .collect();
        let mut dependents: Vec<Dependent> = self
            .nodes
            .into_iter()
            .filter_map(|node| {
                let entity_ref = node.path.last()?.to_lowercase();
                let provenance = node.entity?.provenance;
                Some(Dependent {
                    declares_reference: node.depth == 1 && declaring.contains(&entity_ref),
                    entity_ref,
                    owner_ref: node.owner_ref,
                    repo: provenance.repo,
                    branch: provenance.branch,
                    file: provenance.path,
                    line: clamped(provenance.line),
                    depth: clamped(node.depth),
                    path: node.path,
                })
            })
            .collect();
        dependents.sort_by(|left, right| (left.depth, &left.entity_ref).cmp(&(right.depth, &right.entity_ref)));
        dependents
    }
}

/// A count from the server as `u32` (negative: 0).
fn clamped(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_is_made_short_and_single_line() {
        let long = format!("<html>\n<body>{}</body>\u{7}", "x".repeat(1_000));
        let shown = readable(&long);
        assert!(shown.chars().count() <= MAX_REASON_CHARS + 1, "{shown}");
        assert!(shown.starts_with("<html> <body>xxx"));
        assert!(!shown.contains('\n'));
    }

    #[test]
    fn the_dependents_query_aliases_each_reference_with_its_own_variable() {
        let (query, variables) = dependents_query(&[("d0".to_owned(), "component:a"), ("d1".to_owned(), "b")]);
        assert!(query.contains("$d0: String!, $d1: String!"), "{query}");
        assert!(
            query.contains("d1: impact(ref: $d1, depth: 10, first: 500) { ...Dependents }"),
            "{query}"
        );
        assert_eq!(variables, json!({ "d0": "component:a", "d1": "b" }));
    }

    #[test]
    fn an_endpoint_is_the_base_url_or_its_graphql_path() {
        let endpoint = |url: &str| RemoteCatalog::new(url, None).map(|catalog| catalog.endpoint().to_owned()).ok();
        assert_eq!(endpoint("http://host:7878").as_deref(), Some("http://host:7878/graphql"));
        assert_eq!(endpoint("http://host:7878/graphql/").as_deref(), Some("http://host:7878/graphql"));
        assert_eq!(endpoint(" https://host/ ").as_deref(), Some("https://host/graphql"));
    }
}
