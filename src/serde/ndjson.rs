//! NDJSON read on all cores.
//!
//! # How
//!
//! The input is read in blocks of about [`BLOCK`] bytes, each cut after its last line
//! break (the rest starts the next block), so that no line is split. A round reads as
//! many blocks as there are threads (times two, to even out their lengths), parses
//! them side by side, each into its own [`Columns`] with its problems and the places
//! of its records, and appends them to the builder in input order. So every problem is
//! reported as a one-thread reader would report it, named by its line, and memory
//! beyond the records stays at one round of blocks: the whole file is never held.

use std::io::BufRead;

use rayon::prelude::*;

use crate::builder::{Builder, Columns, Place, Problem};

use super::record_in::RecordIn;

/// Bytes read per block (a block holds whole lines, so a longer line makes a longer
/// block).
const BLOCK: usize = 1 << 20;

/// One block parsed: its records, and what the builder needs to report its problems.
#[derive(Default)]
struct Parsed {
    records: Columns,
    /// Problems in input order, their places set.
    problems: Vec<Problem>,
    /// Input positions (records and malformed lines, from 0 at the block's first) of
    /// the malformed lines.
    malformed: Vec<usize>,
    /// `(input position, line)` where the lines of the positions stop following each
    /// other (after blank lines), the block's first position included.
    runs: Vec<(usize, usize)>,
    /// Records and malformed lines.
    positions: usize,
}

/// Parses the lines of `block`, the first of which is line `first_line`.
fn parse_block(block: &[u8], first_line: usize) -> Parsed {
    let mut out = Parsed::default();
    let mut expected_line = None;
    for (k, line) in block.split(|&b| b == b'\n').enumerate() {
        let number = first_line + k;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if expected_line != Some(number) {
            out.runs.push((out.positions, number));
        }
        expected_line = Some(number + 1);
        match serde_json::from_slice::<RecordIn<'_>>(line) {
            Ok(r) => {
                if let Some((id, names)) = r.push_into(&mut out.records) {
                    for name in names {
                        out.problems.push(Problem::UnknownCapability {
                            at: Place::Line(number),
                            id: id.clone(),
                            name,
                        });
                    }
                }
            }
            Err(e) => {
                out.malformed.push(out.positions);
                out.problems.push(Problem::Malformed {
                    at: Place::Line(number),
                    message: without_position(&e),
                });
            }
        }
        out.positions += 1;
    }
    out
}

/// serde_json's message for an error in one line, with the column but without its
/// "line 1" (the problem names the line in the file).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&suffix) {
        Some(message) if e.line() == 1 => format!("{message} at column {}", e.column()),
        _ => text,
    }
}

impl Builder {
    /// Reads NDJSON: one JSON record a line; blank lines are skipped. Lines are parsed
    /// on all cores (see the module docs of `serde/ndjson.rs`).
    pub(super) fn read_ndjson_parallel(&mut self, mut reader: impl BufRead) -> std::io::Result<()> {
        let blocks_per_round = rayon::current_num_threads() * 2;
        let mut next_line = 1usize;
        let mut carry: Vec<u8> = Vec::new();
        loop {
            // Read one round of blocks, each ending at a line break (or the input's end).
            let mut round: Vec<(Vec<u8>, usize)> = Vec::with_capacity(blocks_per_round);
            let mut done = false;
            while round.len() < blocks_per_round && !done {
                let mut block = std::mem::take(&mut carry);
                block.reserve(BLOCK + 4096);
                while block.len() < BLOCK {
                    let buf = reader.fill_buf()?;
                    if buf.is_empty() {
                        done = true;
                        break;
                    }
                    let take = buf.len().min(BLOCK + 4096 - block.len()).max(1);
                    block.extend_from_slice(&buf[..take]);
                    reader.consume(take);
                }
                if !done {
                    // Finish the line the block ends in, then cut after the last break.
                    reader.read_until(b'\n', &mut block)?;
                    match block.iter().rposition(|&b| b == b'\n') {
                        Some(at) => carry = block.split_off(at + 1),
                        None => done = reader.fill_buf()?.is_empty(),
                    }
                }
                if block.is_empty() {
                    continue;
                }
                let lines = block.iter().filter(|&&b| b == b'\n').count();
                let first = next_line;
                // A block not ending in a line break is the last; its last line counts.
                next_line += lines;
                round.push((block, first));
            }
            let parsed: Vec<Parsed> = round
                .par_iter()
                .map(|(block, first)| {
                    let body = block.strip_suffix(b"\n").unwrap_or(block);
                    parse_block(body, *first)
                })
                .collect();
            for p in parsed {
                self.append_parsed(p);
            }
            if done && carry.is_empty() {
                return Ok(());
            }
        }
    }

    fn append_parsed(&mut self, p: Parsed) {
        let base = self.len();
        for (at, line) in p.runs {
            self.start_place(base + at, Place::Line(line));
        }
        self.append(p.records, p.problems, p.malformed.iter().map(|m| base + m));
    }
}
