//! The `pacer` binary with `--backend aws` against moto: resources provisioned per test
//! under a unique prefix, names passed through the same environment variables the Lambda
//! functions read. Skipped, with the reason printed, when `PACER_TEST_AWS_ENDPOINT` is
//! unset (scripts/test-aws.sh sets it). The bad-usage cases need no emulator.

use pacer_aws::provision::{provision, unique_prefix, ProvisionOptions};
use pacer_aws::{Aws, AwsOptions, AwsResources};
use pacer_core::classify::ErrorClass;
use pacer_core::ports::{DeadLetter, DeadLetterQueue};
use pacer_core::{RecordId, SystemClock, Timestamp};
use serde_json::Value;
use std::process::{Command, Output};
use std::sync::Arc;

mod common;

use common::{create_schedule, endpoint, sdk_config};

/// The binary, with a clean environment for the AWS backend.
fn pacer(endpoint: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pacer"));
    for var in [
        "PACER_DB",
        "PACER_CONFIG",
        "PACER_BACKEND",
        "PACER_STACK",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "moto")
        .env("AWS_SECRET_ACCESS_KEY", "moto")
        // Never real AWS from a test: an unreachable endpoint when there is no emulator.
        .env("AWS_ENDPOINT_URL", endpoint.unwrap_or("http://127.0.0.1:9"));
    cmd
}

struct Stack {
    endpoint: String,
    resources: AwsResources,
    plan: String,
    release: String,
    dir: tempfile::TempDir,
}

impl Stack {
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        cmd.env("PACER_PLAN_SCHEDULE", &self.plan)
            .env("PACER_RELEASE_SCHEDULE", &self.release);
        cmd.output().expect("run pacer")
    }

    /// Like [`Stack::run`], also naming the HTTP API's tables and queues.
    fn run_with_api(&self, args: &[&str]) -> Output {
        let api = self
            .resources
            .api
            .as_ref()
            .expect("provisioned with the API");
        let mut cmd = self.command(args);
        cmd.env("PACER_FEED_TABLE", &api.feed_table)
            .env("PACER_CLIENTS_TABLE", &api.clients_table)
            .env("PACER_CALLBACKS_QUEUE_URL", &api.callbacks_queue_url)
            .env("PACER_CALLBACKS_DLQ_URL", &api.callbacks_dlq_url);
        cmd.output().expect("run pacer")
    }

    /// The binary on the AWS backend, naming the pipeline's resources by variable.
    fn command(&self, args: &[&str]) -> Command {
        let r = &self.resources;
        let mut cmd = pacer(Some(&self.endpoint));
        cmd.arg("--backend")
            .arg("aws")
            .args(args)
            .current_dir(self.dir.path())
            .env("PACER_RECORDS_TABLE", &r.records_table)
            .env("PACER_ATTEMPTS_TABLE", &r.attempts_table)
            .env("PACER_RESULTS_TABLE", &r.results_table)
            .env("PACER_CONTROL_TABLE", &r.control_table)
            .env("PACER_DEAD_LETTERS_TABLE", &r.dead_letters_table)
            .env("PACER_WORK_QUEUE_URL", &r.work_queue_url)
            .env("PACER_WORK_DLQ_URL", &r.work_dlq_url)
            .env("PACER_RESULTS_QUEUE_URL", &r.results_queue_url)
            .env("PACER_RESULTS_DLQ_URL", &r.results_dlq_url)
            .env("PACER_OUTCOMES_TOPIC_ARN", &r.outcomes_topic_arn);
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"))
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn stack(endpoint: String) -> (Stack, Aws, aws_sdk_scheduler::Client) {
    let sdk = sdk_config(&endpoint).await;
    let prefix = unique_prefix("cli");
    let options = ProvisionOptions {
        prefix: prefix.clone(),
        work_max_receive_count: None,
    };
    let resources = provision(&sdk, &options).await.expect("provision");
    let scheduler = aws_sdk_scheduler::Client::new(&sdk);
    let (plan, release) = (format!("{prefix}-plan"), format!("{prefix}-release"));
    create_schedule(&scheduler, &plan).await;
    create_schedule(&scheduler, &release).await;
    let aws = Aws::new(
        &sdk,
        resources.clone(),
        AwsOptions::default(),
        Arc::new(SystemClock),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = Stack {
        endpoint,
        resources,
        plan,
        release,
        dir,
    };
    (stack, aws, scheduler)
}

#[tokio::test]
async fn every_operator_command_works_on_the_emulator() {
    let Some(endpoint) = endpoint("every_operator_command_works_on_the_emulator") else {
        return;
    };
    let (s, aws, scheduler) = stack(endpoint).await;

    // Providers: created and changed without a redeploy.
    s.ok(&[
        "providers",
        "set",
        "acme",
        "--base-url",
        "http://127.0.0.1:9",
        "--min-interval",
        "100ms",
    ]);
    s.ok(&["providers", "set", "acme", "--max-attempts", "4"]);
    let shown = s.json(&["providers", "show", "acme", "--output", "json"]);
    assert!(shown.to_string().contains("acme"), "{shown}");
    let listed = s.ok(&["providers", "list"]);
    assert!(listed.contains("acme"), "{listed}");

    // Import: good lines land; bad lines are reported by number and exit 3.
    let good: String = (0..3)
        .map(|i| format!("{{\"id\":\"acme-{i}\",\"provider\":\"acme\",\"request\":{{\"method\":\"POST\",\"path\":\"/x\"}}}}\n"))
        .collect();
    std::fs::write(s.dir.path().join("good.jsonl"), &good).expect("write");
    s.ok(&["records", "import", "good.jsonl"]);
    let bad = format!("{good}not json\n{{\"id\":\"x-1\",\"provider\":\"nobody\",\"request\":{{\"path\":\"/x\"}}}}\n");
    std::fs::write(s.dir.path().join("bad.jsonl"), bad).expect("write");
    let out = s.run(&["records", "import", "bad.jsonl"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    let got = s.json(&["records", "get", "acme-1", "--output", "json"]);
    assert!(got.to_string().contains("acme-1"), "{got}");
    let list = s.ok(&["records", "list", "--provider", "acme"]);
    assert!(list.contains("acme-0") && list.contains("acme-2"), "{list}");

    // Status: same shape as on the embedded backend.
    let status = s.json(&["status", "--output", "json"]);
    assert_eq!(status["records"], 3, "{status}");
    for key in [
        "by_state",
        "by_provider",
        "queues",
        "breakers",
        "schedule_paused",
    ] {
        assert!(status.get(key).is_some(), "status has no {key}: {status}");
    }
    assert!(status["queues"]["work"]["visible"].is_u64(), "{status}");

    let plan = s.json(&["plan", "--dry-run", "--window", "1h", "--output", "json"]);
    assert_eq!(plan["dry_run"], true, "{plan}");
    assert_eq!(plan["records"], 3, "{plan}");

    // Dead letters: seeded through the port, listed, replay previewed.
    aws.dead_letters()
        .put(&[DeadLetter {
            id: "acme-0#4".into(),
            record_id: Some(RecordId::new("acme-0").expect("id")),
            provider: Some("acme".into()),
            error_class: ErrorClass::ServerError,
            attempts: 4,
            reason: "503 four times".into(),
            dead_lettered_at: Timestamp::from_millis(1_700_000_000_000),
            body: "{}".into(),
        }])
        .await
        .expect("seed dead letter");
    let dlq = s.json(&["dlq", "list", "--output", "json"]);
    assert_eq!(dlq.as_array().map(Vec::len), Some(1), "{dlq}");
    assert_eq!(dlq[0]["record_id"], "acme-0", "{dlq}");
    s.ok(&["dlq", "replay", "--provider", "acme", "--dry-run"]);
    let still = s.json(&["dlq", "list", "--output", "json"]);
    assert_eq!(
        still.as_array().map(Vec::len),
        Some(1),
        "dry run changed something"
    );
    let shown = s.json(&["dlq", "show", "acme-0", "--output", "json"]);
    assert_eq!(shown[0]["reason"], "503 four times", "{shown}");

    // A real replay: make acme-0 dead-lettered (scheduled, then an exhausted attempt),
    // replay it, and read its story back.
    s.ok(&["plan", "--window", "1h"]);
    let ports = aws.ports(
        std::sync::Arc::new(pacer_http::HttpCaller::new(1).expect("client")),
        std::sync::Arc::new(pacer_core::ports::Unlimited),
    );
    let now = ports.clock.now();
    let exhausted = pacer_core::schema::OutcomeEvent {
        v: pacer_core::schema::OUTCOME_EVENT_VERSION,
        record_id: RecordId::new("acme-0").expect("id"),
        provider: pacer_core::ProviderId::new("acme").expect("provider"),
        attempt: 1,
        called: true,
        request_summary: "POST /x".into(),
        started_at: now,
        finished_at: now,
        latency_ms: 3,
        status_code: Some(503),
        error_class: Some(ErrorClass::ServerError),
        detail: Some("HTTP 503".into()),
        response: None,
        fencing_token: 1,
        invocation_id: "test".into(),
        next: pacer_core::schema::NextState::DeadLettered,
    };
    ports
        .records
        .apply_outcomes(&[exhausted], now)
        .await
        .expect("apply");
    let replayed = s.json(&[
        "dlq",
        "replay",
        "--provider",
        "acme",
        "--window",
        "10m",
        "--output",
        "json",
    ]);
    assert_eq!(
        replayed["replayed"],
        serde_json::json!(["acme-0"]),
        "{replayed}"
    );
    let again = s.json(&[
        "dlq",
        "replay",
        "--provider",
        "acme",
        "--window",
        "10m",
        "--output",
        "json",
    ]);
    assert_eq!(
        again["replayed"],
        serde_json::json!([]),
        "replaying twice is a no-op: {again}"
    );
    let trace = s.json(&["trace", "acme-0", "--output", "json"]);
    assert_eq!(trace["state"], "scheduled", "{trace}");
    assert_eq!(trace["attempts"][0]["status_code"], 503, "{trace}");
    assert!(
        trace["moves"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["to"] == "replayed"),
        "{trace}"
    );

    // Purge: a poison entry removed for good.
    aws.dead_letters()
        .put(&[DeadLetter {
            id: "msg:poison-1".into(),
            record_id: None,
            provider: Some("acme".into()),
            error_class: ErrorClass::BadMessage,
            attempts: 0,
            reason: "not JSON".into(),
            dead_lettered_at: Timestamp::from_millis(1_700_000_000_000),
            body: "{oops".into(),
        }])
        .await
        .expect("seed poison");
    s.ok(&["dlq", "purge", "--error-class", "bad_message", "--yes"]);
    let left = s.json(&["dlq", "list", "--output", "json"]);
    assert_eq!(left.as_array().map(Vec::len), Some(0), "{left}");

    // Schedules: pause disables both in EventBridge Scheduler; resume enables them.
    let paused = s.json(&["schedule", "pause", "--output", "json"]);
    assert_eq!(paused["paused"], true, "{paused}");
    let status = s.json(&["schedule", "status", "--output", "json"]);
    assert_eq!(status["paused"], true, "{status}");
    let state = |name: String| {
        let scheduler = scheduler.clone();
        async move {
            let got = scheduler
                .get_schedule()
                .name(name)
                .send()
                .await
                .expect("get");
            got.state().map(|s| s.as_str().to_owned())
        }
    };
    assert_eq!(state(s.release.clone()).await.as_deref(), Some("DISABLED"));
    assert_eq!(state(s.plan.clone()).await.as_deref(), Some("DISABLED"));
    let text = s.ok(&["schedule", "status"]);
    assert!(text.contains("PAUSED"), "{text}");
    let resumed = s.json(&["schedule", "resume", "--output", "json"]);
    assert_eq!(resumed["paused"], false, "{resumed}");
    assert_eq!(state(s.release.clone()).await.as_deref(), Some("ENABLED"));
    let ran = s.json(&["schedule", "run-now", "--output", "json"]);
    assert!(ran["released_now"].is_u64(), "{ran}");

    // `clients` needs the HTTP API's names, and says which.
    let out = s.run(&["clients", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--clients-table"), "{}", stderr(&out));
    // With them, applications go to the clients table the api function reads.
    let added: Value = {
        let out = s.run_with_api(&["clients", "add", "billing", "--output", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let token = added["token"].as_str().expect("a token");
    let aws = pacer_aws::Aws::new(
        &sdk_config(&s.endpoint).await,
        s.resources.clone(),
        pacer_aws::AwsOptions::default(),
        std::sync::Arc::new(pacer_core::SystemClock),
    );
    let api = aws
        .api_ports(
            std::sync::Arc::new(pacer_testkit::contract::UnusedCaller),
            std::sync::Arc::new(pacer_core::ports::Unlimited),
        )
        .expect("API resources");
    let found = api
        .clients
        .find_by_token(&pacer_core::ports::TokenHash::of(token))
        .await
        .expect("find");
    assert_eq!(found.map(|c| c.app.to_string()).as_deref(), Some("billing"));
    let out = s.run_with_api(&["clients", "revoke", "billing"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // `serve` stays embedded-only: on AWS the api function serves the API.
    let out = s.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("embedded backend only"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn db_with_the_aws_backend_is_bad_usage() {
    let out = pacer(None)
        .args(["--backend", "aws", "--db", "x.db", "status"])
        .output()
        .expect("run pacer");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--db"), "{}", stderr(&out));
}

#[test]
fn stack_with_explicit_names_is_bad_usage() {
    let out = pacer(None)
        .args([
            "--backend",
            "aws",
            "--stack",
            "pacer",
            "--records-table",
            "t",
            "status",
        ])
        .output()
        .expect("run pacer");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--stack"), "{}", stderr(&out));
}

#[test]
fn a_missing_table_name_names_its_flag_and_variable() {
    let mut cmd = pacer(None);
    for var in ["PACER_RECORDS_TABLE", "PACER_ATTEMPTS_TABLE"] {
        cmd.env_remove(var);
    }
    let out = cmd
        .args(["--backend", "aws", "status"])
        .output()
        .expect("run pacer");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("PACER_RECORDS_TABLE") && err.contains("--records-table"),
        "{err}"
    );
    assert!(err.contains("--stack"), "{err}");
}
