//! `sextant repos`, `sextant forget` and `crawl --prune`: managing the catalog's sources.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use super::{ViewFormat, fail, open_store, say};
use crate::config::Config;
use crate::store::{Catalog, ForgetPreview, RepoKey, RepoListing, Store, repo_label};
use crate::terminal::{counted, json_line, printable};

/// Lists every repository with its status, tip, last crawl, entity count and problems.
pub(super) async fn repos_command(config: &Config, catalog: Catalog, format: ViewFormat) -> ExitCode {
    let store = match open_store(config, catalog).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    let listing = store.repositories().await;
    store.close().await;
    match listing {
        Ok(repos) => {
            match format {
                ViewFormat::Human => say(&repos_text(&repos)),
                ViewFormat::Json => say(&json_line(&repos)),
            }
            ExitCode::SUCCESS
        }
        Err(error) => fail(&format!("{error} [{}]", error.code())),
    }
}

fn repos_text(repos: &[RepoListing]) -> String {
    let mut output = String::new();
    if repos.is_empty() {
        output.push_str("no repositories yet: `sextant crawl --repo URL` adds one\n");
        return output;
    }
    for repo in repos {
        let _ = writeln!(output, "{}", printable(&repo_label(&repo.url, repo.branch.as_deref())));
        let tip = repo
            .last_commit
            .as_deref()
            .map_or("never read".to_owned(), |commit| commit.chars().take(12).collect());
        let _ = writeln!(
            output,
            "  {:<6} tip {tip}  crawled {}  {}",
            repo.status,
            repo.last_crawled_at.as_deref().unwrap_or("never"),
            counted(repo.entities as usize, "entity", "entities"),
        );
        let mut problems = Vec::new();
        if repo.unusable_files > 0 {
            problems.push(counted(repo.unusable_files as usize, "unusable file", "unusable files"));
        }
        if repo.diagnostics > 0 {
            problems.push(counted(repo.diagnostics as usize, "diagnostic", "diagnostics"));
        }
        if repo.conflicts > 0 {
            problems.push(counted(repo.conflicts as usize, "conflict", "conflicts"));
        }
        if !problems.is_empty() {
            let _ = writeln!(output, "  problems: {}", problems.join(", "));
        }
        if let Some(error) = &repo.error {
            let _ = writeln!(output, "  error: {}", printable(error));
        }
    }
    let _ = writeln!(output, "{}", counted(repos.len(), "repository", "repositories"));
    output
}

/// Forgets the repositories stored with `url` (only `branch`'s when given), after showing what
/// goes and asking (unless `yes`).
pub(super) async fn forget_command(config: &Config, catalog: Catalog, url: &str, branch: Option<String>, yes: bool) -> ExitCode {
    let store = match open_store(config, catalog).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    let code = forget(&store, url, branch, yes).await;
    store.close().await;
    code
}

async fn forget(store: &Store, url: &str, branch: Option<String>, yes: bool) -> ExitCode {
    // The URL as `crawl` stored it: `repos/a` names the same repository as `/abs/path/repos/a`.
    let stored = Config::stored_url(url);
    let url = stored.as_str();
    let keys = match branch {
        Some(branch) => vec![RepoKey {
            url: url.to_owned(),
            branch: Some(branch),
        }],
        None => match store.repositories_with_url(url).await {
            Ok(keys) => keys,
            Err(error) => return fail(&format!("{error} [{}]", error.code())),
        },
    };
    if keys.is_empty() {
        crate::terminal::print_error(&format!(
            "error: the repository {} is not in the catalog (see `sextant repos`)\n",
            printable(url)
        ));
        return ExitCode::from(1);
    }
    let mut previews = Vec::new();
    for key in &keys {
        match store.forget_preview(key).await {
            Ok(preview) => previews.push(preview),
            Err(crate::store::StoreError::NotFound(what)) => {
                crate::terminal::print_error(&format!(
                    "error: {} is not in the catalog (see `sextant repos`)\n",
                    printable(&what)
                ));
                return ExitCode::from(1);
            }
            Err(error) => return fail(&format!("{error} [{}]", error.code())),
        }
    }
    crate::terminal::print_error(&forget_summary(&previews));
    if !yes && !confirmed() {
        crate::terminal::print_error("nothing was forgotten (answer `y`, or pass --yes)\n");
        return ExitCode::from(1);
    }
    match store.forget(&keys).await {
        Ok(()) => {
            say(&format!("forgot {}\n", counted(keys.len(), "repository", "repositories")));
            ExitCode::SUCCESS
        }
        Err(error) => fail(&format!("{error} [{}]", error.code())),
    }
}

/// What forgetting removes, for the confirmation.
fn forget_summary(previews: &[ForgetPreview]) -> String {
    let mut output = String::new();
    for preview in previews {
        let _ = writeln!(
            output,
            "forgetting {}: {} from {}",
            printable(&repo_label(&preview.url, preview.branch.as_deref())),
            counted(preview.entities.len(), "entity", "entities"),
            counted(preview.descriptor_files as usize, "descriptor file", "descriptor files"),
        );
        for entity_ref in preview.entities.iter().take(20) {
            let fate = if preview.handed_over.contains(entity_ref) {
                "passes to its next definition"
            } else {
                "is deleted"
            };
            let _ = writeln!(output, "  {} {fate}", printable(entity_ref));
        }
        if preview.entities.len() > 20 {
            let _ = writeln!(output, "  … and {} more", preview.entities.len() - 20);
        }
    }
    output
}

/// Asks on the terminal; without one (a script), the answer is no: scripts pass `--yes`.
fn confirmed() -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    crate::terminal::print_error("forget? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

/// `crawl --prune`: forgets the stored repositories that `config` no longer lists. Returns the
/// keys forgotten.
pub(super) async fn prune(store: &Store, config: &Config) -> Result<Vec<RepoKey>, crate::store::StoreError> {
    let listed: std::collections::HashSet<RepoKey> = config
        .sources
        .iter()
        .map(|source| RepoKey {
            url: source.url.clone(),
            branch: source.branch.clone(),
        })
        .collect();
    let gone: Vec<RepoKey> = store
        .repository_keys()
        .await?
        .into_iter()
        .filter(|key| !listed.contains(key))
        .collect();
    if !gone.is_empty() {
        store.forget(&gone).await?;
    }
    Ok(gone)
}
