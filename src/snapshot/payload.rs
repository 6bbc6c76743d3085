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
use crate::record::{Attributes, Splices};

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
    /// The attributes text, `None` when there are none.
    pub(crate) attributes: Option<&'s str>,
    /// Where `general.name` and `parent-id` go in it.
    pub(crate) splices: Splices,
    /// `integrations.billing.economic.enabled`.
    pub(crate) economic: bool,
    /// Whether `id` and `name` hold nothing JSON escapes (no `"`, `\`, control
    /// character), so that they are written by copying: checked once, here.
    pub(crate) id_plain: bool,
    /// As `id_plain`, for `name`.
    pub(crate) name_plain: bool,
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

#[derive(Debug, Default)]
struct Chunk {
    /// Ids and names.
    short: String,
    /// Attributes texts.
    long: String,
    /// Per position: where its id and name start in `short`, its attributes in `long`.
    at: Vec<[u64; 3]>,
    splices: Vec<Splices>,
    /// Per position: `ECONOMIC`, `ID_PLAIN`, `NAME_PLAIN`.
    flags: Vec<u8>,
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
                let mut c = Chunk {
                    short: String::with_capacity(short),
                    long: String::with_capacity(long),
                    at: Vec::with_capacity(inputs.len()),
                    splices: Vec::with_capacity(inputs.len()),
                    flags: Vec::with_capacity(inputs.len()),
                };
                for &i in inputs {
                    let p = &payload[i as usize];
                    let id_at = c.short.len() as u64;
                    c.short.push_str(ids[i as usize].as_str());
                    let name_at = c.short.len() as u64;
                    c.short.push_str(&p.name);
                    let attrs_at = c.long.len() as u64;
                    c.long.push_str(p.attributes.as_json().unwrap_or(""));
                    c.at.push([id_at, name_at, attrs_at]);
                    c.splices.push(p.attributes.splices);
                    let id = ids[i as usize].as_str();
                    c.flags.push(
                        (u8::from(p.economic_enabled) * ECONOMIC)
                            | (u8::from(is_plain(id)) * ID_PLAIN)
                            | (u8::from(is_plain(&p.name)) * NAME_PLAIN),
                    );
                }
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

    /// The payload of position `p` (which must be below [`len`](Payloads::len)).
    #[inline]
    pub(crate) fn get(&self, p: u32) -> WireParts<'_> {
        let (k, j) = (p as usize / CHUNK, p as usize % CHUNK);
        let c = &self.chunks[k];
        let [id, name, attrs] = c.at[j];
        let next = c.at.get(j + 1);
        let short_end = next.map_or(c.short.len() as u64, |n| n[0]);
        let long_end = next.map_or(c.long.len() as u64, |n| n[2]);
        let attributes = cut(&c.long, attrs, long_end);
        WireParts {
            id: cut(&c.short, id, name),
            name: cut(&c.short, name, short_end),
            attributes: (!attributes.is_empty()).then_some(attributes),
            splices: c.splices[j],
            economic: c.flags[j] & ECONOMIC != 0,
            id_plain: c.flags[j] & ID_PLAIN != 0,
            name_plain: c.flags[j] & NAME_PLAIN != 0,
        }
    }

    /// The attributes of position `p` as an owned value.
    pub(crate) fn attributes(&self, p: u32) -> Attributes {
        let w = self.get(p);
        match w.attributes {
            None => Attributes::none(),
            Some(text) => Attributes {
                text: Some(text.into()),
                splices: w.splices,
            },
        }
    }
}
