//! [`Parsed`]: records parsed from one block of input on some thread, with what the
//! builder needs to report their problems, appended to the builder in input order.

use serde::Deserialize;
use serde_json::Value;

use crate::builder::{Builder, Columns, Place, Problem};
use crate::id::ResellerId;

use super::record_in::RecordIn;

/// One block of input parsed: its records, and what the builder needs to report its
/// problems.
#[derive(Default)]
pub(super) struct Parsed {
    records: Columns,
    /// Problems in input order, their places set.
    problems: Vec<Problem>,
    /// Input positions (records and malformed records, from 0 at the block's first) of
    /// the malformed records.
    malformed: Vec<usize>,
    /// `(input position, place)` where the places of the positions stop following each
    /// other (NDJSON after blank lines).
    runs: Vec<(usize, Place)>,
    /// Records and malformed records.
    positions: usize,
}

impl Parsed {
    /// Parses one record's JSON text, found at `place`.
    pub(super) fn record(&mut self, text: &[u8], place: Place) {
        self.push(serde_json::from_slice::<RecordIn<'_>>(text), text, place);
    }

    /// As [`record`](Parsed::record), from text already known to be UTF-8.
    pub(super) fn record_text(&mut self, text: &str, place: Place) {
        self.push(
            serde_json::from_str::<RecordIn<'_>>(text),
            text.as_bytes(),
            place,
        );
    }

    fn push(&mut self, parsed: serde_json::Result<RecordIn<'_>>, text: &[u8], place: Place) {
        match parsed {
            Ok(r) => {
                if let Some((id, names)) = r.push_into(&mut self.records) {
                    for name in names {
                        self.problems.push(Problem::UnknownCapability {
                            at: place,
                            id: id.clone(),
                            name,
                        });
                    }
                }
            }
            Err(e) => {
                self.malformed.push(self.positions);
                self.problems.push(Problem::Malformed {
                    at: place,
                    id: id_of(text),
                    message: without_position(&e),
                });
            }
        }
        self.positions += 1;
    }

    /// From the next position on, places count up from `place`.
    pub(super) fn start_place(&mut self, place: Place) {
        self.runs.push((self.positions, place));
    }
}

/// The id of a record whose text did not read as a record: its `id` member read alone,
/// every other member skipped, so that the problem names it when the text is a JSON
/// object with a valid `id` (a record with a member of the wrong type, say). Read
/// only on this error path.
fn id_of(text: &[u8]) -> Option<ResellerId> {
    // A map, not a derived struct, which would take an array too (`serde/object.rs`).
    let mut record = serde_json::from_slice::<serde_json::Map<String, Value>>(text).ok()?;
    ResellerId::deserialize(record.remove("id")?).ok()
}

/// serde_json's message for an error in one record's text, with the column but without
/// "line 1" (the problem names the record's own place).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&suffix) {
        Some(message) if e.line() == 1 => format!("{message} at column {}", e.column()),
        _ => text,
    }
}

/// Fills `reader`'s buffer, trying again when a read is interrupted (as `read_until`
/// does); the bytes are then `reader.fill_buf()`'s, which returns at once.
pub(super) fn fill(reader: &mut impl std::io::BufRead) -> std::io::Result<()> {
    loop {
        match reader.fill_buf() {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

impl Builder {
    /// Appends a block parsed elsewhere, after everything read so far.
    pub(super) fn append_parsed(&mut self, p: Parsed) {
        let base = self.len();
        for (at, place) in p.runs {
            self.start_place(base + at, place);
        }
        self.append(p.records, p.problems, p.malformed.iter().map(|m| base + m));
    }
}
