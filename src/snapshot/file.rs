//! Snapshot files: [`Snapshot::save`] and [`Snapshot::load`].
//!
//! # Format (version 1)
//!
//! All integers little-endian. A file is
//!
//! | bytes | what |
//! | --- | --- |
//! | 8 | magic `RSLRHIER` |
//! | 4 | format version, 1 |
//! | 4 | reserved, 0 |
//! | 8 | `n`, the number of resellers |
//! | 8 | the snapshot's version number |
//! | 4·n | parent, as the index of the parent's record (`u32::MAX` for a root) |
//! | n | capabilities, one bit each as in [`Capabilities::bits`] |
//! | n | `integrations.billing.economic.enabled`, 0 or 1 |
//! | 4·n + … | the ids: their byte lengths, then their bytes back to back |
//! | 4·n + … | the names, the same way |
//! | 4·n + … | the attributes texts, the same way (length 0: none) |
//! | 4 | CRC-32 (ISO-HDLC, as zlib's) of every byte before it |
//!
//! Records are in the snapshot's pre-order, so siblings keep their order.
//!
//! # Why this shape
//!
//! The file holds the records and their links, not the indexes: every index is derived
//! again on load, so a file cannot hold an index that disagrees with its records, and
//! loading validates exactly what a build validates (unique ids, a forest, UTF-8,
//! attributes that are JSON objects). What a load saves over an import is the JSON
//! parsing and resolving every parent id through the hash table. `rkyv`'s validated
//! zero-copy access, or mapping the file (`memmap2`) and reading the indexes in place as
//! `fst` and `tantivy` do, would also skip deriving the indexes, but need the index
//! checked against the records (as costly as deriving it) or trusted, and mapping
//! needs `unsafe`, which this crate forbids.

use std::fmt;
use std::io::{Read, Write};

use crate::builder::{validate_linked, BuildError, Columns};
use crate::capability::Capabilities;
use crate::id::{ResellerId, LIMIT, NONE};
use crate::record::Splices;

use super::Snapshot;

const MAGIC: &[u8; 8] = b"RSLRHIER";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const HEADER: usize = 32;

/// Why a snapshot file could not be loaded.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{LoadError, Snapshot};
///
/// let err = Snapshot::load(&b"not a snapshot"[..]).unwrap_err();
/// assert!(matches!(err, LoadError::NotASnapshot));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// Reading failed.
    Io(std::io::Error),
    /// The file does not start with the magic number: it is no snapshot file.
    NotASnapshot,
    /// A snapshot file of a format version this crate does not read.
    Version {
        /// The version in the file.
        found: u32,
        /// The version this crate reads.
        supported: u32,
    },
    /// The file ends before its content does.
    Truncated {
        /// The part that is cut short.
        part: &'static str,
    },
    /// The checksum does not match the content: the file was damaged.
    Checksum {
        /// The checksum in the file.
        stored: u32,
        /// The checksum of the content.
        computed: u32,
    },
    /// The content is not what the format allows.
    Corrupt {
        /// What is wrong.
        reason: String,
    },
    /// The records do not form a valid hierarchy.
    Invalid(BuildError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "cannot read the snapshot file: {e}"),
            LoadError::NotASnapshot => f.write_str("not a snapshot file (no magic number)"),
            LoadError::Version { found, supported } => write!(
                f,
                "snapshot file of format version {found}; this version reads {supported}"
            ),
            LoadError::Truncated { part } => {
                write!(f, "snapshot file cut short in its {part}")
            }
            LoadError::Checksum { stored, computed } => write!(
                f,
                "snapshot file damaged: checksum {stored:#010x}, content gives {computed:#010x}"
            ),
            LoadError::Corrupt { reason } => write!(f, "snapshot file corrupt: {reason}"),
            LoadError::Invalid(e) => write!(f, "snapshot file holds {e}"),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Io(e) => Some(e),
            LoadError::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

fn corrupt(reason: impl Into<String>) -> LoadError {
    LoadError::Corrupt {
        reason: reason.into(),
    }
}

/// A length as the format stores it, or an error naming what is too long.
fn len32(len: usize, what: &str) -> std::io::Result<u32> {
    u32::try_from(len).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{what} of {len} bytes: longer than a snapshot file holds"),
        )
    })
}

/// A writer that keeps the CRC-32 of what passes through.
struct Summing<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Summing<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.crc.update(bytes);
        self.inner.write_all(bytes)
    }
}

impl Snapshot {
    /// Writes the snapshot as a snapshot file (format in the module docs of
    /// `snapshot/file.rs`), which [`Snapshot::load`] reads back. Wrap a file in a
    /// [`BufWriter`](std::io::BufWriter).
    ///
    /// # Errors
    ///
    /// Errors of `out`, and `InvalidData` for a text longer than 4 GiB.
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::{Id, Record, Snapshot};
    ///
    /// let snap = Snapshot::build([Record::new("1", None::<&str>), Record::new("2", Some("1"))])?;
    /// let mut file = Vec::new();
    /// snap.save(&mut file)?;
    /// let back = Snapshot::load(&file[..])?;
    /// assert_eq!(back.downline_count(Id::new("1"))?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, out: impl Write) -> std::io::Result<()> {
        let n = self.len();
        let mut out = Summing {
            inner: out,
            crc: crc32fast::Hasher::new(),
        };
        out.put(MAGIC)?;
        out.put(&FORMAT_VERSION.to_le_bytes())?;
        out.put(&0u32.to_le_bytes())?;
        out.put(&(n as u64).to_le_bytes())?;
        out.put(&self.version().to_le_bytes())?;

        // Records in pre-order: a parent comes before its children, so its index is
        // known when they are written.
        let mut index: std::collections::HashMap<&str, u32> = Default::default();
        index.reserve(n);
        let mut buf = Vec::with_capacity(4 * n);
        for (i, r) in self.iter().enumerate() {
            let p = r
                .parent()
                .and_then(|p| index.get(p.as_str()).copied())
                .unwrap_or(NONE);
            buf.extend_from_slice(&p.to_le_bytes());
            index.insert(r.id().as_str(), i as u32);
        }
        drop(index);
        out.put(&buf)?;
        buf.clear();
        buf.extend(self.iter().map(|r| r.capabilities().bits()));
        out.put(&buf)?;
        buf.clear();
        buf.extend(self.iter().map(|r| u8::from(r.economic_enabled())));
        out.put(&buf)?;
        self.put_texts(&mut out, "id", |r, f| f(r.id().as_str()))?;
        self.put_texts(&mut out, "name", |r, f| f(r.name()))?;
        self.put_texts(&mut out, "attributes", |r, f| {
            f(r.attributes().as_json().unwrap_or(""))
        })?;
        let crc = out.crc.clone().finalize();
        out.inner.write_all(&crc.to_le_bytes())?;
        out.inner.flush()
    }

    /// Writes one text of every reseller: the lengths, then the bytes.
    fn put_texts<W: Write>(
        &self,
        out: &mut Summing<W>,
        what: &str,
        text: impl Fn(
            &super::Reseller<'_>,
            &mut dyn FnMut(&str) -> std::io::Result<()>,
        ) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut lens = Vec::with_capacity(4 * self.len());
        for r in self.iter() {
            text(&r, &mut |s| {
                lens.extend_from_slice(&len32(s.len(), what)?.to_le_bytes());
                Ok(())
            })?;
        }
        out.put(&lens)?;
        drop(lens);
        let mut bytes = Vec::with_capacity(1 << 16);
        for r in self.iter() {
            text(&r, &mut |s| {
                bytes.extend_from_slice(s.as_bytes());
                Ok(())
            })?;
            if bytes.len() >= 1 << 16 {
                out.put(&bytes)?;
                bytes.clear();
            }
        }
        out.put(&bytes)
    }

    /// Reads a snapshot file written by [`Snapshot::save`], validating all of it: the
    /// magic number, the format version, the checksum, every length against the file,
    /// UTF-8 of every text, unique ids, attributes that are JSON objects, and
    /// parents that form a forest. Wrap a file in a [`BufReader`](std::io::BufReader)
    /// or pass it as it is (it is read to its end in one go).
    ///
    /// # Errors
    ///
    /// [`LoadError`], naming what is wrong; a damaged file never panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::{Id, LoadError, Record, Snapshot};
    ///
    /// let snap = Snapshot::build([Record::new("1", None::<&str>).name("Top")])?;
    /// let mut file = Vec::new();
    /// snap.save(&mut file)?;
    /// assert_eq!(Snapshot::load(&file[..])?.get(Id::new("1")).unwrap().name(), "Top");
    ///
    /// file[40] ^= 1; // damage it
    /// assert!(matches!(Snapshot::load(&file[..]), Err(LoadError::Checksum { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(mut input: impl Read) -> Result<Snapshot, LoadError> {
        let mut file = Vec::new();
        input.read_to_end(&mut file).map_err(LoadError::Io)?;
        let (records, parent, version) = decode(&file)?;
        // The records are copied out: free the file's bytes before the layout is built.
        drop(file);
        let parts = validate_linked(records, parent).map_err(LoadError::Invalid)?;
        let mut snap = Snapshot::from_parts(parts);
        snap.version = version;
        Ok(snap)
    }
}

/// The records of a snapshot file, their parents as record indices, and the snapshot's
/// version number, every part checked against the format.
fn decode(file: &[u8]) -> Result<(Columns, Vec<u32>, u64), LoadError> {
    if file.len() < MAGIC.len() || &file[..MAGIC.len()] != MAGIC {
        return Err(LoadError::NotASnapshot);
    }
    let mut at = Cursor { file, at: 8 };
    let found = at.u32("header")?;
    if found != FORMAT_VERSION {
        return Err(LoadError::Version {
            found,
            supported: FORMAT_VERSION,
        });
    }
    if file.len() < HEADER + 4 {
        return Err(LoadError::Truncated { part: "header" });
    }
    let (content, tail) = file.split_at(file.len() - 4);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let computed = crc32fast::hash(content);
    if stored != computed {
        return Err(LoadError::Checksum { stored, computed });
    }
    let mut at = Cursor {
        file: content,
        at: 12,
    };
    if at.u32("header")? != 0 {
        return Err(corrupt("reserved header field is not 0"));
    }
    let n = at.u64("header")?;
    let version = at.u64("header")?;
    // Every reseller takes at least 18 bytes (parent, two flags, three lengths), so a
    // count the file cannot hold is refused before anything is allocated for it.
    if n > LIMIT as u64 || n.saturating_mul(18) > content.len() as u64 {
        return Err(corrupt(format!(
            "{n} resellers do not fit in a file of {} bytes",
            file.len()
        )));
    }
    let n = n as usize;
    let parent: Vec<u32> = at
        .take(4 * n, "parents")?
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(i) = parent.iter().position(|&p| p != NONE && p as usize >= n) {
        return Err(corrupt(format!(
            "record {i} has parent index {}, past the last record",
            parent[i]
        )));
    }
    let caps = at.take(n, "capabilities")?;
    if let Some(i) = caps
        .iter()
        .position(|&c| Capabilities::from_bits(c).bits() != c)
    {
        return Err(corrupt(format!(
            "record {i} has capability bits {:#x}",
            caps[i]
        )));
    }
    let economic = at.take(n, "economic flags")?;
    if let Some(i) = economic.iter().position(|&e| e > 1) {
        return Err(corrupt(format!(
            "record {i} has economic flag {}",
            economic[i]
        )));
    }
    let ids = at.texts(n, "ids")?;
    let names = at.texts(n, "names")?;
    let attributes = at.texts(n, "attributes")?;
    if at.at != content.len() {
        return Err(corrupt(format!(
            "{} bytes after the attributes",
            content.len() - at.at
        )));
    }
    let mut records = Columns::linked(n);
    for i in 0..n {
        let attrs = match attributes[i] {
            "" => None,
            text => Some((
                text,
                checked_splices(text)
                    .map_err(|e| corrupt(format!("record {i} (id {:?}): {e}", ids[i])))?,
            )),
        };
        records.push_fields(
            ResellerId::from(ids[i]),
            None,
            names[i],
            Capabilities::from_bits(caps[i]),
            economic[i] == 1,
            attrs,
        );
    }
    Ok((records, parent, version))
}

/// The splices of a stored attributes text, which must be what a build stores: a JSON
/// object written compactly with its keys sorted.
#[cfg(feature = "serde")]
fn checked_splices(text: &str) -> Result<Splices, String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("attributes are no JSON object: {e}"))?;
    let (again, splices) = crate::serde::splice_text(&map);
    if again != text {
        return Err("attributes are not written as a build writes them".into());
    }
    Ok(splices)
}

#[cfg(not(feature = "serde"))]
fn checked_splices(_: &str) -> Result<Splices, String> {
    Err("attributes need the `serde` feature".into())
}

/// Reads the parts of a file in order, each checked against what is left.
struct Cursor<'f> {
    file: &'f [u8],
    at: usize,
}

impl<'f> Cursor<'f> {
    fn take(&mut self, len: usize, part: &'static str) -> Result<&'f [u8], LoadError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&e| e <= self.file.len())
            .ok_or(LoadError::Truncated { part })?;
        let bytes = &self.file[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u32(&mut self, part: &'static str) -> Result<u32, LoadError> {
        let b = self.take(4, part)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, part: &'static str) -> Result<u64, LoadError> {
        let b = self.take(8, part)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// `n` texts: their lengths, then their bytes, which must be UTF-8 (checked once,
    /// for all of them, then each cut at its length, which must fall on a character
    /// boundary).
    fn texts(&mut self, n: usize, part: &'static str) -> Result<Vec<&'f str>, LoadError> {
        let lens = self.take(4 * n, part)?;
        let total: u64 = lens
            .chunks_exact(4)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .sum();
        let total = usize::try_from(total).map_err(|_| LoadError::Truncated { part })?;
        let bytes = self.take(total, part)?;
        let text = std::str::from_utf8(bytes)
            .map_err(|e| corrupt(format!("{part} are not UTF-8: {e}")))?;
        let mut out = Vec::with_capacity(n);
        let mut start = 0usize;
        for (i, b) in lens.chunks_exact(4).enumerate() {
            let end = start + u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
            let piece = text.get(start..end).ok_or_else(|| {
                corrupt(format!(
                    "{part}: text {i} does not end on a character boundary"
                ))
            })?;
            out.push(piece);
            start = end;
        }
        Ok(out)
    }
}
