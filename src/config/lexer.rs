//! Character-level scanning of nats.conf text: position tracking, whitespace and
//! comments, keys, quoted / block / bare strings and `include` targets.
//!
//! Owns: [`Lexer`], a cursor over the source that knows the token shapes of the
//! format. Must not: build trees, resolve variables or includes, or interpret
//! what a bare scalar means (that is `literal`).

use std::sync::Arc;

use super::error::ConfigError;
use super::value::Pos;

type Result<T> = std::result::Result<T, ConfigError>;

/// A cursor over one source text. Cheap to clone (used to look ahead).
#[derive(Clone)]
pub(crate) struct Lexer<'a> {
    src: &'a str,
    off: usize,
    line: usize,
    col: usize,
    file: Arc<str>,
}

/// Spaces and tabs (any whitespace except line breaks).
pub(crate) fn is_blank(c: char) -> bool {
    c.is_whitespace() && !is_newline(c)
}

pub(crate) fn is_newline(c: char) -> bool {
    c == '\n' || c == '\r'
}

/// Characters that end an unquoted value.
fn ends_bare(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ';' | ']' | '}')
}

/// Characters that end an unquoted key.
fn ends_key(c: char) -> bool {
    c.is_whitespace() || matches!(c, '=' | ':' | '{' | '[' | ']' | '}' | ',' | ';')
}

/// Shows a character in an error message.
pub(crate) fn show(c: Option<char>) -> String {
    match c {
        None => "end of input".to_string(),
        Some('\n') | Some('\r') => "a new line".to_string(),
        Some(c) => format!("'{}'", c.escape_debug()),
    }
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str, file: Arc<str>) -> Lexer<'a> {
        let mut lx = Lexer {
            src,
            off: 0,
            line: 1,
            col: 1,
            file,
        };
        if lx.peek() == Some('\u{feff}') {
            lx.off += '\u{feff}'.len_utf8();
        }
        lx
    }

    /// The position of the next character.
    pub fn pos(&self) -> Pos {
        Pos::new(self.file.clone(), self.line, self.col)
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.off..).unwrap_or("")
    }

    pub fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.off += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn eat_while(&mut self, pred: impl Fn(char) -> bool) -> &'a str {
        let start = self.off;
        while let Some(c) = self.peek() {
            if !pred(c) {
                break;
            }
            self.bump();
        }
        self.src.get(start..self.off).unwrap_or("")
    }

    /// Skips spaces and tabs.
    pub fn skip_blanks(&mut self) {
        self.eat_while(is_blank);
    }

    /// If at `#` or `//`, skips to the end of the line (the line break is not consumed).
    pub fn skip_comment(&mut self) -> bool {
        match (self.peek(), self.peek2()) {
            (Some('#'), _) | (Some('/'), Some('/')) => {
                self.eat_while(|c| !is_newline(c));
                true
            }
            _ => false,
        }
    }

    /// True at `#` or `//`.
    pub fn at_comment(&self) -> bool {
        matches!(
            (self.peek(), self.peek2()),
            (Some('#'), _) | (Some('/'), Some('/'))
        )
    }

    /// Skips blanks, comments and line breaks.
    pub fn skip_trivia(&mut self) {
        loop {
            self.skip_blanks();
            if self.skip_comment() {
                continue;
            }
            match self.peek() {
                Some(c) if is_newline(c) => {
                    self.bump();
                }
                _ => return,
            }
        }
    }

    /// Skips blanks and a trailing comment, staying on the current line.
    pub fn skip_line_trivia(&mut self) {
        self.skip_blanks();
        self.skip_comment();
    }

    /// Reads a key: `"quoted"`, `'quoted'` or bare (ends at whitespace, `=`, `:`,
    /// `{`, `[`, ...). Returns the key, its position and whether it was quoted.
    pub fn read_key(&mut self) -> Result<(String, Pos, bool)> {
        let pos = self.pos();
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let key = self.eat_while(|c| c != q);
                if self.bump().is_none() {
                    return Err(ConfigError::syntax(
                        &pos,
                        "unterminated quoted key: missing closing quote",
                    ));
                }
                Ok((key.to_string(), pos, true))
            }
            c => {
                let key = self.eat_while(|c| !ends_key(c));
                if key.is_empty() {
                    return Err(ConfigError::syntax(
                        &pos,
                        format!("expected a key, found {}", show(c)),
                    ));
                }
                Ok((key.to_string(), pos, false))
            }
        }
    }

    /// Reads an unquoted value up to whitespace, `,`, `;`, `]` or `}` (may be empty).
    pub fn read_bare(&mut self) -> &'a str {
        self.eat_while(|c| !ends_bare(c))
    }

    /// Reads a single-quoted raw string; the opening quote is next.
    pub fn read_single_quoted(&mut self) -> Result<String> {
        let pos = self.pos();
        self.bump();
        let s = self.eat_while(|c| c != '\'');
        if self.bump().is_none() {
            return Err(ConfigError::syntax(
                &pos,
                "unterminated string: missing closing '",
            ));
        }
        Ok(s.to_string())
    }

    /// Reads a double-quoted string with escapes `\t \n \r \" \\ \xHH`; the opening quote is next.
    pub fn read_double_quoted(&mut self) -> Result<String> {
        let pos = self.pos();
        self.bump();
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let esc_pos = self.pos();
            match self.bump() {
                None => {
                    return Err(ConfigError::syntax(
                        &pos,
                        "unterminated string: missing closing \"",
                    ))
                }
                Some('"') => break,
                Some('\\') => {
                    let c = self.bump();
                    let simple = match c {
                        Some('t') => Some(b'\t'),
                        Some('n') => Some(b'\n'),
                        Some('r') => Some(b'\r'),
                        Some('"') => Some(b'"'),
                        Some('\\') => Some(b'\\'),
                        _ => None,
                    };
                    if let Some(b) = simple {
                        buf.push(b);
                        continue;
                    }
                    if c != Some('x') {
                        return Err(ConfigError::syntax(
                            &esc_pos,
                            format!(
                                "invalid escape {} in string: only \\t, \\n, \\r, \\\", \\\\ and \\xHH are allowed",
                                match c {
                                    Some(c) if !is_newline(c) => format!("'\\{}'", c.escape_debug()),
                                    other => format!("'\\' followed by {}", show(other)),
                                }
                            ),
                        ));
                    }
                    let hi = self.bump().and_then(|c| c.to_digit(16));
                    let lo = self.bump().and_then(|c| c.to_digit(16));
                    match (hi, lo) {
                        (Some(h), Some(l)) => buf.push((h * 16 + l) as u8),
                        _ => {
                            return Err(ConfigError::syntax(
                                &esc_pos,
                                "invalid escape: expected two hexadecimal digits after \\x",
                            ))
                        }
                    }
                }
                Some(c) => {
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
            }
        }
        String::from_utf8(buf)
            .map_err(|_| ConfigError::syntax(&pos, "string is not valid UTF-8 after \\x escapes"))
    }

    /// Reads a block string: `(` ... up to a line holding only `)`. The text
    /// between `(` and that `)` is returned as is; the `(` is next.
    pub fn read_block(&mut self) -> Result<String> {
        let pos = self.pos();
        self.bump();
        let start = self.off;
        loop {
            let at_line_start = self.src.get(..self.off).is_some_and(|s| s.ends_with('\n'));
            let here = self.off;
            match self.bump() {
                None => {
                    return Err(ConfigError::syntax(
                        &pos,
                        "unterminated block string: expected ')' alone on a line",
                    ))
                }
                Some(')') if at_line_start => {
                    let closes = matches!(
                        (self.peek(), self.peek2()),
                        (None, _) | (Some('\n'), _) | (Some('\r'), Some('\n') | None)
                    );
                    if closes {
                        return Ok(self.src.get(start..here).unwrap_or("").to_string());
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// Reads the target of an `include` (quoted or bare); the cursor is at its first character.
    pub fn read_include_target(&mut self) -> Result<(String, Pos)> {
        let pos = self.pos();
        let target = match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let t = self.eat_while(|c| c != q);
                if self.bump().is_none() {
                    return Err(ConfigError::syntax(
                        &pos,
                        "unterminated include file name: missing closing quote",
                    ));
                }
                t
            }
            _ => self.eat_while(|c| !(c.is_whitespace() || matches!(c, ';' | ',' | '}'))),
        };
        if target.is_empty() {
            return Err(ConfigError::syntax(
                &pos,
                "expected a file name after 'include'",
            ));
        }
        Ok((target.to_string(), pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lx(s: &str) -> Lexer<'_> {
        Lexer::new(s, Arc::from("t.conf"))
    }

    #[test]
    fn positions_track_lines_and_columns() {
        let mut l = lx("ab\ncé\n");
        assert_eq!((l.pos().line, l.pos().col), (1, 1));
        l.bump();
        l.bump();
        assert_eq!((l.pos().line, l.pos().col), (1, 3));
        l.bump();
        assert_eq!((l.pos().line, l.pos().col), (2, 1));
        l.bump();
        l.bump();
        assert_eq!((l.pos().line, l.pos().col), (2, 3));
        assert_eq!(l.bump(), Some('\n'));
        assert_eq!(l.bump(), None);
    }

    #[test]
    fn comments_and_trivia() {
        let mut l = lx("  # c1\n// c2\n\t x");
        l.skip_trivia();
        assert_eq!(l.peek(), Some('x'));
        assert_eq!(l.pos().line, 3);
        let mut l = lx("/x");
        l.skip_trivia();
        assert_eq!(l.peek(), Some('/'));
    }

    #[test]
    fn keys() {
        let mut l = lx("foo: 1");
        assert_eq!(l.read_key().ok().map(|k| k.0), Some("foo".to_string()));
        let mut l = lx("\"a b\" = 1");
        let (k, _, quoted) = l.read_key().expect("key");
        assert_eq!((k.as_str(), quoted), ("a b", true));
        let mut l = lx("cluster{");
        assert_eq!(l.read_key().ok().map(|k| k.0), Some("cluster".to_string()));
        assert!(lx("'open").read_key().is_err());
        assert!(lx("[").read_key().is_err());
    }

    #[test]
    fn strings() {
        let mut l = lx(r#""a\tb\n\"q\" \\ \x41""#);
        assert_eq!(
            l.read_double_quoted().ok().as_deref(),
            Some("a\tb\n\"q\" \\ A")
        );
        let mut l = lx(r"'raw \t $x'");
        assert_eq!(l.read_single_quoted().ok().as_deref(), Some(r"raw \t $x"));
        assert!(lx(r#""bad \q""#).read_double_quoted().is_err());
        assert!(lx(r#""bad \x4""#).read_double_quoted().is_err());
        assert!(lx(r#""bad \xff""#).read_double_quoted().is_err());
        assert!(lx("\"open").read_double_quoted().is_err());
        assert!(lx("\"trailing \\").read_double_quoted().is_err());
    }

    #[test]
    fn block_strings() {
        let mut l = lx("(\n  line1\n  (x) )\n)\nrest");
        assert_eq!(l.read_block().ok().as_deref(), Some("\n  line1\n  (x) )\n"));
        assert_eq!(l.peek(), Some('\n'));
        let mut l = lx("(\nx\n)");
        assert_eq!(l.read_block().ok().as_deref(), Some("\nx\n"));
        let mut l = lx("(\r\nx\r\n)\r\n");
        assert_eq!(l.read_block().ok().as_deref(), Some("\r\nx\r\n"));
        assert!(lx("(\nx\n )\n").read_block().is_err());
        assert!(lx("(abc)").read_block().is_err());
    }

    #[test]
    fn bare_and_include() {
        let mut l = lx("nats://a:b@h:1, x");
        assert_eq!(l.read_bare(), "nats://a:b@h:1");
        let mut l = lx("./a.conf; x");
        assert_eq!(
            l.read_include_target().ok().map(|t| t.0),
            Some("./a.conf".to_string())
        );
        let mut l = lx("'a b.conf'");
        assert_eq!(
            l.read_include_target().ok().map(|t| t.0),
            Some("a b.conf".to_string())
        );
        assert!(lx("\n").read_include_target().is_err());
    }
}
