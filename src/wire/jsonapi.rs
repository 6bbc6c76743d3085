//! ActivePlatform `GET /resellers`: a JSON:API document.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{order_from_query, page_request_from_query, write, ApiError};
use crate::id::Id;
use crate::snapshot::Page;
use crate::snapshot::{Reseller, Snapshot};

/// The JSON:API resource type of a reseller.
pub const RESOURCE_TYPE: &str = "resellers";

/// A downline page: `data`, `links`, and `meta.total`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The resellers of the page.
    pub data: Vec<Resource>,
    /// Paging links.
    pub links: Links,
    /// The listing's size.
    pub meta: Meta,
}

/// `meta`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Size of the whole listing.
    pub total: usize,
}

/// `links`: `self`, `first`, `last` always; `prev` except on the first page; `next`
/// except on the last. Each carries `page%5Bnumber%5D` and `page%5Bsize%5D`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// This page.
    #[serde(rename = "self")]
    pub this: String,
    /// Page 1.
    pub first: String,
    /// The page before, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prev: Option<String>,
    /// The page after, absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next: Option<String>,
    /// The last page, `max(1, ceil(total / per_page))`.
    pub last: String,
}

/// One reseller: `{"id", "type": "resellers", "attributes": {…}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// The reseller id.
    pub id: String,
    /// Always `resellers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `parent-id`, `created-at`, `updated-at`, `general`, `company`, `contacts`,
    /// `custom-attributes`, and any other attribute the record carried.
    pub attributes: Map<String, Value>,
}

impl From<Reseller<'_>> for Resource {
    /// The attributes are the record's payload with `parent-id` set to the parent's id
    /// (for a root, its own id, as ActivePlatform writes its top reseller) and
    /// `general.name` set to the name.
    fn from(r: Reseller<'_>) -> Self {
        let mut attributes = r.attributes().to_map();
        let parent = r.parent().unwrap_or(r.id());
        attributes.insert("parent-id".into(), Value::String(parent.to_string()));
        let general = attributes
            .entry("general")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(g) = general {
            g.insert("name".into(), Value::String(r.name().to_owned()));
        } else {
            let mut g = Map::new();
            g.insert("name".into(), Value::String(r.name().to_owned()));
            *general = Value::Object(g);
        }
        Resource {
            id: r.id().to_string(),
            kind: RESOURCE_TYPE.to_owned(),
            attributes,
        }
    }
}

/// The whole `GET /resellers` request for the downline of `reseller` (the one behind
/// the caller's token): the reseller is looked up first, then `order` (`pre` or
/// `level`) and `page[number]`/`page[size]` (or `page`/`per_page`) are read from
/// `query`.
///
/// # Errors
///
/// [`ApiError::NotFound`] when `reseller` does not exist, and
/// [`ApiError::BadParameter`] or [`ApiError::BadRequest`] (400) for a bad order or bad
/// paging.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::wire::jsonapi;
/// use reseller_hierarchy::{Id, Record, Snapshot};
///
/// let snap = Snapshot::build([
///     Record::new("1", None::<&str>),
///     Record::new("2", Some("1")),
///     Record::new("3", Some("2")),
///     Record::new("4", Some("1")),
/// ])?;
/// let page = jsonapi::downline(&snap, Id::new("1"), "order=level&page%5Bsize%5D=2")?;
/// let ids: Vec<&str> = page.iter().map(|r| r.id().as_str()).collect();
/// assert_eq!(ids, ["2", "4"]);
/// assert_eq!(jsonapi::downline(&snap, Id::new("1"), "page=2&page=3").unwrap_err().http_status(), 400);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn downline<'s>(
    snapshot: &'s Snapshot,
    reseller: &Id,
    query: &str,
) -> Result<Page<'s>, ApiError> {
    snapshot.downline_count(reseller)?;
    let order = order_from_query(query)?;
    let request = page_request_from_query(query)?;
    Ok(snapshot.downline(reseller, order, request)?)
}

/// The link to page `number` of size `size` under `base_url`.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::wire::jsonapi::page_link;
///
/// assert_eq!(
///     page_link("http://h/api/v3/customer_store/resellers", 2, 50),
///     "http://h/api/v3/customer_store/resellers?page%5Bnumber%5D=2&page%5Bsize%5D=50"
/// );
/// assert_eq!(page_link("/r?x=1", 1, 5), "/r?x=1&page%5Bnumber%5D=1&page%5Bsize%5D=5");
/// ```
pub fn page_link(base_url: &str, number: u64, size: u32) -> String {
    let sep = if base_url.contains('?') { '&' } else { '?' };
    format!("{base_url}{sep}page%5Bnumber%5D={number}&page%5Bsize%5D={size}")
}

/// The document for one page, links under `base_url` (the endpoint's URL without
/// paging parameters).
pub fn document(page: &Page<'_>, base_url: &str) -> Document {
    let (n, size, last) = (page.number(), page.per_page(), page.last_page());
    let link = |k: u64| page_link(base_url, k, size);
    Document {
        data: page.iter().map(Resource::from).collect(),
        links: Links {
            this: link(n),
            first: link(1),
            prev: (n > 1).then(|| link((n - 1).min(last))),
            next: (n < last).then(|| link(n + 1)),
            last: link(last),
        },
        meta: Meta {
            total: page.total(),
        },
    }
}

/// Writes the body of [`document`]`(page, base_url)` into `out`: the same bytes as
/// `serde_json::to_vec(&document(page, base_url))`, without building the document.
///
/// Each resource's attributes are copied from the text stored with its record, with
/// `general.name` and `parent-id` written into the places noted when the record was
/// made; ids, names and links are copied between quotes unless they need escaping. So
/// a body costs little more than copying its bytes, however large the attributes.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::wire::jsonapi::{document, write_document};
/// use reseller_hierarchy::{Id, Attributes, Order, PageRequest, Record, Snapshot};
///
/// let attrs = Attributes::from_json(r#"{"company": {"city": "Minsk"}, "general": {"currency": "EUR"}}"#)?;
/// let snap = Snapshot::build([
///     Record::new("1", None::<&str>).name("Distributor"),
///     Record::new("2", Some("1")).name("Northwind").attributes(attrs),
/// ])?;
/// let page = snap.downline(Id::new("1"), Order::PreOrder, PageRequest::default())?;
/// let mut body = Vec::new();
/// write_document(&page, "/resellers", &mut body);
/// assert_eq!(body, serde_json::to_vec(&document(&page, "/resellers"))?);
/// assert!(std::str::from_utf8(&body)?.starts_with(
///     r#"{"data":[{"id":"2","type":"resellers","attributes":{"company":{"city":"Minsk"},"general":{"currency":"EUR","name":"Northwind"},"parent-id":"1"}}]"#
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_document(page: &Page<'_>, base_url: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"data\":[");
    for (i, r) in page.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_resource(out, r);
    }
    let (n, size, last) = (page.number(), page.per_page(), page.last_page());
    let mut digits = itoa::Buffer::new();
    // `page_link` written in place: the base URL as a JSON string without its closing
    // quote, then the paging parameters (plain ASCII) and the quote; numbers by itoa,
    // not the formatting machinery (five links a page).
    let sep = if base_url.contains('?') { b'&' } else { b'?' };
    let mut link = |out: &mut Vec<u8>, name: &[u8], k: u64| {
        out.extend_from_slice(name);
        write::string(out, base_url);
        out.pop();
        out.push(sep);
        out.extend_from_slice(b"page%5Bnumber%5D=");
        out.extend_from_slice(digits.format(k).as_bytes());
        out.extend_from_slice(b"&page%5Bsize%5D=");
        out.extend_from_slice(digits.format(size).as_bytes());
        out.push(b'"');
    };
    link(out, b"],\"links\":{\"self\":", n);
    link(out, b",\"first\":", 1);
    if n > 1 {
        link(out, b",\"prev\":", (n - 1).min(last));
    }
    if n < last {
        link(out, b",\"next\":", n + 1);
    }
    link(out, b",\"last\":", last);
    out.extend_from_slice(b"},\"meta\":{\"total\":");
    out.extend_from_slice(itoa::Buffer::new().format(page.total()).as_bytes());
    out.extend_from_slice(b"}}");
}

/// One resource, as [`Resource::from`] and `serde_json` would write it.
fn write_resource(out: &mut Vec<u8>, r: Reseller<'_>) {
    let w = r.wire();
    let parent = r.parent_wire_id().unwrap_or((w.id, w.id_plain));
    // Room for all of it at once: the text, the strings, the literals.
    out.reserve(
        w.attributes.map_or(2, <[u8]>::len) + w.id.len() + w.name.len() + parent.0.len() + 96,
    );
    out.extend_from_slice(b"{\"id\":");
    write::known_string(out, w.id, w.id_plain);
    out.extend_from_slice(b",\"type\":\"resellers\",\"attributes\":");
    let name = (w.name, w.name_plain, w.name_in_place);
    if !write::attributes(out, w.attributes, w.splices, name, parent) {
        // Splices that do not fit their text: the reference way, parse and write.
        let _ = serde_json::to_writer(&mut *out, &Resource::from(r).attributes);
    }
    out.push(b'}');
}

/// A JSON:API error document: `{"errors": [{"status", "code", "title", "detail"}]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDocument {
    /// One error object.
    pub errors: Vec<ErrorObject>,
}

/// A JSON:API error object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// The HTTP status, as a string.
    pub status: String,
    /// `bad_request`, `access_denied`, `not_found`, `invalid_hierarchy` or
    /// `internal_error`.
    pub code: String,
    /// The status's reason phrase.
    pub title: String,
    /// What went wrong, for a person.
    pub detail: String,
    /// For a bad parameter: `{"parameter": ...}`, named as the request spelled it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<ErrorSource>,
}

/// `source` of an error object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorSource {
    /// The query parameter at fault.
    pub parameter: String,
}

impl From<&ApiError> for ErrorDocument {
    fn from(e: &ApiError) -> Self {
        let source = match e {
            ApiError::BadRequest(p) => Some(ErrorSource {
                parameter: p.parameter_as_sent().to_owned(),
            }),
            ApiError::BadParameter { parameter, .. } => Some(ErrorSource {
                parameter: parameter.clone(),
            }),
            ApiError::VersionExpired { .. } => Some(ErrorSource {
                parameter: super::VERSION_PARAMETER.to_owned(),
            }),
            _ => None,
        };
        ErrorDocument {
            errors: vec![ErrorObject {
                status: e.http_status().to_string(),
                code: e.code().to_owned(),
                title: e.title().to_owned(),
                detail: e.to_string(),
                source,
            }],
        }
    }
}
