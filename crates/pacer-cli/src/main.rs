//! The `pacer` binary: parse, set up logging, dispatch. Exit codes: 0 ok, 1 error,
//! 2 bad usage (clap), 3 import finished with rejected lines.

use clap::Parser;
use pacer_cli::args::{Cli, Command, RecordsCommand};
use pacer_cli::{backend, commands, config::Config, demo};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Bench(args) = &cli.command {
        pacer_cli::bench::run(args).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Demo(args) = &cli.command {
        let db = if args.keep_db {
            if cli.db.exists() {
                anyhow::bail!(
                    "{} already exists; the demo seeds a fresh database: pick another --db",
                    cli.db.display()
                );
            }
            cli.db.clone()
        } else {
            std::env::temp_dir().join(format!("pacer-demo-{}.db", std::process::id()))
        };
        demo::run(db, args).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = cli.config.as_deref().map(Config::load).transpose()?;
    let (_db, ports) = backend::open(&cli.db, config.as_ref().and_then(|c| c.global_rate))?;
    if let Some(c) = &config {
        for p in &c.providers {
            ports.providers.put_provider(p).await?;
        }
    }
    match &cli.command {
        Command::Demo(_) | Command::Bench(_) => unreachable!("handled above"),
        Command::Run(args) => commands::run::run(&ports, config.as_ref(), args).await?,
        Command::Records(RecordsCommand::Import(args)) => {
            if !commands::import::run(&ports, args).await? {
                return Ok(ExitCode::from(3));
            }
        }
        Command::Records(RecordsCommand::Get(args)) => commands::records::get(&ports, args).await?,
        Command::Records(RecordsCommand::List(args)) => {
            commands::records::list(&ports, args).await?
        }
        Command::Trace(args) => commands::trace::run(&ports, args).await?,
        Command::Status(args) => commands::status::run(&ports, args).await?,
        Command::Plan(args) => commands::plan::run(&ports, config.as_ref(), args).await?,
        Command::Dlq(command) => commands::dlq::run(&ports, command).await?,
        Command::Schedule(args) => commands::schedule::run(&ports, args).await?,
        Command::Providers(command) => commands::providers::run(&ports, command).await?,
        Command::Serve(args) => commands::serve::run(&ports, args).await?,
        Command::Clients(command) => commands::clients::run(&ports, command).await?,
    }
    Ok(ExitCode::SUCCESS)
}
