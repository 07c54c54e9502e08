//! Puts an answer's fields in the order the query selected them, as the GraphQL specification
//! requires: async-graphql inserts each object's fields in the order their resolvers finish, so
//! a field loaded through a DataLoader would otherwise come after its plain siblings.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Request, Response, ServerResult, Value};

/// The schema extension that keeps each request's parsed document (async-graphql parses it once,
/// in `prepare_request`) and reorders the answer by it when the operation has run.
pub struct AnswerOrder;

impl ExtensionFactory for AnswerOrder {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AnswerOrderExtension::default())
    }
}

#[derive(Default)]
struct AnswerOrderExtension {
    document: Mutex<Option<ExecutableDocument>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for AnswerOrderExtension {
    async fn prepare_request(
        &self,
        context: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let mut request = next.run(context, request).await?;
        // Parsed already by the limits extension (the request keeps it): this is a copy, not a parse.
        if let Ok(document) = request.parsed_query() {
            *self.document.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(document.clone());
        }
        Ok(request)
    }

    async fn execute(&self, context: &ExtensionContext<'_>, operation_name: Option<&str>, next: NextExecute<'_>) -> Response {
        let mut response = next.run(context, operation_name).await;
        let document = self.document.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(document) = document {
            reorder(&mut response.data, &document, operation_name);
        }
        response
    }
}

/// Reorders `data` (the answer to `document`'s operation `operation_name`) by the selection order.
fn reorder(data: &mut Value, document: &ExecutableDocument, operation_name: Option<&str>) {
    let operation = match &document.operations {
        DocumentOperations::Single(operation) => Some(operation),
        DocumentOperations::Multiple(operations) => match operation_name {
            Some(name) => operations
                .iter()
                .find(|(key, _)| key.as_str() == name)
                .map(|(_, operation)| operation),
            None if operations.len() == 1 => operations.values().next(),
            None => None,
        },
    };
    if let Some(operation) = operation {
        reorder_value(data, &[&operation.node.selection_set.node], document, 0);
    }
}

/// The fragments' and fields' nesting is bounded by the parser; this bounds the recursion
/// through fragment spreads as well.
const MAX_DEPTH: usize = 128;

fn reorder_value(value: &mut Value, selections: &[&SelectionSet], document: &ExecutableDocument, depth: usize) {
    if depth > MAX_DEPTH || !matches!(value, Value::List(_) | Value::Object(_)) {
        return;
    }
    // The response keys in selection order, each with every selection set asked of it: worked
    // out once for a whole list, whose items all answer the same selection.
    let mut order: Vec<(Name, Vec<&SelectionSet>)> = Vec::new();
    for selection_set in selections {
        collect(selection_set, document, &mut order, depth);
    }
    reorder_by(value, &order, document, depth);
}

fn reorder_by(value: &mut Value, order: &[(Name, Vec<&SelectionSet>)], document: &ExecutableDocument, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::List(items) => {
            for item in items {
                reorder_by(item, order, document, depth + 1);
            }
        }
        Value::Object(fields) => {
            let mut old = std::mem::take(fields);
            for (key, inner) in order {
                if let Some(mut field) = old.shift_remove(key) {
                    reorder_value(&mut field, inner, document, depth + 1);
                    fields.insert(key.clone(), field);
                }
            }
            // Anything not selected (nothing, in practice) keeps its place at the end.
            fields.extend(old);
        }
        _ => {}
    }
}

/// Adds the response keys of `selection_set` (fragments expanded in place) to `order`.
fn collect<'document>(
    selection_set: &'document SelectionSet,
    document: &'document ExecutableDocument,
    order: &mut Vec<(Name, Vec<&'document SelectionSet>)>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for selection in &selection_set.items {
        match &selection.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.clone();
                let inner = &field.node.selection_set.node;
                match order.iter_mut().find(|(known, _)| *known == key) {
                    Some((_, sets)) => sets.push(inner),
                    None => order.push((key, vec![inner])),
                }
            }
            Selection::InlineFragment(fragment) => collect(&fragment.node.selection_set.node, document, order, depth + 1),
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    collect(&fragment.node.selection_set.node, document, order, depth + 1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reorder;

    #[test]
    fn fields_follow_the_selection_through_aliases_fragments_and_lists() {
        let query = "query Page { entity(ref: \"a\") { ref owner { ref title } ...more title: name } }
                     fragment more on Component { tags relations { type target { ref } } }";
        let mut data = async_graphql::value!({
            "entity": {
                "relations": [{ "target": { "ref": "x" }, "type": "dependsOn" }],
                "owner": { "title": "T", "ref": "group:default/t" },
                "title": "n",
                "tags": [],
                "ref": "component:default/a"
            }
        });
        let document = async_graphql::parser::parse_query(query).unwrap();
        reorder(&mut data, &document, None);
        // async-graphql's own serialisation keeps the map's order.
        let text = serde_json::to_string(&data).unwrap();
        assert_eq!(
            text,
            r#"{"entity":{"ref":"component:default/a","owner":{"ref":"group:default/t","title":"T"},"tags":[],"relations":[{"type":"dependsOn","target":{"ref":"x"}}],"title":"n"}}"#
        );
    }
}
