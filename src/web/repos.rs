//! The repositories: status, branch, tip, last error and per-file diagnostics.
use axum::extract::{RawQuery, State};

use super::{Chrome, Dashboard, PageResult, Placeholder, render};

pub async fn page(State(_dashboard): State<Dashboard>, RawQuery(_query): RawQuery) -> PageResult {
    render(&Placeholder {
        chrome: Chrome::new("Repositories", "repos"),
    })
}
