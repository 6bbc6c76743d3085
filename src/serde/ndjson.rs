//! NDJSON read on all cores.
//!
//! # How
//!
//! The input is read in blocks of about [`BLOCK`] bytes, each cut after its last line
//! break (the rest starts the next block), so that no line is split. A round reads as
//! many blocks as there are threads (times two, to even out their lengths), parses
//! them side by side, each into its own `Columns` with its problems and the places
//! of its records, and appends them to the builder in input order. So every problem is
//! reported as a one-thread reader would report it, named by its line, and memory
//! beyond the records stays at one round of blocks: the whole file is never held.

use std::io::BufRead;

use rayon::prelude::*;

use crate::builder::{Builder, Place};

use super::is_json_space;
use super::parsed::{fill, Parsed};

/// Bytes read per block (a block holds whole lines, so a longer line makes a longer
/// block).
pub(super) const BLOCK: usize = 1 << 20;

/// Parses the lines of `block`, the first of which is line `first_line`.
///
/// A block that is valid UTF-8 (checked once, for all its lines) is parsed as text, so
/// that serde_json does not check each string again; otherwise line by line as bytes,
/// so that only the lines at fault are reported.
fn parse_block(block: &[u8], first_line: usize) -> Parsed {
    let mut out = Parsed::default();
    let text = std::str::from_utf8(block).ok();
    let mut expected_line = None;
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', block).chain(std::iter::once(block.len()));
    for (k, end) in ends.enumerate() {
        let line = &block[start..end];
        let from = start;
        start = end + 1;
        let number = first_line + k;
        if line.iter().all(is_json_space) {
            continue;
        }
        if expected_line != Some(number) {
            out.start_place(Place::Line(number));
        }
        expected_line = Some(number + 1);
        match text {
            // Line breaks are character boundaries.
            Some(text) => out.record_text(&text[from..end], Place::Line(number)),
            None => out.record(line, Place::Line(number)),
        }
    }
    out
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
                    fill(&mut reader)?;
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
                    match memchr::memrchr(b'\n', &block) {
                        Some(at) => carry = block.split_off(at + 1),
                        None => {
                            fill(&mut reader)?;
                            done = reader.fill_buf()?.is_empty();
                        }
                    }
                }
                if block.is_empty() {
                    continue;
                }
                let lines = memchr::memchr_iter(b'\n', &block).count();
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
}
