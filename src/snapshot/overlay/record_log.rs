//! [`RecordLog`]: the records that the changes since a base bring, in one arena, their
//! texts in a few large blocks; and [`Changed`], one of them as a version reads it.

use std::fmt;
use std::sync::Arc;

use super::arena::Arena;
use super::text_blocks::{Text, TextBlocks};
use crate::capability::Capabilities;
use crate::id::{Id, ResellerId};
use crate::record::{Attributes, Splices};

/// Where a record sits in a [`RecordLog`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Logged(u32);

/// The most bytes of an id that an [`Entry`] holds inline (as a [`ResellerId`] does
/// without an allocation); a longer one is a text.
const INLINE_ID: usize = 24;

/// A changed record's id: inline when short, else where its text is.
#[derive(Clone, Debug)]
enum EntryId {
    Inline(ResellerId),
    Text(Text),
}

/// One changed record: the id, where its texts are, and the rest as they are.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    id: EntryId,
    name: Text,
    /// The attributes text and its splices; `None` for none.
    attributes: Option<(Text, Splices)>,
    capabilities: Capabilities,
    economic_enabled: bool,
}

/// What a change writes into a [`RecordLog`]: one reseller's record, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields<'a> {
    pub(crate) id: &'a Id,
    pub(crate) name: &'a str,
    pub(crate) attributes: Option<(&'a str, Splices)>,
    pub(crate) capabilities: Capabilities,
    pub(crate) economic_enabled: bool,
}

/// The records of the resellers added since the base, and the new records of base
/// resellers updated since, in the order the changes brought them.
///
/// **How.** Every version over one base shares one arena of entries (an `Arc` of an
/// [`Arena`]): a mutation pushes its entry, and the version's maps keep only
/// where it sits ([`Logged`]). The arena only grows: an entry superseded by a later
/// update, or pushed by a batch that was then refused, stays until the arena goes,
/// which is when the last version over that base goes (a fold starts a new one).
/// The entries live in segments of 256, so a push allocates at most one
/// segment and never copies or clears what is there, and dropping the arena frees
/// the segments instead of an `Arc` per record. An entry's name and attributes
/// are [`TextBlocks`], which each version holds for itself (sharing all but the block
/// being filled with the version it was made from), so they too are a few large
/// allocations, and so is an id over 24 bytes (a shorter one is inline, as in a
/// [`ResellerId`]): an entry owns no allocation. Reads are lock-free, and
/// a version only reads entries pushed before it was published.
///
/// Because superseded entries, and those of refused batches, stay, the arena's length
/// counts towards the change weight, which decides when a fold starts (a refused
/// batch checks it too): the log cannot outgrow the changes a fold would reclaim.
/// The arena is shared, so the weight and the memory a version reports include what
/// later versions over the same base pushed.
#[derive(Clone, Default)]
pub(crate) struct RecordLog {
    entries: Arc<Arena<Entry>>,
    texts: TextBlocks,
}

impl RecordLog {
    /// Appends a record of `fields`; `None` when the log already holds `u32::MAX`
    /// records or a text is over `u32::MAX` bytes.
    pub(crate) fn push(&mut self, fields: Fields<'_>) -> Option<Logged> {
        let id = match fields.id.as_str() {
            short if short.len() <= INLINE_ID => EntryId::Inline(fields.id.to_owned()),
            long => EntryId::Text(self.texts.push(long)?),
        };
        let name = self.texts.push(fields.name)?;
        let attributes = self.push_attributes(fields.attributes)?;
        self.push_entry(Entry {
            id,
            name,
            attributes,
            capabilities: fields.capabilities,
            economic_enabled: fields.economic_enabled,
        })
    }

    /// Appends a record like the one at `at`, with a new name and attributes where
    /// given, and these capabilities and economic flag (unchanged where `None`).
    pub(crate) fn push_changed(
        &mut self,
        at: Logged,
        name: Option<&str>,
        attributes: Option<&Attributes>,
        capabilities: Capabilities,
        economic_enabled: Option<bool>,
    ) -> Option<Logged> {
        let mut entry = self.entry(at).clone();
        if let Some(name) = name {
            entry.name = self.texts.push(name)?;
        }
        if let Some(a) = attributes {
            entry.attributes = self.push_attributes(a.stored())?;
        }
        entry.capabilities = capabilities;
        entry.economic_enabled = economic_enabled.unwrap_or(entry.economic_enabled);
        self.push_entry(entry)
    }

    /// Appends the attributes text, if any: where it is, with its splices (the outer
    /// `None` when the text is too long).
    fn push_attributes(
        &mut self,
        stored: Option<(&str, Splices)>,
    ) -> Option<Option<(Text, Splices)>> {
        Some(match stored {
            Some((text, splices)) => Some((self.texts.push(text)?, splices)),
            None => None,
        })
    }

    fn push_entry(&mut self, entry: Entry) -> Option<Logged> {
        self.entries.push(entry).map(Logged)
    }

    /// The entry at `at`, which a push into this log (or the log of a version this
    /// one was made from) returned, and so set before this version was published.
    #[inline]
    fn entry(&self, at: Logged) -> &Entry {
        match self.entries.get(at.0) {
            Some(entry) => entry,
            None => unreachable!("record {} was never pushed into this log", at.0),
        }
    }

    /// The record at `at`, which a push into this log (or the log of a version this
    /// one was made from) returned.
    #[inline]
    pub(crate) fn get(&self, at: Logged) -> Changed<'_> {
        Changed {
            entry: self.entry(at),
            texts: &self.texts,
        }
    }

    /// Whether no other log (no other version) shares this one's arena.
    pub(crate) fn held_alone(&self) -> bool {
        Arc::strong_count(&self.entries) == 1
    }

    /// How many records were pushed, superseded ones included.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes of the entries and of this version's text blocks.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries.heap_bytes() + self.texts.heap_bytes()
    }
}

impl fmt::Debug for RecordLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordLog")
            .field("len", &self.len())
            .finish()
    }
}

/// A changed record as a version reads it: the entry and the version's texts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Changed<'a> {
    entry: &'a Entry,
    texts: &'a TextBlocks,
}

impl<'a> Changed<'a> {
    /// The id.
    #[inline]
    pub(crate) fn id(self) -> &'a Id {
        match &self.entry.id {
            EntryId::Inline(id) => id,
            EntryId::Text(text) => Id::new(self.texts.get(*text)),
        }
    }

    /// The name.
    #[inline]
    pub(crate) fn name(self) -> &'a str {
        self.texts.get(self.entry.name)
    }

    /// The attributes text and its splices; `None` for none.
    #[inline]
    pub(crate) fn attributes_text(self) -> Option<(&'a str, Splices)> {
        self.entry
            .attributes
            .map(|(text, splices)| (self.texts.get(text), splices))
    }

    /// The attributes, copied.
    pub(crate) fn attributes(self) -> Attributes {
        Attributes::from_stored(self.attributes_text())
    }

    /// The capabilities.
    #[inline]
    pub(crate) fn capabilities(self) -> Capabilities {
        self.entry.capabilities
    }

    /// `integrations.billing.economic.enabled`.
    #[inline]
    pub(crate) fn economic_enabled(self) -> bool {
        self.entry.economic_enabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(id: &'a str, name: &'a str) -> Fields<'a> {
        Fields {
            id: Id::new(id),
            name,
            attributes: None,
            capabilities: Capabilities::default(),
            economic_enabled: false,
        }
    }

    #[test]
    fn records_read_back_where_they_were_pushed() {
        let mut log = RecordLog::default();
        let names: Vec<String> = (0..100).map(|i| format!("name {i}")).collect();
        // Every third id too long to be inline.
        let id = |i: usize| match i % 3 {
            0 => format!("a reseller id over 24 bytes long, {i}"),
            _ => format!("r{i}"),
        };
        let at: Vec<Logged> = (0..100)
            .map(|i| log.push(fields(&id(i), &names[i])).unwrap())
            .collect();
        // A copy shares the entries: what either pushes, both count; each reads
        // what it and the versions before it pushed.
        let mut copy = log.clone();
        let last = copy.push(fields("last", "the last")).unwrap();
        for (i, &a) in at.iter().enumerate() {
            assert_eq!(log.get(a).id().as_str(), id(i));
            assert_eq!(log.get(a).name(), names[i]);
            assert_eq!(copy.get(a).name(), names[i]);
        }
        assert_eq!(copy.get(last).id().as_str(), "last");
        assert_eq!(copy.get(last).name(), "the last");
        assert_eq!(log.len(), 101);
        // A changed copy of a record keeps what it does not change.
        let mut sip = Capabilities::default();
        sip.insert(crate::Capability::Sip);
        let renamed = copy
            .push_changed(at[7], Some("renamed"), None, sip, Some(true))
            .unwrap();
        let r = copy.get(renamed);
        assert_eq!((r.id().as_str(), r.name()), (id(7).as_str(), "renamed"));
        assert!(r.capabilities().contains(crate::Capability::Sip));
        assert!(r.economic_enabled() && r.attributes_text().is_none());
        assert_eq!(copy.get(at[7]).name(), "name 7");
        // Both push into the shared arena, interleaved: each reads its own.
        let mut theirs = Vec::new();
        for i in 0..50 {
            let (mine, other) = (format!("log {i}"), format!("copy {i}"));
            let a = log.push(fields(&id(i), &mine)).unwrap();
            let b = copy.push(fields(&id(i + 1), &other)).unwrap();
            theirs.push((a, mine, b, other));
        }
        for (a, mine, b, other) in &theirs {
            assert_eq!(log.get(*a).name(), mine);
            assert_eq!(copy.get(*b).name(), other);
        }
        // A long id is a text: a changed copy reads it back too.
        let long = copy.push_changed(at[9], None, None, sip, None).unwrap();
        assert_eq!(
            (copy.get(long).id().as_str(), copy.get(long).name()),
            (id(9).as_str(), "name 9")
        );
    }
}
