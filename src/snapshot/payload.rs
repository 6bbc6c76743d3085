//! [`Payloads`]: what a base carries for the wire formats (a copy of each id, the name,
//! the attributes text and its splices, the economic flag), laid out by position in a
//! few large chunks.
//!
//! # Layout
//!
//! Positions are grouped by [`CHUNK`]; a chunk holds two `String`s: `short`, the id and
//! the name of each of its positions back to back, and `long`, their attributes texts;
//! and one `[u64; 3]` per position with where its id and name start in `short` and its
//! attributes in `long` (each ends where the next position's starts, or at the end). A
//! page is a run of neighbouring positions, so rendering it reads neighbouring bytes,
//! which the processor prefetches, and a TelecomX list (ids and names only) reads
//! `short` alone, without striding over the attributes. A base of a million resellers
//! is a few hundred allocations rather than millions, so dropping it frees little.
//!
//! The ids are copied: `Reseller::id` hands out the `ResellerId`s the id table
//! compares against, while the body writers read the copy beside the name.

use rayon::prelude::*;

use crate::builder::Payload;
use crate::id::ResellerId;
use crate::record::{Attributes, Splice, SpliceKind, Splices};

/// Positions per chunk.
const CHUNK: usize = 4096;

/// One reseller's payload, borrowed from a base or from a changed record.
#[derive(Clone, Copy, Debug)]
// The body writers (feature `serde`) read what the accessors do not.
#[cfg_attr(not(feature = "serde"), allow(dead_code))]
pub(crate) struct WireParts<'s> {
    /// The id.
    pub(crate) id: &'s str,
    /// The name.
    pub(crate) name: &'s str,
    /// The attributes text as bytes (UTF-8), `None` when there are none: the writers
    /// only copy it, and a byte slice costs no check of character boundaries (which
    /// would touch the text before the copy does).
    pub(crate) attributes: Option<&'s [u8]>,
    /// Where `general.name` and `parent-id` go in it.
    pub(crate) splices: Splices,
    /// `integrations.billing.economic.enabled`.
    pub(crate) economic: bool,
    /// Whether `id` and `name` hold nothing JSON escapes (no `"`, `\`, control
    /// character), so that they are written by copying: checked once, here.
    pub(crate) id_plain: bool,
    /// As `id_plain`, for `name`.
    pub(crate) name_plain: bool,
    /// Whether the attributes' `general.name` already is `name`, written as a plain
    /// string (as in ActivePlatform data, whose names come from there): the general
    /// splice then changes nothing and the writers skip it.
    pub(crate) name_in_place: bool,
}

/// Whether JSON writes `s` as it is between quotes: no `"`, `\` or control character.
#[inline]
pub(crate) fn is_plain(s: &str) -> bool {
    !s.bytes().fold(false, |bad, b| {
        bad | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

const ECONOMIC: u8 = 1;
const ID_PLAIN: u8 = 2;
const NAME_PLAIN: u8 = 4;
const NAME_IN_PLACE: u8 = 8;

/// Whether the bytes `at` (a member of the stored attributes) are `"name":"<name>"`
/// for a plain `name`.
fn name_in_place(text: &str, at: Splice, name: &str, plain: bool) -> bool {
    let member = text.as_bytes().get(at.start as usize..at.end as usize);
    plain
        && at.kind == SpliceKind::ReplaceMember
        && member.is_some_and(|m| {
            m.len() == name.len() + 9
                && m.starts_with(b"\"name\":\"")
                && m.ends_with(b"\"")
                && &m[8..m.len() - 1] == name.as_bytes()
        })
}

#[derive(Debug, Default)]
struct Chunk {
    /// Ids and names.
    short: String,
    /// Attributes texts (UTF-8).
    long: Box<[u8]>,
    /// Per position, in one array so that a page reads one stream.
    meta: Vec<Meta>,
}

/// What a chunk keeps per position beside the texts.
#[derive(Clone, Copy, Debug)]
struct Meta {
    /// Where its id and name start in `short`, its attributes in `long`.
    at: [u64; 3],
    splices: Splices,
    /// `ECONOMIC`, `ID_PLAIN`, `NAME_PLAIN`.
    flags: u8,
}

/// `text[a..b]`, or empty if that is no slice of it (which `Payloads::build` never
/// produces).
fn cut(text: &str, a: u64, b: u64) -> &str {
    text.get(a as usize..b as usize).unwrap_or("")
}

/// The payloads of a base, by position (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Payloads {
    chunks: Vec<Chunk>,
    len: usize,
}

impl Payloads {
    /// The payloads by position, `pre[p]` being the input index of position `p`;
    /// chunks are filled in parallel.
    pub(crate) fn build(pre: &[u32], ids: &[ResellerId], payload: &[Payload]) -> Payloads {
        let chunks = pre
            .par_chunks(CHUNK)
            .map(|inputs| {
                let (mut short, mut long) = (0, 0);
                for &i in inputs {
                    let p = &payload[i as usize];
                    short += ids[i as usize].as_str().len() + p.name.len();
                    long += p.attributes.as_json().map_or(0, str::len);
                }
                let mut texts = String::with_capacity(long);
                let mut c = Chunk {
                    short: String::with_capacity(short),
                    long: Box::default(),
                    meta: Vec::with_capacity(inputs.len()),
                };
                for &i in inputs {
                    let p = &payload[i as usize];
                    let id_at = c.short.len() as u64;
                    c.short.push_str(ids[i as usize].as_str());
                    let name_at = c.short.len() as u64;
                    c.short.push_str(&p.name);
                    let attrs_at = texts.len() as u64;
                    texts.push_str(p.attributes.as_json().unwrap_or(""));
                    let id = ids[i as usize].as_str();
                    let name_plain = is_plain(&p.name);
                    let in_place = p.attributes.as_json().is_some_and(|t| {
                        name_in_place(t, p.attributes.splices.general, &p.name, name_plain)
                    });
                    c.meta.push(Meta {
                        at: [id_at, name_at, attrs_at],
                        splices: p.attributes.splices,
                        flags: (u8::from(p.economic_enabled) * ECONOMIC)
                            | (u8::from(is_plain(id)) * ID_PLAIN)
                            | (u8::from(name_plain) * NAME_PLAIN)
                            | (u8::from(in_place) * NAME_IN_PLACE),
                    });
                }
                c.long = texts.into_bytes().into_boxed_slice();
                c
            })
            .collect();
        Payloads {
            chunks,
            len: pre.len(),
        }
    }

    /// Number of positions.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The chunk of position `p` (which must be below [`len`](Payloads::len)), its
    /// index there, and the end of its bytes in `short`.
    #[inline]
    fn slot(&self, p: u32) -> (&Chunk, usize, u64) {
        let (k, j) = (p as usize / CHUNK, p as usize % CHUNK);
        let c = &self.chunks[k];
        let short_end = c.meta.get(j + 1).map_or(c.short.len() as u64, |n| n.at[0]);
        (c, j, short_end)
    }

    /// The payload of position `p` (which must be below [`len`](Payloads::len)).
    #[inline]
    pub(crate) fn get(&self, p: u32) -> WireParts<'_> {
        let (c, j, short_end) = self.slot(p);
        let m = c.meta[j];
        let [id, name, attrs] = m.at;
        let long_end = c.meta.get(j + 1).map_or(c.long.len() as u64, |n| n.at[2]);
        let attributes = c.long.get(attrs as usize..long_end as usize).unwrap_or(&[]);
        WireParts {
            id: cut(&c.short, id, name),
            name: cut(&c.short, name, short_end),
            attributes: (!attributes.is_empty()).then_some(attributes),
            splices: m.splices,
            economic: m.flags & ECONOMIC != 0,
            id_plain: m.flags & ID_PLAIN != 0,
            name_plain: m.flags & NAME_PLAIN != 0,
            name_in_place: m.flags & NAME_IN_PLACE != 0,
        }
    }

    /// The id of position `p` and whether it is plain: [`get`](Payloads::get)'s `id`
    /// and `id_plain` alone (a page asks it of every parent).
    #[cfg(feature = "serde")]
    #[inline]
    pub(crate) fn id(&self, p: u32) -> (&str, bool) {
        let (c, j, _) = self.slot(p);
        let m = &c.meta[j];
        (cut(&c.short, m.at[0], m.at[1]), m.flags & ID_PLAIN != 0)
    }

    /// The name of position `p`: [`get`](Payloads::get)'s `name` alone, for
    /// `Reseller::name`.
    #[inline]
    pub(crate) fn name(&self, p: u32) -> &str {
        let (c, j, short_end) = self.slot(p);
        cut(&c.short, c.meta[j].at[1], short_end)
    }

    /// The economic flag of position `p`.
    #[inline]
    pub(crate) fn economic(&self, p: u32) -> bool {
        let (c, j, _) = self.slot(p);
        c.meta[j].flags & ECONOMIC != 0
    }

    /// The attributes of position `p` as an owned value.
    pub(crate) fn attributes(&self, p: u32) -> Attributes {
        let w = self.get(p);
        // The bytes were a `str` when stored.
        match w.attributes.and_then(|b| std::str::from_utf8(b).ok()) {
            None => Attributes::none(),
            Some(text) => Attributes {
                text: Some(text.into()),
                splices: w.splices,
            },
        }
    }
}
