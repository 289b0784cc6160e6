//! A record's story read straight from DynamoDB with plain SDK calls (GetItem on the
//! records and results tables, Query on the attempts table), independent of the adapters,
//! and compared with what `pacer trace` builds through the ports.

// Each test file uses part of this module.
#![allow(dead_code)]

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use pacer_aws::AwsResources;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

fn n(item: &Item, key: &str) -> Option<i64> {
    item.get(key)?.as_n().ok()?.parse().ok()
}

fn s<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    item.get(key)?.as_s().ok().map(String::as_str)
}

/// One attempt as the attempts table holds it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RawAttempt {
    pub(crate) number: i64,
    pub(crate) called: bool,
    pub(crate) fencing_token: i64,
    pub(crate) status_code: Option<i64>,
    pub(crate) invocation_id: String,
}

/// A record as its tables hold it.
#[derive(Debug)]
pub(crate) struct RawRecord {
    pub(crate) state: String,
    pub(crate) calls: i64,
    pub(crate) attempt: i64,
    pub(crate) attempts: Vec<RawAttempt>,
    pub(crate) has_result: bool,
}

/// Reads `id` from the records, attempts and results tables.
pub(crate) async fn read(client: &Client, names: &AwsResources, id: &str) -> RawRecord {
    let key = |k: &str| (k.to_owned(), AttributeValue::S(id.to_owned()));
    let record = client
        .get_item()
        .table_name(&names.records_table)
        .set_key(Some(HashMap::from([key("id")])))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem records")
        .item
        .unwrap_or_else(|| panic!("{id} is not in the records table"));
    let attempts: Vec<RawAttempt> = client
        .query()
        .table_name(&names.attempts_table)
        .key_condition_expression("record_id = :id")
        .expression_attribute_values(":id", AttributeValue::S(id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("Query attempts")
        .items
        .unwrap_or_default()
        .iter()
        .map(|a| RawAttempt {
            number: n(a, "attempt").expect("attempt number"),
            called: a
                .get("called")
                .and_then(|c| c.as_bool().ok())
                .copied()
                .unwrap_or(false),
            fencing_token: n(a, "fencing_token").unwrap_or(0),
            status_code: n(a, "status_code"),
            invocation_id: s(a, "invocation_id").unwrap_or_default().to_owned(),
        })
        .collect();
    let result = client
        .get_item()
        .table_name(&names.results_table)
        .set_key(Some(HashMap::from([key("record_id")])))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem results");
    RawRecord {
        state: s(&record, "state").expect("state").to_owned(),
        calls: n(&record, "calls").expect("calls"),
        attempt: n(&record, "attempt").expect("attempt"),
        attempts,
        has_result: result.item.is_some(),
    }
}

/// Asserts the raw record tells the same story as the trace JSON.
pub(crate) fn assert_same_story(id: &str, raw: &RawRecord, trace: &serde_json::Value) {
    assert_eq!(
        trace["state"].as_str(),
        Some(raw.state.as_str()),
        "{id}: state"
    );
    assert_eq!(trace["calls"].as_i64(), Some(raw.calls), "{id}: calls");
    let traced = trace["attempts"].as_array().expect("attempts");
    assert_eq!(traced.len(), raw.attempts.len(), "{id}: attempts");
    for (t, a) in traced.iter().zip(&raw.attempts) {
        let traced = RawAttempt {
            number: t["number"].as_i64().expect("number"),
            called: t["called"].as_bool().expect("called"),
            fencing_token: t["fencing_token"].as_i64().expect("token"),
            status_code: t["status_code"].as_i64(),
            invocation_id: t["invocation_id"].as_str().expect("invocation").to_owned(),
        };
        assert_eq!(&traced, a, "{id}: attempt {}", a.number);
    }
    assert_eq!(!trace["result"].is_null(), raw.has_result, "{id}: result");
    let called = raw.attempts.iter().filter(|a| a.called).count() as i64;
    assert_eq!(called, raw.calls, "{id}: every call is a stored attempt");
    assert_eq!(
        raw.attempts.iter().map(|a| a.number).max().unwrap_or(0),
        raw.attempt,
        "{id}: the record's attempt is its last stored attempt"
    );
}
