//! The synthetic organisation every benchmark uses: `repos` local bare repositories (about 3
//! entities and 12 declared edges each, both formats, power-law dependencies towards a few hubs),
//! seeded so every run builds the same one. Also written as a plain folder tree (the same files,
//! for `validate` and for Backstage's catalog) and as single-entity files (each component's first
//! document alone: the "typical file" of the validate target).

use std::path::Path;

/// Counts of what [`generate`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrgSize {
    pub repositories: usize,
    pub entities: usize,
    /// Entities in Backstage files (what Backstage's catalog can read; Compass files are ours only).
    pub backstage_entities: usize,
    pub declared_edges: usize,
}

impl OrgSize {
    pub fn of(repos: usize) -> OrgSize {
        let teams = (repos / 20).max(2);
        let systems = (repos / 25).max(2);
        let compass = (1..repos).filter(|index| is_compass(*index)).count();
        let backstage = repos - 1 - compass;
        OrgSize {
            repositories: repos,
            entities: teams + systems + compass + backstage * 3,
            backstage_entities: teams + systems + backstage * 3,
            declared_edges: (teams - 1) + systems + compass * 3 + backstage * (8 + 2 + 2) + teams,
        }
    }
}

/// Whether repository `index` (1-based; 0 is the org repository) holds a `compass.yml`.
pub fn is_compass(index: usize) -> bool {
    index % 7 == 3
}

/// The repository folder's name for `index` (`repo-00042`; `.git` is added for bare ones).
pub fn repo_name(index: usize) -> String {
    format!("repo-{index:05}")
}

/// The descriptor file of repository `index` (1-based): its name and text.
pub fn descriptor(index: usize, repos: usize) -> (&'static str, String) {
    if is_compass(index) {
        ("compass.yml", compass_yaml(index, repos))
    } else {
        (
            "catalog-info.yaml",
            component_yaml(index, &format!("Service number {index}."), repos),
        )
    }
}

pub fn skewed(random: &mut u64, bound: usize) -> usize {
    *random ^= *random << 13;
    *random ^= *random >> 7;
    *random ^= *random << 17;
    let unit = (*random % 1_000_000) as f64 / 1_000_000.0;
    ((unit.powi(3)) * bound as f64) as usize
}

pub fn component_yaml(index: usize, description: &str, repos: usize) -> String {
    let mut random = 0x9e37_79b9_7f4a_7c15_u64 ^ index as u64;
    let teams = (repos / 20).max(2);
    let systems = (repos / 25).max(2);
    let hub = |random: &mut u64| 1 + skewed(random, repos - 1);
    let (team, system) = (index % teams, index % systems);
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: service-{index}\n  description: {description}\n  tags: [java, tier-{tier}]\n  annotations:\n    github.com/project-slug: acme/service-{index}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-{team}\n  system: system-{system}\n  providesApis: [api-{index}]\n  consumesApis: [api-{a}, api-{b}]\n  dependsOn: [resource:db-{index}, component:service-{c}, component:service-{d}]\n---\napiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: api-{index}\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-{team}\n  system: system-{system}\n  definition: \"openapi: 3.0.0\"\n---\napiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: db-{index}\nspec:\n  type: database\n  owner: team-{team}\n  system: system-{system}\n",
        tier = index % 4 + 1,
        a = hub(&mut random),
        b = hub(&mut random),
        c = hub(&mut random),
        d = hub(&mut random),
    )
}

pub fn compass_yaml(index: usize, repos: usize) -> String {
    let mut random = 0x2545_f491_4f6c_dd1d_u64 ^ index as u64;
    let teams = (repos / 20).max(2);
    let ari = |component: usize| {
        format!(
            "ari:cloud:compass:c0ffee00-0000-4000-8000-000000000000:component/0000beef-0000-4000-8000-000000000000/{component:08x}-0000-4000-8000-000000000000"
        )
    };
    format!(
        "name: Compass Service {index}\nslug: compass-{index}\nid: {id}\nconfigVersion: 1\ntypeId: SERVICE\nownerId: ari:cloud:teams::team/{team:08x}-0000-4000-8000-000000000000\nfields:\n  tier: {tier}\n  lifecycle: Active\nlinks:\n  - type: REPOSITORY\n    url: https://git.example.com/acme/compass-{index}\nrelationships:\n  DEPENDS_ON:\n    - {first}\n    - {second}\nlabels: [source:github]\n",
        id = ari(index),
        team = index % teams,
        tier = index % 4 + 1,
        first = ari(7 * (1 + skewed(&mut random, repos / 7 - 1)) + 3),
        second = ari(7 * (1 + skewed(&mut random, repos / 7 - 1)) + 3),
    )
}

/// Documents per org repository: 4,000 groups and systems are about 700 KiB, under the 1 MiB a
/// descriptor file may hold (`descriptor::MAX_FILE_BYTES`); at xl the 9,000 of them in one file
/// were rejected as too large.
const ORG_DOCUMENTS_PER_REPOSITORY: usize = 4_000;

/// The org repositories (`org`, then `org-2`, `org-3`... when the documents need more than one
/// file): teams (each with a Compass team alias) and systems, as (folder name, file text).
pub fn org_files(repos: usize) -> Vec<(String, String)> {
    let teams = (repos / 20).max(2);
    let mut documents: Vec<String> = Vec::new();
    for team in 0..teams {
        let parent = if team == 0 {
            String::new()
        } else {
            format!("  parent: team-{}\n", (team - 1) / 8)
        };
        documents.push(format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-{team}\n  annotations:\n    sextant.dev/aliases: ari:cloud:teams::team/{team:08x}-0000-4000-8000-000000000000\nspec:\n  type: team\n{parent}  children: []\n"
        ));
    }
    for system in 0..(repos / 25).max(2) {
        documents.push(format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: system-{system}\nspec:\n  owner: team-{}\n",
            system % teams
        ));
    }
    documents
        .chunks(ORG_DOCUMENTS_PER_REPOSITORY)
        .enumerate()
        .map(|(index, chunk)| {
            let name = if index == 0 {
                "org".to_owned()
            } else {
                format!("org-{}", index + 1)
            };
            (name, chunk.concat())
        })
        .collect()
}

/// The file that says a generated organisation is complete; its name changes with the layout,
/// so an organisation written by an older generator is written again.
const COMPLETE_MARKER: &str = ".complete-2";

/// Writes the organisation as bare repositories under `root` (once: a marker file says it is
/// complete, and a later call reuses it) and returns its size.
pub fn generate(root: &Path, repos: usize) -> Result<OrgSize, String> {
    let size = OrgSize::of(repos);
    let marker = root.join(COMPLETE_MARKER);
    if marker.exists() {
        return Ok(size);
    }
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).map_err(|error| format!("cannot create {}: {error}", root.display()))?;
    for (name, text) in org_files(repos) {
        commit_to_bare(&root.join(format!("{name}.git")), "catalog-info.yaml", &text)?;
    }
    for index in 1..repos {
        let (file, text) = descriptor(index, repos);
        commit_to_bare(&root.join(format!("{}.git", repo_name(index))), file, &text)?;
    }
    std::fs::write(&marker, "").map_err(|error| format!("cannot write {}: {error}", marker.display()))?;
    Ok(size)
}

/// Writes the same descriptor files as a folder tree (`org/catalog-info.yaml`, and `org-2/`...
/// past 4,000 groups and systems,
/// `repo-NNNNN/catalog-info.yaml` or `compass.yml`), as a checkout of every repository would
/// hold them; and, when `single_entity` is given, each component's first document alone under
/// it. Once, like [`generate`]. Returns the number of files of the tree.
pub fn write_files(root: &Path, repos: usize, single_entity: Option<&Path>) -> Result<usize, String> {
    let write = |path: &Path, text: &str| -> Result<(), String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
        }
        std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
    };
    let marker = root.join(COMPLETE_MARKER);
    if !marker.exists() {
        let _ = std::fs::remove_dir_all(root);
        for (name, text) in org_files(repos) {
            write(&root.join(name).join("catalog-info.yaml"), &text)?;
        }
        for index in 1..repos {
            let (file, text) = descriptor(index, repos);
            write(&root.join(repo_name(index)).join(file), &text)?;
        }
        write(&marker, "")?;
    }
    if let Some(single) = single_entity {
        let marker = single.join(COMPLETE_MARKER);
        if !marker.exists() {
            let _ = std::fs::remove_dir_all(single);
            for index in (1..repos).filter(|index| !is_compass(*index)) {
                let text = component_yaml(index, &format!("Service number {index}."), repos);
                let first = text.split("\n---\n").next().unwrap_or(&text);
                write(&single.join(repo_name(index)).join("catalog-info.yaml"), &format!("{first}\n"))?;
            }
            write(&marker, "")?;
        }
    }
    Ok(repos)
}

/// Commits one file at the root of a bare repository (created when missing), on `main`.
pub fn commit_to_bare(path: &Path, file: &str, text: &str) -> Result<(), String> {
    let failed = |error: git2::Error| format!("{}: {error}", path.display());
    let repository = match git2::Repository::open_bare(path) {
        Ok(repository) => repository,
        Err(_) => {
            let mut options = git2::RepositoryInitOptions::new();
            options.bare(true).initial_head("main");
            git2::Repository::init_opts(path, &options).map_err(failed)?
        }
    };
    let parent = repository.head().ok().and_then(|head| head.peel_to_commit().ok());
    let parent_tree = match &parent {
        Some(commit) => Some(commit.tree().map_err(failed)?),
        None => None,
    };
    let mut builder = repository.treebuilder(parent_tree.as_ref()).map_err(failed)?;
    builder
        .insert(file, repository.blob(text.as_bytes()).map_err(failed)?, 0o100644)
        .map_err(failed)?;
    let tree = repository.find_tree(builder.write().map_err(failed)?).map_err(failed)?;
    let signature = git2::Signature::now("bench", "bench@example.invalid").map_err(failed)?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repository
        .commit(Some("HEAD"), &signature, &signature, "update", &tree, &parents)
        .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counted_size_is_what_the_files_hold() {
        let repos = 60;
        let size = OrgSize::of(repos);
        let mut documents: usize = org_files(repos).iter().map(|(_, text)| text.matches("\nkind: ").count()).sum();
        let mut compass = 0;
        for index in 1..repos {
            let (file, text) = descriptor(index, repos);
            if file == "compass.yml" {
                compass += 1;
            } else {
                documents += text.matches("\nkind: ").count();
            }
        }
        assert_eq!(size.backstage_entities, documents);
        assert_eq!(size.entities, documents + compass);
    }

    #[test]
    fn every_org_file_fits_the_descriptor_size_limit_at_every_scale() {
        for repos in [360, 10_000, 36_000, 100_000] {
            let files = org_files(repos);
            let documents: usize = files.iter().map(|(_, text)| text.matches("\nkind: ").count()).sum();
            assert_eq!(documents, (repos / 20).max(2) + (repos / 25).max(2));
            for (name, text) in &files {
                assert!(
                    text.len() < crate::descriptor::MAX_FILE_BYTES,
                    "{name}: {} bytes at {repos}",
                    text.len()
                );
            }
        }
        assert_eq!(org_files(36_000).len(), 1);
        let names: Vec<String> = org_files(100_000).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["org", "org-2", "org-3"]);
    }

    #[test]
    fn the_organisation_is_the_same_every_time() {
        assert_eq!(component_yaml(17, "d", 1_000), component_yaml(17, "d", 1_000));
        assert_eq!(compass_yaml(10, 1_000), compass_yaml(10, 1_000));
        assert_ne!(component_yaml(17, "d", 1_000), component_yaml(18, "d", 1_000));
    }
}
