//! Prometheus metrics: one process-wide recorder (the `metrics` facade), the request counter and
//! latency histogram recorded by a middleware, and the text exposition for `/metrics`. Crawls,
//! jobs and GraphQL errors record through the same facade where they happen.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from a cached page (sub-millisecond) to a whole crawl.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Distinct GraphQL operation names kept as label values; later names count as `other`, so
/// that clients cannot grow the metrics without bound.
const MAX_OPERATION_NAMES: usize = 100;

/// The process's recorder, installed on first use (several servers in one process, as in tests,
/// share it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Another recorder installed first (a library user's) keeps its place; ours still renders.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The label value for a GraphQL operation name: the name when it is a plain identifier and one
/// of the first [`MAX_OPERATION_NAMES`] seen, else `other`; `anonymous` when there is none.
pub fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = name.filter(|name| !name.is_empty()) else {
        return "anonymous".to_owned();
    };
    let plain = name.len() <= 64 && name.chars().all(|character| character.is_ascii_alphanumeric() || character == '_');
    if !plain {
        return "other".to_owned();
    }
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

/// The GraphQL operation of a request, set by the GraphQL handler for the middleware to label
/// the request with.
#[derive(Debug, Clone)]
pub struct OperationName(pub String);

/// Counts every request and records its latency, by route (the matched pattern, never the raw
/// path), method, status and GraphQL operation.
pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let operation = response
        .extensions()
        .get::<OperationName>()
        .map_or_else(|| "-".to_owned(), |operation| operation.0.clone());
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("operation", operation)];
    metrics::histogram!("sextant_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    let mut counted = labels.to_vec();
    counted.push(("status", status));
    metrics::counter!("sextant_http_requests_total", &counted).increment(1);
    response
}
