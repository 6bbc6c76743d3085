//! The byte-level writers behind the fast bodies ([`jsonapi::write_document`],
//! [`telecomx::write_list`]): JSON strings copied as they are when nothing in them
//! needs escaping, and a resource's attributes copied from the stored text around its
//! two per-request members.
//!
//! Every byte written equals what `serde_json` writes for the reference serde types
//! (`jsonapi::Document`, `telecomx::ResellerItem`); `tests/wire.rs` holds the two to
//! the same bytes on random hierarchies and payloads.
//!
//! [`jsonapi::write_document`]: super::jsonapi::write_document
//! [`telecomx::write_list`]: super::telecomx::write_list

use crate::record::{Splice, SpliceKind, Splices};

/// Writes `s` as a JSON string, as `serde_json` does: copied between quotes when it
/// holds no `"`, `\` or control character, escaped by `serde_json` otherwise.
#[inline]
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    known_string(out, s, crate::snapshot::is_plain(s));
}

/// [`string`] for a string whose plainness is known (checked once when it was
/// stored).
#[inline]
pub(crate) fn known_string(out: &mut Vec<u8>, s: &str, plain: bool) {
    if plain {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Writes the attributes of a JSON:API resource: the stored object `text` (`{}` when
/// `None`) with `general.name` = `name` and `parent-id` = `parent` (each with whether
/// it is plain; `name` also with whether the text already holds it,
/// `WireParts::name_in_place`), keys in order, as the reference renderer's `Map` would
/// be written. Returns `false`, having written nothing, if the
/// stored splices do not fit the text (which `Attributes` never produces).
pub(crate) fn attributes(
    out: &mut Vec<u8>,
    text: Option<&[u8]>,
    splices: Splices,
    name: (&str, bool, bool),
    parent: (&str, bool),
) -> bool {
    let text = text.unwrap_or(b"{}");
    let (g, p) = (splices.general, splices.parent);
    let (gs, ge, ps, pe) = (
        g.start as usize,
        g.end as usize,
        p.start as usize,
        p.end as usize,
    );
    if !(gs <= ge && ge <= ps && ps <= pe && pe < text.len()) {
        return false;
    }
    if name.2 {
        // `general.name` is stored as it renders: copy through to `parent-id`.
        out.extend_from_slice(&text[..ps]);
    } else {
        general_name(out, text, g, ps, name);
    }
    splice(out, p, &text[pe..], |out| {
        out.extend_from_slice(b"\"parent-id\":");
        known_string(out, parent.0, parent.1);
    });
    out.extend_from_slice(&text[pe..]);
    true
}

/// The stored `text` up to `upto` (the parent splice) with `general.name` written in.
#[inline]
fn general_name(out: &mut Vec<u8>, text: &[u8], g: Splice, upto: usize, name: (&str, bool, bool)) {
    let (gs, ge) = (g.start as usize, g.end as usize);
    out.extend_from_slice(&text[..gs]);
    splice(out, g, &text[ge..], |out| {
        let wrap = !matches!(g.kind, SpliceKind::InsertMember | SpliceKind::ReplaceMember);
        if g.kind == SpliceKind::InsertGeneral {
            out.extend_from_slice(b"\"general\":");
        }
        if wrap {
            out.extend_from_slice(b"{");
        }
        out.extend_from_slice(b"\"name\":");
        known_string(out, name.0, name.1);
        if wrap {
            out.extend_from_slice(b"}");
        }
    });
    out.extend_from_slice(&text[ge..upto]);
}

/// Writes what `s` puts in place of its span, `rest` being the text after the span.
/// An inserted member gets a comma before it when a member precedes it in the output
/// (the last byte written is neither `{` nor `,`), and one after it when a member
/// follows (`rest` does not close the object).
#[inline]
fn splice(out: &mut Vec<u8>, s: Splice, rest: &[u8], write: impl FnOnce(&mut Vec<u8>)) {
    let insert = matches!(s.kind, SpliceKind::InsertMember | SpliceKind::InsertGeneral);
    if insert && !matches!(out.last(), Some(b'{' | b',')) {
        out.push(b',');
    }
    write(out);
    if insert && rest.first() != Some(&b'}') {
        out.push(b',');
    }
}
