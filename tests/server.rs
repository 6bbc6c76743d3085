//! Starts the HTTP service (`http::router`, what `resellers serve` and the example run)
//! on 127.0.0.1 and drives both endpoints with a real HTTP client (ureq): success bodies
//! checked against the naive model, paging links followed to the end, 400 and 403, and
//! a client that pins the version of its first page while the hierarchy changes.

use std::sync::Arc;

use reseller_hierarchy::generate::{Generator, Shape};
use reseller_hierarchy::http::{router, ServeOptions, Tokens};
use reseller_hierarchy::{Hierarchy, Mutation, Record, Removal, ResellerId, Snapshot};
use serde_json::Value;

/// The test's callers: one token per principal the checks below need.
const TOKENS: &str = r#"{"tokens": [
  {"token": "G2dYuBK44dgYu90id1122e", "role": "RESELLER_ADMIN", "reseller": "1"},
  {"token": "ra-2", "role": "RESELLER_ADMIN", "reseller": "2"},
  {"token": "r-2", "role": "RESELLER", "reseller": "2"},
  {"token": "support-2", "role": "SUPPORT", "reseller": "2"},
  {"token": "ra-missing", "role": "RESELLER_ADMIN", "reseller": "999999"},
  {"token": "ra-none", "role": "RESELLER_ADMIN"},
  {"token": "admin", "role": "ADMIN"}
]}"#;

struct Reply {
    status: u16,
    content_type: String,
    /// The `Hierarchy-Version` header.
    version: Option<String>,
    /// The `ETag` header.
    etag: Option<String>,
    /// The `Cache-Control` and `Vary` headers.
    caching: (Option<String>, Option<String>),
    body: Value,
}

fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.call().expect("the server answers");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let version = resp
        .headers()
        .get("hierarchy-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let etag = header("etag");
    let caching = (header("cache-control"), header("vary"));
    let text = resp.body_mut().read_to_string().expect("a body");
    // A 304 has no body.
    let body = match status {
        304 => Value::Null,
        _ => serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    };
    Reply {
        status,
        content_type,
        version,
        etag,
        caching,
        body,
    }
}

/// Starts the server on an ephemeral loopback port; returns its base URL.
fn start(records: Vec<Record>) -> String {
    let snapshot = Snapshot::build(records).unwrap();
    start_over(Arc::new(Hierarchy::new(snapshot)))
}

/// Starts the server over `hierarchy`; returns its base URL.
fn start_over(hierarchy: Arc<Hierarchy>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tx.send(addr).unwrap();
            let app = router(
                hierarchy,
                Arc::new(Tokens::from_json(TOKENS).unwrap()),
                ServeOptions::new(format!("http://{addr}")),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    format!("http://{addr}")
}

/// Ids of the strict downline of `root` in pre-order, walking children naively.
fn naive_downline(records: &[Record], root: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(v) = stack.pop() {
        let kids: Vec<String> = records
            .iter()
            .filter(|r| {
                r.parent.as_ref().map(|p| p.as_str()) == Some(v.as_str()) && r.id.as_str() != v
            })
            .map(|r| r.id.to_string())
            .collect();
        stack.extend(kids.into_iter().rev());
        if v != root {
            out.push(v);
        }
    }
    out
}

/// The ids of a JSON:API document's resources, in order.
fn data_ids(body: &Value) -> Vec<String> {
    ids_under(&body["data"], "id")
}

/// The ids of a TelecomX list's items, in order.
fn list_ids(body: &Value) -> Vec<String> {
    ids_under(body, "_id")
}

fn ids_under(items: &Value, key: &str) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|d| d[key].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn both_endpoints_over_real_http() {
    let records = Generator::new(Shape::Random, 300)
        .seed(11)
        .attributes(true)
        .generate();
    let base = start(records.clone());

    // ActivePlatform: follow `next` from the first page to the end.
    let token = [("X-Api-Token", "G2dYuBK44dgYu90id1122e")];
    let mut url =
        format!("{base}/api/v3/customer_store/resellers?page%5Bnumber%5D=1&page%5Bsize%5D=40");
    let mut seen = Vec::new();
    let mut pages = 0;
    let expected = naive_downline(&records, "1");
    loop {
        let r = get(&url, &token);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.content_type, "application/vnd.api+json");
        assert_eq!(r.body["meta"]["total"], expected.len());
        for item in r.body["data"].as_array().unwrap() {
            assert_eq!(item["type"], "resellers");
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        let links = &r.body["links"];
        assert_eq!(links["self"].as_str().unwrap(), url);
        match links["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => {
                assert_eq!(links["last"].as_str().unwrap(), url);
                break;
            }
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, expected.len().div_ceil(40));

    // page/per_page spelling, trailing slash.
    let r = get(
        &format!("{base}/api/v3/customer_store/resellers/?page=2&per_page=5"),
        &token,
    );
    assert_eq!(r.status, 200);
    assert_eq!(data_ids(&r.body), expected[5..10]);

    // Links come from configuration, not from the client's Host header.
    let r = get(&url, &[token[0], ("Host", "evil.example")]);
    assert!(
        r.body["links"]["self"].as_str().unwrap().starts_with(&base),
        "{}",
        r.body["links"]
    );

    // 400: JSON:API error naming the parameter.
    let r = get(
        &format!("{base}/api/v3/customer_store/resellers?page%5Bsize%5D=1001"),
        &token,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"][0]["status"], "400");
    assert_eq!(r.body["errors"][0]["source"]["parameter"], "page[size]");
    // 403: unknown token.
    let r = get(
        &format!("{base}/api/v3/customer_store/resellers"),
        &[("X-Api-Token", "nope")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.body["errors"][0]["code"], "access_denied");

    // TelecomX: a RESELLER_ADMIN of "2" with voip=true.
    let caps = |id: &str| {
        records
            .iter()
            .find(|r| r.id.as_str() == id)
            .unwrap()
            .capabilities
    };
    let voip = |id: &str| {
        let c = caps(id);
        c.contains(reseller_hierarchy::Capability::Sip)
            && c.contains(reseller_hierarchy::Capability::Mvno)
    };
    let mut own_and_down = vec!["2".to_owned()];
    own_and_down.extend(naive_downline(&records, "2"));
    let want: Vec<String> = own_and_down.into_iter().filter(|id| voip(id)).collect();
    let who = [("X-Api-Token", "ra-2")];
    let r = get(
        &format!("{base}/customer/resellers/list?voip=true&per_page=1000"),
        &who,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(list_ids(&r.body), want);
    // Each item's billing flag and name are its record's.
    let mut flags = (0, 0);
    for item in r.body.as_array().unwrap() {
        let id = item["_id"].as_str().unwrap();
        let record = records.iter().find(|r| r.id.as_str() == id).unwrap();
        let enabled = &item["integrations"]["billing"]["economic"]["enabled"];
        assert_eq!(enabled.as_bool(), Some(record.economic_enabled), "{id}");
        assert_eq!(item["name"].as_str(), Some(record.name.as_str()), "{id}");
        if record.economic_enabled {
            flags.0 += 1;
        } else {
            flags.1 += 1;
        }
    }
    assert!(flags.0 > 0 && flags.1 > 0, "both flags listed: {flags:?}");

    // 403: a RESELLER with a flag; an unknown role; an unknown reseller.
    for headers in [
        vec![("X-Api-Token", "r-2")],
        vec![("X-Api-Token", "support-2")],
        vec![("X-Api-Token", "ra-missing")],
    ] {
        let r = get(
            &format!("{base}/customer/resellers/list?iptv=true"),
            &headers,
        );
        assert_eq!(r.status, 403, "{headers:?}");
        assert_eq!(r.body["error"], "access_denied");
    }
    // Access is decided before paging: a refused caller with bad paging is a 403 too,
    // on both endpoints, and learns nothing about the listing.
    for headers in [
        vec![("X-Api-Token", "r-2")],
        vec![("X-Api-Token", "support-2")],
        vec![("X-Api-Token", "ra-missing")],
        vec![("X-Api-Token", "ra-none")],
    ] {
        for q in [
            "iptv=true&page=0",
            "iptv=true&per_page=abc",
            "iptv=true&page%5Bsize%5D=5000",
        ] {
            let r = get(&format!("{base}/customer/resellers/list?{q}"), &headers);
            assert_eq!(
                (r.status, &r.body["error"]),
                (403, &"access_denied".into()),
                "{headers:?} {q}"
            );
        }
    }
    for q in ["page%5Bnumber%5D=0", "page%5Bsize%5D=1001", "page=abc"] {
        let r = get(
            &format!("{base}/api/v3/customer_store/resellers?{q}"),
            &[("X-Api-Token", "nope")],
        );
        assert_eq!(r.status, 403, "{q}");
        assert_eq!(r.body["errors"][0]["code"], "access_denied");
    }
    // 400: bad paging or flag values.
    for q in ["page=0", "page=abc", "per_page=1001", "iptv=maybe"] {
        let r = get(
            &format!("{base}/customer/resellers/list?{q}"),
            &[("X-Api-Token", "admin")],
        );
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.body["error"], "bad_request");
    }
    // ADMIN: everything, no reseller needed.
    let r = get(
        &format!("{base}/customer/resellers/list?per_page=1000"),
        &[("X-Api-Token", "admin")],
    );
    assert_eq!(r.body.as_array().unwrap().len(), records.len());
    let _ = ResellerId::from("unused");
}

/// A client pages the downline of "1" with the version of its first page pinned while
/// the hierarchy changes under it, moving resellers in and out of that downline, adding
/// and removing: the pages give that version's downline exactly once. Then the pinned
/// eligible parents, and the errors: a version no longer kept or made by another run
/// (410), one not published yet and malformed values (400), refused callers (403 first).
#[test]
fn a_client_that_pins_its_first_version_pages_it_whole_while_it_changes() {
    // The tree of "1", and a second tree of 100 outside it.
    let mut records = Generator::new(Shape::Random, 200)
        .seed(12)
        .attributes(true)
        .generate();
    records.extend(
        (0..100).map(|k| Record::new(format!("x{k}"), (k > 0).then(|| format!("x{}", k / 2)))),
    );
    let hierarchy = Arc::new(Hierarchy::new(Snapshot::build(records.clone()).unwrap()));
    let base = start_over(Arc::clone(&hierarchy));
    let path = format!("{base}/api/v3/customer_store/resellers");
    let token = [("X-Api-Token", "G2dYuBK44dgYu90id1122e")];
    let expected = naive_downline(&records, "1");
    let outside: Vec<String> = records
        .iter()
        .map(|r| r.id.to_string())
        .filter(|id| id != "1" && !expected.contains(id))
        .collect();
    assert!(
        expected.len() > 50 && outside.len() > 50,
        "{} {}",
        expected.len(),
        outside.len()
    );

    // The first page, unpinned: its header names the version; its links carry none.
    let first = get(&format!("{path}?page%5Bsize%5D=25"), &token);
    assert_eq!(first.status, 200, "{}", first.body);
    let pin = first.version.clone().expect("a Hierarchy-Version header");
    assert!(pin.starts_with("1-"), "{pin}");
    assert!(!first.body["links"].to_string().contains("version"));
    let mut seen = data_ids(&first.body);
    // The next page with the pin added; from then on the links carry it.
    let mut url = format!(
        "{}&version={pin}",
        first.body["links"]["next"].as_str().unwrap()
    );
    let mut step = 0;
    loop {
        // Changes between pages: one of the downline moved out, an outsider moved in,
        // a child added under "1", one of the downline removed with its downline
        // re-attached.
        let batch = match step % 4 {
            0 => Mutation::Move {
                id: expected[expected.len() - 1 - step].as_str().into(),
                parent: None,
            },
            1 => Mutation::Move {
                id: outside[step].as_str().into(),
                parent: Some("1".into()),
            },
            2 => Mutation::Add(Record::new(format!("new {step}"), Some("1"))),
            _ => Mutation::Remove {
                id: expected[step].as_str().into(),
                removal: Removal::ReattachDownline,
            },
        };
        // Some may be refused (a reseller already moved or removed): either way the
        // pinned version stays as it was.
        let _ = hierarchy.apply(&[batch]);
        step += 1;
        let r = get(&url, &token);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.version.as_deref(), Some(pin.as_str()));
        assert_eq!(r.body["meta"]["total"], expected.len());
        seen.extend(data_ids(&r.body));
        let links = &r.body["links"];
        // (The first pinned URL is the client's own, its parameters in another order.)
        if step > 1 {
            assert_eq!(links["self"].as_str().unwrap(), url);
        }
        assert!(links["self"]
            .as_str()
            .unwrap()
            .contains(&format!("version={pin}")));
        match links["next"].as_str() {
            Some(next) => {
                assert!(next.contains(&format!("version={pin}")), "{next}");
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(seen, expected);
    // The hierarchy did change: unpinned, the downline is another.
    let now = get(&format!("{path}?page%5Bsize%5D=1000"), &token);
    assert_ne!(now.version.as_deref(), Some(pin.as_str()));
    assert_ne!(data_ids(&now.body), expected);

    // TelecomX, pinned: the eligible parents of "2" at version 1.
    let mut own_and_down = vec!["2".to_owned()];
    own_and_down.extend(naive_downline(&records, "2"));
    let list = format!("{base}/customer/resellers/list");
    let r = get(
        &format!("{list}?per_page=1000&version={pin}"),
        &[("X-Api-Token", "ra-2")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.version.as_deref(), Some(pin.as_str()));
    assert_eq!(list_ids(&r.body), own_and_down);

    // Not published yet, another run's tag, malformed: 400, 410, 400, on both.
    let (number, tag) = pin.split_once('-').unwrap();
    assert_eq!(number, "1");
    let current = hierarchy.snapshot().version();
    let other_tag = format!("{:016x}", u64::from_str_radix(tag, 16).unwrap() ^ 1);
    for (version, status, code) in [
        (format!("{}-{tag}", current + 1), 400, "bad_request"),
        (format!("1-{other_tag}"), 410, "version_expired"),
        ("1".to_owned(), 400, "bad_request"),
        ("abc".to_owned(), 400, "bad_request"),
        // One spelling per pin.
        (format!("01-{tag}"), 400, "bad_request"),
        (format!("1-{}", tag.to_uppercase()), 400, "bad_request"),
        (format!("0-{tag}"), 400, "bad_request"),
    ] {
        if version == format!("1-{}", tag.to_uppercase()) && tag.to_uppercase() == tag {
            continue; // a tag of digits only has no uppercase spelling
        }
        let r = get(&format!("{path}?version={version}"), &token);
        assert_eq!(r.status, status, "{version}: {}", r.body);
        assert_eq!(r.body["errors"][0]["code"], code, "{version}");
        assert_eq!(r.body["errors"][0]["source"]["parameter"], "version");
        let r = get(
            &format!("{list}?version={version}"),
            &[("X-Api-Token", "ra-2")],
        );
        assert_eq!((r.status, &r.body["error"]), (status, &code.into()));
    }
    // A refused caller gets its 403 whatever `version` says: malformed, not
    // published, another hierarchy's, or a version kept.
    for version in [
        "abc".to_owned(),
        format!("{}-{tag}", current + 1),
        format!("1-{other_tag}"),
        pin.clone(),
    ] {
        let r = get(
            &format!("{list}?iptv=true&version={version}"),
            &[("X-Api-Token", "r-2")],
        );
        assert_eq!((r.status, &r.body["error"]), (403, &"access_denied".into()));
        let r = get(
            &format!("{path}?version={version}"),
            &[("X-Api-Token", "ra-missing")],
        );
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.body["errors"][0]["code"], "access_denied");
    }

    // A 304 names the version too.
    let pinned_first = format!("{path}?version={pin}");
    let r = get(&pinned_first, &token);
    let tag_of_first = r.etag.expect("an ETag");
    let r = get(
        &pinned_first,
        &[token[0], ("If-None-Match", tag_of_first.as_str())],
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.version.as_deref(), Some(pin.as_str()));

    // Once the hierarchy keeps it no longer: 410.
    for k in 0..=hierarchy.retention() {
        hierarchy
            .apply(&[Mutation::Add(Record::new(format!("later {k}"), Some("2")))])
            .unwrap();
    }
    assert!(hierarchy.snapshot_at(1).is_none());
    let r = get(&format!("{path}?version={pin}"), &token);
    assert_eq!(r.status, 410, "{}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "version_expired");
    let r = get(&format!("{list}?version={pin}"), &[("X-Api-Token", "ra-2")]);
    assert_eq!(
        (r.status, &r.body["error"]),
        (410, &"version_expired".into())
    );
}

#[test]
fn listings_are_private_to_their_caller() {
    let records = vec![
        Record::new("1", None::<&str>),
        Record::new("2", Some("1")),
        Record::new("3", Some("2")),
    ];
    let base = start(records);
    for url in [
        format!("{base}/api/v3/customer_store/resellers"),
        format!("{base}/customer/resellers/list"),
    ] {
        let token = ("X-Api-Token", "ra-2");
        let r = get(&url, &[token]);
        assert_eq!(r.status, 200, "{}", r.body);
        let (cache, vary) = r.caching;
        // No shared cache may hand one caller's listing to another.
        assert_eq!(cache.as_deref(), Some("private"), "{url}");
        let vary = vary.unwrap_or_default().to_ascii_lowercase();
        assert!(
            vary.contains("x-api-token") && vary.contains("authorization"),
            "{vary}"
        );
        let tag = r.etag.expect("an ETag");
        let r = get(&url, &[token, ("If-None-Match", tag.as_str())]);
        assert_eq!(r.status, 304);
        assert_eq!(r.caching.0.as_deref(), Some("private"), "{url}");
        assert!(r.caching.1.is_some(), "{url}");
    }
}

#[test]
fn a_pin_does_not_outlive_the_callers_reseller() {
    let records = vec![
        Record::new("1", None::<&str>),
        Record::new("2", Some("1")),
        Record::new("3", Some("2")),
    ];
    let hierarchy = Arc::new(Hierarchy::new(Snapshot::build(records).unwrap()));
    let base = start_over(Arc::clone(&hierarchy));
    let path = format!("{base}/api/v3/customer_store/resellers");
    let list = format!("{base}/customer/resellers/list");
    let first = get(&path, &[("X-Api-Token", "ra-2")]);
    assert_eq!(data_ids(&first.body), ["3"]);
    let pin = first.version.expect("a Hierarchy-Version header");
    hierarchy
        .apply(&[Mutation::Remove {
            id: "2".into(),
            removal: Removal::ReattachDownline,
        }])
        .unwrap();
    assert!(hierarchy.snapshot_at(1).is_some());
    // Reseller 2 is gone: its manager is refused, pinned or not, as without the pin.
    for url in [
        format!("{path}?version={pin}"),
        format!("{list}?version={pin}"),
        path.clone(),
    ] {
        let r = get(&url, &[("X-Api-Token", "ra-2")]);
        assert_eq!(r.status, 403, "{url}: {}", r.body);
    }
    // A caller whose reseller is still there reads the pinned version.
    let r = get(
        &format!("{path}?version={pin}"),
        &[("X-Api-Token", "G2dYuBK44dgYu90id1122e")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(data_ids(&r.body), ["2", "3"]);
}
