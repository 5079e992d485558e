//! openraft's own storage conformance suite (`openraft::testing::Suite`, 0.9.25) run
//! against the Raft log natrium ships: `LogStore` over a real RocksDB `Db` opened
//! fresh in a temporary directory for every case, with group-commit fsync on.
//!
//! The suite also drives a state machine; ours is `FsmAdapter` (shipped) over a small
//! in-memory `Fsm` written here, since JetStream's state machine needs a whole stream.
//! The in-memory `Fsm` keeps what `FsmAdapter` hands it (commands and the opaque Raft
//! meta) exactly as a real one must, so `FsmAdapter`'s bookkeeping is tested too.

use std::sync::Arc;

use natrium::raft::fsm::FsmAdapter;
use natrium::raft::log_store::LogStore;
use natrium::raft::types::{StorageError, TypeConfig};
use natrium::raft::{Committed, Fsm};
use natrium::store::Db;
use openraft::testing::{StoreBuilder, Suite};
use parking_lot::Mutex;

/// A state machine that keeps every applied command in memory, with the Raft meta
/// written in the same step (what `Fsm::apply` requires of an implementation).
#[derive(Default)]
struct MemFsm {
    state: Mutex<MemState>,
}

/// The applied commands, and the Raft meta written with the last of them.
type MemState = (Vec<Vec<u8>>, Option<Vec<u8>>);

impl Fsm for MemFsm {
    fn apply(&self, cmds: &[Committed<'_>], raft_meta: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let mut s = self.state.lock();
        let mut replies = Vec::with_capacity(cmds.len());
        for c in cmds {
            s.0.push(c.data.to_vec());
            replies.push(c.index.to_be_bytes().to_vec());
        }
        s.1 = Some(raft_meta.to_vec());
        Ok(replies)
    }

    fn raft_meta(&self) -> Option<Vec<u8>> {
        self.state.lock().1.clone()
    }

    fn snapshot(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let s = self.state.lock();
        let meta = s.1.clone().ok_or("nothing applied")?;
        let data = serde_json::to_vec(&s.0).map_err(|e| e.to_string())?;
        Ok((data, meta))
    }

    fn install(&self, data: &[u8], raft_meta: &[u8]) -> Result<(), String> {
        let cmds: Vec<Vec<u8>> = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        *self.state.lock() = (cmds, Some(raft_meta.to_vec()));
        Ok(())
    }
}

/// Keeps the case's directory until the case is over (the `Db` inside the stores
/// closes when the last store is dropped, before this guard goes).
struct Guard {
    _dir: tempfile::TempDir,
}

struct Builder;

const GROUP: u64 = 7;

impl StoreBuilder<TypeConfig, LogStore, FsmAdapter, Guard> for Builder {
    async fn build(&self) -> Result<(Guard, LogStore, FsmAdapter), StorageError> {
        let dir = tempfile::tempdir().expect("temp dir");
        // `None`: every sync is a real fsync (group commit), as in production.
        let db: Arc<Db> = Db::open(dir.path(), None).expect("open RocksDB");
        let log = LogStore::new(db, GROUP);
        let sm = FsmAdapter::new(GROUP, Arc::new(MemFsm::default())).expect("adapter");
        Ok((Guard { _dir: dir }, log, sm))
    }
}

#[test]
fn openraft_storage_suite_passes_on_rocksdb_log_store() {
    if let Err(e) = Suite::test_all(Builder) {
        panic!("openraft storage suite failed: {e}");
    }
}
