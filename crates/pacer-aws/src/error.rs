//! SDK errors mapped to [`PortError`], keeping the SDK error as the `#[source]`.
//!
//! | SDK error | port error |
//! |---|---|
//! | timeout, dispatch failure (I/O, connect), unreadable response | `Unavailable` |
//! | service error with a throttling or transient code, HTTP 429 or 5xx | `Unavailable` |
//! | every other service error (validation, not found, access denied) | `Backend` |
//! | a request the SDK could not build | `Backend` |
//!
//! Conditional-check failures never reach this module as errors: the adapters match them
//! first and turn them into typed results ("lost the race", "already done").

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use pacer_core::PortError;

/// Error codes AWS services use for throttling and brief unavailability. The same list
/// the SDK's own retry classifier treats as retryable, plus DynamoDB's transaction
/// conflicts, which clear up when the other transaction ends.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "TransactionConflictException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestThrottled",
    "KMSThrottlingException",
    "KmsThrottled",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Whether an SDK error is worth retrying as is.
pub(crate) fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        // A user error (a malformed endpoint, say) fails the same way every time.
        SdkError::DispatchFailure(f) => !f.is_user(),
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            status == 429
                || status >= 500
                || ctx
                    .err()
                    .code()
                    .is_some_and(|code| TRANSIENT_CODES.contains(&code))
        }
        _ => false,
    }
}

/// Maps an SDK error to the port error that tells the caller what to do.
pub(crate) fn sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = is_transient(&err);
    tracing::debug!(operation, transient, error = %aws_smithy_types::error::display::DisplayErrorContext(&err), "AWS call failed");
    let source = Box::new(err);
    if transient {
        PortError::Unavailable { operation, source }
    } else {
        PortError::Backend { operation, source }
    }
}

/// A request the adapter could not build (a required field was missing): a bug here.
pub(crate) fn build(
    operation: &'static str,
    err: aws_smithy_types::error::operation::BuildError,
) -> PortError {
    PortError::Backend {
        operation,
        source: Box::new(err),
    }
}

/// Stored data this build cannot read.
pub(crate) fn corrupt(operation: &'static str, detail: impl Into<String>) -> PortError {
    PortError::Corrupt {
        operation,
        detail: detail.into(),
    }
}

/// Why an adapter gave up without a single SDK error to blame.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// Optimistic writes kept losing to concurrent writers of the same item.
    #[error("{item} kept changing under {attempts} conditional writes; try again")]
    Contention {
        /// Which item.
        item: String,
        /// How many writes were tried.
        attempts: u32,
    },
    /// Entries of a batch call kept failing although the call itself succeeded.
    #[error("{failed} of the batch's entries failed (first: {code}: {message})")]
    BatchEntries {
        /// How many entries failed after the retries.
        failed: usize,
        /// The first failure's code.
        code: String,
        /// The first failure's message.
        message: String,
        /// Whether the service blamed the request (retrying will not help).
        sender_fault: bool,
    },
    /// A resource description or name is unusable.
    #[error("{0}")]
    Resource(String),
}

impl AdapterError {
    /// Wraps the error in the port error that says whether retrying helps.
    pub(crate) fn into_port(self, operation: &'static str) -> PortError {
        let retryable = match &self {
            Self::Contention { .. } => true,
            Self::BatchEntries { sender_fault, .. } => !sender_fault,
            Self::Resource(_) => false,
        };
        let source = Box::new(self);
        if retryable {
            PortError::Unavailable { operation, source }
        } else {
            PortError::Backend { operation, source }
        }
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
