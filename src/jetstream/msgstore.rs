//! The per-stream message store trait and its memory implementation. File storage
//! (RocksDB through `crate::store`) is in `file_store.rs`.
//!
//! A store holds messages by sequence and an index by subject; it knows nothing of
//! limits or retention (that is `apply`). Writes are visible at once; durability comes
//! from `crate::store::Db::sync`, awaited by the caller before acknowledging.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;

use crate::store::StoreError;

use super::apply::StateRecord;
use super::config::Storage;

/// One stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMsg {
    pub subject: String,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
    /// Unix nanoseconds, from the operation that stored it.
    pub ts: i64,
}

impl StoredMsg {
    /// Header and payload bytes (what a read-ahead window counts).
    pub fn data_len(&self) -> usize {
        self.payload.len() + self.headers.as_ref().map_or(0, |h| h.len())
    }

    /// Size as nats-server accounts it (subject + headers + payload + overhead).
    pub fn size(&self, storage: Storage) -> u64 {
        msg_size(
            storage,
            &self.subject,
            self.headers.as_ref().map_or(0, |h| h.len()),
            self.payload.len(),
        )
    }
}

/// The size nats-server counts for a message (stream `bytes`, `max_bytes`): its
/// file-store record (length 4, sequence 8, time 8, subject length 2, the subject,
/// header length 4 when there are headers, headers, payload, checksum 8) or, in
/// memory, subject + headers + payload + 16.
pub fn msg_size(storage: Storage, subject: &str, hdr: usize, payload: usize) -> u64 {
    let data = subject.len() + hdr + payload;
    (match storage {
        Storage::File if hdr > 0 => data + 22 + 4 + 8,
        Storage::File => data + 22 + 8,
        Storage::Memory => data + 16,
    }) as u64
}

/// What a stream stores its messages in.
pub trait MsgStore: Send {
    /// Stores `msg` at `seq`.
    fn put(&mut self, seq: u64, msg: &StoredMsg) -> Result<(), StoreError>;
    /// Loads the message at `seq`; a record that fails its checksum is an error.
    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError>;
    /// Removes the message at `seq` (whose subject is `subject`).
    fn remove(&mut self, seq: u64, subject: &str) -> Result<(), StoreError>;
    /// Removes the message at `seq` after overwriting its stored data (secure erase,
    /// `MSG.DELETE` without `no_erase`). Memory storage just drops it.
    fn erase(&mut self, seq: u64, subject: &str) -> Result<(), StoreError> {
        self.remove(seq, subject)
    }
    /// The first sequence ≥ `from` stored on the literal `subject`.
    fn next_for_subject(&self, subject: &str, from: u64) -> Result<Option<u64>, StoreError>;
    /// Writes out what `put`/`remove` buffered (a store may collect one batch's
    /// writes into one database write). Reads always see buffered writes.
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// How many messages on the literal `subject` have sequence ≥ `from`.
    fn count_subject_from(&self, subject: &str, from: u64) -> Result<u64, StoreError> {
        let mut n = 0;
        let mut at = from;
        while let Some(s) = self.next_for_subject(subject, at)? {
            n += 1;
            at = s + 1;
        }
        Ok(n)
    }
    /// Messages with sequence in `from..=to`, in order, at most `max_msgs` and stopping
    /// after the one that reaches `max_bytes`; absent sequences are skipped. Also
    /// returns the sequence where reading stopped: everything below it was read. A
    /// record that fails its checksum ends the read there (an error if it is first).
    fn read_range(
        &self,
        from: u64,
        to: u64,
        max_msgs: usize,
        max_bytes: usize,
    ) -> Result<(Vec<(u64, StoredMsg)>, u64), StoreError> {
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut seq = from;
        while seq <= to && out.len() < max_msgs && bytes < max_bytes {
            match self.get(seq) {
                Ok(Some(m)) => {
                    bytes += m.data_len();
                    out.push((seq, m));
                }
                Ok(None) => {}
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => break,
            }
            seq += 1;
        }
        Ok((out, seq))
    }
    /// Up to `limit` (sequence, subject) pairs with sequence ≥ `from`, in order.
    fn scan_from(&self, from: u64, limit: usize) -> Result<Vec<(u64, String)>, StoreError>;
    /// Removes every message and index entry.
    fn clear(&mut self) -> Result<(), StoreError>;
    /// Persists the sequence bounds (needed when the stream empties).
    fn save_bounds(&mut self, first: u64, last: u64) -> Result<(), StoreError>;
    /// Persisted bounds, if any.
    fn load_bounds(&self) -> Result<Option<(u64, u64)>, StoreError>;
    /// Every message in order, for rebuilding state at startup.
    fn for_each(&self, f: &mut dyn FnMut(u64, &StoredMsg)) -> Result<(), StoreError>;
    /// Buffers the stream's state record (written with the next flush).
    fn put_state(&mut self, record: &StateRecord) -> Result<(), StoreError>;
    /// The persisted state record, if any.
    fn load_state(&self) -> Result<Option<StateRecord>, StoreError>;
    /// Buffers a dedup id (`Some((seq, ts))`) or its removal (`None`).
    fn put_id(&mut self, id: &str, entry: Option<(u64, i64)>) -> Result<(), StoreError>;
    /// Every persisted dedup id.
    fn load_ids(&self) -> Result<Vec<(String, u64, i64)>, StoreError>;
    /// Removes every message, index entry, id and the state record.
    fn clear_all(&mut self) -> Result<(), StoreError>;
}

/// Memory storage: a map by sequence and a set of sequences per subject.
#[derive(Default)]
pub struct MemStore {
    msgs: BTreeMap<u64, StoredMsg>,
    by_subject: HashMap<String, BTreeSet<u64>>,
    bounds: Option<(u64, u64)>,
    state: Option<StateRecord>,
    ids: HashMap<String, (u64, i64)>,
}

impl MsgStore for MemStore {
    fn put(&mut self, seq: u64, msg: &StoredMsg) -> Result<(), StoreError> {
        self.msgs.insert(seq, msg.clone());
        self.by_subject
            .entry(msg.subject.clone())
            .or_default()
            .insert(seq);
        Ok(())
    }

    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        Ok(self.msgs.get(&seq).cloned())
    }

    fn remove(&mut self, seq: u64, subject: &str) -> Result<(), StoreError> {
        self.msgs.remove(&seq);
        if let Some(set) = self.by_subject.get_mut(subject) {
            set.remove(&seq);
            if set.is_empty() {
                self.by_subject.remove(subject);
            }
        }
        Ok(())
    }

    fn next_for_subject(&self, subject: &str, from: u64) -> Result<Option<u64>, StoreError> {
        Ok(self
            .by_subject
            .get(subject)
            .and_then(|s| s.range(from..).next().copied()))
    }

    fn count_subject_from(&self, subject: &str, from: u64) -> Result<u64, StoreError> {
        Ok(self
            .by_subject
            .get(subject)
            .map_or(0, |s| s.range(from..).count() as u64))
    }

    fn read_range(
        &self,
        from: u64,
        to: u64,
        max_msgs: usize,
        max_bytes: usize,
    ) -> Result<(Vec<(u64, StoredMsg)>, u64), StoreError> {
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut next = to.saturating_add(1);
        for (seq, m) in self.msgs.range(from..=to) {
            if out.len() >= max_msgs || bytes >= max_bytes {
                next = *seq;
                break;
            }
            bytes += m.data_len();
            out.push((*seq, m.clone()));
        }
        Ok((out, next))
    }

    fn scan_from(&self, from: u64, limit: usize) -> Result<Vec<(u64, String)>, StoreError> {
        Ok(self
            .msgs
            .range(from..)
            .take(limit)
            .map(|(s, m)| (*s, m.subject.clone()))
            .collect())
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.msgs.clear();
        self.by_subject.clear();
        Ok(())
    }

    fn save_bounds(&mut self, first: u64, last: u64) -> Result<(), StoreError> {
        self.bounds = Some((first, last));
        Ok(())
    }

    fn load_bounds(&self) -> Result<Option<(u64, u64)>, StoreError> {
        Ok(self.bounds)
    }

    fn for_each(&self, f: &mut dyn FnMut(u64, &StoredMsg)) -> Result<(), StoreError> {
        for (s, m) in &self.msgs {
            f(*s, m);
        }
        Ok(())
    }

    fn put_state(&mut self, record: &StateRecord) -> Result<(), StoreError> {
        self.state = Some(record.clone());
        Ok(())
    }

    fn load_state(&self) -> Result<Option<StateRecord>, StoreError> {
        Ok(self.state.clone())
    }

    fn put_id(&mut self, id: &str, entry: Option<(u64, i64)>) -> Result<(), StoreError> {
        match entry {
            Some(e) => self.ids.insert(id.to_string(), e),
            None => self.ids.remove(id),
        };
        Ok(())
    }

    fn load_ids(&self) -> Result<Vec<(String, u64, i64)>, StoreError> {
        Ok(self
            .ids
            .iter()
            .map(|(k, (s, t))| (k.clone(), *s, *t))
            .collect())
    }

    fn clear_all(&mut self) -> Result<(), StoreError> {
        *self = MemStore::default();
        Ok(())
    }
}
