//! The worker handler on the FIFO fixture batch, over the embedded backend and the mock
//! API: calls made in each provider's order, nothing failed on the happy path, and the
//! FIFO partial-batch rule — a failed message and every later message of its provider
//! reported, other providers untouched.

mod common;

use async_trait::async_trait;
use common::{invocation, rid, sqs_event, test_settings, Env, WORK_BATCH, WORK_IDS};
use pacer_core::ports::{DeadLetter, DeadLetterFilter, DeadLetterQueue, Ports, ProviderDefaults};
use pacer_core::services::{process_batch, Deadline};
use pacer_core::{PortError, ProviderId, RecordState};
use pacer_lambda::events::deliveries;
use pacer_lambda::{results, worker, App, Invocation};
use pacer_testkit::mock_api::MockConfig;
use std::sync::Arc;
use std::time::Duration;

fn failure_ids(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

/// The fixture's message ids of `ids`.
fn message_ids(ids: &[&str]) -> Vec<String> {
    let event = sqs_event(WORK_BATCH);
    deliveries(&event)
        .into_iter()
        .filter(|d| ids.iter().any(|id| d.body.contains(&format!("\"{id}\""))))
        .map(|d| d.message_id)
        .collect()
}

async fn ready_env(mock: MockConfig, wrap: impl FnOnce(Ports) -> Ports) -> Env {
    let env = Env::new(mock, wrap).await;
    env.seed_fixture_records().await;
    env.plan().await;
    env
}

/// Applies every published outcome with the results handler, as the results function would.
async fn apply_published(env: &Env) {
    let published = env
        .ports()
        .outcomes
        .receive(100, Duration::from_secs(30), Duration::ZERO)
        .await
        .expect("receive outcomes");
    let mut event = aws_lambda_events::sqs::SqsEvent::default();
    event.records = published
        .iter()
        .map(|d| {
            let mut m = aws_lambda_events::sqs::SqsMessage::default();
            m.message_id = Some(d.message_id.clone());
            m.receipt_handle = Some(d.receipt.clone());
            m.body = Some(d.body.clone());
            m
        })
        .collect();
    let response = results::handle(&env.app, &event, &invocation(env.ports(), "res-1")).await;
    assert!(response.batch_item_failures.is_empty());
    let receipts: Vec<String> = published.into_iter().map(|d| d.receipt).collect();
    env.ports().outcomes.ack(&receipts).await.expect("ack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_batch_is_called_in_provider_order_and_nothing_fails() {
    let env = ready_env(
        MockConfig::none().with_latency(Duration::from_millis(5)),
        |p| p,
    )
    .await;
    let event = sqs_event(WORK_BATCH);
    let response = worker::handle(&env.app, &event, &invocation(env.ports(), "req-1")).await;
    assert_eq!(failure_ids(&response), Vec::<String>::new());
    let seen = env.api.observations();
    assert_eq!(seen.calls.len(), 4);
    assert_eq!(seen.overlaps(), 0);
    let mut acme: Vec<_> = seen.calls.iter().filter(|c| c.provider == "acme").collect();
    acme.sort_by_key(|c| c.started_at);
    let order: Vec<_> = acme.iter().filter_map(|c| c.record_id.as_deref()).collect();
    assert_eq!(order, ["acme-0001", "acme-0002", "acme-0003"]);
    apply_published(&env).await;
    for id in WORK_IDS {
        let record = env
            .ports()
            .records
            .get(&rid(id))
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(record.state, RecordState::Succeeded, "{id}");
        let attempts = env
            .ports()
            .records
            .attempts(&rid(id))
            .await
            .expect("attempts");
        assert_eq!(
            attempts[0].invocation_id, "req-1",
            "attempts name the request id"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_without_settings_are_called_at_the_stacks_default_base_url() {
    // The fixture's records, but no provider settings stored: without defaults the
    // worker dead-letters them as unconfigured; with the stack's ApiBaseUrl and
    // MaxAttempts it calls them there.
    let env = Env::new(MockConfig::none(), |p| p).await;
    env.insert_records(
        WORK_IDS
            .iter()
            .map(|id| (*id, id.split('-').next().expect("prefix"))),
    )
    .await;
    env.plan().await;
    let defaults = ProviderDefaults {
        base_url: env.api.base_url_for("shared"),
        max_attempts: 3,
    };
    let app = App::new(
        env.ports()
            .clone()
            .with_provider_defaults(Some(defaults.clone())),
        test_settings(),
    );
    let acme = app
        .ports()
        .providers
        .get_provider(&ProviderId::new("acme").expect("valid"))
        .await
        .expect("get")
        .expect("the defaults answer");
    assert_eq!(
        (acme.base_url.as_str(), acme.max_attempts),
        (defaults.base_url.as_str(), 3)
    );
    let event = sqs_event(WORK_BATCH);
    let response = worker::handle(&app, &event, &invocation(app.ports(), "req-d")).await;
    assert_eq!(failure_ids(&response), Vec::<String>::new());
    let seen = env.api.observations();
    let mut called: Vec<_> = seen
        .calls
        .iter()
        .filter(|c| c.provider == "shared")
        .filter_map(|c| c.record_id.clone())
        .collect();
    called.sort();
    assert_eq!(
        called,
        ["acme-0001", "acme-0002", "acme-0003", "globex-0001"]
    );
    apply_published(&env).await;
    for id in WORK_IDS {
        let record = env.ports().records.get(&rid(id)).await.expect("get");
        assert_eq!(
            record.map(|r| r.state),
            Some(RecordState::Succeeded),
            "{id}"
        );
    }
    // The stored settings stay empty: the defaults are not written anywhere.
    assert!(env
        .ports()
        .providers
        .list_providers()
        .await
        .expect("list")
        .is_empty());
}

/// Dead letters that cannot be stored: a poison message's disposition becomes Retry.
struct BrokenDeadLetters;

#[async_trait]
impl DeadLetterQueue for BrokenDeadLetters {
    async fn put(&self, _: &[DeadLetter]) -> Result<(), PortError> {
        Err(PortError::Unavailable {
            operation: "put dead letters",
            source: "injected failure".into(),
        })
    }
    async fn list(&self, _: &DeadLetterFilter) -> Result<Vec<DeadLetter>, PortError> {
        Ok(Vec::new())
    }
    async fn remove(&self, _: &[String]) -> Result<u64, PortError> {
        Ok(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_message_fails_every_later_message_of_its_provider_only() {
    let env = ready_env(MockConfig::none(), |mut p| {
        p.dead_letters = Arc::new(BrokenDeadLetters);
        p
    })
    .await;
    let mut event = sqs_event(WORK_BATCH);
    // acme's first message is poison and cannot be dead-lettered now: it must be kept.
    event.records[0].body = Some("{not json".into());
    let batch = deliveries(&event);
    // The core alone fails only the poison message; its later acme messages succeed...
    let core = process_batch(
        env.ports(),
        &env.app.settings().worker,
        &batch,
        &Deadline::none(),
    )
    .await;
    assert_eq!(core.failed_ids(), vec![batch[0].message_id.clone()]);
    // ...so the handler must report them too, or Lambda deletes them ahead of it.
    apply_published(&env).await;
    let response = worker::handle(&env.app, &event, &invocation(env.ports(), "req-2")).await;
    let mut expected = vec![batch[0].message_id.clone()];
    expected.extend(message_ids(&["acme-0002", "acme-0003"]));
    assert_eq!(
        failure_ids(&response),
        expected,
        "acme's failure and every later acme message"
    );
    // The redelivered acme messages were already done: no second call.
    let seen = env.api.observations();
    assert_eq!(seen.calls_for("acme-0002"), 1);
    assert_eq!(seen.calls_for("acme-0003"), 1);
    assert_eq!(seen.calls_for("globex-0001"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_provider_lease_gives_back_all_its_messages_and_others_run() {
    let env = ready_env(MockConfig::none(), |p| p).await;
    let acme = ProviderId::new("acme").expect("valid");
    let now = env.ports().clock.now();
    env.ports()
        .leases
        .acquire(&acme, "another-worker", Duration::from_secs(30), now, &[])
        .await
        .expect("the other worker takes the lease");
    let event = sqs_event(WORK_BATCH);
    let response = worker::handle(&env.app, &event, &invocation(env.ports(), "req-3")).await;
    assert_eq!(
        failure_ids(&response),
        message_ids(&["acme-0001", "acme-0002", "acme-0003"])
    );
    let seen = env.api.observations();
    assert_eq!(
        seen.calls_by_provider.get("acme"),
        None,
        "no call under a busy lease"
    );
    assert_eq!(seen.calls_for("globex-0001"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_call_starts_when_the_invocation_is_about_to_end() {
    let env = ready_env(MockConfig::none(), |p| p).await;
    let event = sqs_event(WORK_BATCH);
    // One second left, less than the worker's margin plus one call budget.
    let invocation = Invocation {
        request_id: "req-4".into(),
        deadline: env.ports().clock.now().plus(Duration::from_secs(1)),
    };
    let response = worker::handle(&env.app, &event, &invocation).await;
    assert_eq!(
        failure_ids(&response).len(),
        4,
        "every message kept for the next invocation"
    );
    assert!(env.api.observations().calls.is_empty());
}
