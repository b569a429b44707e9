//! Command line (Prometheus-style flags) and the commands it runs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::server::ServerLimits;
use crate::shard::Shard;
use crate::web::LiveWebConfig;

const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("ALLSCALE_GIT_REVISION"),
    ")"
);

/// Prometheus exporter for AllScale Checkout intents.
#[derive(Debug, Parser)]
#[command(name = "allscale-exporter", version = LONG_VERSION, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Path to the YAML config file (required to run the exporter).
    #[arg(long = "config.file", value_name = "PATH")]
    pub config_file: Option<PathBuf>,

    /// Address to serve /metrics and the other routes on.
    #[arg(
        long = "web.listen-address",
        value_name = "ADDR",
        default_value = "0.0.0.0:9864"
    )]
    pub listen_address: SocketAddr,

    /// Serve the webhook receiver (and /healthz) on this address instead of the main one,
    /// so it can face the internet while /metrics does not.
    #[arg(long = "webhook.listen-address", value_name = "ADDR")]
    pub webhook_listen_address: Option<SocketAddr>,

    /// TLS and basic-auth settings for the HTTP server, in the Prometheus exporter-toolkit
    /// format; re-read when it or a certificate changes. `check-config` validates it too.
    #[arg(long = "web.config.file", value_name = "PATH", global = true)]
    pub web_config_file: Option<PathBuf>,

    /// A request head, and a new connection's first byte, must arrive within this; on
    /// HTTP/1.1 it also bounds how long a kept-alive connection waits for its next request.
    #[arg(long = "web.read-header-timeout", value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    pub web_read_header_timeout: Duration,

    /// A request body must arrive whole within this of its head (a webhook, a
    /// registration); a late one is answered 408 and its connection closed.
    #[arg(long = "web.read-body-timeout", value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    pub web_read_body_timeout: Duration,

    /// Close a connection on which no byte moved either way for this long (an idle
    /// HTTP/2 connection, a client that stopped reading its answer).
    #[arg(long = "web.idle-timeout", value_name = "DURATION", default_value = "60s", value_parser = positive_duration)]
    pub web_idle_timeout: Duration,

    /// Connections served at once (the file descriptors beyond stay for the pollers and
    /// the state file). At the cap a newcomer takes the slot of the connection that never
    /// sent a request, or has been idle longest; it is refused only when every connection
    /// is mid-request.
    #[arg(long = "web.max-connections", value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub web_max_connections: u32,

    /// Connections one IP address may hold at once; past it, that address's own idle
    /// connection makes room. 0: no cap of its own (behind a proxy every client may share
    /// its address).
    #[arg(
        long = "web.max-connections-per-ip",
        value_name = "N",
        default_value_t = 64
    )]
    pub web_max_connections_per_ip: u32,

    /// How often to compare the config file's checksum, as a fallback where file events
    /// are lost (NFS, some container runtimes); 0s turns it off.
    #[arg(long = "config.check-interval", value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub config_check_interval: std::time::Duration,

    /// Poll only shard K of N of every store's intents (0 <= K < N), by a stable hash of
    /// the intent id; run N replicas with the same config to split the load.
    #[arg(long = "shard", value_name = "K/N", default_value = "0/1")]
    pub shard: Shard,

    /// Watch the config file's directory for changes (rename-saves, ConfigMap swaps).
    #[arg(long = "config.watch", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub config_watch: bool,

    /// How long the start waits for a state database that another process holds locked,
    /// or that fails for a transient reason (I/O, memory, file descriptors), before the
    /// exporter exits non-zero; such a file is never moved aside.
    #[arg(long = "state-file.open-wait", value_name = "DURATION", default_value = "20s", value_parser = humantime::parse_duration)]
    pub state_file_open_wait: Duration,

    /// This replica's name in a `state_database` shared by several: a replica restarted
    /// under the same name continues its own counters (default: the host name).
    #[arg(long = "replica.name", value_name = "NAME")]
    pub replica_name: Option<crate::replica::ReplicaName>,

    /// How long a replica's lease on its part of the work runs unless renewed (renewed
    /// every third of it): a replica that dies loses its part to the others within it.
    #[arg(long = "replica.lease-duration", value_name = "DURATION", default_value = "15s", value_parser = lease_duration)]
    pub replica_lease: Duration,

    #[command(flatten)]
    pub log: LogArgs,
}

impl Cli {
    /// The `--web.*` limits of the exporter's own HTTP server.
    pub fn server_limits(&self) -> ServerLimits {
        ServerLimits {
            read_header_timeout: self.web_read_header_timeout,
            read_body_timeout: self.web_read_body_timeout,
            idle_timeout: self.web_idle_timeout,
            max_connections: self.web_max_connections as usize,
            max_connections_per_ip: self.web_max_connections_per_ip as usize,
        }
    }
}

/// A humantime duration above zero (a zero timeout would close every connection).
/// A lease of 3 s to 10 min: shorter leaves no room for a round trip and the margin.
fn lease_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if (Duration::from_secs(3)..=Duration::from_secs(600)).contains(&d) {
        Ok(d)
    } else {
        Err("must be between 3s and 10m".into())
    }
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(Duration::ZERO) => Err("must be above zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log level filter: error, warn, info, debug, trace (or a tracing directive).
    #[arg(
        long = "log.level",
        value_name = "LEVEL",
        default_value = "info",
        global = true
    )]
    pub level: String,

    /// Log output format.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a config file; list every problem and exit 1, or print a summary and exit 0.
    CheckConfig {
        /// The config file to check.
        path: PathBuf,
    },
    /// Run the built-in AllScale API simulator.
    Simulate {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// Scenario file (YAML); without it, the demo scenario is served.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// Where to POST confirmation webhooks (http://), overriding the scenario's
        /// `webhook.url`, e.g. http://127.0.0.1:9864/webhooks/allscale.
        #[arg(long = "webhook.url", value_name = "URL")]
        webhook_url: Option<String>,
    },
    /// Start the simulator and the exporter together on loopback, with no credentials.
    Demo {
        /// Address for the exporter.
        #[arg(
            long = "web.listen-address",
            value_name = "ADDR",
            default_value = "127.0.0.1:9864"
        )]
        listen_address: SocketAddr,
    },
}

/// `check-config`: the exit code and what to print, for the config and, when given, the
/// web config (with the certificate and key files it names).
pub fn check_config(path: &Path, web_config: Option<&Path>) -> (bool, String) {
    let (mut ok, mut text) = match Config::load(path) {
        Ok(config) => match config.state_file.as_deref().and_then(state_file_problem) {
            None => (
                true,
                format!("{}: OK ({})", path.display(), config.summary()),
            ),
            Some(problem) => (false, format!("{}: {problem}", path.display())),
        },
        Err(e) => (false, format!("{}: {e}", path.display())),
    };
    if let Some(web) = web_config {
        match LiveWebConfig::load(web) {
            Ok(_) => text.push_str(&format!("\n{}: OK", web.display())),
            Err(e) => {
                ok = false;
                text.push_str(&format!("\n{e}"));
            }
        }
    }
    (ok, text)
}

/// Why the exporter could not create its state database at `path`, run here: the
/// exporter itself starts anyway (a volume may be mounted late) and retries, but saves
/// nothing until then, which `check-config` should say before a deploy. An existing file
/// is the exporter's to judge at start (it may be restored read-only).
fn state_file_problem(path: &Path) -> Option<String> {
    if path.exists() {
        return None;
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Some(format!(
            "state_file {}: the directory {} does not exist; create it (or mount the volume) before starting, or the exporter saves nothing",
            path.display(),
            dir.display()
        ));
    }
    crate::state::persist::probe_beside(path).err().map(|e| {
        format!(
            "state_file {}: cannot create a file in {}: {e}",
            path.display(),
            dir.display()
        )
    })
}

/// Sets up tracing as the flags say; logs go to stderr.
pub fn init_logging(args: &LogArgs) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.level)
        .map_err(|e| format!("invalid --log.level {:?}: {e}", args.level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match args.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    }
    .map_err(|e| format!("cannot set up logging: {e}"))
}

/// A stop request: SIGTERM or SIGINT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Terminate,
    Interrupt,
}

impl StopSignal {
    /// The shell's convention for death by this signal: 128 + its number.
    pub fn exit_code(self) -> i32 {
        match self {
            StopSignal::Terminate => 143,
            StopSignal::Interrupt => 130,
        }
    }
}

/// SIGTERM and SIGINT, listened to from creation on: a second one sent while the first
/// is being handled is seen (tokio never restores the default action, so an unheard
/// signal would be swallowed).
pub struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next stop signal.
    pub async fn recv(&mut self) -> StopSignal {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => StopSignal::Terminate,
            _ = self.int.recv() => StopSignal::Interrupt,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            StopSignal::Interrupt
        }
    }
}

/// Resolves when SIGTERM or SIGINT arrives.
pub async fn shutdown_signal() {
    match StopSignals::new() {
        Ok(mut signals) => {
            signals.recv().await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM and SIGINT");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_style_flags() {
        let cli = Cli::try_parse_from([
            "allscale-exporter",
            "--config.file=/etc/a.yaml",
            "--web.listen-address=127.0.0.1:1234",
            "--log.format=json",
        ])
        .unwrap();
        assert_eq!(cli.config_file, Some(PathBuf::from("/etc/a.yaml")));
        assert_eq!(cli.listen_address, "127.0.0.1:1234".parse().unwrap());
        assert_eq!(cli.log.format, LogFormat::Json);
        assert!(cli.command.is_none());
        assert_eq!(
            cli.config_check_interval,
            std::time::Duration::from_secs(30)
        );
        assert!(cli.config_watch);
        assert_eq!(cli.shard, Shard::ALL);
        assert_eq!(cli.web_config_file, None);
        assert_eq!(cli.server_limits(), ServerLimits::default());
        let cli = Cli::try_parse_from([
            "allscale-exporter",
            "--web.config.file=web.yml",
            "--config.check-interval=500ms",
            "--config.watch=false",
            "--shard=1/3",
        ])
        .unwrap();
        assert_eq!(
            cli.config_check_interval,
            std::time::Duration::from_millis(500)
        );
        assert!(!cli.config_watch);
        assert_eq!(cli.web_config_file, Some(PathBuf::from("web.yml")));
        assert_eq!(cli.shard, Shard { index: 1, count: 3 });
        assert!(Cli::try_parse_from(["x", "--shard=3/3"]).is_err());
        let cli = Cli::try_parse_from([
            "x",
            "--web.read-header-timeout=2s",
            "--web.idle-timeout=500ms",
            "--web.max-connections=3",
            "--web.max-connections-per-ip=2",
            "--web.read-body-timeout=3s",
        ])
        .unwrap();
        let limits = cli.server_limits();
        assert_eq!(
            limits.read_header_timeout,
            std::time::Duration::from_secs(2)
        );
        assert_eq!(limits.idle_timeout, std::time::Duration::from_millis(500));
        assert_eq!(limits.max_connections, 3);
        assert_eq!(limits.max_connections_per_ip, 2);
        assert_eq!(limits.read_body_timeout, std::time::Duration::from_secs(3));
        let defaults = Cli::try_parse_from(["x"]).unwrap().server_limits();
        assert_eq!(defaults, ServerLimits::default());
        for zero in [
            "--web.idle-timeout=0s",
            "--web.max-connections=0",
            "--web.read-body-timeout=0s",
        ] {
            assert!(Cli::try_parse_from(["x", zero]).is_err(), "{zero}");
        }
    }

    #[test]
    fn parses_subcommands() {
        let cli = Cli::try_parse_from(["x", "check-config", "c.yaml"]).unwrap();
        assert!(matches!(cli.command, Some(Command::CheckConfig { .. })));
        let args = ["x", "check-config", "c.yaml", "--web.config.file=w.yml"];
        let cli = Cli::try_parse_from(args).unwrap();
        assert_eq!(cli.web_config_file, Some(PathBuf::from("w.yml")));
        let cli = Cli::try_parse_from(["x", "demo", "--log.level=debug"]).unwrap();
        assert_eq!(cli.log.level, "debug");
        match cli.command {
            Some(Command::Demo { listen_address }) => {
                assert_eq!(listen_address, "127.0.0.1:9864".parse().unwrap())
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Cli::try_parse_from(["x"]).unwrap().listen_address,
            "0.0.0.0:9864".parse().unwrap()
        );
    }
}
