//! Child-process fixtures: the independent strict mock (tests/strict_mock.py) and the
//! exporter binary itself, for tests that need signals and restarts.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::Value;

pub const MOCK_KEY: &str = "st_strict_key";
pub const MOCK_SECRET: &str = "st_strict_secret_0123456789";

/// The strict mock process; killed on drop.
pub struct StrictMock {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for StrictMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl StrictMock {
    /// Starts the mock with an intents map (see tests/strict_mock.py for the forms).
    pub fn start(intents: &Value, sign_responses: bool) -> StrictMock {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("intents.json");
        std::fs::write(&path, intents.to_string()).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/strict_mock.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args([
                "--port",
                "0",
                "--api-key",
                MOCK_KEY,
                "--api-secret",
                MOCK_SECRET,
            ])
            .arg("--intents")
            .arg(&path)
            .stdout(Stdio::piped());
        if sign_responses {
            cmd.arg("--sign-responses");
        }
        let mut child = cmd.spawn().expect("python3 runs tests/strict_mock.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("unexpected mock output {line:?}"))
            .parse()
            .unwrap();
        StrictMock {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn stats(&self) -> Value {
        reqwest::get(format!("{}/-/stats", self.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A YAML config for one store pointing at the strict mock, polling every 300 ms.
pub fn mock_config_yaml(
    mock: &StrictMock,
    secret_file: &Path,
    extra: &str,
    intents: &[&str],
) -> String {
    mock_config_yaml_with(mock, secret_file, "300ms", "3s", extra, intents)
}

/// [`mock_config_yaml`] with another `poll_interval` and `request_timeout` (humantime).
pub fn mock_config_yaml_with(
    mock: &StrictMock,
    secret_file: &Path,
    poll_interval: &str,
    request_timeout: &str,
    extra: &str,
    intents: &[&str],
) -> String {
    let mut yaml = format!(
        "poll_interval: {poll_interval}\nrequest_timeout: {request_timeout}\n{extra}stores:\n  - name: main\n    base_url: {}\n    api_key: {MOCK_KEY}\n    api_secret_file: {}\n    max_requests_per_second: 100\n    intents:\n",
        mock.base_url(),
        secret_file.display()
    );
    for id in intents {
        yaml.push_str(&format!("      - {id}\n"));
    }
    yaml
}

/// The exporter binary as a child process, logging JSON; killed on drop.
pub struct ExporterProcess {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<String>>,
}

impl Drop for ExporterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ExporterProcess {
    /// Starts `allscale-exporter --config.file=CONFIG` on 127.0.0.1:0 plus `args`, and
    /// waits until it says where it listens.
    pub fn start(config: &Path, args: &[&str]) -> ExporterProcess {
        Self::start_in(None, config, args)
    }

    /// [`ExporterProcess::start`] with the child's current directory set to `dir`, so that
    /// `config` (and paths in it) may be relative.
    pub fn start_in(dir: Option<&Path>, config: &Path, args: &[&str]) -> ExporterProcess {
        let mut command = exporter_command(&[], config, args);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        Self::spawn(command)
    }

    /// [`ExporterProcess::start`] as the last arguments of `wrapper` (a command that
    /// runs its arguments, e.g. in another mount namespace).
    pub fn start_wrapped(wrapper: &[&str], config: &Path, args: &[&str]) -> ExporterProcess {
        Self::spawn(exporter_command(wrapper, config, args))
    }

    fn spawn(mut command: Command) -> ExporterProcess {
        let mut child = command
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let logs = Arc::new(Mutex::new(String::new()));
        let addr = loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!(
                    "exporter exited before listening:\n{}",
                    logs.lock().unwrap()
                );
            }
            logs.lock().unwrap().push_str(&line);
            if let Some(addr) = listening_address(&line) {
                break addr;
            }
        };
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            let mut rest = String::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                rest.push_str(&String::from_utf8_lossy(&buf[..n]));
                sink.lock().unwrap().push_str(&rest);
                rest.clear();
            }
        });
        ExporterProcess { child, addr, logs }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// A `kB` field of `/proc/<pid>/status` in bytes, e.g. `VmHWM` (peak resident set).
    pub fn proc_status_bytes(&self, field: &str) -> u64 {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {field} in {path}:\n{status}"));
        let kib: u64 = line
            .trim()
            .strip_suffix("kB")
            .unwrap_or_else(|| panic!("{field} is not in kB: {line:?}"))
            .trim()
            .parse()
            .unwrap();
        kib * 1024
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// The exit status if the process exits within `limit`, else None (still running).
    pub fn exit_within(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) {
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "exporter exited with {status}:\n{}",
            self.logs()
        );
    }

    /// SIGKILL: no chance to save anything.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// `allscale-exporter --config.file=CONFIG` on 127.0.0.1:0 with `args` (JSON logs unless
/// `args` set them), run by `wrapper` when one is given.
fn exporter_command(wrapper: &[&str], config: &Path, args: &[&str]) -> Command {
    let custom_logs = args.iter().any(|a| a.starts_with("--log."));
    let default_logs: &[&str] = if custom_logs {
        &[]
    } else {
        &["--log.format=json", "--log.level=info"]
    };
    let binary = env!("CARGO_BIN_EXE_allscale-exporter");
    let mut command = match wrapper.split_first() {
        None => Command::new(binary),
        Some((program, rest)) => {
            let mut command = Command::new(program);
            command.args(rest).arg(binary);
            command
        }
    };
    command
        .arg(format!("--config.file={}", config.display()))
        .arg("--web.listen-address=127.0.0.1:0")
        .args(default_logs)
        .args(args);
    command
}

/// Runs the exporter until it exits, for at most `limit` (then it is killed): its exit
/// status (`None` when it was still running) and what it wrote to stderr.
pub fn run_to_exit(
    config: &Path,
    args: &[&str],
    limit: std::time::Duration,
) -> (Option<std::process::ExitStatus>, String) {
    let mut child = exporter_command(&[], config, args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (status, reader.join().unwrap())
}

/// The address in the exporter's "exporter listening" log line, JSON or text.
fn listening_address(line: &str) -> Option<SocketAddr> {
    if let Ok(v) = serde_json::from_str::<Value>(line) {
        return (v["message"] == "exporter listening")
            .then(|| v["address"].as_str()?.parse().ok())?;
    }
    let rest = line.split("exporter listening").nth(1)?;
    rest.split_whitespace()
        .find_map(|w| w.strip_prefix("address="))
        .and_then(|a| a.parse().ok())
}

/// Writes `content` to `path` the way editors do: a temp file renamed over it.
pub fn rename_save(path: &Path, content: &str) {
    let tmp: PathBuf = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn finds_the_listening_address_in_text_and_json_logs() {
    let text = "2026-11-25T04:47:36.053835Z  INFO exporter listening address=127.0.0.1:32787\n";
    assert_eq!(
        listening_address(text),
        Some("127.0.0.1:32787".parse().unwrap())
    );
    let json = r#"{"timestamp":"x","level":"INFO","message":"exporter listening","address":"127.0.0.1:5"}"#;
    assert_eq!(
        listening_address(json),
        Some("127.0.0.1:5".parse().unwrap())
    );
    assert_eq!(listening_address("INFO config loaded"), None);
}
