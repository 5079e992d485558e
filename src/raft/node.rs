//! [`RaftNode`]: every Raft group this node takes part in, the RPC dispatch between
//! them and the routes, and the group lifecycle (start, stop, shut down).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use parking_lot::RwLock;
use prost::Message as _;

use super::fsm::{Fsm, FsmAdapter};
use super::group::RaftGroup;
use super::log_store::LogStore;
use super::network::{decode_append, decode_snapshot, GroupNetworkFactory, Rpcs, Transport};
use super::proto;
use super::types::{GroupId, NodeId, Raft};
use super::{codec, Group, GroupStatus};
use crate::store::Db;

/// Timing of a group.
#[derive(Debug, Clone, Copy)]
pub struct RaftSettings {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// Build a snapshot (and purge the log behind it) every this many entries;
    /// 0 never (state that is not durable cannot replace the log).
    pub snapshot_every: u64,
    /// Entries kept behind a snapshot so a briefly lagging follower catches up by
    /// entries rather than by a whole snapshot.
    pub keep_behind_snapshot: u64,
}

impl RaftSettings {
    /// Settings for the meta group (one per cluster, so it can afford quick heartbeats).
    pub const DEFAULT: RaftSettings = RaftSettings {
        heartbeat_ms: 200,
        election_min_ms: 1000,
        election_max_ms: 2000,
        snapshot_every: 8192,
        keep_behind_snapshot: 2048,
    };

    /// Stream groups: there are many of them, so their leaders heartbeat less often.
    /// A dead or paused peer is noticed by its route (pings every 500 ms, closed after
    /// 2 s), which starts elections in the groups it led at once (`on_peer_down`);
    /// the election timeout is only the backstop for a leader whose route stays up.
    /// Measured with 1,000 idle R3 streams on three nodes: about 4% of a core per
    /// node (15% with the meta group's 200 ms).
    pub const STREAM: RaftSettings = RaftSettings {
        heartbeat_ms: 1500,
        election_min_ms: 4500,
        election_max_ms: 7500,
        ..RaftSettings::DEFAULT
    };

    /// `base` with the timing and snapshot cadence taken from the environment where
    /// set: `NATRIUM_RAFT_HEARTBEAT_MS`, `NATRIUM_RAFT_ELECTION_MIN_MS`,
    /// `NATRIUM_RAFT_ELECTION_MAX_MS`, `NATRIUM_RAFT_SNAPSHOT_EVERY`,
    /// `NATRIUM_RAFT_KEEP_BEHIND_SNAPSHOT` (knobs for tests and measurements; the
    /// snapshot catch-up test makes logs purge after a few entries).
    pub fn from_env(base: RaftSettings) -> RaftSettings {
        let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        RaftSettings {
            heartbeat_ms: num("NATRIUM_RAFT_HEARTBEAT_MS").unwrap_or(base.heartbeat_ms),
            election_min_ms: num("NATRIUM_RAFT_ELECTION_MIN_MS").unwrap_or(base.election_min_ms),
            election_max_ms: num("NATRIUM_RAFT_ELECTION_MAX_MS").unwrap_or(base.election_max_ms),
            snapshot_every: num("NATRIUM_RAFT_SNAPSHOT_EVERY").unwrap_or(base.snapshot_every),
            keep_behind_snapshot: num("NATRIUM_RAFT_KEEP_BEHIND_SNAPSHOT")
                .unwrap_or(base.keep_behind_snapshot),
        }
    }
}

/// Who makes a new group's membership (see [`RaftNode::start_group`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initialize {
    /// This node, at once.
    Now,
    /// This node, if after this long no member has (it is down, say).
    IfNobodyHasAfter(std::time::Duration),
    /// Never here: a leader brings the membership.
    Never,
}

pub struct RaftNode {
    pub id: NodeId,
    db: Arc<Db>,
    rpcs: Arc<Rpcs>,
    groups: RwLock<HashMap<GroupId, Arc<RaftGroup>>>,
}

/// Why a group could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("raft group {0}: {1}")]
    Config(GroupId, String),
    #[error("raft group {0}: {1}")]
    Start(GroupId, String),
}

impl RaftNode {
    pub fn new(id: NodeId, db: Arc<Db>, transport: Arc<dyn Transport>) -> Arc<RaftNode> {
        Arc::new(RaftNode {
            id,
            db,
            rpcs: Arc::new(Rpcs::new(transport)),
            groups: RwLock::new(HashMap::new()),
        })
    }

    pub fn group(&self, id: GroupId) -> Option<Arc<RaftGroup>> {
        self.groups.read().get(&id).cloned()
    }

    /// Whether this node holds Raft state for the group (it ran here before).
    pub fn has_state(&self, id: GroupId) -> bool {
        LogStore::exists(&self.db, id)
    }

    /// Starts (or restarts) the group. `members` is used only when the group has no
    /// Raft state here yet. `init` says whether this node makes a pristine group a
    /// group of `members`: one member does so at once and the others only if nobody
    /// has after a while (initializing several members with the same set is safe by
    /// openraft's rule, but each then campaigns at once, and a late candidate with a
    /// higher id in the same term unseats the leader just elected).
    pub async fn start_group(
        &self,
        id: GroupId,
        name: String,
        members: &BTreeSet<NodeId>,
        init: Initialize,
        fsm: Arc<dyn Fsm>,
        settings: RaftSettings,
    ) -> Result<Arc<RaftGroup>, StartError> {
        if let Some(g) = self.group(id) {
            return Ok(g);
        }
        let pristine = !LogStore::exists(&self.db, id);
        let config = openraft::Config {
            cluster_name: format!("natrium-{id}"),
            heartbeat_interval: settings.heartbeat_ms,
            election_timeout_min: settings.election_min_ms,
            election_timeout_max: settings.election_max_ms,
            install_snapshot_timeout: 10_000,
            max_payload_entries: 512,
            replication_lag_threshold: 4 * settings.keep_behind_snapshot.max(1),
            snapshot_policy: if settings.snapshot_every == 0 {
                openraft::SnapshotPolicy::Never
            } else {
                openraft::SnapshotPolicy::LogsSinceLast(settings.snapshot_every)
            },
            max_in_snapshot_log_to_keep: settings.keep_behind_snapshot,
            snapshot_max_chunk_size: 4 * 1024 * 1024,
            ..Default::default()
        }
        .validate()
        .map_err(|e| StartError::Config(id, e.to_string()))?;
        let log = LogStore::new(self.db.clone(), id);
        let sm = FsmAdapter::new(id, fsm).map_err(|e| StartError::Start(id, e))?;
        let net = GroupNetworkFactory {
            rpcs: self.rpcs.clone(),
            group: id,
        };
        let raft = Raft::new(self.id, Arc::new(config), net, log, sm)
            .await
            .map_err(|e| StartError::Start(id, e.to_string()))?;
        match init {
            Initialize::Now if pristine => {
                let m: BTreeSet<NodeId> = members.clone();
                if let Err(e) = raft.initialize(m).await {
                    tracing::debug!(group = id, error = %e, "initialize skipped");
                }
                if members.len() == 1 {
                    let _ = raft.trigger().elect().await;
                } else {
                    // The other members start their replicas at about the same time;
                    // a vote request that found one not running yet would otherwise
                    // wait out a whole election timeout before the next round.
                    let raft = raft.clone();
                    tokio::spawn(async move {
                        for _ in 0..20 {
                            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                            let m = raft.metrics().borrow().clone();
                            if m.current_leader.is_some() || m.running_state.is_err() {
                                return;
                            }
                            let _ = raft.trigger().elect().await;
                        }
                    });
                }
            }
            Initialize::IfNobodyHasAfter(wait) if pristine => {
                let (raft, m) = (raft.clone(), members.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    let joined = raft
                        .metrics()
                        .borrow()
                        .membership_config
                        .voter_ids()
                        .count()
                        > 0;
                    if !joined {
                        tracing::info!(
                            group = id,
                            "no member initialized the group; initializing here"
                        );
                        if let Err(e) = raft.initialize(m).await {
                            tracing::debug!(group = id, error = %e, "initialize skipped");
                        }
                    }
                });
            }
            _ => {}
        }
        let g = Arc::new(RaftGroup::new(id, name, self.id, raft, self.rpcs.clone()));
        self.groups.write().insert(id, g.clone());
        tracing::debug!(group = id, name = %g.name, pristine, "raft group started");
        Ok(g)
    }

    /// Stops the group here (its log stays until the caller erases it).
    pub async fn stop_group(&self, id: GroupId) {
        let g = self.groups.write().remove(&id);
        if let Some(g) = g {
            let _ = g.raft.shutdown().await;
        }
    }

    /// Stops every group.
    pub async fn shutdown(&self) {
        let all: Vec<Arc<RaftGroup>> = self.groups.write().drain().map(|(_, g)| g).collect();
        for g in all {
            let _ = g.raft.shutdown().await;
        }
    }

    /// Status of every group here, by group id.
    pub fn statuses(&self) -> Vec<GroupStatus> {
        let mut v: Vec<GroupStatus> = self.groups.read().values().map(|g| g.status()).collect();
        v.sort_by_key(|s| s.group);
        v
    }

    /// An answer to one of our requests arrived.
    pub fn on_response(&self, request_id: u64, payload: &[u8]) {
        self.rpcs.on_response(request_id, payload);
    }

    /// A route to `peer` closed: its RPCs fail now, and groups it led elect at once
    /// instead of waiting out the election timeout.
    pub fn on_peer_down(self: &Arc<Self>, peer: NodeId) {
        self.rpcs.peer_down(peer);
        let led: Vec<Arc<RaftGroup>> = self
            .groups
            .read()
            .values()
            .filter(|g| g.leader() == Some(peer))
            .cloned()
            .collect();
        if led.is_empty() {
            return;
        }
        tokio::spawn(async move {
            for g in led {
                // Only a voter that could win starts an election.
                if g.voters().contains(&g.node) {
                    g.elect().await;
                }
            }
        });
    }

    /// A request from `from` arrived for `group`; answered on a task of its own.
    pub fn on_request(
        self: &Arc<Self>,
        from: NodeId,
        group: GroupId,
        request_id: u64,
        payload: bytes::Bytes,
    ) {
        let node = self.clone();
        tokio::spawn(async move {
            let resp = node.handle(group, &payload).await;
            node.rpcs
                .transport()
                .send_response(from, group, request_id, resp.encode_to_vec());
        });
    }

    async fn handle(&self, group: GroupId, payload: &[u8]) -> proto::Response {
        use proto::response::Kind as R;
        let resp = |k: R| proto::Response { kind: Some(k) };
        let req = match proto::Request::decode(payload) {
            Ok(r) => r,
            Err(e) => return resp(R::Unreachable(format!("undecodable request: {e}"))),
        };
        let Some(g) = self.group(group) else {
            return resp(R::Unreachable(format!(
                "group {group} not running on node {}",
                self.id
            )));
        };
        fn answer<T: serde::Serialize, E: serde::Serialize>(r: Result<T, E>) -> proto::Response {
            let k = match r {
                Ok(v) => R::Ok(codec::json(&v).into()),
                Err(e) => R::RaftError(codec::json(&e).into()),
            };
            proto::Response { kind: Some(k) }
        }
        match req.kind {
            Some(proto::request::Kind::Append(a)) => match decode_append(a) {
                Ok(a) => answer(g.raft.append_entries(a).await),
                Err(e) => resp(R::Unreachable(e.to_string())),
            },
            Some(proto::request::Kind::Vote(v)) => match codec::from_json(&v) {
                Ok(v) => answer(g.raft.vote(v).await),
                Err(e) => resp(R::Unreachable(e.to_string())),
            },
            Some(proto::request::Kind::Snapshot(s)) => match decode_snapshot(s) {
                Ok(s) => answer(g.raft.install_snapshot(s).await),
                Err(e) => resp(R::Unreachable(e.to_string())),
            },
            Some(proto::request::Kind::Forward(cmd)) => match g.propose_local(cmd.to_vec()).await {
                Ok(r) => resp(R::Forwarded(r.into())),
                Err(e) => resp(R::NotLeader(e.to_string())),
            },
            None => resp(R::Unreachable("empty request".into())),
        }
    }
}
