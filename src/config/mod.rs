//! nats.conf parsing: text → typed [`Config`].
//!
//! Owns: the lexer/parser for the nats.conf format, variables, includes, and the
//! conversion of the untyped value tree into [`Config`] with `file:line:col` errors.
//! Must not: start listeners, spawn tasks, or touch global state.
//!
//! Layers: `lexer` (characters → tokens) → `parser` (tokens → [`Value`] tree;
//! variables and includes) → `convert` (tree → [`Config`] plus [`Warning`]s).
//! `literal` classifies bare scalars and parses sizes and durations; `error`
//! holds [`ConfigError`] and [`Warning`]; `model` the typed [`Config`].

mod convert;
mod error;
mod lexer;
mod literal;

/// Parses a Go duration string (`"2m"`, `"500ms"`); `None` if it is not one.
pub fn parse_go_duration(text: &str) -> Option<std::time::Duration> {
    literal::parse_duration(text).ok()
}
pub mod model;
mod parser;
mod value;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{ConfigError, Warning};
pub use model::*;
pub use parser::{MAX_DEPTH, MAX_EXPANDED_NODES, MAX_FILE_SIZE, MAX_INCLUDES, MAX_INCLUDE_DEPTH};
pub use value::{Entry, Map, Pos, Value, ValueKind};

/// A loaded configuration and the non-fatal remarks made while loading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Warning>,
}

/// Loads a nats.conf file (with its includes, relative to its directory).
pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    let text = parser::read_file(path, None)?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_impl(
        &text,
        &path.display().to_string(),
        &base_dir,
        path.to_path_buf(),
        &env_var,
    )
}

/// Loads configuration text. `file_name` is used in positions and `base_dir`
/// resolves relative `include`s.
pub fn load_str(text: &str, file_name: &str, base_dir: &Path) -> Result<Loaded, ConfigError> {
    load_impl(
        text,
        file_name,
        base_dir,
        base_dir.join(file_name),
        &env_var,
    )
}

/// Parses text into the untyped tree (a [`ValueKind::Map`] at the top), with
/// variables resolved (environment included). `include` is an error here:
/// nothing is read from disk. Positions name the file `<input>`.
pub fn parse_value(text: &str) -> Result<Value, ConfigError> {
    parse_value_with_env(text, &env_var)
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

pub(crate) fn parse_value_with_env(
    text: &str,
    env: parser::EnvLookup<'_>,
) -> Result<Value, ConfigError> {
    let mut shared = parser::Shared::new(env, false, None);
    let file: Arc<str> = Arc::from("<input>");
    let map = parser::Parser::new(text, file.clone(), None, &mut shared, 0).parse_document()?;
    Ok(Value::new(ValueKind::Map(map), Pos::new(file, 1, 1)))
}

pub(crate) fn load_impl(
    text: &str,
    file_name: &str,
    base_dir: &Path,
    source: PathBuf,
    env: parser::EnvLookup<'_>,
) -> Result<Loaded, ConfigError> {
    let root_id = std::fs::canonicalize(&source).unwrap_or_else(|_| source.clone());
    let mut shared = parser::Shared::new(env, true, Some(root_id));
    let map = parser::Parser::new(
        text,
        Arc::from(file_name),
        Some(base_dir.to_path_buf()),
        &mut shared,
        0,
    )
    .parse_document()?;
    let (config, warnings) = convert::convert(&map, Some(source))?;
    Ok(Loaded { config, warnings })
}
