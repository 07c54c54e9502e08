//! Cycle finding over a graph of node indexes; shared by the validator and the store.

use std::collections::BTreeSet;

/// The cycles that depth-first search closes (one per back edge), each reported once per set
/// of nodes; every graph with a cycle yields at least one.
/// Iterative, so a long chain cannot overflow the stack.
pub fn find_cycles(graph: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Unvisited,
        OnPath,
        Done,
    }
    let mut state = vec![State::Unvisited; graph.len()];
    let mut seen = BTreeSet::new();
    let mut cycles = Vec::new();
    for root in 0..graph.len() {
        if state[root] != State::Unvisited {
            continue;
        }
        let mut path: Vec<usize> = vec![root];
        let mut next_edge: Vec<usize> = vec![0];
        state[root] = State::OnPath;
        while let Some(&node) = path.last() {
            let edge = next_edge.last_mut().expect("parallel to path");
            match graph[node].get(*edge) {
                Some(&target) => {
                    *edge += 1;
                    match state[target] {
                        State::Unvisited => {
                            state[target] = State::OnPath;
                            path.push(target);
                            next_edge.push(0);
                        }
                        State::OnPath => {
                            let from = path.iter().position(|&member| member == target).expect("on the path");
                            let cycle = path[from..].to_vec();
                            let mut key = cycle.clone();
                            key.sort_unstable();
                            if seen.insert(key) {
                                cycles.push(cycle);
                            }
                        }
                        State::Done => {}
                    }
                }
                None => {
                    state[node] = State::Done;
                    path.pop();
                    next_edge.pop();
                }
            }
        }
    }
    cycles
}

#[cfg(test)]
mod tests {
    use super::find_cycles;

    #[test]
    fn finds_each_cycle_once() {
        let graph = vec![vec![1], vec![2], vec![0], vec![3], vec![]];
        let cycles = find_cycles(&graph);
        assert_eq!(cycles.len(), 2);
        assert!(cycles.contains(&vec![0, 1, 2]));
        assert!(cycles.contains(&vec![3]));
        assert!(find_cycles(&[vec![1], vec![]]).is_empty());
    }
}
