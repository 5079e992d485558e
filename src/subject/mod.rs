//! NATS subject syntax: validation, tokenizing and wildcard matching.
//!
//! # What this module owns
//! The rules for what a subject and a queue group name look like, and the
//! pure, allocation-free predicates built on them: validity checks,
//! wildcard matching of a subject against a pattern, overlap of two patterns
//! and pattern containment.
//!
//! # What it must not touch
//! Nothing stateful: no sockets, no auth or permission policy, no JetStream
//! or stream knowledge, no subscription storage (that is `crate::sublist`).
//! Callers decide *when* a rule applies (e.g. pedantic mode for PUB).
//!
//! # Rules (as in nats-server)
//! * A subject is one or more `.`-separated tokens. Every token is non-empty
//!   and contains no whitespace (space, `\t`, `\r`, `\n`, and — as
//!   nats-server also rejects it — form feed `\x0c`). Matching is
//!   case-sensitive. So `""`, `"."`, `"foo."`, `".foo"` and `"foo..bar"` are
//!   invalid.
//! * `*` matches exactly one token; `>` matches one or more trailing tokens
//!   and must be the last token. Wildcards only count as a whole token:
//!   `foo*` and `a>` are ordinary literal tokens.
//! * A literal subject has no wildcard tokens (required for publishing in
//!   pedantic mode and for JetStream).
//! * A queue group name is non-empty and contains no whitespace.
//!
//! # Invariants
//! * No function allocates or panics, whatever the input.
//! * Every predicate over subjects returns `false` when an argument is not a
//!   valid subject (see each function for which validity it requires).
//! * A wildcard character in the *subject* argument of [`matches()`] is treated
//!   as an ordinary token, exactly like the subscription trie does, so
//!   `crate::sublist` and [`matches()`] always agree.

/// Token separator.
pub const SEP: u8 = b'.';
/// Single-token wildcard.
pub const PWC: u8 = b'*';
/// Full (trailing) wildcard.
pub const FWC: u8 = b'>';

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c')
}

/// Validity of `s`, and whether it contains wildcard tokens.
/// Returns `None` if invalid, `Some(has_wildcard)` if valid.
#[inline]
fn check(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let mut wildcard = false;
    let mut seen_fwc = false;
    let mut start = 0usize;
    let mut i = 0usize;
    loop {
        let at_end = i == b.len();
        if at_end || b[i] == SEP {
            let len = i - start;
            if len == 0 || seen_fwc {
                return None;
            }
            if len == 1 {
                match b[start] {
                    PWC => wildcard = true,
                    FWC => {
                        wildcard = true;
                        seen_fwc = true;
                    }
                    _ => {}
                }
            }
            if at_end {
                return Some(wildcard);
            }
            start = i + 1;
        } else if is_ws(b[i]) {
            return None;
        }
        i += 1;
    }
}

/// Whether `s` is a valid subscription subject (wildcards allowed).
pub fn is_valid_subject(s: &str) -> bool {
    check(s).is_some()
}

/// Whether `s` is a valid subject with no wildcard tokens (for pedantic
/// publishing and JetStream).
pub fn is_valid_literal_subject(s: &str) -> bool {
    check(s) == Some(false)
}

/// Whether `s` contains no wildcard tokens (`*` or `>` as a whole token).
/// Does not check validity otherwise: `is_literal("foo..bar")` is `true`.
pub fn is_literal(s: &str) -> bool {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == PWC || c == FWC {
            let starts = i == 0 || b[i - 1] == SEP;
            let ends = i + 1 == b.len() || b[i + 1] == SEP;
            if starts && ends {
                return false;
            }
        }
    }
    true
}

/// Whether `s` is a valid queue group name: non-empty, no whitespace.
pub fn is_valid_queue(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(is_ws)
}

/// The `.`-separated tokens of `s`. Yields nothing for the empty string;
/// yields empty tokens for malformed subjects such as `foo..bar`.
pub fn tokens(s: &str) -> impl Iterator<Item = &str> {
    let mut it = s.split('.');
    if s.is_empty() {
        // `"".split('.')` yields one empty token; an empty subject has none.
        it.next();
    }
    it
}

/// Number of tokens in `s` (0 for the empty string).
pub fn num_tokens(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        s.bytes().filter(|&c| c == SEP).count() + 1
    }
}

/// Whether the subject `subject` is matched by `pattern`.
///
/// Both must be valid subjects, else `false`. Wildcards in `pattern` have
/// their usual meaning; tokens of `subject` are compared literally (a `*`
/// token in `subject` is only matched by `*`, `>` or a literal `*`, which
/// cannot exist), mirroring the subscription trie.
pub fn matches(pattern: &str, subject: &str) -> bool {
    if !is_valid_subject(pattern) || !is_valid_subject(subject) {
        return false;
    }
    let mut subj = subject.split('.');
    for p in pattern.split('.') {
        match p {
            ">" => return subj.next().is_some(),
            "*" => {
                if subj.next().is_none() {
                    return false;
                }
            }
            lit => match subj.next() {
                Some(t) if t == lit => {}
                _ => return false,
            },
        }
    }
    subj.next().is_none()
}

/// Whether some literal subject is matched by both patterns `a` and `b`
/// (e.g. to detect overlapping JetStream stream subjects). Both must be
/// valid subjects, else `false`.
pub fn subjects_overlap(a: &str, b: &str) -> bool {
    if !is_valid_subject(a) || !is_valid_subject(b) {
        return false;
    }
    let mut ta = a.split('.');
    let mut tb = b.split('.');
    loop {
        match (ta.next(), tb.next()) {
            (None, None) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some("*"), Some(_)) | (Some(_), Some("*")) => {}
            (Some(x), Some(y)) => {
                if x != y {
                    return false;
                }
            }
        }
    }
}

/// Whether every subject matched by the pattern `sub` is also matched by
/// the pattern `sup`. Both must be valid subjects, else `false`.
pub fn is_subset(sub: &str, sup: &str) -> bool {
    if !is_valid_subject(sub) || !is_valid_subject(sup) {
        return false;
    }
    let mut ts = sub.split('.');
    let mut tp = sup.split('.');
    loop {
        match (ts.next(), tp.next()) {
            (None, None) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(_), Some(">")) => return true,
            (Some(">"), Some(_)) => return false,
            (Some(_), Some("*")) => {}
            (Some(s), Some(p)) => {
                // `p` is a literal here; `s` must be the same literal
                // (a `*` in `sub` would match more than `p`).
                if s != p {
                    return false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
