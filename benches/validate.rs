//! `cargo bench --bench validate`: throughput of `sextant validate` end to end (discovery,
//! file reading, parsing, rules, cross-file checks) on a synthetic organisation and on the real
//! corpus, on one thread and on all cores; the file system's own cost (the same walk and reads,
//! no parsing) for comparison; the time to refuse hostile inputs; and serde_yaml on the same
//! hostile inputs, the measured reason it is not the parser. Runs with the binary's allocator
//! (mimalloc), so the figures are those of `sextant validate`.
//!
//! Options (after `--`): `--files N` (default 10000), `--keep DIR` to write the synthetic files
//! to DIR and keep them (e.g. for bench/backstage-validator), `--repeat N` (default 5).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sextant::descriptor::{Documents, parse_bytes, parse_bytes_with};
use sextant::validate::{Options, read_all_for_baseline, validate_paths};

/// The allocator of the `sextant` binary (src/main.rs), so the bench measures what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut files = 10_000;
    let mut keep: Option<PathBuf> = None;
    let mut repeat = 5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--files" => files = args.next().and_then(|value| value.parse().ok()).expect("--files N"),
            "--keep" => keep = args.next().map(PathBuf::from),
            "--repeat" => repeat = args.next().and_then(|value| value.parse().ok()).expect("--repeat N"),
            _ => {} // cargo bench passes `--bench`.
        }
    }

    let temporary = tempfile::tempdir().expect("temporary directory");
    let root = keep.clone().unwrap_or_else(|| temporary.path().to_path_buf());
    let started = Instant::now();
    let (bytes, entities) = generate_organisation(&root, files);
    println!(
        "generated {files} synthetic descriptor files ({entities} entities, {} KiB) in {:?} under {}",
        bytes / 1024,
        started.elapsed(),
        root.display()
    );

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    for threads in [1, cores] {
        let (best, median, report) = measure(repeat, || {
            validate_paths(std::slice::from_ref(&root), Options { strict: false, threads }).expect("validates")
        });
        println!(
            "synthetic, {threads} thread(s): {} files, {} entities, {} errors | best {:.1} ms = {:.0} files/s | median {:.1} ms = {:.0} files/s",
            report.files_checked,
            report.entities.len(),
            report.count(sextant::domain::Severity::Error),
            millis(best),
            report.files_checked as f64 / best.as_secs_f64(),
            millis(median),
            report.files_checked as f64 / median.as_secs_f64(),
        );
    }

    // The floor: the same walk and reads as validate, without parsing (best and median run).
    let mut baselines: Vec<_> = (0..repeat.max(1))
        .map(|_| read_all_for_baseline(std::slice::from_ref(&root)).expect("walks and reads"))
        .collect();
    baselines.sort_by_key(|baseline| baseline.elapsed());
    let (best, median) = (baselines[0], baselines[baselines.len() / 2]);
    println!(
        "file system alone (walk + read, no parsing), 1 thread: {} files, {} KiB | best {:.1} ms = {:.0} files/s (walk {:.1} ms, read {:.1} ms) | median {:.1} ms = {:.0} files/s",
        best.files,
        best.bytes / 1024,
        millis(best.elapsed()),
        best.files_per_second(),
        millis(best.walk),
        millis(best.read),
        millis(median.elapsed()),
        median.files_per_second(),
    );

    phase_breakdown(&root, repeat);

    // The optional real-world corpus: `SEXTANT_CORPUS`, else the folder beside the repository.
    let corpus = std::env::var_os("SEXTANT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if corpus.is_dir() {
        let corpus_files: Vec<PathBuf> = ["catalog-info", "compass"]
            .iter()
            .flat_map(|folder| {
                std::fs::read_dir(corpus.join(folder))
                    .expect("corpus folder")
                    .map(|entry| entry.expect("entry").path())
            })
            .collect();
        let (best, median, report) = measure(repeat.max(20), || {
            sextant::validate::validate_files(&corpus_files, Options { strict: false, threads: 1 })
        });
        println!(
            "corpus, 1 thread: {} files, {} entities | best {:.2} ms = {:.0} files/s | median {:.2} ms = {:.0} files/s",
            report.files_checked,
            report.entities.len(),
            millis(best),
            report.files_checked as f64 / best.as_secs_f64(),
            millis(median),
            report.files_checked as f64 / median.as_secs_f64()
        );
    } else {
        println!("corpus not found at {}; skipped", corpus.display());
    }

    println!("\nhostile inputs (time until the diagnostic; best of {repeat}):");
    for (name, input) in hostile_inputs() {
        let (best, _, parsed) = measure(repeat, || parse_bytes("catalog-info.yaml", &input));
        let codes: Vec<String> = parsed.diagnostics.iter().map(|diagnostic| diagnostic.code.to_string()).collect();
        println!("  sextant     {name:<34} {:>9.3} ms  {}", millis(best), codes.join(", "));
    }
    for (name, input) in hostile_inputs() {
        if input.len() > sextant::descriptor::MAX_FILE_BYTES {
            continue;
        }
        if name.contains("aliases") {
            // serde_yaml copies every expansion (its repetition limit counts events, not bytes):
            // tens of thousands of copies of 400 KB would take 20 to 40 GB, so it is not run on these.
            println!("  serde_yaml  {name:<34}       (not run: it would copy 20 to 40 GB)");
            continue;
        }
        let started = Instant::now();
        let result: Result<serde_yaml::Value, _> = serde_yaml::from_slice(&input);
        let outcome = match result {
            Ok(_) => "parsed".to_owned(),
            Err(error) => format!("error: {}", error.to_string().chars().take(60).collect::<String>()),
        };
        println!("  serde_yaml  {name:<34} {:>9.3} ms  {outcome}", millis(started.elapsed()));
    }
    if keep.is_some() {
        println!("\nkept the synthetic files under {}", root.display());
    }
}

/// Where one thread's time goes: finding files, reading them, parsing and checking each, and the
/// checks across files.
fn phase_breakdown(root: &Path, repeat: usize) {
    let (discover, _, paths) = measure(repeat, || sextant::validate::discover(&[root.to_path_buf()]).expect("discovers"));
    let (read, _, contents) = measure(repeat, || {
        paths.iter().map(|path| std::fs::read(path).expect("reads")).collect::<Vec<_>>()
    });
    let (parse, _, parsed) = measure(repeat, || {
        contents
            .iter()
            .map(|bytes| parse_bytes_with("catalog-info.yaml", bytes, Documents::Skip))
            .collect::<Vec<_>>()
    });
    let entities: Vec<sextant::domain::Entity> = parsed.into_iter().flat_map(|file| file.entities).collect();
    let (across, _, _) = measure(repeat, || sextant::validate::check_across_files(&entities, false));
    let files = paths.len() as f64;
    println!(
        "phases, 1 thread, per file: discover {:.1} µs, read {:.1} µs, parse+rules {:.1} µs, cross-file {:.1} µs",
        discover.as_secs_f64() * 1e6 / files,
        read.as_secs_f64() * 1e6 / files,
        parse.as_secs_f64() * 1e6 / files,
        across.as_secs_f64() * 1e6 / files,
    );
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Runs `work` `repeat` times and returns the best and median times and the last result.
fn measure<T>(repeat: usize, mut work: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut times = Vec::with_capacity(repeat);
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        let result = work();
        times.push(started.elapsed());
        last = Some(result);
    }
    times.sort();
    (times[0], times[times.len() / 2], last.expect("ran at least once"))
}

/// The inputs that the issue names, built the same way as in tests/suite/bad_input.rs.
fn hostile_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mut laughs = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (previous, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        laughs.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{previous}"); 9].join(",")));
    }
    let mut string_bomb = format!("a: &a \"{}\"\nb: [", "x".repeat(400_000));
    string_bomb.push_str(&vec!["*a"; 100_000].join(","));
    string_bomb.push_str("]\n");
    let entries: Vec<String> = (0..100).map(|index| format!("k{index}: \"{}\"", "z".repeat(4_000))).collect();
    let mapping_bomb = format!("m: &m {{{}}}\nlist:\n{}", entries.join(", "), "  - *m\n".repeat(50_000));
    vec![
        ("billion laughs (342 bytes)", laughs.into_bytes()),
        ("400 KB string, 100,000 aliases", string_bomb.into_bytes()),
        ("400 KB mapping, 50,000 aliases", mapping_bomb.into_bytes()),
        ("80 KB of [[[[ flow nesting", format!("a: {}", "[".repeat(80_000)).into_bytes()),
        ("5,000-level block nesting", format!("{}x\n", "- ".repeat(5_000)).into_bytes()),
        ("1 MiB + 1 byte file", vec![b'#'; sextant::descriptor::MAX_FILE_BYTES + 1]),
    ]
}

/// Writes a synthetic organisation: one folder per repository, each with one descriptor. About
/// one in seven repositories uses Compass; the rest are Backstage files, mostly Components with
/// the fields real files carry (tags, annotations, links, dependencies with a power-law skew).
fn generate_organisation(root: &Path, files: usize) -> (usize, usize) {
    let teams = (files / 40).max(4);
    let systems = (files / 25).max(4);
    let mut total_bytes = 0;
    let mut entities = 0;
    let mut random = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: usize| {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        (random % bound as u64) as usize
    };
    for index in 0..files {
        let folder = root.join(format!("repo-{index:05}"));
        std::fs::create_dir_all(&folder).expect("create repo folder");
        let (name, text) = if index < teams {
            ("catalog-info.yaml", group(index, teams))
        } else if index % 7 == 3 {
            ("compass.yml", compass(index, next(files), teams))
        } else {
            let hub = |pick: usize| (pick * pick) / files.max(1); // skewed towards low indexes
            let dependencies = [teams + hub(next(files)), teams + hub(next(files)), teams + next(files - teams)];
            ("catalog-info.yaml", component(index, next(teams), next(systems), &dependencies))
        };
        total_bytes += text.len();
        entities += 1;
        std::fs::write(folder.join(name), text).expect("write descriptor");
    }
    (total_bytes, entities)
}

fn group(index: usize, teams: usize) -> String {
    let parent = if index == 0 {
        String::new()
    } else {
        format!("  parent: team-{:04}\n", (index - 1) / 4)
    };
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-{index:04}\n  description: Team number {index} of {teams}\nspec:\n  type: team\n{parent}  children: []\n"
    )
}

fn component(index: usize, team: usize, system: usize, dependencies: &[usize]) -> String {
    let depends_on: String = dependencies
        .iter()
        .map(|dependency| format!("    - component:service-{dependency:05}\n"))
        .collect();
    format!(
        r#"apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: service-{index:05}
  title: Service {index}
  description: Handles the {index}th part of the booking flow for the travel platform.
  tags:
    - java
    - grpc
    - tier-{tier}
  annotations:
    github.com/project-slug: example-org/service-{index:05}
    backstage.io/techdocs-ref: dir:.
    pagerduty.com/service-id: P{index:06}
  links:
    - url: https://dashboards.example.com/d/service-{index:05}
      title: Dashboard
      icon: dashboard
spec:
  type: service
  lifecycle: production
  owner: team-{team:04}
  system: system-{system:04}
  providesApis:
    - service-{index:05}-api
  dependsOn:
{depends_on}"#,
        tier = index % 4 + 1
    )
}

fn compass(index: usize, dependency: usize, teams: usize) -> String {
    format!(
        r#"name: Compass Component {index}
id: ari:cloud:compass:4f1c2d3e-0000-4000-8000-000000000001:component/7a8b9c0d-0000-4000-8000-000000000002/{index:08x}-0000-4000-8000-00000000beef
configVersion: 1
description: A component described in Compass format.
typeId: SERVICE
ownerId: ari:cloud:teams::team/{team:08x}-1111-4000-8000-000000000000
fields:
  tier: {tier}
  lifecycle: Active
links:
  - name: Repository
    type: REPOSITORY
    url: https://git.example.com/org/compass-{index}
  - name: On call
    type: ON_CALL
    url: https://oncall.example.com/compass-{index}
relationships:
  DEPENDS_ON:
    - ari:cloud:compass:4f1c2d3e-0000-4000-8000-000000000001:component/7a8b9c0d-0000-4000-8000-000000000002/{dependency:08x}-0000-4000-8000-00000000beef
labels:
  - language:go
  - source:github
customFields:
  - name: Cost centre
    type: text
    value: cc-{index}
"#,
        team = index % teams,
        tier = index % 4 + 1
    )
}
