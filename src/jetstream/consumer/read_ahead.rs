//! [`ReadAhead`]: a consumer's window of upcoming stream messages, read from the
//! store with one range scan instead of one point lookup per delivery.
//!
//! Owns only its buffer. It never decides what is deliverable: every message it hands
//! out is checked against the stream state of the moment (first/last sequence and the
//! interior deletions), so a message removed after it was read is skipped, never
//! delivered. Stream sequences are never reused, so a buffered message cannot be
//! replaced by a different one under the same sequence.

use std::collections::VecDeque;

use tracing::warn;

use crate::jetstream::apply::StreamState;
use crate::jetstream::msgstore::{MsgStore, StoredMsg};

/// Messages read per scan.
const WINDOW_MSGS: usize = 64;
/// Bytes read per scan (a scan stops after the message that crosses it).
const WINDOW_BYTES: usize = 256 * 1024;

/// Buffered messages in sequence order, and how far the store was read.
#[derive(Default)]
pub struct ReadAhead {
    msgs: VecDeque<(u64, StoredMsg)>,
    /// Every sequence below this was read (into `msgs`, or found absent).
    read_to: u64,
}

impl ReadAhead {
    /// The first live message with sequence in `from..=limit` whose subject passes
    /// `keep`, reading ahead from the store when the buffer runs out. `None` when
    /// there is none (yet); then everything below [`ReadAhead::read_to`] was looked at.
    pub fn next(
        &mut self,
        st: &StreamState,
        store: &dyn MsgStore,
        mut from: u64,
        limit: u64,
        keep: &dyn Fn(&str) -> bool,
    ) -> Option<(u64, StoredMsg)> {
        while from <= limit {
            if from >= self.read_to {
                self.msgs.clear();
                let to = limit.min(from.saturating_add(WINDOW_MSGS as u64 - 1));
                match store.read_range(from, to, WINDOW_MSGS, WINDOW_BYTES) {
                    Ok((msgs, next)) => {
                        self.msgs = msgs.into();
                        self.read_to = next.max(from + 1);
                    }
                    Err(e) => {
                        warn!(seq = from, error = %e, "stored message unreadable; skipped");
                        from += 1;
                        continue;
                    }
                }
            }
            while let Some((seq, msg)) = self.msgs.pop_front() {
                if seq < from {
                    continue;
                }
                if seq > limit {
                    self.msgs.push_front((seq, msg));
                    return None;
                }
                if seq < st.first_seq || seq > st.last_seq || st.deleted.contains(&seq) {
                    continue; // removed since it was read
                }
                if !keep(&msg.subject) {
                    continue;
                }
                return Some((seq, msg));
            }
            from = from.max(self.read_to);
        }
        None
    }
}

impl ReadAhead {
    /// Every sequence below this was read (and, after `next` gave `None`, looked at).
    pub fn read_to(&self) -> u64 {
        self.read_to
    }

    /// Gives back the message `next` just returned (it goes out on a later pass).
    pub fn unread(&mut self, seq: u64, msg: StoredMsg) {
        if self.msgs.front().map_or(true, |(s, _)| *s > seq) && seq < self.read_to {
            self.msgs.push_front((seq, msg));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jetstream::config::StreamConfig;
    use crate::jetstream::msgstore::MemStore;
    use bytes::Bytes;

    const ALL: fn(&str) -> bool = |_| true;

    fn msg(i: u64) -> StoredMsg {
        StoredMsg {
            subject: format!("s.{i}"),
            headers: None,
            payload: Bytes::from(i.to_string()),
            ts: i as i64,
        }
    }

    fn setup(n: u64) -> (StreamState, MemStore) {
        let mut store = MemStore::default();
        for i in 1..=n {
            store.put(i, &msg(i)).unwrap();
        }
        let cfg = serde_json::from_value::<StreamConfig>(serde_json::json!({"name": "T"}))
            .unwrap()
            .normalize()
            .unwrap();
        let mut st = StreamState::new(cfg);
        st.first_seq = 1;
        st.last_seq = n;
        st.msgs = n;
        (st, store)
    }

    #[test]
    fn walks_in_order_across_windows() {
        let (st, store) = setup(200);
        let mut ra = ReadAhead::default();
        let mut from = 1;
        let mut seen = Vec::new();
        while let Some((seq, m)) = ra.next(&st, &store, from, 200, &ALL) {
            assert_eq!(m.payload, Bytes::from(seq.to_string()));
            seen.push(seq);
            from = seq + 1;
        }
        assert_eq!(seen, (1..=200).collect::<Vec<_>>());
    }

    #[test]
    fn skips_what_was_removed_after_the_read() {
        let (mut st, mut store) = setup(10);
        let mut ra = ReadAhead::default();
        assert_eq!(ra.next(&st, &store, 1, 10, &ALL).map(|m| m.0), Some(1));
        // Removed after being buffered: an interior delete and a purge of the head.
        store.remove(3, "s.3").unwrap();
        st.deleted.insert(3);
        st.first_seq = 5;
        store.remove(2, "s.2").unwrap();
        store.remove(4, "s.4").unwrap();
        assert_eq!(ra.next(&st, &store, 2, 10, &ALL).map(|m| m.0), Some(5));
        assert_eq!(ra.next(&st, &store, 6, 10, &ALL).map(|m| m.0), Some(6));
    }

    #[test]
    fn stops_at_the_limit_and_resumes_past_it() {
        let (st, store) = setup(10);
        let mut ra = ReadAhead::default();
        assert_eq!(ra.next(&st, &store, 1, 3, &ALL).map(|m| m.0), Some(1));
        assert_eq!(ra.next(&st, &store, 4, 3, &ALL), None);
        // The limit grows (more became durable): the rest is read.
        assert_eq!(ra.next(&st, &store, 4, 10, &ALL).map(|m| m.0), Some(4));
    }

    #[test]
    fn an_unread_message_comes_again() {
        let (st, store) = setup(3);
        let mut ra = ReadAhead::default();
        let (seq, m) = ra.next(&st, &store, 1, 3, &ALL).unwrap();
        ra.unread(seq, m);
        assert_eq!(ra.next(&st, &store, 1, 3, &ALL).map(|m| m.0), Some(1));
        assert_eq!(ra.next(&st, &store, 2, 3, &ALL).map(|m| m.0), Some(2));
    }

    #[test]
    fn a_filter_skips_other_subjects() {
        let (st, store) = setup(200);
        let mut ra = ReadAhead::default();
        let odd = |s: &str| s.ends_with(['1', '3', '5', '7', '9']);
        let mut from = 1;
        let mut seen = Vec::new();
        while let Some((seq, _)) = ra.next(&st, &store, from, 200, &odd) {
            seen.push(seq);
            from = seq + 1;
        }
        assert_eq!(seen, (1..=200).step_by(2).collect::<Vec<_>>());
        assert_eq!(ra.read_to(), 201);
    }

    #[test]
    fn gaps_in_the_store_are_skipped() {
        let (st, mut store) = setup(100);
        for i in 10..90 {
            store.remove(i, &format!("s.{i}")).unwrap();
        }
        let mut ra = ReadAhead::default();
        assert_eq!(ra.next(&st, &store, 10, 100, &ALL).map(|m| m.0), Some(90));
    }
}
