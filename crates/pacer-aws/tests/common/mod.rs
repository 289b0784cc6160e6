//! What the moto test files share: finding the emulator and configuring the SDK for it.

// Each test file uses part of this module.
#![allow(dead_code)]

/// Where moto listens, if a test script started it.
pub(crate) const ENDPOINT_VAR: &str = "PACER_TEST_AWS_ENDPOINT";

/// The emulator endpoint, or `None` (with the reason printed) when it was not started.
pub(crate) fn endpoint(test: &str) -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            eprintln!("skipped {test}: {}", unavailable());
            None
        }
    }
}

/// Why the AWS tests cannot run.
pub(crate) fn unavailable() -> String {
    format!(
        "{ENDPOINT_VAR} is not set; run scripts/test-aws.sh to start moto and run the AWS tests"
    )
}

/// The SDK configuration for the emulator: its endpoint, a region and dummy credentials
/// (moto accepts any), so a test never reaches real AWS.
pub(crate) async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "moto", "moto", None, None, "moto",
        ))
        .load()
        .await
}
