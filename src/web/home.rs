//! The home page: counts by kind, owner coverage, the last crawl, problems at a glance.
use axum::extract::{RawQuery, State};

use super::{Chrome, Dashboard, PageResult, Placeholder, render};

pub async fn page(State(_dashboard): State<Dashboard>, RawQuery(_query): RawQuery) -> PageResult {
    render(&Placeholder {
        chrome: Chrome::new("Home", "home"),
    })
}
