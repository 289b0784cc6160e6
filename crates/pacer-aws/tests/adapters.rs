//! What the AWS adapters do beyond the port contracts, checked on moto with plain SDK
//! calls: the provisioned resources match `infra/resources.json`, the `due` index is
//! sparse and sharded, batches split by count and size, oversized outcomes are cut (not
//! rejected), and both SQS dead-letter queues drain into the dead-letter table.
//!
//! Skipped (with a printed reason) unless `PACER_TEST_AWS_ENDPOINT` is set; see
//! `scripts/test-aws.sh`.

mod common;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use pacer_aws::provision::{provision, unique_prefix, ProvisionOptions, ResourceDescription};
use pacer_aws::{Aws, AwsOptions, AwsResources};
use pacer_core::breaker::BreakerState;
use pacer_core::classify::ErrorClass;
use pacer_core::planner::{Limit, ProviderPlan, WindowPlan};
use pacer_core::ports::{DeadLetterFilter, Ports, Unlimited};
use pacer_core::schema::{
    NextState, OutcomeEvent, WorkMessage, OUTCOME_EVENT_VERSION, TRUNCATION_MARKER,
    WORK_MESSAGE_VERSION,
};
use pacer_core::{ApiRequest, Clock, NewRecord, ProviderId, RecordId, Timestamp};
use pacer_testkit::clock::ManualClock;
use pacer_testkit::contract::UnusedCaller;
use pacer_testkit::leases::claim_first_attempt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

struct Setup {
    sdk: SdkConfig,
    resources: AwsResources,
    ports: Ports,
    clock: Arc<ManualClock>,
}

async fn setup(test: &str) -> Option<Setup> {
    let endpoint = common::endpoint(test)?;
    let sdk = common::sdk_config(&endpoint).await;
    let options = ProvisionOptions {
        prefix: unique_prefix("a"),
        work_max_receive_count: None,
    };
    let resources = provision(&sdk, &options).await.expect("provision on moto");
    let clock = Arc::new(ManualClock::default());
    let aws = Aws::new(
        &sdk,
        resources.clone(),
        AwsOptions::default(),
        Arc::clone(&clock) as Arc<dyn Clock>,
    );
    let ports = aws.ports(Arc::new(UnusedCaller), Arc::new(Unlimited));
    Some(Setup {
        sdk,
        resources,
        ports,
        clock,
    })
}

fn pid(p: &str) -> ProviderId {
    ProviderId::new(p).expect("valid provider")
}

fn rid(r: &str) -> RecordId {
    RecordId::new(r).expect("valid record id")
}

fn event(id: &str, attempt: u32, next: NextState, at: Timestamp) -> OutcomeEvent {
    OutcomeEvent {
        v: OUTCOME_EVENT_VERSION,
        record_id: rid(id),
        provider: pid("p"),
        attempt,
        called: true,
        request_summary: format!("GET /v1/{id}"),
        started_at: at,
        finished_at: at,
        latency_ms: 5,
        status_code: Some(200),
        error_class: None,
        detail: None,
        response: Some("{}".into()),
        fencing_token: 1,
        invocation_id: "adapters-test".into(),
        next,
    }
}

fn new_record(id: &str) -> NewRecord {
    NewRecord {
        id: rid(id),
        provider: pid("p"),
        request: ApiRequest {
            path: "/x".into(),
            ..Default::default()
        },
        callback_url: None,
    }
}

/// A plan that fits `records` of provider `p` one second apart from `now`.
fn plan_for_p(now: Timestamp, records: u64) -> WindowPlan {
    WindowPlan {
        start: now,
        end: now.plus(Duration::from_secs(3600)),
        providers: vec![ProviderPlan {
            provider: pid("p"),
            records,
            spacing_us: 1_000_000,
            offset_us: 0,
            fits: records,
            carried_over: 0,
            limited_by: Limit::Window,
            last_due: None,
        }],
        global_stretch: 1.0,
    }
}

/// The record as stored.
async fn stored(s: &Setup, id: &str) -> pacer_core::Record {
    s.ports
        .records
        .get(&rid(id))
        .await
        .expect("get")
        .expect("the record exists")
}

/// Takes provider `p`'s lease, claiming `id` as attempt 1, which must be granted.
async fn claim_one(s: &Setup, id: &str, now: Timestamp) -> pacer_core::ports::Lease {
    claim_first_attempt(s.ports.leases.as_ref(), &pid("p"), "w", &rid(id), now).await
}

#[tokio::test]
async fn provisioned_resources_match_the_description() {
    let Some(s) = setup("provisioned_resources_match_the_description").await else {
        return;
    };
    let description = ResourceDescription::load().expect("description");
    let dynamo = aws_sdk_dynamodb::Client::new(&s.sdk);
    let table = dynamo
        .describe_table()
        .table_name(&s.resources.records_table)
        .send()
        .await
        .expect("describe records")
        .table
        .expect("a table");
    let indexes: BTreeSet<String> = table
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name().map(str::to_owned))
        .collect();
    let described: BTreeSet<String> = description.tables["RecordsTable"]
        .global_secondary_indexes
        .iter()
        .map(|i| i.index_name.clone())
        .collect();
    assert_eq!(indexes, described);

    let sqs = aws_sdk_sqs::Client::new(&s.sdk);
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&s.resources.work_queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("work queue attributes")
        .attributes
        .expect("attributes");
    let work = &description.queues["WorkQueue"];
    assert_eq!(attrs[&QueueAttributeName::FifoQueue], "true");
    assert_eq!(
        attrs[&QueueAttributeName::ContentBasedDeduplication],
        "false"
    );
    assert_eq!(
        attrs[&QueueAttributeName::VisibilityTimeout],
        work.visibility_timeout.expect("described").to_string()
    );
    let redrive: serde_json::Value =
        serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).expect("JSON policy");
    let max = work
        .redrive_policy
        .as_ref()
        .expect("described")
        .max_receive_count;
    assert_eq!(redrive["maxReceiveCount"].as_u64(), Some(u64::from(max)));
    assert!(redrive["deadLetterTargetArn"]
        .as_str()
        .is_some_and(|arn| arn.ends_with("work-dead-letters.fifo")));

    let sns = aws_sdk_sns::Client::new(&s.sdk);
    let subs = sns
        .list_subscriptions_by_topic()
        .topic_arn(&s.resources.outcomes_topic_arn)
        .send()
        .await
        .expect("subscriptions");
    let sub = subs.subscriptions().first().expect("one subscription");
    assert_eq!(sub.protocol(), Some("sqs"));
    let sub_attrs = sns
        .get_subscription_attributes()
        .subscription_arn(sub.subscription_arn().expect("arn"))
        .send()
        .await
        .expect("subscription attributes")
        .attributes
        .expect("attributes");
    assert_eq!(
        sub_attrs.get("RawMessageDelivery").map(String::as_str),
        Some("true")
    );
}

/// Partition key → ids, for every item of the records table's `due` index.
async fn due_index(s: &Setup) -> BTreeMap<String, BTreeSet<String>> {
    let dynamo = aws_sdk_dynamodb::Client::new(&s.sdk);
    let items = dynamo
        .scan()
        .table_name(&s.resources.records_table)
        .index_name("due")
        .send()
        .await
        .expect("scan the due index")
        .items
        .unwrap_or_default();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for item in items {
        let shard = item["due_shard"].as_s().expect("shard").clone();
        let id = item["id"].as_s().expect("id").clone();
        out.entry(shard).or_default().insert(id);
    }
    out
}

#[tokio::test]
async fn the_due_index_holds_only_schedulable_work_spread_over_shards() {
    let Some(s) = setup("the_due_index_holds_only_schedulable_work_spread_over_shards").await
    else {
        return;
    };
    let now = s.clock.now();
    let records: Vec<NewRecord> = (0..40).map(|i| new_record(&format!("r-{i:02}"))).collect();
    s.ports.records.insert(&records, now).await.expect("insert");
    assert!(
        due_index(&s).await.is_empty(),
        "pending records are not due work"
    );
    let report = s
        .ports
        .records
        .schedule(&plan_for_p(now, 40), now)
        .await
        .expect("schedule");
    assert_eq!(report.scheduled, 40);
    let index = due_index(&s).await;
    assert!(index.keys().all(|k| k.starts_with("due#")), "{index:?}");
    assert!(
        index.len() >= 10,
        "40 records land on many of 16 shards: {index:?}"
    );
    assert_eq!(index.values().map(BTreeSet::len).sum::<usize>(), 40);

    // r-00 runs and succeeds: it moves to the staleness half while in flight, then leaves.
    let lease = claim_one(&s, "r-00", now).await;
    let flying: Vec<String> = due_index(&s)
        .await
        .into_iter()
        .filter(|(k, ids)| k.starts_with("stale#") && ids.contains("r-00"))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(flying.len(), 1, "in flight, r-00 is watched for staleness");
    s.ports
        .records
        .apply_outcomes(&[event("r-00", 1, NextState::Succeeded, now)], now)
        .await
        .expect("apply");
    s.ports
        .leases
        .release(&lease, BreakerState::default(), now)
        .await
        .expect("release");
    let index = due_index(&s).await;
    assert!(
        index.values().all(|ids| !ids.contains("r-00")),
        "a finished record is not in the index: {index:?}"
    );
    assert_eq!(index.values().map(BTreeSet::len).sum::<usize>(), 39);
}

#[tokio::test]
async fn large_sends_are_split_by_count_and_size_and_keep_group_order() {
    let Some(s) = setup("large_sends_are_split_by_count_and_size_and_keep_group_order").await
    else {
        return;
    };
    let now = s.clock.now();
    let filler = "x".repeat(30 * 1024);
    let messages: Vec<WorkMessage> = (0..25)
        .map(|i| WorkMessage {
            v: WORK_MESSAGE_VERSION,
            record_id: rid(&format!("big-{i:02}")),
            provider: pid("p"),
            attempt: 1,
            calls: 0,
            request: ApiRequest {
                path: "/x".into(),
                body: Some(serde_json::json!({ "filler": filler })),
                ..Default::default()
            },
            released_at: now,
        })
        .collect();
    let report = s
        .ports
        .work
        .send(&messages)
        .await
        .expect("send 750 KB in one call");
    assert_eq!((report.sent, report.deduplicated), (25, 0));
    let mut order = Vec::new();
    for _ in 0..10 {
        let got = s
            .ports
            .work
            .receive(10, Duration::from_secs(30), Duration::ZERO)
            .await
            .expect("receive");
        let receipts: Vec<String> = got.iter().map(|d| d.receipt.clone()).collect();
        order.extend(
            got.iter()
                .map(|d| WorkMessage::decode(&d.body).expect("body").record_id),
        );
        s.ports.work.delete(&receipts).await.expect("delete");
        if order.len() == 25 {
            break;
        }
    }
    let sent: Vec<RecordId> = messages.iter().map(|m| m.record_id.clone()).collect();
    assert_eq!(order, sent, "one group, in send order across batches");
}

/// Outcomes that end no record are applied as plain writes, attempt first and the record
/// last. A results function that stops between the two leaves the attempt stored and the
/// record in flight; the redelivered event must still make the move (no loss), and a
/// further copy must change nothing (idempotency).
#[tokio::test]
async fn an_outcome_stored_before_a_crash_still_moves_its_record_when_redelivered() {
    let Some(s) =
        setup("an_outcome_stored_before_a_crash_still_moves_its_record_when_redelivered").await
    else {
        return;
    };
    let now = s.clock.now();
    s.ports
        .records
        .insert(&[new_record("crashy")], now)
        .await
        .expect("insert");
    s.ports
        .records
        .schedule(&plan_for_p(now, 1), now)
        .await
        .expect("schedule");
    claim_one(&s, "crashy", now).await;

    let retry_at = now.plus(Duration::from_secs(30));
    let ev = event("crashy", 1, NextState::RetryWait { due_at: retry_at }, now);
    // The first application stopped after its first write: only the attempt item exists.
    let dynamo = aws_sdk_dynamodb::Client::new(&s.sdk);
    let attribute = aws_sdk_dynamodb::types::AttributeValue::S;
    dynamo
        .put_item()
        .table_name(&s.resources.attempts_table)
        .item("record_id", attribute("crashy".into()))
        .item(
            "attempt",
            aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
        )
        .item("event", attribute(ev.encode()))
        .send()
        .await
        .expect("attempt item");
    let before = stored(&s, "crashy").await;
    assert_eq!(before.state, pacer_core::RecordState::InFlight);

    let report = s
        .ports
        .records
        .apply_outcomes(std::slice::from_ref(&ev), now)
        .await
        .expect("redelivered event applied");
    assert_eq!(
        report.duplicates, 1,
        "its attempt was already stored: {report:?}"
    );
    let after = stored(&s, "crashy").await;
    assert_eq!(
        after.state,
        pacer_core::RecordState::RetryWait,
        "the move was made"
    );
    assert_eq!(after.due_at, Some(retry_at));
    assert_eq!(after.calls, 1);

    // One more copy: nothing moves, nothing is counted twice.
    s.ports
        .records
        .apply_outcomes(std::slice::from_ref(&ev), now)
        .await
        .expect("copy applied");
    let again = stored(&s, "crashy").await;
    assert_eq!(again.state, pacer_core::RecordState::RetryWait);
    assert_eq!(again.calls, 1, "a copy is not counted again");
    assert_eq!(
        s.ports
            .records
            .attempts(&rid("crashy"))
            .await
            .expect("attempts")
            .len(),
        1
    );
}

/// A worker's provider batches publish their outcomes at about the same time: those
/// publishes share `PublishBatch` requests (SNS bills one per ten small messages), every
/// event still arrives, and with no linger each publish is its own request.
#[tokio::test]
async fn outcomes_published_together_share_publish_batch_requests() {
    let Some(s) = setup("outcomes_published_together_share_publish_batch_requests").await else {
        return;
    };
    let now = s.clock.now();
    let publishes = |linger: Duration| {
        let recorder = pacer_aws::recorder::Recorder::new();
        let aws = Aws::new_with_interceptor(
            &s.sdk,
            s.resources.clone(),
            AwsOptions {
                publish_linger: linger,
                ..AwsOptions::default()
            },
            Arc::clone(&s.clock) as Arc<dyn Clock>,
            aws_smithy_runtime_api::client::interceptors::SharedInterceptor::new(recorder.clone()),
        );
        (aws.outcome_bus(), recorder)
    };
    let count = |recorder: &pacer_aws::recorder::Recorder| {
        recorder
            .calls()
            .iter()
            .filter(|c| c.name() == "sns:PublishBatch")
            .count()
    };

    let (bus, recorder) = publishes(Duration::from_millis(20));
    let events: Vec<OutcomeEvent> = (0..10)
        .map(|i| event(&format!("pub-{i}"), 1, NextState::Succeeded, now))
        .collect();
    let sent = futures::future::join_all(
        events
            .iter()
            .map(|e| pacer_core::ports::OutcomeBus::publish(&bus, std::slice::from_ref(e))),
    )
    .await;
    assert!(sent.iter().all(Result::is_ok), "{sent:?}");
    assert!(
        count(&recorder) <= 2,
        "ten publishes at once share requests: {}",
        count(&recorder)
    );
    let mut seen = BTreeSet::new();
    for _ in 0..10 {
        let got = s
            .ports
            .outcomes
            .receive(10, Duration::from_secs(30), Duration::from_secs(1))
            .await
            .expect("receive");
        let receipts: Vec<String> = got.iter().map(|d| d.receipt.clone()).collect();
        for d in got {
            seen.insert(
                OutcomeEvent::decode(&d.body)
                    .expect("event")
                    .record_id
                    .to_string(),
            );
        }
        s.ports.outcomes.ack(&receipts).await.expect("ack");
        if seen.len() == 10 {
            break;
        }
    }
    assert_eq!(seen.len(), 10, "every event arrived: {seen:?}");

    let (bus, recorder) = publishes(Duration::ZERO);
    futures::future::join_all(
        events
            .iter()
            .map(|e| pacer_core::ports::OutcomeBus::publish(&bus, std::slice::from_ref(e))),
    )
    .await;
    assert_eq!(count(&recorder), 10, "without a linger each publish sends");
}

#[tokio::test]
async fn an_oversized_outcome_is_stored_and_published_cut_with_the_marker() {
    let Some(s) = setup("an_oversized_outcome_is_stored_and_published_cut_with_the_marker").await
    else {
        return;
    };
    let now = s.clock.now();
    let mut ev = event("huge", 1, NextState::Continue, now);
    ev.detail = Some("d".repeat(500 * 1024));
    let report = s
        .ports
        .records
        .apply_outcomes(std::slice::from_ref(&ev), now)
        .await
        .expect("an oversized attempt is stored, not rejected");
    assert_eq!(report.attempts_stored, 1);
    let stored = s
        .ports
        .records
        .attempts(&rid("huge"))
        .await
        .expect("attempts");
    let detail = stored[0].detail.as_deref().expect("detail kept");
    assert!(detail.ends_with(TRUNCATION_MARKER) && detail.len() < 10 * 1024);

    s.ports
        .outcomes
        .publish(&[ev])
        .await
        .expect("an oversized event is published");
    let mut got = Vec::new();
    for _ in 0..5 {
        got = s
            .ports
            .outcomes
            .receive(10, Duration::from_secs(30), Duration::from_secs(1))
            .await
            .expect("receive");
        if !got.is_empty() {
            break;
        }
    }
    let delivered = OutcomeEvent::decode(&got[0].body).expect("an outcome event");
    assert!(delivered
        .detail
        .is_some_and(|d| d.ends_with(TRUNCATION_MARKER)));
}

#[tokio::test]
async fn both_sqs_dead_letter_queues_drain_into_the_dead_letter_table() {
    let Some(s) = setup("both_sqs_dead_letter_queues_drain_into_the_dead_letter_table").await
    else {
        return;
    };
    let now = s.clock.now();
    // What SQS redrive would have put there: a work message and an outcome event.
    let sqs = aws_sdk_sqs::Client::new(&s.sdk);
    let work = WorkMessage {
        v: WORK_MESSAGE_VERSION,
        record_id: rid("w-1"),
        provider: pid("p"),
        attempt: 2,
        calls: 1,
        request: ApiRequest::default(),
        released_at: now,
    };
    sqs.send_message()
        .queue_url(&s.resources.work_dlq_url)
        .message_body(work.encode())
        .message_group_id("p")
        .message_deduplication_id("w-1#2")
        .send()
        .await
        .expect("send to the work DLQ");
    let outcome = event("o-1", 1, NextState::Succeeded, now);
    sqs.send_message()
        .queue_url(&s.resources.results_dlq_url)
        .message_body(outcome.encode())
        .send()
        .await
        .expect("send to the results DLQ");
    let dead = s
        .ports
        .dead_letters
        .list(&DeadLetterFilter::default())
        .await
        .expect("list drains first");
    let mut records: Vec<_> = dead.iter().map(|d| d.record_id.clone()).collect();
    records.sort();
    assert_eq!(records, [Some(rid("o-1")), Some(rid("w-1"))]);
    assert!(dead
        .iter()
        .all(|d| d.id.starts_with("msg:") && d.error_class == ErrorClass::BadMessage));
    let again = s
        .ports
        .dead_letters
        .list(&DeadLetterFilter::default())
        .await
        .expect("list again");
    assert_eq!(again.len(), 2, "drained once, listed as often as asked");
    for url in [&s.resources.work_dlq_url, &s.resources.results_dlq_url] {
        let left = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .expect("depth")
            .attributes
            .expect("attributes");
        assert_eq!(left[&QueueAttributeName::ApproximateNumberOfMessages], "0");
    }
}
