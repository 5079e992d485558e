//! The in-memory state of one stream and the deterministic `apply` that changes it.
//!
//! Must not: read the clock, do I/O except through the [`MsgStore`], spawn, or lock.
//! Given the same store contents and the same operations, it gives the same state and
//! the same results.

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::protocol::headers;
use crate::store::StoreError;

use super::config::{Discard, Retention, StreamConfig};
use super::errors::ApiError;
use super::msgstore::{msg_size, MsgStore, StoredMsg};
use super::ops::{Op, OpResult};

/// Largest header block a publish may carry.
const MAX_HEADER_SIZE: usize = 64 * 1024;

/// Per-subject bookkeeping: count and the first/last sequence on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjState {
    pub msgs: u64,
    pub first: u64,
    pub last: u64,
}

/// Everything about a stream that is not its messages.
#[derive(Debug, Clone)]
pub struct StreamState {
    pub config: StreamConfig,
    pub first_seq: u64,
    pub last_seq: u64,
    pub msgs: u64,
    pub bytes: u64,
    pub first_ts: i64,
    pub last_ts: i64,
    pub subjects: HashMap<String, SubjState>,
    /// Removed sequences between `first_seq` and `last_seq`.
    pub deleted: BTreeSet<u64>,
    dedup: HashMap<String, (u64, i64)>,
    dedup_order: VecDeque<(i64, String)>,
    pub last_msg_id: Option<String>,
    /// The stream's consumers and their filter subjects (empty = all), which decide
    /// whether an interest stream keeps a message.
    pub consumers: std::collections::BTreeMap<String, Vec<String>>,
    /// Dedup ids remembered (`Some`) or forgotten (`None`) since the last drain: the
    /// replica writes them with the batch, so the window survives a restart even when
    /// the messages that carried the ids are gone.
    pub id_journal: Vec<(String, Option<(u64, i64)>)>,
}

/// What a stream persists besides its messages, written with every applied batch.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct StateRecord {
    pub config: Option<StreamConfig>,
    pub last_msg_id: Option<String>,
    pub consumers: std::collections::BTreeMap<String, Vec<String>>,
    /// Raft's applied position (opaque to JetStream).
    #[serde(default)]
    pub raft: Option<String>,
}

fn store_err(e: StoreError) -> ApiError {
    ApiError::store_failed(e.to_string())
}

fn hdr<'a>(h: Option<&'a [u8]>, key: &[u8]) -> Option<&'a str> {
    h.and_then(|b| headers::get(b, key))
        .and_then(|v| std::str::from_utf8(v).ok())
}

impl StreamState {
    /// An empty stream.
    pub fn new(config: StreamConfig) -> Self {
        StreamState {
            config,
            first_seq: 0,
            last_seq: 0,
            msgs: 0,
            bytes: 0,
            first_ts: 0,
            last_ts: 0,
            subjects: HashMap::new(),
            deleted: BTreeSet::new(),
            dedup: HashMap::new(),
            dedup_order: VecDeque::new(),
            last_msg_id: None,
            consumers: std::collections::BTreeMap::new(),
            id_journal: Vec::new(),
        }
    }

    /// The record persisted with each batch.
    pub fn record(&self, raft: Option<String>) -> StateRecord {
        StateRecord {
            config: Some(self.config.clone()),
            last_msg_id: self.last_msg_id.clone(),
            consumers: self.consumers.clone(),
            raft,
        }
    }

    /// The dedup window as (id, seq, ts), oldest first.
    pub fn dedup_entries(&self) -> Vec<(String, u64, i64)> {
        self.dedup_order
            .iter()
            .filter_map(|(ts, id)| {
                self.dedup
                    .get(id)
                    .filter(|(_, t)| t == ts)
                    .map(|(seq, ts)| (id.clone(), *seq, *ts))
            })
            .collect()
    }

    /// Replaces the dedup window (from a persisted or snapshotted one).
    pub fn set_dedup(&mut self, ids: Vec<(String, u64, i64)>) {
        self.dedup.clear();
        self.dedup_order.clear();
        let mut ids = ids;
        ids.sort_by_key(|(_, _, ts)| *ts);
        for (id, seq, ts) in ids {
            self.dedup_order.push_back((ts, id.clone()));
            self.dedup.insert(id, (seq, ts));
        }
    }

    /// Rebuilds the state from what `store` holds.
    pub fn load(config: StreamConfig, store: &dyn MsgStore) -> Result<Self, StoreError> {
        let mut st = StreamState::new(config);
        let mut prev: Option<u64> = None;
        let mut newest_ts = 0i64;
        let mut ids: Vec<(String, u64, i64)> = Vec::new();
        store.for_each(&mut |seq, m| {
            if let Some(p) = prev {
                st.deleted.extend(p + 1..seq);
            } else {
                st.first_seq = seq;
                st.first_ts = m.ts;
            }
            prev = Some(seq);
            st.last_seq = seq;
            st.last_ts = m.ts;
            st.msgs += 1;
            st.bytes += m.size(st.config.storage);
            newest_ts = newest_ts.max(m.ts);
            st.count_subject(m.subject.clone(), seq);
            if let Some(id) = hdr(m.headers.as_deref(), b"Nats-Msg-Id") {
                ids.push((id.to_string(), seq, m.ts));
            }
        })?;
        if let Some((_first, last)) = store.load_bounds()? {
            if last > st.last_seq {
                if st.msgs > 0 {
                    st.deleted.extend(st.last_seq + 1..=last);
                }
                st.last_seq = last;
            }
        }
        if st.msgs == 0 {
            st.first_seq = st.last_seq + 1;
            if st.last_seq == 0 {
                st.first_seq = 0;
            }
        }
        let record = store.load_state()?;
        if let Some(r) = &record {
            if let Some(c) = &r.config {
                st.config = c.clone();
            }
            st.consumers = r.consumers.clone();
        }
        let cutoff = newest_ts.saturating_sub(st.config.duplicate_window);
        for (id, seq, ts) in ids {
            if ts > cutoff {
                st.remember_id(id.clone(), seq, ts);
            }
            st.last_msg_id = Some(id);
        }
        if let Some(r) = record {
            // The persisted window and last id are authoritative: they survive the
            // removal of the messages that carried them.
            st.last_msg_id = r.last_msg_id;
            st.set_dedup(store.load_ids()?);
        }
        st.id_journal.clear();
        Ok(st)
    }

    /// Counts a newly stored message at `seq` on `subject`.
    fn count_subject(&mut self, subject: String, seq: u64) {
        self.subjects
            .entry(subject)
            .and_modify(|s| {
                s.msgs += 1;
                s.last = seq;
            })
            .or_insert(SubjState {
                msgs: 1,
                first: seq,
                last: seq,
            });
    }

    /// Whether any consumer's filter covers `subject`.
    pub fn interested(&self, subject: &str) -> bool {
        self.consumers.values().any(|filters| {
            filters.is_empty() || filters.iter().any(|f| crate::subject::matches(f, subject))
        })
    }

    /// Number of removed sequences between first and last.
    pub fn num_deleted(&self) -> u64 {
        self.deleted.len() as u64
    }

    fn remember_id(&mut self, id: String, seq: u64, ts: i64) {
        self.dedup_order.push_back((ts, id.clone()));
        self.id_journal.push((id.clone(), Some((seq, ts))));
        self.dedup.insert(id, (seq, ts));
    }

    fn expire_ids(&mut self, now: i64) {
        let cutoff = now.saturating_sub(self.config.duplicate_window);
        while let Some((ts, _)) = self.dedup_order.front() {
            if *ts > cutoff {
                break;
            }
            if let Some((ts, id)) = self.dedup_order.pop_front() {
                if self.dedup.get(&id).is_some_and(|(_, t)| *t == ts) {
                    self.dedup.remove(&id);
                    self.id_journal.push((id, None));
                }
            }
        }
    }

    /// Removes one message; false if it was not there.
    fn remove_msg(&mut self, store: &mut dyn MsgStore, seq: u64) -> Result<bool, StoreError> {
        self.remove_msg_erasing(store, seq, false)
    }

    /// Removes a message; with `erase` its stored record is overwritten first.
    fn remove_msg_erasing(
        &mut self,
        store: &mut dyn MsgStore,
        seq: u64,
        erase: bool,
    ) -> Result<bool, StoreError> {
        if self.msgs == 0
            || seq < self.first_seq
            || seq > self.last_seq
            || self.deleted.contains(&seq)
        {
            return Ok(false);
        }
        let Some(m) = store.get(seq)? else {
            return Ok(false);
        };
        if erase {
            store.erase(seq, &m.subject)?;
        } else {
            store.remove(seq, &m.subject)?;
        }
        self.msgs -= 1;
        self.bytes = self.bytes.saturating_sub(m.size(self.config.storage));
        if let Some(s) = self.subjects.get_mut(&m.subject) {
            s.msgs -= 1;
            if s.msgs == 0 {
                self.subjects.remove(&m.subject);
            } else if s.first == seq {
                let last = s.last;
                s.first = store
                    .next_for_subject(&m.subject, seq + 1)?
                    .unwrap_or(last)
                    .min(last);
            }
        }
        if self.msgs == 0 {
            self.first_seq = self.last_seq + 1;
            self.first_ts = 0;
            self.deleted.clear();
            store.save_bounds(self.first_seq, self.last_seq)?;
        } else if seq == self.first_seq {
            let mut next = seq + 1;
            while self.deleted.remove(&next) {
                next += 1;
            }
            self.first_seq = next;
            self.first_ts = store.get(next)?.map_or(0, |m| m.ts);
        } else {
            self.deleted.insert(seq);
            if seq == self.last_seq {
                store.save_bounds(self.first_seq, self.last_seq)?;
            }
        }
        Ok(true)
    }

    /// Removes every message.
    fn purge_all(&mut self, store: &mut dyn MsgStore) -> Result<u64, StoreError> {
        let n = self.msgs;
        store.clear()?;
        self.msgs = 0;
        self.bytes = 0;
        self.subjects.clear();
        self.deleted.clear();
        self.first_seq = self.last_seq + 1;
        self.first_ts = 0;
        store.save_bounds(self.first_seq, self.last_seq)?;
        Ok(n)
    }

    /// Sequences of messages matching `filter` (all if `None`) below `below`, oldest first.
    fn matching(
        &self,
        store: &dyn MsgStore,
        filter: Option<&str>,
        below: u64,
    ) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        let mut from = self.first_seq;
        loop {
            let chunk = store.scan_from(from, 1024)?;
            let Some((last, _)) = chunk.last() else {
                break;
            };
            from = last + 1;
            for (seq, subj) in &chunk {
                if *seq >= below {
                    return Ok(out);
                }
                if filter.map_or(true, |f| crate::subject::matches(f, subj)) {
                    out.push(*seq);
                }
            }
        }
        Ok(out)
    }
}

/// Applies `op` to the stream. The only place a stream's state changes.
pub fn apply(st: &mut StreamState, store: &mut dyn MsgStore, op: Op) -> Result<OpResult, ApiError> {
    match op {
        Op::Store {
            subject,
            headers,
            payload,
            ts,
        } => store_msg(st, store, subject, headers, payload, ts),
        Op::Purge { filter, seq, keep } => purge(st, store, filter, seq, keep),
        Op::DeleteMsg { seq, no_erase } => {
            if st.config.deny_delete {
                return Err(ApiError::msg_delete_failed("message delete not permitted"));
            }
            if st.config.sealed {
                return Err(ApiError::sealed());
            }
            if st
                .remove_msg_erasing(store, seq, !no_erase)
                .map_err(store_err)?
            {
                Ok(OpResult::Deleted)
            } else {
                Err(ApiError::delete_not_found(
                    seq,
                    st.config.storage == super::config::Storage::File,
                    st.first_seq,
                    st.last_seq,
                ))
            }
        }
        Op::Expire { now } => {
            let max_age = st.config.max_age;
            let mut removed = 0;
            if max_age > 0 {
                let cutoff = now.saturating_sub(max_age);
                while st.msgs > 0 && st.first_ts <= cutoff {
                    let first = st.first_seq;
                    if !st.remove_msg(store, first).map_err(store_err)? {
                        break;
                    }
                    removed += 1;
                }
            }
            st.expire_ids(now);
            Ok(OpResult::Expired { removed })
        }
        Op::Remove { seq } => {
            if st.remove_msg(store, seq).map_err(store_err)? {
                Ok(OpResult::Deleted)
            } else {
                Ok(OpResult::Updated)
            }
        }
        Op::Update { config } => {
            st.config = *config;
            enforce_limits(st, store, None).map_err(store_err)?;
            Ok(OpResult::Updated)
        }
        Op::ConsumerSet { name, filters } => {
            st.consumers.insert(name, filters);
            Ok(OpResult::ConsumerChanged)
        }
        Op::ConsumerRemove { name } => {
            st.consumers.remove(&name);
            Ok(OpResult::ConsumerChanged)
        }
    }
}

fn store_msg(
    st: &mut StreamState,
    store: &mut dyn MsgStore,
    subject: String,
    headers: Option<bytes::Bytes>,
    payload: bytes::Bytes,
    ts: i64,
) -> Result<OpResult, ApiError> {
    st.expire_ids(ts);
    let cfg = &st.config;
    if cfg.sealed {
        return Err(ApiError::sealed());
    }
    let hlen = headers.as_ref().map_or(0, |h| h.len());
    if hlen > MAX_HEADER_SIZE {
        return Err(ApiError::header_too_big());
    }
    if cfg.max_msg_size >= 0 && (hlen + payload.len()) as i64 > i64::from(cfg.max_msg_size) {
        return Err(ApiError::msg_size_exceeded());
    }
    let h = headers.as_deref();
    let msg_id = hdr(h, b"Nats-Msg-Id").filter(|s| !s.is_empty());
    if let Some(id) = msg_id {
        if let Some((seq, _)) = st.dedup.get(id) {
            return Ok(OpResult::Duplicate { seq: *seq });
        }
    }
    if let Some(name) = hdr(h, b"Nats-Expected-Stream") {
        if name != cfg.name {
            return Err(ApiError::expected_stream_mismatch());
        }
    }
    if let Some(v) = hdr(h, b"Nats-Expected-Last-Sequence") {
        let want: u64 = v
            .parse()
            .map_err(|_| ApiError::wrong_last_sequence(st.last_seq))?;
        if want != st.last_seq {
            return Err(ApiError::wrong_last_sequence(st.last_seq));
        }
    }
    if let Some(v) = hdr(h, b"Nats-Expected-Last-Msg-Id") {
        let last = st.last_msg_id.as_deref().unwrap_or("");
        if v != last {
            return Err(ApiError::wrong_last_msg_id(last));
        }
    }
    if let Some(v) = hdr(h, b"Nats-Expected-Last-Subject-Sequence") {
        let have = st.subjects.get(&subject).map_or(0, |s| s.last);
        let want: u64 = v.parse().map_err(|_| ApiError::wrong_last_sequence(have))?;
        if want != have {
            return Err(ApiError::wrong_last_sequence(have));
        }
    }
    let rollup = match hdr(h, b"Nats-Rollup") {
        None => None,
        Some(r) => {
            if !cfg.allow_rollup_hdrs {
                return Err(ApiError::rollup_failed("rollup not permitted"));
            }
            match r {
                "sub" => Some(false),
                "all" => Some(true),
                other => {
                    return Err(ApiError::rollup_failed(format!(
                        "rollup value invalid: {other:?}"
                    )))
                }
            }
        }
    };
    let size = msg_size(cfg.storage, &subject, hlen, payload.len());
    if cfg.discard == Discard::New {
        if cfg.max_msgs > 0 && st.msgs as i64 >= cfg.max_msgs {
            return Err(ApiError::store_failed("maximum messages exceeded"));
        }
        if cfg.max_bytes > 0 && (st.bytes + size) as i64 > cfg.max_bytes {
            return Err(ApiError::store_failed("maximum bytes exceeded"));
        }
        if cfg.discard_new_per_subject && cfg.max_msgs_per_subject > 0 {
            let n = st.subjects.get(&subject).map_or(0, |s| s.msgs);
            if n as i64 >= cfg.max_msgs_per_subject {
                return Err(ApiError::store_failed(
                    "maximum messages per subject exceeded",
                ));
            }
        }
    }
    let seq = st.last_seq + 1;
    let msg = StoredMsg {
        subject,
        headers,
        payload,
        ts,
    };
    store.put(seq, &msg).map_err(store_err)?;
    if st.msgs == 0 {
        st.first_seq = seq;
        st.first_ts = ts;
        st.deleted.clear();
    }
    st.last_seq = seq;
    st.last_ts = ts;
    st.msgs += 1;
    st.bytes += size;
    st.count_subject(msg.subject.clone(), seq);
    if let Some(id) = hdr(msg.headers.as_deref(), b"Nats-Msg-Id").filter(|s| !s.is_empty()) {
        st.remember_id(id.to_string(), seq, ts);
        st.last_msg_id = Some(id.to_string());
    }
    match rollup {
        Some(true) => {
            for s in st.matching(store, None, seq).map_err(store_err)? {
                st.remove_msg(store, s).map_err(store_err)?;
            }
        }
        Some(false) => {
            while let Some(first) = st.subjects.get(&msg.subject).map(|s| s.first) {
                if first >= seq || !st.remove_msg(store, first).map_err(store_err)? {
                    break;
                }
            }
        }
        None => {}
    }
    enforce_limits(st, store, Some(&msg.subject)).map_err(store_err)?;
    if st.config.retention == Retention::Interest && !st.interested(&msg.subject) {
        // No consumer is interested: the sequence is used and acknowledged, the
        // message is not kept, as nats-server does.
        st.remove_msg(store, seq).map_err(store_err)?;
    }
    Ok(OpResult::Stored { seq })
}

/// Discard-old enforcement of max_msgs, max_bytes and max_msgs_per_subject.
fn enforce_limits(
    st: &mut StreamState,
    store: &mut dyn MsgStore,
    subject: Option<&str>,
) -> Result<(), StoreError> {
    let per_subj = st.config.max_msgs_per_subject;
    if per_subj > 0 {
        let subjects: Vec<String> = match subject {
            Some(s) => vec![s.to_string()],
            None => st.subjects.keys().cloned().collect(),
        };
        for s in subjects {
            while let Some(ss) = st.subjects.get(&s).copied() {
                if ss.msgs as i64 <= per_subj || !st.remove_msg(store, ss.first)? {
                    break;
                }
            }
        }
    }
    let (max_msgs, max_bytes) = (st.config.max_msgs, st.config.max_bytes);
    while st.msgs > 0
        && ((max_msgs > 0 && st.msgs as i64 > max_msgs)
            || (max_bytes > 0 && st.bytes as i64 > max_bytes))
    {
        let first = st.first_seq;
        if !st.remove_msg(store, first)? {
            break;
        }
    }
    Ok(())
}

fn purge(
    st: &mut StreamState,
    store: &mut dyn MsgStore,
    filter: Option<String>,
    seq: Option<u64>,
    keep: Option<u64>,
) -> Result<OpResult, ApiError> {
    if st.config.deny_purge {
        return Err(ApiError::purge_failed("stream purge not permitted"));
    }
    if st.config.sealed {
        return Err(ApiError::sealed());
    }
    if seq.is_some() && keep.is_some() {
        return Err(ApiError::bad_request());
    }
    let filter = filter.filter(|f| !f.is_empty() && f != ">");
    if filter.is_none() && seq.is_none() && keep.is_none() {
        let n = st.purge_all(store).map_err(store_err)?;
        return Ok(OpResult::Purged { purged: n });
    }
    let mut victims = st
        .matching(store, filter.as_deref(), seq.unwrap_or(u64::MAX))
        .map_err(store_err)?;
    if let Some(k) = keep {
        let k = k as usize;
        let n = victims.len().saturating_sub(k);
        victims.truncate(n);
    }
    let mut purged = 0;
    for s in victims {
        if st.remove_msg(store, s).map_err(store_err)? {
            purged += 1;
        }
    }
    if st.msgs == 0 {
        if let Some(s) = seq {
            // Purging below a sequence moves the first sequence there, as nats-server does.
            if s > st.last_seq {
                st.last_seq = s - 1;
                st.first_seq = s;
                store
                    .save_bounds(st.first_seq, st.last_seq)
                    .map_err(store_err)?;
            }
        }
    }
    Ok(OpResult::Purged { purged })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::jetstream::msgstore::MemStore;

    fn cfg() -> StreamConfig {
        serde_json::from_value::<StreamConfig>(serde_json::json!({
            "name": "T", "subjects": ["t.*"], "max_msgs_per_subject": 2, "max_age": 1_000_000_000
        }))
        .unwrap()
        .normalize()
        .unwrap()
    }

    fn ops() -> Vec<Op> {
        let mut v = Vec::new();
        for i in 0..20i64 {
            v.push(Op::Store {
                subject: format!("t.{}", i % 3),
                headers: (i % 4 == 0)
                    .then(|| Bytes::from(format!("NATS/1.0\r\nNats-Msg-Id: m{}\r\n\r\n", i % 8))),
                payload: Bytes::from(vec![b'x'; i as usize]),
                ts: 1_000_000_000 + i * 100_000_000,
            });
        }
        v.push(Op::DeleteMsg {
            seq: 19,
            no_erase: false,
        });
        v.push(Op::Expire { now: 2_600_000_000 });
        v.push(Op::Purge {
            filter: Some("t.1".into()),
            seq: None,
            keep: Some(1),
        });
        v
    }

    fn run() -> (Vec<Result<OpResult, ApiError>>, StreamState, MemStore) {
        let mut st = StreamState::new(cfg());
        let mut store = MemStore::default();
        let results = ops()
            .into_iter()
            .map(|op| apply(&mut st, &mut store, op))
            .collect();
        (results, st, store)
    }

    #[test]
    fn apply_is_deterministic() {
        let (r1, s1, m1) = run();
        let (r2, s2, m2) = run();
        assert_eq!(r1, r2);
        assert_eq!(
            (
                s1.first_seq,
                s1.last_seq,
                s1.msgs,
                s1.bytes,
                &s1.subjects,
                &s1.deleted
            ),
            (
                s2.first_seq,
                s2.last_seq,
                s2.msgs,
                s2.bytes,
                &s2.subjects,
                &s2.deleted
            )
        );
        let mut a = Vec::new();
        m1.for_each(&mut |s, m| a.push((s, m.clone()))).unwrap();
        let mut b = Vec::new();
        m2.for_each(&mut |s, m| b.push((s, m.clone()))).unwrap();
        assert_eq!(a, b);
        // Duplicates were detected by id, limits applied per subject.
        assert!(r1
            .iter()
            .any(|r| matches!(r, Ok(OpResult::Duplicate { .. }))));
        assert!(s1.subjects.values().all(|s| s.msgs <= 2));
    }

    #[test]
    fn reload_rebuilds_the_same_state() {
        let (_, st, store) = run();
        let loaded = StreamState::load(st.config.clone(), &store).unwrap();
        assert_eq!(loaded.first_seq, st.first_seq);
        assert_eq!(loaded.msgs, st.msgs);
        assert_eq!(loaded.bytes, st.bytes);
        assert_eq!(loaded.subjects, st.subjects);
    }
}
