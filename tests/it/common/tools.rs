//! External tools some tests drive (promtool, jsonnet, kubectl, ...): skipped with a
//! message where missing, except in CI, which installs them (`.ci/run`,
//! `.ci/lint-deploy`).

pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// True when every tool is installed. Otherwise skip (false) with a message, or fail
/// in CI, where the tools are installed by `.ci/run`.
pub fn have_tools(tools: &[&str], what: &str) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !on_path(t)).collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{what}: missing {} (Debian packages prometheus, prometheus-alertmanager, jsonnet, kubernetes-client, python3)",
        missing.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}; CI must have them");
    }
    eprintln!("SKIPPED {msg}");
    false
}
