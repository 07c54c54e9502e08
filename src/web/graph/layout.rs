//! A layered (Sugiyama-style) layout for the dependency graph picture: pure functions, no IO.
//!
//! Why our own layout rather than a crate or Graphviz: the picture's layers are fixed by meaning
//! (a node's layer is its distance from the focused entity: dependents to the left, dependencies
//! to the right), which general layered layouts do not let the caller impose; and the SVG needs
//! the bend points of every long edge, so that edges run between the boxes of the layers they
//! cross instead of through them. Graphviz is optional and not used: the pure-Rust path is the
//! only one, so the picture is the same on every machine.
//!
//! The steps, each bounded by the number of nodes and edges given (the caller caps both):
//! 1. every edge becomes a chain through one dummy node per layer it crosses; an edge between
//!    two nodes of one layer (or a node and itself) loops out through a dummy in the next layer
//!    away from layer 0, so it never runs along its own layer;
//! 2. each layer is ordered by barycenter sweeps (left to right, then right to left, a fixed
//!    number of times), keeping the order with the fewest crossings seen;
//! 3. vertical positions: each item is pulled towards the mean position of its neighbours while
//!    the layer's order and minimum gaps are kept (an isotonic regression per layer);
//! 4. every edge's route: the port on its source box, the two sides of each dummy's slot (a
//!    horizontal run through the layer's column, in the gap the dummy reserved), the port on its
//!    target box. Between columns there are no boxes, so no route crosses a box.

use std::cmp::Ordering;
use std::collections::HashMap;

/// Sizes of the drawing, in SVG user units.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    /// Width of every node box (labels are truncated to fit it).
    pub node_width: f64,
    pub node_height: f64,
    /// Horizontal gap between two layers' columns (where edges bend).
    pub layer_gap: f64,
    /// Vertical gap between two boxes of a layer.
    pub row_gap: f64,
    /// Vertical gap between an edge passing through a layer and its neighbours there.
    pub lane_gap: f64,
    /// Space around the drawing.
    pub margin: f64,
}

impl Default for Geometry {
    fn default() -> Geometry {
        Geometry {
            node_width: 196.0,
            node_height: 42.0,
            layer_gap: 88.0,
            row_gap: 14.0,
            lane_gap: 9.0,
            margin: 24.0,
        }
    }
}

/// A point of the drawing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// A node's box (top-left corner and size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    /// Whether `point` is strictly inside (not on the border).
    #[cfg(test)]
    pub fn contains_strictly(&self, point: Point) -> bool {
        point.x > self.x && point.x < self.x + self.width && point.y > self.y && point.y < self.y + self.height
    }

    /// Whether the two rectangles share any area.
    #[cfg(test)]
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.x + other.width && other.x < self.x + self.width && self.y < other.y + other.height && other.y < self.y + self.height
    }
}

/// The laid-out picture: a box per node (in the order given), a route per edge (in the order
/// given, from its source to its target), and the drawing's size.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub boxes: Vec<Rect>,
    /// Each edge's points: the source port, the bend points through its dummies, the target port.
    pub routes: Vec<Vec<Point>>,
    pub width: f64,
    pub height: f64,
    /// Edge crossings between adjacent layers in the order chosen.
    pub crossings: usize,
}

/// How many barycenter sweeps order the layers (each a left-to-right or right-to-left pass).
const ORDER_SWEEPS: usize = 12;
/// How many passes place items vertically.
const PLACEMENT_PASSES: usize = 8;

/// One item of a layer: a node given by the caller, or a dummy of an edge's chain.
#[derive(Debug, Clone)]
struct Item {
    /// Index into the layers (0 = the leftmost).
    layer: usize,
    dummy: bool,
    /// Neighbours in the layer to the left and to the right (through chain segments).
    left: Vec<usize>,
    right: Vec<usize>,
}

/// Lays out nodes whose layers are fixed (`layers[node]`, any integers; 0 is the focus) and
/// directed edges `(source, target)` between them. Edges naming a node that does not exist are
/// given an empty route.
pub fn layered(layers: &[i32], edges: &[(usize, usize)], geometry: &Geometry) -> Layout {
    let Some(&lowest_given) = layers.iter().min() else {
        return Layout {
            routes: vec![Vec::new(); edges.len()],
            ..Layout::default()
        };
    };
    let highest_given = layers.iter().copied().max().unwrap_or(lowest_given);
    // A same-layer edge loops out away from layer 0, which may need one layer more on a side.
    let outward = |layer: i32| if layer >= 0 { layer + 1 } else { layer - 1 };
    let mut lowest = lowest_given;
    let mut highest = highest_given;
    for &(source, target) in edges {
        if let (Some(&source_layer), Some(&target_layer)) = (layers.get(source), layers.get(target))
            && source_layer == target_layer
        {
            lowest = lowest.min(outward(source_layer));
            highest = highest.max(outward(source_layer));
        }
    }
    let layer_count = usize::try_from(i64::from(highest) - i64::from(lowest) + 1).unwrap_or(1);
    let index_of = |layer: i32| usize::try_from(i64::from(layer) - i64::from(lowest)).unwrap_or(0);

    let mut items: Vec<Item> = layers
        .iter()
        .map(|&layer| Item {
            layer: index_of(layer),
            dummy: false,
            left: Vec::new(),
            right: Vec::new(),
        })
        .collect();
    // Each edge's chain of items, from its source to its target.
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    for &(source, target) in edges {
        let (Some(&source_layer), Some(&target_layer)) = (layers.get(source), layers.get(target)) else {
            chains.push(Vec::new());
            continue;
        };
        let mut chain = vec![source];
        let mut add_dummy = |layer: i32, chain: &mut Vec<usize>| {
            items.push(Item {
                layer: index_of(layer),
                dummy: true,
                left: Vec::new(),
                right: Vec::new(),
            });
            chain.push(items.len() - 1);
        };
        match source_layer.cmp(&target_layer) {
            Ordering::Less => (source_layer + 1..target_layer).for_each(|layer| add_dummy(layer, &mut chain)),
            Ordering::Greater => (target_layer + 1..source_layer)
                .rev()
                .for_each(|layer| add_dummy(layer, &mut chain)),
            Ordering::Equal => add_dummy(outward(source_layer), &mut chain),
        }
        chain.push(target);
        chains.push(chain);
    }
    for chain in &chains {
        for pair in chain.windows(2) {
            let (from, to) = (pair[0], pair[1]);
            if items[from].layer < items[to].layer {
                items[from].right.push(to);
                items[to].left.push(from);
            } else {
                items[from].left.push(to);
                items[to].right.push(from);
            }
        }
    }

    let mut order: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for (index, item) in items.iter().enumerate() {
        order[item.layer].push(index);
    }
    let crossings = order_layers(&items, &mut order);
    let centres = place_vertically(&items, &order, geometry);

    // A column is as wide as a box, except one that only holds the turns of loops (a layer
    // added for same-layer edges): those turn at its near edge and need no width.
    let mut column_width = vec![0.0; layer_count];
    for (index, item) in items.iter().enumerate() {
        let turns_here = item.dummy && (item.left.is_empty() || item.right.is_empty());
        if !turns_here || index < layers.len() {
            column_width[item.layer] = geometry.node_width;
        }
    }
    let mut column_lefts = Vec::with_capacity(layer_count);
    let mut next_left = geometry.margin;
    for width in &column_width {
        column_lefts.push(next_left);
        next_left += width + geometry.layer_gap;
    }
    let column_left = |layer: usize| column_lefts.get(layer).copied().unwrap_or(geometry.margin);
    let column_right = |layer: usize| column_left(layer) + column_width.get(layer).copied().unwrap_or(0.0);
    let top = order
        .iter()
        .flatten()
        .map(|&item| centres[item] - item_height(&items[item], geometry) / 2.0)
        .fold(f64::INFINITY, f64::min);
    let shift = if top.is_finite() { geometry.margin - top } else { 0.0 };
    let centre_of = |item: usize| centres[item] + shift;

    let boxes: Vec<Rect> = (0..layers.len())
        .map(|node| Rect {
            x: column_left(items[node].layer),
            y: centre_of(node) - geometry.node_height / 2.0,
            width: geometry.node_width,
            height: geometry.node_height,
        })
        .collect();
    let ports = Ports::spread(&items, &chains, &boxes, &centre_of);

    let routes: Vec<Vec<Point>> = chains
        .iter()
        .enumerate()
        .map(|(edge, chain)| {
            if chain.len() < 2 {
                return Vec::new();
            }
            let mut points = Vec::with_capacity(chain.len() * 2);
            points.push(ports.at(edge, true));
            for position in 1..chain.len() - 1 {
                let item = chain[position];
                let layer = items[item].layer;
                let (left, right) = (column_left(layer), column_right(layer));
                let y = centre_of(item);
                let came_from_left = items[chain[position - 1]].layer < layer;
                let goes_right = items[chain[position + 1]].layer > layer;
                match (came_from_left, goes_right) {
                    (true, true) => points.extend([Point { x: left, y }, Point { x: right, y }]),
                    (false, false) => points.extend([Point { x: right, y }, Point { x: left, y }]),
                    // A loop out of a layer turns in the slot its dummy reserved.
                    (true, false) => points.push(Point { x: left, y }),
                    (false, true) => points.push(Point { x: right, y }),
                }
            }
            points.push(ports.at(edge, false));
            points
        })
        .collect();

    let bottom = order
        .iter()
        .flatten()
        .map(|&item| centre_of(item) + item_height(&items[item], geometry) / 2.0)
        .fold(0.0, f64::max);
    Layout {
        boxes,
        routes,
        width: column_right(layer_count.saturating_sub(1)) + geometry.margin,
        height: bottom + geometry.margin,
        crossings,
    }
}

/// The height an item takes in its layer: a box, or a lane for an edge passing through.
fn item_height(item: &Item, geometry: &Geometry) -> f64 {
    if item.dummy { 0.0 } else { geometry.node_height }
}

/// Where each edge leaves its source and enters its target: on the side of the box facing the
/// next item of its chain, spread along the side in the order of the other ends' heights so
/// that edges leaving one box do not start on top of each other.
struct Ports {
    /// Per edge: (source port, target port).
    ends: Vec<(Point, Point)>,
}

/// A side of a node's box: (node, the right side?).
type Side = (usize, bool);
/// An edge attached to a side: (the other end's height, edge, whether this is the source end).
type Attachment = (f64, usize, bool);

impl Ports {
    fn spread(items: &[Item], chains: &[Vec<usize>], boxes: &[Rect], centre_of: &dyn Fn(usize) -> f64) -> Ports {
        let mut attached: HashMap<Side, Vec<Attachment>> = HashMap::new();
        for (edge, chain) in chains.iter().enumerate() {
            if chain.len() < 2 {
                continue;
            }
            let ends = [(chain[0], chain[1], true), (chain[chain.len() - 1], chain[chain.len() - 2], false)];
            for (node, next, is_source) in ends {
                let right_side = items[next].layer > items[node].layer;
                attached
                    .entry((node, right_side))
                    .or_default()
                    .push((centre_of(next), edge, is_source));
            }
        }
        let mut ends = vec![(Point { x: 0.0, y: 0.0 }, Point { x: 0.0, y: 0.0 }); chains.len()];
        for ((node, right_side), mut list) in attached {
            let Some(rect) = boxes.get(node) else { continue };
            list.sort_by(|left, right| left.0.total_cmp(&right.0).then(left.1.cmp(&right.1)));
            let x = if right_side { rect.x + rect.width } else { rect.x };
            let span = rect.height * 0.6;
            let count = list.len();
            for (position, (_, edge, is_source)) in list.into_iter().enumerate() {
                let y = if count == 1 {
                    rect.y + rect.height / 2.0
                } else {
                    rect.y + (rect.height - span) / 2.0 + span * position as f64 / (count - 1) as f64
                };
                if is_source {
                    ends[edge].0 = Point { x, y };
                } else {
                    ends[edge].1 = Point { x, y };
                }
            }
        }
        Ports { ends }
    }

    fn at(&self, edge: usize, source: bool) -> Point {
        let (from, to) = self.ends[edge];
        if source { from } else { to }
    }
}

/// Orders every layer by barycenter sweeps and returns the crossings of the order kept.
fn order_layers(items: &[Item], order: &mut [Vec<usize>]) -> usize {
    let mut position = vec![0usize; items.len()];
    let update_positions = |order: &[Vec<usize>], position: &mut Vec<usize>| {
        for layer in order {
            for (index, &item) in layer.iter().enumerate() {
                position[item] = index;
            }
        }
    };
    update_positions(order, &mut position);
    let mut best = order.to_vec();
    let mut best_crossings = count_crossings(items, order, &position);
    for sweep in 0..ORDER_SWEEPS {
        if best_crossings == 0 {
            break;
        }
        let rightwards = sweep % 2 == 0;
        let layers: Vec<usize> = if rightwards {
            (1..order.len()).collect()
        } else {
            (0..order.len().saturating_sub(1)).rev().collect()
        };
        for layer in layers {
            let mut keyed: Vec<(f64, usize)> = order[layer]
                .iter()
                .map(|&item| {
                    let neighbours = if rightwards { &items[item].left } else { &items[item].right };
                    let key = if neighbours.is_empty() {
                        position[item] as f64
                    } else {
                        neighbours.iter().map(|&neighbour| position[neighbour] as f64).sum::<f64>() / neighbours.len() as f64
                    };
                    (key, item)
                })
                .collect();
            // Stable: ties keep their current order.
            keyed.sort_by(|left, right| left.0.total_cmp(&right.0));
            order[layer] = keyed.into_iter().map(|(_, item)| item).collect();
            for (index, &item) in order[layer].iter().enumerate() {
                position[item] = index;
            }
        }
        let crossings = count_crossings(items, order, &position);
        if crossings < best_crossings {
            best_crossings = crossings;
            best = order.to_vec();
        }
    }
    order.clone_from_slice(&best);
    best_crossings
}

/// Crossings between every pair of adjacent layers: pairs of segments whose ends are in opposite
/// orders (counted as inversions, O(segments · log segments) per pair of layers).
fn count_crossings(items: &[Item], order: &[Vec<usize>], position: &[usize]) -> usize {
    let mut total = 0;
    for layer in order.iter().take(order.len().saturating_sub(1)) {
        let mut segments: Vec<(usize, usize)> = layer
            .iter()
            .flat_map(|&item| items[item].right.iter().map(move |&right| (position[item], position[right])))
            .collect();
        segments.sort_unstable();
        let mut ends: Vec<usize> = segments.into_iter().map(|(_, right)| right).collect();
        total += inversions(&mut ends);
    }
    total
}

/// The pairs `i < j` with `values[i] > values[j]` (merge sort; sorts `values`).
fn inversions(values: &mut [usize]) -> usize {
    if values.len() < 2 {
        return 0;
    }
    let middle = values.len() / 2;
    let mut count = inversions(&mut values[..middle]) + inversions(&mut values[middle..]);
    let mut merged = Vec::with_capacity(values.len());
    let (mut left, mut right) = (0, middle);
    while left < middle && right < values.len() {
        if values[right] < values[left] {
            count += middle - left;
            merged.push(values[right]);
            right += 1;
        } else {
            merged.push(values[left]);
            left += 1;
        }
    }
    merged.extend_from_slice(&values[left..middle]);
    merged.extend_from_slice(&values[right..]);
    values.copy_from_slice(&merged);
    count
}

/// The vertical centre of every item: each layer's items keep their order and their minimum
/// gaps, and are pulled towards the mean height of their neighbours (alternately those to the
/// left and to the right, then both).
fn place_vertically(items: &[Item], order: &[Vec<usize>], geometry: &Geometry) -> Vec<f64> {
    let gap_between = |upper: usize, lower: usize| {
        let (upper, lower) = (&items[upper], &items[lower]);
        let gap = if upper.dummy || lower.dummy {
            geometry.lane_gap
        } else {
            geometry.row_gap
        };
        (item_height(upper, geometry) + item_height(lower, geometry)) / 2.0 + gap
    };
    let mut centre = vec![0.0; items.len()];
    // Stacked, each layer centred on the tallest.
    let extents: Vec<f64> = order
        .iter()
        .map(|layer| layer.windows(2).map(|pair| gap_between(pair[0], pair[1])).sum())
        .collect();
    let tallest = extents.iter().copied().fold(0.0, f64::max);
    for (layer, extent) in order.iter().zip(&extents) {
        let mut y = (tallest - extent) / 2.0;
        for (index, &item) in layer.iter().enumerate() {
            if index > 0 {
                y += gap_between(layer[index - 1], item);
            }
            centre[item] = y;
        }
    }
    for pass in 0..PLACEMENT_PASSES {
        let last = pass + 1 == PLACEMENT_PASSES;
        let rightwards = pass % 2 == 0;
        let layers: Vec<usize> = if rightwards {
            (0..order.len()).collect()
        } else {
            (0..order.len()).rev().collect()
        };
        for layer in layers {
            let items_here = &order[layer];
            if items_here.is_empty() {
                continue;
            }
            let desired: Vec<f64> = items_here
                .iter()
                .map(|&item| {
                    let neighbours: Vec<usize> = match (last, rightwards) {
                        (true, _) => items[item].left.iter().chain(&items[item].right).copied().collect(),
                        (false, true) => items[item].left.clone(),
                        (false, false) => items[item].right.clone(),
                    };
                    if neighbours.is_empty() {
                        centre[item]
                    } else {
                        neighbours.iter().map(|&neighbour| centre[neighbour]).sum::<f64>() / neighbours.len() as f64
                    }
                })
                .collect();
            let gaps: Vec<f64> = items_here.windows(2).map(|pair| gap_between(pair[0], pair[1])).collect();
            let placed = fit_in_order(&desired, &gaps);
            for (&item, y) in items_here.iter().zip(placed) {
                centre[item] = y;
            }
        }
    }
    centre
}

/// The positions closest (least squares) to `desired` such that each is at least `gaps[i]`
/// below the one before: pool-adjacent-violators on the positions less their cumulative gaps.
fn fit_in_order(desired: &[f64], gaps: &[f64]) -> Vec<f64> {
    let mut offsets = Vec::with_capacity(desired.len());
    let mut offset = 0.0;
    for index in 0..desired.len() {
        if index > 0 {
            offset += gaps.get(index - 1).copied().unwrap_or(0.0);
        }
        offsets.push(offset);
    }
    // Blocks of (mean, count), merged while a block's mean is above the next one's.
    let mut blocks: Vec<(f64, usize)> = Vec::with_capacity(desired.len());
    for (wanted, offset) in desired.iter().zip(&offsets) {
        blocks.push((wanted - offset, 1));
        while blocks.len() >= 2 {
            let (last_mean, last_count) = blocks[blocks.len() - 1];
            let (previous_mean, previous_count) = blocks[blocks.len() - 2];
            if previous_mean <= last_mean {
                break;
            }
            let count = last_count + previous_count;
            let mean = (previous_mean * previous_count as f64 + last_mean * last_count as f64) / count as f64;
            blocks.pop();
            if let Some(previous) = blocks.last_mut() {
                *previous = (mean, count);
            }
        }
    }
    let mut placed = Vec::with_capacity(desired.len());
    for (mean, count) in blocks {
        for _ in 0..count {
            let offset = offsets.get(placed.len()).copied().unwrap_or(0.0);
            placed.push(mean + offset);
        }
    }
    placed
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A deterministic graph of `count` nodes in layers -3..=3 with short, long, backward and
    /// same-layer edges (and a self-loop), like the picture gets from two walks.
    pub(crate) fn generated_graph(count: usize) -> (Vec<i32>, Vec<(usize, usize)>) {
        let mut seed: u64 = 0x5eed_1234_abcd_0042;
        let mut next = move |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % bound as u64).unwrap_or(0)
        };
        let mut layers = vec![0];
        for node in 1..count {
            let magnitude = i32::try_from(1 + node % 3).unwrap_or(1);
            layers.push(if node % 2 == 0 { magnitude } else { -magnitude });
        }
        let mut edges = Vec::new();
        for node in 1..count {
            // Towards the focus, as a walk reaches it.
            let towards: Vec<usize> = (0..count)
                .filter(|&other| {
                    layers[other] * layers[node] >= 0
                        && (layers[other] - layers[node]).abs() == 1
                        && layers[other].abs() < layers[node].abs()
                })
                .collect();
            let parent = towards.get(next(towards.len().max(1))).copied().unwrap_or(0);
            edges.push(if layers[node] < 0 { (node, parent) } else { (parent, node) });
        }
        for _ in 0..count / 2 {
            let (from, to) = (next(count), next(count));
            if from != to && !edges.contains(&(from, to)) {
                edges.push((from, to));
            }
        }
        // A long backward edge, a same-layer edge, a self-loop.
        edges.push((count - 1, count - 2));
        let same: Vec<usize> = (1..count).filter(|&node| layers[node] == 2).take(2).collect();
        edges.push((same[0], same[1]));
        edges.push((same[1], same[1]));
        (layers, edges)
    }

    #[test]
    fn boxes_of_sixty_nodes_never_overlap_and_keep_their_layers() {
        let (layers, edges) = generated_graph(60);
        let geometry = Geometry::default();
        let layout = layered(&layers, &edges, &geometry);
        assert_eq!(layout.boxes.len(), 60);
        for (first, a) in layout.boxes.iter().enumerate() {
            for (second, b) in layout.boxes.iter().enumerate().skip(first + 1) {
                assert!(!a.overlaps(b), "boxes {first} and {second} overlap: {a:?} {b:?}");
            }
            assert!(a.x >= 0.0 && a.y >= 0.0 && a.x + a.width <= layout.width && a.y + a.height <= layout.height);
        }
        // Same layer, same column; a layer further right, a column further right.
        for (node, rect) in layout.boxes.iter().enumerate() {
            for (other, other_rect) in layout.boxes.iter().enumerate() {
                match layers[node].cmp(&layers[other]) {
                    Ordering::Equal => assert_eq!(rect.x, other_rect.x),
                    Ordering::Less => assert!(rect.x + rect.width < other_rect.x),
                    Ordering::Greater => assert!(other_rect.x + other_rect.width < rect.x),
                }
            }
        }
    }

    #[test]
    fn routes_join_their_boxes_and_pass_between_the_boxes_they_cross() {
        let (layers, edges) = generated_graph(60);
        let geometry = Geometry::default();
        let layout = layered(&layers, &edges, &geometry);
        assert_eq!(layout.routes.len(), edges.len());
        let on_border = |rect: &Rect, point: Point| {
            (point.x == rect.x || point.x == rect.x + rect.width) && point.y >= rect.y && point.y <= rect.y + rect.height
        };
        for (edge, route) in layout.routes.iter().enumerate() {
            let (source, target) = edges[edge];
            assert!(route.len() >= 2, "edge {edge} has a route");
            assert!(
                on_border(&layout.boxes[source], route[0]),
                "edge {edge} starts on its source: {route:?}"
            );
            assert!(
                on_border(&layout.boxes[target], route[route.len() - 1]),
                "edge {edge} ends on its target"
            );
            // Every straight piece: sampled, never strictly inside any box.
            for pair in route.windows(2) {
                for step in 0..=20 {
                    let t = f64::from(step) / 20.0;
                    let point = Point {
                        x: pair[0].x + (pair[1].x - pair[0].x) * t,
                        y: pair[0].y + (pair[1].y - pair[0].y) * t,
                    };
                    for (node, rect) in layout.boxes.iter().enumerate() {
                        assert!(!rect.contains_strictly(point), "edge {edge} passes through box {node} at {point:?}");
                    }
                }
            }
            // A long edge bends once per layer it crosses (two points per column).
            let span = (layers[source] - layers[target]).unsigned_abs() as usize;
            if span > 1 {
                assert_eq!(route.len(), 2 + 2 * (span - 1), "edge {edge}: {route:?}");
            }
        }
    }

    #[test]
    fn same_layer_edges_and_self_loops_leave_their_layer() {
        let layers = [0, 1, 1, -1, -1];
        let edges = [(1, 2), (2, 2), (3, 4), (0, 1)];
        let layout = layered(&layers, &edges, &Geometry::default());
        let column_of_layer_one = layout.boxes[1].x;
        // Layer 1 loops out to the right (a column that holds no box), layer -1 to the left.
        assert!(
            layout.routes[0]
                .iter()
                .any(|point| point.x > column_of_layer_one + layout.boxes[1].width)
        );
        assert!(layout.routes[1].len() == 3 && layout.routes[1][1].x > column_of_layer_one);
        assert!(layout.routes[2].iter().any(|point| point.x < layout.boxes[3].x));
        assert!(layout.boxes.iter().all(|rect| rect.x >= 0.0));
        // The columns that only hold loop turns take no width: three boxes wide, four gaps.
        let geometry = Geometry::default();
        let expected = 2.0 * geometry.margin + 3.0 * geometry.node_width + 4.0 * geometry.layer_gap;
        assert!((layout.width - expected).abs() < 1e-6, "{} != {expected}", layout.width);
    }

    #[test]
    fn sweeps_untangle_a_twisted_order() {
        // Two layers given in opposite orders: 0→5, 1→4, 2→3 all cross each other at first.
        let layers = [0, 0, 0, 1, 1, 1];
        let edges = [(0, 5), (1, 4), (2, 3)];
        let layout = layered(&layers, &edges, &Geometry::default());
        assert_eq!(layout.crossings, 0);
        // Straight edges: each target level with its source.
        for &(source, target) in &edges {
            assert!((layout.boxes[source].y - layout.boxes[target].y).abs() < 1e-6);
        }
    }

    #[test]
    fn inversions_are_counted() {
        assert_eq!(inversions(&mut [3, 2, 1]), 3);
        assert_eq!(inversions(&mut [1, 2, 3]), 0);
        assert_eq!(inversions(&mut [2, 1, 2, 1]), 3);
    }

    #[test]
    fn fitting_keeps_order_and_gaps() {
        let placed = fit_in_order(&[10.0, 10.0, 10.0], &[5.0, 5.0]);
        assert_eq!(placed, vec![5.0, 10.0, 15.0]);
        let placed = fit_in_order(&[0.0, 100.0], &[5.0]);
        assert_eq!(placed, vec![0.0, 100.0]);
    }

    #[test]
    fn nothing_to_lay_out() {
        let layout = layered(&[], &[(0, 1)], &Geometry::default());
        assert!(layout.boxes.is_empty());
        assert_eq!(layout.routes, vec![Vec::<Point>::new()]);
        let layout = layered(&[0], &[(0, 7)], &Geometry::default());
        assert_eq!(layout.boxes.len(), 1);
        assert!(layout.routes[0].is_empty());
    }
}
