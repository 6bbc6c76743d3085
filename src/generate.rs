//! Seeded generators of realistic reseller hierarchies, shared by the tests, the
//! benches, the demo and users' own tests.
//!
//! The same seed gives the same records on every platform and in every version of this
//! crate's 0.1 series (the generator is a fixed SplitMix64, not a library whose stream
//! may change).
//!
//! # Examples
//!
//! ```
//! use reseller_hierarchy::generate::{Generator, Shape};
//! use reseller_hierarchy::Snapshot;
//!
//! let records = Generator::new(Shape::PowerLaw, 10_000).seed(7).generate();
//! assert_eq!(records.len(), 10_000);
//! let snap = Snapshot::build(records).unwrap();
//! assert_eq!(snap.root_count(), 1);
//! ```

mod mutations;
mod workload;

pub use mutations::MutationStream;
pub use workload::Workload;

use crate::capability::{Capabilities, Capability};
use crate::id::ResellerId;
use crate::record::Record;

/// The shape of a generated hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Each reseller's parent is chosen uniformly among those before it (a random
    /// recursive tree: depth about `ln n`, most resellers have few children).
    Random,
    /// Preferential attachment: a reseller with more children is more likely to get the
    /// next one, giving the power-law fan-out of affiliate and multi-level networks.
    PowerLaw,
    /// One chain: each reseller is the parent of the next. Depth `n - 1`.
    Chain,
    /// One distributor with every other reseller directly under it.
    Star,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 4] = [Shape::Random, Shape::PowerLaw, Shape::Chain, Shape::Star];

    /// A short name: `random`, `power_law`, `chain`, `star`.
    pub const fn name(self) -> &'static str {
        match self {
            Shape::Random => "random",
            Shape::PowerLaw => "power_law",
            Shape::Chain => "chain",
            Shape::Star => "star",
        }
    }
}

/// How generated ids look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IdStyle {
    /// Decimal strings from `"1"`, as ActivePlatform's.
    #[default]
    Decimal,
    /// 24 hex digits, as TelecomX's object ids (`"52f4fd7734697b28ccaf77ec"`).
    ObjectId,
}

/// A configurable, seeded hierarchy generator.
#[derive(Clone, Debug)]
pub struct Generator {
    shape: Shape,
    n: usize,
    seed: u64,
    roots: usize,
    ids: IdStyle,
    shuffle: bool,
    attributes: bool,
}

impl Generator {
    /// `n` resellers of `shape`, seed 0, one root, decimal ids, parents listed before
    /// children, no attributes.
    pub fn new(shape: Shape, n: usize) -> Generator {
        Generator {
            shape,
            n,
            seed: 0,
            roots: 1,
            ids: IdStyle::Decimal,
            shuffle: false,
            attributes: false,
        }
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Generator {
        self.seed = seed;
        self
    }

    /// Makes the first `roots` resellers roots (at least 1); the rest of the shape hangs
    /// under them (for `Chain` and `Star`, one chain or star under each root, in turn).
    #[must_use]
    pub fn roots(mut self, roots: usize) -> Generator {
        self.roots = roots.max(1);
        self
    }

    /// Sets the id style.
    #[must_use]
    pub fn ids(mut self, ids: IdStyle) -> Generator {
        self.ids = ids;
        self
    }

    /// Lists the records in a random order instead of parents first.
    #[must_use]
    pub fn shuffled(mut self, shuffle: bool) -> Generator {
        self.shuffle = shuffle;
        self
    }

    /// Gives every reseller ActivePlatform-like attributes (`created-at`, `general`,
    /// `company`, `contacts`, `custom-attributes`). Needs the `serde` feature; without
    /// it this does nothing.
    #[must_use]
    pub fn attributes(mut self, attributes: bool) -> Generator {
        self.attributes = attributes;
        self
    }

    /// The parent index of each reseller (`None` for a root), parents first.
    pub fn parents(&self) -> Vec<Option<usize>> {
        let mut rng = SplitMix::new(self.seed);
        let n = self.n;
        let roots = self.roots.min(n);
        let mut parents = Vec::with_capacity(n);
        parents.extend((0..roots).map(|_| None));
        // For preferential attachment: every reseller once, plus once per child.
        let mut urn: Vec<u32> = Vec::new();
        if self.shape == Shape::PowerLaw {
            urn.reserve(2 * n);
            urn.extend(0..roots as u32);
        }
        for i in roots..n {
            let p = match self.shape {
                Shape::Random => rng.below(i),
                Shape::PowerLaw => {
                    let p = urn[rng.below(urn.len())] as usize;
                    urn.push(p as u32);
                    urn.push(i as u32);
                    p
                }
                // Round-robin over the roots: reseller i continues the chain that
                // reseller i - roots is the end of.
                Shape::Chain => i - roots,
                Shape::Star => (i - roots) % roots,
            };
            parents.push(Some(p));
        }
        parents
    }

    /// Generates the records.
    pub fn generate(&self) -> Vec<Record> {
        let mut stream = self.stream();
        let mut records: Vec<Record> = stream.by_ref().collect();
        if self.shuffle {
            for i in (1..records.len()).rev() {
                let j = stream.rng.below(i + 1);
                records.swap(i, j);
            }
        }
        records
    }

    /// The same records as [`generate`](Generator::generate), parents first, one at a
    /// time, without holding them all: for writing large files. Ignores
    /// [`shuffled`](Generator::shuffled), which needs every record at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::generate::{Generator, Shape};
    ///
    /// let g = Generator::new(Shape::Random, 1_000).seed(3);
    /// assert!(g.stream().eq(g.generate()));
    /// ```
    pub fn stream(&self) -> Records<'_> {
        Records {
            generator: self,
            parents: self.parents(),
            rng: SplitMix::new(self.seed ^ 0xA5A5_5A5A_DEAD_BEEF),
            next: 0,
        }
    }

    /// The record of reseller `i` under `parent`, drawing its payload from `rng`.
    fn record(&self, i: usize, parent: Option<usize>, rng: &mut SplitMix) -> Record {
        let mut caps = Capabilities::NONE;
        for (c, percent) in [
            (Capability::Iptv, 30),
            (Capability::IptvPrivate, 10),
            (Capability::Flexcare, 20),
            (Capability::Sip, 50),
            (Capability::Mvno, 35),
        ] {
            if rng.below(100) < percent {
                caps.insert(c);
            }
        }
        let name = company_name(rng, i);
        let mut r = Record {
            id: self.id(i),
            parent: parent.map(|p| self.id(p)),
            name,
            capabilities: caps,
            economic_enabled: rng.below(100) < 40,
            attributes: crate::record::Attributes::none(),
        };
        if self.attributes {
            r.attributes = attributes_for(rng, i, &r.name);
        }
        r
    }

    fn id(&self, i: usize) -> ResellerId {
        match self.ids {
            IdStyle::Decimal => ResellerId::from(i as u64 + 1),
            IdStyle::ObjectId => {
                let mut h = SplitMix::new(self.seed.wrapping_add(i as u64));
                let (a, b) = (h.next(), h.next());
                ResellerId::from(format!("{:016x}{:08x}", a, b as u32))
            }
        }
    }
}

/// The records of a [`Generator`], one at a time ([`Generator::stream`]).
#[derive(Debug)]
pub struct Records<'g> {
    generator: &'g Generator,
    parents: Vec<Option<usize>>,
    rng: SplitMix,
    next: usize,
}

impl Iterator for Records<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        let i = self.next;
        let parent = *self.parents.get(i)?;
        self.next += 1;
        Some(self.generator.record(i, parent, &mut self.rng))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.parents.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Records<'_> {}

/// The default hierarchy of the demo and the command-line tool: 100,000 resellers in a
/// power-law shape under one distributor (id `"1"`), seed 2026, with attributes.
///
/// # Examples
///
/// ```
/// let records = reseller_hierarchy::generate::demo_dataset();
/// assert_eq!(records.len(), reseller_hierarchy::generate::DEMO_SIZE);
/// assert_eq!(records[0].id.as_str(), "1");
/// ```
pub fn demo_dataset() -> Vec<Record> {
    Generator::new(Shape::PowerLaw, DEMO_SIZE)
        .seed(2026)
        .attributes(true)
        .generate()
}

/// Number of resellers in [`demo_dataset`].
pub const DEMO_SIZE: usize = 100_000;

/// Shorthand for `Generator::new(shape, n).seed(seed).generate()`.
pub fn generate(shape: Shape, n: usize, seed: u64) -> Vec<Record> {
    Generator::new(shape, n).seed(seed).generate()
}

const FIRST: [&str; 16] = [
    "Northwind",
    "Anders And",
    "Contoso",
    "Fabrikam",
    "Nordlys",
    "Baltic",
    "Minsk",
    "Aurora",
    "Vestas",
    "Skagen",
    "Polar",
    "Fjord",
    "Helios",
    "Jutland",
    "Tivoli",
    "Odin",
];
const SECOND: [&str; 8] = [
    "Industries",
    "Telecom",
    "Networks",
    "Media",
    "Solutions",
    "Systems",
    "Connect",
    "Digital",
];
const SUFFIX: [&str; 6] = ["H.M.B.G", "& Co", "ApS", "A/S", "Ltd", "LLC"];

fn company_name(rng: &mut SplitMix, i: usize) -> String {
    format!(
        "{} {} {} {}",
        FIRST[rng.below(FIRST.len())],
        SECOND[rng.below(SECOND.len())],
        SUFFIX[rng.below(SUFFIX.len())],
        i + 1
    )
}

#[cfg(feature = "serde")]
fn attributes_for(rng: &mut SplitMix, i: usize, name: &str) -> crate::record::Attributes {
    let n = i + 1;
    let day = 1 + rng.below(28);
    let value = serde_json::json!({
        "created-at": format!("2017-06-{day:02}T15:44:51.694+03:00"),
        "updated-at": format!("2017-12-{day:02}T16:38:53.600+03:00"),
        "general": {
            "name": name,
            "domain": format!("cn{n}.billing.activeplatform.com"),
            "manager": format!("Manager {}", 1 + rng.below(50)),
            "currency": (["USD", "EUR", "DKK"][rng.below(3)]),
        },
        "company": {
            "name": format!("Company name {n}"),
            "address-line-1": format!("Nezalezhnosty av., {n}"),
            "address-line-2": "Sovietsky distr.",
            "city": "Minsk",
            "state": "Minskaya",
            "zip": "220000",
            "country": "BY",
            "fax": format!("+37517{:07}", rng.below(10_000_000)),
            "phone": format!("+37529{:07}", rng.below(10_000_000)),
            "email": format!("company{n}@example.com"),
        },
        "contacts": {
            "first-name": "Ivan",
            "last-name": "Petrov",
            "middle-name": "Ivanovich",
            "position": "Sales representative",
            "phone": format!("+37529{:07}", rng.below(10_000_000)),
            "email": format!("contact{n}@example.com"),
        },
        "custom-attributes": {
            "reseller pin": format!("{:04}", rng.below(10_000)),
        },
    });
    match value {
        serde_json::Value::Object(map) => crate::record::Attributes::from_map(map),
        _ => crate::record::Attributes::none(),
    }
}

#[cfg(not(feature = "serde"))]
fn attributes_for(_: &mut SplitMix, _: usize, _: &str) -> crate::record::Attributes {
    crate::record::Attributes::none()
}

/// SplitMix64 (Steele, Lea and Flood, 2014): small, fast, and fixed forever, so that
/// seeds reproduce. The generators' random source, public for benches and tests that
/// need the same stream.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::generate::SplitMix;
///
/// let mut a = SplitMix::new(1);
/// let mut b = SplitMix::new(1);
/// assert_eq!(a.next(), b.next());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound`, by Lemire's multiply-shift (0 when `bound` is 0).
    pub fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next()) * bound as u128) >> 64) as usize
    }
}
