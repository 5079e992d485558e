//! Raft: the only module that knows openraft (pinned to 0.9.25, see ARCHITECTURE.md).
//!
//! Owns: the Raft log of every group in RocksDB's `raft` column family
//! ([`log_store`]), the node's Raft identity ([`identity`]), the RPCs between group
//! members over the cluster routes ([`network`], wire format in `proto/raft.proto`),
//! and the groups themselves ([`node::RaftNode`], [`group::RaftGroup`]).
//! Offers the rest of the program two small traits of ours: [`Group`] (propose, find
//! the leader, status) and [`fsm::Fsm`] (what a replicated state machine implements).
//! Must not: know what the commands mean (JetStream encodes and applies them), or
//! touch RocksDB column families other than `raft`.

pub mod codec;
pub mod fsm;
pub mod group;
pub mod identity;
pub mod log_store;
pub mod metrics;
pub mod network;
pub mod node;
pub mod proto;
pub mod tail_cache;
pub mod types;

use std::collections::BTreeSet;

use futures::future::BoxFuture;
use serde::Serialize;
use tokio::sync::watch;

pub use fsm::{Committed, Fsm};
pub use network::Transport;
pub use node::{Initialize, RaftNode, RaftSettings};
pub use types::{GroupId, NodeId};

/// Why a proposal was not committed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    #[error("not the leader (leader: {0:?})")]
    NotLeader(Option<NodeId>),
    #[error("{0}")]
    Unavailable(String),
    #[error("replica stopped: {0}")]
    Stopped(String),
}

/// One replicated group, as the rest of natrium sees it.
pub trait Group: Send + Sync + 'static {
    fn id(&self) -> GroupId;
    /// This node's id.
    fn node(&self) -> NodeId;
    /// Proposes `cmd`; resolves with the state machine's reply once it is committed on
    /// a quorum (fsynced there) and applied here. Only the leader can.
    fn propose(&self, cmd: Vec<u8>) -> BoxFuture<'_, Result<Vec<u8>, ProposeError>>;
    /// Like `propose`, forwarding to the leader when this node is not it (retries
    /// through an election for a few seconds).
    fn propose_anywhere(&self, cmd: Vec<u8>) -> BoxFuture<'_, Result<Vec<u8>, ProposeError>>;
    fn leader(&self) -> Option<NodeId>;
    fn is_leader(&self) -> bool {
        self.leader() == Some(self.node())
    }
    /// Follows the leader as it changes.
    fn leader_watch(&self) -> watch::Receiver<Option<NodeId>>;
    fn voters(&self) -> BTreeSet<NodeId>;
    fn status(&self) -> GroupStatus;
    /// Starts an election now.
    fn elect(&self) -> BoxFuture<'_, ()>;
    /// Adds a node as a voter (leader only).
    fn add_voter(&self, id: NodeId) -> BoxFuture<'_, Result<(), String>>;
    /// Why writes fail right now, in words (electing, no quorum, catching up, ...).
    fn unavailable(&self) -> String;
    /// Makes a pristine group a group of `members` (call on one node only, or on
    /// several with the same set).
    fn initialize(&self, members: BTreeSet<NodeId>) -> BoxFuture<'_, Result<(), String>>;
    /// Whether the group has a membership (was initialized here or joined).
    fn is_initialized(&self) -> bool {
        !self.voters().is_empty()
    }
}

/// A group's state as /raftz shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupStatus {
    pub group: GroupId,
    pub name: String,
    pub node: NodeId,
    pub term: u64,
    pub leader: Option<NodeId>,
    pub state: &'static str,
    pub last_log: u64,
    pub applied: u64,
    pub snapshot: u64,
    pub purged: u64,
    pub voters: Vec<NodeId>,
    pub peers: Vec<PeerStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub millis_since_quorum_ack: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Times this node saw a new leader of the group (see [`metrics::LeaderChanges`]).
    pub leader_changes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    pub id: NodeId,
    /// The highest log index known replicated to the peer (leader only).
    pub matched: Option<u64>,
    pub lag: Option<u64>,
}
