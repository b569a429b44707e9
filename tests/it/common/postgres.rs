//! A throwaway PostgreSQL 15 (Debian's `postgresql` package) for the tests of the
//! `state_database`: initdb into a temporary directory as the `postgres` user, started on
//! a free port of 127.0.0.1 with `fsync=off`, one server per test binary (each test
//! takes a fresh database on it). A watchdog shell stops the server and removes its
//! directory once the test binary is gone, however it ended (statics are never dropped).
//! Without the binaries the tests skip, or fail in CI (`tools::available`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use allscale_exporter::config::{Config, StateDatabase};
use allscale_exporter::replica::ReplicaName;
use allscale_exporter::state::pg;
use allscale_exporter::state::store::Store;
use allscale_exporter::state::store::conformance::Fixture;

use super::tls::Ca;
use super::tools::available;

/// Where Debian's `postgresql-15` puts its programs (not on `PATH`).
pub const BIN: &str = "/usr/lib/postgresql/15/bin";

/// The shared server, once started.
pub struct Server {
    dir: PathBuf,
    pub port: u16,
    /// The CA of the server's certificate (for 127.0.0.1; TLS is on, and optional).
    pub ca_pem: String,
    /// Left running: it outlives this process on purpose.
    _watchdog: Child,
}

static SERVER: OnceLock<Option<Server>> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The server of this test binary, started by the first test that asks; `None` (the
/// test skips) without PostgreSQL installed, outside CI.
pub fn server() -> Option<&'static Server> {
    SERVER
        .get_or_init(|| {
            let tools = ["initdb", "pg_ctl", "postgres", "psql"].map(|t| format!("{BIN}/{t}"));
            let tools: Vec<&str> = tools.iter().map(String::as_str).collect();
            available(&tools, "the PostgreSQL state database").then(Server::start)
        })
        .as_ref()
}

/// Runs `command`, panicking with its output when it fails.
fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `program` of [`BIN`] run as the `postgres` user (initdb and the server refuse root).
fn as_postgres(program: &str) -> Command {
    let mut command = Command::new("runuser");
    command
        .args(["-u", "postgres", "--"])
        .arg(format!("{BIN}/{program}"));
    command
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("allscale-pg-")
            .tempdir()
            .unwrap()
            .keep();
        run(Command::new("chown").arg("postgres").arg(&dir));
        let data = dir.join("data");
        run(as_postgres("initdb").arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]));
        let port = free_port();
        let ca = Ca::new("throwaway PostgreSQL CA");
        ca.server("127.0.0.1").install(&dir, "server");
        run(Command::new("chown")
            .arg("postgres")
            .arg(dir.join("server.crt"))
            .arg(dir.join("server.key")));
        run(Command::new("chmod").arg("600").arg(dir.join("server.key")));
        let options = format!(
            "-k {dir} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c ssl=on \
             -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key",
            dir = dir.display()
        );
        run(as_postgres("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-w", "-o", &options, "start"]));
        let _watchdog = watchdog(&dir);
        Server {
            dir,
            port,
            ca_pem: ca.pem(),
            _watchdog,
        }
    }

    /// A fresh, empty database; its name.
    pub fn database(&self) -> String {
        let name = format!("t{}", DATABASES.fetch_add(1, Ordering::Relaxed));
        run(Command::new(format!("{BIN}/psql"))
            .arg("-h")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-q", "-c"])
            .arg(format!("CREATE DATABASE {name}")));
        name
    }

    /// SQL run on `database` as the superuser; the output, unaligned.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = Command::new(format!("{BIN}/psql"))
            .arg("-h")
            .arg(&self.dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The config block of `database` without TLS, the password in `password_file`
    /// (trust auth ignores it; the exporter requires one).
    pub fn yaml(&self, database: &str, password_file: &Path) -> String {
        self.yaml_with(database, "sslmode=disable", password_file)
    }

    /// [`Server::yaml`] with the URL's parameters `query`.
    fn yaml_with(&self, database: &str, query: &str, password_file: &Path) -> String {
        std::fs::write(password_file, "unused-password\n").unwrap();
        format!(
            "state_database:\n  url: postgres://postgres@127.0.0.1:{}/{database}?{query}\n  \
             password_file: {}\n",
            self.port,
            password_file.display()
        )
    }

    /// The `state_database` of `database` without TLS, parsed as a config gives it.
    pub fn state_database(&self, database: &str) -> StateDatabase {
        self.state_database_with(database, "sslmode=disable")
    }

    /// [`Server::state_database`] with the URL's parameters `query`.
    pub fn state_database_with(&self, database: &str, query: &str) -> StateDatabase {
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!(
            "{}stores:\n  - name: main\n    api_key: k\n    api_secret_env: S\n",
            self.yaml_with(database, query, &dir.path().join("password"))
        );
        let config = Config::parse(&yaml, dir.path(), &|_| Some("s".into())).unwrap();
        *config.state_database.unwrap()
    }
}

/// Stops the server and removes `dir` once this test binary has exited.
fn watchdog(dir: &Path) -> Child {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         runuser -u postgres -- {BIN}/pg_ctl -D '{dir}/data' -m immediate stop >/dev/null 2>&1; \
         rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    // In a session of its own: whatever ends this process's group leaves it running.
    Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh runs the watchdog")
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A fresh database for the storage conformance suite, opened as replica `test`.
pub struct PgFixture {
    db: StateDatabase,
}

impl PgFixture {
    /// `None` (the test skips) without PostgreSQL.
    pub fn new() -> Option<PgFixture> {
        let server = server()?;
        let db = server.state_database(&server.database());
        Some(PgFixture { db })
    }
}

fn replica() -> ReplicaName {
    "test".parse().unwrap()
}

impl Fixture for PgFixture {
    fn open(&self) -> Box<dyn Store> {
        pg::open(&self.db, &replica()).unwrap()
    }

    fn open_read_only(&self) -> Box<dyn Store> {
        Box::new(pg::open_read_only(&self.db, &replica()).unwrap())
    }
}
