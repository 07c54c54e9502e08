//! The home page (`/`): the catalog at a glance. Counts by kind (each a link to the catalog
//! filtered by it) and the total; owner coverage (the share of components whose owner is a Group
//! or a User, with a link to the orphans); the last crawl (when, how long, what it read and what
//! changed); and every kind of problem with its count, each a link to its list. Three reads on
//! one snapshot: the store's statistics, the last crawl run and the problem counts, the ones the
//! GraphQL API's `stats`, `crawlRuns` and `problemCounts` use.

use std::time::{SystemTime, UNIX_EPOCH};

use askama::Template;
use axum::extract::{RawQuery, State};

use super::query::encode;
use super::{Chrome, Dashboard, PageResult, render};
use crate::store::{CatalogStats, CrawlRun, ProblemCounts};

/// A kind with how many entities it has.
struct KindCount {
    kind: String,
    count: i64,
    href: String,
}

/// The share of components with an owner in the catalog.
struct Coverage {
    /// e.g. `87%`.
    percent: String,
    /// 0 to 100, for the meter.
    value: u32,
    owned: i64,
    components: i64,
    orphans: usize,
}

/// The last crawl as the page tells it.
struct LastCrawl {
    /// RFC 3339, for `<time datetime>`; `shown` the same in words people read (`2026-11-28 00:06 UTC`).
    started_at: String,
    started_shown: String,
    finished_at: Option<String>,
    finished_shown: Option<String>,
    /// How long it took (or has been running).
    took: Option<String>,
    /// How long ago it finished (or started, while it runs).
    ago: Option<String>,
    run: CrawlRun,
}

/// A kind of problem with its count and its list.
struct ProblemLine {
    label: &'static str,
    count: usize,
    href: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    total: i64,
    kinds: Vec<KindCount>,
    coverage: Option<Coverage>,
    last_crawl: Option<LastCrawl>,
    problems: Vec<ProblemLine>,
    problems_total: usize,
}

/// Seconds since the Unix epoch of a `YYYY-MM-DDTHH:MM:SSZ` time (what the store writes).
fn unix_seconds(time: &str) -> Option<i64> {
    let bytes = time.as_bytes();
    if bytes.len() != 20 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[10] != b'T' || bytes[19] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| time.get(range).and_then(|digits| digits.parse::<i64>().ok());
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let shifted_year = if month <= 2 { year - 1 } else { year };
    let era = shifted_year.div_euclid(400);
    let year_of_era = shifted_year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// A duration in words: `under a second`, `42 s`, `3 min 5 s`, `2 h 10 min`, `3 days`.
fn duration_words(seconds: i64) -> String {
    match seconds {
        ..=0 => "under a second".to_owned(),
        1..=59 => format!("{seconds} s"),
        60..=3_599 => match seconds % 60 {
            0 => format!("{} min", seconds / 60),
            rest => format!("{} min {rest} s", seconds / 60),
        },
        3_600..=86_399 => match (seconds % 3_600) / 60 {
            0 => format!("{} h", seconds / 3_600),
            rest => format!("{} h {rest} min", seconds / 3_600),
        },
        _ => match seconds / 86_400 {
            1 => "1 day".to_owned(),
            days => format!("{days} days"),
        },
    }
}

/// `2026-11-28T00:06:05Z` as `2026-11-28 00:06:05 UTC`; anything else as it is.
fn readable_time(time: &str) -> String {
    match unix_seconds(time) {
        Some(_) => format!("{} {} UTC", &time[..10], &time[11..19]),
        None => time.to_owned(),
    }
}

fn now_seconds() -> Option<i64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|elapsed| i64::try_from(elapsed.as_secs()).ok())
}

fn last_crawl(run: CrawlRun, now: Option<i64>) -> LastCrawl {
    let started = unix_seconds(&run.started_at);
    let finished = run.finished_at.as_deref().and_then(unix_seconds);
    let took = match (started, finished, now) {
        (Some(started), Some(finished), _) => Some(duration_words(finished - started)),
        (Some(started), None, Some(now)) => Some(duration_words(now - started)),
        _ => None,
    };
    let ago = finished.or(started).zip(now).map(|(then, now)| match now - then {
        ..=4 => "just now".to_owned(),
        elapsed => format!("{} ago", duration_words(elapsed)),
    });
    LastCrawl {
        started_at: run.started_at.clone(),
        started_shown: readable_time(&run.started_at),
        finished_at: run.finished_at.clone(),
        finished_shown: run.finished_at.as_deref().map(readable_time),
        took,
        ago,
        run,
    }
}

fn kinds(stats: &CatalogStats) -> Vec<KindCount> {
    stats
        .by_kind
        .iter()
        .filter_map(|count| {
            let kind = count.value.clone()?;
            Some(KindCount {
                href: format!("/catalog{}", encode(&[("kind", &kind)])),
                kind,
                count: count.count,
            })
        })
        .collect()
}

fn coverage(stats: &CatalogStats, problems: &ProblemCounts) -> Option<Coverage> {
    let share = stats.owner_coverage()?;
    let percent = share * 100.0;
    Some(Coverage {
        // 99.6% owned is not everything: round down when some are missing.
        percent: if stats.owned_components < stats.components && percent > 99.0 {
            format!("{:.1}%", (percent * 10.0).floor() / 10.0)
        } else {
            format!("{percent:.0}%")
        },
        value: percent.clamp(0.0, 100.0).round() as u32,
        owned: stats.owned_components,
        components: stats.components,
        orphans: problems.orphans,
    })
}

/// Every kind of problem, in the order a platform team looks at them, each with its list.
fn problem_lines(counts: &ProblemCounts) -> Vec<ProblemLine> {
    [
        ("Invalid files", "invalid-files", counts.invalid_files),
        ("Conflicts", "conflicts", counts.conflicts),
        ("Dangling references", "dangling", counts.dangling),
        ("Orphans (no owner)", "orphans", counts.orphans),
        ("Invalid owners", "invalid-owners", counts.invalid_owners),
        ("Duplicate aliases", "duplicate-aliases", counts.duplicate_aliases),
        ("Cycles", "cycles", counts.cycles),
        ("Stale repositories", "stale-repos", counts.stale_repos),
    ]
    .into_iter()
    .map(|(label, list, count)| ProblemLine {
        label,
        count,
        href: format!("/problems/{list}"),
    })
    .collect()
}

/// `GET /`.
pub async fn page(State(dashboard): State<Dashboard>, RawQuery(_query): RawQuery) -> PageResult {
    let snapshot = dashboard.store().snapshot();
    let stats = snapshot.stats().await?;
    let runs = snapshot.crawl_runs(1).await?;
    let problems = snapshot.problem_counts().await?;
    render(&HomePage {
        chrome: Chrome::new("Home", "home"),
        total: stats.entities,
        kinds: kinds(&stats),
        coverage: coverage(&stats, &problems),
        last_crawl: runs.into_iter().next().map(|run| last_crawl(run, now_seconds())),
        problems_total: problems.total(),
        problems: problem_lines(&problems),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_times_become_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2000-03-01T00:00:01Z"), Some(951_868_801));
        assert_eq!(unix_seconds("2026-11-28T00:06:05Z"), Some(1_795_824_365));
        for odd in [
            "",
            "2026-11-28 00:06:05",
            "2026-13-01T00:00:00Z",
            "2026-11-28T00:06:05+01:00",
            "yyyy-mm-ddThh:mm:ssZ",
        ] {
            assert_eq!(unix_seconds(odd), None, "{odd}");
        }
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(duration_words(0), "under a second");
        assert_eq!(duration_words(-3), "under a second");
        assert_eq!(duration_words(42), "42 s");
        assert_eq!(duration_words(185), "3 min 5 s");
        assert_eq!(duration_words(120), "2 min");
        assert_eq!(duration_words(7_800), "2 h 10 min");
        assert_eq!(duration_words(86_400 * 3 + 5), "3 days");
    }

    #[test]
    fn a_crawl_says_how_long_it_took_and_how_long_ago() {
        let run = CrawlRun {
            id: 1,
            started_at: "2026-11-28T00:00:00Z".to_owned(),
            finished_at: Some("2026-11-28T00:01:05Z".to_owned()),
            repos_crawled: 3,
            repos_unchanged: 1,
            repos_failed: 0,
            entities_added: 5,
            entities_updated: 0,
            entities_removed: 1,
            conflicts: 0,
            diagnostics: 2,
        };
        let finished = unix_seconds("2026-11-28T00:01:05Z");
        let told = last_crawl(run.clone(), finished.map(|at| at + 7_200));
        assert_eq!(told.took.as_deref(), Some("1 min 5 s"));
        assert_eq!(told.ago.as_deref(), Some("2 h ago"));
        assert_eq!(told.finished_shown.as_deref(), Some("2026-11-28 00:01:05 UTC"));
        assert_eq!(readable_time("soon"), "soon");
        let running = last_crawl(CrawlRun { finished_at: None, ..run }, unix_seconds("2026-11-28T00:00:30Z"));
        assert_eq!(running.took.as_deref(), Some("30 s"));
    }

    #[test]
    fn every_problem_list_is_linked() {
        let lines = problem_lines(&ProblemCounts {
            orphans: 2,
            ..ProblemCounts::default()
        });
        let hrefs: Vec<&str> = lines.iter().map(|line| line.href.as_str()).collect();
        assert_eq!(
            hrefs,
            [
                "/problems/invalid-files",
                "/problems/conflicts",
                "/problems/dangling",
                "/problems/orphans",
                "/problems/invalid-owners",
                "/problems/duplicate-aliases",
                "/problems/cycles",
                "/problems/stale-repos"
            ]
        );
        assert_eq!(lines.iter().map(|line| line.count).sum::<usize>(), 2);
    }
}
