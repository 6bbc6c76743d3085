//! [`Lsn`]: a PostgreSQL write-ahead log position, as the server writes it
//! (`16/B374D848`), and the engine's [`Position`] it stands for.

use std::fmt;
use std::str::FromStr;

use crate::Position;

/// A PostgreSQL write-ahead log position (`pg_lsn`), written as two hexadecimal halves
/// (`16/B374D848`). A follower's versions record the LSN they reflect, and a service
/// that just committed a change waits for `SELECT pg_current_wal_insert_lsn()` taken
/// after its commit ([`Follower::wait_for`](super::Follower::wait_for)).
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::postgres::Lsn;
/// use reseller_hierarchy::Position;
///
/// let lsn: Lsn = "16/B374D848".parse()?;
/// assert_eq!(lsn.get(), 0x16_B374_D848);
/// assert_eq!(lsn.to_string(), "16/B374D848");
/// assert_eq!(Position::from(lsn), Position::new(0x16_B374_D848));
/// assert!("16-B374D848".parse::<Lsn>().is_err());
/// # Ok::<(), reseller_hierarchy::postgres::LsnError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(u64);

impl Lsn {
    /// The LSN numbered `n`.
    pub const fn new(n: u64) -> Lsn {
        Lsn(n)
    }

    /// Its number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Text that is not an LSN (`hex/hex`, each half at most 8 digits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsnError {
    /// The text.
    pub text: String,
}

impl fmt::Display for LsnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an LSN (expected two hexadecimal halves, as in 16/B374D848)",
            self.text
        )
    }
}

impl std::error::Error for LsnError {}

impl FromStr for Lsn {
    type Err = LsnError;

    fn from_str(s: &str) -> Result<Lsn, LsnError> {
        let half = |h: &str| {
            (!h.is_empty() && h.len() <= 8 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u64::from_str_radix(h, 16).ok())
                .flatten()
        };
        s.split_once('/')
            .and_then(|(hi, lo)| Some((half(hi)? << 32) | half(lo)?))
            .map(Lsn)
            .ok_or_else(|| LsnError {
                text: s.to_string(),
            })
    }
}

impl From<Lsn> for Position {
    fn from(lsn: Lsn) -> Position {
        Position::new(lsn.0)
    }
}

impl From<Position> for Lsn {
    fn from(p: Position) -> Lsn {
        Lsn(p.get())
    }
}

impl From<::postgres::types::PgLsn> for Lsn {
    fn from(lsn: ::postgres::types::PgLsn) -> Lsn {
        Lsn(u64::from(lsn))
    }
}

impl From<Lsn> for ::postgres::types::PgLsn {
    fn from(lsn: Lsn) -> ::postgres::types::PgLsn {
        ::postgres::types::PgLsn::from(lsn.0)
    }
}
