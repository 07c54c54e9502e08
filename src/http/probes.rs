//! `/healthz` (the process answers), `/readyz` (the database answers, its schema is this
//! build's, and the last crawl did not fail) and `/metrics` (Prometheus text).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// How long a probe waits for the database before it counts as unreachable.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub(super) async fn healthz() -> Response {
    axum::Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// 200 when ready; 503 with every failing check named otherwise.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    let checks = tokio::time::timeout(PROBE_TIMEOUT, readiness(&state))
        .await
        .unwrap_or_else(|_| vec![("database", Err("the database did not answer in time".to_owned()))]);
    let ready = checks.iter().all(|(_, result)| result.is_ok());
    let body: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, result)| {
            let value = match result {
                Ok(detail) => serde_json::json!({ "ok": true, "detail": detail }),
                Err(reason) => serde_json::json!({ "ok": false, "detail": reason }),
            };
            (name.to_owned(), value)
        })
        .collect();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        axum::Json(serde_json::json!({ "status": if ready { "ready" } else { "not-ready" }, "checks": body })),
    )
        .into_response()
}

type Check = (&'static str, Result<String, String>);

async fn readiness(state: &AppState) -> Vec<Check> {
    let store = state.store();
    if let Err(error) = store.ping().await {
        tracing::warn!(%error, "readiness: the database does not answer");
        return vec![("database", Err(format!("unreachable [{}]", error.code())))];
    }
    let mut checks: Vec<Check> = vec![("database", Ok("reachable".to_owned()))];
    checks.push((
        "migrations",
        match store.schema_state().await {
            Ok(schema) if schema.is_current() => Ok("applied".to_owned()),
            Ok(schema) if !schema.failed.is_empty() => Err(format!("migrations failed: {:?}", schema.failed)),
            Ok(schema) => Err(format!("migrations not applied: {:?}; run `sextant migrate`", schema.pending)),
            Err(error) => Err(format!("cannot read the schema version [{}]", error.code())),
        },
    ));
    checks.push((
        "lastCrawl",
        match store.last_crawl().await {
            Ok(None) => Ok("no crawl yet".to_owned()),
            Ok(Some(crawl)) if crawl.failed() => Err(format!(
                "the last crawl failed: all {} repositories it read failed",
                crawl.repos_failed
            )),
            Ok(Some(crawl)) => Ok(format!(
                "{} read, {} unchanged, {} failed, {} s ago",
                crawl.repos_crawled, crawl.repos_unchanged, crawl.repos_failed, crawl.age_seconds
            )),
            Err(error) => Err(format!("cannot read the crawl runs [{}]", error.code())),
        },
    ));
    checks
}

/// The recorder's metrics, plus gauges read from the catalog now. A database that does not
/// answer leaves the gauges out (and says so in `sextant_catalog_up`), never fails the scrape.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(PROBE_TIMEOUT, state.store().gauges()).await {
        Ok(Ok(gauges)) => {
            ::metrics::gauge!("sextant_catalog_up").set(1.0);
            for (kind, count) in &gauges.entities_by_kind {
                ::metrics::gauge!("sextant_entities", "kind" => kind.clone()).set(*count as f64);
            }
            ::metrics::gauge!("sextant_repos").set(gauges.repos as f64);
            ::metrics::gauge!("sextant_repos_failing").set(gauges.failing_repos as f64);
        }
        _ => ::metrics::gauge!("sextant_catalog_up").set(0.0),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        super::metrics::handle().render(),
    )
        .into_response()
}
