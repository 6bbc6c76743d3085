//! [`object`]: a struct read from a JSON object only.
//!
//! A struct that derives `Deserialize` also takes a JSON array of its fields in
//! order, so that `["7", "3"]` read as a record would be the record `7` under `3`,
//! and an internally tagged enum takes its tag from an array's first element, so
//! that `["move", "7", "5"]` would be a move. No input format has such arrays: a
//! record, a resource, a mutation, the levels of `integrations`, a token file and its
//! entries are objects. Such a type reads itself through [`object`] instead: its
//! derived code is kept under `#[serde(remote = "Self")]` (an inherent
//! `deserialize`), which [`FromFields`] names, and [`object`] hands it the entries of
//! an object, refusing anything else as an invalid type. [`read_from_object!`] writes
//! both impls for a type without lifetime parameters.
//!
//! The inherent `deserialize` shadows the trait's in a path call: `T::deserialize(d)`
//! is the derived code and takes arrays again. Read such a struct through the trait
//! (`<T as Deserialize>::deserialize(d)`, `serde_json::from_str::<T>`) everywhere but
//! in its [`FromFields`] impl.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, Visitor};

/// A struct whose fields are read by derived code (its inherent `deserialize`, under
/// `#[serde(remote = "Self")]`).
pub(crate) trait FromFields<'de>: Sized {
    /// What the struct is, for the error message ("a record").
    const WHAT: &'static str;

    /// The derived code.
    fn from_fields<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// Reads `T` from a JSON object; any other JSON value is an invalid type, "expected
/// a record: a JSON object".
pub(crate) fn object<'de, D: Deserializer<'de>, T: FromFields<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_map(Object(PhantomData))
}

struct Object<T>(PhantomData<T>);

impl<'de, T: FromFields<'de>> Visitor<'de> for Object<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: a JSON object", T::WHAT)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_fields(MapAccessDeserializer::new(map))
    }
}

/// Implements [`FromFields`] (the derived code, under `#[serde(remote = "Self")]`)
/// and `Deserialize` (through [`object`]) for `$type`, named `$what` in errors.
macro_rules! read_from_object {
    ($type:ty, $what:literal) => {
        impl<'de> $crate::serde::object::FromFields<'de> for $type {
            const WHAT: &'static str = $what;

            fn from_fields<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$type>::deserialize(d)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $type {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::serde::object::object(d)
            }
        }
    };
}

pub(crate) use read_from_object;
