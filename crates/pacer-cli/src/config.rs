//! The TOML configuration file: the window, defaults, and the providers.
//!
//! ```toml
//! [window]
//! length = "24h"            # overridden by --window
//! [defaults]
//! timeout = "10s"
//! min_interval = "0s"
//! max_attempts = 8
//! backoff_base = "1s"
//! backoff_max = "15m"
//! global_rate = 50          # calls per second across all providers (optional)
//! [providers.acme]
//! base_url = "https://internal.example/acme"
//! min_interval = "500ms"    # any [defaults] key may be overridden per provider
//! ```

use pacer_core::provider::ProviderSettings;
use pacer_core::ProviderId;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A configuration that could not be used, naming the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, or a value of the wrong type (the message points at it).
    #[error("config file {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line, column and key.
        #[source]
        source: toml::de::Error,
    },
    /// A value parsed but makes no sense.
    #[error("config file {path}: {field}: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// Dotted key, e.g. `providers.acme.base_url`.
        field: String,
        /// What is wrong.
        problem: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    window: WindowSection,
    #[serde(default)]
    defaults: Knobs,
    #[serde(default)]
    providers: BTreeMap<String, ProviderSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowSection {
    #[serde(default, with = "humantime_serde")]
    length: Option<Duration>,
}

/// Keys allowed in `[defaults]` and in each provider (which adds `base_url`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Knobs {
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    min_interval: Option<Duration>,
    max_attempts: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    backoff_base: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    backoff_max: Option<Duration>,
    breaker_failures: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    breaker_cooldown: Option<Duration>,
    global_rate: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderSection {
    base_url: String,
    #[serde(flatten)]
    knobs: Knobs,
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Window length, if the file sets one.
    pub window: Option<Duration>,
    /// Global calls-per-second cap.
    pub global_rate: Option<f64>,
    /// Every provider, fully resolved.
    pub providers: Vec<ProviderSettings>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: name.clone(),
            source,
        })?;
        Self::parse(&text, &name)
    }

    /// Parses and validates config text; `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<Self, ConfigError> {
        let file: File = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: name.to_owned(),
            source,
        })?;
        let invalid = |field: String, problem: &str| ConfigError::Invalid {
            path: name.to_owned(),
            field,
            problem: problem.to_owned(),
        };
        if let Some(rate) = file.defaults.global_rate {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(invalid(
                    "defaults.global_rate".into(),
                    "must be a positive number of calls per second",
                ));
            }
        }
        let mut providers = Vec::new();
        for (key, section) in &file.providers {
            if section.knobs.global_rate.is_some() {
                return Err(invalid(
                    format!("providers.{key}.global_rate"),
                    "is global; set it in [defaults]",
                ));
            }
            let id = ProviderId::new(key.clone())
                .map_err(|e| invalid(format!("providers.{key}"), &e.to_string()))?;
            let url = section.base_url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 9 {
                return Err(invalid(
                    format!("providers.{key}.base_url"),
                    "must be an http:// or https:// URL",
                ));
            }
            let k = |f: fn(&Knobs) -> Option<Duration>| f(&section.knobs).or(f(&file.defaults));
            let mut p = ProviderSettings::with_defaults(id, url);
            p.timeout = k(|k| k.timeout).unwrap_or(p.timeout);
            p.min_interval = k(|k| k.min_interval).unwrap_or(p.min_interval);
            p.backoff_base = k(|k| k.backoff_base).unwrap_or(p.backoff_base);
            p.backoff_max = k(|k| k.backoff_max).unwrap_or(p.backoff_max);
            p.breaker_cooldown = k(|k| k.breaker_cooldown).unwrap_or(p.breaker_cooldown);
            p.max_attempts = section
                .knobs
                .max_attempts
                .or(file.defaults.max_attempts)
                .unwrap_or(p.max_attempts);
            p.breaker_failures = section
                .knobs
                .breaker_failures
                .or(file.defaults.breaker_failures)
                .unwrap_or(p.breaker_failures);
            let at = |field: &str| {
                if section.knobs.timeout.is_some() && field == "timeout"
                    || section.knobs.max_attempts.is_some() && field == "max_attempts"
                {
                    format!("providers.{key}.{field}")
                } else {
                    format!("defaults.{field} (for provider {key})")
                }
            };
            if p.timeout.is_zero() {
                return Err(invalid(at("timeout"), "must be greater than zero"));
            }
            if p.max_attempts == 0 {
                return Err(invalid(at("max_attempts"), "must be at least 1"));
            }
            if p.backoff_base > p.backoff_max {
                return Err(invalid(
                    format!("providers.{key}.backoff_base"),
                    "must not exceed backoff_max",
                ));
            }
            providers.push(p);
        }
        Ok(Self {
            window: file.window.length,
            global_rate: file.defaults.global_rate,
            providers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[window]
length = "24h"
[defaults]
timeout = "10s"
min_interval = "0s"
max_attempts = 8
backoff_base = "1s"
backoff_max = "15m"
global_rate = 50
[providers.acme]
base_url = "https://internal.example/acme"
min_interval = "500ms"
[providers.beta]
base_url = "http://127.0.0.1:9/beta"
max_attempts = 3
"#;

    #[test]
    fn reads_the_documented_example_with_per_provider_overrides() {
        let c = Config::parse(SAMPLE, "pacer.toml").unwrap();
        assert_eq!(c.window, Some(Duration::from_secs(86_400)));
        assert_eq!(c.global_rate, Some(50.0));
        let acme = &c.providers[0];
        assert_eq!(
            (acme.id.as_str(), acme.min_interval, acme.max_attempts),
            ("acme", Duration::from_millis(500), 8)
        );
        assert_eq!(
            (c.providers[1].min_interval, c.providers[1].max_attempts),
            (Duration::ZERO, 3)
        );
        assert_eq!(acme.backoff_max, Duration::from_secs(900));
    }

    #[test]
    fn every_default_reaches_the_providers_unless_overridden() {
        // Values unlike the built-in ones, so a default that is dropped shows.
        let c = Config::parse(
            "[defaults]\ntimeout = \"3s\"\nmin_interval = \"250ms\"\nmax_attempts = 4\n\
             backoff_base = \"2s\"\nbackoff_max = \"1m\"\n\
             [providers.a]\nbase_url = \"http://x/a\"\n\
             [providers.b]\nbase_url = \"http://x/b\"\ntimeout = \"4s\"\nbackoff_base = \"5s\"\n",
            "c.toml",
        )
        .unwrap();
        let (a, b) = (&c.providers[0], &c.providers[1]);
        assert_eq!(
            (
                a.timeout,
                a.min_interval,
                a.max_attempts,
                a.backoff_base,
                a.backoff_max
            ),
            (
                Duration::from_secs(3),
                Duration::from_millis(250),
                4,
                Duration::from_secs(2),
                Duration::from_secs(60)
            )
        );
        assert_eq!(
            (b.timeout, b.backoff_base, b.min_interval),
            (
                Duration::from_secs(4),
                Duration::from_secs(5),
                Duration::from_millis(250)
            )
        );
    }

    #[test]
    fn bad_durations_name_the_key() {
        let e = Config::parse("[defaults]\ntimeout = \"10 parsecs\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("timeout") && e.contains("c.toml"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = Config::parse("[defaults]\ntimout = \"1s\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("timout"), "{e}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        let e = Config::parse("[providers.a]\nbase_url = \"ftp://x\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("providers.a.base_url"), "{e}");
        let e = Config::parse(
            "[providers.a]\nbase_url = \"http://x/y\"\nmax_attempts = 0\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("providers.a.max_attempts"), "{e}");
        let e = Config::parse("[providers.\"a b\"]\nbase_url = \"http://x/y\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("providers.a b"), "{e}");
        let e = Config::parse("[defaults]\nglobal_rate = -1\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("defaults.global_rate"), "{e}");
    }
}
