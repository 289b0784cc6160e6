//! The `pacer` binary: parse, set up logging, dispatch. Exit codes: 0 ok, 1 error,
//! 2 bad usage (clap, or a missing AWS resource name), 3 import finished with rejected
//! lines.

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use pacer_cli::args::{Backend, Cli, Command, RecordsCommand};
use pacer_cli::aws::{AwsTarget, UsageError};
use pacer_cli::{backend, commands, config::Config, demo};
use pacer_core::ports::{ApiPorts, Ports};
use std::process::ExitCode;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // `--db` has a default, so clap cannot tell a given one from the default by itself.
    let db_given = matches!(
        matches.value_source("db"),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    );
    if cli.backend == Backend::Aws && db_given {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--db (or PACER_DB) is for the embedded backend and cannot be used with \
                 --backend aws; drop --db, or drop --backend aws to use the database",
            )
            .exit();
    }
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
    match runtime.block_on(dispatch(cli, db_given)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The opened backend: the embedded database with the HTTP API ports, or a deployed stack.
enum Opened {
    /// The database handle is kept open while the commands run.
    Embedded {
        _db: pacer_embedded::Embedded,
        api: ApiPorts,
    },
    /// Boxed: the SDK configuration and names are large next to the embedded handle. The
    /// HTTP API's ports are there when the stack has the API's tables and queues.
    Aws(
        Ports,
        Box<(aws_config::SdkConfig, AwsTarget, Option<ApiPorts>)>,
    ),
}

impl Opened {
    fn ports(&self) -> &Ports {
        match self {
            Opened::Embedded { api, .. } => api,
            Opened::Aws(ports, ..) => ports,
        }
    }

    /// The HTTP API ports.
    fn api(&self, command: &str) -> anyhow::Result<&ApiPorts> {
        match self {
            Opened::Embedded { api, .. } => Ok(api),
            Opened::Aws(_, aws) => aws.2.as_ref().ok_or_else(|| {
                anyhow::anyhow!(
                    "`pacer {command}` needs the HTTP API's tables and queues: pass --stack \
                     NAME of a stack that has them, or --feed-table, --clients-table, \
                     --callbacks-queue-url and --callbacks-dlq-url"
                )
            }),
        }
    }
}

/// Removes an embedded database file with its WAL and shared-memory files; a file that is
/// already gone is not an error.
fn remove_database(db: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
}

/// Why a command cannot run on AWS, and what to do instead.
fn embedded_only(command: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`pacer {command}` works on the embedded backend only (on AWS the `api` Lambda \
         function serves the HTTP API); run it with --db FILE"
    )
}

/// Why `pacer run` refuses `--backend aws`, and what to do instead. The local runtime
/// would compete with the deployed functions for the work queue and plan with the local
/// config's window, not the stack's.
const RUN_ON_AWS: &str = "`pacer run` is the local runtime of the embedded backend (--db FILE); \
     on --backend aws the deployed functions run the pipeline (the dispatcher plans daily and \
     releases every minute, the worker and results functions follow their queues). Use \
     `pacer plan` to plan now, `pacer schedule run-now` to release what is due, \
     `pacer schedule pause|resume` to stop or restart, and `pacer status` to watch";

async fn dispatch(cli: Cli, db_given: bool) -> anyhow::Result<ExitCode> {
    if let Command::Bench(args) = &cli.command {
        pacer_cli::bench::run(args).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Demo(args) = &cli.command {
        // A database named with --db is the user's to inspect afterwards; without one the
        // demo works on a temporary file and leaves nothing behind.
        if db_given {
            if cli.db.exists() {
                anyhow::bail!(
                    "{} already exists; the demo seeds a fresh database: pick another --db",
                    cli.db.display()
                );
            }
            demo::run(cli.db.clone(), args).await?;
            let db = cli.db.display();
            println!("database: {db} (try `pacer --db {db} status` or `pacer --db {db} trace ID`)");
        } else {
            let db = std::env::temp_dir().join(format!("pacer-demo-{}.db", std::process::id()));
            let ran = demo::run(db.clone(), args).await;
            remove_database(&db);
            ran?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = cli.config.as_deref().map(Config::load).transpose()?;
    if cli.backend == Backend::Aws {
        // Say so before resolving names or touching AWS.
        match &cli.command {
            Command::Serve(_) => return Err(embedded_only("serve")),
            Command::Run(_) => return Err(UsageError(RUN_ON_AWS.into()).into()),
            _ => {}
        }
    }
    let global_rate = config.as_ref().and_then(|c| c.global_rate);
    let opened = match cli.backend {
        Backend::Embedded => {
            let (db, api) = backend::open(&cli.db, global_rate)?;
            Opened::Embedded { _db: db, api }
        }
        Backend::Aws => {
            let sdk = pacer_aws::load_sdk_config().await;
            let target = cli.aws.resolve(&sdk).await?;
            let (ports, api) = backend::open_aws(&sdk, &target, global_rate)?;
            Opened::Aws(ports, Box::new((sdk, target, api)))
        }
    };
    let ports = opened.ports();
    if let Some(c) = &config {
        for p in &c.providers {
            ports.providers.put_provider(p).await?;
        }
    }
    match &cli.command {
        Command::Demo(_) | Command::Bench(_) => unreachable!("handled above"),
        Command::Run(args) => commands::run::run(ports, config.as_ref(), args).await?,
        Command::Records(RecordsCommand::Import(args)) => {
            if !commands::import::run(ports, args).await? {
                return Ok(ExitCode::from(3));
            }
        }
        Command::Records(RecordsCommand::Get(args)) => commands::records::get(ports, args).await?,
        Command::Records(RecordsCommand::List(args)) => {
            commands::records::list(ports, args).await?
        }
        Command::Trace(args) => commands::trace::run(ports, args).await?,
        Command::Status(args) => match &opened {
            Opened::Aws(_, aws) => {
                let mut doc = commands::status::status_json(ports).await?;
                if let Some(paused) = commands::schedule_aws::paused(&aws.0, &aws.1).await? {
                    doc["schedule_paused"] = paused.into();
                }
                commands::status::print(&doc, args)?
            }
            Opened::Embedded { .. } => commands::status::run(ports, args).await?,
        },
        Command::Plan(args) => commands::plan::run(ports, config.as_ref(), args).await?,
        Command::Dlq(command) => commands::dlq::run(ports, command).await?,
        Command::Schedule(args) => match &opened {
            Opened::Aws(_, aws) => commands::schedule_aws::run(ports, &aws.0, &aws.1, args).await?,
            Opened::Embedded { .. } => commands::schedule::run(ports, args).await?,
        },
        Command::Providers(command) => commands::providers::run(ports, command).await?,
        Command::Serve(args) => commands::serve::run(opened.api("serve")?, args).await?,
        Command::Clients(command) => {
            commands::clients::run(opened.api("clients")?, command).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}
