//! Records as JSON (feature `serde`): ids from strings or integers; NDJSON and JSON
//! arrays read in blocks parsed on all cores (`serde/ndjson.rs`, `serde/array.rs`),
//! ActivePlatform documents streamed resource by resource.
//!
//! The record format (DESIGN.md):
//!
//! ```json
//! {"id": "7", "parent": "3", "name": "Northwind", "capabilities": ["iptv", "sip", "mvno"],
//!  "integrations": {"billing": {"economic": {"enabled": true}}},
//!  "attributes": {"created-at": "2017-06-09T15:44:51.694+03:00", "general": {}}}
//! ```
//!
//! `id` is required; `parent` may be absent or null; `name` defaults to empty;
//! `capabilities` to none; `integrations` and `attributes` are optional. Unknown
//! members are ignored.

use std::fmt;
use std::io::{BufRead, Read};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::builder::{Builder, Place};
use crate::capability::{Capabilities, Capability};
use crate::id::{Id, ResellerId};
use crate::record::{Attributes, Record, Splice, SpliceKind, Splices};

mod array;
mod mutation;
mod ndjson;
pub(crate) mod object;
mod parsed;
mod record_in;
mod sniff;

use record_in::RecordIn;
use sniff::{sniff_object, Sniffed};

impl Serialize for ResellerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResellerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = ResellerId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a reseller id: a non-empty string or an integer of at most 64 bits")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ResellerId, E> {
                if v.is_empty() {
                    return Err(E::invalid_value(de::Unexpected::Str(v), &self));
                }
                Ok(ResellerId::from(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ResellerId, E> {
                if v.is_empty() {
                    return Err(E::invalid_value(de::Unexpected::Str(&v), &self));
                }
                Ok(ResellerId::from(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ResellerId, E> {
                Ok(ResellerId::from(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ResellerId, E> {
                Ok(ResellerId::from(v))
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

impl Attributes {
    /// Attributes from the text of a JSON object, kept compact.
    ///
    /// # Errors
    ///
    /// The text is not JSON, or not an object.
    pub fn from_json(text: &str) -> Result<Attributes, serde_json::Error> {
        let map: Map<String, Value> = serde_json::from_str(text)?;
        Ok(Attributes::from_map(map))
    }

    /// Attributes from a JSON object.
    pub fn from_map(map: Map<String, Value>) -> Attributes {
        let (text, splices) = splice_text(&map);
        Attributes {
            text: Some(text.into_boxed_str()),
            splices,
        }
    }

    /// The attributes as a JSON object (empty when there are none).
    pub fn to_map(&self) -> Map<String, Value> {
        self.as_json()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }
}

/// The compact text of `map` (exactly `Value::Object(map).to_string()`: keys sorted,
/// as `serde_json` writes a `Map`), written member by member to note where a rendered
/// resource's `general.name` and `parent-id` go.
pub(crate) fn splice_text(map: &Map<String, Value>) -> (String, Splices) {
    // Writing `Value`s and strings into a `Vec` cannot fail.
    fn write(out: &mut Vec<u8>, v: &impl Serialize) {
        let _ = serde_json::to_writer(&mut *out, v);
    }
    let at = |out: &Vec<u8>| out.len() as u32;
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    let mut general = None;
    let mut parent = None;
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let start = at(&out);
        // The first member sorting after a missing one is where it goes.
        if general.is_none() && key.as_str() > "general" {
            general = Some(Splice {
                start,
                end: start,
                kind: SpliceKind::InsertGeneral,
            });
        }
        if parent.is_none() && key.as_str() > "parent-id" {
            parent = Some(Splice {
                start,
                end: start,
                kind: SpliceKind::InsertMember,
            });
        }
        write(&mut out, key);
        out.push(b':');
        match (key.as_str(), value) {
            ("general", Value::Object(inner)) => {
                out.push(b'{');
                let mut name = None;
                for (j, (k, v)) in inner.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    let s = at(&out);
                    if name.is_none() && k.as_str() > "name" {
                        name = Some(Splice {
                            start: s,
                            end: s,
                            kind: SpliceKind::InsertMember,
                        });
                    }
                    write(&mut out, k);
                    out.push(b':');
                    write(&mut out, v);
                    if k == "name" {
                        name = Some(Splice {
                            start: s,
                            end: at(&out),
                            kind: SpliceKind::ReplaceMember,
                        });
                    }
                }
                let end = at(&out);
                general = Some(name.unwrap_or(Splice {
                    start: end,
                    end,
                    kind: SpliceKind::InsertMember,
                }));
                out.push(b'}');
            }
            ("general", other) => {
                let s = at(&out);
                write(&mut out, other);
                general = Some(Splice {
                    start: s,
                    end: at(&out),
                    kind: SpliceKind::ReplaceGeneralValue,
                });
            }
            ("parent-id", v) => {
                write(&mut out, v);
                parent = Some(Splice {
                    start,
                    end: at(&out),
                    kind: SpliceKind::ReplaceMember,
                });
            }
            (_, v) => write(&mut out, v),
        }
    }
    let end = at(&out);
    out.push(b'}');
    let general = general.unwrap_or(Splice {
        start: end,
        end,
        kind: SpliceKind::InsertGeneral,
    });
    let parent = parent.unwrap_or(Splice {
        start: end,
        end,
        kind: SpliceKind::InsertMember,
    });
    // The insertion points assume the keys in sorted order, as a `Map` keeps them
    // unless serde_json's `preserve_order` is on somewhere in the build; and offsets
    // must fit. Otherwise: splices that do not fit, so the writers use the reference.
    let sorted = map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b)
        && map
            .get("general")
            .and_then(Value::as_object)
            .is_none_or(|g| g.keys().zip(g.keys().skip(1)).all(|(a, b)| a < b));
    if !sorted || u32::try_from(out.len()).is_err() {
        let never = Splice {
            start: 1,
            end: 0,
            kind: SpliceKind::InsertMember,
        };
        let text = String::from_utf8(out).unwrap_or_default();
        return (
            text,
            Splices {
                general: never,
                parent: never,
            },
        );
    }
    // serde_json writes valid UTF-8.
    let text = String::from_utf8(out).unwrap_or_default();
    (text, Splices { general, parent })
}

/// Whether `b` is white space to JSON: space, tab, line feed, carriage return (not
/// form feed, which `u8::is_ascii_whitespace` counts, and JSON does not).
pub(crate) fn is_json_space(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Consumes a UTF-8 byte order mark at the start of `reader`, as exports from Windows
/// tools begin with one, also when reads return it a byte or two at a time (a pipe or
/// a socket may). Returns how many bytes of a mark it consumed when the input starts
/// with part of one and then something else (no JSON text starts so): the caller
/// reports that as a problem of the input, since the reading cannot go on as if those
/// bytes were not there.
///
/// # Errors
///
/// I/O errors of `reader`.
fn skip_bom(reader: &mut impl BufRead) -> std::io::Result<Option<usize>> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let mut matched = 0;
    loop {
        let buf = reader.fill_buf()?;
        let want = &BOM[matched..];
        let n = buf.len().min(want.len());
        if buf.is_empty() || buf[..n] != want[..n] {
            // No mark (nothing consumed), or part of one.
            return Ok((matched > 0).then_some(matched));
        }
        reader.consume(n);
        matched += n;
        if matched == BOM.len() {
            return Ok(None);
        }
    }
}

impl Builder {
    /// [`skip_bom`], reporting part of a mark as a malformed input.
    fn skip_bom(&mut self, reader: &mut impl BufRead) -> std::io::Result<()> {
        if let Some(bytes) = skip_bom(reader)? {
            self.push_malformed_at(
                Place::Input,
                format!(
                    "the input starts with {bytes} of the 3 bytes of a UTF-8 byte order \
                     mark, then something else"
                ),
            );
        }
        Ok(())
    }
}

/// The first byte that is not white space, without consuming it (white space is), and
/// the number of line breaks in the white space consumed (so that NDJSON line numbers
/// can be kept).
fn next_non_blank(reader: &mut impl BufRead) -> std::io::Result<(Option<u8>, usize)> {
    let mut breaks = 0;
    loop {
        let buf = reader.fill_buf()?;
        let at = buf.iter().position(|b| !is_json_space(b));
        let blank = &buf[..at.unwrap_or(buf.len())];
        breaks += blank.iter().filter(|&&b| b == b'\n').count();
        let Some(at) = at else {
            if buf.is_empty() {
                return Ok((None, breaks));
            }
            let n = buf.len();
            reader.consume(n);
            continue;
        };
        let b = buf[at];
        reader.consume(at);
        return Ok((Some(b), breaks));
    }
}

/// `breaks` line breaks, to put back in front of NDJSON whose leading blank lines were
/// consumed, so that its lines keep their numbers.
fn line_breaks(breaks: usize) -> std::io::Cursor<Vec<u8>> {
    std::io::Cursor::new(vec![b'\n'; breaks])
}

/// Writes a record in the record format; reading it back gives the same record.
impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("parent", &self.parent)?;
        m.serialize_entry("name", &self.name)?;
        let caps: Vec<&str> = self.capabilities.iter().map(Capability::name).collect();
        m.serialize_entry("capabilities", &caps)?;
        m.serialize_entry(
            "integrations",
            &serde_json::json!({"billing": {"economic": {"enabled": self.economic_enabled}}}),
        )?;
        if !self.attributes.is_none() {
            m.serialize_entry("attributes", &self.attributes.to_map())?;
        }
        m.end()
    }
}

/// Reads a record in the record format. An unknown capability name is an error here;
/// [`Builder::read_ndjson`] and [`Builder::read_json_array`] instead report it with
/// every other problem.
impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through the trait: `RecordIn::deserialize` is the derived code, which would
        // take an array too (`serde/object.rs`).
        let (record, unknown) = <RecordIn<'_> as Deserialize>::deserialize(d)?.into_record();
        match unknown.first() {
            Some(name) => Err(record_in::unknown_capability(name)),
            None => Ok(record),
        }
    }
}

/// Streams the elements of one JSON array into a builder, one `Value` at a time,
/// recording in `at` the index of the element being read (so that a syntax error can
/// be reported at its element), and `None` once the array is complete.
struct Elements<'b> {
    builder: &'b mut Builder,
    at: &'b std::cell::Cell<Option<usize>>,
    what: &'static str,
    push: fn(&mut Builder, Value, usize),
}

impl<'de> serde::de::DeserializeSeed<'de> for Elements<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            self.at.set(Some(i));
            match seq.next_element::<Value>()? {
                Some(v) => (self.push)(self.builder, v, i),
                None => {
                    self.at.set(None);
                    return Ok(());
                }
            }
            i += 1;
        }
    }
}

impl Builder {
    /// How a streamed read ends: an I/O error is returned; any other error is a
    /// malformed record, at the element being read (`[3]`, `data[3]`) when there was
    /// one, else about the whole input ([`Place::Input`]).
    fn end_stream(
        &mut self,
        result: Result<(), serde_json::Error>,
        at: Option<usize>,
        whole: &str,
    ) -> std::io::Result<()> {
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.is_io() => Err(e.into()),
            Err(e) => {
                match at {
                    Some(_) => self.push_malformed_read(None, e.to_string()),
                    None => self.push_malformed_at(Place::Input, format!("{whole}: {e}")),
                }
                Ok(())
            }
        }
    }

    /// Reads records from NDJSON: one JSON record a line; blank lines are skipped.
    ///
    /// A line that is not a record is reported as [`Problem::Malformed`](crate::Problem)
    /// naming its line number, and reading goes on, so that one build reports every
    /// problem. Lines are parsed on all cores, a round of blocks of about 1 MiB (two
    /// per thread) at a time: memory beyond the records stays at one round.
    ///
    /// # Errors
    ///
    /// Only I/O errors of `reader`; bad records show up in [`Builder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::{Builder, ResellerId};
    ///
    /// let text = r#"{"id": 1, "name": "Company 1"}
    /// {"id": "2", "parent": 1, "capabilities": ["iptv"]}
    /// "#;
    /// let mut b = Builder::new();
    /// b.read_ndjson(text.as_bytes()).unwrap();
    /// let snap = b.build().unwrap();
    /// assert_eq!(snap.get(&ResellerId::from("2")).unwrap().parent().unwrap().as_str(), "1");
    /// ```
    pub fn read_ndjson(&mut self, mut reader: impl BufRead) -> std::io::Result<()> {
        self.skip_bom(&mut reader)?;
        self.read_ndjson_parallel(reader)
    }

    /// Reads records from one JSON array, elements parsed on all cores (the array is
    /// never held whole in memory).
    ///
    /// An element that is not a record is reported as
    /// [`Problem::Malformed`](crate::Problem) at its path (`[3]`) and reading goes on;
    /// an array that is cut short, lacks an element or has text after it is reported
    /// at the element or about the input.
    ///
    /// # Errors
    ///
    /// Only I/O errors of `reader`.
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::{Builder, Place, Problem};
    ///
    /// let mut b = Builder::new();
    /// b.read_json_array(r#"[{"id": "a"}, {"id": "b", "capabilities": ["fax"]}]"#.as_bytes()).unwrap();
    /// let err = b.build().unwrap_err();
    /// assert!(matches!(&err.problems()[0], Problem::UnknownCapability { at: Place::Element(1), name, .. } if name == "fax"));
    /// ```
    pub fn read_json_array(&mut self, reader: impl std::io::Read) -> std::io::Result<()> {
        let mut reader = std::io::BufReader::with_capacity(1 << 20, reader);
        self.skip_bom(&mut reader)?;
        self.read_json_array_parallel(reader)
    }
}

/// One resource of an ActivePlatform document, before conversion: a JSON object
/// ([`object::object`]).
#[derive(Deserialize)]
#[serde(remote = "Self")]
struct ResourceIn {
    id: ResellerId,
    #[serde(default)]
    attributes: Option<Map<String, Value>>,
}

object::read_from_object!(ResourceIn, "a resource");

impl ResourceIn {
    /// `attributes.parent-id` as the parent, `attributes.general.name` as the name, the
    /// rest of the attributes as payload.
    fn into_record(self) -> Result<Record, String> {
        let mut attributes = self.attributes.unwrap_or_default();
        let parent = match attributes.remove("parent-id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(ResellerId::deserialize(v).map_err(|e| format!("parent-id: {e}"))?),
        };
        let name = match attributes.get("general").and_then(|g| g.get("name")) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(name)) => name.clone(),
            Some(other) => {
                let e = String::deserialize(other).unwrap_err();
                return Err(format!("general.name: {e}"));
            }
        };
        Ok(Record {
            id: self.id,
            parent,
            name,
            capabilities: Capabilities::NONE,
            economic_enabled: false,
            attributes: if attributes.is_empty() {
                Attributes::none()
            } else {
                Attributes::from_map(attributes)
            },
        })
    }
}

/// Which input format [`Builder::read_any`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// One JSON record a line.
    Ndjson,
    /// One JSON array of records.
    JsonArray,
    /// An ActivePlatform JSON:API document, `{"data": [...]}`.
    ActivePlatform,
}

impl Builder {
    fn push_resource(&mut self, value: Value) {
        // Named by its `id` when that reads as one, as a malformed record is.
        let id = value
            .get("id")
            .and_then(|id| ResellerId::deserialize(id).ok());
        // Through the trait, as for `RecordIn` (`serde/object.rs`).
        match <ResourceIn as Deserialize>::deserialize(value)
            .map_err(|e| e.to_string())
            .and_then(ResourceIn::into_record)
        {
            Ok(record) => self.push_read(record),
            Err(e) => self.push_malformed_read(id, e),
        }
    }

    /// Reads an ActivePlatform `GET /resellers` document, `{"data": [...]}`, resource by
    /// resource: `id` (string or integer), `attributes.parent-id` as the parent (equal
    /// to the own id for the top reseller, which makes it a root),
    /// `attributes.general.name` as the name, and the other attributes as payload.
    /// Members beside `data` (`links`, `meta`) are skipped.
    ///
    /// # Errors
    ///
    /// Only I/O errors of `reader`; bad resources show up in [`Builder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::{Id, Builder};
    ///
    /// let doc = r#"{"data": [
    ///   {"id": "1", "type": "resellers", "attributes": {"parent-id": 1, "general": {"name": "Company 1"}}},
    ///   {"id": "2", "type": "resellers", "attributes": {"parent-id": 1, "general": {"name": "Company 2"}}}
    /// ], "links": {}}"#;
    /// let mut b = Builder::new();
    /// b.read_activeplatform(doc.as_bytes()).unwrap();
    /// let snap = b.build().unwrap();
    /// assert_eq!(snap.root_count(), 1);
    /// assert_eq!(snap.get(Id::new("2")).unwrap().name(), "Company 2");
    /// ```
    pub fn read_activeplatform(&mut self, reader: impl std::io::Read) -> std::io::Result<()> {
        use serde::de::MapAccess;
        let mut bom_free = std::io::BufReader::new(reader);
        self.skip_bom(&mut bom_free)?;
        self.start_place(self.len(), Place::Resource(0));
        use std::cell::Cell;

        struct Doc<'b>(&'b mut Builder, &'b Cell<Option<usize>>);
        impl<'de> Visitor<'de> for Doc<'_> {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a JSON:API document {"data": [...]}"#)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
                let mut found = false;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "data" && !found {
                        found = true;
                        map.next_value_seed(Elements {
                            builder: &mut *self.0,
                            at: self.1,
                            what: "an array of reseller resources",
                            push: |b, v, _| b.push_resource(v),
                        })?;
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                Ok(found)
            }
        }
        let at = Cell::new(None);
        let mut de = serde_json::Deserializer::from_reader(bom_free);
        let result = de
            .deserialize_map(Doc(self, &at))
            .and_then(|found| de.end().map(|()| found));
        let result = result.map(|found| {
            if !found {
                self.push_malformed_at(
                    Place::Input,
                    r#"no "data" member: not an ActivePlatform document"#,
                );
            }
        });
        self.end_stream(result, at.get(), "not an ActivePlatform document")
    }

    /// Reads records in whichever format `reader` holds: a JSON array (`[` first), an
    /// ActivePlatform document (`{` first, and the object has a `data` member holding
    /// an array before any `id` member, however it is laid out), or NDJSON (anything
    /// else, so that every bad line is reported by its number). Streams in each case:
    /// telling a document from a record reads its members only up to `data` or `id`.
    ///
    /// # Errors
    ///
    /// Only I/O errors of `reader`.
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::{Builder, InputFormat};
    ///
    /// let mut b = Builder::new();
    /// assert_eq!(b.read_any(&b"{\"id\": 1}\n{\"id\": 2, \"parent\": 1}\n"[..]).unwrap(), InputFormat::Ndjson);
    /// assert_eq!(b.build().unwrap().len(), 2);
    /// ```
    pub fn read_any(&mut self, mut reader: impl BufRead) -> std::io::Result<InputFormat> {
        // Skip a byte order mark and leading white space, then look at the first line.
        self.skip_bom(&mut reader)?;
        let (first, leading) = next_non_blank(&mut reader)?;
        match first {
            Some(b'[') => {
                self.read_json_array(reader)?;
                Ok(InputFormat::JsonArray)
            }
            Some(b'{') => {
                let (found, read) = sniff_object(&mut reader)?;
                let rest = line_breaks(leading)
                    .chain(std::io::Cursor::new(read))
                    .chain(reader);
                match found {
                    Sniffed::Record => {
                        self.read_ndjson(rest)?;
                        Ok(InputFormat::Ndjson)
                    }
                    Sniffed::Document => {
                        self.read_activeplatform(rest)?;
                        Ok(InputFormat::ActivePlatform)
                    }
                }
            }
            _ => {
                self.read_ndjson(line_breaks(leading).chain(reader))?;
                Ok(InputFormat::Ndjson)
            }
        }
    }
}

/// A problem as JSON: `{"kind", "message", ...fields}` with `kind` one of
/// `malformed`, `unknown_capability`, `duplicate_id`, `unknown_parent`, `cycle`,
/// `too_many`, `too_large`, and the fields of the variant (`at`: where, as
/// [`Place`](crate::Place) displays it, or a list of them for a duplicate id; `id`,
/// `name`, `parent`, `members`, `count`, `limit`, `what`, `bytes`).
impl Serialize for crate::builder::Problem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use crate::builder::Problem;
        let mut m = s.serialize_map(None)?;
        let kind = match self {
            Problem::Malformed { .. } => "malformed",
            Problem::UnknownCapability { .. } => "unknown_capability",
            Problem::DuplicateId { .. } => "duplicate_id",
            Problem::UnknownParent { .. } => "unknown_parent",
            Problem::Cycle { .. } => "cycle",
            Problem::TooMany { .. } => "too_many",
            Problem::TooLarge { .. } => "too_large",
        };
        m.serialize_entry("kind", kind)?;
        m.serialize_entry("message", &self.to_string())?;
        match self {
            Problem::Malformed { at, id, .. } => {
                m.serialize_entry("at", &at.to_string())?;
                if let Some(id) = id {
                    m.serialize_entry("id", id)?;
                }
            }
            Problem::UnknownCapability { at, id, name } => {
                m.serialize_entry("at", &at.to_string())?;
                m.serialize_entry("id", id)?;
                m.serialize_entry("name", name)?;
            }
            Problem::DuplicateId { id, at } => {
                m.serialize_entry("id", id)?;
                let at: Vec<String> = at.iter().map(ToString::to_string).collect();
                m.serialize_entry("at", &at)?;
            }
            Problem::UnknownParent { at, id, parent } => {
                m.serialize_entry("at", &at.to_string())?;
                m.serialize_entry("id", id)?;
                m.serialize_entry("parent", parent)?;
            }
            Problem::Cycle { members } => m.serialize_entry("members", members)?,
            Problem::TooMany { count, limit } => {
                m.serialize_entry("count", count)?;
                m.serialize_entry("limit", limit)?;
            }
            Problem::TooLarge { what, bytes, limit } => {
                m.serialize_entry("what", what)?;
                m.serialize_entry("bytes", bytes)?;
                m.serialize_entry("limit", limit)?;
            }
        }
        m.end()
    }
}
