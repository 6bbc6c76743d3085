//! [`for_each_row`]: the rows of a binary `COPY ... TO STDOUT (FORMAT binary)`, one
//! slice of fields at a time.
//!
//! # How
//!
//! A binary COPY stream is a signature (`PGCOPY\n\xff\r\n\0`), a flags word and a header
//! extension, then one tuple per row: a 16-bit field count (`-1` ends the stream) and
//! each field as a 32-bit length (`-1` for `NULL`) and its bytes, in the type's binary
//! form. One row is held at a time. The stream comes from the network: a row of another
//! width, a length past the end or a stream cut short is an
//! [`io::ErrorKind::InvalidData`] error, never a panic or a huge allocation.

use std::io::{self, Read};

use smallvec::SmallVec;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("COPY stream: {what}"))
}

fn exact<const N: usize>(r: &mut impl Read, what: &str) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => invalid(&format!("cut short in {what}")),
        _ => e,
    })?;
    Ok(b)
}

/// Calls `each` with the fields of every row (`None`: `NULL`), each row `width` fields
/// wide; returns the number of rows.
pub(crate) fn for_each_row(
    mut r: impl Read,
    width: usize,
    mut each: impl FnMut(&[Option<&[u8]>]),
) -> io::Result<usize> {
    if &exact::<11>(&mut r, "the signature")? != SIGNATURE {
        return Err(invalid("not a binary COPY stream"));
    }
    let _flags = exact::<4>(&mut r, "the header")?;
    let extension = u32::from_be_bytes(exact::<4>(&mut r, "the header")?);
    io::copy(&mut (&mut r).take(u64::from(extension)), &mut io::sink())?;
    let mut row: Vec<u8> = Vec::new();
    let mut spans: Vec<Option<(usize, usize)>> = Vec::with_capacity(width);
    let mut rows = 0;
    loop {
        let count = i16::from_be_bytes(exact::<2>(&mut r, "a row")?);
        if count == -1 {
            return Ok(rows);
        }
        if usize::try_from(count).ok() != Some(width) {
            return Err(invalid(&format!(
                "a row of {count} fields, expected {width}"
            )));
        }
        row.clear();
        spans.clear();
        for _ in 0..width {
            let len = i32::from_be_bytes(exact::<4>(&mut r, "a row")?);
            if len == -1 {
                spans.push(None);
                continue;
            }
            let len = u64::try_from(len).map_err(|_| invalid("a negative field length"))?;
            let start = row.len();
            let read = (&mut r).take(len).read_to_end(&mut row)?;
            if read as u64 != len {
                return Err(invalid("cut short in a row"));
            }
            spans.push(Some((start, row.len())));
        }
        let fields: SmallVec<[Option<&[u8]>; 8]> =
            spans.iter().map(|s| s.map(|(a, b)| &row[a..b])).collect();
        each(&fields);
        rows += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(rows: &[&[Option<&str>]]) -> Vec<u8> {
        let mut b = SIGNATURE.to_vec();
        b.extend(0u32.to_be_bytes());
        b.extend(0u32.to_be_bytes());
        for r in rows {
            b.extend((r.len() as i16).to_be_bytes());
            for f in *r {
                match f {
                    None => b.extend((-1i32).to_be_bytes()),
                    Some(t) => {
                        b.extend((t.len() as i32).to_be_bytes());
                        b.extend(t.as_bytes());
                    }
                }
            }
        }
        b.extend((-1i16).to_be_bytes());
        b
    }

    #[test]
    fn rows_and_nulls() {
        let bytes = stream(&[&[Some("1"), None], &[Some("2"), Some("1")]]);
        let mut seen = Vec::new();
        let n = for_each_row(&bytes[..], 2, |f| {
            seen.push(f.iter().map(|x| x.map(|b| b.to_vec())).collect::<Vec<_>>())
        })
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(seen[0], [Some(b"1".to_vec()), None]);
        assert_eq!(seen[1], [Some(b"2".to_vec()), Some(b"1".to_vec())]);
    }

    #[test]
    fn damaged_streams_are_errors() {
        let good = stream(&[&[Some("1"), None]]);
        for cut in 0..good.len() {
            let r = for_each_row(&good[..cut], 2, |_| {});
            assert_eq!(
                r.unwrap_err().kind(),
                io::ErrorKind::InvalidData,
                "cut at {cut}"
            );
        }
        assert!(for_each_row(&good[..], 3, |_| {}).is_err());
        assert!(for_each_row(&b"COPY"[..], 2, |_| {}).is_err());
        // A length far past the end.
        let mut huge = SIGNATURE.to_vec();
        huge.extend([0; 8]);
        huge.extend(1i16.to_be_bytes());
        huge.extend(i32::MAX.to_be_bytes());
        assert!(for_each_row(&huge[..], 1, |_| {}).is_err());
    }
}
