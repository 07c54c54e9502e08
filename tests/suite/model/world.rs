//! The repositories under test: what each one holds, as descriptor documents kept as data, and
//! how it is written to a real bare git repository with git2 (a whole tree per commit).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use git2::{Oid, Repository, Signature};
use sextant::crawler::{Origin, Source};

pub const COMPONENTS: &[&str] = &["checkout", "ledger", "search", "billing"];
pub const GROUPS: &[&str] = &["payments", "platform", "web"];
pub const SYSTEMS: &[&str] = &["shop", "core"];
pub const APIS: &[&str] = &["orders-api", "ledger-api"];
/// Compass display names; the slug of "Ledger" is `ledger`, the name of a Backstage component too.
pub const COMPASS_NAMES: &[&str] = &["Pricing Engine", "Ledger", "Fraud Check"];
/// How many distinct Compass component ids the documents draw from.
pub const COMPASS_IDS: usize = 3;
pub const TEAM_ARI: &str = "ari:cloud:teams::team/0f4c63d9-1455-4f59-9964-69844c87be93";
/// What Backstage components may depend on: defined entities, one never defined, a Compass slug.
pub const DEPENDENCY_TARGETS: &[&str] = &[
    "component:checkout",
    "component:ledger",
    "component:search",
    "api:orders-api",
    "resource:ledger-db",
    "component:pricing-engine",
];

pub const BACKSTAGE_PATHS: &[&str] = &[
    "catalog-info.yaml",
    "a/catalog-info.yaml",
    "b/catalog-info.yml",
    "b/c/catalog-info.yaml",
];
pub const COMPASS_PATHS: &[&str] = &["svc/compass.yml", "web/compass.yaml"];
/// Names no crawl reads: renaming a descriptor here takes it out of the catalog.
pub const OTHER_PATHS: &[&str] = &["docs/catalog-info.yaml.txt", "notes.yaml"];

/// The Compass component id (an ARI) number `index`.
pub fn component_ari(index: usize) -> String {
    format!(
        "ari:cloud:compass:549dbe51-94ac-45c7-bc41-9972ec40c21c:component/8113101c-05a3-4650-9dbb-4b41eada8388/00000000-0000-4000-8000-00000000000{}",
        index % COMPASS_IDS
    )
}

/// One descriptor document. Numbers index the name pools above (modulo their length).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Document {
    Component {
        name: usize,
        owner: usize,
        system: Option<usize>,
        depends_on: Vec<usize>,
        experimental: bool,
        alias: Option<usize>,
    },
    Group {
        name: usize,
        parent: Option<usize>,
    },
    System {
        name: usize,
        owner: usize,
    },
    Api {
        name: usize,
        owner: usize,
        system: Option<usize>,
    },
    Compass {
        name: usize,
        id: usize,
        owned: bool,
        depends_on: Vec<usize>,
    },
}

fn pick(pool: &[&'static str], index: usize) -> &'static str {
    pool[index % pool.len()]
}

impl Document {
    pub fn is_compass(&self) -> bool {
        matches!(self, Document::Compass { .. })
    }

    /// The reference this document is meant to define, for step descriptions.
    pub fn label(&self) -> String {
        match self {
            Document::Component { name, .. } => format!("component:{}", pick(COMPONENTS, *name)),
            Document::Group { name, .. } => format!("group:{}", pick(GROUPS, *name)),
            Document::System { name, .. } => format!("system:{}", pick(SYSTEMS, *name)),
            Document::Api { name, .. } => format!("api:{}", pick(APIS, *name)),
            Document::Compass { name, id, .. } => format!("compass '{}' id #{}", pick(COMPASS_NAMES, *name), id % COMPASS_IDS),
        }
    }

    /// The YAML text; `invalid` spoils one field so that the reader reports an error.
    pub fn render(&self, invalid: bool) -> String {
        let backstage = |kind: &str, name: &str| {
            let name = if invalid { "\"Not A Valid Name!\"" } else { name };
            format!("apiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n")
        };
        match self {
            Document::Component {
                name,
                owner,
                system,
                depends_on,
                experimental,
                alias,
            } => {
                let mut text = backstage("Component", pick(COMPONENTS, *name));
                if let Some(alias) = alias {
                    text.push_str(&format!("  annotations:\n    sextant.dev/aliases: '{}'\n", component_ari(*alias)));
                }
                let lifecycle = if *experimental { "experimental" } else { "production" };
                text.push_str(&format!(
                    "spec:\n  type: service\n  lifecycle: {lifecycle}\n  owner: {}\n",
                    pick(GROUPS, *owner)
                ));
                if let Some(system) = system {
                    text.push_str(&format!("  system: {}\n", pick(SYSTEMS, *system)));
                }
                let mut targets: Vec<&str> = depends_on.iter().map(|target| pick(DEPENDENCY_TARGETS, *target)).collect();
                targets.dedup();
                if !targets.is_empty() {
                    text.push_str("  dependsOn:\n");
                    for target in targets {
                        text.push_str(&format!("    - {target}\n"));
                    }
                }
                text
            }
            Document::Group { name, parent } => {
                let mut text = backstage("Group", pick(GROUPS, *name));
                text.push_str("spec:\n  type: team\n");
                if let Some(parent) = parent {
                    text.push_str(&format!("  parent: {}\n", pick(GROUPS, *parent)));
                }
                text.push_str("  children: []\n");
                text
            }
            Document::System { name, owner } => {
                let mut text = backstage("System", pick(SYSTEMS, *name));
                text.push_str(&format!("spec:\n  owner: {}\n", pick(GROUPS, *owner)));
                text
            }
            Document::Api { name, owner, system } => {
                let mut text = backstage("API", pick(APIS, *name));
                text.push_str(&format!(
                    "spec:\n  type: openapi\n  lifecycle: production\n  owner: {}\n  definition: 'openapi: 3.0.0'\n",
                    pick(GROUPS, *owner)
                ));
                if let Some(system) = system {
                    text.push_str(&format!("  system: {}\n", pick(SYSTEMS, *system)));
                }
                text
            }
            Document::Compass {
                name,
                id,
                owned,
                depends_on,
            } => {
                let mut text = format!(
                    "name: {}\nid: '{}'\nconfigVersion: 1\ntypeId: SERVICE\n",
                    pick(COMPASS_NAMES, *name),
                    component_ari(*id)
                );
                if invalid {
                    text.push_str("slug: 'not a valid slug!'\n");
                }
                if *owned {
                    text.push_str(&format!("ownerId: '{TEAM_ARI}'\n"));
                }
                let mut targets: Vec<String> = depends_on.iter().map(|target| component_ari(*target)).collect();
                targets.sort();
                targets.dedup();
                if !targets.is_empty() {
                    text.push_str("relationships:\n  DEPENDS_ON:\n");
                    for target in targets {
                        text.push_str(&format!("    - '{target}'\n"));
                    }
                }
                text
            }
        }
    }
}

/// How a file is spoiled, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Damage {
    None,
    /// A YAML syntax error at the end of the file.
    Syntax,
    /// The first document has an invalid field.
    InvalidField,
    /// A comment pads the file past the 1 MiB cap.
    Oversize,
}

/// A file of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FileBody {
    /// A descriptor (or another YAML file) with one or more documents.
    Documents { documents: Vec<Document>, damage: Damage },
    /// A symbolic link; `hidden` are the documents it replaced, restored by a repair.
    Link { target: String, hidden: Vec<Document> },
}

pub const LINK_MODE: i32 = 0o120000;
pub const FILE_MODE: i32 = 0o100644;

impl FileBody {
    /// The git file mode and the blob's bytes.
    pub fn render(&self) -> (i32, Vec<u8>) {
        match self {
            FileBody::Link { target, .. } => (LINK_MODE, target.as_bytes().to_vec()),
            FileBody::Documents { documents, damage } => {
                let mut text = String::new();
                for (position, document) in documents.iter().enumerate() {
                    if position > 0 {
                        text.push_str("---\n");
                    }
                    text.push_str(&document.render(position == 0 && *damage == Damage::InvalidField));
                }
                match damage {
                    Damage::Syntax => text.push_str("  broken: [unclosed, list\n"),
                    Damage::Oversize => {
                        text.push_str("# ");
                        text.push_str(&"x".repeat(1024 * 1024 + 16));
                        text.push('\n');
                    }
                    Damage::None | Damage::InvalidField => {}
                }
                (FILE_MODE, text.into_bytes())
            }
        }
    }
}

/// What a read of the repository would see, as the reference model is told it.
#[derive(Debug, Clone)]
pub enum TipView {
    /// The read fails: the folder is away, or the branch does not exist.
    Unreadable,
    /// The branch tip and every file of its tree (path, is a symbolic link, bytes).
    Tip {
        commit: String,
        files: Vec<(String, bool, Vec<u8>)>,
    },
}

/// One repository under test: its files as data, and the bare git repository on disk.
pub struct RepoWorld {
    pub files: BTreeMap<String, FileBody>,
    /// Where the repository lives while reachable (the source's path).
    home: PathBuf,
    /// Where it is moved to while unreachable.
    away: PathBuf,
    pub reachable: bool,
    /// The branch tip, or `None` while the branch does not exist.
    pub tip: Option<String>,
    pub source: Source,
    commits: usize,
    /// The open repository (reopened when its folder moves).
    repository: Repository,
    /// Blobs already written, by content (a padded file is rendered and hashed once).
    blobs: HashMap<FileBody, (i32, Oid)>,
}

const BRANCH: &str = "refs/heads/main";

impl RepoWorld {
    /// An empty bare repository (no commit yet) at `home`.
    pub fn create(home: PathBuf) -> RepoWorld {
        let mut options = git2::RepositoryInitOptions::new();
        options.bare(true).initial_head("main").external_template(false);
        let repository = Repository::init_opts(&home, &options).expect("create the bare repository");
        let source = Source::parse(&home.to_string_lossy(), None, None, Origin::Operator).expect("a local path is allowed");
        let mut away = home.clone().into_os_string();
        away.push(".away");
        RepoWorld {
            files: BTreeMap::new(),
            away: PathBuf::from(away),
            home,
            reachable: true,
            tip: None,
            source,
            commits: 0,
            repository,
            blobs: HashMap::new(),
        }
    }

    /// Commits the whole of `files` on the branch: on top of the tip, or (`parentless`, or when
    /// the branch is gone) as the root of an unrelated history.
    pub fn commit(&mut self, parentless: bool) {
        let repository = &self.repository;
        let mut blobs = BTreeMap::new();
        for (path, body) in &self.files {
            let blob = match self.blobs.get(body) {
                Some(blob) => *blob,
                None => {
                    let (mode, bytes) = body.render();
                    let blob = (mode, repository.blob(&bytes).expect("write a blob"));
                    self.blobs.insert(body.clone(), blob);
                    blob
                }
            };
            blobs.insert(path.clone(), blob);
        }
        let tree = write_tree(repository, &blobs).expect("write the tree");
        let tree = repository.find_tree(tree).expect("find the tree");
        let signature = Signature::now("model", "model@example.invalid").expect("a signature");
        let parent = match (&self.tip, parentless) {
            (Some(tip), false) => Some(repository.find_commit(Oid::from_str(tip).expect("an oid")).expect("the tip commit")),
            _ => None,
        };
        self.commits += 1;
        let message = format!("change {}", self.commits);
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let commit = repository
            .commit(None, &signature, &signature, &message, &tree, &parents)
            .expect("write the commit");
        repository.reference(BRANCH, commit, true, "model step").expect("move the branch");
        self.tip = Some(commit.to_string());
    }

    pub fn delete_branch(&mut self) {
        if let Ok(mut reference) = self.repository.find_reference(BRANCH) {
            reference.delete().expect("delete the branch");
        }
        self.tip = None;
    }

    /// Moves the repository folder away from its source path, or back.
    pub fn set_reachable(&mut self, reachable: bool) {
        if reachable == self.reachable {
            return;
        }
        let (from, to) = if reachable {
            (&self.away, &self.home)
        } else {
            (&self.home, &self.away)
        };
        std::fs::rename(from, to).expect("move the repository folder");
        self.repository = Repository::open_bare(to).expect("open the moved repository");
        self.reachable = reachable;
    }

    pub fn tip_view(&self) -> TipView {
        match (&self.tip, self.reachable) {
            (Some(commit), true) => TipView::Tip {
                commit: commit.clone(),
                files: self
                    .files
                    .iter()
                    .map(|(path, body)| {
                        let (mode, bytes) = body.render();
                        (path.clone(), mode == LINK_MODE, bytes)
                    })
                    .collect(),
            },
            _ => TipView::Unreadable,
        }
    }
}

enum TreeNode {
    Blob(i32, Oid),
    Folder(BTreeMap<String, TreeNode>),
}

fn write_tree(repository: &Repository, blobs: &BTreeMap<String, (i32, Oid)>) -> Result<Oid, git2::Error> {
    let mut root = BTreeMap::new();
    for (path, (mode, oid)) in blobs {
        let mut folder = &mut root;
        let mut parts: Vec<&str> = path.split('/').collect();
        let name = parts.pop().expect("a path has a name");
        for part in parts {
            let node = folder.entry(part.to_owned()).or_insert_with(|| TreeNode::Folder(BTreeMap::new()));
            folder = match node {
                TreeNode::Folder(children) => children,
                TreeNode::Blob(..) => unreachable!("a file and a folder share a path"),
            };
        }
        folder.insert(name.to_owned(), TreeNode::Blob(*mode, *oid));
    }
    write_folder(repository, &root)
}

fn write_folder(repository: &Repository, folder: &BTreeMap<String, TreeNode>) -> Result<Oid, git2::Error> {
    let mut builder = repository.treebuilder(None)?;
    for (name, node) in folder {
        match node {
            TreeNode::Blob(mode, oid) => builder.insert(name, *oid, *mode)?,
            TreeNode::Folder(children) => {
                let oid = write_folder(repository, children)?;
                builder.insert(name, oid, 0o040000)?
            }
        };
    }
    builder.write()
}
