//! The dependency graph picture of an entity: the options (direction, depth, relation kinds,
//! per-level cap, selected node) read from the URL, the walk on the store, and the page around
//! the SVG, or the SVG alone.
//!
//! The picture is drawn in three steps: the store's walks (one each way for both directions,
//! each capped at [`WALK_NODE_CAP`] entities); a plan ([`Plan`], pure) that places every entity
//! in the layer of its distance from the focus (dependents left, dependencies right), folds each
//! level beyond `per_level` entities into one "N more" node and redraws every relation touching a
//! folded entity as an arrow to that node with the number of relations it stands for (no
//! relation of the walk is ever dropped); and the layout ([`layout`], our own layered layout)
//! and the SVG writer ([`svg`], every text escaped). The per-level cap bounds what is laid out:
//! at most `per_level + 1` boxes per layer and `2 × depth + 1` layers, whatever the walk found.

mod layout;
mod svg;

use std::collections::{BTreeSet, HashMap, HashSet};

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;

use super::links::{entity_path, kind_of};
use super::query::Params;
use super::{Chrome, Dashboard, PageError, PageResult, render};
use crate::domain::RelationType;
use crate::store::{self, RelationSet, Snapshot, StoreError, Walk, WalkSpec, dependency_risk, points_outward};

/// Deepest picture (steps from the focus each way).
pub const MAX_DEPTH: u32 = 4;
/// Largest per-level cap a URL may ask for.
pub const MAX_PER_LEVEL: usize = 200;
/// The graph page's per-level cap when the URL names none.
pub const DEFAULT_PER_LEVEL: usize = 25;
/// Entities each walk returns at most (the picture says when it stopped there).
pub const WALK_NODE_CAP: usize = 400;

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

impl GraphDirection {
    const ALL: [GraphDirection; 3] = [GraphDirection::Outgoing, GraphDirection::Incoming, GraphDirection::Both];

    /// The URL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GraphDirection::Outgoing => "outgoing",
            GraphDirection::Incoming => "incoming",
            GraphDirection::Both => "both",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            GraphDirection::Outgoing => "What it depends on",
            GraphDirection::Incoming => "What depends on it",
            GraphDirection::Both => "Both ways",
        }
    }

    fn parse(text: &str) -> Option<GraphDirection> {
        GraphDirection::ALL
            .into_iter()
            .find(|direction| direction.as_str().eq_ignore_ascii_case(text))
    }

    /// The walks this direction takes, with the sign of their layers.
    fn walks(self) -> &'static [(store::Direction, i32)] {
        match self {
            GraphDirection::Outgoing => &[(store::Direction::Dependencies, 1)],
            GraphDirection::Incoming => &[(store::Direction::Dependents, -1)],
            GraphDirection::Both => &[(store::Direction::Dependencies, 1), (store::Direction::Dependents, -1)],
        }
    }
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

/// The first spelling of each relation pair (`ownedBy` for ownedBy/ownerOf), in the catalog's order.
fn relation_pairs() -> impl Iterator<Item = RelationType> {
    let position = |relation_type: RelationType| RelationType::ALL.iter().position(|known| *known == relation_type);
    RelationType::ALL
        .into_iter()
        .filter(move |relation_type| position(*relation_type) < position(relation_type.inverse()))
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

    /// The options a graph page URL asks for: `direction` (outgoing, incoming, both), `depth`
    /// (1 to 4), `relation` (repeated; either spelling of a pair; the dependency family when
    /// none is known), `per_level` (1 to 200) and `select` (a reference). A value that makes no
    /// sense takes the default: both ways, depth 2, 25 per level.
    pub fn from_params(params: &Params) -> GraphOptions {
        let relation_types: Vec<RelationType> = params.all("relation").iter().filter_map(|name| RelationType::parse(name)).collect();
        GraphOptions {
            direction: params.get("direction").and_then(GraphDirection::parse).unwrap_or_default(),
            depth: params.number("depth", 2, 1..=MAX_DEPTH),
            relations: if relation_types.is_empty() {
                RelationSet::dependencies()
            } else {
                RelationSet::of(&relation_types)
            },
            per_level: usize::try_from(params.number("per_level", DEFAULT_PER_LEVEL as u32, 1..=MAX_PER_LEVEL as u32))
                .unwrap_or(DEFAULT_PER_LEVEL),
            selected: params.get("select").map(|selected| selected.to_ascii_lowercase()),
        }
    }

    /// These options as a query string (starting with `?`), as [`GraphOptions::from_params`] reads it.
    pub fn query(&self) -> String {
        let depth = self.depth.to_string();
        let per_level = self.per_level.to_string();
        let mut pairs: Vec<(&str, &str)> = vec![("direction", self.direction.as_str()), ("depth", &depth)];
        for relation_type in relation_pairs().filter(|relation_type| self.relations.contains(*relation_type)) {
            pairs.push(("relation", relation_type.as_str()));
        }
        pairs.push(("per_level", &per_level));
        if let Some(selected) = &self.selected {
            pairs.push(("select", selected));
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            query.append_pair(key, value);
        }
        format!("?{}", query.finish())
    }
}

/// A rendered picture: SVG markup built by our own code (every text escaped), and its figures.
#[derive(Debug, Clone, Default)]
pub struct GraphPicture {
    pub svg: String,
    /// Entities drawn in a box of their own (the focus included).
    pub nodes: usize,
    /// Relations of the walk, every one drawn (alone, or within a folded arrow).
    pub edges: usize,
    /// Entities folded into "N more" nodes.
    pub collapsed: usize,
    /// Whether the walk's node cap left entities out.
    pub truncated: bool,
}

/// What the graph page lists besides the picture.
#[derive(Debug, Clone, Default)]
struct Details {
    /// The kinds drawn, sorted (the legend).
    kinds: Vec<String>,
    /// The entities drawn, in layer order.
    entities: Vec<DrawnEntity>,
    /// Arrows drawn (folded relations share one).
    arrows: usize,
    /// Whether `select` named an entity the picture does not show.
    selected_missing: bool,
}

/// An entity of the picture, as the page's table lists it.
#[derive(Debug, Clone)]
struct DrawnEntity {
    reference: String,
    label: String,
    kind: String,
    /// Steps from the focus, with the side: "2 → " for a dependency, "← 1" for a dependent.
    distance: String,
    href: String,
    select_href: String,
    on_path: bool,
}

/// The picture around `root` on `snapshot`.
pub async fn picture(snapshot: &Snapshot, root_id: i64, root_ref: &str, options: &GraphOptions) -> Result<GraphPicture, PageError> {
    Ok(draw(snapshot, root_id, root_ref, options, None).await?.0)
}

/// The walks, the plan, the entities drawn (one query), and the picture with its details.
/// `graph_path` is the graph page the "N more" nodes link to (the root's, by default).
async fn draw(
    snapshot: &Snapshot,
    root_id: i64,
    root_ref: &str,
    options: &GraphOptions,
    graph_path: Option<&str>,
) -> Result<(GraphPicture, Details), PageError> {
    let mut walks: Vec<(i32, Walk)> = Vec::new();
    for &(direction, sign) in options.direction.walks() {
        let spec = WalkSpec {
            direction,
            relations: options.relations,
            max_depth: options.depth.clamp(1, MAX_DEPTH),
            max_nodes: WALK_NODE_CAP,
        };
        walks.push((sign, snapshot.walk(root_id, &spec).await?));
    }
    let plan = Plan::new(root_id, root_ref, &walks, options);
    let records = store::read::entities_by_ids(snapshot, &plan.drawn_ids()).await?;
    let facts: HashMap<i64, Facts> = records
        .into_iter()
        .map(|record| {
            (
                record.id,
                Facts {
                    title: record.title,
                    lifecycle: record.lifecycle,
                    tier: record.tier,
                },
            )
        })
        .collect();
    let graph_path = graph_path.map_or_else(|| format!("{}/graph", entity_path(root_ref)), str::to_owned);
    Ok(plan.draw(&facts, options, &graph_path))
}

/// What the picture shows of an entity besides its reference.
#[derive(Debug, Clone, Default)]
struct Facts {
    title: Option<String>,
    lifecycle: Option<String>,
    tier: Option<i16>,
}

/// An entity of the walks, placed in its layer.
#[derive(Debug, Clone)]
struct Placed {
    id: i64,
    reference: String,
    /// Distance from the focus, negative for dependents.
    layer: i32,
    /// The references from the focus to it.
    path: Vec<String>,
}

/// A relation of the walks, between two placed entities (positions in [`Plan::entities`]).
#[derive(Debug, Clone)]
struct Relation {
    source: usize,
    target: usize,
    relation_type: RelationType,
}

/// The picture before it is drawn: where each entity goes, which are folded, and every relation.
#[derive(Debug, Clone)]
struct Plan {
    /// The focus first, then by layer (dependents farthest first) and walk order.
    entities: Vec<Placed>,
    relations: Vec<Relation>,
    /// Per entity: whether it is folded into its level's "more" node.
    folded: Vec<bool>,
    truncated: bool,
    /// The path to the selected entity, when the picture has it.
    selected_path: Option<Vec<String>>,
    selected_missing: bool,
}

impl Plan {
    /// Places the walks' entities (an entity both walks reach goes where it is nearer, the
    /// outgoing side on a tie), keeps every relation once, and folds each level beyond
    /// `options.per_level` (never the selected entity or its path).
    fn new(root_id: i64, root_ref: &str, walks: &[(i32, Walk)], options: &GraphOptions) -> Plan {
        let mut entities = vec![Placed {
            id: root_id,
            reference: root_ref.to_owned(),
            layer: 0,
            path: vec![root_ref.to_owned()],
        }];
        let mut position_of: HashMap<i64, usize> = HashMap::from([(root_id, 0)]);
        for (sign, walk) in walks {
            for node in &walk.nodes {
                let layer = sign * i32::try_from(node.depth).unwrap_or(i32::MAX / 2);
                match position_of.get(&node.id) {
                    Some(&known) if entities[known].layer.abs() <= layer.abs() => {}
                    Some(&known) => {
                        entities[known].layer = layer;
                        entities[known].path = node.path.clone();
                    }
                    None => {
                        position_of.insert(node.id, entities.len());
                        entities.push(Placed {
                            id: node.id,
                            reference: node.entity_ref.clone(),
                            layer,
                            path: node.path.clone(),
                        });
                    }
                }
            }
        }
        // Layer order (stable: walk order within a layer), the focus staying first.
        entities[1..].sort_by_key(|entity| entity.layer);
        let position_of: HashMap<i64, usize> = entities.iter().enumerate().map(|(index, entity)| (entity.id, index)).collect();

        let mut seen: HashSet<(i64, RelationType, i64)> = HashSet::new();
        let mut relations = Vec::new();
        for (_, walk) in walks {
            for edge in &walk.edges {
                if !seen.insert((edge.source_id, edge.relation_type, edge.target_id)) {
                    continue;
                }
                if let (Some(&source), Some(&target)) = (position_of.get(&edge.source_id), position_of.get(&edge.target_id)) {
                    relations.push(Relation {
                        source,
                        target,
                        relation_type: edge.relation_type,
                    });
                }
            }
        }

        let selected_path = options.selected.as_deref().and_then(|selected| {
            entities
                .iter()
                .find(|entity| entity.reference == selected)
                .map(|entity| entity.path.clone())
        });
        let kept_for_path: HashSet<&str> = selected_path.iter().flatten().map(String::as_str).collect();
        let per_level = options.per_level.max(1);
        let mut folded = vec![false; entities.len()];
        let mut by_layer: std::collections::BTreeMap<i32, Vec<usize>> = std::collections::BTreeMap::new();
        for (index, entity) in entities.iter().enumerate().skip(1) {
            by_layer.entry(entity.layer).or_default().push(index);
        }
        for members in by_layer.values() {
            if members.len() <= per_level {
                continue;
            }
            let forced = members
                .iter()
                .filter(|&&index| kept_for_path.contains(entities[index].reference.as_str()))
                .count();
            let mut room = per_level.saturating_sub(forced);
            for &index in members {
                if kept_for_path.contains(entities[index].reference.as_str()) {
                    continue;
                }
                if room > 0 {
                    room -= 1;
                } else {
                    folded[index] = true;
                }
            }
        }
        Plan {
            truncated: walks.iter().any(|(_, walk)| walk.truncated),
            selected_missing: options.selected.is_some() && selected_path.is_none(),
            entities,
            relations,
            folded,
            selected_path,
        }
    }

    /// The ids of the entities drawn in a box of their own.
    fn drawn_ids(&self) -> Vec<i64> {
        self.entities
            .iter()
            .zip(&self.folded)
            .filter(|(_, folded)| !**folded)
            .map(|(entity, _)| entity.id)
            .collect()
    }

    /// The scene, its layout and its SVG.
    fn draw(&self, facts: &HashMap<i64, Facts>, options: &GraphOptions, graph_path: &str) -> (GraphPicture, Details) {
        let no_facts = Facts::default();
        let facts_of = |index: usize| facts.get(&self.entities[index].id).unwrap_or(&no_facts);
        let on_path: HashSet<&str> = self.selected_path.iter().flatten().map(String::as_str).collect();
        let path_steps: HashSet<(&str, &str)> = self
            .selected_path
            .iter()
            .flat_map(|path| {
                path.windows(2)
                    .flat_map(|pair| [(pair[0].as_str(), pair[1].as_str()), (pair[1].as_str(), pair[0].as_str())])
            })
            .collect();
        let selected = self.selected_path.as_ref().and_then(|path| path.last()).map(String::as_str);

        let mut nodes: Vec<svg::Node> = Vec::new();
        let mut node_of: Vec<usize> = vec![0; self.entities.len()];
        let mut more_node: HashMap<i32, usize> = HashMap::new();
        let mut details = Details {
            selected_missing: self.selected_missing,
            ..Details::default()
        };
        let mut kinds: BTreeSet<String> = BTreeSet::new();
        // Entities first (the focus at 0), then one "more" node per folded level.
        for (index, entity) in self.entities.iter().enumerate() {
            if self.folded[index] {
                continue;
            }
            let kind = kind_of(&entity.reference).to_owned();
            let name = entity.reference.split_once(':').map_or(entity.reference.as_str(), |(_, rest)| rest);
            let short_name = match name.split_once('/') {
                Some(("default", name)) => name,
                _ => name,
            };
            let plain_name = name.split_once('/').map_or(name, |(_, name)| name);
            let title = facts_of(index).title.clone().filter(|title| !title.trim().is_empty());
            let label = title.clone().unwrap_or_else(|| plain_name.to_owned());
            let tooltip = match &title {
                Some(title) => format!("{} — {title}", entity.reference),
                None => entity.reference.clone(),
            };
            let href = entity_path(&entity.reference);
            let is_on_path = on_path.contains(entity.reference.as_str());
            details.entities.push(DrawnEntity {
                reference: entity.reference.clone(),
                label: label.clone(),
                kind: kind.clone(),
                distance: match entity.layer {
                    0 => "focus".to_owned(),
                    layer if layer > 0 => format!("{layer} →"),
                    layer => format!("← {}", layer.unsigned_abs()),
                },
                href: href.clone(),
                select_href: format!(
                    "{graph_path}{}",
                    GraphOptions {
                        selected: Some(entity.reference.clone()),
                        ..options.clone()
                    }
                    .query()
                ),
                on_path: is_on_path,
            });
            kinds.insert(kind.clone());
            node_of[index] = nodes.len();
            nodes.push(svg::Node {
                layer: entity.layer,
                reference: Some(entity.reference.clone()),
                label,
                caption: format!("{kind} · {short_name}"),
                tooltip,
                href,
                kind,
                focus: index == 0,
                selected: selected == Some(entity.reference.as_str()),
                on_path: is_on_path,
                folded: 0,
                path: entity.path.clone(),
            });
        }
        let mut folded_per_layer: std::collections::BTreeMap<i32, usize> = std::collections::BTreeMap::new();
        for (index, entity) in self.entities.iter().enumerate() {
            if self.folded[index] {
                *folded_per_layer.entry(entity.layer).or_default() += 1;
            }
        }
        for (&layer, &count) in &folded_per_layer {
            let larger = options.per_level.saturating_add(count).min(MAX_PER_LEVEL);
            let side = if layer > 0 { "dependencies" } else { "dependents" };
            more_node.insert(layer, nodes.len());
            let href = format!(
                "{graph_path}{}",
                GraphOptions {
                    per_level: larger,
                    ..options.clone()
                }
                .query()
            );
            nodes.push(svg::Node {
                layer,
                reference: None,
                label: format!("{count} more"),
                caption: format!("show up to {larger} per level"),
                tooltip: format!(
                    "{count} more {side} {} step{} away: open the graph with up to {larger} per level",
                    layer.unsigned_abs(),
                    if layer.unsigned_abs() == 1 { "" } else { "s" }
                ),
                href,
                kind: "more".to_owned(),
                folded: count,
                ..svg::Node::default()
            });
        }
        for (index, entity) in self.entities.iter().enumerate() {
            if self.folded[index] {
                node_of[index] = more_node.get(&entity.layer).copied().unwrap_or(0);
            }
        }

        // Every relation: alone between two drawn entities, or counted into a folded arrow.
        let mut edges: Vec<svg::Edge> = Vec::new();
        let mut folded_edge: HashMap<(usize, usize, RelationType), usize> = HashMap::new();
        for relation in &self.relations {
            let (source, target) = (node_of[relation.source], node_of[relation.target]);
            if self.folded[relation.source] || self.folded[relation.target] {
                match folded_edge.get(&(source, target, relation.relation_type)) {
                    Some(&edge) => edges[edge].count += 1,
                    None => {
                        folded_edge.insert((source, target, relation.relation_type), edges.len());
                        edges.push(svg::Edge {
                            source,
                            target,
                            relation: relation.relation_type.as_str().to_owned(),
                            count: 1,
                            folded: true,
                            reversed: !points_outward(relation.relation_type),
                            ..svg::Edge::default()
                        });
                    }
                }
                continue;
            }
            let (source_ref, target_ref) = (
                self.entities[relation.source].reference.as_str(),
                self.entities[relation.target].reference.as_str(),
            );
            let risk = is_dependency(relation.relation_type)
                .then(|| {
                    let (dependent, dependency) = if points_outward(relation.relation_type) {
                        (relation.source, relation.target)
                    } else {
                        (relation.target, relation.source)
                    };
                    dependency_risk(
                        &self.entities[dependent].reference,
                        facts_of(dependent).lifecycle.as_deref(),
                        facts_of(dependent).tier,
                        &self.entities[dependency].reference,
                        facts_of(dependency).lifecycle.as_deref(),
                    )
                })
                .flatten()
                .map(|risk| risk.reason);
            edges.push(svg::Edge {
                source,
                target,
                relation: relation.relation_type.as_str().to_owned(),
                count: 1,
                folded: false,
                reversed: !points_outward(relation.relation_type),
                risk,
                on_path: path_steps.contains(&(source_ref, target_ref)),
            });
        }

        let geometry = layout::Geometry::default();
        let layers: Vec<i32> = nodes.iter().map(|node| node.layer).collect();
        // Routes run the way arrows point: from what depends to what it depends on.
        let pairs: Vec<(usize, usize)> = edges
            .iter()
            .map(|edge| {
                if edge.reversed {
                    (edge.target, edge.source)
                } else {
                    (edge.source, edge.target)
                }
            })
            .collect();
        let laid_out = layout::layered(&layers, &pairs, &geometry);
        tracing::debug!(
            boxes = laid_out.boxes.len(),
            arrows = pairs.len(),
            crossings = laid_out.crossings,
            "graph picture laid out"
        );
        let root_ref = &self.entities[0].reference;
        let scene = svg::Scene {
            title: format!("Dependency graph of {root_ref}"),
            note: self
                .truncated
                .then(|| format!("The walk stopped at {WALK_NODE_CAP} entities each way: more are reachable than this picture shows.")),
            nodes,
            edges,
        };
        let collapsed = self.folded.iter().filter(|folded| **folded).count();
        details.kinds = kinds.into_iter().collect();
        details.arrows = scene.edges.len();
        let picture = GraphPicture {
            svg: svg::write(&scene, &laid_out, &geometry),
            nodes: self.entities.len() - collapsed,
            edges: self.relations.len(),
            collapsed,
            truncated: self.truncated,
        };
        (picture, details)
    }
}

/// Whether a relation type is of the dependency family (where risk is judged).
fn is_dependency(relation_type: RelationType) -> bool {
    RelationSet::dependencies().contains(relation_type)
}

/// A choice of the options form.
#[derive(Debug, Clone)]
struct Choice {
    value: String,
    label: String,
    chosen: bool,
}

#[derive(Template)]
#[template(path = "graph.html")]
struct GraphPage {
    chrome: Chrome,
    /// The focus's title, else its name.
    display_name: String,
    entity_ref: String,
    entity_href: String,
    graph_href: String,
    svg_href: String,
    picture: GraphPicture,
    details: Details,
    directions: Vec<Choice>,
    depths: Vec<Choice>,
    relations: Vec<Choice>,
    per_level: usize,
    max_per_level: usize,
    selected: Option<String>,
    clear_selection_href: String,
    walk_cap: usize,
}

/// The entity a graph URL names, as (id, canonical reference); not found when the catalog has none.
async fn find_entity(snapshot: &Snapshot, kind: &str, namespace: &str, name: &str) -> Result<(i64, String), PageError> {
    let entity_ref = format!("{kind}:{namespace}/{name}").to_ascii_lowercase();
    match snapshot.entity_id(&entity_ref).await {
        Ok(id) => Ok((id, entity_ref)),
        Err(StoreError::NotFound(_)) => Err(PageError::NotFound(format!("There is no entity {entity_ref} in the catalog."))),
        Err(error) => Err(error.into()),
    }
}

/// `GET /entity/{kind}/{namespace}/{name}/graph`: the options form, the picture, its legend and
/// figures, and the entities drawn (each with a link that emphasises its path).
pub async fn page(
    State(dashboard): State<Dashboard>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let params = Params::parse(query.as_deref());
    let options = GraphOptions::from_params(&params);
    let snapshot = dashboard.store().snapshot();
    let (root_id, root_ref) = find_entity(&snapshot, &kind, &namespace, &name).await?;
    let graph_href = format!("{}/graph", entity_path(&root_ref));
    let (picture, details) = draw(&snapshot, root_id, &root_ref, &options, Some(&graph_href)).await?;
    let display_name = details
        .entities
        .first()
        .map_or_else(|| root_ref.clone(), |focus| focus.label.clone());
    let page = GraphPage {
        chrome: Chrome::new(format!("Graph of {display_name}"), ""),
        entity_href: entity_path(&root_ref),
        svg_href: format!("{}/graph.svg{}", entity_path(&root_ref), options.query()),
        clear_selection_href: format!(
            "{graph_href}{}",
            GraphOptions {
                selected: None,
                ..options.clone()
            }
            .query()
        ),
        graph_href,
        display_name,
        entity_ref: root_ref,
        directions: GraphDirection::ALL
            .into_iter()
            .map(|direction| Choice {
                value: direction.as_str().to_owned(),
                label: direction.describe().to_owned(),
                chosen: direction == options.direction,
            })
            .collect(),
        depths: (1..=MAX_DEPTH)
            .map(|depth| Choice {
                value: depth.to_string(),
                label: depth.to_string(),
                chosen: depth == options.depth,
            })
            .collect(),
        relations: relation_pairs()
            .map(|relation_type| Choice {
                value: relation_type.as_str().to_owned(),
                label: format!("{} / {}", relation_type.as_str(), relation_type.inverse().as_str()),
                chosen: options.relations.contains(relation_type),
            })
            .collect(),
        per_level: options.per_level,
        max_per_level: MAX_PER_LEVEL,
        selected: options.selected.clone(),
        walk_cap: WALK_NODE_CAP,
        picture,
        details,
    };
    render(&page)
}

/// `GET /entity/{kind}/{namespace}/{name}/graph.svg`: the picture alone (`image/svg+xml`), with
/// the dashboard's stylesheet linked so that it shows in colour when opened on its own.
pub async fn svg(State(dashboard): State<Dashboard>, path: Path<(String, String, String)>, query: RawQuery) -> PageResult {
    let Path((kind, namespace, name)) = path;
    let RawQuery(query) = query;
    let options = GraphOptions::from_params(&Params::parse(query.as_deref()));
    let snapshot = dashboard.store().snapshot();
    let (root_id, root_ref) = find_entity(&snapshot, &kind, &namespace, &name).await?;
    let (picture, _) = draw(&snapshot, root_id, &root_ref, &options, None).await?;
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?xml-stylesheet href=\"/static/sextant.css\" type=\"text/css\"?>\n{}\n",
        picture.svg
    );
    Ok(([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{GraphEdge, WalkNode};

    fn node(id: i64, entity_ref: &str, depth: u32, path: &[&str]) -> WalkNode {
        WalkNode {
            id,
            entity_ref: entity_ref.to_owned(),
            depth,
            path: path.iter().map(|step| (*step).to_owned()).collect(),
        }
    }

    fn edge(source: (i64, &str), relation_type: RelationType, target: (i64, &str)) -> GraphEdge {
        GraphEdge {
            source_id: source.0,
            source_ref: source.1.to_owned(),
            relation_type,
            target_id: target.0,
            target_ref: target.1.to_owned(),
        }
    }

    const HUB: &str = "component:default/hub";

    /// A hub with `count` dependents (each `dependsOn` it) and one dependency.
    fn hub_walks(count: i64) -> Vec<(i32, Walk)> {
        let dependents: Vec<String> = (0..count).map(|index| format!("component:default/client-{index:03}")).collect();
        let incoming = Walk {
            root_id: 0,
            root_ref: HUB.to_owned(),
            nodes: dependents
                .iter()
                .enumerate()
                .map(|(index, reference)| node(index as i64 + 1, reference, 1, &[HUB, reference]))
                .collect(),
            edges: dependents
                .iter()
                .enumerate()
                .map(|(index, reference)| edge((index as i64 + 1, reference), RelationType::DependsOn, (0, HUB)))
                .collect(),
            truncated: false,
        };
        let outgoing = Walk {
            root_id: 0,
            root_ref: HUB.to_owned(),
            nodes: vec![node(9999, "resource:default/db", 1, &[HUB, "resource:default/db"])],
            edges: vec![edge((0, HUB), RelationType::DependsOn, (9999, "resource:default/db"))],
            truncated: false,
        };
        vec![(1, outgoing), (-1, incoming)]
    }

    fn options(per_level: usize) -> GraphOptions {
        GraphOptions {
            direction: GraphDirection::Both,
            depth: 2,
            relations: RelationSet::dependencies(),
            per_level,
            selected: None,
        }
    }

    /// Each `g.edge`: (data-source, data-target, data-type, data-count).
    fn drawn_edges(svg: &str) -> Vec<(String, String, String, Option<usize>)> {
        svg::tests::parse(svg)
            .iter()
            .filter(|element| element.name == "g" && element.has_class("edge"))
            .map(|element| {
                (
                    element.attribute("data-source").unwrap_or_default().to_owned(),
                    element.attribute("data-target").unwrap_or_default().to_owned(),
                    element.attribute("data-type").unwrap_or_default().to_owned(),
                    element.attribute("data-count").and_then(|count| count.parse().ok()),
                )
            })
            .collect()
    }

    #[test]
    fn a_hub_with_a_hundred_dependents_shows_twelve_and_one_node_for_88_more() {
        let walks = hub_walks(100);
        let plan = Plan::new(0, HUB, &walks, &options(12));
        let (picture, details) = plan.draw(&HashMap::new(), &options(12), "/entity/component/default/hub/graph");
        let elements = svg::tests::parse(&picture.svg);
        let dependents: Vec<_> = elements
            .iter()
            .filter(|element| element.has_class("node") && element.attribute("data-ref").is_some_and(|r| r.contains("client-")))
            .collect();
        assert_eq!(dependents.len(), 12);
        let more: Vec<_> = elements.iter().filter(|element| element.has_class("more")).collect();
        assert_eq!(more.len(), 1);
        assert_eq!(more[0].attribute("data-count"), Some("88"));
        assert_eq!(more[0].attribute("data-more"), Some("-1"));
        let more_text: Vec<&str> = elements
            .iter()
            .filter(|element| element.name == "text" && element.has_class("label"))
            .map(|element| element.text.as_str())
            .collect();
        assert!(more_text.contains(&"88 more"), "{more_text:?}");
        // Its link opens this graph with a larger cap, the other options kept.
        let link = elements
            .iter()
            .find(|element| element.name == "a" && element.parent == Some(more[0].index))
            .and_then(|link| link.attribute("href"))
            .unwrap_or_default();
        assert!(
            link.starts_with("/entity/component/default/hub/graph?direction=both&depth=2"),
            "{link}"
        );
        assert!(link.contains("per_level=100"), "{link}");

        let edges = drawn_edges(&picture.svg);
        let folded: Vec<_> = edges.iter().filter(|edge| edge.0 == "more:-1").collect();
        assert_eq!(folded.len(), 1, "{edges:?}");
        assert_eq!(
            (folded[0].1.as_str(), folded[0].2.as_str(), folded[0].3),
            (HUB, "dependsOn", Some(88))
        );
        // Every relation is drawn: 12 alone, 88 in the folded arrow, the hub's own dependency.
        let total: usize = edges.iter().map(|edge| edge.3.unwrap_or(1)).sum();
        assert_eq!(total, 101);
        assert_eq!(
            (picture.nodes, picture.edges, picture.collapsed, picture.truncated),
            (14, 101, 88, false)
        );
        assert_eq!(details.arrows, 14);
    }

    #[test]
    fn the_selected_entity_and_its_path_are_never_folded_and_are_emphasised() {
        let mut walks = hub_walks(100);
        // client-050 has a dependent of its own, two steps from the hub.
        let far = "component:default/far";
        let client = "component:default/client-050";
        walks[1].1.nodes.push(node(5000, far, 2, &[HUB, client, far]));
        walks[1].1.edges.push(edge((5000, far), RelationType::DependsOn, (51, client)));
        let mut chosen = options(12);
        chosen.selected = Some(far.to_owned());
        let plan = Plan::new(0, HUB, &walks, &chosen);
        let (picture, _) = plan.draw(&HashMap::new(), &chosen, "/g");
        let elements = svg::tests::parse(&picture.svg);
        let on_path: BTreeSet<&str> = elements
            .iter()
            .filter(|element| element.has_class("node") && element.has_class("on-path"))
            .filter_map(|element| element.attribute("data-ref"))
            .collect();
        assert_eq!(on_path, BTreeSet::from([HUB, client, far]));
        let selected: Vec<_> = elements.iter().filter(|element| element.has_class("selected")).collect();
        assert_eq!(selected.len(), 1);
        assert_eq!(
            selected[0].attribute("data-path"),
            Some("component:default/hub component:default/client-050 component:default/far")
        );
        let emphasised: BTreeSet<(&str, &str)> = elements
            .iter()
            .filter(|element| element.has_class("edge") && element.has_class("on-path"))
            .map(|element| {
                (
                    element.attribute("data-source").unwrap_or_default(),
                    element.attribute("data-target").unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(emphasised, BTreeSet::from([(client, HUB), (far, client)]));
        // Still 12 on the first level (the path's entity among them), 88 folded.
        let more = elements
            .iter()
            .find(|element| element.has_class("more"))
            .map(|element| element.attribute("data-count"));
        assert_eq!(more, Some(Some("88")));
    }

    #[test]
    fn an_entity_both_walks_reach_is_drawn_once_and_every_relation_once() {
        let a = "component:default/a";
        let b = "component:default/b";
        // A cycle: the focus depends on a, a on b, b on the focus.
        let outgoing = Walk {
            root_id: 0,
            root_ref: HUB.to_owned(),
            nodes: vec![node(1, a, 1, &[HUB, a]), node(2, b, 2, &[HUB, a, b])],
            edges: vec![
                edge((0, HUB), RelationType::DependsOn, (1, a)),
                edge((1, a), RelationType::DependsOn, (2, b)),
                edge((2, b), RelationType::DependsOn, (0, HUB)),
            ],
            truncated: false,
        };
        let incoming = Walk {
            root_id: 0,
            root_ref: HUB.to_owned(),
            nodes: vec![node(2, b, 1, &[HUB, b]), node(1, a, 2, &[HUB, b, a])],
            edges: outgoing.edges.clone(),
            truncated: true,
        };
        let plan = Plan::new(0, HUB, &[(1, outgoing), (-1, incoming)], &options(25));
        let layers: Vec<(&str, i32)> = plan
            .entities
            .iter()
            .map(|entity| (entity.reference.as_str(), entity.layer))
            .collect();
        assert_eq!(layers, [(HUB, 0), (b, -1), (a, 1)]);
        let (picture, _) = plan.draw(&HashMap::new(), &options(25), "/g");
        let mut edges = drawn_edges(&picture.svg);
        edges.sort();
        assert_eq!(edges.len(), 3);
        assert!(edges.iter().all(|edge| edge.2 == "dependsOn" && edge.3.is_none()));
        assert!(picture.truncated);
        assert!(picture.svg.contains("class=\"graph-note\""));
    }

    #[test]
    fn arrows_point_from_the_dependent_whichever_way_the_relation_was_declared() {
        let library = "component:default/library";
        let api = "api:default/hub-api";
        // The hub depends on the library (declared by the library) and provides an API (which
        // depends on the hub): the library is drawn right of the hub, the API left of it.
        let outgoing = Walk {
            root_id: 0,
            root_ref: HUB.to_owned(),
            nodes: vec![node(1, library, 1, &[HUB, library])],
            edges: vec![edge((1, library), RelationType::DependencyOf, (0, HUB))],
            truncated: false,
        };
        let incoming = Walk {
            root_id: 0,
            root_ref: HUB.to_owned(),
            nodes: vec![node(2, api, 1, &[HUB, api])],
            edges: vec![edge((0, HUB), RelationType::ProvidesApi, (2, api))],
            truncated: false,
        };
        let plan = Plan::new(0, HUB, &[(1, outgoing), (-1, incoming)], &options(12));
        let (picture, _) = plan.draw(&HashMap::new(), &options(12), "/g");
        let elements = svg::tests::parse(&picture.svg);
        for (source, relation) in [(library, "dependencyOf"), (HUB, "providesApi")] {
            let group = elements
                .iter()
                .find(|element| element.attribute("data-source") == Some(source) && element.attribute("data-type") == Some(relation))
                .unwrap_or_else(|| panic!("the {relation} edge is drawn"));
            let data = elements
                .iter()
                .find(|element| element.name == "path" && element.parent == Some(group.index))
                .and_then(|path| path.attribute("d"))
                .unwrap_or_default();
            let xs: Vec<f64> = data
                .split([' ', ','])
                .filter_map(|part| part.trim_start_matches(['M', 'C', 'L']).parse().ok())
                .step_by(2)
                .collect();
            // Drawn left to right: from what depends to what it depends on.
            assert!(xs.first() < xs.last(), "{relation}: {data}");
        }
    }

    #[test]
    fn risky_dependencies_are_marked() {
        let walks = hub_walks(2);
        let facts = HashMap::from([
            (
                1,
                Facts {
                    title: Some("Client".to_owned()),
                    lifecycle: Some("production".to_owned()),
                    tier: None,
                },
            ),
            (
                0,
                Facts {
                    title: None,
                    lifecycle: Some("deprecated".to_owned()),
                    tier: None,
                },
            ),
        ]);
        let plan = Plan::new(0, HUB, &walks, &options(12));
        let (picture, _) = plan.draw(&facts, &options(12), "/g");
        let elements = svg::tests::parse(&picture.svg);
        let risky: Vec<&str> = elements
            .iter()
            .filter(|element| element.has_class("edge") && element.has_class("risky"))
            .filter_map(|element| element.attribute("data-source"))
            .collect();
        assert_eq!(risky, ["component:default/client-000"]);
    }

    #[test]
    fn options_round_trip_through_the_url_and_bad_values_take_defaults() {
        let params = Params::parse(Some(
            "direction=incoming&depth=3&relation=partOf&relation=dependencyOf&relation=nonsense&per_level=7&select=Component:Default/X",
        ));
        let options = GraphOptions::from_params(&params);
        assert_eq!(options.direction, GraphDirection::Incoming);
        assert_eq!(options.depth, 3);
        assert!(options.relations.contains(RelationType::DependsOn) && options.relations.contains(RelationType::HasPart));
        assert!(!options.relations.contains(RelationType::ConsumesApi));
        assert_eq!(options.per_level, 7);
        assert_eq!(options.selected.as_deref(), Some("component:default/x"));
        assert_eq!(
            options.query(),
            "?direction=incoming&depth=3&relation=partOf&relation=dependsOn&per_level=7&select=component%3Adefault%2Fx"
        );
        let again = GraphOptions::from_params(&Params::parse(options.query().strip_prefix('?')));
        assert_eq!(again.query(), options.query());

        let defaults = GraphOptions::from_params(&Params::parse(Some("direction=sideways&depth=9&per_level=0")));
        assert_eq!(defaults.direction, GraphDirection::Both);
        assert_eq!(defaults.depth, 2);
        assert_eq!(defaults.per_level, DEFAULT_PER_LEVEL);
        assert_eq!(defaults.relations, RelationSet::dependencies());
    }
}
