//! How to add a repository and validate descriptor files in CI.
use axum::extract::{RawQuery, State};

use super::{Chrome, Dashboard, PageResult, Placeholder, render};

pub async fn page(State(_dashboard): State<Dashboard>, RawQuery(_query): RawQuery) -> PageResult {
    render(&Placeholder {
        chrome: Chrome::new("Add a repository", "guide"),
    })
}
