//! Name resolution for callback hosts: the one piece of DNS the core asks for, so the
//! callback URL rules ([`crate::callback_url`]) can be checked against what a host
//! resolves to, at submit time and again at delivery time.

use crate::error::BoxError;
use async_trait::async_trait;
use std::net::IpAddr;

/// A host could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The name does not exist or has no address: the submitter's to fix.
    #[error("{host} does not resolve")]
    NotFound {
        /// The host.
        host: String,
    },
    /// The resolver failed (timeout, server failure): try again later.
    #[error("resolving {host} failed; try again later")]
    Unavailable {
        /// The host.
        host: String,
        /// The resolver's error.
        #[source]
        source: BoxError,
    },
}

/// Resolves host names to addresses.
///
/// Contract: `resolve` returns every address the name has at that moment (IPv4 and
/// IPv6), never a subset chosen to look harmless; an IP literal resolves to itself. A
/// name that does not exist is [`ResolveError::NotFound`]; any other failure is
/// [`ResolveError::Unavailable`].
#[async_trait]
pub trait HostResolver: Send + Sync {
    /// Every address `host` has, for a connection to `port`.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError>;
}
