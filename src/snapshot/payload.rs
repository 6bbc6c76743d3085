//! [`Payloads`]: what a base carries for the wire formats beside the ids (the name, the
//! attributes text and its splices, the economic flag and what the writers need to know
//! about escaping), laid out by position in a few large chunks.
//!
//! # Layout
//!
//! Positions are grouped by [`CHUNK`]. A chunk holds the names of its positions back to
//! back in one `String` with a `u32` start per position, one flag byte per position,
//! and, only when one of its positions has attributes, their texts back to back with a
//! `u64` start and the [`Splices`] per position. So a reseller without attributes costs
//! its name's bytes and five more. A page is a run of neighbouring positions, so
//! rendering it reads neighbouring bytes, which the processor prefetches. A base of a
//! million resellers is a few thousand allocations rather than millions, so dropping it
//! frees little.
//!
//! The ids live beside, in the snapshot's id array (inline up to 24 bytes), which the
//! id table compares against and `Reseller::id` hands out.

use rayon::prelude::*;

use super::numbering::Pos;
use crate::builder::Columns;
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
    /// Names back to back.
    names: String,
    /// Per position, where its name starts in `names` (it ends where the next one
    /// starts); the build refuses more than `u32::MAX` bytes of names.
    name_at: Vec<u32>,
    /// Per position: `ECONOMIC`, `ID_PLAIN`, `NAME_PLAIN`, `NAME_IN_PLACE`.
    flags: Vec<u8>,
    /// Attributes texts (UTF-8) back to back.
    long: Box<[u8]>,
    /// Per position, where its attributes start in `long`; empty when no position of
    /// the chunk has attributes.
    long_at: Vec<u64>,
    /// Per position, as `long_at`.
    splices: Vec<Splices>,
}

impl Chunk {
    /// The name of slot `j`.
    #[inline]
    fn name(&self, j: usize) -> &str {
        let end = self
            .name_at
            .get(j + 1)
            .map_or(self.names.len(), |&e| e as usize);
        self.names.get(self.name_at[j] as usize..end).unwrap_or("")
    }

    /// The attributes text of slot `j` (empty for none) and its splices.
    #[inline]
    fn attributes(&self, j: usize) -> (&[u8], Splices) {
        let Some(&start) = self.long_at.get(j) else {
            return (&[], Splices::NONE);
        };
        let end = self
            .long_at
            .get(j + 1)
            .map_or(self.long.len() as u64, |&e| e);
        let text = self.long.get(start as usize..end as usize).unwrap_or(&[]);
        (text, self.splices[j])
    }
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
    pub(crate) fn build(pre: &[u32], ids: &[ResellerId], records: &Columns) -> Payloads {
        let chunks = pre
            .par_chunks(CHUNK)
            .map(|inputs| {
                let (mut short, mut long) = (0, 0);
                for &i in inputs {
                    short += records.names.get(i as usize).len();
                    long += records.attributes_text(i as usize).map_or(0, str::len);
                }
                let mut c = Chunk {
                    names: String::with_capacity(short),
                    name_at: Vec::with_capacity(inputs.len()),
                    flags: Vec::with_capacity(inputs.len()),
                    ..Chunk::default()
                };
                let mut texts = String::with_capacity(long);
                if long > 0 {
                    c.long_at.reserve_exact(inputs.len());
                    c.splices.reserve_exact(inputs.len());
                }
                for &i in inputs {
                    let i = i as usize;
                    let name = records.names.get(i);
                    c.name_at.push(c.names.len() as u32);
                    c.names.push_str(name);
                    let attributes = records.attributes_text(i);
                    let splices = records.splices(i);
                    if long > 0 {
                        c.long_at.push(texts.len() as u64);
                        texts.push_str(attributes.unwrap_or(""));
                        c.splices.push(splices);
                    }
                    let name_plain = is_plain(name);
                    let in_place = attributes
                        .is_some_and(|t| name_in_place(t, splices.general, name, name_plain));
                    c.flags.push(
                        (u8::from(records.economic[i]) * ECONOMIC)
                            | (u8::from(is_plain(ids[i].as_str())) * ID_PLAIN)
                            | (u8::from(name_plain) * NAME_PLAIN)
                            | (u8::from(in_place) * NAME_IN_PLACE),
                    );
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

    /// The chunk of position `p` (which must be below [`len`](Payloads::len)) and its
    /// index there.
    #[inline]
    fn slot(&self, p: Pos) -> (&Chunk, usize) {
        let (k, j) = (p.idx() / CHUNK, p.idx() % CHUNK);
        (&self.chunks[k], j)
    }

    /// The payload of position `p` (which must be below [`len`](Payloads::len)), whose
    /// id is `id`.
    #[inline(always)] // with `Reseller::wire`, into the body writers' loops
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn get<'s>(&'s self, p: Pos, id: &'s str) -> WireParts<'s> {
        let (c, j) = self.slot(p);
        let flags = c.flags[j];
        let (attributes, splices) = c.attributes(j);
        WireParts {
            id,
            name: c.name(j),
            attributes: (!attributes.is_empty()).then_some(attributes),
            splices,
            economic: flags & ECONOMIC != 0,
            id_plain: flags & ID_PLAIN != 0,
            name_plain: flags & NAME_PLAIN != 0,
            name_in_place: flags & NAME_IN_PLACE != 0,
        }
    }

    /// Whether the id of position `p` is plain (a page asks it of every parent).
    #[cfg(feature = "serde")]
    #[inline]
    pub(crate) fn id_plain(&self, p: Pos) -> bool {
        let (c, j) = self.slot(p);
        c.flags[j] & ID_PLAIN != 0
    }

    /// The name of position `p`.
    #[inline]
    pub(crate) fn name(&self, p: Pos) -> &str {
        let (c, j) = self.slot(p);
        c.name(j)
    }

    /// The economic flag of position `p`.
    #[inline]
    pub(crate) fn economic(&self, p: Pos) -> bool {
        let (c, j) = self.slot(p);
        c.flags[j] & ECONOMIC != 0
    }

    /// The attributes of position `p` as an owned value.
    pub(crate) fn attributes(&self, p: Pos) -> Attributes {
        Attributes::from_stored(self.attributes_text(p))
    }

    /// The attributes text of position `p` and its splices, borrowed; `None` for none.
    pub(crate) fn attributes_text(&self, p: Pos) -> Option<(&str, Splices)> {
        let (c, j) = self.slot(p);
        let (text, splices) = c.attributes(j);
        // The bytes were a `str` when stored.
        std::str::from_utf8(text)
            .ok()
            .filter(|t| !t.is_empty())
            .map(|t| (t, splices))
    }
}
