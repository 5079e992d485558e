//! The untyped value tree produced by the parser: maps, arrays and scalars, each
//! node tagged with the `file:line:col` it came from.
//!
//! Owns: [`Pos`], [`Value`], [`ValueKind`], [`Map`] and [`Entry`], plus small
//! read-only helpers (type names, lookups, human descriptions for messages).
//! Must not: know any configuration key, read files, or resolve variables
//! (that is `parser`), or build a [`super::Config`] (that is `convert`).

use std::fmt;
use std::sync::Arc;

/// A position in a configuration source: file name (as shown to users), 1-based
/// line and 1-based column (counted in characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub fn new(file: Arc<str>, line: usize, col: usize) -> Pos {
        Pos { file, line, col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    /// Where the value starts (for a variable reference: where the `$NAME` is).
    pub pos: Pos,
    /// For numbers: the literal as written (`"2m"`, `"10GB"`, `"0.5"`), so that
    /// e.g. duration keys can reinterpret `2m`. `None` for other kinds.
    pub literal: Option<Box<str>>,
}

/// The kinds of value the nats.conf format knows.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<Value>),
    Map(Map),
}

/// An ordered map. Keys are kept as written (case preserved); the parser makes
/// re-defining the exact same key replace the earlier value in place (last one wins).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map {
    pub entries: Vec<Entry>,
}

/// One `key: value` of a [`Map`].
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Value,
    /// True when some `$key` reference resolved to this entry: such a key is a
    /// variable definition, never reported as an unknown option.
    pub used_as_variable: bool,
}

impl Value {
    pub fn new(kind: ValueKind, pos: Pos) -> Value {
        Value {
            kind,
            pos,
            literal: None,
        }
    }

    /// A short name of the kind: "string", "integer", "float", "boolean", "array", "map".
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ValueKind::String(_) => "string",
            ValueKind::Integer(_) => "integer",
            ValueKind::Float(_) => "float",
            ValueKind::Bool(_) => "boolean",
            ValueKind::Array(_) => "array",
            ValueKind::Map(_) => "map",
        }
    }

    /// How the value is shown in messages: strings quoted, numbers as written,
    /// containers by kind (`a map`, `an array`).
    pub fn describe(&self) -> String {
        match &self.kind {
            ValueKind::String(s) => format!("{:?}", truncate(s, 60)),
            ValueKind::Integer(i) => match &self.literal {
                Some(l) => l.to_string(),
                None => i.to_string(),
            },
            ValueKind::Float(x) => match &self.literal {
                Some(l) => l.to_string(),
                None => x.to_string(),
            },
            ValueKind::Bool(b) => b.to_string(),
            ValueKind::Array(_) => "(an array)".to_string(),
            ValueKind::Map(_) => "(a map)".to_string(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self.kind {
            ValueKind::Integer(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            ValueKind::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.kind {
            ValueKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match &self.kind {
            ValueKind::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Follows a path of exact keys through nested maps (test/debug helper).
    pub fn get_path(&self, path: &[&str]) -> Option<&Value> {
        let mut cur = self;
        for key in path {
            cur = cur.as_map()?.get(key)?;
        }
        Some(cur)
    }

    /// The number of nodes in this subtree, counting at most up to `limit`.
    pub(crate) fn node_count(&self, limit: usize) -> usize {
        let mut n = 1;
        match &self.kind {
            ValueKind::Array(items) => {
                for v in items {
                    if n >= limit {
                        break;
                    }
                    n += v.node_count(limit - n);
                }
            }
            ValueKind::Map(m) => {
                for e in &m.entries {
                    if n >= limit {
                        break;
                    }
                    n += e.value.node_count(limit - n);
                }
            }
            _ => {}
        }
        n.min(limit)
    }

    /// Sets `pos` on this node and every node below it.
    pub(crate) fn restamp(&mut self, pos: &Pos) {
        self.pos = pos.clone();
        match &mut self.kind {
            ValueKind::Array(items) => items.iter_mut().for_each(|v| v.restamp(pos)),
            ValueKind::Map(m) => m.entries.iter_mut().for_each(|e| {
                e.key_pos = pos.clone();
                e.value.restamp(pos);
            }),
            _ => {}
        }
    }
}

impl Map {
    /// The value of the exact key `key` (case-sensitive).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.value)
    }

    /// The value of `key` compared case-insensitively (the last one if several differ only by case).
    pub fn get_ci(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key.eq_ignore_ascii_case(key))
            .map(|e| &e.value)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}
