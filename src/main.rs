//! Thin binary: parse flags, set up logging, hand over to the library.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;

use allscale_exporter::cli::{self, Cli, Command};
use allscale_exporter::clock::Clock;
use allscale_exporter::config::Config;
use allscale_exporter::demo;
use allscale_exporter::reload::ReloadOptions;
use allscale_exporter::replica::ReplicaName;
use allscale_exporter::replica::lease::LeaseSettings;
use allscale_exporter::server::Exporter;
use allscale_exporter::simulator::{Scenario, Simulator};

/// mimalloc rather than the system allocator: every poll allocates and frees small
/// request and response buffers, and glibc malloc was ~12 % of the CPU per poll at
/// 100k intents (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::CheckConfig { path }) = &cli.command {
        let (ok, text) = cli::check_config(path, cli.web_config_file.as_deref());
        if ok {
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        eprintln!("{text}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = cli::init_logging(&cli.log) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match runtime_for(cli.command.as_ref()) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The exporter runs on one thread: its work is light and mostly waiting, and one thread
/// avoids a cross-thread wake-up per request (heavy work such as rendering /metrics or
/// parsing a large config goes to the blocking pool). The simulator serves load and gets
/// a thread per core.
fn runtime_for(command: Option<&Command>) -> std::io::Result<tokio::runtime::Runtime> {
    match command {
        Some(Command::Simulate { .. } | Command::Demo { .. }) => {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
        }
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => run_exporter(&cli).await,
        Some(Command::Simulate {
            listen,
            scenario,
            webhook_url,
        }) => {
            let mut scenario = match scenario {
                Some(path) => Scenario::load(&path)?,
                None => demo::scenario(),
            };
            if let Some(url) = webhook_url {
                scenario = scenario.with_webhook_url(&url)?;
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| {
                    format!("cannot listen on {listen} (choose another with --listen)")
                })?;
            tracing::info!(address = %listener.local_addr()?, "simulator listening");
            Simulator::new(scenario)
                .serve(listener, cli::shutdown_signal())
                .await?;
            Ok(())
        }
        Some(Command::Demo { listen_address }) => {
            Ok(demo::run(listen_address, cli::shutdown_signal()).await?)
        }
        Some(Command::CheckConfig { .. }) => unreachable!("handled before the runtime starts"),
    }
}

async fn run_exporter(cli: &Cli) -> Result<()> {
    let Some(path) = &cli.config_file else {
        bail!("--config.file is required (see --help; try `allscale-exporter demo` for a tour)");
    };
    let config = Config::load(path)?;
    tracing::info!(config = %path.display(), summary = %config.summary(), shard = %cli.shard, "config loaded");
    let listener = tokio::net::TcpListener::bind(cli.listen_address)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (choose another with --web.listen-address)",
                cli.listen_address
            )
        })?;
    let options = ReloadOptions {
        config_path: Some(path.clone()),
        check_interval: cli.config_check_interval,
        watch_events: cli.config_watch,
        shard: cli.shard,
        web_config: cli.web_config_file.clone(),
        state_open_wait: cli.state_file_open_wait,
        clock: Clock::system(),
        replica: match &cli.replica_name {
            Some(name) => name.clone(),
            None if config.state_database.is_some() => {
                ReplicaName::of_host().map_err(anyhow::Error::msg)?
            }
            None => ReplicaName::default(),
        },
        lease: LeaseSettings::of(cli.replica_lease),
    };
    // Listening before the start, so that no signal is missed.
    let mut signals = cli::StopSignals::new().context("cannot listen for SIGTERM and SIGINT")?;
    let webhook_listener = match cli.webhook_listen_address {
        None => None,
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} (choose another with --webhook.listen-address)")
        })?),
    };
    let webhook_address = webhook_listener.as_ref().and_then(|l| l.local_addr().ok());
    let exporter = Exporter::start_with_listeners(
        config,
        listener,
        webhook_listener,
        options,
        cli.server_limits(),
    )
    .await?;
    tracing::info!(address = %exporter.local_addr(), "exporter listening");
    if let Some(address) = webhook_address {
        tracing::info!(%address, "webhook receiver listening");
    }
    let failure = tokio::select! {
        first = signals.recv() => {
            tracing::info!(signal = ?first, "shutting down: finishing in-flight requests (send the signal again to exit at once)");
            None
        }
        reason = exporter.failed() => Some(reason),
    };
    tokio::select! {
        () = exporter.shutdown() => {}
        second = signals.recv() => {
            tracing::warn!(signal = ?second, "second stop signal: exiting at once, without saving the state file");
            std::process::exit(second.exit_code())
        }
    }
    match failure {
        None => Ok(()),
        Some(reason) => bail!("{reason}"),
    }
}
