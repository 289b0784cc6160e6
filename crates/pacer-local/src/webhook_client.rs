//! The webhook HTTP client: one POST per delivery through `reqwest`, with the callback
//! URL rules enforced as it connects.
//!
//! The client resolves names through its own [`reqwest::dns::Resolve`] hook, which asks
//! the [`HostResolver`] and refuses the whole answer if any address is not allowed by
//! the [`CallbackPolicy`]; the connection is then made only to the addresses that were
//! checked, so a second DNS answer cannot slip an inner address in (DNS rebinding).
//! Redirects are not followed and no proxy is used.

use async_trait::async_trait;
use pacer_core::callback_url::{CallbackPolicy, CallbackUrlError};
use pacer_core::ports::{HostResolver, ResolveError, WebhookFailure, WebhookPost, WebhookSender};
use std::net::{IpAddr, SocketAddr};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
use std::sync::Arc;

/// Resolves with the system resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl HostResolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        match tokio::net::lookup_host((host, port)).await {
            Ok(addrs) => Ok(addrs.map(|a| a.ip()).collect()),
            // getaddrinfo says "temporary failure" (EAI_AGAIN) when the DNS server did
            // not answer; everything else means the name has no address.
            Err(e) if e.to_string().contains("emporary failure") => {
                Err(ResolveError::Unavailable {
                    host: host.to_owned(),
                    source: Box::new(e),
                })
            }
            Err(_) => Err(ResolveError::NotFound {
                host: host.to_owned(),
            }),
        }
    }
}

/// The reqwest DNS hook: resolve, check every address, hand back only checked ones.
struct CheckedDns {
    resolver: Arc<dyn HostResolver>,
    policy: CallbackPolicy,
}

impl reqwest::dns::Resolve for CheckedDns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = Arc::clone(&self.resolver);
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // reqwest sets the port on the returned addresses itself.
            let ips = resolver.resolve(&host, 0).await.map_err(|e| match e {
                ResolveError::NotFound { host } => {
                    Box::new(CallbackUrlError::Unresolvable { host }) as _
                }
                other => Box::new(other) as BoxError,
            })?;
            if ips.is_empty() {
                return Err(Box::new(CallbackUrlError::Unresolvable { host }) as _);
            }
            for ip in &ips {
                // Boxed as the error itself (not a box of a box) so `refusal` finds it.
                policy
                    .check_address(&host, *ip)
                    .map_err(|e| Box::new(e) as BoxError)?;
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client")]
pub struct ClientError(#[source] reqwest::Error);

/// Sends webhooks with `reqwest`, enforcing a [`CallbackPolicy`] at connect time.
#[derive(Clone)]
pub struct ReqwestWebhookSender {
    client: reqwest::Client,
    policy: CallbackPolicy,
}

impl ReqwestWebhookSender {
    /// A sender resolving through `resolver` and enforcing `policy`.
    pub fn new(
        resolver: Arc<dyn HostResolver>,
        policy: CallbackPolicy,
    ) -> Result<Self, ClientError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedDns { resolver, policy }))
            .user_agent(concat!("pacer-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError)?;
        Ok(Self { client, policy })
    }
}

/// Finds a refusal of ours in an error's chain and rebuilds it.
fn refusal(e: &reqwest::Error) -> Option<CallbackUrlError> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        // hyper keeps the resolver's error boxed: look through the box too.
        if let Some(c) = s.downcast_ref::<CallbackUrlError>() {
            return match c {
                CallbackUrlError::ForbiddenAddress {
                    host,
                    address,
                    kind,
                } => Some(CallbackUrlError::ForbiddenAddress {
                    host: host.clone(),
                    address: *address,
                    kind: *kind,
                }),
                CallbackUrlError::Unresolvable { host } => {
                    Some(CallbackUrlError::Unresolvable { host: host.clone() })
                }
                _ => None,
            };
        }
        source = s.source();
    }
    None
}

#[async_trait]
impl WebhookSender for ReqwestWebhookSender {
    async fn post(&self, post: &WebhookPost<'_>) -> Result<u16, WebhookFailure> {
        // Literal addresses never reach the DNS hook: check them here.
        self.policy
            .check_url(post.url)
            .map_err(WebhookFailure::Refused)?;
        let mut request = self
            .client
            .post(post.url.as_str())
            .timeout(post.timeout)
            .body(post.body.to_vec());
        for (name, value) in post.headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) => Err(match refusal(&e) {
                Some(r) => WebhookFailure::Refused(r),
                None => WebhookFailure::Transport(Box::new(e)),
            }),
        }
    }

    fn policy(&self) -> CallbackPolicy {
        self.policy
    }
}
