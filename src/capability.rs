//! Capabilities of a reseller and the eligible-parents filter built on them.

use std::fmt;
use std::str::FromStr;

/// One thing a reseller can provide.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::Capability;
///
/// assert_eq!("iptv_private".parse::<Capability>(), Ok(Capability::IptvPrivate));
/// assert_eq!(Capability::Sip.name(), "sip");
/// assert!("fax".parse::<Capability>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Provider of IPTV.
    Iptv,
    /// Provider of private IPTV.
    IptvPrivate,
    /// Provider of Flexcare.
    Flexcare,
    /// Provider of SIP telephony.
    Sip,
    /// Mobile virtual network operator.
    Mvno,
}

impl Capability {
    /// Every capability, in bit order.
    pub const ALL: [Capability; 5] = [
        Capability::Iptv,
        Capability::IptvPrivate,
        Capability::Flexcare,
        Capability::Sip,
        Capability::Mvno,
    ];

    /// The name used in records: `iptv`, `iptv_private`, `flexcare`, `sip`, `mvno`.
    pub const fn name(self) -> &'static str {
        match self {
            Capability::Iptv => "iptv",
            Capability::IptvPrivate => "iptv_private",
            Capability::Flexcare => "flexcare",
            Capability::Sip => "sip",
            Capability::Mvno => "mvno",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A capability name that is not one of `iptv`, `iptv_private`, `flexcare`, `sip`,
/// `mvno`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCapability {
    /// The name as given.
    pub name: String,
}

impl fmt::Display for UnknownCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown capability {:?}: expected one of iptv, iptv_private, flexcare, sip, mvno",
            self.name
        )
    }
}

impl std::error::Error for UnknownCapability {}

impl FromStr for Capability {
    type Err = UnknownCapability;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCapability { name: s.to_owned() })
    }
}

/// A set of [`Capability`], one bit each.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Capabilities, Capability};
///
/// let caps: Capabilities = [Capability::Sip, Capability::Mvno].into_iter().collect();
/// assert!(caps.contains(Capability::Sip));
/// assert!(!caps.contains(Capability::Iptv));
/// assert_eq!(caps.iter().collect::<Vec<_>>(), [Capability::Sip, Capability::Mvno]);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u8);

impl Capabilities {
    /// No capability.
    pub const NONE: Capabilities = Capabilities(0);

    /// The set whose bit `i` stands for `Capability::ALL[i]`; bits beyond the five are
    /// ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Capabilities, Capability};
    /// let caps = Capabilities::from_bits(0b1_1001);
    /// assert_eq!(caps.iter().collect::<Vec<_>>(), [Capability::Iptv, Capability::Sip, Capability::Mvno]);
    /// assert_eq!(Capabilities::from_bits(0xff).bits(), 0b1_1111);
    /// ```
    pub const fn from_bits(bits: u8) -> Capabilities {
        Capabilities(bits & 0b1_1111)
    }

    /// The set as bits, bit `i` for `Capability::ALL[i]`.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether `c` is in the set.
    pub const fn contains(self, c: Capability) -> bool {
        self.0 & c.bit() != 0
    }

    /// The set with `c` added.
    #[must_use]
    pub const fn with(self, c: Capability) -> Capabilities {
        Capabilities(self.0 | c.bit())
    }

    /// Adds `c` to the set.
    pub fn insert(&mut self, c: Capability) {
        self.0 |= c.bit();
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The capabilities in the set, in the order of [`Capability::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }

    /// Parses capability names, failing on the first unknown one.
    ///
    /// # Errors
    ///
    /// [`UnknownCapability`] naming the first name that is not a capability.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Capabilities, Capability};
    /// let caps = Capabilities::parse(["iptv", "flexcare"]).unwrap();
    /// assert!(caps.contains(Capability::Flexcare));
    /// assert_eq!(Capabilities::parse(["tv"]).unwrap_err().name, "tv");
    /// ```
    pub fn parse<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Capabilities, UnknownCapability> {
        let mut caps = Capabilities::NONE;
        for name in names {
            caps.insert(name.parse()?);
        }
        Ok(caps)
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut caps = Capabilities::NONE;
        for c in iter {
            caps.insert(c);
        }
        caps
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The capability filter of an eligible-parents request, after the
/// first-true-flag-wins rule has been applied (see [`FilterFlags::effective`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Resellers with [`Capability::Iptv`].
    Iptv,
    /// Resellers with [`Capability::IptvPrivate`].
    IptvPrivate,
    /// Resellers with [`Capability::Flexcare`].
    Flexcare,
    /// Resellers with both [`Capability::Sip`] and [`Capability::Mvno`].
    Voip,
}

impl Filter {
    /// Every filter, in priority order.
    pub const ALL: [Filter; 4] = [
        Filter::Iptv,
        Filter::IptvPrivate,
        Filter::Flexcare,
        Filter::Voip,
    ];

    /// Whether a reseller with `caps` passes the filter.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Capabilities, Capability, Filter};
    /// let sip = Capabilities::NONE.with(Capability::Sip);
    /// assert!(!Filter::Voip.matches(sip));
    /// assert!(Filter::Voip.matches(sip.with(Capability::Mvno)));
    /// ```
    pub const fn matches(self, caps: Capabilities) -> bool {
        match self {
            Filter::Iptv => caps.contains(Capability::Iptv),
            Filter::IptvPrivate => caps.contains(Capability::IptvPrivate),
            Filter::Flexcare => caps.contains(Capability::Flexcare),
            Filter::Voip => caps.contains(Capability::Sip) && caps.contains(Capability::Mvno),
        }
    }

    /// The request flag's name: `iptv`, `iptvprivate`, `flexcare`, `voip`.
    pub const fn flag_name(self) -> &'static str {
        match self {
            Filter::Iptv => "iptv",
            Filter::IptvPrivate => "iptvprivate",
            Filter::Flexcare => "flexcare",
            Filter::Voip => "voip",
        }
    }

    pub(crate) const fn slot(self) -> usize {
        self as usize
    }
}

/// The four boolean flags of a TelecomX `customer/resellers/list` request.
///
/// Only the first true flag, in the order `iptv`, `iptvprivate`, `flexcare`, `voip`,
/// is used; the rest are ignored.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Filter, FilterFlags};
///
/// let flags = FilterFlags { flexcare: true, voip: true, ..FilterFlags::default() };
/// assert_eq!(flags.effective(), Some(Filter::Flexcare));
/// assert_eq!(FilterFlags::default().effective(), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FilterFlags {
    /// `iptv=true`: resellers that provide IPTV.
    pub iptv: bool,
    /// `iptvprivate=true`: resellers that provide private IPTV.
    pub iptvprivate: bool,
    /// `flexcare=true`: resellers that provide Flexcare.
    pub flexcare: bool,
    /// `voip=true`: resellers that provide both SIP and MVNO.
    pub voip: bool,
}

impl FilterFlags {
    /// No flag set: no filtering.
    pub const NONE: FilterFlags = FilterFlags {
        iptv: false,
        iptvprivate: false,
        flexcare: false,
        voip: false,
    };

    /// The filter of the first true flag, if any.
    pub const fn effective(self) -> Option<Filter> {
        if self.iptv {
            Some(Filter::Iptv)
        } else if self.iptvprivate {
            Some(Filter::IptvPrivate)
        } else if self.flexcare {
            Some(Filter::Flexcare)
        } else if self.voip {
            Some(Filter::Voip)
        } else {
            None
        }
    }

    /// Whether any flag is true.
    pub const fn any(self) -> bool {
        self.iptv || self.iptvprivate || self.flexcare || self.voip
    }
}

impl From<Filter> for FilterFlags {
    fn from(f: Filter) -> Self {
        let mut flags = FilterFlags::NONE;
        match f {
            Filter::Iptv => flags.iptv = true,
            Filter::IptvPrivate => flags.iptvprivate = true,
            Filter::Flexcare => flags.flexcare = true,
            Filter::Voip => flags.voip = true,
        }
        flags
    }
}
