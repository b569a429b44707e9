//! The outside programs some tests use (Debian packages; the README lists them with the one
//! `apt-get` line). In CI (`CI` set, as `.ci/run` runs) a missing one fails the test.
//! Elsewhere the test skips that part and says so on the terminal itself, beside the
//! test's `ok`, not on the captured output that only a failing test shows.

use std::io::Write as _;

/// What installs every tool below (after `apt-get update`).
pub const APT_GET: &str = "apt-get install -y prometheus prometheus-alertmanager jsonnet chromium kubernetes-client systemd postgresql";

/// Whether `tool` is an executable on `PATH`.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// True when every one of `tools` is installed. Otherwise fails in CI, and elsewhere
/// returns false after saying, uncaptured, which test skips `what` and why.
pub fn available(tools: &[&str], what: &str) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !on_path(t)).collect();
    if missing.is_empty() {
        return true;
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let msg = format!(
        "{test}: SKIPPED {what}: {} not installed ({APT_GET})",
        missing.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}; CI must have it");
    }
    // Straight to the process's stderr: libtest captures only `eprintln!`.
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
    false
}
