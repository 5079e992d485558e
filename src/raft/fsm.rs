//! The state machine side of a group: [`Fsm`] is the small trait JetStream implements
//! (it never sees openraft), and [`FsmAdapter`] turns it into openraft's
//! `RaftStateMachine` and `RaftSnapshotBuilder`.
//!
//! Raft's own bookkeeping (last applied log id and membership) travels to the state
//! machine as an opaque blob with every batch of commands, so the state machine writes
//! it in the same atomic write as the changes the commands made: after a crash the two
//! always agree, and Raft re-applies exactly the entries after it.
//!
//! Snapshots are taken from the live state when a follower needs one (the state is
//! the snapshot; nothing is copied while nobody asks), so `build_snapshot` only
//! records where the state is and lets Raft purge the log behind it.

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use serde::{Deserialize, Serialize};

use super::codec;
use super::types::{Entry, LogId, Reply, SnapshotMeta, StorageError, StoredMembership, TypeConfig};

/// One committed command handed to the state machine.
pub struct Committed<'a> {
    /// The entry's log index (stream ids are the meta log index of their create).
    pub index: u64,
    pub data: &'a [u8],
}

/// A replicated state machine, as JetStream implements it. Apply must be
/// deterministic: the same commands on the same state give the same state and replies
/// on every replica.
pub trait Fsm: Send + Sync + 'static {
    /// Applies `cmds` in order and writes their changes together with `raft_meta`
    /// (opaque; give it back from [`Fsm::raft_meta`]) in one atomic write. Returns one
    /// reply per command. A failure to write stops the replica (it must not go on
    /// with a state the others do not have): return `Err`.
    fn apply(&self, cmds: &[Committed<'_>], raft_meta: &[u8]) -> Result<Vec<Vec<u8>>, String>;
    /// What the last apply or install wrote as `raft_meta` (`None`: nothing yet).
    fn raft_meta(&self) -> Option<Vec<u8>>;
    /// The whole state and the `raft_meta` it corresponds to, taken consistently.
    fn snapshot(&self) -> Result<(Vec<u8>, Vec<u8>), String>;
    /// Replaces the whole state with a snapshot's and records `raft_meta` with it.
    fn install(&self, data: &[u8], raft_meta: &[u8]) -> Result<(), String>;
}

/// Raft's view of what was applied.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AppliedMeta {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
}

/// openraft's state machine over an [`Fsm`].
pub struct FsmAdapter {
    fsm: Arc<dyn Fsm>,
    applied: AppliedMeta,
    group: u64,
    /// openraft asks for the current snapshot once at startup, only to learn its meta;
    /// building a whole stream's copy for that would make restarts slow.
    started: bool,
}

impl FsmAdapter {
    pub fn new(group: u64, fsm: Arc<dyn Fsm>) -> Result<Self, String> {
        let applied = match fsm.raft_meta() {
            Some(b) => codec::from_json(&b).map_err(|e| e.to_string())?,
            None => AppliedMeta::default(),
        };
        Ok(FsmAdapter {
            fsm,
            applied,
            group,
            started: false,
        })
    }
}

fn sm_err(e: impl ToString) -> StorageError {
    StorageIOError::write_state_machine(openraft::AnyError::error(e)).into()
}

fn snapshot_meta(applied: &AppliedMeta) -> SnapshotMeta {
    let id = applied
        .last_applied
        .map(|l| format!("{}-{}-{}", l.leader_id.term, l.leader_id.node_id, l.index))
        .unwrap_or_else(|| "0".into());
    SnapshotMeta {
        last_log_id: applied.last_applied,
        last_membership: applied.membership.clone(),
        snapshot_id: id,
    }
}

impl RaftStateMachine<TypeConfig> for FsmAdapter {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.applied.last_applied, self.applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Reply>, StorageError>
    where
        I: IntoIterator<Item = Entry> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let mut replies = vec![Reply::default(); entries.len()];
        let mut cmds = Vec::new();
        let mut slots = Vec::new();
        // Entries at or below what the state already holds are skipped (a snapshot
        // or an earlier write covered them). Index 0 is a real entry (the membership
        // written by `initialize`), so "nothing applied" must not read as index 0.
        let already = self.applied.last_applied.map(|l| l.index);
        for (i, e) in entries.iter().enumerate() {
            if already.is_some_and(|a| e.log_id.index <= a) {
                continue;
            }
            self.applied.last_applied = Some(e.log_id);
            match &e.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(p) => {
                    cmds.push(Committed {
                        index: e.log_id.index,
                        data: &p.0,
                    });
                    slots.push(i);
                }
                EntryPayload::Membership(m) => {
                    self.applied.membership = StoredMembership::new(Some(e.log_id), m.clone());
                }
            }
        }
        let meta = codec::json(&self.applied);
        let out = self.fsm.apply(&cmds, &meta).map_err(|e| {
            tracing::error!(group = self.group, error = %e, "replica stopped: apply failed");
            sm_err(e)
        })?;
        for (slot, r) in slots.into_iter().zip(out) {
            replies[slot] = Reply(r);
        }
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            applied: self.applied.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let (state, raft_meta) = split_snapshot(&data).map_err(sm_err)?;
        let mut applied: AppliedMeta = codec::from_json(raft_meta).map_err(sm_err)?;
        // The data may be newer than the meta Raft recorded for it; the data wins (the
        // entries up to it are skipped when they arrive).
        if applied.last_applied < meta.last_log_id {
            applied.last_applied = meta.last_log_id;
            applied.membership = meta.last_membership.clone();
        }
        self.fsm
            .install(state, &codec::json(&applied))
            .map_err(sm_err)?;
        tracing::info!(group = self.group, applied = ?applied.last_applied, "snapshot installed");
        self.applied = applied;
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<openraft::Snapshot<TypeConfig>>, StorageError> {
        if !std::mem::replace(&mut self.started, true) || self.applied.last_applied.is_none() {
            return Ok(None);
        }
        let (state, raft_meta) = self
            .fsm
            .snapshot()
            .map_err(|e| StorageIOError::read_snapshot(None, openraft::AnyError::error(e)))?;
        let applied: AppliedMeta = codec::from_json(&raft_meta).map_err(sm_err)?;
        Ok(Some(openraft::Snapshot {
            meta: snapshot_meta(&applied),
            snapshot: Box::new(Cursor::new(join_snapshot(&state, &raft_meta))),
        }))
    }
}

/// `[len u32][raft_meta][state]`.
fn join_snapshot(state: &[u8], raft_meta: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + raft_meta.len() + state.len());
    out.extend_from_slice(&(raft_meta.len() as u32).to_be_bytes());
    out.extend_from_slice(raft_meta);
    out.extend_from_slice(state);
    out
}

fn split_snapshot(data: &[u8]) -> Result<(&[u8], &[u8]), String> {
    if data.len() < 4 {
        return Err("snapshot too short".into());
    }
    let n = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if data.len() < 4 + n {
        return Err("snapshot truncated".into());
    }
    Ok((&data[4 + n..], &data[4..4 + n]))
}

/// Records where the state is; the data itself is taken when it is sent.
pub struct SnapshotBuilder {
    applied: AppliedMeta,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<openraft::Snapshot<TypeConfig>, StorageError> {
        Ok(openraft::Snapshot {
            meta: snapshot_meta(&self.applied),
            snapshot: Box::new(Cursor::new(Vec::new())),
        })
    }
}
