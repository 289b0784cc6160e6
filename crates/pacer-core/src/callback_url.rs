//! Callback URLs: where pacer may POST a record's final outcome, and where it may not.
//!
//! A callback URL is checked in three steps, each at submit time and again at delivery
//! time (DNS answers change between the two):
//!
//! 1. syntax, once, by [`CallbackUrl::parse`]: an absolute `http`/`https` URL with a
//!    host, no credentials, no fragment, at most [`MAX_CALLBACK_URL_LEN`] characters;
//! 2. policy, by [`CallbackPolicy::check_url`]: `https` only (plain `http` only with
//!    the local-testing setting), no literal address or local name that points inside;
//! 3. addresses, by [`CallbackPolicy::check`]: every address the host resolves to (through
//!    a [`HostResolver`], the one piece of DNS the core asks for) must be public — not
//!    loopback, private, link-local, cloud metadata or otherwise reserved.
//!
//! This module decides; it does not resolve or connect. The delivery client must connect
//! only to addresses that passed [`CallbackPolicy::check_address`] (so a second DNS
//! answer cannot slip a private address in between check and connect).

use crate::ports::{HostResolver, ResolveError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest callback URL accepted, in bytes.
pub const MAX_CALLBACK_URL_LEN: usize = 2048;

/// A syntactically valid callback URL (step 1). Whether pacer may call it is for
/// [`CallbackPolicy`] to say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CallbackUrl(url::Url);

/// Why a callback URL is refused. Every variant but
/// [`CallbackUrlError::ResolverUnavailable`] is the submitter's to fix.
#[derive(Debug, thiserror::Error)]
pub enum CallbackUrlError {
    /// Not an absolute URL.
    #[error("is not an absolute URL ({reason})")]
    NotAUrl {
        /// The parser's complaint.
        reason: url::ParseError,
    },
    /// Longer than [`MAX_CALLBACK_URL_LEN`].
    #[error("is {len} bytes long; at most {MAX_CALLBACK_URL_LEN} are allowed")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A scheme other than http and https.
    #[error("must be an https:// URL (got {scheme}:)")]
    Scheme {
        /// The scheme found.
        scheme: String,
    },
    /// `http://` without the local-testing setting.
    #[error("must be an https:// URL; plain http is only accepted when pacer runs with the local-testing setting")]
    PlainHttp,
    /// A user name or password in the URL.
    #[error("must not carry a user name or password")]
    Credentials,
    /// A `#fragment`, which is never sent and so is almost surely a mistake.
    #[error("must not have a #fragment")]
    Fragment,
    /// `localhost` and its kin.
    #[error("host {host} names this machine; callbacks may only target public hosts")]
    LocalName {
        /// The host.
        host: String,
    },
    /// The host is, or resolves to, an address pacer must not call.
    #[error("host {host} is or resolves to {address}, a {kind} address; callbacks may only target public addresses")]
    ForbiddenAddress {
        /// The host as written.
        host: String,
        /// The offending address.
        address: IpAddr,
        /// What kind of address it is.
        kind: AddressKind,
    },
    /// The host does not resolve to any address.
    #[error("host {host} does not resolve to any address")]
    Unresolvable {
        /// The host.
        host: String,
    },
    /// The resolver failed for a reason that may pass: try again later.
    #[error("host {host} could not be resolved right now; try again later")]
    ResolverUnavailable {
        /// The host.
        host: String,
        /// The resolver's error.
        #[source]
        source: ResolveError,
    },
}

impl CallbackUrlError {
    /// Whether the same URL may pass later (the resolver was unavailable).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::ResolverUnavailable { .. })
    }
}

impl CallbackUrl {
    /// Checks the syntax (step 1 above).
    pub fn parse(text: &str) -> Result<Self, CallbackUrlError> {
        if text.len() > MAX_CALLBACK_URL_LEN {
            return Err(CallbackUrlError::TooLong { len: text.len() });
        }
        let url = url::Url::parse(text).map_err(|reason| CallbackUrlError::NotAUrl { reason })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(CallbackUrlError::Scheme {
                scheme: url.scheme().to_owned(),
            });
        }
        if url.host().is_none() {
            return Err(CallbackUrlError::NotAUrl {
                reason: url::ParseError::EmptyHost,
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CallbackUrlError::Credentials);
        }
        if url.fragment().is_some() {
            return Err(CallbackUrlError::Fragment);
        }
        Ok(Self(url))
    }

    /// The URL as text (normalised: lower-case host, default port dropped).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether it is `https`.
    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// The host as written in the URL (IPv6 literals in brackets).
    pub fn host_str(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }

    /// The literal address, when the host is one.
    pub fn literal_ip(&self) -> Option<IpAddr> {
        match self.0.host()? {
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            url::Host::Domain(_) => None,
        }
    }
}

impl TryFrom<String> for CallbackUrl {
    type Error = CallbackUrlError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<CallbackUrl> for String {
    fn from(url: CallbackUrl) -> String {
        url.0.into()
    }
}

impl fmt::Display for CallbackUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an address may not be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// This machine: `127.0.0.0/8`, `::1`.
    Loopback,
    /// A private network: RFC 1918, shared address space (`100.64.0.0/10`), IPv6 unique local.
    Private,
    /// Link-local: `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// A cloud instance metadata service (`169.254.169.254`, `fd00:ec2::254`, …).
    Metadata,
    /// Multicast, broadcast, documentation, benchmarking and other reserved ranges.
    Reserved,
}

impl fmt::Display for AddressKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::Metadata => "cloud metadata",
            Self::Reserved => "reserved",
        })
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one.
pub fn classify_address(ip: IpAddr) -> Option<AddressKind> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressKind> {
    let [a, b, c, d] = ip.octets();
    let kind = match (a, b) {
        _ if [a, b, c, d] == [169, 254, 169, 254] || [a, b, c, d] == [169, 254, 170, 2] => {
            AddressKind::Metadata
        }
        _ if [a, b, c, d] == [100, 100, 100, 200] => AddressKind::Metadata,
        (0, _) => AddressKind::Unspecified,
        (127, _) => AddressKind::Loopback,
        (10, _) | (192, 168) => AddressKind::Private,
        (172, 16..=31) | (100, 64..=127) => AddressKind::Private,
        (169, 254) => AddressKind::LinkLocal,
        (192, 0) if c == 0 || c == 2 => AddressKind::Reserved,
        (198, 18..=19) => AddressKind::Reserved,
        (198, 51) if c == 100 => AddressKind::Reserved,
        (203, 0) if c == 113 => AddressKind::Reserved,
        (224..=255, _) => AddressKind::Reserved,
        _ => return None,
    };
    Some(kind)
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressKind> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some(AddressKind::Unspecified);
    }
    if ip.is_loopback() {
        return Some(AddressKind::Loopback);
    }
    // Forms that carry an IPv4 address: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d),
    // NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::) reach that IPv4 host.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if s[..6] == [0; 6] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return classify_v4(embedded(s[1], s[2]));
    }
    if s == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] {
        return Some(AddressKind::Metadata);
    }
    match s[0] {
        0xfc00..=0xfdff | 0xfec0..=0xfeff => Some(AddressKind::Private),
        0xfe80..=0xfebf => Some(AddressKind::LinkLocal),
        0xff00..=0xffff => Some(AddressKind::Reserved),
        0x2001 if s[1] == 0x0db8 => Some(AddressKind::Reserved),
        0x0100 if s[1..4] == [0, 0, 0] => Some(AddressKind::Reserved),
        _ => None,
    }
}

/// Which callback targets pacer accepts. The default is strict: `https` to public
/// addresses only. Private, link-local and metadata addresses are refused whatever the
/// settings say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallbackPolicy {
    /// Accept `http://` URLs. For local testing only.
    pub allow_plain_http: bool,
    /// Accept loopback addresses and `localhost` (a receiver on this machine). For local
    /// testing only.
    pub allow_loopback: bool,
}

impl CallbackPolicy {
    /// Strict: https to public addresses only.
    pub const STRICT: CallbackPolicy = CallbackPolicy {
        allow_plain_http: false,
        allow_loopback: false,
    };

    /// Local testing: plain http and receivers on this machine are accepted too.
    pub const LOCAL_TESTING: CallbackPolicy = CallbackPolicy {
        allow_plain_http: true,
        allow_loopback: true,
    };

    /// Step 2: scheme, literal addresses and local names.
    pub fn check_url(&self, url: &CallbackUrl) -> Result<(), CallbackUrlError> {
        if !url.is_https() && !self.allow_plain_http {
            return Err(CallbackUrlError::PlainHttp);
        }
        if let Some(ip) = url.literal_ip() {
            return self.check_address(url.host_str(), ip);
        }
        let host = url.host_str().trim_end_matches('.');
        let local = host == "localhost"
            || host.ends_with(".localhost")
            || host == "localhost.localdomain"
            || host.starts_with("ip6-");
        if local && !self.allow_loopback {
            return Err(CallbackUrlError::LocalName {
                host: url.host_str().to_owned(),
            });
        }
        Ok(())
    }

    /// Whether pacer may connect to `ip` for `host`.
    pub fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), CallbackUrlError> {
        match classify_address(ip) {
            None => Ok(()),
            Some(AddressKind::Loopback) if self.allow_loopback => Ok(()),
            Some(kind) => Err(CallbackUrlError::ForbiddenAddress {
                host: host.to_owned(),
                address: ip,
                kind,
            }),
        }
    }

    /// Steps 2 and 3: the URL, then every address its host resolves to. Returns the
    /// addresses, all allowed.
    pub async fn check(
        &self,
        url: &CallbackUrl,
        resolver: &dyn HostResolver,
    ) -> Result<Vec<IpAddr>, CallbackUrlError> {
        self.check_url(url)?;
        if let Some(ip) = url.literal_ip() {
            return Ok(vec![ip]);
        }
        let host = url.host_str();
        let addresses = match resolver.resolve(host, url.port()).await {
            Ok(a) => a,
            Err(ResolveError::NotFound { .. }) => {
                return Err(CallbackUrlError::Unresolvable {
                    host: host.to_owned(),
                })
            }
            Err(source) => {
                return Err(CallbackUrlError::ResolverUnavailable {
                    host: host.to_owned(),
                    source,
                })
            }
        };
        if addresses.is_empty() {
            return Err(CallbackUrlError::Unresolvable {
                host: host.to_owned(),
            });
        }
        for ip in &addresses {
            self.check_address(host, *ip)?;
        }
        Ok(addresses)
    }
}

#[cfg(test)]
#[path = "callback_url_tests.rs"]
mod tests;
