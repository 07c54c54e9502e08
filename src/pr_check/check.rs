//! `sextant validate --catalog`: the files read as `validate` reads them, then the catalog asked
//! (concurrently where the answers do not depend on each other) about the references the files do
//! not define, the repository's entities and the dependents of what the change removes; the
//! local checks always come back, with the catalog's error beside them when it could not answer.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::diff::{self, ChangeReport, Scope};
use super::repository::LocalRepository;
use super::{Catalog, CatalogEntity, CatalogError, CatalogRepo, Dependent};
use crate::domain::{Severity, Target};
use crate::validate::{self, DiscoverError, KnownElsewhere, Options, Report};

/// What `--catalog`, `--repo`, `--branch` and friends asked for.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    /// A running sextant's URL, or a snapshot file's path.
    pub catalog: String,
    /// The server's bearer token (`SEXTANT_TOKEN`).
    pub token: Option<String>,
    /// The repository the files belong to (default: the `origin` remote of the repository around
    /// the checked files).
    pub repo: Option<String>,
    /// The catalog branch to compare with (default: the remote's default branch).
    pub branch: Option<String>,
    /// The severity of breaking changes.
    pub breaking: Severity,
    /// The dashboard's base URL for links (default: the server's URL).
    pub dashboard_url: Option<String>,
}

/// The result of a check against the catalog.
#[derive(Debug)]
pub struct Checked {
    /// Every diagnostic: the local checks, and the catalog's findings when it answered.
    pub report: Report,
    /// The catalog diff, when a repository was compared.
    pub change: Option<ChangeReport>,
    /// Why the catalog could not be consulted; the report then holds the local checks only.
    pub catalog_error: Option<CatalogError>,
    /// What the check could not do and why (no repository found...), for stderr.
    pub notes: Vec<String>,
}

/// Checks the files at `paths` (the current folder when empty) against the catalog.
pub async fn check_paths(paths: &[PathBuf], options: Options, settings: &CheckSettings) -> Result<Checked, DiscoverError> {
    let files = validate::discover(paths)?;
    let mut report = validate::read_files(&files, options.threads);
    let mut notes = Vec::new();
    let start = paths.first().map_or_else(|| PathBuf::from("."), |path| folder_of(path));
    let local = LocalRepository::discover(&start);
    let consulted = consult(&report, &files, paths, local.as_ref(), settings, &mut notes).await;
    let (change, catalog_error) = match consulted {
        Ok(Consulted { known, change }) => {
            if let Some(change) = &change {
                let display = display_paths(local.as_ref());
                report.diagnostics.extend(diff::diagnostics(change, &|path: &str| display(path)));
            }
            let elsewhere = |target: &Target| known.get(&target.to_string()).cloned();
            validate::finish(&mut report, options.strict, Some(&elsewhere));
            (change, None)
        }
        Err(error) => {
            validate::finish(&mut report, options.strict, None);
            (None, Some(error))
        }
    };
    Ok(Checked {
        report,
        change,
        catalog_error,
        notes,
    })
}

/// How many files the note about files not read names; the rest are counted.
const NAMED_UNREAD: usize = 5;

/// What the catalog said.
struct Consulted {
    /// The references (as written) that no checked file defines and the catalog holds, minus
    /// those the change itself removes.
    known: HashMap<String, KnownElsewhere>,
    change: Option<ChangeReport>,
}

async fn consult(
    report: &Report,
    files: &[PathBuf],
    paths: &[PathBuf],
    local: Option<&LocalRepository>,
    settings: &CheckSettings,
    notes: &mut Vec<String>,
) -> Result<Consulted, CatalogError> {
    let catalog = Catalog::open(&settings.catalog, settings.token.clone())?;
    let repo_url = settings.repo.clone().or_else(|| local.and_then(|local| local.origin_url.clone()));
    if repo_url.is_none() {
        notes.push(
            "no catalog diff: the files are not in a git repository with an `origin` remote, and no --repo was given; \
             only references are checked against the catalog"
                .to_owned(),
        );
    }
    let asked: Vec<String> = validate::unresolved_targets(&report.entities)
        .iter()
        .map(Target::to_string)
        .collect();
    let (found, candidates) = match &repo_url {
        Some(url) => {
            let (found, candidates) = tokio::join!(catalog.lookup(&asked), catalog.repositories(url));
            (found?, candidates?)
        }
        None => (catalog.lookup(&asked).await?, Vec::new()),
    };
    let default_branch = local.and_then(|local| local.default_branch.clone());
    let catalog_repo = choose_repo(&candidates, settings.branch.as_deref(), default_branch.as_deref(), notes);
    // What each reference or alias the files name (and do not define) is in the catalog.
    let resolved: HashMap<String, String> = found
        .iter()
        .map(|(asked, entity)| (asked.clone(), entity.entity_ref.clone()))
        .collect();
    let change = match (&repo_url, local) {
        (Some(repo_url), Some(local)) => {
            let target = Compared {
                repo_url,
                catalog_repo,
                default_branch,
                resolved: &resolved,
                files,
            };
            let change = compare(&catalog, report, paths, local, target, settings, notes).await?;
            Some(change)
        }
        (Some(_), None) => {
            notes.push("no catalog diff: the checked files are not in a git repository".to_owned());
            None
        }
        _ => None,
    };
    let gone: HashSet<&str> = change
        .iter()
        .flat_map(|change| change.changes.gone())
        .map(|entity| entity.entity_ref.as_str())
        .collect();
    let known = found
        .into_iter()
        .filter(|(_, entity)| !gone.contains(entity.entity_ref.as_str()))
        .map(|(asked, entity)| {
            let known = KnownElsewhere {
                kind: entity.kind().to_owned(),
                place: format!("{} {}:{}", entity.repo, entity.path, entity.line),
                entity_ref: entity.entity_ref,
            };
            (asked, known)
        })
        .collect();
    Ok(Consulted { known, change })
}

/// What the checked files are compared with.
struct Compared<'check> {
    /// The repository as the check names it.
    repo_url: &'check str,
    /// The catalog's entry for it; `None`: the catalog does not crawl it.
    catalog_repo: Option<CatalogRepo>,
    default_branch: Option<String>,
    /// Each reference or alias the files name and do not define → the catalog's reference.
    resolved: &'check HashMap<String, String>,
    /// The files read: a catalog file in the checked folders that is not among them was not read.
    files: &'check [PathBuf],
}

/// Compares the checked files with the catalog's entities of the repository (none: every entity
/// is added), and finds the dependents elsewhere of what the change removes or renames.
async fn compare(
    catalog: &Catalog,
    report: &Report,
    paths: &[PathBuf],
    local: &LocalRepository,
    target: Compared<'_>,
    settings: &CheckSettings,
    notes: &mut Vec<String>,
) -> Result<ChangeReport, CatalogError> {
    let Compared {
        repo_url,
        catalog_repo,
        default_branch,
        resolved,
        files,
    } = target;
    let compared_as = catalog_repo.clone().unwrap_or_else(|| CatalogRepo {
        url: repo_url.to_owned(),
        branch: settings.branch.clone(),
    });
    let local_views: Vec<CatalogEntity> = report
        .entities
        .iter()
        .filter_map(|entity| {
            let path = local.relative_path(Path::new(&entity.provenance.file))?;
            Some(diff::local_view(entity, &path, &compared_as))
        })
        .collect();
    let checked: Vec<String> = if paths.is_empty() {
        vec![local.relative_path(Path::new(".")).unwrap_or_default()]
    } else {
        paths.iter().filter_map(|path| local.relative_path(path)).collect()
    };
    let mut unreadable: HashSet<String> = report
        .diagnostics
        .iter()
        // Only each file's own diagnostics are there yet (the checks across files come later).
        .filter(|diagnostic| diagnostic.severity == Severity::Error)
        .filter_map(|diagnostic| local.relative_path(Path::new(&diagnostic.file)))
        .collect();
    let catalog_entities = match &catalog_repo {
        Some(repo) => catalog.repository_entities(repo).await?,
        None => Vec::new(),
    };
    // A file the catalog reads that is here but was not read (a name only the crawl's
    // `descriptorPatterns` match, a skipped folder, a symbolic link) still defines what it did:
    // its entities are not compared, never removed.
    let read: HashSet<String> = files.iter().filter_map(|file| local.relative_path(file)).collect();
    let in_scope = Scope {
        checked,
        unreadable: Vec::new(),
    };
    let unread: BTreeSet<&str> = catalog_entities
        .iter()
        .map(|entity| entity.path.as_str())
        .filter(|path| in_scope.covers(path) && !read.contains(*path) && local.root.join(path).symlink_metadata().is_ok())
        .collect();
    if !unread.is_empty() {
        let mut shown: Vec<&str> = unread.iter().copied().take(NAMED_UNREAD).collect();
        let more = format!("and {} more", unread.len().saturating_sub(NAMED_UNREAD));
        if unread.len() > NAMED_UNREAD {
            shown.push(&more);
        }
        notes.push(format!(
            "not compared: {} the catalog reads here but the check did not (name them on the command line to compare them): {}",
            if unread.len() == 1 {
                "1 file".to_owned()
            } else {
                format!("{} files", unread.len())
            },
            shown.join(", ")
        ));
    }
    unreadable.extend(unread.into_iter().map(str::to_owned));
    let scope = Scope {
        checked: in_scope.checked,
        unreadable: unreadable.into_iter().collect(),
    };
    let changes = diff::compare_with_aliases(&local_views, &catalog_entities, &scope, resolved);
    let gone: Vec<&CatalogEntity> = changes.gone().collect();
    let mut dependents = if gone.is_empty() {
        HashMap::new()
    } else {
        let refs: Vec<String> = gone.iter().map(|entity| entity.entity_ref.clone()).collect();
        let walked = catalog.dependents(&refs).await?;
        still_needing(catalog, &gone, walked, &local_views).await?
    };
    // Dependents in the files checked and read are the checked files' own business: the local
    // checks report their references (one to what is gone dangles). The rest of the same
    // repository and branch was not checked: its dependents break like any other.
    let checked_here = |dependent: &Dependent| {
        catalog_repo
            .as_ref()
            .is_some_and(|compared| compared.url == dependent.repo && compared.branch == dependent.branch)
            && scope.covers(&dependent.file)
            && !scope.is_unreadable(&dependent.file)
    };
    for list in dependents.values_mut() {
        list.retain(|dependent| !checked_here(dependent));
    }
    dependents.retain(|_, list| !list.is_empty());
    // As given, else the catalog server's own dashboard (a snapshot file has none).
    let dashboard_url = settings.dashboard_url.clone().or_else(|| catalog.dashboard_url());
    Ok(ChangeReport {
        repo_url: repo_url.to_owned(),
        branch: catalog_repo
            .as_ref()
            .and_then(|repo| repo.branch.clone())
            .or_else(|| settings.branch.clone())
            .or(default_branch),
        catalog_repo,
        changes,
        dependents,
        breaking_severity: settings.breaking,
        dashboard_url,
    })
}

/// Of each removed or renamed entity's dependents, those the change breaks: a direct dependent
/// that declares a reference to the entity (by its reference or one of its aliases, as written)
/// that nothing answers to once the change merges, and whatever depends on such a dependent. A
/// dependent linked only by a relation the entity itself declares (`providesApis`,
/// `dependencyOf`) loses nothing, as the relation leaves with it; a reference through an alias
/// that the renamed entity keeps (a Compass component's `id`) still resolves. Only when an entity
/// keeps some of its aliases are its direct dependents' declarations read (one more lookup), to
/// see how they spell the reference.
async fn still_needing(
    catalog: &Catalog,
    gone: &[&CatalogEntity],
    mut dependents: HashMap<String, Vec<Dependent>>,
    after: &[CatalogEntity],
) -> Result<HashMap<String, Vec<Dependent>>, CatalogError> {
    let answers_after: HashSet<&str> = after
        .iter()
        .flat_map(|entity| std::iter::once(entity.entity_ref.as_str()).chain(entity.aliases.iter().map(String::as_str)))
        .collect();
    let keeps_an_alias = |entity: &CatalogEntity| entity.aliases.iter().any(|alias| answers_after.contains(alias.as_str()));
    // The declarations of the direct dependents of entities that keep an alias, at once.
    let spelled: BTreeSet<String> = gone
        .iter()
        .filter(|entity| keeps_an_alias(entity))
        .filter_map(|entity| dependents.get(&entity.entity_ref))
        .flatten()
        .filter(|dependent| dependent.depth == 1 && dependent.declares_reference)
        .map(|dependent| dependent.entity_ref.clone())
        .collect();
    let declared = if spelled.is_empty() {
        HashMap::new()
    } else {
        catalog.lookup(&spelled.into_iter().collect::<Vec<_>>()).await?
    };
    for entity in gone {
        let Some(list) = dependents.get_mut(&entity.entity_ref) else {
            continue;
        };
        let names_it = |target: &str| target.eq_ignore_ascii_case(&entity.entity_ref) || entity.aliases.iter().any(|alias| alias == target);
        let resolves_after = |target: &str| answers_after.contains(target) || answers_after.contains(target.to_lowercase().as_str());
        let broken: HashSet<String> = list
            .iter()
            .filter(|dependent| dependent.depth == 1 && dependent.declares_reference)
            .filter(|dependent| match declared.get(&dependent.entity_ref) {
                // How it spells the reference is known: broken when some spelling stops resolving.
                Some(direct) => direct
                    .relations
                    .iter()
                    .any(|edge| names_it(&edge.target) && !resolves_after(&edge.target)),
                // The entity keeps none of its aliases, so no spelling still resolves.
                None => true,
            })
            .map(|dependent| dependent.entity_ref.clone())
            .collect();
        list.retain(|dependent| dependent.path.get(1).is_some_and(|first| broken.contains(first)));
    }
    Ok(dependents)
}

/// The catalog repository a change is compared with, among those naming the same repository:
/// the branch asked for (`--branch`, else the remote's default); a catalog entry without a branch
/// follows the remote's default branch, so it answers when no entry names the branch and the
/// branch is (or may be) the default.
fn choose_repo(candidates: &[CatalogRepo], branch: Option<&str>, default: Option<&str>, notes: &mut Vec<String>) -> Option<CatalogRepo> {
    let wanted = branch.or(default);
    let follows_default = || candidates.iter().find(|candidate| candidate.branch.is_none()).cloned();
    match wanted {
        Some(wanted) => candidates
            .iter()
            .find(|candidate| candidate.branch.as_deref() == Some(wanted))
            .cloned()
            .or_else(|| {
                if default.is_none_or(|default| default == wanted) {
                    follows_default()
                } else {
                    None
                }
            }),
        None => follows_default().or_else(|| match candidates {
            [only] => Some(only.clone()),
            [] => None,
            several => {
                let branches: Vec<&str> = several.iter().filter_map(|candidate| candidate.branch.as_deref()).collect();
                notes.push(format!(
                    "the catalog crawls this repository on several branches ({}); name one with --branch",
                    branches.join(", ")
                ));
                None
            }
        }),
    }
}

/// The folder a path names, or holds it.
fn folder_of(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.to_path_buf()
    } else {
        match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// Maps a repository-relative path to the name diagnostics show: relative to the current folder
/// when it lies under it, as validate shows files; else the repository-relative path.
fn display_paths(local: Option<&LocalRepository>) -> impl Fn(&str) -> String + use<> {
    let here = local.and_then(|local| local.relative_path(Path::new(".")));
    move |path: &str| match here.as_deref() {
        Some("") | None => path.to_owned(),
        Some(prefix) => path
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .map_or_else(|| path.to_owned(), str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::{CatalogRepo, CheckSettings, Checked, choose_repo};
    use crate::domain::{Code, Severity};
    use crate::pr_check::{CatalogEntity, DeclaredEdge};
    use crate::validate::Options;

    const COMPONENT: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: NAME
spec:
  type: service
  lifecycle: production
  owner: group:team-a
";

    /// `component:default/<name>` as the catalog holds it from `path` of the repository.
    fn in_catalog(name: &str, path: &str, depends_on: &[&str]) -> CatalogEntity {
        let mut relations: Vec<DeclaredEdge> = depends_on
            .iter()
            .map(|target| DeclaredEdge {
                relation_type: "dependsOn".to_owned(),
                target: (*target).to_owned(),
            })
            .collect();
        relations.push(DeclaredEdge {
            relation_type: "ownedBy".to_owned(),
            target: "group:default/team-a".to_owned(),
        });
        CatalogEntity {
            entity_ref: format!("component:default/{name}"),
            repo: "https://git.example.com/acme/pay".to_owned(),
            branch: None,
            path: path.to_owned(),
            line: 1,
            document_index: 0,
            owner_ref: Some("group:default/team-a".to_owned()),
            lifecycle: Some("production".to_owned()),
            tier: None,
            system_ref: None,
            aliases: Vec::new(),
            relations,
        }
    }

    /// Checks `checked` (a path in a repository of these files, whose origin the catalog
    /// crawls) against a snapshot of these entities.
    async fn check(files: &[(&str, String)], catalog: Vec<CatalogEntity>, checked: &str) -> Checked {
        let folder = tempfile::tempdir().expect("temp dir");
        let root = folder.path();
        let repository = git2::Repository::init(root).expect("init");
        repository.remote("origin", "https://git.example.com/acme/pay.git").expect("remote");
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("folders");
            std::fs::write(path, text).expect("write");
        }
        let snapshot = serde_json::json!({
            "format": crate::pr_check::snapshot::SNAPSHOT_FORMAT,
            "version": crate::pr_check::snapshot::SNAPSHOT_VERSION,
            "exportedAt": "2026-01-01T00:00:00Z",
            "repos": [{ "url": "https://git.example.com/acme/pay", "branch": null }],
            "entities": catalog,
        });
        let snapshot_file = tempfile::NamedTempFile::new().expect("snapshot file");
        std::fs::write(snapshot_file.path(), snapshot.to_string()).expect("write");
        let settings = CheckSettings {
            catalog: snapshot_file.path().to_string_lossy().into_owned(),
            token: None,
            repo: None,
            branch: None,
            breaking: Severity::Error,
            dashboard_url: None,
        };
        let options = Options { strict: false, threads: 1 };
        let checked = super::check_paths(&[root.join(checked)], options, &settings)
            .await
            .expect("checked");
        assert!(checked.catalog_error.is_none(), "{:?}", checked.catalog_error);
        checked
    }

    #[tokio::test]
    async fn a_catalog_file_the_check_does_not_read_is_not_removed() {
        let files = [
            ("svc/catalog-info.yaml", COMPONENT.replace("NAME", "a")),
            // A name the crawl reads through `descriptorPatterns: ["*.catalog.yaml"]`; validate does not.
            ("svc/b.catalog.yaml", COMPONENT.replace("NAME", "b")),
        ];
        let catalog = vec![
            in_catalog("a", "svc/catalog-info.yaml", &[]),
            in_catalog("b", "svc/b.catalog.yaml", &[]),
        ];
        let checked = check(&files, catalog, "").await;
        let changes = checked.change.expect("a catalog diff").changes;
        assert!(changes.removed.is_empty(), "{changes:#?}");
        assert_eq!(changes.unchanged, 1, "{changes:#?}");
        assert_eq!(changes.not_compared.len(), 1, "{changes:#?}");
        assert!(
            checked.notes.iter().any(|note| note.contains("svc/b.catalog.yaml")),
            "{:?}",
            checked.notes
        );
    }

    #[tokio::test]
    async fn a_dependent_in_the_same_repository_outside_the_checked_paths_breaks() {
        // `svc/a` is deleted; `web`, outside the checked folder, still depends on `a`, and
        // `svc/c`, inside it, too (the local checks say so: its reference dangles).
        let files = [
            (
                "svc/c/catalog-info.yaml",
                COMPONENT.replace("NAME", "c") + "  dependsOn: [component:a]\n",
            ),
            (
                "web/catalog-info.yaml",
                COMPONENT.replace("NAME", "web") + "  dependsOn: [component:a]\n",
            ),
        ];
        let catalog = vec![
            in_catalog("a", "svc/a/catalog-info.yaml", &[]),
            in_catalog("c", "svc/c/catalog-info.yaml", &["component:default/a"]),
            in_catalog("web", "web/catalog-info.yaml", &["component:default/a"]),
        ];
        let checked = check(&files, catalog, "svc").await;
        let change = checked.change.expect("a catalog diff");
        assert_eq!(change.changes.removed.len(), 1, "{change:#?}");
        let dependents: Vec<&str> = change.dependents["component:default/a"]
            .iter()
            .map(|dependent| dependent.entity_ref.as_str())
            .collect();
        assert_eq!(dependents, vec!["component:default/web"]);
        let codes: Vec<Code> = checked.report.diagnostics.iter().map(|diagnostic| diagnostic.code).collect();
        assert!(codes.contains(&Code::BreakingChange), "{codes:?}");
        assert!(codes.contains(&Code::DanglingReference), "{codes:?}");
    }

    fn repo(branch: Option<&str>) -> CatalogRepo {
        CatalogRepo {
            url: "https://github.com/acme/pay".to_owned(),
            branch: branch.map(str::to_owned),
        }
    }

    #[test]
    fn the_branch_asked_for_then_the_entry_that_follows_the_default() {
        let mut notes = Vec::new();
        let both = [repo(None), repo(Some("release"))];
        assert_eq!(choose_repo(&both, Some("release"), None, &mut notes), Some(repo(Some("release"))));
        assert_eq!(choose_repo(&both, Some("main"), None, &mut notes), Some(repo(None)));
        assert_eq!(choose_repo(&both, None, Some("main"), &mut notes), Some(repo(None)));
        // A branch that is known not to be the default is not the entry that follows the default.
        assert_eq!(choose_repo(&both, Some("feature"), Some("main"), &mut notes), None);
        assert_eq!(choose_repo(&[repo(Some("main"))], None, None, &mut notes), Some(repo(Some("main"))));
        assert!(notes.is_empty());
        assert_eq!(choose_repo(&[repo(Some("a")), repo(Some("b"))], None, None, &mut notes), None);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(choose_repo(&[], Some("main"), None, &mut notes), None);
    }
}
