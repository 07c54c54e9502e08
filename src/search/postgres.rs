//! The Postgres full-text backend, in the catalog's own database: `search_documents` with a
//! weighted `tsvector` built by sextant's tokenizer, `search_terms` with trigrams for typos.

use crate::search::{Applied, BackendAnswer, ParsedQuery, SearchError, SearchRequest};
use crate::store::{SearchEntity, Store};

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

    pub async fn search(&self, query: &ParsedQuery, request: &SearchRequest) -> Result<BackendAnswer, SearchError> {
        let _ = (query, request);
        todo!()
    }

    pub async fn apply(&self, upserts: &[SearchEntity], deletes: &[String]) -> Result<Applied, SearchError> {
        let _ = (upserts, deletes);
        todo!()
    }

    pub async fn rebuild(&self) -> Result<usize, SearchError> {
        todo!()
    }
}
