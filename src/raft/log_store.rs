//! The Raft log of every group on this node, in the node's one RocksDB (`Cf::Raft`).
//!
//! Keys: `[group u64 BE][tag]` + for entries `[index u64 BE]`, so a group's entries are
//! one contiguous, index-ordered range. Tags: `e` entry, `v` vote, `c` committed,
//! `p` last purged log id. Entries are `[crc32][prost LogEntry]` (see `codec.rs`) and
//! their checksum is checked on every read.
//!
//! Durability: `append` writes the entries (readable at once) and completes openraft's
//! callback only after an fsync; `save_vote` returns only after an fsync. Both go
//! through the store's one sync thread, which covers every concurrent append of every
//! group with one fsync (group commit), independent of `sync_interval`.
//! Owns nothing else; must not touch other column families except through `destroy_into`.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, StorageIOError};

use super::codec;
use super::tail_cache::TailCache;
use super::types::{Entry, GroupId, LogId, StorageError, TypeConfig, Vote};
use crate::store::{Batch, Cf, Db};

const TAG_ENTRY: u8 = b'e';
const TAG_VOTE: u8 = b'v';
const TAG_COMMITTED: u8 = b'c';
const TAG_PURGED: u8 = b'p';

fn key(group: GroupId, tag: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.extend_from_slice(&group.to_be_bytes());
    k.push(tag);
    k
}

fn entry_key(group: GroupId, index: u64) -> Vec<u8> {
    let mut k = key(group, TAG_ENTRY);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn index_of(k: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if k.len() >= 17 {
        b.copy_from_slice(&k[9..17]);
    }
    u64::from_be_bytes(b)
}

/// One group's log, vote and commit mark. Cheap to clone (the reader is a clone,
/// sharing the tail cache).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Db>,
    group: GroupId,
    tail: Arc<parking_lot::Mutex<TailCache>>,
}

impl LogStore {
    pub fn new(db: Arc<Db>, group: GroupId) -> Self {
        LogStore {
            db,
            group,
            tail: Arc::default(),
        }
    }

    /// Adds to `batch` the deletion of everything group `group` keeps in the log
    /// (so a stream's data and its log go in one atomic write).
    pub fn destroy_into(batch: &mut Batch, group: GroupId) {
        batch.delete_range(Cf::Raft, key(group, 0), key(group + 1, 0));
    }

    /// Whether the group has any Raft state here (vote or entries).
    pub fn exists(db: &Db, group: GroupId) -> bool {
        db.last_key(Cf::Raft, &key(group, 0), &key(group + 1, 0))
            .ok()
            .flatten()
            .is_some()
    }

    fn read_json<T: serde::de::DeserializeOwned>(&self, tag: u8) -> Result<Option<T>, String> {
        match self.db.get(Cf::Raft, &key(self.group, tag)) {
            Ok(Some(v)) => codec::from_json(&v).map(Some).map_err(|e| e.to_string()),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn write_json<T: serde::Serialize>(&self, tag: u8, v: &T) -> Result<(), String> {
        let mut b = Batch::default();
        b.put(Cf::Raft, key(self.group, tag), codec::json(v));
        self.db.write(b).map_err(|e| e.to_string())
    }

    async fn fsync(&self) -> Result<(), String> {
        self.db.request_fsync().await.map_err(|e| e.to_string())
    }

    fn last_entry(&self) -> Result<Option<Entry>, String> {
        let from = entry_key(self.group, 0);
        let to = key(self.group, TAG_ENTRY + 1);
        let Some(k) = self
            .db
            .last_key(Cf::Raft, &from, &to)
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        match self.db.get(Cf::Raft, &k).map_err(|e| e.to_string())? {
            Some(v) => codec::decode_stored(&v)
                .map(Some)
                .map_err(|e| format!("entry {}: {e}", index_of(&k))),
            None => Ok(None),
        }
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Entry>, String> {
        let mut out = Vec::new();
        let mut err = None;
        if start >= end {
            return Ok(out);
        }
        self.db
            .scan(
                Cf::Raft,
                &entry_key(self.group, start),
                &entry_key(self.group, end),
                |k, v| match codec::decode_stored(v) {
                    Ok(e) => {
                        out.push(e);
                        true
                    }
                    Err(e) => {
                        err = Some(format!("entry {}: {e}", index_of(k)));
                        false
                    }
                },
            )
            .map_err(|e| e.to_string())?;
        match err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

fn range(r: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match r.start_bound() {
        Bound::Included(s) => *s,
        Bound::Excluded(s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match r.end_bound() {
        Bound::Included(e) => e.saturating_add(1),
        Bound::Excluded(e) => *e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        r: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = range(&r);
        if let Some(hit) = self.tail.lock().get(start, end) {
            return Ok(hit);
        }
        self.entries(start, end)
            .map_err(|e| StorageIOError::read_logs(openraft::AnyError::error(e)).into())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let err = |e: String| StorageIOError::read_logs(openraft::AnyError::error(e));
        let purged: Option<LogId> = self.read_json(TAG_PURGED).map_err(err)?;
        let last = self.last_entry().map_err(err)?.map(|e| e.log_id);
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last.or(purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let err = |e: String| StorageIOError::write_vote(openraft::AnyError::error(e));
        self.write_json(TAG_VOTE, vote).map_err(err)?;
        self.fsync().await.map_err(err)?;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.read_json(TAG_VOTE)
            .map_err(|e| StorageIOError::read_vote(openraft::AnyError::error(e)).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not fsynced on its own: it rides on the next fsync, and openraft tolerates a
        // committed mark that lags behind after a crash.
        self.write_json(TAG_COMMITTED, &committed)
            .map_err(|e| StorageIOError::write(openraft::AnyError::error(e)).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        self.read_json::<Option<LogId>>(TAG_COMMITTED)
            .map(Option::flatten)
            .map_err(|e| StorageIOError::read(openraft::AnyError::error(e)).into())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut b = Batch::default();
        let entries: Vec<Entry> = entries.into_iter().collect();
        for e in &entries {
            b.put(
                Cf::Raft,
                entry_key(self.group, e.log_id.index),
                codec::encode_stored(e),
            );
        }
        if let Err(e) = self.db.write(b) {
            self.tail.lock().clear();
            return Err(
                StorageIOError::write_logs(openraft::AnyError::error(e.to_string())).into(),
            );
        }
        {
            let mut tail = self.tail.lock();
            for e in &entries {
                tail.appended(e);
            }
        }
        let ticket = self.db.request_fsync();
        tokio::spawn(async move {
            let r = ticket
                .await
                .map_err(|e| std::io::Error::other(e.to_string()));
            callback.log_io_completed(r);
        });
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.tail.lock().truncated(log_id.index);
        let mut b = Batch::default();
        b.delete_range(
            Cf::Raft,
            entry_key(self.group, log_id.index),
            key(self.group, TAG_ENTRY + 1),
        );
        self.db.write(b).map_err(|e| {
            StorageIOError::write_logs(openraft::AnyError::error(e.to_string())).into()
        })
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let err = |e: String| StorageIOError::write_logs(openraft::AnyError::error(e));
        // What the state machines applied up to here must be on disk before the entries
        // that could replay it go away (state machine writes use the buffered WAL).
        self.fsync().await.map_err(err)?;
        self.tail.lock().purged(log_id.index);
        let mut b = Batch::default();
        b.put(Cf::Raft, key(self.group, TAG_PURGED), codec::json(&log_id));
        b.delete_range(
            Cf::Raft,
            entry_key(self.group, 0),
            entry_key(self.group, log_id.index + 1),
        );
        self.db.write(b).map_err(|e| err(e.to_string()))?;
        Ok(())
    }
}
