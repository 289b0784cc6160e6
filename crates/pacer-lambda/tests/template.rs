//! `template.yaml` against what the functions' code expects: every environment variable
//! `Config::from_env` reads is set for every function, each function builds one of this
//! crate's binaries, and the SQS-triggered functions report partial batch failures (the
//! handlers answer with `batchItemFailures`). The per-function IAM check needs the
//! operations the code really makes and runs in `moto_pipeline.rs`; the matcher it uses is
//! checked here on small templates.

mod iam;

use iam::{function_grants, global_env_vars, granted, load_template, sqs_event_queues, Needed};
use pacer_lambda::ENV_VARS;

const FUNCTIONS: [(&str, &str); 3] = [
    ("DispatcherFunction", "dispatcher"),
    ("WorkerFunction", "worker"),
    ("ResultsFunction", "results"),
];

#[test]
fn every_variable_the_functions_read_is_set_in_the_template_globals() {
    let set = global_env_vars(&load_template());
    let missing: Vec<&str> = ENV_VARS
        .iter()
        .copied()
        .filter(|v| !set.contains(*v))
        .collect();
    assert!(
        missing.is_empty(),
        "template.yaml Globals.Function.Environment lacks {missing:?}"
    );
}

#[test]
fn each_function_builds_one_of_this_crates_binaries_with_cargo_lambda() {
    let template = load_template();
    let manifest: toml_like::Bins = toml_like::bins(include_str!("../Cargo.toml"));
    for (id, binary) in FUNCTIONS {
        let f = &template["Resources"][id];
        assert_eq!(
            f["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        assert_eq!(
            f["Metadata"]["BuildProperties"]["Binary"].as_str(),
            Some(binary),
            "{id}"
        );
        assert!(
            manifest.contains(&binary.to_owned()),
            "{binary} is not a [[bin]] of pacer-lambda"
        );
    }
}

#[test]
fn sqs_triggered_functions_report_batch_item_failures() {
    let template = load_template();
    for (id, queue) in [
        ("WorkerFunction", "WorkQueue"),
        ("ResultsFunction", "ResultsQueue"),
    ] {
        assert!(
            sqs_event_queues(&template, id).contains(queue),
            "{id} is not fed by {queue}"
        );
        let events = template["Resources"][id]["Properties"]["Events"]
            .as_mapping()
            .expect("events");
        let reports = events.values().any(|e| {
            e["Properties"]["FunctionResponseTypes"]
                .as_sequence()
                .is_some_and(|t| {
                    t.iter()
                        .any(|v| v.as_str() == Some("ReportBatchItemFailures"))
                })
        });
        assert!(reports, "{id}: without ReportBatchItemFailures Lambda ignores batchItemFailures and retries whole batches");
    }
}

/// A template with one function granted `policies`.
fn with_policies(policies: &str) -> serde_yaml::Value {
    let text = format!(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies:\n{policies}"
    );
    serde_yaml::from_str(&text).expect("test template parses")
}

#[test]
fn the_matcher_reads_getatt_sub_and_ref_resources() {
    let t = with_policies(
        r#"        - Statement:
            - Effect: Allow
              Action: [dynamodb:Query, dynamodb:UpdateItem]
              Resource:
                - !GetAtt RecordsTable.Arn
                - !Sub "${RecordsTable.Arn}/index/*"
            - Effect: Allow
              Action: sns:Publish
              Resource: !Ref OutcomesTopic
            - Effect: Deny
              Action: sqs:SendMessage
              Resource: !GetAtt WorkQueue.Arn
"#,
    );
    let g = function_grants(&t, "F");
    assert!(granted(
        &g,
        "dynamodb:UpdateItem",
        &Needed::Table("RecordsTable".into())
    ));
    assert!(granted(
        &g,
        "dynamodb:Query",
        &Needed::Index("RecordsTable".into(), "due".into())
    ));
    assert!(granted(
        &g,
        "sns:Publish",
        &Needed::Topic("OutcomesTopic".into())
    ));
    assert!(
        !granted(
            &g,
            "dynamodb:PutItem",
            &Needed::Table("RecordsTable".into())
        ),
        "wrong action"
    );
    assert!(
        !granted(&g, "dynamodb:Query", &Needed::Table("AttemptsTable".into())),
        "wrong table"
    );
    assert!(
        !granted(&g, "sqs:SendMessage", &Needed::Queue("WorkQueue".into())),
        "Deny is no grant"
    );
}

#[test]
fn the_matcher_knows_the_sam_policy_templates_and_long_form_intrinsics() {
    let t = with_policies(
        r#"        - DynamoDBReadPolicy: { TableName: !Ref AttemptsTable }
        - SQSSendMessagePolicy: { QueueName: !GetAtt WorkQueue.QueueName }
        - Statement:
            Effect: Allow
            Action: dynamodb:GetItem
            Resource: { "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ControlTable}" }
"#,
    );
    let g = function_grants(&t, "F");
    assert!(granted(
        &g,
        "dynamodb:Query",
        &Needed::Index("AttemptsTable".into(), "x".into())
    ));
    assert!(!granted(
        &g,
        "dynamodb:PutItem",
        &Needed::Table("AttemptsTable".into())
    ));
    assert!(granted(
        &g,
        "sqs:SendMessage",
        &Needed::Queue("WorkQueue".into())
    ));
    assert!(granted(
        &g,
        "dynamodb:GetItem",
        &Needed::Table("ControlTable".into())
    ));
    assert!(!granted(
        &g,
        "dynamodb:GetItem",
        &Needed::Index("ControlTable".into(), "i".into())
    ));
}

/// The `[[bin]]` names of a Cargo manifest (enough TOML for this check).
mod toml_like {
    pub(crate) type Bins = Vec<String>;

    pub(crate) fn bins(manifest: &str) -> Bins {
        let mut out = Vec::new();
        let mut in_bin = false;
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                in_bin = line == "[[bin]]";
            } else if let Some(name) = line.strip_prefix("name = ").filter(|_| in_bin) {
                out.push(name.trim_matches('"').to_owned());
            }
        }
        out
    }
}

#[test]
fn the_stack_outputs_name_everything_the_cli_reads_with_stack() {
    let template = load_template();
    let outputs = template["Outputs"].as_mapping().expect("Outputs");
    let missing: Vec<&str> = pacer_cli::aws::AwsArgs::stack_outputs_read()
        .into_iter()
        .filter(|o| !outputs.contains_key(*o))
        .collect();
    assert!(
        missing.is_empty(),
        "`pacer --stack` reads outputs template.yaml does not declare: {missing:?}"
    );
    // The CLI must place records in the same due-index shards as the functions.
    assert_eq!(
        template["Outputs"]["DueShards"]["Value"],
        template["Globals"]["Function"]["Environment"]["Variables"]["PACER_DUE_SHARDS"],
        "the DueShards output and the functions' PACER_DUE_SHARDS differ"
    );
}

/// A template value as YAML text, tags included (`!GetAtt X.Arn`), for loose matching.
fn text(value: &serde_yaml::Value) -> String {
    serde_yaml::to_string(value).expect("yaml")
}

#[test]
fn both_schedules_invoke_the_dispatcher_with_a_payload_it_accepts_retries_and_a_dead_letter_queue()
{
    use pacer_lambda::dispatcher::DispatchRequest;
    let template = load_template();
    for (id, mode) in [
        ("PlanSchedule", DispatchRequest::Plan),
        ("ReleaseSchedule", DispatchRequest::Release),
    ] {
        let schedule = &template["Resources"][id];
        assert_eq!(
            schedule["Type"].as_str(),
            Some("AWS::Scheduler::Schedule"),
            "{id}"
        );
        let target = &schedule["Properties"]["Target"];
        assert!(
            text(&target["Arn"]).contains("DispatcherFunction.Arn"),
            "{id} does not invoke the dispatcher"
        );
        let input: serde_json::Value =
            serde_json::from_str(target["Input"].as_str().expect("input")).expect("JSON");
        assert_eq!(
            DispatchRequest::from_payload(&input).expect("the dispatcher accepts it"),
            mode,
            "{id}"
        );
        assert!(
            target["RetryPolicy"]["MaximumRetryAttempts"]
                .as_u64()
                .is_some_and(|n| n >= 1),
            "{id} has no retry policy"
        );
        assert!(
            text(&target["DeadLetterConfig"]["Arn"]).contains("ScheduleDeadLetterQueue"),
            "{id} has no dead-letter target"
        );
    }
}

#[test]
fn every_function_is_traced_with_x_ray_and_logs_json() {
    let template = load_template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Tracing"].as_str(), Some("Active"));
    assert_eq!(globals["LoggingConfig"]["LogFormat"].as_str(), Some("JSON"));
    for (id, resource) in template["Resources"].as_mapping().expect("resources") {
        if resource["Type"].as_str() == Some("AWS::Serverless::Function") {
            let own = &resource["Properties"]["Tracing"];
            assert!(
                own.is_null() || own.as_str() == Some("Active"),
                "{id:?} turns tracing off"
            );
        }
    }
}

#[test]
fn alarms_cover_every_dead_letter_queue_the_oldest_work_and_every_functions_errors() {
    let template = load_template();
    let resources = template["Resources"].as_mapping().expect("resources");
    let alarms: Vec<&serde_yaml::Value> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|r| &r["Properties"])
        .collect();
    for alarm in &alarms {
        assert!(
            text(&alarm["AlarmActions"]).contains("AlertTopic"),
            "an alarm does not notify the alert topic: {}",
            text(alarm)
        );
    }
    let watched = |metric: &str, on: &str| {
        alarms.iter().any(|a| {
            a["MetricName"].as_str() == Some(metric) && text(&a["Dimensions"]).contains(on)
        })
    };
    for (id, resource) in resources {
        let id = id.as_str().expect("logical id");
        match resource["Type"].as_str() {
            Some("AWS::SQS::Queue") if id.contains("DeadLetter") => assert!(
                watched(
                    "ApproximateNumberOfMessagesVisible",
                    &format!("{id}.QueueName")
                ),
                "no alarm on the depth of {id}"
            ),
            Some("AWS::Serverless::Function") => {
                assert!(watched("Errors", id), "no alarm on the errors of {id}")
            }
            _ => {}
        }
    }
    assert!(
        watched("ApproximateAgeOfOldestMessage", "WorkQueue.QueueName"),
        "no alarm on the age of the oldest work message"
    );
}
