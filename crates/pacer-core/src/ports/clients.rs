//! Consumer applications of the HTTP API and their bearer tokens (stored hashed).

use crate::error::PortError;
use crate::time::Timestamp;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Longest application name accepted.
pub const MAX_APP_NAME_LEN: usize = 64;

/// The name a consumer application goes by (`X-App-Name`): 1 to 64 letters, digits,
/// `.`, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppName(String);

/// An application name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to {MAX_APP_NAME_LEN} letters, digits, '.', '_' or '-'")]
pub struct InvalidAppName;

impl AppName {
    /// Validates `raw` and wraps it.
    pub fn new(raw: impl Into<String>) -> Result<Self, InvalidAppName> {
        let raw = raw.into();
        let ok = !raw.is_empty()
            && raw.len() <= MAX_APP_NAME_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(raw))
        } else {
            Err(InvalidAppName)
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AppName {
    type Error = InvalidAppName;
    fn try_from(raw: String) -> Result<Self, InvalidAppName> {
        Self::new(raw)
    }
}

impl From<AppName> for String {
    fn from(app: AppName) -> String {
        app.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 of a bearer token, in lower-case hex: all pacer keeps of a token.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a token.
    pub fn of(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// Wraps a stored hash, checking its shape (64 lower-case hex digits).
    pub fn from_hex(hex: &str) -> Option<Self> {
        let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self(hex.to_owned()))
    }

    /// The hash in hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not the secret, but it need not fill logs either.
        write!(f, "TokenHash({}…)", &self.0[..8.min(self.0.len())])
    }
}

/// A registered consumer application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Client {
    /// Its name.
    pub app: AppName,
    /// Its current token's hash.
    #[serde(skip)]
    pub token_hash: TokenHash,
    /// When it was (last) registered.
    pub created_at: Timestamp,
    /// When its token was revoked; a revoked client cannot authenticate.
    pub revoked_at: Option<Timestamp>,
}

/// What a registration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// The application is registered with the new token (a revoked one is re-activated
    /// and keeps its feed position).
    Registered,
    /// The application is registered and active already; nothing changed.
    AlreadyActive,
}

/// Stores consumer applications and their token hashes.
///
/// Contract:
/// - `register` stores `app` with `token_hash` and `created_at = now` when the app is
///   unknown or revoked (clearing `revoked_at`), and leaves an active app untouched
///   ([`Registration::AlreadyActive`]).
/// - Token hashes are unique across applications: `find_by_token` returns the one client
///   (active or revoked) whose current token hashes to `hash`. A re-registration
///   replaces the old hash, which then finds nothing.
/// - `revoke` sets `revoked_at = now` on an active app and returns true; on a revoked or
///   unknown app it changes nothing and returns false.
/// - `list` returns every client, revoked ones included, sorted by app name.
#[async_trait]
pub trait ClientDirectory: Send + Sync {
    /// Registers (or re-activates) an application.
    async fn register(
        &self,
        app: &AppName,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Registration, PortError>;
    /// One application.
    async fn get(&self, app: &AppName) -> Result<Option<Client>, PortError>;
    /// The application whose current token has this hash.
    async fn find_by_token(&self, hash: &TokenHash) -> Result<Option<Client>, PortError>;
    /// Every application, by name.
    async fn list(&self) -> Result<Vec<Client>, PortError>;
    /// Revokes an application's token.
    async fn revoke(&self, app: &AppName, now: Timestamp) -> Result<bool, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_use_a_header_safe_alphabet() {
        assert!(AppName::new("billing-v2.prod_1").is_ok());
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65)] {
            assert_eq!(AppName::new(bad), Err(InvalidAppName), "{bad:?}");
        }
    }

    #[test]
    fn token_hashes_are_sha256_hex_and_never_the_token() {
        let h = TokenHash::of("abc");
        assert_eq!(
            h.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(TokenHash::from_hex(h.as_str()), Some(h.clone()));
        assert_eq!(TokenHash::from_hex("ABC"), None);
        assert!(!format!("{h:?}").contains(h.as_str()));
    }
}
