//! `resellers generate`: synthetic hierarchies as NDJSON, from the crate's seeded
//! generators, streamed record by record.

use std::io::{BufWriter, Write};

use reseller_hierarchy::generate::Generator;

/// Writes every record of `generator` as one NDJSON line to `out`. Without shuffling,
/// records are generated one at a time and never all held.
pub(crate) fn write_ndjson(
    generator: &Generator,
    shuffled: bool,
    out: impl Write,
) -> std::io::Result<usize> {
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut count = 0;
    let mut line = Vec::with_capacity(1 << 10);
    let mut write = |record: &reseller_hierarchy::Record| -> std::io::Result<()> {
        line.clear();
        serde_json::to_writer(&mut line, record)?;
        line.push(b'\n');
        count += 1;
        out.write_all(&line)
    };
    if shuffled {
        for record in &generator.clone().shuffled(true).generate() {
            write(record)?;
        }
    } else {
        for record in generator.stream() {
            write(&record)?;
        }
    }
    out.flush()?;
    Ok(count)
}
