//! The webhook signing secret, read from AWS Secrets Manager once per cold start.
//!
//! The template names the secret (`PACER_WEBHOOK_SECRET_ID`) and grants
//! `secretsmanager:GetSecretValue` on it alone; its value never appears in the template,
//! the environment or the logs. Rotating it means updating the secret and letting the
//! callbacks function's execution environments recycle (or redeploying).

use aws_config::SdkConfig;
use pacer_core::webhook::WebhookSecret;

/// The secret could not be read. Each variant says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager refused or failed the call.
    #[error(
        "cannot read the webhook secret {id:?} from Secrets Manager; check that it exists \
         and that the function may call secretsmanager:GetSecretValue on it"
    )]
    Read {
        /// The secret's name or ARN.
        id: String,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The secret holds no string (a binary secret).
    #[error("the webhook secret {id:?} has no string value; store it as a plain string")]
    NotAString {
        /// The secret's name or ARN.
        id: String,
    },
    /// The value is too weak to sign with.
    #[error("the webhook secret {id:?} is unusable; store at least 16 random bytes")]
    Weak {
        /// The secret's name or ARN.
        id: String,
        /// How short it is.
        #[source]
        source: pacer_core::webhook::WeakSecret,
    },
}

/// Reads and checks the secret `id` (a name or ARN).
pub async fn webhook_secret(sdk: &SdkConfig, id: &str) -> Result<WebhookSecret, SecretError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let answer = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| SecretError::Read {
            id: id.to_owned(),
            source: Box::new(e),
        })?;
    let value = answer
        .secret_string()
        .ok_or_else(|| SecretError::NotAString { id: id.to_owned() })?;
    WebhookSecret::new(value.as_bytes()).map_err(|source| SecretError::Weak {
        id: id.to_owned(),
        source,
    })
}
