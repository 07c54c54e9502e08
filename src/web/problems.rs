//! The problems of the catalog: an overview and each list, paginated.
use axum::extract::{RawQuery, State};

use super::{Chrome, Dashboard, PageResult, Placeholder, render};

pub async fn page(State(_dashboard): State<Dashboard>, RawQuery(_query): RawQuery) -> PageResult {
    render(&Placeholder {
        chrome: Chrome::new("Problems", "problems"),
    })
}

pub async fn list(
    State(_dashboard): State<Dashboard>,
    axum::extract::Path(_list): axum::extract::Path<String>,
    RawQuery(_query): RawQuery,
) -> PageResult {
    render(&Placeholder {
        chrome: Chrome::new("Problems", "problems"),
    })
}
