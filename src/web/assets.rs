//! The dashboard's static files (`web/static/`), embedded in the binary at build time.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// (name, content type, bytes) of every static file.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "sextant.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/sextant.css"),
    ),
    (
        "graph.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/graph.js"),
    ),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../web/static/favicon.svg")),
    (
        "sextant.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/sextant.js"),
    ),
];

/// `GET /static/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => {
            let mut response = (StatusCode::OK, *bytes).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            response
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
