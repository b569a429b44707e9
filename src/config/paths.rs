//! Where relative paths point: one rule for start-up, reloads and the state file.
//!
//! A relative path in the config (`state_file`, `api_secret_file`) is relative to the
//! directory of the config file, made absolute against the current directory when the
//! file is read. A config file given by a bare name (`--config.file=config.yaml`) is in
//! the current directory: its [`Path::parent`] is the empty path, which [`dir_of`] turns
//! into `.`.

use std::path::{Path, PathBuf};

/// The directory that holds `file`: its parent, or `.` for a bare file name.
pub(crate) fn dir_of(file: &Path) -> &Path {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The directory that relative paths in the config file `config_file` are resolved
/// against: the file's directory, absolute. Start-up and every reload use it, so the
/// same file always parses to the same config.
pub(crate) fn base_dir(config_file: &Path) -> PathBuf {
    let dir = dir_of(config_file);
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// `path` as written in a config whose relative paths are relative to `base_dir`.
pub(crate) fn resolve(base_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_file_name_is_in_the_current_directory() {
        assert_eq!(dir_of(Path::new("config.yaml")), Path::new("."));
        assert_eq!(dir_of(Path::new("etc/config.yaml")), Path::new("etc"));
        assert_eq!(dir_of(Path::new("/etc/config.yaml")), Path::new("/etc"));
    }

    #[test]
    fn the_base_directory_is_absolute_however_the_file_is_named() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(base_dir(Path::new("config.yaml")), cwd);
        assert_eq!(base_dir(Path::new("./config.yaml")), cwd);
        assert_eq!(base_dir(Path::new("etc/config.yaml")), cwd.join("etc"));
        assert_eq!(base_dir(Path::new("/etc/config.yaml")), Path::new("/etc"));
    }

    #[test]
    fn relative_paths_join_the_base_and_absolute_ones_stay() {
        let base = Path::new("/etc/allscale");
        assert_eq!(
            resolve(base, Path::new("state.json")),
            Path::new("/etc/allscale/state.json")
        );
        assert_eq!(
            resolve(base, Path::new("/var/lib/state.json")),
            Path::new("/var/lib/state.json")
        );
    }
}
