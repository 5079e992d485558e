//! The openraft type configuration natrium uses, and the small types around it.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

/// A Raft node id: allocated once per store directory (see `identity.rs`).
pub type NodeId = u64;

/// What a normal log entry carries: one encoded command of the group's state machine
/// (shared bytes: the log, the replication RPCs and the tail cache hold one copy).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload(pub bytes::Bytes);

/// What applying one entry answered (the state machine's encoded reply).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply(pub Vec<u8>);

openraft::declare_raft_types!(
    /// natrium's Raft types: opaque byte commands, node ids only (peers are reached
    /// through the cluster routes by id, so no address is stored), snapshots in memory.
    pub TypeConfig:
        D = Payload,
        R = Reply,
        NodeId = NodeId,
        Node = openraft::EmptyNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type Membership = openraft::Membership<NodeId, openraft::EmptyNode>;
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::EmptyNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::EmptyNode>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type Raft = openraft::Raft<TypeConfig>;

/// The group id of the JetStream meta group; stream groups use their stream id (> 0).
pub type GroupId = u64;
