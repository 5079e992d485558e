//! Errors and warnings of configuration loading.
//!
//! Owns: [`ConfigError`] (fatal, carries a [`Pos`] whenever one is known and
//! always displays as `file:line:col: what is wrong`) and [`Warning`] (non-fatal).
//! Must not: decide what is an error (the lexer, parser and converter do).

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::value::Pos;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file or an included file could not be read. `at` is
    /// the position of the `include` directive (none for the top-level file).
    #[error("{}cannot read {} '{}': {source}", prefix(.at), if .at.is_some() { "include file" } else { "config file" }, .path.display())]
    Read {
        at: Option<Pos>,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The text is not valid nats.conf syntax (including nesting deeper than allowed).
    #[error("{pos}: {message}")]
    Syntax { pos: Pos, message: String },
    /// A `$NAME` reference that is undefined, cyclic or whose environment value does not parse.
    #[error("{pos}: {message}")]
    Variable { pos: Pos, message: String },
    /// An `include` that forms a cycle or nests too deeply.
    #[error("{pos}: {message}")]
    Include { pos: Pos, message: String },
    /// A value of the wrong type, out of range, or inconsistent with other settings.
    #[error("{pos}: {message}")]
    Invalid { pos: Pos, message: String },
}

fn prefix(at: &Option<Pos>) -> String {
    match at {
        Some(p) => format!("{p}: "),
        None => String::new(),
    }
}

impl ConfigError {
    /// Where the problem is, when known.
    pub fn pos(&self) -> Option<&Pos> {
        match self {
            ConfigError::Read { at, .. } => at.as_ref(),
            ConfigError::Syntax { pos, .. }
            | ConfigError::Variable { pos, .. }
            | ConfigError::Include { pos, .. }
            | ConfigError::Invalid { pos, .. } => Some(pos),
        }
    }

    pub(crate) fn syntax(pos: &Pos, message: impl Into<String>) -> ConfigError {
        ConfigError::Syntax {
            pos: pos.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn variable(pos: &Pos, message: impl Into<String>) -> ConfigError {
        ConfigError::Variable {
            pos: pos.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn include(pos: &Pos, message: impl Into<String>) -> ConfigError {
        ConfigError::Include {
            pos: pos.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid(pos: &Pos, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            pos: pos.clone(),
            message: message.into(),
        }
    }
}

/// A non-fatal remark about the configuration (unknown or unsupported keys,
/// deprecated forms, suspicious values). Displays as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Warning {
    pub(crate) fn at(pos: &Pos, message: impl Into<String>) -> Warning {
        Warning {
            file: pos.file.to_string(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}
