//! The `resellers` tool, run as a process: JSON on stdout, and every error a non-zero
//! exit with one JSON object on stderr.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_resellers"))
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn data_file(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn error_of(r: &Run) -> (String, String) {
    assert_ne!(r.code, 0, "expected a failure, got {}", r.stdout);
    let v: Value =
        serde_json::from_str(r.stderr.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stderr));
    (
        v["error"].as_str().unwrap().to_owned(),
        v["message"].as_str().unwrap().to_owned(),
    )
}

const SMALL: &str = r#"{"id": 1, "name": "Distributor", "capabilities": ["sip", "mvno"]}
{"id": 2, "parent": 1, "name": "Anders And & Co", "capabilities": ["iptv"], "integrations": {"billing": {"economic": {"enabled": true}}}}
{"id": 3, "parent": 2, "name": "Northwind", "capabilities": ["sip", "mvno"]}
{"id": 4, "parent": 1, "name": "Fabrikam"}
"#;

#[test]
fn listings_from_a_file() {
    let f = data_file("small.ndjson", SMALL);
    let f = f.to_str().unwrap();
    let r = run(&[
        "eligible-parents",
        "--role",
        "RESELLER_ADMIN",
        "--principal",
        "1",
        "--voip",
        "--data",
        f,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "3"]);

    let r = run(&[
        "downline",
        "--id",
        "1",
        "--per-page",
        "2",
        "--page",
        "2",
        "--data",
        f,
        "--base-url",
        "http://h/r",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["data"][0]["id"], "4");
    assert_eq!(v["meta"]["total"], 3);
    assert_eq!(
        v["links"]["self"],
        "http://h/r?page%5Bnumber%5D=2&page%5Bsize%5D=2"
    );
    assert!(v["links"].get("next").is_none());

    let r = run(&[
        "downline", "--id", "1", "--order", "level", "--format", "telecomx", "--data", f,
    ]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["2", "4", "3"]);
    assert_eq!(v[0]["integrations"]["billing"]["economic"]["enabled"], true);

    let r = run(&[
        "eligible-parents",
        "--role",
        "ADMIN",
        "--voip",
        "--order",
        "level",
        "--per-page",
        "1",
        "--format",
        "jsonapi",
        "--data",
        f,
    ]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v["links"]["next"],
        "/customer/resellers/list?voip=true&order=level&page%5Bnumber%5D=2&page%5Bsize%5D=1"
    );
    assert_eq!(v["data"][0]["id"], "1");
    assert_eq!(v["meta"]["total"], 2);
    let r = run(&["upline", "--id", "3", "--per-page", "1", "--data", f]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v["links"]["next"],
        "/api/v3/customer_store/resellers/3/upline?page%5Bnumber%5D=2&page%5Bsize%5D=1"
    );

    // An id is one segment of the link's path, percent-encoded, whatever it holds.
    let odd = data_file(
        "odd.ndjson",
        "{\"id\": \"top\"}\n{\"id\": \"a?b/c#d% \u{e9}\", \"parent\": \"top\"}\n",
    );
    let r = run(&[
        "upline",
        "--id",
        "a?b/c#d% \u{e9}",
        "--data",
        odd.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stderr));
    assert_eq!(
        v["links"]["self"],
        "/api/v3/customer_store/resellers/a%3Fb%2Fc%23d%25%20%C3%A9/upline?page%5Bnumber%5D=1&page%5Bsize%5D=50"
    );
    assert_eq!(v["data"][0]["id"], "top");

    let r = run(&["upline", "--id", "3", "--format", "telecomx", "--data", f]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["2", "1"]);

    assert_eq!(
        run(&["is-in-downline", "--id", "3", "--of", "1", "--data", f])
            .stdout
            .trim(),
        "true"
    );
    assert_eq!(
        run(&["is-in-downline", "--id", "4", "--of", "2", "--data", f])
            .stdout
            .trim(),
        "false"
    );

    let r = run(&["validate", "--data", f]);
    assert_eq!(r.code, 0);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["resellers"], 4);
    assert_eq!(v["max_depth"], 2);
    assert_eq!(v["widest_fan_out"], 2);
    assert_eq!(v["capabilities"]["sip"], 2);
}

#[test]
fn bad_values_are_json_errors_not_usage_text() {
    let f = data_file("small2.ndjson", SMALL);
    let f = f.to_str().unwrap();
    for (args, code, needle) in [
        (
            vec!["downline", "--id", "1", "--page", "abc"],
            "bad_request",
            "bad --page \"abc\"",
        ),
        (
            vec!["downline", "--id", "1", "--page", "0"],
            "bad_request",
            "page",
        ),
        (
            vec!["downline", "--id", "1", "--page", "-1"],
            "bad_request",
            "page",
        ),
        (
            vec!["downline", "--id", "1", "--per-page", "1001"],
            "bad_request",
            "bad --per-page \"1001\"",
        ),
        (
            vec!["downline", "--id", "1", "--page", "99999999999999999999999"],
            "bad_request",
            "page",
        ),
        (
            vec!["eligible-parents", "--role", "SUPERUSER"],
            "access_denied",
            "SUPERUSER",
        ),
        // Access is decided before paging: refused callers with bad paging get 403.
        (
            vec!["eligible-parents", "--role", "SUPERUSER", "--page", "abc"],
            "access_denied",
            "SUPERUSER",
        ),
        (
            vec![
                "eligible-parents",
                "--role",
                "RESELLER",
                "--principal",
                "2",
                "--voip",
                "--per-page",
                "0",
            ],
            "access_denied",
            "voip",
        ),
        (
            vec![
                "eligible-parents",
                "--role",
                "RESELLER_ADMIN",
                "--principal",
                "no-such",
                "--page",
                "-1",
            ],
            "access_denied",
            "no-such",
        ),
        (
            vec![
                "eligible-parents",
                "--role",
                "RESELLER",
                "--principal",
                "2",
                "--iptv",
            ],
            "access_denied",
            "iptv",
        ),
        (
            vec!["eligible-parents", "--role", "RESELLER_ADMIN"],
            "access_denied",
            "reseller",
        ),
        (vec!["downline", "--id", "77"], "not_found", "77"),
        (vec!["upline"], "bad_request", "--id"),
        (vec!["no-such-command"], "bad_request", "no-such-command"),
    ] {
        let mut args = args.clone();
        args.extend(["--data", f]);
        if args[0] == "no-such-command" || args == ["upline", "--data", f] {
            args.truncate(args.len() - 2);
        }
        let r = run(&args);
        let (got, message) = error_of(&r);
        assert_eq!(got, code, "{args:?}: {message}");
        assert!(message.contains(needle), "{args:?}: {message}");
        assert!(r.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn validate_lists_every_problem() {
    let f = data_file(
        "bad.ndjson",
        "{\"id\": 1}\n{\"id\": 1}\n{\"id\": 2, \"parent\": 9}\n{\"id\": 3, \"parent\": 4}\n{\"id\": 4, \"parent\": 3}\nnot json\n",
    );
    let r = run(&["validate", "--data", f.to_str().unwrap()]);
    let (code, message) = error_of(&r);
    assert_eq!(code, "invalid_hierarchy");
    assert!(message.contains('4'), "{message}");
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let kinds: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["malformed", "duplicate_id", "unknown_parent", "cycle"]
    );
    assert_eq!(v["problems"][3]["members"], serde_json::json!(["3", "4"]));
    // Each problem names its line.
    assert_eq!(v["problems"][0]["at"], "line 6");
    assert_eq!(
        v["problems"][1]["at"],
        serde_json::json!(["line 1", "line 2"])
    );
    assert_eq!(v["problems"][2]["at"], "line 3");
    // Queries over bad data fail the same way.
    let (code, _) = error_of(&run(&[
        "downline",
        "--id",
        "1",
        "--data",
        f.to_str().unwrap(),
    ]));
    assert_eq!(code, "invalid_hierarchy");
    let (code, _) = error_of(&run(&["downline", "--id", "1", "--data", "/no/such/file"]));
    assert_eq!(code, "bad_request");
}

#[test]
fn a_saved_snapshot_answers_as_its_data_and_a_damaged_one_is_refused() {
    let data = data_file(
        "snap.ndjson",
        "{\"id\": 1, \"name\": \"Top\"}\n{\"id\": 2, \"parent\": 1, \"capabilities\": [\"iptv\"]}\n{\"id\": 3, \"parent\": 2}\n{\"id\": 4, \"parent\": 1}\n",
    );
    let snap = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("snap.snapshot");
    let r = run(&[
        "save",
        "--data",
        data.to_str().unwrap(),
        "--out",
        snap.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["resellers"], 4);
    for args in [
        &["downline", "--id", "1", "--order", "level"][..],
        &["upline", "--id", "3"][..],
        &["is-in-downline", "--id", "3", "--of", "1"][..],
        &["eligible-parents", "--role", "ADMIN", "--iptv"][..],
    ] {
        let from_data = run(&[args, &["--data", data.to_str().unwrap()][..]].concat());
        let from_snap = run(&[args, &["--snapshot", snap.to_str().unwrap()][..]].concat());
        assert_eq!(from_data.code, 0, "{args:?}: {}", from_data.stderr);
        assert_eq!(from_snap.stdout, from_data.stdout, "{args:?}");
    }
    let mut bytes = std::fs::read(&snap).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    let bad = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad.snapshot");
    std::fs::write(&bad, &bytes).unwrap();
    let (code, message) = error_of(&run(&[
        "downline",
        "--id",
        "1",
        "--snapshot",
        bad.to_str().unwrap(),
    ]));
    assert_eq!(code, "bad_request");
    assert!(message.contains("checksum"), "{message}");
    // A file whose records are no hierarchy (the second id made a copy of the first,
    // behind a valid checksum) is reported by `validate` as bad data is.
    let mut dup = std::fs::read(&snap).unwrap();
    let ids_bytes = 32 + 4 * 4 + 2 * 4 + 4 * 4;
    assert_eq!(&dup[ids_bytes..ids_bytes + 4], b"1234");
    dup[ids_bytes + 1] = b'1';
    let body = dup.len() - 4;
    let crc = crc32fast::hash(&dup[..body]);
    dup[body..].copy_from_slice(&crc.to_le_bytes());
    let dup_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dup.snapshot");
    std::fs::write(&dup_path, &dup).unwrap();
    let r = run(&["validate", "--snapshot", dup_path.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["problems"][0]["kind"], "duplicate_id");
    // So do queries of it, as they do over the same bad records read with --data.
    let r = run(&[
        "downline",
        "--id",
        "1",
        "--snapshot",
        dup_path.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let (code, message) = error_of(&r);
    assert_eq!(code, "invalid_hierarchy");
    assert!(message.contains("is used by 2 records"), "{message}");
    let r = run(&["validate", "--snapshot", snap.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&r.stdout).unwrap()["resellers"],
        4
    );
    // Both sources at once is a usage error.
    let (code, _) = error_of(&run(&[
        "downline",
        "--id",
        "1",
        "--data",
        data.to_str().unwrap(),
        "--snapshot",
        snap.to_str().unwrap(),
    ]));
    assert_eq!(code, "bad_request");
}

#[test]
fn apply_runs_a_change_file_and_stops_at_the_first_refused_batch() {
    let data = data_file(
        "apply.ndjson",
        "{\"id\": 1}\n{\"id\": 2, \"parent\": 1}\n{\"id\": 3, \"parent\": 2}\n",
    );
    let changes = data_file(
        "apply.changes.ndjson",
        concat!(
            "[{\"op\": \"add\", \"id\": 4, \"parent\": 3}, {\"op\": \"move\", \"id\": 3, \"parent\": 1}]\n",
            "\n",
            "[{\"op\": \"remove\", \"id\": 2, \"downline\": \"reattach\"}]\n",
        ),
    );
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("applied.snapshot");
    let r = run(&[
        "apply",
        "--data",
        data.to_str().unwrap(),
        "--changes",
        changes.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (
            v["version"].as_u64(),
            v["batches"].as_u64(),
            v["resellers"].as_u64()
        ),
        (Some(3), Some(2), Some(3))
    );
    // 1 with 3 (moved, then the last child) and 3's child 4: pre-order 3, 4.
    let r = run(&[
        "downline",
        "--snapshot",
        out.to_str().unwrap(),
        "--id",
        "1",
        "--format",
        "telecomx",
    ]);
    let ids: Vec<String> = serde_json::from_str::<Value>(&r.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["3", "4"]);
    // A batch that would close a cycle stops the run, naming its line.
    let bad = data_file(
        "apply.bad.ndjson",
        "[{\"op\": \"add\", \"id\": 9, \"parent\": 1}]\n[{\"op\": \"move\", \"id\": 1, \"parent\": 3}]\n",
    );
    let r = run(&[
        "apply",
        "--data",
        data.to_str().unwrap(),
        "--changes",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 3);
    let (code, message) = error_of(&r);
    assert_eq!(code, "mutation_refused");
    assert!(
        message.contains("line 2") && message.contains("own downline"),
        "{message}"
    );
    // A line that is no batch is a bad request naming it.
    let junk = data_file("apply.junk.ndjson", "{\"op\": \"add\"}\n");
    let (code, message) = error_of(&run(&[
        "apply",
        "--data",
        data.to_str().unwrap(),
        "--changes",
        junk.to_str().unwrap(),
    ]));
    assert_eq!(code, "bad_request");
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn the_default_dataset_is_used_without_data() {
    let r = run(&["downline", "--id", "1", "--per-page", "3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["meta"]["total"], 99_999);
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
}

/// `generate`'s output as parsed JSON lines.
fn generated(args: &[&str]) -> (String, Vec<Value>) {
    let mut all = vec!["generate"];
    all.extend_from_slice(args);
    let r = run(&all);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (r.stdout, lines)
}

/// Depth of every record, walking the parent links of the JSON lines.
fn depths(lines: &[Value]) -> Vec<usize> {
    let parent: std::collections::HashMap<&str, Option<&str>> = lines
        .iter()
        .map(|l| (l["id"].as_str().unwrap(), l["parent"].as_str()))
        .collect();
    lines
        .iter()
        .map(|l| {
            let mut d = 0;
            let mut at = parent[l["id"].as_str().unwrap()];
            while let Some(p) = at {
                d += 1;
                at = parent[p];
            }
            d
        })
        .collect()
}

#[test]
fn generate_writes_every_shape() {
    for shape in ["random", "power-law", "chain", "star"] {
        let (_, lines) = generated(&["--shape", shape, "--n", "300", "--seed", "5"]);
        assert_eq!(lines.len(), 300, "{shape}");
        let ids: std::collections::HashSet<&str> =
            lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 300, "{shape}: duplicate ids");
        // Parents first: every parent was listed before its child.
        let mut seen = std::collections::HashSet::new();
        for l in &lines {
            if let Some(p) = l["parent"].as_str() {
                assert!(seen.contains(p), "{shape}: {p} after its child");
            }
            seen.insert(l["id"].as_str().unwrap());
        }
        let roots = lines.iter().filter(|l| l["parent"].is_null()).count();
        assert_eq!(roots, 1, "{shape}");
        let d = depths(&lines);
        let deepest = d.iter().copied().max().unwrap();
        match shape {
            "chain" => assert_eq!(deepest, 299),
            "star" => assert_eq!(deepest, 1),
            _ => assert!((2..60).contains(&deepest), "{shape}: depth {deepest}"),
        }
    }
    // Several roots, each with its chain.
    let (_, lines) = generated(&["--shape", "chain", "--n", "30", "--roots", "3"]);
    assert_eq!(lines.iter().filter(|l| l["parent"].is_null()).count(), 3);
    assert_eq!(depths(&lines).into_iter().max(), Some(9));
}

#[test]
fn generate_is_reproducible_and_takes_options() {
    let args = ["--shape", "power-law", "--n", "500", "--seed", "9"];
    let (a, lines) = generated(&args);
    let (b, _) = generated(&args);
    assert_eq!(a, b, "the same seed gives the same file");
    let (c, _) = generated(&["--shape", "power-law", "--n", "500", "--seed", "10"]);
    assert_ne!(a, c);
    // Shuffled: the same records in another order.
    let (d, _) = generated(&[
        "--shape",
        "power-law",
        "--n",
        "500",
        "--seed",
        "9",
        "--shuffled",
    ]);
    assert_ne!(a, d);
    let mut x: Vec<&str> = a.lines().collect();
    let mut y: Vec<&str> = d.lines().collect();
    x.sort_unstable();
    y.sort_unstable();
    assert_eq!(x, y);
    assert!(lines.iter().all(|l| l.get("attributes").is_none()));
    // The ActivePlatform attribute set, and TelecomX-style ids.
    let (_, lines) = generated(&["--n", "20", "--attributes", "--ids", "object-id"]);
    for l in &lines {
        let id = l["id"].as_str().unwrap();
        assert!(
            id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        let attrs = &l["attributes"];
        for key in [
            "created-at",
            "updated-at",
            "general",
            "company",
            "contacts",
            "custom-attributes",
        ] {
            assert!(!attrs[key].is_null(), "{key} missing in {l}");
        }
        assert_eq!(attrs["general"]["name"], l["name"]);
    }
    // To a file, which the tool then reads back as a valid hierarchy.
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("generated.ndjson");
    let p = path.to_str().unwrap();
    let r = run(&["generate", "--shape", "star", "--n", "1000", "--out", p]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["written"], 1000);
    let r = run(&["validate", "--data", p]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (v["valid"].as_bool(), v["resellers"].as_u64()),
        (Some(true), Some(1000))
    );
    assert_eq!(v["widest_fan_out"], 999);
}

#[test]
fn generate_rejects_bad_arguments() {
    for args in [
        &["generate", "--n", "abc"][..],
        &["generate", "--n", "10", "--shape", "tree"],
        &["generate"],
    ] {
        let (code, message) = error_of(&run(args));
        assert_eq!(code, "bad_request", "{args:?}: {message}");
    }
    let (code, message) = error_of(&run(&[
        "generate",
        "--n",
        "10",
        "--out",
        "/nonexistent-dir/x.ndjson",
    ]));
    assert_eq!(code, "bad_request");
    assert!(
        message.contains("cannot write /nonexistent-dir/x.ndjson"),
        "{message}"
    );
}

#[test]
fn bench_measures_a_users_file() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench.ndjson");
    let p = path.to_str().unwrap();
    let r = run(&["generate", "--n", "2000", "--seed", "4", "--out", p]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&path).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let r = run(&[
        "bench",
        "--data",
        p,
        "--json",
        "--samples",
        "21",
        "--mutations",
        "300",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let row = |metric: &str, of: Option<&str>| -> &Value {
        rows.iter()
            .find(|v| v["metric"] == metric && of.is_none_or(|o| v["of"] == o))
            .unwrap_or_else(|| panic!("no {metric} in {}", r.stdout))
    };
    for v in &rows {
        assert_eq!(v["n"], 2000, "{v}");
        assert_eq!(v["shape"], "bench.ndjson", "{v}");
        assert!(v["value"].as_f64().unwrap() > 0.0, "{v}");
        if let (Some(p50), Some(p99)) = (v["p50"].as_f64(), v["p99"].as_f64()) {
            assert!(p50 <= p99, "{v}");
        }
    }
    // The one root's downline is everyone else.
    for at in ["first", "middle", "last"] {
        assert_eq!(
            row(&format!("downline_page_{at}"), Some("largest"))["subtree"],
            1999
        );
    }
    assert!(
        row("downline_page_first", Some("typical"))["subtree"]
            .as_u64()
            .unwrap()
            >= 1
    );
    // Its RESELLER_ADMIN's eligible parents: every reseller with the flag's capability,
    // counted here from the file.
    let has = |l: &Value, c: &str| l["capabilities"].as_array().unwrap().iter().any(|x| x == c);
    let expect = [
        ("iptv", records.iter().filter(|l| has(l, "iptv")).count()),
        (
            "iptvprivate",
            records.iter().filter(|l| has(l, "iptv_private")).count(),
        ),
        (
            "flexcare",
            records.iter().filter(|l| has(l, "flexcare")).count(),
        ),
        (
            "voip",
            records
                .iter()
                .filter(|l| has(l, "sip") && has(l, "mvno"))
                .count(),
        ),
    ];
    for (flag, count) in expect {
        assert_eq!(
            row(&format!("eligible_page_{flag}"), None)["subtree"],
            count,
            "{flag}"
        );
        assert_eq!(
            row(&format!("eligible_count_{flag}"), None)["subtree"],
            count,
            "{flag}"
        );
    }
    for metric in [
        "downline_page_first_level_order",
        "downline_count",
        "is_in_downline_by_id",
        "upline",
        "body_jsonapi_page",
        "body_telecomx_page",
        "stream_mutations_per_s",
        "load",
        "machine",
    ] {
        row(metric, None);
    }
    assert_eq!(row("roots", None)["value"], 1);
    let stream = row("stream_mutation", None);
    assert_eq!(stream["count"], 300);
    let q = |k: &str| stream[k].as_f64().unwrap();
    assert!(q("p50") <= q("p99") && q("p99") <= q("p999") && q("p999") <= q("max"));
    // The table, for a person.
    let r = run(&["bench", "--data", p, "--samples", "5", "--mutations", "20"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for text in [
        "machine:",
        "hierarchy: bench.ndjson: 2000 resellers",
        "eligible_page_voip",
        "mutation stream: 20",
    ] {
        assert!(r.stdout.contains(text), "{text} not in {}", r.stdout);
    }
}

#[test]
fn output_files_never_replace_an_input_and_are_written_whole() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-out");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("records.ndjson");
    std::fs::write(&data, SMALL).unwrap();
    let changes = dir.join("changes.ndjson");
    std::fs::write(
        &changes,
        "[{\"op\": \"add\", \"id\": \"5\", \"parent\": \"4\"}]\n",
    )
    .unwrap();
    let data_s = data.to_str().unwrap();
    let changes_s = changes.to_str().unwrap();
    // The same file by another path too.
    let other_path = format!("{}/../cli-out/records.ndjson", dir.display());
    for out in [data_s, other_path.as_str()] {
        let r = run(&["save", "--data", data_s, "--out", out]);
        let (_, message) = error_of(&r);
        assert!(message.contains("input file"), "{message}");
        assert_eq!(std::fs::read_to_string(&data).unwrap(), SMALL);
    }
    for out in [data_s, changes_s] {
        let r = run(&[
            "apply",
            "--data",
            data_s,
            "--changes",
            changes_s,
            "--out",
            out,
        ]);
        let (_, message) = error_of(&r);
        assert!(message.contains("input file"), "{message}");
    }
    assert_eq!(std::fs::read_to_string(&data).unwrap(), SMALL);

    // Written over an existing file, whole, and nothing left beside it.
    let snapshot = dir.join("h.snapshot");
    std::fs::write(&snapshot, "an older file").unwrap();
    let snapshot_s = snapshot.to_str().unwrap();
    let r = run(&[
        "apply",
        "--data",
        data_s,
        "--changes",
        changes_s,
        "--out",
        snapshot_s,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["validate", "--snapshot", snapshot_s]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["save", "--snapshot", snapshot_s, "--out", snapshot_s]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let generated = dir.join("generated.ndjson");
    let r = run(&[
        "generate",
        "--n",
        "50",
        "--out",
        generated.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&generated).unwrap().lines().count(),
        50
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "changes.ndjson",
            "generated.ndjson",
            "h.snapshot",
            "records.ndjson"
        ]
    );
    // Through a symbolic link: the file it names is replaced, the link stays; and an
    // existing file's permissions are kept.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let real = dir.join("real.snapshot");
        std::fs::write(&real, "older").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.join("link.snapshot");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let r = run(&["save", "--data", data_s, "--out", link.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let r = run(&["validate", "--snapshot", real.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let mode = std::fs::metadata(&real).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_file(&real).unwrap();
    }
    // A directory that does not exist: an error, and no file made.
    let r = run(&[
        "save",
        "--data",
        data_s,
        "--out",
        &format!("{}/no/such/dir/x", dir.display()),
    ]);
    error_of(&r);
}

#[test]
fn a_change_file_may_start_with_a_byte_order_mark_and_upline_has_one_order() {
    let data = data_file("bom-data.ndjson", SMALL);
    let changes = data_file(
        "bom-changes.ndjson",
        "\u{feff}[{\"op\": \"add\", \"id\": \"5\", \"parent\": \"4\"}]\n",
    );
    let r = run(&[
        "apply",
        "--data",
        data.to_str().unwrap(),
        "--changes",
        changes.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        (v["batches"].as_u64(), v["resellers"].as_u64()),
        (Some(1), Some(5))
    );

    let r = run(&[
        "upline",
        "--id",
        "3",
        "--order",
        "level",
        "--data",
        data.to_str().unwrap(),
    ]);
    let (kind, message) = error_of(&r);
    assert_eq!(kind, "bad_request");
    assert!(message.contains("order"), "{message}");
    let r = run(&["upline", "--id", "3", "--data", data.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn an_output_that_cannot_be_written_is_a_json_error_and_huge_counts_are_refused() {
    let data = data_file("full-data.ndjson", SMALL);
    // Linux's /dev/full refuses every write.
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let out = Command::new(env!("CARGO_BIN_EXE_resellers"))
            .args(["is-in-downline", "--id", "3", "--of", "1", "--data"])
            .arg(&data)
            .stdout(full)
            .output()
            .unwrap();
        let r = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::new(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        };
        let (_, message) = error_of(&r);
        assert!(message.contains("stdout"), "{message}");
        assert_eq!(r.code, 2);
    }
    for flag in ["--samples", "--mutations"] {
        let r = run(&[
            "bench",
            flag,
            "99999999999",
            "--data",
            data.to_str().unwrap(),
        ]);
        let (kind, message) = error_of(&r);
        assert_eq!(kind, "bad_request");
        assert!(message.contains(flag), "{message}");
    }
}
