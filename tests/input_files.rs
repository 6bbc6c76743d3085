//! Files as users' systems write them: a UTF-8 byte order mark before any format, and
//! a pretty-printed ActivePlatform document whose first member is not `data`; while a
//! broken first NDJSON line still leaves every other line read on its own.

use reseller_hierarchy::{Builder, InputFormat, Snapshot};

const NDJSON: &str = "{\"id\": 1, \"name\": \"Distributor\"}\n{\"id\": 2, \"parent\": 1}\n{\"id\": 3, \"parent\": 2, \"capabilities\": [\"iptv\"]}\n";
const BOM: &str = "\u{feff}";

fn seed() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/activeplatform_seed.json"
    );
    std::fs::read_to_string(path).unwrap()
}

fn read_any(
    text: &str,
) -> (
    InputFormat,
    Result<Snapshot, reseller_hierarchy::BuildError>,
) {
    let mut b = Builder::new();
    let format = b.read_any(text.as_bytes()).unwrap();
    (format, b.build())
}

#[test]
fn a_byte_order_mark_is_skipped_in_every_format() {
    for (text, format) in [
        (format!("{BOM}{NDJSON}"), InputFormat::Ndjson),
        (
            format!("{BOM}[{}]", NDJSON.trim().replace('\n', ",")),
            InputFormat::JsonArray,
        ),
        (format!("{BOM}{}", seed()), InputFormat::ActivePlatform),
    ] {
        let (found, built) = read_any(&text);
        assert_eq!(found, format);
        let snap = built.unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(snap.len() >= 2, "{format:?}");
    }
    // The readers of one format skip it too.
    let mut b = Builder::new();
    b.read_ndjson(format!("{BOM}{NDJSON}").as_bytes()).unwrap();
    assert_eq!(b.build().unwrap().len(), 3);
    let mut b = Builder::new();
    b.read_json_array(format!("{BOM}[{}]", NDJSON.trim().replace('\n', ",")).as_bytes())
        .unwrap();
    assert_eq!(b.build().unwrap().len(), 3);
    let mut b = Builder::new();
    b.read_activeplatform(format!("{BOM}{}", seed()).as_bytes())
        .unwrap();
    let with_bom = b.build().unwrap().len();
    let mut b = Builder::new();
    b.read_activeplatform(seed().as_bytes()).unwrap();
    assert_eq!(with_bom, b.build().unwrap().len());
}

#[test]
fn a_document_whose_first_member_is_links_is_a_document() {
    let seed: serde_json::Value = serde_json::from_str(&seed()).unwrap();
    let data = serde_json::to_string_pretty(&seed["data"]).unwrap();
    // `links` first, on the first line, the rest pretty-printed.
    let text = format!(
        "{{\"links\": {{\"self\": \"https://h/resellers?page%5Bnumber%5D=1\"}},\n  \"data\": {data},\n  \"meta\": {{\"total\": 2}}\n}}\n"
    );
    let (format, built) = read_any(&text);
    assert_eq!(format, InputFormat::ActivePlatform);
    let expected = seed["data"].as_array().unwrap().len();
    assert_eq!(built.unwrap().len(), expected);
}

#[test]
fn a_broken_first_ndjson_line_is_one_problem_among_lines() {
    let text = format!("{{\"id\": 9, \"name\": \"cut\n{NDJSON}");
    let (format, built) = read_any(&text);
    assert_eq!(format, InputFormat::Ndjson);
    let problems = built.unwrap_err();
    let problems = problems.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].to_string().contains("line 1"),
        "{}",
        problems[0]
    );
}
