//! One read of a repository at a time in the whole process: a read abandoned at its timeout keeps
//! its repository until its thread ends, two crawls at once take turns on a shared repository,
//! and the process-wide read limit holds; and a crawl's byte budget makes reads wait, never
//! deadlocks, and is fully released at the end.

use std::collections::HashMap;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sextant::crawler::{Origin, ReadOptions, Source};
use sextant::ingest::slots::{self, ReadPhase, RepoKey};
use sextant::ingest::{CrawlOptions, RepoOutcome, crawl};

use crate::db::{entity_refs, fresh_store};
use crate::git::{TestRepo, component};

/// Read phases by repository URL, in the order they happened.
type Events = Arc<Mutex<Vec<(String, ReadPhase)>>>;

/// The phases of the reads of the given repositories, in the order they happened.
fn record_reads(urls: &[String], hold: Duration) -> (Events, slots::Observation) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let observation = slots::observe_reads({
        let (events, urls) = (events.clone(), urls.to_vec());
        move |key: &RepoKey, phase| {
            if urls.contains(&key.url) {
                events.lock().unwrap().push((key.url.clone(), phase));
                // Widen the window in which two reads of one repository would overlap.
                if phase == ReadPhase::Started {
                    std::thread::sleep(hold);
                }
            }
        }
    });
    (events, observation)
}

fn failure(outcome: &RepoOutcome) -> &str {
    match outcome {
        RepoOutcome::Failed(reason) => reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// A server that accepts connections and never says a word, until it is told to hang up.
struct SilentServer {
    port: u16,
    hang_up: std::sync::mpsc::Sender<()>,
}

impl SilentServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let (hang_up, told) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            loop {
                if let Ok((stream, _)) = listener.accept() {
                    held.push(stream);
                }
                match told.recv_timeout(Duration::from_millis(20)) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    // Told, or the test is over: close every connection and the listener.
                    _ => {
                        for stream in &mut held {
                            let _ = stream.shutdown(std::net::Shutdown::Both);
                            let _ = stream.read(&mut [0; 1]);
                        }
                        return;
                    }
                }
            }
        });
        SilentServer { port, hang_up }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_that_timed_out_keeps_its_repository_until_its_thread_ends() {
    let (store, _) = fresh_store().await;
    let mirrors = tempfile::tempdir().unwrap();
    let server = SilentServer::start();
    let url = format!("https://127.0.0.1:{}/acme/exclusive.git", server.port);
    let source = Source::parse(&url, None, None, Origin::Operator).unwrap();
    let (events, _observation) = record_reads(std::slice::from_ref(&url), Duration::ZERO);
    let mut options = CrawlOptions::new(ReadOptions::new(mirrors.path().to_path_buf()));
    options.repo_timeout = Duration::from_secs(1);

    let first = crawl(&store, std::slice::from_ref(&source), &options, |_, _| {}).await.unwrap();
    assert!(
        failure(&first.outcomes[0].1).contains("longer than the per-repository limit"),
        "{:?}",
        first.outcomes
    );
    assert!(slots::is_reading(&url, None), "the abandoned thread still holds the repository");

    // A new crawl of the same repository while that thread runs: it waits its own timeout for
    // the repository, then fails with the reason, and its read never starts.
    let second = crawl(&store, std::slice::from_ref(&source), &options, |_, _| {}).await.unwrap();
    assert_eq!(
        failure(&second.outcomes[0].1),
        "an earlier read of this repository is still running"
    );
    assert_eq!(
        *events.lock().unwrap(),
        vec![(url.clone(), ReadPhase::Started)],
        "the second read did not start while the first thread ran"
    );

    // The server hangs up: the first thread ends and gives the repository back.
    server.hang_up.send(()).unwrap();
    let waiting = Instant::now();
    while slots::is_reading(&url, None) {
        assert!(waiting.elapsed() < Duration::from_secs(60), "the abandoned read never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let third = crawl(&store, std::slice::from_ref(&source), &options, |_, _| {}).await.unwrap();
    assert!(
        !failure(&third.outcomes[0].1).contains("still running"),
        "the repository is free again: {:?}",
        third.outcomes
    );
    let phases: Vec<ReadPhase> = events.lock().unwrap().iter().map(|(_, phase)| *phase).collect();
    assert_eq!(
        phases,
        vec![ReadPhase::Started, ReadPhase::Finished, ReadPhase::Started, ReadPhase::Finished],
        "the third read started only after the first one finished"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_crawls_at_once_never_read_the_same_repository_at_the_same_time() {
    let (store, _) = fresh_store().await;
    let mirrors = tempfile::tempdir().unwrap();
    let repos: Vec<TestRepo> = (0..4).map(|_| TestRepo::new()).collect();
    for (index, repo) in repos.iter().enumerate() {
        repo.commit(&[("catalog-info.yaml", &component(&format!("shared-{index}"), "team", &[]))], "add");
    }
    let sources: Vec<Source> = repos.iter().map(TestRepo::source).collect();
    let urls: Vec<String> = sources.iter().map(|source| source.url.clone()).collect();
    let (events, observation) = record_reads(&urls, Duration::from_millis(150));
    // Every read of the process, to check the process-wide limit as well. Other tests' reads
    // that started before this observer only count once they start again, so that their end
    // does not take away a read this observer never saw begin.
    let running = Arc::new(Mutex::new((HashMap::<String, usize>::new(), 0usize, 0usize)));
    let _all_reads = slots::observe_reads({
        let running = running.clone();
        move |key: &RepoKey, phase| {
            let Ok(mut running) = running.lock() else { return };
            let (started, now, most) = &mut *running;
            match phase {
                ReadPhase::Started => {
                    *started.entry(key.url.clone()).or_default() += 1;
                    *now += 1;
                    *most = (*most).max(*now);
                }
                ReadPhase::Finished => {
                    if let Some(count) = started.get_mut(&key.url).filter(|count| **count > 0) {
                        *count -= 1;
                        *now -= 1;
                    }
                }
            }
        }
    });
    let options = CrawlOptions::new(ReadOptions::new(mirrors.path().to_path_buf()));

    let (first, second) = tokio::join!(
        crawl(&store, &sources, &options, |_, _| {}),
        crawl(&store, &sources, &options, |_, _| {})
    );
    drop(observation);
    for summary in [first.unwrap(), second.unwrap()] {
        assert!(
            summary
                .outcomes
                .iter()
                .all(|(_, outcome)| !matches!(outcome, RepoOutcome::Failed(_))),
            "{:?}",
            summary.outcomes
        );
    }
    let events = events.lock().unwrap().clone();
    let mut reading: HashMap<&str, usize> = HashMap::new();
    for (url, phase) in events.iter() {
        let count = reading.entry(url).or_default();
        match phase {
            ReadPhase::Started => {
                *count += 1;
                assert_eq!(*count, 1, "two reads of {url} at once: {events:?}");
            }
            ReadPhase::Finished => *count -= 1,
        }
    }
    for url in &urls {
        let starts = events
            .iter()
            .filter(|(read, phase)| read == url && *phase == ReadPhase::Started)
            .count();
        assert_eq!(starts, 2, "each crawl read {url}, one after the other");
    }
    let limit = slots::process_limit().expect("a crawl set the process limit");
    let most = running.lock().unwrap().2;
    assert!(most <= limit, "at most {limit} reads at once in the process, saw {most}");
    assert_eq!(
        entity_refs(&store).await,
        (0..4).map(|index| format!("component:default/shared-{index}")).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_byte_budget_makes_reads_wait_and_is_released_at_the_end() {
    let (store, _) = fresh_store().await;
    let mirrors = tempfile::tempdir().unwrap();
    let description = "word ".repeat(200);
    let repos: Vec<TestRepo> = (0..8).map(|_| TestRepo::new()).collect();
    for (index, repo) in repos.iter().enumerate() {
        let text = component(&format!("budget-{index}"), "team", &[])
            .replace("metadata:\n", &format!("metadata:\n  description: {description}\n"));
        assert!(text.contains(&description));
        repo.commit(&[("catalog-info.yaml", &text)], "add");
    }
    let sources: Vec<Source> = repos.iter().map(TestRepo::source).collect();
    let mut options = CrawlOptions::new(ReadOptions::new(mirrors.path().to_path_buf()));
    options.concurrency = 2;
    // Room for about two descriptors of about 1,100 bytes: the others wait.
    options.max_bytes_in_flight = 2_400;

    let summary = crawl(&store, &sources, &options, |_, _| {}).await.unwrap();
    assert!(
        summary
            .outcomes
            .iter()
            .all(|(_, outcome)| matches!(outcome, RepoOutcome::Applied(_))),
        "{:?}",
        summary.outcomes
    );
    assert_eq!(entity_refs(&store).await.len(), 8);
    let budget = summary.budget;
    assert_eq!(budget.reserved, 0, "everything is released once applied: {budget:?}");
    assert!(budget.waits > 0, "reads waited for room: {budget:?}");
    assert!(budget.peak > 0 && budget.peak <= 2_400 + 2 * 1_200, "{budget:?}");
}
