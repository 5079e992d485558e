//! The nats.conf grammar: turns text into a [`Map`] tree, resolving `$VARIABLE`
//! references (block scope, then the environment) and `include` directives.
//!
//! Owns: [`Parser`] and [`Shared`] (state that outlives one file: the
//! environment lookup, the include stack for cycle detection, env-variable
//! reference tracking). Must not: interpret configuration keys (that is
//! `convert`) or panic on any input: nesting is capped at [`MAX_DEPTH`].

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::ConfigError;
use super::lexer::{is_newline, show, Lexer};
use super::literal::{classify, Scalar};
use super::value::{Entry, Map, Pos, Value, ValueKind};

type Result<T> = std::result::Result<T, ConfigError>;

/// Maximum nesting of maps and arrays (includes and env-variable values count as a level).
pub const MAX_DEPTH: usize = 128;
/// Maximum depth of nested `include`s.
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// Maximum number of `include` directives processed in one load.
pub const MAX_INCLUDES: usize = 1024;
/// Maximum number of value nodes copied by variable references in one load
/// (guards against exponential expansion such as `b: [$a, $a], c: [$b, $b], ...`).
pub const MAX_EXPANDED_NODES: usize = 1_000_000;
/// Largest configuration file that will be read.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// An environment lookup (`std::env::var` in production; injectable in tests).
pub(crate) type EnvLookup<'e> = &'e dyn Fn(&str) -> Option<String>;

/// State shared by the parsers of one load (the root file, its includes and
/// the sub-parses of environment values).
pub(crate) struct Shared<'e> {
    pub env: EnvLookup<'e>,
    /// Whether `include` may read files (false for [`super::parse_value`]).
    pub allow_includes: bool,
    /// Canonical paths of the files being parsed, outermost first.
    pub include_stack: Vec<PathBuf>,
    /// Environment variables being expanded (cycle detection).
    pub env_refs: Vec<String>,
    /// `include` directives processed so far.
    pub includes_done: usize,
    /// Value nodes copied by variable references so far.
    pub expanded_nodes: usize,
}

impl<'e> Shared<'e> {
    pub fn new(env: EnvLookup<'e>, allow_includes: bool, root: Option<PathBuf>) -> Self {
        Shared {
            env,
            allow_includes,
            include_stack: root.into_iter().collect(),
            env_refs: Vec::new(),
            includes_done: 0,
            expanded_nodes: 0,
        }
    }

    /// Accounts for `nodes` more copied nodes; errors past [`MAX_EXPANDED_NODES`].
    fn expand(&mut self, nodes: usize, name: &str, pos: &Pos) -> Result<()> {
        self.expanded_nodes = self.expanded_nodes.saturating_add(nodes);
        if self.expanded_nodes > MAX_EXPANDED_NODES {
            return Err(ConfigError::variable(
                pos,
                format!(
                    "variable reference for '{name}' expands the configuration beyond {MAX_EXPANDED_NODES} values"
                ),
            ));
        }
        Ok(())
    }
}

/// Reads a configuration file, refusing files over [`MAX_FILE_SIZE`].
pub(crate) fn read_file(path: &Path, at: Option<&Pos>) -> Result<String> {
    let err = |source| ConfigError::Read {
        at: at.cloned(),
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(err)?;
    let mut text = String::new();
    file.take(MAX_FILE_SIZE + 1)
        .read_to_string(&mut text)
        .map_err(err)?;
    if text.len() as u64 > MAX_FILE_SIZE {
        return Err(err(std::io::Error::other(format!(
            "file is larger than {MAX_FILE_SIZE} bytes"
        ))));
    }
    Ok(text)
}

/// A map under construction with an index by key (constant-time redefinition
/// and variable lookup, whatever the number of keys).
#[derive(Default)]
struct Frame {
    map: Map,
    index: HashMap<String, usize>,
}

impl Frame {
    /// Inserts, replacing an entry with the exact same key in place.
    fn insert(&mut self, entry: Entry) {
        match self
            .index
            .get(&entry.key)
            .and_then(|&i| self.map.entries.get_mut(i))
        {
            Some(existing) => *existing = entry,
            None => {
                self.index.insert(entry.key.clone(), self.map.entries.len());
                self.map.entries.push(entry);
            }
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Entry> {
        let i = *self.index.get(key)?;
        self.map.entries.get_mut(i)
    }
}

/// Where a sequence of entries ends.
#[derive(Clone, Copy, PartialEq)]
enum End {
    /// The whole document (top level): ends at end of input.
    Eof,
    /// A `{ ... }` map: ends at `}`.
    Brace,
}

/// Parses one source text.
pub(crate) struct Parser<'a, 's, 'e> {
    lx: Lexer<'a>,
    /// Directory for relative `include` paths (`None`: includes are an error).
    base_dir: Option<PathBuf>,
    /// Maps under construction, innermost last: the variable scopes.
    frames: Vec<Frame>,
    depth: usize,
    shared: &'s mut Shared<'e>,
}

impl<'a, 's, 'e> Parser<'a, 's, 'e> {
    pub fn new(
        text: &'a str,
        file: Arc<str>,
        base_dir: Option<PathBuf>,
        shared: &'s mut Shared<'e>,
        depth: usize,
    ) -> Self {
        Parser {
            lx: Lexer::new(text, file),
            base_dir,
            frames: Vec::new(),
            depth,
            shared,
        }
    }

    /// Parses the whole text into its top-level map.
    pub fn parse_document(mut self) -> Result<Map> {
        if self.depth > MAX_DEPTH {
            return Err(ConfigError::syntax(
                &self.lx.pos(),
                format!("nesting too deep: more than {MAX_DEPTH} levels"),
            ));
        }
        self.parse_entries(End::Eof, None)
    }

    /// Parses `key value` entries until the end of the document or a `}`.
    fn parse_entries(&mut self, end: End, open: Option<&Pos>) -> Result<Map> {
        self.frames.push(Frame::default());
        let result = self.parse_entries_inner(end, open);
        let frame = self.frames.pop().unwrap_or_default();
        result.map(|()| frame.map)
    }

    fn parse_entries_inner(&mut self, end: End, open: Option<&Pos>) -> Result<()> {
        // `{` at the top level (JSON-like files) just groups top-level keys.
        let mut top_braces: Vec<Pos> = Vec::new();
        loop {
            self.lx.skip_trivia();
            let pos = self.lx.pos();
            match self.lx.peek() {
                None => {
                    if let Some(p) = top_braces.last().or(open) {
                        return Err(ConfigError::syntax(
                            &pos,
                            format!(
                                "unexpected end of input: missing '}}' to close the '{{' at {p}"
                            ),
                        ));
                    }
                    return Ok(());
                }
                Some(';' | ',') => {
                    self.lx.bump();
                }
                Some('}') => {
                    self.lx.bump();
                    if end == End::Brace {
                        return Ok(());
                    }
                    if top_braces.pop().is_none() {
                        return Err(ConfigError::syntax(&pos, "unexpected '}'"));
                    }
                }
                Some('{') if end == End::Eof => {
                    self.lx.bump();
                    top_braces.push(pos);
                }
                Some(c @ ('=' | ':')) => {
                    return Err(ConfigError::syntax(
                        &pos,
                        format!("unexpected key separator '{c}': expected a key"),
                    ));
                }
                Some(_) => self.parse_entry(end)?,
            }
        }
    }

    /// Parses one `key [=|:] value` (or `include target`) and the terminator after it.
    fn parse_entry(&mut self, end: End) -> Result<()> {
        let (key, key_pos, quoted) = self.lx.read_key()?;
        if !quoted && key.eq_ignore_ascii_case("include") && self.at_include_target() {
            self.lx.skip_blanks();
            let (target, pos) = self.lx.read_include_target()?;
            self.include(&target, &pos)?;
            return self.end_of_entry(end, "include");
        }
        self.lx.skip_blanks();
        if matches!(self.lx.peek(), Some('=' | ':')) {
            self.lx.bump();
            self.lx.skip_blanks();
        }
        let missing = |c: Option<char>| match c {
            None => true,
            Some(c) => is_newline(c) || ",;]}".contains(c),
        };
        if missing(self.lx.peek()) || self.lx.at_comment() {
            // Allow a map whose `{` is on a following line (brace on its own line).
            let mut look = self.lx.clone();
            look.skip_trivia();
            if look.peek() == Some('{') {
                self.lx = look;
            } else {
                return Err(ConfigError::syntax(
                    &key_pos,
                    format!("missing value for key '{key}'"),
                ));
            }
        }
        let value = self.parse_value()?;
        self.end_of_entry(end, &key)?;
        if let Some(frame) = self.frames.last_mut() {
            frame.insert(Entry {
                key,
                key_pos,
                value,
                used_as_variable: false,
            });
        }
        Ok(())
    }

    /// After a bare `include`: true when blanks follow and then something other
    /// than a key separator or the end of the line (so `include: x` is a plain key).
    fn at_include_target(&self) -> bool {
        let mut look = self.lx.clone();
        if !look.peek().is_some_and(super::lexer::is_blank) {
            return false;
        }
        look.skip_blanks();
        !matches!(look.peek(), None | Some('=' | ':' | '\n' | '\r'))
    }

    /// After a value in a map or at the top level: a line break, `;`, `,`, `}` or the end.
    fn end_of_entry(&mut self, end: End, key: &str) -> Result<()> {
        self.lx.skip_line_trivia();
        match self.lx.peek() {
            None | Some('}') => Ok(()),
            Some(c) if is_newline(c) || c == ';' || c == ',' => {
                self.lx.bump();
                Ok(())
            }
            c => {
                let what = if end == End::Eof { "top-level" } else { "map" };
                Err(ConfigError::syntax(
                    &self.lx.pos(),
                    format!(
                        "expected a new line, ';' or ',' after the value of {what} key '{key}', found {}",
                        show(c)
                    ),
                ))
            }
        }
    }

    fn enter(&mut self, pos: &Pos) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ConfigError::syntax(
                pos,
                format!("nesting too deep: more than {MAX_DEPTH} levels of maps and arrays"),
            ));
        }
        Ok(())
    }

    /// Parses a value starting at the cursor.
    fn parse_value(&mut self) -> Result<Value> {
        let pos = self.lx.pos();
        let kind = match self.lx.peek() {
            Some('{') => {
                self.lx.bump();
                self.enter(&pos)?;
                let map = self.parse_entries(End::Brace, Some(&pos))?;
                self.depth -= 1;
                ValueKind::Map(map)
            }
            Some('[') => {
                self.lx.bump();
                self.enter(&pos)?;
                let items = self.parse_array(&pos)?;
                self.depth -= 1;
                ValueKind::Array(items)
            }
            Some('"') => ValueKind::String(self.lx.read_double_quoted()?),
            Some('\'') => ValueKind::String(self.lx.read_single_quoted()?),
            Some('(') => ValueKind::String(self.lx.read_block()?),
            c => {
                let text = self.lx.read_bare();
                if text.is_empty() {
                    return Err(ConfigError::syntax(
                        &pos,
                        format!("expected a value, found {}", show(c)),
                    ));
                }
                let scalar = classify(text).map_err(|m| ConfigError::syntax(&pos, m))?;
                match scalar {
                    Scalar::Bool(b) => ValueKind::Bool(b),
                    Scalar::String(s) => ValueKind::String(s),
                    Scalar::Integer { value, .. } => {
                        let mut v = Value::new(ValueKind::Integer(value), pos);
                        v.literal = Some(text.into());
                        return Ok(v);
                    }
                    Scalar::Float(f) => {
                        let mut v = Value::new(ValueKind::Float(f), pos);
                        v.literal = Some(text.into());
                        return Ok(v);
                    }
                    Scalar::Variable(name) => return self.resolve(&name, &pos),
                }
            }
        };
        Ok(Value::new(kind, pos))
    }

    /// Parses array items after `[` up to and including `]`.
    fn parse_array(&mut self, open: &Pos) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            self.lx.skip_trivia();
            match self.lx.peek() {
                None => {
                    return Err(ConfigError::syntax(
                        &self.lx.pos(),
                        format!("unexpected end of input: missing ']' to close the '[' at {open}"),
                    ))
                }
                Some(']') => {
                    self.lx.bump();
                    return Ok(items);
                }
                Some(',') => {
                    return Err(ConfigError::syntax(
                        &self.lx.pos(),
                        "unexpected ',' in array: expected a value",
                    ))
                }
                Some(_) => {}
            }
            items.push(self.parse_value()?);
            self.lx.skip_line_trivia();
            match self.lx.peek() {
                Some(',') => {
                    self.lx.bump();
                }
                Some(c) if is_newline(c) => {
                    self.lx.bump();
                }
                Some(']') | None => {}
                c => {
                    return Err(ConfigError::syntax(
                        &self.lx.pos(),
                        format!(
                            "expected ',' or ']' after an array value, found {}",
                            show(c)
                        ),
                    ))
                }
            }
        }
    }

    /// Resolves `$name`: enclosing maps innermost first, then the environment.
    fn resolve(&mut self, name: &str, pos: &Pos) -> Result<Value> {
        for frame in self.frames.iter_mut().rev() {
            if let Some(entry) = frame.get_mut(name) {
                entry.used_as_variable = true;
                let nodes = entry.value.node_count(MAX_EXPANDED_NODES + 1);
                self.shared.expand(nodes, name, pos)?;
                let mut v = entry.value.clone();
                v.pos = pos.clone();
                return Ok(v);
            }
        }
        if self.shared.env_refs.iter().any(|r| r == name) {
            return Err(ConfigError::variable(
                pos,
                format!("variable reference cycle for '{name}'"),
            ));
        }
        let Some(text) = (self.shared.env)(name) else {
            return Err(ConfigError::variable(
                pos,
                format!("variable reference for '{name}' can not be found"),
            ));
        };
        self.shared.env_refs.push(name.to_string());
        let source = format!("pk={text}");
        let file: Arc<str> = Arc::from(format!("${name}"));
        let sub = Parser::new(&source, file, None, self.shared, self.depth + 1);
        let parsed = sub.parse_document();
        self.shared.env_refs.pop();
        let map = parsed.map_err(|e| match e {
            // A nested reference problem: report it at the outer reference.
            ConfigError::Variable { message, .. } => ConfigError::variable(pos, message),
            e => ConfigError::variable(
                pos,
                format!("variable reference for '{name}' could not be parsed: {e}"),
            ),
        })?;
        let Some(mut v) = map.get("pk").cloned() else {
            return Err(ConfigError::variable(
                pos,
                format!("variable reference for '{name}' could not be parsed: no value"),
            ));
        };
        self.shared
            .expand(v.node_count(MAX_EXPANDED_NODES + 1), name, pos)?;
        v.restamp(pos);
        Ok(v)
    }

    /// Parses an included file and merges its top-level keys into the current map.
    fn include(&mut self, target: &str, pos: &Pos) -> Result<()> {
        let base = match (&self.base_dir, self.shared.allow_includes) {
            (Some(b), true) => b.clone(),
            _ => {
                return Err(ConfigError::include(
                    pos,
                    format!("cannot include '{target}' here: includes are only resolved when loading a file"),
                ))
            }
        };
        self.shared.includes_done += 1;
        if self.shared.includes_done > MAX_INCLUDES {
            return Err(ConfigError::include(
                pos,
                format!("cannot include '{target}': more than {MAX_INCLUDES} includes in one configuration"),
            ));
        }
        if self.shared.include_stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError::include(
                pos,
                format!(
                    "cannot include '{target}': includes nested more than {MAX_INCLUDE_DEPTH} deep"
                ),
            ));
        }
        let path = base.join(target);
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.shared.include_stack.contains(&canonical) {
            return Err(ConfigError::include(
                pos,
                format!(
                    "include cycle: '{}' is already being included",
                    path.display()
                ),
            ));
        }
        let text = read_file(&path, Some(pos))?;
        let file: Arc<str> = Arc::from(path.display().to_string());
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.shared.include_stack.push(canonical);
        let sub = Parser::new(&text, file, Some(dir), self.shared, self.depth + 1);
        let parsed = sub.parse_document();
        self.shared.include_stack.pop();
        let map = parsed?;
        if let Some(frame) = self.frames.last_mut() {
            for entry in map.entries {
                frame.insert(entry);
            }
        }
        Ok(())
    }
}
