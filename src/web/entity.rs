//! The entity page: what the entity is, who owns it, its relations both ways, and what breaks if it goes down.
use axum::extract::{Path, RawQuery, State};

use super::{Chrome, Dashboard, PageResult, Placeholder, render};

pub async fn page(
    State(_dashboard): State<Dashboard>,
    Path((_kind, _namespace, _name)): Path<(String, String, String)>,
    RawQuery(_query): RawQuery,
) -> PageResult {
    render(&Placeholder {
        chrome: Chrome::new("Entity", ""),
    })
}
