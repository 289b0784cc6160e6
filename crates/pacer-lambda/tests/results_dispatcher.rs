//! The results and dispatcher handlers on their fixtures, over the embedded backend:
//! outcome events move records and store attempts once however often they arrive, poison
//! is dead-lettered without holding the batch, and the Scheduler's two payloads plan and
//! release (or refuse, pause, and stop at the deadline).

mod common;

use common::{
    invocation, rid, sqs_event, test_settings, Env, RESULTS_BATCH, SCHEDULER_PLAN,
    SCHEDULER_RELEASE, WORK_IDS,
};
use pacer_core::ports::Claim;
use pacer_core::provider::ProviderSettings;
use pacer_core::{ProviderId, RecordState};
use pacer_lambda::dispatcher::{self, DispatchError, DispatchSummary, SCHEDULE_KEY};
use pacer_lambda::{results, App, Invocation, Settings};
use pacer_testkit::mock_api::MockConfig;
use std::time::Duration;

/// Fixture records, planned and taken in flight as attempt 1 (what a worker does before
/// the outcomes of the results fixture exist).
async fn in_flight_env() -> Env {
    let env = Env::new(MockConfig::none(), |p| p).await;
    env.seed_fixture_records().await;
    env.plan().await;
    for provider in ["acme", "globex"] {
        let claims: Vec<Claim> = WORK_IDS
            .iter()
            .filter(|id| id.starts_with(provider))
            .map(|id| Claim {
                record_id: rid(id),
                attempt: 1,
            })
            .collect();
        let now = env.ports().clock.now();
        env.ports()
            .leases
            .acquire(
                &ProviderId::new(provider).expect("valid"),
                "w",
                Duration::from_secs(1),
                now,
                &claims,
            )
            .await
            .expect("acquire");
    }
    env
}

async fn state(env: &Env, id: &str) -> RecordState {
    env.ports()
        .records
        .get(&rid(id))
        .await
        .expect("get")
        .expect("stored")
        .state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcome_events_move_records_once_however_often_they_arrive() {
    let env = in_flight_env().await;
    let event = sqs_event(RESULTS_BATCH);
    for delivery in 1..=2 {
        let response = results::handle(&env.app, &event, &invocation(env.ports(), "r")).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "delivery {delivery}"
        );
        assert_eq!(state(&env, "acme-0001").await, RecordState::Succeeded);
        assert_eq!(state(&env, "acme-0002").await, RecordState::RetryWait);
        assert_eq!(state(&env, "globex-0001").await, RecordState::Failed);
        for id in ["acme-0001", "acme-0002", "globex-0001"] {
            let attempts = env
                .ports()
                .records
                .attempts(&rid(id))
                .await
                .expect("attempts");
            assert_eq!(
                attempts.len(),
                1,
                "{id}: one attempt after delivery {delivery}"
            );
        }
    }
    let result = env
        .ports()
        .records
        .result(&rid("acme-0001"))
        .await
        .expect("result");
    assert_eq!(result.map(|r| r.status_code), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_outcome_is_dead_lettered_and_the_rest_applied() {
    let env = in_flight_env().await;
    let mut event = sqs_event(RESULTS_BATCH);
    event.records[1].body = Some("not an outcome".into());
    let response = results::handle(&env.app, &event, &invocation(env.ports(), "r")).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "poison must not be redelivered"
    );
    assert_eq!(state(&env, "acme-0001").await, RecordState::Succeeded);
    assert_eq!(state(&env, "globex-0001").await, RecordState::Failed);
    let dead = env
        .ports()
        .dead_letters
        .list(&Default::default())
        .await
        .expect("list");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "not an outcome");
}

fn payload(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_then_release_sends_every_record_of_the_window() {
    let env = Env::new(MockConfig::none(), |p| p).await;
    env.seed_fixture_records().await;
    let inv = invocation(env.ports(), "d1");
    let plan = dispatcher::handle(&env.app, &payload(SCHEDULER_PLAN), &inv)
        .await
        .expect("plan");
    match plan {
        DispatchSummary::Plan {
            scheduled,
            carried_over,
            providers,
            window_start,
            window_end,
            more,
        } => {
            assert_eq!((scheduled, carried_over, providers), (4, 0, 2));
            assert!(!more);
            assert_eq!(window_end.since(window_start), env.app.settings().window);
        }
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    let release = dispatcher::handle(&env.app, &payload(SCHEDULER_RELEASE), &inv)
        .await
        .expect("release");
    assert_eq!(
        serde_json::to_value(&release).expect("JSON"),
        serde_json::json!({"mode": "release", "planned": 0, "released": 4, "deduplicated": 0, "more": false, "paused": false})
    );
    for id in WORK_IDS {
        assert_eq!(state(&env, id).await, RecordState::Queued, "{id}");
    }
    assert_eq!(env.ports().work.depth().await.expect("depth").visible, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_stops_at_the_deadline_and_leaves_the_rest_for_the_next_tick() {
    let env = Env::new(MockConfig::none(), |p| p).await;
    env.seed_fixture_records().await;
    env.plan().await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    // Less time left than the dispatcher's margin: no round may start.
    let late = Invocation {
        request_id: "d2".into(),
        deadline: env.ports().clock.now().plus(Duration::from_secs(5)),
    };
    let summary = dispatcher::handle(&env.app, &payload(SCHEDULER_RELEASE), &late)
        .await
        .expect("release");
    assert!(
        matches!(
            summary,
            DispatchSummary::Release {
                released: 0,
                more: true,
                ..
            }
        ),
        "{summary:?}"
    );
    assert_eq!(state(&env, "acme-0001").await, RecordState::Scheduled);
}

/// `big` (10 000 records, one whole planning step) and `small` (20 records), under a
/// global cap that stretches both; an app planning an hour at 2 calls/s.
async fn two_provider_env() -> (Env, App) {
    let env = Env::new(MockConfig::none(), |p| p).await;
    for (provider, n) in [("big", 10_000), ("small", 20)] {
        let settings = ProviderSettings::with_defaults(
            ProviderId::new(provider).expect("valid"),
            env.api.base_url_for(provider),
        );
        env.ports()
            .providers
            .put_provider(&settings)
            .await
            .expect("put provider");
        let ids: Vec<String> = (0..n).map(|i| format!("{provider}-{i:05}")).collect();
        env.insert_records(ids.iter().map(|id| (id.as_str(), provider)))
            .await;
    }
    let settings = Settings {
        window: Duration::from_secs(3600),
        global_rate: Some(2.0),
        ..test_settings()
    };
    let app = App::new(env.ports().clone(), settings);
    (env, app)
}

/// Each `small` record's due time, from the window's start.
async fn small_offsets(env: &Env, start: pacer_core::Timestamp) -> Vec<Option<i64>> {
    let mut offsets = Vec::new();
    for i in 0..20 {
        let r = env
            .ports()
            .records
            .get(&rid(&format!("small-{i:05}")))
            .await
            .expect("get")
            .expect("stored");
        offsets.push(r.due_at.map(|d| d.as_millis() - start.as_millis()));
    }
    offsets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_cut_short_by_the_deadline_is_finished_by_the_next_release_tick_as_planned() {
    let (cut, cut_app) = two_provider_env().await;
    let (whole, whole_app) = two_provider_env().await;
    // Less time left than the dispatcher's margin: one step (all of `big`), then stop.
    let late = Invocation {
        request_id: "p1".into(),
        deadline: cut.ports().clock.now().plus(Duration::from_secs(5)),
    };
    let DispatchSummary::Plan {
        window_start: cut_start,
        scheduled,
        more,
        ..
    } = dispatcher::handle(&cut_app, &payload(SCHEDULER_PLAN), &late)
        .await
        .expect("plan")
    else {
        panic!("not a plan summary");
    };
    assert!(more, "the plan went past its deadline");
    assert!(scheduled > 0 && scheduled <= 10_000, "{scheduled}");
    assert_eq!(state(&cut, "big-00000").await, RecordState::Scheduled);
    assert_eq!(state(&cut, "small-00000").await, RecordState::Pending);

    // The next release tick applies the rest, with the first run's window and stretch.
    let tick = invocation(cut.ports(), "r1");
    let planned_by_tick = || async {
        match dispatcher::handle(&cut_app, &payload(SCHEDULER_RELEASE), &tick)
            .await
            .expect("release")
        {
            DispatchSummary::Release { planned, .. } => planned,
            other => panic!("not a release summary: {other:?}"),
        }
    };
    let continued = planned_by_tick().await;
    assert_eq!(
        planned_by_tick().await,
        0,
        "a finished plan is not applied again"
    );

    // The same as one uncut plan gives them.
    let on_time = invocation(whole.ports(), "p2");
    let DispatchSummary::Plan {
        window_start: whole_start,
        more,
        ..
    } = dispatcher::handle(&whole_app, &payload(SCHEDULER_PLAN), &on_time)
        .await
        .expect("plan")
    else {
        panic!("not a plan summary");
    };
    assert!(!more);
    let (cut_small, whole_small) = (
        small_offsets(&cut, cut_start).await,
        small_offsets(&whole, whole_start).await,
    );
    // The cap carries some of `small` over in both; the rest are due at the same times.
    let due = whole_small.iter().filter(|d| d.is_some()).count() as u64;
    assert!(due > 0 && due < 20, "{whole_small:?}");
    assert_eq!(continued, due);
    assert_eq!(cut_small, whole_small);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_schedule_releases_nothing() {
    let env = Env::new(MockConfig::none(), |p| p).await;
    env.seed_fixture_records().await;
    env.plan().await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    env.ports()
        .providers
        .put_control(SCHEDULE_KEY, &serde_json::json!({"paused": true}))
        .await
        .expect("pause");
    let inv = invocation(env.ports(), "d3");
    let summary = dispatcher::handle(&env.app, &payload(SCHEDULER_RELEASE), &inv)
        .await
        .expect("release");
    assert!(matches!(
        summary,
        DispatchSummary::Release {
            released: 0,
            paused: true,
            ..
        }
    ));
    assert_eq!(env.ports().work.depth().await.expect("depth").visible, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_mode_is_an_error_naming_the_payload() {
    let env = Env::new(MockConfig::none(), |p| p).await;
    let inv = invocation(env.ports(), "d4");
    let err = dispatcher::handle(&env.app, &serde_json::json!({"mode": "purge"}), &inv)
        .await
        .expect_err("refused");
    assert!(matches!(err, DispatchError::BadPayload { .. }));
    assert!(err.to_string().contains(r#"{"mode":"purge"}"#), "{err}");
}

#[test]
fn the_schedule_switch_is_the_one_the_cli_and_local_runtime_use() {
    assert_eq!(SCHEDULE_KEY, pacer_local::SCHEDULE_KEY);
}

/// An unfinished-plan marker as a run writes it: `small` not yet applied, the window
/// starting now, claimed until `claimed_until`.
fn marker(
    env: &Env,
    start_ago: Duration,
    claimed_until: Option<pacer_core::Timestamp>,
) -> serde_json::Value {
    serde_json::json!({
        "start": env.ports().clock.now().minus(start_ago),
        "window_ms": 3_600_000,
        "global_rate": null,
        "global_stretch": 1.0,
        "next_provider": "small",
        "claimed_until": claimed_until,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_leaves_a_plan_another_run_holds_and_drops_one_whose_window_is_over() {
    use pacer_core::services::{continue_plan, PlanReport, UNFINISHED_PLAN_KEY};
    let (env, _) = two_provider_env().await;
    let ports = env.ports();
    let small = || async { state(&env, "small-00000").await };
    let in_a_minute = ports.clock.now().plus(Duration::from_secs(60));
    // Leaves `marker` where a run left it, then lets a tick continue it.
    let tick_after = |marker: serde_json::Value| async move {
        ports
            .providers
            .put_control(UNFINISHED_PLAN_KEY, &marker)
            .await
            .expect("put");
        continue_plan(ports, Some(in_a_minute))
            .await
            .expect("continue")
    };
    // Held by a run still at work: left alone.
    let held: Option<PlanReport> =
        tick_after(marker(&env, Duration::ZERO, Some(in_a_minute))).await;
    assert!(held.is_none());
    assert_eq!(small().await, RecordState::Pending);
    // Its window is over: dropped, and the records wait for the next plan.
    assert!(tick_after(marker(&env, Duration::from_secs(7200), None))
        .await
        .is_none());
    assert_eq!(small().await, RecordState::Pending);
    let dropped = ports
        .providers
        .get_control(UNFINISHED_PLAN_KEY)
        .await
        .expect("get")
        .expect("marker");
    assert!(dropped["next_provider"].is_null(), "{dropped}");
    // The claim lapsed (its run was killed): taken over and finished.
    let a_minute_ago = ports.clock.now().minus(Duration::from_secs(60));
    let report = tick_after(marker(&env, Duration::ZERO, Some(a_minute_ago)))
        .await
        .expect("taken over");
    assert_eq!(report.scheduled, 20, "only `small` is applied: {report:?}");
    assert_eq!(small().await, RecordState::Scheduled);
    assert_eq!(state(&env, "big-00000").await, RecordState::Pending);
}
