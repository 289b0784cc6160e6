//! The webhook sender: one signed POST of an outcome to a callback URL.

use crate::callback_url::{CallbackPolicy, CallbackUrl, CallbackUrlError};
use crate::error::BoxError;
use async_trait::async_trait;
use std::time::Duration;

/// One POST to make.
#[derive(Debug, Clone)]
pub struct WebhookPost<'a> {
    /// Where.
    pub url: &'a CallbackUrl,
    /// Headers (signature, delivery id, content type).
    pub headers: &'a [(&'static str, String)],
    /// The exact bytes that were signed.
    pub body: &'a [u8],
    /// Give up after this long.
    pub timeout: Duration,
}

/// A POST that got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum WebhookFailure {
    /// The URL, or an address its host resolved to at connect time, is not allowed:
    /// nothing was sent.
    #[error("refused before sending: callback URL {0}")]
    Refused(#[source] CallbackUrlError),
    /// Connect, TLS, timeout or reset.
    #[error("no answer from the receiver")]
    Transport(#[source] BoxError),
}

/// POSTs webhooks.
///
/// Contract: one request per `post`, redirects not followed, no proxy. Before
/// connecting, the sender resolves the host itself and checks every address with
/// [`CallbackPolicy::check_address`] under its own policy, then connects only to
/// addresses that passed (so a DNS answer cannot change between check and connect);
/// a refusal is [`WebhookFailure::Refused`] and nothing is sent. Any HTTP answer is
/// `Ok(status)`, whatever the status.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Sends one POST and returns the HTTP status.
    async fn post(&self, post: &WebhookPost<'_>) -> Result<u16, WebhookFailure>;
    /// The policy the sender enforces.
    fn policy(&self) -> CallbackPolicy;
}
