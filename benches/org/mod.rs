//! The synthetic organisation shared by the benchmarks: `repos` local bare repositories (about
//! 3 entities and 12 declared edges each, both formats, power-law dependencies towards a few
//! hubs), generated once under `target/` and reused.

use std::path::{Path, PathBuf};

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

/// The org repository: teams (each with a Compass team alias) and systems.
pub fn org_yaml(repos: usize) -> String {
    let mut text = String::new();
    for team in 0..(repos / 20).max(2) {
        let parent = if team == 0 {
            String::new()
        } else {
            format!("  parent: team-{}\n", (team - 1) / 8)
        };
        text.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-{team}\n  annotations:\n    sextant.dev/aliases: ari:cloud:teams::team/{team:08x}-0000-4000-8000-000000000000\nspec:\n  type: team\n{parent}  children: []\n"
        ));
    }
    for system in 0..(repos / 25).max(2) {
        text.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: system-{system}\nspec:\n  owner: team-{}\n",
            system % (repos / 20).max(2)
        ));
    }
    text
}

/// Writes the organisation (once; a marker file says it is complete) and returns the counts of
/// entities and declared edges.
pub fn generate(root: &Path, repos: usize) -> (usize, usize) {
    let teams = (repos / 20).max(2);
    let systems = (repos / 25).max(2);
    let compass = (1..repos).filter(|index| index % 7 == 3).count();
    let backstage = repos - 1 - compass;
    let entities = teams + systems + compass + backstage * 3;
    let edges = (teams - 1) + systems + compass * 3 + backstage * (8 + 2 + 2) + teams;
    let marker = root.join(".complete");
    if marker.exists() {
        return (entities, edges);
    }
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).expect("create the bench folder");
    commit_to_bare(&root.join("org.git"), "catalog-info.yaml", &org_yaml(repos));
    for index in 1..repos {
        let path = root.join(format!("repo-{index:05}.git"));
        if index % 7 == 3 {
            commit_to_bare(&path, "compass.yml", &compass_yaml(index, repos));
        } else {
            commit_to_bare(
                &path,
                "catalog-info.yaml",
                &component_yaml(index, &format!("Service number {index}."), repos),
            );
        }
    }
    std::fs::write(marker, "").expect("marker");
    (entities, edges)
}

/// Commits one file at the root of a bare repository (created when missing), on `main`.
pub fn commit_to_bare(path: &PathBuf, file: &str, text: &str) {
    let repository = git2::Repository::open_bare(path).unwrap_or_else(|_| {
        let mut options = git2::RepositoryInitOptions::new();
        options.bare(true).initial_head("main");
        git2::Repository::init_opts(path, &options).expect("init bare")
    });
    let parent = repository.head().ok().and_then(|head| head.peel_to_commit().ok());
    let mut builder = repository
        .treebuilder(parent.as_ref().map(|commit| commit.tree().expect("tree")).as_ref())
        .expect("tree builder");
    builder
        .insert(file, repository.blob(text.as_bytes()).expect("blob"), 0o100644)
        .expect("insert");
    let tree = repository.find_tree(builder.write().expect("write tree")).expect("tree");
    let signature = git2::Signature::now("bench", "bench@example.invalid").expect("signature");
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repository
        .commit(Some("HEAD"), &signature, &signature, "update", &tree, &parents)
        .expect("commit");
}
