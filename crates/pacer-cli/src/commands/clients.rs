//! `pacer clients add|list|revoke`: the consumer applications of the HTTP API.

use super::{cell, emit, table};
use crate::args::Output;
use anyhow::Context as _;
use clap::Subcommand;
use pacer_core::ports::{ApiPorts, AppName};
use pacer_core::services::{self, RegisterError};

/// `pacer clients …`.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a consumer application and print its bearer token, once: pacer keeps
    /// only its SHA-256. The application sends it as `Authorization: Bearer <token>` with
    /// `X-App-Name: <app>`. A revoked application may be added again (new token).
    ///
    /// Example: `pacer --db pacer.db clients add billing`
    Add {
        /// Application name (letters, digits, . _ -).
        app: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Every application, with when it was added and revoked.
    ///
    /// Example: `pacer --db pacer.db clients list --output json`
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Revoke an application's token at once.
    ///
    /// Example: `pacer --db pacer.db clients revoke billing`
    Revoke {
        /// Application name.
        app: String,
    },
}

fn app_name(text: &str) -> anyhow::Result<AppName> {
    AppName::new(text).map_err(|e| anyhow::anyhow!("application name {text:?} {e}"))
}

/// Runs a `clients` subcommand.
pub async fn run(ports: &ApiPorts, command: &ClientsCommand) -> anyhow::Result<()> {
    match command {
        ClientsCommand::Add { app, output } => add(ports, &app_name(app)?, *output).await,
        ClientsCommand::List { output } => {
            let clients = ports.clients.list().await?;
            let doc = serde_json::to_value(&clients)?;
            emit(*output, &doc, |d| {
                let mut t = table(["app", "created_at", "revoked_at"]);
                for c in d.as_array().into_iter().flatten() {
                    t.add_row(["app", "created_at", "revoked_at"].map(|k| cell(&c[k])));
                }
                t.to_string()
            })
        }
        ClientsCommand::Revoke { app } => {
            let app = app_name(app)?;
            if ports.clients.revoke(&app, ports.clock.now()).await? {
                eprintln!("revoked {app}: its token no longer authenticates");
                Ok(())
            } else {
                anyhow::bail!("{app} is not an active application (see `pacer clients list`)")
            }
        }
    }
}

async fn add(ports: &ApiPorts, app: &AppName, output: Output) -> anyhow::Result<()> {
    let token = match services::register(ports, app).await {
        Ok(token) => token,
        Err(RegisterError::AlreadyActive(app)) => anyhow::bail!(
            "{app} is already registered; `pacer clients revoke {app}` first to issue a new token"
        ),
        Err(RegisterError::Port(e)) => return Err(e).context("registering the application"),
    };
    match output {
        Output::Json => println!("{}", serde_json::json!({"app": app, "token": token})),
        Output::Table => {
            println!("{token}");
            eprintln!(
                "registered {app}. The token above is shown once and stored only as a hash: \
                 send it as `Authorization: Bearer <token>` with `X-App-Name: {app}`."
            );
        }
    }
    Ok(())
}
