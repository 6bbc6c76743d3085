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
            "page",
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
            "per_page",
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
fn the_default_dataset_is_used_without_data() {
    let r = run(&["downline", "--id", "1", "--per-page", "3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["meta"]["total"], 99_999);
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
}
