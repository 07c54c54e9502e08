//! The dependency graph picture of an entity: the page around it, and the SVG alone.
use axum::extract::{Path, RawQuery, State};

use super::{Chrome, Dashboard, PageResult, Placeholder, render};

pub async fn page(
    State(_dashboard): State<Dashboard>,
    Path((_kind, _namespace, _name)): Path<(String, String, String)>,
    RawQuery(_query): RawQuery,
) -> PageResult {
    render(&Placeholder {
        chrome: Chrome::new("Graph", ""),
    })
}

pub async fn svg(State(dashboard): State<Dashboard>, path: Path<(String, String, String)>, query: RawQuery) -> PageResult {
    page(State(dashboard), path, query).await
}
