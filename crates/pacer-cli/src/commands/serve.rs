//! `pacer serve`: the HTTP API on the embedded backend, with the local runtime beside
//! it (records submitted over HTTP are called as soon as their provider's pacing
//! allows) and the webhook deliverer. Stops gracefully on Ctrl-C or SIGTERM.

use anyhow::Context as _;
use clap::Args;
use pacer_api::ApiState;
use pacer_core::callback_url::CallbackPolicy;
use pacer_core::ports::{ApiPorts, HostResolver};
use pacer_core::services::CallbackSettings;
use pacer_core::webhook::WebhookSecret;
use pacer_local::{CallbackWorker, ReqwestWebhookSender, Runtime, RuntimeConfig, SystemResolver};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `pacer serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// File holding the secret webhooks are signed with (at least 16 bytes).
    #[arg(long, conflicts_with = "webhook_secret")]
    pub webhook_secret_file: Option<PathBuf>,
    /// The webhook signing secret itself; prefer the environment variable or the file.
    #[arg(long, env = "PACER_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// For local testing only: accept http:// callback URLs and receivers on this
    /// machine's loopback address. Private, link-local and metadata addresses stay refused.
    #[arg(long)]
    pub allow_local_callbacks: bool,
    /// Provider batches processed at once (at least the number of busy providers).
    #[arg(long, default_value_t = 64)]
    pub workers: usize,
}

fn secret(args: &ServeArgs) -> anyhow::Result<WebhookSecret> {
    let bytes = match (&args.webhook_secret_file, &args.webhook_secret) {
        (Some(path), _) => std::fs::read(path)
            .with_context(|| format!("reading the webhook secret from {}", path.display()))?,
        (None, Some(text)) => text.as_bytes().to_vec(),
        (None, None) => anyhow::bail!(
            "`pacer serve` signs webhooks: pass --webhook-secret-file FILE or set \
             PACER_WEBHOOK_SECRET (e.g. `openssl rand -hex 32`)"
        ),
    };
    Ok(WebhookSecret::new(&bytes)?)
}

async fn stopped() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Runs the command until Ctrl-C or SIGTERM.
pub async fn run(ports: &ApiPorts, args: &ServeArgs) -> anyhow::Result<()> {
    let secret = secret(args)?;
    let policy = if args.allow_local_callbacks {
        eprintln!("warning: --allow-local-callbacks accepts http:// and loopback callback URLs; for local testing only");
        CallbackPolicy::LOCAL_TESTING
    } else {
        CallbackPolicy::STRICT
    };
    let resolver: Arc<dyn HostResolver> = Arc::new(SystemResolver);
    let sender = ReqwestWebhookSender::new(Arc::clone(&resolver), policy)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let config = RuntimeConfig {
        workers: args.workers,
        ..RuntimeConfig::default()
    };
    let mut runtime = Runtime::start(ports.core.clone(), config);
    runtime.deliver_callbacks(
        ports.clone(),
        CallbackWorker {
            sender: Arc::new(sender),
            secret,
            settings: CallbackSettings::default(),
            every: Duration::from_millis(500),
        },
    );
    let app = pacer_api::router(ApiState {
        ports: ports.clone(),
        resolver,
        policy,
    });
    eprintln!("pacer API listening on http://{address} (OpenAPI at /openapi.json)");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(stopped())
        .await;
    eprintln!("stopping: calls under way finish and are recorded");
    runtime.shutdown().await;
    served.context("the HTTP server failed")
}
