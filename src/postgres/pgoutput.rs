//! Decoding of `pgoutput` messages (protocol version 1), the output of PostgreSQL's
//! built-in logical decoding plugin, one message per `XLogData` of the replication
//! stream.
//!
//! # How
//!
//! Each message is a tag byte and big-endian fields, as PostgreSQL documents under
//! "Logical Replication Message Formats": `B`egin (the transaction id), `C`ommit (its
//! end LSN), `R`elation (a table's columns, sent before its first change in each
//! decoding call), `I`nsert, `U`pdate, `D`elete (tuples of text values), `T`runcate.
//! Other messages (types, origins) carry nothing a follower needs and are skipped. The
//! bytes come from the network: every length is checked against the message, and a
//! message that does not parse is a [`ProtocolError`], never a panic.

use std::fmt;

use super::Lsn;

/// A decoded message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message<'a> {
    /// A transaction starts.
    Begin {
        /// Its (32-bit) transaction id.
        xid: u32,
    },
    /// The transaction commits.
    Commit {
        /// The end of its commit record: the position it is visible at.
        end: Lsn,
    },
    /// A table's layout, valid until the next `Relation` of the same table.
    Relation(Relation),
    /// A row was inserted.
    Insert {
        /// The table.
        relation: u32,
        /// The new row.
        new: Tuple<'a>,
    },
    /// A row was updated.
    Update {
        /// The table.
        relation: u32,
        /// The old key (or old row), sent when the key changed or the table's replica
        /// identity is `FULL`.
        old: Option<Tuple<'a>>,
        /// The new row.
        new: Tuple<'a>,
    },
    /// A row was deleted.
    Delete {
        /// The table.
        relation: u32,
        /// Its key (or the whole old row under replica identity `FULL`).
        old: Tuple<'a>,
    },
    /// Tables were truncated.
    Truncate {
        /// The tables.
        relations: Vec<u32>,
    },
    /// A message a follower does not need (type, origin, logical message).
    Other,
}

/// A table's layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Relation {
    /// Its oid (how changes name it).
    pub(crate) oid: u32,
    /// Its schema.
    pub(crate) schema: String,
    /// Its name.
    pub(crate) name: String,
    /// Its columns, in order: name and type oid.
    pub(crate) columns: Vec<(String, u32)>,
}

/// The columns of a row, in the table's order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tuple<'a>(pub(crate) Vec<Value<'a>>);

/// One column's value in a [`Tuple`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// SQL `NULL` (also every non-key column of a key tuple).
    Null,
    /// A large (TOASTed) value the update did not change: not sent.
    Unchanged,
    /// The value in the type's text form.
    Text(&'a str),
}

/// A message that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed pgoutput message: {}", self.reason)
    }
}

impl std::error::Error for ProtocolError {}

fn error(reason: impl Into<String>) -> ProtocolError {
    ProtocolError {
        reason: reason.into(),
    }
}

/// Reads fields off the front of a message.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ProtocolError> {
        if self.bytes.len() < n {
            return Err(error(format!("cut short in {what}")));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, ProtocolError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ProtocolError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, ProtocolError> {
        let hi = self.u32(what)?;
        let lo = self.u32(what)?;
        Ok((u64::from(hi) << 32) | u64::from(lo))
    }

    /// A NUL-terminated string.
    fn string(&mut self, what: &str) -> Result<&'a str, ProtocolError> {
        let end = self
            .bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| error(format!("{what} not terminated")))?;
        let s = self.take(end, what)?;
        self.bytes = &self.bytes[1..];
        std::str::from_utf8(s).map_err(|_| error(format!("{what} is not UTF-8")))
    }

    fn tuple(&mut self) -> Result<Tuple<'a>, ProtocolError> {
        let n = self.u16("a tuple's column count")?;
        let mut values = Vec::with_capacity(usize::from(n).min(self.bytes.len()));
        for _ in 0..n {
            values.push(match self.u8("a column's kind")? {
                b'n' => Value::Null,
                b'u' => Value::Unchanged,
                b't' => {
                    let len = self.u32("a column's length")? as usize;
                    let text = self.take(len, "a column's value")?;
                    Value::Text(
                        std::str::from_utf8(text)
                            .map_err(|_| error("a column's value is not UTF-8"))?,
                    )
                }
                k => return Err(error(format!("unknown column kind {:?}", k as char))),
            });
        }
        Ok(Tuple(values))
    }

    fn end(&self, what: &str) -> Result<(), ProtocolError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(error(format!("{} bytes after {what}", self.bytes.len())))
        }
    }
}

impl<'a> Message<'a> {
    /// Decodes one message.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Message<'a>, ProtocolError> {
        let mut r = Reader { bytes };
        let tag = r.u8("the message tag")?;
        let message = match tag {
            b'B' => {
                let _final_lsn = r.u64("Begin")?;
                let _timestamp = r.u64("Begin")?;
                Message::Begin {
                    xid: r.u32("Begin")?,
                }
            }
            b'C' => {
                let _flags = r.u8("Commit")?;
                let _commit_lsn = r.u64("Commit")?;
                let end = Lsn::new(r.u64("Commit")?);
                let _timestamp = r.u64("Commit")?;
                Message::Commit { end }
            }
            b'R' => {
                let oid = r.u32("Relation")?;
                let schema = r.string("a schema name")?.to_string();
                let name = r.string("a table name")?.to_string();
                let _identity = r.u8("Relation")?;
                let n = r.u16("Relation")?;
                let mut columns = Vec::with_capacity(usize::from(n).min(r.bytes.len()));
                for _ in 0..n {
                    let _flags = r.u8("a column")?;
                    let column = r.string("a column name")?.to_string();
                    let type_oid = r.u32("a column")?;
                    let _modifier = r.u32("a column")?;
                    columns.push((column, type_oid));
                }
                Message::Relation(Relation {
                    oid,
                    schema,
                    name,
                    columns,
                })
            }
            b'I' => {
                let relation = r.u32("Insert")?;
                if r.u8("Insert")? != b'N' {
                    return Err(error("Insert without a new tuple"));
                }
                Message::Insert {
                    relation,
                    new: r.tuple()?,
                }
            }
            b'U' => {
                let relation = r.u32("Update")?;
                let mut kind = r.u8("Update")?;
                let mut old = None;
                if kind == b'K' || kind == b'O' {
                    old = Some(r.tuple()?);
                    kind = r.u8("Update")?;
                }
                if kind != b'N' {
                    return Err(error("Update without a new tuple"));
                }
                Message::Update {
                    relation,
                    old,
                    new: r.tuple()?,
                }
            }
            b'D' => {
                let relation = r.u32("Delete")?;
                let kind = r.u8("Delete")?;
                if kind != b'K' && kind != b'O' {
                    return Err(error("Delete without an old key"));
                }
                Message::Delete {
                    relation,
                    old: r.tuple()?,
                }
            }
            b'T' => {
                let n = r.u32("Truncate")?;
                let _options = r.u8("Truncate")?;
                let mut relations = Vec::with_capacity((n as usize).min(r.bytes.len() / 4));
                for _ in 0..n {
                    relations.push(r.u32("Truncate")?);
                }
                Message::Truncate { relations }
            }
            b'Y' | b'O' | b'M' => return Ok(Message::Other),
            t => return Err(error(format!("unknown message tag {:?}", t as char))),
        };
        r.end("the message")?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(values: &[Option<&str>]) -> Vec<u8> {
        let mut b = (values.len() as u16).to_be_bytes().to_vec();
        for v in values {
            match v {
                None => b.push(b'n'),
                Some(t) => {
                    b.push(b't');
                    b.extend((t.len() as u32).to_be_bytes());
                    b.extend(t.as_bytes());
                }
            }
        }
        b
    }

    #[test]
    fn begin_commit_insert_delete() {
        let mut begin = vec![b'B'];
        begin.extend(7u64.to_be_bytes());
        begin.extend(0u64.to_be_bytes());
        begin.extend(42u32.to_be_bytes());
        assert_eq!(Message::parse(&begin), Ok(Message::Begin { xid: 42 }));

        let mut commit = vec![b'C', 0];
        commit.extend(7u64.to_be_bytes());
        commit.extend(0x1_0000_0010u64.to_be_bytes());
        commit.extend(0u64.to_be_bytes());
        assert_eq!(
            Message::parse(&commit),
            Ok(Message::Commit {
                end: Lsn::new(0x1_0000_0010)
            })
        );

        let mut insert = vec![b'I'];
        insert.extend(16384u32.to_be_bytes());
        insert.push(b'N');
        insert.extend(tuple(&[Some("7"), None]));
        assert_eq!(
            Message::parse(&insert),
            Ok(Message::Insert {
                relation: 16384,
                new: Tuple(vec![Value::Text("7"), Value::Null])
            })
        );

        let mut delete = vec![b'D'];
        delete.extend(16384u32.to_be_bytes());
        delete.push(b'K');
        delete.extend(tuple(&[Some("7"), None]));
        assert!(matches!(
            Message::parse(&delete),
            Ok(Message::Delete { .. })
        ));
    }

    #[test]
    fn relation_columns() {
        let mut m = vec![b'R'];
        m.extend(16384u32.to_be_bytes());
        m.extend(b"public\0resellers\0");
        m.push(b'd');
        m.extend(2u16.to_be_bytes());
        for (name, ty) in [("id", 20u32), ("parent_id", 20)] {
            m.push(1);
            m.extend(name.as_bytes());
            m.push(0);
            m.extend(ty.to_be_bytes());
            m.extend((-1i32).to_be_bytes());
        }
        let Ok(Message::Relation(r)) = Message::parse(&m) else {
            panic!("not a relation");
        };
        assert_eq!(
            (r.schema.as_str(), r.name.as_str()),
            ("public", "resellers")
        );
        assert_eq!(
            r.columns,
            [("id".to_string(), 20), ("parent_id".to_string(), 20)]
        );
    }

    #[test]
    fn damaged_messages_are_errors() {
        let mut insert = vec![b'I'];
        insert.extend(1u32.to_be_bytes());
        insert.push(b'N');
        insert.extend(tuple(&[Some("700")]));
        for cut in 0..insert.len() {
            assert!(Message::parse(&insert[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = insert.clone();
        long.push(0);
        assert!(Message::parse(&long).is_err());
        // A length far beyond the message.
        let mut huge = vec![b'I'];
        huge.extend(1u32.to_be_bytes());
        huge.push(b'N');
        huge.extend(1u16.to_be_bytes());
        huge.push(b't');
        huge.extend(u32::MAX.to_be_bytes());
        assert!(Message::parse(&huge).is_err());
        assert!(Message::parse(b"Zjunk").is_err());
    }
}
