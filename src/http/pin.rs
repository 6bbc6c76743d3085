//! [`Pin`]: the version a client pins while it pages a listing over HTTP.

use std::fmt;

use crate::wire::{single_parameter, ApiError, VERSION_PARAMETER};

/// A version of one hierarchy as the service names it: the version number
/// and the hierarchy's lineage (the random number its cursors carry), written
/// `N-XXXXXXXXXXXXXXXX` (the number in decimal without leading zeros, from 1; the
/// lineage in 16 lowercase hex digits), and read only so written.
///
/// Every listing the service answers carries the pin of the version it came from in
/// the `Hierarchy-Version` header; a request that sends it back as `version=PIN` is
/// answered from that version while the hierarchy keeps it (see
/// [`Hierarchy::retention`](crate::Hierarchy::retention)), and the JSON:API links of
/// such a page carry it too, so a client that follows `next` sees every reseller of
/// that version exactly once whatever changes meanwhile. Version numbers restart with
/// the process, so the lineage keeps a pin of an earlier run (or of another hierarchy)
/// from naming one that reached the same number; routers over one hierarchy share it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pin {
    /// The version number ([`Snapshot::version`](crate::Snapshot::version)).
    pub(super) version: u64,
    /// The lineage of the hierarchy that made it.
    pub(super) lineage: u64,
}

impl Pin {
    /// Reads `version=PIN` from a URL query string (without the `?`): `None` when
    /// absent.
    ///
    /// # Errors
    ///
    /// [`ApiError::BadParameter`] naming `version` when it is given more than once or
    /// is not a pin.
    pub(super) fn from_query(query: &str) -> Result<Option<Pin>, ApiError> {
        single_parameter(
            query,
            VERSION_PARAMETER,
            Pin::parse,
            "is not a version as the Hierarchy-Version header gives it (N-XXXXXXXXXXXXXXXX)",
        )
    }

    /// `N-XXXXXXXXXXXXXXXX` as [`Display`](fmt::Display) writes it, or `None`: one
    /// spelling per pin (no leading zeros, no uppercase, no version 0).
    fn parse(text: &str) -> Option<Pin> {
        let (number, tag) = text.split_once('-')?;
        let digits = |s: &str, radix: u32| s.chars().all(|c| c.is_digit(radix));
        if number.is_empty() || !digits(number, 10) || tag.len() != 16 || !digits(tag, 16) {
            return None;
        }
        let pin = Pin {
            version: number.parse().ok()?,
            lineage: u64::from_str_radix(tag, 16).ok()?,
        };
        (pin.version > 0 && pin.to_string() == text).then_some(pin)
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:016x}", self.version, self.lineage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_reads_back_as_written() {
        for pin in [
            Pin {
                version: 1,
                lineage: 0,
            },
            Pin {
                version: 10,
                lineage: 0xab,
            },
            Pin {
                version: 57,
                lineage: 0x9f3c_2a1b_00e4_d7c6,
            },
            Pin {
                version: u64::MAX,
                lineage: u64::MAX,
            },
        ] {
            let text = pin.to_string();
            assert_eq!(Pin::parse(&text), Some(pin), "{text}");
            let query = format!("page=2&version={text}&per_page=5");
            assert_eq!(Pin::from_query(&query).unwrap(), Some(pin));
        }
        assert_eq!(
            Pin {
                version: 57,
                lineage: 0xab
            }
            .to_string(),
            "57-00000000000000ab"
        );
    }

    #[test]
    fn anything_else_is_a_bad_version_and_absent_is_none() {
        assert_eq!(Pin::from_query("page=2&order=level").unwrap(), None);
        assert_eq!(Pin::from_query("").unwrap(), None);
        for bad in [
            "version=",
            "version=57",
            "version=-00000000000000ab",
            "version=57-ab",
            "version=57-00000000000000ag",
            "version=57-000000000000000ab",
            "version=%2B57-00000000000000ab",
            "version=18446744073709551616-00000000000000ab",
            "version=57-00000000000000ab&version=57-00000000000000ab",
            // One spelling per pin: no leading zeros, no uppercase, no version 0.
            "version=057-00000000000000ab",
            "version=57-00000000000000AB",
            "version=0-00000000000000ab",
            "version=00-00000000000000ab",
        ] {
            match Pin::from_query(bad) {
                Err(ApiError::BadParameter { parameter, .. }) => {
                    assert_eq!(parameter, "version", "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
