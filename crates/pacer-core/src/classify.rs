//! Error classification: what one call's result means for the record.
//!
//! | outcome   | examples                                                  | action |
//! |-----------|-----------------------------------------------------------|--------|
//! | success   | 2xx                                                       | store result, `succeeded` |
//! | transient | connect error, timeout, reset, 408, 425, 429, 500, 502, 503, 504 | retry |
//! | permanent | other 4xx, other status, invalid response contract        | `failed`, no retry |

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Why a call did not succeed, as stored with each attempt and used to filter dead letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// No answer within the provider's timeout.
    Timeout,
    /// The connection could not be opened.
    Connect,
    /// The connection broke before a full answer.
    Reset,
    /// Another transport failure (TLS, protocol).
    Transport,
    /// 429 Too Many Requests.
    RateLimited,
    /// 408, 425, 500, 502, 503, 504.
    ServerError,
    /// Any other 4xx: the record's data is at fault.
    ClientError,
    /// An answer that breaks the contract: 1xx/3xx/other 5xx, or 2xx JSON that is not JSON.
    InvalidResponse,
    /// The provider's circuit breaker was open; no call was made.
    BreakerOpen,
    /// The work message could not be decoded or refers to nothing usable.
    BadMessage,
}

impl ErrorClass {
    /// Every class.
    pub const ALL: [ErrorClass; 10] = [
        Self::Timeout,
        Self::Connect,
        Self::Reset,
        Self::Transport,
        Self::RateLimited,
        Self::ServerError,
        Self::ClientError,
        Self::InvalidResponse,
        Self::BreakerOpen,
        Self::BadMessage,
    ];

    /// Whether retrying may help.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::Timeout
                | Self::Connect
                | Self::Reset
                | Self::Transport
                | Self::RateLimited
                | Self::ServerError
                | Self::BreakerOpen
        )
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Reset => "reset",
            Self::Transport => "transport",
            Self::RateLimited => "rate_limited",
            Self::ServerError => "server_error",
            Self::ClientError => "client_error",
            Self::InvalidResponse => "invalid_response",
            Self::BreakerOpen => "breaker_open",
            Self::BadMessage => "bad_message",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transport-level failure reported by an [`crate::ports::ApiCaller`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportFailure {
    /// Could not connect.
    Connect,
    /// Timed out.
    Timeout,
    /// The connection was reset or closed mid-answer.
    Reset,
    /// Anything else below HTTP.
    Other,
}

/// An HTTP answer, with the body already cut to the caller's bound.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiResponse {
    /// Status code.
    pub status: u16,
    /// Raw `Retry-After` header, if present.
    pub retry_after: Option<String>,
    /// Whether `Content-Type` said JSON.
    pub json: bool,
    /// The body, possibly truncated.
    pub body: String,
    /// Whether `body` was cut.
    pub truncated: bool,
}

/// What a call's result means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx and a well-formed answer.
    Success,
    /// Retry may help; `retry_after` is the server's wish, if it stated one.
    Transient {
        /// Why.
        class: ErrorClass,
        /// How long the server asked us to wait.
        retry_after: Option<Duration>,
    },
    /// Retrying will not help.
    Permanent {
        /// Why.
        class: ErrorClass,
        /// Human detail kept with the record.
        reason: String,
    },
}

impl Verdict {
    /// The error class, `None` for success.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            Self::Success => None,
            Self::Transient { class, .. } | Self::Permanent { class, .. } => Some(*class),
        }
    }
}

/// Classifies one call's result. `now` resolves an HTTP-date `Retry-After`.
pub fn classify(result: &Result<ApiResponse, TransportFailure>, now: Timestamp) -> Verdict {
    let response = match result {
        Err(failure) => {
            let class = match failure {
                TransportFailure::Connect => ErrorClass::Connect,
                TransportFailure::Timeout => ErrorClass::Timeout,
                TransportFailure::Reset => ErrorClass::Reset,
                TransportFailure::Other => ErrorClass::Transport,
            };
            return Verdict::Transient {
                class,
                retry_after: None,
            };
        }
        Ok(response) => response,
    };
    let retry_after = response
        .retry_after
        .as_deref()
        .and_then(|v| parse_retry_after(v, now));
    match response.status {
        200..=299 => {
            if response.json
                && !response.truncated
                && serde_json::from_str::<serde::de::IgnoredAny>(&response.body).is_err()
            {
                return Verdict::Permanent {
                    class: ErrorClass::InvalidResponse,
                    reason: format!(
                        "{} with a JSON content type but a body that is not JSON",
                        response.status
                    ),
                };
            }
            Verdict::Success
        }
        429 => Verdict::Transient {
            class: ErrorClass::RateLimited,
            retry_after,
        },
        408 | 425 | 500 | 502 | 503 | 504 => Verdict::Transient {
            class: ErrorClass::ServerError,
            retry_after,
        },
        400..=499 => Verdict::Permanent {
            class: ErrorClass::ClientError,
            reason: format!("the API rejected the request with {}", response.status),
        },
        other => Verdict::Permanent {
            class: ErrorClass::InvalidResponse,
            reason: format!("unexpected status {other}"),
        },
    }
}

/// Parses `Retry-After` as delta-seconds or an HTTP-date; dates in the past mean zero.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(Timestamp::from_millis(date.timestamp_millis()).since(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Verdict {
        classify(
            &Ok(ApiResponse {
                status: code,
                ..Default::default()
            }),
            Timestamp::from_millis(0),
        )
    }

    #[test]
    fn every_2xx_is_success() {
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(status(code), Verdict::Success, "{code}");
        }
    }

    #[test]
    fn the_listed_statuses_are_transient() {
        for code in [408, 425, 500, 502, 503, 504] {
            assert_eq!(
                status(code).class(),
                Some(ErrorClass::ServerError),
                "{code}"
            );
            assert!(matches!(status(code), Verdict::Transient { .. }));
        }
        assert!(matches!(
            status(429),
            Verdict::Transient {
                class: ErrorClass::RateLimited,
                ..
            }
        ));
    }

    #[test]
    fn other_4xx_are_permanent_client_errors() {
        for code in [400, 401, 403, 404, 409, 410, 422, 451] {
            assert!(
                matches!(
                    status(code),
                    Verdict::Permanent {
                        class: ErrorClass::ClientError,
                        ..
                    }
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn other_statuses_break_the_contract() {
        for code in [100, 301, 304, 501, 505, 599] {
            assert!(
                matches!(
                    status(code),
                    Verdict::Permanent {
                        class: ErrorClass::InvalidResponse,
                        ..
                    }
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn transport_failures_are_transient() {
        let now = Timestamp::from_millis(0);
        for (failure, class) in [
            (TransportFailure::Connect, ErrorClass::Connect),
            (TransportFailure::Timeout, ErrorClass::Timeout),
            (TransportFailure::Reset, ErrorClass::Reset),
            (TransportFailure::Other, ErrorClass::Transport),
        ] {
            assert_eq!(
                classify(&Err(failure), now),
                Verdict::Transient {
                    class,
                    retry_after: None
                }
            );
        }
    }

    #[test]
    fn a_2xx_json_answer_that_is_not_json_is_permanent() {
        let bad = ApiResponse {
            status: 200,
            json: true,
            body: "{oops".into(),
            ..Default::default()
        };
        assert!(matches!(
            classify(&Ok(bad), Timestamp::from_millis(0)),
            Verdict::Permanent {
                class: ErrorClass::InvalidResponse,
                ..
            }
        ));
        let good = ApiResponse {
            status: 200,
            json: true,
            body: "{}".into(),
            ..Default::default()
        };
        assert_eq!(
            classify(&Ok(good), Timestamp::from_millis(0)),
            Verdict::Success
        );
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_http_date() {
        let now = Timestamp::parse_rfc3339("2026-11-22T10:00:00Z").unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        let r = ApiResponse {
            status: 429,
            retry_after: Some("3".into()),
            ..Default::default()
        };
        assert_eq!(
            classify(&Ok(r), now),
            Verdict::Transient {
                class: ErrorClass::RateLimited,
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn class_names_round_trip() {
        for c in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(c.as_str()), Some(c));
        }
    }
}
