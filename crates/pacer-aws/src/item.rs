//! DynamoDB attribute helpers: building attribute values and reading typed fields back,
//! with a [`PortError::Corrupt`] that names the attribute when an item is unreadable.
//!
//! Items are written by hand rather than through a serde mapper: every item carries index
//! keys that appear and disappear with the record's state, and most writes are
//! conditional update expressions, so the layout is spelled out where it is written.

use crate::error::corrupt;
use aws_sdk_dynamodb::types::AttributeValue;
use pacer_core::PortError;
use std::collections::HashMap;
use std::str::FromStr;

/// One DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A string attribute the item must have.
pub(crate) fn req_s<'a>(
    item: &'a Item,
    name: &str,
    operation: &'static str,
) -> Result<&'a str, PortError> {
    opt_s(item, name, operation)?
        .ok_or_else(|| corrupt(operation, format!("item lacks the string attribute {name}")))
}

/// A string attribute the item may have.
pub(crate) fn opt_s<'a>(
    item: &'a Item,
    name: &str,
    operation: &'static str,
) -> Result<Option<&'a str>, PortError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v)),
        Some(other) => Err(corrupt(
            operation,
            format!("attribute {name} is not a string: {other:?}"),
        )),
    }
}

/// A number attribute the item must have.
pub(crate) fn req_n<T: FromStr>(
    item: &Item,
    name: &str,
    operation: &'static str,
) -> Result<T, PortError> {
    opt_n(item, name, operation)?
        .ok_or_else(|| corrupt(operation, format!("item lacks the number attribute {name}")))
}

/// A number attribute the item may have.
pub(crate) fn opt_n<T: FromStr>(
    item: &Item,
    name: &str,
    operation: &'static str,
) -> Result<Option<T>, PortError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(v)) => v.parse().map(Some).map_err(|_| {
            corrupt(
                operation,
                format!("attribute {name} is not a number of the expected kind: {v}"),
            )
        }),
        Some(other) => Err(corrupt(
            operation,
            format!("attribute {name} is not a number: {other:?}"),
        )),
    }
}

/// Expression attribute values from `(placeholder, value)` pairs.
pub(crate) fn values<const N: usize>(
    pairs: [(&str, AttributeValue); N],
) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Expression attribute names from `(placeholder, name)` pairs.
pub(crate) fn names<const N: usize>(pairs: [(&str, &str); N]) -> HashMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Cuts `text` to at most `max` bytes on a character boundary, appending the marker
/// when it cut. Used to keep items under DynamoDB's 400 KB and messages under 256 KB.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{}", &text[..end], pacer_core::schema::TRUNCATION_MARKER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typed_attributes_and_names_the_bad_one() {
        let item: Item = [
            ("a".to_owned(), s("x")),
            ("b".to_owned(), n(42)),
            ("c".to_owned(), AttributeValue::Bool(true)),
        ]
        .into();
        assert_eq!(req_s(&item, "a", "t").expect("test data is valid"), "x");
        assert_eq!(
            req_n::<u32>(&item, "b", "t").expect("test data is valid"),
            42
        );
        assert_eq!(
            opt_n::<u32>(&item, "missing", "t").expect("test data is valid"),
            None
        );
        let err = req_s(&item, "c", "t").expect_err("an error").to_string();
        assert!(err.contains("attribute c is not a string"), "{err}");
        let err = req_s(&item, "missing", "t")
            .expect_err("an error")
            .to_string();
        assert!(err.contains("lacks the string attribute missing"), "{err}");
    }

    #[test]
    fn cuts_on_a_character_boundary_with_the_marker() {
        assert_eq!(cut("short", 10), "short");
        let cut_text = cut("ééé", 3);
        assert_eq!(
            cut_text,
            format!("é{}", pacer_core::schema::TRUNCATION_MARKER)
        );
    }
}
