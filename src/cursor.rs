//! Opaque, authenticated paging cursors.
//!
//! A cursor pins a version of a [`Hierarchy`](crate::Hierarchy) (its number, and the
//! hierarchy's lineage: versions are numbered by each hierarchy itself, so a number
//! alone would name other contents in another replica or after a restart), a page
//! number and size, and a digest of the query it continues. It is 44 bytes of that,
//! then the first 16 bytes of an HMAC-SHA-256 over them under the hierarchy's secret
//! key, written as unpadded base64url. A cursor that does not decode, is cut short,
//! carries a wrong tag, continues another query or comes from another hierarchy is
//! refused; nothing in it is trusted before the tag is checked (in constant time).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

const BODY: usize = 8 + 8 + 8 + 4 + 16;
const TAG: usize = 16;

/// What a cursor carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CursorData {
    /// The issuing hierarchy's lineage (random, drawn when it was made).
    pub(crate) lineage: u64,
    pub(crate) version: u64,
    pub(crate) page: u64,
    pub(crate) per_page: u32,
    pub(crate) query: [u8; 16],
}

/// A digest naming one query, so that a cursor continues only the query it came from.
pub(crate) fn query_digest(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

fn mac(key: &[u8; 32]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

pub(crate) fn encode(key: &[u8; 32], d: &CursorData) -> String {
    let mut body = [0u8; BODY + TAG];
    body[0..8].copy_from_slice(&d.lineage.to_le_bytes());
    body[8..16].copy_from_slice(&d.version.to_le_bytes());
    body[16..24].copy_from_slice(&d.page.to_le_bytes());
    body[24..28].copy_from_slice(&d.per_page.to_le_bytes());
    body[28..44].copy_from_slice(&d.query);
    let mut m = mac(key);
    m.update(&body[..BODY]);
    let tag = m.finalize().into_bytes();
    body[BODY..].copy_from_slice(&tag[..TAG]);
    URL_SAFE_NO_PAD.encode(body)
}

pub(crate) fn decode(key: &[u8; 32], text: &str) -> Result<CursorData, CursorError> {
    if text.len() > 2 * (BODY + TAG) {
        return Err(CursorError::Malformed { reason: "too long" });
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| CursorError::Malformed {
            reason: "not base64url",
        })?;
    if bytes.len() != BODY + TAG {
        return Err(CursorError::Malformed {
            reason: "wrong length (truncated?)",
        });
    }
    let mut m = mac(key);
    m.update(&bytes[..BODY]);
    m.verify_truncated_left(&bytes[BODY..])
        .map_err(|_| CursorError::Forged)?;
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[i..i + 8]);
        u64::from_le_bytes(b)
    };
    let mut per = [0u8; 4];
    per.copy_from_slice(&bytes[24..28]);
    let mut query = [0u8; 16];
    query.copy_from_slice(&bytes[28..44]);
    Ok(CursorData {
        lineage: u64_at(0),
        version: u64_at(8),
        page: u64_at(16),
        per_page: u32::from_le_bytes(per),
        query,
    })
}

/// A cursor that cannot be followed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CursorError {
    /// Not a cursor at all: 400.
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Its tag does not match: forged or corrupted, 400.
    Forged,
    /// It continues another query (other reseller, principal, filter or order): 400.
    OtherQuery,
    /// Its version is no longer kept: 410 Gone. Start again from the first page.
    Expired {
        /// The version it pins.
        version: u64,
        /// The oldest version still kept.
        oldest: u64,
    },
    /// It pages a version of another hierarchy: another replica, or this service
    /// before a restart, sharing its key. Each hierarchy numbers its versions itself,
    /// so its numbers name other contents here: 410 Gone, start again from the first
    /// page.
    OtherHierarchy,
}

impl CursorError {
    /// The HTTP status: 400, or 410 for an expired cursor or one of another
    /// hierarchy.
    pub const fn http_status(&self) -> u16 {
        match self {
            CursorError::Expired { .. } | CursorError::OtherHierarchy => 410,
            _ => 400,
        }
    }
}

impl fmt::Display for CursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CursorError::Malformed { reason } => write!(f, "bad cursor: {reason}"),
            CursorError::Forged => f.write_str("bad cursor: it was not issued here or was altered"),
            CursorError::OtherQuery => f.write_str("bad cursor: it continues a different query"),
            CursorError::Expired { version, oldest } => write!(
                f,
                "cursor expired: version {version} is no longer kept (oldest kept: {oldest}); start again from the first page"
            ),
            CursorError::OtherHierarchy => f.write_str(
                "cursor expired: it pages a version of another replica or of an earlier run; start again from the first page",
            ),
        }
    }
}

impl std::error::Error for CursorError {}
