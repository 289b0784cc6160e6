//! Behaviour of the mock API over real HTTP, through its public API only.

use std::time::Duration;

use pacer_testkit::mock_api::{FaultRates, MockApi, MockConfig};
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    // No proxy: a proxy from the environment must not sit between test and mock.
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client builds")
}

async fn call(
    client: &reqwest::Client,
    api: &MockApi,
    provider: &str,
    record: &str,
) -> reqwest::Response {
    client
        .post(format!("{}/items", api.base_url_for(provider)))
        .header("Idempotency-Key", record)
        .send()
        .await
        .expect("the mock answers")
}

fn always(rates: FaultRates) -> MockConfig {
    MockConfig::none().with_fault_rates(rates)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_calls_to_one_provider_count_as_an_overlap() {
    let api = MockApi::start(MockConfig::none().with_latency(Duration::from_millis(100)))
        .await
        .expect("starts");
    let client = client();
    let (a, b) = tokio::join!(
        call(&client, &api, "alpha", "r1"),
        call(&client, &api, "alpha", "r2")
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));

    let seen = api.observations();
    assert_eq!(seen.overlaps(), 1);
    assert_eq!(seen.overlaps_by_provider["alpha"], 1);
    assert!(
        seen.calls.iter().all(|c| c.overlapped),
        "both calls are marked"
    );
    assert_eq!(api.detector().max_concurrency("alpha"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_to_different_providers_do_not_overlap() {
    let api = MockApi::start(MockConfig::none().with_latency(Duration::from_millis(100)))
        .await
        .expect("starts");
    let client = client();
    let (a, b) = tokio::join!(
        call(&client, &api, "alpha", "r1"),
        call(&client, &api, "beta", "r2")
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));

    let seen = api.observations();
    assert_eq!(seen.overlaps(), 0);
    assert_eq!(seen.calls_by_provider["alpha"], 1);
    assert_eq!(seen.calls_by_provider["beta"], 1);
    assert!(seen.calls.iter().all(|c| !c.overlapped));
    let busy = seen.busy_micros_by_provider();
    assert!(busy["alpha"] >= 100_000, "latency is applied: {busy:?}");
}

#[tokio::test]
async fn sequential_calls_count_no_overlap() {
    let api = MockApi::start(MockConfig::none().with_latency(Duration::from_millis(2)))
        .await
        .expect("starts");
    let client = client();
    for i in 0..20 {
        call(&client, &api, "alpha", &format!("r{i}")).await;
    }
    let seen = api.observations();
    assert_eq!(seen.calls.len(), 20);
    assert_eq!(seen.overlaps(), 0);
    assert_eq!(api.detector().max_concurrency("alpha"), 1);
}

#[tokio::test]
async fn a_successful_call_echoes_the_request() {
    let api = MockApi::start(MockConfig::none()).await.expect("starts");
    let answer: Value = client()
        .put(format!("{}/v1/things?x=1&y=two", api.base_url_for("acme")))
        .header("Idempotency-Key", "rec-7")
        .json(&json!({"a": [1, 2]}))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json body");
    assert_eq!(
        answer,
        json!({
            "provider": "acme",
            "record": "rec-7",
            "path": "/v1/things",
            "method": "PUT",
            "query": {"x": "1", "y": "two"},
            "echo": {"a": [1, 2]},
        })
    );
}

#[tokio::test]
async fn defective_records_get_422_and_never_succeed() {
    let rates = FaultRates {
        server_error: 0.3,
        ..FaultRates::NONE
    };
    let api = MockApi::start(always(rates).with_fail_first("alpha", 1))
        .await
        .expect("starts");
    let client = client();
    for _ in 0..10 {
        let response = call(&client, &api, "alpha", "rec-defective-3").await;
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.expect("json body");
        assert_eq!(
            body,
            json!({"error": "invalid data", "record": "rec-defective-3"})
        );
    }
    assert_eq!(api.observations().calls_for("rec-defective-3"), 10);
}

#[tokio::test]
async fn fail_first_two_gives_503_twice_then_200() {
    let api = MockApi::start(MockConfig::none().with_fail_first("alpha", 2))
        .await
        .expect("starts");
    let client = client();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            call(&client, &api, "alpha", "rec-1")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [503, 503, 200]);
    // Per record id: another record starts over.
    assert_eq!(call(&client, &api, "alpha", "rec-2").await.status(), 503);
    // Per provider: others are unaffected.
    assert_eq!(call(&client, &api, "beta", "rec-1").await.status(), 200);
}

#[tokio::test]
async fn rate_limited_answers_carry_retry_after() {
    let rates = FaultRates {
        rate_limited: 1.0,
        ..FaultRates::NONE
    };
    let api = MockApi::start(always(rates).with_retry_after_secs(7))
        .await
        .expect("starts");
    let response = call(&client(), &api, "alpha", "rec-1").await;
    assert_eq!(response.status(), 429);
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().ok());
    assert_eq!(retry_after, Some(Some("7")));
}

#[tokio::test]
async fn a_reset_gives_the_client_a_transport_error_without_status() {
    let rates = FaultRates {
        reset: 1.0,
        ..FaultRates::NONE
    };
    let api = MockApi::start(always(rates)).await.expect("starts");
    let error = client()
        .get(api.base_url_for("alpha"))
        .header("Idempotency-Key", "rec-1")
        .send()
        .await
        .expect_err("a reset is not an answer");
    assert_eq!(error.status(), None);
    assert!(!error.is_timeout() && !error.is_status());

    let calls = api.observations().calls;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, None);
    assert_eq!(api.detector().open_calls("alpha"), 0);
}

#[tokio::test]
async fn a_timeout_fault_makes_a_short_timeout_client_time_out() {
    let rates = FaultRates {
        timeout: 1.0,
        ..FaultRates::NONE
    };
    let api = MockApi::start(always(rates)).await.expect("starts");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client builds");
    let started = std::time::Instant::now();
    let error = client
        .get(api.base_url_for("alpha"))
        .send()
        .await
        .expect_err("the mock hangs");
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // The server notices the client left: the call ends with no status.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while api.observations().calls.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let calls = api.observations().calls;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, None);
}

#[tokio::test]
async fn set_down_toggles_503() {
    let api = MockApi::start(MockConfig::none()).await.expect("starts");
    let client = client();
    assert_eq!(call(&client, &api, "alpha", "r1").await.status(), 200);
    api.set_down("alpha", true);
    assert_eq!(call(&client, &api, "alpha", "r2").await.status(), 503);
    assert_eq!(call(&client, &api, "beta", "r3").await.status(), 200);
    api.set_down("alpha", false);
    assert_eq!(call(&client, &api, "alpha", "r4").await.status(), 200);
}

#[tokio::test]
async fn fencing_token_regressions_are_detected() {
    let api = MockApi::start(MockConfig::none()).await.expect("starts");
    let client = client();
    for (provider, token) in [
        ("alpha", 1),
        ("alpha", 3),
        ("beta", 1),
        ("alpha", 2),
        ("alpha", 4),
    ] {
        client
            .get(api.base_url_for(provider))
            .header("Pacer-Fencing-Token", token.to_string())
            .send()
            .await
            .expect("answers");
    }
    let seen = api.observations();
    assert_eq!(seen.max_fencing_token_regressions(), 1);
    assert_eq!(seen.calls[3].fencing_token, Some(2));
}

#[tokio::test]
async fn reset_observations_forgets_calls_and_overlaps() {
    let api = MockApi::start(MockConfig::none()).await.expect("starts");
    call(&client(), &api, "alpha", "r1").await;
    api.reset_observations();
    let seen = api.observations();
    assert!(seen.calls.is_empty());
    assert_eq!(seen.calls_by_provider.get("alpha"), Some(&0));
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let api = MockApi::start(MockConfig::none()).await.expect("starts");
    let url = api.base_url_for("alpha");
    assert_eq!(
        client().get(&url).send().await.expect("answers").status(),
        200
    );

    api.shutdown().await.expect("stops cleanly");
    let error = client().get(&url).send().await.expect_err("nobody listens");
    assert!(error.is_connect(), "{error:?}");
}

#[tokio::test]
async fn shutdown_does_not_wait_for_hanging_calls() {
    let rates = FaultRates {
        timeout: 1.0,
        ..FaultRates::NONE
    };
    let api = MockApi::start(always(rates)).await.expect("starts");
    let url = api.base_url_for("alpha");
    let hanging = tokio::spawn(async move { client().get(&url).send().await });
    while api.detector().open_calls("alpha") == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = std::time::Instant::now();
    api.shutdown().await.expect("stops cleanly");
    assert!(started.elapsed() < Duration::from_secs(2));
    let outcome = hanging.await.expect("task ends");
    assert!(outcome.is_err(), "the hanging call is reset, not answered");
}
