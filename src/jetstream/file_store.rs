//! File storage for a stream: its messages in the node's RocksDB (through
//! `crate::store`, never the rocksdb crate directly).
//!
//! Key layout (big-endian, so keys sort by stream then sequence):
//! - `msgs`:  `[stream_id u64][seq u64]` → record
//! - `index`: `[stream_id u64][subject len u16][subject][seq u64]` → empty
//! - `meta`:  `b"b" [stream_id u64]` → `[first u64][last u64]` (sequence bounds)
//! - `meta`:  `b"t" [stream_id u64]` → the stream's `StateRecord` (JSON)
//! - `meta`:  `b"d" [stream_id u64][msg id]` → `[seq u64][ts i64]` (dedup window)
//!
//! Record: `[crc32 u32][ts i64][subject len u16][subject][hdr len u32][hdrs][payload]`,
//! the CRC covering everything after it. A record whose CRC does not match is reported
//! as [`StoreError::Corrupt`], never served.

use std::sync::Arc;

use bytes::Bytes;

use crate::store::{crc32, Batch, Cf, Db, StoreError};

use super::apply::StateRecord;
use super::msgstore::{MsgStore, StoredMsg};

/// A stream's messages in RocksDB.
pub struct FileStore {
    db: Arc<Db>,
    id: u64,
    /// Writes not yet given to the database: `put`/`remove`/`save_bounds` collect
    /// here until `flush` (end of a publish batch) or the next read.
    pending: std::cell::RefCell<Batch>,
}

fn msg_key(id: u64, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(16);
    k.extend_from_slice(&id.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn subj_prefix(id: u64, subject: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(18 + subject.len());
    k.extend_from_slice(&id.to_be_bytes());
    k.extend_from_slice(&(subject.len() as u16).to_be_bytes());
    k.extend_from_slice(subject.as_bytes());
    k
}

fn index_key(id: u64, subject: &str, seq: u64) -> Vec<u8> {
    let mut k = subj_prefix(id, subject);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn bounds_key(id: u64) -> Vec<u8> {
    let mut k = b"b".to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn prefixed(tag: u8, id: u64) -> Vec<u8> {
    let mut k = vec![tag];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn id_key(id: u64, msg_id: &str) -> Vec<u8> {
    let mut k = prefixed(b'd', id);
    k.extend_from_slice(msg_id.as_bytes());
    k
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Encodes a message record with its CRC.
pub fn encode_record(m: &StoredMsg) -> Vec<u8> {
    let hdr = m.headers.as_deref().unwrap_or(&[]);
    let mut v = Vec::with_capacity(18 + m.subject.len() + hdr.len() + m.payload.len());
    v.extend_from_slice(&[0u8; 4]);
    v.extend_from_slice(&m.ts.to_be_bytes());
    v.extend_from_slice(&(m.subject.len() as u16).to_be_bytes());
    v.extend_from_slice(m.subject.as_bytes());
    v.extend_from_slice(&(hdr.len() as u32).to_be_bytes());
    v.extend_from_slice(hdr);
    v.extend_from_slice(&m.payload);
    let crc = crc32(&v[4..]);
    v[..4].copy_from_slice(&crc.to_be_bytes());
    v
}

/// Decodes and checks a record.
pub fn decode_record(v: &[u8]) -> Result<StoredMsg, StoreError> {
    let corrupt = |w: &str| StoreError::Corrupt(w.to_string());
    if v.len() < 18 {
        return Err(corrupt("record too short"));
    }
    let crc = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    if crc32(&v[4..]) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&v[4..12]);
    let ts = i64::from_be_bytes(ts);
    let sl = u16::from_be_bytes([v[12], v[13]]) as usize;
    let rest = &v[14..];
    if rest.len() < sl + 4 {
        return Err(corrupt("subject length"));
    }
    let subject = std::str::from_utf8(&rest[..sl])
        .map_err(|_| corrupt("subject not UTF-8"))?
        .to_string();
    let rest = &rest[sl..];
    let hl = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let rest = &rest[4..];
    if rest.len() < hl {
        return Err(corrupt("header length"));
    }
    let headers = (hl > 0).then(|| Bytes::copy_from_slice(&rest[..hl]));
    let payload = Bytes::copy_from_slice(&rest[hl..]);
    Ok(StoredMsg {
        subject,
        headers,
        payload,
        ts,
    })
}

impl FileStore {
    pub fn new(db: Arc<Db>, id: u64) -> Self {
        FileStore {
            db,
            id,
            pending: std::cell::RefCell::new(Batch::default()),
        }
    }

    /// Makes an erased message unrecoverable from the database files: flushes the
    /// memtables (so the write-ahead log holding the old record is retired) and
    /// compacts the record's key range (so no older table keeps it). Blocking; run
    /// it off the async runtime after `MsgStore::erase`.
    pub fn scrub(db: &Db, id: u64, seq: u64) -> Result<(), StoreError> {
        db.scrub(
            Cf::Msgs,
            &msg_key(id, seq),
            &msg_key(id, seq.saturating_add(1)),
        )
    }

    /// Deletes everything this stream has in the database (messages, index, bounds).
    pub fn destroy(db: &Db, id: u64) -> Result<(), StoreError> {
        let mut b = Batch::default();
        Self::destroy_into(&mut b, id);
        db.write(b)
    }

    /// Adds to `b` the deletion of everything the stream keeps (messages, index,
    /// bounds, state record, dedup ids, consumer records).
    pub fn destroy_into(b: &mut Batch, id: u64) {
        b.delete_range(Cf::Msgs, msg_key(id, 0), msg_key(id + 1, 0));
        b.delete_range(Cf::Index, msg_key(id, 0), msg_key(id + 1, 0));
        b.delete(Cf::Meta, bounds_key(id));
        b.delete(Cf::Meta, prefixed(b't', id));
        b.delete_range(Cf::Meta, prefixed(b'd', id), prefixed(b'd', id + 1));
        b.delete_range(Cf::Meta, prefixed(b'c', id), prefixed(b'c', id + 1));
    }
}

impl FileStore {
    /// Gives buffered writes to the database (reads must see them).
    fn write_pending(&self) -> Result<(), StoreError> {
        let b = std::mem::take(&mut *self.pending.borrow_mut());
        if b.is_empty() {
            Ok(())
        } else {
            self.db.write(b)
        }
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        if let Err(e) = self.write_pending() {
            tracing::error!(stream_id = self.id, error = %e, "buffered writes lost");
        }
    }
}

impl MsgStore for FileStore {
    fn put(&mut self, seq: u64, msg: &StoredMsg) -> Result<(), StoreError> {
        let b = self.pending.get_mut();
        b.put(Cf::Msgs, msg_key(self.id, seq), encode_record(msg));
        b.put(Cf::Index, index_key(self.id, &msg.subject, seq), Vec::new());
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.write_pending()
    }

    fn erase(&mut self, seq: u64, subject: &str) -> Result<(), StoreError> {
        self.write_pending()?;
        let key = msg_key(self.id, seq);
        if let Some(old) = self.db.get(Cf::Msgs, &key)? {
            let mut noise = vec![0u8; old.len()];
            fastrand::fill(&mut noise);
            let mut b = Batch::default();
            b.put(Cf::Msgs, key, noise);
            self.db.write(b)?;
        }
        self.remove(seq, subject)
    }

    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        self.write_pending()?;
        match self.db.get(Cf::Msgs, &msg_key(self.id, seq))? {
            None => Ok(None),
            Some(v) => decode_record(&v).map(Some),
        }
    }

    fn remove(&mut self, seq: u64, subject: &str) -> Result<(), StoreError> {
        let b = self.pending.get_mut();
        b.delete(Cf::Msgs, msg_key(self.id, seq));
        b.delete(Cf::Index, index_key(self.id, subject, seq));
        Ok(())
    }

    fn next_for_subject(&self, subject: &str, from: u64) -> Result<Option<u64>, StoreError> {
        self.write_pending()?;
        let start = index_key(self.id, subject, from);
        let end = index_key(self.id, subject, u64::MAX);
        let plen = start.len() - 8;
        let mut found = None;
        self.db.scan(Cf::Index, &start, &end, |k, _| {
            if k.len() == plen + 8 {
                found = Some(be_u64(&k[plen..]));
            }
            false
        })?;
        if found.is_none() {
            // u64::MAX itself is excluded by the half-open range.
            if self.db.get(Cf::Index, &end)?.is_some() {
                found = Some(u64::MAX);
            }
        }
        Ok(found)
    }

    fn read_range(
        &self,
        from: u64,
        to: u64,
        max_msgs: usize,
        max_bytes: usize,
    ) -> Result<(Vec<(u64, StoredMsg)>, u64), StoreError> {
        self.write_pending()?;
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut next = to.saturating_add(1);
        let mut err = None;
        self.db.scan(
            Cf::Msgs,
            &msg_key(self.id, from),
            &msg_key(self.id, to.saturating_add(1)),
            |k, v| {
                let seq = be_u64(&k[8..]);
                if out.len() >= max_msgs || bytes >= max_bytes {
                    next = seq;
                    return false;
                }
                match decode_record(v) {
                    Ok(m) => {
                        bytes += m.data_len();
                        out.push((seq, m));
                        true
                    }
                    Err(e) => {
                        next = seq;
                        err = Some(e);
                        false
                    }
                }
            },
        )?;
        match err {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok((out, next)),
        }
    }

    fn scan_from(&self, from: u64, limit: usize) -> Result<Vec<(u64, String)>, StoreError> {
        self.write_pending()?;
        let mut out = Vec::new();
        let mut err = None;
        self.db.scan(
            Cf::Msgs,
            &msg_key(self.id, from),
            &msg_key(self.id + 1, 0),
            |k, v| {
                match decode_record(v) {
                    Ok(m) => out.push((be_u64(&k[8..]), m.subject)),
                    Err(e) => {
                        err = Some(e);
                        return false;
                    }
                }
                out.len() < limit
            },
        )?;
        match err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.write_pending()?;
        let mut b = Batch::default();
        b.delete_range(Cf::Msgs, msg_key(self.id, 0), msg_key(self.id + 1, 0));
        b.delete_range(Cf::Index, msg_key(self.id, 0), msg_key(self.id + 1, 0));
        self.db.write(b)
    }

    fn save_bounds(&mut self, first: u64, last: u64) -> Result<(), StoreError> {
        let mut v = first.to_be_bytes().to_vec();
        v.extend_from_slice(&last.to_be_bytes());
        self.pending.get_mut().put(Cf::Meta, bounds_key(self.id), v);
        Ok(())
    }

    fn load_bounds(&self) -> Result<Option<(u64, u64)>, StoreError> {
        self.write_pending()?;
        Ok(self
            .db
            .get(Cf::Meta, &bounds_key(self.id))?
            .filter(|v| v.len() == 16)
            .map(|v| (be_u64(&v[..8]), be_u64(&v[8..]))))
    }

    fn for_each(&self, f: &mut dyn FnMut(u64, &StoredMsg)) -> Result<(), StoreError> {
        self.write_pending()?;
        self.db.scan(
            Cf::Msgs,
            &msg_key(self.id, 0),
            &msg_key(self.id + 1, 0),
            |k, v| match decode_record(v) {
                Ok(m) => {
                    f(be_u64(&k[8..]), &m);
                    true
                }
                Err(e) => {
                    tracing::error!(stream_id = self.id, seq = be_u64(&k[8..]), error = %e, "corrupt message record skipped");
                    true
                }
            },
        )
    }

    fn put_state(&mut self, record: &StateRecord) -> Result<(), StoreError> {
        let v = serde_json::to_vec(record).map_err(|e| StoreError::Db(e.to_string()))?;
        self.pending
            .get_mut()
            .put(Cf::Meta, prefixed(b't', self.id), v);
        Ok(())
    }

    fn load_state(&self) -> Result<Option<StateRecord>, StoreError> {
        self.write_pending()?;
        match self.db.get(Cf::Meta, &prefixed(b't', self.id))? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("stream state record: {e}"))),
            None => Ok(None),
        }
    }

    fn put_id(&mut self, msg_id: &str, entry: Option<(u64, i64)>) -> Result<(), StoreError> {
        let b = self.pending.get_mut();
        match entry {
            Some((seq, ts)) => {
                let mut v = seq.to_be_bytes().to_vec();
                v.extend_from_slice(&ts.to_be_bytes());
                b.put(Cf::Meta, id_key(self.id, msg_id), v);
            }
            None => b.delete(Cf::Meta, id_key(self.id, msg_id)),
        }
        Ok(())
    }

    fn load_ids(&self) -> Result<Vec<(String, u64, i64)>, StoreError> {
        self.write_pending()?;
        let mut out = Vec::new();
        let from = prefixed(b'd', self.id);
        self.db
            .scan(Cf::Meta, &from, &prefixed(b'd', self.id + 1), |k, v| {
                if v.len() == 16 {
                    let id = String::from_utf8_lossy(&k[from.len()..]).into_owned();
                    out.push((id, be_u64(&v[..8]), be_u64(&v[8..]) as i64));
                }
                true
            })?;
        Ok(out)
    }

    fn clear_all(&mut self) -> Result<(), StoreError> {
        self.write_pending()?;
        let mut b = Batch::default();
        b.delete_range(Cf::Msgs, msg_key(self.id, 0), msg_key(self.id + 1, 0));
        b.delete_range(Cf::Index, msg_key(self.id, 0), msg_key(self.id + 1, 0));
        b.delete(Cf::Meta, bounds_key(self.id));
        b.delete(Cf::Meta, prefixed(b't', self.id));
        b.delete_range(
            Cf::Meta,
            prefixed(b'd', self.id),
            prefixed(b'd', self.id + 1),
        );
        self.db.write(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_corruption() {
        let m = StoredMsg {
            subject: "a.b".into(),
            headers: Some(Bytes::from_static(b"NATS/1.0\r\nX: y\r\n\r\n")),
            payload: Bytes::from_static(b"hello"),
            ts: 1234,
        };
        let mut r = encode_record(&m);
        assert_eq!(decode_record(&r).unwrap(), m);
        let last = r.len() - 1;
        r[last] ^= 1;
        assert!(matches!(decode_record(&r), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn corrupt_record_in_the_database_is_reported_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), None).unwrap();
        let mut fs = FileStore::new(db.clone(), 7);
        let m = StoredMsg {
            subject: "a".into(),
            headers: None,
            payload: Bytes::from_static(b"payload"),
            ts: 1,
        };
        fs.put(1, &m).unwrap();
        fs.put(2, &m).unwrap();
        assert_eq!(fs.get(1).unwrap().unwrap(), m);
        assert_eq!(fs.next_for_subject("a", 2).unwrap(), Some(2));
        // Flip a payload byte behind the store's back.
        let mut raw = db.get(Cf::Msgs, &msg_key(7, 1)).unwrap().unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 0xff;
        let mut b = Batch::default();
        b.put(Cf::Msgs, msg_key(7, 1), raw);
        db.write(b).unwrap();
        assert!(matches!(fs.get(1), Err(StoreError::Corrupt(_))));
        assert_eq!(fs.get(2).unwrap().unwrap(), m);
        db.close();
    }
}
