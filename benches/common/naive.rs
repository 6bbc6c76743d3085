//! The naive baseline shared by the criterion benches and `examples/perf_report.rs`:
//! the hierarchy as a petgraph `DiGraph` (parent -> child edges), walked depth-first
//! from the reseller on every query, then the page sliced.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::Dfs;
use reseller_hierarchy::{PageRequest, Record, ResellerId};

pub(crate) struct Naive {
    pub(crate) graph: DiGraph<(), ()>,
    pub(crate) index: HashMap<ResellerId, NodeIndex>,
}

impl Naive {
    pub(crate) fn new(records: &[Record]) -> Naive {
        let mut graph = DiGraph::with_capacity(records.len(), records.len());
        let index: HashMap<ResellerId, NodeIndex> = records
            .iter()
            .map(|r| (r.id.clone(), graph.add_node(())))
            .collect();
        for r in records {
            if let Some(p) = &r.parent {
                graph.add_edge(index[p], index[&r.id], ());
            }
        }
        Naive { graph, index }
    }

    /// Walks the whole downline, then slices the page.
    pub(crate) fn downline_page(&self, id: &ResellerId, req: PageRequest) -> Vec<NodeIndex> {
        let start = self.index[id];
        let mut dfs = Dfs::new(&self.graph, start);
        let mut all = Vec::new();
        while let Some(v) = dfs.next(&self.graph) {
            if v != start {
                all.push(v);
            }
        }
        let from = req.offset().min(all.len());
        let to = (from + req.per_page() as usize).min(all.len());
        all[from..to].to_vec()
    }
}
