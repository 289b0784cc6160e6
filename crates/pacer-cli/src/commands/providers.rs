//! `pacer providers list|show|set`.

use super::{cell, emit, table};
use crate::args::{Output, ProviderSetArgs, ProvidersCommand};
use anyhow::{bail, Context as _};
use pacer_core::ports::Ports;
use pacer_core::provider::ProviderSettings;
use pacer_core::ProviderId;
use serde_json::json;

fn provider_id(text: &str) -> anyhow::Result<ProviderId> {
    ProviderId::new(text).map_err(|e| anyhow::anyhow!("provider {text:?} {e}"))
}

fn render_list(d: &serde_json::Value) -> String {
    let mut t = table([
        "provider",
        "base_url",
        "timeout",
        "min_interval",
        "max_attempts",
        "backoff",
        "breaker",
    ]);
    for p in d.as_array().into_iter().flatten() {
        t.add_row([
            cell(&p["id"]),
            cell(&p["base_url"]),
            cell(&p["timeout"]),
            cell(&p["min_interval"]),
            cell(&p["max_attempts"]),
            format!("{}..{}", cell(&p["backoff_base"]), cell(&p["backoff_max"])),
            format!(
                "{} fails / {}",
                cell(&p["breaker_failures"]),
                cell(&p["breaker_cooldown"])
            ),
        ]);
    }
    t.to_string()
}

/// Runs a `providers` subcommand.
pub async fn run(ports: &Ports, command: &ProvidersCommand) -> anyhow::Result<()> {
    match command {
        ProvidersCommand::List { output } => {
            let doc = serde_json::to_value(ports.providers.list_providers().await?)?;
            emit(*output, &doc, render_list)
        }
        ProvidersCommand::Show { provider, output } => show(ports, provider, *output).await,
        ProvidersCommand::Set(args) => set(ports, args).await,
    }
}

async fn show(ports: &Ports, provider: &str, output: Output) -> anyhow::Result<()> {
    let id = provider_id(provider)?;
    let Some(settings) = ports.providers.get_provider(&id).await? else {
        bail!("no provider {provider:?} (see `pacer providers list`; add it with `providers set {provider} --base-url URL`)")
    };
    let lease = ports.leases.inspect(&id).await?;
    let doc = json!({ "settings": settings, "lease": lease });
    emit(output, &doc, |d| {
        let mut out = render_list(&json!([d["settings"]]));
        match d["lease"].as_object() {
            Some(l) => out.push_str(&format!(
                "\nlease token {} held by {} until {}; last call {}; breaker {}",
                cell(&l["token"]),
                if l["holder"].as_str().unwrap_or("").is_empty() {
                    "nobody".to_owned()
                } else {
                    cell(&l["holder"])
                },
                cell(&l["expires_at"]),
                cell(&l["last_call_started_at"]),
                cell(&l["breaker"]["state"])
            )),
            None => out.push_str("\nno calls made yet"),
        }
        out
    })
}

async fn set(ports: &Ports, args: &ProviderSetArgs) -> anyhow::Result<()> {
    let id = provider_id(&args.provider)?;
    let mut settings = match (ports.providers.get_provider(&id).await?, &args.base_url) {
        (Some(s), _) => s,
        (None, Some(url)) => ProviderSettings::with_defaults(id.clone(), url.clone()),
        (None, None) => bail!(
            "provider {:?} does not exist yet: pass --base-url to create it",
            args.provider
        ),
    };
    if let Some(url) = &args.base_url {
        let url = url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--base-url must be an http:// or https:// URL, not {url:?}");
        }
        settings.base_url = url.to_owned();
    }
    settings.min_interval = args.min_interval.unwrap_or(settings.min_interval);
    settings.timeout = args.timeout.unwrap_or(settings.timeout);
    settings.max_attempts = args.max_attempts.unwrap_or(settings.max_attempts);
    settings.expected_latency = args.expected_latency.or(settings.expected_latency);
    ports
        .providers
        .put_provider(&settings)
        .await
        .context("saving provider settings")?;
    println!("{}", render_list(&json!([settings])));
    println!(
        "saved: the next batch for {} uses these settings",
        args.provider
    );
    Ok(())
}
