//! The numbers a snapshot gives a reseller, each its own type so that no function can
//! take one for another.
//!
//! A snapshot numbers a reseller four ways:
//!
//! - [`Pos`]: its place in the *base's* depth-first pre-order, the index into every
//!   per-reseller array of the built index (`parent`, `end`, capabilities, payload);
//! - [`Rank`]: its place in the base's level order (by depth, then position);
//! - [`Handle`]: which reseller it is in a version: a base reseller is its base
//!   position, a reseller added since is numbered after the base's `n`. A handle stays
//!   the same while the reseller moves, so pages and parents hold handles;
//! - [`Line`]: its place in a *version's* pre-order. In a plain snapshot it equals the
//!   base position; in a changed version the overlay's piece tree maps between them.
//!
//! Arithmetic stays inside one kind: a position plus an offset is a position of the
//! same kind, and two positions of the same kind differ by an offset (`u32`). Crossing
//! from one kind to another is a named conversion ([`Handle::of`], [`Line::of`],
//! [`Line::plain_pos`], [`Handle::base`]), which is where the code says why the two numbers agree.
//!
//! Each is a `u32` inside (`repr(transparent)`), so the arrays of them cost what
//! arrays of `u32` cost, and `u32::MAX` is kept as `NONE` ("no reseller") where one is
//! needed; `Option` would double the arrays.

use std::fmt;
use std::ops::{Add, AddAssign, Range, Sub};

/// Defines one kind of position: a `u32` newtype with offset arithmetic.
macro_rules! position {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(transparent)]
        pub(crate) struct $name(u32);

        // Every kind gets the whole set; not every kind needs every one.
        #[allow(dead_code)]
        impl $name {
            /// No reseller: the sentinel of parent arrays and failed searches.
            pub(crate) const NONE: $name = $name(u32::MAX);

            /// The position numbered `n`.
            #[inline]
            pub(crate) const fn new(n: u32) -> $name {
                $name(n)
            }

            /// The position numbered `n`; `n` fits a `u32` (a snapshot holds fewer
            /// than `u32::MAX` resellers).
            #[inline]
            pub(crate) const fn at(n: usize) -> $name {
                $name(n as u32)
            }

            /// The number.
            #[inline]
            pub(crate) const fn get(self) -> u32 {
                self.0
            }

            /// The number, as an index into the arrays it numbers.
            #[inline]
            pub(crate) const fn idx(self) -> usize {
                self.0 as usize
            }

            /// Whether this is [`NONE`](Self::NONE).
            #[inline]
            pub(crate) const fn is_none(self) -> bool {
                self.0 == u32::MAX
            }

            /// Every position from `range.start` up to (not including) `range.end`.
            #[inline]
            pub(crate) fn each(range: Range<$name>) -> impl DoubleEndedIterator<Item = $name> + ExactSizeIterator {
                (range.start.0..range.end.0).map($name)
            }

            /// The positions as a `usize` range, for slicing.
            #[inline]
            pub(crate) fn span(range: Range<$name>) -> Range<usize> {
                range.start.idx()..range.end.idx()
            }
        }

        impl Add<u32> for $name {
            type Output = $name;
            #[inline]
            fn add(self, by: u32) -> $name {
                $name(self.0 + by)
            }
        }

        impl AddAssign<u32> for $name {
            #[inline]
            fn add_assign(&mut self, by: u32) {
                self.0 += by;
            }
        }

        impl Sub<u32> for $name {
            type Output = $name;
            #[inline]
            fn sub(self, by: u32) -> $name {
                $name(self.0 - by)
            }
        }

        /// How far apart two positions of one kind are.
        impl Sub for $name {
            type Output = u32;
            #[inline]
            fn sub(self, from: $name) -> u32 {
                self.0 - from.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.is_none() {
                    write!(f, concat!(stringify!($name), "(NONE)"))
                } else {
                    write!(f, concat!(stringify!($name), "({})"), self.0)
                }
            }
        }
    };
}

position! {
    /// A reseller's position in the base index's depth-first pre-order: the index of
    /// its entry in every per-reseller array of the base. A downline is the range
    /// `p + 1 .. end[p]`.
    Pos
}

position! {
    /// A reseller's rank in the base index's level order (by depth, then pre-order
    /// position): the index into `bfs`.
    Rank
}

position! {
    /// Which reseller, in one version: a base reseller is numbered by its base
    /// [`Pos`], one added since by `n + i` for the `i`-th added. It does not change
    /// when the reseller moves, so pages, parents and children are handles.
    Handle
}

position! {
    /// A reseller's position in one version's depth-first pre-order, where its
    /// downline is a range. For a plain snapshot it is the base [`Pos`]; in a changed
    /// version the overlay's piece table maps lines to handles and back.
    Line
}

impl Handle {
    /// The handle of the base reseller at `p`: base resellers are numbered by their
    /// base position.
    #[inline]
    pub(crate) const fn of(p: Pos) -> Handle {
        Handle(p.0)
    }

    /// The base position of a base reseller; `None` for one added after a base of `n`.
    #[inline]
    pub(crate) fn base(self, n: u32) -> Option<Pos> {
        (self.0 < n).then_some(Pos(self.0))
    }

    /// The base position of a reseller known to be from the base (a plain snapshot's,
    /// or one inside a run of base positions).
    #[inline]
    pub(crate) const fn pos(self) -> Pos {
        Pos(self.0)
    }

    /// The number of the `i`-th reseller added after a base of `n`.
    #[inline]
    pub(crate) const fn added(n: u32, i: u32) -> Handle {
        Handle(n + i)
    }

    /// For a reseller added after a base of `n`, its index among the added.
    #[inline]
    pub(crate) fn added_index(self, n: u32) -> Option<u32> {
        self.0.checked_sub(n)
    }
}

impl Line {
    /// A plain snapshot's line of the base position `p`: without changes the
    /// version's pre-order is the base's.
    #[inline]
    pub(crate) const fn of(p: Pos) -> Line {
        Line(p.0)
    }

    /// The base position at this line of a plain snapshot (the inverse of
    /// [`Line::of`]).
    #[inline]
    pub(crate) const fn plain_pos(self) -> Pos {
        Pos(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_stay_in_their_kind() {
        let p = Pos::new(10);
        assert_eq!(p + 5, Pos::new(15));
        assert_eq!(Pos::new(15) - p, 5);
        assert_eq!(
            Pos::each(p..p + 3).collect::<Vec<_>>(),
            [Pos::new(10), Pos::new(11), Pos::new(12)]
        );
        assert_eq!(Line::span(Line::new(2)..Line::new(7)), 2..7);
    }

    #[test]
    fn handles_tell_base_from_added() {
        let n = 100;
        assert_eq!(Handle::of(Pos::new(7)).base(n), Some(Pos::new(7)));
        let added = Handle::added(n, 3);
        assert_eq!(added.base(n), None);
        assert_eq!(added.added_index(n), Some(3));
        assert_eq!(Handle::of(Pos::new(99)).added_index(n), None);
    }

    #[test]
    fn none_is_distinct_and_says_so() {
        assert!(Pos::NONE.is_none());
        assert!(!Pos::new(0).is_none());
        assert_eq!(format!("{:?}", Handle::NONE), "Handle(NONE)");
        assert_eq!(format!("{:?}", Rank::new(4)), "Rank(4)");
    }
}
