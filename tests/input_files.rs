//! Files as users' systems write them: a UTF-8 byte order mark before any format (also
//! read a byte at a time, as a pipe may give it), and
//! a pretty-printed ActivePlatform document whose first member is not `data`; while a
//! broken first NDJSON line still leaves every other line read on its own.

use reseller_hierarchy::{Builder, InputFormat, Place, Problem, Snapshot};

const NDJSON: &str = "{\"id\": 1, \"name\": \"Distributor\"}\n{\"id\": 2, \"parent\": 1}\n{\"id\": 3, \"parent\": 2, \"capabilities\": [\"iptv\"]}\n";
const BOM: &str = "\u{feff}";

fn seed() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/activeplatform_seed.json"
    );
    std::fs::read_to_string(path).unwrap()
}

/// How many records the test inputs of `format` hold: NDJSON's three lines, the same
/// as an array, and the seed document's resources, counted by serde_json.
fn expected_len(format: InputFormat) -> usize {
    match format {
        InputFormat::ActivePlatform => {
            let seed: serde_json::Value = serde_json::from_str(&seed()).unwrap();
            seed["data"].as_array().unwrap().len()
        }
        _ => NDJSON.lines().count(),
    }
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
        assert_eq!(snap.len(), expected_len(format), "{format:?}");
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

/// A reader that returns one byte per read, as a pipe or socket may.
struct ByteByByte<'a>(&'a [u8]);

/// `text` through a buffer over [`ByteByByte`]: each fill gives one byte.
fn slow(text: &str) -> std::io::BufReader<ByteByByte<'_>> {
    std::io::BufReader::new(ByteByByte(text.as_bytes()))
}

impl std::io::Read for ByteByByte<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), out.first_mut()) {
            (Some((&b, rest)), Some(slot)) => {
                *slot = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn a_byte_order_mark_read_a_byte_at_a_time_is_skipped_too() {
    let ndjson = format!("{BOM}{NDJSON}");
    let array = format!("{BOM}[{}]", NDJSON.trim().replace('\n', ","));
    let document = format!("{BOM}{}", seed());
    for (text, format) in [
        (&ndjson, InputFormat::Ndjson),
        (&array, InputFormat::JsonArray),
        (&document, InputFormat::ActivePlatform),
    ] {
        let mut b = Builder::new();
        assert_eq!(b.read_any(slow(text)).unwrap(), format);
        let snap = b.build().unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(snap.len(), expected_len(format), "{format:?}");
    }
    let mut b = Builder::new();
    b.read_ndjson(slow(&ndjson)).unwrap();
    assert_eq!(b.build().unwrap().len(), 3);
    let mut b = Builder::new();
    b.read_json_array(ByteByByte(array.as_bytes())).unwrap();
    assert_eq!(b.build().unwrap().len(), 3);
    let mut b = Builder::new();
    b.read_activeplatform(ByteByByte(document.as_bytes()))
        .unwrap();
    assert_eq!(
        b.build().unwrap().len(),
        expected_len(InputFormat::ActivePlatform)
    );
    // The first bytes of a mark and then something else: an error, not records read
    // as if those bytes were not there.
    // (A problem of the input, not an I/O error: reading from memory does not fail.)
    type Reader = fn(&mut Builder, &[u8], bool) -> std::io::Result<()>;
    let readers: [Reader; 4] = [
        |b, d, slow| match slow {
            true => b.read_ndjson(std::io::BufReader::new(ByteByByte(d))),
            false => b.read_ndjson(d),
        },
        |b, d, slow| match slow {
            true => b.read_json_array(ByteByByte(d)),
            false => b.read_json_array(d),
        },
        |b, d, slow| match slow {
            true => b.read_activeplatform(ByteByByte(d)),
            false => b.read_activeplatform(d),
        },
        |b, d, slow| match slow {
            true => b.read_any(std::io::BufReader::new(ByteByByte(d))).map(drop),
            false => b.read_any(d).map(drop),
        },
    ];
    for bytes in [
        vec![0xEF],
        vec![0xEF, 0xBB],
        [&[0xEF, 0xBB][..], b"{\"id\": 1}\n"].concat(),
        [&[0xEF][..], b"[{\"id\": 1}]"].concat(),
    ] {
        for (k, read) in readers.iter().enumerate() {
            for slow in [false, true] {
                let mut b = Builder::new();
                read(&mut b, &bytes, slow).unwrap();
                let problems = b.build().unwrap_err().into_problems();
                assert!(
                    problems.iter().any(|p| match p {
                        // Read a byte at a time, the part of a mark is consumed first.
                        Problem::Malformed {
                            at: Place::Input,
                            message,
                            ..
                        } if slow => message.contains("byte order mark"),
                        // Read whole, the first record (or the input) starts with it.
                        Problem::Malformed { .. } => !slow,
                        _ => false,
                    }),
                    "{bytes:?}, reader {k}, slow {slow}: {problems:?}"
                );
            }
        }
    }
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
fn a_first_record_with_a_data_member_is_still_a_record() {
    // Records may carry members of their own; `data` is one a document has too, but
    // a document has no `id`.
    for first in [
        "{\"id\": 1, \"data\": {\"x\": 1}}",
        "{\"data\": [], \"id\": 1, \"name\": \"Distributor\"}",
    ] {
        let (format, built) = read_any(&format!("{first}\n{{\"id\": 2, \"parent\": 1}}\n"));
        assert_eq!(format, InputFormat::Ndjson, "{first}");
        let snap = built.unwrap_or_else(|e| panic!("{first}: {e}"));
        assert_eq!(snap.len(), 2, "{first}");
    }
    // One line holding a whole document is still a document.
    let seed: serde_json::Value = serde_json::from_str(&seed()).unwrap();
    let (format, built) = read_any(&format!("{seed}\n"));
    assert_eq!(format, InputFormat::ActivePlatform);
    assert_eq!(built.unwrap().len(), seed["data"].as_array().unwrap().len());
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

#[test]
fn lines_keep_their_numbers_after_leading_blank_lines_and_a_broken_first_line() {
    use reseller_hierarchy::{Place, Problem};
    // Blank lines before the first record.
    let (format, built) = read_any("\n\n{\"id\": 1, \"capabilities\": [\"fax\"]}\n");
    assert_eq!(format, InputFormat::Ndjson);
    assert!(matches!(
        &built.unwrap_err().problems()[0],
        Problem::UnknownCapability {
            at: Place::Line(3),
            ..
        }
    ),);
    // A first line cut short, then blank lines, then a record with an unknown parent.
    let (format, built) = read_any("{\"id\": 1\n\n{\"id\": 2, \"parent\": 9}\n");
    assert_eq!(format, InputFormat::Ndjson);
    let err = built.unwrap_err();
    let places: Vec<Place> = err
        .problems()
        .iter()
        .map(|p| match p {
            Problem::Malformed { at, .. } | Problem::UnknownParent { at, .. } => *at,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(places, [Place::Line(1), Place::Line(3)]);
}

#[test]
fn records_pushed_after_a_reader_are_named_by_record_index() {
    use reseller_hierarchy::{Place, Problem, Record};
    let mut b = Builder::new();
    b.read_ndjson(&b"{\"id\": 1}\n"[..]).unwrap();
    b.push(Record::new("2", Some("9")));
    b.read_json_array(&b"[{\"id\": 3, \"parent\": 8}]"[..])
        .unwrap();
    b.push_malformed("no record");
    let problems = b.build().unwrap_err().into_problems();
    let places: Vec<Place> = problems
        .iter()
        .map(|p| match p {
            Problem::Malformed { at, .. } | Problem::UnknownParent { at, .. } => *at,
            other => panic!("{other:?}"),
        })
        .collect();
    // Malformed first, then unknown parents in input order.
    assert_eq!(
        places,
        [Place::Record(3), Place::Record(1), Place::Element(0)]
    );
}

#[test]
fn form_feed_is_no_white_space_between_array_elements() {
    let mut b = Builder::new();
    b.read_json_array(&b"[{\"id\": 1},\x0c{\"id\": 2}]"[..])
        .unwrap();
    assert!(b.build().is_err());
}

#[test]
fn form_feed_is_no_white_space_in_any_reader() {
    use reseller_hierarchy::{Place, Problem};
    let malformed_at = |built: Result<Snapshot, reseller_hierarchy::BuildError>| -> Vec<Place> {
        built
            .unwrap_err()
            .problems()
            .iter()
            .filter_map(|p| match p {
                Problem::Malformed { at, .. } => Some(*at),
                _ => None,
            })
            .collect()
    };
    // A line holding only a form feed is no blank line of NDJSON.
    let text = "{\"id\": 1}\n\x0c\n{\"id\": 2, \"parent\": 1}\n";
    let mut b = Builder::new();
    b.read_ndjson(text.as_bytes()).unwrap();
    assert_eq!(malformed_at(b.build()), [Place::Line(2)]);
    let (format, built) = read_any(text);
    assert_eq!(format, InputFormat::Ndjson);
    assert_eq!(malformed_at(built), [Place::Line(2)]);
    // Nor before the first record or array, which `read_any` reads as the format's
    // own reader does.
    let (_, built) = read_any("\x0c{\"id\": 1}\n");
    assert_eq!(malformed_at(built), [Place::Line(1)]);
    let mut b = Builder::new();
    b.read_json_array(&b"\x0c[{\"id\": 1}]"[..]).unwrap();
    assert!(b.build().is_err());
    let (_, built) = read_any("\x0c[{\"id\": 1}]");
    assert!(built.is_err());
}

#[test]
fn a_first_line_with_data_that_is_no_array_leaves_every_line_checked() {
    // `{"data": 1}` is a record without an id (a document's `data` is an array): the
    // stream stays NDJSON and the problems of the other lines are reported with it.
    let text = "{\"data\": 1}\n{\"id\": 2, \"parent\": 9}\n{\"id\": 3}\n{\"id\": 3}\n";
    let (format, built) = read_any(text);
    assert_eq!(format, InputFormat::Ndjson);
    let err = built.unwrap_err();
    let problems = err.problems();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(matches!(
        &problems[0],
        Problem::Malformed {
            at: Place::Line(1),
            ..
        }
    ));
    assert!(problems.iter().any(|p| matches!(p,
        Problem::UnknownParent { at: Place::Line(2), parent, .. } if parent.as_str() == "9")));
    assert!(problems.iter().any(|p| matches!(p,
        Problem::DuplicateId { at, .. } if at == &[Place::Line(3), Place::Line(4)])));
}

#[test]
fn a_document_with_one_resource_a_line_after_its_links_is_a_document() {
    let text = "{\"links\": {\"self\": \"x\"}, \"data\": [\n{\"id\": \"1\", \"attributes\": {\"parent-id\": \"1\"}},\n{\"id\": \"2\", \"attributes\": {\"parent-id\": \"1\"}}\n]}\n";
    let (format, built) = read_any(text);
    assert_eq!(format, InputFormat::ActivePlatform);
    let snap = built.unwrap();
    assert_eq!(snap.len(), 2);
    assert_eq!(snap.root_count(), 1);
}

#[test]
fn a_minified_document_with_a_bad_resource_names_the_resource() {
    // One line, as an API response saved by `curl` is: the problem is the resource's,
    // at its path, not one about the whole first line.
    let text = r#"{"data":[{"id":"1","attributes":{"parent-id":"1"}},{"id":"2","attributes":{"parent-id":1.5}},{"id":"3","attributes":{"parent-id":"9"}}]}"#;
    let (format, built) = read_any(text);
    assert_eq!(format, InputFormat::ActivePlatform);
    let err = built.unwrap_err();
    let problems = err.problems();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(matches!(&problems[0],
        Problem::Malformed { at: Place::Resource(1), id: Some(id), .. } if id.as_str() == "2"));
    assert!(matches!(
        &problems[1],
        Problem::UnknownParent {
            at: Place::Resource(2),
            ..
        }
    ));
}
