//! RePublish: a stream configured with `republish {src, dest, headers_only}` publishes
//! every stored message whose subject matches `src` to `dest` (a subject transform),
//! with the stream, subject, sequence and the subject's previous sequence in headers.
//! KV buckets expose it as `republish`. Pure: validation, the transform and the header
//! block; `stream.rs` sends the messages once their batch is durable.

use serde_json::Value;

use super::config::StreamConfig;
use super::errors::ApiError;

/// One token of the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DestToken {
    Literal(String),
    /// The n-th (1-based) `*` of the source.
    Wildcard(usize),
    /// The tokens the source's trailing `>` matched.
    Tail,
}

/// A compiled republish rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republish {
    src: String,
    dest: Vec<DestToken>,
    pub headers_only: bool,
}

fn not_valid() -> ApiError {
    ApiError::stream_config("stream configuration for republish not valid")
}

/// `{{wildcard(n)}}` (any case, spaces allowed) or the legacy `$n`.
fn wildcard_index(tok: &str) -> Option<Result<usize, ()>> {
    if let Some(n) = tok.strip_prefix('$') {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return Some(n.parse().map_err(|_| ()));
        }
        return None;
    }
    let inner = tok.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let lower = inner.to_ascii_lowercase();
    let arg = lower
        .strip_prefix("wildcard")
        .map(str::trim)
        .and_then(|a| a.strip_prefix('('))
        .and_then(|a| a.strip_suffix(')'));
    Some(arg.and_then(|a| a.trim().parse().ok()).ok_or(()))
}

impl Republish {
    /// Compiles the `republish` object of a stream config (`src` defaults to `>`).
    pub fn compile(v: &Value) -> Result<Republish, ApiError> {
        let src = match v.get("src") {
            None | Some(Value::Null) => ">",
            Some(Value::String(s)) if s.is_empty() => ">",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(not_valid()),
        };
        let dest = match v.get("dest") {
            Some(Value::String(s)) if !s.is_empty() => s.as_str(),
            _ => return Err(not_valid()),
        };
        let headers_only = match v.get("headers_only") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(not_valid()),
        };
        if !crate::subject::is_valid_subject(src) {
            return Err(not_valid());
        }
        let stars = crate::subject::tokens(src).filter(|t| *t == "*").count();
        let src_tail = src == ">" || src.ends_with(".>");
        let n = crate::subject::num_tokens(dest);
        let mut out = Vec::with_capacity(n);
        for (i, tok) in dest.split('.').enumerate() {
            if tok.is_empty() || tok.chars().any(char::is_whitespace) && !tok.starts_with("{{") {
                return Err(not_valid());
            }
            match tok {
                "*" => return Err(not_valid()),
                ">" => {
                    if i + 1 != n || !src_tail {
                        return Err(not_valid());
                    }
                    out.push(DestToken::Tail);
                }
                _ => match wildcard_index(tok) {
                    Some(Ok(k)) if k >= 1 && k <= stars => out.push(DestToken::Wildcard(k)),
                    Some(_) => return Err(not_valid()),
                    None => out.push(DestToken::Literal(tok.to_string())),
                },
            }
        }
        Ok(Republish {
            src: src.to_string(),
            dest: out,
            headers_only,
        })
    }

    /// The rule of a stream, if it has a valid one.
    pub fn of(cfg: &StreamConfig) -> Option<Republish> {
        cfg.republish
            .as_ref()
            .and_then(|v| Republish::compile(v).ok())
    }

    /// Checks the rule against the stream's subjects and fills the `src` default.
    pub fn normalize(cfg: &mut StreamConfig) -> Result<(), ApiError> {
        let Some(v) = cfg.republish.as_mut() else {
            return Ok(());
        };
        let rp = Republish::compile(v)?;
        if let Value::Object(o) = v {
            o.insert("src".into(), Value::String(rp.src.clone()));
        }
        if !cfg
            .subjects
            .iter()
            .any(|s| crate::subject::subjects_overlap(s, &rp.src))
        {
            return Err(ApiError::stream_config(
                "stream configuration for republish source is not valid subset of subjects",
            ));
        }
        // A destination that could land in the stream again forms a cycle.
        let dest_pattern: Vec<&str> = rp
            .dest
            .iter()
            .map(|t| match t {
                DestToken::Literal(s) => s.as_str(),
                DestToken::Wildcard(_) => "*",
                DestToken::Tail => ">",
            })
            .collect();
        let dest_pattern = dest_pattern.join(".");
        if cfg
            .subjects
            .iter()
            .any(|s| crate::subject::subjects_overlap(s, &dest_pattern))
        {
            return Err(ApiError::stream_config(
                "stream configuration for republish destination forms a cycle",
            ));
        }
        Ok(())
    }

    /// The destination for a stored message's subject, if the source matches it.
    pub fn destination(&self, subject: &str) -> Option<String> {
        if !crate::subject::matches(&self.src, subject) {
            return None;
        }
        let src: Vec<&str> = self.src.split('.').collect();
        let subj: Vec<&str> = subject.split('.').collect();
        let stars: Vec<&str> = src
            .iter()
            .zip(subj.iter())
            .filter(|(p, _)| **p == "*")
            .map(|(_, s)| *s)
            .collect();
        let tail = if src.last() == Some(&">") {
            subj[src.len() - 1..].join(".")
        } else {
            String::new()
        };
        let mut out: Vec<&str> = Vec::with_capacity(self.dest.len());
        for t in &self.dest {
            match t {
                DestToken::Literal(s) => out.push(s),
                DestToken::Wildcard(k) => out.push(stars.get(k - 1)?),
                DestToken::Tail => out.push(&tail),
            }
        }
        Some(out.join("."))
    }

    /// The header block of the republished message: the stored headers, then
    /// `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`, `Nats-Last-Sequence` (the
    /// subject's previous sequence, 0 if none) and, headers only, `Nats-Msg-Size`.
    pub fn headers(
        &self,
        stored: Option<&[u8]>,
        stream: &str,
        subject: &str,
        seq: u64,
        last_seq: u64,
        payload_len: usize,
    ) -> Vec<u8> {
        let mut h: Vec<u8> = match stored {
            Some(b) if b.len() >= 4 => {
                let mut v = b.to_vec();
                while v.ends_with(b"\r\n") {
                    v.truncate(v.len() - 2);
                }
                v.extend_from_slice(b"\r\n");
                v
            }
            _ => b"NATS/1.0\r\n".to_vec(),
        };
        h.extend_from_slice(format!("Nats-Stream: {stream}\r\n").as_bytes());
        h.extend_from_slice(format!("Nats-Subject: {subject}\r\n").as_bytes());
        h.extend_from_slice(format!("Nats-Sequence: {seq}\r\n").as_bytes());
        h.extend_from_slice(format!("Nats-Last-Sequence: {last_seq}\r\n").as_bytes());
        if self.headers_only {
            h.extend_from_slice(format!("Nats-Msg-Size: {payload_len}\r\n").as_bytes());
        }
        h.extend_from_slice(b"\r\n");
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rp(v: Value) -> Result<Republish, ApiError> {
        Republish::compile(&v)
    }

    #[test]
    fn transforms() {
        let r = rp(json!({"src": "$KV.b.>", "dest": "rp.>"})).unwrap();
        assert_eq!(r.destination("$KV.b.x.y").as_deref(), Some("rp.x.y"));
        assert_eq!(r.destination("$KV.c.x"), None);
        let r = rp(json!({"dest": "all.>"})).unwrap();
        assert_eq!(r.destination("a.b").as_deref(), Some("all.a.b"));
        let r = rp(json!({"src": "c.*.*", "dest": "rp.{{wildcard(2)}}.{{ Wildcard( 1 ) }}.$1"}))
            .unwrap();
        assert_eq!(
            r.destination("c.one.two").as_deref(),
            Some("rp.two.one.one")
        );
        let r = rp(json!({"src": "c.a", "dest": "$KV.c"})).unwrap();
        assert_eq!(r.destination("c.a").as_deref(), Some("$KV.c"));
        assert_eq!(r.destination("c.b"), None);
    }

    #[test]
    fn invalid_rules() {
        for v in [
            json!({"src": "a.>"}),
            json!({"dest": ""}),
            json!({"src": "a.>", "dest": "b.*"}),
            json!({"src": "a.*", "dest": "b.*"}),
            json!({"src": "a.*", "dest": "b.>"}),
            json!({"src": "a.*", "dest": "b.{{wildcard(2)}}"}),
            json!({"src": "a.*", "dest": "b.{{wildcard(0)}}"}),
            json!({"src": "a.*", "dest": "b.{{partition(1)}}"}),
            json!({"src": "a..b", "dest": "b"}),
            json!({"src": "a", "dest": "b..c"}),
        ] {
            assert!(rp(v.clone()).is_err(), "{v}");
        }
    }

    #[test]
    fn stream_checks() {
        let cfg = |r: Value| StreamConfig {
            republish: Some(r),
            subjects: vec!["s.>".into()],
            ..serde_json::from_value::<StreamConfig>(json!({"name": "S"})).unwrap()
        };
        let mut c = cfg(json!({"dest": "out.>"}));
        Republish::normalize(&mut c).unwrap();
        assert_eq!(c.republish.unwrap()["src"], ">");
        let mut c = cfg(json!({"src": "t.>", "dest": "out.>"}));
        assert!(Republish::normalize(&mut c)
            .unwrap_err()
            .description
            .contains("subset"));
        let mut c = cfg(json!({"src": "s.>", "dest": "s.x.>"}));
        assert!(Republish::normalize(&mut c)
            .unwrap_err()
            .description
            .contains("cycle"));
    }

    #[test]
    fn header_block() {
        let r = rp(json!({"dest": "o.>", "headers_only": true})).unwrap();
        let h = r.headers(Some(b"NATS/1.0\r\nFoo: bar\r\n\r\n"), "S", "a.b", 7, 3, 5);
        assert_eq!(
            String::from_utf8(h).unwrap(),
            "NATS/1.0\r\nFoo: bar\r\nNats-Stream: S\r\nNats-Subject: a.b\r\n\
             Nats-Sequence: 7\r\nNats-Last-Sequence: 3\r\nNats-Msg-Size: 5\r\n\r\n"
        );
    }
}
