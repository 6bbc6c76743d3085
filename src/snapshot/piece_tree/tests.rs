//! The piece tree against a plain vector of leaves, after every change.

use proptest::prelude::*;

use super::*;
use crate::snapshot::numbering::Pos;

/// A leaf with a key of its own: runs at `1000 * k..1000 * k + len` (`len` < 6),
/// single resellers at `1000 * k + 500`, as the overlay's keys never fall inside a run.
fn leaf(k: u32, run: bool, len: u32, depth: u32, m: u32) -> Leaf {
    let piece = if run {
        Piece::Run {
            s: Pos::new(1000 * k),
            e: Pos::new(1000 * k + len),
            shift: 0,
            min: depth,
            max: depth + len - 1,
        }
    } else {
        Piece::Node {
            x: Handle::new(1000 * k + 500),
            depth,
        }
    };
    Leaf {
        piece,
        matches: [m % 2, m % 3, 0, m % 5],
    }
}

fn starts(model: &[Leaf]) -> Vec<Line> {
    let mut at = Line::new(0);
    let mut out = Vec::with_capacity(model.len() + 1);
    for l in model {
        out.push(at);
        at += l.piece.len();
    }
    out.push(at);
    out
}

fn cut_run(leaf: Leaf, off: u32) -> (Leaf, Leaf) {
    let Piece::Run {
        s,
        e,
        shift,
        min,
        max,
    } = leaf.piece
    else {
        panic!("only runs are split");
    };
    let a = Leaf {
        piece: Piece::Run {
            s,
            e: s + off,
            shift,
            min,
            max: min + off - 1,
        },
        matches: [0, leaf.matches[1], 0, 0],
    };
    let b = Leaf {
        piece: Piece::Run {
            s: s + off,
            e,
            shift,
            min: min + off,
            max,
        },
        matches: [leaf.matches[0], 0, 0, leaf.matches[3]],
    };
    (a, b)
}

fn join_runs(a: &Leaf, b: &Leaf) -> Option<Leaf> {
    match (a.piece, b.piece) {
        (
            Piece::Run {
                s,
                e: e0,
                shift: h0,
                min: m0,
                max: x0,
            },
            Piece::Run {
                s: s1,
                e,
                shift,
                min,
                max,
            },
        ) if e0 == s1 && h0 == shift => {
            let mut matches = a.matches;
            for (m, o) in matches.iter_mut().zip(b.matches) {
                *m += o;
            }
            Some(Leaf {
                piece: Piece::Run {
                    s,
                    e,
                    shift,
                    min: m0.min(min),
                    max: x0.max(max),
                },
                matches,
            })
        }
        _ => None,
    }
}

fn compare(tree: &PieceTree, model: &[Leaf], probe: u32) -> Result<(), TestCaseError> {
    if let Err(e) = tree.check() {
        return Err(TestCaseError::fail(e));
    }
    let st = starts(model);
    let walked: Vec<(Line, Leaf)> = tree.walk_from(Line::new(0)).collect();
    let expected: Vec<(Line, Leaf)> = st.iter().copied().zip(model.iter().copied()).collect();
    prop_assert_eq!(&walked, &expected);
    let len = *st.last().unwrap();
    prop_assert_eq!(tree.len(), len.get());
    // Every piece by its key, and by a position inside it.
    let mut before = [0u32; 4];
    for (i, l) in model.iter().enumerate() {
        let id = match l.piece {
            Piece::Run { s, .. } => tree.piece_of(Handle::of(s + probe % l.piece.len())),
            Piece::Node { x, .. } => tree.piece_of(x),
        };
        let found = id.and_then(|id| tree.find(id));
        prop_assert_eq!(
            found.map(|f| (f.start, f.leaf, f.before)),
            Some((st[i], *l, before))
        );
        let inside = st[i] + probe % l.piece.len();
        prop_assert_eq!(
            tree.at(inside).map(|f| (f.start, f.leaf)),
            Some((st[i], *l))
        );
        for (b, m) in before.iter_mut().zip(l.matches) {
            *b += m;
        }
    }
    prop_assert_eq!(tree.at(len), None);
    // Walks from every position.
    if len.get() > 0 {
        let from = Line::new(probe % len.get());
        let i = st.partition_point(|&s| s <= from) - 1;
        let walked: Vec<(Line, Leaf)> = tree.walk_from(from).collect();
        prop_assert_eq!(&walked[..], &expected[i..]);
    }
    // The g-th match of each filter.
    for f in 0..4 {
        let total: u32 = model.iter().map(|l| l.matches[f]).sum();
        prop_assert_eq!(tree.total_matches(f), total);
        for g in [0, probe % total.max(1), total.saturating_sub(1), total] {
            let mut acc = 0;
            let want = model.iter().enumerate().find_map(|(i, l)| {
                let hit = g < acc + l.matches[f];
                acc += l.matches[f];
                hit.then_some((st[i], *l))
            });
            prop_assert_eq!(tree.match_at(f, g).map(|f| (f.start, f.leaf)), want);
        }
    }
    // The first and last pieces at most as deep as `d` after and before a boundary.
    for (b, &l) in st.iter().enumerate() {
        for d in [probe as i64 % 20, 10, 12, 30] {
            let first = (b..model.len())
                .find(|&i| i64::from(model[i].piece.min_depth()) <= d)
                .map(|i| (st[i], model[i]));
            prop_assert_eq!(tree.first_at_most(l, d).map(|f| (f.start, f.leaf)), first);
            let last = (0..b)
                .rev()
                .find(|&i| i64::from(model[i].piece.min_depth()) <= d)
                .map(|i| (st[i], model[i]));
            prop_assert_eq!(tree.last_at_most(l, d).map(|f| (f.start, f.leaf)), last);
        }
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Op {
    Insert {
        at: usize,
        leaves: Vec<(bool, u32, u32, u32)>,
    },
    Remove {
        at: usize,
        n: usize,
    },
    Relocate {
        at: usize,
        n: usize,
        to: usize,
        by: i64,
    },
    Shift {
        at: usize,
        n: usize,
        by: i64,
    },
    Split {
        at: usize,
        off: u32,
    },
    Merge {
        at: usize,
    },
    InsertCutting {
        line: u32,
        leaf: (u32, u32),
    },
    RemoveOne {
        line: u32,
    },
}

/// The index of the piece of `model` holding line `l`, and where that piece starts.
fn piece_at(model: &[Leaf], l: u32) -> (usize, u32) {
    let st = starts(model);
    let i = st.partition_point(|s| s.get() <= l) - 1;
    (i, st[i].get())
}

fn op() -> impl Strategy<Value = Op> {
    // Depths from 0, so that shifts take some to the root level.
    let l = (any::<bool>(), 1u32..6, 0u32..20, 0u32..30);
    // Mostly a few pieces, which a bottom node moves in place.
    let moved = prop_oneof![3 => 1usize..=6, 1 => 1usize..200];
    prop_oneof![
        4 => (any::<usize>(), prop::collection::vec(l, 1..40)).prop_map(|(at, leaves)| Op::Insert { at, leaves }),
        1 => (any::<usize>(), 1usize..4).prop_map(|(at, n)| Op::Remove { at, n }),
        3 => (any::<usize>(), moved, any::<usize>(), -3i64..4).prop_map(|(at, n, to, by)| Op::Relocate { at, n, to, by }),
        1 => (any::<usize>(), 1usize..200, -3i64..4).prop_map(|(at, n, by)| Op::Shift { at, n, by }),
        2 => (any::<usize>(), any::<u32>()).prop_map(|(at, off)| Op::Split { at, off }),
        1 => any::<usize>().prop_map(|at| Op::Merge { at }),
        3 => (any::<u32>(), (0u32..20, 0u32..30)).prop_map(|(line, leaf)| Op::InsertCutting { line, leaf }),
        3 => any::<u32>().prop_map(|line| Op::RemoveOne { line }),
    ]
}

/// Whether every depth of `leaves` stays at least 0 when shifted by `by`.
fn shiftable(leaves: &[Leaf], by: i64) -> bool {
    leaves
        .iter()
        .all(|l| i64::from(l.piece.min_depth()) + by >= 0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn matches_a_vector(
        ops in prop::collection::vec(op(), 1..60),
        start in 0u32..100,
        probe in any::<u32>(),
    ) {
        let mut key = 1u32;
        let mut fresh = |run: bool, len: u32, depth: u32, m: u32| {
            key += 1;
            leaf(key, run, len, depth, m)
        };
        let first: Vec<Leaf> = (0..start).map(|i| fresh(i % 3 == 0, 1 + i % 4, i % 7, i)).collect();
        let mut model = first.clone();
        let mut tree = PieceTree::new(first);
        compare(&tree, &model, probe)?;
        // Every version, to check at the end that later changes left it as it was.
        let mut versions = Vec::new();
        for op in ops {
            versions.push((tree.clone(), model.clone()));
            let st = starts(&model);
            let k = model.len();
            match op {
                Op::Insert { at, leaves } => {
                    let at = at % (k + 1);
                    let new: Vec<Leaf> = leaves.iter().map(|&(r, len, d, m)| fresh(r, len, d, m)).collect();
                    tree.insert(st[at], new.clone());
                    model.splice(at..at, new);
                }
                Op::Remove { at, n } => {
                    if k == 0 { continue; }
                    let at = at % k;
                    let end = (at + n).min(k);
                    let got = tree.remove(st[at], st[end]);
                    let want: Vec<Leaf> = model.drain(at..end).collect();
                    prop_assert_eq!(got, want);
                }
                Op::Relocate { at, n, to, by } => {
                    if k == 0 { continue; }
                    let at = at % k;
                    let end = (at + n).min(k);
                    if !shiftable(&model[at..end], by) { continue; }
                    let moved: Vec<Leaf> = model.drain(at..end).map(|l| l.shifted(by)).collect();
                    let to = to % (model.len() + 1);
                    let rest = starts(&model);
                    tree.relocate(st[at], st[end], rest[to], by);
                    model.splice(to..to, moved);
                }
                Op::Shift { at, n, by } => {
                    if k == 0 { continue; }
                    let at = at % k;
                    let end = (at + n).min(k);
                    if !shiftable(&model[at..end], by) { continue; }
                    tree.shift(st[at], st[end], by);
                    for l in &mut model[at..end] {
                        *l = l.shifted(by);
                    }
                }
                Op::Split { at, off } => {
                    if k == 0 { continue; }
                    let at = at % k;
                    let len = model[at].piece.len();
                    if !matches!(model[at].piece, Piece::Run { .. }) || len < 2 { continue; }
                    let off = 1 + off % (len - 1);
                    let Piece::Run { s, .. } = model[at].piece else { continue };
                    let id = tree.piece_of(Handle::of(s));
                    tree.split_at(st[at] + off, cut_run);
                    // The first half keeps the piece's id.
                    prop_assert_eq!(tree.piece_of(Handle::of(s)), id);
                    let (a, b) = cut_run(model[at], off);
                    model.splice(at..=at, [a, b]);
                }
                Op::Merge { at } => {
                    let at = at % (k + 1);
                    tree.merge_at(st[at], join_runs);
                    if at > 0 && at < k {
                        if let Some(j) = join_runs(&model[at - 1], &model[at]) {
                            model.splice(at - 1..=at, [j]);
                        }
                    }
                }
                Op::InsertCutting { line, leaf: (d, m) } => {
                    let total = st[k].get();
                    let line = line % (total + 1);
                    let new = fresh(false, 1, d, m);
                    tree.insert_cutting(Line::new(line), new, cut_run);
                    if line == total {
                        model.push(new);
                    } else {
                        let (i, at) = piece_at(&model, line);
                        if at < line {
                            let (a, b) = cut_run(model[i], line - at);
                            model.splice(i..=i, [a, new, b]);
                        } else {
                            model.insert(i, new);
                        }
                    }
                }
                Op::RemoveOne { line } => {
                    let total = st[k].get();
                    if total == 0 { continue; }
                    let line = line % total;
                    tree.remove_one(Line::new(line), cut_run);
                    let (i, at) = piece_at(&model, line);
                    let (off, len) = (line - at, model[i].piece.len());
                    // As `split_at` at `line` and at `line + 1` would cut it.
                    let mut parts = Vec::new();
                    let mut rest = model[i];
                    if off > 0 {
                        let (a, r) = cut_run(rest, off);
                        parts.push(a);
                        rest = r;
                    }
                    if off + 1 < len {
                        let (_, b) = cut_run(rest, 1);
                        parts.push(b);
                    }
                    model.splice(i..=i, parts);
                }
            }
            compare(&tree, &model, probe)?;
        }
        for (tree, model) in &versions {
            compare(tree, model, probe)?;
        }
    }

    #[test]
    fn versions_are_independent(n in 1usize..300, moves in prop::collection::vec((any::<usize>(), any::<usize>()), 1..20)) {
        let leaves: Vec<Leaf> = (0..n as u32).map(|i| leaf(i + 1, false, 1, 10, i)).collect();
        let mut tree = PieceTree::new(leaves.clone());
        let mut model = leaves;
        let mut versions = vec![(tree.clone(), model.clone())];
        for (a, b) in moves {
            let k = model.len();
            let at = a % k;
            let to = b % k;
            let l = model.remove(at);
            model.insert(to, l);
            tree.relocate(Line::at(at), Line::at(at) + 1, Line::at(to), 0);
            versions.push((tree.clone(), model.clone()));
        }
        for (t, m) in &versions {
            compare(t, m, 7)?;
        }
    }
}
