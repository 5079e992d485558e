//! Query-string values parsed the way nats-server parses them (Go `strconv`).

use std::collections::HashMap;

/// Go `strconv.ParseBool`: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A boolean parameter; absent = false; bad value = Err(text for a 400).
pub fn bool_param(q: &HashMap<String, String>, key: &str) -> Result<bool, String> {
    match q.get(key) {
        None => Ok(false),
        Some(v) if v.is_empty() => Ok(true),
        Some(v) => parse_bool(v).ok_or_else(|| format!("invalid value for {key}: {v:?}")),
    }
}

/// A non-negative integer parameter with a default.
pub fn usize_param(
    q: &HashMap<String, String>,
    key: &str,
    default: usize,
) -> Result<usize, String> {
    match q.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| format!("invalid value for {key}: {v:?}")),
    }
}
