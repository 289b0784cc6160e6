//! us-east-1 list prices for the billable units the meter counts, and the seed design's
//! naive flow priced the same way. Prices are typed in (there is no price API offline):
//! docs/benchmarks.md quotes them with their date.

use super::meter::Counts;
use serde_json::{json, Map, Value};

/// When these prices were taken, for the report.
pub(super) const PRICES_AS_OF: &str = "us-east-1 list prices as published in November 2026 \
    (DynamoDB on-demand after the 1 November 2024 reduction)";

/// SQS standard queue, per request (64 KB chunk).
const SQS_STANDARD: f64 = 0.40e-6;
/// SQS FIFO queue, per request (64 KB chunk).
const SQS_FIFO: f64 = 0.50e-6;
/// SNS standard topic, per publish request (64 KB chunk); deliveries to SQS are free.
const SNS_PUBLISH: f64 = 0.50e-6;
/// DynamoDB on-demand, per write request unit.
const DYNAMO_WRITE: f64 = 0.625e-6;
/// DynamoDB on-demand, per read request unit.
const DYNAMO_READ: f64 = 0.125e-6;
/// EventBridge Scheduler, per invocation (after the 14 M monthly free invocations).
const SCHEDULER: f64 = 1.00e-6;
/// Lambda, per request.
const LAMBDA_REQUEST: f64 = 0.20e-6;
/// Lambda arm64, per GB-second.
const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
/// Memory of every function in template.yaml (arm64).
const LAMBDA_GB: f64 = 0.25;

/// Assumed Lambda time per invocation (start-up of the handler, the final writes), s.
const SECONDS_PER_INVOCATION: f64 = 0.03;

/// Assumed Lambda time per message handled by `function`, s: a worker message is one
/// call to the internal API (about 50 ms) plus its bookkeeping; an outcome is store
/// work; a dispatcher tick is a fixed 0.3 s whatever it releases.
fn seconds_per_message(function: &str) -> f64 {
    match function {
        "worker" => 0.06,
        "results" => 0.01,
        _ => 0.0,
    }
}

/// The label of `function`'s compute (GB-seconds), which is not a request.
pub(super) fn compute_label(function: &str) -> String {
    format!("lambda:GB-seconds ({function})")
}

/// GB-seconds of `invocations` invocations of `function` handling `messages` messages.
pub(super) fn gb_seconds(function: &str, invocations: f64, messages: f64) -> f64 {
    let per_invocation = if function == "dispatcher" {
        0.3
    } else {
        SECONDS_PER_INVOCATION
    };
    LAMBDA_GB * (invocations * per_invocation + messages * seconds_per_message(function))
}

/// The assumptions, for the report.
pub(super) fn assumptions() -> Value {
    json!({
        "lambda": "arm64, 256 MB (template.yaml), $0.20 per million requests plus \
                   $0.0000133334 per GB-s; assumed time: 30 ms per invocation plus 60 ms per \
                   work message (one ~50 ms API call) and 10 ms per outcome; 0.3 s per dispatcher run",
        "dynamodb": "items of at most 1 KB written and 4 KB read (one unit each); \
                     global secondary index writes not included",
        "sqs_sns": "messages well under 64 KB, so a batch of ten is one billed request",
        "free_tiers": "ignored",
    })
}

/// The price of one unit under `label` (`service:Operation …`).
pub(super) fn unit_price(label: &str) -> f64 {
    let (service, rest) = label.split_once(':').unwrap_or((label, ""));
    let operation = rest.split_whitespace().next().unwrap_or_default();
    match service {
        "sqs" if rest.contains("fifo") => SQS_FIFO,
        "sqs" if rest.contains("free") => 0.0,
        "sqs" => SQS_STANDARD,
        "sns" => SNS_PUBLISH,
        "dynamodb" => match operation {
            "GetItem" | "BatchGetItem" | "Query" | "Scan" | "TransactGetItems" => DYNAMO_READ,
            _ => DYNAMO_WRITE,
        },
        "scheduler" => SCHEDULER,
        "lambda" if operation == "GB-seconds" => LAMBDA_ARM_GB_SECOND,
        "lambda" => LAMBDA_REQUEST,
        _ => 0.0,
    }
}

/// Whether `label` counts as a billable request (SNS deliveries to SQS are free, and
/// Lambda compute is billed by time, not by request).
pub(super) fn is_request(label: &str) -> bool {
    unit_price(label) > 0.0 && !label.contains("GB-seconds")
}

/// Per label: requests, per record and USD per million records; plus the totals
/// (billable requests per record, USD per million records).
pub(super) fn price(counts: &Counts, records: u64) -> (Value, f64, f64) {
    let n = records.max(1) as f64;
    let mut by = Map::new();
    let (mut requests, mut usd) = (0.0, 0.0);
    for (label, units) in counts {
        let cost = units * unit_price(label) / n * 1e6;
        if is_request(label) {
            requests += units;
        }
        usd += cost;
        by.insert(
            label.clone(),
            json!({
                "requests": round(*units, 1),
                "per_record": round(units / n, 3),
                "usd_per_million_records": round(cost, 3),
            }),
        );
    }
    (Value::Object(by), round(requests / n, 3), round(usd, 2))
}

/// The seed design's naive flow for `records` records: one SQS send, one worker
/// invocation, one SNS publish, one SQS delivery, one results invocation and two table
/// writes per record.
pub(super) fn naive(records: u64) -> Counts {
    let n = records as f64;
    [
        ("sqs:SendMessage (fifo)", n),
        ("lambda:Invoke (worker)", n),
        ("sns:Publish", n),
        ("sqs:Deliver from SNS (free)", n),
        ("lambda:Invoke (results)", n),
        ("dynamodb:PutItem", 2.0 * n),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(
        ["worker", "results"]
            .into_iter()
            .map(|f| (compute_label(f), gb_seconds(f, n, n))),
    )
    .collect()
}

/// The prices, for the report.
pub(super) fn table() -> Value {
    json!({
        "as_of": PRICES_AS_OF,
        "sqs_standard_per_million": round(SQS_STANDARD * 1e6, 4),
        "sqs_fifo_per_million": round(SQS_FIFO * 1e6, 4),
        "sns_publish_per_million": round(SNS_PUBLISH * 1e6, 4),
        "sns_to_sqs_delivery": 0.0,
        "dynamodb_on_demand_write_unit_per_million": round(DYNAMO_WRITE * 1e6, 4),
        "dynamodb_on_demand_read_unit_per_million": round(DYNAMO_READ * 1e6, 4),
        "scheduler_invocation_per_million": round(SCHEDULER * 1e6, 4),
        "lambda_request_per_million": round(LAMBDA_REQUEST * 1e6, 4),
        "lambda_arm64_gb_second": LAMBDA_ARM_GB_SECOND,
    })
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_priced_by_service_queue_type_and_operation() {
        assert_eq!(unit_price("sqs:SendMessageBatch (fifo)"), SQS_FIFO);
        assert_eq!(unit_price("sqs:ReceiveMessage (standard)"), SQS_STANDARD);
        assert_eq!(unit_price("sqs:Deliver from SNS (free)"), 0.0);
        assert_eq!(unit_price("dynamodb:Query"), DYNAMO_READ);
        assert_eq!(unit_price("dynamodb:TransactWriteItems"), DYNAMO_WRITE);
        assert_eq!(unit_price("lambda:Invoke (worker)"), LAMBDA_REQUEST);
        assert_eq!(
            unit_price("lambda:GB-seconds (worker)"),
            LAMBDA_ARM_GB_SECOND
        );
        assert!(!is_request("lambda:GB-seconds (worker)"));
        assert!(!is_request("sqs:Deliver from SNS (free)"));
    }

    #[test]
    fn the_naive_flow_bills_six_requests_per_record() {
        let (_, per_record, usd) = price(&naive(1000), 1000);
        assert_eq!(per_record, 6.0);
        // 2.65 for the requests, plus 90 ms and 40 ms of 256 MB compute per record.
        assert!((usd - 3.08).abs() < 0.01, "{usd}");
    }
}
