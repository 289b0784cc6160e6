//! The functions' configuration: every environment variable they read, parsed and checked
//! once at cold start by [`Config::from_env`] — the only place in pacer's Lambda code that
//! touches the environment.
//!
//! The SAM template sets every variable of [`ENV_VARS`] in `Globals.Function.Environment`
//! (a test compares the two). What is not here: AWS region and credentials, which the SDK
//! reads itself (from the Lambda runtime environment), and per-provider settings, which
//! live in the control table so operators can change them without a redeploy.

use pacer_aws::{ApiResources, AwsResources};
use pacer_core::ports::ProviderDefaults;
use std::time::Duration;

/// DynamoDB records table name.
pub const RECORDS_TABLE: &str = "PACER_RECORDS_TABLE";
/// DynamoDB attempts table name.
pub const ATTEMPTS_TABLE: &str = "PACER_ATTEMPTS_TABLE";
/// DynamoDB results table name.
pub const RESULTS_TABLE: &str = "PACER_RESULTS_TABLE";
/// DynamoDB control table name (providers, leases, breaker state, switches).
pub const CONTROL_TABLE: &str = "PACER_CONTROL_TABLE";
/// DynamoDB dead-letter table name.
pub const DEAD_LETTERS_TABLE: &str = "PACER_DEAD_LETTERS_TABLE";
/// SQS FIFO work queue URL.
pub const WORK_QUEUE_URL: &str = "PACER_WORK_QUEUE_URL";
/// SQS FIFO work dead-letter queue URL.
pub const WORK_DLQ_URL: &str = "PACER_WORK_DLQ_URL";
/// SQS results queue URL.
pub const RESULTS_QUEUE_URL: &str = "PACER_RESULTS_QUEUE_URL";
/// SQS results dead-letter queue URL.
pub const RESULTS_DLQ_URL: &str = "PACER_RESULTS_DLQ_URL";
/// SNS outcomes topic ARN.
pub const OUTCOMES_TOPIC_ARN: &str = "PACER_OUTCOMES_TOPIC_ARN";
/// DynamoDB feed table name (outcome feed, webhook delivery states).
pub const FEED_TABLE: &str = "PACER_FEED_TABLE";
/// DynamoDB clients table name (consumer applications of the HTTP API).
pub const CLIENTS_TABLE: &str = "PACER_CLIENTS_TABLE";
/// SQS callbacks queue URL (webhook deliveries).
pub const CALLBACKS_QUEUE_URL: &str = "PACER_CALLBACKS_QUEUE_URL";
/// SQS callbacks dead-letter queue URL.
pub const CALLBACKS_DLQ_URL: &str = "PACER_CALLBACKS_DLQ_URL";
/// The planning window, humantime (`24h`).
pub const WINDOW: &str = "PACER_WINDOW";
/// Optional global cap in calls per second; empty means none.
pub const GLOBAL_RATE: &str = "PACER_GLOBAL_RATE";
/// Optional shard count of the records table's `due` index (default 16).
pub const DUE_SHARDS: &str = "PACER_DUE_SHARDS";
/// Optional base URL of the internal API for providers without settings of their own
/// in the control table; empty means every provider must be configured.
pub const DEFAULT_BASE_URL: &str = "PACER_DEFAULT_BASE_URL";
/// Calls per record for providers without settings of their own (default 8).
pub const DEFAULT_MAX_ATTEMPTS: &str = "PACER_DEFAULT_MAX_ATTEMPTS";
/// Name or ARN of the Secrets Manager secret that signs webhooks; set on the callbacks
/// function only (not in [`ENV_VARS`], which every function gets).
pub const WEBHOOK_SECRET_ID: &str = "PACER_WEBHOOK_SECRET_ID";
/// Optional `tracing` filter (default `info`).
pub const LOG: &str = "PACER_LOG";

/// Every environment variable the functions read.
pub const ENV_VARS: &[&str] = &[
    RECORDS_TABLE,
    ATTEMPTS_TABLE,
    RESULTS_TABLE,
    CONTROL_TABLE,
    DEAD_LETTERS_TABLE,
    WORK_QUEUE_URL,
    WORK_DLQ_URL,
    RESULTS_QUEUE_URL,
    RESULTS_DLQ_URL,
    OUTCOMES_TOPIC_ARN,
    FEED_TABLE,
    CLIENTS_TABLE,
    CALLBACKS_QUEUE_URL,
    CALLBACKS_DLQ_URL,
    WINDOW,
    GLOBAL_RATE,
    DUE_SHARDS,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_ATTEMPTS,
    LOG,
];

/// Calls per record for providers without their own settings when
/// `PACER_DEFAULT_MAX_ATTEMPTS` is unset: the same as a provider's built-in default.
pub const DEFAULT_ATTEMPTS: u32 = 8;

/// The `due` index shard count when `PACER_DUE_SHARDS` is unset; the CLI's default too.
pub const DEFAULT_DUE_SHARDS: u16 = 16;

/// The configuration every function shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Every table, queue and topic.
    pub resources: AwsResources,
    /// The planning window the daily plan covers.
    pub window: Duration,
    /// Global calls-per-second cap the planner spaces calls under.
    pub global_rate: Option<f64>,
    /// Shards of the records table's `due` index; every writer and reader must agree.
    pub due_shards: u16,
    /// Settings for providers without their own, when one internal API serves them all.
    pub provider_defaults: Option<ProviderDefaults>,
    /// The `tracing` filter.
    pub log: String,
    /// The webhook signing secret's name or ARN (the callbacks function).
    pub webhook_secret_id: Option<String>,
}

/// A variable is missing or unreadable. The message names it and says what it should hold.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("environment variable {name} is not set (or empty); the SAM template sets it in Globals.Function.Environment")]
    Missing {
        /// The variable.
        name: &'static str,
    },
    /// A variable holds something unusable.
    #[error("environment variable {name} is {value:?}, but must be {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What it holds.
        value: String,
        /// What it should hold.
        expected: &'static str,
    },
}

impl Config {
    /// Reads the process environment. Call once, from `main`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (the environment in production, a map in
    /// tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).map(|v| v.trim().to_owned());
        let required = |name: &'static str| match get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ConfigError::Missing { name }),
        };
        let url = |name: &'static str| {
            let v = required(name)?;
            if v.starts_with("https://") || v.starts_with("http://") {
                Ok(v)
            } else {
                Err(invalid(name, v, "a queue URL (https://sqs.…)"))
            }
        };
        let topic = |name: &'static str| {
            let v = required(name)?;
            if v.starts_with("arn:") {
                Ok(v)
            } else {
                Err(invalid(name, v, "an SNS topic ARN (arn:…)"))
            }
        };
        let resources = AwsResources {
            records_table: required(RECORDS_TABLE)?,
            attempts_table: required(ATTEMPTS_TABLE)?,
            results_table: required(RESULTS_TABLE)?,
            control_table: required(CONTROL_TABLE)?,
            dead_letters_table: required(DEAD_LETTERS_TABLE)?,
            work_queue_url: url(WORK_QUEUE_URL)?,
            work_dlq_url: url(WORK_DLQ_URL)?,
            results_queue_url: url(RESULTS_QUEUE_URL)?,
            results_dlq_url: url(RESULTS_DLQ_URL)?,
            outcomes_topic_arn: topic(OUTCOMES_TOPIC_ARN)?,
            // Every function gets them: the results function appends to the feed and
            // publishes webhooks, the api and callbacks functions serve them.
            api: Some(ApiResources {
                feed_table: required(FEED_TABLE)?,
                clients_table: required(CLIENTS_TABLE)?,
                callbacks_queue_url: url(CALLBACKS_QUEUE_URL)?,
                callbacks_dlq_url: url(CALLBACKS_DLQ_URL)?,
            }),
        };
        let window_text = required(WINDOW)?;
        let window = match humantime::parse_duration(&window_text) {
            Ok(d) if !d.is_zero() => d,
            _ => {
                return Err(invalid(
                    WINDOW,
                    window_text,
                    "a positive duration such as `24h` or `90m`",
                ))
            }
        };
        let global_rate = match get(GLOBAL_RATE).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => match v.parse::<f64>() {
                Ok(r) if r.is_finite() && r > 0.0 => Some(r),
                _ => {
                    return Err(invalid(
                        GLOBAL_RATE,
                        v,
                        "a positive number of calls per second, or empty for no cap",
                    ))
                }
            },
        };
        let due_shards = match get(DUE_SHARDS).filter(|v| !v.is_empty()) {
            None => DEFAULT_DUE_SHARDS,
            Some(v) => match v.parse::<u16>() {
                Ok(n) if (1..=256).contains(&n) => n,
                _ => return Err(invalid(DUE_SHARDS, v, "a whole number from 1 to 256")),
            },
        };
        let max_attempts = match get(DEFAULT_MAX_ATTEMPTS).filter(|v| !v.is_empty()) {
            None => DEFAULT_ATTEMPTS,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        DEFAULT_MAX_ATTEMPTS,
                        v,
                        "a whole number of calls from 1 to 100",
                    ))
                }
            },
        };
        let provider_defaults = match get(DEFAULT_BASE_URL).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) if v.starts_with("https://") || v.starts_with("http://") => {
                Some(ProviderDefaults {
                    base_url: v,
                    max_attempts,
                })
            }
            Some(v) => {
                return Err(invalid(
                    DEFAULT_BASE_URL,
                    v,
                    "the internal API's http:// or https:// base URL, or empty",
                ))
            }
        };
        let log = get(LOG)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "info".to_owned());
        if tracing_subscriber::EnvFilter::try_new(&log).is_err() {
            return Err(invalid(
                LOG,
                log,
                "a tracing filter such as `info` or `pacer_core=debug,info`",
            ));
        }
        Ok(Self {
            resources,
            window,
            global_rate,
            due_shards,
            provider_defaults,
            log,
            webhook_secret_id: get(WEBHOOK_SECRET_ID).filter(|v| !v.is_empty()),
        })
    }
}

fn invalid(name: &'static str, value: String, expected: &'static str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value,
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn complete() -> HashMap<&'static str, String> {
        let q = |n: &str| format!("https://sqs.eu-west-1.amazonaws.com/123456789012/{n}");
        HashMap::from([
            (RECORDS_TABLE, "records".to_owned()),
            (ATTEMPTS_TABLE, "attempts".to_owned()),
            (RESULTS_TABLE, "results".to_owned()),
            (CONTROL_TABLE, "control".to_owned()),
            (DEAD_LETTERS_TABLE, "dead-letters".to_owned()),
            (WORK_QUEUE_URL, q("work.fifo")),
            (WORK_DLQ_URL, q("work-dead-letters.fifo")),
            (RESULTS_QUEUE_URL, q("results")),
            (RESULTS_DLQ_URL, q("results-dead-letters")),
            (
                OUTCOMES_TOPIC_ARN,
                "arn:aws:sns:eu-west-1:123456789012:outcomes".to_owned(),
            ),
            (FEED_TABLE, "feed".to_owned()),
            (CLIENTS_TABLE, "clients".to_owned()),
            (CALLBACKS_QUEUE_URL, q("callbacks")),
            (CALLBACKS_DLQ_URL, q("callbacks-dead-letters")),
            (WINDOW, "24h".to_owned()),
        ])
    }

    fn read(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn reads_every_variable_and_defaults_the_optional_ones() {
        let config = read(&complete()).expect("complete environment");
        assert_eq!(config.resources.work_queue_url, complete()[WORK_QUEUE_URL]);
        assert_eq!(config.resources.dead_letters_table, "dead-letters");
        assert_eq!(config.window, Duration::from_secs(24 * 3600));
        assert_eq!(config.global_rate, None);
        assert_eq!(config.due_shards, DEFAULT_DUE_SHARDS);
        assert_eq!(config.provider_defaults, None);
        assert_eq!(config.log, "info");
    }

    #[test]
    fn a_default_base_url_gives_unconfigured_providers_settings() {
        let mut vars = complete();
        vars.insert(DEFAULT_BASE_URL, "https://internal.example/api".into());
        assert_eq!(
            read(&vars).expect("valid").provider_defaults,
            Some(ProviderDefaults {
                base_url: "https://internal.example/api".into(),
                max_attempts: DEFAULT_ATTEMPTS,
            })
        );
        vars.insert(DEFAULT_MAX_ATTEMPTS, "3".into());
        assert_eq!(
            read(&vars)
                .expect("valid")
                .provider_defaults
                .map(|d| d.max_attempts),
            Some(3)
        );
        // Empty, as the template sets it when ApiBaseUrl is not given.
        vars.insert(DEFAULT_BASE_URL, String::new());
        assert_eq!(read(&vars).expect("valid").provider_defaults, None);
    }

    #[test]
    fn with_nothing_set_the_first_variable_is_named() {
        let err = Config::from_lookup(|_| None).expect_err("must fail");
        assert_eq!(err, ConfigError::Missing { name: ENV_VARS[0] });
    }

    #[test]
    fn reads_the_optional_variables_when_set() {
        let mut vars = complete();
        vars.insert(GLOBAL_RATE, "12.5".into());
        vars.insert(DUE_SHARDS, "32".into());
        vars.insert(LOG, "pacer_core=debug,info".into());
        vars.insert(WINDOW, "90m".into());
        let config = read(&vars).expect("valid environment");
        assert_eq!(config.global_rate, Some(12.5));
        assert_eq!(config.due_shards, 32);
        assert_eq!(config.log, "pacer_core=debug,info");
        assert_eq!(config.window, Duration::from_secs(90 * 60));
    }

    #[test]
    fn an_empty_global_rate_means_no_cap() {
        let mut vars = complete();
        vars.insert(GLOBAL_RATE, String::new());
        assert_eq!(read(&vars).expect("valid").global_rate, None);
    }

    #[test]
    fn a_missing_variable_is_named() {
        for name in ENV_VARS.iter().filter(|n| {
            ![
                GLOBAL_RATE,
                DUE_SHARDS,
                DEFAULT_BASE_URL,
                DEFAULT_MAX_ATTEMPTS,
                LOG,
            ]
            .contains(n)
        }) {
            let mut vars = complete();
            vars.remove(name);
            let err = read(&vars).expect_err("must fail");
            assert_eq!(err, ConfigError::Missing { name }, "{name}");
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn bad_values_are_named_with_what_is_expected() {
        for (name, value, hint) in [
            (WINDOW, "soon", "24h"),
            (WINDOW, "0s", "positive"),
            (GLOBAL_RATE, "-1", "positive"),
            (GLOBAL_RATE, "fast", "calls per second"),
            (DUE_SHARDS, "0", "1 to 256"),
            (DUE_SHARDS, "1000", "1 to 256"),
            (DEFAULT_BASE_URL, "internal.example", "http:// or https://"),
            (DEFAULT_MAX_ATTEMPTS, "0", "1 to 100"),
            (DEFAULT_MAX_ATTEMPTS, "many", "1 to 100"),
            (WORK_QUEUE_URL, "work.fifo", "queue URL"),
            (OUTCOMES_TOPIC_ARN, "outcomes", "ARN"),
            (LOG, "info,[", "tracing filter"),
        ] {
            let mut vars = complete();
            vars.insert(name, value.into());
            let err = read(&vars).expect_err("must fail").to_string();
            assert!(
                err.contains(name) && err.contains(value) && err.contains(hint),
                "{name}={value}: {err}"
            );
        }
    }

    #[test]
    fn env_vars_lists_each_name_once() {
        let mut names = ENV_VARS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ENV_VARS.len());
        assert!(ENV_VARS.iter().all(|n| n.starts_with("PACER_")));
    }
}
