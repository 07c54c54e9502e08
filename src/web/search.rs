//! Search results with facets, and the suggestions behind search as you type.
use axum::extract::{RawQuery, State};

use super::{Chrome, Dashboard, PageResult, Placeholder, render};

pub async fn page(State(_dashboard): State<Dashboard>, RawQuery(_query): RawQuery) -> PageResult {
    render(&Placeholder {
        chrome: Chrome::new("Search", "search"),
    })
}

pub async fn suggest(State(_dashboard): State<Dashboard>, RawQuery(_query): RawQuery) -> axum::response::Response {
    use axum::response::IntoResponse;
    axum::Json(serde_json::json!([])).into_response()
}
