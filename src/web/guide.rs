//! `/guide`: how to add a repository to the catalog (the configuration file, `sextant crawl`,
//! push hooks) and how to validate descriptor files in CI (`sextant validate`, the pull-request
//! check against the catalog). A static page: its text is in `web/templates/guide.html`.

use askama::Template;
use axum::extract::{RawQuery, State};

use super::{Chrome, Dashboard, PageResult, render};

#[derive(Template)]
#[template(path = "guide.html")]
struct GuidePage {
    chrome: Chrome,
}

pub async fn page(State(_dashboard): State<Dashboard>, RawQuery(_query): RawQuery) -> PageResult {
    render(&GuidePage {
        chrome: Chrome::new("Add a repository", "guide"),
    })
}
