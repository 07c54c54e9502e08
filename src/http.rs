//! The HTTP server: the axum router (/graphql, /healthz, /readyz, /metrics, /hooks/*, and the
//! dashboard's pages from [`crate::web`]), its
//! limits and middleware, metrics, and graceful shutdown. Requests are turned into typed calls
//! here and answers into JSON; nothing below this module knows about HTTP.

mod graphql;
pub mod metrics;
mod probes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

use crate::crawler::Secret;
use crate::graphql::CatalogSchema;
use crate::search::Search;
use crate::store::Store;

/// Largest GraphQL request body: queries are small; this leaves room for big variables.
pub const MAX_GRAPHQL_BODY: usize = 256 * 1024;
/// Largest webhook body (push events with many commits stay far below).
pub const MAX_HOOK_BODY: usize = 1024 * 1024;
/// A body over its cap is read on (and dropped) up to this many bytes, so that the client, still
/// sending, receives the refusal instead of a reset connection; a larger one is cut off.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Why a request body was not read.
enum BodyError {
    /// Larger than the cap.
    TooLarge,
    /// The client stopped sending, or the connection broke.
    Broken,
}

/// Reads a body of at most `cap` bytes. A larger body is read on without being kept (up to
/// [`DRAIN_LIMIT`]), so memory stays within `cap` whatever the client sends.
async fn read_body(body: axum::body::Body, cap: usize) -> Result<axum::body::Bytes, BodyError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Broken)?;
        let Ok(data) = frame.into_data() else { continue };
        total = total.saturating_add(data.len());
        if total <= cap {
            kept.extend_from_slice(&data);
        } else if total > DRAIN_LIMIT {
            return Err(BodyError::TooLarge);
        }
    }
    if total > cap {
        return Err(BodyError::TooLarge);
    }
    Ok(kept.into())
}

/// What the server needs to answer requests; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    store: Store,
    schema: CatalogSchema,
    queue: crate::jobs::Queue,
    /// The search service (the same one the schema and the sync use): probed by `/readyz` and
    /// `/metrics`.
    search: Search,
    settings: HttpSettings,
}

/// The server's settings, read once from the configuration and the environment.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The bearer token of mutations; `None`: mutations are refused.
    pub token: Option<Secret>,
    /// A request that takes longer is answered with a `TIMEOUT` error.
    pub request_timeout: Duration,
    /// The shared secrets of the push hooks; a provider without one has its hook disabled.
    pub hooks: crate::jobs::HookSecrets,
}

impl AppState {
    pub fn new(store: Store, schema: CatalogSchema, queue: crate::jobs::Queue, search: Search, settings: HttpSettings) -> AppState {
        AppState {
            inner: Arc::new(Shared {
                store,
                schema,
                queue,
                search,
                settings,
            }),
        }
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn search(&self) -> &Search {
        &self.inner.search
    }

    fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }

    /// Whether `headers` carry the configured bearer token (compared in constant time).
    /// `Err(())`: a token was sent and it is wrong.
    fn authorization(&self, headers: &HeaderMap) -> Result<bool, ()> {
        let Some(sent) = headers.get(header::AUTHORIZATION) else {
            return Ok(false);
        };
        let sent = sent.as_bytes();
        let token = sent.strip_prefix(b"Bearer ").or_else(|| sent.strip_prefix(b"bearer ")).ok_or(())?;
        match &self.settings().token {
            Some(expected) if bool::from(expected.expose().as_bytes().ct_eq(token)) => Ok(true),
            _ => Err(()),
        }
    }
}

/// Every route, with the metrics middleware around them.
pub fn router(state: AppState) -> Router {
    // The recorder is installed before the first request, so that nothing recorded is lost.
    metrics::handle();
    Router::new()
        .route("/graphql", get(graphql::graphiql).post(graphql::execute))
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
        .route("/hooks/{provider}", axum::routing::post(hook))
        .merge(crate::web::router(crate::web::Dashboard::new(
            state.store().clone(),
            state.search().clone(),
        )))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(metrics::record))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves; then stops accepting and
/// finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Resolves on Ctrl-C or SIGTERM (what a container runtime sends).
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// A JSON error body `{"error": {"code", "message"}}` with `status`, for the non-GraphQL routes.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// An unknown route: the dashboard's 404 page for a browser, a JSON error for anything else.
async fn not_found(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        return crate::web::not_found_page(uri.path());
    }
    error_response(StatusCode::NOT_FOUND, "not-found", "no such route")
}

/// `POST /hooks/{github,gitlab,bitbucket}`: a push event, verified, then a crawl job for the
/// repository and branch pushed.
async fn hook(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Path(provider): axum::extract::Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let provider = match provider.as_str() {
        "github" => crate::jobs::Provider::GitHub,
        "gitlab" => crate::jobs::Provider::GitLab,
        "bitbucket" => crate::jobs::Provider::Bitbucket,
        _ => {
            return error_response(
                StatusCode::NOT_FOUND,
                "not-found",
                "hooks are /hooks/github, /hooks/gitlab and /hooks/bitbucket",
            );
        }
    };
    let body = match read_body(body, MAX_HOOK_BODY).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                &format!("a hook body is at most {MAX_HOOK_BODY} bytes"),
            );
        }
        Err(BodyError::Broken) => return error_response(StatusCode::BAD_REQUEST, "bad-request", "the body could not be read"),
    };
    let answer = crate::jobs::hooks::receive(provider, &headers, &body, &state.settings().hooks, &state.inner.queue).await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ::metrics::counter!("sextant_hooks_total", "provider" => provider.as_str(), "code" => answer.code).increment(1);
    (
        status,
        axum::Json(serde_json::json!({ "code": answer.code, "message": answer.message, "jobs": answer.job_ids })),
    )
        .into_response()
}
