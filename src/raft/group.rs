//! One Raft group on this node: [`RaftGroup`] wraps the openraft instance and offers
//! the [`super::Group`] operations JetStream uses (propose, forward to the leader,
//! leadership, status), with no openraft type in sight.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use openraft::error::{ClientWriteError, RaftError};
use openraft::ServerState;
use tokio::sync::watch;

use super::metrics::LeaderChanges;
use super::network::Rpcs;
use super::proto;
use super::types::{GroupId, NodeId, Payload, Raft};
use super::{Group, GroupStatus, PeerStatus, ProposeError};

/// How long a forwarded proposal may take before the caller hears "unavailable".
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a proposal may wait for its commit.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(3);
/// A leader whose quorum has not answered for this long refuses proposals (twice
/// the stream groups' heartbeat: an idle leader hears from its quorum that often).
const QUORUM_LOST_MS: u64 = 3000;

pub struct RaftGroup {
    pub id: GroupId,
    /// Human name for logs and /raftz ("meta" or "account > stream").
    pub name: String,
    pub node: NodeId,
    pub(super) raft: Raft,
    rpcs: Arc<Rpcs>,
    leader_changes: LeaderChanges,
}

impl RaftGroup {
    pub(super) fn new(
        id: GroupId,
        name: String,
        node: NodeId,
        raft: Raft,
        rpcs: Arc<Rpcs>,
    ) -> Self {
        RaftGroup {
            id,
            name,
            node,
            leader_changes: LeaderChanges::watch(&raft),
            raft,
            rpcs,
        }
    }

    fn metrics(&self) -> openraft::RaftMetrics<NodeId, openraft::EmptyNode> {
        self.raft.metrics().borrow().clone()
    }

    /// The leader as the rest of natrium may rely on it: this node counts as leader
    /// only once it is in the leader state *and* has applied an entry of its own term
    /// (so every entry committed before its election is applied here too; at startup
    /// openraft may report this node as leader from its persisted vote before then).
    fn effective_leader(
        m: &openraft::RaftMetrics<NodeId, openraft::EmptyNode>,
        node: NodeId,
    ) -> Option<NodeId> {
        match m.current_leader {
            Some(l) if l == node => {
                let applied_own_term = m
                    .last_applied
                    .is_some_and(|a| a.leader_id.term == m.current_term);
                (m.state == ServerState::Leader && applied_own_term).then_some(l)
            }
            other => other,
        }
    }

    /// Proposes on this node, which must be the leader.
    pub async fn propose_local(&self, cmd: Vec<u8>) -> Result<Vec<u8>, ProposeError> {
        {
            // A leader cut off from its quorum keeps its role in openraft 0.9; refuse
            // at once instead of waiting for a commit that cannot come.
            let m = self.raft.metrics();
            let m = m.borrow();
            if m.current_leader == Some(self.node) && m.membership_config.voter_ids().count() > 1 {
                if let Some(ms) = m.millis_since_quorum_ack {
                    if ms > QUORUM_LOST_MS {
                        return Err(ProposeError::Unavailable("leader has no quorum".into()));
                    }
                }
            }
        }
        let write =
            tokio::time::timeout(COMMIT_TIMEOUT, self.raft.client_write(Payload(cmd.into()))).await;
        let Ok(write) = write else {
            return Err(ProposeError::Unavailable(format!(
                "not committed within {COMMIT_TIMEOUT:?} ({})",
                self.unavailable_reason()
            )));
        };
        match write {
            Ok(r) => Ok(r.data.0),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader(f.leader_id))
            }
            Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(e))) => {
                Err(ProposeError::Unavailable(e.to_string()))
            }
            Err(RaftError::Fatal(e)) => Err(ProposeError::Stopped(e.to_string())),
        }
    }

    async fn forward(&self, leader: NodeId, cmd: Vec<u8>) -> Result<Vec<u8>, ProposeError> {
        let req = proto::Request {
            kind: Some(proto::request::Kind::Forward(cmd.into())),
        };
        let r = self
            .rpcs
            .call(leader, self.id, req, FORWARD_TIMEOUT)
            .await
            .map_err(|e| ProposeError::Unavailable(e.to_string()))?;
        match r.kind {
            Some(proto::response::Kind::Forwarded(b)) => Ok(b.to_vec()),
            Some(proto::response::Kind::NotLeader(why)) => Err(ProposeError::Unavailable(why)),
            Some(proto::response::Kind::Unreachable(why)) => Err(ProposeError::Unavailable(why)),
            _ => Err(ProposeError::Unavailable(
                "unexpected answer to a forwarded proposal".into(),
            )),
        }
    }

    /// Why the group cannot take writes right now, in words for an error message.
    pub fn unavailable_reason(&self) -> String {
        let m = self.metrics();
        if m.running_state.is_err() {
            return "its replica here stopped".into();
        }
        match (m.current_leader, m.state) {
            (None, ServerState::Candidate) => "electing a leader".into(),
            (None, _) => "no leader (no quorum of replicas reachable)".into(),
            (Some(_), ServerState::Learner) => "catching up".into(),
            (Some(l), _) if l == self.node => match m.millis_since_quorum_ack {
                Some(ms) if ms < QUORUM_LOST_MS => "leader busy".into(),
                _ => "leader has no quorum".into(),
            },
            (Some(_), _) => "leader not reachable".into(),
        }
    }
}

impl Group for RaftGroup {
    fn id(&self) -> GroupId {
        self.id
    }

    fn node(&self) -> NodeId {
        self.node
    }

    fn propose(&self, cmd: Vec<u8>) -> BoxFuture<'_, Result<Vec<u8>, ProposeError>> {
        Box::pin(self.propose_local(cmd))
    }

    fn propose_anywhere(&self, cmd: Vec<u8>) -> BoxFuture<'_, Result<Vec<u8>, ProposeError>> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + FORWARD_TIMEOUT;
            loop {
                let r = match self.leader() {
                    Some(l) if l == self.node => self.propose_local(cmd.clone()).await,
                    Some(l) => self.forward(l, cmd.clone()).await,
                    None => Err(ProposeError::NotLeader(None)),
                };
                match r {
                    Err(ProposeError::NotLeader(_)) | Err(ProposeError::Unavailable(_))
                        if tokio::time::Instant::now() < deadline =>
                    {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(ProposeError::NotLeader(_)) => {
                        return Err(ProposeError::Unavailable(self.unavailable_reason()))
                    }
                    other => return other,
                }
            }
        })
    }

    fn leader(&self) -> Option<NodeId> {
        Self::effective_leader(&self.raft.metrics().borrow(), self.node)
    }

    fn leader_watch(&self) -> watch::Receiver<Option<NodeId>> {
        let mut metrics = self.raft.metrics();
        let node = self.node;
        let (tx, rx) = watch::channel(Self::effective_leader(&metrics.borrow(), node));
        tokio::spawn(async move {
            while metrics.changed().await.is_ok() {
                let l = Self::effective_leader(&metrics.borrow(), node);
                tx.send_if_modified(|cur| {
                    let changed = *cur != l;
                    *cur = l;
                    changed
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        rx
    }

    fn voters(&self) -> BTreeSet<NodeId> {
        self.metrics().membership_config.voter_ids().collect()
    }

    fn status(&self) -> GroupStatus {
        let m = self.metrics();
        let last_log = m.last_log_index.unwrap_or(0);
        let peers = m
            .membership_config
            .voter_ids()
            .filter(|v| *v != self.node)
            .map(|id| {
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&id).cloned().flatten())
                    .map(|l| l.index);
                PeerStatus {
                    id,
                    matched,
                    lag: matched.map(|x| last_log.saturating_sub(x)),
                }
            })
            .collect();
        GroupStatus {
            group: self.id,
            name: self.name.clone(),
            node: self.node,
            term: m.current_term,
            leader: m.current_leader,
            state: match m.state {
                ServerState::Leader => "leader",
                ServerState::Follower => "follower",
                ServerState::Candidate => "candidate",
                ServerState::Learner => "learner",
                ServerState::Shutdown => "shutdown",
            },
            last_log,
            applied: m.last_applied.map_or(0, |l| l.index),
            snapshot: m.snapshot.map_or(0, |l| l.index),
            purged: m.purged.map_or(0, |l| l.index),
            voters: m.membership_config.voter_ids().collect(),
            peers,
            millis_since_quorum_ack: m.millis_since_quorum_ack,
            stopped: m.running_state.as_ref().err().map(|e| e.to_string()),
            leader_changes: self.leader_changes.get(),
        }
    }

    fn elect(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.raft.trigger().elect().await;
        })
    }

    fn add_voter(&self, id: NodeId) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.raft
                .add_learner(id, openraft::EmptyNode::default(), true)
                .await
                .map_err(|e| e.to_string())?;
            let mut voters = self.voters();
            voters.insert(id);
            self.raft
                .change_membership(voters, false)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        })
    }

    fn unavailable(&self) -> String {
        self.unavailable_reason()
    }

    fn initialize(&self, members: BTreeSet<NodeId>) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.raft
                .initialize(members)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
