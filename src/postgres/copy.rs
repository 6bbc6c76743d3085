//! [`CopyLines`]: the rows of a binary `COPY ... TO STDOUT` of one JSON column, as
//! NDJSON, so that the initial load goes through the engine's parallel NDJSON import.
//!
//! # How
//!
//! A binary COPY stream is a signature (`PGCOPY\n\xff\r\n\0`), a flags word and a header
//! extension, then one tuple per row: a 16-bit field count (`-1` ends the stream) and
//! each field as a 32-bit length (`-1` for `NULL`) and its bytes. The load query selects
//! exactly one `json` field per row, whose binary form is its text; each becomes one
//! line. The stream comes from the network: a tuple of another shape, a `NULL`, a line
//! break inside a row or a stream cut short is an [`io::ErrorKind::InvalidData`] error.

use std::io::{self, Read};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// NDJSON read from a binary COPY stream of one JSON column.
pub(crate) struct CopyLines<R> {
    inner: R,
    started: bool,
    done: bool,
    /// The current row and its line break, and how much of it was handed out.
    row: Vec<u8>,
    at: usize,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("COPY stream: {what}"))
}

impl<R: Read> CopyLines<R> {
    pub(crate) fn new(inner: R) -> CopyLines<R> {
        CopyLines {
            inner,
            started: false,
            done: false,
            row: Vec::new(),
            at: 0,
        }
    }

    fn exact<const N: usize>(&mut self, what: &str) -> io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.inner.read_exact(&mut b).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => invalid(&format!("cut short in {what}")),
            _ => e,
        })?;
        Ok(b)
    }

    fn header(&mut self) -> io::Result<()> {
        if &self.exact::<11>("the signature")? != SIGNATURE {
            return Err(invalid("not a binary COPY stream"));
        }
        let _flags = self.exact::<4>("the header")?;
        let extension = u32::from_be_bytes(self.exact::<4>("the header")?);
        io::copy(
            &mut (&mut self.inner).take(u64::from(extension)),
            &mut io::sink(),
        )?;
        self.started = true;
        Ok(())
    }

    /// Reads the next row into `row`; false at the end of the stream.
    fn next_row(&mut self) -> io::Result<bool> {
        let fields = i16::from_be_bytes(self.exact::<2>("a row")?);
        if fields == -1 {
            return Ok(false);
        }
        if fields != 1 {
            return Err(invalid(&format!("a row of {fields} fields, expected 1")));
        }
        let len = i32::from_be_bytes(self.exact::<4>("a row")?);
        let len = u64::try_from(len).map_err(|_| invalid("a NULL row"))?;
        self.row.clear();
        let read = (&mut self.inner).take(len).read_to_end(&mut self.row)?;
        if read as u64 != len {
            return Err(invalid("cut short in a row"));
        }
        if memchr::memchr(b'\n', &self.row).is_some() {
            return Err(invalid("a line break inside a row"));
        }
        self.row.push(b'\n');
        self.at = 0;
        Ok(true)
    }
}

impl<R: Read> Read for CopyLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.started {
            self.header()?;
        }
        let mut written = 0;
        while written < buf.len() && !self.done {
            if self.at == self.row.len() && !self.next_row()? {
                self.done = true;
                break;
            }
            let n = (self.row.len() - self.at).min(buf.len() - written);
            buf[written..written + n].copy_from_slice(&self.row[self.at..self.at + n]);
            self.at += n;
            written += n;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(rows: &[&str]) -> Vec<u8> {
        let mut b = SIGNATURE.to_vec();
        b.extend(0u32.to_be_bytes());
        b.extend(0u32.to_be_bytes());
        for r in rows {
            b.extend(1i16.to_be_bytes());
            b.extend((r.len() as i32).to_be_bytes());
            b.extend(r.as_bytes());
        }
        b.extend((-1i16).to_be_bytes());
        b
    }

    #[test]
    fn rows_become_lines() {
        let mut out = String::new();
        CopyLines::new(&stream(&[r#"{"id":"1"}"#, r#"{"id":"2"}"#])[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "{\"id\":\"1\"}\n{\"id\":\"2\"}\n");
    }

    #[test]
    fn damaged_streams_are_errors() {
        let good = stream(&[r#"{"id":"1"}"#]);
        for cut in 0..good.len() {
            let mut out = Vec::new();
            let r = CopyLines::new(&good[..cut]).read_to_end(&mut out);
            assert_eq!(
                r.unwrap_err().kind(),
                io::ErrorKind::InvalidData,
                "cut at {cut}"
            );
        }
        let mut out = Vec::new();
        let broken = stream(&["{\"id\":\n\"1\"}"]);
        assert!(CopyLines::new(&broken[..]).read_to_end(&mut out).is_err());
        assert!(CopyLines::new(&b"COPY"[..]).read_to_end(&mut out).is_err());
    }
}
