//! [`StreamFsm`]: a stream replica as Raft's state machine. Every replica applies the
//! same committed operations with the same deterministic `apply`, and writes the
//! changes, the dedup ids they touched, the stream's state record and Raft's applied
//! position as one database write. A failed write stops this replica (Raft reports the
//! group stopped) instead of letting it diverge from the others.
//!
//! Snapshots are the stream itself: its state record, dedup window, bounds and every
//! message, taken under the stream lock when a follower needs one.

use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::raft::{Committed, Fsm};

use super::apply::{StateRecord, StreamState};
use super::cmd;
use super::file_store::{decode_record, encode_record};
use super::ops::{Op, OpResult};
use super::stream::{apply_counted, Stream, StreamCore};

pub struct StreamFsm {
    stream: Arc<Stream>,
    /// Raft's position as last written (memory streams keep it only here).
    raft_meta: Mutex<Option<Vec<u8>>>,
}

impl StreamFsm {
    pub fn new(stream: Arc<Stream>) -> Arc<StreamFsm> {
        let raft_meta = stream
            .core
            .lock()
            .store
            .load_state()
            .ok()
            .flatten()
            .and_then(|r| r.raft)
            .map(String::into_bytes);
        Arc::new(StreamFsm {
            stream,
            raft_meta: Mutex::new(raft_meta),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    record: StateRecord,
    dedup: Vec<(String, u64, i64)>,
    first_seq: u64,
    last_seq: u64,
}

fn persist(core: &mut StreamCore, raft_meta: &[u8]) -> Result<(), String> {
    let StreamCore { state, store } = core;
    for (id, e) in state.id_journal.drain(..) {
        store.put_id(&id, e).map_err(|e| e.to_string())?;
    }
    let raft = String::from_utf8_lossy(raft_meta).into_owned();
    store
        .put_state(&state.record(Some(raft)))
        .map_err(|e| e.to_string())?;
    store.flush().map_err(|e| e.to_string())
}

impl Fsm for StreamFsm {
    fn apply(&self, cmds: &[Committed<'_>], raft_meta: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let s = &self.stream;
        let mut replies = Vec::with_capacity(cmds.len());
        let mut removed = false;
        let last;
        {
            let mut core = s.core.lock();
            for c in cmds {
                let results: Vec<_> = match cmd::decode_ops(c.data) {
                    Ok(ops) => {
                        let StreamCore { state, store } = &mut *core;
                        ops.into_iter()
                            .map(|op| {
                                let prev = match &op {
                                    Op::Store { subject, .. } => {
                                        state.subjects.get(subject).map_or(0, |x| x.last)
                                    }
                                    _ => 0,
                                };
                                (apply_counted(&s.account, state, store.as_mut(), op), prev)
                            })
                            .collect()
                    }
                    Err(e) => vec![(
                        Err(super::errors::ApiError::general(format!(
                            "undecodable stream entry: {e}"
                        ))),
                        0,
                    )],
                };
                removed |= results.iter().any(|(r, _)| {
                    matches!(
                        r,
                        Ok(OpResult::Purged { .. })
                            | Ok(OpResult::Deleted)
                            | Ok(OpResult::Expired { .. })
                    )
                });
                replies.push(cmd::encode_outcomes(&results));
            }
            persist(&mut core, raft_meta).map_err(|e| {
                format!("stream {} > {}: write failed: {e}", s.account.name, s.name)
            })?;
            *self.raft_meta.lock() = Some(raft_meta.to_vec());
            last = core.state.last_seq;
        }
        s.applied(last, removed);
        Ok(replies)
    }

    fn raft_meta(&self) -> Option<Vec<u8>> {
        self.raft_meta.lock().clone()
    }

    fn snapshot(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let core = self.stream.core.lock();
        let raft_meta = self.raft_meta.lock().clone().unwrap_or_default();
        let st = &core.state;
        let header = SnapshotHeader {
            record: st.record(None),
            dedup: st.dedup_entries(),
            first_seq: st.first_seq,
            last_seq: st.last_seq,
        };
        let h = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(4 + h.len() + st.bytes as usize);
        out.extend_from_slice(&(h.len() as u32).to_be_bytes());
        out.extend_from_slice(&h);
        core.store
            .for_each(&mut |seq, m| {
                let r = encode_record(m);
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(&(r.len() as u32).to_be_bytes());
                out.extend_from_slice(&r);
            })
            .map_err(|e| e.to_string())?;
        Ok((out, raft_meta))
    }

    fn install(&self, data: &[u8], raft_meta: &[u8]) -> Result<(), String> {
        let short = || "stream snapshot truncated".to_string();
        if data.len() < 4 {
            return Err(short());
        }
        let hl = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let h = data.get(4..4 + hl).ok_or_else(short)?;
        let header: SnapshotHeader = serde_json::from_slice(h).map_err(|e| e.to_string())?;
        let s = &self.stream;
        let mut core = s.core.lock();
        let old_bytes = core.state.bytes as i64;
        let storage = core.state.config.storage;
        let StreamCore { state, store } = &mut *core;
        store.clear_all().map_err(|e| e.to_string())?;
        let mut rest = &data[4 + hl..];
        while !rest.is_empty() {
            if rest.len() < 12 {
                return Err(short());
            }
            let seq = u64::from_be_bytes(rest[..8].try_into().unwrap_or_default());
            let len = u32::from_be_bytes(rest[8..12].try_into().unwrap_or_default()) as usize;
            let r = rest.get(12..12 + len).ok_or_else(short)?;
            let m = decode_record(r).map_err(|e| e.to_string())?;
            store.put(seq, &m).map_err(|e| e.to_string())?;
            rest = &rest[12 + len..];
        }
        store
            .save_bounds(header.first_seq, header.last_seq)
            .map_err(|e| e.to_string())?;
        for (id, seq, ts) in &header.dedup {
            store
                .put_id(id, Some((*seq, *ts)))
                .map_err(|e| e.to_string())?;
        }
        let mut record = header.record;
        record.raft = Some(String::from_utf8_lossy(raft_meta).into_owned());
        store.put_state(&record).map_err(|e| e.to_string())?;
        store.flush().map_err(|e| e.to_string())?;
        let config = record
            .config
            .clone()
            .unwrap_or_else(|| state.config.clone());
        let mut fresh = StreamState::load(config, store.as_ref()).map_err(|e| e.to_string())?;
        fresh.set_dedup(header.dedup);
        *state = fresh;
        s.account.js.add(storage, state.bytes as i64 - old_bytes);
        let last = state.last_seq;
        *self.raft_meta.lock() = Some(raft_meta.to_vec());
        drop(core);
        s.applied(last, true);
        Ok(())
    }
}
