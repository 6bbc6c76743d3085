//! [`IdOrder`]: how ids compare when siblings are listed in id order.

use std::cmp::Ordering;

use crate::Id;

/// How a followed table's ids sort: siblings are listed in this order, in the initial
/// load (`ORDER BY`) as after every change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdOrder {
    /// Integer ids, by value.
    Numeric,
    /// Every other type, by the bytes of the text form (`COLLATE "C"`).
    Text,
}

impl IdOrder {
    pub(crate) fn cmp(self, a: &Id, b: &Id) -> Ordering {
        if self == IdOrder::Numeric {
            if let (Ok(x), Ok(y)) = (a.as_str().parse::<i128>(), b.as_str().parse::<i128>()) {
                return x.cmp(&y);
            }
        }
        a.as_str().as_bytes().cmp(b.as_str().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResellerId;

    #[test]
    fn numbers_by_value_text_by_bytes() {
        let (a, b) = (ResellerId::from("9"), ResellerId::from("10"));
        assert_eq!(IdOrder::Numeric.cmp(&a, &b), Ordering::Less);
        assert_eq!(IdOrder::Text.cmp(&a, &b), Ordering::Greater);
        assert_eq!(
            IdOrder::Numeric.cmp(Id::new("-3"), Id::new("2")),
            Ordering::Less
        );
        assert_eq!(
            IdOrder::Text.cmp(Id::new("B"), Id::new("a")),
            Ordering::Less
        );
    }
}
