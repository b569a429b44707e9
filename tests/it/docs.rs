//! Issue #12: the docs are the contract, so they must hold together. Every relative
//! Markdown link and anchor resolves (`tests/doc_links.py`), and no file of the checkout
//! refers to a path outside the repository.

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

/// Every file of the checkout, but the build output and git's own.
fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_file_refers_to_a_path_outside_the_repository() {
    let root = std::path::Path::new(repo());
    let mut all = Vec::new();
    files(root, &mut all);
    let mut found = Vec::new();
    for path in all {
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        // The link checker names these patterns to look for them.
        if shown == "tests/doc_links.py" || shown == "tests/it/docs.rs" {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // binary
        };
        for pattern in OUTSIDE {
            for (n, line) in text.lines().enumerate() {
                if line.contains(pattern) {
                    found.push(format!("{shown}:{}: {line}", n + 1));
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

/// The README's one `apt-get` line is the one the tests name when a tool is missing, and
/// `.ci/run` installs every package on it.
#[test]
fn the_readme_and_ci_install_every_tool_the_tests_use() {
    let readme = std::fs::read_to_string(format!("{}/README.md", repo())).unwrap();
    let apt = crate::common::tools::APT_GET;
    assert!(readme.contains(apt), "README.md lacks `{apt}`");
    let ci = std::fs::read_to_string(format!("{}/.ci/run", repo())).unwrap();
    for package in apt.split_whitespace().skip(3) {
        assert!(ci.contains(package), ".ci/run does not install {package}");
    }
}

/// docs/simulator.md lists the default scenario's intents, each with its step.
#[test]
fn the_simulator_doc_lists_the_default_scenarios_intents() {
    let doc = std::fs::read_to_string(format!("{}/docs/simulator.md", repo())).unwrap();
    let scenario = allscale_exporter::demo::scenario();
    let listed: Vec<_> = scenario.intents.iter().take(19).collect();
    for intent in &listed {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", intent.id)))
            .unwrap_or_else(|| panic!("docs/simulator.md does not list {}", intent.id));
        let step = format!("| {} s |", intent.step.as_secs());
        assert!(row.contains(&step), "{row}");
    }
    let last = scenario.intents.last().unwrap();
    assert!(
        doc.contains(&format!("`{}`", last.id)),
        "the last id {}",
        last.id
    );
    assert!(doc.contains("`65f0d3e000000000deadbeef`"));
}

/// docs/architecture.md's module map names every source file under `src/` by its path.
#[test]
fn the_module_map_names_every_source_file() {
    let map = std::fs::read_to_string(format!("{}/docs/architecture.md", repo())).unwrap();
    let mut found = Vec::new();
    // The exporter's and every workspace crate's sources.
    sources(&std::path::Path::new(repo()).join("src"), &mut found);
    for krate in std::fs::read_dir(format!("{}/crates", repo()))
        .unwrap()
        .flatten()
    {
        sources(&krate.path().join("src"), &mut found);
    }
    assert!(
        found
            .iter()
            .any(|p| p.ends_with("crates/allscale-api/src/webhook.rs")),
        "the crates' sources are searched"
    );
    let missing: Vec<String> = found
        .iter()
        .map(|p| {
            p.strip_prefix(repo())
                .unwrap()
                .to_string_lossy()
                .trim_start_matches('/')
                .to_owned()
        })
        .filter(|p| !map.contains(&format!("`{p}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md does not name {missing:?}"
    );
}

/// The `.rs` and `.sql` files under `dir`.
fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "sql") {
            out.push(path);
        }
    }
}

/// The README stays an overview: at most 300 lines (details live in docs/).
#[test]
fn the_readme_is_at_most_300_lines() {
    let readme = std::fs::read_to_string(format!("{}/README.md", repo())).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 300, "README.md has {lines} lines");
}
