//! Validated identifiers for records and providers.
//!
//! Both end up in places with strict alphabets (SQS `MessageGroupId`, DynamoDB keys, URL
//! paths, HTTP headers), so they are validated once at the edge and trusted afterwards.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest identifier accepted; SQS group and dedup ids allow 128 characters and the
/// dedup id is `record_id#attempt`, so records keep some room for the suffix.
pub const MAX_ID_LEN: usize = 100;

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The identifier is empty.
    #[error("must not be empty")]
    Empty,
    /// The identifier is longer than [`MAX_ID_LEN`].
    #[error("is {len} characters long; at most {MAX_ID_LEN} are allowed")]
    TooLong {
        /// Actual length in characters.
        len: usize,
    },
    /// The identifier has a character outside `[A-Za-z0-9._:-]`.
    #[error("has the character {found:?}; only letters, digits and . _ : - are allowed")]
    BadCharacter {
        /// The first offending character.
        found: char,
    },
}

fn validate(raw: &str) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty);
    }
    if raw.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            len: raw.chars().count(),
        });
    }
    match raw
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
    {
        Some(found) => Err(IdError::BadCharacter { found }),
        None => Ok(()),
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `raw` and wraps it.
            pub fn new(raw: impl Into<String>) -> Result<Self, IdError> {
                let raw = raw.into();
                validate(&raw)?;
                Ok(Self(raw))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::new(raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// The caller-chosen identity of one record (one API call to make). It is the
    /// `Idempotency-Key` the internal API receives.
    RecordId
);
id_type!(
    /// A provider: the unit of mutual exclusion and pacing (the FIFO message group).
    ProviderId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        assert!(RecordId::new("rec-01.a_b:c").is_ok());
    }

    #[test]
    fn rejects_empty_long_and_odd_characters() {
        assert_eq!(RecordId::new(""), Err(IdError::Empty));
        assert!(matches!(
            ProviderId::new("x".repeat(101)),
            Err(IdError::TooLong { len: 101 })
        ));
        assert_eq!(
            ProviderId::new("a b"),
            Err(IdError::BadCharacter { found: ' ' })
        );
        assert_eq!(
            ProviderId::new("a#b"),
            Err(IdError::BadCharacter { found: '#' })
        );
    }

    #[test]
    fn deserialising_validates() {
        let err = serde_json::from_str::<RecordId>("\"a/b\"").unwrap_err();
        assert!(err.to_string().contains("'/'"), "{err}");
    }
}
