//! A small seeded generator (splitmix64) and the random sequences of steps it makes.

use super::steps::{Edit, Step};
use super::world::{Damage, Document};

/// A seeded pseudo-random generator: the same seed gives the same sequence.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn selector(&mut self) -> usize {
        self.below(1 << 16)
    }
}

/// A generated sequence: how many repositories, and the steps.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub seed: u64,
    pub repo_count: usize,
    pub steps: Vec<Step>,
}

fn document(rng: &mut Rng) -> Document {
    let optional = |rng: &mut Rng, percent| rng.chance(percent).then(|| rng.selector());
    match rng.below(10) {
        0..=3 => {
            let dependencies = rng.below(3);
            Document::Component {
                name: rng.selector(),
                owner: rng.selector(),
                system: optional(rng, 40),
                depends_on: (0..dependencies).map(|_| rng.selector()).collect(),
                experimental: rng.chance(30),
                alias: optional(rng, 20),
            }
        }
        4..=5 => Document::Group {
            name: rng.selector(),
            parent: optional(rng, 30),
        },
        6 => Document::System {
            name: rng.selector(),
            owner: rng.selector(),
        },
        7 => Document::Api {
            name: rng.selector(),
            owner: rng.selector(),
            system: optional(rng, 50),
        },
        _ => {
            let dependencies = rng.below(3);
            Document::Compass {
                name: rng.selector(),
                id: rng.selector(),
                owned: rng.chance(40),
                depends_on: (0..dependencies).map(|_| rng.selector()).collect(),
            }
        }
    }
}

fn edit(rng: &mut Rng) -> Edit {
    let (first, second) = (rng.selector(), rng.selector());
    match rng.below(100) {
        0..=21 => Edit::Add {
            path: first,
            document: document(rng),
        },
        22..=39 => Edit::Modify {
            document: first,
            change: second,
        },
        40..=45 => Edit::Rename { file: first, path: second },
        46..=53 => Edit::MoveDocument {
            document: first,
            path: second,
        },
        54..=58 => Edit::CopyDocument {
            document: first,
            path: second,
        },
        59..=63 => Edit::Split { file: first, path: second },
        64..=68 => Edit::Merge {
            file: first,
            other: second,
        },
        69..=72 => Edit::Reorder { file: first },
        73..=77 => Edit::DeleteDocument { document: first },
        78..=80 => Edit::DeleteFile { file: first },
        81..=89 => Edit::Spoil {
            file: first,
            damage: match second % 3 {
                0 => Damage::Syntax,
                1 => Damage::InvalidField,
                _ => Damage::Oversize,
            },
        },
        90..=95 => Edit::Repair { file: first },
        _ => Edit::Symlink { file: first },
    }
}

/// A random crawl mask over `repo_count` repositories: all of them half of the time.
fn crawl_mask(rng: &mut Rng, repo_count: usize) -> u32 {
    let all = (1u32 << repo_count) - 1;
    if rng.chance(50) {
        return all;
    }
    let mask = rng.next() as u32 & all;
    if mask == 0 { all } else { mask }
}

/// The sequence for `seed`: every repository starts with a few documents, then random steps,
/// then a crawl of every repository.
pub fn scenario(seed: u64) -> Scenario {
    let mut rng = Rng::new(seed);
    let repo_count = 3 + rng.below(3);
    let mut steps = Vec::new();
    for repo in 0..repo_count {
        let count = 1 + rng.below(3);
        steps.push(Step::Change {
            repo,
            edits: (0..count)
                .map(|_| Edit::Add {
                    path: rng.selector(),
                    document: document(&mut rng),
                })
                .collect(),
            force_push: false,
        });
    }
    let length = 4 + rng.below(14);
    for _ in 0..length {
        let repo = rng.below(repo_count);
        let step = match rng.below(100) {
            0..=44 => {
                let count = 1 + rng.below(3);
                Step::Change {
                    repo,
                    edits: (0..count).map(|_| edit(&mut rng)).collect(),
                    force_push: false,
                }
            }
            45..=74 => Step::Crawl {
                mask: crawl_mask(&mut rng, repo_count),
            },
            75..=83 => Step::MoveAcross {
                from: repo,
                to: (repo + 1 + rng.below(repo_count - 1)) % repo_count,
                document: rng.selector(),
                path: rng.selector(),
                copy: rng.chance(40),
            },
            84..=87 => {
                let count = rng.below(3);
                Step::Change {
                    repo,
                    edits: (0..count).map(|_| edit(&mut rng)).collect(),
                    force_push: true,
                }
            }
            88..=90 => Step::DeleteBranch { repo },
            _ => Step::Reachable {
                repo,
                reachable: rng.chance(40),
            },
        };
        steps.push(step);
    }
    steps.push(Step::Crawl {
        mask: (1u32 << repo_count) - 1,
    });
    Scenario { seed, repo_count, steps }
}
