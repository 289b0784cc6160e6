//! `template.yaml` and `infra/resources.json` describe the same tables and queues: the
//! template is what deploys, the description is what the emulator tests provision. If they
//! drift, the tests would pass against resources production does not have.

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

fn template() -> Yaml {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
        .expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml parses")
}

fn description() -> Json {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/resources.json"
    ))
    .expect("resources.json");
    serde_json::from_str(&text).expect("resources.json parses")
}

/// Converts YAML to JSON, turning `!GetAtt X.Arn` into `"X"` (the logical id) and other
/// tags into their value, so references compare by what they point at.
fn to_json(y: &Yaml) -> Json {
    match y {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => n
            .as_i64()
            .map(Json::from)
            .or_else(|| n.as_f64().map(Json::from))
            .unwrap_or(Json::Null),
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(to_json).collect()),
        Yaml::Mapping(m) => Json::Object(
            m.iter()
                .filter_map(|(k, v)| k.as_str().map(|k| (k.to_owned(), to_json(v))))
                .collect(),
        ),
        Yaml::Tagged(t) => match (t.tag.to_string().as_str(), &t.value) {
            ("!GetAtt", Yaml::String(s)) => {
                Json::String(s.split('.').next().unwrap_or(s).to_owned())
            }
            _ => to_json(&t.value),
        },
    }
}

fn resource(t: &Yaml, logical_id: &str) -> Json {
    let r = &t["Resources"][logical_id];
    assert!(!r.is_null(), "template.yaml has no resource {logical_id}");
    to_json(&r["Properties"])
}

fn sorted(v: &Json) -> Vec<String> {
    let mut items: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(Json::to_string)
        .collect();
    items.sort();
    items
}

#[test]
fn tables_have_the_same_keys_and_indexes() {
    let (t, d) = (template(), description());
    for (id, want) in d["tables"].as_object().expect("tables") {
        let got = resource(&t, id);
        assert_eq!(got["BillingMode"], want["BillingMode"], "{id} billing");
        assert_eq!(
            sorted(&got["AttributeDefinitions"]),
            sorted(&want["AttributeDefinitions"]),
            "{id} attributes"
        );
        assert_eq!(got["KeySchema"], want["KeySchema"], "{id} key");
        assert_eq!(
            sorted(&got["GlobalSecondaryIndexes"]),
            sorted(&want["GlobalSecondaryIndexes"]),
            "{id} indexes"
        );
    }
}

#[test]
fn queues_have_the_same_fifo_visibility_retention_and_redrive() {
    let (t, d) = (template(), description());
    for (id, want) in d["queues"].as_object().expect("queues") {
        let got = resource(&t, id);
        for key in [
            "FifoQueue",
            "ContentBasedDeduplication",
            "VisibilityTimeout",
            "MessageRetentionPeriod",
        ] {
            assert_eq!(got.get(key), want.get(key), "{id}.{key}");
        }
        match want.get("RedrivePolicy") {
            Some(redrive) => {
                assert_eq!(
                    got["RedrivePolicy"]["maxReceiveCount"], redrive["maxReceiveCount"],
                    "{id} receive limit"
                );
                assert_eq!(
                    got["RedrivePolicy"]["deadLetterTargetArn"], redrive["deadLetterTarget"],
                    "{id} dead-letter target"
                );
            }
            None => assert!(
                got.get("RedrivePolicy").is_none(),
                "{id} has a redrive the description lacks"
            ),
        }
    }
}

#[test]
fn the_outcomes_subscription_delivers_raw_to_the_results_queue() {
    let (t, d) = (template(), description());
    for (id, want) in d["subscriptions"].as_object().expect("subscriptions") {
        let got = resource(&t, id);
        assert_eq!(got["Protocol"], want["Protocol"]);
        assert_eq!(got["RawMessageDelivery"], want["RawMessageDelivery"]);
        assert_eq!(got["Endpoint"], want["Endpoint"], "{id} endpoint");
        assert_eq!(got["TopicArn"], want["Topic"], "{id} topic");
        assert_eq!(
            got.get("FilterPolicy"),
            want.get("FilterPolicy"),
            "{id} filter policy"
        );
    }
}

#[test]
fn no_policy_grants_a_wildcard_action() {
    let t = template();
    let text = serde_yaml::to_string(&t["Resources"]).expect("yaml");
    for line in text.lines() {
        let l = line.trim().trim_start_matches("- ");
        assert!(
            !l.starts_with("Action: '*'") && l != "'*'" && !l.ends_with(":*"),
            "wildcard action: {line}"
        );
    }
}

/// AWS recommends a queue visibility of at least six times the timeout of the function
/// its event source mapping feeds, so a message is not delivered again while a throttled
/// or retried invocation still holds it.
#[test]
fn every_event_source_queue_hides_messages_for_six_function_timeouts() {
    let t = template();
    for (function, queue) in [
        ("WorkerFunction", "WorkQueue"),
        ("ResultsFunction", "ResultsQueue"),
        ("CallbacksFunction", "CallbacksQueue"),
    ] {
        let timeout = t["Resources"][function]["Properties"]["Timeout"]
            .as_i64()
            .or_else(|| t["Globals"]["Function"]["Timeout"].as_i64())
            .expect("function timeout");
        let visibility = resource(&t, queue)["VisibilityTimeout"]
            .as_i64()
            .expect("visibility");
        assert!(
            visibility >= 6 * timeout,
            "{queue}: visibility {visibility} < 6 x {function} timeout {timeout}"
        );
    }
}
