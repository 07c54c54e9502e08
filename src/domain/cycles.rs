//! Loop finding over a graph of node indexes; shared by the validator and the store.
//!
//! A graph can hold exponentially many loops, and the loops a depth-first search happens to close
//! can be thousands of nodes long: on the 36,000-repository benchmark organisation that search
//! reported 3,896 loops holding 5.2 million nodes between them, and the crawler's memory went from
//! 100 MiB to 650 MiB to list them. What a reader needs is which entities are caught in a loop and
//! a short loop to break. So the nodes are split into tangles (strongly connected components: every
//! member reaches every other), and each tangle is reported as the shortest loops through its
//! members, at most [`MAX_LOOPS_PER_TANGLE`] of them, with the tangle's size. Time and memory are
//! linear in the graph's size.

use std::collections::VecDeque;

/// How many loops one tangle reports at most; its size says how many entities it holds.
pub const MAX_LOOPS_PER_TANGLE: usize = 20;

/// One loop of a tangle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loop {
    /// The nodes around the loop, starting at its smallest index; the last leads back to the first.
    pub nodes: Vec<usize>,
    /// How many nodes the loop's tangle holds (every one reaches every other); the loop's own
    /// length when no other loop shares its nodes.
    pub tangle_size: usize,
}

const UNSEEN: usize = usize::MAX;

/// The note that says a loop is one of several through the same entities, when its tangle is
/// larger than the loop: "(one of the loops among N entities that all reach each other)".
pub fn tangle_note(loop_length: usize, tangle_size: usize) -> Option<String> {
    (tangle_size > loop_length).then(|| format!("(one of the loops among {tangle_size} entities that all reach each other)"))
}

/// The loops of `graph` (edges as lists of target indexes). Tangles come in order of their
/// smallest node; within one, the smallest node not yet on a reported loop starts the next loop,
/// the shortest through it (ties broken by edge order), until every member is on one or
/// [`MAX_LOOPS_PER_TANGLE`] are reported. Every graph with a loop yields at least one, every
/// self-edge is a loop of one node, and the same graph always gives the same loops.
/// Iterative, so a long chain cannot overflow the stack.
pub fn find_cycles(graph: &[Vec<usize>]) -> Vec<Loop> {
    let tangles = tangles(graph);
    let mut tangle_of = vec![UNSEEN; graph.len()];
    for (id, members) in tangles.iter().enumerate() {
        for &member in members {
            tangle_of[member] = id;
        }
    }
    let mut search = ShortestLoop {
        graph,
        tangle_of: &tangle_of,
        previous: vec![UNSEEN; graph.len()],
        reached: Vec::new(),
        queue: VecDeque::new(),
    };
    let mut on_a_loop = vec![false; graph.len()];
    let mut loops = Vec::new();
    for (id, members) in tangles.iter().enumerate() {
        let mut reported = 0;
        for &start in members {
            if reported == MAX_LOOPS_PER_TANGLE {
                break;
            }
            if on_a_loop[start] {
                continue;
            }
            let mut nodes = search.through(start, id);
            for &node in &nodes {
                on_a_loop[node] = true;
            }
            let smallest = nodes
                .iter()
                .enumerate()
                .min_by_key(|(_, node)| **node)
                .map_or(0, |(position, _)| position);
            nodes.rotate_left(smallest);
            loops.push(Loop {
                nodes,
                tangle_size: members.len(),
            });
            reported += 1;
        }
    }
    loops
}

/// The strongly connected components that hold a loop (two nodes or more, or one with an edge to
/// itself), each sorted, in order of their smallest node (Tarjan's algorithm, iterative).
fn tangles(graph: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut order = vec![UNSEEN; graph.len()];
    let mut low = vec![0; graph.len()];
    let mut on_stack = vec![false; graph.len()];
    let mut stack = Vec::new();
    let mut calls: Vec<(usize, usize)> = Vec::new();
    let mut next_order = 0;
    let mut tangles = Vec::new();
    for root in 0..graph.len() {
        if order[root] != UNSEEN {
            continue;
        }
        calls.push((root, 0));
        while let Some(frame) = calls.last_mut() {
            let node = frame.0;
            // A node is entered when its frame comes up first: the root, or a target just pushed.
            if order[node] == UNSEEN {
                order[node] = next_order;
                low[node] = next_order;
                next_order += 1;
                stack.push(node);
                on_stack[node] = true;
            }
            if let Some(&target) = graph[node].get(frame.1) {
                frame.1 += 1;
                if order[target] == UNSEEN {
                    calls.push((target, 0));
                } else if on_stack[target] {
                    low[node] = low[node].min(order[target]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == order[node] {
                let mut members = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    members.push(member);
                    if member == node {
                        break;
                    }
                }
                if members.len() > 1 || graph[node].contains(&node) {
                    members.sort_unstable();
                    tangles.push(members);
                }
            }
        }
    }
    tangles.sort_unstable_by_key(|members| members[0]);
    tangles
}

/// Breadth-first search for the shortest loop through a node, inside its tangle; the buffers are
/// kept between searches and only the entries a search touched are reset.
struct ShortestLoop<'graph> {
    graph: &'graph [Vec<usize>],
    tangle_of: &'graph [usize],
    previous: Vec<usize>,
    reached: Vec<usize>,
    queue: VecDeque<usize>,
}

impl ShortestLoop<'_> {
    /// The nodes of the shortest loop from `start` back to it, `start` first. Every member of a
    /// tangle is on a loop inside it, so the search always ends with one.
    fn through(&mut self, start: usize, tangle: usize) -> Vec<usize> {
        self.previous[start] = start;
        self.reached.push(start);
        self.queue.push_back(start);
        let mut last = None;
        'search: while let Some(node) = self.queue.pop_front() {
            for &target in &self.graph[node] {
                if target == start {
                    last = Some(node);
                    break 'search;
                }
                if self.tangle_of[target] == tangle && self.previous[target] == UNSEEN {
                    self.previous[target] = node;
                    self.reached.push(target);
                    self.queue.push_back(target);
                }
            }
        }
        let mut nodes = Vec::new();
        let mut node = last.unwrap_or(start);
        while node != start {
            nodes.push(node);
            node = self.previous[node];
        }
        nodes.push(start);
        nodes.reverse();
        for &node in &self.reached {
            self.previous[node] = UNSEEN;
        }
        self.reached.clear();
        self.queue.clear();
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::{Loop, MAX_LOOPS_PER_TANGLE, find_cycles};

    fn nodes(loops: &[Loop]) -> Vec<Vec<usize>> {
        loops.iter().map(|found| found.nodes.clone()).collect()
    }

    #[test]
    fn finds_each_loop_once_with_its_tangle() {
        let graph = vec![vec![1], vec![2], vec![0], vec![3], vec![]];
        let loops = find_cycles(&graph);
        assert_eq!(nodes(&loops), vec![vec![0, 1, 2], vec![3]]);
        assert_eq!(loops[0].tangle_size, 3);
        assert_eq!(loops[1].tangle_size, 1);
        assert!(find_cycles(&[vec![1], vec![]]).is_empty());
        assert!(find_cycles(&[]).is_empty());
    }

    #[test]
    fn reports_the_shortest_loops_that_cover_a_tangle() {
        // 0 → 1 → 2 → 3 → 0 is long; 0 ↔ 3 is the short way back, 1 ↔ 2 a loop of its own.
        let graph = vec![vec![1, 3], vec![2], vec![3, 1], vec![0]];
        let loops = find_cycles(&graph);
        assert_eq!(nodes(&loops), vec![vec![0, 3], vec![1, 2]]);
        assert!(loops.iter().all(|found| found.tangle_size == 4));
    }

    #[test]
    fn the_same_graph_gives_the_same_loops_whatever_the_search_order() {
        // A ring with chords: every node is on many loops.
        let size = 200;
        let graph: Vec<Vec<usize>> = (0..size).map(|node| vec![(node + 1) % size, (node * 7 + 3) % size]).collect();
        let first = find_cycles(&graph);
        assert_eq!(first, find_cycles(&graph));
        assert_eq!(first.len(), MAX_LOOPS_PER_TANGLE, "a tangle reports at most the cap");
        for found in &first {
            assert_eq!(found.tangle_size, size);
            assert_eq!(found.nodes[0], *found.nodes.iter().min().unwrap(), "starts at its smallest node");
            for (position, &node) in found.nodes.iter().enumerate() {
                let next = found.nodes[(position + 1) % found.nodes.len()];
                assert!(graph[node].contains(&next), "{node} → {next} is an edge");
            }
        }
    }

    #[test]
    fn a_long_chain_and_a_large_tangle_stay_linear() {
        let size = 200_000;
        let chain: Vec<Vec<usize>> = (0..size).map(|node| vec![(node + 1) % size]).collect();
        let loops = find_cycles(&chain);
        assert_eq!(loops.len(), 1);
        assert_eq!(loops[0].nodes.len(), size);
        // Every node also points at node 0: the loops are two nodes long, and capped.
        let dense: Vec<Vec<usize>> = (0..size).map(|node| vec![(node + 1) % size, 0]).collect();
        let loops = find_cycles(&dense);
        assert_eq!(loops.len(), MAX_LOOPS_PER_TANGLE);
        assert!(loops.iter().map(|found| found.nodes.len()).sum::<usize>() < size);
    }
}
