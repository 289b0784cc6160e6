//! Reading `template.yaml` the way IAM would for the checks: a function's granted
//! statements (inline `Policies` statements, the SAM policy templates pacer might use, and
//! the inline policies of a role given with `Role`), its SQS event sources, and the
//! global environment variables.
//!
//! Resources are compared by what they reference: `!GetAtt WorkQueue.Arn`,
//! `!Sub "${RecordsTable.Arn}/index/*"` and `!Ref OutcomesTopic` become the texts
//! `${WorkQueue.Arn}`, `${RecordsTable.Arn}/index/*` and `${OutcomesTopic}`; a needed
//! resource is granted when one of its spellings matches a granted resource, `*` in the
//! grant matching anything (as in IAM) and `${AWS::…}` pseudo parameters matching any
//! account, region or partition.

// Each test file uses part of this module.
#![allow(dead_code)]

use serde_yaml::Value;
use std::collections::BTreeSet;

/// `template.yaml` at the workspace root.
pub(crate) const TEMPLATE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");

/// Reads and parses `template.yaml`, failing the test with a clear message if it cannot.
pub(crate) fn load_template() -> Value {
    let text = std::fs::read_to_string(TEMPLATE_PATH)
        .unwrap_or_else(|e| panic!("cannot read {TEMPLATE_PATH}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{TEMPLATE_PATH} does not parse: {e}"))
}

/// One Allow statement: actions and resource spellings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grant {
    pub(crate) actions: Vec<String>,
    pub(crate) resources: Vec<String>,
}

/// A needed resource, by the logical id of the template resource it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Needed {
    /// A DynamoDB table.
    Table(String),
    /// An index of a DynamoDB table.
    Index(String, String),
    /// An SQS queue.
    Queue(String),
    /// An SNS topic.
    Topic(String),
}

impl Needed {
    /// The ways a template can spell this resource's ARN.
    fn spellings(&self) -> Vec<String> {
        const ARN: &str = "arn:aws:{service}:region:account:";
        let arn = |service: &str| ARN.replace("{service}", service);
        match self {
            Needed::Table(t) => vec![
                format!("${{{t}.Arn}}"),
                format!("{}table/${{{t}}}", arn("dynamodb")),
            ],
            Needed::Index(t, i) => vec![
                format!("${{{t}.Arn}}/index/{i}"),
                format!("{}table/${{{t}}}/index/{i}", arn("dynamodb")),
            ],
            Needed::Queue(q) => vec![
                format!("${{{q}.Arn}}"),
                format!("{}${{{q}.QueueName}}", arn("sqs")),
            ],
            Needed::Topic(t) => vec![
                format!("${{{t}}}"),
                format!("${{{t}.TopicArn}}"),
                format!("{}${{{t}.TopicName}}", arn("sns")),
            ],
        }
    }
}

/// A glob match where `*` in `pattern` matches any run of characters.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().expect("split yields one part at least");
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    for (i, part) in rest.iter().enumerate() {
        if i == rest.len() - 1 {
            return remaining.ends_with(part);
        }
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.is_empty()
}

/// Replaces `${AWS::…}` pseudo parameters by `*`.
fn wild_pseudo(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${AWS::") {
        out.push_str(&rest[..at]);
        out.push('*');
        rest = rest[at..].find('}').map_or("", |end| &rest[at + end + 1..]);
    }
    out.push_str(rest);
    out
}

/// Whether some statement in `grants` allows `action` on `needed`.
pub(crate) fn granted(grants: &[Grant], action: &str, needed: &Needed) -> bool {
    let spellings = needed.spellings();
    grants.iter().any(|g| {
        g.actions.iter().any(|a| glob(a, action))
            && g.resources.iter().any(|r| {
                let pattern = wild_pseudo(r);
                spellings.iter().any(|s| glob(&pattern, s))
            })
    })
}

/// The text a CloudFormation value stands for, references as `${Id}` / `${Id.Attr}`.
pub(crate) fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Tagged(t) => intrinsic(&t.tag.to_string(), &t.value),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, inner) = m.iter().next().expect("one entry");
            match k.as_str() {
                Some("Ref") => intrinsic("!Ref", inner),
                Some("Fn::GetAtt") => intrinsic("!GetAtt", inner),
                Some("Fn::Sub") => intrinsic("!Sub", inner),
                Some("Fn::Join") => intrinsic("!Join", inner),
                _ => String::new(),
            }
        }
        _ => String::new(),
    }
}

fn intrinsic(tag: &str, value: &Value) -> String {
    match (tag, value) {
        ("!Ref", v) => format!("${{{}}}", render(v)),
        ("!GetAtt", Value::Sequence(parts)) => {
            let parts: Vec<String> = parts.iter().map(render).collect();
            format!("${{{}}}", parts.join("."))
        }
        ("!GetAtt", v) => format!("${{{}}}", render(v)),
        ("!Sub", Value::Sequence(parts)) => parts.first().map(render).unwrap_or_default(),
        ("!Sub", v) => render(v),
        ("!Join", Value::Sequence(parts)) if parts.len() == 2 => {
            let items: Vec<String> = parts[1]
                .as_sequence()
                .map(|s| s.iter().map(render).collect())
                .unwrap_or_default();
            items.join(&render(&parts[0]))
        }
        _ => String::new(),
    }
}

fn one_or_many(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items.iter().map(render).collect(),
        Value::Null => Vec::new(),
        other => vec![render(other)],
    }
}

fn statements(doc: &Value) -> Vec<Grant> {
    let list = match &doc["Statement"] {
        Value::Sequence(s) => s.clone(),
        Value::Null => Vec::new(),
        single => vec![single.clone()],
    };
    list.iter()
        .filter(|s| s["Effect"].as_str() == Some("Allow"))
        .map(|s| Grant {
            actions: one_or_many(&s["Action"]),
            resources: one_or_many(&s["Resource"]),
        })
        .collect()
}

/// The statements of the SAM policy templates pacer may use.
fn policy_template(name: &str, params: &Value) -> Vec<Grant> {
    let arn = |service: &str, what: String| format!("arn:aws:{service}:*:*:{what}");
    let dynamo = |actions: &[&str], with_index: bool| {
        let table = render(&params["TableName"]);
        let mut resources = vec![arn("dynamodb", format!("table/{table}"))];
        if with_index {
            resources.push(arn("dynamodb", format!("table/{table}/index/*")));
        }
        vec![Grant {
            actions: actions.iter().map(|a| format!("dynamodb:{a}")).collect(),
            resources,
        }]
    };
    let sqs = |actions: &[&str]| {
        vec![Grant {
            actions: actions.iter().map(|a| format!("sqs:{a}")).collect(),
            resources: vec![arn("sqs", render(&params["QueueName"]))],
        }]
    };
    match name {
        "DynamoDBCrudPolicy" => dynamo(
            &[
                "GetItem",
                "DeleteItem",
                "PutItem",
                "Scan",
                "Query",
                "UpdateItem",
                "BatchWriteItem",
                "BatchGetItem",
                "DescribeTable",
                "ConditionCheckItem",
            ],
            true,
        ),
        "DynamoDBReadPolicy" => dynamo(
            &["GetItem", "Scan", "Query", "BatchGetItem", "DescribeTable"],
            true,
        ),
        "DynamoDBWritePolicy" => dynamo(&["PutItem", "UpdateItem", "BatchWriteItem"], false),
        "SQSSendMessagePolicy" => sqs(&["SendMessage*"]),
        "SQSPollerPolicy" => sqs(&[
            "ChangeMessageVisibility",
            "ChangeMessageVisibilityBatch",
            "DeleteMessage",
            "DeleteMessageBatch",
            "GetQueueAttributes",
            "ReceiveMessage",
        ]),
        "SNSPublishMessagePolicy" => vec![Grant {
            actions: vec!["sns:Publish".into()],
            resources: vec![arn("sns", render(&params["TopicName"]))],
        }],
        _ => Vec::new(),
    }
}

/// Every statement granted to function `logical_id`.
pub(crate) fn function_grants(template: &Value, logical_id: &str) -> Vec<Grant> {
    let function = &template["Resources"][logical_id];
    assert!(
        function["Type"].as_str() == Some("AWS::Serverless::Function"),
        "template.yaml has no function {logical_id}"
    );
    let props = &function["Properties"];
    let mut grants = Vec::new();
    for policy in props["Policies"].as_sequence().into_iter().flatten() {
        if policy.get("Statement").is_some() {
            grants.extend(statements(policy));
        } else if let Some(map) = policy.as_mapping() {
            for (name, params) in map {
                grants.extend(policy_template(name.as_str().unwrap_or_default(), params));
            }
        }
    }
    // A role of its own: its inline policies.
    let role = render(&props["Role"]);
    if let Some(id) = role
        .strip_prefix("${")
        .and_then(|r| r.split(['.', '}']).next())
    {
        for p in template["Resources"][id]["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            grants.extend(statements(&p["PolicyDocument"]));
        }
    }
    grants
}

/// The logical ids of the SQS queues that are event sources of function `logical_id`
/// (SAM grants the event source mapping's receive and delete rights with them).
pub(crate) fn sqs_event_queues(template: &Value, logical_id: &str) -> BTreeSet<String> {
    template["Resources"][logical_id]["Properties"]["Events"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, e)| e["Type"].as_str() == Some("SQS"))
        .map(|(_, e)| render(&e["Properties"]["Queue"]))
        .filter_map(|q| {
            q.strip_prefix("${")
                .and_then(|r| r.split(['.', '}']).next())
                .map(str::to_owned)
        })
        .collect()
}

/// The names in `Globals.Function.Environment.Variables`.
pub(crate) fn global_env_vars(template: &Value) -> BTreeSet<String> {
    template["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.as_str().map(str::to_owned))
        .collect()
}
