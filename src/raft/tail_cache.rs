//! [`TailCache`]: the newest entries of one group's log, kept in memory after they are
//! appended, so that replicating them to each follower and applying them here does
//! not read them back from RocksDB (and check and decode them) once per reader.
//!
//! Holds only a contiguous run of indexes ending at the last appended entry; anything
//! else is read from the log store. Truncation and purging drop what they remove, so
//! the cache never answers with an entry the log no longer has. Bounded by entries
//! and by bytes. Owns nothing on disk.

use std::collections::VecDeque;

use openraft::EntryPayload;

use super::types::Entry;

/// Most entries kept.
const MAX_ENTRIES: usize = 512;
/// Most payload bytes kept.
const MAX_BYTES: usize = 8 * 1024 * 1024;

#[derive(Default)]
pub struct TailCache {
    entries: VecDeque<Entry>,
    bytes: usize,
}

fn size(e: &Entry) -> usize {
    match &e.payload {
        EntryPayload::Normal(p) => p.0.len(),
        _ => 64,
    }
}

impl TailCache {
    fn first(&self) -> Option<u64> {
        self.entries.front().map(|e| e.log_id.index)
    }

    fn next(&self) -> Option<u64> {
        self.entries.back().map(|e| e.log_id.index + 1)
    }

    /// Records appended entries (in index order). An entry that does not continue the
    /// cached run starts a new one.
    pub fn appended(&mut self, e: &Entry) {
        if self.next() != Some(e.log_id.index) {
            self.clear();
        }
        self.bytes += size(e);
        self.entries.push_back(e.clone());
        while self.entries.len() > MAX_ENTRIES || (self.bytes > MAX_BYTES && self.entries.len() > 1)
        {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= size(&old);
            }
        }
    }

    /// Entries `[start, end)` if the cache holds all of them.
    pub fn get(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let (first, next) = (self.first()?, self.next()?);
        if start < first || end > next || start >= end {
            return None;
        }
        let from = (start - first) as usize;
        let to = (end - first) as usize;
        Some(self.entries.range(from..to).cloned().collect())
    }

    /// The log lost entries from `index` on (a conflicting leader's entries).
    pub fn truncated(&mut self, index: u64) {
        while self.entries.back().is_some_and(|e| e.log_id.index >= index) {
            let e = self.entries.pop_back();
            self.bytes -= e.as_ref().map_or(0, size);
        }
    }

    /// The log lost entries up to and including `index`.
    pub fn purged(&mut self, index: u64) {
        while self.first().is_some_and(|f| f <= index) {
            let e = self.entries.pop_front();
            self.bytes -= e.as_ref().map_or(0, size);
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::codec::log_id;
    use crate::raft::types::Payload;

    fn entry(i: u64) -> Entry {
        Entry {
            log_id: log_id(1, 1, i),
            payload: EntryPayload::Normal(Payload(bytes::Bytes::from(vec![i as u8; 4]))),
        }
    }

    fn idx(v: Option<Vec<Entry>>) -> Option<Vec<u64>> {
        v.map(|v| v.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn serves_only_a_contiguous_cached_range() {
        let mut c = TailCache::default();
        for i in 5..10 {
            c.appended(&entry(i));
        }
        assert_eq!(idx(c.get(5, 10)), Some(vec![5, 6, 7, 8, 9]));
        assert_eq!(idx(c.get(7, 9)), Some(vec![7, 8]));
        assert_eq!(idx(c.get(4, 6)), None);
        assert_eq!(idx(c.get(8, 11)), None);
        // A gap starts a new run.
        c.appended(&entry(20));
        assert_eq!(idx(c.get(5, 6)), None);
        assert_eq!(idx(c.get(20, 21)), Some(vec![20]));
    }

    #[test]
    fn truncate_and_purge_drop_what_the_log_lost() {
        let mut c = TailCache::default();
        for i in 1..=6 {
            c.appended(&entry(i));
        }
        c.truncated(5);
        assert_eq!(idx(c.get(1, 5)), Some(vec![1, 2, 3, 4]));
        assert_eq!(idx(c.get(1, 6)), None);
        c.appended(&entry(5));
        c.purged(2);
        assert_eq!(idx(c.get(2, 4)), None);
        assert_eq!(idx(c.get(3, 6)), Some(vec![3, 4, 5]));
        c.purged(100);
        assert_eq!(idx(c.get(3, 4)), None);
    }

    #[test]
    fn bounded_by_entries() {
        let mut c = TailCache::default();
        for i in 0..(MAX_ENTRIES as u64 + 10) {
            c.appended(&entry(i));
        }
        assert_eq!(c.entries.len(), MAX_ENTRIES);
        assert_eq!(idx(c.get(9, 10)), None);
        assert!(c.get(10, 11).is_some());
    }
}
