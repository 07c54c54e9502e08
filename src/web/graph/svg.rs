//! The SVG writer of the dependency graph picture: pure functions from a scene (nodes, edges,
//! their classes) and its layout to markup. Every text and attribute value goes through
//! [`escape`] (the five XML-special characters escaped, control characters removed, since they
//! are invalid in XML), so no descriptor text can become markup, even inside the picture.
//!
//! The markup: `svg.dependency-graph`; a node is `g.node.kind-{kind}[data-ref][data-path]`
//! (`.focus`, `.selected`, `.on-path`) around an `a` to its entity page holding a `title` (the
//! full reference), the box (`rect.box`, `rect.kind-bar`) and two lines of text (`text.label`,
//! `text.caption`) truncated with an ellipsis to fit the box; a folded level is
//! `g.more[data-more][data-count]`; an edge is `g.edge[data-source][data-target][data-type]`
//! (`.folded` with `data-count`, `.risky`, `.on-path`) holding a `title` and a `path` with an
//! arrowhead marker. Colours come from classes (web/static/sextant.css); the few presentation
//! attributes only keep the file readable when opened on its own.

use std::fmt::Write;

use super::layout::{Geometry, Layout, Point};

/// A box of the picture: an entity, or the "N more" node of a level.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// The layer: the distance from the focus, negative for dependents.
    pub layer: i32,
    /// The entity's canonical reference; `None` for a "more" node.
    pub reference: Option<String>,
    /// The first line (the title, else the name).
    pub label: String,
    /// The second line (kind and name, or what a "more" node opens).
    pub caption: String,
    /// The tooltip: the full reference (and the title).
    pub tooltip: String,
    /// Where the node links to.
    pub href: String,
    /// The entity's kind (a class `kind-{kind}`).
    pub kind: String,
    pub focus: bool,
    pub selected: bool,
    pub on_path: bool,
    /// Entities folded into this node (a "more" node when above 0).
    pub folded: usize,
    /// The references from the focus to this entity (`data-path`, for hover emphasis).
    pub path: Vec<String>,
}

impl Node {
    /// What edges name this node by: its reference, or `more:{layer}`.
    pub fn key(&self) -> String {
        match &self.reference {
            Some(reference) => reference.clone(),
            None => format!("more:{}", self.layer),
        }
    }
}

/// An arrow of the picture, from `source` to `target` (positions in the scene's nodes), as declared.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    pub source: usize,
    pub target: usize,
    /// The relation type as stored (`dependsOn`).
    pub relation: String,
    /// How many relations of the walk this arrow stands for (above 1 only for folded ones).
    pub count: usize,
    /// Whether an end is a "more" node.
    pub folded: bool,
    /// Whether the arrow is drawn from the target to the source (its route runs that way): the
    /// picture points every arrow from what depends to what it depends on, whichever way the
    /// relation was declared (`dependencyOf`, `providesApi`).
    pub reversed: bool,
    /// Why the dependency is risky, if it is.
    pub risk: Option<String>,
    pub on_path: bool,
}

/// What the SVG shows.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    /// The picture's accessible title.
    pub title: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// A line written under the drawing (e.g. that the walk was truncated).
    pub note: Option<String>,
}

/// Font sizes and the width of one character in em (node text is monospace, so the estimate
/// holds; a wide character counts twice).
const LABEL_SIZE: f64 = 12.0;
const CAPTION_SIZE: f64 = 10.0;
const CHARACTER_EM: f64 = 0.6;
/// Left padding (after the kind bar) and right padding of text in a box.
const TEXT_LEFT: f64 = 14.0;
const TEXT_RIGHT: f64 = 8.0;
const NOTE_HEIGHT: f64 = 24.0;
const FONT_FAMILY: &str = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";

/// `text` safe in XML text and in a quoted attribute: `& < > " '` escaped; control characters
/// and the non-characters U+FFFE/U+FFFF (invalid in XML) removed.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            character if character.is_control() || matches!(character, '\u{FFFE}' | '\u{FFFF}') => {}
            character => escaped.push(character),
        }
    }
    escaped
}

/// `text` as a class name part: lowercase ASCII letters, digits and dashes only.
fn class_part(text: &str) -> String {
    text.chars()
        .filter(|character| character.is_ascii_alphanumeric() || *character == '-')
        .map(|character| character.to_ascii_lowercase())
        .collect()
}

/// How many character widths `character` takes in a monospace font: two for East Asian wide
/// characters and emoji, else one.
fn character_width(character: char) -> usize {
    let code = u32::from(character);
    let wide = matches!(code,
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x1F300..=0x1FAFF | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// The width of `text` in character widths.
pub fn text_width(text: &str) -> usize {
    text.chars().map(character_width).sum()
}

/// `text` without control characters, cut to at most `columns` character widths, with an
/// ellipsis when cut.
pub fn fit(text: &str, columns: usize) -> String {
    let clean: String = text
        .chars()
        .filter(|character| !character.is_control() && !matches!(character, '\u{FFFE}' | '\u{FFFF}'))
        .collect();
    if text_width(&clean) <= columns {
        return clean;
    }
    let mut fitted = String::new();
    let mut width = 0;
    for character in clean.chars() {
        let next = character_width(character);
        if width + next + 1 > columns {
            break;
        }
        fitted.push(character);
        width += next;
    }
    fitted.push('…');
    fitted
}

/// How many character widths of text of `size` fit in a box of `geometry`.
pub fn columns_for(geometry: &Geometry, size: f64) -> usize {
    let room = (geometry.node_width - TEXT_LEFT - TEXT_RIGHT).max(0.0);
    // Bounded by the width: the cast cannot overflow.
    (room / (size * CHARACTER_EM)).floor() as usize
}

fn number(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded == rounded.trunc() {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

/// An SVG path through `points`: a curve with horizontal tangents across each gap between
/// columns (it stays within the gap), a straight run through a column, and one loop where a
/// route turns back (a same-layer edge).
pub fn path_data(points: &[Point]) -> String {
    let Some(first) = points.first() else { return String::new() };
    let mut data = format!("M{},{}", number(first.x), number(first.y));
    let mut index = 1;
    while index < points.len() {
        let previous = points[index - 1];
        let point = points[index];
        if let Some(&next) = points.get(index + 1)
            && (point.x - previous.x) * (next.x - point.x) < 0.0
        {
            let _ = write!(
                data,
                " C{},{} {},{} {},{}",
                number(point.x),
                number(previous.y),
                number(point.x),
                number(next.y),
                number(next.x),
                number(next.y)
            );
            index += 2;
            continue;
        }
        if (point.y - previous.y).abs() < 0.05 || (point.x - previous.x).abs() < 0.05 {
            let _ = write!(data, " L{},{}", number(point.x), number(point.y));
        } else {
            let middle = (previous.x + point.x) / 2.0;
            let _ = write!(
                data,
                " C{},{} {},{} {},{}",
                number(middle),
                number(previous.y),
                number(middle),
                number(point.y),
                number(point.x),
                number(point.y)
            );
        }
        index += 1;
    }
    data
}

/// The SVG of `scene` laid out as `layout` (whose boxes and routes are in the scene's order).
pub fn write(scene: &Scene, layout: &Layout, geometry: &Geometry) -> String {
    let note_height = if scene.note.is_some() { NOTE_HEIGHT } else { 0.0 };
    let width = layout.width.max(geometry.node_width + 2.0 * geometry.margin);
    let height = layout.height + note_height;
    let mut svg = String::with_capacity(1024 + scene.nodes.len() * 700 + scene.edges.len() * 400);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dependency-graph\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
         font-family=\"{FONT_FAMILY}\" aria-label=\"{title}\"><title>{title}</title>",
        w = number(width),
        h = number(height),
        title = escape(&scene.title),
    );
    svg.push_str(
        "<defs>\
         <marker id=\"graph-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" markerUnits=\"userSpaceOnUse\" orient=\"auto\">\
         <path class=\"arrowhead\" d=\"M0,0 L10,5 L0,10 z\" fill=\"#8a94a6\"/></marker>\
         <marker id=\"graph-arrow-emphasis\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"10\" markerHeight=\"10\" markerUnits=\"userSpaceOnUse\" orient=\"auto\">\
         <path class=\"arrowhead emphasis\" d=\"M0,0 L10,5 L0,10 z\" fill=\"#c77c00\"/></marker>\
         <marker id=\"graph-arrow-risky\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto\">\
         <path class=\"arrowhead risky\" d=\"M0,0 L10,5 L0,10 z\" fill=\"#b42318\"/></marker>\
         </defs>",
    );
    let keys: Vec<String> = scene.nodes.iter().map(Node::key).collect();
    svg.push_str("<g class=\"edges\">");
    for (index, edge) in scene.edges.iter().enumerate() {
        let (Some(source), Some(target)) = (keys.get(edge.source), keys.get(edge.target)) else {
            continue;
        };
        let route = layout.routes.get(index).map(Vec::as_slice).unwrap_or_default();
        let drawn_target = if edge.reversed { edge.source } else { edge.target };
        let arrow_ends_at_more = scene.nodes.get(drawn_target).is_some_and(|node| node.reference.is_none());
        write_edge(&mut svg, edge, (source, target, arrow_ends_at_more), route);
    }
    svg.push_str("</g><g class=\"nodes\">");
    for (index, node) in scene.nodes.iter().enumerate() {
        let Some(rect) = layout.boxes.get(index) else { continue };
        write_node(&mut svg, node, rect, geometry);
    }
    svg.push_str("</g>");
    if let Some(note) = &scene.note {
        let _ = write!(
            svg,
            "<text class=\"graph-note\" x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#b42318\">{}</text>",
            number(geometry.margin),
            number(layout.height + note_height / 2.0),
            escape(note)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One edge; `ends` are its source's and target's keys and whether its route ends at a "more" node.
fn write_edge(svg: &mut String, edge: &Edge, ends: (&str, &str, bool), route: &[Point]) {
    let (source, target, route_ends_at_more) = ends;
    let mut classes = String::from("edge");
    if edge.folded {
        classes.push_str(" folded");
    }
    if edge.risk.is_some() {
        classes.push_str(" risky");
    }
    if edge.on_path {
        classes.push_str(" on-path");
    }
    let _ = write!(
        svg,
        "<g class=\"{classes}\" data-source=\"{}\" data-target=\"{}\" data-type=\"{}\"",
        escape(source),
        escape(target),
        escape(&edge.relation)
    );
    if edge.folded {
        let _ = write!(svg, " data-count=\"{}\"", edge.count);
    }
    let mut title = if edge.folded {
        format!("{source} {} {target} ({} relations)", edge.relation, edge.count)
    } else {
        format!("{source} {} {target}", edge.relation)
    };
    if let Some(risk) = &edge.risk {
        title.push_str(" · risky: ");
        title.push_str(risk);
    }
    let marker = if edge.on_path {
        "graph-arrow-emphasis"
    } else if edge.risk.is_some() {
        "graph-arrow-risky"
    } else {
        "graph-arrow"
    };
    let _ = write!(
        svg,
        "><title>{}</title><path d=\"{}\" fill=\"none\" stroke=\"#8a94a6\" stroke-width=\"1.4\" marker-end=\"url(#{marker})\"/>",
        escape(&title),
        path_data(route)
    );
    if edge.folded && edge.count > 1 && route.len() >= 2 {
        // The count next to the "more" end.
        let (end, towards) = if route_ends_at_more {
            (route[route.len() - 1], route[route.len() - 2])
        } else {
            (route[0], route[1])
        };
        let direction = if towards.x >= end.x { 1.0 } else { -1.0 };
        let anchor = if direction > 0.0 { "start" } else { "end" };
        let _ = write!(
            svg,
            "<text class=\"edge-count\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" font-size=\"10\" fill=\"#5b6578\">×{}</text>",
            number(end.x + direction * 6.0),
            number(end.y - 4.0),
            edge.count
        );
    }
    svg.push_str("</g>");
}

fn write_node(svg: &mut String, node: &Node, rect: &super::layout::Rect, geometry: &Geometry) {
    let more = node.reference.is_none();
    let mut classes = if more {
        String::from("more")
    } else {
        format!("node kind-{}", class_part(&node.kind))
    };
    for (flag, class) in [(node.focus, " focus"), (node.selected, " selected"), (node.on_path, " on-path")] {
        if flag {
            classes.push_str(class);
        }
    }
    let _ = write!(svg, "<g class=\"{classes}\"");
    match &node.reference {
        Some(reference) => {
            let _ = write!(svg, " data-ref=\"{}\"", escape(reference));
            let path: Vec<String> = node.path.iter().map(|step| escape(step)).collect();
            let _ = write!(svg, " data-path=\"{}\"", path.join(" "));
        }
        None => {
            let _ = write!(svg, " data-more=\"{}\" data-count=\"{}\"", node.layer, node.folded);
        }
    }
    let label = fit(&node.label, columns_for(geometry, LABEL_SIZE));
    let caption = fit(&node.caption, columns_for(geometry, CAPTION_SIZE));
    let (x, y) = (rect.x, rect.y);
    let _ = write!(
        svg,
        "><a href=\"{href}\"><title>{tooltip}</title>\
         <rect class=\"box\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"6\" fill=\"#ffffff\" stroke=\"#5b6578\" stroke-width=\"1.2\"/>\
         <rect class=\"kind-bar\" x=\"{x}\" y=\"{y}\" width=\"6\" height=\"{h}\" rx=\"3\" fill=\"#5b6578\"/>\
         <text class=\"label\" x=\"{tx}\" y=\"{ly}\" font-size=\"{LABEL_SIZE}\" fill=\"#1d2433\">{label}</text>\
         <text class=\"caption\" x=\"{tx}\" y=\"{cy}\" font-size=\"{CAPTION_SIZE}\" fill=\"#5b6578\">{caption}</text></a></g>",
        href = escape(&node.href),
        tooltip = escape(&node.tooltip),
        x = number(x),
        y = number(y),
        w = number(rect.width),
        h = number(rect.height),
        tx = number(x + TEXT_LEFT),
        ly = number(y + rect.height * 0.45),
        cy = number(y + rect.height * 0.8),
        label = escape(&label),
        caption = escape(&caption),
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::layout::{self, Rect};
    use super::*;

    /// An element of a parsed document.
    #[derive(Debug, Clone)]
    pub(crate) struct Element {
        pub index: usize,
        pub name: String,
        /// Unescaped.
        pub attributes: Vec<(String, String)>,
        pub parent: Option<usize>,
        /// Its own text (not its children's), unescaped.
        pub text: String,
    }

    impl Element {
        pub fn attribute(&self, name: &str) -> Option<&str> {
            self.attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
        }

        pub fn has_class(&self, class: &str) -> bool {
            self.attribute("class")
                .is_some_and(|classes| classes.split(' ').any(|one| one == class))
        }

        fn number(&self, name: &str) -> f64 {
            self.attribute(name).and_then(|value| value.parse().ok()).unwrap_or(f64::NAN)
        }
    }

    /// Replaces the five predefined entities and numeric references; panics on a bare `&`.
    fn unescape(text: &str, document: &str) -> String {
        let mut plain = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('&') {
            plain.push_str(&rest[..at]);
            let end = rest[at..].find(';').unwrap_or_else(|| panic!("a bare & in {text:?} of {document}"));
            let entity = &rest[at + 1..at + end];
            match entity {
                "amp" => plain.push('&'),
                "lt" => plain.push('<'),
                "gt" => plain.push('>'),
                "quot" => plain.push('"'),
                "apos" => plain.push('\''),
                numeric if numeric.starts_with('#') => {
                    let code: u32 = numeric[1..]
                        .parse()
                        .unwrap_or_else(|_| panic!("a bad reference &{entity}; in {document}"));
                    plain.push(char::from_u32(code).expect("a character"));
                }
                _ => panic!("an unknown entity &{entity}; in {document}"),
            }
            rest = &rest[at + end + 1..];
        }
        plain.push_str(rest);
        plain
    }

    fn is_name(text: &str) -> bool {
        !text.is_empty()
            && text
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || matches!(character, '-' | '_' | ':' | '.'))
    }

    /// A small checker of well-formed XML (what the picture uses): balanced tags, quoted
    /// attributes without `<` and without repeats, entities only as references, no control
    /// characters. Panics on the first fault; returns the elements in document order.
    pub(crate) fn parse(document: &str) -> Vec<Element> {
        assert!(
            !document
                .chars()
                .any(|character| character.is_control() && !matches!(character, '\n' | '\t' | '\r')),
            "a control character in {document:?}"
        );
        let mut elements: Vec<Element> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let mut rest = document;
        while !rest.is_empty() {
            let Some(at) = rest.find('<') else {
                assert!(rest.trim().is_empty() || !open.is_empty(), "text outside the root: {rest:?}");
                if let Some(&current) = open.last() {
                    elements[current].text.push_str(&unescape(rest, document));
                }
                break;
            };
            let text = &rest[..at];
            assert!(!text.contains('>'), "a bare > in text {text:?}");
            if let Some(&current) = open.last() {
                let plain = unescape(text, document);
                elements[current].text.push_str(&plain);
            } else {
                assert!(text.trim().is_empty(), "text outside the root: {text:?}");
            }
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("<?") {
                let end = after.find("?>").expect("a closed processing instruction");
                rest = &after[end + 2..];
                continue;
            }
            let end = rest.find('>').expect("a closed tag");
            let tag = &rest[1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let current = open.pop().unwrap_or_else(|| panic!("</{name}> closes nothing"));
                assert_eq!(elements[current].name, name, "</{name}> closes <{}>", elements[current].name);
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
            let name = &tag[..name_end];
            assert!(is_name(name), "a bad element name {name:?}");
            let mut attributes: Vec<(String, String)> = Vec::new();
            let mut attribute_text = tag[name_end..].trim_start();
            while !attribute_text.is_empty() {
                let equals = attribute_text
                    .find('=')
                    .unwrap_or_else(|| panic!("an attribute without a value in <{tag}>"));
                let key = &attribute_text[..equals];
                assert!(is_name(key), "a bad attribute name {key:?} in <{tag}>");
                let quoted = &attribute_text[equals + 1..];
                assert!(quoted.starts_with('"'), "an unquoted attribute in <{tag}>");
                let close = quoted[1..].find('"').unwrap_or_else(|| panic!("an unclosed attribute in <{tag}>"));
                let value = &quoted[1..=close];
                assert!(!value.contains('<'), "a < in an attribute of <{tag}>");
                assert!(!attributes.iter().any(|(seen, _)| seen == key), "attribute {key} twice in <{tag}>");
                attributes.push((key.to_owned(), unescape(value, document)));
                let after = &quoted[close + 2..];
                assert!(
                    after.is_empty() || after.starts_with(char::is_whitespace),
                    "attributes run together in <{tag}>"
                );
                attribute_text = after.trim_start();
            }
            assert!(open.is_empty() == elements.is_empty(), "a second root element <{name}>");
            let index = elements.len();
            elements.push(Element {
                index,
                name: name.to_owned(),
                attributes,
                parent: open.last().copied(),
                text: String::new(),
            });
            if !self_closing {
                open.push(index);
            }
        }
        assert!(
            open.is_empty(),
            "unclosed elements: {:?}",
            open.iter().map(|&index| &elements[index].name).collect::<Vec<_>>()
        );
        assert!(!elements.is_empty(), "no element");
        elements
    }

    const HOSTILE: [&str; 5] = [
        "</text><script>alert(1)</script>",
        "\"onload=\"x",
        "]]><x/>",
        "bell\u{7}null\u{0}escape\u{1b}[31m",
        "'single' & <b>bold</b>",
    ];

    /// A scene of the generated graph: long hostile-ish labels, some "more" nodes, risky and on-path edges.
    fn scene_of(layers: &[i32], edges: &[(usize, usize)]) -> Scene {
        let nodes = layers
            .iter()
            .enumerate()
            .map(|(index, &layer)| {
                let reference = format!("component:default/service-with-a-rather-long-name-{index}");
                Node {
                    layer,
                    label: format!(
                        "{} {}",
                        HOSTILE[index % HOSTILE.len()],
                        "Wide Title WWWWWWWWWWWWWWWWWWWWWWWWW 漢字漢字漢字"
                    ),
                    caption: format!("component · {reference}"),
                    tooltip: format!("{reference} — {}", HOSTILE[index % HOSTILE.len()]),
                    href: format!("/entity/component/default/x{index}?a=1&b=\"2\""),
                    kind: if index % 7 == 0 {
                        "api\"><script>".to_owned()
                    } else {
                        "component".to_owned()
                    },
                    focus: index == 0,
                    on_path: index % 5 == 0,
                    path: vec![reference.clone()],
                    reference: (index % 13 != 12).then_some(reference),
                    folded: if index % 13 == 12 { 40 } else { 0 },
                    ..Node::default()
                }
            })
            .collect();
        let edges = edges
            .iter()
            .enumerate()
            .map(|(index, &(source, target))| Edge {
                source,
                target,
                relation: if index % 3 == 0 {
                    "dependsOn".to_owned()
                } else {
                    "consumesApi".to_owned()
                },
                count: 1,
                folded: false,
                reversed: false,
                risk: (index % 4 == 0).then(|| HOSTILE[index % HOSTILE.len()].to_owned()),
                on_path: index % 6 == 0,
            })
            .collect();
        Scene {
            title: HOSTILE[0].to_owned(),
            nodes,
            edges,
            note: Some(HOSTILE[1].to_owned()),
        }
    }

    #[test]
    fn sixty_nodes_with_long_labels_do_not_overlap_and_every_edge_is_drawn_once() {
        let (layers, edges) = layout::tests::generated_graph(60);
        let geometry = Geometry::default();
        let laid_out = layout::layered(&layers, &edges, &geometry);
        let scene = scene_of(&layers, &edges);
        let document = write(&scene, &laid_out, &geometry);
        let elements = parse(&document);
        assert_eq!(elements[0].name, "svg");
        assert!(elements[0].has_class("dependency-graph"));

        // Each box with its text: the text's estimated extent stays inside its box.
        let boxes: Vec<Rect> = elements
            .iter()
            .filter(|element| element.name == "rect" && element.has_class("box"))
            .map(|element| Rect {
                x: element.number("x"),
                y: element.number("y"),
                width: element.number("width"),
                height: element.number("height"),
            })
            .collect();
        assert_eq!(boxes.len(), 60);
        for element in elements.iter().filter(|element| element.name == "text" && element.parent.is_some()) {
            let size = element.number("font-size");
            if element.has_class("edge-count") || element.has_class("graph-note") {
                continue;
            }
            let (x, y) = (element.number("x"), element.number("y"));
            let extent = Rect {
                x,
                y: y - size,
                width: text_width(&element.text) as f64 * size * CHARACTER_EM,
                height: size * 1.2,
            };
            let owner = boxes.iter().find(|rect| {
                extent.x >= rect.x
                    && extent.x + extent.width <= rect.x + rect.width
                    && extent.y >= rect.y
                    && extent.y + extent.height <= rect.y + rect.height
            });
            assert!(owner.is_some(), "text {:?} at {extent:?} fits in no box", element.text);
        }
        for (first, a) in boxes.iter().enumerate() {
            for b in boxes.iter().skip(first + 1) {
                assert!(!a.overlaps(b), "{a:?} overlaps {b:?}");
            }
        }

        // Every edge exactly once, by its ends and type.
        let mut expected: Vec<(String, String, String)> = edges
            .iter()
            .zip(&scene.edges)
            .map(|(&(source, target), edge)| (scene.nodes[source].key(), scene.nodes[target].key(), edge.relation.clone()))
            .collect();
        let mut drawn: Vec<(String, String, String)> = elements
            .iter()
            .filter(|element| element.name == "g" && element.has_class("edge"))
            .map(|element| {
                (
                    element.attribute("data-source").unwrap_or_default().to_owned(),
                    element.attribute("data-target").unwrap_or_default().to_owned(),
                    element.attribute("data-type").unwrap_or_default().to_owned(),
                )
            })
            .collect();
        expected.sort();
        drawn.sort();
        assert_eq!(drawn, expected);
        // Each edge has a path with an arrowhead.
        let paths = elements
            .iter()
            .filter(|element| element.name == "path" && element.attribute("marker-end").is_some())
            .count();
        assert_eq!(paths, edges.len());
    }

    #[test]
    fn hostile_text_appears_only_escaped() {
        let (layers, edges) = layout::tests::generated_graph(20);
        let geometry = Geometry::default();
        let document = write(&scene_of(&layers, &edges), &layout::layered(&layers, &edges, &geometry), &geometry);
        let elements = parse(&document);
        assert!(!document.contains("<script"), "{document}");
        assert!(!document.contains("]]>"));
        assert!(!document.contains("\"onload"));
        assert!(!document.contains('\u{7}') && !document.contains('\u{0}') && !document.contains('\u{1b}'));
        assert!(document.contains("&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(document.contains("&quot;onload=&quot;x"));
        assert!(document.contains("]]&gt;"));
        assert!(document.contains("&#39;single&#39; &amp; &lt;b&gt;"));
        // Only our own element names, and no attribute the descriptors named.
        let names: std::collections::BTreeSet<&str> = elements.iter().map(|element| element.name.as_str()).collect();
        assert_eq!(
            names,
            ["a", "defs", "g", "marker", "path", "rect", "svg", "text", "title"]
                .into_iter()
                .collect()
        );
        assert!(elements.iter().all(|element| element.attribute("onload").is_none()));
        // A kind that tried to break out of the class attribute is a harmless class.
        assert!(elements.iter().any(|element| element.has_class("kind-apiscript")));
        // The full text is in the tooltip (escaped), the label cut with an ellipsis.
        let titles: Vec<&str> = elements
            .iter()
            .filter(|element| element.name == "title")
            .map(|element| element.text.as_str())
            .collect();
        assert!(
            titles.iter().any(|title| title.ends_with("— </text><script>alert(1)</script>")),
            "{titles:?}"
        );
        assert!(
            elements
                .iter()
                .filter(|element| element.has_class("label"))
                .all(|element| element.text.ends_with('…'))
        );
    }

    #[test]
    fn escaping_and_fitting() {
        assert_eq!(escape("a&b<c>d\"e'f\u{0}\u{1f}\u{7f}\u{FFFE}g"), "a&amp;b&lt;c&gt;d&quot;e&#39;fg");
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("exactly-10", 10), "exactly-10");
        assert_eq!(fit("eleven-char", 10), "eleven-ch…");
        assert_eq!(fit("漢字漢字漢字", 6), "漢字…");
        assert_eq!(text_width(&fit("漢字漢字漢字", 6)), 5);
        assert_eq!(fit("a\u{0}b\nc", 10), "abc");
    }

    #[test]
    fn paths_curve_across_gaps_and_loop_back_for_same_layer_edges() {
        let straight = path_data(&[Point { x: 0.0, y: 5.0 }, Point { x: 10.0, y: 5.0 }]);
        assert_eq!(straight, "M0,5 L10,5");
        let curved = path_data(&[Point { x: 0.0, y: 0.0 }, Point { x: 10.0, y: 20.0 }]);
        assert_eq!(curved, "M0,0 C5,0 5,20 10,20");
        let looped = path_data(&[Point { x: 0.0, y: 0.0 }, Point { x: 30.0, y: 10.0 }, Point { x: 0.0, y: 20.0 }]);
        assert_eq!(looped, "M0,0 C30,0 30,20 0,20");
        assert_eq!(path_data(&[]), "");
    }
}
