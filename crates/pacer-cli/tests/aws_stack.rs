//! `--backend aws --stack NAME` against moto: a CloudFormation stack whose outputs carry
//! the names of freshly provisioned resources (as the SAM template's outputs do), and the
//! CLI reading and writing exactly those resources; plus the errors for an unknown stack,
//! a stack that is not a pacer stack, and `pacer run` on AWS. Skipped, with the reason
//! printed, when `PACER_TEST_AWS_ENDPOINT` is unset (scripts/test-aws.sh sets it).

use aws_sdk_cloudformation::types::StackStatus;
use pacer_aws::provision::{provision, unique_prefix, ProvisionOptions};
use pacer_aws::{Aws, AwsOptions, AwsResources};
use pacer_core::ports::Unlimited;
use pacer_core::Clock as _;
use pacer_core::{ProviderId, RecordId, RecordState, SystemClock};
use pacer_testkit::contract::UnusedCaller;
use serde_json::{json, Value};
use std::process::{Command, Output};
use std::sync::Arc;

mod common;

use common::{create_schedule, endpoint, sdk_config};

/// The binary on the AWS backend with only `--stack` to find the resources: every
/// variable that could name one is removed.
fn pacer(endpoint: &str, stack: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pacer"));
    for var in [
        "PACER_DB",
        "PACER_CONFIG",
        "PACER_BACKEND",
        "PACER_STACK",
        "PACER_RECORDS_TABLE",
        "PACER_ATTEMPTS_TABLE",
        "PACER_RESULTS_TABLE",
        "PACER_CONTROL_TABLE",
        "PACER_DEAD_LETTERS_TABLE",
        "PACER_WORK_QUEUE_URL",
        "PACER_WORK_DLQ_URL",
        "PACER_RESULTS_QUEUE_URL",
        "PACER_RESULTS_DLQ_URL",
        "PACER_OUTCOMES_TOPIC_ARN",
        "PACER_PLAN_SCHEDULE",
        "PACER_RELEASE_SCHEDULE",
        "PACER_DUE_SHARDS",
        "PACER_DEFAULT_BASE_URL",
        "PACER_DEFAULT_MAX_ATTEMPTS",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "moto")
        .env("AWS_SECRET_ACCESS_KEY", "moto")
        .env("AWS_ENDPOINT_URL", endpoint)
        .args(["--backend", "aws", "--stack", stack]);
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "failed: {}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// The outputs template.yaml declares, carrying `r`'s names and the two schedules'.
fn outputs(r: &AwsResources, plan: &str, release: &str) -> Value {
    let pairs = [
        ("RecordsTableName", r.records_table.as_str()),
        ("AttemptsTableName", &r.attempts_table),
        ("ResultsTableName", &r.results_table),
        ("ControlTableName", &r.control_table),
        ("DeadLettersTableName", &r.dead_letters_table),
        ("WorkQueueUrl", &r.work_queue_url),
        ("WorkDeadLetterQueueUrl", &r.work_dlq_url),
        ("ResultsQueueUrl", &r.results_queue_url),
        ("ResultsDeadLetterQueueUrl", &r.results_dlq_url),
        ("OutcomesTopicArn", &r.outcomes_topic_arn),
        ("PlanScheduleName", plan),
        ("ReleaseScheduleName", release),
        // Not the default of 16: records the CLI plans must land where a dispatcher
        // reading four shards finds them.
        ("DueShards", "4"),
        // The stack's ApiBaseUrl and MaxAttempts: providers never set are served there.
        ("DefaultBaseUrl", "http://127.0.0.1:9/shared"),
        ("DefaultMaxAttempts", "3"),
    ];
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!({ "Value": v })))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Creates stack `name` with one marker resource and `outputs`, and waits for it.
async fn create_stack(sdk: &aws_config::SdkConfig, name: &str, outputs: Value) {
    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Marker": { "Type": "AWS::SNS::Topic", "Properties": { "TopicName": format!("{name}-marker") } }
        },
        "Outputs": outputs,
    });
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    cfn.create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .send()
        .await
        .expect("create stack");
    for _ in 0..50 {
        let described = cfn
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .expect("describe stack");
        let status = described.stacks()[0].stack_status().cloned();
        if status == Some(StackStatus::CreateComplete) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("stack {name} was not created");
}

#[tokio::test]
async fn stack_outputs_name_the_resources_every_command_uses() {
    let Some(endpoint) = endpoint("stack_outputs_name_the_resources_every_command_uses") else {
        return;
    };
    let sdk = sdk_config(&endpoint).await;
    let prefix = unique_prefix("stk");
    let options = ProvisionOptions {
        prefix: prefix.clone(),
        work_max_receive_count: None,
    };
    let resources = provision(&sdk, &options).await.expect("provision");
    // A decoy set the stack does not name: nothing may land there.
    let decoy_options = ProvisionOptions {
        prefix: unique_prefix("stk"),
        work_max_receive_count: None,
    };
    let decoy = provision(&sdk, &decoy_options).await.expect("provision");
    let scheduler = aws_sdk_scheduler::Client::new(&sdk);
    let (plan, release) = (format!("{prefix}-plan"), format!("{prefix}-release"));
    create_schedule(&scheduler, &plan).await;
    create_schedule(&scheduler, &release).await;
    let stack = format!("{prefix}-stack");
    create_stack(&sdk, &stack, outputs(&resources, &plan, &release)).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let lines: String = (0..12)
        .map(|i| format!("{{\"id\":\"acme-{i}\",\"provider\":\"acme\",\"request\":{{\"method\":\"POST\",\"path\":\"/x\"}}}}\n"))
        .collect();
    std::fs::write(dir.path().join("in.jsonl"), lines).expect("write");
    let run = |args: &[&str]| {
        pacer(&endpoint, &stack)
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run pacer")
    };
    let set = run(&[
        "providers",
        "set",
        "acme",
        "--base-url",
        "http://127.0.0.1:9",
    ]);
    assert!(set.status.success(), "{}", stderr(&set));
    let imported = run(&["records", "import", "in.jsonl"]);
    assert!(imported.status.success(), "{}", stderr(&imported));

    // status reads the stack's tables and queues.
    let status = json_of(&run(&["status", "--output", "json"]));
    assert_eq!(status["records"], 12, "{status}");
    assert_eq!(status["by_state"]["pending"], 12, "{status}");
    assert_eq!(status["schedule_paused"], false, "{status}");
    // schedule reads the stack's schedule names.
    let schedules = json_of(&run(&["schedule", "status", "--output", "json"]));
    assert_eq!(schedules["schedules"]["release"]["name"], release.as_str());
    assert_eq!(schedules["schedules"]["plan"]["name"], plan.as_str());

    // The records are in the stack's records table, not the decoy's.
    let named = |r: &AwsResources| {
        Aws::new(
            &sdk,
            r.clone(),
            AwsOptions::default(),
            Arc::new(SystemClock),
        )
        .ports(Arc::new(UnusedCaller), Arc::new(Unlimited))
    };
    let id = RecordId::new("acme-1").expect("id");
    let found = named(&resources).records.get(&id).await.expect("get");
    assert_eq!(
        found.map(|r| (r.provider, r.state)),
        Some((ProviderId::new("acme").expect("id"), RecordState::Pending))
    );
    assert!(named(&decoy).records.get(&id).await.expect("get").is_none());

    // Planned from the CLI, every record is in one of the stack's four due shards: a
    // dispatcher deployed with DueShards = 4 releases all twelve.
    let planned = run(&["plan", "--window", "1s"]);
    assert!(planned.status.success(), "{}", stderr(&planned));
    let four_shards = Aws::new(
        &sdk,
        resources.clone(),
        AwsOptions {
            due_shards: 4,
            ..AwsOptions::default()
        },
        Arc::new(SystemClock),
    )
    .ports(Arc::new(UnusedCaller), Arc::new(Unlimited));
    let later = SystemClock.now().plus(std::time::Duration::from_secs(60));
    let due = four_shards
        .records
        .due(later, later, 100)
        .await
        .expect("due");
    assert_eq!(
        due.len(),
        12,
        "found {:?}",
        due.iter().map(|r| &r.id).collect::<Vec<_>>()
    );
    // A provider nobody set is accepted and shown with the stack's defaults.
    std::fs::write(
        dir.path().join("ghost.jsonl"),
        "{\"id\":\"ghost-1\",\"provider\":\"ghost\",\"request\":{\"path\":\"/x\"}}\n",
    )
    .expect("write");
    let imported = run(&["records", "import", "ghost.jsonl"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let ghost = json_of(&run(&["providers", "show", "ghost", "--output", "json"]));
    assert_eq!(
        ghost["settings"]["base_url"], "http://127.0.0.1:9/shared",
        "{ghost}"
    );
    assert_eq!(ghost["settings"]["max_attempts"], 3, "{ghost}");

    // A shard count that contradicts the stack's is refused, not silently used.
    let contradicted = run(&["--due-shards", "16", "status"]);
    assert_eq!(
        contradicted.status.code(),
        Some(2),
        "{}",
        stderr(&contradicted)
    );
    assert!(
        stderr(&contradicted).contains("deployed with 4"),
        "{}",
        stderr(&contradicted)
    );
}

#[tokio::test]
async fn an_unknown_stack_or_one_without_pacer_outputs_is_a_clear_error() {
    let Some(endpoint) = endpoint("an_unknown_stack_or_one_without_pacer_outputs_is_a_clear_error")
    else {
        return;
    };
    let unknown = format!("{}-nowhere", unique_prefix("stk"));
    let out = pacer(&endpoint, &unknown)
        .arg("status")
        .output()
        .expect("run pacer");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&unknown) && err.contains("check its name"),
        "{err}"
    );

    let sdk = sdk_config(&endpoint).await;
    let other = format!("{}-other", unique_prefix("stk"));
    create_stack(&sdk, &other, json!({ "Something": { "Value": "else" } })).await;
    let out = pacer(&endpoint, &other)
        .arg("status")
        .output()
        .expect("run pacer");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("RecordsTableName") && err.contains("is it a pacer stack"),
        "{err}"
    );
}

#[test]
fn run_on_the_aws_backend_is_refused_with_what_to_do_instead() {
    // No emulator needed: refused before any AWS call (the endpoint is unreachable).
    let out = pacer("http://127.0.0.1:9", "pacer")
        .args(["run", "--until-idle"])
        .output()
        .expect("run pacer");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("embedded backend") && err.contains("schedule run-now"),
        "{err}"
    );
}
