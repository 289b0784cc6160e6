//! The one error type every port returns, with variants that tell the caller what to do.
//!
//! Conditional-write races ("already done", "lost the race") are not errors: ports
//! return them as typed results. What is left is what the caller acts on.

/// A boxed source error from a backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A port call failed.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Throttled, timed out or briefly unreachable: retry the same call later.
    #[error("{operation}: the backend is unavailable or throttled; retry later")]
    Unavailable {
        /// What was being done.
        operation: &'static str,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// The backend holds data this build cannot read: an operator must look.
    #[error("{operation}: stored data is unreadable: {detail}")]
    Corrupt {
        /// What was being done.
        operation: &'static str,
        /// Which data, and what is wrong with it.
        detail: String,
    },
    /// A failure retrying will not fix (misconfiguration, missing table, permissions).
    #[error("{operation}: backend failure")]
    Backend {
        /// What was being done.
        operation: &'static str,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
}

impl PortError {
    /// Whether repeating the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}
