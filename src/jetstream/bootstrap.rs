//! Forming the meta group of a cluster, and growing it.
//!
//! On a first start no node has a meta log. Exactly one node initializes the group:
//! the one with the lowest Raft id among the JetStream nodes it sees, once it sees as
//! many as the configured routes suggest (or after a grace period, with whoever is
//! there). A node that sees a peer whose meta group already exists never initializes
//! (it waits to be added). The meta leader then adds every connected JetStream node
//! that is not yet a voter, one change at a time.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn, Instrument};

use crate::server::ServerShared;

use super::JetStream;

/// Wait at least this long for peers before initializing.
const SETTLE: Duration = Duration::from_millis(1500);
/// After this long, initialize with whoever is connected.
const GRACE: Duration = Duration::from_secs(8);

pub async fn run(server: Arc<ServerShared>, js: Arc<JetStream>) {
    let span = tracing::info_span!("meta-bootstrap");
    async move {
        let (Some(cluster), Some(group)) = (js.cluster.clone(), js.meta_group().cloned()) else {
            return;
        };
        let started = tokio::time::Instant::now();
        let expected = cluster.configured_urls().len().max(1);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = server.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if group.is_initialized() {
                cluster.set_meta_initialized();
                if group.is_leader() {
                    add_missing_voters(&js, &*group).await;
                }
                continue;
            }
            let peers = cluster.jetstream_peers();
            if peers.iter().any(|p| p.meta_initialized) {
                continue;
            }
            let me = js.raft.id;
            if peers.iter().any(|p| p.raft_id < me) {
                continue;
            }
            let elapsed = started.elapsed();
            // Configured routes usually list every node (this one included) or every
            // other node.
            let enough = peers.len() + 1 >= expected.min(3) || peers.len() + 1 >= expected;
            if elapsed < SETTLE || (!enough && elapsed < GRACE) {
                continue;
            }
            let members: BTreeSet<u64> = std::iter::once(me)
                .chain(peers.iter().map(|p| p.raft_id))
                .collect();
            info!(?members, "initializing the JetStream meta group");
            if let Err(e) = group.initialize(members).await {
                warn!(error = %e, "meta group not initialized");
            }
        }
    }
    .instrument(span)
    .await
}

/// The meta leader makes every connected JetStream node a voter.
async fn add_missing_voters(js: &JetStream, group: &dyn crate::raft::Group) {
    let Some(cluster) = &js.cluster else { return };
    let voters = group.voters();
    for p in cluster.jetstream_peers() {
        if voters.contains(&p.raft_id) || p.raft_id == 0 {
            continue;
        }
        info!(peer = %p.server_name, id = p.raft_id, "adding node to the meta group");
        if let Err(e) = group.add_voter(p.raft_id).await {
            warn!(peer = %p.server_name, error = %e, "node not added to the meta group");
        }
        return;
    }
}
