//! `POST /graphql` and GraphiQL on `GET /graphql`. The transport checks come first, before any
//! resolver works: body size, JSON shape (no unknown fields), batch size, the bearer token;
//! then the request runs under the request timeout. Errors are GraphQL errors with a stable
//! `extensions.code`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::metrics::{OperationName, operation_label};
use super::{AppState, MAX_GRAPHQL_BODY};
use crate::graphql::Caller;

/// The keys a GraphQL-over-HTTP request object may have.
const REQUEST_KEYS: &[&str] = &["query", "operationName", "variables", "extensions"];

pub(super) async fn graphiql() -> Html<String> {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .title("sextant")
            .finish(),
    )
}

/// A response with GraphQL's error shape: `{"errors": [{"message", "extensions": {"code"}}]}`.
pub(super) fn graphql_error(status: StatusCode, code: &'static str, message: &str) -> Response {
    ::metrics::counter!("sextant_graphql_errors_total", "code" => code).increment(1);
    (
        status,
        axum::Json(serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })),
    )
        .into_response()
}

pub(super) async fn execute(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Body) -> Response {
    let body = match super::read_body(body, MAX_GRAPHQL_BODY).await {
        Ok(body) => body,
        Err(super::BodyError::Broken) => return graphql_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "the body could not be read"),
        Err(super::BodyError::TooLarge) => {
            return graphql_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!("a GraphQL request body is at most {MAX_GRAPHQL_BODY} bytes"),
            );
        }
    };
    let authorized = match state.authorization(&headers) {
        Ok(authorized) => authorized,
        Err(()) => return graphql_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "the bearer token is not valid"),
    };
    let batch = match parse_batch(&body, crate::graphql::max_batch(&state.inner.schema)) {
        Ok(batch) => batch,
        Err((code, message)) => return graphql_error(StatusCode::BAD_REQUEST, code, &message),
    };
    let operation = match &batch {
        async_graphql::BatchRequest::Single(request) => {
            operation_label(request.operation_name.as_deref().or_else(|| first_operation_name(&request.query)))
        }
        async_graphql::BatchRequest::Batch(_) => "batch".to_owned(),
    };
    let timeout = state.settings().request_timeout;
    let work = crate::graphql::execute(&state.inner.schema, state.store(), batch, Caller { authorized });
    let mut response = match tokio::time::timeout(timeout, work).await {
        Ok(answer) => {
            let responses: &[async_graphql::Response] = match &answer {
                async_graphql::BatchResponse::Single(response) => std::slice::from_ref(response),
                async_graphql::BatchResponse::Batch(responses) => responses,
            };
            for response in responses {
                for error in &response.errors {
                    let code = error
                        .extensions
                        .as_ref()
                        .and_then(|extensions| extensions.get("code"))
                        .and_then(|code| match code {
                            async_graphql::Value::String(code) => Some(code.clone()),
                            _ => None,
                        })
                        .unwrap_or_else(|| "GRAPHQL_VALIDATION_FAILED".to_owned());
                    ::metrics::counter!("sextant_graphql_errors_total", "code" => code).increment(1);
                }
            }
            axum::Json(answer).into_response()
        }
        Err(_) => graphql_error(
            StatusCode::GATEWAY_TIMEOUT,
            "TIMEOUT",
            &format!("the request took longer than {} s", timeout.as_secs_f64()),
        ),
    };
    response.extensions_mut().insert(OperationName(operation));
    response
}

/// The name of the document's first operation (`query Name ...`), read without parsing the
/// whole document: the label of requests that do not send `operationName`.
fn first_operation_name(query: &str) -> Option<&str> {
    let mut rest = query.trim_start();
    while let Some(comment) = rest.strip_prefix('#') {
        rest = comment.split_once('\n').map_or("", |(_, after)| after).trim_start();
    }
    let after_keyword = ["query", "mutation", "subscription"]
        .iter()
        .find_map(|keyword| rest.strip_prefix(keyword))
        .filter(|after| !after.starts_with(|character: char| character.is_ascii_alphanumeric() || character == '_'))?
        .trim_start();
    let end = after_keyword
        .find(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
        .unwrap_or(after_keyword.len());
    Some(&after_keyword[..end]).filter(|name| !name.is_empty())
}

/// The request body as a GraphQL request or batch, refusing what is not one: malformed JSON,
/// unknown fields, a batch of more than `max_batch` operations (the schema's limit, checked here
/// before any operation is converted).
fn parse_batch(body: &[u8], max_batch: usize) -> Result<async_graphql::BatchRequest, (&'static str, String)> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| ("BAD_REQUEST", format!("the body is not valid JSON: {error}")))?;
    let single = |value: serde_json::Value| -> Result<async_graphql::Request, (&'static str, String)> {
        let serde_json::Value::Object(fields) = &value else {
            return Err(("BAD_REQUEST", "a GraphQL request must be a JSON object".to_owned()));
        };
        if let Some(unknown) = fields.keys().find(|key| !REQUEST_KEYS.contains(&key.as_str())) {
            let unknown = crate::terminal::printable(unknown.chars().take(64).collect::<String>().as_str()).into_owned();
            return Err((
                "BAD_REQUEST",
                format!("unknown field `{unknown}` in the request; known: {}", REQUEST_KEYS.join(", ")),
            ));
        }
        if !fields.get("query").is_some_and(serde_json::Value::is_string) {
            return Err(("BAD_REQUEST", "the request needs a `query` string".to_owned()));
        }
        serde_json::from_value(value).map_err(|error| ("BAD_REQUEST", format!("the request is not a GraphQL request: {error}")))
    };
    match value {
        serde_json::Value::Array(requests) => {
            if requests.is_empty() {
                return Err(("BAD_REQUEST", "an empty batch".to_owned()));
            }
            if requests.len() > max_batch {
                return Err((
                    "BATCH_TOO_LARGE",
                    format!("a batch holds at most {max_batch} operations, not {}", requests.len()),
                ));
            }
            Ok(async_graphql::BatchRequest::Batch(
                requests.into_iter().map(single).collect::<Result<_, _>>()?,
            ))
        }
        value => Ok(async_graphql::BatchRequest::Single(single(value)?)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_operation_name_is_read_from_the_document() {
        assert_eq!(
            super::first_operation_name("query ComponentPage($ref: String!) { a }"),
            Some("ComponentPage")
        );
        assert_eq!(super::first_operation_name("# note\n  mutation Crawl { a }"), Some("Crawl"));
        assert_eq!(super::first_operation_name("{ a }"), None);
        assert_eq!(super::first_operation_name("query { a }"), None);
        assert_eq!(super::first_operation_name("queryX { a }"), None);
    }
}
