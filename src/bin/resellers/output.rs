//! Output files (`--out`): written whole or not at all, never over an input.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Writes `out` through `write`: into a new file beside it, flushed to disk, then
/// renamed over `out`, so that a crash or a full disk leaves the previous file (or
/// none) and never a truncated one, which for NDJSON cut at a line break would load
/// as a smaller hierarchy without a word. Returns the bytes written.
pub(crate) fn write_whole(
    out: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let temporary = temporary_beside(out);
    let written = (|| {
        let mut file = BufWriter::with_capacity(1 << 20, File::create(&temporary)?);
        write(&mut file)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        std::fs::rename(&temporary, out)?;
        Ok(bytes)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// `.NAME.PID.tmp` in `out`'s directory (a rename within one file system).
fn temporary_beside(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    out.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Refuses an `--out` that names one of `inputs` (the same file by another path too):
/// the input would be replaced, an NDJSON file by a binary snapshot, say.
pub(crate) fn check_not_input(out: &Path, inputs: &[&Path]) -> Result<(), String> {
    let Ok(out_real) = std::fs::canonicalize(out) else {
        // No such file yet: no input can be it.
        return Ok(());
    };
    for input in inputs {
        if std::fs::canonicalize(input).is_ok_and(|real| real == out_real) {
            return Err(format!(
                "--out {} is the input file {}: it would be replaced",
                out.display(),
                input.display()
            ));
        }
    }
    Ok(())
}
