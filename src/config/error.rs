//! What can go wrong with a config: the error, and each validation problem with its path.

use std::fmt;
use std::path::PathBuf;

use super::schema::MAX_CONFIG_BYTES;

/// One validation problem: where (a YAML path such as `stores[1].intents[3]`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is larger than {} MiB; refusing to parse it", MAX_CONFIG_BYTES / (1024 * 1024))]
    TooLarge { path: PathBuf },
    #[error(
        "config is not valid UTF-8 text: the first bad byte is at line {line}, column {column}"
    )]
    NotUtf8 { line: usize, column: usize },
    #[error("config is not valid YAML: {0}")]
    Yaml(String),
    #[error("config has {} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// The validation problems, if this is [`ConfigError::Invalid`] (empty otherwise).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(problems) => problems,
            _ => &[],
        }
    }
}

/// The path used for problems about the document as a whole.
pub(super) const ROOT_PATH: &str = "(root)";
