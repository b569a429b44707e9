//! Issue #12: the docs are the contract, so they must hold together. Every relative
//! Markdown link and anchor resolves (`tests/doc_links.py`), and no tracked file refers to
//! a path outside the repository.

use std::process::Command;

fn repo() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

#[test]
fn every_markdown_link_resolves() {
    let out = Command::new("python3")
        .arg("tests/doc_links.py")
        .current_dir(repo())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Paths that only exist on a developer's machine or beside the checkout.
const OUTSIDE: [&str; 3] = ["DESIGN.md", "/work/", "../shared"];

#[test]
fn no_file_refers_to_a_path_outside_the_repository() {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(repo())
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git ls-files failed");
    let mut found = Vec::new();
    for path in out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let path = String::from_utf8_lossy(path).into_owned();
        // The link checker names these patterns to look for them.
        if path == "tests/doc_links.py" || path == "tests/docs.rs" {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(format!("{}/{path}", repo())) else {
            continue; // binary
        };
        for pattern in OUTSIDE {
            for (n, line) in text.lines().enumerate() {
                if line.contains(pattern) {
                    found.push(format!("{path}:{}: {line}", n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "references outside the repository:\n{}",
        found.join("\n")
    );
}
