//! `perf_report -- postgres [--n N] [--rate R] [--seconds S] [--replicas R,...]`: a
//! replica that follows PostgreSQL (feature `postgres`; run under `.ci/with-postgres`,
//! which sets `RESELLERS_PG_URL`).
//!
//! - `postgres_load` beside `import_ndjson`: the same `n` records (the random shape)
//!   loaded from a table by `Follower::start` (slot, snapshot, binary COPY, parallel
//!   import, build) and imported from an NDJSON file, interleaved, two runs each, the
//!   faster of each kept;
//! - `postgres_commit_to_visible_{p50,p99,p999,max}`: for each change a writer makes
//!   (one transaction each, paced at `rate` a second for `seconds`: 50% adds, 25% name
//!   and capability updates, 15% moves, 10% removals re-attaching the children), the
//!   time from its `COMMIT` returning to `Follower::wait_for` of the LSN read after it
//!   returning, on each of `replicas` followers of the same table at once;
//!   `postgres_changes_per_s` is the rate the writer reached.

use std::io::{BufReader, Write};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use reseller_hierarchy::generate::{Generator, Shape, SplitMix};
use reseller_hierarchy::postgres::{Follower, Lsn, Source, Table};
use reseller_hierarchy::{Builder, Record};

use super::{arg, emit, quantile};

const SCHEMA: &str = "
    CREATE TABLE resellers (
        id bigint PRIMARY KEY,
        parent_id bigint REFERENCES resellers,
        name text NOT NULL DEFAULT '',
        capabilities text[] NOT NULL DEFAULT '{}',
        economic_enabled boolean NOT NULL DEFAULT false,
        attributes jsonb);
    CREATE INDEX ON resellers (parent_id);";

/// COPY text form of a value (backslash, tab and line breaks escaped).
fn copy_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn fill(client: &mut Client, records: &[Record]) {
    let mut copy = client
        .copy_in("COPY resellers (id, parent_id, name, capabilities, economic_enabled) FROM STDIN")
        .unwrap();
    let mut text = String::new();
    for r in records {
        let caps: Vec<&str> = r.capabilities.iter().map(|c| c.name()).collect();
        text.push_str(&format!(
            "{}\t{}\t{}\t{{{}}}\t{}\n",
            r.id.as_str(),
            r.parent.as_ref().map_or("\\N", |p| p.as_str()),
            copy_text(&r.name),
            caps.join(","),
            if r.economic_enabled { "t" } else { "f" },
        ));
        if text.len() > 1 << 20 {
            copy.write_all(text.as_bytes()).unwrap();
            text.clear();
        }
    }
    copy.write_all(text.as_bytes()).unwrap();
    copy.finish().unwrap();
    client.batch_execute("ANALYZE resellers").unwrap();
}

pub(crate) fn run(args: &[String]) {
    let n: usize = arg(args, "--n").unwrap_or(1_000_000);
    let rate: f64 = arg(args, "--rate").unwrap_or(1000.0);
    let seconds: f64 = arg(args, "--seconds").unwrap_or(20.0);
    let replicas: Vec<usize> = arg::<String>(args, "--replicas")
        .unwrap_or_else(|| "1,4".into())
        .split(',')
        .filter_map(|r| r.parse().ok())
        .collect();
    let server = std::env::var("RESELLERS_PG_URL")
        .expect("RESELLERS_PG_URL is not set: run under .ci/with-postgres");
    let mut admin = Client::connect(&server, NoTls).unwrap();
    admin
        .batch_execute("DROP DATABASE IF EXISTS perf_report WITH (FORCE)")
        .unwrap();
    admin.batch_execute("CREATE DATABASE perf_report").unwrap();
    let url = format!(
        "{} dbname=perf_report",
        server.replace("dbname=postgres", "")
    );
    let mut client = Client::connect(&url, NoTls).unwrap();
    client.batch_execute(SCHEMA).unwrap();

    let records = Generator::new(Shape::Random, n).seed(42).generate();
    fill(&mut client, &records);
    let file = std::env::temp_dir().join(format!("perf_report_pg_{n}.ndjson"));
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for r in &records {
            serde_json::to_writer(&mut out, r).unwrap();
            out.write_all(b"\n").unwrap();
        }
    }
    drop(records);

    let (mut pg, mut nd) = (f64::MAX, f64::MAX);
    for _ in 0..2 {
        let t = Instant::now();
        let mut b = Builder::new();
        b.read_ndjson(BufReader::new(std::fs::File::open(&file).unwrap()))
            .unwrap();
        let snap = b.build().unwrap();
        nd = nd.min(t.elapsed().as_nanos() as f64);
        assert_eq!(snap.len(), n);
        drop(snap);
        let t = Instant::now();
        let f =
            Follower::start(Source::new(&url, Table::new("resellers")).slot("perf_load")).unwrap();
        pg = pg.min(t.elapsed().as_nanos() as f64);
        assert_eq!(f.hierarchy().snapshot().len(), n);
        f.stop();
    }
    let _ = std::fs::remove_file(&file);
    emit("import_ndjson", "random", n, None, nd, "ns");
    emit("postgres_load", "random", n, None, pg, "ns");
    emit(
        "postgres_load_to_import_ratio",
        "random",
        n,
        None,
        pg / nd,
        "ratio",
    );

    let mut next_id = n as i64;
    for &r in &replicas {
        lag(&url, n, r, rate, seconds, &mut next_id);
    }
}

/// A writer's prepared statements.
struct Statements {
    add: postgres::Statement,
    update: postgres::Statement,
    relocate: postgres::Statement,
    pick: postgres::Statement,
    reattach: postgres::Statement,
    delete: postgres::Statement,
    lsn: postgres::Statement,
}

impl Statements {
    fn prepare(c: &mut Client) -> Statements {
        let mut p = |sql: &str| c.prepare(sql).unwrap();
        Statements {
            add: p("INSERT INTO resellers (id, parent_id, name, capabilities) \
                    SELECT $1::bigint, (SELECT id FROM resellers WHERE id <= $2 ORDER BY id DESC LIMIT 1), \
                    'Reseller ' || $1::bigint, '{iptv}'"),
            update: p("UPDATE resellers SET name = name || '.', capabilities = '{sip,mvno}' \
                       WHERE id = (SELECT id FROM resellers WHERE id >= $1 ORDER BY id LIMIT 1)"),
            // A parent with a smaller id than the reseller: never a cycle.
            relocate: p("UPDATE resellers SET parent_id = \
                             (SELECT id FROM resellers WHERE id <= $2 ORDER BY id DESC LIMIT 1) \
                         WHERE id = (SELECT id FROM resellers WHERE id >= $1 ORDER BY id LIMIT 1)"),
            pick: p("SELECT id, parent_id FROM resellers WHERE id >= $1 AND id > 1 ORDER BY id LIMIT 1"),
            reattach: p("UPDATE resellers SET parent_id = $2 WHERE parent_id = $1"),
            delete: p("DELETE FROM resellers WHERE id = $1"),
            lsn: p("SELECT pg_current_wal_insert_lsn()::text"),
        }
    }
}

/// One change in its own transaction; its commit time and the LSN after it. Ids `1
/// + k * writers + w` are writer `w`'s.
fn change(
    c: &mut Client,
    s: &Statements,
    rng: &mut SplitMix,
    ids: (i64, &mut i64, i64),
) -> (Instant, Lsn) {
    let (base, next, step) = ids;
    let max = base + *next * step;
    let any = |rng: &mut SplitMix| 1 + rng.below(max as usize) as i64;
    let roll = rng.below(100);
    if roll < 50 {
        *next += 1;
        c.execute(&s.add, &[&(base + *next * step), &any(rng)])
            .unwrap();
    } else if roll < 75 {
        c.execute(&s.update, &[&any(rng)]).unwrap();
    } else if roll < 90 {
        let (a, b) = (any(rng), any(rng));
        c.execute(&s.relocate, &[&a.max(b), &(a.min(b) - 1)])
            .unwrap();
    } else {
        let mut tx = c.transaction().unwrap();
        if let Some(row) = tx.query_opt(&s.pick, &[&any(rng)]).unwrap() {
            let (x, p): (i64, Option<i64>) = (row.get(0), row.get(1));
            tx.execute(&s.reattach, &[&x, &p]).unwrap();
            tx.execute(&s.delete, &[&x]).unwrap();
        }
        tx.commit().unwrap();
    }
    let committed = Instant::now();
    let lsn: String = c.query_one(&s.lsn, &[]).unwrap().get(0);
    (committed, lsn.parse().unwrap())
}

fn lag(url: &str, n: usize, replicas: usize, rate: f64, seconds: f64, next_id: &mut i64) {
    let followers: Vec<Arc<Follower>> = (0..replicas)
        .map(|i| {
            let source = Source::new(url, Table::new("resellers")).slot(&format!("perf_lag_{i}"));
            Arc::new(Follower::start(source).unwrap())
        })
        .collect();
    let mut senders = Vec::new();
    let observers: Vec<_> = followers
        .iter()
        .map(|f| {
            let (tx, rx) = mpsc::channel::<(Instant, Lsn)>();
            senders.push(tx);
            let f = f.clone();
            std::thread::spawn(move || {
                let mut lags = Vec::new();
                for (committed, lsn) in rx {
                    f.wait_for(lsn, Duration::from_secs(60)).unwrap();
                    lags.push(committed.elapsed().as_nanos() as f64);
                }
                lags
            })
        })
        .collect();
    // Two writer connections, each paced at half the rate, as a service's pool would.
    const WRITERS: usize = 2;
    let count = (rate * seconds) as usize / WRITERS;
    let start = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let senders = senders.clone();
            let url = url.to_string();
            let base = *next_id;
            std::thread::spawn(move || {
                let mut c = Client::connect(&url, NoTls).unwrap();
                let statements = Statements::prepare(&mut c);
                let mut rng = SplitMix::new(7 + (replicas * WRITERS + w) as u64);
                let mut next = 0i64;
                let per_writer = rate / WRITERS as f64;
                for i in 0..count {
                    let due = start + Duration::from_secs_f64(i as f64 / per_writer);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let ids = (base + 1 + w as i64, &mut next, WRITERS as i64);
                    let sent = change(&mut c, &statements, &mut rng, ids);
                    for s in &senders {
                        s.send(sent).unwrap();
                    }
                }
                next
            })
        })
        .collect();
    let mut made = 0;
    for w in writers {
        made = made.max(w.join().unwrap());
    }
    *next_id += (made + 1) * WRITERS as i64;
    let count = count * WRITERS;
    let achieved = count as f64 / start.elapsed().as_secs_f64();
    drop(senders);
    let mut lags = Vec::new();
    for o in observers {
        lags.extend(o.join().unwrap());
    }
    let shape = format!(
        "random, {replicas} replica{}",
        if replicas == 1 { "" } else { "s" }
    );
    emit("postgres_changes_per_s", &shape, n, None, achieved, "1/s");
    if lags.is_empty() {
        return; // no replica: the writers' rate alone
    }
    for (name, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999), ("max", 1.0)] {
        emit(
            &format!("postgres_commit_to_visible_{name}"),
            &shape,
            n,
            None,
            quantile(lags.clone(), q),
            "ns",
        );
    }
    for f in followers {
        if let Ok(f) = Arc::try_unwrap(f) {
            f.stop();
        }
    }
}
