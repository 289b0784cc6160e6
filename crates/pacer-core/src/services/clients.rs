//! Consumer applications: register one (a fresh bearer token, shown once, stored only
//! as its SHA-256), authenticate a request, revoke.

use crate::error::PortError;
use crate::ports::{ApiPorts, AppName, Client, Registration, TokenHash};
use rand::RngCore;

/// Prefix of every token, so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "pacer_";

/// A fresh random token: [`TOKEN_PREFIX`] then 32 random bytes in hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// Registration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The application is registered and active: revoke it first to issue a new token.
    #[error("application {0} is already registered; revoke it first to issue a new token")]
    AlreadyActive(AppName),
    /// The store failed.
    #[error("the store failed")]
    Port(#[from] PortError),
}

/// Registers `app` (or re-activates a revoked one) and returns its new token, which is
/// not stored anywhere: the caller shows it once.
pub async fn register(ports: &ApiPorts, app: &AppName) -> Result<String, RegisterError> {
    let token = new_token();
    match ports
        .clients
        .register(app, &TokenHash::of(&token), ports.clock.now())
        .await?
    {
        Registration::Registered => Ok(token),
        Registration::AlreadyActive => Err(RegisterError::AlreadyActive(app.clone())),
    }
}

/// Why a request is not authenticated. `status` gives the HTTP status to answer.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer <token>`.
    #[error("missing bearer token: send Authorization: Bearer <token>")]
    MissingToken,
    /// No `X-App-Name`, or not a valid name.
    #[error("missing or invalid X-App-Name header")]
    MissingApp,
    /// The token is unknown or revoked.
    #[error("the bearer token is not valid")]
    BadToken,
    /// The token is valid, but for another application.
    #[error("the bearer token does not belong to application {0}")]
    WrongApp(String),
    /// The store failed.
    #[error("the client directory failed")]
    Port(#[from] PortError),
}

impl AuthError {
    /// The HTTP status: 401 for missing or bad credentials, 403 for another app's token.
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingToken | Self::MissingApp | Self::BadToken => 401,
            Self::WrongApp(_) => 403,
            Self::Port(e) if e.is_retryable() => 503,
            Self::Port(_) => 500,
        }
    }
}

/// Authenticates a request from its `X-App-Name` and bearer token.
pub async fn authenticate(
    ports: &ApiPorts,
    app: Option<&str>,
    token: Option<&str>,
) -> Result<Client, AuthError> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::MissingToken)?;
    let app = app.ok_or(AuthError::MissingApp)?;
    let client = ports
        .clients
        .find_by_token(&TokenHash::of(token))
        .await?
        .filter(|c| c.revoked_at.is_none())
        .ok_or(AuthError::BadToken)?;
    if client.app.as_str() != app {
        return Err(AuthError::WrongApp(app.to_owned()));
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_long() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
    }

    #[test]
    fn another_apps_token_is_forbidden_and_the_rest_unauthorised() {
        assert_eq!(AuthError::WrongApp("a".into()).status(), 403);
        for e in [
            AuthError::MissingToken,
            AuthError::MissingApp,
            AuthError::BadToken,
        ] {
            assert_eq!(e.status(), 401);
        }
    }
}
