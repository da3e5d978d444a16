//! Why scenarios could not be loaded: the error every loader of the scenario format returns
//! (server cases, client cases, the sim's files), naming the file, the line and the field.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why scenarios could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A scenario file or directory could not be read.
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// What the operating system reported.
        error: std::io::Error,
    },
    /// The YAML is malformed or does not fit the model.
    Syntax {
        /// The scenario file (as given to the loader).
        path: PathBuf,
        /// 1-based line of the error (for a check after parsing, the line of the case or step
        /// it concerns); 0 when the parser gave no location.
        line: u64,
        /// 1-based column on `line`; 0 when unknown.
        column: u64,
        /// The field (or step kind) the error is about, when known.
        field: Option<String>,
        /// What is wrong, without the location (`unknown field `cod`, expected one of ...`).
        message: String,
        /// The lines around the error, as serde-saphyr shows them.
        snippet: String,
    },
    /// Two cases share an id.
    Duplicate {
        /// The id both cases have.
        id: String,
        /// File and 1-based line of the case that had the id first.
        first: (PathBuf, u64),
        /// File and 1-based line of the case that repeats it (where the error is reported).
        second: (PathBuf, u64),
    },
    /// No scenario files where some were expected.
    Empty {
        /// The directory that holds no `*.yaml`/`*.yml` file.
        path: PathBuf,
    },
}

impl ScenarioError {
    /// A [`Syntax`](Self::Syntax) error for a check made after parsing (a bad id, an unknown
    /// variable, a step not allowed in the case's protocol): it names `field` and has no
    /// snippet.
    pub fn invalid(case_path: &Path, line: u64, column: u64, field: &str, message: String) -> Self {
        Self::Syntax {
            path: case_path.to_path_buf(),
            line,
            column,
            field: Some(field.to_string()),
            message,
            snippet: String::new(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, error } => write!(f, "{}: {error}", path.display()),
            Self::Syntax {
                path,
                line,
                column,
                field,
                message,
                snippet,
            } => {
                write!(f, "{}:{line}:{column}: ", path.display())?;
                if let Some(field) = field {
                    write!(f, "field `{field}`: ")?;
                }
                f.write_str(message)?;
                if !snippet.is_empty() {
                    write!(f, "\n{snippet}")?;
                }
                Ok(())
            }
            Self::Duplicate { id, first, second } => write!(
                f,
                "{}:{}: duplicate case id `{id}` (first defined at {}:{})",
                second.0.display(),
                second.1,
                first.0.display(),
                first.1
            ),
            Self::Empty { path } => {
                write!(f, "{}: no scenario files (*.yaml) found", path.display())
            }
        }
    }
}

impl std::error::Error for ScenarioError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}
