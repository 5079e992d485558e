//! Glue between the cluster routes and the Raft node: Raft frames leave through the
//! route to the peer with that Raft id, and frames arriving on routes reach the node.
//! Lives here (the composition of the two) so `cluster` and `raft` never import each
//! other.

use std::sync::Arc;

use crate::cluster::{Cluster, RaftFrames};
use crate::raft::{GroupId, NodeId, RaftNode, Transport};

/// Raft frames over the cluster's routes.
pub struct RouteTransport(pub Arc<Cluster>);

impl Transport for RouteTransport {
    fn send_request(&self, to: NodeId, group: GroupId, request_id: u64, payload: Vec<u8>) -> bool {
        self.0.send_raft_request(to, group, request_id, payload)
    }
    fn send_response(&self, to: NodeId, group: GroupId, request_id: u64, payload: Vec<u8>) -> bool {
        self.0.send_raft_response(to, group, request_id, payload)
    }
}

/// A node without routes: only groups of one, nothing to send.
pub struct NoPeers;

impl Transport for NoPeers {
    fn send_request(&self, _: NodeId, _: GroupId, _: u64, _: Vec<u8>) -> bool {
        false
    }
    fn send_response(&self, _: NodeId, _: GroupId, _: u64, _: Vec<u8>) -> bool {
        false
    }
}

/// Frames from routes into the Raft node.
pub struct FramesToRaft(pub Arc<RaftNode>);

impl RaftFrames for FramesToRaft {
    fn on_request(&self, from: u64, group: u64, request_id: u64, payload: bytes::Bytes) {
        self.0.on_request(from, group, request_id, payload);
    }
    fn on_response(&self, request_id: u64, payload: &[u8]) {
        self.0.on_response(request_id, payload);
    }
    fn on_peer_down(&self, raft_id: u64) {
        self.0.on_peer_down(raft_id);
    }
}
