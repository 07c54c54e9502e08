//! The request limits that run before any resolver, as an async-graphql extension:
//!
//! 1. before parsing, one pass over the query text (no allocation per token): its length,
//!    the aliases, the directives and the nesting of selection sets, so that 10,000 aliases or
//!    directives, or a query nested 10,000 deep, are refused in microseconds;
//! 2. after parsing: the fragments, and the fields once fragments are expanded (a fragment
//!    that spreads another twice, ten times over, is small text and a huge query);
//! 3. validation's depth and complexity limits (set on the schema) get their codes here.
//!
//! Every error these produce, and every other error without a code (syntax errors, unknown
//! fields, bad argument values), gets a stable `extensions.code`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};

use super::{ErrorCode, SchemaOptions, server_error};

/// The limits of a schema.
pub struct Limits {
    max_aliases: usize,
    max_directives: usize,
    /// Selection-set nesting allowed in the text: twice the depth limit, since inline fragments
    /// nest braces without adding depth (validation checks the exact depth).
    max_nesting: usize,
    max_fields: usize,
    max_query_bytes: usize,
}

impl Limits {
    pub fn new(options: &SchemaOptions) -> Limits {
        Limits {
            max_aliases: options.max_aliases,
            max_directives: options.max_directives,
            max_nesting: options.max_depth.saturating_mul(2).max(4),
            max_fields: options.max_fields,
            max_query_bytes: options.max_query_bytes,
        }
    }
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension {
            max_aliases: self.max_aliases,
            max_directives: self.max_directives,
            max_nesting: self.max_nesting,
            max_fields: self.max_fields,
            max_query_bytes: self.max_query_bytes,
        })
    }
}

struct LimitsExtension {
    max_aliases: usize,
    max_directives: usize,
    max_nesting: usize,
    max_fields: usize,
    max_query_bytes: usize,
}

#[async_graphql::async_trait::async_trait]
impl Extension for LimitsExtension {
    async fn request(&self, context: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(context).await;
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", ErrorCode::BadRequest.as_str());
            }
        }
        response
    }

    async fn prepare_request(
        &self,
        context: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let query = request.query.as_str();
        if query.len() > self.max_query_bytes {
            return Err(server_error(
                ErrorCode::QueryTooLarge,
                format!("the query is {} bytes long; the limit is {}", query.len(), self.max_query_bytes),
            ));
        }
        let shape = scan(query);
        if shape.aliases > self.max_aliases {
            return Err(server_error(
                ErrorCode::TooManyAliases,
                format!("the query has {} aliases; the limit is {}", shape.aliases, self.max_aliases),
            ));
        }
        if shape.directives > self.max_directives {
            return Err(server_error(
                ErrorCode::TooManyDirectives,
                format!(
                    "the query has {} directives; the limit is {}",
                    shape.directives, self.max_directives
                ),
            ));
        }
        if shape.nesting > self.max_nesting {
            return Err(server_error(
                ErrorCode::QueryTooDeep,
                format!(
                    "the query nests {} selections deep; the limit is {}",
                    shape.nesting, self.max_nesting
                ),
            ));
        }
        // Parsed here (and kept in the request) so that fragments are measured before
        // async-graphql's own checks, which expand every fragment spread.
        let mut request = request;
        let document = request.parsed_query().map_err(parse_error)?;
        self.check_fragments(document)?;
        next.run(context, request).await
    }

    async fn parse_query(
        &self,
        context: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(context, query, variables).await.map_err(parse_error)
    }

    async fn validation(&self, context: &ExtensionContext<'_>, next: NextValidation<'_>) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(context).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|mut error| {
                    let code = match error.message.as_str() {
                        "Query is nested too deep." => ErrorCode::QueryTooDeep,
                        "Query is too complex." => ErrorCode::QueryTooComplex,
                        _ => ErrorCode::BadRequest,
                    };
                    error.extensions.get_or_insert_with(Default::default).set("code", code.as_str());
                    error
                })
                .collect()
        })
    }
}

impl LimitsExtension {
    /// Refuses fragment cycles, too many fragments, and documents whose operations select too
    /// many fields once fragments are expanded.
    fn check_fragments(&self, document: &ExecutableDocument) -> ServerResult<()> {
        if document.fragments.len() > self.max_fields {
            return Err(server_error(
                ErrorCode::QueryTooComplex,
                format!(
                    "the query defines {} fragments; the limit is {}",
                    document.fragments.len(),
                    self.max_fields
                ),
            ));
        }
        match expanded_fields(document, self.max_fields) {
            Err(FragmentCycle) => Err(server_error(ErrorCode::BadRequest, "a fragment of the query spreads itself")),
            Ok(fields) if fields > self.max_fields => Err(server_error(
                ErrorCode::QueryTooComplex,
                format!(
                    "the query selects more than {} fields once its fragments are expanded and its lists counted \
                     (a list without `first` counts as {} items: lists nested in lists multiply)",
                    self.max_fields,
                    super::LIST_WEIGHT
                ),
            )),
            Ok(_) => Ok(()),
        }
    }
}

/// A syntax error (or the parser's recursion limit) with its code.
fn parse_error(mut error: ServerError) -> ServerError {
    let code = if error.message.contains("recursion") {
        ErrorCode::QueryTooDeep
    } else {
        ErrorCode::BadRequest
    };
    error.extensions.get_or_insert_with(Default::default).set("code", code.as_str());
    error
}

/// What one pass over a query's text finds.
#[derive(Debug, Default, PartialEq, Eq)]
struct Shape {
    /// `name:` inside selection sets (not inside arguments or variable definitions).
    aliases: usize,
    /// `@` outside strings and comments.
    directives: usize,
    /// The deepest nesting of selection sets.
    nesting: usize,
}

/// Counts aliases, directives and selection-set nesting in GraphQL text, skipping strings
/// (block strings too) and comments. A `:` is an alias when every open bracket around it is a
/// selection set's `{` (arguments, variable definitions and values sit inside `(`).
fn scan(query: &str) -> Shape {
    let bytes = query.as_bytes();
    let mut shape = Shape::default();
    // Open brackets: the selection sets (`{` with no `(` below) and the rest, counted apart.
    let mut selection_depth = 0usize;
    let mut open_parentheses = 0usize;
    // Braces and brackets opened inside parentheses (object and list values).
    let mut value_depth = 0usize;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'#' => {
                while index < bytes.len() && bytes[index] != b'\n' && bytes[index] != b'\r' {
                    index += 1;
                }
            }
            b'"' if bytes[index..].starts_with(b"\"\"\"") => {
                index += 3;
                while index < bytes.len() && !bytes[index..].starts_with(b"\"\"\"") {
                    // `\"""` is an escaped triple quote inside a block string.
                    index += if bytes[index..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                index += 2;
            }
            b'"' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' && bytes[index] != b'\n' {
                    index += if bytes[index] == b'\\' { 2 } else { 1 };
                }
            }
            b'(' => open_parentheses += 1,
            b')' => open_parentheses = open_parentheses.saturating_sub(1),
            b'{' | b'[' if open_parentheses > 0 => value_depth += 1,
            b'}' | b']' if open_parentheses > 0 => value_depth = value_depth.saturating_sub(1),
            b'{' => {
                selection_depth += 1;
                shape.nesting = shape.nesting.max(selection_depth);
            }
            b'}' => selection_depth = selection_depth.saturating_sub(1),
            b':' if open_parentheses == 0 && value_depth == 0 && selection_depth > 0 => shape.aliases += 1,
            b'@' => shape.directives += 1,
            _ => {}
        }
        index += 1;
    }
    shape
}

/// Fields that answer a list with no page size of their own (an entity's relations, a group's
/// members, children and owned entities, a user's groups and owned entities, a walk's nodes and
/// edges, an owner's dependents).
const UNPAGED_LISTS: &[&str] = &[
    "relations",
    "members",
    "children",
    "ownedEntities",
    "groups",
    "owned",
    "nodes",
    "edges",
    "byOwner",
    "entities",
];

/// A fragment that spreads itself, directly or through others.
#[derive(Debug, PartialEq, Eq)]
struct FragmentCycle;

/// The fields of the document's operations with every fragment spread expanded, counted
/// without expanding anything (each fragment's size is computed once), saturating just past
/// `limit`.
fn expanded_fields(document: &ExecutableDocument, limit: usize) -> Result<usize, FragmentCycle> {
    // A fragment's expanded size; `None` while it is being computed.
    let mut sizes: HashMap<&str, Option<usize>> = HashMap::new();
    let mut total = 0usize;
    for (_, operation) in document.operations.iter() {
        total = total.saturating_add(selection_size(&operation.node.selection_set.node, document, &mut sizes, limit, 0)?);
        if total > limit {
            break;
        }
    }
    Ok(total)
}

/// The expanded size of a selection set. `depth` bounds the recursion through fragments (the
/// parser bounds the nesting of selection sets): past 64, the size counts as too large.
fn selection_size<'document>(
    selection_set: &'document SelectionSet,
    document: &'document ExecutableDocument,
    sizes: &mut HashMap<&'document str, Option<usize>>,
    limit: usize,
    depth: usize,
) -> Result<usize, FragmentCycle> {
    if depth > 64 {
        return Ok(limit.saturating_add(1));
    }
    let mut size = 0usize;
    for selection in &selection_set.items {
        let added = match &selection.node {
            Selection::Field(field) => {
                let inner = selection_size(&field.node.selection_set.node, document, sizes, limit, depth + 1)?;
                // A list without a page size counts as LIST_WEIGHT items: lists nested in lists
                // multiply, as their answers would.
                let unpaged_list = UNPAGED_LISTS.contains(&field.node.name.node.as_str())
                    && !field.node.arguments.iter().any(|(name, _)| name.node.as_str() == "first");
                let weight = if unpaged_list { super::LIST_WEIGHT } else { 1 };
                1usize.saturating_add(inner.saturating_mul(weight))
            }
            Selection::InlineFragment(fragment) => selection_size(&fragment.node.selection_set.node, document, sizes, limit, depth + 1)?,
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                match sizes.get(name) {
                    Some(Some(known)) => *known,
                    Some(None) => return Err(FragmentCycle),
                    None => match document.fragments.get(&spread.node.fragment_name.node) {
                        Some(fragment) => {
                            sizes.insert(name, None);
                            let computed = selection_size(&fragment.node.selection_set.node, document, sizes, limit, depth + 1)?;
                            sizes.insert(name, Some(computed));
                            computed
                        }
                        // Validation reports unknown fragments.
                        None => 0,
                    },
                }
            }
        };
        size = size.saturating_add(added);
        if size > limit {
            return Ok(limit.saturating_add(1));
        }
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_counts_aliases_directives_and_nesting_only_where_they_are() {
        let shape = scan(
            r#"query Q($first: Int = 3, $filter: EntityFilter = {kinds: ["a:b"]}) {
                a: entities(first: $first, filter: {tags: ["x:y"]}) @include(if: true) {
                    b: totalCount # c: not an alias @skip
                    nodes { ... on Component { ref } }
                }
                d: entity(ref: "e:f") { name description: title }
                g: entity(ref: """h: "i" \""" j:""") { ref }
            }"#,
        );
        assert_eq!(
            shape,
            Shape {
                aliases: 5,
                directives: 1,
                nesting: 4
            }
        );
        let many = format!(
            "{{ {} }}",
            (0..10_000)
                .map(|index| format!("a{index}: __typename"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(scan(&many).aliases, 10_000);
        let deep = format!("{}{}", "{ a ".repeat(50), "}".repeat(50));
        assert_eq!(scan(&deep).nesting, 50);
        // Unbalanced text does not confuse the scan into a panic.
        assert_eq!(scan("}}}) ]] {{ ( \"unterminated").nesting, 2);
    }

    #[test]
    fn fragment_bombs_are_measured_without_expanding_them() {
        let mut query = String::from("query { ...F0 }\n");
        for level in 0..30 {
            query.push_str(&format!(
                "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n",
                next = level + 1
            ));
        }
        query.push_str("fragment F30 on Query { __typename }\n");
        let document = async_graphql::parser::parse_query(&query).expect("valid syntax");
        assert!(expanded_fields(&document, 5_000).is_ok_and(|fields| fields > 5_000));
        let small = async_graphql::parser::parse_query("{ a { b c } ...G ...G } fragment G on Query { d }").expect("valid syntax");
        assert_eq!(expanded_fields(&small, 5_000), Ok(5));
        let cycle = async_graphql::parser::parse_query("{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...A }")
            .expect("valid syntax");
        assert_eq!(expanded_fields(&cycle, 5_000), Err(FragmentCycle));
    }
}
