//! The web dashboard: server-rendered HTML pages over the same store and search services as the
//! GraphQL API. Each page is a handler in `web/` (one file per page) that reads a request's
//! [`Snapshot`](crate::store::Snapshot), builds a typed view and renders an askama template from
//! `web/templates/` (compile-time checked, HTML-escaped by default). Static assets from
//! `web/static/` are embedded in the binary. Every response carries the security headers
//! ([`security_headers`]): a Content-Security-Policy with no inline script or style, so that no
//! descriptor text can run as code even if it were not escaped.
//!
//! Pages work without JavaScript; `web/static/sextant.js` only enhances them (search as you
//! type, graph pan and zoom, keyboard shortcuts).

mod assets;
mod catalog;
mod entity;
mod graph;
mod guide;
mod home;
mod links;
mod problems;
mod query;
mod repos;
mod search;
mod team;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::search::{Search, SearchError};
use crate::store::{Store, StoreError};

pub use links::{entity_path, safe_href};

/// What the pages read: the catalog's store and the search service (the ones the GraphQL API
/// uses). Cheap to clone.
#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<DashboardInner>,
}

struct DashboardInner {
    store: Store,
    search: Search,
}

impl Dashboard {
    pub fn new(store: Store, search: Search) -> Dashboard {
        Dashboard {
            inner: Arc::new(DashboardInner { store, search }),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn search(&self) -> &Search {
        &self.inner.search
    }
}

/// The dashboard's routes, for any router state (the dashboard carries its own).
pub fn router<S>(dashboard: Dashboard) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", get(home::page))
        .route("/catalog", get(catalog::page))
        .route("/entity/{kind}/{name}", get(entity_in_default_namespace))
        .route("/entity/{kind}/{namespace}/{name}", get(entity::page))
        .route("/entity/{kind}/{namespace}/{name}/graph", get(graph::page))
        .route("/entity/{kind}/{namespace}/{name}/graph.svg", get(graph::svg))
        .route("/search", get(search::page))
        .route("/search/suggest", get(search::suggest))
        .route("/repos", get(repos::page))
        .route("/repo/{id}", get(repos::repo))
        .route("/problems", get(problems::page))
        .route("/problems/{list}", get(problems::list))
        .route("/guide", get(guide::page))
        .route("/static/{file}", get(assets::serve))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(dashboard)
}

/// The Content-Security-Policy of every dashboard response: scripts, styles and fetches from
/// this server only, no inline script or style, no plugins, no framing, forms posting nowhere else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the security headers to a dashboard response.
async fn security_headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    add_security_headers(response.headers_mut());
    response
}

fn add_security_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// The dashboard's 404 page for a path no route knows, for the server's fallback when a
/// browser asks (API clients keep their JSON answer).
pub fn not_found_page(path: &str) -> Response {
    let mut response = PageError::NotFound(format!(
        "There is no page at {}. Entity pages are /entity/KIND/NAMESPACE/NAME; the home page lists what the catalog holds.",
        path.chars().take(200).collect::<String>()
    ))
    .into_response();
    add_security_headers(response.headers_mut());
    response
}

/// `/entity/{kind}/{name}`: the entity's page in the default namespace.
async fn entity_in_default_namespace(axum::extract::Path((kind, name)): axum::extract::Path<(String, String)>) -> Response {
    axum::response::Redirect::to(&links::entity_path(&format!("{kind}:default/{name}"))).into_response()
}

/// The parts of the page chrome every page shares: its title, which header link is current,
/// and the search box's text.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// The page's own title (the `<title>` adds "· sextant").
    pub title: String,
    /// Which header link is current: `home`, `catalog`, `repos`, `problems`, `guide`, `search` or empty.
    pub section: &'static str,
    /// The search box's text (the query on the search page).
    pub query: String,
}

impl Chrome {
    pub fn new(title: impl Into<String>, section: &'static str) -> Chrome {
        Chrome {
            title: title.into(),
            section,
            query: String::new(),
        }
    }
}

/// Why a page could not be shown; rendered as an error page with a stable code.
#[derive(Debug)]
pub enum PageError {
    /// No such entity, repository or list.
    NotFound(String),
    /// A query parameter that makes no sense (a bad cursor, an unknown sort field).
    BadRequest(String),
    Store(StoreError),
    Search(SearchError),
    Render(askama::Error),
}

impl PageError {
    /// The stable code shown on the page.
    pub fn code(&self) -> &'static str {
        match self {
            PageError::NotFound(_) => "not-found",
            PageError::BadRequest(_) => "bad-request",
            PageError::Store(error) => error.code(),
            PageError::Search(error) => error.code(),
            PageError::Render(_) => "render-failed",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Store(error) if error.is_unreachable() => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Search(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Store(_) | PageError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> String {
        match self {
            PageError::NotFound(message) | PageError::BadRequest(message) => message.clone(),
            PageError::Store(error) => error.to_string(),
            PageError::Search(error) => error.to_string(),
            PageError::Render(error) => format!("the page could not be rendered: {error}"),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> PageError {
        PageError::Store(error)
    }
}

impl From<SearchError> for PageError {
    fn from(error: SearchError) -> PageError {
        PageError::Search(error)
    }
}

impl From<askama::Error> for PageError {
    fn from(error: askama::Error) -> PageError {
        PageError::Render(error)
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    code: &'static str,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(code = self.code(), error = %self.message(), "dashboard page failed");
        }
        let page = ErrorPage {
            chrome: Chrome::new(status.canonical_reason().unwrap_or("Error"), ""),
            status: status.as_u16(),
            code: self.code(),
            message: self.message(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, self.message()).into_response(),
        }
    }
}

/// A page's answer: HTML, or an error page.
pub type PageResult = Result<Response, PageError>;

/// Renders a template as a `200 OK` HTML response.
pub fn render(template: &impl Template) -> PageResult {
    Ok(Html(template.render()?).into_response())
}
