//! `resellers serve` as a process over real HTTP on 127.0.0.1: every status carries the
//! API's JSON error, credentials (401 missing, 403 unknown), conflicting and malformed
//! parameters, `order=level`, strict flags, ETag and 304, access before paging, bad
//! data and token files, and a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const DATA: &str = r#"{"id": 1, "name": "Distributor", "capabilities": ["sip", "mvno"]}
{"id": 2, "parent": 1, "name": "Anders And & Co", "capabilities": ["iptv"]}
{"id": 3, "parent": 2, "name": "Northwind", "capabilities": ["sip", "mvno"]}
{"id": 4, "parent": 1, "name": "Fabrikam", "capabilities": ["iptv", "sip", "mvno"]}
{"id": 5, "parent": 2, "name": "Contoso"}
"#;

const TOKENS: &str = r#"{"tokens": [
  {"token": "ra-1", "role": "RESELLER_ADMIN", "reseller": "1"},
  {"token": "r-2", "role": "RESELLER", "reseller": 2},
  {"token": "guest", "role": "GUEST", "reseller": "1"},
  {"token": "admin", "role": "ADMIN"},
  {"token": "ra-gone", "role": "RESELLER_ADMIN", "reseller": "404"},
  {"token": "admin-gone", "role": "ADMIN", "reseller": "404"}
]}"#;

fn file(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).unwrap();
    path
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends the server SIGTERM, as a service manager stops it.
fn terminate(s: &Server) {
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
}

fn start(extra: &[&str]) -> Server {
    // Files of their own for each server: tests run in parallel, and rewriting a file
    // another test's server is reading would hand it an empty or partial file.
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    let data = file(&format!("serve-{n}.ndjson"), DATA);
    let tokens = file(&format!("serve-tokens-{n}.json"), TOKENS);
    let mut child = Command::new(env!("CARGO_BIN_EXE_resellers"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .arg("--tokens")
        .arg(&tokens)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let base = format!("http://{}", v["listening"].as_str().unwrap());
    assert_eq!(v["resellers"], 5);
    Server { child, base }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    text: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }
}

fn call(method: &str, url: &str, headers: &[(&str, &str)]) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = agent
        .run(req.body(()).unwrap())
        .expect("the server answers");
    Reply {
        status: resp.status().as_u16(),
        headers: resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        text: resp.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    call("GET", url, headers)
}

const LIST: &str = "/customer/resellers/list";
const DOWN: &str = "/api/v3/customer_store/resellers";

#[test]
fn serve_answers_every_case_with_the_apis_json() {
    let s = start(&[]);
    let b = &s.base;
    let ra = [("Authorization", "Bearer ra-1")];

    // 200s with their content types and the listing the rules give.
    let r = get(&format!("{b}{LIST}?voip=true"), &ra);
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/json"))
    );
    let ids: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["1", "3", "4"]);
    let r = get(&format!("{b}{DOWN}"), &[("X-Api-Token", "ra-1")]);
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/vnd.api+json"))
    );
    assert_eq!(r.json()["meta"]["total"], 4);

    // order=level is honoured, and kept in the links.
    let r = get(&format!("{b}{DOWN}?order=level&page%5Bsize%5D=2"), &ra);
    let doc = r.json();
    let ids: Vec<String> = doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["2", "4"]);
    assert!(
        doc["links"]["next"]
            .as_str()
            .unwrap()
            .contains("order=level"),
        "{doc}"
    );
    let r = get(&format!("{b}{LIST}?order=level"), &ra);
    let ids: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["1", "2", "4", "3", "5"]);

    // Credentials: none is 401 with WWW-Authenticate, unknown 403, malformed 401.
    for (path, body_code) in [(LIST, "error"), (DOWN, "errors")] {
        let r = get(&format!("{b}{path}"), &[]);
        assert_eq!(
            (r.status, r.header("www-authenticate")),
            (401, Some("Bearer")),
            "{path}"
        );
        let v = r.json();
        let code = if body_code == "error" {
            &v["error"]
        } else {
            &v["errors"][0]["code"]
        };
        assert_eq!(code, "unauthorized", "{path}");
        let r = get(&format!("{b}{path}"), &[("X-Api-Token", "nope")]);
        assert_eq!(r.status, 403, "{path}");
        let r = get(&format!("{b}{path}"), &[("Authorization", "Basic YTpi")]);
        assert_eq!(r.status, 401, "{path}");
        let r = get(&format!("{b}{path}"), &[("Authorization", "Bearer ")]);
        assert_eq!(r.status, 401, "{path}");
    }
    // The JSON:API endpoint applies the same rules: an unknown role is refused, a
    // RESELLER sees its downline, a reseller that does not exist is a 403 too.
    let r = get(&format!("{b}{DOWN}"), &[("X-Api-Token", "guest")]);
    assert_eq!(
        (r.status, r.json()["errors"][0]["code"].as_str()),
        (403, Some("access_denied"))
    );
    let r = get(&format!("{b}{DOWN}"), &[("X-Api-Token", "r-2")]);
    assert_eq!(
        (r.status, r.json()["meta"]["total"].as_u64()),
        (200, Some(2))
    );
    let r = get(&format!("{b}{DOWN}"), &[("X-Api-Token", "ra-gone")]);
    assert_eq!(r.status, 403, "{}", r.text);
    // An ADMIN needs no reseller to list eligible parents, but its downline is its
    // reseller's: one that does not exist is refused as any role's is.
    let r = get(&format!("{b}{DOWN}"), &[("X-Api-Token", "admin-gone")]);
    assert_eq!(
        (r.status, r.json()["errors"][0]["code"].as_str()),
        (403, Some("access_denied")),
        "{}",
        r.text
    );
    let r = get(&format!("{b}{LIST}"), &[("X-Api-Token", "admin-gone")]);
    assert_eq!(
        (r.status, r.json().as_array().map(Vec::len)),
        (200, Some(5)),
        "{}",
        r.text
    );
    // A blank token is no token; a Basic header beside a token: the token counts.
    let r = get(&format!("{b}{LIST}"), &[("X-Api-Token", "  ")]);
    assert_eq!(r.status, 401);
    let r = get(
        &format!("{b}{LIST}"),
        &[("Authorization", "Basic YTpi"), ("X-Api-Token", "admin")],
    );
    assert_eq!(r.status, 200);

    // A malformed header value is a 400 in the API's format.
    let r = get(&format!("{b}{LIST}"), &[("X-Api-Token", "caf\u{e9}")]);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("bad_request"))
    );

    // 404 and 405 carry JSON errors in the path's format.
    let r = get(&format!("{b}/nowhere"), &ra);
    assert_eq!(
        (r.status, r.json()["errors"][0]["code"].as_str()),
        (404, Some("not_found"))
    );
    let r = get(&format!("{b}/customer/nowhere"), &ra);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (404, Some("not_found"))
    );
    let r = call("POST", &format!("{b}{LIST}"), &ra);
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
    assert_eq!(r.json()["error"], "method_not_allowed");
    let r = call("DELETE", &format!("{b}{DOWN}"), &ra);
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["errors"][0]["status"], "405");

    // Conflicting or repeated parameters, strict flags, bad order: 400.
    for q in [
        "page=2&page%5Bnumber%5D=3",
        "page=2&page=3",
        "per_page=2&page%5Bsize%5D=2",
        "voip=1",
        "voip=true&voip=true",
        "order=bfs",
        "page=%FF",
    ] {
        let r = get(&format!("{b}{LIST}?{q}"), &ra);
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (400, Some("bad_request")),
            "{q}: {}",
            r.text
        );
    }
    let r = get(&format!("{b}{DOWN}?page=2&page%5Bnumber%5D=3"), &ra);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["source"]["parameter"], "page[number]");

    // Access before paging: a refused caller gets 403 whatever its paging says.
    for (token, q) in [
        ("r-2", "iptv=true&page=0"),
        ("guest", "per_page=abc"),
        ("guest", "page=2&page=3"),
    ] {
        let r = get(&format!("{b}{LIST}?{q}"), &[("X-Api-Token", token)]);
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (403, Some("access_denied")),
            "{token} {q}"
        );
    }

    // ETag and If-None-Match.
    let r = get(&format!("{b}{LIST}?iptv=true"), &ra);
    let tag = r.header("etag").unwrap().to_owned();
    assert!(tag.starts_with("\"v") && tag.ends_with('"'), "{tag}");
    let r2 = get(
        &format!("{b}{LIST}?iptv=true"),
        &[ra[0], ("If-None-Match", tag.as_str())],
    );
    assert_eq!((r2.status, r2.text.as_str()), (304, ""));
    assert_eq!(r2.header("etag"), Some(tag.as_str()));
    let weak = format!("W/{tag}, \"other\"");
    assert_eq!(
        get(
            &format!("{b}{LIST}?iptv=true"),
            &[ra[0], ("If-None-Match", weak.as_str())]
        )
        .status,
        304
    );
    // Another page, another listing, another caller: other tags.
    for (url, h) in [
        (format!("{b}{LIST}?iptv=true&per_page=1"), "Bearer ra-1"),
        (format!("{b}{LIST}?flexcare=true"), "Bearer ra-1"),
        (format!("{b}{LIST}?iptv=true"), "Bearer admin"),
    ] {
        let r = get(
            &url,
            &[("Authorization", h), ("If-None-Match", tag.as_str())],
        );
        assert_eq!(r.status, 200, "{url}");
        assert_ne!(r.header("etag"), Some(tag.as_str()), "{url}");
    }
}

#[test]
fn tags_of_another_process_never_match() {
    let (a, b) = (start(&[]), start(&[]));
    let tag = |s: &Server| {
        let r = get(&format!("{}{LIST}", s.base), &[("X-Api-Token", "admin")]);
        r.header("etag").unwrap().to_owned()
    };
    let ta = tag(&a);
    assert_eq!(ta, tag(&a), "stable within a process");
    assert_ne!(ta, tag(&b), "the same version number in another process");
    let r = get(
        &format!("{}{LIST}", b.base),
        &[("X-Api-Token", "admin"), ("If-None-Match", ta.as_str())],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn a_client_that_goes_quiet_mid_request_does_not_hold_the_stop() {
    let mut s = start(&["--shutdown-grace", "1"]);
    let addr = s.base.strip_prefix("http://").unwrap().to_owned();
    // Half a request, then nothing: a graceful stop waits for it to finish.
    let mut quiet = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(&mut quiet, b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    terminate(&s);
    let asked = std::time::Instant::now();
    let status = loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            asked.elapsed() < std::time::Duration::from_secs(30),
            "the server still runs 30 s after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(s.child.stderr.as_mut().unwrap(), &mut rest).unwrap();
    assert!(rest.contains("\"cut_off\":true"), "{rest}");
    drop(quiet);
}

#[test]
fn serve_stops_gracefully_on_sigterm() {
    let mut s = start(&["--ceiling-route"]);
    let r = get(&format!("{}/_ceiling?bytes=100", s.base), &[]);
    assert_eq!((r.status, r.text.len()), (200, 100));
    // Another method is a JSON error, as on every other route.
    let r = call("POST", &format!("{}/_ceiling", s.base), &[]);
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
    assert_eq!(r.json()["errors"][0]["status"], "405");
    terminate(&s);
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(s.child.stderr.as_mut().unwrap(), &mut rest).unwrap();
    assert!(rest.contains("\"stopped\""), "{rest}");
}

#[test]
fn serve_reports_bad_files_as_json_errors() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_resellers"))
            .args(args)
            .output()
            .unwrap();
        let err: Value = serde_json::from_slice(&out.stderr)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), err)
    };
    let tokens = file("serve-tokens2.json", TOKENS);
    let t = tokens.to_str().unwrap();
    let (code, err) = run(&["serve", "--data", "/no/such/file.ndjson", "--tokens", t]);
    assert_eq!(code, Some(2));
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("/no/such/file.ndjson"),
        "{err}"
    );
    // Every address and no --base-url: the links would name 0.0.0.0.
    for everywhere in ["0.0.0.0:0", "[::]:0"] {
        let (code, err) = run(&["serve", "--listen", everywhere, "--tokens", t]);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err["message"].as_str().unwrap().contains("--base-url"),
            "{err}"
        );
    }
    let data = file("serve2.ndjson", DATA);
    let d = data.to_str().unwrap();
    let (_, err) = run(&["serve", "--data", d]);
    assert!(
        err["message"].as_str().unwrap().contains("--tokens"),
        "{err}"
    );
    let bad = file("bad-tokens.json", r#"{"tokens": [{"token": "x"}]}"#);
    let (_, err) = run(&["serve", "--data", d, "--tokens", bad.to_str().unwrap()]);
    assert!(
        err["message"].as_str().unwrap().contains("bad-tokens.json"),
        "{err}"
    );
    let broken = file("broken.ndjson", "{\"id\": 1}\n{\"id\": 2, \"parent\": 9}\n");
    let out = Command::new(env!("CARGO_BIN_EXE_resellers"))
        .args(["serve", "--data", broken.to_str().unwrap(), "--tokens", t])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"], "invalid_hierarchy");
    // No command at all: the commands, and a usage exit.
    let out = Command::new(env!("CARGO_BIN_EXE_resellers"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    for c in ["eligible-parents", "downline", "serve", "generate", "bench"] {
        assert!(text.contains(c), "{text}");
    }
}
