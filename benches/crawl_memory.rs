//! `cargo bench --bench crawl_memory -- --repos 6 --files 500 --file-bytes 1000000`: the peak
//! memory of a crawl whose repositories hold many large descriptors. It generates bare
//! repositories of `--files` components each, every one with a description that makes its file
//! about `--file-bytes` long (under the 1 MiB cap), then runs `sextant crawl --dir` on them as a
//! separate process under `/usr/bin/time` against a throwaway Postgres cluster, and prints the
//! peak resident memory, the time and what the crawl applied.
//!
//! The generated repositories are kept under `target/bench-crawl-memory/` and reused by later runs.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use sextant::pg::Cluster;
use sextant::store::create_database_if_missing;

fn main() {
    let mut repos = 6;
    let mut files = 500;
    let mut file_bytes = 1_000_000;
    let mut concurrency: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--repos" => repos = args.next().and_then(|value| value.parse().ok()).expect("--repos N"),
            "--files" => files = args.next().and_then(|value| value.parse().ok()).expect("--files N"),
            "--file-bytes" => file_bytes = args.next().and_then(|value| value.parse().ok()).expect("--file-bytes N"),
            "--concurrency" => concurrency = Some(args.next().expect("--concurrency N")),
            _ => {}
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-crawl-memory/r{repos}-f{files}-b{file_bytes}"));
    let started = Instant::now();
    generate(&root, repos, files, file_bytes);
    println!(
        "organisation: {repos} bare repositories × {files} descriptors of about {file_bytes} bytes ({:.0} MB of descriptors; generated or reused in {:.1} s) under {}",
        (repos * files * file_bytes) as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        root.display()
    );

    let cluster = Cluster::start_throwaway().expect("start a throwaway cluster");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let url = runtime.block_on(async {
        create_database_if_missing(&cluster, "bench").await.expect("database");
        cluster.url("bench")
    });
    let data = tempfile::tempdir().expect("data dir");
    let mut command = Command::new("/usr/bin/time");
    command
        .args(["-f", "%e s elapsed, %M KiB peak RSS, %U s user, %S s system"])
        .arg(env!("CARGO_BIN_EXE_sextant"))
        .args(["crawl", "--format", "json", "--dir"])
        .arg(&root)
        .env("DATABASE_URL", &url)
        .env("SEXTANT_DATA_DIR", data.path());
    if let Some(concurrency) = &concurrency {
        command.args(["--concurrency", concurrency]);
    }
    let output = command.output().expect("run sextant crawl");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("crawl output: {}{stderr}", String::from_utf8_lossy(&output.stdout)));
    let time_line = stderr.lines().last().unwrap_or_default();
    let peak_kib: f64 = time_line
        .split(", ")
        .find_map(|part| part.strip_suffix(" KiB peak RSS"))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0);
    println!(
        "first crawl (sextant crawl --dir, concurrency {}): {time_line}; peak RSS {:.0} MiB; {} entities added, {} diagnostics",
        concurrency.as_deref().unwrap_or("default"),
        peak_kib / 1024.0,
        summary["added"],
        summary["diagnostics"]
    );
    if let Some(repositories) = summary["repositories"].as_array() {
        for repository in repositories.iter().filter(|repository| repository["outcome"] != "applied") {
            println!("not applied: {repository}");
        }
    }
}

/// One component whose description makes the file about `file_bytes` long.
fn descriptor(name: &str, file_bytes: usize) -> String {
    let head = format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  description: ");
    let tail = "\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/bench-team\n";
    let words = ["catalog", "service", "payments", "ledger", "gateway", "orders", "search", "billing"];
    let mut text = head;
    let mut index = name.len();
    while text.len() + tail.len() + 16 < file_bytes {
        text.push_str(words[index % words.len()]);
        text.push(' ');
        index = index.wrapping_mul(31).wrapping_add(7);
    }
    text.push_str("end.");
    text.push_str(tail);
    text
}

fn generate(root: &Path, repos: usize, files: usize, file_bytes: usize) {
    let marker = root.join(".complete");
    if marker.exists() {
        return;
    }
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).expect("create the bench folder");
    for repo in 1..=repos {
        let mut options = git2::RepositoryInitOptions::new();
        options.bare(true).initial_head("main");
        let repository = git2::Repository::init_opts(root.join(format!("big-{repo:02}.git")), &options).expect("init bare");
        let mut top = repository.treebuilder(None).expect("tree builder");
        for file in 1..=files {
            let name = format!("r{repo:02}-svc-{file:04}");
            let blob = repository.blob(descriptor(&name, file_bytes).as_bytes()).expect("blob");
            let mut folder = repository.treebuilder(None).expect("tree builder");
            folder.insert("catalog-info.yaml", blob, 0o100644).expect("insert");
            top.insert(&name, folder.write().expect("write tree"), 0o040000)
                .expect("insert folder");
        }
        let tree = repository.find_tree(top.write().expect("write tree")).expect("tree");
        let signature = git2::Signature::now("bench", "bench@example.invalid").expect("signature");
        repository
            .commit(Some("HEAD"), &signature, &signature, "large descriptors", &tree, &[])
            .expect("commit");
    }
    std::fs::write(marker, "").expect("marker");
}
