//! `/healthz` (the process answers), `/readyz` (the database answers, its schema is this
//! build's, and the last crawl did not fail; the search index keeps up, a check that degrades
//! the answer without making the replica unready) and `/metrics` (Prometheus text).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// How long a probe waits for the database before it counts as unreachable.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub(super) async fn healthz() -> Response {
    axum::Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// A change the index has not received for this long fails the search check.
const MAX_SEARCH_LAG_SECONDS: f64 = 60.0;

/// 200 when ready; 503 with every failing check named otherwise. The search check is not
/// critical: the catalog still serves when the index lags or its backend is down, so a failing
/// search check alone answers 200 with the status `degraded`.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    let critical = async {
        tokio::time::timeout(PROBE_TIMEOUT, readiness(&state))
            .await
            .unwrap_or_else(|_| vec![("database", Err("the database did not answer in time".to_owned()))])
    };
    let (mut checks, search) = tokio::join!(critical, search_check(&state));
    let ready = checks.iter().all(|(_, result)| result.is_ok());
    // With the database away the search check has nothing to say of its own.
    let degraded = ready && search.is_err();
    if ready {
        checks.push(("search", search));
    }
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
    let (status, word) = match (ready, degraded) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "not-ready"),
        (true, true) => (StatusCode::OK, "degraded"),
        (true, false) => (StatusCode::OK, "ready"),
    };
    (status, axum::Json(serde_json::json!({ "status": word, "checks": body }))).into_response()
}

/// The search check: the backend answers (within the probe timeout), no change has waited more
/// than [`MAX_SEARCH_LAG_SECONDS`], and none is failing. The detail names the backend and the
/// lag, e.g. `meilisearch, 12 pending, oldest 3 s`.
async fn search_check(state: &AppState) -> Result<String, String> {
    let search = state.search();
    let backend = search.backend_name();
    let (ping, lag) = tokio::join!(
        tokio::time::timeout(PROBE_TIMEOUT, search.ping()),
        tokio::time::timeout(PROBE_TIMEOUT, state.store().search_lag())
    );
    let lag = match lag {
        Ok(Ok(lag)) => lag,
        Ok(Err(error)) => return Err(format!("cannot read the index lag [{}]", error.code())),
        Err(_) => return Err("cannot read the index lag: the database did not answer in time".to_owned()),
    };
    let mut lag_text = format!("{} pending", lag.pending);
    if let Some(oldest) = lag.oldest_seconds.filter(|_| lag.pending > 0) {
        lag_text.push_str(&format!(", oldest {} s", oldest.round() as i64));
    }
    if lag.reindexing {
        lag_text.push_str(", reindexing");
    }
    match ping {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(backend, %error, code = error.code(), "readiness: the search backend does not answer");
            return Err(format!("{backend} does not answer [{}]; {lag_text}", error.code()));
        }
        Err(_) => return Err(format!("{backend} did not answer in time; {lag_text}")),
    }
    let detail = format!("{backend}, {lag_text}");
    if lag.failing > 0 {
        let last_error = lag.last_error.as_deref().unwrap_or("unknown");
        return Err(format!("{detail}; {} failing, last error: {last_error}", lag.failing));
    }
    // A reindex holds changes back on purpose: they are delivered when it ends.
    if !lag.reindexing && lag.oldest_seconds.is_some_and(|oldest| oldest > MAX_SEARCH_LAG_SECONDS) {
        return Err(format!("{detail}: a change has waited more than {MAX_SEARCH_LAG_SECONDS} s"));
    }
    Ok(detail)
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
    search_gauges(&state).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        super::metrics::handle().render(),
    )
        .into_response()
}

/// The index lag and whether the search backend answers, as gauges. What cannot be read now is
/// left as it was (the lag) or counted down (the backend).
async fn search_gauges(state: &AppState) {
    let search = state.search();
    let (ping, lag) = tokio::join!(
        tokio::time::timeout(PROBE_TIMEOUT, search.ping()),
        tokio::time::timeout(PROBE_TIMEOUT, state.store().search_lag())
    );
    let up = matches!(ping, Ok(Ok(())));
    ::metrics::gauge!("sextant_search_up", "backend" => search.backend_name()).set(if up { 1.0 } else { 0.0 });
    if let Ok(Ok(lag)) = lag {
        ::metrics::gauge!("sextant_search_pending").set(lag.pending as f64);
        ::metrics::gauge!("sextant_search_failing").set(lag.failing as f64);
        ::metrics::gauge!("sextant_search_lag_seconds").set(lag.oldest_seconds.filter(|_| lag.pending > 0).unwrap_or(0.0));
    }
}
