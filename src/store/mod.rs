//! The node's one RocksDB: open, column families, writes, range scans, and the
//! group-commit syncer that makes writes durable.
//!
//! Owns: the only `rocksdb::` import in the crate. Must not: know JetStream or Raft
//! semantics (keys and values are opaque bytes here; key layouts belong to the callers).
//!
//! Durability model: [`Db::write`] applies a batch to the memtable and appends it to the
//! WAL without fsync, so later reads see it at once. [`Db::sync`] is the durability
//! barrier: a dedicated thread collects every sync request that is waiting, fsyncs the
//! WAL once for all of them (group commit) and then completes each waiter. A caller
//! acknowledges a write to a client only after `sync` returned for it.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, DB};
use tokio::sync::oneshot;

mod fsync_histogram;

pub use fsync_histogram::{FsyncHistogram, FsyncSnapshot, FSYNC_BUCKETS};

/// Column families of the node database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cf {
    /// Small records: stream definitions and persisted stream state.
    Meta,
    /// Message records.
    Msgs,
    /// Secondary index entries (key only).
    Index,
    /// Raft logs, votes and commit marks of every group, keys prefixed by group id
    /// (owned by `crate::raft::log_store`).
    Raft,
}

impl Cf {
    fn name(self) -> &'static str {
        match self {
            Cf::Meta => "meta",
            Cf::Msgs => "msgs",
            Cf::Index => "index",
            Cf::Raft => "raft",
        }
    }
}

/// Storage failures, with RocksDB's message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Db(String),
    #[error("store: column family {0} missing")]
    MissingCf(&'static str),
    #[error("store: sync thread stopped")]
    SyncStopped,
    #[error("store: closed")]
    Closed,
    #[error("store: corrupt record: {0}")]
    Corrupt(String),
}

impl From<rocksdb::Error> for StoreError {
    fn from(e: rocksdb::Error) -> Self {
        StoreError::Db(e.into_string())
    }
}

/// A set of writes applied atomically by [`Db::write`].
#[derive(Default)]
pub struct Batch {
    ops: Vec<BatchOp>,
}

enum BatchOp {
    Put(Cf, Vec<u8>, Vec<u8>),
    Delete(Cf, Vec<u8>),
    DeleteRange(Cf, Vec<u8>, Vec<u8>),
}

impl Batch {
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(BatchOp::Put(cf, key, value));
    }
    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.ops.push(BatchOp::Delete(cf, key));
    }
    /// Deletes keys in `[from, to)`.
    pub fn delete_range(&mut self, cf: Cf, from: Vec<u8>, to: Vec<u8>) {
        self.ops.push(BatchOp::DeleteRange(cf, from, to));
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

type SyncWaiter = oneshot::Sender<Result<(), StoreError>>;

/// A sync request already queued ([`Db::request_sync`]); resolves once the fsync
/// that covers it is done.
pub struct SyncTicket(Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>);

impl SyncTicket {
    /// A ticket that is already resolved (nothing to wait for, or a failure).
    pub fn done(r: Result<(), StoreError>) -> SyncTicket {
        SyncTicket(Box::pin(std::future::ready(r)))
    }
}

impl Future for SyncTicket {
    type Output = Result<(), StoreError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

/// The node database.
pub struct Db {
    /// `None` once closed.
    db: RwLock<Option<Arc<DB>>>,
    path: PathBuf,
    /// The sync thread's queue and handle; `None` once closed.
    syncer: Mutex<Option<(SyncSender<SyncWaiter>, std::thread::JoinHandle<()>)>>,
    sync_always: bool,
    /// Durations of the sync thread's fsyncs (for /metrics).
    fsyncs: Arc<FsyncHistogram>,
}

impl Db {
    /// Opens (or creates) the database in `dir`. With `sync_interval = None` every
    /// [`Db::sync`] fsyncs (group commit); otherwise the WAL is fsynced periodically.
    pub fn open(dir: &Path, sync_interval: Option<Duration>) -> Result<Arc<Db>, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(e.to_string()))?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        // WAL records collect in RocksDB's buffer instead of one write(2) per batch;
        // the sync thread writes them out (and fsyncs) on every `sync`, and at least
        // every WAL_WRITE_EVERY otherwise.
        opts.set_manual_wal_flush(true);
        let cfs = [Cf::Meta, Cf::Msgs, Cf::Index, Cf::Raft]
            .into_iter()
            .map(|c| ColumnFamilyDescriptor::new(c.name(), Options::default()));
        let db = Arc::new(DB::open_cf_descriptors(&opts, dir, cfs)?);
        let (tx, rx) = sync_channel::<SyncWaiter>(4096);
        let thread_db = db.clone();
        let fsyncs = Arc::new(FsyncHistogram::default());
        let thread_fsyncs = fsyncs.clone();
        let handle = std::thread::Builder::new()
            .name("natrium-store-sync".into())
            .spawn(move || sync_loop(&thread_db, &rx, sync_interval, &thread_fsyncs))
            .map_err(|e| StoreError::Db(e.to_string()))?;
        Ok(Arc::new(Db {
            db: RwLock::new(Some(db)),
            path: dir.to_path_buf(),
            syncer: Mutex::new(Some((tx, handle))),
            sync_always: sync_interval.is_none(),
            fsyncs,
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long the sync thread's WAL fsyncs took so far.
    pub fn fsync_histogram(&self) -> &FsyncHistogram {
        &self.fsyncs
    }

    /// Runs `f` with the open database.
    fn with<R>(&self, f: impl FnOnce(&DB) -> Result<R, StoreError>) -> Result<R, StoreError> {
        let g = self.db.read();
        let db = g.as_ref().ok_or(StoreError::Closed)?;
        f(db)
    }

    /// Applies `batch` atomically; visible to reads at once, durable after [`Db::sync`].
    pub fn write(&self, batch: Batch) -> Result<(), StoreError> {
        self.with(|db| {
            let mut wb = WriteBatch::default();
            for op in batch.ops {
                match op {
                    BatchOp::Put(cf, k, v) => wb.put_cf(cf_of(db, cf)?, k, v),
                    BatchOp::Delete(cf, k) => wb.delete_cf(cf_of(db, cf)?, k),
                    BatchOp::DeleteRange(cf, a, b) => wb.delete_range_cf(cf_of(db, cf)?, a, b),
                }
            }
            db.write(wb)?;
            Ok(())
        })
    }

    /// Waits until every write made before this call is on disk (one fsync shared by
    /// all concurrent callers).
    pub async fn sync(&self) -> Result<(), StoreError> {
        self.request_sync().await
    }

    /// Asks for an fsync of every write made before this call, now, and returns what
    /// resolves once it is done. Unlike [`Db::sync`], the request is queued before
    /// this returns, so a caller can go on writing (and request again) while the disk
    /// works: the requests are answered in order.
    pub fn request_sync(&self) -> SyncTicket {
        if !self.sync_always {
            return SyncTicket::done(Ok(()));
        }
        self.request_fsync()
    }

    /// Like [`Db::request_sync`] but always fsyncs, whatever `sync_interval` says: the
    /// Raft log and vote must be on disk before Raft is told so. Shares the one sync
    /// thread, so one fsync covers every group's appends queued meanwhile (group
    /// commit across groups).
    pub fn request_fsync(&self) -> SyncTicket {
        let (tx, rx) = oneshot::channel();
        let Some(sender) = self.syncer.lock().as_ref().map(|(s, _)| s.clone()) else {
            return SyncTicket::done(Err(StoreError::SyncStopped));
        };
        // The channel is bounded; a full one means the disk is behind: wait off-runtime.
        match sender.try_send(tx) {
            Ok(()) => SyncTicket(Box::pin(async move {
                rx.await.map_err(|_| StoreError::SyncStopped)?
            })),
            Err(std::sync::mpsc::TrySendError::Full(tx)) => SyncTicket(Box::pin(async move {
                tokio::task::spawn_blocking(move || sender.send(tx))
                    .await
                    .map_err(|_| StoreError::SyncStopped)?
                    .map_err(|_| StoreError::SyncStopped)?;
                rx.await.map_err(|_| StoreError::SyncStopped)?
            })),
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                SyncTicket::done(Err(StoreError::SyncStopped))
            }
        }
    }

    /// Fsyncs the WAL now (used at shutdown).
    pub fn sync_now(&self) -> Result<(), StoreError> {
        self.with(|db| Ok(db.flush_wal(true)?))
    }

    /// Final fsync, stops the sync thread and closes the database (releasing its
    /// lock file, so the same directory can be opened again).
    pub fn close(&self) {
        let _ = self.sync_now();
        if let Some((tx, handle)) = self.syncer.lock().take() {
            drop(tx);
            let _ = handle.join();
        }
        self.db.write().take();
    }

    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|db| Ok(db.get_cf(cf_of(db, cf)?, key)?))
    }

    /// Calls `f(key, value)` for keys in `[from, to)` in order until it returns false.
    pub fn scan(
        &self,
        cf: Cf,
        from: &[u8],
        to: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.with(|db| {
            let it = db.iterator_cf(cf_of(db, cf)?, IteratorMode::From(from, Direction::Forward));
            for item in it {
                let (k, v) = item?;
                if &k[..] >= to || !f(&k, &v) {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Removes overwritten and deleted values of `[from, to)` from the files: flushes
    /// every column family's memtable (retiring the write-ahead logs that held them)
    /// and compacts the range down to the last level, so only live data remains.
    /// Blocking (disk I/O); used for secure erase.
    pub fn scrub(&self, cf: Cf, from: &[u8], to: &[u8]) -> Result<(), StoreError> {
        self.with(|db| {
            let mut fo = rocksdb::FlushOptions::default();
            fo.set_wait(true);
            for c in [Cf::Meta, Cf::Msgs, Cf::Index, Cf::Raft] {
                db.flush_cf_opt(cf_of(db, c)?, &fo)?;
            }
            let mut co = rocksdb::CompactOptions::default();
            co.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
            co.set_exclusive_manual_compaction(false);
            db.compact_range_cf_opt(cf_of(db, cf)?, Some(from), Some(to), &co);
            Ok(())
        })
    }

    /// The last key in `[from, to)`, if any.
    pub fn last_key(&self, cf: Cf, from: &[u8], to: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|db| {
            let mut it = db.raw_iterator_cf(cf_of(db, cf)?);
            it.seek_for_prev(to);
            while it.valid() {
                if let Some(k) = it.key() {
                    if k < from {
                        return Ok(None);
                    }
                    if k < to {
                        return Ok(Some(k.to_vec()));
                    }
                }
                it.prev();
            }
            it.status()?;
            Ok(None)
        })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.close();
    }
}

fn cf_of(db: &DB, cf: Cf) -> Result<&rocksdb::ColumnFamily, StoreError> {
    db.cf_handle(cf.name())
        .ok_or(StoreError::MissingCf(cf.name()))
}

/// How long buffered WAL records may wait before they are written to the file (not
/// fsynced) when nobody asks for a sync: what a killed process can lose of writes
/// that were never acknowledged as durable.
const WAL_WRITE_EVERY: Duration = Duration::from_millis(50);

/// `flush_wal`, timing it into `fsyncs` when it fsyncs.
fn flush_wal(db: &DB, fsync: bool, fsyncs: &FsyncHistogram) -> Result<(), rocksdb::Error> {
    if !fsync {
        return db.flush_wal(false);
    }
    let t = std::time::Instant::now();
    let r = db.flush_wal(true);
    fsyncs.record(t.elapsed());
    r
}

fn sync_loop(
    db: &DB,
    rx: &Receiver<SyncWaiter>,
    interval: Option<Duration>,
    fsyncs: &FsyncHistogram,
) {
    let mut last_fsync = std::time::Instant::now();
    loop {
        let first = match rx.recv_timeout(WAL_WRITE_EVERY) {
            Ok(w) => w,
            Err(RecvTimeoutError::Timeout) => {
                let fsync = interval.is_some_and(|i| last_fsync.elapsed() >= i);
                if let Err(e) = flush_wal(db, fsync, fsyncs) {
                    tracing::error!(error = %e, "periodic WAL write failed");
                }
                if fsync {
                    last_fsync = std::time::Instant::now();
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut waiters = vec![first];
        loop {
            match rx.try_recv() {
                Ok(w) => waiters.push(w),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => break,
            }
        }
        let res = flush_wal(db, true, fsyncs).map_err(StoreError::from);
        last_fsync = std::time::Instant::now();
        if let Err(e) = &res {
            tracing::error!(error = %e, "WAL sync failed");
        }
        for w in waiters {
            let _ = w.send(res.clone());
        }
    }
}

/// CRC-32 (IEEE) of `data`, for record checksums (hardware-accelerated where the CPU
/// has it; the same values as the bytewise definition).
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc_known_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
