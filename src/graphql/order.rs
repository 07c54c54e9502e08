//! Puts an answer's fields in the order the query selected them, as the GraphQL specification
//! requires: async-graphql inserts each object's fields in the order their resolvers finish, so
//! a field loaded through a DataLoader would otherwise come after its plain siblings.

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Value};

/// Reorders `data` (the answer to `query`'s operation `operation_name`) by the selection order.
/// A query that does not parse (it was refused anyway) leaves `data` as it is.
pub fn reorder(data: &mut Value, query: &str, operation_name: Option<&str>) {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return;
    };
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
        reorder_value(data, &[&operation.node.selection_set.node], &document, 0);
    }
}

/// The fragments' and fields' nesting is bounded by the parser; this bounds the recursion
/// through fragment spreads as well.
const MAX_DEPTH: usize = 128;

fn reorder_value(value: &mut Value, selections: &[&SelectionSet], document: &ExecutableDocument, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::List(items) => {
            for item in items {
                reorder_value(item, selections, document, depth + 1);
            }
        }
        Value::Object(fields) => {
            // The response keys in selection order, each with every selection set asked of it.
            let mut order: Vec<(Name, Vec<&SelectionSet>)> = Vec::new();
            for selection_set in selections {
                collect(selection_set, document, &mut order, depth);
            }
            let mut old = std::mem::take(fields);
            for (key, inner) in order {
                if let Some(mut field) = old.shift_remove(&key) {
                    reorder_value(&mut field, &inner, document, depth + 1);
                    fields.insert(key, field);
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
        reorder(&mut data, query, None);
        // async-graphql's own serialisation keeps the map's order.
        let text = serde_json::to_string(&data).unwrap();
        assert_eq!(
            text,
            r#"{"entity":{"ref":"component:default/a","owner":{"ref":"group:default/t","title":"T"},"tags":[],"relations":[{"type":"dependsOn","target":{"ref":"x"}}],"title":"n"}}"#
        );
    }

    #[test]
    fn a_query_that_does_not_parse_leaves_the_answer_alone() {
        let mut data = async_graphql::value!({ "b": 1, "a": 2 });
        reorder(&mut data, "{ a b", None);
        assert_eq!(serde_json::to_string(&data).unwrap(), r#"{"b":1,"a":2}"#);
    }
}
