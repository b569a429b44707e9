//! Runs the strict mock's own self-test (spec vectors and every rejection rule), so that
//! `cargo test` proves the independent implementation is itself right.

#[test]
fn strict_mock_python_self_test_passes() {
    let out = std::process::Command::new("python3")
        .args(["-m", "unittest", "tests/strict_mock_selftest.py"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 is installed");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "strict mock self-test failed:\n{report}"
    );
    assert!(report.contains("OK"), "{report}");
}
