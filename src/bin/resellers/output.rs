//! Output files (`--out`): written whole or not at all, never over an input.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Writes `out` through `write`: into a new file beside it, flushed to disk, then
/// renamed over `out`, so that a crash or a full disk leaves the previous file (or
/// none) and never a truncated one, which for NDJSON cut at a line break would load
/// as a smaller hierarchy without a word. A symbolic link is written through (the file
/// it names is replaced, the link stays), an existing file's permissions are kept, the
/// new file is created only if no file of its name exists (never through a link
/// planted there), and the directory is synced after the rename. Returns the bytes
/// written.
pub(crate) fn write_whole(
    out: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let target = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    let kept = std::fs::metadata(&target).ok().map(|m| m.permissions());
    let (temporary, file) = create_beside(&target)?;
    let written = (|| {
        let mut file = BufWriter::with_capacity(1 << 20, file);
        write(&mut file)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        if let Some(permissions) = kept {
            file.set_permissions(permissions)?;
        }
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        std::fs::rename(&temporary, &target)?;
        Ok(bytes)
    })();
    match written {
        Ok(bytes) => {
            // The rename itself on disk (best effort: not every system syncs a
            // directory).
            if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(bytes)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            Err(e)
        }
    }
}

/// A new file `.NAME.PID.N.tmp` in `target`'s directory (a rename within one file
/// system), created only if nothing of that name exists.
fn create_beside(target: &Path) -> std::io::Result<(PathBuf, File)> {
    let name = target
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut attempt = 0u32;
    loop {
        let path = target.with_file_name(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            nanos.wrapping_add(attempt)
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Refuses an `--out` that names one of `inputs` (the same file by another path too):
/// the input would be replaced, an NDJSON file by a binary snapshot, say.
pub(crate) fn check_not_input<'p>(
    out: &Path,
    inputs: impl IntoIterator<Item = &'p Path>,
) -> Result<(), String> {
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
