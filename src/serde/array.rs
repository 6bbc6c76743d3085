//! JSON arrays of records on all cores.
//!
//! # How
//!
//! [`Elements`] walks the bytes once as they are read, following strings (and their
//! escapes) and the nesting of brackets, and cuts the array into its elements: an
//! element ends at a comma or at the closing `]` outside any string or bracket of its
//! own. Whole elements are gathered into blocks of about `BLOCK` bytes, two per thread
//! a round; the blocks are parsed side by side, each element into a record or a
//! problem named by its path `[i]`, and appended in input order, as for NDJSON. The
//! scanner only finds where elements end: whether each is a valid record is the
//! parser's to say, so a broken element is one problem and the next is still read.
//! What the scanner itself can find wrong (no `[`, a missing element, the input ending
//! inside the array, text after it) is reported at the element it was reading, or
//! about the input. Memory beyond the records is one round of blocks and the element
//! being read.

use std::io::BufRead;

use rayon::prelude::*;

use crate::builder::{Builder, Place};

use super::is_json_space;
use super::ndjson::BLOCK;
use super::parsed::{fill, Parsed};

/// Where the scanner stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Before the opening `[`.
    Start,
    /// After `[` or a comma: an element (or, after `[`, the closing `]`) comes next.
    Expect { after_comma: bool },
    /// Inside an element.
    Element,
    /// After the closing `]`: only white space may follow.
    Closed,
}

/// Cuts a JSON array into its elements as its bytes arrive (see the module docs).
struct Elements {
    stage: Stage,
    in_string: bool,
    escaped: bool,
    /// Brackets open inside the current element.
    depth: usize,
    /// Whole elements not yet handed out, back to back, and where each ends.
    done: Vec<u8>,
    ends: Vec<usize>,
    /// The element being read.
    current: Vec<u8>,
    /// Elements handed out or in `done`.
    count: usize,
    /// What went wrong, at which element (`None`: about the input), if anything.
    error: Option<(Option<usize>, String)>,
}

impl Elements {
    fn new() -> Elements {
        Elements {
            stage: Stage::Start,
            in_string: false,
            escaped: false,
            depth: 0,
            done: Vec::new(),
            ends: Vec::new(),
            current: Vec::new(),
            count: 0,
            error: None,
        }
    }

    const UNCLOSED: &'static str = "the input ends inside the array (no closing `]`)";

    fn fail(&mut self, at: Option<usize>, message: String) {
        self.error = Some((at, message));
    }

    fn finish_element(&mut self) {
        self.done.extend_from_slice(&self.current);
        self.ends.push(self.done.len());
        self.current.clear();
        self.count += 1;
    }

    /// Scans `bytes`; stops at the first error.
    fn scan(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() && self.error.is_none() {
            match self.stage {
                Stage::Start | Stage::Expect { .. } | Stage::Closed => {
                    let b = bytes[i];
                    i += 1;
                    if is_json_space(&b) {
                        continue;
                    }
                    match (self.stage, b) {
                        (Stage::Start, b'[') => self.stage = Stage::Expect { after_comma: false },
                        (Stage::Start, _) => {
                            self.fail(None, format!("expected `[`, found {:?}", char::from(b)))
                        }
                        (Stage::Expect { after_comma: false }, b']') if self.count == 0 => {
                            self.stage = Stage::Closed;
                        }
                        (Stage::Expect { .. }, b']' | b',') => self.fail(
                            Some(self.count),
                            format!("expected an element, found `{}`", char::from(b)),
                        ),
                        (Stage::Expect { .. }, _) => {
                            self.stage = Stage::Element;
                            i -= 1;
                        }
                        (Stage::Closed, _) => {
                            self.fail(None, format!("text after the array: {:?}", char::from(b)))
                        }
                        // Not in this arm: elements are scanned below.
                        (Stage::Element, _) => {}
                    }
                }
                Stage::Element => {
                    // Up to the end of the element, or of `bytes`.
                    let start = i;
                    let mut end = None;
                    while i < bytes.len() {
                        let b = bytes[i];
                        if self.in_string {
                            if self.escaped {
                                self.escaped = false;
                            } else if b == b'\\' {
                                self.escaped = true;
                            } else if b == b'"' {
                                self.in_string = false;
                            }
                        } else {
                            match b {
                                b'"' => self.in_string = true,
                                b'[' | b'{' => self.depth += 1,
                                b']' | b'}' if self.depth > 0 => self.depth -= 1,
                                b',' | b']' if self.depth == 0 => {
                                    end = Some(b);
                                    break;
                                }
                                _ => {}
                            }
                        }
                        i += 1;
                    }
                    self.current.extend_from_slice(&bytes[start..i]);
                    if let Some(b) = end {
                        i += 1;
                        self.finish_element();
                        self.stage = if b == b']' {
                            Stage::Closed
                        } else {
                            Stage::Expect { after_comma: true }
                        };
                    }
                }
            }
        }
    }

    /// The input ended: what is missing, if anything.
    fn end(&mut self) {
        if self.error.is_some() {
            return;
        }
        match self.stage {
            Stage::Start => self.fail(None, "expected `[`, found the end of the input".into()),
            Stage::Expect { .. } => self.fail(None, Self::UNCLOSED.into()),
            // The element cut short is still parsed, which names what it lacks.
            Stage::Element => {
                self.finish_element();
                self.fail(None, Self::UNCLOSED.into());
            }
            Stage::Closed => {}
        }
    }

    /// Takes the whole elements read so far: their bytes and ends.
    fn take(&mut self) -> (Vec<u8>, Vec<usize>) {
        (
            std::mem::take(&mut self.done),
            std::mem::take(&mut self.ends),
        )
    }
}

/// Parses the elements of `bytes` (each ends at its entry of `ends`), the first of
/// which is element `first`.
fn parse_block(bytes: &[u8], ends: &[usize], first: usize) -> Parsed {
    let mut out = Parsed::default();
    let mut start = 0;
    for (k, &end) in ends.iter().enumerate() {
        out.record(&bytes[start..end], Place::Element(first + k));
        start = end;
    }
    out
}

impl Builder {
    /// Reads a JSON array of records, elements parsed on all cores (see the module docs
    /// of `serde/array.rs`).
    pub(super) fn read_json_array_parallel(
        &mut self,
        mut reader: impl BufRead,
    ) -> std::io::Result<()> {
        self.start_place(self.len(), Place::Element(0));
        let blocks_per_round = rayon::current_num_threads() * 2;
        let mut scanner = Elements::new();
        let mut first = 0usize;
        let mut input_done = false;
        while !input_done {
            let mut round: Vec<(Vec<u8>, Vec<usize>, usize)> = Vec::new();
            while round.len() < blocks_per_round && !input_done {
                while scanner.done.len() < BLOCK && scanner.error.is_none() {
                    fill(&mut reader)?;
                    let buf = reader.fill_buf()?;
                    if buf.is_empty() {
                        scanner.end();
                        input_done = true;
                        break;
                    }
                    let n = buf.len();
                    scanner.scan(buf);
                    reader.consume(n);
                }
                if scanner.error.is_some() {
                    input_done = true;
                }
                let (bytes, ends) = scanner.take();
                if !ends.is_empty() {
                    let count = ends.len();
                    round.push((bytes, ends, first));
                    first += count;
                }
            }
            let parsed: Vec<Parsed> = round
                .par_iter()
                .map(|(bytes, ends, first)| parse_block(bytes, ends, *first))
                .collect();
            for p in parsed {
                self.append_parsed(p);
            }
        }
        if let Some((at, message)) = scanner.error.take() {
            match at {
                Some(i) => self.push_malformed_at(Place::Element(i), message),
                None => self.push_malformed_at(
                    Place::Input,
                    format!("not a JSON array of records: {message}"),
                ),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(text: &str, chunk: usize) -> (Vec<String>, Option<(Option<usize>, String)>) {
        let mut s = Elements::new();
        for piece in text.as_bytes().chunks(chunk.max(1)) {
            s.scan(piece);
        }
        s.end();
        let (bytes, ends) = s.take();
        let mut out = Vec::new();
        let mut start = 0;
        for e in ends {
            out.push(String::from_utf8(bytes[start..e].to_vec()).unwrap());
            start = e;
        }
        (out, s.error)
    }

    #[test]
    fn elements_are_cut_outside_strings_and_brackets_whatever_the_reads() {
        let text = r#" [ {"id": "a,]\"}"}, {"x": [1, {"y": "]"}]} ,7]  "#;
        for chunk in 1..text.len() + 1 {
            let (got, error) = elements(text, chunk);
            assert_eq!(error, None, "{chunk}");
            assert_eq!(
                got,
                [r#"{"id": "a,]\"}"}"#, r#"{"x": [1, {"y": "]"}]} "#, "7"],
                "{chunk}"
            );
        }
    }

    #[test]
    fn what_the_scanner_finds_wrong_is_placed() {
        assert_eq!(elements("[]", 1), (vec![], None));
        assert_eq!(elements("", 1).1.unwrap().0, None);
        assert_eq!(elements("{}", 1).1.unwrap().0, None);
        assert_eq!(elements("[1,]", 1).1.unwrap().0, Some(1));
        assert_eq!(elements("[,1]", 1).1.unwrap().0, Some(0));
        assert_eq!(elements("[1,", 1).1.unwrap().0, None);
        assert_eq!(
            elements("[1", 1),
            (vec!["1".into()], Some((None, Elements::UNCLOSED.into())))
        );
        assert_eq!(elements("[1] x", 1).1.unwrap().0, None);
        // Cut inside an element: the element is handed out, for the parser to refuse.
        let (got, error) = elements("[1, {\"id\": ", 1);
        assert_eq!(got, ["1", "{\"id\": "]);
        assert_eq!(error.unwrap().0, None);
    }
}
