//! The catalog of a running sextant, asked over its GraphQL API in a few batched requests.

use std::collections::HashMap;

use super::{CatalogEntity, CatalogError, CatalogRepo, Dependent};

/// A running sextant: its GraphQL endpoint and bearer token.
pub struct RemoteCatalog {
    endpoint: String,
    token: Option<String>,
}

impl RemoteCatalog {
    /// `url` is the server's base URL (`http://host:7878`) or its `/graphql` endpoint.
    pub fn new(url: &str, token: Option<String>) -> Result<RemoteCatalog, CatalogError> {
        let base = url.trim_end_matches('/');
        let endpoint = if base.ends_with("/graphql") { base.to_owned() } else { format!("{base}/graphql") };
        Ok(RemoteCatalog { endpoint, token })
    }

    pub async fn lookup(&self, refs: &[String]) -> Result<HashMap<String, CatalogEntity>, CatalogError> {
        let _ = (refs, &self.endpoint, &self.token);
        todo!("helper: remote")
    }

    pub async fn repositories(&self, url: &str) -> Result<Vec<CatalogRepo>, CatalogError> {
        let _ = url;
        todo!("helper: remote")
    }

    pub async fn repository_entities(&self, repo: &CatalogRepo) -> Result<Vec<CatalogEntity>, CatalogError> {
        let _ = repo;
        todo!("helper: remote")
    }

    pub async fn dependents(&self, refs: &[String]) -> Result<HashMap<String, Vec<Dependent>>, CatalogError> {
        let _ = refs;
        todo!("helper: remote")
    }
}
