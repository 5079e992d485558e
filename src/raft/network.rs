//! Raft RPCs between nodes: [`Transport`] is what the cluster layer gives us (send a
//! frame to a node by id), [`Rpcs`] matches answers to requests and fails them fast
//! when the peer's route drops, and [`GroupNetwork`] is openraft's `RaftNetwork` for
//! one group and one target, built on both.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::Mutex;
use prost::Message as _;
use tokio::sync::oneshot;

use super::codec;
use super::proto;
use super::types::{GroupId, NodeId, TypeConfig};

/// How Raft frames leave this node (implemented over the cluster routes).
pub trait Transport: Send + Sync + 'static {
    /// Queues a request for `to`; false when there is no route to it now.
    fn send_request(&self, to: NodeId, group: GroupId, request_id: u64, payload: Vec<u8>) -> bool;
    /// Queues the answer to a request `to` sent.
    fn send_response(&self, to: NodeId, group: GroupId, request_id: u64, payload: Vec<u8>) -> bool;
}

/// Why an RPC got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("no route to node {0}")]
    NoRoute(NodeId),
    #[error("route to node {0} closed")]
    PeerDown(NodeId),
    #[error("node {0} did not answer within {1:?}")]
    Timeout(NodeId, Duration),
    #[error("bad answer: {0}")]
    Bad(String),
}

type Pending = HashMap<u64, (NodeId, oneshot::Sender<proto::Response>)>;

/// Outstanding requests of this node, by request id.
pub struct Rpcs {
    transport: Arc<dyn Transport>,
    next: AtomicU64,
    pending: Mutex<Pending>,
}

impl Rpcs {
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Rpcs {
            transport,
            next: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
        }
    }

    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// Sends `req` to `to` for `group` and waits for the answer.
    pub async fn call(
        &self,
        to: NodeId,
        group: GroupId,
        req: proto::Request,
        timeout: Duration,
    ) -> Result<proto::Response, CallError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, (to, tx));
        if !self
            .transport
            .send_request(to, group, id, req.encode_to_vec())
        {
            self.pending.lock().remove(&id);
            return Err(CallError::NoRoute(to));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) => Err(CallError::PeerDown(to)),
            Err(_) => {
                self.pending.lock().remove(&id);
                Err(CallError::Timeout(to, timeout))
            }
        }
    }

    /// An answer arrived.
    pub fn on_response(&self, request_id: u64, payload: &[u8]) {
        let Some((_, tx)) = self.pending.lock().remove(&request_id) else {
            return;
        };
        match proto::Response::decode(payload) {
            Ok(r) => {
                let _ = tx.send(r);
            }
            Err(e) => tracing::warn!(error = %e, "undecodable Raft response dropped"),
        }
    }

    /// The route to `node` is gone: everything waiting on it fails now.
    pub fn peer_down(&self, node: NodeId) {
        self.pending.lock().retain(|_, (to, _)| *to != node);
    }
}

/// openraft's network factory for one group.
pub struct GroupNetworkFactory {
    pub rpcs: Arc<Rpcs>,
    pub group: GroupId,
}

impl RaftNetworkFactory<TypeConfig> for GroupNetworkFactory {
    type Network = GroupNetwork;

    async fn new_client(&mut self, target: NodeId, _node: &openraft::EmptyNode) -> GroupNetwork {
        GroupNetwork {
            rpcs: self.rpcs.clone(),
            group: self.group,
            target,
        }
    }
}

/// openraft's connection to one member of one group.
pub struct GroupNetwork {
    rpcs: Arc<Rpcs>,
    group: GroupId,
    target: NodeId,
}

type RpcErr<E = openraft::error::Infallible> =
    RPCError<NodeId, openraft::EmptyNode, RaftError<NodeId, E>>;

fn unreachable<E: std::error::Error>(e: impl ToString) -> RPCError<NodeId, openraft::EmptyNode, E> {
    RPCError::Unreachable(Unreachable::from(openraft::AnyError::error(e)))
}

impl GroupNetwork {
    async fn rpc<T, E>(&self, req: proto::Request, option: &RPCOption) -> Result<T, RpcErr<E>>
    where
        T: serde::de::DeserializeOwned,
        E: std::error::Error + serde::de::DeserializeOwned,
    {
        let r = self
            .rpcs
            .call(self.target, self.group, req, option.hard_ttl())
            .await
            .map_err(unreachable)?;
        match r.kind {
            Some(proto::response::Kind::Ok(b)) => {
                codec::from_json(&b).map_err(|e| RPCError::Network(NetworkError::new(&e)))
            }
            Some(proto::response::Kind::RaftError(b)) => {
                let e: RaftError<NodeId, E> =
                    codec::from_json(&b).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Some(proto::response::Kind::Unreachable(why)) => Err(unreachable(why)),
            _ => Err(unreachable("unexpected answer")),
        }
    }
}

impl RaftNetwork<TypeConfig> for GroupNetwork {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr> {
        let req = proto::Request {
            kind: Some(proto::request::Kind::Append(proto::AppendEntries {
                vote: codec::json(&rpc.vote).into(),
                prev_log_id: codec::json(&rpc.prev_log_id).into(),
                leader_commit: codec::json(&rpc.leader_commit).into(),
                entries: rpc.entries.iter().map(codec::entry_to_proto).collect(),
            })),
        };
        self.rpc(req, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        let req = proto::Request {
            kind: Some(proto::request::Kind::Snapshot(proto::InstallSnapshot {
                vote: codec::json(&rpc.vote).into(),
                meta: codec::json(&rpc.meta).into(),
                offset: rpc.offset,
                data: rpc.data.into(),
                done: rpc.done,
            })),
        };
        self.rpc(req, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcErr> {
        let req = proto::Request {
            kind: Some(proto::request::Kind::Vote(codec::json(&rpc).into())),
        };
        self.rpc(req, &option).await
    }
}

/// Decodes an AppendEntries request from the wire.
pub fn decode_append(
    a: proto::AppendEntries,
) -> Result<AppendEntriesRequest<TypeConfig>, codec::CodecError> {
    let mut entries = Vec::with_capacity(a.entries.len());
    for e in a.entries {
        entries.push(codec::entry_from_proto(e)?);
    }
    Ok(AppendEntriesRequest {
        vote: codec::from_json(&a.vote)?,
        prev_log_id: codec::from_json(&a.prev_log_id)?,
        leader_commit: codec::from_json(&a.leader_commit)?,
        entries,
    })
}

/// Decodes an InstallSnapshot chunk from the wire.
pub fn decode_snapshot(
    s: proto::InstallSnapshot,
) -> Result<InstallSnapshotRequest<TypeConfig>, codec::CodecError> {
    Ok(InstallSnapshotRequest {
        vote: codec::from_json(&s.vote)?,
        meta: codec::from_json(&s.meta)?,
        offset: s.offset,
        data: s.data.to_vec(),
        done: s.done,
    })
}
