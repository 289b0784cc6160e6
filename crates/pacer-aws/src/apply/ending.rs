//! What a move into a final state adds when the deployment serves the HTTP API: the feed
//! entry (in the outcome's transaction) and the webhook, kept on the attempt item until it
//! is published to the outcomes topic, and published again by a duplicate event if the
//! first application stopped in between.

use super::{ATTEMPT, CALLBACK, RECORD_ID};
use crate::backend::Aws;
use crate::callbacks::CallbackMessage;
use crate::error::{corrupt, sdk};
use crate::feed::FeedAppend;
use crate::item::{n, opt_s, s};
use aws_sdk_dynamodb::types::TransactWriteItem;
use pacer_core::ports::FinalOutcome;
use pacer_core::schema::{NextState, OutcomeEvent};
use pacer_core::{PortError, Record};

/// What a move into a final state adds to its transaction when the API is served.
pub(super) struct Ending {
    pub(super) feed: FeedAppend,
    pub(super) outcome: FinalOutcome,
    pub(super) callback: Option<CallbackMessage>,
}

/// The feed entry (and webhook) of `next` if the event moves it into a final state and
/// the deployment serves the API.
pub(super) async fn final_move(
    aws: &Aws,
    next: &Record,
    stale: bool,
    ev: &OutcomeEvent,
    op: &'static str,
) -> Result<Option<Ending>, PortError> {
    if stale || ev.next == NextState::Continue || !next.state.is_final() {
        return Ok(None);
    }
    if aws.inner.resources.api.is_none() {
        return Ok(None);
    }
    let feed = FeedAppend::read(aws, op).await?;
    let outcome = FinalOutcome::from_event(feed.seq(), ev, next.state);
    let callback = next
        .callback_url
        .as_ref()
        .map(|url| CallbackMessage::new(&outcome, url));
    Ok(Some(Ending {
        feed,
        outcome,
        callback,
    }))
}

/// The attempt's put, carrying the webhook still to publish.
pub(super) fn with_callback(
    attempt: TransactWriteItem,
    end: &Ending,
    op: &'static str,
) -> Result<TransactWriteItem, PortError> {
    let Some(message) = &end.callback else {
        return Ok(attempt);
    };
    let json = serde_json::to_string(message)
        .map_err(|e| corrupt(op, format!("webhook of {}: {e}", message.id)))?;
    let Some(mut put) = attempt.put else {
        return Ok(attempt);
    };
    put.item.insert(CALLBACK.to_owned(), s(json));
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Publishes the webhook, then clears the attempt's marker.
pub(super) async fn publish_callback(
    aws: &Aws,
    ev: &OutcomeEvent,
    message: &CallbackMessage,
) -> Result<(), PortError> {
    let op = "publish webhook";
    crate::callbacks::publish(aws, message).await?;
    aws.inner
        .dynamo
        .update_item()
        .table_name(&aws.inner.resources.attempts_table)
        .key(RECORD_ID, s(ev.record_id.as_str()))
        .key(ATTEMPT, n(ev.attempt))
        .update_expression("REMOVE #cb")
        .expression_attribute_names("#cb", CALLBACK)
        .send()
        .await
        .map_err(|e| sdk(op, e))?;
    Ok(())
}

/// A duplicate event: publishes the webhook its attempt still holds, if any (the first
/// application committed but did not get to publish).
pub(super) async fn republish_pending(aws: &Aws, ev: &OutcomeEvent) -> Result<(), PortError> {
    let op = "apply outcomes";
    let answer = aws
        .inner
        .dynamo
        .get_item()
        .table_name(&aws.inner.resources.attempts_table)
        .key(RECORD_ID, s(ev.record_id.as_str()))
        .key(ATTEMPT, n(ev.attempt))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk(op, e))?;
    let Some(json) = answer
        .item
        .as_ref()
        .and_then(|i| opt_s(i, CALLBACK, op).transpose())
        .transpose()?
    else {
        return Ok(());
    };
    let message: CallbackMessage = serde_json::from_str(json)
        .map_err(|e| corrupt(op, format!("webhook kept on {}: {e}", ev.record_id)))?;
    tracing::info!(record_id = %ev.record_id, attempt = ev.attempt, "publishing a webhook left unpublished");
    publish_callback(aws, ev, &message).await
}
