//! MQTT topics and filters ↔ NATS subjects, as nats-server maps them.
//!
//! Owns: the conversion rules. `/` separates levels (`.` in NATS); an empty level
//! (leading, trailing or doubled `/`) is kept with a `/` inside the NATS token
//! (`/a` → `/.a`, `a/` → `a./`, `a//b` → `a./.b`); `+` → `*`, `#` → `>`; `.` and
//! space cannot appear in MQTT topics. Must not: know about sessions.

/// Why a topic or filter cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("empty topic")]
    Empty,
    #[error("characters ' ' and '.' not supported for MQTT topics")]
    BadChar,
    #[error("wildcards not allowed in publish topic")]
    Wildcard,
    #[error("invalid wildcard use in filter")]
    BadWildcard,
}

/// Converts a PUBLISH topic name (no wildcards).
pub fn topic_to_subject(topic: &str) -> Result<String, TopicError> {
    convert(topic, false)
}

/// Converts a SUBSCRIBE filter. Also returns the extra subject to subscribe to
/// for a filter ending in `/#` (which matches the parent level too: `a/#` ↔ `a`).
pub fn filter_to_subjects(filter: &str) -> Result<(String, Option<String>), TopicError> {
    let s = convert(filter, true)?;
    let extra = (s.len() > 2 && s.ends_with(".>")).then(|| s[..s.len() - 2].to_string());
    Ok((s, extra))
}

fn convert(mt: &str, wildcards: bool) -> Result<String, TopicError> {
    if mt.is_empty() {
        return Err(TopicError::Empty);
    }
    let b = mt.as_bytes();
    let end = b.len() - 1;
    let mut res: Vec<u8> = Vec::with_capacity(b.len() + 4);
    for i in 0..b.len() {
        match b[i] {
            b'/' => {
                if i == 0 || res.last() == Some(&b'.') {
                    res.extend_from_slice(b"/.");
                } else if i == end || b[i + 1] == b'/' {
                    res.extend_from_slice(b"./");
                } else {
                    res.push(b'.');
                }
            }
            b'.' | b' ' => return Err(TopicError::BadChar),
            b'+' | b'#' => {
                if !wildcards {
                    return Err(TopicError::Wildcard);
                }
                let alone_before = i == 0 || b[i - 1] == b'/';
                let alone_after = i == end || b[i + 1] == b'/';
                if !alone_before || !alone_after || (b[i] == b'#' && i != end) {
                    return Err(TopicError::BadWildcard);
                }
                res.push(if b[i] == b'+' { b'*' } else { b'>' });
            }
            c => res.push(c),
        }
    }
    // Only ASCII bytes were replaced, so the result is still UTF-8.
    String::from_utf8(res).map_err(|_| TopicError::BadChar)
}

/// Converts a NATS subject to the topic an MQTT subscriber sees.
pub fn subject_to_topic(subject: &str) -> String {
    let s = subject.as_bytes();
    let end = s.len().saturating_sub(1);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'/' => {
                if !(i == 0 && i < end && s[i + 1] == b'.') {
                    out.push(b'/');
                }
            }
            b'.' => {
                out.push(b'/');
                if i < end && s[i + 1] == b'/' {
                    i += 1;
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for t in [
            "a",
            "a/b",
            "/a",
            "a/",
            "a//b",
            "/",
            "//",
            "a/b/c/",
            "ünï/cödé",
        ] {
            let s = topic_to_subject(t).unwrap();
            assert_eq!(subject_to_topic(&s), t, "{t} -> {s}");
        }
        assert_eq!(topic_to_subject("/a").unwrap(), "/.a");
        assert_eq!(topic_to_subject("a/").unwrap(), "a./");
        assert_eq!(topic_to_subject("a//b").unwrap(), "a./.b");
    }

    #[test]
    fn filters() {
        assert_eq!(
            filter_to_subjects("a/+/c").unwrap(),
            ("a.*.c".to_string(), None)
        );
        assert_eq!(
            filter_to_subjects("a/#").unwrap(),
            ("a.>".to_string(), Some("a".to_string()))
        );
        assert_eq!(filter_to_subjects("#").unwrap(), (">".to_string(), None));
        assert!(filter_to_subjects("a/#/b").is_err());
        assert!(filter_to_subjects("a+").is_err());
        assert!(topic_to_subject("a/+").is_err());
        assert!(topic_to_subject("a.b").is_err());
    }
}
