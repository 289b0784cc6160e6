//! The outcome feed on DynamoDB, in the feed table (pk `pk`, sk `seq`):
//!
//! | item | pk | seq | what |
//! |---|---|---|---|
//! | counter | `counter` | 0 | `last`: the last `seq` handed out |
//! | entry | `entries` | n | `outcome`: the [`FinalOutcome`] as JSON |
//! | position | `position#<app>` | 0 | `last`: the last `seq` the application took |
//!
//! DynamoDB has no sequence, so the counter is an item: the transaction that moves a
//! record into a final state also raises the counter from the value it read (a
//! conditional write) and puts the entry under the new number. Two appliers that read
//! the same value cannot both commit, so numbers are unique, gapless and in commit
//! order: entry `n + 1` is only ever visible after entry `n`, and a reader that has
//! seen `n` can never later find a smaller number appear behind it. The price is one
//! hot item that every final move writes; see `docs/decisions/0006-aws-outcome-feed.md`.
//!
//! `take` reads the application's position, queries the entries after it, and moves the
//! position with a write conditional on the value read, so two concurrent takes of one
//! application never both get the same entries.

use crate::backend::Aws;
use crate::dynamo::pause;
use crate::error::{build, corrupt, sdk, AdapterError};
use crate::item::{n, names, opt_n, req_s, s, values, Item};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use pacer_core::ports::{AppName, FinalOutcome, OutcomeFeed};
use pacer_core::PortError;

pub(crate) const PK: &str = "pk";
pub(crate) const SEQ: &str = "seq";
const LAST: &str = "last";
const COUNTER: &str = "counter";
const ENTRIES: &str = "entries";
/// Rounds a `take` retries when another take of the same application moved first.
const TAKE_ROUNDS: u32 = 8;

fn position_key(app: &AppName) -> String {
    format!("position#{app}")
}

/// Reads the `last` number of a counter or position item (0 when absent), consistently.
async fn read_last(aws: &Aws, table: &str, pk: &str, op: &'static str) -> Result<u64, PortError> {
    let answer = aws
        .inner
        .dynamo
        .get_item()
        .table_name(table)
        .key(PK, s(pk))
        .key(SEQ, n(0))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk(op, e))?;
    Ok(match answer.item {
        Some(item) => opt_n(&item, LAST, op)?.unwrap_or(0),
        None => 0,
    })
}

/// Moves a counter or position item from `from` to `to`, if it still holds `from`.
fn advance(table: &str, pk: &str, from: u64, to: u64, op: &'static str) -> Result<Put, PortError> {
    Put::builder()
        .table_name(table)
        .item(PK, s(pk))
        .item(SEQ, n(0))
        .item(LAST, n(to))
        .condition_expression("attribute_not_exists(#pk) OR #last = :from")
        .set_expression_attribute_names(Some(names([("#pk", PK), ("#last", LAST)])))
        .set_expression_attribute_values(Some(values([(":from", n(from))])))
        .build()
        .map_err(|e| build(op, e))
}

/// The next feed number, as read now: the applier's transaction must include the
/// [`FeedAppend::items`] that claim it.
pub(crate) struct FeedAppend {
    table: String,
    last: u64,
}

impl FeedAppend {
    /// Reads the counter.
    pub(crate) async fn read(aws: &Aws, op: &'static str) -> Result<Self, PortError> {
        let table = aws.api_resources(op)?.feed_table.clone();
        let last = read_last(aws, &table, COUNTER, op).await?;
        Ok(Self { table, last })
    }

    /// The number this append claims.
    pub(crate) fn seq(&self) -> u64 {
        self.last + 1
    }

    /// The number the `i`-th of several appends claims.
    pub(crate) fn seq_at(&self, i: usize) -> u64 {
        self.last + 1 + i as u64
    }

    /// The counter's conditional raise (first) and the entry's put (second).
    pub(crate) fn items(
        &self,
        outcome: &FinalOutcome,
        op: &'static str,
    ) -> Result<Vec<TransactWriteItem>, PortError> {
        self.appends(std::slice::from_ref(outcome), op)
    }

    /// Several entries under the numbers after the one read, in order: the counter's
    /// conditional raise past all of them (first), then each entry's put.
    pub(crate) fn appends(
        &self,
        outcomes: &[FinalOutcome],
        op: &'static str,
    ) -> Result<Vec<TransactWriteItem>, PortError> {
        let newest = self.last + outcomes.len() as u64;
        let counter = advance(&self.table, COUNTER, self.last, newest, op)?;
        let mut items = vec![TransactWriteItem::builder().put(counter).build()];
        for (i, outcome) in outcomes.iter().enumerate() {
            let json = serde_json::to_string(outcome)
                .map_err(|e| corrupt(op, format!("feed entry of {}: {e}", outcome.record_id)))?;
            let entry = Put::builder()
                .table_name(&self.table)
                .item(PK, s(ENTRIES))
                .item(SEQ, n(self.seq_at(i)))
                .item("record_id", s(outcome.record_id.as_str()))
                .item("attempt", n(outcome.attempt))
                .item("outcome", s(json))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map_err(|e| build(op, e))?;
            items.push(TransactWriteItem::builder().put(entry).build());
        }
        Ok(items)
    }
}

fn read_entry(item: &Item, op: &'static str) -> Result<FinalOutcome, PortError> {
    let seq: u64 = crate::item::req_n(item, SEQ, op)?;
    let json = req_s(item, "outcome", op)?;
    let outcome: FinalOutcome =
        serde_json::from_str(json).map_err(|e| corrupt(op, format!("feed entry {seq}: {e}")))?;
    Ok(FinalOutcome { seq, ..outcome })
}

#[async_trait::async_trait]
impl OutcomeFeed for Aws {
    async fn take(&self, app: &AppName, limit: usize) -> Result<Vec<FinalOutcome>, PortError> {
        const OP: &str = "take from the feed";
        let table = self.api_resources(OP)?.feed_table.clone();
        if limit == 0 {
            return Ok(Vec::new());
        }
        let position = position_key(app);
        for round in 0..TAKE_ROUNDS {
            let last = read_last(self, &table, &position, OP).await?;
            let answer = self
                .inner
                .dynamo
                .query()
                .table_name(&table)
                .key_condition_expression("#pk = :pk AND #seq > :last")
                .set_expression_attribute_names(Some(names([("#pk", PK), ("#seq", SEQ)])))
                .set_expression_attribute_values(Some(values([
                    (":pk", s(ENTRIES)),
                    (":last", n(last)),
                ])))
                .limit(limit.min(1000) as i32)
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| sdk(OP, e))?;
            let entries = answer
                .items()
                .iter()
                .map(|i| read_entry(i, OP))
                .collect::<Result<Vec<_>, _>>()?;
            let Some(newest) = entries.last().map(|e| e.seq) else {
                return Ok(entries);
            };
            let position_put = advance(&table, &position, last, newest, OP)?;
            let moved = self
                .inner
                .dynamo
                .put_item()
                .table_name(&table)
                .set_item(Some(position_put.item))
                .set_condition_expression(position_put.condition_expression)
                .set_expression_attribute_names(position_put.expression_attribute_names)
                .set_expression_attribute_values(position_put.expression_attribute_values)
                .send()
                .await;
            match moved {
                Ok(_) => return Ok(entries),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    // Another take of this application moved first: read again.
                    pause(round).await;
                }
                Err(e) => return Err(sdk(OP, e)),
            }
        }
        Err(AdapterError::Contention {
            item: format!("feed position of {app}"),
            attempts: TAKE_ROUNDS,
        }
        .into_port(OP))
    }
}
