//! `sextant search`: the catalog's search from the command line. It first lets the index take
//! the catalog's pending changes (briefly), then prints one line per hit with the match
//! emphasised, or JSON for scripts. Exit codes as grep's: 0 something matched, 1 nothing did,
//! 2 an error.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{ViewFormat, fail, open_store, say};
use crate::config::Config;
use crate::search::{FacetField, FieldMatch, Search, SearchAnswer, SearchRequest};
use crate::store::Catalog;
use crate::terminal::{counted, json_line, printable};

/// How long `search` lets the index take pending changes before it searches.
const SYNC_BEFORE_SEARCH: Duration = Duration::from_secs(5);

/// What `sextant search` was asked for.
#[derive(Debug, Clone)]
pub(super) struct SearchArgs {
    /// The query's words, joined with spaces (empty: a browse by name).
    pub query: String,
    /// Filter values as people type them, per field.
    pub filter: Vec<(FacetField, Vec<String>)>,
    pub limit: usize,
    pub format: ViewFormat,
    pub facets: bool,
    /// Bold matches (on a terminal) rather than `[brackets]`.
    pub color: bool,
}

/// Searches `catalog`'s index and prints the hits; 0 when something matched, 1 when nothing
/// did, 2 on an error.
pub(super) async fn search_command(config: &Config, catalog: Catalog, args: SearchArgs) -> ExitCode {
    let store = match open_store(config, catalog).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    let search = match Search::new(store.clone(), &config.search_for(catalog)) {
        Ok(search) => search,
        Err(error) => {
            store.close().await;
            return fail(&format!("{error} [{}]", error.code()));
        }
    };
    catch_up(&search).await;
    let request = SearchRequest {
        query: args.query.clone(),
        filter: crate::graphql::typed_search_filter(args.filter.clone()),
        first: args.limit,
        offset: 0,
        facets: args.facets,
    };
    let answer = search.search(&request).await;
    store.close().await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => return fail(&format!("{error} [{}]", error.code())),
    };
    match args.format {
        ViewFormat::Human => say(&search_text(&answer, search.backend_name(), &args)),
        ViewFormat::Json => say(&json_line(&search_json(&answer, search.backend_name(), &args.query))),
    }
    if answer.total > 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// Lets the index take the catalog's pending changes for at most [`SYNC_BEFORE_SEARCH`], so that
/// a search right after `sextant crawl` sees what it crawled. A problem is a warning on stderr:
/// the search then answers from the index as it is.
async fn catch_up(search: &Search) {
    let problem = match crate::search::sync::catch_up(search, Instant::now() + SYNC_BEFORE_SEARCH).await {
        Err(error) => format!("{error} [{}]", error.code()),
        Ok(_) => return,
    };
    crate::terminal::print_error(&format!(
        "warning: the search index may miss the latest changes of the catalog: {problem}\n"
    ));
}

/// One line per hit (reference, title, owner, and the first field that matched, with the
/// match emphasised), then how many matched, then the facets when asked for.
fn search_text(answer: &SearchAnswer, backend: &str, args: &SearchArgs) -> String {
    let mut output = String::new();
    for hit in &answer.hits {
        let entity = &hit.entity;
        let mut line = printable(&entity.entity_ref).into_owned();
        if let Some(title) = entity.title.as_deref().filter(|title| !title.trim().is_empty()) {
            let _ = write!(line, "  \"{}\"", printable(title));
        }
        let _ = write!(line, "  owner {}", printable(entity.owner.as_deref().unwrap_or("none")));
        if let Some(field_match) = hit.matches.first() {
            let _ = write!(line, "  {}: {}", field_match.field, emphasised(field_match, args.color));
        }
        let _ = writeln!(output, "{line}");
    }
    let about = if answer.total_is_exact { "" } else { "about " };
    let matches = counted(answer.total, "match", "matches");
    if answer.total == 0 {
        let _ = writeln!(output, "no matches ({backend})");
    } else {
        let _ = writeln!(output, "{} of {about}{matches} ({backend})", answer.hits.len());
    }
    if args.facets {
        for facet in answer.facets.iter().filter(|facet| !facet.values.is_empty()) {
            let values: Vec<String> = facet
                .values
                .iter()
                .map(|(value, count)| format!("{} ({count})", printable(value)))
                .collect();
            let _ = writeln!(output, "{}: {}", facet.field.name(), values.join(", "));
        }
    }
    output
}

/// The snippet made safe for a terminal, with its matched ranges in bold (`color`) or in
/// `[brackets]`. Ranges are in code points, end exclusive, as the search gives them.
fn emphasised(field_match: &FieldMatch, color: bool) -> String {
    let (open, close) = if color { ("\u{1b}[1m", "\u{1b}[0m") } else { ("[", "]") };
    let characters: Vec<char> = field_match.snippet.chars().collect();
    let mut ranges = field_match.ranges.clone();
    ranges.sort_unstable();
    let mut output = String::new();
    let mut position = 0;
    for (start, end) in ranges {
        let start = start.clamp(position, characters.len());
        let end = end.clamp(start, characters.len());
        if start == end {
            continue;
        }
        output.push_str(&printable(&characters[position..start].iter().collect::<String>()));
        output.push_str(open);
        output.push_str(&printable(&characters[start..end].iter().collect::<String>()));
        output.push_str(close);
        position = end;
    }
    output.push_str(&printable(&characters[position..].iter().collect::<String>()));
    output
}

/// The JSON shape of a search (stable: scripts read it).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchJson<'answer> {
    query: &'answer str,
    backend: &'answer str,
    total: usize,
    total_is_exact: bool,
    hits: Vec<HitJson<'answer>>,
    /// Field, then value, then count (empty unless `--facets`).
    facets: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct HitJson<'answer> {
    #[serde(rename = "ref")]
    entity_ref: &'answer str,
    kind: &'answer str,
    name: &'answer str,
    title: Option<&'answer str>,
    owner: Option<&'answer str>,
    score: f64,
    highlights: Vec<HighlightJson<'answer>>,
}

#[derive(Serialize)]
struct HighlightJson<'answer> {
    field: &'answer str,
    snippet: &'answer str,
    /// `[start, end]` in code points, end exclusive.
    ranges: Vec<[usize; 2]>,
}

fn search_json<'answer>(answer: &'answer SearchAnswer, backend: &'answer str, query: &'answer str) -> SearchJson<'answer> {
    SearchJson {
        query,
        backend,
        total: answer.total,
        total_is_exact: answer.total_is_exact,
        hits: answer
            .hits
            .iter()
            .map(|hit| HitJson {
                entity_ref: &hit.entity.entity_ref,
                kind: &hit.entity.kind,
                name: &hit.entity.name,
                title: hit.entity.title.as_deref(),
                owner: hit.entity.owner.as_deref(),
                score: hit.score,
                highlights: hit
                    .matches
                    .iter()
                    .map(|field_match| HighlightJson {
                        field: field_match.field,
                        snippet: &field_match.snippet,
                        ranges: field_match.ranges.iter().map(|(start, end)| [*start, *end]).collect(),
                    })
                    .collect(),
            })
            .collect(),
        facets: answer
            .facets
            .iter()
            .map(|facet| {
                let values = facet
                    .values
                    .iter()
                    .map(|(value, count)| (value.clone(), serde_json::Value::from(*count)))
                    .collect();
                (facet.field.name().to_owned(), serde_json::Value::Object(values))
            })
            .collect(),
    }
}

/// Whether to emphasise in bold: `always`, `never`, or on a terminal without `NO_COLOR`.
pub(super) fn use_color(choice: &str) -> bool {
    match choice {
        "always" => true,
        "never" => false,
        _ => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_match(snippet: &str, ranges: &[(usize, usize)]) -> FieldMatch {
        FieldMatch {
            field: "title",
            snippet: snippet.to_owned(),
            ranges: ranges.to_vec(),
        }
    }

    #[test]
    fn matches_are_bracketed_or_bold_at_code_point_offsets_and_text_is_made_safe() {
        assert_eq!(emphasised(&field_match("Zürich payments", &[(7, 10)]), false), "Zürich [pay]ments");
        assert_eq!(
            emphasised(&field_match("Zürich payments", &[(0, 3), (7, 15)]), true),
            "\u{1b}[1mZür\u{1b}[0mich \u{1b}[1mpayments\u{1b}[0m"
        );
        // A control character in the descriptor's text is shown escaped, whatever the ranges.
        assert_eq!(emphasised(&field_match("a\u{1b}[2Jb", &[(0, 1)]), false), "[a]\\u{1b}[2Jb");
        // Ranges past the end, reversed or overlapping do not panic.
        assert_eq!(emphasised(&field_match("abc", &[(2, 99), (1, 2), (5, 3)]), false), "a[b][c]");
    }
}
