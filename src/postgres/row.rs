//! [`ColumnMap`] and [`Row`]: a decoded row of the reseller table as the engine's
//! fields, read by the column positions its `Relation` message gives.

use crate::{Attributes, Capabilities, Capability, Record, ResellerId};

use super::pgoutput::{Relation, Tuple, Value};
use super::table::{CapabilityColumns, Table};

/// Where each field of a [`Table`] sits in the rows of one `Relation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ColumnMap {
    id: usize,
    parent: usize,
    name: Option<usize>,
    capabilities: CapabilityIndexes,
    economic_enabled: Option<usize>,
    attributes: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum CapabilityIndexes {
    None,
    Array(usize),
    Flags(Vec<(Capability, usize)>),
}

/// One field of a row, as a change gives it: `None` when the change did not send it (a
/// large value an update left as it was).
pub(crate) type Sent<T> = Option<T>;

/// A row of the reseller table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) id: ResellerId,
    /// `None`: a root (`NULL`, or the row's own id).
    pub(crate) parent: Option<ResellerId>,
    pub(crate) name: Sent<String>,
    pub(crate) capabilities: Sent<Capabilities>,
    pub(crate) economic_enabled: Sent<bool>,
    pub(crate) attributes: Sent<Attributes>,
}

impl ColumnMap {
    /// Finds the table's columns in `relation`; the error names a missing column.
    pub(crate) fn resolve(table: &Table, relation: &Relation) -> Result<ColumnMap, String> {
        let find = |column: &str| {
            relation
                .columns
                .iter()
                .position(|(c, _)| c == column)
                .ok_or_else(|| {
                    format!(
                        "table {}.{} has no column {column:?}",
                        relation.schema, relation.name
                    )
                })
        };
        let id = find(&table.id)?;
        Ok(ColumnMap {
            id,
            parent: find(&table.parent)?,
            name: table.display_name.as_deref().map(find).transpose()?,
            capabilities: match &table.capabilities {
                CapabilityColumns::None => CapabilityIndexes::None,
                CapabilityColumns::Array(c) => CapabilityIndexes::Array(find(c)?),
                CapabilityColumns::Flags(f) => CapabilityIndexes::Flags(
                    f.iter()
                        .map(|(cap, c)| Ok((*cap, find(c)?)))
                        .collect::<Result<_, String>>()?,
                ),
            },
            economic_enabled: table.economic_enabled.as_deref().map(find).transpose()?,
            attributes: table.attributes.as_deref().map(find).transpose()?,
        })
    }

    /// The id of a row, or of a key tuple (whose other columns are `NULL`).
    pub(crate) fn id(&self, tuple: &Tuple<'_>) -> Result<ResellerId, String> {
        match tuple.0.get(self.id) {
            Some(Value::Text(t)) => Ok(ResellerId::from(*t)),
            Some(Value::Null) => Err("a row without an id".into()),
            Some(Value::Unchanged) | None => Err("a row whose id was not sent".into()),
        }
    }

    /// The fields of a row; the error says which value is not understood.
    pub(crate) fn row(&self, tuple: &Tuple<'_>) -> Result<Row, String> {
        if tuple.0.len() <= self.max_index() {
            return Err(format!("a row of {} columns", tuple.0.len()));
        }
        let id = self.id(tuple)?;
        let text = |i: usize| -> Sent<Option<&str>> {
            match tuple.0[i] {
                Value::Text(t) => Some(Some(t)),
                Value::Null => Some(None),
                Value::Unchanged => None,
            }
        };
        let parent = match tuple.0[self.parent] {
            Value::Text(t) if t != id.as_str() => Some(ResellerId::from(t)),
            Value::Text(_) | Value::Null => None,
            Value::Unchanged => return Err("a row whose parent was not sent".into()),
        };
        let boolean = |i: usize| -> Result<Sent<bool>, String> {
            match text(i) {
                None => Ok(None),
                Some(None) | Some(Some("f")) => Ok(Some(false)),
                Some(Some("t")) => Ok(Some(true)),
                Some(Some(other)) => Err(format!("{other:?} is not a boolean")),
            }
        };
        let capabilities = match &self.capabilities {
            CapabilityIndexes::None => Some(Capabilities::NONE),
            CapabilityIndexes::Array(i) => match text(*i) {
                None => None,
                Some(None) => Some(Capabilities::NONE),
                Some(Some(t)) => Some(capability_array(t)?),
            },
            CapabilityIndexes::Flags(flags) => {
                let mut caps = Some(Capabilities::NONE);
                for (cap, i) in flags {
                    match boolean(*i)? {
                        None => caps = None,
                        Some(true) => {
                            if let Some(c) = &mut caps {
                                c.insert(*cap);
                            }
                        }
                        Some(false) => {}
                    }
                }
                caps
            }
        };
        Ok(Row {
            name: match self.name {
                None => Some(String::new()),
                Some(i) => text(i).map(|t| t.unwrap_or_default().to_string()),
            },
            capabilities,
            economic_enabled: match self.economic_enabled {
                None => Some(false),
                Some(i) => boolean(i)?,
            },
            attributes: match self.attributes {
                None => Some(Attributes::none()),
                Some(i) => match text(i) {
                    None => None,
                    Some(None) => Some(Attributes::none()),
                    Some(Some(t)) => Some(
                        Attributes::from_json(t)
                            .map_err(|e| format!("attributes that are not a JSON object: {e}"))?,
                    ),
                },
            },
            id,
            parent,
        })
    }

    fn max_index(&self) -> usize {
        let caps = match &self.capabilities {
            CapabilityIndexes::None => 0,
            CapabilityIndexes::Array(i) => *i,
            CapabilityIndexes::Flags(f) => f.iter().map(|(_, i)| *i).max().unwrap_or(0),
        };
        [
            Some(self.id),
            Some(self.parent),
            self.name,
            Some(caps),
            self.economic_enabled,
            self.attributes,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0)
    }
}

/// The record of a row of the load query (`Table::load_query`), its fields in COPY's
/// binary form: id, parent id, name (text), capabilities (`text[]`), economic flag
/// (`bool`), attributes (JSON text). The error says which value is not understood.
pub(crate) fn loaded_record(fields: &[Option<&[u8]>]) -> Result<Record, String> {
    let text = |i: usize, what: &str| -> Result<Option<&str>, String> {
        fields[i]
            .map(|b| std::str::from_utf8(b).map_err(|_| format!("{what} is not UTF-8")))
            .transpose()
    };
    let id = text(0, "the id")?.ok_or("a row without an id")?;
    let mut record = Record::new(id, text(1, "the parent id")?)
        .name(text(2, "the name")?.unwrap_or_default())
        .economic_enabled(fields[4] == Some(&[1u8][..]));
    if let Some(array) = fields[3] {
        record = record.capabilities(binary_capabilities(array)?);
    }
    if let Some(json) = text(5, "the attributes")? {
        record = record.attributes(
            Attributes::from_json(json)
                .map_err(|e| format!("attributes that are not a JSON object: {e}"))?,
        );
    }
    Ok(record)
}

/// The capabilities of a `text[]` in its binary form: dimensions, a null flag, the
/// element type, each dimension's size and lower bound, then each element's length
/// (`-1`: `NULL`, skipped) and bytes.
fn binary_capabilities(b: &[u8]) -> Result<Capabilities, String> {
    fn bad() -> String {
        "capabilities that are not a one-dimensional text array".to_string()
    }
    fn int(b: &[u8], at: &mut usize) -> Result<i32, String> {
        let v = b.get(*at..*at + 4).ok_or_else(bad)?;
        *at += 4;
        Ok(i32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    }
    let mut at = 0;
    let dims = int(b, &mut at)?;
    let _has_null = int(b, &mut at)?;
    let _element = int(b, &mut at)?;
    let n = match dims {
        0 => 0,
        1 => {
            let n = int(b, &mut at)?;
            let _lower = int(b, &mut at)?;
            n
        }
        _ => return Err(bad()),
    };
    let mut caps = Capabilities::NONE;
    for _ in 0..n {
        let len = int(b, &mut at)?;
        if len < 0 {
            continue;
        }
        let start = at;
        let end = start.checked_add(len as usize).ok_or_else(bad)?;
        let name = b.get(start..end).ok_or_else(bad)?;
        at = end;
        let name = std::str::from_utf8(name).map_err(|_| bad())?;
        caps.insert(
            name.parse()
                .map_err(|e: crate::UnknownCapability| e.to_string())?,
        );
    }
    Ok(caps)
}

/// The capabilities of a `text[]` value in PostgreSQL's array text form (`{iptv,sip}`,
/// elements possibly double-quoted with backslash escapes; `NULL` elements skipped;
/// `[0:1]={iptv,sip}` for an array whose index does not start at 1, as PostgreSQL
/// writes it, the binary form's lower bound being ignored too).
pub(crate) fn capability_array(text: &str) -> Result<Capabilities, String> {
    let bad = || format!("{text:?} is not a one-dimensional text array");
    let inner = without_bounds(text)
        .ok_or_else(bad)?
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(bad)?;
    let mut caps = Capabilities::NONE;
    let mut chars = inner.chars().peekable();
    while chars.peek().is_some() {
        let mut element = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next().ok_or_else(bad)? {
                    '"' => break,
                    '\\' => element.push(chars.next().ok_or_else(bad)?),
                    c => element.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if matches!(c, '{' | '}' | '"') {
                    return Err(bad());
                }
                element.push(c);
                chars.next();
            }
        }
        match chars.next() {
            None | Some(',') => {}
            Some(_) => return Err(bad()),
        }
        if !quoted && element.eq_ignore_ascii_case("NULL") {
            continue;
        }
        caps.insert(
            element
                .parse()
                .map_err(|e: crate::UnknownCapability| e.to_string())?,
        );
    }
    Ok(caps)
}

/// `text` after the bounds of its one dimension (`[lower:upper]=`), if it starts with
/// them; `text` itself if it has none; `None` for bounds of another shape.
fn without_bounds(text: &str) -> Option<&str> {
    let Some(rest) = text.strip_prefix('[') else {
        return Some(text);
    };
    let (bounds, rest) = rest.split_once("]=")?;
    let (lower, upper) = bounds.split_once(':')?;
    let lower: i64 = lower.parse().ok()?;
    let upper: i64 = upper.parse().ok()?;
    (lower <= upper.saturating_add(1)).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary_array(names: &[Option<&str>]) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [1i32, 0, 25, names.len() as i32, 1] {
            b.extend(v.to_be_bytes());
        }
        for n in names {
            match n {
                None => b.extend((-1i32).to_be_bytes()),
                Some(n) => {
                    b.extend((n.len() as i32).to_be_bytes());
                    b.extend(n.as_bytes());
                }
            }
        }
        b
    }

    #[test]
    fn binary_capability_arrays() {
        let c = binary_capabilities(&binary_array(&[Some("iptv"), None, Some("mvno")])).unwrap();
        assert!(c.contains(Capability::Iptv) && c.contains(Capability::Mvno));
        let mut empty = Vec::new();
        for v in [0i32, 0, 25] {
            empty.extend(v.to_be_bytes());
        }
        assert_eq!(binary_capabilities(&empty), Ok(Capabilities::NONE));
        assert!(binary_capabilities(&binary_array(&[Some("tv")]))
            .unwrap_err()
            .contains("tv"));
        let good = binary_array(&[Some("iptv")]);
        for cut in 0..good.len() {
            assert!(binary_capabilities(&good[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn loaded_records() {
        let caps = binary_array(&[Some("sip")]);
        let fields: [Option<&[u8]>; 6] = [
            Some(b"7"),
            Some(b"3"),
            Some(b"Northwind"),
            Some(&caps),
            Some(&[1]),
            Some(br#"{"b": 1, "a": 2}"#),
        ];
        let r = loaded_record(&fields).unwrap();
        assert_eq!(
            (r.id.as_str(), r.parent.as_ref().map(|p| p.as_str())),
            ("7", Some("3"))
        );
        assert_eq!(r.name, "Northwind");
        assert!(r.capabilities.contains(Capability::Sip) && r.economic_enabled);
        assert_eq!(r.attributes.as_json(), Some(r#"{"a":2,"b":1}"#));
        let root: [Option<&[u8]>; 6] = [Some(b"1"), None, None, None, Some(&[0]), None];
        let r = loaded_record(&root).unwrap();
        assert!(r.parent.is_none() && !r.economic_enabled && r.attributes.is_none());
        let bad: [Option<&[u8]>; 6] = [Some(b"1"), None, None, None, None, Some(b"[1]")];
        assert!(loaded_record(&bad).unwrap_err().contains("attributes"));
        let no_id: [Option<&[u8]>; 6] = [None, None, None, None, None, None];
        assert!(loaded_record(&no_id).is_err());
    }

    #[test]
    fn capability_arrays() {
        assert_eq!(capability_array("{}"), Ok(Capabilities::NONE));
        let c = capability_array(r#"{iptv,"sip",NULL}"#).unwrap();
        assert!(c.contains(Capability::Iptv) && c.contains(Capability::Sip));
        assert!(!c.contains(Capability::Mvno));
        assert!(capability_array("{tv}").unwrap_err().contains("tv"));
        // Bounds of the one dimension, as PostgreSQL writes an array whose index
        // does not start at 1.
        let c = capability_array("[0:1]={iptv,sip}").unwrap();
        assert!(c.contains(Capability::Iptv) && c.contains(Capability::Sip));
        let c = capability_array("[-3:-3]={mvno}").unwrap();
        assert!(c.contains(Capability::Mvno) && !c.contains(Capability::Sip));
        for bad in [
            "[0:1]{iptv}",
            "[0]={iptv}",
            "[a:b]={iptv}",
            "[0:1][0:1]={{iptv}}",
            "[5:1]={iptv}",
            "",
            "iptv",
            "{iptv",
            r#"{"iptv}"#,
            "{{iptv}}",
            r#"{"iptv"x}"#,
        ] {
            assert!(capability_array(bad).is_err(), "{bad}");
        }
    }
}
