//! Binary encodings of log entries (prost, with a CRC-32 checked on every read) and of
//! the RPCs between group members. Pure: no I/O.

use prost::Message as _;

use super::proto;
use super::types::{Entry, LogId, Payload};
use crate::store::crc32;

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("raft entry checksum mismatch (stored {stored:#x}, computed {computed:#x})")]
    Checksum { stored: u32, computed: u32 },
    #[error("raft record too short")]
    Short,
    #[error("raft record malformed: {0}")]
    Malformed(String),
}

/// An entry in its wire/log form.
pub fn entry_to_proto(e: &Entry) -> proto::LogEntry {
    use openraft::EntryPayload as P;
    let payload = match &e.payload {
        P::Blank => proto::log_entry::Payload::Blank(true),
        P::Normal(p) => proto::log_entry::Payload::Normal(p.0.clone()),
        P::Membership(m) => {
            proto::log_entry::Payload::Membership(serde_json::to_vec(m).unwrap_or_default().into())
        }
    };
    proto::LogEntry {
        term: e.log_id.leader_id.term,
        leader: e.log_id.leader_id.node_id,
        index: e.log_id.index,
        payload: Some(payload),
    }
}

/// An entry from its wire/log form.
pub fn entry_from_proto(p: proto::LogEntry) -> Result<Entry, CodecError> {
    use openraft::EntryPayload as P;
    let log_id = log_id(p.term, p.leader, p.index);
    let payload = match p.payload {
        Some(proto::log_entry::Payload::Blank(_)) => P::Blank,
        Some(proto::log_entry::Payload::Normal(b)) => P::Normal(Payload(b)),
        Some(proto::log_entry::Payload::Membership(b)) => P::Membership(
            serde_json::from_slice(&b).map_err(|e| CodecError::Malformed(e.to_string()))?,
        ),
        None => return Err(CodecError::Malformed("entry without payload".into())),
    };
    Ok(Entry { log_id, payload })
}

pub fn log_id(term: u64, leader: u64, index: u64) -> LogId {
    openraft::LogId::new(openraft::CommittedLeaderId::new(term, leader), index)
}

/// `[crc32 of the rest][prost LogEntry]`: what the log store keeps.
pub fn encode_stored(e: &Entry) -> Vec<u8> {
    let body = entry_to_proto(e).encode_to_vec();
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Checks the checksum and decodes a stored entry.
pub fn decode_stored(v: &[u8]) -> Result<Entry, CodecError> {
    if v.len() < 4 {
        return Err(CodecError::Short);
    }
    let stored = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    let computed = crc32(&v[4..]);
    if stored != computed {
        return Err(CodecError::Checksum { stored, computed });
    }
    let p = proto::LogEntry::decode(&v[4..]).map_err(|e| CodecError::Malformed(e.to_string()))?;
    entry_from_proto(p)
}

/// JSON of a small openraft value (votes, log ids, responses).
pub fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

pub fn from_json<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, CodecError> {
    serde_json::from_slice(b).map_err(|e| CodecError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_entry_round_trip_and_corruption() {
        let e = Entry {
            log_id: log_id(3, 2, 17),
            payload: openraft::EntryPayload::Normal(Payload(bytes::Bytes::from_static(b"hello"))),
        };
        let mut v = encode_stored(&e);
        let back = decode_stored(&v).unwrap();
        assert_eq!(back.log_id, e.log_id);
        assert!(
            matches!(back.payload, openraft::EntryPayload::Normal(ref p) if p.0[..] == b"hello"[..])
        );
        let last = v.len() - 1;
        v[last] ^= 1;
        assert!(matches!(
            decode_stored(&v),
            Err(CodecError::Checksum { .. })
        ));
        assert!(matches!(decode_stored(&v[..2]), Err(CodecError::Short)));
    }
}
