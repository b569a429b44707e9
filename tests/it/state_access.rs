//! Who may use the state database, with the real binary and real files (issue #21): a
//! database another process holds is waited for and never moved aside, a second
//! exporter on one file refuses to start, a database that can only be read is restored
//! and not written, and only a corrupt file is still moved aside.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::processes::{ExporterProcess, MOCK_SECRET, StrictMock, mock_config_yaml, run_to_exit};
use common::{scrape, wait_for};
use serde_json::json;

const CONFIRMED: &str = "67000000000000000000001a";
const STAYS: &str = "67000000000000000000001c";
/// Confirmed at once, watched only from the second start on.
const NEW: &str = "67000000000000000000001e";
/// The start gives up on a locked database after this.
const OPEN_WAIT: &str = "--state-file.open-wait=1s";
/// Generous: the wait above, plus SQLite's busy timeout per try, plus a slow machine.
const EXIT_WITHIN: Duration = Duration::from_secs(30);

/// A temp dir with the mock's secret and `state/state.db` in it.
struct Files {
    dir: tempfile::TempDir,
    state_file: PathBuf,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), MOCK_SECRET).unwrap();
        let state_file = dir.path().join("state").join("state.db");
        std::fs::create_dir(state_file.parent().unwrap()).unwrap();
        Files { dir, state_file }
    }

    /// A config watching `intents` with the state file; returns its path.
    fn config(&self, mock: &StrictMock, intents: &[&str]) -> PathBuf {
        let extra = format!("state_file: {}\n", self.state_file.display());
        let config = self.dir.path().join("config.yaml");
        let secret = self.dir.path().join("secret");
        std::fs::write(&config, mock_config_yaml(mock, &secret, &extra, intents)).unwrap();
        config
    }

    fn state_dir(&self) -> &Path {
        self.state_file.parent().unwrap()
    }

    /// The names in the state file's directory.
    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.state_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// Runs an exporter until CONFIRMED's outcome is saved, then stops it: a good database
/// with a counter and a finished intent.
async fn saved_database(files: &Files, mock: &StrictMock) {
    let exporter = ExporterProcess::start(&files.config(mock, &[CONFIRMED, STAYS]), &[]);
    wait_for(Duration::from_secs(10), "the outcome saved", || async {
        let m = scrape(exporter.addr).await;
        (m.outcome("confirmed") == 1.0).then_some(())
    })
    .await;
    exporter.terminate();
    let saved = common::statedb::saved_counter(&files.state_file, "main", "outcome", "confirmed");
    assert_eq!(saved, Some(1));
}

/// A database another process holds (an `sqlite3` shell in exclusive locking mode, a
/// backup tool) is waited for, then the exporter exits non-zero naming the lock and the
/// path; the file is neither moved aside nor changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_is_waited_for_then_the_start_fails_and_it_is_kept() {
    let mock = StrictMock::start(&json!({CONFIRMED: [20], STAYS: [10]}), false);
    let files = Files::new();
    saved_database(&files, &mock).await;
    let before = std::fs::read(&files.state_file).unwrap();
    let holder = rusqlite::Connection::open(&files.state_file).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    let config = files.config(&mock, &[CONFIRMED, STAYS]);
    let (status, stderr) = run_to_exit(&config, &[OPEN_WAIT], EXIT_WITHIN);
    let status = status.unwrap_or_else(|| panic!("still running (started?):\n{stderr}"));
    assert!(!status.success(), "exited with {status}:\n{stderr}");
    assert!(stderr.contains("database is locked"), "{stderr}");
    assert!(
        stderr.contains(&files.state_file.display().to_string()),
        "{stderr}"
    );
    assert!(!stderr.contains("STATE DATABASE UNUSABLE"), "{stderr}");
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    assert_eq!(files.listing(), ["state.db", "state.db.lock"]);
    assert_eq!(std::fs::read(&files.state_file).unwrap(), before);
}

/// A second exporter on a file another one uses refuses to start (after the wait); the
/// first keeps running and writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_exporter_on_the_same_database_refuses_to_start() {
    let late = json!({"timed": [[0, 10], [4.0, 20]]});
    let mock = StrictMock::start(&json!({CONFIRMED: [20], STAYS: late}), false);
    let files = Files::new();
    let config = files.config(&mock, &[CONFIRMED, STAYS]);
    let first = ExporterProcess::start(&config, &[]);
    wait_for(Duration::from_secs(10), "the first saves", || async {
        common::statedb::saved_counter(&files.state_file, "main", "outcome", "confirmed")
            .filter(|n| *n == 1)
    })
    .await;
    let (status, stderr) = run_to_exit(&config, &[OPEN_WAIT], EXIT_WITHIN);
    let status = status.unwrap_or_else(|| panic!("the second one runs:\n{stderr}"));
    assert!(!status.success(), "exited with {status}:\n{stderr}");
    let lock = format!("{}.lock", files.state_file.display());
    assert!(
        stderr.contains("is in use by another process") && stderr.contains(&lock),
        "{stderr}"
    );
    // The first one still polls and saves: STAYS turns confirmed after the refusal.
    wait_for(Duration::from_secs(15), "the first saves on", || async {
        let saved = common::statedb::saved_intent(&files.state_file, "main", STAYS)?;
        saved["terminal_at"].is_f64().then_some(())
    })
    .await;
    let m = scrape(first.addr).await;
    assert_eq!(m.outcome("confirmed"), 2.0);
    assert!(files.listing().iter().all(|n| !n.contains("corrupt")));
    first.terminate();
}

/// Whether this process runs as root (which ignores file permissions).
fn root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Starts the exporter with the state file's directory read-only for it: as root, a
/// read-only bind mount in a mount namespace of its own (`unshare -m`); else by
/// permissions (a 0444 file in a 0555 directory).
fn start_read_only(files: &Files, config: &Path) -> ExporterProcess {
    if !root() {
        let mode = |path: &Path, mode| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        mode(&files.state_file, 0o444);
        mode(files.state_dir(), 0o555);
        return ExporterProcess::start(config, &[]);
    }
    let dir = files.state_dir().display().to_string();
    assert!(!dir.contains('\''), "{dir}");
    let script = format!(
        "mount --bind '{dir}' '{dir}' && mount -o remount,ro,bind '{dir}' '{dir}' && exec \"$@\""
    );
    ExporterProcess::start_wrapped(&["unshare", "-m", "sh", "-c", &script, "sh"], config, &[])
}

/// A database that can only be read is restored (counters, finished intents), nothing is
/// written, `/metrics` says so, and a warning says why, once; intents finishing now are
/// still counted (as without a state file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_is_restored_and_not_written() {
    let mock = StrictMock::start(&json!({CONFIRMED: [20], STAYS: [10], NEW: [20]}), false);
    let files = Files::new();
    saved_database(&files, &mock).await;
    let before = std::fs::read(&files.state_file).unwrap();
    // Without a lock file (none can be made), the database file itself is locked.
    std::fs::remove_file(files.state_dir().join("state.db.lock")).unwrap();
    let listing = files.listing();
    let exporter = start_read_only(&files, &files.config(&mock, &[CONFIRMED, STAYS, NEW]));
    let m = scrape(exporter.addr).await;
    assert_eq!(
        m.status(CONFIRMED),
        Some(20.0),
        "not restored:\n{}",
        exporter.logs()
    );
    assert!(m.outcome("confirmed") >= 1.0);
    assert_eq!(
        m.value("allscale_exporter_state_file_last_save_successful", &[]),
        0.0
    );
    assert_eq!(m.value("allscale_exporter_state_file_read_only", &[]), 1.0);
    // NEW is counted once it is confirmed, without a save to wait for.
    wait_for(Duration::from_secs(10), "NEW counted", || async {
        let m = scrape(exporter.addr).await;
        (m.outcome("confirmed") == 2.0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = scrape(exporter.addr).await;
    assert_eq!(m.outcome("confirmed"), 2.0);
    assert_eq!(m.value("allscale_exporter_state_file_read_only", &[]), 1.0);
    let logs = exporter.logs();
    assert_eq!(
        logs.matches("STATE DATABASE READ-ONLY").count(),
        1,
        "{logs}"
    );
    assert!(!logs.contains("cannot write the state database"), "{logs}");
    assert!(!logs.contains("STATE DATABASE UNUSABLE"), "{logs}");
    exporter.terminate();
    assert_eq!(std::fs::read(&files.state_file).unwrap(), before);
    assert_eq!(files.listing(), listing);
    let saved = common::statedb::saved_counter(&files.state_file, "main", "outcome", "confirmed");
    assert_eq!(saved, Some(1), "written although read-only");
}

/// A genuinely corrupt database (an SQLite header, then garbage) is still moved aside,
/// and the exporter starts afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_database_is_still_moved_aside() {
    let mock = StrictMock::start(&json!({CONFIRMED: [20]}), false);
    let files = Files::new();
    let mut garbage = b"SQLite format 3\0".to_vec();
    garbage.extend((0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(&files.state_file, &garbage).unwrap();
    let exporter = ExporterProcess::start(&files.config(&mock, &[CONFIRMED]), &[OPEN_WAIT]);
    wait_for(Duration::from_secs(10), "a fresh count saved", || async {
        common::statedb::saved_counter(&files.state_file, "main", "outcome", "confirmed")
            .filter(|n| *n == 1)
    })
    .await;
    let aside: Vec<String> = files
        .listing()
        .into_iter()
        .filter(|n| n.starts_with("state.db.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{:?}", files.listing());
    let kept = std::fs::read(files.state_dir().join(&aside[0])).unwrap();
    assert_eq!(kept, garbage, "the corrupt file was altered");
    let logs = exporter.logs();
    assert!(logs.contains("STATE DATABASE UNUSABLE"), "{logs}");
    exporter.terminate();
}
