//! Encoding of what JetStream's Raft groups agree on: a stream's operations
//! ([`encode_ops`]) and what applying them produced ([`encode_outcomes`]), in the
//! prost types of `proto/jetstream.proto`. Pure.

use prost::Message as _;

use super::errors::ApiError;
use super::ops::{Op, OpResult};
use super::proto;

/// One entry of a stream's log.
pub fn encode_ops(ops: Vec<Op>) -> Vec<u8> {
    use proto::stream_op::Op as P;
    let ops = ops
        .into_iter()
        .map(|op| {
            let p = match op {
                Op::Store {
                    subject,
                    headers,
                    payload,
                    ts,
                } => P::Store(proto::Store {
                    subject,
                    headers,
                    payload,
                    ts,
                }),
                Op::Purge { filter, seq, keep } => P::Purge(proto::Purge { filter, seq, keep }),
                Op::DeleteMsg { seq, no_erase } => P::DeleteMsg(proto::DeleteMsg { seq, no_erase }),
                Op::Expire { now } => P::Expire(now),
                Op::Remove { seq } => P::Remove(seq),
                Op::Update { config } => {
                    P::Update(serde_json::to_vec(&*config).unwrap_or_default().into())
                }
                Op::ConsumerSet { name, filters } => P::ConsumerSet(proto::ConsumerSet {
                    name,
                    filters,
                    config: Default::default(),
                    created: 0,
                }),
                Op::ConsumerRemove { name } => P::ConsumerRemove(name),
            };
            proto::StreamOp { op: Some(p) }
        })
        .collect();
    proto::StreamCommand { ops }.encode_to_vec()
}

/// The operations of a stream log entry.
pub fn decode_ops(b: &[u8]) -> Result<Vec<Op>, String> {
    use proto::stream_op::Op as P;
    let cmd = proto::StreamCommand::decode(b).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(cmd.ops.len());
    for op in cmd.ops {
        out.push(match op.op.ok_or("empty stream op")? {
            P::Store(s) => Op::Store {
                subject: s.subject,
                headers: s.headers,
                payload: s.payload,
                ts: s.ts,
            },
            P::Purge(p) => Op::Purge {
                filter: p.filter,
                seq: p.seq,
                keep: p.keep,
            },
            P::DeleteMsg(d) => Op::DeleteMsg {
                seq: d.seq,
                no_erase: d.no_erase,
            },
            P::Expire(now) => Op::Expire { now },
            P::Remove(seq) => Op::Remove { seq },
            P::Update(c) => Op::Update {
                config: Box::new(serde_json::from_slice(&c).map_err(|e| e.to_string())?),
            },
            P::ConsumerSet(c) => Op::ConsumerSet {
                name: c.name,
                filters: c.filters,
            },
            P::ConsumerRemove(name) => Op::ConsumerRemove { name },
        });
    }
    Ok(out)
}

/// What applying one entry produced, one result per operation.
pub fn encode_outcomes(results: &[Decided]) -> Vec<u8> {
    use proto::outcome::Result as R;
    let outcomes = results
        .iter()
        .map(|(r, prev)| {
            let x = match r {
                Ok(OpResult::Stored { seq }) => R::Stored(*seq),
                Ok(OpResult::Duplicate { seq }) => R::Duplicate(*seq),
                Ok(OpResult::Purged { purged }) => R::Purged(*purged),
                Ok(OpResult::Deleted) => R::Deleted(true),
                Ok(OpResult::Expired { removed }) => R::Expired(*removed),
                Ok(OpResult::Updated) => R::Updated(true),
                Ok(OpResult::ConsumerChanged) => R::Consumer(true),
                Err(e) => R::Error(serde_json::to_vec(e).unwrap_or_default().into()),
            };
            proto::Outcome {
                result: Some(x),
                prev: *prev,
            }
        })
        .collect();
    proto::StreamOutcomes { outcomes }.encode_to_vec()
}

/// One operation's result and, for a stored message, the previous sequence on its
/// subject.
pub type Decided = (Result<OpResult, ApiError>, u64);

pub fn decode_outcomes(b: &[u8]) -> Result<Vec<Decided>, String> {
    use proto::outcome::Result as R;
    let o = proto::StreamOutcomes::decode(b).map_err(|e| e.to_string())?;
    Ok(o.outcomes
        .into_iter()
        .map(|x| {
            (
                match x.result {
                    Some(R::Stored(seq)) => Ok(OpResult::Stored { seq }),
                    Some(R::Duplicate(seq)) => Ok(OpResult::Duplicate { seq }),
                    Some(R::Purged(purged)) => Ok(OpResult::Purged { purged }),
                    Some(R::Deleted(_)) => Ok(OpResult::Deleted),
                    Some(R::Expired(removed)) => Ok(OpResult::Expired { removed }),
                    Some(R::Updated(_)) => Ok(OpResult::Updated),
                    Some(R::Consumer(_)) => Ok(OpResult::ConsumerChanged),
                    Some(R::Error(e)) => Err(serde_json::from_slice(&e).unwrap_or_else(|_| {
                        ApiError::general("undecodable error outcome".to_string())
                    })),
                    None => Err(ApiError::general("empty outcome".to_string())),
                },
                x.prev,
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_and_outcomes_round_trip() {
        let ops = vec![
            Op::Store {
                subject: "a.b".into(),
                headers: Some(bytes::Bytes::from_static(b"NATS/1.0\r\nX: y\r\n\r\n")),
                payload: bytes::Bytes::from_static(b"hi"),
                ts: 42,
            },
            Op::Purge {
                filter: Some("a.>".into()),
                seq: None,
                keep: Some(3),
            },
            Op::DeleteMsg {
                seq: 7,
                no_erase: true,
            },
            Op::Expire { now: 9 },
            Op::Remove { seq: 5 },
            Op::ConsumerSet {
                name: "c".into(),
                filters: vec!["a.*".into()],
            },
            Op::ConsumerRemove { name: "c".into() },
        ];
        assert_eq!(decode_ops(&encode_ops(ops.clone())).unwrap(), ops);
        let res = vec![
            (Ok(OpResult::Stored { seq: 1 }), 0),
            (Ok(OpResult::Duplicate { seq: 1 }), 0),
            (Err(ApiError::sealed()), 0),
        ];
        let back = decode_outcomes(&encode_outcomes(&res)).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0], (Ok(OpResult::Stored { seq: 1 }), 0));
        assert!(back[2].0.is_err());
    }
}
