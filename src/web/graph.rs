//! The dependency graph picture of an entity: the options (direction, depth, relation kinds,
//! per-level cap, selected node) read from the URL, the walk on the store, and the page around
//! the SVG, or the SVG alone.
use axum::extract::{Path, RawQuery, State};

use super::{Chrome, Dashboard, PageError, PageResult, Placeholder, render};
use crate::store::Snapshot;

/// Which way the picture goes from the focused entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphDirection {
    /// What the entity depends on.
    Outgoing,
    /// What depends on it.
    Incoming,
    /// Both: dependents to the left, dependencies to the right.
    #[default]
    Both,
}

/// What the picture shows.
#[derive(Debug, Clone)]
pub struct GraphOptions {
    pub direction: GraphDirection,
    /// Steps from the focused entity (1 to 4).
    pub depth: u32,
    /// Relation types followed.
    pub relations: crate::store::RelationSet,
    /// Nodes shown per level at most; the rest are collapsed into one "N more" node.
    pub per_level: usize,
    /// The node whose path from the focus is emphasised (a canonical reference).
    pub selected: Option<String>,
}

impl GraphOptions {
    /// The small picture on an entity page: both ways, one step, dependency relations.
    pub fn entity_page_default() -> GraphOptions {
        GraphOptions {
            direction: GraphDirection::Both,
            depth: 1,
            relations: crate::store::RelationSet::dependencies(),
            per_level: 12,
            selected: None,
        }
    }
}

/// A rendered picture: SVG markup built by our own code (every text escaped), and its figures.
#[derive(Debug, Clone, Default)]
pub struct GraphPicture {
    pub svg: String,
    pub nodes: usize,
    pub edges: usize,
    /// Entities folded into "N more" nodes.
    pub collapsed: usize,
    /// Whether the walk's node cap left entities out.
    pub truncated: bool,
}

/// The picture around `root` on `snapshot`.
pub async fn picture(_snapshot: &Snapshot, _root_id: i64, _root_ref: &str, _options: &GraphOptions) -> Result<GraphPicture, PageError> {
    Ok(GraphPicture::default())
}

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
