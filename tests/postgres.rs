//! The PostgreSQL follower against a real server (run under `.ci/with-postgres`, which
//! starts a throwaway cluster and sets `RESELLERS_PG_URL` and `RESELLERS_PG_RESTART`).
//!
//! Every replica is compared with an independent model of the table: its rows read
//! with a plain `SELECT`, children sorted by id, walked with an explicit stack.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use reseller_hierarchy::postgres::{FollowError, Follower, Health, Lsn, RowChange, Source, Table};
use reseller_hierarchy::Id;
use reseller_hierarchy::{Capability, MutationError, Order, PageRequest, ResellerId, Snapshot};

fn server() -> String {
    std::env::var("RESELLERS_PG_URL").expect(
        "RESELLERS_PG_URL is not set: run the tests under .ci/with-postgres \
         (it starts a throwaway PostgreSQL cluster)",
    )
}

/// The tests run one at a time: one restarts the server under all connections.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fresh database for one test; its connection string.
fn database(name: &str) -> String {
    let mut admin = Client::connect(&server(), NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    format!("{} dbname={name}", server().replace("dbname=postgres", ""))
}

fn connect(url: &str) -> Client {
    Client::connect(url, NoTls).unwrap()
}

const SCHEMA: &str = "
    CREATE TABLE resellers (
        id bigint PRIMARY KEY,
        parent_id bigint REFERENCES resellers,
        name text NOT NULL DEFAULT '',
        capabilities text[] NOT NULL DEFAULT '{}',
        economic_enabled boolean NOT NULL DEFAULT false,
        attributes jsonb
    );
    CREATE INDEX ON resellers (parent_id);
    CREATE SEQUENCE reseller_ids;";

/// A small deterministic generator (xorshift*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const CAPS: [&str; 5] = ["iptv", "iptv_private", "flexcare", "sip", "mvno"];

fn caps(rng: &mut Rng) -> String {
    let picked: Vec<&str> = CAPS.iter().copied().filter(|_| rng.below(3) == 0).collect();
    format!("{{{}}}", picked.join(","))
}

/// `n` rows: ids 1..=n, each under a random earlier row (a root in 1 of 500), loaded
/// with COPY; the sequence moves past them.
fn seed(client: &mut Client, n: u64, rng: &mut Rng) {
    let mut copy = client
        .copy_in("COPY resellers (id, parent_id, name, capabilities, economic_enabled, attributes) FROM STDIN")
        .unwrap();
    let mut text = String::new();
    for id in 1..=n {
        let parent = if id == 1 || rng.below(500) == 0 {
            "\\N".to_string()
        } else {
            (1 + rng.below(id - 1)).to_string()
        };
        let attributes = if rng.below(4) == 0 {
            format!("{{\"company\": {{\"vat\": \"DK{}\"}}}}", rng.below(100_000))
        } else {
            "\\N".into()
        };
        let economic = if rng.below(2) == 0 { "t" } else { "f" };
        text.push_str(&format!(
            "{id}\t{parent}\tCompany {id}\t{}\t{economic}\t{attributes}\n",
            caps(rng)
        ));
        if text.len() > 1 << 20 {
            std::io::Write::write_all(&mut copy, text.as_bytes()).unwrap();
            text.clear();
        }
    }
    std::io::Write::write_all(&mut copy, text.as_bytes()).unwrap();
    copy.finish().unwrap();
    client
        .batch_execute(&format!("SELECT setval('reseller_ids', {n})"))
        .unwrap();
}

/// A row as the model holds it.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    id: String,
    parent: Option<String>,
    name: String,
    caps: Vec<String>,
    economic: bool,
    attributes: Option<serde_json::Value>,
}

/// The table, read with a plain SELECT.
fn rows(url: &str) -> Vec<Row> {
    connect(url)
        .query(
            "SELECT id::text, parent_id::text, name, capabilities, economic_enabled, attributes::text \
             FROM resellers",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| Row {
            id: r.get(0),
            parent: r.get(1),
            name: r.get(2),
            caps: r.get(3),
            economic: r.get(4),
            attributes: r
                .get::<_, Option<String>>(5)
                .map(|t| serde_json::from_str(&t).unwrap()),
        })
        .collect()
}

/// The model's pre-order: roots and children by numeric id, walked with a stack.
fn model_preorder(rows: &[Row]) -> Vec<Row> {
    let num = |s: &str| s.parse::<i64>().unwrap();
    let mut children: HashMap<Option<&str>, Vec<&Row>> = HashMap::new();
    for r in rows {
        children.entry(r.parent.as_deref()).or_default().push(r);
    }
    for list in children.values_mut() {
        list.sort_by_key(|r| num(&r.id));
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut stack: Vec<&Row> = children
        .get(&None)
        .into_iter()
        .flatten()
        .rev()
        .copied()
        .collect();
    while let Some(r) = stack.pop() {
        out.push(r.clone());
        if let Some(kids) = children.get(&Some(r.id.as_str())) {
            stack.extend(kids.iter().rev());
        }
    }
    assert_eq!(out.len(), rows.len(), "the table is not a forest");
    out
}

/// The replica's pre-order, as model rows.
fn replica_preorder(snap: &Snapshot) -> Vec<Row> {
    snap.iter()
        .map(|r| {
            let mut caps: Vec<String> = r
                .capabilities()
                .iter()
                .map(|c| c.name().to_string())
                .collect();
            caps.sort();
            Row {
                id: r.id().as_str().to_string(),
                parent: r.parent().map(|p| p.as_str().to_string()),
                name: r.name().to_string(),
                caps,
                economic: r.economic_enabled(),
                attributes: r
                    .attributes()
                    .as_json()
                    .map(|t| serde_json::from_str(t).unwrap()),
            }
        })
        .collect()
}

/// The replica equals the table: every reseller, its fields, and sibling order (so
/// every listing), plus level-order downlines of a few resellers against the model's
/// breadth-first walk.
fn assert_equals_table(snap: &Snapshot, url: &str) {
    let mut model = model_preorder(&rows(url));
    for r in &mut model {
        r.caps.sort();
    }
    let replica = replica_preorder(snap);
    assert_eq!(replica.len(), model.len(), "reseller count");
    if let Some(i) = (0..model.len()).find(|&i| replica[i] != model[i]) {
        panic!(
            "pre-order differs at {i}: replica {:?}, table {:?}",
            replica[i], model[i]
        );
    }
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in &model {
        if let Some(p) = &r.parent {
            children.entry(p.as_str()).or_default().push(&r.id);
        }
    }
    for r in model.iter().step_by((model.len() / 20).max(1)) {
        let mut expected = Vec::new();
        let mut level: Vec<&str> = vec![&r.id];
        while !level.is_empty() {
            level = level
                .iter()
                .flat_map(|p| children.get(p).into_iter().flatten().copied())
                .collect();
            expected.extend(level.iter().map(|s| s.to_string()));
        }
        expected.truncate(1000);
        let page = snap
            .downline(
                &ResellerId::from(r.id.as_str()),
                Order::LevelOrder,
                PageRequest::new(1, 1000).unwrap(),
            )
            .unwrap();
        let got: Vec<String> = page.iter().map(|x| x.id().as_str().to_string()).collect();
        assert_eq!(got, expected, "level-order downline of {}", r.id);
    }
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The error the follower stopped on, waiting at most `timeout` for it to stop.
fn stopped_on(f: &Follower, timeout: Duration) -> Arc<FollowError> {
    wait_until("the follower to stop", timeout, || {
        matches!(f.health(), Health::Stopped { .. })
    });
    match f.health() {
        Health::Stopped { error } => error,
        other => panic!("{other}"),
    }
}

fn current_lsn(client: &mut Client) -> Lsn {
    let text: String = client
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .unwrap()
        .get(0);
    text.parse().unwrap()
}

fn source(url: &str, slot: &str) -> Source {
    Source::new(url, Table::new("resellers")).slot(slot)
}

#[test]
fn initial_load_of_100_000_rows_equals_the_table() {
    let _serial = serial();
    let url = database("follow_load");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    seed(&mut c, 100_000, &mut Rng(7));
    let f = Follower::start(source(&url, "load_a")).unwrap();
    assert_eq!(f.hierarchy().snapshot().len(), 100_000);
    assert_equals_table(&f.hierarchy().snapshot(), &url);
    assert!(f.health().is_following());
}

/// One writer operation in its own transaction; `Ok(false)` when it found nothing to
/// do. Adds sometimes take their id first and commit later (out of id order); moves
/// and removals serialize on an advisory lock and never close a cycle.
fn write_one(c: &mut Client, rng: &mut Rng) -> Result<bool, postgres::Error> {
    let max: i64 = c
        .query_one("SELECT last_value FROM reseller_ids", &[])?
        .get(0);
    let pick = |c: &mut Client, rng: &mut Rng| -> Result<Option<i64>, postgres::Error> {
        let from = 1 + rng.below(max as u64) as i64;
        Ok(c.query_opt(
            "SELECT id FROM resellers WHERE id >= $1 ORDER BY id LIMIT 1",
            &[&from],
        )?
        .map(|r| r.get(0)))
    };
    let roll = rng.below(100);
    let mut tx = c.transaction()?;
    let done = if roll < 50 {
        let id: i64 = tx.query_one("SELECT nextval('reseller_ids')", &[])?.get(0);
        if rng.below(4) == 0 {
            std::thread::sleep(Duration::from_millis(rng.below(30)));
        }
        let from = 1 + rng.below(max as u64) as i64;
        let parent: Option<i64> = tx
            .query_opt(
                "SELECT id FROM resellers WHERE id >= $1 ORDER BY id LIMIT 1",
                &[&from],
            )?
            .map(|r| r.get(0));
        let caps = caps(rng);
        tx.execute(
            "INSERT INTO resellers (id, parent_id, name, capabilities, attributes) \
             VALUES ($1, $2, $3, $4::text::text[], $5::text::jsonb)",
            &[
                &id,
                &parent,
                &format!("New {id}"),
                &caps,
                &(rng.below(3) == 0).then(|| format!("{{\"n\": {id}}}")),
            ],
        )?;
        if rng.below(4) == 0 {
            std::thread::sleep(Duration::from_millis(rng.below(30)));
        }
        true
    } else if roll < 75 {
        tx.execute("SELECT pg_advisory_xact_lock(1)", &[])?;
        drop(tx);
        let (x, p) = (pick(c, rng)?, pick(c, rng)?);
        let mut tx = c.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock(1)", &[])?;
        let (Some(x), Some(p)) = (x, p) else {
            return Ok(false);
        };
        // p must not be x or below x: walk up from p.
        let below: bool = tx
            .query_one(
                "WITH RECURSIVE up(id, parent_id) AS (
                     SELECT id, parent_id FROM resellers WHERE id = $2
                     UNION ALL
                     SELECT r.id, r.parent_id FROM resellers r JOIN up ON r.id = up.parent_id)
                 SELECT coalesce(bool_or(id = $1), true) FROM up",
                &[&x, &p],
            )?
            .get(0);
        if below {
            return Ok(false);
        }
        let to_root = rng.below(20) == 0;
        tx.execute(
            "UPDATE resellers SET parent_id = $2 WHERE id = $1",
            &[&x, &if to_root { None } else { Some(p) }],
        )?;
        tx.commit()?;
        return Ok(true);
    } else if roll < 85 {
        tx.execute("SELECT pg_advisory_xact_lock(1)", &[])?;
        let from = 1 + rng.below(max as u64) as i64;
        let Some(row) = tx.query_opt(
            // Never reseller 1: the reader pages its downline throughout.
            "SELECT id, parent_id FROM resellers WHERE id >= $1 AND id > 1 ORDER BY id LIMIT 1",
            &[&from],
        )?
        else {
            return Ok(false);
        };
        let (x, parent): (i64, Option<i64>) = (row.get(0), row.get(1));
        tx.execute(
            "UPDATE resellers SET parent_id = $2 WHERE parent_id = $1",
            &[&x, &parent],
        )?;
        tx.execute("DELETE FROM resellers WHERE id = $1", &[&x])?;
        true
    } else {
        let from = 1 + rng.below(max as u64) as i64;
        let caps = caps(rng);
        tx.execute(
            "UPDATE resellers SET capabilities = $2::text::text[], economic_enabled = NOT economic_enabled \
             WHERE id = (SELECT id FROM resellers WHERE id >= $1 ORDER BY id LIMIT 1)",
            &[&from, &caps],
        )? > 0
    };
    tx.commit()?;
    Ok(done)
}

/// Writers that each make `per_writer` changes, reconnecting through faults.
fn writers(
    url: &str,
    n: usize,
    per_writer: usize,
    done: Arc<AtomicUsize>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..n)
        .map(|w| {
            let (url, done) = (url.to_string(), done.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9 + w as u64 * 7919);
                let mut client = None;
                let mut made = 0;
                while made < per_writer {
                    let c = match &mut client {
                        Some(c) => c,
                        None => match Client::connect(&url, NoTls) {
                            Ok(c) => client.insert(c),
                            Err(_) => {
                                std::thread::sleep(Duration::from_millis(50));
                                continue;
                            }
                        },
                    };
                    match write_one(c, &mut rng) {
                        Ok(true) => {
                            made += 1;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(false) => {}
                        Err(_) => {
                            // A conflict (a parent removed meanwhile) or the server gone.
                            if c.is_closed() {
                                client = None;
                            }
                        }
                    }
                }
            })
        })
        .collect()
}

#[test]
fn ten_thousand_concurrent_changes_through_a_killed_connection_and_a_restart() {
    let _serial = serial();
    let url = database("follow_stream");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    seed(&mut c, 100_000, &mut Rng(11));
    let a = Follower::start(source(&url, "stream_a")).unwrap();
    let b = Follower::start(source(&url, "stream_b")).unwrap();
    let first_version = a.hierarchy().snapshot().version();

    let done = Arc::new(AtomicUsize::new(0));
    let threads = writers(&url, 4, 2_500, done.clone());
    // A reader paging through replica A the whole time.
    let reading = Arc::new(AtomicBool::new(true));
    let reader = {
        let (h, reading) = (a.hierarchy().clone(), reading.clone());
        std::thread::spawn(move || {
            let mut pages = 0u64;
            while reading.load(Ordering::Relaxed) {
                let snap = h.snapshot();
                let page = snap
                    .downline(
                        Id::new("1"),
                        Order::PreOrder,
                        PageRequest::new(1, 100).unwrap(),
                    )
                    .unwrap();
                assert_eq!(page.len() as u64, (page.total() as u64).min(100));
                pages += 1;
            }
            pages
        })
    };

    wait_until("3,000 changes", Duration::from_secs(300), || {
        done.load(Ordering::Relaxed) >= 3_000
    });
    let killed: i64 = c
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'stream_a'",
            &[],
        )
        .unwrap()
        .get(0);
    // The replication connection (and, during a reconnect, its SQL connection).
    assert!(killed >= 1, "replica A's connection was not found");
    wait_until("6,000 changes", Duration::from_secs(300), || {
        done.load(Ordering::Relaxed) >= 6_000
    });
    let restart = std::env::var("RESELLERS_PG_RESTART").expect("RESELLERS_PG_RESTART is not set");
    let status = std::process::Command::new(&restart).status().unwrap();
    assert!(status.success(), "restarting the server failed");
    for t in threads {
        t.join().unwrap();
    }
    assert!(done.load(Ordering::Relaxed) >= 10_000);

    let mut c = connect(&url);
    let lsn = current_lsn(&mut c);
    let snap_a = a
        .wait_for(lsn, Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e}; A is {}", a.health()));
    let snap_b = b
        .wait_for(lsn, Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e}; B is {}", b.health()));
    reading.store(false, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert!(a.health().is_following(), "{}", a.health());
    assert!(b.health().is_following(), "{}", b.health());
    // Nothing lost or doubled: both equal the table, and so each other.
    assert_equals_table(&snap_a, &url);
    assert_equals_table(&snap_b, &url);
    assert_eq!(replica_preorder(&snap_a), replica_preorder(&snap_b));
    // Followed change by change, not reloaded: many versions since the load.
    assert!(
        snap_a.version() > first_version + 1000,
        "version {}",
        snap_a.version()
    );
}

#[test]
fn read_your_writes() {
    let _serial = serial();
    let url = database("follow_ryw");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    seed(&mut c, 1_000, &mut Rng(3));
    let f = Follower::start(source(&url, "ryw")).unwrap();
    for i in 0..50i64 {
        let id = 10_000 + i;
        c.execute(
            "INSERT INTO resellers (id, parent_id, name) VALUES ($1, 1, 'fresh')",
            &[&id],
        )
        .unwrap();
        let lsn = current_lsn(&mut c);
        let snap = f.wait_for(lsn, Duration::from_secs(30)).unwrap();
        let r = snap
            .get(&ResellerId::from(id as u64))
            .expect("own write not visible");
        assert_eq!(r.parent().map(|p| p.as_str()), Some("1"));
    }
    // A write to another table moves the log on with nothing to apply: waiting for its
    // position still returns, with the last write visible.
    c.batch_execute("CREATE TABLE other (x int)").unwrap();
    for _ in 0..5 {
        c.execute("INSERT INTO other VALUES (1)", &[]).unwrap();
        let lsn = current_lsn(&mut c);
        let snap = f.wait_for(lsn, Duration::from_secs(10)).unwrap();
        assert!(snap.get(&ResellerId::from(10_049u64)).is_some());
    }
    // A position nobody reached yet times out.
    let far = Lsn::new(current_lsn(&mut c).get() + (1 << 40));
    assert!(f.wait_for(far, Duration::from_millis(50)).is_err());
}

#[test]
fn a_refused_change_stops_the_follower_and_the_last_version_stays() {
    let _serial = serial();
    let url = database("follow_refused");
    let mut c = connect(&url);
    // No foreign key: the database lets a cycle through; the engine does not.
    c.batch_execute(&SCHEMA.replace("REFERENCES resellers", ""))
        .unwrap();
    seed(&mut c, 100, &mut Rng(5));
    let f = Follower::start(source(&url, "refused")).unwrap();
    c.execute("INSERT INTO resellers (id, parent_id) VALUES (500, 1)", &[])
        .unwrap();
    let lsn = current_lsn(&mut c);
    let good = f.wait_for(lsn, Duration::from_secs(30)).unwrap();
    // A valid transaction, then at once one that puts 1 under 500, which is under 1: a
    // cycle, in one transaction with a valid insert. (Back to back, the two may be
    // applied as one group: the valid one must still be published alone.)
    c.execute("INSERT INTO resellers (id, parent_id) VALUES (499, 3)", &[])
        .unwrap();
    c.batch_execute(
        "BEGIN; INSERT INTO resellers (id, parent_id) VALUES (501, 2); \
         UPDATE resellers SET parent_id = 500 WHERE id = 1; COMMIT;",
    )
    .unwrap();
    let error = stopped_on(&f, Duration::from_secs(30));
    let FollowError::Refused {
        event,
        commit,
        error: why,
    } = &*error
    else {
        panic!("not a refusal: {error}");
    };
    assert_eq!(event.change, RowChange::Update);
    assert_eq!(event.id.as_str(), "1");
    assert!(event.lsn <= *commit);
    assert!(
        matches!(why, MutationError::MoveUnderOwnDownline { .. }),
        "{why}"
    );
    // Nothing of the transaction applied; the last good version is served.
    let now = f.hierarchy().snapshot();
    assert_eq!(now.version(), good.version() + 1);
    assert!(now.get(Id::new("499")).is_some());
    assert!(now.get(Id::new("501")).is_none());
    assert_eq!(now.get(Id::new("1")).unwrap().parent(), None);
    // Later changes are not applied either.
    c.execute("INSERT INTO resellers (id, parent_id) VALUES (502, 2)", &[])
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(f.hierarchy().snapshot().get(Id::new("502")).is_none());
}

#[test]
fn a_lost_slot_or_a_truncate_reloads_the_table() {
    let _serial = serial();
    let url = database("follow_gap");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    seed(&mut c, 2_000, &mut Rng(9));
    let f = Follower::start(source(&url, "gap")).unwrap();
    let v0 = f.hierarchy().snapshot().version();
    // Cut the follower off and drop its slot before it reconnects.
    let mut dropped = false;
    for _ in 0..200 {
        c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gap'",
            &[],
        )
        .unwrap();
        if c.execute("SELECT pg_drop_replication_slot('gap')", &[])
            .is_ok()
        {
            dropped = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(dropped, "could not drop the slot");
    c.execute(
        "UPDATE resellers SET name = 'changed while the slot was gone' WHERE id = 2",
        &[],
    )
    .unwrap();
    let lsn = current_lsn(&mut c);
    let snap = f
        .wait_for(lsn, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}; {}", f.health()));
    assert!(snap.version() > v0);
    assert_equals_table(&snap, &url);

    c.batch_execute(
        "TRUNCATE resellers CASCADE; INSERT INTO resellers (id, parent_id, name) VALUES (1, NULL, 'after'), (2, 1, 'truncate');",
    )
    .unwrap();
    let lsn = current_lsn(&mut c);
    let snap = f
        .wait_for(lsn, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}; {}", f.health()));
    assert_eq!(snap.len(), 2);
    assert_equals_table(&snap, &url);
    wait_until("following again", Duration::from_secs(10), || {
        f.health().is_following()
    });
}

#[test]
fn a_table_dropped_and_created_again_or_swapped_in_by_renames_is_loaded_again() {
    let _serial = serial();
    let url = database("follow_recreate");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    seed(&mut c, 300, &mut Rng(31));
    let f = Follower::start(source(&url, "recreate")).unwrap();
    let wait = |c: &mut Client| {
        let lsn = current_lsn(c);
        f.wait_for(lsn, Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{e}; health {}", f.health()))
    };
    // Dropped and created again: the publication no longer lists it, and nothing of
    // the new table comes by the stream.
    c.batch_execute(&format!(
        "DROP TABLE resellers; DROP SEQUENCE reseller_ids; {SCHEMA}"
    ))
    .unwrap();
    c.batch_execute("INSERT INTO resellers (id, parent_id, name) VALUES (10, NULL, 'new'), (11, 10, 'new child')")
        .unwrap();
    let snap = wait(&mut c);
    assert_equals_table(&snap, &url);
    assert_eq!(snap.len(), 2);
    // Its changes are followed from then on.
    c.execute("INSERT INTO resellers (id, parent_id) VALUES (12, 11)", &[])
        .unwrap();
    let snap = wait(&mut c);
    assert_equals_table(&snap, &url);
    assert_eq!(snap.len(), 3);
    // Swapped in by renames: a copy with one more row takes the name, the old table
    // goes on under another.
    c.batch_execute(
        "CREATE TABLE resellers_new (LIKE resellers INCLUDING ALL); \
         INSERT INTO resellers_new SELECT * FROM resellers; \
         INSERT INTO resellers_new (id, parent_id) VALUES (13, 10); \
         BEGIN; ALTER TABLE resellers RENAME TO resellers_old; \
         ALTER TABLE resellers_new RENAME TO resellers; COMMIT;",
    )
    .unwrap();
    let snap = wait(&mut c);
    assert_equals_table(&snap, &url);
    assert!(snap.get(Id::new("13")).is_some());
    c.batch_execute(
        "INSERT INTO resellers_old (id, parent_id) VALUES (99, 10); \
         INSERT INTO resellers (id, parent_id) VALUES (14, 13);",
    )
    .unwrap();
    let snap = wait(&mut c);
    assert_equals_table(&snap, &url);
    assert!(snap.get(Id::new("99")).is_none());
    wait_until("following again", Duration::from_secs(10), || {
        f.health().is_following()
    });
    // The table taken out of the publication: none of its changes would come, so the
    // follower stops, saying why, rather than let its position run ahead.
    c.batch_execute("ALTER PUBLICATION reseller_hierarchy DROP TABLE resellers")
        .unwrap();
    c.execute("INSERT INTO resellers (id, parent_id) VALUES (15, 10)", &[])
        .unwrap();
    let lsn = current_lsn(&mut c);
    assert!(f.wait_for(lsn, Duration::from_secs(5)).is_err());
    let error = stopped_on(&f, Duration::from_secs(30));
    assert!(
        matches!(&*error, FollowError::Setup { reason } if reason.contains("no longer lists")),
        "{error}"
    );
}

#[test]
fn a_table_created_again_under_a_role_that_may_not_alter_the_publication_stops() {
    let _serial = serial();
    let url = database("follow_role");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    seed(&mut c, 50, &mut Rng(37));
    c.batch_execute(
        "DROP ROLE IF EXISTS follower_role;
         CREATE ROLE follower_role LOGIN REPLICATION;
         GRANT SELECT ON resellers TO follower_role;
         CREATE PUBLICATION reseller_hierarchy FOR TABLE ONLY resellers;",
    )
    .unwrap();
    assert!(url.contains("user=postgres"), "{url}");
    let as_role = url.replace("user=postgres", "user=follower_role");
    let f = Follower::start(source(&as_role, "role")).unwrap();
    c.batch_execute(&format!(
        "DROP TABLE resellers; DROP SEQUENCE reseller_ids; {SCHEMA}
         GRANT SELECT ON resellers TO follower_role;
         INSERT INTO resellers (id, parent_id) VALUES (1, NULL);"
    ))
    .unwrap();
    let error = stopped_on(&f, Duration::from_secs(60));
    assert!(
        matches!(&*error, FollowError::Setup { reason } if reason.contains("ALTER PUBLICATION")),
        "{error}"
    );
    f.stop();
}

#[test]
fn changes_undone_within_one_transaction() {
    let _serial = serial();
    let url = database("follow_undo");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    seed(&mut c, 2_000, &mut Rng(17));
    let f = Follower::start(source(&url, "undo")).unwrap();
    let row = c
        .query_one(
            "SELECT name, capabilities::text, parent_id FROM resellers WHERE id = 700",
            &[],
        )
        .unwrap();
    let (name, caps, parent): (String, String, Option<i64>) = (row.get(0), row.get(1), row.get(2));
    // Fields changed and changed back, a move and a move back, in one transaction each.
    let mut tx = c.transaction().unwrap();
    tx.execute(
        "UPDATE resellers SET name = 'B', capabilities = '{sip}' WHERE id = 700",
        &[],
    )
    .unwrap();
    tx.execute(
        "UPDATE resellers SET name = $1, capabilities = $2::text::text[] WHERE id = 700",
        &[&name, &caps],
    )
    .unwrap();
    tx.commit().unwrap();
    let mut tx = c.transaction().unwrap();
    tx.execute("UPDATE resellers SET parent_id = NULL WHERE id = 700", &[])
        .unwrap();
    tx.execute(
        "UPDATE resellers SET parent_id = $1 WHERE id = 700",
        &[&parent],
    )
    .unwrap();
    tx.commit().unwrap();
    let lsn = current_lsn(&mut c);
    let snap = f.wait_for(lsn, Duration::from_secs(30)).unwrap();
    assert_eq!(snap.get(Id::new("700")).unwrap().name(), name);
    assert_equals_table(&snap, &url);
}

#[test]
fn transactions_through_states_a_step_at_a_time_would_refuse() {
    let _serial = serial();
    let url = database("follow_steps");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    c.batch_execute(
        "ALTER TABLE resellers ALTER CONSTRAINT resellers_parent_id_fkey DEFERRABLE INITIALLY IMMEDIATE",
    )
    .unwrap();
    seed(&mut c, 2_000, &mut Rng(23));
    let f = Follower::start(source(&url, "steps")).unwrap();
    // A child before its parent in one statement: the key is checked at its end.
    c.batch_execute(
        "INSERT INTO resellers (id, parent_id, name) VALUES (100011, 100010, 'child'), (100010, 1, 'parent'), \
         (100021, 100020, 'b'), (100020, 1, 'a')",
    )
    .unwrap();
    // 1 → a → b becomes 1 → b → a in one statement: whichever row comes first, one
    // order of the two moves goes through a cycle.
    c.batch_execute(
        "UPDATE resellers SET parent_id = CASE id WHEN 100020 THEN 100021 ELSE 1 END \
         WHERE id IN (100020, 100021)",
    )
    .unwrap();
    // A row deleted and inserted again under a deferred key keeps its children (the
    // table's 100011 stays under 100010).
    c.batch_execute(
        "BEGIN; SET CONSTRAINTS ALL DEFERRED; \
         DELETE FROM resellers WHERE id = 100010; \
         INSERT INTO resellers (id, parent_id, name) VALUES (100010, 2, 'parent again'); \
         COMMIT;",
    )
    .unwrap();
    let lsn = current_lsn(&mut c);
    let snap = f
        .wait_for(lsn, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}; health {:?}", f.health()));
    let parent = |id: &str| {
        snap.get(Id::new(id))
            .unwrap()
            .parent()
            .map(|p| p.as_str().to_owned())
    };
    assert_eq!(parent("100011").as_deref(), Some("100010"));
    assert_eq!(parent("100010").as_deref(), Some("2"));
    assert_eq!(parent("100021").as_deref(), Some("1"));
    assert_eq!(parent("100020").as_deref(), Some("100021"));
    assert_equals_table(&snap, &url);
}

#[test]
fn rows_left_naming_a_deleted_parent_without_a_foreign_key() {
    let _serial = serial();
    let url = database("follow_strays");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    c.batch_execute("ALTER TABLE resellers DROP CONSTRAINT resellers_parent_id_fkey")
        .unwrap();
    seed(&mut c, 2_000, &mut Rng(29));
    let f = Follower::start(source(&url, "strays")).unwrap();
    let wait = |c: &mut Client| {
        let lsn = current_lsn(c);
        f.wait_for(lsn, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}; health {:?}", f.health()))
    };
    let parent = |snap: &Snapshot, id: &str| {
        snap.get(Id::new(id))
            .unwrap()
            .parent()
            .map(|p| p.as_str().to_owned())
    };
    c.batch_execute(
        "INSERT INTO resellers (id, parent_id, name) VALUES (100001, 1, 'a'), (100002, 100001, 'b')",
    )
    .unwrap();
    // 100002 is left naming 100001, which is gone: the replica shows it as a root.
    c.batch_execute("DELETE FROM resellers WHERE id = 100001")
        .unwrap();
    let snap = wait(&mut c);
    assert_eq!(parent(&snap, "100002"), None);
    // A rename sends parent_id 100001 again: it stays where it is.
    c.batch_execute("UPDATE resellers SET name = 'b2' WHERE id = 100002")
        .unwrap();
    let snap = wait(&mut c);
    assert_eq!(snap.get(Id::new("100002")).unwrap().name(), "b2");
    assert_eq!(parent(&snap, "100002"), None);
    // 100001 inserted again: the table has 100002 under it, and so has the replica.
    c.batch_execute("INSERT INTO resellers (id, parent_id, name) VALUES (100001, 2, 'a again')")
        .unwrap();
    let snap = wait(&mut c);
    assert_eq!(parent(&snap, "100002").as_deref(), Some("100001"));
    assert_equals_table(&snap, &url);

    // Loads of a table with such a row: a replica started then, and this one reloaded
    // (a changed id is a gap), show it as a root, as the stream does, and take it
    // back under its parent when that one comes again.
    c.batch_execute("DELETE FROM resellers WHERE id = 100001")
        .unwrap();
    let snap = wait(&mut c);
    assert_eq!(parent(&snap, "100002"), None);
    let g = Follower::start(source(&url, "strays_b")).unwrap();
    let started = g.hierarchy().snapshot();
    assert_eq!(parent(&started, "100002"), None);
    let listing = |s: &Snapshot| {
        s.iter()
            .map(|r| (r.id().to_owned(), r.parent().map(|p| p.to_owned())))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listing(&started),
        listing(&snap),
        "followed and loaded differ"
    );
    c.batch_execute(
        "INSERT INTO resellers (id, parent_id) VALUES (100010, 1); \
         UPDATE resellers SET id = 100011 WHERE id = 100010;",
    )
    .unwrap();
    let snap = wait(&mut c);
    assert!(snap.get(Id::new("100011")).is_some());
    assert_eq!(parent(&snap, "100002"), None);
    wait_until(
        "following after the reload",
        Duration::from_secs(10),
        || f.health().is_following(),
    );
    c.batch_execute(
        "INSERT INTO resellers (id, parent_id, name) VALUES (100001, 3, 'a once more')",
    )
    .unwrap();
    let lsn = current_lsn(&mut c);
    for replica in [&f, &g] {
        let snap = replica
            .wait_for(lsn, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}; health {}", replica.health()));
        assert_eq!(parent(&snap, "100002").as_deref(), Some("100001"));
        assert_equals_table(&snap, &url);
    }
}

#[test]
fn an_array_whose_index_does_not_start_at_one() {
    let _serial = serial();
    let url = database("follow_bounds");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    seed(&mut c, 2_000, &mut Rng(19));
    // Loaded (binary) and followed (text, where PostgreSQL writes the bounds:
    // `[0:1]={iptv,sip}`).
    c.execute(
        "UPDATE resellers SET capabilities = '[0:1]={iptv,sip}'::text[] WHERE id = 700",
        &[],
    )
    .unwrap();
    let f = Follower::start(source(&url, "bounds")).unwrap();
    c.execute(
        "UPDATE resellers SET capabilities = '[-2:-2]={mvno}'::text[] WHERE id = 701",
        &[],
    )
    .unwrap();
    let text: String = c
        .query_one(
            "SELECT capabilities::text FROM resellers WHERE id = 701",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(text, "[-2:-2]={mvno}");
    let lsn = current_lsn(&mut c);
    let snap = f.wait_for(lsn, Duration::from_secs(30)).unwrap();
    let caps = |id: &str| snap.get(Id::new(id)).unwrap().capabilities();
    assert!(caps("700").contains(Capability::Iptv) && caps("700").contains(Capability::Sip));
    assert!(caps("701").contains(Capability::Mvno) && !caps("701").contains(Capability::Sip));
    assert_equals_table(&snap, &url);
}

#[test]
fn json_and_text_attribute_columns_read_alike_loaded_and_streamed() {
    let _serial = serial();
    let url = database("follow_json");
    let mut c = connect(&url);
    c.batch_execute(
        "CREATE TABLE resellers (id bigint PRIMARY KEY, parent_id bigint, attributes json);
         INSERT INTO resellers VALUES (1, NULL, '{\"n\": 1e2, \"z\": -0}');",
    )
    .unwrap();
    let table = Table::new("resellers")
        .name_column(None)
        .no_capabilities()
        .economic_enabled_column(None);
    let f = Follower::start(Source::new(&url, table).slot("json")).unwrap();
    c.execute(
        "INSERT INTO resellers VALUES (2, 1, '{\"n\": 1e2, \"z\": -0}')",
        &[],
    )
    .unwrap();
    let lsn = current_lsn(&mut c);
    let snap = f.wait_for(lsn, Duration::from_secs(30)).unwrap();
    let text = |id: &str| {
        let r = snap.get(Id::new(id)).unwrap();
        r.attributes().as_json().map(str::to_owned)
    };
    // The same text in the table, so the same attributes, whichever way they came.
    assert_eq!(text("1"), text("2"));
    assert!(text("1").is_some());
    f.stop();
    // A text column holding no JSON: a malformed record naming its id, not a failed
    // cast of the load's query.
    c.batch_execute(
        "CREATE TABLE notes (id bigint PRIMARY KEY, parent_id bigint, attributes text);
         INSERT INTO notes VALUES (1, NULL, '{}'), (2, 1, 'not json'), (3, 2, NULL);",
    )
    .unwrap();
    let table = Table::new("notes")
        .name_column(None)
        .no_capabilities()
        .economic_enabled_column(None);
    let source = Source::new(&url, table).slot("notes").publication("notes");
    let err = Follower::start(source).unwrap_err();
    let FollowError::Load(e) = &err else {
        panic!("{err}")
    };
    // The malformed row named by its id, and its child not reported again for a
    // parent that does not exist.
    assert!(
        matches!(
            e.problems(),
            [reseller_hierarchy::Problem::Malformed { id: Some(id), .. }] if id.as_str() == "2"
        ),
        "{err}"
    );
}

#[test]
fn a_mapped_table_with_text_ids_and_flag_columns() {
    let _serial = serial();
    let url = database("follow_mapped");
    let mut c = connect(&url);
    c.batch_execute(
        "CREATE SCHEMA crm;
         CREATE TABLE crm.partners (
             code text PRIMARY KEY,
             upline text REFERENCES crm.partners,
             display_name text,
             has_iptv boolean,
             has_voip boolean NOT NULL DEFAULT false);
         INSERT INTO crm.partners VALUES
             ('b', NULL, 'B', true, false), ('a', NULL, 'A', NULL, true),
             ('B2', 'b', 'B2', false, false), ('b1', 'b', NULL, true, true), ('Z', 'b', 'Z', false, true);",
    )
    .unwrap();
    let table = Table::new("crm.partners")
        .id_column("code")
        .parent_column("upline")
        .name_column(Some("display_name"))
        .capability_flag(Capability::Iptv, "has_iptv")
        .capability_flag(Capability::Sip, "has_voip")
        .economic_enabled_column(None)
        .attributes_column(None);
    let f = Follower::start(Source::new(&url, table).slot("mapped")).unwrap();
    let ids = |s: &Snapshot| {
        s.iter()
            .map(|r| r.id().as_str().to_string())
            .collect::<Vec<_>>()
    };
    // Text ids sort by their bytes: uppercase first.
    assert_eq!(ids(&f.hierarchy().snapshot()), ["a", "b", "B2", "Z", "b1"]);
    // An id that sorts first, added last, still lists first.
    c.execute(
        "INSERT INTO crm.partners VALUES ('A0', 'b', 'A0', true, false)",
        &[],
    )
    .unwrap();
    c.execute(
        "UPDATE crm.partners SET has_voip = true, display_name = 'B two' WHERE code = 'B2'",
        &[],
    )
    .unwrap();
    let lsn = current_lsn(&mut c);
    let snap = f.wait_for(lsn, Duration::from_secs(30)).unwrap();
    assert_eq!(ids(&snap), ["a", "b", "A0", "B2", "Z", "b1"]);
    let b2 = snap.get(Id::new("B2")).unwrap();
    assert_eq!(b2.name(), "B two");
    assert!(b2.capabilities().contains(Capability::Sip));
    assert!(!b2.capabilities().contains(Capability::Iptv));
    assert!(snap
        .get(Id::new("a"))
        .unwrap()
        .capabilities()
        .contains(Capability::Sip));
}

#[test]
fn setup_problems_are_typed_errors() {
    let _serial = serial();
    let url = database("follow_setup");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    let missing = Follower::start(source(&url, "setup").slot("setup").clone());
    assert!(missing.is_ok());
    drop(missing);
    let err = Follower::start(Source::new(&url, Table::new("nope")).slot("setup")).unwrap_err();
    assert!(matches!(err, FollowError::Setup { .. }), "{err}");
    assert!(err.to_string().contains("nope"));
    let err = Follower::start(source(&url, "setup").slot("Bad-Name")).unwrap_err();
    assert!(err.to_string().contains("Bad-Name"));
    let err = Follower::start(
        Source::new(&url, Table::new("resellers").parent_column("boss")).slot("setup"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("boss"), "{err}");
    // Tables whose changes would not reach the replicas whole are refused up front.
    c.batch_execute(
        "CREATE TABLE nopk (LIKE resellers);
         CREATE TABLE parted (LIKE resellers) PARTITION BY RANGE (id);
         CREATE PUBLICATION inserts_only FOR TABLE resellers WITH (publish = 'insert');",
    )
    .unwrap();
    let err = Follower::start(Source::new(&url, Table::new("nopk")).slot("setup")).unwrap_err();
    assert!(err.to_string().contains("replica identity"), "{err}");
    let err = Follower::start(Source::new(&url, Table::new("parted")).slot("setup")).unwrap_err();
    assert!(err.to_string().contains("not an ordinary table"), "{err}");
    let err = Follower::start(source(&url, "setup").publication("inserts_only")).unwrap_err();
    assert!(err.to_string().contains("leaves out"), "{err}");
    // A cycle in the table: the load reports it.
    c.batch_execute(
        "ALTER TABLE resellers DROP CONSTRAINT resellers_parent_id_fkey;
         INSERT INTO resellers (id, parent_id) VALUES (1, 2), (2, 1);",
    )
    .unwrap();
    let err = Follower::start(source(&url, "setup")).unwrap_err();
    assert!(matches!(err, FollowError::Load(_)), "{err}");
    // Its slot was dropped again.
    let slots: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'setup'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(slots, 0);
}

/// `resellers serve --postgres`: serves the table, shows a change, reports health, and
/// drops its slot on SIGTERM.
#[cfg(feature = "cli")]
#[test]
fn resellers_serve_from_postgres() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let _serial = serial();
    let url = database("follow_serve");
    let mut c = connect(&url);
    c.batch_execute(SCHEMA).unwrap();
    seed(&mut c, 500, &mut Rng(13));
    let tokens = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pg-serve-tokens.json");
    std::fs::write(
        &tokens,
        r#"{"tokens": [{"token": "admin", "role": "ADMIN"}]}"#,
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_resellers"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--slot",
            "serve_cli",
            "--postgres",
            &url,
            "--tokens",
        ])
        .arg(&tokens)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["resellers"], 500);
    let base = format!("http://{}", v["listening"].as_str().unwrap());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let get = |path: &str| -> (u16, serde_json::Value) {
        let mut resp = agent
            .get(&format!("{base}{path}"))
            .header("X-Api-Token", "admin")
            .call()
            .unwrap();
        let status = resp.status().as_u16();
        (
            status,
            serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap(),
        )
    };
    let (status, health) = get("/health");
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "ok");
    assert!(
        health["detail"].as_str().unwrap().starts_with("following"),
        "{health}"
    );

    c.execute(
        "INSERT INTO resellers (id, parent_id, name) VALUES (900, 1, 'Added')",
        &[],
    )
    .unwrap();
    wait_until("the new reseller served", Duration::from_secs(30), || {
        let (_, doc) = get("/customer/resellers/list?per_page=1000");
        doc.to_string().contains("\"Added\"")
    });
    let (_, health) = get("/health");
    assert!(health["version"].as_u64().unwrap() >= 2, "{health}");

    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());
    let slots: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'serve_cli'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(slots, 0, "the slot outlived the service");
}
