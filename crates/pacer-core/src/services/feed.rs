//! Read the outcome feed for one consumer application (`GET /feed`).

use crate::error::PortError;
use crate::ports::{ApiPorts, AppName, FinalOutcome};

/// Entries per page when the caller does not say.
pub const DEFAULT_FEED_LIMIT: usize = 100;
/// Most entries per page.
pub const MAX_FEED_LIMIT: usize = 500;

/// The next entries `app` has not seen (consumed: the next read starts after them),
/// at most `limit` (clamped to 1..=[`MAX_FEED_LIMIT`]); empty when it is up to date.
pub async fn read_feed(
    ports: &ApiPorts,
    app: &AppName,
    limit: Option<usize>,
) -> Result<Vec<FinalOutcome>, PortError> {
    let limit = limit.unwrap_or(DEFAULT_FEED_LIMIT).clamp(1, MAX_FEED_LIMIT);
    let entries = ports.feed.take(app, limit).await?;
    tracing::debug!(app = %app, entries = entries.len(), "feed read");
    Ok(entries)
}
