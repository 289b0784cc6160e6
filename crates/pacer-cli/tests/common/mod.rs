//! What the CLI's emulator tests share: the moto endpoint (or the reason a test is
//! skipped), an SDK config for it, and a Scheduler schedule to point the CLI at.

#![allow(dead_code)]

/// Set by scripts/test-aws.sh to moto's endpoint.
pub(crate) const ENDPOINT_VAR: &str = "PACER_TEST_AWS_ENDPOINT";

/// The emulator's endpoint, or `None` after printing why `test` is skipped.
pub(crate) fn endpoint(test: &str) -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            eprintln!(
                "skipped {test}: {ENDPOINT_VAR} is not set; run scripts/test-aws.sh (or set it \
                 to scripts/moto.sh's endpoint) to run the AWS CLI tests"
            );
            None
        }
    }
}

/// SDK config for the emulator (the bench's: dummy credentials, DynamoDB serialised).
pub(crate) async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    pacer_cli::bench_aws::sdk_config(endpoint).await
}

/// A release-style schedule named `name` (EventBridge Scheduler on the emulator).
pub(crate) async fn create_schedule(client: &aws_sdk_scheduler::Client, name: &str) {
    use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, Target};
    client
        .create_schedule()
        .name(name)
        .schedule_expression("rate(1 minute)")
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .expect("window"),
        )
        .target(
            Target::builder()
                .arn("arn:aws:lambda:us-east-1:123456789012:function:dispatcher")
                .role_arn("arn:aws:iam::123456789012:role/scheduler")
                .input(r#"{"mode":"release"}"#)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("create schedule");
}
