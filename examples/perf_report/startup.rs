//! `perf_report -- startup [--n N] [--ids decimal|object-id]`: how fast a replica starts
//! and how much it holds, as issue 12 measures it, every figure beside `build` of the
//! same run.
//!
//! - `build`: records already in memory → snapshot;
//! - `import_ndjson_reference`: the NDJSON file → snapshot the way the reader did before
//!   the parallel import (each line parsed into a `serde_json::Value` on one thread,
//!   then into a `Record`, then `Snapshot::build`);
//! - `import_ndjson`: the same file through `Builder::read_ndjson` and `build`, and its
//!   halves timed apart: `import_ndjson_read` (file → builder) and
//!   `import_ndjson_build` (builder → snapshot);
//! - `snapshot_save`, `snapshot_load`: the snapshot to a file and back (`Snapshot::save`,
//!   `Snapshot::load`), with `snapshot_file_bytes`; `loaded_first_query`: the first
//!   query of the loaded snapshot (a page and the count of its largest downline), cold;
//! - `rss_bytes_per_reseller`, `index_bytes_per_reseller`, `payload_bytes_per_reseller`,
//!   `import_peak_rss_ratio`: from a child process that imports the file, its resident
//!   size after the import less its resident size before (a process that holds
//!   nothing), and its peak (`VmHWM`) over what it holds afterwards; the same for a
//!   child that loads the snapshot file (`snapshot_rss_bytes_per_reseller`,
//!   `snapshot_load_peak_rss_ratio`).
//!
//! The file is generated into the temporary directory (the random shape, 14-character
//! object ids by default as in issue 12's export, or decimal ids); its reads come from
//! the page cache, as a restart's do.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use reseller_hierarchy::generate::{Generator, IdStyle, Shape};
use reseller_hierarchy::{Builder, Order, PageRequest, Record, Snapshot};

use super::{arg, emit, median, rss};

/// Peak resident set size of this process (`VmHWM`), in bytes (Linux).
fn peak_rss() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib * 1024.0)
}

/// The reader as it was before the parallel import: one `Value` a line, then a record.
fn import_reference(path: &Path) -> Snapshot {
    let reader = BufReader::new(std::fs::File::open(path).unwrap());
    let mut records = Vec::new();
    for line in reader.split(b'\n') {
        let line = line.unwrap();
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        records.push(serde_json::from_value::<Record>(value).unwrap());
    }
    Snapshot::build(records).unwrap()
}

fn import(path: &Path) -> Snapshot {
    let mut b = Builder::new();
    b.read_ndjson(BufReader::new(std::fs::File::open(path).unwrap()))
        .unwrap();
    b.build().unwrap()
}

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let out = f();
    (t.elapsed().as_nanos() as f64, out)
}

/// `perf_report -- startup-child FILE [--snapshot]`: imports FILE (or loads it as a
/// snapshot file) and prints its resident sizes as
/// one JSON object (run by [`run`] in a fresh process).
pub(crate) fn child(args: &[String]) {
    let path = PathBuf::from(
        args.iter()
            .skip_while(|a| *a != "startup-child")
            .nth(1)
            .unwrap(),
    );
    let before = rss();
    let snap = if args.iter().any(|a| a == "--snapshot") {
        Snapshot::load(BufReader::new(std::fs::File::open(&path).unwrap())).unwrap()
    } else {
        import(&path)
    };
    let after = rss();
    let peak = peak_rss();
    let payload: usize = snap
        .iter()
        .map(|r| r.id().as_str().len() + r.name().len())
        .sum();
    println!(
        "{}",
        serde_json::json!({"before": before, "after": after, "peak": peak,
            "n": snap.len(), "index_bytes": snap.index_bytes(), "payload_bytes": payload})
    );
}

pub(crate) fn run(args: &[String]) {
    let n: usize = arg(args, "--n").unwrap_or(1_000_000);
    let ids = match arg::<String>(args, "--ids").as_deref() {
        Some("object-id") => IdStyle::ObjectId,
        _ => IdStyle::Decimal,
    };
    let shape = Shape::Random;
    let name = shape.name();
    let dir =
        std::env::temp_dir().join(format!("reseller-hierarchy-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("resellers.ndjson");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for r in Generator::new(shape, n).seed(42).ids(ids).stream() {
            serde_json::to_writer(&mut out, &r).unwrap();
            out.write_all(b"\n").unwrap();
        }
        out.flush().unwrap();
    }
    let bytes = std::fs::metadata(&file).unwrap().len();
    emit("ndjson_file_bytes", name, n, None, bytes as f64, "bytes");

    // Alternating, median of 3 each (one of the reference: it takes seconds).
    let records = Generator::new(shape, n).seed(42).ids(ids).generate();
    let (mut build, mut imports) = (Vec::new(), Vec::new());
    let (mut parses, mut builds_from_columns) = (Vec::new(), Vec::new());
    let (reference, snap) = time(|| import_reference(&file));
    drop(snap);
    for _ in 0..3 {
        let input = records.clone();
        let (t, snap) = time(|| Snapshot::build(input).unwrap());
        build.push(t);
        drop(snap);
        let (t, snap) = time(|| import(&file));
        imports.push(t);
        drop(snap);
        // The same, its two halves timed apart.
        let (t, b) = time(|| {
            let mut b = Builder::new();
            b.read_ndjson(BufReader::new(std::fs::File::open(&file).unwrap()))
                .unwrap();
            b
        });
        parses.push(t);
        let (t, snap) = time(|| b.build().unwrap());
        builds_from_columns.push(t);
        drop(snap);
    }
    drop(records);
    emit("build", name, n, None, median(build), "ns");
    emit("import_ndjson_reference", name, n, None, reference, "ns");
    emit("import_ndjson", name, n, None, median(imports), "ns");
    emit("import_ndjson_read", name, n, None, median(parses), "ns");
    emit(
        "import_ndjson_build",
        name,
        n,
        None,
        median(builds_from_columns),
        "ns",
    );

    let snap_file = dir.join("resellers.snapshot");
    let snap = import(&file);
    let (mut saves, mut loads) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (t, ()) = time(|| {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&snap_file).unwrap());
            snap.save(&mut out).unwrap();
            out.flush().unwrap();
        });
        saves.push(t);
        let (t, loaded) =
            time(|| Snapshot::load(std::fs::File::open(&snap_file).unwrap()).unwrap());
        assert_eq!(loaded.len(), snap.len());
        loads.push(t);
        drop(loaded);
    }
    drop(snap);
    // The loaded hierarchy answers: its largest downline's first page and count.
    let loaded = Snapshot::load(std::fs::File::open(&snap_file).unwrap()).unwrap();
    let root = loaded
        .iter()
        .max_by_key(|r| r.downline_len())
        .unwrap()
        .id()
        .to_owned();
    let (t, count) = time(|| {
        let page = loaded
            .downline(&root, Order::PreOrder, PageRequest::default())
            .unwrap();
        std::hint::black_box(page.iter().count());
        loaded.downline_count(&root).unwrap()
    });
    assert_eq!(count + 1, loaded.len().min(count + 1));
    emit("loaded_first_query", name, n, Some(count), t, "ns");
    drop(loaded);
    emit("snapshot_save", name, n, None, median(saves), "ns");
    emit("snapshot_load", name, n, None, median(loads), "ns");
    let snap_bytes = std::fs::metadata(&snap_file).unwrap().len();
    emit(
        "snapshot_file_bytes",
        name,
        n,
        None,
        snap_bytes as f64,
        "bytes",
    );

    // Memory, in a fresh process that imports the file, and one that loads the snapshot.
    let exe = std::env::current_exe().unwrap();
    let measure = |path: &Path, snapshot: bool| -> serde_json::Value {
        let mut cmd = Command::new(&exe);
        cmd.args(["startup-child", path.to_str().unwrap()]);
        if snapshot {
            cmd.arg("--snapshot");
        }
        serde_json::from_slice(&cmd.output().unwrap().stdout).unwrap_or_default()
    };
    for (prefix, path, snapshot) in [("", &file, false), ("snapshot_", &snap_file, true)] {
        let m = measure(path, snapshot);
        let f = |k: &str| m[k].as_f64().unwrap_or(f64::NAN);
        let held = f("after") - f("before");
        emit(
            &format!("{prefix}rss_bytes_per_reseller"),
            name,
            n,
            None,
            held / n as f64,
            "bytes",
        );
        if !snapshot {
            emit(
                "index_bytes_per_reseller",
                name,
                n,
                None,
                f("index_bytes") / n as f64,
                "bytes",
            );
            emit(
                "payload_bytes_per_reseller",
                name,
                n,
                None,
                f("payload_bytes") / n as f64,
                "bytes",
            );
        }
        let peak = (f("peak") - f("before")) / held;
        let metric = if snapshot {
            "snapshot_load_peak_rss_ratio"
        } else {
            "import_peak_rss_ratio"
        };
        emit(metric, name, n, None, peak, "ratio");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
