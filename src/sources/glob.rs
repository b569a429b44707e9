//! File patterns as Prometheus `file_sd_configs` takes them: `*` (any run of characters,
//! none included) and `?` (one character) in the last path element only; every other
//! character, `[` included, is itself. The config validator refuses wildcards elsewhere.

use std::path::{Path, PathBuf};

/// Whether `name` matches `pattern` (both one path element). Iterative with one
/// backtrack point, so a hostile pattern (`*a*a*a*…`) costs O(len² ) at worst, not more.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether the last element of `pattern` has a wildcard.
pub fn is_pattern(pattern: &Path) -> bool {
    pattern
        .file_name()
        .is_some_and(|name| name.to_string_lossy().contains(['*', '?']))
}

/// The files `pattern` names now, sorted: itself when it has no wildcard (whether or not
/// it exists), else the regular files (or symlinks to them) of its directory whose names
/// match. A directory that cannot be read names nothing.
pub fn expand(pattern: &Path) -> Vec<PathBuf> {
    if !is_pattern(pattern) {
        return vec![pattern.to_path_buf()];
    }
    let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| matches(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        // Follows symlinks: a Kubernetes ConfigMap's files are links into `..data/`.
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks() {
        for (pattern, name, want) in [
            ("*.json", "a.json", true),
            ("*.json", ".json", true),
            ("*.json", "a.json.tmp", false),
            ("a?.json", "ab.json", true),
            ("a?.json", "a.json", false),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("*a*a*a*a*b", &"a".repeat(200), false),
            ("[ab].json", "[ab].json", true),
            ("[ab].json", "a.json", false),
            ("é?", "éx", true),
            ("**x", "yyx", true),
        ] {
            assert_eq!(matches(pattern, name), want, "{pattern} vs {name}");
        }
    }

    #[test]
    fn expansion_lists_matching_files_only() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.json", "b.json", "c.txt"] {
            std::fs::write(dir.path().join(name), "[]").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.json")).unwrap();
        let got = expand(&dir.path().join("*.json"));
        assert_eq!(got, [dir.path().join("a.json"), dir.path().join("b.json")]);
        let plain = dir.path().join("missing.json");
        assert_eq!(expand(&plain), std::slice::from_ref(&plain));
        assert!(expand(&dir.path().join("nowhere/*.json")).is_empty());
    }

    proptest::proptest! {
        /// A name always matches itself (without wildcards) and `*`.
        #[test]
        fn a_name_matches_itself_and_a_star(chars in proptest::collection::vec(
            proptest::sample::select(vec!['a', 'b', '.', 'é', '[']),
            0..12,
        )) {
            let name: String = chars.into_iter().collect();
            proptest::prop_assert!(matches(&name, &name));
            proptest::prop_assert!(matches("*", &name));
        }
    }
}
