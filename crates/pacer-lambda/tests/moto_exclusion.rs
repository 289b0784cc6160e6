//! Exclusion on DynamoDB: two worker invocations handed one provider's messages at once
//! (what a redelivery after a visibility timeout can do) never call the API at the same
//! time — only the provider lease, a conditional write on the control table, stands
//! between them.
//!
//! Skipped (with a printed reason) unless `PACER_TEST_AWS_ENDPOINT` is set; run it with
//! `scripts/test-aws.sh`.

mod aws_runtime;
mod iam;

use aws_runtime::setup::{functions, inv, lambda_config, mapping, moto, new_record, provider};
use pacer_core::record::NewRecord;
use pacer_lambda::worker;
use pacer_testkit::mock_api::MockConfig;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_invocations_with_one_providers_messages_never_call_at_once() {
    let mock = MockConfig::none().with_latency(Duration::from_millis(40));
    let Some(m) = moto("the concurrent exclusion case", mock).await else {
        return;
    };
    m.admin
        .providers
        .put_provider(&provider(&m.api, "acme", 0, 4))
        .await
        .expect("put provider");
    let records: Vec<NewRecord> = (0..10)
        .map(|i| new_record(&format!("acme-{i:02}"), "acme"))
        .collect();
    m.admin
        .records
        .insert(&records, m.admin.clock.now())
        .await
        .expect("insert");
    let config = lambda_config(&m.resources);
    let f = functions(&m.sdk, &config);
    let dispatch = |mode: &str| serde_json::json!({ "mode": mode });
    pacer_lambda::dispatcher::handle(&f.dispatcher.0, &dispatch("plan"), &inv("plan"))
        .await
        .expect("plan");
    tokio::time::sleep(Duration::from_secs(3)).await;
    pacer_lambda::dispatcher::handle(&f.dispatcher.0, &dispatch("release"), &inv("tick"))
        .await
        .expect("release");
    let work = mapping(&m.sdk, &m.resources.work_queue_url);
    let event = work.event(&work.poll().await);
    assert_eq!(event.records.len(), 10, "one FIFO batch of acme's messages");
    // The queue hands a group to one consumer; a redelivery after a visibility timeout
    // can hand it to two. Only the lease on DynamoDB stands between them.
    let (mut a, mut b) = (event.clone(), event);
    a.records.truncate(5);
    b.records.drain(..5);
    let (inv_a, inv_b) = (inv("a"), inv("b"));
    let (ra, rb) = tokio::join!(
        worker::handle(&f.worker.0, &a, &inv_a),
        worker::handle(&f.worker.0, &b, &inv_b)
    );
    let seen = m.api.observations();
    assert_eq!(seen.overlaps(), 0, "two calls to acme at once");
    let given_back = ra.batch_item_failures.len() + rb.batch_item_failures.len();
    assert_eq!(
        seen.calls.len() + given_back,
        10,
        "every message either called or given back"
    );
    assert!(
        given_back > 0,
        "one invocation must have found the lease busy"
    );
}
