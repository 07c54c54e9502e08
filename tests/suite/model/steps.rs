//! The operations a sequence is made of, and how each one changes the repositories. Steps hold
//! random selectors rather than names, read against the repositories as they are when the step
//! runs, so that any step can be dropped while shrinking and the rest still make sense.

use super::world::{BACKSTAGE_PATHS, COMPASS_PATHS, Damage, Document, FileBody, OTHER_PATHS, RepoWorld};

/// One step of a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Edits to one repository, committed together (as a parentless commit when `force_push`).
    Change {
        repo: usize,
        edits: Vec<Edit>,
        force_push: bool,
    },
    /// Moves (or copies) a document to a file of another repository; both repositories commit.
    MoveAcross {
        from: usize,
        to: usize,
        document: usize,
        path: usize,
        copy: bool,
    },
    DeleteBranch {
        repo: usize,
    },
    /// Moves the repository folder away (`false`) or back (`true`).
    Reachable {
        repo: usize,
        reachable: bool,
    },
    /// Crawls the repositories whose bit is set.
    Crawl {
        mask: u32,
    },
}

/// One edit of a repository's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    Add {
        path: usize,
        document: Document,
    },
    /// Changes a field or a relation of a document.
    Modify {
        document: usize,
        change: usize,
    },
    Rename {
        file: usize,
        path: usize,
    },
    MoveDocument {
        document: usize,
        path: usize,
    },
    CopyDocument {
        document: usize,
        path: usize,
    },
    Split {
        file: usize,
        path: usize,
    },
    Merge {
        file: usize,
        other: usize,
    },
    Reorder {
        file: usize,
    },
    DeleteDocument {
        document: usize,
    },
    DeleteFile {
        file: usize,
    },
    Spoil {
        file: usize,
        damage: Damage,
    },
    Repair {
        file: usize,
    },
    Symlink {
        file: usize,
    },
}

/// Paths a document of this format may live at.
fn family(compass: bool) -> &'static [&'static str] {
    if compass { COMPASS_PATHS } else { BACKSTAGE_PATHS }
}

fn nth_file(world: &RepoWorld, selector: usize) -> Option<String> {
    let count = world.files.len();
    (count > 0).then(|| world.files.keys().nth(selector % count).expect("in range").clone())
}

/// Every (path, position) of a document in files that hold documents.
fn document_places(world: &RepoWorld) -> Vec<(String, usize)> {
    world
        .files
        .iter()
        .flat_map(|(path, body)| match body {
            FileBody::Documents { documents, .. } => (0..documents.len()).map(|position| (path.clone(), position)).collect(),
            FileBody::Link { .. } => Vec::new(),
        })
        .collect()
}

fn documents_mut<'world>(world: &'world mut RepoWorld, path: &str) -> Option<&'world mut Vec<Document>> {
    match world.files.get_mut(path) {
        Some(FileBody::Documents { documents, .. }) => Some(documents),
        _ => None,
    }
}

/// Adds a document at `path`: appended to the documents there, or replacing a link.
fn put(world: &mut RepoWorld, path: &str, document: Document) {
    match world.files.get_mut(path) {
        Some(FileBody::Documents { documents, .. }) => documents.push(document),
        _ => {
            world.files.insert(
                path.to_owned(),
                FileBody::Documents {
                    documents: vec![document],
                    damage: Damage::None,
                },
            );
        }
    }
}

/// Takes the document at `place` out of its file; a file left without documents is deleted.
fn take(world: &mut RepoWorld, (path, position): &(String, usize)) -> Document {
    let documents = documents_mut(world, path).expect("a place holds documents");
    let document = documents.remove(*position);
    if documents.is_empty() {
        world.files.remove(path);
    }
    document
}

fn pick_document(world: &RepoWorld, selector: usize) -> Option<(String, usize)> {
    let places = document_places(world);
    (!places.is_empty()).then(|| places[selector % places.len()].clone())
}

fn document_at(world: &RepoWorld, (path, position): &(String, usize)) -> Document {
    match &world.files[path] {
        FileBody::Documents { documents, .. } => documents[*position].clone(),
        FileBody::Link { .. } => unreachable!("places are in document files"),
    }
}

/// Applies an edit; returns what it did, or `None` when it does not apply to these files.
pub fn apply_edit(world: &mut RepoWorld, edit: &Edit) -> Option<String> {
    match edit {
        Edit::Add { path, document } => {
            let paths = family(document.is_compass());
            let path = paths[path % paths.len()];
            put(world, path, document.clone());
            Some(format!("add {} to {path}", document.label()))
        }
        Edit::Modify { document, change } => {
            let place = pick_document(world, *document)?;
            let before = document_at(world, &place);
            let documents = documents_mut(world, &place.0).expect("a place holds documents");
            let after = modify(&before, *change);
            documents[place.1] = after.clone();
            Some(format!("modify {}#{}: {:?} -> {:?}", place.0, place.1, before, after))
        }
        Edit::Rename { file, path } => {
            let from = nth_file(world, *file)?;
            let targets: Vec<&str> = BACKSTAGE_PATHS.iter().chain(COMPASS_PATHS).chain(OTHER_PATHS).copied().collect();
            let to = targets[path % targets.len()];
            if world.files.contains_key(to) {
                return None;
            }
            let body = world.files.remove(&from).expect("listed");
            world.files.insert(to.to_owned(), body);
            Some(format!("rename {from} to {to}"))
        }
        Edit::MoveDocument { document, path } | Edit::CopyDocument { document, path } => {
            let place = pick_document(world, *document)?;
            let moved = document_at(world, &place);
            let paths = family(moved.is_compass());
            let to = paths[path % paths.len()];
            let copy = matches!(edit, Edit::CopyDocument { .. });
            if !copy {
                take(world, &place);
            }
            put(world, to, moved.clone());
            Some(format!(
                "{} {} from {}#{} to {to}",
                if copy { "copy" } else { "move" },
                moved.label(),
                place.0,
                place.1
            ))
        }
        Edit::Split { file, path } => {
            let from = nth_file(world, *file)?;
            let documents = documents_mut(world, &from)?;
            if documents.len() < 2 {
                return None;
            }
            let rest = documents.split_off(documents.len() / 2);
            let paths = family(rest[0].is_compass());
            let to = paths[path % paths.len()];
            let count = rest.len();
            for document in rest {
                put(world, to, document);
            }
            Some(format!("split the last {count} documents of {from} into {to}"))
        }
        Edit::Merge { file, other } => {
            let into = nth_file(world, *file)?;
            let from = nth_file(world, *other)?;
            if into == from || documents_mut(world, &into).is_none() || documents_mut(world, &from).is_none() {
                return None;
            }
            let Some(FileBody::Documents { documents, .. }) = world.files.remove(&from) else {
                unreachable!("checked above")
            };
            documents_mut(world, &into).expect("checked above").extend(documents);
            Some(format!("merge {from} into {into}"))
        }
        Edit::Reorder { file } => {
            let path = nth_file(world, *file)?;
            let documents = documents_mut(world, &path)?;
            if documents.len() < 2 {
                return None;
            }
            documents.rotate_left(1);
            Some(format!("reorder the documents of {path} (first goes last)"))
        }
        Edit::DeleteDocument { document } => {
            let place = pick_document(world, *document)?;
            let removed = take(world, &place);
            Some(format!("delete {} at {}#{}", removed.label(), place.0, place.1))
        }
        Edit::DeleteFile { file } => {
            let path = nth_file(world, *file)?;
            world.files.remove(&path);
            Some(format!("delete {path}"))
        }
        Edit::Spoil { file, damage } => {
            let path = nth_file(world, *file)?;
            match world.files.get_mut(&path) {
                Some(FileBody::Documents { damage: current, .. }) => *current = *damage,
                _ => return None,
            }
            Some(format!("spoil {path} ({damage:?})"))
        }
        Edit::Repair { file } => {
            let path = nth_file(world, *file)?;
            let body = world.files.get_mut(&path).expect("listed");
            match body {
                FileBody::Documents { damage, .. } if *damage != Damage::None => *damage = Damage::None,
                FileBody::Link { hidden, .. } if !hidden.is_empty() => {
                    *body = FileBody::Documents {
                        documents: std::mem::take(hidden),
                        damage: Damage::None,
                    }
                }
                _ => return None,
            }
            Some(format!("repair {path}"))
        }
        Edit::Symlink { file } => {
            let path = nth_file(world, *file)?;
            let body = world.files.get_mut(&path).expect("listed");
            let FileBody::Documents { documents, .. } = body else { return None };
            *body = FileBody::Link {
                target: "../elsewhere/catalog-info.yaml".to_owned(),
                hidden: std::mem::take(documents),
            };
            Some(format!("replace {path} by a symbolic link"))
        }
    }
}

/// A changed copy of `document`: a field, a relation, an alias or the name.
fn modify(document: &Document, change: usize) -> Document {
    let mut changed = document.clone();
    let toggle = |value: &mut Option<usize>, next: usize| *value = if value.is_some() { None } else { Some(next) };
    let flip_relation = |list: &mut Vec<usize>, target: usize| {
        if let Some(position) = list.iter().position(|existing| *existing == target) {
            list.remove(position);
        } else {
            list.push(target);
        }
    };
    let kind = change % 5;
    let value = change / 5;
    match &mut changed {
        Document::Component {
            name,
            owner,
            system,
            depends_on,
            experimental,
            alias,
        } => match kind {
            0 => *owner += 1 + value % 2,
            1 => flip_relation(depends_on, value),
            2 => toggle(system, value),
            3 => toggle(alias, value),
            _ if value.is_multiple_of(2) => *experimental = !*experimental,
            _ => *name += 1,
        },
        Document::Group { name, parent } => match kind {
            0 | 1 => toggle(parent, value),
            _ => *name += 1,
        },
        Document::System { name, owner } => match kind {
            0 | 1 => *owner += 1,
            _ => *name += 1,
        },
        Document::Api { name, owner, system } => match kind {
            0 => *owner += 1,
            1 | 2 => toggle(system, value),
            _ => *name += 1,
        },
        Document::Compass {
            name,
            id,
            owned,
            depends_on,
        } => match kind {
            0 => *owned = !*owned,
            1 | 2 => flip_relation(depends_on, value % super::world::COMPASS_IDS),
            3 => *id += 1,
            _ => *name += 1,
        },
    }
    changed
}

/// Runs a step against the repositories; returns what it did (empty when nothing applied).
/// Crawls are run by the caller.
pub fn apply_step(worlds: &mut [RepoWorld], step: &Step) -> Vec<String> {
    let count = worlds.len();
    match step {
        Step::Change { repo, edits, force_push } => {
            let world = &mut worlds[repo % count];
            let mut done: Vec<String> = edits.iter().filter_map(|edit| apply_edit(world, edit)).collect();
            if done.is_empty() && !force_push {
                return done;
            }
            world.commit(*force_push);
            if *force_push {
                done.push("force-push a parentless commit".to_owned());
            }
            done
        }
        Step::MoveAcross {
            from,
            to,
            document,
            path,
            copy,
        } => {
            let (from, to) = (from % count, to % count);
            if from == to {
                return Vec::new();
            }
            let Some(place) = pick_document(&worlds[from], *document) else {
                return Vec::new();
            };
            let moved = document_at(&worlds[from], &place);
            if !copy {
                take(&mut worlds[from], &place);
                worlds[from].commit(false);
            }
            let paths = family(moved.is_compass());
            let target = paths[path % paths.len()];
            put(&mut worlds[to], target, moved.clone());
            worlds[to].commit(false);
            vec![format!(
                "{} {} from repo {from} {}#{} to repo {to} {target}",
                if *copy { "copy" } else { "move" },
                moved.label(),
                place.0,
                place.1
            )]
        }
        Step::DeleteBranch { repo } => {
            worlds[repo % count].delete_branch();
            vec!["delete the branch".to_owned()]
        }
        Step::Reachable { repo, reachable } => {
            let world = &mut worlds[repo % count];
            if world.reachable == *reachable {
                return Vec::new();
            }
            world.set_reachable(*reachable);
            vec![
                if *reachable {
                    "make reachable again"
                } else {
                    "make unreachable (folder moved away)"
                }
                .to_owned(),
            ]
        }
        Step::Crawl { .. } => Vec::new(),
    }
}

/// The repositories a crawl mask selects, in index order.
pub fn crawled(mask: u32, count: usize) -> Vec<usize> {
    (0..count).filter(|repo| mask & (1 << repo) != 0).collect()
}
