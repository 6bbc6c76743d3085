//! [`sniff_object`]: whether input that opens with `{` is NDJSON records or an
//! ActivePlatform document, told from as little of it as the answer needs.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::io::{BufRead, Read};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// What the first object of an input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sniffed {
    /// A record, the first line of NDJSON (or text that is no JSON object, which the
    /// NDJSON reader reports by its line).
    Record,
    /// An ActivePlatform document, `{"data": [...]}`.
    Document,
}

/// Reads the members of the object `reader` opens with, in order, until one decides
/// what it is, and returns that with every byte read, for the chosen reader to read
/// again before the rest.
///
/// An `id` member makes it a record; a `data` member holding an array with an
/// element, before any `id`, a document (a JSON:API document's top level has no
/// `id`; a record with an unknown member `data` is read as a record when its `id`
/// comes first or its `data` is no array or an empty one). An empty `data` array
/// and no `id` is an empty document. Other members
/// (`links`, `meta`, a record's `name`) are skipped. An object that ends without
/// either, or text that is no JSON, is read as NDJSON, whose reader reports each bad
/// line on its own. So a document is told apart however it is laid out (minified on
/// one line, or pretty-printed with `links` first) while holding only the bytes up to
/// its `data`, where reading its whole first line held a minified document whole, as
/// text and again as a `serde_json::Value`.
pub(super) fn sniff_object(reader: &mut impl BufRead) -> std::io::Result<(Sniffed, Vec<u8>)> {
    let mut tee = Tee {
        inner: reader,
        seen: Vec::new(),
        capped: false,
    };
    let found = Cell::new(None);
    let result = serde_json::Deserializer::from_reader(&mut tee)
        .deserialize_map(FirstObject { found: &found });
    if let Err(e) = result {
        if e.is_io() {
            return Err(e.into());
        }
    }
    let found = match found.get() {
        Some(found) => found,
        // Undecided after `KEEP` bytes: an object that goes on past its first line
        // (pretty-printed, whatever it holds) is read as a document, whose reader
        // streams it and names what it lacks; one line is NDJSON's.
        None if tee.capped && tee.seen.contains(&b'\n') => Sniffed::Document,
        None => Sniffed::Record,
    };
    Ok((found, tee.seen))
}

/// The most bytes kept before deciding: the first object's members before its `id`
/// or `data` are small in a record or a document, so that more than this is an object
/// that holds neither where it starts (a `{"resellers": [...]}` export, say), which
/// must not be held whole.
const KEEP: usize = 1 << 20;

/// A reader that keeps every byte it hands out, and ends (reads nothing more) once
/// it kept `KEEP`.
struct Tee<'r, R> {
    inner: &'r mut R,
    seen: Vec<u8>,
    capped: bool,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let room = KEEP.saturating_sub(self.seen.len());
        if room == 0 {
            self.capped = true;
            return Ok(0);
        }
        let want = buf.len().min(room);
        let n = self.inner.read(&mut buf[..want])?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// The error that ends the reading once the answer is known (never shown).
fn decided<E: de::Error>() -> E {
    E::custom("decided")
}

/// The top-level object: its members until one decides.
struct FirstObject<'c> {
    found: &'c Cell<Option<Sniffed>>,
}

impl<'de> Visitor<'de> for FirstObject<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut empty_data = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "id" => {
                    self.found.set(Some(Sniffed::Record));
                    return Err(decided());
                }
                "data" => {
                    empty_data |= map.next_value_seed(Data { found: self.found })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if empty_data {
            self.found.set(Some(Sniffed::Document));
        }
        Ok(())
    }
}

/// The value of a `data` member: an array with an element decides for a document (read
/// no further than that element); an empty one is remembered (`true`: a document
/// unless an `id` follows); anything else is skipped.
struct Data<'c> {
    found: &'c Cell<Option<Sniffed>>,
}

impl<'de> DeserializeSeed<'de> for Data<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Data<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        if seq.next_element::<IgnoredAny>()?.is_none() {
            return Ok(true);
        }
        self.found.set(Some(Sniffed::Document));
        Err(decided())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(text: &str) -> (Sniffed, usize) {
        let mut reader = text.as_bytes();
        let (found, seen) = sniff_object(&mut reader).unwrap();
        // What was read and what is left give the input back.
        assert_eq!([&seen[..], reader].concat(), text.as_bytes());
        (found, seen.len())
    }

    #[test]
    fn a_document_is_told_from_its_data_array_in_any_layout() {
        // Read up to its first resource and the first byte of what follows it, not
        // whole.
        let minified = r#"{"data":[{"id":"1"}, {"id":"2"}],"links":{}}"#;
        let (found, read) = sniff(minified);
        assert_eq!(found, Sniffed::Document);
        assert!(read <= r#"{"data":[{"id":"1"}, {"#.len(), "{read}");
        // An empty one too, unless an `id` follows.
        assert_eq!(sniff(r#"{"data": [], "links": {}}"#).0, Sniffed::Document);
        assert_eq!(sniff(r#"{"data": [], "id": 1}"#).0, Sniffed::Record);
        let links_first =
            "{\n  \"links\": {\"self\": \"x\"},\n  \"data\": [\n    {\"id\": 1}\n  ]\n}\n";
        assert_eq!(sniff(links_first).0, Sniffed::Document);
    }

    #[test]
    fn a_record_is_told_from_its_id() {
        let ndjson = "{\"name\": \"a\", \"id\": 1}\n{\"data\": [1]}\n";
        assert_eq!(sniff(ndjson).0, Sniffed::Record);
        // `data` that is no array is a record's unknown member.
        assert_eq!(sniff("{\"data\": 1}\n{\"id\": 2}\n").0, Sniffed::Record);
        assert_eq!(
            sniff("{\"data\": {\"x\": [1]}, \"id\": 3}").0,
            Sniffed::Record
        );
        // No id and no data, or no JSON: NDJSON's reader reports the line.
        assert_eq!(sniff("{}\n{\"id\": 2}\n").0, Sniffed::Record);
        assert_eq!(sniff("{\"name\": \n{\"id\": 2}\n").0, Sniffed::Record);
        assert_eq!(sniff("{\"na").0, Sniffed::Record);
    }

    #[test]
    fn an_object_without_id_or_data_is_not_held_whole() {
        // Pretty-printed, as an export of another shape: a document after `KEEP`
        // bytes (its reader streams it and names what is missing).
        let element = "  {\"reseller\": 1, \"name\": \"x\"},\n";
        let many = element.repeat(2 * KEEP / element.len());
        let text = format!("{{\"resellers\": [\n{many}  {{}}\n]}}\n");
        let (found, read) = sniff(&text);
        assert_eq!(found, Sniffed::Document);
        assert!(read <= KEEP, "{read}");
        // One line without either: NDJSON's, line by line.
        let text = format!(
            "{{\"name\": \"{}\"}}\n{{\"id\": 2}}\n",
            "x".repeat(2 * KEEP)
        );
        let (found, read) = sniff(&text);
        assert_eq!(found, Sniffed::Record);
        assert!(read <= KEEP, "{read}");
    }
}
