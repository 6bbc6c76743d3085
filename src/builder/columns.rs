//! [`Columns`]: the records a [`Builder`](crate::Builder) has collected, one column per
//! field, with every name and attributes text in one arena each, so that a million
//! records are a handful of allocations (ids of up to 24 bytes sit inline in their
//! [`ResellerId`]).

use crate::capability::Capabilities;
use crate::id::ResellerId;
use crate::record::{Record, Splices};

/// The splices of no attributes.
const NO_SPLICES: Splices = Splices::NONE;

/// Strings back to back in one buffer: after `skipped` leading empty strings (which
/// take no room, so that a column nobody fills, as attributes often are, costs
/// nothing), string `skipped + i` is `bytes[ends[i - 1]..ends[i]]`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Texts {
    bytes: String,
    ends: Vec<u64>,
    skipped: usize,
}

impl Texts {
    pub(crate) fn with_capacity(n: usize) -> Texts {
        Texts {
            bytes: String::new(),
            ends: Vec::with_capacity(n),
            skipped: 0,
        }
    }

    pub(crate) fn push(&mut self, s: &str) {
        if s.is_empty() && self.ends.is_empty() {
            self.skipped += 1;
            return;
        }
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len() as u64);
    }

    /// Bytes held, all strings together.
    pub(crate) fn text_len(&self) -> usize {
        self.bytes.len()
    }

    /// String `i`, which must be below the number pushed.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> &str {
        let Some(i) = i.checked_sub(self.skipped) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        // Every end was a character boundary when pushed.
        self.bytes
            .get(start as usize..self.ends[i] as usize)
            .unwrap_or("")
    }

    /// Moves the strings of `other` after these.
    fn append(&mut self, other: Texts) {
        if self.ends.is_empty() {
            self.skipped += other.skipped;
            self.bytes = other.bytes;
            self.ends = other.ends;
            return;
        }
        let base = self.bytes.len() as u64;
        self.ends.extend(std::iter::repeat_n(base, other.skipped));
        self.bytes.push_str(&other.bytes);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }
}

/// Well-formed records, by field.
#[derive(Clone, Debug, Default)]
pub(crate) struct Columns {
    pub(crate) ids: Vec<ResellerId>,
    /// Parent ids, one per record; empty for columns made [`linked`](Columns::linked),
    /// whose parents are indices kept apart.
    pub(crate) parents: Vec<Option<ResellerId>>,
    /// Made by [`linked`](Columns::linked): `parents` stays empty.
    linked: bool,
    pub(crate) names: Texts,
    pub(crate) caps: Vec<Capabilities>,
    pub(crate) economic: Vec<bool>,
    /// Compact JSON object text; empty for no attributes.
    pub(crate) attributes: Texts,
    /// Per record, empty until some record has attributes (then filled with the
    /// default for the records before it).
    splices: Vec<Splices>,
}

impl Columns {
    pub(crate) fn with_capacity(n: usize) -> Columns {
        Columns::room(n, false)
    }

    /// Room for `n` records whose parents are given as indices apart (a snapshot
    /// file's, a fold's): no column of parent ids, which would be `n` `None`s.
    pub(crate) fn linked(n: usize) -> Columns {
        Columns::room(n, true)
    }

    fn room(n: usize, linked: bool) -> Columns {
        Columns {
            ids: Vec::with_capacity(n),
            parents: Vec::with_capacity(if linked { 0 } else { n }),
            names: Texts::with_capacity(n),
            caps: Vec::with_capacity(n),
            economic: Vec::with_capacity(n),
            attributes: Texts::with_capacity(n),
            splices: Vec::new(),
            linked,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Appends one record from its fields.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_fields(
        &mut self,
        id: ResellerId,
        parent: Option<ResellerId>,
        name: &str,
        caps: Capabilities,
        economic: bool,
        attributes: Option<(&str, Splices)>,
    ) {
        self.ids.push(id);
        if !self.linked {
            self.parents.push(parent);
        }
        self.names.push(name);
        self.caps.push(caps);
        self.economic.push(economic);
        match attributes {
            None => self.attributes.push(""),
            Some((text, splices)) => {
                self.attributes.push(text);
                if self.splices.is_empty() {
                    self.splices.resize(self.ids.len() - 1, NO_SPLICES);
                }
                self.splices.push(splices);
            }
        }
        if !self.splices.is_empty() && self.splices.len() < self.ids.len() {
            self.splices.push(NO_SPLICES);
        }
    }

    pub(crate) fn push(&mut self, r: Record) {
        self.push_fields(
            r.id,
            r.parent,
            &r.name,
            r.capabilities,
            r.economic_enabled,
            r.attributes.stored(),
        );
    }

    /// The attributes text of record `i` (`None` for none) and its splices.
    #[inline]
    pub(crate) fn attributes_text(&self, i: usize) -> Option<&str> {
        Some(self.attributes.get(i)).filter(|t| !t.is_empty())
    }

    #[inline]
    pub(crate) fn splices(&self, i: usize) -> Splices {
        self.splices.get(i).copied().unwrap_or(NO_SPLICES)
    }

    /// Moves the records of `other` after these.
    pub(crate) fn append(&mut self, other: Columns) {
        let n = self.len();
        let other_len = other.len();
        let splices = !self.splices.is_empty() || !other.splices.is_empty();
        if splices {
            self.splices.resize(n, NO_SPLICES);
            if other.splices.is_empty() {
                self.splices.resize(n + other_len, NO_SPLICES);
            } else {
                self.splices.extend(other.splices);
            }
        }
        self.ids.extend(other.ids);
        self.parents.extend(other.parents);
        self.names.append(other.names);
        self.caps.extend(other.caps);
        self.economic.extend(other.economic);
        self.attributes.append(other.attributes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_skip_leading_empty_strings_across_appends() {
        let mut a = Texts::default();
        a.push("");
        let mut b = Texts::default();
        b.push("");
        b.push("x");
        b.push("");
        let mut c = Texts::default();
        c.push("");
        c.push("yz");
        a.append(b);
        a.append(c);
        let got: Vec<&str> = (0..6).map(|i| a.get(i)).collect();
        assert_eq!(got, ["", "", "x", "", "", "yz"]);
        assert_eq!(a.skipped, 2);
    }

    #[test]
    fn splices_survive_an_append_to_nothing() {
        let mut a = Columns::default();
        let mut b = Columns::default();
        let splices = Splices {
            general: crate::record::Splice {
                start: 1,
                end: 2,
                kind: crate::record::SpliceKind::ReplaceMember,
            },
            ..NO_SPLICES
        };
        b.push_fields("1".into(), None, "", Capabilities::NONE, false, None);
        b.push_fields(
            "2".into(),
            None,
            "",
            Capabilities::NONE,
            false,
            Some(("{}", splices)),
        );
        a.append(b);
        assert_eq!((a.splices(0), a.splices(1)), (NO_SPLICES, splices));
    }

    #[test]
    fn columns_give_back_what_was_pushed_across_appends() {
        let mut a = Columns::default();
        a.push(Record::new("1", None::<&str>).name("one"));
        let mut b = Columns::default();
        b.push(Record::new("2", Some("1")).name("twö"));
        b.push_fields(
            "3".into(),
            None,
            "",
            Capabilities::NONE,
            true,
            Some(("{\"a\":1}", NO_SPLICES)),
        );
        a.append(b);
        assert_eq!(a.len(), 3);
        assert_eq!(
            (a.names.get(0), a.names.get(1), a.names.get(2)),
            ("one", "twö", "")
        );
        assert_eq!(a.attributes_text(0), None);
        assert_eq!(a.attributes_text(2), Some("{\"a\":1}"));
        assert_eq!(a.parents[1].as_ref().map(ResellerId::as_str), Some("1"));
        assert!(a.economic[2] && !a.economic[0]);
    }
}
