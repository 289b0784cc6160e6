//! Webhook deliveries on AWS: the SQS standard queue "callbacks", subscribed to the
//! outcomes topic with a filter policy on the message attribute [`KIND_ATTRIBUTE`]
//! (`callback`), plus one delivery-state item per webhook in the feed table.
//!
//! The results function publishes a [`CallbackMessage`] after the transaction that moved
//! a record with a callback URL into a final state (the attempt item keeps a marker
//! until the publish succeeded, so a crash in between publishes again on redelivery).
//! SQS does the hiding and the redelivery; the item (pk `delivery#<record>#<attempt>`)
//! is the truth about the delivery: attempts made, when it is due, whether it is done,
//! and the receipt handle of its current lease. SQS alone cannot say that a receipt is
//! stale (it accepts old receipt handles), nor count attempts apart from receives.
//!
//! Settling writes the item first (conditional on the receipt and the attempts read)
//! and then tells SQS: delete, hide until the retry is due, or move to the callbacks
//! dead-letter queue. If the SQS call is lost, the message comes back and
//! [`SqsCallbackQueue::admit`] puts it right: a settled delivery is deleted, one not due
//! yet is hidden again. Dead letters are listed from items (pk `webhook_dead`); the SQS
//! dead-letter queue also receives them, so its alarm fires, as well as whatever SQS
//! redrove after `maxReceiveCount` receives (a handler that keeps crashing).
//!
//! Where it falls short of the port: a standard queue hands out due deliveries in no
//! particular order (not strictly oldest due first), and `receive` short-polls, which
//! on real SQS may miss messages that a later call finds. Production does not call
//! `receive`: the Lambda event source long-polls and hands each message to `admit`.

use crate::backend::Aws;
use crate::error::{build, corrupt, sdk};
use crate::feed::{PK, SEQ};
use crate::item::{n, names, opt_n, opt_s, req_n, req_s, s, values, Item};
use crate::sqs;
use aws_sdk_dynamodb::types::ReturnValue;
use pacer_core::callback_url::CallbackUrl;
use pacer_core::ports::{
    CallbackDeadLetter, CallbackDelivery, CallbackQueue, FinalOutcome, Settlement,
};
use pacer_core::{PortError, RecordId, Timestamp};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The SNS message attribute the outcomes topic's subscriptions filter on: `outcome`
/// for outcome events (the results queue), `callback` for webhook deliveries.
pub const KIND_ATTRIBUTE: &str = "pacer_kind";
/// [`KIND_ATTRIBUTE`] of a webhook delivery.
pub(crate) const KIND_CALLBACK: &str = "callback";
/// [`KIND_ATTRIBUTE`] of an outcome event.
pub(crate) const KIND_OUTCOME: &str = "outcome";

const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const DEAD: &str = "dead_lettered";
const DEAD_PK: &str = "webhook_dead";

/// One webhook to deliver, as published to the outcomes topic and read from the
/// callbacks queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackMessage {
    /// Format version.
    pub v: u32,
    /// `record_id#attempt`.
    pub id: String,
    /// The record.
    pub record_id: RecordId,
    /// Where to POST.
    pub url: String,
    /// The feed's entry, which is what is POSTed.
    pub outcome: FinalOutcome,
}

impl CallbackMessage {
    /// The delivery of `outcome` to `url`.
    pub fn new(outcome: &FinalOutcome, url: &CallbackUrl) -> Self {
        Self {
            v: 1,
            id: format!("{}#{}", outcome.record_id, outcome.attempt),
            record_id: outcome.record_id.clone(),
            url: url.as_str().to_owned(),
            outcome: outcome.clone(),
        }
    }
}

/// What a received message turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// Due: deliver it, then settle it by its receipt.
    Deliver(Box<CallbackDelivery>),
    /// Not due yet: hidden again until it is. Leave the message alone (a Lambda handler
    /// reports it as a batch item failure so it is not deleted).
    NotDue,
    /// Already settled, or unreadable and moved to the dead-letter queue: the message is
    /// gone; nothing to do.
    Done,
}

/// The callbacks queue (SNS "outcomes" → SQS "callbacks") with delivery states in the
/// feed table.
#[derive(Clone)]
pub struct SqsCallbackQueue {
    aws: Aws,
}

fn delivery_key(id: &str) -> String {
    format!("delivery#{id}")
}

/// The receipt handed out: the SQS receipt handle (which has no spaces), a space, the
/// delivery id.
fn receipt(handle: &str, id: &str) -> String {
    format!("{handle} {id}")
}

impl SqsCallbackQueue {
    pub(crate) fn new(aws: Aws) -> Self {
        Self { aws }
    }

    fn names(&self, op: &'static str) -> Result<crate::ApiResources, PortError> {
        self.aws.api_resources(op).cloned()
    }

    /// Looks at one received message (`body` under SQS receipt handle `handle`): records
    /// the lease in the delivery's item and says what to do with it. The callbacks
    /// Lambda function calls this for each message of its event; `receive` does too.
    pub async fn admit(
        &self,
        body: &str,
        handle: &str,
        now: Timestamp,
    ) -> Result<Admitted, PortError> {
        const OP: &str = "admit webhook";
        let res = self.names(OP)?;
        let message = match serde_json::from_str::<CallbackMessage>(body) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable webhook message; dead-lettered");
                self.to_dead_letter_queue(body, handle, &format!("unreadable: {e}"))
                    .await?;
                return Ok(Admitted::Done);
            }
        };
        let url = match CallbackUrl::parse(&message.url) {
            Ok(url) => url,
            Err(e) => {
                // Never deliverable: dead-letter it now rather than after 16 receives.
                tracing::warn!(delivery = %message.id, error = %e, "webhook with an unusable URL; dead-lettered");
                self.to_dead_letter_queue(body, handle, &format!("callback_url: {e}"))
                    .await?;
                return Ok(Admitted::Done);
            }
        };
        let item = self
            .aws
            .inner
            .dynamo
            .update_item()
            .table_name(&res.feed_table)
            .key(PK, s(delivery_key(&message.id)))
            .key(SEQ, n(0))
            .update_expression(
                "SET #receipt = :r, #attempts = if_not_exists(#attempts, :zero), \
                 #state = if_not_exists(#state, :pending), #record = :record, #url = :url, \
                 #oseq = :oseq",
            )
            .set_expression_attribute_names(Some(names([
                ("#receipt", "receipt"),
                ("#attempts", "attempts"),
                ("#state", "state"),
                ("#record", "record_id"),
                ("#url", "url"),
                ("#oseq", "outcome_seq"),
            ])))
            .set_expression_attribute_values(Some(values([
                (":r", s(handle)),
                (":zero", n(0)),
                (":pending", s(PENDING)),
                (":record", s(message.record_id.as_str())),
                (":url", s(url.as_str())),
                (":oseq", n(message.outcome.seq)),
            ])))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| sdk(OP, e))?
            .attributes
            .unwrap_or_default();
        let queue = &res.callbacks_queue_url;
        if req_s(&item, "state", OP)? != PENDING {
            // A copy of a delivery already made or dead-lettered (publishing is at least
            // once, and a settle's SQS call may have been lost).
            sqs::delete(&self.aws.inner.sqs, queue, &[handle.to_owned()], OP).await?;
            return Ok(Admitted::Done);
        }
        if let Some(due) = opt_n::<i64>(&item, "due_at", OP)?.map(Timestamp::from_millis) {
            if due > now {
                let wait = Duration::from_millis((due.as_millis() - now.as_millis()) as u64);
                let handles = [handle.to_owned()];
                sqs::change_visibility(&self.aws.inner.sqs, queue, &handles, wait, OP).await?;
                return Ok(Admitted::NotDue);
            }
        }
        Ok(Admitted::Deliver(Box::new(CallbackDelivery {
            receipt: receipt(handle, &message.id),
            id: message.id,
            record_id: message.record_id,
            url,
            outcome: message.outcome,
            attempts: req_n(&item, "attempts", OP)?,
        })))
    }

    /// Sends `body` to the callbacks dead-letter queue and deletes it from the queue.
    async fn to_dead_letter_queue(
        &self,
        body: &str,
        handle: &str,
        reason: &str,
    ) -> Result<(), PortError> {
        const OP: &str = "dead-letter webhook";
        let res = self.names(OP)?;
        let sqs = &self.aws.inner.sqs;
        sqs.send_message()
            .queue_url(&res.callbacks_dlq_url)
            .message_body(body)
            .message_attributes(
                "reason",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(crate::item::cut(reason, 1024))
                    .build()
                    .map_err(|e| build(OP, e))?,
            )
            .send()
            .await
            .map_err(|e| sdk(OP, e))?;
        sqs::delete(sqs, &res.callbacks_queue_url, &[handle.to_owned()], OP).await
    }

    /// The delivery item, read consistently.
    async fn delivery(&self, id: &str, op: &'static str) -> Result<Option<Item>, PortError> {
        let res = self.names(op)?;
        let answer = self
            .aws
            .inner
            .dynamo
            .get_item()
            .table_name(&res.feed_table)
            .key(PK, s(delivery_key(id)))
            .key(SEQ, n(0))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk(op, e))?;
        Ok(answer.item)
    }
}

/// Publishes a webhook delivery to the outcomes topic, tagged for the callbacks queue.
pub(crate) async fn publish(aws: &Aws, message: &CallbackMessage) -> Result<(), PortError> {
    const OP: &str = "publish webhook";
    let body = serde_json::to_string(message)
        .map_err(|e| corrupt(OP, format!("webhook {}: {e}", message.id)))?;
    let kind = aws_sdk_sns::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(KIND_CALLBACK)
        .build()
        .map_err(|e| build(OP, e))?;
    aws.inner
        .sns
        .publish()
        .topic_arn(&aws.inner.resources.outcomes_topic_arn)
        .message(body)
        .message_attributes(KIND_ATTRIBUTE, kind)
        .send()
        .await
        .map_err(|e| sdk(OP, e))?;
    Ok(())
}

mod settle;

#[async_trait::async_trait]
impl CallbackQueue for SqsCallbackQueue {
    async fn receive(
        &self,
        now: Timestamp,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<CallbackDelivery>, PortError> {
        const OP: &str = "receive webhooks";
        let res = self.names(OP)?;
        let queue = &res.callbacks_queue_url;
        let messages =
            sqs::receive(&self.aws.inner.sqs, queue, max, lease, Duration::ZERO, OP).await?;
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            if let Admitted::Deliver(d) = self.admit(&m.body, &m.receipt, now).await? {
                out.push(*d);
            }
        }
        Ok(out)
    }

    async fn settle(
        &self,
        receipt: &str,
        settlement: &Settlement,
        now: Timestamp,
    ) -> Result<bool, PortError> {
        settle::settle(self, receipt, settlement, now).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<CallbackDeadLetter>, PortError> {
        settle::dead_letters(self, limit).await
    }
}

/// Reads a dead-letter item.
fn read_dead(item: &Item, op: &'static str) -> Result<CallbackDeadLetter, PortError> {
    let id = req_s(item, "id", op)?;
    let record = req_s(item, "record_id", op)?;
    let url = req_s(item, "url", op)?;
    Ok(CallbackDeadLetter {
        id: id.to_owned(),
        record_id: RecordId::new(record.to_owned())
            .map_err(|e| corrupt(op, format!("record id of webhook {id}: {e}")))?,
        url: CallbackUrl::parse(url)
            .map_err(|e| corrupt(op, format!("url of webhook {id}: {e}")))?,
        attempts: req_n(item, "attempts", op)?,
        reason: opt_s(item, "reason", op)?.unwrap_or_default().to_owned(),
        dead_lettered_at: Timestamp::from_millis(req_n(item, "at", op)?),
    })
}
