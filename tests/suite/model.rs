//! Model-based test of graph truth: random sequences of changes to a few real git repositories,
//! crawled after random subsets of steps; after every crawl the whole catalog read from Postgres
//! must equal an independently written reference model of the catalog rules. A failing
//! sequence is shrunk (steps, edits and crawled repositories removed while the same rule still
//! breaks) and printed with its seed and the differences.
//!
//! `SEXTANT_MODEL_CASES` sets how many sequences run (200 by default), `SEXTANT_MODEL_SEED` the
//! first sequence's seed (sequence n uses seed + n; random by default, printed), and
//! `SEXTANT_MODEL_EXPLORE=1` keeps going after a failure and reports one shrunk sequence per
//! broken rule.

mod catalog;
mod generate;
mod reference;
mod steps;
mod world;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sextant::crawler::{ReadOptions, Source};
use sextant::ingest::{CrawlOptions, crawl};
use sextant::store::Store;

use catalog::{Catalog, Category, Difference};
use generate::Scenario;
use reference::Model;
use steps::{Step, apply_step, crawled};
use world::RepoWorld;

/// Sequences run in parallel, each worker on a database of its own.
const WORKERS: usize = 2;
/// At most this many sequences are run while shrinking one failure.
const SHRINK_BUDGET: usize = 400;

/// One worker's catalog.
struct Worker {
    store: Store,
    mirrors: std::path::PathBuf,
}

impl Worker {
    async fn new() -> Worker {
        let (store, _) = crate::db::fresh_store().await;
        Worker {
            store,
            mirrors: std::env::temp_dir().join("sextant-test-unused-mirrors"),
        }
    }
}

/// A sequence that broke a rule: where, how, and what its steps did up to there.
#[derive(Debug, Clone)]
struct Failure {
    crawl_step: usize,
    differences: Vec<Difference>,
    log: Vec<String>,
    expected: Catalog,
    actual: Catalog,
}

impl Failure {
    fn category(&self) -> Category {
        self.differences[0].category
    }
}

/// Runs one sequence on a truncated catalog and fresh repositories; `None` when every crawl
/// left the catalog equal to the model.
async fn run(worker: &Worker, scenario: &Scenario) -> Option<Failure> {
    let pool = worker.store.pool();
    catalog::truncate(pool).await;
    let folder = tempfile::tempdir().expect("a temporary folder");
    let count = scenario.repo_count;
    let mut worlds: Vec<RepoWorld> = (0..count)
        .map(|index| RepoWorld::create(folder.path().join(format!("repo-{index}"))))
        .collect();
    let mut model = Model::default();
    let mut log = Vec::new();
    for (index, step) in scenario.steps.iter().enumerate() {
        let Step::Crawl { mask } = step else {
            let repo = match step {
                Step::Change { repo, .. } | Step::DeleteBranch { repo } | Step::Reachable { repo, .. } => {
                    format!("repo {}: ", repo % count)
                }
                _ => String::new(),
            };
            log.extend(
                apply_step(&mut worlds, step)
                    .into_iter()
                    .map(|done| format!("{index}: {repo}{done}")),
            );
            continue;
        };
        let repos = crawled(*mask, count);
        log.push(format!("{index}: crawl repos {repos:?}"));
        let sources: Vec<Source> = repos.iter().map(|repo| worlds[*repo].source.clone()).collect();
        let reads = repos
            .iter()
            .map(|repo| (*repo, worlds[*repo].source.url.clone(), worlds[*repo].tip_view()))
            .collect();
        let mut options = CrawlOptions::new(ReadOptions::new(worker.mirrors.clone()));
        options.repo_timeout = Duration::from_secs(30);
        let crawl_result = crawl(&worker.store, &sources, &options, |_, _| {}).await;
        model.crawl(reads);
        let actual = catalog::read(pool).await;
        let expected = model.catalog(&actual);
        let mut differences = catalog::differences(&expected, &actual);
        if let Err(error) = crawl_result {
            differences.insert(
                0,
                Difference {
                    category: Category::CrawlFailed,
                    text: format!("the crawl failed: {error}"),
                },
            );
        }
        if !differences.is_empty() {
            return Some(Failure {
                crawl_step: index,
                differences,
                log,
                expected,
                actual,
            });
        }
    }
    None
}

/// Smaller versions of `scenario`: without a run of steps, without one edit, without one
/// repository in a crawl.
fn simpler(scenario: &Scenario) -> Vec<Scenario> {
    let mut candidates = Vec::new();
    let length = scenario.steps.len();
    let mut chunk = length.div_ceil(2);
    while chunk >= 1 {
        for start in (0..length).step_by(chunk) {
            let mut candidate = scenario.clone();
            candidate.steps.drain(start..(start + chunk).min(length));
            candidates.push(candidate);
        }
        chunk /= 2;
    }
    for (index, step) in scenario.steps.iter().enumerate() {
        match step {
            Step::Change { edits, force_push, .. } => {
                for position in 0..edits.len() {
                    let mut candidate = scenario.clone();
                    if let Step::Change { edits, .. } = &mut candidate.steps[index] {
                        edits.remove(position);
                    }
                    candidates.push(candidate);
                }
                if *force_push {
                    let mut candidate = scenario.clone();
                    if let Step::Change { force_push, .. } = &mut candidate.steps[index] {
                        *force_push = false;
                    }
                    candidates.push(candidate);
                }
            }
            Step::Crawl { mask } if mask.count_ones() > 1 => {
                for bit in 0..scenario.repo_count {
                    if mask & (1 << bit) != 0 {
                        let mut candidate = scenario.clone();
                        candidate.steps[index] = Step::Crawl { mask: mask & !(1 << bit) };
                        candidates.push(candidate);
                    }
                }
            }
            Step::MoveAcross { copy: true, .. } => {
                let mut candidate = scenario.clone();
                if let Step::MoveAcross { copy, .. } = &mut candidate.steps[index] {
                    *copy = false;
                }
                candidates.push(candidate);
            }
            _ => {}
        }
    }
    candidates
}

/// Shrinks a failing sequence while it still fails with the same first category.
async fn shrink(worker: &Worker, scenario: Scenario, failure: Failure) -> (Scenario, Failure) {
    let category = failure.category();
    let (mut best, mut best_failure) = (scenario, failure);
    let mut runs = 0;
    'search: loop {
        for candidate in simpler(&best) {
            if runs == SHRINK_BUDGET {
                break 'search;
            }
            runs += 1;
            if let Some(failure) = run(worker, &candidate).await
                && failure.category() == category
            {
                (best, best_failure) = (candidate, failure);
                continue 'search;
            }
        }
        break;
    }
    (best, best_failure)
}

/// A failure for people: the rule, the sequence (with the seed it was generated from, if any),
/// what its steps did, and the differences.
fn report(original_seed: Option<u64>, scenario: &Scenario, failure: &Failure) -> String {
    let origin = match original_seed {
        Some(seed) => {
            format!("sequence seed {seed}; replay the unshrunk sequence with SEXTANT_MODEL_SEED={seed} SEXTANT_MODEL_CASES=1")
        }
        None => "a known sequence".to_owned(),
    };
    let mut text = format!("rule broken: {:?} ({origin})\n", failure.category());
    text.push_str(&format!(
        "minimal sequence: {} steps over {} repositories\n",
        scenario.steps.len(),
        scenario.repo_count
    ));
    for (index, step) in scenario.steps.iter().enumerate() {
        text.push_str(&format!("  step {index}: {step:?}\n"));
    }
    text.push_str("what the steps did:\n");
    for line in &failure.log {
        text.push_str(&format!("  {line}\n"));
    }
    text.push_str(&format!("differences after the crawl of step {}:\n", failure.crawl_step));
    for difference in &failure.differences {
        text.push_str(&format!("  [{:?}] {}\n", difference.category, difference.text));
    }
    text.push_str("model entities:\n");
    for row in &failure.expected.entities {
        text.push_str(&format!(
            "  {} @ {} {}#{} line {}\n",
            row.entity_ref,
            catalog::short_url(&row.repo_url),
            row.path,
            row.document_index,
            row.line
        ));
    }
    text.push_str("catalog entities:\n");
    for row in &failure.actual.entities {
        text.push_str(&format!(
            "  {} @ {} {}#{} line {}\n",
            row.entity_ref,
            catalog::short_url(&row.repo_url),
            row.path,
            row.document_index,
            row.line
        ));
    }
    text
}

fn environment_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not `{value}`")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_equals_the_reference_model_after_every_crawl() {
    let cases = environment_number("SEXTANT_MODEL_CASES").unwrap_or(200) as usize;
    let first_seed = environment_number("SEXTANT_MODEL_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64 % 1_000_000_000_000)
    });
    let explore = std::env::var("SEXTANT_MODEL_EXPLORE").is_ok_and(|value| value == "1");
    println!("model test: {cases} sequences from seed {first_seed}");
    let started = Instant::now();
    let next_case = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..WORKERS {
        let (next_case, stop) = (next_case.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            let worker = Worker::new().await;
            // Per broken rule: the shortest failing sequence this worker saw.
            let mut failures: BTreeMap<Category, (Scenario, Failure)> = BTreeMap::new();
            let mut ran = 0;
            let mut counts: BTreeMap<Category, usize> = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                let case = next_case.fetch_add(1, Ordering::Relaxed);
                if case >= cases {
                    break;
                }
                let scenario = generate::scenario(first_seed.wrapping_add(case as u64));
                ran += 1;
                if let Some(failure) = run(&worker, &scenario).await {
                    *counts.entry(failure.category()).or_default() += 1;
                    let shorter = failures
                        .get(&failure.category())
                        .is_none_or(|(known, _)| scenario.steps.len() < known.steps.len());
                    if shorter {
                        failures.insert(failure.category(), (scenario, failure));
                    }
                    if !explore {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            let mut shrunk = Vec::new();
            for (_, (scenario, failure)) in failures {
                let seed = scenario.seed;
                let (scenario, failure) = shrink(&worker, scenario, failure).await;
                shrunk.push((seed, scenario, failure));
            }
            (ran, counts, shrunk)
        }));
    }
    let mut ran = 0;
    let mut counts: BTreeMap<Category, usize> = BTreeMap::new();
    let mut failures: BTreeMap<Category, (u64, Scenario, Failure)> = BTreeMap::new();
    for handle in handles {
        let (worker_ran, worker_counts, worker_failures) = handle.await.expect("a model worker finished");
        ran += worker_ran;
        for (category, count) in worker_counts {
            *counts.entry(category).or_default() += count;
        }
        for (seed, scenario, failure) in worker_failures {
            let shorter = failures
                .get(&failure.category())
                .is_none_or(|(_, known, _)| scenario.steps.len() < known.steps.len());
            if shorter {
                failures.insert(failure.category(), (seed, scenario, failure));
            }
        }
    }
    println!("model test: {ran} sequences in {:.1} s", started.elapsed().as_secs_f64());
    if !failures.is_empty() {
        let reports: Vec<String> = failures
            .values()
            .map(|(seed, scenario, failure)| report(Some(*seed), scenario, failure))
            .collect();
        panic!(
            "the catalog differs from the reference model (first seed {first_seed}, {ran} sequences run; failing sequences by first broken rule: {counts:?}):\n\n{}",
            reports.join("\n")
        );
    }
    assert_eq!(ran, cases, "every sequence ran");
}

/// The generator's documents are clean for every name in the pools, and each kind of damage
/// makes a file unusable: otherwise the sequences would test much less than they seem to.
#[test]
fn generated_documents_are_clean_and_damage_makes_them_unusable() {
    use world::{Damage, Document, FileBody};
    let documents = (0..6).flat_map(|index| {
        [
            Document::Component {
                name: index,
                owner: index,
                system: Some(index),
                depends_on: vec![index, index + 1],
                experimental: index.is_multiple_of(2),
                alias: Some(index),
            },
            Document::Group {
                name: index,
                parent: Some(index + 1),
            },
            Document::System { name: index, owner: index },
            Document::Api {
                name: index,
                owner: index,
                system: Some(index),
            },
            Document::Compass {
                name: index,
                id: index,
                owned: true,
                depends_on: vec![index + 1],
            },
        ]
    });
    for document in documents {
        let path = if document.is_compass() {
            "svc/compass.yml"
        } else {
            "catalog-info.yaml"
        };
        for damage in [Damage::None, Damage::Syntax, Damage::InvalidField, Damage::Oversize] {
            let body = FileBody::Documents {
                documents: vec![document.clone()],
                damage,
            };
            let (_, bytes) = body.render();
            let parsed = sextant::descriptor::parse_bytes(path, &bytes);
            if damage == Damage::None {
                assert!(!parsed.has_errors(), "{document:?} is clean: {:?}", parsed.diagnostics);
                assert_eq!(parsed.entities.len(), 1, "{document:?}");
            } else {
                assert!(parsed.has_errors(), "{damage:?} spoils {document:?}");
            }
        }
    }
}

/// Sequences once found by the random search, kept so that each runs on every `cargo test`.
fn known_sequences() -> Vec<Scenario> {
    use steps::Edit;
    use world::Document;
    let component = Document::Component {
        name: 1,
        owner: 0,
        system: None,
        depends_on: vec![0],
        experimental: false,
        alias: None,
    };
    let add = |path: usize, document: &Document| Edit::Add {
        path,
        document: document.clone(),
    };
    let change = |repo: usize, edits: Vec<Edit>| Step::Change {
        repo,
        edits,
        force_push: false,
    };
    vec![
        // A repository unreachable for one crawl is ok again when it comes back at the same tip.
        Scenario {
            seed: 0,
            repo_count: 3,
            steps: vec![
                change(0, vec![add(2, &component)]),
                Step::Crawl { mask: 1 },
                Step::Reachable { repo: 0, reachable: false },
                Step::Crawl { mask: 1 },
                Step::Reachable { repo: 0, reachable: true },
                Step::Crawl { mask: 1 },
            ],
        },
        // A copy in an earlier file of the holder's repository does not take the reference from
        // the holder's file.
        Scenario {
            seed: 0,
            repo_count: 3,
            steps: vec![
                change(1, vec![add(3, &component)]),
                Step::Crawl { mask: 2 },
                change(1, vec![Edit::CopyDocument { document: 0, path: 1 }]),
                Step::Crawl { mask: 2 },
            ],
        },
        // The holder deletes a reference another repository claims: handed over in one crawl.
        Scenario {
            seed: 0,
            repo_count: 3,
            steps: vec![
                change(0, vec![add(0, &component)]),
                change(2, vec![add(1, &component)]),
                Step::Crawl { mask: 7 },
                change(0, vec![Edit::DeleteDocument { document: 0 }]),
                Step::Crawl { mask: 7 },
            ],
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequences_found_by_the_model_test_hold() {
    let worker = Worker::new().await;
    let mut reports = Vec::new();
    for scenario in known_sequences() {
        if let Some(failure) = run(&worker, &scenario).await {
            reports.push(report(None, &scenario, &failure));
        }
    }
    assert!(reports.is_empty(), "{}", reports.join("\n"));
}
