//! Webhook signatures: how pacer signs a callback POST and how a receiver checks it.
//!
//! The `Pacer-Signature` header is `t=<unix seconds>,v1=<hex>`, where `<hex>` is the
//! lower-case hex HMAC-SHA256, keyed with the shared webhook secret, of the bytes
//! `<t>` `.` `<body>` (the timestamp as decimal text, a dot, then the exact request
//! body). A receiver recomputes it, compares in constant time, and refuses timestamps
//! older than its tolerance (replays). `docs/webhooks.md` has a verification snippet.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use std::time::Duration;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Pacer-Signature";
/// The delivery id header (`record_id#attempt`): receivers deduplicate on it.
pub const DELIVERY_HEADER: &str = "Pacer-Delivery";
/// How old a signature a receiver should accept, by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// The shared secret webhooks are signed with. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

/// A secret too short to sign with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the webhook secret is {len} bytes long; use at least {MIN_SECRET_LEN} random bytes")]
pub struct WeakSecret {
    /// Its length.
    pub len: usize,
}

impl WebhookSecret {
    /// Wraps a secret of at least [`MIN_SECRET_LEN`] bytes (surrounding whitespace,
    /// such as a file's final newline, is dropped).
    pub fn new(secret: &[u8]) -> Result<Self, WeakSecret> {
        let trimmed = secret.trim_ascii();
        if trimmed.len() < MIN_SECRET_LEN {
            return Err(WeakSecret { len: trimmed.len() });
        }
        Ok(Self(trimmed.to_vec()))
    }

    fn mac(&self, timestamp: i64, body: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `Pacer-Signature` header value for `body` sent at `timestamp` (unix seconds).
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(timestamp, body).finalize().into_bytes();
        format!("t={timestamp},v1={}", hex::encode(tag))
    }

    /// Checks a `Pacer-Signature` header against `body`, at `now` (unix seconds). Any
    /// one `v1=` entry matching is enough (so a sender may sign with two secrets while
    /// rotating).
    pub fn verify(
        &self,
        header: &str,
        body: &[u8],
        now: i64,
        tolerance: Duration,
    ) -> Result<(), SignatureError> {
        let mut timestamp = None;
        let mut tags = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                Some(("v1", v)) => tags.push(v),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
        if tags.is_empty() {
            return Err(SignatureError::Malformed);
        }
        let age = now.saturating_sub(timestamp).unsigned_abs();
        if age > tolerance.as_secs() {
            return Err(SignatureError::Stale { age_secs: age });
        }
        let matched = tags.iter().any(|tag| {
            hex::decode(tag).is_ok_and(|tag| self.mac(timestamp, body).verify_slice(&tag).is_ok())
        });
        if matched {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// A signature a receiver must refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `t=` or no `v1=` in the header.
    #[error("the signature header is malformed; expected t=<unix seconds>,v1=<hex>")]
    Malformed,
    /// Signed too long ago (or too far in the future): maybe a replay.
    #[error("the signature is {age_secs} s away from now, beyond the tolerance")]
    Stale {
        /// Distance from now, in seconds.
        age_secs: u64,
    },
    /// No `v1=` entry matches the body.
    #[error("the signature does not match the body")]
    Mismatch,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> WebhookSecret {
        WebhookSecret::new(b"0123456789abcdef0123456789abcdef\n").unwrap()
    }

    #[test]
    fn signs_timestamp_dot_body_with_hmac_sha256() {
        // Computed independently with Python's hmac module over b'1700000000.{"a":1}'.
        assert_eq!(
            secret().sign(1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=f05f2539e3ae1c49aec5f8cfdad75ef6b06480b133973ffbb7ec9e18827af177"
        );
    }

    #[test]
    fn verifies_its_own_signature_and_refuses_tampering_staleness_and_garbage() {
        let s = secret();
        let body = br#"{"record_id":"r1"}"#;
        let header = s.sign(1_000, body);
        assert_eq!(s.verify(&header, body, 1_010, DEFAULT_TOLERANCE), Ok(()));
        assert_eq!(
            s.verify(&header, br#"{"record_id":"r2"}"#, 1_010, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            s.verify(&header, body, 1_000 + 301, DEFAULT_TOLERANCE),
            Err(SignatureError::Stale { age_secs: 301 })
        );
        assert_eq!(
            s.verify("v1=abc", body, 1_000, DEFAULT_TOLERANCE),
            Err(SignatureError::Malformed)
        );
        let other = WebhookSecret::new(b"another secret of enough length").unwrap();
        assert_eq!(
            other.verify(&header, body, 1_000, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        let rotated = format!("{header},v1=00");
        assert_eq!(s.verify(&rotated, body, 1_000, DEFAULT_TOLERANCE), Ok(()));
    }

    #[test]
    fn the_example_in_docs_webhooks_md_verifies() {
        let docs = include_str!("../../../docs/webhooks.md");
        let header = docs
            .lines()
            .find_map(|l| l.strip_prefix("Pacer-Signature: "))
            .unwrap();
        let body = docs.lines().find(|l| l.starts_with("{\"seq\"")).unwrap();
        let secret = WebhookSecret::new(b"example-secret-0123456789abcdef").unwrap();
        assert_eq!(
            secret.verify(header, body.as_bytes(), 1_700_000_000, DEFAULT_TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn short_secrets_are_refused_and_secrets_never_print() {
        assert_eq!(WebhookSecret::new(b"short\n"), Err(WeakSecret { len: 5 }));
        assert_eq!(format!("{:?}", secret()), "WebhookSecret(…)");
    }
}
