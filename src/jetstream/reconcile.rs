//! Makes this node's replicas match the meta state: starts the replica of every stream
//! assigned to this node (store, state, Raft group, leadership), and removes the ones
//! no longer assigned — their messages, records and Raft log in one atomic write.
//! Runs on one task, woken by every meta change.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tracing::{error, info, warn, Instrument};

use crate::raft::log_store::LogStore;
use crate::raft::{Group, Initialize, RaftSettings};
use crate::server::ServerShared;
use crate::store::Batch;

use super::apply::StreamState;
use super::config::Storage;
use super::file_store::FileStore;
use super::meta::Assignment;
use super::replica::StreamFsm;
use super::stream::{make_store, Stream};
use super::JetStream;

pub async fn run(server: Arc<ServerShared>, js: Arc<JetStream>) {
    let span = tracing::info_span!("reconcile");
    async move {
        loop {
            reconcile(&server, &js).await;
            tokio::select! {
                _ = server.shutdown.cancelled() => break,
                _ = js.meta.changed.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }
    .instrument(span)
    .await
}

async fn reconcile(server: &Arc<ServerShared>, js: &Arc<JetStream>) {
    let me = js.raft.id;
    let wanted: Vec<Assignment> = js
        .meta
        .all()
        .into_iter()
        .filter(|a| a.peers.contains(&me))
        .collect();
    // Remove replicas that are no longer assigned here (or were re-created under a
    // new id).
    let stale: Vec<Arc<Stream>> = js
        .all_streams()
        .into_iter()
        .filter(|s| {
            !wanted
                .iter()
                .any(|a| a.id == s.id && a.account == s.account.name && a.config.name == s.name)
        })
        .collect();
    for s in stale {
        remove_replica(server, js, &s).await;
    }
    for a in wanted {
        if js.stream_by_id(a.id).is_some() {
            continue;
        }
        if let Err(e) = start_replica(server, js, &a).await {
            error!(account = %a.account, stream = %a.config.name, error = %e, "stream replica not started");
        }
    }
}

async fn start_replica(
    server: &Arc<ServerShared>,
    js: &Arc<JetStream>,
    a: &Assignment,
) -> Result<(), String> {
    let Some(account) = server.accounts.get(&a.account).filter(|x| x.jetstream) else {
        return Err("the stream's account has no JetStream here".into());
    };
    let mut store = make_store(&js.db, a.id, a.config.storage);
    if a.config.storage == Storage::Memory && js.raft.has_state(a.id) {
        // A memory replica lost its state with the process; its log replays it.
        let _ = store.clear_all();
    }
    let state = StreamState::load(a.config.clone(), store.as_ref()).map_err(|e| e.to_string())?;
    let stream = Stream::start(
        server,
        &js.tasks,
        js.db.clone(),
        account.clone(),
        a.id,
        a.created,
        state,
        store,
    )
    .map_err(|e| e.to_string())?;
    let members: BTreeSet<u64> = a.peers.iter().copied().collect();
    let base = RaftSettings::from_env(RaftSettings::STREAM);
    let settings = RaftSettings {
        // Memory state cannot stand in for a purged log after a restart.
        snapshot_every: if a.config.storage == Storage::Memory {
            0
        } else {
            base.snapshot_every
        },
        ..base
    };
    // One member (chosen by stream id, so leaders spread over the nodes) forms the
    // group; the others do only if it has not within two election timeouts.
    let me = js.raft.id;
    let first = a.peers.get(a.id as usize % a.peers.len().max(1)).copied();
    let init = if first == Some(me) {
        Initialize::Now
    } else {
        Initialize::IfNobodyHasAfter(Duration::from_millis(2 * settings.election_max_ms))
    };
    let group = js
        .raft
        .start_group(
            a.id,
            format!("{} > {}", a.account, a.config.name),
            &members,
            init,
            StreamFsm::new(stream.clone()),
            settings,
        )
        .await
        .map_err(|e| e.to_string())?;
    let group: Arc<dyn Group> = group;
    if let Some(reply) = &a.reply {
        // Only for a stream created moments ago (not one replayed at startup).
        if super::stream::now_ns().saturating_sub(a.created) < 60_000_000_000 {
            stream.set_create_reply(reply.clone());
        }
    }
    stream.attach(server, group);
    js.insert_stream(stream);
    info!(account = %a.account, stream = %a.config.name, replicas = a.peers.len(), "stream replica started");
    Ok(())
}

async fn remove_replica(server: &Arc<ServerShared>, js: &Arc<JetStream>, s: &Arc<Stream>) {
    js.remove_stream(s);
    s.drop_consumers(server);
    s.stop(server);
    js.raft.stop_group(s.id).await;
    {
        let core = s.core.lock();
        s.account
            .js
            .add(core.state.config.storage, -(core.state.bytes as i64));
    }
    // Messages, records and the Raft log go in one write: a crash leaves all or none.
    let mut b = Batch::default();
    FileStore::destroy_into(&mut b, s.id);
    LogStore::destroy_into(&mut b, s.id);
    if let Err(e) = js.db.write(b) {
        warn!(stream = %s.name, error = %e, "stream data not erased");
    }
    info!(account = %s.account.name, stream = %s.name, "stream replica removed");
}
