//! JSON renderings of stream state for API responses and `/jsz`: StreamInfo, stored
//! messages, PubAcks, and error envelopes with their `type` fields.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::apply::StreamState;
use super::errors::ApiError;
use super::msgstore::StoredMsg;

/// The `type` prefix of every API response.
pub const TYPE_PREFIX: &str = "io.nats.jetstream.api.v1.";

/// Go's zero time, which nats-server prints for "never".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Unix nanoseconds → RFC 3339 with nanoseconds (Go zero time for 0).
pub fn ts_string(ns: i64) -> String {
    if ns <= 0 {
        return ZERO_TIME.to_string();
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns as u64);
    crate::util::time::rfc3339(t)
}

/// `{"type": ..., "error": {...}}`.
/// As nats-server, an error reply keeps the response's always-present fields at zero
/// (stream info is a paged response; a purge reply always has `purged`).
pub fn error_response(kind: &str, e: &ApiError) -> Value {
    let mut v = json!({ "type": format!("{TYPE_PREFIX}{kind}"), "error": e });
    match kind {
        "stream_info_response" => {
            v["total"] = json!(0);
            v["offset"] = json!(0);
            v["limit"] = json!(0);
        }
        "stream_purge_response" => v["purged"] = json!(0),
        _ => {}
    }
    v
}

/// Adds the `type` field to a success body.
pub fn typed(kind: &str, mut body: Value) -> Value {
    if let Value::Object(m) = &mut body {
        m.insert("type".into(), Value::String(format!("{TYPE_PREFIX}{kind}")));
    }
    body
}

/// Options of a STREAM.INFO request.
#[derive(Debug, Default, Clone)]
pub struct InfoOpts {
    pub subjects_filter: Option<String>,
    pub deleted_details: bool,
    /// First subject (in subject order) of the `subjects` page.
    pub offset: usize,
}

/// Subjects per STREAM.INFO page (nats-server's `JSMaxSubjectDetails`).
pub const SUBJECTS_PAGE: usize = 100_000;

/// The subjects matching the request's `subjects_filter` with their message counts,
/// in subject order; empty without a filter.
fn filtered_subjects<'a>(st: &'a StreamState, opts: &InfoOpts) -> Vec<(&'a String, u64)> {
    let Some(f) = opts.subjects_filter.as_deref().filter(|f| !f.is_empty()) else {
        return Vec::new();
    };
    let mut v: Vec<(&String, u64)> = st
        .subjects
        .iter()
        .filter(|(s, _)| crate::subject::matches(f, s))
        .map(|(s, ss)| (s, ss.msgs))
        .collect();
    v.sort_unstable();
    v
}

/// The paging fields of a STREAM.INFO response, `(total, offset, limit)`: the number
/// of subjects matching the filter, the page's start and size; zeros when no
/// subject matches (as nats-server).
pub fn subjects_paging(st: &StreamState, opts: &InfoOpts) -> (usize, usize, usize) {
    let total = filtered_subjects(st, opts).len();
    if total == 0 {
        (0, 0, 0)
    } else {
        (total, opts.offset.min(total), SUBJECTS_PAGE)
    }
}

/// The `state` object of a StreamInfo.
pub fn state_json(st: &StreamState, opts: &InfoOpts) -> Value {
    let mut m = Map::new();
    m.insert("messages".into(), json!(st.msgs));
    m.insert("bytes".into(), json!(st.bytes));
    m.insert("first_seq".into(), json!(st.first_seq));
    m.insert("first_ts".into(), json!(ts_string(st.first_ts)));
    m.insert("last_seq".into(), json!(st.last_seq));
    m.insert("last_ts".into(), json!(ts_string(st.last_ts)));
    if !st.subjects.is_empty() {
        m.insert("num_subjects".into(), json!(st.subjects.len()));
    }
    let subjects: Map<String, Value> = filtered_subjects(st, opts)
        .into_iter()
        .skip(opts.offset)
        .take(SUBJECTS_PAGE)
        .map(|(s, n)| (s.clone(), json!(n)))
        .collect();
    if !subjects.is_empty() {
        m.insert("subjects".into(), Value::Object(subjects));
    }
    if st.num_deleted() > 0 {
        m.insert("num_deleted".into(), json!(st.num_deleted()));
        if opts.deleted_details {
            m.insert(
                "deleted".into(),
                json!(st.deleted.iter().collect::<Vec<_>>()),
            );
        }
    }
    m.insert("consumer_count".into(), json!(st.consumers.len()));
    Value::Object(m)
}

/// A StreamInfo body (without `type`).
pub fn stream_info(st: &StreamState, created: i64, server_name: &str, opts: &InfoOpts) -> Value {
    json!({
        "config": st.config,
        "created": ts_string(created),
        "state": state_json(st, opts),
        "cluster": { "leader": server_name },
        "ts": crate::util::time::rfc3339(std::time::SystemTime::now()),
    })
}

/// The `message` object of a STREAM.MSG.GET response.
pub fn stored_msg_json(seq: u64, m: &StoredMsg) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut o = Map::new();
    o.insert("subject".into(), json!(m.subject));
    o.insert("seq".into(), json!(seq));
    if let Some(h) = &m.headers {
        o.insert("hdrs".into(), json!(b64.encode(h)));
    }
    if !m.payload.is_empty() {
        o.insert("data".into(), json!(b64.encode(&m.payload)));
    }
    o.insert("time".into(), json!(ts_string(m.ts)));
    json!({ "message": Value::Object(o) })
}

/// A PubAck (no `type` field, as nats-server sends it).
pub fn pub_ack(stream: &str, seq: u64, duplicate: bool, domain: Option<&str>) -> Value {
    let mut o = Map::new();
    o.insert("stream".into(), json!(stream));
    if let Some(d) = domain {
        o.insert("domain".into(), json!(d));
    }
    o.insert("seq".into(), json!(seq));
    if duplicate {
        o.insert("duplicate".into(), json!(true));
    }
    Value::Object(o)
}

/// The same PubAck as [`pub_ack`], written straight to bytes (the publish path).
pub fn pub_ack_bytes(stream: &str, seq: u64, duplicate: bool, domain: Option<&str>) -> Vec<u8> {
    use std::io::Write as _;
    let mut v = Vec::with_capacity(48 + stream.len());
    v.extend_from_slice(b"{\"stream\":");
    let _ = serde_json::to_writer(&mut v, stream);
    if let Some(d) = domain {
        v.extend_from_slice(b",\"domain\":");
        let _ = serde_json::to_writer(&mut v, d);
    }
    let _ = write!(v, ",\"seq\":{seq}");
    if duplicate {
        v.extend_from_slice(b",\"duplicate\":true");
    }
    v.push(b'}');
    v
}

/// A failed publish: the error plus `stream` and `seq: 0`.
pub fn pub_ack_error(stream: &str, e: &ApiError) -> Value {
    json!({ "error": e, "stream": stream, "seq": 0 })
}

/// The header block of a direct-get answer: the stored headers plus the message's
/// stream, subject, sequence and timestamp.
pub fn direct_headers(stream: &str, seq: u64, m: &StoredMsg) -> Vec<u8> {
    let mut h: Vec<u8> = match &m.headers {
        Some(b) if b.len() >= 4 => {
            // Drop the blank line that ends the stored block; keep its status line.
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
    h.extend_from_slice(format!("Nats-Subject: {}\r\n", m.subject).as_bytes());
    h.extend_from_slice(format!("Nats-Sequence: {seq}\r\n").as_bytes());
    h.extend_from_slice(format!("Nats-Time-Stamp: {}\r\n", ts_string(m.ts)).as_bytes());
    h.extend_from_slice(b"\r\n");
    h
}

/// The direct-get miss status.
pub const DIRECT_NOT_FOUND: &[u8] = b"NATS/1.0 404 Message Not Found\r\n\r\n";
/// The direct-get status for a body that is not a request.
pub const DIRECT_MALFORMED_REQUEST: &[u8] = b"NATS/1.0 408 Malformed Request\r\n\r\n";
/// The direct-get status for a request that chooses no message.
pub const DIRECT_EMPTY_REQUEST: &[u8] = b"NATS/1.0 408 Empty Request\r\n\r\n";
/// The direct-get status for conflicting choices (e.g. a sequence and a last subject).
pub const DIRECT_BAD_REQUEST: &[u8] = b"NATS/1.0 408 Bad Request\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pub_ack_bytes_matches_the_json_rendering() {
        for (dup, domain) in [(false, None), (true, Some("hub")), (false, Some("a\"b"))] {
            let fast: Value =
                serde_json::from_slice(&pub_ack_bytes("S\"1", 42, dup, domain)).unwrap();
            assert_eq!(fast, pub_ack("S\"1", 42, dup, domain));
        }
    }
}
