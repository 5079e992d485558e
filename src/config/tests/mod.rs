//! Unit tests of the config module: syntax, variables, includes, every key and
//! alias, error positions, example configurations and property tests.
//! Test-only: must not be used by non-test code.

mod errors;
mod examples;
mod include;
mod keys;
mod props;
mod refused;
mod syntax;
mod variables;

use std::path::{Path, PathBuf};

use super::*;

/// An environment with no variables.
pub(super) fn no_env(_: &str) -> Option<String> {
    None
}

/// Parses to the untyped tree (no environment); panics with the error on failure.
pub(super) fn parse(text: &str) -> Value {
    parse_value_with_env(text, &no_env).unwrap_or_else(|e| panic!("parse failed: {e}\n---\n{text}"))
}

/// The error of parsing `text` (no environment), as displayed.
pub(super) fn parse_err(text: &str) -> String {
    match parse_value_with_env(text, &no_env) {
        Ok(v) => panic!("expected a parse error, got {v:?}\n---\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn load_result(text: &str) -> Result<Loaded, ConfigError> {
    load_impl(
        text,
        "test.conf",
        Path::new("/nonexistent-natrium-dir"),
        PathBuf::from("/nonexistent-natrium-dir/test.conf"),
        &no_env,
    )
}

/// Loads `text` as `test.conf` (no environment); panics on error.
pub(super) fn load(text: &str) -> Loaded {
    load_result(text).unwrap_or_else(|e| panic!("load failed: {e}\n---\n{text}"))
}

pub(super) fn cfg(text: &str) -> Config {
    load(text).config
}

/// The displayed error of loading `text` as `test.conf`.
pub(super) fn load_err(text: &str) -> String {
    match load_result(text) {
        Ok(l) => panic!("expected an error, got {l:?}\n---\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// The displayed warnings of loading `text`.
pub(super) fn warns(text: &str) -> Vec<String> {
    load(text)
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Follows `path` through maps; panics if absent.
pub(super) fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    v.get_path(path)
        .unwrap_or_else(|| panic!("no value at {path:?} in {v:#?}"))
}

pub(super) fn int(v: &Value) -> i64 {
    v.as_int()
        .unwrap_or_else(|| panic!("not an integer: {v:?}"))
}

pub(super) fn string(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}
